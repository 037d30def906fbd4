//! The one list of socket columns: for each, its table title, its JSON and CSV
//! names, its alignment and width, where it gives way when a terminal narrows,
//! whether it needs the kernel's per-connection detail, and its value. The
//! dashboard's table, `list`'s table, CSV and the JSON record all draw on it
//! (the record's serde names are checked against it by a test).
//!
//! Values that need more than the socket (its owners' names and command line,
//! the ephemeral mark, its namespace's name, the dashboard row's age) come
//! from a [`Context`] the caller fills in. Which surface shows which columns
//! is said once here too ([`LIST_TABLE`], [`CSV`], [`DASHBOARD`], ...); what
//! is a surface's own (the dashboard's narrowing order, sort arrow, colours,
//! `…` truncation, click map) stays with it.

use super::safe;
use crate::model::conn::{fmt_rtt_us, human_bytes, ConnInfo, Timer};
use crate::model::Socket;

/// A column's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Proto,
    Family,
    /// addr:port (list's table)
    Local,
    LocalAddr,
    LocalPort,
    Remote,
    RemoteAddr,
    RemotePort,
    State,
    /// `e` / `E` mark (table) or true/false (CSV)
    Ephemeral,
    Pids,
    Process,
    User,
    Uid,
    Inode,
    Cmdline,
    RxQueue,
    TxQueue,
    /// Both queues, `rx/tx` (the dashboard's compact Q)
    Queues,
    RxRate,
    TxRate,
    Rtt,
    RttVar,
    Retrans,
    Cwnd,
    BytesAcked,
    BytesReceived,
    BytesSent,
    SegsOut,
    SegsIn,
    DeliveryRate,
    Timer,
    TimerLeft,
    Drops,
    /// The socket's network namespace, by name (tables, with sockets of more
    /// than one namespace).
    Netns,
    /// Time since the dashboard row's latest change (dashboard only).
    Age,
}

/// One column's description.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub field: Field,
    /// Table title.
    pub title: &'static str,
    /// JSON key in `list --json` and CSV header name.
    pub name: &'static str,
    /// Numbers: right-aligned in tables.
    pub right: bool,
    /// Needs the kernel's per-connection detail (`Detail::Info`).
    pub info: bool,
    /// The dashboard's width for it; with `max` its least width.
    pub width: usize,
    /// Non-zero: the dashboard measures the width from the cells on screen,
    /// between `width` and this.
    pub max: usize,
    /// The dashboard's shorter title when the terminal narrows ("" none).
    pub short: &'static str,
}

const fn col(
    field: Field,
    title: &'static str,
    name: &'static str,
    right: bool,
    info: bool,
    width: usize,
) -> Column {
    Column {
        field,
        title,
        name,
        right,
        info,
        width,
        max: 0,
        short: "",
    }
}

impl Column {
    /// Measured from the cells, `min..=max` wide.
    const fn cells(self, min: usize, max: usize) -> Column {
        Column {
            width: min,
            max,
            ..self
        }
    }

    const fn short(self, short: &'static str) -> Column {
        Column { short, ..self }
    }
}

/// Every column, once.
pub const COLUMNS: &[Column] = &[
    col(Field::Proto, "PROTO", "proto", false, false, 4).short("PROT"),
    col(Field::Family, "FAMILY", "family", false, false, 4),
    col(Field::Local, "LOCAL", "local", false, false, 0),
    col(
        Field::LocalAddr,
        "LOCAL ADDR",
        "local_addr",
        false,
        false,
        0,
    )
    .cells(6, 39)
    .short("LOCAL"),
    col(Field::LocalPort, "LOCAL PORT", "local_port", true, false, 5).short("LPORT"),
    col(Field::Remote, "REMOTE", "remote", false, false, 0),
    col(
        Field::RemoteAddr,
        "REMOTE ADDR",
        "remote_addr",
        false,
        false,
        0,
    )
    .cells(6, 39)
    .short("REMOTE"),
    col(
        Field::RemotePort,
        "REMOTE PORT",
        "remote_port",
        true,
        false,
        5,
    )
    .short("RPORT"),
    col(Field::State, "STATE", "state", false, false, 10),
    col(Field::Ephemeral, "E", "ephemeral", false, false, 1),
    col(Field::Pids, "PID", "pids", true, false, 7),
    col(Field::Process, "PROCESS", "process", false, false, 0)
        .cells(4, 24)
        .short("PROC"),
    col(Field::User, "USER", "user", false, false, 0).cells(4, 12),
    col(Field::Uid, "UID", "uid", true, false, 6),
    col(Field::Inode, "INODE", "inode", true, false, 9),
    col(Field::Cmdline, "COMMAND", "cmdline", false, false, 0),
    col(Field::RxQueue, "RECV-Q", "rx_queue", true, false, 6),
    col(Field::TxQueue, "SEND-Q", "tx_queue", true, false, 6),
    col(Field::Queues, "Q", "queues", true, false, 7),
    col(Field::RxRate, "RX/s", "rx_bps", true, true, 6),
    col(Field::TxRate, "TX/s", "tx_bps", true, true, 6),
    col(Field::Rtt, "RTT", "rtt_us", true, true, 7),
    col(Field::RttVar, "RTTVAR", "rttvar_us", true, true, 7),
    col(Field::Retrans, "RETR", "total_retrans", true, true, 5),
    col(Field::Cwnd, "CWND", "snd_cwnd", true, true, 5),
    col(Field::BytesAcked, "ACKED", "bytes_acked", true, true, 7),
    col(
        Field::BytesReceived,
        "RECEIVED",
        "bytes_received",
        true,
        true,
        8,
    ),
    col(Field::BytesSent, "SENT", "bytes_sent", true, true, 7),
    col(Field::SegsOut, "SEGS-OUT", "segs_out", true, true, 8),
    col(Field::SegsIn, "SEGS-IN", "segs_in", true, true, 8),
    col(
        Field::DeliveryRate,
        "DELIVERY/s",
        "delivery_rate",
        true,
        true,
        8,
    ),
    col(Field::Timer, "TIMER", "timer", false, false, 16),
    col(Field::TimerLeft, "LEFT", "timer_left_ms", true, false, 6),
    col(Field::Drops, "DROPS", "drops", true, true, 6),
    col(Field::Netns, "NETNS", "netns", false, false, 0).cells(5, 16),
    col(Field::Age, "AGE", "age_ms", false, false, 4),
];

/// The column of `f`.
pub fn column(f: Field) -> &'static Column {
    COLUMNS.iter().find(|c| c.field == f).unwrap_or(&COLUMNS[0])
}

/// `list`'s table.
pub const LIST_TABLE: &[Field] = &[
    Field::Proto,
    Field::Local,
    Field::Remote,
    Field::State,
    Field::Ephemeral,
    Field::Pids,
    Field::Process,
    Field::User,
];

/// What `list --info` adds to its table (as `ss -i` adds to ss's).
pub const LIST_INFO: &[Field] = &[
    Field::RxQueue,
    Field::TxQueue,
    Field::Rtt,
    Field::Retrans,
    Field::Cwnd,
    Field::BytesAcked,
    Field::BytesReceived,
    Field::Timer,
    Field::Drops,
];

/// `list --csv`.
pub const CSV: &[Field] = &[
    Field::Proto,
    Field::Family,
    Field::LocalAddr,
    Field::LocalPort,
    Field::RemoteAddr,
    Field::RemotePort,
    Field::State,
    Field::Ephemeral,
    Field::Pids,
    Field::Process,
    Field::User,
    Field::Uid,
    Field::Inode,
    Field::Cmdline,
];

/// What `list --csv --info` adds.
pub const CSV_INFO: &[Field] = &[
    Field::RxQueue,
    Field::TxQueue,
    Field::Timer,
    Field::TimerLeft,
    Field::Rtt,
    Field::RttVar,
    Field::Cwnd,
    Field::Retrans,
    Field::BytesAcked,
    Field::BytesReceived,
    Field::BytesSent,
    Field::SegsOut,
    Field::SegsIn,
    Field::DeliveryRate,
    Field::Drops,
];

/// The dashboard's connection columns, in the order they give way as the
/// terminal narrows (first dropped first): after AGE and USER, before PROCESS.
pub const DASHBOARD_CONN: &[Field] = &[
    Field::Queues,
    Field::Retrans,
    Field::Rtt,
    Field::TxRate,
    Field::RxRate,
];

/// The dashboard's socket table, in header order: NETNS only with sockets
/// of more than one namespace, the [`DASHBOARD_CONN`] ones only where the
/// source asked for the detail.
pub const DASHBOARD: &[Field] = &[
    Field::Netns,
    Field::Proto,
    Field::LocalAddr,
    Field::LocalPort,
    Field::Ephemeral,
    Field::RemoteAddr,
    Field::RemotePort,
    Field::State,
    Field::Pids,
    Field::Process,
    Field::User,
    Field::Age,
    Field::RxRate,
    Field::TxRate,
    Field::Rtt,
    Field::Retrans,
    Field::Queues,
];

/// What a value needs besides the socket.
#[derive(Default)]
pub struct Context<'a> {
    /// Owners' names, lowest pid first.
    pub names: Vec<&'a str>,
    /// First owner's command line.
    pub cmdline: Option<&'a str>,
    /// Local port in the ephemeral pool.
    pub ephemeral: bool,
    /// A listener there (`E`) rather than a connection (`e`).
    pub collision: bool,
    /// The socket's namespace's name.
    pub netns: Option<&'a str>,
    /// Milliseconds since the dashboard row's latest change.
    pub age_ms: Option<u64>,
}

/// How a value is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Tables: `*` / `-` for none, units on rates and RTT.
    Table,
    /// CSV: raw numbers, empty for none.
    Raw,
    /// The dashboard's cells: as [`Style::Table`], but of several owners the
    /// first only (its PID and PROCESS are one sort key each; the details
    /// pane lists every owner).
    Cell,
}

/// `0s`, `59s`, `12m`, `5h`, `3d`: the AGE column.
pub fn fmt_age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn conn(s: &Socket) -> Option<&ConnInfo> {
    s.conn.as_deref()
}

/// The timer as ss prints it: `on,200ms,1`, `keepalive,7199s`, `timewait,59s`.
pub fn timer_text(c: &ConnInfo) -> String {
    if c.timer == Timer::None {
        return String::new();
    }
    let left = if c.timer_left_ms >= 10_000 {
        format!("{}s", c.timer_left_ms / 1000)
    } else {
        format!("{}ms", c.timer_left_ms)
    };
    format!("{},{left},{}", c.timer.as_str(), c.timer_retrans)
}

/// The value of `f` for `s`.
pub fn value(f: Field, s: &Socket, cx: &Context, style: Style) -> String {
    let cell = style == Style::Cell;
    let table = style != Style::Raw;
    let none = |t: &str| if table { t.to_string() } else { String::new() };
    let num = |v: Option<u64>| v.map_or_else(|| none("-"), |v| v.to_string());
    let bytes = |v: Option<u64>| match (v, table) {
        (Some(v), true) => human_bytes(v as f64),
        _ => num(v),
    };
    // (a listener's tcp_info is its template for children, RTT 0: not shown)
    let tcp = conn(s)
        .and_then(|c| c.tcp)
        .filter(|_| s.state != crate::model::SockState::Listen);
    let rates = conn(s)
        .and_then(|c| c.rates)
        .filter(|_| s.state != crate::model::SockState::Listen);
    match f {
        Field::Proto => s.proto.to_string(),
        Field::Family => s.family.as_str().to_string(),
        Field::Local => s.local.to_string(),
        Field::LocalAddr => s.local.addr.to_string(),
        Field::LocalPort => s.local.port.to_string(),
        Field::Remote => s.remote.map_or_else(|| "*".into(), |e| e.to_string()),
        Field::RemoteAddr => s.remote.map_or_else(|| none("*"), |e| e.addr.to_string()),
        Field::RemotePort => s.remote.map_or_else(|| none("*"), |e| e.port.to_string()),
        Field::State => s.state.to_string(),
        Field::Ephemeral => match (table, cx.ephemeral, cx.collision) {
            (false, e, _) => e.to_string(),
            (true, true, true) => "E".into(),
            (true, true, false) => "e".into(),
            _ => String::new(),
        },
        Field::Pids if s.pids.is_empty() => none("-"),
        Field::Pids if cell => s.pids[0].to_string(),
        Field::Pids => {
            let v: Vec<String> = s.pids.iter().map(u32::to_string).collect();
            v.join(if table { "," } else { " " })
        }
        Field::Process if cx.names.is_empty() => none("-"),
        // (the table joins every owner's name, the CSV names the first)
        Field::Process if cell => safe(cx.names[0]).into_owned(),
        Field::Process if table => safe(&cx.names.join(",")).into_owned(),
        Field::Process => safe(cx.names[0]).into_owned(),
        Field::User => match (s.user.as_deref(), table) {
            (Some(u), _) => safe(u).into_owned(),
            (None, t) => none(if t { "-" } else { "" }),
        },
        Field::Uid => s.uid.map(|u| u.to_string()).unwrap_or_default(),
        Field::Inode => s.inode.map(|u| u.to_string()).unwrap_or_default(),
        Field::Cmdline => cx.cmdline.map(|c| safe(c).into_owned()).unwrap_or_default(),
        Field::RxQueue => num(conn(s).map(|c| u64::from(c.rx_queue))),
        Field::TxQueue => num(conn(s).map(|c| u64::from(c.tx_queue))),
        Field::Queues => match conn(s) {
            Some(c) if table => format!("{}/{}", c.rx_queue, c.tx_queue),
            Some(c) => format!("{} {}", c.rx_queue, c.tx_queue),
            None => none("-"),
        },
        Field::RxRate | Field::TxRate => {
            let v = rates.map(|r| {
                if f == Field::RxRate {
                    r.rx_bps
                } else {
                    r.tx_bps
                }
            });
            match (v, table) {
                (Some(v), true) => human_bytes(v),
                (Some(v), false) => format!("{v:.0}"),
                (None, _) => none("-"),
            }
        }
        Field::Rtt => match (tcp, table) {
            (Some(t), true) => fmt_rtt_us(t.rtt),
            (t, _) => num(t.map(|t| u64::from(t.rtt))),
        },
        Field::RttVar => match (tcp, table) {
            (Some(t), true) => fmt_rtt_us(t.rttvar),
            (t, _) => num(t.map(|t| u64::from(t.rttvar))),
        },
        Field::Retrans => num(tcp.map(|t| u64::from(t.total_retrans))),
        Field::Cwnd => num(tcp.map(|t| u64::from(t.snd_cwnd))),
        Field::BytesAcked => bytes(tcp.map(|t| t.bytes_acked)),
        Field::BytesReceived => bytes(tcp.map(|t| t.bytes_received)),
        Field::BytesSent => bytes(tcp.map(|t| t.bytes_sent)),
        Field::SegsOut => num(tcp.map(|t| u64::from(t.segs_out))),
        Field::SegsIn => num(tcp.map(|t| u64::from(t.segs_in))),
        Field::DeliveryRate => bytes(tcp.map(|t| t.delivery_rate)),
        Field::Timer => match (conn(s), table) {
            (Some(c), true) => timer_text(c),
            (Some(c), false) => c.timer.as_str().to_string(),
            (None, _) => String::new(),
        },
        Field::TimerLeft => conn(s)
            .filter(|c| c.timer != Timer::None)
            .map(|c| c.timer_left_ms.to_string())
            .unwrap_or_default(),
        Field::Drops => num(conn(s).and_then(|c| c.mem).map(|m| u64::from(m.drops))),
        Field::Netns => cx.netns.map_or_else(|| none("-"), |n| safe(n).into_owned()),
        Field::Age => match (cx.age_ms, table) {
            (Some(ms), true) => fmt_age(ms),
            (v, _) => num(v),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::conn::{MemInfo, Rates, TcpInfo};

    #[test]
    fn every_field_has_one_column() {
        for c in COLUMNS {
            assert_eq!(column(c.field).name, c.name);
        }
        let mut names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), COLUMNS.len(), "a JSON/CSV name used twice");
    }

    /// The JSON record carries every detail column under the column's name.
    #[test]
    fn the_json_record_uses_the_column_names() {
        let ep = |p| crate::model::Endpoint::new([127, 0, 0, 1].into(), p);
        let mut s = Socket {
            proto: crate::model::Proto::Tcp,
            family: crate::model::Family::Ipv4,
            local: ep(5000),
            remote: Some(ep(80)),
            state: crate::model::SockState::Established,
            uid: Some(0),
            user: None,
            inode: Some(7),
            pids: Default::default(),
            time_wait_left_ms: None,
            conn: None,
            netns: 0,
            cookie: 0,
        };
        s.conn = Some(Box::new(ConnInfo {
            cookie: 1,
            rx_queue: 3,
            tx_queue: 4,
            timer: Timer::On,
            timer_left_ms: 200,
            timer_retrans: 1,
            tcp: Some(TcpInfo {
                rtt: 1,
                ..Default::default()
            }),
            mem: Some(MemInfo::default()),
            rates: Some(Rates::default()),
        }));
        let snap = crate::model::Snapshot {
            taken_at_ms: 0,
            host: "h".into(),
            range: crate::model::PortRange::linux_default(),
            partial: false,
            sockets: vec![s.clone()],
            processes: Default::default(),
            counters: None,
            netns: Vec::new(),
        };
        let v = serde_json::to_value(crate::model::SocketRecord::new(&snap, &s)).unwrap();
        for c in COLUMNS {
            if matches!(
                c.field,
                Field::Local | Field::Remote | Field::Queues | Field::Age | Field::Netns
            ) {
                // table-only compositions of other fields, the dashboard's
                // own, and the namespace (an object there, absent for the
                // primary one)
                continue;
            }
            assert!(v.get(c.name).is_some(), "{} missing in {v}", c.name);
        }
    }
}
