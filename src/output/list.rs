//! `porttop list` and `porttop range` renderers.

use super::{count, csv_field, safe, write_table};
use crate::model::{PoolView, PortRange, Proto, Snapshot, Socket, SocketRecord};
use serde::Serialize;
use std::io::{self, Write};

use super::columns::{self, column, Context, Field, Style};

/// What a column's value needs from the snapshot: the owners' names (deduped,
/// as the table joins them), the first owner's command line, the E mark.
fn context<'a>(snap: &'a Snapshot, s: &Socket) -> Context<'a> {
    let mut names: Vec<&str> = s
        .pids
        .iter()
        .filter_map(|p| snap.process(*p))
        .map(|p| p.name.as_str())
        .collect();
    names.dedup();
    Context {
        names,
        cmdline: snap.owner(s).map(|p| p.cmdline.as_str()),
        ephemeral: snap.is_ephemeral(s),
        // `E`: a listener in the pool (a collision risk), `e` otherwise.
        collision: s.is_listener(),
        netns: Some(snap.netns_name(s.netns)),
        age_ms: None,
    }
}

/// The columns of `list`'s table: `--info` adds the connection's detail;
/// sockets of more than one namespace add which one each is in, first.
pub(crate) fn table_fields(snap: &Snapshot, info: bool) -> Vec<Field> {
    let mut v = Vec::new();
    if snap.multi_netns() {
        v.push(Field::Netns);
    }
    v.extend_from_slice(columns::LIST_TABLE);
    if info {
        v.extend_from_slice(columns::LIST_INFO);
    }
    v
}

/// One socket's cells in `list`'s table.
pub(crate) fn table_cells(snap: &Snapshot, s: &Socket, fields: &[Field]) -> Vec<String> {
    let cx = context(snap, s);
    fields
        .iter()
        .map(|f| columns::value(*f, s, &cx, Style::Table))
        .collect()
}

pub fn list_table(
    out: &mut dyn Write,
    snap: &Snapshot,
    sockets: &[&Socket],
    header: bool,
    info: bool,
) -> io::Result<()> {
    let fields = table_fields(snap, info);
    let titles: Vec<&str> = fields.iter().map(|f| column(*f).title).collect();
    let right: Vec<bool> = fields.iter().map(|f| column(*f).right).collect();
    let rows: Vec<Vec<String>> = sockets
        .iter()
        .map(|s| table_cells(snap, s, &fields))
        .collect();
    write_table(out, header.then_some(&titles[..]), &rows, &right)
}

/// `list --csv`: the columns of [`columns::CSV`].
pub fn list_csv(
    out: &mut dyn Write,
    snap: &Snapshot,
    sockets: &[&Socket],
    header: bool,
) -> io::Result<()> {
    list_csv_info(out, snap, sockets, header, false)
}

/// `list --csv`, with `info` the detail columns of [`columns::CSV_INFO`] too.
pub fn list_csv_info(
    out: &mut dyn Write,
    snap: &Snapshot,
    sockets: &[&Socket],
    header: bool,
    info: bool,
) -> io::Result<()> {
    let mut fields = columns::CSV.to_vec();
    if info {
        fields.extend_from_slice(columns::CSV_INFO);
    }
    if header {
        let names: Vec<&str> = fields.iter().map(|f| column(*f).name).collect();
        writeln!(out, "{}", names.join(","))?;
    }
    for s in sockets {
        let cx = context(snap, s);
        let line: Vec<String> = fields
            .iter()
            .map(|f| csv_field(&columns::value(*f, s, &cx, Style::Raw)))
            .collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// One line per listener among `sockets` whose accept queue is full (the
/// kernel drops new connections to it), with the kernel's listen counters.
pub fn queue_warnings(snap: &Snapshot, sockets: &[&Socket]) -> Vec<String> {
    let counters = snap.counters.map(|c| {
        format!(
            " (ListenOverflows {}, ListenDrops {} since boot)",
            c.listen_overflows, c.listen_drops
        )
    });
    sockets
        .iter()
        .filter_map(|s| {
            let c = crate::model::conn::full_accept_queue(s)?;
            let owner = snap
                .owner(s)
                .map(|p| format!(" ({} pid {})", safe(&p.name), p.pid))
                .unwrap_or_default();
            Some(format!(
                "accept queue of {} {}{owner} is full: {} connections wait for accept(), backlog {}; new ones are dropped{}",
                s.proto,
                s.local,
                c.rx_queue,
                c.tx_queue,
                counters.as_deref().unwrap_or("")
            ))
        })
        .collect()
}

/// Sort order of `list`: protocol, state (listeners first), local, remote.
pub fn list_order(a: &Socket, b: &Socket) -> std::cmp::Ordering {
    let rank = |s: &Socket| (s.proto, !s.is_listener());
    rank(a)
        .cmp(&rank(b))
        .then(a.local.cmp(&b.local))
        .then(a.remote.cmp(&b.remote))
}

/// The whole snapshot as `porttop list --json` prints it without filters.
pub fn snapshot_json(snap: &Snapshot) -> io::Result<Vec<u8>> {
    let mut rows: Vec<&Socket> = snap.sockets.iter().collect();
    rows.sort_by(|a, b| list_order(a, b));
    let mut out = Vec::new();
    list_json(&mut out, snap, &rows)?;
    Ok(out)
}

/// A JSON array with one compact record per line: half the bytes of pretty
/// printing at 40,000 sockets, still greppable, and `jq` pretty-prints it anyway.
/// Records are built one at a time, so no second copy of the table is held.
pub fn list_json(out: &mut dyn Write, snap: &Snapshot, sockets: &[&Socket]) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, s) in sockets.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &SocketRecord::new(snap, s))?;
    }
    out.write_all(b"\n]\n")
}

/// What `porttop range` reports.
#[derive(Serialize, Debug)]
pub struct RangeSummary {
    pub low: u16,
    pub high: u16,
    pub source: String,
    pub size: u32,
    pub reserved: String,
    pub reserved_in_range: u32,
    pub pool_size: u32,
    /// Ports of the pool in use now, as `pool` counts them (`PoolView`): distinct
    /// local ports of the busier protocol (TCP and UDP are separate port spaces).
    pub in_use: u32,
    /// How a Windows what-if range was computed from the MaxUserPort table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<crate::range::windows::Derivation>,
    /// The network namespace, when the snapshot has more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// Its container (name or short id), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The other namespaces' ranges (empty with one namespace).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<RangeSummary>,
}

impl RangeSummary {
    /// The summary of `r` with the ports in use of the snapshot's own
    /// namespace; with more than one namespace, each other one's follows in
    /// `namespaces`.
    pub fn new(r: &PortRange, snap: Option<&Snapshot>) -> Self {
        let mut me = Self::of_netns(r, snap, 0);
        if let Some(snap) = snap.filter(|s| s.netns.len() > 1) {
            me.netns = Some(snap.netns_name(0).to_string());
            me.container = snap
                .netns_info(0)
                .and_then(|n| n.container.as_ref())
                .map(|c| c.label().to_string());
            for n in snap.netns.iter().filter(|n| !n.own) {
                let mut o = Self::of_netns(&n.range, Some(snap), n.inode);
                o.netns = Some(n.name.clone());
                o.container = n.container.as_ref().map(|c| c.label().to_string());
                me.namespaces.push(o);
            }
        }
        me
    }

    fn of_netns(r: &PortRange, snap: Option<&Snapshot>, netns: u64) -> Self {
        let in_use = snap
            .map(|s| {
                // (this namespace's sockets against its range)
                let mine: Vec<crate::model::Socket> = s
                    .sockets
                    .iter()
                    .filter(|x| x.netns == netns)
                    .cloned()
                    .collect();
                let view = PoolView::of(r, &mine);
                let [tcp, udp] = [Proto::Tcp, Proto::Udp].map(|p| view.ports_in_use(&mine, p));
                tcp.max(udp)
            })
            .unwrap_or(0);
        RangeSummary {
            low: r.low,
            high: r.high,
            source: r.source.clone(),
            size: r.size(),
            reserved: r.reserved_string(),
            reserved_in_range: r.reserved_in_range(),
            pool_size: r.pool_size(),
            in_use,
            derived: None,
            netns: None,
            container: None,
            namespaces: Vec::new(),
        }
    }
}

/// `porttop range` as text: the own namespace's, then each other one's.
pub fn range_text(out: &mut dyn Write, s: &RangeSummary) -> io::Result<()> {
    range_text_one(out, s)?;
    for n in &s.namespaces {
        writeln!(out)?;
        range_text_one(out, n)?;
    }
    Ok(())
}

fn range_text_one(out: &mut dyn Write, s: &RangeSummary) -> io::Result<()> {
    if let Some(n) = &s.netns {
        match &s.container {
            Some(c) => writeln!(out, "netns            {} (container {})", safe(n), safe(c))?,
            None => writeln!(out, "netns            {}", safe(n))?,
        }
    }
    let pct = if s.pool_size == 0 {
        0.0
    } else {
        100.0 * f64::from(s.in_use) / f64::from(s.pool_size)
    };
    writeln!(
        out,
        "ephemeral range  {}-{} ({})",
        s.low,
        s.high,
        count(s.size, "port")
    )?;
    writeln!(out, "source           {}", safe(&s.source))?;
    if let Some(d) = &s.derived {
        let how = match d.max_user_port {
            Some(v) => format!("{} with MaxUserPort {v}", d.rule),
            None => "MaxUserPort not defined: the version's default".to_string(),
        };
        writeln!(
            out,
            "derived          {how} (the table of the {})",
            d.source
        )?;
        if let Some(a) = d.assumes {
            writeln!(out, "assumes          {a}")?;
        }
    }
    let reserved = if s.reserved.is_empty() {
        "none"
    } else {
        &s.reserved
    };
    writeln!(
        out,
        "reserved         {reserved} ({} in range)",
        s.reserved_in_range
    )?;
    writeln!(out, "pool size        {}", s.pool_size)?;
    writeln!(
        out,
        "in use           {} ({pct:.1} % of the pool)",
        count(s.in_use, "distinct local port")
    )
}

pub fn range_json(out: &mut dyn Write, s: &RangeSummary) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_text_counts_in_the_singular_for_one() {
        let r = PortRange::new(40000, 40000, vec![], "--range");
        let mut out = Vec::new();
        range_text(&mut out, &RangeSummary::new(&r, None)).expect("write");
        let t = String::from_utf8(out).expect("utf-8");
        assert!(t.contains("40000-40000 (1 port)\n"), "{t}");
        assert!(t.contains("0 distinct local ports"), "{t}");
        let r = PortRange::new(40000, 40001, vec![], "--range");
        let mut out = Vec::new();
        range_text(&mut out, &RangeSummary::new(&r, None)).expect("write");
        assert!(String::from_utf8_lossy(&out).contains("(2 ports)"));
    }

    /// `range`'s "in use" is `pool`'s: per protocol (separate port spaces; the
    /// union counted 15 here), without the server side of accepted connections.
    #[test]
    fn ports_in_use_are_the_pools_count() {
        use crate::model::{Proto, SockState};
        use crate::testkit::{conn, listener, many, range100, snap};
        let mut v = many(
            "10.0.0.2",
            "10.0.0.5:443",
            40000,
            10,
            SockState::Established,
        );
        for p in 40005..40015u16 {
            let local = format!("10.0.0.2:{p}");
            v.push(conn(
                Proto::Udp,
                &local,
                "10.0.0.53:53",
                SockState::Established,
            ));
        }
        v.push(listener(Proto::Tcp, "0.0.0.0:40050"));
        for p in 1..=5u16 {
            let remote = format!("10.0.0.9:{p}");
            v.push(conn(
                Proto::Tcp,
                "10.0.0.2:40050",
                &remote,
                SockState::TimeWait,
            ));
        }
        let s = snap(1, range100(), v);
        let report = crate::analysis::pool::analyze(&s, Default::default());
        assert_eq!(report.global.ports_in_use, 11);
        assert_eq!(RangeSummary::new(&s.range, Some(&s)).in_use, 11);
    }
}
