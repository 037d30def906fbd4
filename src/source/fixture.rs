//! Recorded snapshots, for tests and `--replay FILE`.
//!
//! Accepted formats (detected from the content):
//! - the output of `porttop list --json`: an array of socket records;
//! - a full snapshot object (`{"taken_at_ms":..,"range":..,"sockets":..}`);
//! - JSON lines, one array or snapshot object per line: a sequence of refreshes.
//!
//! Records carry no range; they replay against the range given to the source
//! (the host's, or `--range`/`--reserved`).

use super::{now_ms, SocketSource, SourceError};
use crate::model::{snapshot_from_records, PortRange, Snapshot, SocketRecord};
use std::path::Path;

enum Frame {
    Records(Vec<SocketRecord>),
    Snapshot(Box<Snapshot>),
}

/// One frame: an array of records or a snapshot object, told apart by the first
/// character (not `#[serde(untagged)]`: buffered content cannot read the snapshot's
/// integer map keys, and its errors say nothing useful).
fn parse_frame(text: &str) -> Result<Frame, String> {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text)
            .map(Frame::Records)
            .map_err(|e| e.to_string()),
        Some(b'{') => serde_json::from_str(text)
            .map(Frame::Snapshot)
            .map_err(|e| e.to_string()),
        _ => Err("expected a `porttop list --json` array or a `porttop record` line".into()),
    }
}

/// Replays recorded snapshots one per refresh, then keeps showing the last.
pub struct FixtureSource {
    frames: Vec<Snapshot>,
    next: usize,
}

impl FixtureSource {
    pub fn open(path: &Path, range: PortRange) -> Result<Self, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|err| SourceError::File {
            path: path.display().to_string(),
            err,
        })?;
        let frames = parse_fixture(&text, &range).map_err(|msg| SourceError::Fixture {
            path: path.display().to_string(),
            msg,
        })?;
        Ok(FixtureSource { frames, next: 0 })
    }

    pub fn from_snapshots(frames: Vec<Snapshot>) -> Self {
        FixtureSource { frames, next: 0 }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

/// Parses recording text into snapshots (see the module doc for the formats).
pub fn parse_fixture(text: &str, range: &PortRange) -> Result<Vec<Snapshot>, String> {
    let frame = |f: Frame, i: usize| match f {
        Frame::Snapshot(s) => *s,
        Frame::Records(r) => snapshot_from_records(
            r,
            range.clone(),
            "replay".into(),
            // Recorded frames are a second apart unless they say otherwise.
            1_000 * i as u64 + 1,
        ),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("the file is empty".into());
    }
    // The whole text as one frame (a `list --json` array spans many lines)...
    let whole = match parse_frame(trimmed) {
        Ok(f) => return Ok(vec![frame(f, 0)]),
        Err(e) => e,
    };
    if !trimmed.contains('\n') {
        return Err(whole);
    }
    // ...else JSON lines, one frame each (`porttop record`).
    let mut out = Vec::new();
    for (n, line) in trimmed.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f = parse_frame(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        out.push(frame(f, out.len()));
    }
    Ok(out)
}

impl SocketSource for FixtureSource {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let i = self.next.min(self.frames.len().saturating_sub(1));
        self.next = (self.next + 1).min(self.frames.len());
        let mut s = self.frames.get(i).cloned().ok_or(SourceError::Fixture {
            path: "replay".into(),
            msg: "no snapshots".into(),
        })?;
        if s.taken_at_ms == 0 {
            s.taken_at_ms = now_ms();
        }
        Ok(s)
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
        ] {
            assert!(parse_fixture(bad, &r).is_err(), "{bad:?}");
        }
        assert_eq!(parse_fixture("[]", &r).map(|v| v.len()), Ok(1));
        assert_eq!(parse_fixture("[]\n[]\n", &r).map(|v| v.len()), Ok(2));
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
}
