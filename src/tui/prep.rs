//! Turning a snapshot into what the dashboard shows — rows merged with the
//! previous ones, the current view filtered and sorted, state counts — off the UI
//! thread. The collector runs a `Preparer` after each refresh and hands the UI a
//! `Prepared`, which `App` installs with a few pointer swaps; only when the user
//! changed view, sort or filter in the meantime does the UI recompute the view
//! (`listing`) itself. At 40,000 sockets a merge and sort cost tens of
//! milliseconds: done on the UI thread they delayed keys (issue #6).

use super::alerts::Alerts;
use super::rows::{self, Col, Counts, DestCol, DestGroup, Mark, ProcCol, ProcGroup, Row};
use crate::filter::Filter;
use crate::model::{Snapshot, SockState};
use std::sync::Arc;

/// The views (Tab / 1-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    All,
    Listening,
    Established,
    Ephemeral,
    Processes,
    Namespaces,
}

impl View {
    pub const ALL: [View; 6] = [
        View::All,
        View::Listening,
        View::Established,
        View::Ephemeral,
        View::Processes,
        View::Namespaces,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::All => "All",
            View::Listening => "Listening",
            View::Established => "Established",
            View::Ephemeral => "Ephemeral",
            View::Processes => "Processes",
            View::Namespaces => "Namespaces",
        }
    }

    pub(crate) fn shows(self, r: &Row) -> bool {
        match self {
            View::Listening => r.sock.is_listener(),
            View::Established => r.sock.state == SockState::Established,
            _ => true,
        }
    }

    pub fn grouped(self) -> bool {
        matches!(self, View::Ephemeral | View::Processes | View::Namespaces)
    }

    /// The view `step` places away along the tabs (wrapping).
    pub(crate) fn step(self, step: isize) -> View {
        let n = View::ALL.len() as isize;
        let i = View::ALL.iter().position(|v| *v == self).unwrap_or(0) as isize;
        View::ALL[(i + step).rem_euclid(n) as usize]
    }
}

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

impl ViewSpec {
    pub fn new(view: View, filter: Filter) -> Self {
        ViewSpec {
            view,
            sort: Col::Proto,
            desc: false,
            // Urgency: the destination that runs out soonest first.
            dest_sort: (DestCol::RunsOut, false),
            proc_sort: (ProcCol::Sockets, true),
            filter,
        }
    }
}

/// The view spec the UI shows now, with a version that grows on every change;
/// written by the UI, read by the feed's preparation before each refresh.
pub type SharedSpec = crate::feed::Latest<(u64, ViewSpec)>;

/// The current view's entries.
#[derive(Clone, Debug, PartialEq)]
pub enum Listing {
    /// Socket views: indices into the rows, filtered and sorted.
    Sockets(Vec<usize>),
    Dests(Vec<DestGroup>),
    Procs(Vec<ProcGroup>),
    Netns(Vec<super::netns::NsGroup>),
}

impl Default for Listing {
    fn default() -> Self {
        Listing::Sockets(Vec::new())
    }
}

impl Listing {
    pub fn len(&self) -> usize {
        match self {
            Listing::Sockets(v) => v.len(),
            Listing::Dests(d) => d.len(),
            Listing::Procs(p) => p.len(),
            Listing::Netns(n) => n.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Indices into the rows (empty in a grouped view).
    pub fn sockets(&self) -> &[usize] {
        match self {
            Listing::Sockets(v) => v,
            _ => &[],
        }
    }

    pub fn dests(&self) -> &[DestGroup] {
        match self {
            Listing::Dests(d) => d,
            _ => &[],
        }
    }

    pub fn procs(&self) -> &[ProcGroup] {
        match self {
            Listing::Procs(p) => p,
            _ => &[],
        }
    }

    pub fn namespaces(&self) -> &[super::netns::NsGroup] {
        match self {
            Listing::Netns(n) => n,
            _ => &[],
        }
    }
}

/// The entries of `spec`'s view over `rows`.
pub fn listing(rows: &[Row], snap: &Snapshot, spec: &ViewSpec, alerts: &Alerts) -> Listing {
    listing_hinted(rows, snap, spec, alerts, None)
}

/// [`listing`], where `hint` (one per row) is each row's place in the last
/// refresh's ascending order of the same sort column (`u32::MAX`: new): the
/// rows start out in that order and the stable sort, which finds sorted runs,
/// then only places what moved. Without churn a sort of 50,000 rows cost 16 ms
/// a refresh; the order comes out the same with or without a hint.
pub fn listing_hinted(
    rows: &[Row],
    snap: &Snapshot,
    spec: &ViewSpec,
    alerts: &Alerts,
    hint: Option<&[u32]>,
) -> Listing {
    let report = alerts.report.as_ref();
    let filter = &spec.filter;
    let passing = rows.iter().filter(|r| filter.matches(snap, &r.sock));
    match spec.view {
        View::Ephemeral => {
            let live = rows.iter().filter(|r| r.mark != Mark::Closed);
            let view = crate::model::PoolView::of(&snap.range, live.map(|r| &r.sock));
            let d = rows::dest_groups(passing, &view);
            let mut d = match report {
                Some(r) => DestGroup::with_analysis(d, r),
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
            match hint.filter(|h| h.len() == rows.len()) {
                Some(rank) => {
                    let n = rank
                        .iter()
                        .filter(|r| **r != u32::MAX)
                        .max()
                        .map_or(0, |m| *m as usize + 1);
                    let mut slots = vec![usize::MAX; n];
                    let mut tail = Vec::new();
                    for i in v.drain(..) {
                        match slots.get_mut(rank[i] as usize) {
                            Some(x) => *x = i,
                            None => tail.push(i),
                        }
                    }
                    v.extend(slots.into_iter().filter(|i| *i != usize::MAX));
                    v.extend(tail);
                    v.sort_by(|a, b| rows::compare(&rows[*a], &rows[*b], spec.sort));
                }
                None => v.sort_unstable_by(|a, b| rows::compare(&rows[*a], &rows[*b], spec.sort)),
            }
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
    /// porttop runs as root (the feed says; it explains sockets without a
    /// process).
    pub root: bool,
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
    /// How long the refresh took, its preparation included (set by `Prep`):
    /// when it is over half the interval the feed waits twice this long
    /// (`Feed::due_after`), and the header says so.
    pub took: std::time::Duration,
}

/// Keeps the rows between refreshes (ids, marks, closed rows).
pub struct Preparer {
    rows: Arc<Vec<Row>>,
    next_id: u64,
    keep_closed: u32,
    first: bool,
    root: bool,
    /// The last socket listing made here (sort column, descending, indices
    /// into `rows`): the next sort's starting order.
    last: Option<(Col, bool, Vec<usize>)>,
}

impl Preparer {
    /// Each new row's place in the last listing's ascending order, when it was
    /// sorted by the same column (`from`: the old row each new one continues).
    fn hint(&self, spec: &ViewSpec, from: &[u32]) -> Option<Vec<u32>> {
        let (col, desc, v) = self.last.as_ref()?;
        if *col != spec.sort || spec.view.grouped() {
            return None;
        }
        let mut old = vec![u32::MAX; self.rows.len()];
        let n = v.len();
        for (pos, i) in v.iter().enumerate() {
            if let Some(x) = old.get_mut(*i) {
                *x = if *desc { n - 1 - pos } else { pos } as u32;
            }
        }
        Some(
            from.iter()
                .map(|f| old.get(*f as usize).copied().unwrap_or(u32::MAX))
                .collect(),
        )
    }

    pub fn new(keep_closed: u32, root: bool) -> Self {
        Preparer {
            rows: Arc::new(Vec::new()),
            next_id: 0,
            keep_closed,
            first: true,
            root,
            last: None,
        }
    }

    /// Merges `snap` into the rows and lists them for `spec` (at `version`).
    pub fn prepare(
        &mut self,
        mut snap: Snapshot,
        mut alerts: Alerts,
        spec: &ViewSpec,
        version: u64,
    ) -> Prepared {
        alerts.full_queues = super::alerts::full_queues(&snap);
        let sockets = std::mem::take(&mut snap.sockets);
        let counts = rows::count_states(&sockets);
        let (mut rows, from) = rows::merge_traced(
            &self.rows,
            sockets,
            &snap,
            self.first,
            self.keep_closed,
            &mut self.next_id,
        );
        self.first = false;
        for r in rows.iter_mut() {
            r.flagged = alerts.flagged(r.sock.netns, r.sock.proto, r.sock.local.port);
        }
        let marked = rows.iter().filter(|r| r.mark != Mark::None).count();
        let hint = self.hint(spec, &from);
        let listing = listing_hinted(&rows, &snap, spec, &alerts, hint.as_deref());
        self.last = match &listing {
            Listing::Sockets(v) => Some((spec.sort, spec.desc, v.clone())),
            _ => None,
        };
        self.rows = Arc::new(rows);
        Prepared {
            root: self.root,
            snap: Arc::new(snap),
            alerts,
            rows: Arc::clone(&self.rows),
            counts,
            marked,
            version,
            listing,
            took: std::time::Duration::ZERO,
        }
    }
}

/// The dashboard's consumer of the feed, on the feed's thread: analysis into
/// alerts, rows merged, the view listed for the spec the UI shares; the result
/// waits in `out` (the latest wins) and `wake` tells the UI (false: the UI is
/// gone, the feed ends).
pub struct Prep {
    pub preparer: Preparer,
    pub spec: SharedSpec,
    pub out: crate::feed::Latest<Result<Box<Prepared>, String>>,
    pub wake: Box<dyn Fn() -> bool + Send>,
}

impl crate::feed::Consumer for Prep {
    fn refresh(
        &mut self,
        r: Result<crate::feed::Frame, crate::feed::SourceError>,
        started: std::time::Instant,
    ) -> crate::feed::Flow {
        let r = r.map_err(|e| e.to_string()).map(|f| {
            let alerts = f.analysis.map(Alerts::from).unwrap_or_default();
            let (version, spec) = self
                .spec
                .get()
                .unwrap_or_else(|| (0, ViewSpec::new(View::All, Filter::default())));
            let mut p = self.preparer.prepare(f.snap, alerts, &spec, version);
            p.took = started.elapsed();
            Box::new(p)
        });
        // Only one wake-up is ever pending: the cell holds the latest.
        if self.out.put(r) && !(self.wake)() {
            return crate::feed::Flow::Stop;
        }
        crate::feed::Flow::Go
    }

    /// The UI has not installed the last refresh yet: the next waits for it.
    fn pending(&self) -> bool {
        self.out.is_set()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{Consumer, Frame, Latest};
    use std::time::{Duration, Instant};

    #[test]
    fn a_prepared_refresh_says_how_long_the_refresh_took() {
        let out = Latest::default();
        let mut prep = Prep {
            preparer: Preparer::new(2, false),
            spec: SharedSpec::default(),
            out: out.clone(),
            wake: Box::new(|| true),
        };
        let snap = crate::testkit::dashboard::snap(Vec::new(), 1_000);
        // A refresh that started 3 s ago (a slow dump at 500,000 sockets).
        let started = Instant::now() - Duration::from_secs(3);
        let frame = Frame {
            snap,
            analysis: None,
        };
        prep.refresh(Ok(frame), started);
        let p = out.take().expect("prepared").expect("no error");
        assert!(p.took >= Duration::from_secs(3), "{:?}", p.took);
    }
}
