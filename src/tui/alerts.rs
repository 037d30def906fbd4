//! The dashboard's view of the analysis: the feed's `analysis::Analyzer` (the
//! one place with history) analyses every snapshot on the feed's thread; its
//! `Analysis` becomes `Alerts` (pool pressure, projection, collisions, and the
//! listeners the table marks).

use crate::analysis::collisions::{Collision, CollisionKind};
use crate::analysis::pool::{self, Level, PoolReport, Projection};
use crate::model::Proto;
use std::collections::HashSet;

/// How many destinations get a projection (the Ephemeral view shows their rate
/// and time to exhaustion; the most urgent are chosen).
pub const TOP: usize = 50;

impl From<crate::analysis::Analysis> for Alerts {
    fn from(a: crate::analysis::Analysis) -> Self {
        let crate::analysis::Analysis {
            report,
            collisions,
            kernel_moves,
            history,
            dest_history,
            netns,
        } = a;
        let flagged = collisions
            .iter()
            .filter(|c| {
                c.kind != CollisionKind::ListenerInEphemeralRange && !c.probably_intentional
            })
            .map(|c| (c.netns, c.proto, c.port))
            .collect();
        Alerts {
            report: Some(report),
            collisions,
            flagged,
            kernel_moves,
            history,
            dest_history,
            // (set from the snapshot by the preparer)
            full_queues: Vec::new(),
            netns,
        }
    }
}

/// What the analysis says about one snapshot.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Alerts {
    pub report: Option<PoolReport>,
    pub collisions: Vec<Collision>,
    /// (netns, proto, port) of listeners in a shared-port or malware-port collision.
    flagged: HashSet<(u64, Proto, u16)>,
    /// Kernel failure counters that rose since the last snapshot.
    pub kernel_moves: Vec<(&'static str, u64)>,
    /// Pool use at the last snapshots, oldest first (the header's sparkline).
    pub history: Vec<f64>,
    /// The same per projected destination (the details pane's sparkline).
    pub dest_history: std::collections::HashMap<pool::DestKey, Vec<f64>>,
    /// Listeners whose accept queue is full: `addr:port (name) waiting/backlog`.
    pub full_queues: Vec<String>,
    /// Each network namespace's pool, the worst first (the Namespaces view).
    pub netns: Vec<crate::analysis::NetnsPool>,
}

/// Listeners whose accept queue is over its backlog (the kernel drops new
/// connections to them), fullest first.
pub fn full_queues(snap: &crate::model::Snapshot) -> Vec<String> {
    let mut v: Vec<(u32, String)> = snap
        .sockets
        .iter()
        .filter_map(|s| {
            let c = crate::model::conn::full_accept_queue(s)?;
            let who = snap
                .owner(s)
                .map(|p| format!(" ({})", crate::output::safe(&p.name)))
                .unwrap_or_default();
            Some((
                c.rx_queue,
                format!("{}{who} {}/{}", s.local, c.rx_queue, c.tx_queue),
            ))
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, s)| s).collect()
}

impl Alerts {
    /// A listener on this port is part of a shared-port or malware-port collision.
    pub fn flagged(&self, netns: u64, proto: Proto, port: u16) -> bool {
        !self.flagged.is_empty() && self.flagged.contains(&(netns, proto, port))
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
        if let Some(ns) = &r.netns {
            s.push_str(&format!(" in netns {}", crate::output::safe(ns)));
        }
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
    /// The destination the warning names (the part a narrow header shortens).
    pub fn warning_subject(&self) -> Option<String> {
        match &self.report.as_ref()?.driver {
            pool::Driver::Destination(k) => Some(k.remote.to_string()),
            _ => None,
        }
    }

    /// `accept queue full: 127.0.0.1:8080 (nginx) 129/128 (+2 more)`.
    pub fn queue_warning(&self) -> Option<String> {
        let first = self.full_queues.first()?;
        let more = match self.full_queues.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        Some(format!("accept queue full: {first}{more}"))
    }

    pub fn projection_of_worst(&self) -> Option<&pool::DestProjection> {
        self.report.as_ref()?.projections.first()
    }
}
