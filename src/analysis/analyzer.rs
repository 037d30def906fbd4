//! One place that turns a stream of snapshots into their analysis: the churn
//! history (rates need consecutive snapshots), pool pressure with projections, and
//! collisions with the malware lookup. The dashboard, `serve` and `pool` all use it.

use super::collisions::{self, Collision};
use super::pool::{self, Churn, Level, PoolReport, Thresholds};
use crate::model::Snapshot;

/// What the analysis says about one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub report: PoolReport,
    pub collisions: Vec<Collision>,
}

/// Keeps what needs history (the churn rates) across snapshots.
#[derive(Default)]
pub struct Analyzer {
    churn: Churn,
    thresholds: Thresholds,
    /// Destinations that get a projection.
    top: usize,
    /// The level of the last analysis: levels clear lower than they raise.
    level: Level,
}

impl Analyzer {
    pub fn new(thresholds: Thresholds, top: usize) -> Self {
        Analyzer {
            churn: Churn::default(),
            thresholds,
            top,
            level: Level::Ok,
        }
    }

    /// Feeds a snapshot to the churn history without analysing it.
    pub fn observe(&mut self, snap: &Snapshot) {
        self.churn.observe(snap);
    }

    /// Observes the snapshot and analyses it.
    pub fn analyze(&mut self, snap: &Snapshot) -> Analysis {
        self.churn.observe(snap);
        let report =
            pool::analyze_with_churn(snap, self.thresholds, &self.churn, self.top, self.level);
        self.level = report.level;
        Analysis {
            report,
            collisions: collisions::find_with(snap, &super::malware_lookup),
        }
    }
}
