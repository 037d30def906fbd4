//! The live dashboard (`porttop` with no subcommand).
//!
//! Threads: the feed (`crate::feed`) takes the snapshots and runs the
//! dashboard's preparation (`prep::Prep`) on its own thread, publishing each
//! prepared refresh in a latest-value cell (a slow UI never sees stale ones
//! queued); an input thread forwards terminal events; the one signal thread
//! turns SIGTERM/SIGHUP/SIGINT into an event. The UI thread blocks on ONE event
//! channel and redraws only when something changed. Nothing here touches the
//! OS: signals to processes go through `crate::actions`.

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

use crate::feed::{Control, Feed, Latest};
use crate::filter::Filter;
use app::{Action, App, Effect, Msg};
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event as CEvent, KeyEvent, MouseButton, MouseEventKind};
use ratatui::Terminal;
use std::io::IsTerminal;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// Dashboard settings from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub filter: Filter,
    pub interval: Duration,
    pub keep_closed: u32,
    pub no_color: bool,
    pub replay: bool,
    /// The view to open on, and the socket table's columns.
    pub view: app::View,
    pub columns: Vec<rows::Col>,
}

/// What the UI thread waits for.
pub enum Event {
    Key(KeyEvent),
    Wheel(bool),
    /// A left click at (column, row).
    Click(u16, u16),
    Resize(u16),
    /// A prepared refresh (or an error) is waiting in the cell.
    Snapshot,
    /// The terminal's input ended.
    Quit,
    /// SIGTERM, SIGHUP or SIGINT: quit, and exit with 128 + the signal.
    Signal(i32),
}

/// Where the feed's preparation leaves each refresh for the UI.
pub type Prepared = Latest<Result<Box<prep::Prepared>, String>>;

/// The app as `opts` set it up.
pub fn new_app(opts: &Options) -> App {
    let mut app = App::new(opts.filter.clone(), opts.interval, opts.replay);
    // `--columns` / config `columns`: the others start hidden (the column
    // chooser shows them again); the order is the table's own.
    app.hidden = rows::Col::ALL
        .into_iter()
        .filter(|c| !opts.columns.contains(c))
        .collect();
    app.apply(Action::View(opts.view));
    app
}

/// The dashboard's consumer of `feed`: prepares for the spec `app` shares, and
/// wakes the UI through `tx`.
pub fn consumer(app: &mut App, keep_closed: u32, tx: Sender<Event>) -> (prep::Prep, Prepared) {
    let out = Prepared::default();
    let prep = prep::Prep {
        preparer: prep::Preparer::new(keep_closed, Feed::privileged()),
        spec: app.share_spec(),
        out: out.clone(),
        wake: Box::new(move || tx.send(Event::Snapshot).is_ok()),
    };
    (prep, out)
}

/// Runs the dashboard on `feed` until the user quits; returns the exit status.
pub fn run(feed: Feed, opts: Options) -> Result<i32, String> {
    if !std::io::stdout().is_terminal() {
        return Err(
            "the dashboard needs a terminal on stdout; use `porttop list` for plain output".into(),
        );
    }
    let theme = theme::Theme::from_env(opts.no_color);
    // A hidden trigger for the test that proves the panic hook restores the
    // terminal: a panic inside a render, once data is on screen. Read once here,
    // never while drawing.
    let test_panic = std::env::var_os("PORTTOP_TEST_PANIC").is_some();
    let mut app = new_app(&opts);
    let (tx, rx) = mpsc::channel::<Event>();
    let (mut prep, prepared) = consumer(&mut app, opts.keep_closed, tx.clone());
    let ctl = feed.control();
    let mut feed = feed.detail_shown(app.share_shown());
    std::thread::Builder::new()
        .name("collector".into())
        .spawn(move || feed.run(&mut prep))
        .map_err(|e| e.to_string())?;
    let _signals = on_signals(tx.clone())?;
    let (guard, mut terminal) = term::Guard::enter().map_err(|e| format!("terminal: {e}"))?;
    spawn_input(tx)?;
    if let Ok(size) = terminal.size() {
        app.apply(Action::Viewport(ui::viewport_rows(size.height)));
    }
    let mut ui = Ui {
        app: &mut app,
        theme: &theme,
        prepared: &prepared,
        ctl: &ctl,
        host: &mut term::Host,
        test_panic,
    };
    let result = ui.run(&mut terminal, &rx);
    ctl.stop();
    drop(terminal);
    drop(guard);
    // A signal ends the process with 128 + its number, as if it had been killed.
    result
        .map(|sig| sig.map_or(0, |n| 128 + n))
        .map_err(|e| format!("terminal: {e}"))
}

/// What the loop does to the terminal besides drawing (a test records it).
pub trait Host {
    fn set_mouse(&mut self, on: bool);
    /// Writes an OSC 52 sequence that puts text on the clipboard.
    fn copy(&mut self, osc52: &str);
}

/// The event loop: the app, what it draws with, and where it takes refreshes
/// from and sends its wishes to the feed.
pub struct Ui<'a> {
    pub app: &'a mut App,
    pub theme: &'a theme::Theme,
    pub prepared: &'a Prepared,
    pub ctl: &'a Control,
    pub host: &'a mut dyn Host,
    pub test_panic: bool,
}

impl Ui<'_> {
    /// Draws, then handles events until the user quits (None), a signal arrives
    /// (its number) or the event stream ends.
    pub fn run<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        rx: &Receiver<Event>,
    ) -> Result<Option<i32>, B::Error> {
        self.app.publish_shown();
        let mut hits = self.draw(terminal)?;
        while let Ok(first) = rx.recv() {
            // Handle everything already queued, then draw once.
            let mut dirty = false;
            let mut next = Some(first);
            while let Some(ev) = next {
                if let Event::Signal(n) = ev {
                    return Ok(Some(n));
                }
                match self.handle(ev, &hits, terminal) {
                    Step::Quit => return Ok(None),
                    Step::Redraw => dirty = true,
                    Step::Ignored => {}
                }
                next = rx.try_recv().ok();
            }
            if dirty {
                if self.app.publish_shown() {
                    self.ctl.refresh_now();
                }
                hits = self.draw(terminal)?;
            }
        }
        Ok(None)
    }

    fn draw<B: Backend>(&self, terminal: &mut Terminal<B>) -> Result<ui::Hits, B::Error> {
        let mut hits = ui::Hits::default();
        let (app, theme) = (&*self.app, self.theme);
        let panic = self.test_panic && app.data.snap.is_some();
        terminal.draw(|f| {
            if panic {
                panic!("injected test panic (PORTTOP_TEST_PANIC)");
            }
            hits = ui::draw(f, app, theme);
        })?;
        Ok(hits)
    }

    fn handle<B: Backend>(
        &mut self,
        ev: Event,
        hits: &ui::Hits,
        terminal: &mut Terminal<B>,
    ) -> Step {
        let app = &mut *self.app;
        let action = match ev {
            Event::Key(k) => keys::action_for(&k, &app.mode),
            Event::Wheel(up) => Some(if up { Action::Up } else { Action::Down }),
            // Clicks act on the table and tabs only while nothing is on top.
            Event::Click(x, y) if app.mode == app::Mode::Normal => hits.click(x, y),
            Event::Click(..) => None,
            Event::Resize(h) => Some(Action::Viewport(ui::viewport_rows(h))),
            Event::Snapshot => {
                let Some(r) = self.prepared.take() else {
                    return Step::Ignored;
                };
                app.receive(match r {
                    Ok(p) => Msg::Prepared(p),
                    Err(e) => Msg::SourceError(e),
                });
                if let Some(old) = app.take_retired() {
                    self.ctl.free(Box::new(old));
                }
                self.ctl.taken();
                return Step::Redraw;
            }
            Event::Quit | Event::Signal(_) => return Step::Quit,
        };
        let Some(action) = action else {
            return Step::Ignored;
        };
        match app.apply(action) {
            Some(Effect::Quit) => return Step::Quit,
            Some(Effect::SetInterval(d)) => self.ctl.set_interval(d),
            Some(Effect::SetPaused(p)) => self.ctl.pause(p),
            Some(Effect::Pin(owners)) => app.receive(Msg::Pinned(pin(&owners))),
            Some(Effect::Signal(targets, sig)) => app.receive(Msg::Status(signal(&targets, sig))),
            Some(Effect::CloseSocket(c)) => app.receive(Msg::Status(close(&c))),
            Some(Effect::Redraw) => {
                let _ = terminal.clear();
            }
            Some(Effect::Mouse(on)) => self.host.set_mouse(on),
            Some(Effect::Copy(text)) => self.host.copy(&osc52(&text)),
            Some(Effect::Save { path, data, rows }) => {
                app.receive(Msg::Status(save(&path, &data, rows)));
            }
            None => {}
        }
        Step::Redraw
    }
}

enum Step {
    Quit,
    Redraw,
    Ignored,
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

/// Pins every owner now (a pidfd each), while the user is asked: what is
/// signalled later is these processes, never a later holder of their pids.
fn pin(owners: &[(u32, String)]) -> Vec<Result<crate::actions::Pinned, String>> {
    crate::actions::pin_all(owners)
        .into_iter()
        .map(|r| r.map_err(|e| e.to_string()))
        .collect()
}

/// Signals the pinned processes; returns the message for the status line. The
/// one place the dashboard acts on processes.
fn signal(targets: &[crate::actions::Pinned], sig: crate::actions::Sig) -> String {
    let lines: Vec<String> = crate::actions::signal_all(targets, sig)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| e.to_string()))
        .collect();
    crate::output::safe(&lines.join("; ")).into_owned()
}

/// Closes the connection (SOCK_DESTROY); the message for the status line.
fn close(c: &app::Closing) -> String {
    close_status(c, crate::actions::close_socket(&c.sock, c.netns.as_deref()))
}

/// The status line for a close's outcome: what was closed, or why not in the
/// action's one line (CAP_NET_ADMIN missing, a kernel without
/// CONFIG_INET_DIAG_DESTROY, already closed...).
pub(crate) fn close_status(c: &app::Closing, r: Result<(), crate::actions::ActionError>) -> String {
    let s = &c.sock;
    let what = format!(
        "{} -> {}{}",
        s.local,
        s.remote.map_or_else(|| "*".into(), |r| r.to_string()),
        c.netns_note()
    );
    match r {
        Ok(()) => format!("closed {what}"),
        Err(e) => format!("not closed: {what}: {e}"),
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

/// SIGTERM, SIGHUP and SIGINT become `Event::Signal` (through the feed's one
/// signal mechanism). The UI thread normally quits at once. If it is stuck
/// (writing to a stalled SSH pty), a second signal or 2 s later: restore what
/// can be restored and exit anyway, as a signal-killed process would.
fn on_signals(tx: Sender<Event>) -> Result<crate::feed::Hook, String> {
    let first = std::sync::atomic::AtomicBool::new(true);
    crate::feed::on_signal(move |sig| {
        if !first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            term::restore();
            std::process::exit(128 + sig);
        }
        let _ = tx.send(Event::Signal(sig));
        let _ = std::thread::Builder::new()
            .name("signal-deadline".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_secs(2));
                term::restore();
                std::process::exit(128 + sig);
            });
    })
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
