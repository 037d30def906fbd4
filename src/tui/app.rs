//! Dashboard state and its one entry point, `App::apply(Action)`: pure (no I/O,
//! no terminal), so every behaviour is unit-tested. Side effects the runtime must
//! perform (kill, interval change, pause, quit) come back as an `Effect`.

use super::prep::{self, Listing, Prepared, Preparer, SharedSpec, ViewSpec};
use super::rows::{Col, DestGroup, ProcGroup, Row};
use crate::filter::Filter;
use crate::model::{Snapshot, SockState};
use std::sync::Arc;
use std::time::Duration;

/// The views (Tab / 1-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    All,
    Listening,
    Established,
    Ephemeral,
    Processes,
}

impl View {
    pub const ALL: [View; 5] = [
        View::All,
        View::Listening,
        View::Established,
        View::Ephemeral,
        View::Processes,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::All => "All",
            View::Listening => "Listening",
            View::Established => "Established",
            View::Ephemeral => "Ephemeral",
            View::Processes => "Processes",
        }
    }

    pub(crate) fn shows(self, r: &Row) -> bool {
        match self {
            View::Listening => matches!(r.sock.state, SockState::Listen | SockState::Unconn),
            View::Established => r.sock.state == SockState::Established,
            _ => true,
        }
    }

    pub fn grouped(self) -> bool {
        matches!(self, View::Ephemeral | View::Processes)
    }
}

/// What is on top of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The `/` prompt with its text being edited.
    Filter(String),
    Details,
    Help,
    Confirm {
        pid: u32,
        name: String,
    },
}

/// Everything that can happen to the dashboard.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    NextView,
    View(View),
    SortNext,
    SortReverse,
    TogglePause,
    Slower,
    Faster,
    OpenFilter,
    FilterInput(char),
    FilterBackspace,
    FilterSubmit,
    /// Esc in the prompt: cancel the edit, or clear the filter if nothing was typed.
    FilterCancel,
    /// Enter: details of the selected socket (or drill into a group).
    Open,
    Kill,
    ConfirmYes,
    ConfirmNo,
    Help,
    /// Esc outside the prompt: close the pane/dialog on top.
    Close,
    Quit,
    /// Rows of the table area (for paging and scrolling).
    Viewport(usize),
    Snapshot(Arc<Snapshot>),
    /// A snapshot analysed already.
    Analyzed(Arc<Snapshot>, Box<super::alerts::Alerts>),
    /// A snapshot analysed, merged and listed already (on the collector thread).
    Prepared(Box<Prepared>),
    SourceError(String),
    Status(String),
}

/// Side effects for the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    SetInterval(Duration),
    SetPaused(bool),
    Kill(u32),
    Quit,
}

pub use crate::model::MIN_INTERVAL;
const STEPS_MS: [u64; 8] = [250, 500, 1000, 2000, 3000, 5000, 10000, 30000];

pub struct App {
    pub snap: Option<Arc<Snapshot>>,
    /// Shared with the collector, which merges the next snapshot from them.
    pub rows: Arc<Vec<Row>>,
    pub view: View,
    /// The socket table's columns, in order (`--columns`, config `columns`).
    pub columns: Vec<Col>,
    pub sort: Col,
    pub desc: bool,
    pub filter: Filter,
    pub mode: Mode,
    /// Socket views: indices into `rows`, filtered and sorted.
    pub visible: Vec<usize>,
    pub dests: Vec<DestGroup>,
    pub procs: Vec<ProcGroup>,
    pub selected: usize,
    pub offset: usize,
    sel_id: Option<u64>,
    pub page: usize,
    pub paused: bool,
    pub interval: Duration,
    pub keep_closed: u32,
    pub replay: bool,
    pub status: Option<String>,
    pub error: Option<String>,
    pub quit: bool,
    /// Pool pressure and collisions of the latest snapshot.
    pub alerts: super::alerts::Alerts,
    /// Analyses bare `Action::Snapshot`s (`Action::Analyzed` brings its own).
    pub analyzer: super::alerts::Analyzer,
    /// Prepares bare and analysed snapshots given to `apply` (not `Prepared`).
    prep: Preparer,
    state_counts: (usize, usize, usize, usize),
    marked: usize,
    /// Grows whenever view, sort or filter change.
    spec_version: u64,
    /// Where the collector reads the spec (None: no collector).
    shared_spec: Option<SharedSpec>,
    /// Rows replaced by the last snapshot, for the runtime to free elsewhere.
    retired: Option<Arc<Vec<Row>>>,
}

impl App {
    pub fn new(filter: Filter, interval: Duration, keep_closed: u32, replay: bool) -> Self {
        App {
            snap: None,
            rows: Arc::new(Vec::new()),
            view: View::All,
            columns: Col::ALL.to_vec(),
            sort: Col::Proto,
            desc: false,
            filter,
            mode: Mode::Normal,
            visible: Vec::new(),
            dests: Vec::new(),
            procs: Vec::new(),
            selected: 0,
            offset: 0,
            sel_id: None,
            page: 20,
            paused: false,
            interval,
            keep_closed,
            replay,
            status: None,
            error: None,
            quit: false,
            alerts: Default::default(),
            analyzer: Default::default(),
            prep: Preparer::new(keep_closed),
            state_counts: (0, 0, 0, 0),
            marked: 0,
            spec_version: 0,
            shared_spec: None,
            retired: None,
        }
    }

    /// What decides the table's content now.
    pub fn spec(&self) -> ViewSpec {
        ViewSpec {
            view: self.view,
            sort: self.sort,
            desc: self.desc,
            filter: self.filter.clone(),
        }
    }

    /// The spec as the collector should see it, updated on every change.
    pub fn share_spec(&mut self) -> SharedSpec {
        let s = Arc::new(std::sync::Mutex::new((self.spec_version, self.spec())));
        self.shared_spec = Some(Arc::clone(&s));
        s
    }

    /// The rows the last snapshot replaced (the runtime frees them off the UI
    /// thread).
    pub fn take_retired(&mut self) -> Option<Arc<Vec<Row>>> {
        self.retired.take()
    }

    /// Number of rows in the current view.
    pub fn len(&self) -> usize {
        match self.view {
            View::Ephemeral => self.dests.len(),
            View::Processes => self.procs.len(),
            _ => self.visible.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selected socket row (socket views only).
    pub fn selected_row(&self) -> Option<&Row> {
        if self.view.grouped() {
            return None;
        }
        self.visible
            .get(self.selected)
            .and_then(|i| self.rows.get(*i))
    }

    fn id_at(&self, i: usize) -> Option<u64> {
        match self.view {
            View::Ephemeral => self.dests.get(i).map(|d| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (d.remote, d.local).hash(&mut h);
                h.finish()
            }),
            View::Processes => self.procs.get(i).map(|p| p.pid.map_or(u64::MAX, u64::from)),
            _ => self
                .visible
                .get(i)
                .and_then(|r| self.rows.get(*r))
                .map(|r| r.id),
        }
    }

    /// Recomputes the view's rows (filter, view, sort) and keeps the selection on
    /// the same row, at the same height on screen.
    fn rebuild(&mut self) {
        let empty = Snapshot {
            taken_at_ms: 0,
            host: String::new(),
            range: crate::model::PortRange::linux_default(),
            partial: false,
            sockets: Vec::new(),
            processes: Default::default(),
        };
        let snap: &Snapshot = self.snap.as_deref().unwrap_or(&empty);
        let l = prep::listing(&self.rows, snap, &self.spec());
        self.show(l);
    }

    /// The view, sort or filter changed: tell the collector, recompute here.
    fn spec_changed(&mut self) {
        self.spec_version += 1;
        if let Some(shared) = &self.shared_spec {
            if let Ok(mut g) = shared.lock() {
                *g = (self.spec_version, self.spec());
            }
        }
        self.rebuild();
    }

    /// Shows a listing, keeping the selection on the same row at the same height.
    fn show(&mut self, l: Listing) {
        let screen_line = self.selected.saturating_sub(self.offset);
        match l {
            Listing::Sockets(v) => self.visible = v,
            Listing::Dests(d) => self.dests = d,
            Listing::Procs(p) => self.procs = p,
        }
        let len = self.len();
        let found = self
            .sel_id
            .and_then(|id| (0..len).find(|i| self.id_at(*i) == Some(id)));
        self.selected = found.unwrap_or(self.selected).min(len.saturating_sub(1));
        self.offset = self.selected.saturating_sub(screen_line);
        self.clamp_offset();
        self.sel_id = self.id_at(self.selected);
    }

    /// Installs a prepared refresh: pointer swaps, plus a new listing only when
    /// the spec changed since the collector read it.
    fn install(&mut self, p: Prepared) {
        self.alerts = p.alerts;
        self.state_counts = p.counts;
        self.marked = p.marked;
        self.retired = Some(std::mem::replace(&mut self.rows, p.rows));
        self.snap = Some(p.snap);
        self.error = None;
        if p.version == self.spec_version {
            self.show(p.listing);
        } else {
            self.rebuild();
        }
    }

    fn clamp_offset(&mut self) {
        let page = self.page.max(1);
        if self.selected < self.offset {
            self.offset = self.selected;
        }
        if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        let max_off = self.len().saturating_sub(page);
        self.offset = self.offset.min(max_off);
    }

    fn select(&mut self, i: usize) {
        self.selected = i.min(self.len().saturating_sub(1));
        self.clamp_offset();
        self.sel_id = self.id_at(self.selected);
    }

    fn set_view(&mut self, v: View) {
        if v != self.view {
            self.view = v;
            self.selected = 0;
            self.offset = 0;
            self.sel_id = None;
            self.spec_changed();
        }
    }

    /// Applies one action; returns a side effect for the runtime, if any.
    pub fn apply(&mut self, a: Action) -> Option<Effect> {
        match a {
            Action::Up => self.select(self.selected.saturating_sub(1)),
            Action::Down => self.select(self.selected.saturating_add(1)),
            Action::PageUp => self.select(self.selected.saturating_sub(self.page.max(1))),
            Action::PageDown => self.select(self.selected.saturating_add(self.page.max(1))),
            Action::Home => self.select(0),
            Action::End => self.select(usize::MAX),
            Action::NextView => {
                let i = View::ALL.iter().position(|v| *v == self.view).unwrap_or(0);
                self.set_view(View::ALL[(i + 1) % View::ALL.len()]);
            }
            Action::View(v) => self.set_view(v),
            Action::SortNext => {
                self.sort = self.sort.next();
                self.spec_changed();
            }
            Action::SortReverse => {
                self.desc = !self.desc;
                self.spec_changed();
            }
            Action::TogglePause => {
                self.paused = !self.paused;
                return Some(Effect::SetPaused(self.paused));
            }
            Action::Slower | Action::Faster => {
                let ms = self.interval.as_millis() as u64;
                let next = if a == Action::Slower {
                    STEPS_MS.iter().copied().find(|s| *s > ms).unwrap_or(ms)
                } else {
                    STEPS_MS
                        .iter()
                        .rev()
                        .copied()
                        .find(|s| *s < ms)
                        .unwrap_or(ms)
                };
                self.interval = Duration::from_millis(next);
                return Some(Effect::SetInterval(self.interval));
            }
            Action::OpenFilter => {
                // Start from the active filter (plus a space), so typing refines it.
                let mut t = self.filter.to_string();
                if !t.is_empty() {
                    t.push(' ');
                }
                self.mode = Mode::Filter(t);
            }
            Action::FilterInput(c) => {
                if let Mode::Filter(t) = &mut self.mode {
                    t.push(c);
                }
            }
            Action::FilterBackspace => {
                if let Mode::Filter(t) = &mut self.mode {
                    t.pop();
                }
            }
            Action::FilterSubmit => {
                if let Mode::Filter(t) = &self.mode {
                    match Filter::parse(t) {
                        Ok(f) => {
                            self.filter = f;
                            self.mode = Mode::Normal;
                            self.status = None;
                            self.spec_changed();
                        }
                        Err(e) => self.status = Some(format!("filter: {e}")),
                    }
                }
            }
            Action::FilterCancel => {
                if let Mode::Filter(t) = &self.mode {
                    // Esc on an unchanged (or emptied) prompt clears the filter.
                    if t.trim().is_empty() || t.trim() == self.filter.to_string() {
                        self.filter = Filter::default();
                        self.spec_changed();
                    }
                }
                self.mode = Mode::Normal;
                self.status = None;
            }
            Action::Open => self.open(),
            Action::Kill => self.ask_kill(),
            Action::ConfirmYes => {
                if let Mode::Confirm { pid, .. } = self.mode {
                    self.mode = Mode::Normal;
                    return Some(Effect::Kill(pid));
                }
            }
            Action::ConfirmNo => {
                if matches!(self.mode, Mode::Confirm { .. }) {
                    self.mode = Mode::Normal;
                    self.status = Some("not killed".into());
                }
            }
            Action::Help => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                }
            }
            Action::Close => {
                if self.mode == Mode::Normal {
                    self.quit = true;
                    return Some(Effect::Quit);
                }
                self.mode = Mode::Normal;
            }
            Action::Quit => {
                self.quit = true;
                return Some(Effect::Quit);
            }
            Action::Viewport(n) => {
                self.page = n.max(1);
                self.clamp_offset();
            }
            Action::Snapshot(s) => {
                let alerts = Box::new(self.analyzer.analyze(&s));
                return self.apply(Action::Analyzed(s, alerts));
            }
            Action::Analyzed(s, alerts) => {
                if self.paused {
                    return None;
                }
                let snap = Arc::try_unwrap(s).unwrap_or_else(|shared| (*shared).clone());
                let p = self
                    .prep
                    .prepare(snap, *alerts, &self.spec(), self.spec_version);
                self.install(p);
            }
            Action::Prepared(p) => {
                if !self.paused {
                    self.install(*p);
                }
            }
            Action::SourceError(e) => self.error = Some(e),
            Action::Status(m) => self.status = Some(m),
        }
        None
    }

    fn open(&mut self) {
        match self.view {
            View::Processes => {
                if let Some(pid) = self.procs.get(self.selected).and_then(|p| p.pid) {
                    self.filter = Filter {
                        pid: Some(pid),
                        ..Filter::default()
                    };
                    // (a grouped view: switching to All lists the rows once)
                    self.set_view(View::All);
                }
            }
            View::Ephemeral => {
                if let Some(d) = self.dests.get(self.selected) {
                    let text = format!("ephemeral port:{} {}", d.remote.port, d.remote.addr);
                    if let Ok(f) = Filter::parse(&text) {
                        self.filter = f;
                        self.set_view(View::All);
                    }
                }
            }
            _ => {
                if self.selected_row().is_some() {
                    self.mode = Mode::Details;
                }
            }
        }
    }

    fn ask_kill(&mut self) {
        if self.replay {
            self.status = Some("killing is disabled in --replay mode".into());
            return;
        }
        let target = match self.view {
            View::Processes => self
                .procs
                .get(self.selected)
                .and_then(|g| g.pid.map(|p| (p, g.name.clone()))),
            _ => self.selected_row().and_then(|r| {
                r.sock.pids.first().map(|p| {
                    let name = r
                        .owner()
                        .map_or_else(|| "?".to_string(), |o| o.name.clone());
                    (*p, name)
                })
            }),
        };
        match target {
            Some((pid, name)) => self.mode = Mode::Confirm { pid, name },
            None => {
                self.status =
                    Some("no process known for this socket (other user's? run as root)".into())
            }
        }
    }

    /// Counts by state for the header: (LISTEN, ESTAB, TIME-WAIT, other) of the
    /// latest snapshot.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        self.state_counts
    }

    /// Rows closed or changed since they were marked (for the status line).
    pub fn marked(&self) -> usize {
        self.marked
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
