//! Ephemeral-port pressure: how much of the pool is in use, globally and per
//! destination, and how close that is to running out.
//!
//! Linux `connect()` picks a local port per 4-tuple, so the same local port serves
//! many (remote addr, remote port) pairs: a client runs out *per destination*
//! (proto, local addr, remote addr, remote port), at `pool_size` sockets including
//! TIME-WAIT. `bind(addr, 0)`, listeners and bound UDP sockets take a port from
//! everyone: that is the *global* pool, also the model on Windows.
//!
//! Global counting: distinct port numbers per protocol (TCP and UDP are separate port
//! spaces), across IPv4 and IPv6 together. Linux keeps one bind table per protocol
//! for both families, so a port held by an IPv6 socket is not free for an IPv4
//! `bind(0)` on the wildcard (and vice versa under dual-stack); counting the union is
//! the conservative reading. Destinations are keyed by address, so v4 and v6 are
//! naturally separate there. The reported `global` is the worse of TCP and UDP.
//!
//! Every socket of one destination has its own local port, so a destination's count
//! never exceeds the global count of its protocol: the global fraction is an upper
//! bound, and the destination is named as the driver when it accounts for all of it.

use crate::model::{share, PortRange, PortSet, Proto, Snapshot, SockState, Socket};
pub use crate::model::{DestKey, PoolView};
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

mod churn;
pub use churn::{
    project, Ahead, Churn, DestProjection, Projection, DEFAULT_WINDOW_MS, TIME_WAIT_SECS,
    TW_REUSE_DELAY_SECS,
};

/// When the level becomes warn / critical: fractions of the pool in use
/// (inclusive), and how soon the projection says the pool runs out.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    pub warn: f64,
    pub crit: f64,
    /// Warn when a pool is projected to run out within this many seconds.
    pub warn_within_secs: f64,
    /// Critical when a pool is projected to run out within this many seconds.
    pub crit_within_secs: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn: 0.80,
            crit: 0.95,
            warn_within_secs: 300.0,
            crit_within_secs: 60.0,
        }
    }
}

/// The levels of the last analysis, each kept for its own hysteresis: a level
/// the projection raised must not lower the usage threshold, nor the other way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hysteresis {
    pub usage: Level,
    pub projection: Level,
}

/// How far below a threshold a level must fall before it clears (hysteresis, as
/// monitoring alarms clear lower than they raise): 5 points of usage, and a
/// projection half again as long as its window.
pub const CLEAR_MARGIN: f64 = 0.05;
pub const CLEAR_WINDOW_FACTOR: f64 = 1.5;

impl Thresholds {
    /// The level by usage alone, without history.
    pub fn level(&self, fraction: f64) -> Level {
        self.usage_level(fraction, Level::Ok)
    }

    /// The level by usage, given the level before: a level only clears once the
    /// fraction is [`CLEAR_MARGIN`] below the threshold that raised it.
    pub fn usage_level(&self, fraction: f64, prev: Level) -> Level {
        let margin = |l: Level| if prev >= l { CLEAR_MARGIN } else { 0.0 };
        if fraction >= self.crit - margin(Level::Critical) {
            Level::Critical
        } else if fraction >= self.warn - margin(Level::Warn) {
            Level::Warn
        } else {
            Level::Ok
        }
    }

    /// The level by a projected time to exhaustion (None: it does not run out),
    /// given the level before (a level clears once the time is
    /// [`CLEAR_WINDOW_FACTOR`] times its window).
    pub fn projection_level(&self, secs: Option<f64>, prev: Level) -> Level {
        let Some(secs) = secs else {
            return Level::Ok;
        };
        let factor = |l: Level| {
            if prev >= l {
                CLEAR_WINDOW_FACTOR
            } else {
                1.0
            }
        };
        if secs <= self.crit_within_secs * factor(Level::Critical) {
            Level::Critical
        } else if secs <= self.warn_within_secs * factor(Level::Warn) {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Ok,
    Warn,
    Critical,
}

impl Level {
    /// Nagios plugin convention: ok 0, warning 1, critical 2.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Ok => 0,
            Level::Warn => 1,
            Level::Critical => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Global use of one protocol's pool.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProtoUsage {
    pub proto: Proto,
    /// Distinct ephemeral local ports in use (IPv4 and IPv6 together).
    pub ports_in_use: u32,
    pub fraction: f64,
    /// Distinct ports per state (a port with sockets in two states counts in both).
    pub by_state: BTreeMap<SockState, u32>,
    /// Ports taken by listeners / unconnected bound sockets (from every destination).
    pub held_by_listeners: u32,
}

/// Occupancy of one destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DestUsage {
    #[serde(flatten)]
    pub key: DestKey,
    pub sockets: u32,
    pub time_wait: u32,
    /// TIME-WAIT sockets connect() may reuse (`tcp_tw_reuse`, older than the
    /// kernel's reuse delay): counted in `sockets`, not in `fraction`.
    pub reusable_time_wait: u32,
    /// Ports that block a new connect() here: (sockets - reusable) / pool.
    pub fraction: f64,
    /// Seconds left of each blocking TIME-WAIT socket, ascending (unknown: the
    /// whole TIME-WAIT length). Input of the projection; not serialised.
    #[serde(skip)]
    pub tw_left_secs: Vec<f64>,
}

impl DestUsage {
    /// Sockets not in TIME-WAIT: they hold their port as long as they live.
    pub fn live(&self) -> u32 {
        self.sockets - self.time_wait
    }
}

/// What raised the level: the share of the pool in use, or the projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LevelBy {
    Usage,
    Projection,
}

/// What set the level.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Driver {
    /// The global pool of this protocol.
    Global { proto: Proto },
    /// One destination accounts for all of its protocol's global use.
    Destination(DestKey),
    /// The range has no usable port at all: every connect() without a port fails.
    EmptyPool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolReport {
    pub range_low: u16,
    pub range_high: u16,
    pub reserved_in_range: u32,
    pub pool_size: u32,
    /// The worse of `tcp` and `udp` (TCP on a tie).
    pub global: ProtoUsage,
    pub tcp: ProtoUsage,
    pub udp: ProtoUsage,
    /// Busiest first; ties by key.
    pub destinations: Vec<DestUsage>,
    pub worst: Option<DestUsage>,
    pub level: Level,
    /// Whether usage or the projection set the level (usage on a tie).
    pub level_by: LevelBy,
    /// The two levels the level is the worse of (the next analysis' hysteresis).
    #[serde(skip)]
    pub levels: Hysteresis,
    /// The fraction of the pool that drives: max(global, worst destination).
    pub fraction: f64,
    pub driver: Driver,
    /// Seconds until the soonest projected exhaustion (global or a destination);
    /// None when nothing is projected to run out or before two snapshots.
    pub exhaustion_secs: Option<f64>,
    /// The global pool's projection (None before two snapshots).
    pub global_projection: Option<Projection>,
    /// Plain-language remarks (parity preference, what a global warning means...).
    pub notes: Vec<String>,
    /// Filled by [`analyze_with_churn`] for the top destinations.
    pub projections: Vec<DestProjection>,
    /// The network namespace this report is about, when the snapshot had
    /// sockets in more than one (the report is then the worst of them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

/// Pool size that is safe on a malformed range (low > high gives 0, not a panic).
fn safe_pool_size(r: &PortRange) -> u32 {
    if r.low > r.high {
        0
    } else {
        r.pool_size()
    }
}

#[derive(Default)]
struct ProtoCount {
    ports: Option<PortSet>,
    listeners: Option<PortSet>,
    states: BTreeMap<SockState, PortSet>,
}

impl ProtoCount {
    fn add(&mut self, s: &Socket) {
        let p = s.local.port;
        self.ports.get_or_insert_with(PortSet::new).insert(p);
        if s.owns_port() {
            self.listeners.get_or_insert_with(PortSet::new).insert(p);
        }
        self.states.entry(s.state).or_default().insert(p);
    }

    fn usage(self, proto: Proto, pool: u32) -> ProtoUsage {
        let n = self.ports.map_or(0, |s| s.len());
        ProtoUsage {
            proto,
            ports_in_use: n,
            fraction: share(n, pool),
            by_state: self.states.into_iter().map(|(k, v)| (k, v.len())).collect(),
            held_by_listeners: self.listeners.map_or(0, |s| s.len()),
        }
    }
}

#[derive(Default, Clone)]
struct DestCount {
    sockets: u32,
    time_wait: u32,
    reusable: u32,
    tw_left: Vec<f64>,
}

/// The TIME-WAIT length left of a socket, in seconds (unknown: all of it).
fn tw_left_secs(s: &Socket) -> f64 {
    s.time_wait_left_ms
        .map_or(TIME_WAIT_SECS, |ms| f64::from(ms) / 1000.0)
}

/// Pool occupancy of a snapshot, without projections.
pub fn analyze(snap: &Snapshot, thresholds: Thresholds) -> PoolReport {
    let range = &snap.range;
    let pool = safe_pool_size(range);
    let (mut tcp, mut udp) = (ProtoCount::default(), ProtoCount::default());
    let mut dests: HashMap<DestKey, DestCount> = HashMap::default();
    let view = PoolView::new(snap);
    for s in &snap.sockets {
        if !view.takes_from_pool(s) {
            continue;
        }
        match s.proto {
            Proto::Tcp => tcp.add(s),
            Proto::Udp => udp.add(s),
        }
        if let Some(k) = view.dest(s) {
            let c = dests.entry(k).or_default();
            c.sockets += 1;
            if s.state == SockState::TimeWait {
                c.time_wait += 1;
                let left = tw_left_secs(s);
                let reuse_after = TIME_WAIT_SECS - TW_REUSE_DELAY_SECS;
                if !k.tw_reusable(range.tw_reuse) {
                    c.tw_left.push(left);
                } else if left <= reuse_after {
                    c.reusable += 1;
                } else {
                    // Younger than the reuse delay: it blocks until it is old
                    // enough for connect() to take its port back.
                    c.tw_left.push(left - reuse_after);
                }
            }
        }
    }
    let tcp = tcp.usage(Proto::Tcp, pool);
    let udp = udp.usage(Proto::Udp, pool);
    let global = if udp.ports_in_use > tcp.ports_in_use {
        udp.clone()
    } else {
        tcp.clone()
    };

    let mut destinations: Vec<DestUsage> = dests
        .into_iter()
        .map(|(key, mut c)| {
            c.tw_left.sort_by(f64::total_cmp);
            DestUsage {
                key,
                sockets: c.sockets,
                time_wait: c.time_wait,
                reusable_time_wait: c.reusable,
                fraction: share(c.sockets - c.reusable, pool),
                tw_left_secs: c.tw_left,
            }
        })
        .collect();
    destinations.sort_by(|a, b| {
        b.fraction
            .total_cmp(&a.fraction)
            .then(b.sockets.cmp(&a.sockets))
            .then(a.key.cmp(&b.key))
    });
    let worst = destinations.first().cloned();

    let (fraction, driver) = match &worst {
        _ if pool == 0 => (0.0, Driver::EmptyPool),
        Some(w) if w.fraction >= global.fraction => (w.fraction, Driver::Destination(w.key)),
        _ => (
            global.fraction,
            Driver::Global {
                proto: global.proto,
            },
        ),
    };
    let level = if pool == 0 {
        Level::Critical
    } else {
        thresholds.level(fraction)
    };

    let mut r = PoolReport {
        range_low: range.low,
        range_high: range.high,
        reserved_in_range: if range.low > range.high {
            0
        } else {
            range.reserved_in_range()
        },
        pool_size: pool,
        global,
        tcp,
        udp,
        destinations,
        worst,
        level,
        level_by: LevelBy::Usage,
        levels: Hysteresis {
            usage: level,
            projection: Level::Ok,
        },
        fraction,
        driver,
        exhaustion_secs: None,
        global_projection: None,
        notes: Vec::new(),
        projections: Vec::new(),
        netns: None,
    };
    r.notes = notes(&r, thresholds);
    r
}

/// [`analyze`] plus projections (the global pool and the `top` most urgent
/// destinations), and the level from both usage and projection, given the level
/// before (hysteresis; `Level::Ok` for none). `churn` should have observed `snap`.
pub fn analyze_with_churn(
    snap: &Snapshot,
    thresholds: Thresholds,
    churn: &Churn,
    top: usize,
    prev: Hysteresis,
) -> PoolReport {
    let mut r = analyze(snap, thresholds);
    r.projections = churn.projections(&r, snap, top);
    r.global_projection = churn.project_global(&r, snap);
    if r.pool_size == 0 {
        return r;
    }
    r.level = thresholds.usage_level(r.fraction, prev.usage);
    r.levels.usage = r.level;
    // The soonest exhaustion, and whose.
    let mut soonest: Option<(f64, Driver)> = None;
    let mut consider = |secs: f64, d: Driver| {
        if soonest.as_ref().is_none_or(|(s, _)| secs < *s) {
            soonest = Some((secs, d));
        }
    };
    for p in &r.projections {
        if let Projection::Exhausts { secs } = p.projection {
            consider(secs, Driver::Destination(p.dest));
        }
    }
    if let Some(Projection::Exhausts { secs }) = r.global_projection {
        consider(
            secs,
            Driver::Global {
                proto: r.global.proto,
            },
        );
    }
    if let Some((secs, driver)) = soonest {
        r.exhaustion_secs = Some(secs);
        let by_projection = thresholds.projection_level(Some(secs), prev.projection);
        r.levels.projection = by_projection;
        if by_projection > r.level {
            r.level = by_projection;
            r.level_by = LevelBy::Projection;
            r.fraction = match &driver {
                Driver::Destination(k) => r
                    .destinations
                    .iter()
                    .find(|d| d.key == *k)
                    .map_or(r.fraction, |d| d.fraction),
                Driver::Global { .. } => r.global.fraction,
                Driver::EmptyPool => r.fraction,
            };
            r.driver = driver;
        }
    }
    // The remarks follow the final level and driver.
    r.notes = notes(&r, thresholds);
    r
}

fn notes(r: &PoolReport, t: Thresholds) -> Vec<String> {
    let mut out = Vec::new();
    if r.pool_size == 0 {
        out.push(format!(
            "the ephemeral range {}-{} has no usable port (all reserved or empty): \
             every connect() without an explicit port fails",
            r.range_low, r.range_high
        ));
        return out;
    }
    if let Some(w) = &r.worst {
        if w.key.proto == Proto::Tcp && 2 * w.sockets > r.pool_size {
            out.push(format!(
                "{} uses more than half the pool ({} of {}): Linux 4.6+ connect() tries \
                 the even half of the range first and bind(0) the odd half, so new \
                 connections now search the half bind(0) uses and take longer to find a port",
                w.key.remote, w.sockets, r.pool_size
            ));
        }
    }
    let worst_level = r.worst.as_ref().map_or(Level::Ok, |w| t.level(w.fraction));
    if matches!(r.driver, Driver::Global { .. }) && r.level > worst_level {
        out.push(format!(
            "{} of {} {} ports are in use, spread over destinations: connect() to a new \
             destination can still reuse them, but bind(0), bind-before-connect clients \
             and new listeners cannot",
            r.global.ports_in_use, r.pool_size, r.global.proto
        ));
    }
    out
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
