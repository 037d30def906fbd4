//! The Feed: the one collector loop of every long-running command (the
//! dashboard, `serve`, `watch`, `record`, `pool --sample` and `pool --replay`).
//!
//! A `Feed` owns the `SocketSource`, the one `analysis::Analyzer` (the churn
//! history needs every snapshot, also those a consumer skips), the interval
//! (changeable while it runs), pause, and the stop: SIGTERM, SIGINT and SIGHUP
//! (through [`on_signal`]), a `Control::stop` from another thread, a snapshot
//! limit, a deadline, or a recording that ends. Each refresh hands a [`Frame`]
//! (the snapshot and its analysis) to a [`Consumer`] running on the feed's
//! thread: the dashboard's preparation, serve's renderer, watch's differ,
//! record's writer, pool's report. Its waits are blocking receives on one
//! control channel, so a control message (or a signal) cuts them short: no
//! polling sleep anywhere.
//!
//! [`Latest`] is the one latest-value cell (a slow reader never sees stale
//! values queued): the dashboard's prepared refresh and view spec, serve's
//! rendered state.

use crate::analysis::{Analysis, Analyzer};
use crate::model::Snapshot;
pub use crate::source::{SocketSource, SourceError};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A value written by one thread and read (or taken) by others, where only the
/// latest matters.
pub struct Latest<T>(Arc<Mutex<Option<T>>>);

impl<T> Clone for Latest<T> {
    fn clone(&self) -> Self {
        Latest(Arc::clone(&self.0))
    }
}

impl<T> Default for Latest<T> {
    fn default() -> Self {
        Latest(Arc::new(Mutex::new(None)))
    }
}

impl<T> Latest<T> {
    pub fn new(v: T) -> Self {
        Latest(Arc::new(Mutex::new(Some(v))))
    }

    /// The lock, also after a panic elsewhere: every critical section here is a
    /// single replace, take or clone, so the value is whole even then.
    fn lock(&self) -> MutexGuard<'_, Option<T>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the value; true when the cell was empty (no reader was told yet).
    /// A value replaced unread is dropped after the lock is released: a
    /// dashboard refresh not taken in time holds 500,000 rows, and freeing them
    /// under the lock would hold up the UI's next `take`.
    pub fn put(&self, v: T) -> bool {
        let old = self.lock().replace(v);
        old.is_none()
    }

    pub fn take(&self) -> Option<T> {
        self.lock().take()
    }

    /// Whether a value waits to be taken.
    pub fn is_set(&self) -> bool {
        self.lock().is_some()
    }
}

impl<T: Clone> Latest<T> {
    /// A copy of the value (for `Arc`s: another pointer).
    pub fn get(&self) -> Option<T> {
        self.lock().clone()
    }
}

/// Which snapshots the feed analyses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Analyze {
    /// Every one (the dashboard, serve, watch).
    Every,
    /// Only the last (at the limit or a recording's end); the others only feed
    /// the churn history and are not handed on (`pool`).
    Last,
    /// None (`record`).
    Never,
}

/// One refresh.
pub struct Frame {
    pub snap: Snapshot,
    /// None when the feed was told not to analyse (`Analyze::Never`).
    pub analysis: Option<Analysis>,
}

/// Whether the feed goes on after a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Go,
    Stop,
}

/// Runs on the feed's thread, once per refresh: `r` is the refresh started at
/// `started` (the snapshot and its analysis are done).
pub trait Consumer {
    fn refresh(&mut self, r: Result<Frame, SourceError>, started: Instant) -> Flow;

    /// Its last output still waits to be taken by another thread (the
    /// dashboard's UI has not installed the last refresh): the feed takes no
    /// snapshot until it is, and a `Control::taken` tells it to look again.
    /// So a refresh is never built while the one before it waits, which at
    /// 500,000 sockets would hold a third generation of rows.
    fn pending(&self) -> bool {
        false
    }
}

impl<F: FnMut(Result<Frame, SourceError>, Instant) -> Flow> Consumer for F {
    fn refresh(&mut self, r: Result<Frame, SourceError>, started: Instant) -> Flow {
        self(r, started)
    }
}

/// Why a feed ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// SIGTERM, SIGINT or SIGHUP (its number).
    Signal(i32),
    /// The consumer said stop, the limit or the deadline was reached, or the
    /// recording ended.
    Done,
    /// `Control::stop`.
    Stopped,
}

impl End {
    /// The exit status of a command that ended this way: 128 + the signal, as a
    /// shell reports a process killed by it; else 0.
    pub fn exit_code(self) -> i32 {
        match self {
            End::Signal(n) => 128 + n,
            End::Done | End::Stopped => 0,
        }
    }
}

enum Ctl {
    Interval(Duration),
    Pause(bool),
    /// Freed on the feed's thread, not the sender's (the dashboard's old rows).
    Free(Box<dyn Send>),
    /// The consumer's output was taken (see `Consumer::pending`).
    Taken,
    Stop,
    Signal(i32),
    Now,
}

/// Steers a running feed from another thread; every message cuts its wait short.
#[derive(Clone)]
pub struct Control(Sender<Ctl>);

impl Control {
    pub fn set_interval(&self, d: Duration) {
        let _ = self.0.send(Ctl::Interval(d));
    }

    /// Paused, the feed takes no snapshot; resumed, it takes one at once.
    pub fn pause(&self, paused: bool) {
        let _ = self.0.send(Ctl::Pause(paused));
    }

    /// Drops `v` on the feed's thread.
    pub fn free(&self, v: Box<dyn Send>) {
        let _ = self.0.send(Ctl::Free(v));
    }

    pub fn stop(&self) {
        let _ = self.0.send(Ctl::Stop);
    }

    /// The consumer's last output was taken: a feed waiting for that
    /// (`Consumer::pending`) goes on.
    pub fn taken(&self) {
        let _ = self.0.send(Ctl::Taken);
    }

    /// The next snapshot at once, not at the interval (unless paused): the
    /// dashboard asks when what it shows needs more than the last snapshot
    /// had (every connection's tcp_info for a view that sums it).
    pub fn refresh_now(&self) {
        let _ = self.0.send(Ctl::Now);
    }
}

pub struct Feed {
    source: Box<dyn SocketSource>,
    analyzer: Analyzer,
    analyze: Analyze,
    interval: Duration,
    paused: bool,
    /// Wait the interval between snapshots (false: a recording read as fast as
    /// its consumer takes it; its frames carry their own times).
    paced: bool,
    limit: Option<u64>,
    deadline: Option<Instant>,
    taken: u64,
    /// When the last snapshot was started (None: the next one is due now).
    last: Option<Instant>,
    /// How long the last refresh took, its consumer's part included: the next
    /// one starts no sooner than this long after it ended (`Feed::due_after`).
    took: Duration,
    tx: Sender<Ctl>,
    rx: Receiver<Ctl>,
    _signals: Option<Hook>,
    /// Of which sockets a consumer shows the per-connection detail (the
    /// dashboard's rows on screen), handed to the source before a snapshot.
    shown: Option<Latest<crate::model::conn::Shown>>,
}

impl Feed {
    /// A feed of `source`, analysed by `analyzer`, every second until told
    /// otherwise.
    pub fn new(source: Box<dyn SocketSource>, analyzer: Analyzer) -> Self {
        let (tx, rx) = mpsc::channel();
        Feed {
            source,
            analyzer,
            analyze: Analyze::Every,
            interval: Duration::from_secs(1),
            paused: false,
            paced: true,
            limit: None,
            deadline: None,
            taken: 0,
            last: None,
            took: Duration::ZERO,
            tx,
            rx,
            _signals: None,
            shown: None,
        }
    }

    pub fn interval(mut self, d: Duration) -> Self {
        self.interval = d;
        self
    }

    /// Before each snapshot, tells the source what `cell` says is shown.
    pub fn detail_shown(mut self, cell: Latest<crate::model::conn::Shown>) -> Self {
        self.shown = Some(cell);
        self
    }

    pub fn analyze(mut self, a: Analyze) -> Self {
        self.analyze = a;
        self
    }

    /// false: no wait between snapshots (a recording converted or diffed at once).
    pub fn paced(mut self, paced: bool) -> Self {
        self.paced = paced;
        self
    }

    /// Ends after `n` snapshots.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Ends at `t` (checked between snapshots; a wait ends there).
    pub fn until(mut self, t: Instant) -> Self {
        self.deadline = Some(t);
        self
    }

    /// SIGTERM, SIGINT and SIGHUP end the feed (between snapshots: a frame being
    /// written is finished first).
    pub fn stop_on_signals(mut self) -> Result<Self, String> {
        let tx = self.tx.clone();
        self._signals = Some(on_signal(move |n| {
            let _ = tx.send(Ctl::Signal(n));
        })?);
        Ok(self)
    }

    pub fn control(&self) -> Control {
        Control(self.tx.clone())
    }

    /// Whether porttop runs as root here (euid 0): what decides how the
    /// dashboard explains a socket without a process. It does not change while
    /// porttop runs.
    pub fn privileged() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// Refreshes until the feed ends; returns why.
    pub fn run(&mut self, c: &mut dyn Consumer) -> End {
        loop {
            if let Some(end) = self.wait(&*c) {
                return end;
            }
            if let Some(end) = self.step(c) {
                return end;
            }
        }
    }

    /// One snapshot now, handed to `c` (serve's first refresh, before it
    /// listens). Some: the feed is over.
    pub fn step(&mut self, c: &mut dyn Consumer) -> Option<End> {
        let started = Instant::now();
        self.last = Some(started);
        if let Some(shown) = self.shown.as_ref().and_then(Latest::take) {
            self.source.show_detail(&shown);
        }
        let r = self.source.snapshot();
        self.taken += 1;
        let last = self.limit.is_some_and(|n| self.taken >= n) || self.source.at_end();
        let r = match r {
            Ok(snap) => {
                let analysis = match self.analyze {
                    Analyze::Every => Some(self.analyzer.analyze(&snap)),
                    Analyze::Last if last => Some(self.analyzer.analyze(&snap)),
                    Analyze::Last => {
                        self.analyzer.observe(&snap);
                        // `took` stays as it was (zero): `pool --sample`'s
                        // samples keep their window, never stretched.
                        return None;
                    }
                    Analyze::Never => None,
                };
                Ok(Frame { snap, analysis })
            }
            Err(e) => Err(e),
        };
        let flow = c.refresh(r, started);
        self.took = started.elapsed();
        if flow == Flow::Stop || last {
            return Some(End::Done);
        }
        None
    }

    /// When the next snapshot is due after one started at `t`: the interval
    /// later, stretched to twice the last refresh's length when that is longer
    /// (at 500,000 sockets a refresh takes ~2 s). The feed's thread then works
    /// at most half the time: it never takes a whole core from a busy host, and
    /// the dashboard's own UI thread keeps one to answer keys on.
    fn due_after(&self, t: Instant) -> Instant {
        t + period(self.interval, self.took)
    }

    /// Waits until the next snapshot is due and `c`'s last output was taken,
    /// handling control messages; Some: the feed is over.
    fn wait(&mut self, c: &dyn Consumer) -> Option<End> {
        loop {
            let now = Instant::now();
            if self.deadline.is_some_and(|d| now >= d) {
                return Some(End::Done);
            }
            // (an unpaced recording is read as fast as it goes: the latest wins)
            let due = if self.paused || (self.paced && c.pending()) {
                None
            } else {
                match self.last {
                    Some(t) if self.paced => Some(self.due_after(t)),
                    _ => Some(now),
                }
            };
            let until = match (due, self.deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let msg = match until {
                Some(t) => self.rx.recv_timeout(t.saturating_duration_since(now)),
                // (the feed holds a sender itself: never disconnected)
                None => self.rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match msg {
                Err(RecvTimeoutError::Timeout) => {
                    if due.is_some_and(|d| Instant::now() >= d) {
                        return None;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Some(End::Stopped),
                Ok(Ctl::Interval(d)) => self.interval = d,
                Ok(Ctl::Pause(p)) => {
                    if self.paused && !p {
                        self.last = None;
                    }
                    self.paused = p;
                }
                Ok(Ctl::Free(v)) => drop(v),
                Ok(Ctl::Taken) => {}
                Ok(Ctl::Stop) => return Some(End::Stopped),
                Ok(Ctl::Signal(n)) => return Some(End::Signal(n)),
                Ok(Ctl::Now) => {
                    if !self.paused {
                        self.last = None;
                    }
                }
            }
        }
    }

    /// What the source has to say (a recording's cut last line).
    pub fn take_note(&mut self) -> Option<String> {
        self.source.take_note()
    }
}

/// The time from one snapshot's start to the next's: the interval asked for,
/// or twice the last refresh's length `took` when that is longer (the one rule
/// of `Feed::due_after`, which the dashboard's header also shows).
pub fn period(interval: Duration, took: Duration) -> Duration {
    interval.max(took.saturating_mul(2))
}

type HookFn = Box<dyn Fn(i32) + Send>;

/// The hooks run on the signal thread, in the order they were added.
static HOOKS: Mutex<Vec<(u64, HookFn)>> = Mutex::new(Vec::new());
static STARTED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();

/// A registered signal hook; dropping it removes the hook.
pub struct Hook(u64);

impl Drop for Hook {
    fn drop(&mut self) {
        hooks().retain(|(id, _)| *id != self.0);
    }
}

fn hooks() -> MutexGuard<'static, Vec<(u64, HookFn)>> {
    HOOKS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The one stop mechanism for SIGTERM, SIGINT and SIGHUP: the first call starts
/// a thread that receives them (signal_hook's self-pipe: the handler itself only
/// writes a byte, which is async-signal-safe) and calls every hook with the
/// signal's number. With no hook left (a command winding down), a signal ends
/// the process with 128 + its number, as the default action would.
pub fn on_signal(f: impl Fn(i32) + Send + 'static) -> Result<Hook, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    STARTED.get_or_init(start_signal_thread).clone()?;
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    hooks().push((id, Box::new(f)));
    Ok(Hook(id))
}

fn start_signal_thread() -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let hooks = hooks();
                if hooks.is_empty() {
                    std::process::exit(128 + sig);
                }
                hooks.iter().for_each(|(_, h)| h(sig));
            }
        })
        .map(|_| ())
        .map_err(|e| format!("signals: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PortRange, Snapshot};

    /// Frames at 1 ms, 2 ms, ...; `n` of them, then the recording is used up.
    struct Frames {
        left: u64,
        at: u64,
    }

    impl SocketSource for Frames {
        fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
            self.left = self.left.saturating_sub(1);
            self.at += 1;
            Ok(Snapshot {
                taken_at_ms: self.at,
                host: "h".into(),
                range: PortRange::linux_default(),
                partial: false,
                counters: None,
                sockets: Vec::new(),
                processes: Default::default(),
                netns: Vec::new(),
            })
        }

        fn at_end(&self) -> bool {
            self.left == 0
        }
    }

    fn frames(n: u64) -> Box<dyn SocketSource> {
        Box::new(Frames { left: n, at: 0 })
    }

    #[test]
    fn a_recording_that_ends_ends_the_feed_after_its_last_frame() {
        let mut seen = Vec::new();
        let mut f = Feed::new(frames(3), Analyzer::default()).paced(false);
        let end = f.run(&mut |r: Result<Frame, SourceError>, _: Instant| {
            let fr = r.expect("frame");
            assert!(fr.analysis.is_some());
            seen.push(fr.snap.taken_at_ms);
            Flow::Go
        });
        assert_eq!(end, End::Done);
        assert_eq!(seen, [1, 2, 3]);
    }

    #[test]
    fn the_last_mode_analyses_only_the_last_and_the_limit_ends() {
        let mut seen = Vec::new();
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .paced(false)
            .analyze(Analyze::Last)
            .limit(4);
        f.run(&mut |r: Result<Frame, SourceError>, _: Instant| {
            let fr = r.expect("frame");
            seen.push((fr.snap.taken_at_ms, fr.analysis.is_some()));
            Flow::Go
        });
        assert_eq!(seen, [(4, true)]);
    }

    /// Puts each frame's time in `out`, as the dashboard's preparation does.
    struct Handing {
        out: Latest<u64>,
        seen: Vec<u64>,
    }

    impl Consumer for Handing {
        fn refresh(&mut self, r: Result<Frame, SourceError>, _: Instant) -> Flow {
            let t = r.expect("frame").snap.taken_at_ms;
            self.seen.push(t);
            self.out.put(t);
            Flow::Go
        }

        fn pending(&self) -> bool {
            self.out.is_set()
        }
    }

    #[test]
    fn a_paced_feed_waits_until_its_last_output_is_taken() {
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .interval(Duration::from_millis(1))
            .analyze(Analyze::Never);
        let ctl = f.control();
        let out = Latest::default();
        let reader = {
            let (out, ctl) = (out.clone(), ctl.clone());
            std::thread::spawn(move || {
                let mut got = Vec::new();
                // Nothing is taken for 300 ms (300 intervals): one frame only.
                std::thread::sleep(Duration::from_millis(300));
                while got.len() < 3 {
                    if let Some(t) = out.take() {
                        got.push(t);
                        ctl.taken();
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                ctl.stop();
                got
            })
        };
        let mut c = Handing {
            out: out.clone(),
            seen: Vec::new(),
        };
        assert_eq!(f.run(&mut c), End::Stopped);
        let got = reader.join().expect("reader");
        // Every frame made was taken, in order: none was built while the one
        // before it waited (at most one more, made after the last take).
        assert_eq!(got, [1, 2, 3]);
        assert!(c.seen.len() <= 4, "{:?}", c.seen);
        assert_eq!(&c.seen[..3], &[1, 2, 3]);
    }

    #[test]
    fn a_stop_cuts_a_long_wait_short_and_pause_holds_snapshots() {
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .interval(Duration::from_secs(3600))
            .analyze(Analyze::Never);
        let ctl = f.control();
        let t0 = Instant::now();
        let mut n = 0;
        let end = f.run(&mut |_r: Result<Frame, SourceError>, _: Instant| {
            n += 1;
            if n == 1 {
                // Resuming takes one at once, despite the hour-long interval.
                ctl.pause(true);
                ctl.pause(false);
            } else {
                ctl.stop();
            }
            Flow::Go
        });
        assert_eq!((end, n), (End::Stopped, 2));
        assert!(t0.elapsed() < Duration::from_secs(60));
    }

    /// A source whose every snapshot takes `slow`.
    struct Slow(Duration);

    impl SocketSource for Slow {
        fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
            std::thread::sleep(self.0);
            frames(1).snapshot()
        }
    }

    #[test]
    fn a_refresh_longer_than_the_interval_stretches_the_wait_to_twice_its_length() {
        let slow = Duration::from_millis(150);
        let mut f = Feed::new(Box::new(Slow(slow)), Analyzer::default())
            .interval(Duration::from_millis(1))
            .analyze(Analyze::Never)
            .limit(3);
        let mut starts = Vec::new();
        f.run(&mut |_r: Result<Frame, SourceError>, t: Instant| {
            starts.push(t);
            Flow::Go
        });
        assert_eq!(starts.len(), 3);
        // Lower bounds only: a loaded machine makes the gaps longer, never shorter.
        for w in starts.windows(2) {
            assert!(w[1] - w[0] >= slow * 2, "{:?}", w[1] - w[0]);
        }
        // A refresh shorter than the interval leaves the interval as it is.
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default());
        f.took = Duration::from_millis(400);
        let t = Instant::now();
        assert_eq!(f.due_after(t), t + Duration::from_secs(1));
        f.took = Duration::from_millis(700);
        assert_eq!(f.due_after(t), t + Duration::from_millis(1400));
    }

    #[test]
    fn an_interval_change_cuts_the_wait_short() {
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .interval(Duration::from_secs(3600))
            .analyze(Analyze::Never)
            .limit(2);
        let ctl = f.control();
        let t0 = Instant::now();
        let mut n = 0;
        f.run(&mut |_r: Result<Frame, SourceError>, _: Instant| {
            n += 1;
            ctl.set_interval(Duration::from_millis(1));
            Flow::Go
        });
        assert_eq!(n, 2);
        assert!(t0.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn refresh_now_cuts_the_interval_short() {
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .interval(Duration::from_secs(3600))
            .analyze(Analyze::Never)
            .limit(2);
        let ctl = f.control();
        let mut n = 0;
        // Without it the second snapshot would come in an hour (the test
        // would hang, not pass).
        f.run(&mut |_r: Result<Frame, SourceError>, _: Instant| {
            n += 1;
            ctl.refresh_now();
            Flow::Go
        });
        assert_eq!(n, 2);
    }

    #[test]
    fn the_source_hears_what_is_shown_before_the_next_snapshot() {
        use crate::model::conn::Shown;
        use std::sync::{Arc, Mutex};
        struct Told(Arc<Mutex<Vec<(u64, Shown)>>>, u64);
        impl SocketSource for Told {
            fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
                self.1 += 1;
                frames(1).snapshot()
            }
            fn show_detail(&mut self, s: &Shown) {
                self.0.lock().unwrap().push((self.1, s.clone()));
            }
        }
        let told = Arc::new(Mutex::new(Vec::new()));
        let cell = Latest::new(Shown::Nothing);
        let mut f = Feed::new(Box::new(Told(told.clone(), 0)), Analyzer::default())
            .paced(false)
            .analyze(Analyze::Never)
            .limit(3)
            .detail_shown(cell.clone());
        let mut n = 0;
        f.run(&mut |_r: Result<Frame, SourceError>, _: Instant| {
            n += 1;
            if n == 1 {
                cell.put(Shown::Rows(vec![(0, 7)]));
            }
            Flow::Go
        });
        // Told before the first snapshot, then once more when it changed.
        assert_eq!(
            *told.lock().unwrap(),
            [(0, Shown::Nothing), (1, Shown::Rows(vec![(0, 7)]))]
        );
    }

    #[test]
    fn the_deadline_ends_the_wait() {
        let mut f = Feed::new(frames(u64::MAX), Analyzer::default())
            .interval(Duration::from_secs(3600))
            .until(Instant::now() + Duration::from_millis(20));
        let mut n = 0;
        let end = f.run(&mut |_r: Result<Frame, SourceError>, _: Instant| {
            n += 1;
            Flow::Go
        });
        assert_eq!((end, n), (End::Done, 1));
        assert_eq!(End::Signal(1).exit_code(), 129);
    }

    #[test]
    fn the_latest_value_wins_and_survives_a_panic_holding_it() {
        let l = Latest::default();
        assert!(l.put(1));
        assert!(!l.put(2));
        assert_eq!(l.get(), Some(2));
        let c = l.clone();
        let _ = std::thread::spawn(move || {
            let _g = c.lock();
            panic!("poison it");
        })
        .join();
        assert_eq!(l.take(), Some(2));
        assert_eq!(l.take(), None);
    }
}
