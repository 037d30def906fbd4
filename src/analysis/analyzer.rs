//! One place that turns a stream of snapshots into their analysis: the churn
//! history (rates need consecutive snapshots), pool pressure with projections, and
//! collisions with the malware lookup. The dashboard, `serve` and `pool` all use it.

use super::collisions::{self, Collision};
use super::pool::{self, Churn, Hysteresis, PoolReport, Thresholds};
use crate::model::Snapshot;

/// What the analysis says about one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub report: PoolReport,
    pub collisions: Vec<Collision>,
    /// The kernel's failure counters that rose since the previous snapshot:
    /// (kernel name, increase). ActiveOpens is not a failure and not listed.
    pub kernel_moves: Vec<(&'static str, u64)>,
    /// The pool's use (the level's fraction) at the last snapshots, oldest first:
    /// at most [`HISTORY_LEN`].
    pub history: Vec<f64>,
    /// The same for each destination with a projection (its fraction of the
    /// pool; 0 at the snapshots where it had no socket).
    pub dest_history: std::collections::HashMap<pool::DestKey, Vec<f64>>,
    /// Each network namespace's pool (when the snapshot names namespaces), the
    /// worst first; `report` is the first one's.
    pub netns: Vec<NetnsPool>,
}

/// One network namespace's pool, analysed against its own range.
#[derive(Clone, Debug, PartialEq)]
pub struct NetnsPool {
    /// Its inode (0 where unknown).
    pub inode: u64,
    pub name: String,
    /// Its container's name or short id.
    pub container: Option<String>,
    pub sockets: usize,
    pub report: PoolReport,
}

/// How many snapshots of pool use the history keeps: ten minutes at the
/// dashboard's default interval of a second.
pub const HISTORY_LEN: usize = 600;

/// Keeps what needs history (the churn rates) across snapshots.
pub struct Analyzer {
    churn: Churn,
    thresholds: Thresholds,
    /// Destinations that get a projection.
    top: usize,
    /// The levels of the last analysis: levels clear lower than they raise.
    levels: Hysteresis,
    last_counters: Option<crate::model::KernelCounters>,
    history: std::collections::VecDeque<f64>,
    dest_history: std::collections::HashMap<pool::DestKey, std::collections::VecDeque<f64>>,
    /// One analyzer per other network namespace, by inode; a namespace that
    /// is gone is forgotten.
    others: std::collections::HashMap<u64, Analyzer>,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::new(Thresholds::default(), 0)
    }
}

impl Analyzer {
    pub fn new(thresholds: Thresholds, top: usize) -> Self {
        Analyzer {
            churn: Churn::default(),
            thresholds,
            top,
            levels: Hysteresis::default(),
            last_counters: None,
            history: Default::default(),
            dest_history: Default::default(),
            others: Default::default(),
        }
    }

    /// Feeds a snapshot to the churn history without analysing it.
    pub fn observe(&mut self, snap: &Snapshot) {
        if !snap.multi_netns() {
            return self.observe_one(snap);
        }
        let parts = snap.split_netns();
        self.others
            .retain(|k, _| parts.iter().any(|(ino, _)| ino == k));
        for (ino, part) in parts {
            self.sub(ino).observe_one(&part);
        }
    }

    fn observe_one(&mut self, snap: &Snapshot) {
        self.churn.observe(snap);
        self.last_counters = snap.counters;
    }

    /// The analyzer of namespace `ino` (0: this one).
    fn sub(&mut self, ino: u64) -> &mut Analyzer {
        if ino == 0 {
            return self;
        }
        let (t, top) = (self.thresholds, self.top);
        self.others
            .entry(ino)
            .or_insert_with(|| Analyzer::new(t, top))
    }

    /// One more sample of every projected destination's use; a destination that
    /// is no longer projected is forgotten (the history is bounded by `top`).
    fn record_destinations(&mut self, report: &PoolReport) {
        let now: std::collections::HashMap<pool::DestKey, f64> = report
            .projections
            .iter()
            .map(|p| {
                let f = report
                    .destinations
                    .iter()
                    .find(|d| d.key == p.dest)
                    .map_or(0.0, |d| d.fraction);
                (p.dest, f)
            })
            .collect();
        self.dest_history.retain(|k, _| now.contains_key(k));
        for (k, f) in now {
            let h = self.dest_history.entry(k).or_default();
            if h.len() == HISTORY_LEN {
                h.pop_front();
            }
            h.push_back(f);
        }
    }

    /// Observes the snapshot and analyses it: each network namespace against its
    /// own range, with its own history; the level is the worst of them, and the
    /// report the worst one's, naming it.
    pub fn analyze(&mut self, snap: &Snapshot) -> Analysis {
        if !snap.multi_netns() {
            let mut an = self.analyze_one(snap);
            if let Some(n) = snap.netns_info(0) {
                an.netns = vec![pool_of(n, snap.sockets.len(), &an.report)];
            }
            return an;
        }
        let parts = snap.split_netns();
        self.others
            .retain(|k, _| parts.iter().any(|(ino, _)| ino == k));
        let mut all: Vec<(Analysis, NetnsPool)> = Vec::with_capacity(parts.len());
        for (ino, part) in &parts {
            let mut an = self.sub(*ino).analyze_one(part);
            // The part's sockets are its own (netns 0): say which one it is.
            for c in &mut an.collisions {
                c.netns = *ino;
            }
            let info = snap.netns_info(*ino);
            let name = snap.netns_name(*ino).to_string();
            an.report.netns = Some(name.clone());
            let mut p = NetnsPool {
                inode: info.map_or(0, |n| n.inode),
                name,
                container: None,
                sockets: part.sockets.len(),
                report: an.report.clone(),
            };
            if let Some(n) = info {
                p.container = n.container.as_ref().map(|c| c.label().to_string());
            }
            all.push((an, p));
        }
        // Worst first: by level, then by how full; ties keep the own one first.
        all.sort_by(|a, b| {
            (b.1.report.level, b.1.report.fraction)
                .partial_cmp(&(a.1.report.level, a.1.report.fraction))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let pools: Vec<NetnsPool> = all.iter().map(|(_, p)| p.clone()).collect();
        let mut collisions = Vec::new();
        let mut kernel_moves = Vec::new();
        for (an, _) in all.iter_mut() {
            collisions.append(&mut an.collisions);
            kernel_moves.append(&mut an.kernel_moves);
        }
        let (mut worst, _) = all.swap_remove(0);
        worst.collisions = collisions;
        worst.kernel_moves = kernel_moves;
        worst.netns = pools;
        worst
    }

    fn analyze_one(&mut self, snap: &Snapshot) -> Analysis {
        self.churn.observe(snap);
        let report =
            pool::analyze_with_churn(snap, self.thresholds, &self.churn, self.top, self.levels);
        self.levels = report.levels;
        let kernel_moves = match (&self.last_counters, &snap.counters) {
            (Some(a), Some(b)) => a
                .named()
                .iter()
                .zip(b.named())
                .filter(|((n, _), _)| *n != "ActiveOpens")
                .filter_map(|((n, x), (_, y))| {
                    y.checked_sub(*x).filter(|d| *d > 0).map(|d| (*n, d))
                })
                .collect(),
            _ => Vec::new(),
        };
        self.last_counters = snap.counters;
        if self.history.len() == HISTORY_LEN {
            self.history.pop_front();
        }
        self.history.push_back(report.fraction);
        self.record_destinations(&report);
        Analysis {
            collisions: collisions::find_with(snap, &super::malware_lookup),
            kernel_moves,
            history: self.history.iter().copied().collect(),
            dest_history: self
                .dest_history
                .iter()
                .map(|(k, v)| (*k, v.iter().copied().collect()))
                .collect(),
            report,
            netns: Vec::new(),
        }
    }
}

fn pool_of(n: &crate::model::Netns, sockets: usize, report: &PoolReport) -> NetnsPool {
    NetnsPool {
        inode: n.inode,
        name: n.name.clone(),
        container: n.container.as_ref().map(|c| c.label().to_string()),
        sockets,
        report: report.clone(),
    }
}
