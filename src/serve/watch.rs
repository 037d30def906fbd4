//! `porttop watch --jsonl`: one JSON line per change between consecutive snapshots,
//! for log pipelines.
//!
//! The first snapshot is the baseline: only what changes after it is reported.
//! Events: `open`, `close`, `state` (sockets, filtered by the usual flags; a closed
//! socket is matched against the snapshot it was last seen in), `pool_level`,
//! `collision_start`, `collision_end`. Every line has `ts_ms` (the snapshot's time)
//! and `event`; socket events carry the `list --json` record fields (with the
//! socket's `netns` where the snapshot has more than one namespace), and
//! `pool_level` the `netns` whose pool sets the level.

use crate::analysis::collisions::{Collision, CollisionKind};
use crate::analysis::diff::diff;
use crate::analysis::pool::{self, Level, Thresholds};
use crate::analysis::{Analysis, Analyzer};
use crate::feed::{Consumer, Control, End, Feed, Flow, Frame};
use crate::filter::Filter;
use crate::model::{Proto, Snapshot, SockState, SocketRecord};
use crate::source::{SocketSource, SourceError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// A collision as its events report it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CollisionInfo {
    pub kind: CollisionKind,
    pub proto: Proto,
    pub port: u16,
    pub probably_intentional: bool,
    pub message: String,
    /// The network namespace it is in (with more than one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
    /// That namespace's inode tag (`Socket::netns`), to match its sockets.
    #[serde(skip)]
    pub netns_tag: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    Open(SocketRecord),
    Close(SocketRecord),
    State {
        prev_state: SockState,
        #[serde(flatten)]
        socket: SocketRecord,
    },
    PoolLevel {
        prev_level: Level,
        level: Level,
        fraction: f64,
        driver: String,
        /// `usage` or `projection`: what raised the level.
        level_by: pool::LevelBy,
        /// Seconds until the soonest projected exhaustion, when one is projected.
        #[serde(skip_serializing_if = "Option::is_none")]
        exhaustion_secs: Option<f64>,
        /// The network namespace whose pool sets the level (with more than one).
        #[serde(skip_serializing_if = "Option::is_none")]
        netns: Option<String>,
    },
    CollisionStart(CollisionInfo),
    CollisionEnd(CollisionInfo),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WatchEvent {
    pub ts_ms: u64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What watch remembers of a snapshot besides the snapshot itself.
pub struct Seen {
    pub snap: Snapshot,
    pub level: Level,
    /// The fraction that set the level, and what drove it (for pool_level events).
    pub fraction: f64,
    pub driver: String,
    pub level_by: pool::LevelBy,
    pub exhaustion_secs: Option<f64>,
    pub netns: Option<String>,
    pub collisions: BTreeMap<(u64, CollisionKind, Proto, u16), CollisionInfo>,
}

impl Seen {
    /// One snapshot on its own (no projection: that needs a history).
    pub fn new(snap: Snapshot, thresholds: Thresholds) -> Self {
        Seen::analyze(snap, &mut Analyzer::new(thresholds, 0))
    }

    /// The next snapshot of a stream, through the stream's analyzer (rates,
    /// projection and the level's hysteresis need the history).
    pub fn analyze(snap: Snapshot, analyzer: &mut Analyzer) -> Self {
        let an = analyzer.analyze(&snap);
        Seen::from_analysis(snap, &an)
    }

    /// A snapshot with its analysis (from the feed).
    pub fn from_analysis(snap: Snapshot, an: &Analysis) -> Self {
        let report = &an.report;
        Seen {
            level: report.level,
            fraction: report.fraction,
            driver: crate::output::driver_text(report),
            level_by: report.level_by,
            exhaustion_secs: report.exhaustion_secs,
            netns: report.netns.clone(),
            collisions: collision_map(&snap, &an.collisions),
            snap,
        }
    }
}

type CollisionMap = BTreeMap<(u64, CollisionKind, Proto, u16), CollisionInfo>;

fn collision_map(snap: &Snapshot, found: &[Collision]) -> CollisionMap {
    found
        .iter()
        .map(|c| {
            let info = CollisionInfo {
                kind: c.kind,
                proto: c.proto,
                port: c.port,
                probably_intentional: c.probably_intentional,
                message: c.message.clone(),
                netns: snap
                    .multi_netns()
                    .then(|| crate::output::safe(snap.netns_name(c.netns)).into_owned()),
                netns_tag: c.netns,
            };
            ((c.netns, c.kind, c.proto, c.port), info)
        })
        .collect()
}

/// The events from `old` to `new`, in order: closes, opens, state changes, pool
/// level, collisions ended, collisions started.
pub fn events(old: &Seen, new: &Seen, filter: &Filter) -> Vec<WatchEvent> {
    let ts_ms = new.snap.taken_at_ms;
    let d = diff(&old.snap, &new.snap);
    let mut out = Vec::new();
    let mut push = |kind| out.push(WatchEvent { ts_ms, kind });
    for s in d.removed.iter().filter(|s| filter.matches(&old.snap, s)) {
        push(EventKind::Close(SocketRecord::new(&old.snap, s)));
    }
    for s in d.added.iter().filter(|s| filter.matches(&new.snap, s)) {
        push(EventKind::Open(SocketRecord::new(&new.snap, s)));
    }
    for c in d
        .changed
        .iter()
        .filter(|c| filter.matches(&new.snap, &c.socket))
    {
        push(EventKind::State {
            prev_state: c.from,
            socket: SocketRecord::new(&new.snap, &c.socket),
        });
    }
    if new.level != old.level {
        push(EventKind::PoolLevel {
            prev_level: old.level,
            level: new.level,
            fraction: new.fraction,
            driver: new.driver.clone(),
            level_by: new.level_by,
            exhaustion_secs: new.exhaustion_secs,
            netns: new.netns.clone(),
        });
    }
    for (k, c) in &old.collisions {
        if !new.collisions.contains_key(k) && collision_matches(&old.snap, c, filter) {
            push(EventKind::CollisionEnd(c.clone()));
        }
    }
    for (k, c) in &new.collisions {
        if !old.collisions.contains_key(k) && collision_matches(&new.snap, c, filter) {
            push(EventKind::CollisionStart(c.clone()));
        }
    }
    out
}

/// How many destinations get a projection in `watch`.
const WATCH_TOP: usize = 10;
/// A collision is reported when the filter passes one of its sockets (those on
/// its protocol and port), so `--port 8080` shows the collisions on 8080 only.
fn collision_matches(snap: &Snapshot, c: &CollisionInfo, filter: &Filter) -> bool {
    filter.is_empty()
        || snap.sockets.iter().any(|s| {
            s.netns == c.netns_tag
                && s.proto == c.proto
                && s.local.port == c.port
                && filter.matches(snap, s)
        })
}

/// Ends the feed as soon as the reader of `fd` goes away (a pipe whose reader
/// exited reports POLLERR, a socket or terminal POLLHUP), so `watch | head -1`
/// ends when head does, not at the next event, which may be hours away. A
/// thread blocks in poll(2) asking for no event: only those conditions wake it
/// (a regular file or /dev/null never does).
fn stop_when_reader_goes(fd: i32, ctl: Control) {
    let _ = std::thread::Builder::new()
        .name("reader".into())
        .spawn(move || loop {
            let mut p = libc::pollfd {
                fd,
                events: 0,
                revents: 0,
            };
            // SAFETY: one valid pollfd, no timeout.
            let n = unsafe { libc::poll(&mut p, 1, -1) };
            if n > 0 && p.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                ctl.stop();
                return;
            }
            if n < 0 && std::io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return;
            }
        });
}

#[derive(Clone, Debug)]
pub struct WatchConfig {
    pub interval: Duration,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    pub filter: Filter,
    pub thresholds: Thresholds,
    /// The file descriptor `out` writes to, watched for a reader that went away
    /// between events (None: not watched).
    pub out_fd: Option<i32>,
    /// The source is a recording: its frames follow each other without waiting
    /// (they carry their own times), and its end ends the watch.
    pub replay: bool,
}

/// Why `watch` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    #[error("cannot write output: {0}")]
    Output(io::Error),
}

/// Writes events as JSON lines, flushed per line, until the count or duration is
/// reached, a recording ends, the reader goes away, or SIGTERM/SIGINT/SIGHUP
/// arrives (returned: the exit status says which). A closed output (broken
/// pipe) ends quietly. Refresh errors are reported on stderr and retried at the
/// next interval (a recording's are final).
pub fn run(
    src: Box<dyn SocketSource>,
    cfg: &WatchConfig,
    out: &mut dyn Write,
) -> Result<End, WatchError> {
    crate::source::tune_allocator();
    // Projections for the busiest destinations: the level follows them too.
    let mut feed = Feed::new(src, Analyzer::new(cfg.thresholds, WATCH_TOP))
        .interval(cfg.interval)
        .paced(!cfg.replay)
        .stop_on_signals()
        .map_err(|e| WatchError::Output(io::Error::other(e)))?;
    if let Some(d) = cfg.duration {
        feed = feed.until(Instant::now() + d);
    }
    if let Some(fd) = cfg.out_fd {
        stop_when_reader_goes(fd, feed.control());
    }
    let mut differ = Differ {
        cfg,
        out,
        prev: None,
        written: 0,
        failed: None,
    };
    let end = feed.run(&mut differ);
    match differ.failed {
        Some(e) => Err(e),
        None => Ok(end),
    }
}

/// watch's consumer: the events between each refresh and the one before.
struct Differ<'a> {
    cfg: &'a WatchConfig,
    out: &'a mut dyn Write,
    prev: Option<Seen>,
    written: u64,
    failed: Option<WatchError>,
}

impl Consumer for Differ<'_> {
    fn refresh(&mut self, r: Result<Frame, SourceError>, _: Instant) -> Flow {
        let cur = match r {
            Ok(Frame {
                snap,
                analysis: Some(a),
            }) => Seen::from_analysis(snap, &a),
            Ok(_) => return Flow::Go,
            Err(e) if self.cfg.replay || self.prev.is_none() => {
                self.failed = Some(e.into());
                return Flow::Stop;
            }
            Err(e) => {
                crate::elog!("porttop: refresh failed: {e}");
                return Flow::Go;
            }
        };
        if self.cfg.count == Some(0) {
            return Flow::Stop;
        }
        let Some(prev) = self.prev.replace(cur) else {
            return Flow::Go;
        };
        let Some(cur) = &self.prev else {
            return Flow::Go;
        };
        for ev in events(&prev, cur, &self.cfg.filter) {
            match write_line(self.out, &ev) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Flow::Stop,
                Err(e) => {
                    self.failed = Some(WatchError::Output(e));
                    return Flow::Stop;
                }
            }
            self.written += 1;
            if self.cfg.count.is_some_and(|n| self.written >= n) {
                return Flow::Stop;
            }
        }
        Flow::Go
    }
}

fn write_line(out: &mut dyn Write, ev: &WatchEvent) -> io::Result<()> {
    serde_json::to_writer(&mut *out, ev)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    #[test]
    fn open_close_state_level_and_collisions_become_events() {
        let t = Thresholds::default();
        let a = snap(
            1000,
            range100(),
            vec![
                tcp("10.0.0.1:40001", "10.0.0.2:443", SockState::Established).inode(11),
                tcp("10.0.0.1:40002", "10.0.0.2:443", SockState::Established).inode(12),
            ],
        );
        let mut socks = vec![
            tcp("10.0.0.1:40001", "10.0.0.2:443", SockState::CloseWait).inode(11),
            tcp("10.0.0.1:40003", "10.0.0.2:443", SockState::Established).inode(13),
            listener(Proto::Tcp, "0.0.0.0:40050"),
        ];
        socks.extend(many(
            "10.0.0.1",
            "10.0.0.9:80",
            40010,
            85,
            SockState::TimeWait,
        ));
        let b = snap(2000, range100(), socks);
        let (sa, sb) = (Seen::new(a, t), Seen::new(b, t));
        let evs = events(&sa, &sb, &Filter::default());
        let lines: Vec<serde_json::Value> = evs
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let names: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(names[0], "close");
        assert_eq!(lines[0]["local_port"], 40002);
        assert!(names.contains(&"open"));
        let st = lines.iter().find(|l| l["event"] == "state").unwrap();
        assert_eq!(st["prev_state"], "ESTAB");
        assert_eq!(st["state"], "CLOSE-WAIT");
        let lvl = lines.iter().find(|l| l["event"] == "pool_level").unwrap();
        assert_eq!(
            (lvl["prev_level"].as_str(), lvl["level"].as_str()),
            (Some("ok"), Some("warn"))
        );
        let col = lines
            .iter()
            .find(|l| l["event"] == "collision_start")
            .unwrap();
        assert_eq!(col["port"], 40050);
        assert!(lines.iter().all(|l| l["ts_ms"] == 2000));

        // And back: the collision ends, the level drops.
        let back = events(&sb, &sa, &Filter::default());
        let kinds: Vec<String> = back
            .iter()
            .map(|e| {
                serde_json::to_value(e).unwrap()["event"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert!(kinds.contains(&"collision_end".to_string()), "{kinds:?}");
        assert!(kinds.contains(&"pool_level".to_string()));

        // Filters apply to socket events only.
        let f = Filter::of([crate::filter::Term::Port(crate::filter::Ports::one(40002))]);
        let only = events(&sa, &sb, &f);
        let socket_events = only
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    EventKind::Open(_) | EventKind::Close(_) | EventKind::State { .. }
                )
            })
            .count();
        assert_eq!(socket_events, 1);
    }

    /// The same collision in two namespaces is two events, each naming its
    /// namespace; a filter matches the sockets of that namespace only.
    #[test]
    fn collisions_in_two_namespaces_are_two_events_naming_each() {
        use crate::model::Netns;
        let t = Thresholds::default();
        let ns = |inode: u64, name: &str, own: bool| Netns {
            inode,
            name: name.into(),
            own,
            container: None,
            range: range100(),
            counters: None,
            handle: None,
        };
        let with_netns = |mut s: Snapshot| {
            s.netns = vec![ns(1, "host", true), ns(77, "web", false)];
            s
        };
        let a = with_netns(snap(1000, range100(), vec![]));
        let mut other = listener(Proto::Tcp, "0.0.0.0:40050");
        other.netns = 77;
        let b = with_netns(snap(
            2000,
            range100(),
            vec![listener(Proto::Tcp, "0.0.0.0:40050"), other],
        ));
        let (sa, sb) = (Seen::new(a, t), Seen::new(b, t));
        let started: Vec<serde_json::Value> = events(&sa, &sb, &Filter::default())
            .iter()
            .filter(|e| matches!(e.kind, EventKind::CollisionStart(_)))
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        let mut names: Vec<&str> = started
            .iter()
            .map(|l| l["netns"].as_str().unwrap_or("?"))
            .collect();
        names.sort();
        assert_eq!(names, ["host", "web"], "{started:?}");
        assert!(started.iter().all(|l| l["port"] == 40050));
    }

    #[test]
    fn collision_events_honour_the_filter() {
        let t = Thresholds::default();
        let a = snap(1000, range100(), vec![]);
        let b = snap(
            2000,
            range100(),
            vec![
                listener(Proto::Tcp, "0.0.0.0:40050"),
                listener(Proto::Tcp, "0.0.0.0:40060"),
            ],
        );
        let (sa, sb) = (Seen::new(a, t), Seen::new(b, t));
        let ports = |f: &str, old: &Seen, new: &Seen| -> Vec<u16> {
            events(old, new, &Filter::parse(f).unwrap())
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::CollisionStart(c) | EventKind::CollisionEnd(c) => Some(c.port),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(ports("", &sa, &sb), vec![40050, 40060]);
        assert_eq!(ports("port:40050", &sa, &sb), vec![40050]);
        assert_eq!(ports("port:40002", &sa, &sb), Vec::<u16>::new());
        // The end of a collision is matched against the snapshot it was seen in.
        assert_eq!(ports("port:40060", &sb, &sa), vec![40060]);
    }
}
