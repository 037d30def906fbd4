//! Dashboard state and its two entry points, both pure (no I/O, no terminal),
//! so every behaviour is unit-tested: `App::apply(Action)` for what the user
//! asks (side effects the runtime must perform — kill, interval change, pause,
//! quit — come back as an `Effect`), `App::receive(Msg)` for what the feed and
//! the runtime bring (a prepared refresh, an error, a message).

use super::alerts::Alerts;
use super::keys::{hint, Ctx};
use super::line::{self, Edit, LineEdit};
use super::prep::{self, Listing, Prepared, SharedSpec, ViewSpec};
use super::rows::{Col, Counts, DestCol, ProcCol, Row, SortKey};
use crate::filter::Filter;
use crate::model::conn::Shown;
use crate::model::Snapshot;
use std::sync::Arc;
use std::time::Duration;

pub use super::prep::View;

/// Where Back returns from a group's sockets: the group list as it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Drill {
    pub view: View,
    pub filter: Filter,
    cursor: Cursor,
}

/// What is on top of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The `/` prompt with its text being edited.
    Filter(LineEdit),
    /// The `w` prompt: the file to save the view to.
    Save(LineEdit),
    /// The details pane, with the advisor's word on the local port (computed
    /// with the data, not while drawing).
    Details {
        advice: Option<String>,
    },
    Help,
    /// The column chooser, its cursor on `Col::ALL[i]`.
    Columns(usize),
    /// The kill dialog: every owner, pinned by a pidfd when it opened (what is
    /// signalled is these processes, whatever later holds their pids), and
    /// what could not be pinned.
    Confirm {
        targets: Vec<crate::actions::Pinned>,
        gone: Vec<String>,
    },
    /// The close dialog: the connection and its owner, as shown.
    CloseConfirm(Closing),
}

/// A connection the user asked to close (`C`): the socket as listed, its
/// owner's name for the dialog, and its network namespace as the snapshot
/// lists it (the way in, for a socket of another one).
#[derive(Clone, Debug, PartialEq)]
pub struct Closing {
    pub sock: Box<crate::model::Socket>,
    pub owner: String,
    pub netns: Option<Box<crate::model::Netns>>,
}
// (Socket's rates are floats; a dialog's socket is never NaN-compared)
impl Eq for Closing {}

impl Closing {
    /// ` in netns NAME` where the status line should name it
    /// (`Netns::worth_naming`), else nothing.
    pub fn netns_note(&self) -> String {
        match &self.netns {
            Some(n) if n.worth_naming() => format!(" in netns {}", n.name),
            _ => String::new(),
        }
    }
}

/// What the user asks of the dashboard (a key, a click, the terminal's size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
    /// `K`: signal the owner(s) (the dialog asks which signal).
    Kill,
    /// `C`: close the selected TCP connection (SOCK_DESTROY).
    CloseConn,
    /// In a dialog: SIGTERM every owner / close the connection.
    ConfirmYes,
    /// In the kill dialog: SIGKILL every owner.
    ConfirmKill,
    ConfirmNo,
    Help,
    /// Esc outside the prompt: close the innermost thing (pane, dialog, a
    /// group's sockets, then the filter). Never quits.
    Close,
    Quit,
    /// Rows of the table area (for paging and scrolling).
    Viewport(usize),
}

/// What the feed and the runtime bring to the dashboard.
#[derive(Debug)]
pub enum Msg {
    /// A snapshot analysed, merged and listed already (on the feed's thread).
    Prepared(Box<Prepared>),
    SourceError(String),
    /// A line for the status bar (the outcome of an effect).
    Status(String),
    /// `Effect::Pin`'s outcome: each owner pinned, or why not.
    Pinned(Vec<Result<crate::actions::Pinned, String>>),
}

/// Side effects for the runtime.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    SetInterval(Duration),
    SetPaused(bool),
    /// Open a pidfd for each owner (pid, name) now, while the user is asked;
    /// the runtime answers with `Msg::Pinned`.
    Pin(Vec<(u32, String)>),
    /// Send the signal to the pinned processes.
    Signal(Vec<crate::actions::Pinned>, crate::actions::Sig),
    /// Close the connection (SOCK_DESTROY).
    CloseSocket(Closing),
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

/// The refresh on screen, as the feed prepared it.
#[derive(Debug, Default)]
pub struct Data {
    pub snap: Option<Arc<Snapshot>>,
    /// The rows the feed's preparation merges the next snapshot into.
    pub rows: Arc<Vec<Row>>,
    /// Pool pressure and collisions of the latest snapshot.
    pub alerts: Alerts,
    /// Counts by state, for the header.
    pub counts: Counts,
    /// Rows closed or changed since they were marked (for the status line).
    pub marked: usize,
    /// porttop runs as root (how a socket without a process is explained).
    pub root: bool,
    /// How long the last refresh took (the header shows a stretched interval).
    pub took: Duration,
    /// Rows the last refresh replaced, for the runtime to free elsewhere.
    retired: Option<Arc<Vec<Row>>>,
}

/// The selection and the scroll position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
    /// The first row shown.
    pub offset: usize,
    /// The selected entry's identity (the selection follows it across refreshes).
    sel_id: Option<u64>,
}

/// How the feed runs, as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    pub paused: bool,
    pub interval: Duration,
    /// The data is a recording (`--replay`): nothing can be killed.
    pub replay: bool,
}

pub struct App {
    /// What the table lists, in which order.
    pub spec: ViewSpec,
    /// `spec`'s version (it grows on every change) and the cell the feed reads.
    shared: (u64, Option<SharedSpec>),
    /// Of which sockets the feed should ask the detail (last published, and
    /// the cell the feed reads).
    shown: (Option<Shown>, Option<crate::feed::Latest<Shown>>),
    pub data: Data,
    /// The current view's entries.
    pub listing: Listing,
    pub cursor: Cursor,
    /// Rows of the table area (for paging and scrolling).
    pub page: usize,
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
    pub pace: Pace,
    /// The status line's message, and the last refresh's error.
    pub status: Option<String>,
    pub error: Option<String>,
}

impl App {
    pub fn new(filter: Filter, interval: Duration, replay: bool) -> Self {
        App {
            spec: ViewSpec::new(View::All, filter),
            shared: (0, None),
            shown: (None, None),
            data: Data::default(),
            listing: Listing::default(),
            cursor: Cursor::default(),
            page: 20,
            mode: Mode::Normal,
            history: Vec::new(),
            drill: None,
            hidden: Vec::new(),
            mouse: true,
            help_scroll: 0,
            pace: Pace {
                paused: false,
                interval,
                replay,
            },
            status: None,
            error: None,
        }
    }

    /// The spec as the feed's preparation should see it, updated on every
    /// change.
    pub fn share_spec(&mut self) -> SharedSpec {
        let s = SharedSpec::new((self.shared.0, self.spec.clone()));
        self.shared.1 = Some(s.clone());
        s
    }

    /// The cell the feed reads which sockets' detail to ask for; set to what
    /// the app shows now, and by `publish_shown` whenever that changes.
    pub fn share_shown(&mut self) -> crate::feed::Latest<Shown> {
        let now = self.shown_detail();
        let cell = crate::feed::Latest::new(now.clone());
        self.shown = (Some(now), Some(cell.clone()));
        cell
    }

    /// Tells the feed when the sockets whose detail is shown changed (after
    /// keys and refreshes; a few dozen rows, so cheap). True when it widened
    /// to every socket's (a view that sums it, a sort by it): the rows in hand
    /// have it only for what was on screen, so the runtime asks the feed for
    /// a snapshot at once instead of showing partial sums for an interval.
    pub fn publish_shown(&mut self) -> bool {
        let Some(cell) = self.shown.1.clone() else {
            return false;
        };
        let now = self.shown_detail();
        if self.shown.0.as_ref() == Some(&now) {
            return false;
        }
        let widened = now == Shown::All;
        cell.put(now.clone());
        self.shown.0 = Some(now);
        widened
    }

    /// Of which sockets the per-connection detail (tcp_info: RX/s, TX/s, RTT,
    /// RETR, Q, the details pane) is shown: every socket's where the view
    /// sorts by it or sums it (Processes, Ephemeral), none where no detail
    /// column is shown and no details pane is open, else the rows on screen.
    pub fn shown_detail(&self) -> Shown {
        match self.spec.view {
            View::Processes | View::Ephemeral => return Shown::All,
            View::Namespaces => return Shown::Nothing,
            _ => {}
        }
        if self.spec.sort.is_detail() {
            return Shown::All;
        }
        let columns = Col::ALL
            .iter()
            .any(|c| c.is_detail() && !self.hidden.contains(c));
        let pane = matches!(self.mode, Mode::Details { .. });
        if !columns && !pane {
            return Shown::Nothing;
        }
        let v = self.listing.sockets();
        let from = self.cursor.offset.min(v.len());
        let to = (from + self.page.max(1)).min(v.len());
        Shown::Rows(
            v[from..to]
                .iter()
                .filter_map(|i| self.data.rows.get(*i))
                .filter_map(|r| Some((r.sock.netns, r.sock.inode.filter(|i| *i != 0)?)))
                .collect(),
        )
    }

    /// The spec's version now.
    pub fn spec_version(&self) -> u64 {
        self.shared.0
    }

    /// The rows the last refresh replaced (the runtime frees them off the UI
    /// thread).
    pub fn take_retired(&mut self) -> Option<Arc<Vec<Row>>> {
        self.data.retired.take()
    }

    /// Number of rows in the current view.
    pub fn len(&self) -> usize {
        self.listing.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The selected socket row (socket views only).
    pub fn selected_row(&self) -> Option<&Row> {
        self.listing
            .sockets()
            .get(self.cursor.selected)
            .and_then(|i| self.data.rows.get(*i))
    }

    fn id_at(&self, i: usize) -> Option<u64> {
        match &self.listing {
            Listing::Dests(d) => d.get(i).map(|d| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                d.key().hash(&mut h);
                h.finish()
            }),
            Listing::Procs(p) => p.get(i).map(|p| p.pid.map_or(u64::MAX, u64::from)),
            Listing::Netns(n) => n.get(i).map(|n| n.inode),
            Listing::Sockets(v) => v.get(i).and_then(|r| self.data.rows.get(*r)).map(|r| r.id),
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
        let snap: &Snapshot = self.data.snap.as_deref().unwrap_or(&empty);
        let l = prep::listing(&self.data.rows, snap, &self.spec, &self.data.alerts);
        self.show(l);
    }

    /// The view, sort or filter changed: tell the feed, recompute here.
    fn spec_changed(&mut self) {
        self.shared.0 += 1;
        if let Some(cell) = &self.shared.1 {
            cell.put((self.shared.0, self.spec.clone()));
        }
        self.rebuild();
    }

    /// Shows a listing, keeping the selection on the same row at the same height.
    fn show(&mut self, l: Listing) {
        let c = self.cursor;
        let screen_line = c.selected.saturating_sub(c.offset);
        self.listing = l;
        let len = self.len();
        // Outward from where it was: rows come and go around it, so it is
        // found after a few steps, not a scan of 500,000 rows on the UI thread.
        let found = c.sel_id.and_then(|id| {
            let at = c.selected.min(len.saturating_sub(1));
            (0..len.max(1)).find_map(|d| {
                [at.checked_sub(d), at.checked_add(d).filter(|_| d > 0)]
                    .into_iter()
                    .flatten()
                    .find(|i| *i < len && self.id_at(*i) == Some(id))
            })
        });
        self.cursor.selected = found.unwrap_or(c.selected).min(len.saturating_sub(1));
        self.cursor.offset = self.cursor.selected.saturating_sub(screen_line);
        self.clamp_offset();
        self.cursor.sel_id = self.id_at(self.cursor.selected);
        self.refresh_details();
    }

    /// Installs a prepared refresh: pointer swaps, plus a new listing only when
    /// the spec changed since the feed read it.
    fn install(&mut self, p: Prepared) {
        let old = std::mem::replace(
            &mut self.data,
            Data {
                snap: Some(p.snap),
                rows: p.rows,
                alerts: p.alerts,
                counts: p.counts,
                marked: p.marked,
                root: p.root,
                took: p.took,
                retired: None,
            },
        );
        self.data.retired = Some(old.rows);
        self.error = None;
        if p.version == self.shared.0 {
            self.show(p.listing);
        } else {
            self.rebuild();
        }
    }

    /// The details pane's advisor line, for the row selected now.
    fn refresh_details(&mut self) {
        if let Mode::Details { .. } = self.mode {
            self.mode = Mode::Details {
                advice: self.advice(),
            };
        }
    }

    /// The advisor on the selected socket's local port: would it be a good
    /// port for a service?
    fn advice(&self) -> Option<String> {
        use crate::analysis::advisor::{judge, Status};
        let s = &self.selected_row()?.sock;
        let snap = self.data.snap.as_deref()?;
        let j = judge(s.local.port, s.proto, &snap.range, None, false);
        let concerns: Vec<&str> = j
            .findings
            .iter()
            .filter(|f| matches!(f.status, Status::Caution | Status::Bad))
            .map(|f| f.rule)
            .collect();
        Some(if concerns.is_empty() {
            format!("{} as a listening port", j.verdict.as_str())
        } else {
            format!(
                "{} as a listening port ({}; porttop check {}/{})",
                j.verdict.as_str(),
                concerns.join(", "),
                s.local.port,
                s.proto
            )
        })
    }

    fn clamp_offset(&mut self) {
        let page = self.page.max(1);
        let c = &mut self.cursor;
        if c.selected < c.offset {
            c.offset = c.selected;
        }
        if c.selected >= c.offset + page {
            c.offset = c.selected + 1 - page;
        }
        let max_off = self.listing.len().saturating_sub(page);
        c.offset = c.offset.min(max_off);
    }

    fn select(&mut self, i: usize) {
        self.cursor.selected = i.min(self.len().saturating_sub(1));
        self.clamp_offset();
        self.cursor.sel_id = self.id_at(self.cursor.selected);
        self.refresh_details();
    }

    fn set_view(&mut self, v: View) {
        if v != self.spec.view {
            self.spec.view = v;
            self.cursor = Cursor::default();
            self.spec_changed();
        }
    }

    /// Takes what the feed or the runtime brought.
    pub fn receive(&mut self, m: Msg) {
        match m {
            Msg::Prepared(p) => {
                if !self.pace.paused {
                    self.install(*p);
                }
            }
            Msg::SourceError(e) => self.error = Some(e),
            Msg::Status(m) => self.status = Some(m),
            Msg::Pinned(r) => {
                let (mut targets, mut gone) = (Vec::new(), Vec::new());
                for x in r {
                    match x {
                        Ok(p) => targets.push(p),
                        Err(e) => gone.push(e),
                    }
                }
                if targets.is_empty() {
                    self.status = Some(gone.join("; "));
                } else {
                    self.mode = Mode::Confirm { targets, gone };
                }
            }
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
            Action::Up => self.select(self.cursor.selected.saturating_sub(1)),
            Action::Down => self.select(self.cursor.selected.saturating_add(1)),
            Action::PageUp => self.select(self.cursor.selected.saturating_sub(self.page.max(1))),
            Action::PageDown => self.select(self.cursor.selected.saturating_add(self.page.max(1))),
            Action::Home => self.select(0),
            Action::End => self.select(usize::MAX),
            Action::NextView => self.set_view(self.spec.view.step(1)),
            Action::PrevView => self.set_view(self.spec.view.step(-1)),
            Action::View(v) => self.set_view(v),
            Action::SortNext => self.sort_next(),
            Action::SortReverse => {
                match self.spec.view {
                    View::Ephemeral => self.spec.dest_sort.1 = !self.spec.dest_sort.1,
                    View::Processes => self.spec.proc_sort.1 = !self.spec.proc_sort.1,
                    _ => self.spec.desc = !self.spec.desc,
                }
                self.spec_changed();
            }
            Action::SortAge => {
                if self.spec.view.grouped() {
                    self.status = Some("the age sort is for socket views (1-3)".into());
                } else {
                    self.spec.sort = Col::Age;
                    self.spec.desc = false;
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
                let at = self.data.snap.as_ref().map_or(0, |s| s.taken_at_ms / 1000);
                let name = format!("porttop-{}-{at}.csv", self.spec.view.title().to_lowercase());
                self.mode = Mode::Save(LineEdit::new(name));
            }
            Action::TogglePause => {
                self.pace.paused = !self.pace.paused;
                return Some(Effect::SetPaused(self.pace.paused));
            }
            Action::Slower | Action::Faster => {
                let ms = self.pace.interval.as_millis() as u64;
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
                self.pace.interval = Duration::from_millis(next);
                return Some(Effect::SetInterval(self.pace.interval));
            }
            Action::OpenFilter => {
                // Start from the active filter (plus a space), so typing refines it.
                let mut t = self.spec.filter.to_string();
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
                            self.spec.filter = f;
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
                let back = self.spec.view.grouped().then(|| Drill {
                    view: self.spec.view,
                    filter: self.spec.filter.clone(),
                    cursor: self.cursor,
                });
                self.open();
                if let Some(d) = back.filter(|d| d.view != self.spec.view) {
                    self.drill = Some(d);
                }
            }
            Action::Kill => return self.ask_kill(),
            Action::CloseConn => self.ask_close(),
            Action::ConfirmYes | Action::ConfirmKill => {
                use crate::actions::Sig;
                let sig = if a == Action::ConfirmKill {
                    Sig::Kill
                } else {
                    Sig::Term
                };
                match std::mem::replace(&mut self.mode, Mode::Normal) {
                    Mode::Confirm { targets, .. } => return Some(Effect::Signal(targets, sig)),
                    Mode::CloseConfirm(c) if a == Action::ConfirmYes => {
                        return Some(Effect::CloseSocket(c))
                    }
                    m => self.mode = m,
                }
            }
            Action::ConfirmNo => match self.mode {
                Mode::Confirm { .. } => {
                    self.mode = Mode::Normal;
                    self.status = Some("not killed".into());
                }
                Mode::CloseConfirm(_) => {
                    self.mode = Mode::Normal;
                    self.status = Some("not closed".into());
                }
                _ => {}
            },
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
                } else if !self.spec.filter.is_empty() {
                    self.spec.filter = Filter::default();
                    self.status = Some("filter cleared".into());
                    self.spec_changed();
                } else {
                    self.status = Some(format!(
                        "{} quits ({} never does)",
                        hint(&Action::Quit, Ctx::Table),
                        hint(&Action::Close, Ctx::Table)
                    ));
                }
            }
            Action::Quit => return Some(Effect::Quit),
            Action::Viewport(n) => {
                self.page = n.max(1);
                self.clamp_offset();
            }
        }
        None
    }

    fn open(&mut self) {
        match self.spec.view {
            View::Namespaces => {
                if let Some(n) = self.listing.namespaces().get(self.cursor.selected) {
                    self.spec.filter = Filter::of([crate::filter::Term::Netns(n.name.clone())]);
                    self.set_view(View::All);
                }
            }
            View::Processes => {
                if let Some(pid) = self
                    .listing
                    .procs()
                    .get(self.cursor.selected)
                    .and_then(|p| p.pid)
                {
                    self.spec.filter = Filter::of([crate::filter::Term::Pid(pid)]);
                    // (a grouped view: switching to All lists the rows once)
                    self.set_view(View::All);
                }
            }
            View::Ephemeral => {
                if let Some(d) = self.listing.dests().get(self.cursor.selected) {
                    // Exactly the group's sockets: its protocol, local address,
                    // remote address and remote port (a bare address word also
                    // matched other destinations' local ends and other remotes).
                    use crate::filter::{Net, Ports, Term};
                    self.spec.filter = Filter::of([
                        Term::Proto(d.proto),
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
                    self.mode = Mode::Details {
                        advice: self.advice(),
                    };
                }
            }
        }
    }

    /// Returns from a group's sockets to the group list as it was.
    fn back(&mut self) -> bool {
        let Some(d) = self.drill.take() else {
            return false;
        };
        self.spec.filter = d.filter;
        self.spec.view = d.view;
        self.cursor = d.cursor;
        self.spec_changed();
        true
    }

    /// The sort of the current view.
    pub fn sort_key(&self) -> (SortKey, bool) {
        match self.spec.view {
            View::Ephemeral => (SortKey::Dest(self.spec.dest_sort.0), self.spec.dest_sort.1),
            View::Processes => (SortKey::Proc(self.spec.proc_sort.0), self.spec.proc_sort.1),
            _ => (SortKey::Sock(self.spec.sort), self.spec.desc),
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
                self.spec.sort = c.next();
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
                self.spec.sort = c;
                self.spec.desc = desc.unwrap_or(false);
            }
            SortKey::Dest(c) => self.spec.dest_sort = (c, desc.unwrap_or(c.numeric())),
            SortKey::Proc(c) => self.spec.proc_sort = (c, desc.unwrap_or(c.numeric())),
        }
        self.spec_changed();
    }

    /// The selected row as one line of text (for the clipboard).
    pub fn row_text(&self) -> Option<String> {
        match self.spec.view {
            View::Ephemeral => self.listing.dests().get(self.cursor.selected).map(|d| {
                format!(
                    "{} {} -> {} ports {} time-wait {} pool {:.1}%",
                    d.proto, d.local, d.remote, d.ports, d.time_wait, d.pct
                )
            }),
            View::Namespaces => self
                .listing
                .namespaces()
                .get(self.cursor.selected)
                .map(|n| {
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
            View::Processes => self.listing.procs().get(self.cursor.selected).map(|p| {
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
        let snap = self.data.snap.as_deref().ok_or("no snapshot yet")?;
        let mut out = Vec::new();
        let err = |e: std::io::Error| e.to_string();
        let rows = match self.spec.view {
            View::Ephemeral => {
                super::export::dests(&mut out, self.listing.dests(), json).map_err(err)?;
                self.listing.dests().len()
            }
            View::Processes => {
                super::export::procs(&mut out, self.listing.procs(), json).map_err(err)?;
                self.listing.procs().len()
            }
            View::Namespaces => {
                let n = self.listing.namespaces();
                super::export::namespaces(&mut out, n, json).map_err(err)?;
                n.len()
            }
            _ => {
                let socks: Vec<&crate::model::Socket> = self
                    .listing
                    .sockets()
                    .iter()
                    .filter_map(|i| self.data.rows.get(*i))
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

    /// `K`: the owners to pin (the dialog opens when the runtime has pinned
    /// them); every owner of a shared socket, not only the first.
    fn ask_kill(&mut self) -> Option<Effect> {
        if self.pace.replay {
            self.status = Some("killing is disabled in --replay mode".into());
            return None;
        }
        let targets: Vec<(u32, String)> = match self.spec.view {
            View::Processes => self
                .listing
                .procs()
                .get(self.cursor.selected)
                .and_then(|g| g.pid.map(|p| (p, g.name.clone())))
                .into_iter()
                .collect(),
            _ => self.selected_row().map_or_else(Vec::new, |r| {
                r.sock
                    .pids
                    .iter()
                    .map(|p| {
                        let name = r
                            .owners
                            .iter()
                            .find(|o| o.pid == *p)
                            .map_or_else(|| "?".to_string(), |o| o.name.clone());
                        (*p, name)
                    })
                    .collect()
            }),
        };
        if !targets.is_empty() {
            return Some(Effect::Pin(targets));
        }
        let root = self.data.root;
        self.status = Some(match self.selected_row() {
            Some(r) if self.spec.view != View::Processes => {
                format!("no process to signal: {}", r.sock.why_no_process(root))
            }
            _ => "no process to signal".into(),
        });
        None
    }

    /// `C`: the close dialog for the selected TCP connection, or why not.
    fn ask_close(&mut self) {
        if self.pace.replay {
            self.status = Some("closing is disabled in --replay mode".into());
            return;
        }
        let grouped = matches!(
            self.spec.view,
            View::Processes | View::Ephemeral | View::Namespaces
        );
        let Some(r) = self.selected_row().filter(|_| !grouped) else {
            self.status = Some("select a connection to close (open the group first)".into());
            return;
        };
        let s = &r.sock;
        let netns = self
            .data
            .snap
            .as_deref()
            .and_then(|n| n.netns_info(s.netns));
        self.status = Some(if !crate::actions::closable(s) {
            format!(
                "a {} {} socket cannot be closed (only TCP sockets a process holds)",
                s.proto, s.state
            )
        } else if s.netns != 0 && netns.is_none() {
            "the socket's network namespace is gone".into()
        } else if r.mark == super::rows::Mark::Closed {
            "already closed".into()
        } else {
            let owner = r.owner().map_or_else(
                || "no known process".to_string(),
                |o| format!("pid {} ({})", o.pid, o.name),
            );
            self.mode = Mode::CloseConfirm(Closing {
                sock: Box::new(s.clone()),
                owner,
                netns: netns.cloned().map(Box::new),
            });
            return;
        });
    }

    /// Counts by state of the latest snapshot, for the header.
    pub fn counts(&self) -> Counts {
        self.data.counts
    }

    /// Rows closed or changed since they were marked (for the status line).
    pub fn marked(&self) -> usize {
        self.data.marked
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
