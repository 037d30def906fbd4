//! Dashboard state and its one entry point, `App::apply(Action)`: pure (no I/O,
//! no terminal), so every behaviour is unit-tested. Side effects the runtime must
//! perform (kill, interval change, pause, quit) come back as an `Effect`.

use super::keys::{hint, Ctx};
use super::line::{self, Edit, LineEdit};
use super::prep::{self, Listing, Prepared, Preparer, SharedSpec, ViewSpec};
use super::rows::{Col, Counts, DestCol, DestGroup, ProcCol, ProcGroup, Row, SortKey};
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
            View::Listening => matches!(r.sock.state, SockState::Listen | SockState::Unconn),
            View::Established => r.sock.state == SockState::Established,
            _ => true,
        }
    }

    pub fn grouped(self) -> bool {
        matches!(self, View::Ephemeral | View::Processes | View::Namespaces)
    }

    /// The view `step` places away along the tabs (wrapping).
    fn step(self, step: isize) -> View {
        let n = View::ALL.len() as isize;
        let i = View::ALL.iter().position(|v| *v == self).unwrap_or(0) as isize;
        View::ALL[(i + step).rem_euclid(n) as usize]
    }
}

/// Where Back returns from a group's sockets: the group list as it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Drill {
    pub view: View,
    pub filter: Filter,
    selected: usize,
    offset: usize,
    sel_id: Option<u64>,
}

/// What is on top of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The `/` prompt with its text being edited.
    Filter(LineEdit),
    /// The `w` prompt: the file to save the view to.
    Save(LineEdit),
    Details,
    Help,
    /// The column chooser, its cursor on `Col::ALL[i]`.
    Columns(usize),
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
    PrevView,
    View(View),
    SortNext,
    SortReverse,
    /// Sort by age: the latest new, changed or closed rows first.
    SortAge,
    /// Sort by this column (a click on its title); again: reverse.
    SortBy(SortKey),
    /// Select row `i` of the view (a click).
    Select(usize),
    /// Back from a group's sockets to the group list.
    Back,
    Redraw,
    /// Open the column chooser / show or hide the column under its cursor.
    Columns,
    ToggleColumn,
    ToggleMouse,
    /// Copy the selected row to the clipboard (OSC 52).
    Copy,
    /// Open the save prompt.
    Save,
    TogglePause,
    Slower,
    Faster,
    OpenFilter,
    /// A character typed into the prompt (`/` filter or `w` save).
    FilterInput(char),
    FilterBackspace,
    /// Any other edit of the prompt's line.
    Edit(Edit),
    /// Enter in the prompt: apply the filter, or save.
    FilterSubmit,
    /// Esc in the prompt: close it; the active filter stays.
    FilterCancel,
    /// Enter: details of the selected socket (or drill into a group).
    Open,
    Kill,
    ConfirmYes,
    ConfirmNo,
    Help,
    /// Esc outside the prompt: close the innermost thing (pane, dialog, a
    /// group's sockets, then the filter). Never quits.
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
    /// Clear the terminal and draw everything again (Ctrl-L).
    Redraw,
    /// Turn mouse capture on or off.
    Mouse(bool),
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    /// Write `data` to a new file at `path` (never over an existing one).
    Save {
        path: String,
        data: Vec<u8>,
        rows: usize,
    },
    Quit,
}

pub use crate::model::MIN_INTERVAL;
const STEPS_MS: [u64; 8] = [250, 500, 1000, 2000, 3000, 5000, 10000, 30000];

pub struct App {
    pub snap: Option<Arc<Snapshot>>,
    /// Shared with the collector, which merges the next snapshot from them.
    pub rows: Arc<Vec<Row>>,
    pub view: View,
    pub sort: Col,
    pub desc: bool,
    pub dest_sort: (DestCol, bool),
    pub proc_sort: (ProcCol, bool),
    pub filter: Filter,
    pub mode: Mode,
    /// Filters applied at the prompt, newest first.
    pub history: Vec<String>,
    /// Set while showing a group's sockets (Back returns there).
    pub drill: Option<Drill>,
    /// Socket-table columns the user hid (column chooser).
    pub hidden: Vec<Col>,
    /// Mouse capture on (`m` turns it off so the terminal can select text).
    pub mouse: bool,
    /// First line of the help shown.
    pub help_scroll: usize,
    /// Socket views: indices into `rows`, filtered and sorted.
    pub visible: Vec<usize>,
    pub dests: Vec<DestGroup>,
    pub procs: Vec<ProcGroup>,
    pub namespaces: Vec<super::netns::NsGroup>,
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
    state_counts: Counts,
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
            sort: Col::Proto,
            desc: false,
            // Urgency: the destination that runs out soonest first.
            dest_sort: (DestCol::RunsOut, false),
            proc_sort: (ProcCol::Sockets, true),
            filter,
            mode: Mode::Normal,
            history: Vec::new(),
            drill: None,
            hidden: Vec::new(),
            mouse: true,
            help_scroll: 0,
            visible: Vec::new(),
            dests: Vec::new(),
            procs: Vec::new(),
            namespaces: Vec::new(),
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
            state_counts: Counts::default(),
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
            dest_sort: self.dest_sort,
            proc_sort: self.proc_sort,
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
            View::Namespaces => self.namespaces.len(),
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
            View::Namespaces => self.namespaces.get(i).map(|n| n.inode),
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
            counters: None,
            sockets: Vec::new(),
            processes: Default::default(),
            netns: Vec::new(),
        };
        let snap: &Snapshot = self.snap.as_deref().unwrap_or(&empty);
        let l = prep::listing(&self.rows, snap, &self.spec(), &self.alerts);
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
            Listing::Netns(n) => self.namespaces = n,
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
        // Moving keys scroll the help and move the chooser's cursor there.
        match (&self.mode, &a) {
            (Mode::Help, Action::Up | Action::Down | Action::PageUp | Action::PageDown) => {
                let page = self.page.max(1);
                self.help_scroll = match a {
                    Action::Up => self.help_scroll.saturating_sub(1),
                    Action::Down => self.help_scroll + 1,
                    Action::PageUp => self.help_scroll.saturating_sub(page),
                    _ => self.help_scroll + page,
                }
                // (the screen clamps again to what its columns show)
                .min(super::ui::help_lines().saturating_sub(page));
                return None;
            }
            (Mode::Columns(i), Action::Up | Action::Down) => {
                let n = Col::ALL.len();
                let i = if a == Action::Up {
                    (i + n - 1) % n
                } else {
                    (i + 1) % n
                };
                self.mode = Mode::Columns(i);
                return None;
            }
            _ => {}
        }
        match a {
            Action::Up => self.select(self.selected.saturating_sub(1)),
            Action::Down => self.select(self.selected.saturating_add(1)),
            Action::PageUp => self.select(self.selected.saturating_sub(self.page.max(1))),
            Action::PageDown => self.select(self.selected.saturating_add(self.page.max(1))),
            Action::Home => self.select(0),
            Action::End => self.select(usize::MAX),
            Action::NextView => self.set_view(self.view.step(1)),
            Action::PrevView => self.set_view(self.view.step(-1)),
            Action::View(v) => self.set_view(v),
            Action::SortNext => self.sort_next(),
            Action::SortReverse => {
                match self.view {
                    View::Ephemeral => self.dest_sort.1 = !self.dest_sort.1,
                    View::Processes => self.proc_sort.1 = !self.proc_sort.1,
                    _ => self.desc = !self.desc,
                }
                self.spec_changed();
            }
            Action::SortAge => {
                if self.view.grouped() {
                    self.status = Some("the age sort is for socket views (1-3)".into());
                } else {
                    self.sort = Col::Age;
                    self.desc = false;
                    self.spec_changed();
                }
            }
            Action::SortBy(k) => self.sort_by(k),
            Action::Select(i) => self.select(i),
            Action::Back => {
                if !self.back() {
                    self.status = Some("not in a group's sockets: nothing to go back to".into());
                }
            }
            Action::Redraw => return Some(Effect::Redraw),
            Action::Columns => self.mode = Mode::Columns(0),
            Action::ToggleColumn => {
                if let Mode::Columns(i) = self.mode {
                    let c = Col::ALL[i.min(Col::ALL.len() - 1)];
                    if let Some(p) = self.hidden.iter().position(|h| *h == c) {
                        self.hidden.remove(p);
                    } else if self.hidden.len() + 1 < Col::ALL.len() {
                        self.hidden.push(c);
                    }
                }
            }
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.status = Some(if self.mouse {
                    "mouse on".into()
                } else {
                    format!(
                        "mouse off: the terminal selects text; {} turns it back on",
                        hint(&Action::ToggleMouse, Ctx::Table)
                    )
                });
                return Some(Effect::Mouse(self.mouse));
            }
            Action::Copy => {
                let Some(text) = self.row_text() else {
                    self.status = Some("nothing selected to copy".into());
                    return None;
                };
                self.status = Some(format!("copied (OSC 52): {text}"));
                return Some(Effect::Copy(text));
            }
            Action::Save => {
                let at = self.snap.as_ref().map_or(0, |s| s.taken_at_ms / 1000);
                let name = format!("porttop-{}-{at}.csv", self.view.title().to_lowercase());
                self.mode = Mode::Save(LineEdit::new(name));
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
                self.mode = Mode::Filter(LineEdit::new(t));
            }
            Action::FilterInput(c) => {
                if let Mode::Filter(l) | Mode::Save(l) = &mut self.mode {
                    l.insert(c);
                }
            }
            Action::FilterBackspace => return self.apply(Action::Edit(Edit::Backspace)),
            Action::Edit(e) => match &mut self.mode {
                Mode::Filter(l) => l.apply(e, &self.history),
                Mode::Save(l) => l.apply(e, &[]),
                _ => {}
            },
            Action::FilterSubmit => match &self.mode {
                Mode::Filter(l) => {
                    let t = l.text.clone();
                    match Filter::parse(&t) {
                        Ok(f) => {
                            line::remember(&mut self.history, &t);
                            self.filter = f;
                            self.mode = Mode::Normal;
                            self.status = None;
                            self.spec_changed();
                        }
                        Err(e) => self.status = Some(format!("filter: {e}")),
                    }
                }
                Mode::Save(l) => {
                    let path = l.text.trim().to_string();
                    match self.export(&path) {
                        Ok((data, rows)) => {
                            self.mode = Mode::Normal;
                            self.status = None;
                            return Some(Effect::Save { path, data, rows });
                        }
                        Err(e) => self.status = Some(format!("save: {e}")),
                    }
                }
                _ => {}
            },
            Action::FilterCancel => {
                self.mode = Mode::Normal;
                self.status = None;
            }
            Action::Open => {
                let back = self.view.grouped().then(|| Drill {
                    view: self.view,
                    filter: self.filter.clone(),
                    selected: self.selected,
                    offset: self.offset,
                    sel_id: self.sel_id,
                });
                self.open();
                if let Some(d) = back.filter(|d| d.view != self.view) {
                    self.drill = Some(d);
                }
            }
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
                    self.help_scroll = 0;
                    Mode::Help
                }
            }
            Action::Close => {
                if self.mode != Mode::Normal {
                    self.mode = Mode::Normal;
                } else if self.back() {
                } else if !self.filter.is_empty() {
                    self.filter = Filter::default();
                    self.status = Some("filter cleared".into());
                    self.spec_changed();
                } else {
                    self.status = Some(format!(
                        "{} quits (Esc never does)",
                        hint(&Action::Quit, Ctx::Table)
                    ));
                }
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
            View::Namespaces => {
                if let Some(n) = self.namespaces.get(self.selected) {
                    self.filter = Filter::of([crate::filter::Term::Netns(n.name.clone())]);
                    self.set_view(View::All);
                }
            }
            View::Processes => {
                if let Some(pid) = self.procs.get(self.selected).and_then(|p| p.pid) {
                    self.filter = Filter::of([crate::filter::Term::Pid(pid)]);
                    // (a grouped view: switching to All lists the rows once)
                    self.set_view(View::All);
                }
            }
            View::Ephemeral => {
                if let Some(d) = self.dests.get(self.selected) {
                    // Exactly the group's sockets: its local address, remote
                    // address and remote port (a bare address word also matched
                    // other destinations' local ends and other remotes).
                    use crate::filter::{Net, Ports, Term};
                    self.filter = Filter::of([
                        Term::Ephemeral,
                        Term::Src(Net::host(d.local)),
                        Term::Dst(Net::host(d.remote.addr)),
                        Term::DPort(Ports::one(d.remote.port)),
                    ]);
                    self.set_view(View::All);
                }
            }
            _ => {
                if self.selected_row().is_some() {
                    self.mode = Mode::Details;
                }
            }
        }
    }

    /// Returns from a group's sockets to the group list as it was.
    fn back(&mut self) -> bool {
        let Some(d) = self.drill.take() else {
            return false;
        };
        self.filter = d.filter;
        self.view = d.view;
        self.selected = d.selected;
        self.offset = d.offset;
        self.sel_id = d.sel_id;
        self.spec_changed();
        true
    }

    /// The sort of the current view.
    pub fn sort_key(&self) -> (SortKey, bool) {
        match self.view {
            View::Ephemeral => (SortKey::Dest(self.dest_sort.0), self.dest_sort.1),
            View::Processes => (SortKey::Proc(self.proc_sort.0), self.proc_sort.1),
            _ => (SortKey::Sock(self.sort), self.desc),
        }
    }

    fn sort_next(&mut self) {
        let next = match self.sort_key().0 {
            SortKey::Dest(c) => {
                let i = DestCol::ALL.iter().position(|x| *x == c).unwrap_or(0);
                SortKey::Dest(DestCol::ALL[(i + 1) % DestCol::ALL.len()])
            }
            SortKey::Proc(c) => {
                let i = ProcCol::ALL.iter().position(|x| *x == c).unwrap_or(0);
                SortKey::Proc(ProcCol::ALL[(i + 1) % ProcCol::ALL.len()])
            }
            SortKey::Sock(c) => {
                self.sort = c.next();
                return self.spec_changed();
            }
        };
        self.set_sort(next, None);
    }

    /// Sorts by `k`; the same column again reverses.
    fn sort_by(&mut self, k: SortKey) {
        let (cur, desc) = self.sort_key();
        if cur == k {
            self.set_sort(k, Some(!desc));
        } else {
            self.set_sort(k, None);
        }
    }

    /// `desc` None: the column's natural direction (counts largest first).
    fn set_sort(&mut self, k: SortKey, desc: Option<bool>) {
        match k {
            SortKey::Sock(c) => {
                self.sort = c;
                self.desc = desc.unwrap_or(false);
            }
            SortKey::Dest(c) => self.dest_sort = (c, desc.unwrap_or(c.numeric())),
            SortKey::Proc(c) => self.proc_sort = (c, desc.unwrap_or(c.numeric())),
        }
        self.spec_changed();
    }

    /// The selected row as one line of text (for the clipboard).
    pub fn row_text(&self) -> Option<String> {
        match self.view {
            View::Ephemeral => self.dests.get(self.selected).map(|d| {
                format!(
                    "{} -> {} ports {} time-wait {} pool {:.1}%",
                    d.local, d.remote, d.ports, d.time_wait, d.pct
                )
            }),
            View::Namespaces => self.namespaces.get(self.selected).map(|n| {
                format!(
                    "netns {} container {} range {} sockets {} level {} pool {:.1}% worst {}",
                    n.name,
                    n.container,
                    n.range,
                    n.sockets,
                    n.level.as_str(),
                    n.pct,
                    n.worst
                )
            }),
            View::Processes => self.procs.get(self.selected).map(|p| {
                format!(
                    "pid {} {} user {} sockets {} listen {} estab {} other {} ephemeral {}",
                    p.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                    p.name,
                    p.user,
                    p.total(),
                    p.listening,
                    p.established,
                    p.other,
                    p.ephemeral
                )
            }),
            _ => self.selected_row().map(|r| {
                let s = &r.sock;
                format!(
                    "{} {} {} {} pid {} {} user {}",
                    s.proto,
                    s.local,
                    s.remote.map_or_else(|| "*".into(), |e| e.to_string()),
                    s.state,
                    s.pids.first().map_or_else(|| "-".into(), u32::to_string),
                    r.owner().map_or("-", |p| p.name.as_str()),
                    s.user.as_deref().unwrap_or("-")
                )
            }),
        }
    }

    /// The current view, in its order, as CSV or JSON (by the name's ending).
    fn export(&self, path: &str) -> Result<(Vec<u8>, usize), String> {
        let json = if path.ends_with(".json") {
            true
        } else if path.ends_with(".csv") {
            false
        } else {
            return Err("the file name must end in .csv or .json".into());
        };
        if path.ends_with('/') || path.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
            return Err("give a file name ending in .csv or .json".into());
        }
        let snap = self.snap.as_deref().ok_or("no snapshot yet")?;
        let mut out = Vec::new();
        let err = |e: std::io::Error| e.to_string();
        let rows = match self.view {
            View::Ephemeral => {
                super::export::dests(&mut out, &self.dests, json).map_err(err)?;
                self.dests.len()
            }
            View::Processes => {
                super::export::procs(&mut out, &self.procs, json).map_err(err)?;
                self.procs.len()
            }
            View::Namespaces => {
                super::export::namespaces(&mut out, &self.namespaces, json).map_err(err)?;
                self.namespaces.len()
            }
            _ => {
                let socks: Vec<&crate::model::Socket> = self
                    .visible
                    .iter()
                    .filter_map(|i| self.rows.get(*i))
                    .map(|r| &r.sock)
                    .collect();
                if json {
                    crate::output::list_json(&mut out, snap, &socks).map_err(err)?;
                } else {
                    crate::output::list_csv(&mut out, snap, &socks, true).map_err(err)?;
                }
                socks.len()
            }
        };
        Ok((out, rows))
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
                // SAFETY: geteuid has no preconditions.
                let root = unsafe { libc::geteuid() } == 0;
                self.status = Some(match self.selected_row() {
                    Some(r) if self.view != View::Processes => {
                        format!("no process to signal: {}", r.sock.why_no_process(root))
                    }
                    _ => "no process to signal".into(),
                })
            }
        }
    }

    /// Counts by state of the latest snapshot, for the header.
    pub fn counts(&self) -> Counts {
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
