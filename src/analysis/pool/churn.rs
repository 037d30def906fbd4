//! Churn: how fast new outbound sockets appear per destination, and where that leads.
//!
//! A pure state machine fed with snapshots; time is `taken_at_ms`, never the clock.
//! A socket is new when its `SocketKey` was not in the previous snapshot, except an
//! orphan (inode 0: TIME-WAIT, FIN-WAIT-2) whose (proto, local, remote) was there:
//! that is the same connection after close, and counting it would count every
//! connection twice.

use super::{DestKey, DestUsage, PoolReport};
use crate::analysis::diff::{tuple, Tuple};
use crate::model::{Snapshot, SocketKey};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;

/// How long a TIME-WAIT socket holds its port on Linux (TCP_TIMEWAIT_LEN).
pub const TIME_WAIT_SECS: f64 = 60.0;
/// Default sliding window for the rate.
pub const DEFAULT_WINDOW_MS: u64 = 10_000;

/// New sockets per destination between two consecutive snapshots.
#[derive(Debug)]
struct Interval {
    start_ms: u64,
    end_ms: u64,
    new: Vec<(DestKey, u32)>,
}

#[derive(Debug)]
pub struct Churn {
    window_ms: u64,
    last_ms: Option<u64>,
    prev_keys: HashSet<SocketKey>,
    prev_tuples: HashSet<Tuple>,
    intervals: VecDeque<Interval>,
    totals: HashMap<DestKey, u64>,
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
            prev_keys: HashSet::new(),
            prev_tuples: HashSet::new(),
            intervals: VecDeque::new(),
            totals: HashMap::new(),
        }
    }

    /// Feeds the next snapshot. The first one (and one older than the last, as after
    /// a replay jumps back) is a baseline only; one with the same timestamp as the
    /// last is ignored.
    pub fn observe(&mut self, snap: &Snapshot) {
        let now = snap.taken_at_ms;
        match self.last_ms {
            Some(last) if now == last => return,
            Some(last) if now > last => {
                let mut counts: HashMap<DestKey, u32> = HashMap::new();
                for s in &snap.sockets {
                    let seen = self.prev_keys.contains(&s.key())
                        || (s.inode.unwrap_or(0) == 0 && self.prev_tuples.contains(&tuple(s)));
                    if seen {
                        continue;
                    }
                    if let Some(k) = DestKey::of(s, &snap.range) {
                        *counts.entry(k).or_default() += 1;
                    }
                }
                for (k, n) in &counts {
                    *self.totals.entry(*k).or_default() += u64::from(*n);
                }
                self.intervals.push_back(Interval {
                    start_ms: last,
                    end_ms: now,
                    new: counts.into_iter().collect(),
                });
                self.expire(now);
            }
            _ => {
                self.intervals.clear();
                self.totals.clear();
            }
        }
        self.last_ms = Some(now);
        self.prev_keys = snap.sockets.iter().map(|s| s.key()).collect();
        self.prev_tuples = snap.sockets.iter().map(tuple).collect();
    }

    /// Drops intervals that started before the window, keeping at least the latest.
    fn expire(&mut self, now: u64) {
        let from = now.saturating_sub(self.window_ms);
        while self.intervals.len() > 1 && self.intervals[0].start_ms < from {
            if let Some(old) = self.intervals.pop_front() {
                for (k, n) in old.new {
                    if let Some(t) = self.totals.get_mut(&k) {
                        *t -= u64::from(n);
                        if *t == 0 {
                            self.totals.remove(&k);
                        }
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

    /// Projection for one destination of a report with pool size `pool`.
    pub fn project(&self, d: &DestUsage, pool: u32) -> DestProjection {
        let rate = self.rate(&d.key);
        let projection = match rate {
            None => Projection::NoData,
            Some(r) => project(r, d.sockets, d.sockets - d.time_wait, pool),
        };
        DestProjection {
            dest: d.key,
            rate_per_sec: rate,
            projection,
        }
    }

    /// Projections for the `top` busiest destinations of `report`.
    pub fn projections(&self, report: &PoolReport, top: usize) -> Vec<DestProjection> {
        report
            .destinations
            .iter()
            .take(top)
            .map(|d| self.project(d, report.pool_size))
            .collect()
    }
}

/// Where a destination is heading at its current rate of new sockets.
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

/// The arithmetic: steady state ≈ rate × TIME-WAIT lifetime + sockets not in
/// TIME-WAIT (they hold their port for as long as they live). If that reaches the
/// pool, time to exhaustion ≈ (pool − current) / rate, where current counts every
/// socket of the destination, TIME-WAIT included.
pub fn project(rate_per_sec: f64, current: u32, not_time_wait: u32, pool: u32) -> Projection {
    if current >= pool {
        return Projection::Exhausts { secs: 0.0 };
    }
    let rate = rate_per_sec.max(0.0);
    let steady = rate * TIME_WAIT_SECS + f64::from(not_time_wait);
    if steady >= f64::from(pool) && rate > 0.0 {
        Projection::Exhausts {
            secs: f64::from(pool - current) / rate,
        }
    } else {
        Projection::Steady {
            expected: steady.round() as u32,
            pool,
        }
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
                super::fraction(expected, pool) * 100.0
            ),
            Projection::NoData => format!("{subject}: not enough data for a projection yet"),
        }
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
    use crate::analysis::testutil::*;
    use crate::model::SockState::*;
    use crate::model::Socket;

    fn at(ms: u64, sockets: Vec<Socket>) -> Snapshot {
        snap(ms, range100(), sockets)
    }

    fn key() -> DestKey {
        let s = tcp("10.0.0.2:40000", "10.0.0.5:443", Established);
        DestKey::of(&s, &range100()).unwrap()
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

    #[test]
    fn projection_exhausts_when_steady_state_reaches_the_pool() {
        // steady = 20 * 60 + 100 = 1300 >= 1000; (1000 - 200) / 20 = 40 s.
        let p = project(20.0, 200, 100, 1000);
        assert_eq!(p, Projection::Exhausts { secs: 40.0 });
        assert_eq!(p.to_string(), "at this rate, the pool runs out in ~40 s");
    }

    #[test]
    fn projection_is_steady_below_the_pool() {
        // steady = 10 * 60 + 100 = 700 < 1000.
        let p = project(10.0, 200, 100, 1000);
        assert_eq!(
            p,
            Projection::Steady {
                expected: 700,
                pool: 1000
            }
        );
        assert_eq!(
            p.sentence("10.0.0.5:443"),
            "at this rate, 10.0.0.5:443 will not run out: steady state ≈ 700 of 1000 ports (70.0 %)"
        );
    }

    #[test]
    fn projection_at_zero_rate_is_the_current_live_sockets() {
        assert_eq!(
            project(0.0, 900, 300, 1000),
            Projection::Steady {
                expected: 300,
                pool: 1000
            }
        );
    }

    #[test]
    fn projection_of_a_full_or_empty_pool_is_exhausted_now() {
        assert_eq!(
            project(1.0, 1000, 0, 1000),
            Projection::Exhausts { secs: 0.0 }
        );
        assert_eq!(project(0.0, 0, 0, 0), Projection::Exhausts { secs: 0.0 });
        assert!(project(1.0, 1000, 0, 1000)
            .to_string()
            .contains("no free ephemeral port"));
    }

    #[test]
    fn long_times_to_exhaustion_read_in_minutes_and_hours() {
        // 1000 live sockets, 1/s more: (1000 - 0) / 1 s.
        assert!(project(1.0, 0, 1000, 1000).to_string().ends_with("~17 min"));
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
    fn projection_serializes_with_a_kind_tag() {
        let j = serde_json::to_value(Projection::Exhausts { secs: 40.0 }).unwrap();
        assert_eq!(j["kind"], "exhausts");
        assert_eq!(j["secs"], 40.0);
    }
}
