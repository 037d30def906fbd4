//! The dashboard's analysis state: pool pressure with its churn history and the
//! collisions, recomputed (pure functions) for every snapshot the UI receives.

use crate::analysis::collisions::{self, Collision, CollisionKind};
use crate::analysis::pool::{self, Churn, Level, PoolReport, Projection, Thresholds};
use crate::model::{Proto, Snapshot};
use std::collections::HashSet;

/// How many destinations get a projection.
const TOP: usize = 3;

#[derive(Default)]
pub struct Alerts {
    churn: Churn,
    pub thresholds: Thresholds,
    pub report: Option<PoolReport>,
    pub collisions: Vec<Collision>,
    /// (proto, port) of listeners in a shared-port or malware-port collision.
    flagged: HashSet<(Proto, u16)>,
}

impl Alerts {
    pub fn new(thresholds: Thresholds) -> Self {
        Alerts {
            thresholds,
            ..Alerts::default()
        }
    }

    pub fn observe(&mut self, snap: &Snapshot) {
        self.churn.observe(snap);
        self.report = Some(pool::analyze_with_churn(
            snap,
            self.thresholds,
            &self.churn,
            TOP,
        ));
        self.collisions = collisions::find_with(snap, &crate::analysis::malware_lookup);
        self.flagged = self
            .collisions
            .iter()
            .filter(|c| {
                c.kind != CollisionKind::ListenerInEphemeralRange && !c.probably_intentional
            })
            .map(|c| (c.proto, c.port))
            .collect();
    }

    /// A listener on this port is part of a shared-port or malware-port collision.
    pub fn flagged(&self, proto: Proto, port: u16) -> bool {
        self.flagged.contains(&(proto, port))
    }

    pub fn level(&self) -> Level {
        self.report.as_ref().map_or(Level::Ok, |r| r.level)
    }

    /// The warning line: what is under pressure and where it is heading, short
    /// enough for 80 columns. None while the level is ok.
    pub fn warning(&self) -> Option<String> {
        let r = self.report.as_ref()?;
        if r.level == Level::Ok {
            return None;
        }
        let what = match &r.driver {
            pool::Driver::Destination(k) => format!("toward {}", k.remote),
            pool::Driver::Global { proto } => format!("of the global {proto} pool"),
            pool::Driver::EmptyPool => "the range has no usable port".to_string(),
        };
        let level = if r.level == Level::Critical {
            "CRITICAL"
        } else {
            "WARNING"
        };
        let mut s = format!("{level} {:.1}% {what}", r.fraction * 100.0);
        match self.projection_of_worst().map(|p| &p.projection) {
            Some(Projection::Exhausts { secs }) if *secs <= 0.0 => s.push_str(": no port left"),
            Some(Projection::Exhausts { secs }) if *secs < 1.0 => {
                s.push_str(": at this rate out of ports within a second")
            }
            Some(Projection::Exhausts { secs }) => {
                s.push_str(&format!(": at this rate out of ports in ~{secs:.0} s"))
            }
            Some(Projection::Steady { expected, pool }) => {
                s.push_str(&format!(": at this rate settles at {expected}/{pool}"))
            }
            _ => {}
        }
        Some(s)
    }

    /// The projection of the busiest destination, if any.
    pub fn projection_of_worst(&self) -> Option<&pool::DestProjection> {
        self.report.as_ref()?.projections.first()
    }
}
