//! The dashboard's real event loop (`tui::Ui::run`) without a terminal: a
//! recording replayed through the real feed and the dashboard's own
//! preparation, scripted keys on the loop's event channel, ratatui's
//! `TestBackend` as the screen. Each script ends with `Event::Quit` (the end of
//! the input); the assertions read the screen the loop draws when entered
//! again.

use porttop::analysis::{pool::Thresholds, Analyzer};
use porttop::feed::{Control, Feed};
use porttop::source::{FixtureSource, RangeConfig};
use porttop::tui::{self, app::App, rows::Col, theme::Theme, Event, Host, Options};
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use serde_json::json;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

/// A frame: nginx listening on 80 and 443, curl with `n` connections from
/// ephemeral ports to 10.0.0.5:443, postgres on 5432 with one client.
fn frame(ts: u64, n: u16) -> serde_json::Value {
    let mut sockets = vec![
        json!({"proto": "tcp", "family": "ipv4", "local": {"addr": "0.0.0.0", "port": 80},
               "state": "LISTEN", "uid": 0, "user": "root", "inode": 1, "pids": [100]}),
        json!({"proto": "tcp", "family": "ipv4", "local": {"addr": "0.0.0.0", "port": 443},
               "state": "LISTEN", "uid": 0, "user": "root", "inode": 2, "pids": [100]}),
        json!({"proto": "tcp", "family": "ipv4", "local": {"addr": "10.0.0.1", "port": 5432},
               "remote": {"addr": "10.0.0.9", "port": 51000},
               "state": "ESTAB", "uid": 0, "user": "root", "inode": 3, "pids": [300]}),
    ];
    for i in 0..n {
        sockets.push(json!({"proto": "tcp", "family": "ipv4",
            "local": {"addr": "10.0.0.1", "port": 40100 + i},
            "remote": {"addr": "10.0.0.5", "port": 443},
            "state": "ESTAB", "uid": 0, "user": "root",
            "inode": 1000 + u64::from(i), "pids": [200]}));
    }
    let proc = |pid: u32, name: &str| json!({"pid": pid, "name": name, "uid": 0, "user": "root", "cmdline": name});
    json!({"taken_at_ms": ts, "host": "rechost",
           "range": {"low": 32768, "high": 60999, "reserved": [], "source": "rec"},
           "partial": false, "sockets": sockets,
           "processes": {"100": proc(100, "nginx"), "200": proc(200, "curl"),
                         "300": proc(300, "postgres")}})
}

#[derive(Default)]
struct Recorder {
    mouse: Vec<bool>,
    copied: Vec<String>,
}

impl Host for Recorder {
    fn set_mouse(&mut self, on: bool) {
        self.mouse.push(on);
    }
    fn copy(&mut self, osc52: &str) {
        self.copied.push(osc52.to_string());
    }
}

struct Rig {
    app: App,
    terminal: Terminal<TestBackend>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    prepared: tui::Prepared,
    ctl: Control,
    host: Recorder,
    _dir: tempfile::TempDir,
}

impl Rig {
    /// The recording fed through the feed to its end (its last frame waits in
    /// the cell, the wake-up in the channel), before any key.
    fn new() -> Rig {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rec.jsonl");
        let text: String = [frame(1_000, 2), frame(2_000, 3)]
            .iter()
            .map(|f| format!("{f}\n"))
            .collect();
        std::fs::write(&path, text).expect("write");
        let cfg = RangeConfig::default();
        let range = cfg.resolve().expect("range");
        let src = FixtureSource::open(&path, cfg, range).expect("recording");
        let mut feed = Feed::new(Box::new(src), Analyzer::new(Thresholds::default(), 50))
            .interval(Duration::from_secs(1))
            .paced(false);
        let opts = Options {
            filter: Default::default(),
            interval: Duration::from_secs(1),
            keep_closed: 2,
            no_color: true,
            replay: true,
            view: tui::app::View::All,
            columns: Col::ALL.to_vec(),
        };
        let mut app = tui::new_app(&opts);
        let (tx, rx) = mpsc::channel();
        let (mut prep, prepared) = tui::consumer(&mut app, opts.keep_closed, tx.clone());
        let end = feed.run(&mut prep);
        assert_eq!(end, porttop::feed::End::Done, "the recording ends the feed");
        let ctl = feed.control();
        let terminal = Terminal::new(TestBackend::new(120, 30)).expect("backend");
        app.apply(tui::app::Action::Viewport(tui::ui::viewport_rows(30)));
        Rig {
            app,
            terminal,
            tx,
            rx,
            prepared,
            ctl,
            host: Recorder::default(),
            _dir: dir,
        }
    }

    /// Sends the keys (then the end of input) and runs the loop until it
    /// returns; the screen as text.
    fn keys(&mut self, keys: &[KeyCode]) -> (Option<i32>, String) {
        for k in keys {
            let _ = self
                .tx
                .send(Event::Key(KeyEvent::new(*k, KeyModifiers::NONE)));
        }
        let _ = self.tx.send(Event::Quit);
        let theme = Theme::mono();
        let mut ui = tui::Ui {
            app: &mut self.app,
            theme: &theme,
            prepared: &self.prepared,
            ctl: &self.ctl,
            host: &mut self.host,
            test_panic: false,
        };
        let r = ui.run(&mut self.terminal, &self.rx).expect("loop");
        // What was left unread (after a quit key) is dropped with the script.
        while self.rx.try_recv().is_ok() {}
        // The loop does not draw on its way out; entering it draws first.
        let _ = self.tx.send(Event::Quit);
        ui.run(&mut self.terminal, &self.rx).expect("loop");
        (r, screen(self.terminal.backend().buffer()))
    }

    fn typed(&mut self, s: &str) -> Vec<KeyCode> {
        s.chars().map(KeyCode::Char).collect()
    }
}

fn screen(b: &ratatui::buffer::Buffer) -> String {
    let w = usize::from(b.area.width);
    b.content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The table's lines (below the header row with PROTO), in order.
fn rows(s: &str) -> Vec<&str> {
    s.lines()
        .skip_while(|l| !l.contains("PROTO"))
        .skip(1)
        // A mark, a space, the protocol (the status line may quote a row too).
        .filter(|l| {
            l.get(2..)
                .is_some_and(|r| r.starts_with("tcp") || r.starts_with("udp"))
        })
        .collect()
}

#[test]
fn the_loop_shows_the_recording_and_filters_sorts_and_switches_views() {
    let mut rig = Rig::new();
    let (r, s) = rig.keys(&[]);
    assert_eq!(r, None);
    assert!(s.contains("rechost") && s.contains("(replay)"), "{s}");
    // The last frame, its new connection marked against the one before.
    assert_eq!(rows(&s).len(), 6, "{s}");
    assert!(s.contains("40102"), "{s}");

    // Filter: only postgres' socket is left.
    let mut k = vec![KeyCode::Char('/')];
    k.extend(rig.typed("port:5432"));
    k.push(KeyCode::Enter);
    let (_, s) = rig.keys(&k);
    assert_eq!(rows(&s).len(), 1, "{s}");
    assert!(
        rows(&s)[0].contains("5432") && s.contains("postgres"),
        "{s}"
    );
    // Esc clears it.
    let (_, s) = rig.keys(&[KeyCode::Esc]);
    assert_eq!(rows(&s).len(), 6, "{s}");

    // Sort: reversing puts the other end of the order first.
    let first = rows(&s)[0].to_string();
    let (_, s) = rig.keys(&[KeyCode::Char('S')]);
    assert_ne!(rows(&s)[0], first, "{s}");
    assert_eq!(rows(&s).last().copied(), Some(first.as_str()), "{s}");

    // Listening view: the two listeners only.
    let (_, s) = rig.keys(&[KeyCode::Char('2')]);
    assert_eq!(rows(&s).len(), 2, "{s}");
    assert!(rows(&s).iter().all(|l| l.contains("LISTEN")), "{s}");
    // Ephemeral view: one destination, curl's three connections.
    let (_, s) = rig.keys(&[KeyCode::Char('4')]);
    assert!(s.contains("10.0.0.5:443"), "{s}");
    assert!(!s.contains("5432"), "{s}");
}

#[test]
fn the_loop_drills_into_a_process_pauses_and_quits() {
    let mut rig = Rig::new();
    // Processes view, most sockets first: curl (3). Enter lists its sockets.
    let (_, s) = rig.keys(&[KeyCode::Char('5')]);
    let first = s
        .lines()
        .find(|l| l.contains("curl") || l.contains("nginx") || l.contains("postgres"))
        .unwrap_or_default();
    assert!(first.contains("curl"), "{s}");
    let (_, s) = rig.keys(&[KeyCode::Enter]);
    assert_eq!(rows(&s).len(), 3, "{s}");
    assert!(rows(&s).iter().all(|l| l.contains("curl")), "{s}");
    // Back returns to the group list.
    let (_, s) = rig.keys(&[KeyCode::Backspace]);
    assert!(s.contains("nginx") && s.contains("postgres"), "{s}");

    // Pause shows in the header; the feed is told (its channel is open).
    let (_, s) = rig.keys(&[KeyCode::Char('p')]);
    assert!(s.contains("PAUSED"), "{s}");
    let (_, s) = rig.keys(&[KeyCode::Char('p')]);
    assert!(!s.contains("PAUSED") && s.contains("every 1s"), "{s}");

    // m and y reach the terminal's host, not stdout.
    let (_, _) = rig.keys(&[KeyCode::Char('1'), KeyCode::Char('m'), KeyCode::Char('y')]);
    assert_eq!(rig.host.mouse, vec![false]);
    assert!(rig.host.copied[0].starts_with("\x1b]52;c;"));

    // q ends the loop at once: the keys after it are never handled.
    let _ = rig.tx.send(Event::Key(KeyEvent::new(
        KeyCode::Char('q'),
        KeyModifiers::NONE,
    )));
    let (r, s) = rig.keys(&[KeyCode::Char('2')]);
    assert_eq!(r, None);
    assert_eq!(rows(&s).len(), 6, "still the All view: {s}");
    // A signal ends it with the signal's number.
    let _ = rig.tx.send(Event::Signal(1));
    let (r, _) = rig.keys(&[]);
    assert_eq!(r, Some(1));
}
