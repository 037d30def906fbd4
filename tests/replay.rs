//! `--replay` on recordings made by hand, cut short or hostile, through the real
//! binary: commands that go through a recording end at its end, a cut last line
//! loses only itself, the overrides apply, what is replayed is normalised, and
//! what is not a regular file, or too big for the memory allowed, is one line.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A `porttop record` line: `n` established sockets from 127.0.0.1 ports
/// `40000..` to 127.0.0.2:80, with owner pid 77, taken at `ts`.
fn frame(ts: u64, n: u16) -> Value {
    let sockets: Vec<Value> = (0..n)
        .map(|i| {
            json!({"proto": "tcp", "family": "ipv4",
                   "local": {"addr": "127.0.0.1", "port": 40000 + i},
                   "remote": {"addr": "127.0.0.2", "port": 80},
                   "state": "ESTAB", "uid": 0, "user": "root",
                   "inode": 1000 + u64::from(i), "pids": [77]})
        })
        .collect();
    json!({"taken_at_ms": ts, "host": "rec",
           "range": {"low": 32768, "high": 60999, "reserved": [], "source": "rec"},
           "partial": false, "sockets": sockets,
           "processes": {"77": {"pid": 77, "name": "cli", "uid": 0, "user": "root",
                                "cmdline": "cli"}}})
}

fn write_lines(dir: &Path, name: &str, frames: &[Value]) -> PathBuf {
    let p = dir.join(name);
    let text: String = frames.iter().map(|f| format!("{f}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

/// Runs porttop, killing it if it has not ended within `limit` (a command that
/// never ends is the bug some of these tests are about): (code, stdout, stderr),
/// code None when it had to be killed.
fn run_bounded(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = porttop()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let end = Instant::now() + limit;
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (code, t_out.join().unwrap(), t_err.join().unwrap())
}

const LIMIT: Duration = Duration::from_secs(60);

/// `porttop ARGS --replay FILE` over a recording of `frames`, bounded.
fn replay(args: &[&str], frames: &[Value]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_lines(dir.path(), "rec.jsonl", frames);
    let mut all = args.to_vec();
    all.extend(["--replay", rec.to_str().unwrap()]);
    run_bounded(&all, LIMIT)
}

#[test]
fn watch_replay_ends_at_the_end_of_the_recording() {
    let (code, out, err) = replay(
        &["watch", "--jsonl"],
        &[frame(1000, 2), frame(2000, 3), frame(3000, 1)],
    );
    assert_eq!(code, Some(0), "watch did not end by itself: {err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Frame 2 opens one socket; frame 3 closes two.
    let kinds: Vec<(&str, u64)> = events
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["ts_ms"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("open", 2000), ("close", 3000), ("close", 3000)],
        "{out}"
    );
}

#[test]
fn record_replay_ends_at_the_end_and_repeats_no_frame() {
    let (code, out, err) = replay(
        &["record", "-n", "10"],
        &[frame(1000, 2), frame(2000, 3), frame(3000, 1)],
    );
    assert_eq!(code, Some(0), "{err}");
    let ts: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["taken_at_ms"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ts, vec![1000, 2000, 3000], "{out}");
}

/// Three frames, the last cut in its middle, as `record` killed while writing it
/// leaves them: (the whole text, the cut file).
fn cut_recording(dir: &std::path::Path) -> (String, std::path::PathBuf) {
    let whole = write_lines(
        dir,
        "whole.jsonl",
        &[frame(1000, 2), frame(2000, 3), frame(3000, 5)],
    );
    let text = std::fs::read_to_string(&whole).unwrap();
    let cut = dir.join("cut.jsonl");
    std::fs::write(&cut, &text[..text.len() - 40]).unwrap();
    (text, cut)
}

#[test]
fn a_cut_last_line_loads_every_complete_snapshot_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (text, cut) = cut_recording(dir.path());
    let cut = cut.to_str().unwrap();

    let (code, out, err) = run_bounded(&["record", "-n", "10", "--replay", cut], LIMIT);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(
        err.contains("last line is incomplete") && err.contains("2 complete snapshots"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // pool analyses the last complete frame: 3 sockets to 127.0.0.2:80.
    let (code, out, err) = run_bounded(&["pool", "--json", "--replay", cut], LIMIT);
    assert_eq!(code, Some(0), "{err}");
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["global"]["ports_in_use"], 3, "{out}");
    assert!(err.contains("last line is incomplete"), "{err}");

    // A bad line that is not the last is still an error, naming where.
    let bad = dir.path().join("bad.jsonl");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"taken_at_ms\": oops}";
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (code, _, err) = run_bounded(&["pool", "--replay", bad.to_str().unwrap()], LIMIT);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("line 2"), "{err}");
    // Only a cut first line: nothing to replay.
    std::fs::write(&bad, &text[..100]).unwrap();
    assert_one_line_error(&["list", "--replay", bad.to_str().unwrap()], 2);
}

#[test]
fn pool_replay_goes_through_every_frame_even_past_equal_ones() {
    // Two equal frames, then the one that matters.
    let (code, out, err) = replay(
        &["pool", "--json"],
        &[frame(1000, 2), frame(1000, 2), frame(3000, 500)],
    );
    // 498 new sockets in 2 s: the projection may raise the level (exit 1 or 2);
    // what matters here is which frame was analysed.
    assert!(matches!(code, Some(0..=2)), "{code:?} {err}");
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["global"]["ports_in_use"], 500, "{out}");
    assert_eq!(p["destinations"][0]["sockets"], 500, "{out}");
}

#[test]
fn range_and_reserved_override_what_a_record_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let rec = write_lines(dir.path(), "rec.jsonl", &[frame(1000, 20)]);
    let rec = rec.to_str().unwrap();
    let (code, out, err) = run(&[
        "range",
        "--json",
        "--replay",
        rec,
        "--range",
        "40000-40099",
        "--reserved",
        "40000-40009",
    ]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["low"].as_u64(), r["high"].as_u64()),
        (Some(40000), Some(40099))
    );
    assert_eq!(r["reserved"], "40000-40009");
    assert_eq!(r["pool_size"], 90);
    // 20 sockets on 40000-40019, of which 10 on reserved ports.
    assert_eq!(r["in_use"], 10, "{out}");
    // --range alone keeps the recording's reserved list.
    let mut f = frame(1000, 20);
    f["range"]["reserved"] = json!([[40015, 40019]]);
    let rec2 = write_lines(dir.path(), "rec2.jsonl", &[f]);
    let (_, out, _) = run(&[
        "range",
        "--json",
        "--replay",
        rec2.to_str().unwrap(),
        "--range",
        "40000-40099",
    ]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (r["reserved"].as_str(), r["in_use"].as_u64()),
        (Some("40015-40019"), Some(15))
    );
}

#[test]
fn replayed_snapshots_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = frame(1000, 50);
    // Every socket twice, pids repeated, the reserved list unsorted and
    // overlapping: 50 sockets, not 100, in a pool of 100 - 10 reserved.
    let socks = f["sockets"].as_array().unwrap().clone();
    let mut twice: Vec<Value> = socks.iter().chain(socks.iter()).cloned().collect();
    for s in twice.iter_mut() {
        s["pids"] = json!([77, 77]);
    }
    // Two TIME-WAIT sockets without an inode, one of them twice.
    let tw = json!({"proto": "tcp", "family": "ipv4",
                    "local": {"addr": "127.0.0.1", "port": 40090},
                    "remote": {"addr": "127.0.0.2", "port": 80},
                    "state": "TIME-WAIT", "uid": null, "user": null, "inode": null,
                    "pids": []});
    let mut tw2 = tw.clone();
    tw2["local"]["port"] = json!(40091);
    twice.extend([tw.clone(), tw, tw2]);
    f["sockets"] = Value::Array(twice);
    f["range"] = json!({"low": 40000, "high": 40099,
                        "reserved": [[40095, 40099], [40090, 40096], [40095, 40095]],
                        "source": "rec"});
    let rec = write_lines(dir.path(), "rec.jsonl", &[f]);
    let rec = rec.to_str().unwrap();
    let (code, out, err) = run(&["range", "--json", "--replay", rec]);
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["reserved"], "40090-40099", "{out}");
    assert_eq!(r["pool_size"], 90);
    let (code, out, err) = run(&["pool", "--json", "--replay", rec]);
    assert_eq!(code, 0, "{err}");
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["global"]["ports_in_use"], 50, "{out}");
    let (_, out, _) = run(&["list", "--json", "--replay", rec]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(rows.len(), 52, "{out}");
    assert!(rows
        .iter()
        .all(|r| r["pids"] == json!([77]) || r["pids"] == json!([])));
    // A range no kernel reports is refused, naming the snapshot.
    let mut f = frame(2000, 1);
    f["range"]["low"] = json!(50000);
    f["range"]["high"] = json!(40000);
    let bad = write_lines(dir.path(), "bad.jsonl", &[frame(1000, 1), f]);
    let (code, _, err) = run(&["pool", "--replay", bad.to_str().unwrap()]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("snapshot 2") && err.contains("50000-40000"),
        "{err}"
    );
}

#[test]
fn what_is_not_a_regular_file_is_refused_and_stdin_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let ok = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut cases = vec!["/dev/zero".to_string(), "/".to_string()];
    if ok.is_ok_and(|s| s.success()) {
        cases.push(fifo.to_str().unwrap().to_string());
    }
    for c in &cases {
        // Bounded: /dev/zero used to be read until memory ran out, a FIFO waited.
        let (code, _, err) = run_bounded(&["list", "--replay", c], LIMIT);
        assert_eq!(code, Some(2), "{c}: {err}");
        assert!(err.contains("regular file"), "{c}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let rec = write_lines(dir.path(), "rec.jsonl", &[frame(1000, 3)]);
    let o = porttop()
        .args(["list", "--json", "--replay", "-"])
        .stdin(std::fs::File::open(&rec).unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 3);
}

#[test]
fn a_million_frames_replay_in_a_small_memory_limit() {
    if !have("prlimit") {
        eprintln!("SKIP: needs prlimit");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 300,000 empty frames: held all at once they needed ~70 MB (10M: 2.2 GB).
    let rec = dir.path().join("many.jsonl");
    std::fs::write(&rec, "[]\n".repeat(300_000)).unwrap();
    let o = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 48 << 20))
        .arg(env!("CARGO_BIN_EXE_porttop"))
        .args(["record", "-n", "100000", "--replay", rec.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert_eq!(o.stdout.iter().filter(|b| **b == b'\n').count(), 100_000);
}

#[test]
fn a_frame_too_big_for_the_memory_limit_is_one_line_not_an_abort() {
    if !have("prlimit") {
        eprintln!("SKIP: needs prlimit");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One `list --json` array of 200,000 records (~45 MB of JSON).
    let rec = dir.path().join("big.json");
    let one = json!({"proto": "tcp", "family": "ipv4", "local_addr": "127.0.0.1",
                     "local_port": 40000, "remote_addr": "127.0.0.2", "remote_port": 80,
                     "state": "ESTAB", "uid": 0, "user": "root", "pids": [],
                     "process": null, "cmdline": null, "ephemeral": true})
    .to_string();
    let mut text = String::from("[");
    for i in 0..200_000 {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&one);
    }
    text.push(']');
    std::fs::write(&rec, text).unwrap();
    for (cmd, code) in [("list", 2), ("pool", 3)] {
        let o = std::process::Command::new("prlimit")
            .arg(format!("--as={}", 48 << 20))
            .arg(env!("CARGO_BIN_EXE_porttop"))
            .args([cmd, "--replay", rec.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{cmd}: {err}");
        assert!(err.starts_with("porttop: out of memory"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn the_dashboard_says_after_it_ends_that_the_last_line_was_cut() {
    if !have("tmux") {
        eprintln!("SKIP: needs tmux");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_, cut) = cut_recording(dir.path());
    let err = dir.path().join("err");
    let t = common::tmux::Tmux::new("cutnote");
    t.start(
        120,
        30,
        &format!(
            "{} --replay {} --interval 250ms 2>{}; echo done-$?; sleep 30",
            env!("CARGO_BIN_EXE_porttop"),
            cut.display(),
            err.display()
        ),
    );
    // The second frame (its third socket, port 40002) is the last complete one.
    let screen = t.wait("the second frame", 30, |s| s.contains("40002"));
    assert!(!screen.contains("incomplete"), "{screen}");
    t.keys(&["q"]);
    t.wait("the dashboard to end", 30, |s| s.contains("done-0"));
    let note = std::fs::read_to_string(&err).unwrap();
    assert!(note.contains("last line is incomplete"), "{note}");
}
