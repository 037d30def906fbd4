//! The dashboard's rows: merging a new snapshot into the previous rows (change
//! marks, closed rows kept for a few refreshes, stable row ids for a sticky
//! selection), sorting, and the grouped views. Pure functions, no I/O.

use crate::analysis::diff::{tuple, Tuple};
use crate::model::{
    share, DestKey, Endpoint, PoolView, Process, Proto, Snapshot, SockState, Socket,
};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// TCPView-style change mark of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    None,
    New,
    Changed,
    Closed,
}

impl Mark {
    /// The mark column's character (used without colors).
    pub fn symbol(self) -> &'static str {
        match self {
            Mark::None => " ",
            Mark::New => "+",
            Mark::Changed => "~",
            Mark::Closed => "-",
        }
    }
}

/// The owning processes of a row: one almost always, held inline (no allocation
/// per row and refresh).
pub type Owners = smallvec::SmallVec<[Arc<Process>; 1]>;

/// One socket row of the table (live, or closed and kept visible for a while).
#[derive(Clone, Debug)]
pub struct Row {
    /// Stable across refreshes while the row is the same connection.
    pub id: u64,
    pub sock: Socket,
    /// Owners in pid order (kept with the row, so closed rows still show them).
    pub owners: Owners,
    pub mark: Mark,
    /// Refreshes since the mark was set.
    pub age: u32,
    /// Snapshot time (ms) of the row's latest change: first seen, state changed
    /// or closed. The age sort puts the latest first.
    pub since_ms: u64,
    /// Local port is in the ephemeral pool.
    pub ephemeral: bool,
    /// Local port is reserved (ip_local_reserved_ports).
    pub reserved: bool,
    /// A listener in a shared-port or malware-port collision (set by the app).
    pub flagged: bool,
    /// Recent rates for the details pane's sparklines; only for rows that
    /// moved data lately (idle rows carry none: no allocation per row).
    pub hist: Option<Arc<RateHist>>,
}

/// The last [`RateHist::LEN`] rates of a row, oldest first (bytes/s).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateHist {
    pub rx: Vec<f64>,
    pub tx: Vec<f64>,
}

impl RateHist {
    pub const LEN: usize = 40;

    /// `old` with this refresh's rates added; None once every sample is 0.
    pub fn next(old: Option<&RateHist>, s: &Socket) -> Option<Arc<RateHist>> {
        let r = s.conn.as_ref().and_then(|c| c.rates);
        let (rx, tx) = r.map_or((0.0, 0.0), |r| (r.rx_bps, r.tx_bps));
        if old.is_none() && rx == 0.0 && tx == 0.0 {
            return None;
        }
        let mut h = old.cloned().unwrap_or_default();
        for (v, x) in [(&mut h.rx, rx), (&mut h.tx, tx)] {
            v.push(x);
            if v.len() > Self::LEN {
                v.remove(0);
            }
        }
        let idle = h.rx.iter().chain(&h.tx).all(|x| *x == 0.0);
        (!idle).then(|| Arc::new(h))
    }
}

impl Row {
    pub fn owner(&self) -> Option<&Process> {
        self.owners.first().map(|p| p.as_ref())
    }

    /// A listener on an ephemeral port: an outbound connection may be handed
    /// the same port (collision risk); or one in a flagged collision.
    pub fn collision(&self) -> bool {
        self.sock.is_listener() && (self.ephemeral || self.flagged)
    }
}

/// Merges the sockets of a snapshot (moved in, not copied: at 40,000 sockets a
/// second copy is megabytes) with the `old` rows, which are only read (the UI
/// may still be showing them); `snap` gives processes and range. `first` is true
/// for the first snapshot (no marks then). Closed rows stay `keep` refreshes;
/// New/Changed marks as long.
pub fn merge(
    old: &[Row],
    sockets: Vec<Socket>,
    snap: &Snapshot,
    first: bool,
    keep: u32,
    next_id: &mut u64,
) -> Vec<Row> {
    merge_traced(old, sockets, snap, first, keep, next_id).0
}

/// [`merge`], also saying where each row came from: the index of the old row
/// it continues, `u32::MAX` for a new one (the previous order is then a
/// near-sorted start for the next sort).
pub fn merge_traced(
    old: &[Row],
    mut sockets: Vec<Socket>,
    snap: &Snapshot,
    first: bool,
    keep: u32,
    next_id: &mut u64,
) -> (Vec<Row>, Vec<u32>) {
    // FxHash: these maps are rebuilt for every snapshot, and SipHash's DoS
    // resistance buys nothing for keys the kernel hands us. On a live table
    // `Socket::cookie_id` says which socket a row is, TIME-WAIT included: one
    // map of integers finds every row (at 500,000 sockets the 4-tuple map
    // alone was ~60 MB a refresh). Recordings carry no cookie: their inode,
    // or for inode-less sockets (TIME-WAIT) the 4-tuple, maps built on first
    // need.
    let live = |r: &Row| r.mark != Mark::Closed;
    let cookied = old.iter().filter(|r| r.sock.cookie_id().is_some()).count();
    let mut by_cookie: FxHashMap<(u64, u64), u32> =
        FxHashMap::with_capacity_and_hasher(cookied, Default::default());
    for (i, r) in old.iter().enumerate() {
        if let Some(id) = r.sock.cookie_id().filter(|_| live(r)) {
            // (a socket a dump saw twice, racing a close: the first row wins)
            by_cookie.entry(id).or_insert(i as u32);
        }
    }
    let mut by_inode: Option<FxHashMap<u64, usize>> = None;
    // A connection going ESTAB -> TIME-WAIT loses its inode and keeps its
    // 4-tuple (unique among live connections: one index per tuple).
    let mut by_tuple: Option<FxHashMap<Tuple, usize>> = None;
    let mut taken = vec![false; old.len()];
    let mut out = Vec::with_capacity(sockets.len() + 16);
    let mut from: Vec<u32> = Vec::with_capacity(sockets.len() + 16);
    // The snapshot's sockets are freed as they become rows (from the end,
    // the buffer shrunk every so often: glibc's realloc of a large block is
    // an mremap, which returns the tail's pages): at 500,000 sockets the
    // dump's ~75 MB would otherwise sit beside the old rows and the new ones.
    sockets.reverse();
    let mut since_shrink = 0;
    while let Some(s) = sockets.pop() {
        since_shrink += 1;
        if since_shrink == 16_384 {
            sockets.shrink_to_fit();
            since_shrink = 0;
        }
        let hit = match (s.cookie_id(), s.inode.filter(|i| *i != 0)) {
            (Some(id), _) => by_cookie.get(&id).map(|i| *i as usize),
            (None, Some(inode)) => {
                let map = by_inode.get_or_insert_with(|| {
                    old.iter()
                        .enumerate()
                        .filter(|(_, r)| live(r))
                        .filter_map(|(i, r)| Some((r.sock.inode.filter(|i| *i != 0)?, i)))
                        .collect()
                });
                map.get(&inode).copied()
            }
            (None, None) => {
                let map = by_tuple.get_or_insert_with(|| {
                    let mut m = FxHashMap::with_capacity_and_hasher(old.len(), Default::default());
                    for (i, r) in old.iter().enumerate() {
                        if live(r) && r.sock.remote.is_some() {
                            m.entry(tuple(&r.sock)).or_insert(i);
                        }
                    }
                    m
                });
                map.get(&tuple(&s)).copied()
            }
        };
        let hit = hit.filter(|i| !taken[*i]);
        from.push(hit.map_or(u32::MAX, |i| i as u32));
        let prev = hit.map(|i| {
            taken[i] = true;
            &old[i]
        });
        let now = snap.taken_at_ms;
        let (id, mark, age, since_ms) = match prev {
            Some(o) => {
                if o.sock.state != s.state {
                    (o.id, Mark::Changed, 0, now)
                } else if o.mark != Mark::None && o.age + 1 < keep {
                    (o.id, o.mark, o.age + 1, o.since_ms)
                } else {
                    (o.id, Mark::None, 0, o.since_ms)
                }
            }
            None => {
                *next_id += 1;
                (*next_id, if first { Mark::None } else { Mark::New }, 0, now)
            }
        };
        // Reuse the row's owners when they are the very same processes.
        let owners = match prev {
            Some(o)
                if o.sock.pids == s.pids
                    && o.owners.len() == s.pids.len()
                    && o.owners.iter().all(|p| {
                        snap.processes
                            .get(&p.pid)
                            .is_some_and(|q| Arc::ptr_eq(p, q))
                    }) =>
            {
                o.owners.clone()
            }
            _ => s
                .pids
                .iter()
                .filter_map(|p| snap.processes.get(p).cloned())
                .collect(),
        };
        let hist = match (prev, &s.conn) {
            (_, None) => None,
            (p, Some(_)) => RateHist::next(p.and_then(|o| o.hist.as_deref()), &s),
        };
        out.push(Row {
            id,
            owners,
            mark,
            age,
            since_ms,
            ephemeral: snap.range.is_ephemeral(s.local.port),
            reserved: snap.range.is_reserved(s.local.port),
            flagged: false,
            hist,
            sock: s,
        });
    }
    // Room for the old rows left over (closed now or kept closed), at most:
    // growing the vector would double it.
    let left = taken.iter().filter(|t| !**t).count();
    out.reserve_exact(left);
    from.reserve_exact(left);
    for (i, (r, _)) in old.iter().zip(taken).enumerate().filter(|(_, (_, t))| !t) {
        if r.mark == Mark::Closed {
            if r.age + 1 < keep {
                from.push(i as u32);
                out.push(Row {
                    age: r.age + 1,
                    ..r.clone()
                });
            }
        } else if keep > 0 {
            from.push(i as u32);
            out.push(Row {
                mark: Mark::Closed,
                age: 0,
                since_ms: snap.taken_at_ms,
                ..r.clone()
            });
        }
    }
    (out, from)
}

/// Sortable columns of the socket table, in header order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    Proto,
    LocalAddr,
    LocalPort,
    RemoteAddr,
    RemotePort,
    State,
    Pid,
    Process,
    User,
    /// Time since the row's latest change (first seen, state change, close).
    Age,
    /// Bytes/s received and sent, from tcp_info between refreshes.
    RxRate,
    TxRate,
    /// Smoothed RTT.
    Rtt,
    /// Retransmitted segments, in total.
    Retr,
    /// Recv-Q/Send-Q (a listener's accept queue and backlog).
    Queue,
}

impl Col {
    pub const ALL: [Col; 15] = [
        Col::Proto,
        Col::LocalAddr,
        Col::LocalPort,
        Col::RemoteAddr,
        Col::RemotePort,
        Col::State,
        Col::Pid,
        Col::Process,
        Col::User,
        Col::Age,
        Col::RxRate,
        Col::TxRate,
        Col::Rtt,
        Col::Retr,
        Col::Queue,
    ];

    /// The column of the one list (`output::columns`) this sort key is: its
    /// title, width and value text come from there.
    pub fn field(self) -> crate::output::columns::Field {
        use crate::output::columns::Field;
        match self {
            Col::Proto => Field::Proto,
            Col::LocalAddr => Field::LocalAddr,
            Col::LocalPort => Field::LocalPort,
            Col::RemoteAddr => Field::RemoteAddr,
            Col::RemotePort => Field::RemotePort,
            Col::State => Field::State,
            Col::Pid => Field::Pids,
            Col::Process => Field::Process,
            Col::User => Field::User,
            Col::Age => Field::Age,
            Col::RxRate => Field::RxRate,
            Col::TxRate => Field::TxRate,
            Col::Rtt => Field::Rtt,
            Col::Retr => Field::Retrans,
            Col::Queue => Field::Queues,
        }
    }

    /// The sort key of a column, if the dashboard sorts by it.
    pub fn of(f: crate::output::columns::Field) -> Option<Col> {
        Col::ALL.into_iter().find(|c| c.field() == f)
    }

    /// A connection-detail column (shown only where the source asked for it).
    pub fn is_detail(self) -> bool {
        crate::output::columns::DASHBOARD_CONN.contains(&self.field())
    }

    pub fn title(self) -> &'static str {
        crate::output::columns::column(self.field()).title
    }

    pub fn next(self) -> Col {
        let i = Col::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Col::ALL[(i + 1) % Col::ALL.len()]
    }
}

fn tcp(r: &Row) -> Option<crate::model::conn::TcpInfo> {
    r.sock.conn.as_ref()?.tcp
}

/// A row's rate, -1 where it has none (sorted below every real rate).
fn rate(r: &Row, rx: bool) -> f64 {
    r.sock
        .conn
        .as_ref()
        .and_then(|c| c.rates)
        .map_or(-1.0, |x| if rx { x.rx_bps } else { x.tx_bps })
}

fn queue(r: &Row) -> Option<u64> {
    let c = r.sock.conn.as_ref()?;
    Some(u64::from(c.rx_queue) + u64::from(c.tx_queue))
}

fn owner_name(r: &Row) -> Option<&str> {
    r.owner().map(|p| p.name.as_str())
}

/// Compares two rows by a column. Keys are borrowed fields (numbers, addresses,
/// names behind `Arc`s): no allocation per comparison, so 40,000 rows sort in
/// milliseconds. Ties fall back to (proto, local, remote, id) for a stable order.
pub fn compare(a: &Row, b: &Row, col: Col) -> Ordering {
    let rport = |r: &Row| r.sock.remote.map(|e| e.port);
    let raddr = |r: &Row| r.sock.remote.map(|e| e.addr);
    let primary = match col {
        Col::Proto => a.sock.proto.cmp(&b.sock.proto),
        Col::LocalAddr => a.sock.local.addr.cmp(&b.sock.local.addr),
        Col::LocalPort => a.sock.local.port.cmp(&b.sock.local.port),
        Col::RemoteAddr => raddr(a).cmp(&raddr(b)),
        Col::RemotePort => rport(a).cmp(&rport(b)),
        Col::State => a.sock.state.as_str().cmp(b.sock.state.as_str()),
        Col::Pid => a.sock.pids.first().cmp(&b.sock.pids.first()),
        Col::Process => owner_name(a).cmp(&owner_name(b)),
        Col::User => a.sock.user.cmp(&b.sock.user),
        // Latest change first; among equals the row seen last.
        Col::Age => return b.since_ms.cmp(&a.since_ms).then(b.id.cmp(&a.id)),
        Col::RxRate => rate(a, true).total_cmp(&rate(b, true)),
        Col::TxRate => rate(a, false).total_cmp(&rate(b, false)),
        Col::Rtt => tcp(a).map(|t| t.rtt).cmp(&tcp(b).map(|t| t.rtt)),
        Col::Retr => tcp(a)
            .map(|t| t.total_retrans)
            .cmp(&tcp(b).map(|t| t.total_retrans)),
        Col::Queue => queue(a).cmp(&queue(b)),
    };
    primary
        .then(a.sock.proto.cmp(&b.sock.proto))
        .then(a.sock.local.cmp(&b.sock.local))
        .then(a.sock.remote.cmp(&b.sock.remote))
        .then(a.id.cmp(&b.id))
}

/// One destination of the Ephemeral view: outbound connections from `local` to
/// `remote` over `proto` that hold ephemeral ports (the pool's `DestKey`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DestGroup {
    pub proto: Proto,
    pub remote: Endpoint,
    pub local: IpAddr,
    pub ports: usize,
    pub time_wait: usize,
    /// The destination's share of the pool, in percent: the analysis' (what
    /// `porttop pool` shows); before there is one, ports / pool size.
    pub pct: f64,
    /// New sockets a second toward it, from the analysis (None: no projection
    /// for it yet).
    pub rate: Option<f64>,
    /// Seconds until it runs out at that rate (None: it does not, or no data).
    pub runs_out_secs: Option<f64>,
    /// Bytes/s received and sent over its sockets, summed (`conn.rates`).
    pub rx_bps: f64,
    pub tx_bps: f64,
    /// Bytes received and acknowledged by its open connections, summed
    /// (see [`sock_bytes`]).
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl DestGroup {
    pub fn key(&self) -> DestKey {
        DestKey {
            proto: self.proto,
            local_addr: self.local,
            remote: self.remote,
        }
    }

    /// Takes the share of the pool, the rate and the time to exhaustion of the
    /// analysis for the same destination.
    pub fn with_analysis(
        mut v: Vec<DestGroup>,
        r: &crate::analysis::pool::PoolReport,
    ) -> Vec<DestGroup> {
        let usage: FxHashMap<DestKey, f64> =
            r.destinations.iter().map(|d| (d.key, d.fraction)).collect();
        let projections: FxHashMap<DestKey, &crate::analysis::pool::DestProjection> =
            r.projections.iter().map(|p| (p.dest, p)).collect();
        for d in &mut v {
            let key = d.key();
            if let Some(f) = usage.get(&key) {
                d.pct = 100.0 * f;
            }
            if let Some(pr) = projections.get(&key) {
                d.rate = pr.rate_per_sec;
                d.runs_out_secs = pr.projection.exhausts_in();
            }
        }
        v
    }
}

/// One process of the Processes view (`pid` None: sockets without a known owner).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProcGroup {
    pub pid: Option<u32>,
    pub name: String,
    pub user: String,
    pub listening: usize,
    pub established: usize,
    pub other: usize,
    pub ephemeral: usize,
    /// Bytes/s received and sent over its sockets, summed (`conn.rates`).
    pub rx_bps: f64,
    pub tx_bps: f64,
    /// Bytes received and acknowledged by its open connections, summed
    /// (see [`sock_bytes`]).
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

impl ProcGroup {
    pub fn total(&self) -> usize {
        self.listening + self.established + self.other
    }
}

/// Groups live rows by destination (`view.dest`, the pool's one rule), busiest
/// first (pressure order).
pub fn dest_groups<'a>(rows: impl Iterator<Item = &'a Row>, view: &PoolView) -> Vec<DestGroup> {
    let pool = view.range.pool_size();
    type Acc = (
        std::collections::BTreeSet<u16>,
        usize,
        (f64, f64),
        (u64, u64),
    );
    let mut m: BTreeMap<DestKey, Acc> = BTreeMap::new();
    for r in rows {
        if r.mark == Mark::Closed {
            continue;
        }
        let Some(key) = view.dest(&r.sock) else {
            continue;
        };
        let e = m.entry(key).or_default();
        e.0.insert(r.sock.local.port);
        if r.sock.state == SockState::TimeWait {
            e.1 += 1;
        }
        let (rx, tx) = sock_rates(&r.sock);
        e.2 .0 += rx;
        e.2 .1 += tx;
        let (rx, tx) = sock_bytes(&r.sock);
        e.3 .0 = e.3 .0.saturating_add(rx);
        e.3 .1 = e.3 .1.saturating_add(tx);
    }
    let mut v: Vec<DestGroup> = m
        .into_iter()
        .map(
            |(key, (ports, tw, (rx_bps, tx_bps), (rx_bytes, tx_bytes)))| DestGroup {
                proto: key.proto,
                remote: key.remote,
                local: key.local_addr,
                ports: ports.len(),
                time_wait: tw,
                pct: 100.0 * share(ports.len() as u32, pool),
                rate: None,
                runs_out_secs: None,
                rx_bps,
                tx_bps,
                rx_bytes,
                tx_bytes,
            },
        )
        .collect();
    v.sort_by(|a, b| {
        b.ports
            .cmp(&a.ports)
            .then(a.remote.cmp(&b.remote))
            .then(a.local.cmp(&b.local))
            .then(a.proto.cmp(&b.proto))
    });
    v
}

/// Groups live rows by owning process (first pid), most sockets first.
pub fn proc_groups<'a>(rows: impl Iterator<Item = &'a Row>) -> Vec<ProcGroup> {
    let mut m: BTreeMap<Option<u32>, (ProcGroup, std::collections::BTreeSet<u16>)> =
        BTreeMap::new();
    for r in rows {
        if r.mark == Mark::Closed {
            continue;
        }
        let pid = r.sock.pids.first().copied();
        let (g, eph) = m.entry(pid).or_insert_with(|| {
            (
                ProcGroup {
                    pid,
                    name: r
                        .owner()
                        .map(|p| p.name.clone())
                        .unwrap_or_else(|| "-".into()),
                    // (the group of sockets without a known process mixes
                    // users, TIME-WAIT's none among them: no one user)
                    user: r
                        .owner()
                        .and_then(|p| p.user.clone())
                        .or_else(|| pid.and(r.sock.user.as_deref().map(str::to_string)))
                        .unwrap_or_else(|| "-".into()),
                    listening: 0,
                    established: 0,
                    other: 0,
                    ephemeral: 0,
                    rx_bps: 0.0,
                    tx_bps: 0.0,
                    rx_bytes: 0,
                    tx_bytes: 0,
                },
                Default::default(),
            )
        });
        if r.sock.is_listener() {
            g.listening += 1;
        } else if r.sock.state == SockState::Established {
            g.established += 1;
        } else {
            g.other += 1;
        }
        if r.ephemeral {
            eph.insert(r.sock.local.port);
        }
        let (rx, tx) = sock_rates(&r.sock);
        g.rx_bps += rx;
        g.tx_bps += tx;
        let (rx, tx) = sock_bytes(&r.sock);
        g.rx_bytes = g.rx_bytes.saturating_add(rx);
        g.tx_bytes = g.tx_bytes.saturating_add(tx);
    }
    let mut v: Vec<ProcGroup> = m
        .into_values()
        .map(|(mut g, eph)| {
            g.ephemeral = eph.len();
            g
        })
        .collect();
    v.sort_by(|a, b| b.total().cmp(&a.total()).then(a.pid.cmp(&b.pid)));
    v
}

/// A socket's bytes/s (received, sent); 0 without a rate yet.
fn sock_rates(s: &Socket) -> (f64, f64) {
    s.conn
        .as_ref()
        .and_then(|c| c.rates)
        .map_or((0.0, 0.0), |r| (r.rx_bps, r.tx_bps))
}

/// A socket's bytes (received, acknowledged by the peer): tcp_info's
/// `bytes_received` and `bytes_acked` (RFC 4898 tcpEStatsAppHCThruOctetsReceived
/// / ...Acked), counted by the kernel from the connection's start; 0 without
/// tcp_info. `bytes_acked` counts the SYN's sequence number too (a fresh
/// connection shows 1). Only open connections have tcp_info: a TIME-WAIT socket
/// keeps none, so a group's sum is the bytes of its connections open now, and
/// drops when one of them closes (as TCPView's per-connection bytes do).
pub fn sock_bytes(s: &Socket) -> (u64, u64) {
    s.conn
        .as_ref()
        .and_then(|c| c.tcp)
        .map_or((0, 0), |t| (t.bytes_received, t.bytes_acked))
}

/// IANA service name of a port, from the embedded registry table.
pub fn service_name(port: u16, proto: Proto) -> Option<String> {
    crate::ports::service_name(port, proto).map(str::to_string)
}

/// Sockets by state for the header. CLOSE-WAIT has its own count: sockets the
/// peer closed and the local program did not are how a descriptor leak shows
/// first (RFC 9293 3.3.2: CLOSE-WAIT waits for the local user's close).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub listen: usize,
    pub established: usize,
    pub time_wait: usize,
    pub close_wait: usize,
    pub other: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.listen + self.established + self.time_wait + self.close_wait + self.other
    }
}

pub fn count_states(sockets: &[Socket]) -> Counts {
    let mut c = Counts::default();
    for k in sockets {
        match k.state {
            SockState::Listen => c.listen += 1,
            SockState::Established => c.established += 1,
            SockState::TimeWait => c.time_wait += 1,
            SockState::CloseWait => c.close_wait += 1,
            _ => c.other += 1,
        }
    }
    c
}

/// Columns of the Ephemeral view, in header order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestCol {
    Destination,
    Local,
    Ports,
    TimeWait,
    Pool,
    Rate,
    RunsOut,
    RxRate,
    TxRate,
    /// Bytes received / acknowledged by its open connections ([`sock_bytes`]).
    RxBytes,
    TxBytes,
}

impl DestCol {
    pub const ALL: [DestCol; 11] = [
        DestCol::Destination,
        DestCol::Local,
        DestCol::Ports,
        DestCol::TimeWait,
        DestCol::Pool,
        DestCol::Rate,
        DestCol::RunsOut,
        DestCol::RxRate,
        DestCol::TxRate,
        DestCol::RxBytes,
        DestCol::TxBytes,
    ];

    pub fn title(self) -> &'static str {
        match self {
            DestCol::Destination => "DESTINATION",
            DestCol::Local => "LOCAL ADDR",
            DestCol::Ports => "PORTS",
            DestCol::TimeWait => "TIME-WAIT",
            DestCol::Pool => "% POOL",
            DestCol::Rate => "NEW/S",
            DestCol::RunsOut => "RUNS OUT",
            DestCol::RxRate => "RX/s",
            DestCol::TxRate => "TX/s",
            DestCol::RxBytes => "RX",
            DestCol::TxBytes => "TX",
        }
    }

    /// Counts sort largest first when chosen; the time to exhaustion soonest
    /// first (urgency).
    pub fn numeric(self) -> bool {
        !matches!(
            self,
            DestCol::Destination | DestCol::Local | DestCol::RunsOut
        )
    }
}

/// Columns of the Processes view, in header order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcCol {
    Pid,
    Process,
    User,
    Sockets,
    Listen,
    Established,
    Other,
    Ephemeral,
    RxRate,
    TxRate,
    /// Bytes received / acknowledged by its open connections ([`sock_bytes`]).
    RxBytes,
    TxBytes,
}

impl ProcCol {
    pub const ALL: [ProcCol; 12] = [
        ProcCol::Pid,
        ProcCol::Process,
        ProcCol::User,
        ProcCol::Sockets,
        ProcCol::Listen,
        ProcCol::Established,
        ProcCol::Other,
        ProcCol::Ephemeral,
        ProcCol::RxRate,
        ProcCol::TxRate,
        ProcCol::RxBytes,
        ProcCol::TxBytes,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ProcCol::Pid => "PID",
            ProcCol::Process => "PROCESS",
            ProcCol::User => "USER",
            ProcCol::Sockets => "SOCKETS",
            ProcCol::Listen => "LISTEN",
            ProcCol::Established => "ESTAB",
            ProcCol::Other => "OTHER",
            ProcCol::Ephemeral => "EPH PORTS",
            ProcCol::RxRate => "RX/s",
            ProcCol::TxRate => "TX/s",
            ProcCol::RxBytes => "RX",
            ProcCol::TxBytes => "TX",
        }
    }

    pub fn numeric(self) -> bool {
        !matches!(self, ProcCol::Pid | ProcCol::Process | ProcCol::User)
    }
}

/// A sort of any view: the column and whether it is descending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Sock(Col),
    Dest(DestCol),
    Proc(ProcCol),
}

/// Sorts destination groups by `col` (ties: busiest, then address order).
pub fn sort_dests(v: &mut [DestGroup], col: DestCol, desc: bool) {
    v.sort_by(|a, b| {
        let o = match col {
            DestCol::Destination => a.remote.cmp(&b.remote),
            DestCol::Local => a.local.cmp(&b.local),
            DestCol::Ports | DestCol::Pool => a.ports.cmp(&b.ports),
            DestCol::TimeWait => a.time_wait.cmp(&b.time_wait),
            DestCol::Rate => a.rate.unwrap_or(0.0).total_cmp(&b.rate.unwrap_or(0.0)),
            // Not running out sorts after every time.
            DestCol::RunsOut => a
                .runs_out_secs
                .unwrap_or(f64::INFINITY)
                .total_cmp(&b.runs_out_secs.unwrap_or(f64::INFINITY)),
            DestCol::RxRate => a.rx_bps.total_cmp(&b.rx_bps),
            DestCol::TxRate => a.tx_bps.total_cmp(&b.tx_bps),
            DestCol::RxBytes => a.rx_bytes.cmp(&b.rx_bytes),
            DestCol::TxBytes => a.tx_bytes.cmp(&b.tx_bytes),
        };
        let o = if desc { o.reverse() } else { o };
        o.then(b.ports.cmp(&a.ports))
            .then(a.remote.cmp(&b.remote))
            .then(a.local.cmp(&b.local))
    });
}

/// Sorts process groups by `col` (ties: most sockets, then pid).
pub fn sort_procs(v: &mut [ProcGroup], col: ProcCol, desc: bool) {
    v.sort_by(|a, b| {
        let o = match col {
            ProcCol::Pid => a.pid.cmp(&b.pid),
            ProcCol::Process => a.name.cmp(&b.name),
            ProcCol::User => a.user.cmp(&b.user),
            ProcCol::Sockets => a.total().cmp(&b.total()),
            ProcCol::Listen => a.listening.cmp(&b.listening),
            ProcCol::Established => a.established.cmp(&b.established),
            ProcCol::Other => a.other.cmp(&b.other),
            ProcCol::Ephemeral => a.ephemeral.cmp(&b.ephemeral),
            ProcCol::RxRate => a.rx_bps.total_cmp(&b.rx_bps),
            ProcCol::TxRate => a.tx_bps.total_cmp(&b.tx_bps),
            ProcCol::RxBytes => a.rx_bytes.cmp(&b.rx_bytes),
            ProcCol::TxBytes => a.tx_bytes.cmp(&b.tx_bytes),
        };
        let o = if desc { o.reverse() } else { o };
        o.then(b.total().cmp(&a.total())).then(a.pid.cmp(&b.pid))
    });
}

pub use crate::output::columns::fmt_age;

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
