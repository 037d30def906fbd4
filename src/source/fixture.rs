//! Recorded snapshots, for tests and `--replay FILE`.
//!
//! Accepted formats (detected from the content):
//! - the output of `porttop list --json`: an array of socket records;
//! - a full snapshot object (`{"taken_at_ms":..,"range":..,"sockets":..}`);
//! - JSON lines, one array or snapshot object per line: a sequence of refreshes.
//!
//! Records carry no range; they replay against the range given to the source
//! (the host's, or `--range`/`--reserved`). Snapshot objects carry their own,
//! which `--range`/`--reserved` override as they override the host's.
//!
//! A recording is read as a stream, one frame ahead of the one shown: memory is
//! bounded by the largest frame (at most [`MAX_FRAME_BYTES`] of JSON), not by the
//! file, which may hold millions of frames. Only regular files and `-` (standard
//! input) are read: `/dev/zero` or a FIFO never end. Every frame is normalised
//! as the live source's snapshots are (reserved ports sorted and merged, each
//! socket once, pids ascending and once, command lines capped), so a hand-made
//! or hostile file cannot make a pool count a port twice. A last frame that was
//! cut (disk full, `record` killed) ends the replay with a note; a bad frame
//! anywhere else is an error.

use super::{now_ms, RangeConfig, SocketSource, SourceError};
use crate::model::{
    cap_cmdline, merge_ranges, snapshot_from_records, Pids, PortRange, Proto, Snapshot, SockState,
    SocketKey, SocketRecord,
};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The largest frame (one JSON value) read from a recording: ten times a frame of
/// the largest table measured (`bench/scale.sh`: 138,092 sockets, 27 MB as a
/// `record` line).
pub const MAX_FRAME_BYTES: u64 = 256 << 20;

enum Frame {
    Records(Vec<SocketRecord>),
    Snapshot(Box<Snapshot>),
}

/// One frame: an array of records or a snapshot object, told apart by the JSON
/// value's kind (not `#[serde(untagged)]`: buffered content cannot read the
/// snapshot's integer map keys, and its errors say nothing useful).
impl<'de> Deserialize<'de> for Frame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FrameVisitor;
        impl<'de> Visitor<'de> for FrameVisitor {
            type Value = Frame;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a `porttop list --json` array or a `porttop record` line")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Frame, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Frame::Records)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Frame, A::Error> {
                Snapshot::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|s| Frame::Snapshot(Box::new(s)))
            }
        }
        d.deserialize_any(FrameVisitor)
    }
}

/// A reader that fails once it has read `limit` bytes (moved on after each frame),
/// so that no single frame can make the parser hold more than `MAX_FRAME_BYTES`.
struct Limited {
    inner: Box<dyn BufRead + Send>,
    pos: u64,
    limit: Arc<AtomicU64>,
    hit: Arc<AtomicBool>,
}

impl Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = self.limit.load(Ordering::Relaxed);
        if self.pos >= limit {
            self.hit.store(true, Ordering::Relaxed);
            return Err(io::Error::other("frame too large"));
        }
        let room = usize::try_from(limit - self.pos).unwrap_or(usize::MAX);
        let n = room.min(buf.len());
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

type Stream = serde_json::StreamDeserializer<'static, serde_json::de::IoRead<Limited>, Frame>;

/// The frames of one recording, read one at a time.
struct Frames {
    stream: Stream,
    limit: Arc<AtomicU64>,
    hit: Arc<AtomicBool>,
}

/// Why reading the next frame stopped.
enum Stop {
    /// The stream ended in the middle of a frame (a cut last line).
    Cut,
    Bad(String),
}

impl Frames {
    fn new(inner: Box<dyn BufRead + Send>) -> Self {
        let limit = Arc::new(AtomicU64::new(MAX_FRAME_BYTES));
        let hit = Arc::new(AtomicBool::new(false));
        let reader = Limited {
            inner,
            pos: 0,
            limit: Arc::clone(&limit),
            hit: Arc::clone(&hit),
        };
        Frames {
            stream: serde_json::Deserializer::from_reader(reader).into_iter(),
            limit,
            hit,
        }
    }

    fn next(&mut self) -> Option<Result<Frame, Stop>> {
        let r = self.stream.next()?;
        let start = self.stream.byte_offset() as u64;
        self.limit
            .store(start.saturating_add(MAX_FRAME_BYTES), Ordering::Relaxed);
        Some(r.map_err(|e| {
            if self.hit.load(Ordering::Relaxed) {
                Stop::Bad(format!(
                    "a snapshot is larger than {} MiB (at byte {start})",
                    MAX_FRAME_BYTES >> 20
                ))
            } else if e.is_eof() {
                Stop::Cut
            } else {
                Stop::Bad(e.to_string())
            }
        }))
    }
}

/// Replays recorded snapshots one per refresh, then keeps showing the last;
/// [`SocketSource::at_end`] says when the recording is used up.
pub struct FixtureSource {
    path: String,
    /// None once the recording is read to its end (or failed).
    frames: Option<Frames>,
    /// The range given to records (the host's or the overrides).
    range: PortRange,
    overrides: RangeConfig,
    /// The next frame, read ahead (so `at_end` is known before it is asked for).
    pending: Option<Snapshot>,
    /// An error met reading ahead: returned when that frame is asked for.
    failed: Option<String>,
    /// A copy of the last frame, kept once no other follows.
    last: Option<Snapshot>,
    /// Frames read so far.
    read: usize,
    note: Option<String>,
}

impl FixtureSource {
    /// Opens a recording (`-`: standard input). Refuses what is not a regular
    /// file, reads the first frame (so an empty or foreign file fails here).
    pub fn open(
        path: &Path,
        overrides: RangeConfig,
        range: PortRange,
    ) -> Result<Self, SourceError> {
        let name = path.display().to_string();
        let file_err = |err| SourceError::File {
            path: name.clone(),
            err,
        };
        let inner: Box<dyn BufRead + Send> = if path.as_os_str() == "-" {
            Box::new(BufReader::new(io::stdin()))
        } else {
            // Asked before opening: opening a FIFO would wait for a writer.
            let kind = std::fs::metadata(path).map_err(file_err)?.file_type();
            let what = if kind.is_file() {
                None
            } else if kind.is_dir() {
                Some("a directory")
            } else {
                Some(special_kind(&kind))
            };
            if let Some(what) = what {
                return Err(SourceError::Fixture {
                    path: name,
                    msg: format!(
                        "it is {what}; replay reads regular files, or - for standard input"
                    ),
                });
            }
            Box::new(BufReader::new(std::fs::File::open(path).map_err(file_err)?))
        };
        Self::from_reader(name, inner, overrides, range)
    }

    /// A source over any reader (tests, fuzzing); `name` names it in errors.
    pub fn from_reader(
        name: String,
        inner: Box<dyn BufRead + Send>,
        overrides: RangeConfig,
        range: PortRange,
    ) -> Result<Self, SourceError> {
        let mut src = FixtureSource {
            path: name,
            frames: Some(Frames::new(inner)),
            range,
            overrides,
            pending: None,
            failed: None,
            last: None,
            read: 0,
            note: None,
        };
        src.advance();
        if let Some(msg) = src.failed.take() {
            return Err(src.error(msg));
        }
        if src.pending.is_none() {
            let msg = src.note.take().map_or("the file is empty", |_| {
                "the file ends inside its first snapshot (cut off?)"
            });
            return Err(src.error(msg.into()));
        }
        Ok(src)
    }

    fn error(&self, msg: String) -> SourceError {
        SourceError::Fixture {
            path: self.path.clone(),
            msg,
        }
    }

    /// Reads the next frame into `pending` (or notes why there is none).
    fn advance(&mut self) {
        let Some(frames) = self.frames.as_mut() else {
            return;
        };
        match frames.next() {
            None => self.frames = None,
            Some(Ok(f)) => {
                let snap = self.snapshot_of(f);
                match snap {
                    Ok(s) => self.pending = Some(s),
                    Err(msg) => {
                        self.failed = Some(msg);
                        self.frames = None;
                    }
                }
                self.read += 1;
            }
            Some(Err(Stop::Cut)) => {
                self.note = Some(format!(
                    "{}: the last line is incomplete (cut off?); replaying the {} \
                     complete snapshot{} before it",
                    self.path,
                    self.read,
                    if self.read == 1 { "" } else { "s" }
                ));
                self.frames = None;
            }
            Some(Err(Stop::Bad(msg))) => {
                self.failed = Some(msg);
                self.frames = None;
            }
        }
    }

    fn snapshot_of(&self, f: Frame) -> Result<Snapshot, String> {
        let mut snap = match f {
            Frame::Snapshot(s) => {
                let mut s = *s;
                if self.overrides.range.is_some() || self.overrides.reserved.is_some() {
                    let recorded = s.range.clone();
                    s.range = crate::range::resolve_with(
                        self.overrides.range.as_deref(),
                        self.overrides.reserved.as_deref(),
                        || Ok(recorded),
                    )
                    .map_err(|e| e.to_string())?;
                }
                s
            }
            Frame::Records(r) => snapshot_from_records(
                r,
                self.range.clone(),
                "replay".into(),
                // Recorded frames are a second apart unless they say otherwise.
                1_000 * self.read as u64 + 1,
            ),
        };
        normalise(&mut snap).map_err(|e| format!("snapshot {}: {e}", self.read + 1))?;
        Ok(snap)
    }
}

/// What a file that is neither regular nor a directory is, for the error.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_fifo() {
            return "a pipe";
        }
    }
    let _ = kind;
    "not a regular file"
}

/// Makes a snapshot read from a file what a live one is: reserved ports sorted
/// and merged, every socket once (by inode, or whole where there is none), pids
/// ascending and once, command lines capped. A range no kernel would report
/// (reversed, or from port 0) is an error.
pub fn normalise(s: &mut Snapshot) -> Result<(), String> {
    if s.range.low == 0 || s.range.low > s.range.high {
        return Err(format!(
            "the recorded range {}-{} is not a port range",
            s.range.low, s.range.high
        ));
    }
    s.range.reserved = merge_ranges(std::mem::take(&mut s.range.reserved));
    let mut by_inode: HashSet<SocketKey> = HashSet::with_capacity(s.sockets.len());
    // No inode (TIME-WAIT, records of old versions): the same tuple, state and
    // owners twice is one socket (the kernel has one per tuple).
    let mut whole: HashSet<(SocketKey, SockState, Option<u32>, Pids)> = HashSet::new();
    let mut keep = Vec::with_capacity(s.sockets.len());
    for mut sock in std::mem::take(&mut s.sockets) {
        sock.pids.sort_unstable();
        sock.pids.dedup();
        // A UDP socket's state follows its peer, as the live source reports it
        // (connected: ESTAB, else UNCONN; other tools' and older recordings say
        // UNCONN for both), so state filters and `Socket::is_listener` agree.
        if sock.proto == Proto::Udp {
            sock.state = match sock.peer() {
                Some(_) => SockState::Established,
                None => SockState::Unconn,
            };
        }
        let new = if sock.inode.is_some_and(|i| i != 0) {
            by_inode.insert(sock.key())
        } else {
            whole.insert((sock.key(), sock.state, sock.uid, sock.pids.clone()))
        };
        if new {
            keep.push(sock);
        }
    }
    s.sockets = keep;
    for p in s.processes.values_mut() {
        if p.cmdline.len() > crate::model::CMDLINE_MAX {
            let mut q = (**p).clone();
            q.cmdline = cap_cmdline(q.cmdline);
            *p = Arc::new(q);
        }
    }
    Ok(())
}

/// Parses recording text into snapshots (see the module doc for the formats);
/// a cut last frame is left out. For tests and fuzzing.
pub fn parse_fixture(text: &str, range: &PortRange) -> Result<Vec<Snapshot>, String> {
    let reader = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
    let mut src = FixtureSource::from_reader(
        "replay".into(),
        reader,
        RangeConfig::default(),
        range.clone(),
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while !src.at_end() {
        out.push(src.snapshot().map_err(|e| e.to_string())?);
    }
    Ok(out)
}

impl SocketSource for FixtureSource {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let mut s = match self.pending.take() {
            Some(s) => {
                self.advance();
                if self.pending.is_none() && self.failed.is_none() {
                    // The last frame: kept to be shown again.
                    self.last = Some(s.clone());
                }
                s
            }
            None => match (self.failed.take(), &self.last) {
                (Some(msg), _) => return Err(self.error(msg)),
                (None, Some(last)) => last.clone(),
                (None, None) => return Err(self.error("no snapshots".into())),
            },
        };
        if s.taken_at_ms == 0 {
            s.taken_at_ms = now_ms();
        }
        Ok(s)
    }

    fn at_end(&self) -> bool {
        self.pending.is_none() && self.failed.is_none()
    }

    fn take_note(&mut self) -> Option<String> {
        self.note.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_empty_input_are_errors_not_panics() {
        let r = PortRange::linux_default();
        for bad in [
            "",
            "   ",
            "{",
            "[1,2]",
            "null",
            "{\"a\":1}",
            "[{\"proto\":\"sctp\"}]",
            "\u{0}",
            "[]\nnull\n",
            "[] x",
        ] {
            assert!(parse_fixture(bad, &r).is_err(), "{bad:?}");
        }
        assert_eq!(parse_fixture("[]", &r).map(|v| v.len()), Ok(1));
        assert_eq!(parse_fixture("[]\n[]\n", &r).map(|v| v.len()), Ok(2));
    }

    #[test]
    fn a_recording_ends_after_its_frames_then_repeats_the_last_for_the_dashboard() {
        // taken_at_ms 0 ("now"): each frame differs from the last by its time,
        // which made `pool --replay` loop 10,000 times over one frame.
        let line = r#"{"taken_at_ms":0,"host":"h","range":{"low":40000,"high":40099,
            "reserved":[],"source":"r"},"partial":false,"sockets":[],"processes":{}}"#
            .replace('\n', "");
        let text = format!("{line}\n{line}\n{line}\n");
        let mut src = FixtureSource::from_reader(
            "t".into(),
            Box::new(io::Cursor::new(text.into_bytes())),
            RangeConfig::default(),
            PortRange::linux_default(),
        )
        .unwrap();
        let mut n = 0;
        while !src.at_end() {
            let s = src.snapshot().unwrap();
            assert_ne!(s.taken_at_ms, 0);
            n += 1;
            assert!(n <= 3, "more frames than the file has");
        }
        assert_eq!(n, 3);
        assert!(src.snapshot().is_ok(), "the last frame is shown again");
        assert!(src.at_end() && src.take_note().is_none());
    }

    #[test]
    fn records_round_trip_through_a_fixture() {
        let text = r#"[{"proto":"tcp","family":"ipv4","local_addr":"127.0.0.1","local_port":5000,
            "remote_addr":null,"remote_port":null,"state":"LISTEN","uid":0,"user":"root",
            "pids":[42],"process":"srv","cmdline":"srv -x","ephemeral":false}]"#;
        let snaps = parse_fixture(text, &PortRange::linux_default()).unwrap();
        let s = &snaps[0];
        assert_eq!(s.sockets.len(), 1);
        assert_eq!(s.owner(&s.sockets[0]).map(|p| p.name.as_str()), Some("srv"));
        let back = crate::model::SocketRecord::new(s, &s.sockets[0]);
        assert_eq!(back.cmdline.as_deref(), Some("srv -x"));
    }

    #[test]
    fn a_recorded_udp_socket_gets_the_state_of_its_peer_as_live_ones_have() {
        let rec = |local: u16, remote: &str, state: &str| {
            format!(
                r#"{{"proto":"udp","family":"ipv4","local_addr":"10.0.0.2","local_port":{local},
                "remote_addr":{remote},"remote_port":{port},"state":"{state}","uid":0,
                "user":"root","pids":[],"process":null,"cmdline":null,"ephemeral":true}}"#,
                port = if remote == "null" { "null" } else { "53" }
            )
        };
        let text = format!(
            "[{},{},{}]",
            rec(40001, r#""10.0.0.53""#, "UNCONN"),
            rec(40002, "null", "UNCONN"),
            rec(40003, "null", "ESTAB"),
        );
        let snaps = parse_fixture(&text.replace('\n', ""), &PortRange::linux_default()).unwrap();
        let states: Vec<(u16, SockState, bool)> = snaps[0]
            .sockets
            .iter()
            .map(|s| (s.local.port, s.state, s.is_listener()))
            .collect();
        assert_eq!(
            states,
            [
                (40001, SockState::Established, false),
                (40002, SockState::Unconn, true),
                (40003, SockState::Unconn, true),
            ]
        );
        // so the `listening` word selects exactly the listeners
        let f = crate::filter::Filter::parse("listening").unwrap();
        for s in &snaps[0].sockets {
            assert_eq!(f.matches(&snaps[0], s), s.is_listener(), "{s:?}");
        }
    }
}
