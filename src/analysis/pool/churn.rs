//! Churn: how fast new outbound sockets appear per destination, how long they
//! live, and where that leads.
//!
//! A pure state machine fed with snapshots; time is `taken_at_ms`, never the clock.
//! A socket is new when its kernel cookie was not in the previous snapshot
//! (a connection keeps its cookie into TIME-WAIT: one connection, counted
//! once). Without cookies (recordings): when its `SocketKey` was not there,
//! except an orphan (inode 0: TIME-WAIT, FIN-WAIT-2) whose (proto, local,
//! remote) was: that is the same connection after close, and counting it
//! would count every connection twice. A live socket that is gone from the next snapshot closed: its
//! lifetime (first seen to gone) is a sample; one first seen already closed lived
//! less than an interval.
//!
//! Rates and lifetimes are sums over a sliding window of intervals (default 30 s),
//! so one slow or busy interval moves them little; they use what has been seen
//! when less than a window has passed, so the first projection comes after two
//! snapshots.

use super::{DestKey, DestUsage, PoolReport, PoolView};
use crate::analysis::diff::{tuple, Tuple};
use crate::model::{KernelCounters, Proto, Snapshot, SockState, SocketKey};
use serde::Serialize;
// FxHash: these tables hold every socket of every refresh (50,000 at a
// time), and SipHash was a tenth of the dashboard's CPU there.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::VecDeque;
use std::fmt;

/// How long a TIME-WAIT socket holds its port on Linux (TCP_TIMEWAIT_LEN,
/// include/net/tcp.h).
pub const TIME_WAIT_SECS: f64 = 60.0;
/// How old a TIME-WAIT socket must be before connect() may reuse its port under
/// `tcp_tw_reuse` (`tcp_twsk_unique`: one second after its last timestamp; the
/// `tcp_tw_reuse_delay` sysctl of Linux 6.15+ defaults to 1000 ms).
pub const TW_REUSE_DELAY_SECS: f64 = 1.0;
/// Default sliding window for rates and lifetimes.
pub const DEFAULT_WINDOW_MS: u64 = 30_000;

/// What happened per destination between two consecutive snapshots.
#[derive(Debug)]
struct Interval {
    start_ms: u64,
    end_ms: u64,
    new: Vec<(DestKey, u32)>,
    /// (destination, closes seen, sum of their lifetimes in seconds).
    closes: Vec<(DestKey, u32, f64)>,
    /// connect()s the kernel counted in the interval (Tcp ActiveOpens), when both
    /// snapshots carry the counters.
    opens: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Lives {
    n: u64,
    secs: f64,
}

#[derive(Debug)]
pub struct Churn {
    window_ms: u64,
    last_ms: Option<u64>,
    /// The last refresh's candidates by the kernel's cookie, which a
    /// connection keeps into TIME-WAIT (a live table: one integer each, where
    /// key and 4-tuple were ~100 bytes, at 500,000 sockets tens of MB); the
    /// cookie alone, not `Socket::cookie_id`: every `Churn` sees one
    /// namespace (the `Analyzer` splits them), and 8 bytes halve the set...
    prev_cookies: HashSet<u64>,
    /// ...and those without one (recordings) by key and 4-tuple.
    prev_keys: HashSet<SocketKey>,
    prev_tuples: HashSet<Tuple>,
    /// Live outbound sockets: destination and when first seen (None: already
    /// there at the baseline, age unknown).
    born: HashMap<SocketKey, (DestKey, Option<u64>)>,
    spare_born: HashMap<SocketKey, (DestKey, Option<u64>)>,
    intervals: VecDeque<Interval>,
    totals: HashMap<DestKey, u64>,
    lives: HashMap<DestKey, Lives>,
    last_counters: Option<KernelCounters>,
    /// Live sockets first seen within the window, per destination: those the
    /// observed lifetime applies to (older ones are taken to stay).
    young: HashMap<DestKey, u32>,
}

impl Default for Churn {
    fn default() -> Self {
        Churn::new(DEFAULT_WINDOW_MS)
    }
}

impl Churn {
    /// A tracker with a sliding window of `window_ms` (at least 1 ms).
    pub fn new(window_ms: u64) -> Self {
        Churn {
            window_ms: window_ms.max(1),
            last_ms: None,
            prev_cookies: HashSet::default(),
            prev_keys: HashSet::default(),
            prev_tuples: HashSet::default(),
            born: HashMap::default(),
            spare_born: HashMap::default(),
            intervals: VecDeque::new(),
            totals: HashMap::default(),
            lives: HashMap::default(),
            last_counters: None,
            young: HashMap::default(),
        }
    }

    /// Feeds the next snapshot. The first one (and one older than the last, as after
    /// a replay jumps back) is a baseline only; one with the same timestamp as the
    /// last is ignored.
    pub fn observe(&mut self, snap: &Snapshot) {
        let now = snap.taken_at_ms;
        if self.last_ms == Some(now) {
            return;
        }
        let view = PoolView::new(snap);
        // (last refresh's table, emptied: no new allocation per refresh)
        let mut born = std::mem::take(&mut self.spare_born);
        born.clear();
        match self.last_ms {
            Some(last) if now > last => {
                let mid = last + (now - last) / 2;
                let mut counts: HashMap<DestKey, u32> = HashMap::default();
                let mut closes: HashMap<DestKey, (u32, f64)> = HashMap::default();
                for s in &snap.sockets {
                    let Some(k) = view.dest(s) else {
                        continue;
                    };
                    let key = s.key();
                    let seen = if s.cookie != 0 {
                        self.prev_cookies.contains(&s.cookie)
                    } else {
                        self.prev_keys.contains(&key)
                            || (s.inode.unwrap_or(0) == 0 && self.prev_tuples.contains(&tuple(s)))
                    };
                    let live = s.state != SockState::TimeWait;
                    if !seen {
                        *counts.entry(k).or_default() += 1;
                        if !live {
                            // Opened and closed between the snapshots.
                            let c = closes.entry(k).or_default();
                            c.0 += 1;
                            c.1 += (now - last) as f64 / 2000.0;
                        }
                    }
                    if live {
                        // A new socket is born now, also on the key of one
                        // gone (another cookie on the same 4-tuple).
                        let first = if seen {
                            self.born.get(&key).and_then(|&(_, first)| first)
                        } else {
                            Some(mid)
                        };
                        born.insert(key, (k, first));
                    }
                }
                for (key, (k, first)) in &self.born {
                    if born.contains_key(key) {
                        continue;
                    }
                    if let Some(first) = first {
                        let c = closes.entry(*k).or_default();
                        c.0 += 1;
                        c.1 += mid.saturating_sub(*first) as f64 / 1000.0;
                    }
                }
                for (k, n) in &counts {
                    *self.totals.entry(*k).or_default() += u64::from(*n);
                }
                for (k, (n, secs)) in &closes {
                    let l = self.lives.entry(*k).or_default();
                    l.n += u64::from(*n);
                    l.secs += secs;
                }
                self.intervals.push_back(Interval {
                    start_ms: last,
                    end_ms: now,
                    new: counts.into_iter().collect(),
                    closes: closes.into_iter().map(|(k, (n, s))| (k, n, s)).collect(),
                    opens: match (&self.last_counters, &snap.counters) {
                        (Some(a), Some(b)) => b.active_opens.checked_sub(a.active_opens),
                        _ => None,
                    },
                });
                self.expire(now);
            }
            _ => {
                self.intervals.clear();
                self.totals.clear();
                self.lives.clear();
                for s in &snap.sockets {
                    if s.state != SockState::TimeWait {
                        if let Some(k) = view.dest(s) {
                            born.insert(s.key(), (k, None));
                        }
                    }
                }
            }
        }
        self.spare_born = std::mem::replace(&mut self.born, born);
        let since = now.saturating_sub(self.window_ms);
        self.young.clear();
        for (k, first) in self.born.values() {
            if first.is_some_and(|f| f >= since) {
                *self.young.entry(*k).or_default() += 1;
            }
        }
        self.last_counters = snap.counters;
        self.last_ms = Some(now);
        // Only sockets that could be an allocation next time are remembered
        // (a peer and a local port in the range; the listener test is left out,
        // so a listener that closes does not turn old connections into new
        // ones): on a server the accepted connections, most of the table, are
        // not hashed twice a refresh.
        let candidate =
            |s: &&crate::model::Socket| s.remote.is_some() && snap.range.is_ephemeral(s.local.port);
        self.prev_cookies.clear();
        self.prev_keys.clear();
        self.prev_tuples.clear();
        for s in snap.sockets.iter().filter(candidate) {
            if s.cookie != 0 {
                self.prev_cookies.insert(s.cookie);
            } else {
                self.prev_keys.insert(s.key());
                self.prev_tuples.insert(tuple(s));
            }
        }
    }

    /// Drops intervals that started before the window, keeping at least the latest.
    fn expire(&mut self, now: u64) {
        let from = now.saturating_sub(self.window_ms);
        while self.intervals.len() > 1 && self.intervals[0].start_ms < from {
            let Some(old) = self.intervals.pop_front() else {
                break;
            };
            for (k, n) in old.new {
                if let Some(t) = self.totals.get_mut(&k) {
                    *t -= u64::from(n);
                    if *t == 0 {
                        self.totals.remove(&k);
                    }
                }
            }
            for (k, n, secs) in old.closes {
                if let Some(l) = self.lives.get_mut(&k) {
                    l.n -= u64::from(n);
                    l.secs -= secs;
                    if l.n == 0 {
                        self.lives.remove(&k);
                    }
                }
            }
        }
    }

    /// Seconds the current rates are measured over; None before two snapshots.
    pub fn span_secs(&self) -> Option<f64> {
        let first = self.intervals.front()?;
        let last = self.intervals.back()?;
        Some((last.end_ms - first.start_ms) as f64 / 1000.0)
    }

    /// New sockets per second toward `key`; None before two snapshots.
    pub fn rate(&self, key: &DestKey) -> Option<f64> {
        let span = self.span_secs()?;
        Some(self.totals.get(key).copied().unwrap_or(0) as f64 / span)
    }

    /// Every destination with new sockets in the window, fastest first.
    pub fn rates(&self) -> Vec<(DestKey, f64)> {
        let Some(span) = self.span_secs() else {
            return Vec::new();
        };
        let mut v: Vec<(DestKey, f64)> = self
            .totals
            .iter()
            .map(|(k, n)| (*k, *n as f64 / span))
            .collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// connect()s per second over the window by the kernel's own count (Tcp
    /// ActiveOpens: exact even for connections shorter than an interval); None
    /// unless every interval of the window has it.
    pub fn opens_rate(&self) -> Option<f64> {
        let span = self.span_secs()?;
        let n: Option<u64> = self.intervals.iter().map(|i| i.opens).sum();
        Some(n? as f64 / span)
    }

    /// Mean lifetime (open to close, seconds) of the connections toward `key` that
    /// closed in the window; else of every destination's; None when none closed
    /// (then new connections are taken to stay).
    pub fn lifetime(&self, key: &DestKey) -> Option<f64> {
        if let Some(l) = self.lives.get(key).filter(|l| l.n > 0) {
            return Some((l.secs / l.n as f64).max(0.0));
        }
        self.mean_lifetime()
    }

    fn mean_lifetime(&self) -> Option<f64> {
        let (n, secs) = self
            .lives
            .values()
            .fold((0u64, 0.0), |(n, s), l| (n + l.n, s + l.secs));
        (n > 0).then(|| (secs / n as f64).max(0.0))
    }

    /// Projection for one destination of a report with pool size `pool`.
    pub fn project(&self, d: &DestUsage, pool: u32, tw_reuse: Option<u8>) -> DestProjection {
        let rate = self.rate(&d.key);
        let lifetime = self.lifetime(&d.key);
        let projection = match rate {
            None => Projection::NoData,
            Some(r) => project(&Ahead {
                pool,
                live: d.live(),
                young: self.young.get(&d.key).copied().unwrap_or(0).min(d.live()),
                tw_left_secs: &d.tw_left_secs,
                rate: r,
                lifetime,
                tw_hold_secs: if d.key.tw_reusable(tw_reuse) {
                    TW_REUSE_DELAY_SECS
                } else {
                    TIME_WAIT_SECS
                },
            }),
        };
        DestProjection {
            dest: d.key,
            rate_per_sec: rate,
            lifetime_secs: lifetime,
            projection,
        }
    }

    /// Projections for the `top` most urgent destinations of `report` (soonest
    /// exhaustion first, then the busiest), chosen among the busiest `top` and
    /// every destination with new sockets in the window.
    pub fn projections(
        &self,
        report: &PoolReport,
        snap: &Snapshot,
        top: usize,
    ) -> Vec<DestProjection> {
        if top == 0 {
            return Vec::new();
        }
        let mut v: Vec<(usize, DestProjection)> = report
            .destinations
            .iter()
            .enumerate()
            .filter(|(i, d)| *i < top || self.totals.contains_key(&d.key))
            .map(|(i, d)| (i, self.project(d, report.pool_size, snap.range.tw_reuse)))
            .collect();
        v.sort_by(|(ia, a), (ib, b)| {
            a.projection
                .urgency()
                .total_cmp(&b.projection.urgency())
                .then(ia.cmp(ib))
        });
        v.truncate(top);
        v.into_iter().map(|(_, p)| p).collect()
    }

    /// The global pool's projection: every destination's new sockets against the
    /// distinct ports in use (TIME-WAIT blocks bind(0) whatever `tcp_tw_reuse`
    /// says). None before two snapshots.
    pub fn project_global(&self, report: &PoolReport, snap: &Snapshot) -> Option<Projection> {
        let span = self.span_secs()?;
        let proto = report.global.proto;
        let seen = self
            .totals
            .iter()
            .filter(|(k, _)| k.proto == proto)
            .map(|(_, n)| *n)
            .sum::<u64>() as f64
            / span;
        // The kernel counts every TCP connect(), also those that opened and closed
        // unseen between two snapshots (server-closed, reset: no TIME-WAIT here).
        let rate = match (proto, self.opens_rate()) {
            (Proto::Tcp, Some(k)) => seen.max(k),
            _ => seen,
        };
        let view = PoolView::new(snap);
        let mut tw: Vec<f64> = snap
            .sockets
            .iter()
            .filter(|s| {
                s.proto == proto
                    && s.state == SockState::TimeWait
                    && snap.range.is_ephemeral(s.local.port)
                    && !view.is_server_side(s)
            })
            .map(super::tw_left_secs)
            .collect();
        tw.sort_by(f64::total_cmp);
        let in_use = report.global.ports_in_use;
        let tw_ports = report
            .global
            .by_state
            .get(&SockState::TimeWait)
            .copied()
            .unwrap_or(0)
            .min(in_use);
        // A port may hold several TIME-WAIT sockets (toward different
        // destinations): count each port once, the latest to expire.
        let skip = tw.len().saturating_sub(tw_ports as usize);
        let young: u32 = self
            .young
            .iter()
            .filter(|(k, _)| k.proto == proto)
            .map(|(_, n)| *n)
            .sum();
        Some(project(&Ahead {
            pool: report.pool_size,
            live: in_use - tw_ports,
            young: young.min(in_use - tw_ports),
            tw_left_secs: &tw[skip..],
            rate,
            lifetime: self.mean_lifetime(),
            tw_hold_secs: TIME_WAIT_SECS,
        }))
    }
}

/// Where a pool is heading at its current rate of new sockets.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Projection {
    /// Runs out in about `secs` seconds (0: no free port now).
    Exhausts { secs: f64 },
    /// Settles at about `expected` ports of `pool`.
    Steady { expected: u32, pool: u32 },
    /// Fewer than two snapshots observed.
    NoData,
}

/// The inputs of a projection for one pool.
#[derive(Clone, Debug)]
pub struct Ahead<'a> {
    pub pool: u32,
    /// Sockets not in TIME-WAIT: each holds its port until it closes, then for its
    /// TIME-WAIT.
    pub live: u32,
    /// Of those, the ones first seen within the window: the observed lifetime
    /// applies to them (they are gone by `lifetime + tw_hold`); the others
    /// (pooled keep-alives, sockets older than the window) are taken to stay.
    pub young: u32,
    /// Seconds left of each blocking TIME-WAIT socket, ascending: the kernel frees
    /// the port then (sock_diag `idiag_expires`).
    pub tw_left_secs: &'a [f64],
    /// New sockets per second.
    pub rate: f64,
    /// Mean lifetime of a connection; None: connections are taken to stay.
    pub lifetime: Option<f64>,
    /// How long a closed connection keeps blocking: the TIME-WAIT length, or the
    /// reuse delay where `tcp_tw_reuse` lets connect() take the port back.
    pub tw_hold_secs: f64,
}

/// The arithmetic. A new connection holds a port for `hold = lifetime + tw_hold`;
/// a young live one for at most as long, an old one stays; each TIME-WAIT until
/// the kernel frees it. Occupancy `t` seconds ahead = old live + young live (until
/// `hold`) + TIME-WAITs not yet freed + `rate × min(t, hold)`; it runs out at the
/// first `t` where that reaches the pool, else settles at `rate × hold` + old live
/// (+ all live when no connection was seen to close).
pub fn project(a: &Ahead) -> Projection {
    let pool = f64::from(a.pool);
    let rate = if a.rate.is_finite() {
        a.rate.max(0.0)
    } else {
        0.0
    };
    let hold = a.lifetime.map(|l| l.max(0.0) + a.tw_hold_secs);
    let tw = a.tw_left_secs;
    if a.pool == 0 || u64::from(a.live) + tw.len() as u64 >= u64::from(a.pool) {
        return Projection::Exhausts { secs: 0.0 };
    }
    let arrivals = |t: f64| rate * hold.map_or(t, |h| t.min(h));
    let young = a.young.min(a.live);
    let live_at = |t: f64| {
        if hold.is_some_and(|h| t >= h) {
            f64::from(a.live - young)
        } else {
            f64::from(a.live)
        }
    };
    // Breakpoints: each TIME-WAIT's end, and `hold` (arrivals level off, the live
    // sockets are gone).
    let mut cuts: Vec<f64> = tw.iter().copied().filter(|t| *t > 0.0).collect();
    cuts.extend(hold);
    cuts.push(f64::INFINITY);
    cuts.sort_by(f64::total_cmp);
    let mut from = 0.0;
    for to in cuts {
        if to <= from {
            continue;
        }
        // Constant over [from, to): TIME-WAITs that end after `from`.
        let waiting = (tw.len() - tw.partition_point(|t| *t <= from)) as f64;
        let base = live_at(from) + waiting;
        if base + arrivals(from) >= pool {
            return Projection::Exhausts { secs: from };
        }
        if rate > 0.0 {
            let t = (pool - base) / rate;
            if t < hold.map_or(to, |h| to.min(h)) {
                return Projection::Exhausts { secs: t.max(from) };
            }
        }
        from = to;
    }
    let expected = match hold {
        Some(h) => rate * h + f64::from(a.live - young),
        None => f64::from(a.live),
    };
    Projection::Steady {
        expected: expected.round().min(f64::from(u32::MAX)) as u32,
        pool: a.pool,
    }
}

fn human_secs(secs: f64) -> String {
    if secs < 1.0 {
        "under a second".into()
    } else if secs < 120.0 {
        format!("~{:.0} s", secs)
    } else if secs < 7200.0 {
        format!("~{:.0} min", secs / 60.0)
    } else {
        format!("~{:.1} h", secs / 3600.0)
    }
}

impl Projection {
    /// The sentence, naming what runs out (`subject`).
    pub fn sentence(&self, subject: &str) -> String {
        match *self {
            Projection::Exhausts { secs } if secs <= 0.0 => {
                format!("{subject} has no free ephemeral port left")
            }
            Projection::Exhausts { secs } => {
                format!("at this rate, {subject} runs out in {}", human_secs(secs))
            }
            Projection::Steady { expected, pool } => format!(
                "at this rate, {subject} will not run out: steady state ≈ {expected} of \
                 {pool} ports ({:.1} %)",
                crate::model::share(expected, pool) * 100.0
            ),
            Projection::NoData => format!("{subject}: not enough data for a projection yet"),
        }
    }

    /// Seconds to exhaustion, None when it does not run out (or no data).
    pub fn exhausts_in(&self) -> Option<f64> {
        match *self {
            Projection::Exhausts { secs } => Some(secs),
            _ => None,
        }
    }

    /// A sort key: sooner exhaustion first, then the rest.
    fn urgency(&self) -> f64 {
        self.exhausts_in().unwrap_or(f64::INFINITY)
    }
}

impl fmt::Display for Projection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentence("the pool"))
    }
}

/// A projection for a named destination.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DestProjection {
    pub dest: DestKey,
    /// New sockets per second over the window; None before two snapshots.
    pub rate_per_sec: Option<f64>,
    /// Mean lifetime of its connections that closed in the window (seconds).
    pub lifetime_secs: Option<f64>,
    pub projection: Projection,
}

impl fmt::Display for DestProjection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.projection.sentence(&self.dest.remote.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SockState::*;
    use crate::model::Socket;
    use crate::testkit::*;

    fn at(ms: u64, sockets: Vec<Socket>) -> Snapshot {
        snap(ms, range100(), sockets)
    }

    fn key() -> DestKey {
        let s = tcp("10.0.0.2:40000", "10.0.0.5:443", Established);
        let snap = at(0, vec![s.clone()]);
        PoolView::new(&snap).dest(&s).unwrap()
    }

    #[test]
    fn one_snapshot_is_a_baseline_with_no_rate() {
        let mut c = Churn::default();
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        assert_eq!(c.rate(&key()), None);
        assert!(c.rates().is_empty());
    }

    #[test]
    fn rate_is_new_sockets_per_second_from_snapshot_timestamps() {
        let mut c = Churn::default();
        c.observe(&at(1000, Vec::new()));
        c.observe(&at(
            2000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        c.observe(&at(
            3000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 30, Established),
        ));
        assert_eq!(c.rate(&key()), Some(15.0), "30 new in 2 s");
        assert_eq!(c.rates(), vec![(key(), 15.0)]);
    }

    #[test]
    fn a_connection_turning_time_wait_is_not_new() {
        let mut c = Churn::default();
        c.observe(&at(
            0,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, TimeWait),
        ));
        assert_eq!(c.rate(&key()), Some(0.0));
    }

    #[test]
    fn a_connection_opened_and_closed_between_snapshots_is_new() {
        let mut c = Churn::default();
        c.observe(&at(0, Vec::new()));
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 4, TimeWait),
        ));
        assert_eq!(c.rate(&key()), Some(4.0));
    }

    /// On a live table (cookies) the cookie says which connection a socket
    /// is: ESTAB -> TIME-WAIT keeps it (not new), and a TIME-WAIT on a 4-tuple
    /// the last refresh had with another cookie is another connection (new;
    /// the 4-tuple alone took it for the old one).
    #[test]
    fn on_a_live_table_the_cookie_says_which_connection_a_socket_is() {
        let cookied = |state, first: u64| -> Vec<Socket> {
            let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 10, state);
            for (i, s) in v.iter_mut().enumerate() {
                s.cookie = first + i as u64;
            }
            v
        };
        let mut c = Churn::default();
        c.observe(&at(0, cookied(Established, 100)));
        c.observe(&at(1000, cookied(TimeWait, 100)));
        assert_eq!(c.rate(&key()), Some(0.0), "the same ten connections");
        c.observe(&at(2000, cookied(TimeWait, 200)));
        assert_eq!(c.rate(&key()), Some(5.0), "ten new ones in 2 s");
    }

    #[test]
    fn old_bursts_slide_out_of_the_window() {
        let mut c = Churn::new(10_000);
        c.observe(&at(0, Vec::new()));
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 50, Established),
        ));
        for t in 2..=15u64 {
            c.observe(&at(
                t * 1000,
                many("10.0.0.2", "10.0.0.5:443", 40000, 50, Established),
            ));
        }
        assert_eq!(c.rate(&key()), Some(0.0));
        assert_eq!(c.span_secs(), Some(10.0));
    }

    #[test]
    fn time_going_backwards_restarts_the_baseline() {
        let mut c = Churn::default();
        c.observe(&at(5000, Vec::new()));
        c.observe(&at(
            6000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        c.observe(&at(1000, Vec::new()));
        assert_eq!(c.rate(&key()), None);
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        assert_eq!(c.rate(&key()), None, "same timestamp is ignored");
    }

    /// A projection with `live` sockets, `tw` TIME-WAITs of 60 s left (None: the
    /// given seconds left each), TIME-WAIT hold 60 s.
    fn ahead(rate: f64, live: u32, tw: &[f64], pool: u32, lifetime: Option<f64>) -> Projection {
        project(&Ahead {
            pool,
            live,
            young: live,
            tw_left_secs: tw,
            rate,
            lifetime,
            tw_hold_secs: TIME_WAIT_SECS,
        })
    }

    #[test]
    fn projection_exhausts_when_arrivals_outpace_releases() {
        // 100 live + 100 TIME-WAIT (60 s left), 20/s that stay: 200 + 20 t = 1000.
        let p = ahead(20.0, 100, &[60.0; 100], 1000, None);
        assert_eq!(p, Projection::Exhausts { secs: 40.0 });
        assert_eq!(p.to_string(), "at this rate, the pool runs out in ~40 s");
    }

    #[test]
    fn projection_is_steady_when_connections_close_and_time_wait_ends() {
        // Lifetime 0: each new socket holds 60 s of TIME-WAIT: 10 x 60 = 600 < 1000.
        let p = ahead(10.0, 100, &[60.0; 100], 1000, Some(0.0));
        assert_eq!(
            p,
            Projection::Steady {
                expected: 600,
                pool: 1000
            }
        );
        assert_eq!(
            p.sentence("10.0.0.5:443"),
            "at this rate, 10.0.0.5:443 will not run out: steady state ≈ 600 of 1000 ports (60.0 %)"
        );
        // Connections that are never seen to close accumulate: (1000 - 100) / 10
        // once the TIME-WAITs are gone.
        assert_eq!(
            ahead(10.0, 100, &[60.0; 100], 1000, None),
            Projection::Exhausts { secs: 90.0 }
        );
    }

    #[test]
    fn connections_older_than_the_window_stay_whatever_the_churn_closes() {
        // 20,000 pooled keep-alives and 100/s of short connections (lifetime 0):
        // the steady state is the keep-alives plus 100 x 60 s, not 6,000 alone.
        let p = project(&Ahead {
            pool: 28232,
            live: 20_000,
            young: 0,
            tw_left_secs: &[],
            rate: 100.0,
            lifetime: Some(0.0),
            tw_hold_secs: TIME_WAIT_SECS,
        });
        assert_eq!(
            p,
            Projection::Steady {
                expected: 26_000,
                pool: 28232
            }
        );
    }

    #[test]
    fn known_time_wait_expiries_push_exhaustion_out() {
        // 900 TIME-WAITs that end in 3 s, 20/s new, lifetime 0 (hold 60 s): without
        // the expiries (1000 - 900) / 20 = 5 s; with them, 20 t = 1000 at 50 s.
        assert_eq!(
            ahead(20.0, 0, &[60.0; 900], 1000, Some(0.0)),
            Projection::Exhausts { secs: 5.0 }
        );
        assert_eq!(
            ahead(20.0, 0, &[3.0; 900], 1000, Some(0.0)),
            Projection::Exhausts { secs: 50.0 }
        );
    }

    #[test]
    fn lifetime_and_time_wait_make_the_steady_state() {
        // 10/s x (30 s + 60 s) = 900 of 1000: fine; 10/s x (45 + 60) = 1050: not.
        assert_eq!(
            ahead(10.0, 0, &[], 1000, Some(30.0)),
            Projection::Steady {
                expected: 900,
                pool: 1000
            }
        );
        assert!(matches!(
            ahead(10.0, 0, &[], 1000, Some(45.0)),
            Projection::Exhausts { .. }
        ));
        // Under tcp_tw_reuse a closed connection blocks for the reuse delay only.
        let reuse = project(&Ahead {
            pool: 1000,
            live: 0,
            young: 0,
            tw_left_secs: &[],
            rate: 20.0,
            lifetime: Some(0.0),
            tw_hold_secs: TW_REUSE_DELAY_SECS,
        });
        assert_eq!(
            reuse,
            Projection::Steady {
                expected: 20,
                pool: 1000
            }
        );
    }

    #[test]
    fn projection_at_zero_rate_is_the_current_live_sockets() {
        assert_eq!(
            ahead(0.0, 300, &[60.0; 600], 1000, None),
            Projection::Steady {
                expected: 300,
                pool: 1000
            }
        );
    }

    #[test]
    fn projection_of_a_full_or_empty_pool_is_exhausted_now() {
        let full = ahead(1.0, 0, &[60.0; 1000], 1000, None);
        assert_eq!(full, Projection::Exhausts { secs: 0.0 });
        assert_eq!(
            ahead(0.0, 0, &[], 0, None),
            Projection::Exhausts { secs: 0.0 }
        );
        assert!(full.to_string().contains("no free ephemeral port"));
        // Nonsense rates do not panic or produce NaN.
        assert_eq!(
            ahead(f64::NAN, 5, &[], 10, None),
            Projection::Steady {
                expected: 5,
                pool: 10
            }
        );
    }

    #[test]
    fn long_times_to_exhaustion_read_in_minutes_and_hours() {
        assert!(ahead(1.0, 0, &[], 1000, None)
            .to_string()
            .ends_with("~17 min"));
        assert!(Projection::Exhausts { secs: 600.0 }
            .to_string()
            .ends_with("~10 min"));
        assert!(Projection::Exhausts { secs: 9000.0 }
            .to_string()
            .ends_with("~2.5 h"));
        assert!(Projection::Exhausts { secs: 0.5 }
            .to_string()
            .ends_with("under a second"));
        assert!(Projection::NoData.to_string().contains("not enough data"));
    }

    #[test]
    fn lifetimes_come_from_observed_closes() {
        let mut c = Churn::default();
        c.observe(&at(0, Vec::new()));
        // 10 new at 1 s (born at the midpoint, 0.5 s)...
        c.observe(&at(
            1000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established),
        ));
        assert_eq!(c.lifetime(&key()), None, "none closed yet");
        // ...gone by 11 s (closed at the midpoint, 6 s): 5.5 s each.
        c.observe(&at(11_000, Vec::new()));
        assert_eq!(c.lifetime(&key()), Some(5.5));
        // Opened and closed between two snapshots: half the interval.
        let mut c = Churn::default();
        c.observe(&at(0, Vec::new()));
        c.observe(&at(
            2000,
            many("10.0.0.2", "10.0.0.5:443", 40000, 4, TimeWait),
        ));
        assert_eq!(c.lifetime(&key()), Some(1.0));
    }

    #[test]
    fn projection_serializes_with_a_kind_tag() {
        let j = serde_json::to_value(Projection::Exhausts { secs: 40.0 }).unwrap();
        assert_eq!(j["kind"], "exhausts");
        assert_eq!(j["secs"], 40.0);
    }
}
