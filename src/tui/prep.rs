//! Turning a snapshot into what the dashboard shows — rows merged with the
//! previous ones, the current view filtered and sorted, state counts — off the UI
//! thread. The collector runs a `Preparer` after each refresh and hands the UI a
//! `Prepared`, which `App` installs with a few pointer swaps; only when the user
//! changed view, sort or filter in the meantime does the UI recompute the view
//! (`listing`) itself. At 40,000 sockets a merge and sort cost tens of
//! milliseconds: done on the UI thread they delayed keys (issue #6).

use super::alerts::Alerts;
use super::app::View;
use super::rows::{self, Col, Counts, DestCol, DestGroup, Mark, ProcCol, ProcGroup, Row};
use crate::filter::Filter;
use crate::model::Snapshot;
use std::sync::{Arc, Mutex};

/// What decides the table's content and order (everything but the selection).
#[derive(Clone, Debug, PartialEq)]
pub struct ViewSpec {
    pub view: View,
    pub sort: Col,
    pub desc: bool,
    /// The Ephemeral view's sort (busiest first by default).
    pub dest_sort: (DestCol, bool),
    /// The Processes view's sort (most sockets first by default).
    pub proc_sort: (ProcCol, bool),
    pub filter: Filter,
}

/// The view spec the UI shows now, with a version that grows on every change;
/// written by the UI, read by the collector before each preparation.
pub type SharedSpec = Arc<Mutex<(u64, ViewSpec)>>;

/// The current view's entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Listing {
    /// Socket views: indices into the rows, filtered and sorted.
    Sockets(Vec<usize>),
    Dests(Vec<DestGroup>),
    Procs(Vec<ProcGroup>),
    Netns(Vec<super::netns::NsGroup>),
}

/// The entries of `spec`'s view over `rows`.
pub fn listing(rows: &[Row], snap: &Snapshot, spec: &ViewSpec, alerts: &Alerts) -> Listing {
    let report = alerts.report.as_ref();
    let filter = &spec.filter;
    let passing = rows.iter().filter(|r| filter.matches(snap, &r.sock));
    match spec.view {
        View::Ephemeral => {
            let d = rows::dest_groups(passing, snap.range.pool_size());
            let mut d = match report {
                Some(r) => DestGroup::with_projections(d, &r.projections),
                None => d,
            };
            rows::sort_dests(&mut d, spec.dest_sort.0, spec.dest_sort.1);
            Listing::Dests(d)
        }
        View::Namespaces => Listing::Netns(super::netns::ns_groups(passing, snap, &alerts.netns)),
        View::Processes => {
            let mut p = rows::proc_groups(passing);
            rows::sort_procs(&mut p, spec.proc_sort.0, spec.proc_sort.1);
            Listing::Procs(p)
        }
        view => {
            let mut v: Vec<usize> = rows
                .iter()
                .enumerate()
                .filter(|(_, r)| view.shows(r) && filter.matches(snap, &r.sock))
                .map(|(i, _)| i)
                .collect();
            v.sort_unstable_by(|a, b| rows::compare(&rows[*a], &rows[*b], spec.sort));
            if spec.desc {
                v.reverse();
            }
            Listing::Sockets(v)
        }
    }
}

/// One refresh, ready to show.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The snapshot without its sockets (they moved into `rows`).
    pub snap: Arc<Snapshot>,
    pub alerts: Alerts,
    pub rows: Arc<Vec<Row>>,
    /// Sockets by state in the snapshot.
    pub counts: Counts,
    /// Rows with a change mark.
    pub marked: usize,
    /// The spec version `listing` was computed for.
    pub version: u64,
    pub listing: Listing,
}

/// The same preparation (the same rows, for the same spec version): rows are
/// compared by identity, not cell by cell.
impl PartialEq for Prepared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.rows, &other.rows) && self.version == other.version
    }
}

/// Keeps the rows between refreshes (ids, marks, closed rows).
pub struct Preparer {
    rows: Arc<Vec<Row>>,
    next_id: u64,
    keep_closed: u32,
    first: bool,
}

impl Preparer {
    pub fn new(keep_closed: u32) -> Self {
        Preparer {
            rows: Arc::new(Vec::new()),
            next_id: 0,
            keep_closed,
            first: true,
        }
    }

    /// Merges `snap` into the rows and lists them for `spec` (at `version`).
    pub fn prepare(
        &mut self,
        mut snap: Snapshot,
        alerts: Alerts,
        spec: &ViewSpec,
        version: u64,
    ) -> Prepared {
        let sockets = std::mem::take(&mut snap.sockets);
        let counts = rows::count_states(&sockets);
        let mut rows = rows::merge(
            &self.rows,
            sockets,
            &snap,
            self.first,
            self.keep_closed,
            &mut self.next_id,
        );
        self.first = false;
        for r in rows.iter_mut() {
            r.flagged = alerts.flagged(r.sock.proto, r.sock.local.port);
        }
        let marked = rows.iter().filter(|r| r.mark != Mark::None).count();
        let listing = listing(&rows, &snap, spec, &alerts);
        self.rows = Arc::new(rows);
        Prepared {
            snap: Arc::new(snap),
            alerts,
            rows: Arc::clone(&self.rows),
            counts,
            marked,
            version,
            listing,
        }
    }
}
