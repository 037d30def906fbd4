//! The Prometheus text exposition format (version 0.0.4) over a snapshot, its pool
//! report and its collisions. Pure: the server renders once per refresh and every
//! scrape copies the result.
//!
//! Cardinality is bounded by construction: states and collision kinds are fixed
//! sets, destinations are the report's top `top`, listeners at most
//! [`MAX_LISTENER_SERIES`] label sets (the total is a separate gauge).

use crate::analysis::collisions::{Collision, CollisionKind};
use crate::analysis::pool::{DestKey, Level, LevelBy, PoolReport};
use crate::model::{Proto, Snapshot, SockState};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The content type of the 0.0.4 text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// At most this many `porttop_listener` series.
pub const MAX_LISTENER_SERIES: usize = 200;

/// Escapes a label value: control characters as [`super::safe`] shows them
/// (a `curl /metrics` on a terminal must not run a process name's escape codes),
/// then backslash, double quote and line feed as the format wants.
pub fn escape_label(v: &str) -> String {
    let v = super::safe(v);
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes HELP text: backslash and line feed.
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A float as the exposition format spells it.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Metric type of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

/// Appends families and samples to a text buffer.
#[derive(Default)]
pub struct Exposition {
    pub text: String,
}

impl Exposition {
    /// Starts a family: its HELP and TYPE lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        };
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", escape_label(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", format_value(value));
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

const PROTOS: [Proto; 2] = [Proto::Tcp, Proto::Udp];
const KINDS: [CollisionKind; 3] = [
    CollisionKind::ListenerInEphemeralRange,
    CollisionKind::SharedPort,
    CollisionKind::MalwarePort,
];
const LEVELS: [Level; 3] = [Level::Ok, Level::Warn, Level::Critical];

fn kind_label(k: CollisionKind) -> &'static str {
    match k {
        CollisionKind::ListenerInEphemeralRange => "listener_in_ephemeral_range",
        CollisionKind::SharedPort => "shared_port",
        CollisionKind::MalwarePort => "malware_port",
    }
}

/// The states exported for a protocol: every TCP state but UNCONN; UNCONN for UDP.
/// Others appear only when a socket has them (kept bounded: a fixed enum).
fn exported_state(proto: Proto, st: SockState) -> bool {
    match proto {
        Proto::Tcp => !matches!(st, SockState::Unconn | SockState::Unknown),
        Proto::Udp => st == SockState::Unconn,
    }
}

/// Everything derived from one successful refresh: sockets, pool, destinations,
/// collisions, listeners. `top` bounds the destination series.
pub fn render_snapshot(
    snap: &Snapshot,
    report: &PoolReport,
    collisions: &[Collision],
    top: usize,
    pools: &[crate::analysis::NetnsPool],
) -> String {
    let mut e = Exposition::default();
    sockets(&mut e, snap);
    pool(&mut e, report);
    destinations(&mut e, report, top);
    if pools.len() > 1 {
        netns(&mut e, pools, NETNS_TOP);
    }
    collision_counts(&mut e, collisions);
    listeners(&mut e, snap);
    kernel(&mut e, snap);
    e.single(
        "porttop_snapshot_partial",
        Kind::Gauge,
        "1 when some sockets have no process (without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH: other users')",
        f64::from(u8::from(snap.partial)),
    );
    e.text
}

/// The kernel's own TCP counters, as counters (absent where unknown).
fn kernel(e: &mut Exposition, snap: &Snapshot) {
    let Some(c) = &snap.counters else {
        return;
    };
    e.family(
        "porttop_kernel_tcp_total",
        Kind::Counter,
        "The kernel's TCP counters of this namespace by their /proc/net/snmp and \
         /proc/net/netstat names: ActiveOpens (connect()s), AttemptFails, EstabResets, \
         TCPTimeWaitOverflow, ListenOverflows, ListenDrops",
    );
    for (name, v) in c.named() {
        e.sample("porttop_kernel_tcp_total", &[("counter", name)], v as f64);
    }
}

fn sockets(e: &mut Exposition, snap: &Snapshot) {
    let mut counts: BTreeMap<(Proto, SockState), u64> = BTreeMap::new();
    for p in PROTOS {
        for st in SockState::ALL.into_iter().filter(|s| exported_state(p, *s)) {
            counts.insert((p, st), 0);
        }
    }
    for s in &snap.sockets {
        *counts.entry((s.proto, s.state)).or_default() += 1;
    }
    e.family(
        "porttop_sockets",
        Kind::Gauge,
        "Sockets by protocol and state (ss state names)",
    );
    for ((p, st), n) in &counts {
        e.sample(
            "porttop_sockets",
            &[("proto", p.as_str()), ("state", st.as_str())],
            *n as f64,
        );
    }
}

fn pool(e: &mut Exposition, r: &PoolReport) {
    let g = Kind::Gauge;
    e.single(
        "porttop_ephemeral_range_low",
        g,
        "Lowest port of the ephemeral range in force",
        f64::from(r.range_low),
    );
    e.single(
        "porttop_ephemeral_range_high",
        g,
        "Highest port of the ephemeral range in force",
        f64::from(r.range_high),
    );
    e.single(
        "porttop_ephemeral_reserved_in_range",
        g,
        "Reserved ports inside the ephemeral range",
        f64::from(r.reserved_in_range),
    );
    e.single(
        "porttop_ephemeral_pool_size",
        g,
        "Ports the OS can hand out: range size minus reserved ports in it",
        f64::from(r.pool_size),
    );
    e.family(
        "porttop_ephemeral_ports_in_use",
        g,
        "Distinct ephemeral local ports in use, IPv4 and IPv6 together",
    );
    for u in [&r.tcp, &r.udp] {
        let v = f64::from(u.ports_in_use);
        e.sample(
            "porttop_ephemeral_ports_in_use",
            &[("proto", u.proto.as_str())],
            v,
        );
    }
    e.family(
        "porttop_ephemeral_ports_fraction",
        g,
        "Distinct ephemeral local ports in use as a fraction of the pool",
    );
    for u in [&r.tcp, &r.udp] {
        let labels = [("proto", u.proto.as_str())];
        e.sample("porttop_ephemeral_ports_fraction", &labels, u.fraction);
    }
    let (ws, wf) = r
        .worst
        .as_ref()
        .map_or((0.0, 0.0), |w| (f64::from(w.sockets), w.fraction));
    e.single(
        "porttop_pool_worst_destination_sockets",
        g,
        "Sockets (TIME-WAIT included) toward the busiest destination; 0 when none",
        ws,
    );
    e.single(
        "porttop_pool_worst_destination_fraction",
        g,
        "Sockets toward the busiest destination as a fraction of the pool",
        wf,
    );
    e.single(
        "porttop_pool_fraction",
        g,
        "The fraction that sets the level: max(global, busiest destination)",
        r.fraction,
    );
    e.single(
        "porttop_pool_level_code",
        g,
        "Pool pressure level: 0 ok, 1 warn, 2 critical",
        f64::from(r.level.exit_code()),
    );
    e.family(
        "porttop_pool_level",
        g,
        "Pool pressure level as a state set: 1 for the current level, 0 otherwise",
    );
    for l in LEVELS {
        let v = f64::from(u8::from(l == r.level));
        e.sample("porttop_pool_level", &[("level", l.as_str())], v);
    }
    e.family(
        "porttop_pool_level_driver",
        g,
        "What set the pool level, as a state set: usage (share of the pool in use) or \
         projection (runs out within --warn-within / --crit-within)",
    );
    for (by, name) in [
        (LevelBy::Usage, "usage"),
        (LevelBy::Projection, "projection"),
    ] {
        let v = f64::from(u8::from(by == r.level_by));
        e.sample("porttop_pool_level_driver", &[("by", name)], v);
    }
    // The family is always declared (as the destinations' one): a dashboard or
    // rule naming it finds it on every exporter, with a sample only when due.
    let name = "porttop_pool_exhaustion_seconds";
    e.family(
        name,
        g,
        "Seconds until the soonest projected exhaustion of the global pool or a \
         destination (no sample when none is projected to run out)",
    );
    if let Some(secs) = r.exhaustion_secs {
        e.sample(name, &[], secs);
    }
}

fn destinations(e: &mut Exposition, r: &PoolReport, top: usize) {
    let fams = [
        (
            "porttop_destination_sockets",
            "Sockets toward one of the busiest destinations (top N), TIME-WAIT included",
        ),
        (
            "porttop_destination_time_wait",
            "TIME-WAIT sockets toward one of the busiest destinations (top N)",
        ),
        (
            "porttop_destination_fraction",
            "Sockets toward one of the busiest destinations as a fraction of the pool",
        ),
    ];
    for (i, (name, help)) in fams.iter().enumerate() {
        e.family(name, Kind::Gauge, help);
        for d in r.destinations.iter().take(top) {
            let [la, ra, rp] = dest_values(&d.key);
            let labels = dest_labels(&d.key, [&la, &ra, &rp]);
            let v = match i {
                0 => f64::from(d.sockets),
                1 => f64::from(d.time_wait),
                _ => d.fraction,
            };
            e.sample(name, &labels, v);
        }
    }
    e.family(
        "porttop_destination_exhaustion_seconds",
        Kind::Gauge,
        "Seconds until a destination is projected to run out of ephemeral ports at its \
         current rate, TIME-WAIT expiries and lifetimes counted (only those projected to)",
    );
    for p in r.projections.iter().take(top) {
        let Some(secs) = p.projection.exhausts_in() else {
            continue;
        };
        let [la, ra, rp] = dest_values(&p.dest);
        let labels = dest_labels(&p.dest, [&la, &ra, &rp]);
        e.sample("porttop_destination_exhaustion_seconds", &labels, secs);
    }
}

/// How many network namespaces get series of their own (the worst ones); the
/// rest are summed into `netns="_other"`, so a host with a thousand containers
/// exports a bounded number of series.
pub const NETNS_TOP: usize = 10;

/// Per network namespace (with more than one): the pool of the worst `top` by
/// name, and `_other` for the rest together (sockets summed, the worst
/// fraction and level); the unlabelled families above are the worst one's.
fn netns(e: &mut Exposition, pools: &[crate::analysis::NetnsPool], top: usize) {
    let g = Kind::Gauge;
    e.single(
        "porttop_netns_count",
        g,
        "Network namespaces read",
        pools.len() as f64,
    );
    let shown = &pools[..pools.len().min(top)];
    let rest = &pools[shown.len()..];
    let other = (!rest.is_empty()).then(|| {
        (
            rest.iter().map(|p| p.sockets).sum::<usize>() as f64,
            rest.iter().map(|p| p.report.fraction).fold(0.0, f64::max),
            rest.iter()
                .map(|p| p.report.level.exit_code())
                .max()
                .unwrap_or(0),
        )
    });
    type Pick = fn(&crate::analysis::NetnsPool) -> f64;
    let fams: [(&str, &str, Pick, usize); 3] = [
        (
            "porttop_netns_sockets",
            "Sockets in a network namespace (the worst N; _other: the rest summed)",
            |p| p.sockets as f64,
            0,
        ),
        (
            "porttop_netns_pool_fraction",
            "A network namespace's pool fraction, against its own range (_other: the worst of the rest)",
            |p| p.report.fraction,
            1,
        ),
        (
            "porttop_netns_pool_level_code",
            "A network namespace's pool level: 0 ok, 1 warn, 2 critical (_other: the worst of the rest)",
            |p| f64::from(p.report.level.exit_code()),
            2,
        ),
    ];
    for (name, help, pick, i) in fams {
        e.family(name, g, help);
        for p in shown {
            let c = p.container.as_deref().unwrap_or("");
            e.sample(name, &[("netns", &p.name), ("container", c)], pick(p));
        }
        if let Some((s, f, l)) = other {
            let v = [s, f, f64::from(l)][i];
            e.sample(name, &[("netns", "_other"), ("container", "")], v);
        }
    }
    e.family(
        "porttop_netns_ephemeral_pool_size",
        g,
        "Ports a network namespace's range can hand out (the worst N)",
    );
    for p in shown {
        let c = p.container.as_deref().unwrap_or("");
        let v = f64::from(p.report.pool_size);
        e.sample(
            "porttop_netns_ephemeral_pool_size",
            &[("netns", &p.name), ("container", c)],
            v,
        );
    }
    e.family(
        "porttop_netns_destination_sockets",
        g,
        "Sockets toward the busiest destination of a network namespace (the worst N)",
    );
    for p in shown {
        let Some(w) = &p.report.worst else { continue };
        let [la, ra, rp] = dest_values(&w.key);
        let [a, b, c, d] = dest_labels(&w.key, [&la, &ra, &rp]);
        let labels = [("netns", p.name.as_str()), a, b, c, d];
        e.sample(
            "porttop_netns_destination_sockets",
            &labels,
            f64::from(w.sockets),
        );
    }
}

/// A destination's label values: local address, remote address, remote port.
fn dest_values(k: &DestKey) -> [String; 3] {
    [
        k.local_addr.to_string(),
        k.remote.addr.to_string(),
        k.remote.port.to_string(),
    ]
}

fn dest_labels<'a>(k: &DestKey, v: [&'a str; 3]) -> [(&'static str, &'a str); 4] {
    [
        ("proto", k.proto.as_str()),
        ("local_addr", v[0]),
        ("remote_addr", v[1]),
        ("remote_port", v[2]),
    ]
}

fn collision_counts(e: &mut Exposition, found: &[Collision]) {
    e.family(
        "porttop_collisions",
        Kind::Gauge,
        "Port collisions by kind; intentional=\"true\" for SO_REUSEPORT workers of one program",
    );
    for k in KINDS {
        for intentional in [false, true] {
            let n = found
                .iter()
                .filter(|c| c.kind == k && c.probably_intentional == intentional)
                .count();
            let labels = [
                ("kind", kind_label(k)),
                ("intentional", if intentional { "true" } else { "false" }),
            ];
            e.sample("porttop_collisions", &labels, n as f64);
        }
    }
}

/// A listener's labels: (proto, addr, port, process).
type ListenerKey = (Proto, String, u16, String);
/// Accept queue, backlog, drops (None: not read).
type Queues = (u64, u64, Option<u64>);

fn listeners(e: &mut Exposition, snap: &Snapshot) {
    // (proto, addr, port, process) -> sockets; SO_REUSEPORT workers share a series.
    let mut by: BTreeMap<(Proto, String, u16, String), u64> = BTreeMap::new();
    // The same keys (TCP) -> accept queue, backlog, drops (when the source had them).
    let mut queues: BTreeMap<ListenerKey, Queues> = BTreeMap::new();
    let mut total = 0u64;
    for s in &snap.sockets {
        if !s.is_listener() {
            continue;
        }
        total += 1;
        let process = snap.owner(s).map(|p| p.name.clone()).unwrap_or_default();
        let key = (s.proto, s.local.addr.to_string(), s.local.port, process);
        if let (Proto::Tcp, Some(c)) = (s.proto, s.conn.as_deref()) {
            let q = queues.entry(key.clone()).or_default();
            q.0 += u64::from(c.rx_queue);
            q.1 += u64::from(c.tx_queue);
            if let Some(m) = c.mem {
                // a listener's sk_drops: SYNs and handshakes it dropped
                // (net/ipv4/tcp_ipv4.c, tcp_listendrop)
                q.2 = Some(q.2.unwrap_or(0) + u64::from(m.drops));
            }
        }
        *by.entry(key).or_default() += 1;
    }
    e.single(
        "porttop_listeners",
        Kind::Gauge,
        "Listening sockets: TCP LISTEN and bound unconnected UDP",
        total as f64,
    );
    e.family(
        "porttop_listener_sockets",
        Kind::Gauge,
        "Listening sockets per (proto, addr, port, process); at most 200 series, \
         process empty when unknown",
    );
    for ((p, addr, port, process), n) in by.iter().take(MAX_LISTENER_SERIES) {
        let port = port.to_string();
        let labels = [
            ("proto", p.as_str()),
            ("addr", addr.as_str()),
            ("port", port.as_str()),
            ("process", process.as_str()),
        ];
        e.sample("porttop_listener_sockets", &labels, *n as f64);
    }
    listener_queues(e, &queues);
}

/// Accept queues of TCP listeners, on the label sets of `porttop_listener_sockets`
/// (the same bound). The kernel drops new connections once a queue exceeds its
/// backlog: queue / backlog near 1 is the early warning, ListenOverflows (in
/// `porttop_kernel_tcp_total`) the count of what was lost.
fn listener_queues(e: &mut Exposition, queues: &BTreeMap<ListenerKey, Queues>) {
    if queues.is_empty() {
        return;
    }
    let fams = [
        (
            "porttop_listener_accept_queue",
            "Connections waiting for accept() per TCP listener (ss Recv-Q on LISTEN)",
        ),
        (
            "porttop_listener_accept_backlog",
            "The accept queue's backlog per TCP listener (ss Send-Q on LISTEN)",
        ),
        (
            "porttop_listener_accept_fill_ratio",
            "Accept queue / backlog per TCP listener; above 1 new connections are dropped",
        ),
    ];
    for (i, (name, help)) in fams.iter().enumerate() {
        e.family(name, Kind::Gauge, help);
        for ((p, addr, port, process), (q, b, _)) in queues.iter().take(MAX_LISTENER_SERIES) {
            let port = port.to_string();
            let labels = [
                ("proto", p.as_str()),
                ("addr", addr.as_str()),
                ("port", port.as_str()),
                ("process", process.as_str()),
            ];
            let v = match i {
                0 => *q as f64,
                1 => *b as f64,
                _ => *q as f64 / (*b).max(1) as f64,
            };
            e.sample(name, &labels, v);
        }
    }
    if queues.values().any(|v| v.2.is_some()) {
        let name = "porttop_listener_drops_total";
        e.family(
            name,
            Kind::Counter,
            "Connection requests dropped per TCP listener (its sk_drops: full accept \
             queue or SYN queue, and other listen drops)",
        );
        for ((p, addr, port, process), (_, _, d)) in queues.iter().take(MAX_LISTENER_SERIES) {
            let Some(d) = d else { continue };
            let port = port.to_string();
            let labels = [
                ("proto", p.as_str()),
                ("addr", addr.as_str()),
                ("port", port.as_str()),
                ("process", process.as_str()),
            ];
            e.sample(name, &labels, *d as f64);
        }
    }
}

/// The collector's own state, rendered per scrape (cheap, a few lines).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectorStatus {
    /// Seconds the last refresh took (snapshot, analysis, rendering).
    pub refresh_secs: f64,
    pub refresh_errors_total: u64,
    /// Milliseconds since the epoch of the last successful refresh (0: none yet).
    pub last_success_ms: u64,
    pub last_refresh_ok: bool,
}

pub fn render_status(s: &CollectorStatus) -> String {
    let mut e = Exposition::default();
    e.single(
        "porttop_scrape_duration_seconds",
        Kind::Gauge,
        "Seconds the last refresh of the socket table took (snapshot, analysis, \
         rendering); scrapes serve its result",
        s.refresh_secs,
    );
    e.single(
        "porttop_refresh_errors_total",
        Kind::Counter,
        "Refreshes of the socket table that failed",
        s.refresh_errors_total as f64,
    );
    e.single(
        "porttop_last_refresh_timestamp_seconds",
        Kind::Gauge,
        "Unix time of the last successful refresh (0: none yet)",
        s.last_success_ms as f64 / 1000.0,
    );
    e.single(
        "porttop_last_refresh_success",
        Kind::Gauge,
        "1 when the last refresh succeeded",
        f64::from(u8::from(s.last_refresh_ok)),
    );
    e.text
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
