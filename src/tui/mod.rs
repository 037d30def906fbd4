//! The live dashboard (`porttop` with no subcommand).
//!
//! Threads: a collector owns the `SocketSource` and publishes snapshots into a
//! latest-wins slot (a slow UI never sees stale ones queued); an input thread
//! forwards terminal events; a signal thread turns SIGTERM/SIGHUP into Quit. The
//! UI thread blocks on ONE event channel and redraws only when something changed.

pub mod alerts;
pub mod app;
mod export;
pub mod keys;
pub mod line;
pub mod netns;
pub mod prep;
pub mod rows;
pub mod term;
pub mod theme;
pub mod ui;

#[cfg(test)]
mod test_fixture;

use crate::filter::Filter;
use crate::model::Snapshot;
use crate::source::SocketSource;
use app::{Action, App, Effect};
use ratatui::crossterm::event::{self, Event as CEvent, KeyEvent, MouseButton, MouseEventKind};
use std::io::IsTerminal;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Dashboard settings from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub filter: Filter,
    pub interval: Duration,
    pub keep_closed: u32,
    pub no_color: bool,
    pub replay: bool,
    pub thresholds: crate::analysis::pool::Thresholds,
    /// The view to open on, and the socket table's columns.
    pub view: app::View,
    pub columns: Vec<rows::Col>,
}

/// What the UI thread waits for.
enum Event {
    Key(KeyEvent),
    Wheel(bool),
    /// A left click at (column, row).
    Click(u16, u16),
    Resize(u16),
    /// A snapshot (or an error) is waiting in the slot.
    Snapshot,
    Quit,
    /// SIGTERM, SIGHUP or SIGINT: quit, and exit with 128 + the signal.
    Signal(i32),
}

/// Collector control messages (they also cut its sleep short).
enum Ctl {
    Interval(Duration),
    Pause(bool),
    /// Rows the UI no longer shows: freed on the collector thread, not the UI's.
    Free(Arc<Vec<rows::Row>>),
    Quit,
}

type Slot = Arc<Mutex<Option<Result<Box<prep::Prepared>, String>>>>;

/// Runs the dashboard until the user quits; returns the exit status.
pub fn run(source: Box<dyn SocketSource>, opts: Options) -> Result<i32, String> {
    if !std::io::stdout().is_terminal() {
        return Err(
            "the dashboard needs a terminal on stdout; use `porttop list` for plain output".into(),
        );
    }
    crate::source::tune_allocator();
    let theme = theme::Theme::from_env(opts.no_color);
    let mut app = App::new(opts.filter, opts.interval, opts.keep_closed, opts.replay);
    app.analyzer = alerts::Analyzer::new(opts.thresholds);
    // `--columns` / config `columns`: the others start hidden (the column
    // chooser shows them again); the order is the table's own.
    app.hidden = rows::Col::ALL
        .into_iter()
        .filter(|c| !opts.columns.contains(c))
        .collect();
    app.apply(Action::View(opts.view));
    let (tx, rx) = mpsc::channel::<Event>();
    let (ctl_tx, ctl_rx) = mpsc::channel::<Ctl>();
    let slot: Slot = Arc::new(Mutex::new(None));
    {
        let (slot, tx, interval) = (slot.clone(), tx.clone(), opts.interval);
        let work = Work {
            analyzer: alerts::Analyzer::new(opts.thresholds),
            prep: prep::Preparer::new(opts.keep_closed),
            spec: app.share_spec(),
        };
        std::thread::Builder::new()
            .name("collector".into())
            .spawn(move || collector(source, work, slot, tx, ctl_rx, interval))
            .map_err(|e| e.to_string())?;
    }
    spawn_signals(tx.clone())?;
    let (guard, mut terminal) = term::Guard::enter().map_err(|e| format!("terminal: {e}"))?;
    spawn_input(tx)?;
    if let Ok(size) = terminal.size() {
        app.apply(Action::Viewport(ui::viewport_rows(size.height)));
    }
    let result = ui_loop(&mut app, &mut terminal, &theme, &rx, &slot, &ctl_tx);
    let _ = ctl_tx.send(Ctl::Quit);
    drop(terminal);
    drop(guard);
    // A signal ends the process with 128 + its number, as if it had been killed.
    result
        .map(|sig| sig.map_or(0, |n| 128 + n))
        .map_err(|e| format!("terminal: {e}"))
}

fn ui_loop(
    app: &mut App,
    terminal: &mut term::Term,
    theme: &theme::Theme,
    rx: &Receiver<Event>,
    slot: &Slot,
    ctl: &Sender<Ctl>,
) -> std::io::Result<Option<i32>> {
    let mut hits = ui::Hits::default();
    terminal.draw(|f| hits = ui::draw(f, app, theme))?;
    while let Ok(first) = rx.recv() {
        // Handle everything already queued, then draw once.
        let mut dirty = false;
        let mut next = Some(first);
        while let Some(ev) = next {
            if let Event::Signal(n) = ev {
                return Ok(Some(n));
            }
            match handle(ev, app, &hits, slot, ctl, terminal) {
                Step::Quit => return Ok(None),
                Step::Redraw => dirty = true,
                Step::Ignored => {}
            }
            next = rx.try_recv().ok();
        }
        if dirty {
            terminal.draw(|f| hits = ui::draw(f, app, theme))?;
        }
    }
    Ok(None)
}

enum Step {
    Quit,
    Redraw,
    Ignored,
}

fn handle(
    ev: Event,
    app: &mut App,
    hits: &ui::Hits,
    slot: &Slot,
    ctl: &Sender<Ctl>,
    terminal: &mut term::Term,
) -> Step {
    let action = match ev {
        Event::Key(k) => keys::action_for(&k, &app.mode),
        Event::Wheel(up) => Some(if up { Action::Up } else { Action::Down }),
        // Clicks act on the table and tabs only while nothing is on top.
        Event::Click(x, y) if app.mode == app::Mode::Normal => hits.click(x, y),
        Event::Click(..) => None,
        Event::Resize(h) => Some(Action::Viewport(ui::viewport_rows(h))),
        Event::Snapshot => {
            let taken = slot.lock().map(|mut g| g.take()).unwrap_or(None);
            taken.map(|r| match r {
                Ok(p) => Action::Prepared(p),
                Err(e) => Action::SourceError(e),
            })
        }
        Event::Quit | Event::Signal(_) => return Step::Quit,
    };
    let Some(action) = action else {
        return Step::Ignored;
    };
    let effect = app.apply(action);
    if let Some(old) = app.take_retired() {
        let _ = ctl.send(Ctl::Free(old));
    }
    match effect {
        Some(Effect::Quit) => return Step::Quit,
        Some(Effect::SetInterval(d)) => {
            let _ = ctl.send(Ctl::Interval(d));
        }
        Some(Effect::SetPaused(p)) => {
            let _ = ctl.send(Ctl::Pause(p));
        }
        Some(Effect::Kill(pid)) => {
            let msg = kill(pid);
            app.apply(Action::Status(msg));
        }
        Some(Effect::Redraw) => {
            let _ = terminal.clear();
        }
        Some(Effect::Mouse(on)) => term::set_mouse(on),
        Some(Effect::Copy(text)) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(osc52(&text).as_bytes());
            let _ = std::io::stdout().flush();
        }
        Some(Effect::Save { path, data, rows }) => {
            app.apply(Action::Status(save(&path, &data, rows)));
        }
        None => {}
    }
    Step::Redraw
}

/// The OSC 52 sequence that puts `text` on the terminal's clipboard (xterm's
/// "Manipulate Selection Data"; tmux passes it on with `set-clipboard on`).
pub fn osc52(text: &str) -> String {
    format!("\x1b]52;c;{}\x07", crate::output::base64(text.as_bytes()))
}

/// Writes a saved view to a new file; returns the message for the status line.
/// An existing file (or a symlink there) is never overwritten: the dashboard
/// often runs as root.
fn save(path: &str, data: &[u8], rows: usize) -> String {
    use std::io::Write;
    let p = std::path::Path::new(path);
    let shown = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
    };
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&shown)
        .and_then(|mut f| f.write_all(data));
    match r {
        Ok(()) => format!("saved {rows} rows to {}", shown.display()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            format!(
                "not saved: {} exists (w again, another name)",
                shown.display()
            )
        }
        Err(e) => format!("not saved: {}: {e}", shown.display()),
    }
}

/// Sends SIGTERM; returns the message for the status line.
fn kill(pid: u32) -> String {
    let Ok(p) = i32::try_from(pid) else {
        return format!("invalid pid {pid}");
    };
    if p <= 0 {
        return format!("invalid pid {pid}");
    }
    // SAFETY: kill(2) with a positive pid and a valid signal has no memory effects.
    let rc = unsafe { libc::kill(p, libc::SIGTERM) };
    if rc == 0 {
        return format!("sent SIGTERM to pid {pid}");
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EPERM) => {
            format!("not permitted to signal pid {pid} (another user's process; try sudo)")
        }
        Some(libc::ESRCH) => format!("pid {pid} no longer exists"),
        _ => format!("cannot signal pid {pid}: {err}"),
    }
}

/// What the collector does to each snapshot before the UI sees it.
struct Work {
    analyzer: alerts::Analyzer,
    prep: prep::Preparer,
    spec: prep::SharedSpec,
}

impl Work {
    fn run(&mut self, s: Snapshot) -> Box<prep::Prepared> {
        let a = self.analyzer.analyze(&s);
        let (version, spec) = match self.spec.lock() {
            Ok(g) => (g.0, g.1.clone()),
            // The UI thread panicked holding it: the dashboard is ending anyway.
            Err(p) => (p.get_ref().0, p.get_ref().1.clone()),
        };
        Box::new(self.prep.prepare(s, a, &spec, version))
    }
}

fn collector(
    mut source: Box<dyn SocketSource>,
    mut work: Work,
    slot: Slot,
    events: Sender<Event>,
    ctl: Receiver<Ctl>,
    mut interval: Duration,
) {
    let mut paused = false;
    loop {
        let started = Instant::now();
        if !paused {
            // The analysis runs here, off the UI thread, and sees every snapshot
            // (the churn rate needs them all, even those the UI skips).
            let r = source
                .snapshot()
                .map(|s| work.run(s))
                .map_err(|e| e.to_string());
            let was_empty = match slot.lock() {
                Ok(mut g) => {
                    let empty = g.is_none();
                    *g = Some(r);
                    empty
                }
                Err(_) => return,
            };
            // Only one wake-up is ever pending: the slot holds the latest.
            if was_empty && events.send(Event::Snapshot).is_err() {
                return;
            }
        }
        loop {
            let msg = if paused {
                ctl.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                let left = (started + interval).saturating_duration_since(Instant::now());
                ctl.recv_timeout(left)
            };
            match msg {
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) | Ok(Ctl::Quit) => return,
                Ok(Ctl::Interval(d)) => interval = d,
                Ok(Ctl::Free(rows)) => drop(rows),
                Ok(Ctl::Pause(p)) => {
                    let resumed = paused && !p;
                    paused = p;
                    if resumed {
                        break;
                    }
                }
            }
        }
    }
}

fn spawn_input(tx: Sender<Event>) -> Result<(), String> {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || loop {
            let ev = match event::read() {
                Ok(CEvent::Key(k)) => Event::Key(k),
                Ok(CEvent::Mouse(m)) => match m.kind {
                    MouseEventKind::ScrollUp => Event::Wheel(true),
                    MouseEventKind::ScrollDown => Event::Wheel(false),
                    MouseEventKind::Down(MouseButton::Left) => Event::Click(m.column, m.row),
                    _ => continue,
                },
                Ok(CEvent::Resize(_, h)) => Event::Resize(h),
                Ok(_) => continue,
                Err(_) => Event::Quit,
            };
            let quit = matches!(ev, Event::Quit);
            if tx.send(ev).is_err() || quit {
                return;
            }
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn spawn_signals(tx: Sender<Event>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])
        .map_err(|e| format!("signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = tx.send(Event::Signal(sig));
                // The UI thread normally quits at once. If it is stuck (writing to a
                // stalled SSH pty), a second signal or 2 s later: restore what can
                // be restored and exit anyway, as a signal-killed process would.
                let second = signals.pending().next().is_some();
                if !second {
                    std::thread::sleep(Duration::from_secs(2));
                }
                term::restore();
                std::process::exit(128 + sig);
            }
        })
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn osc52_carries_the_text_in_base64() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
    }

    #[test]
    fn save_writes_a_new_file_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("v.csv");
        let p = p.to_str().expect("utf-8 path");
        let msg = save(p, b"a,b\n", 1);
        assert_eq!(msg, format!("saved 1 rows to {p}"));
        assert_eq!(std::fs::read(p).expect("read"), b"a,b\n");
        let msg = save(p, b"other", 1);
        assert!(msg.contains("exists"), "{msg}");
        assert_eq!(std::fs::read(p).expect("read"), b"a,b\n", "not overwritten");
        let msg = save(&format!("{p}/nope.csv"), b"x", 1);
        assert!(msg.starts_with("not saved: "), "{msg}");
    }
}
