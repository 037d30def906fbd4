//! A process that names itself with escape codes (prctl(PR_SET_NAME), which needs
//! no privilege) must not reach the terminal, a CSV cell or a metric label raw:
//! every text output shows the control characters escaped (`\x1b`), JSON keeps the
//! exact name. The process is loadlab, holding one connection to its listener.

mod common;
use common::netns::Lab;
use common::*;
use std::process::Command;

/// Sets the window title and clears the screen when printed raw (12 bytes: the
/// kernel keeps 15).
const EVIL: &str = "\x1b]2;PWN\x07\x1b[2J";
const SHOWN: &str = r"\x1b]2;PWN\x07\x1b[2J";

fn evil_lab() -> (Lab, u16) {
    let lab = Lab::start(
        Command::new(env!("CARGO_BIN_EXE_loadlab")),
        &["hold", "--conns", "1", "--seconds", "60", "--name", EVIL],
    );
    let port = lab.port("listener");
    (lab, port)
}

/// No byte a terminal acts on: C0 controls but line feed, DEL, and the C1 range.
fn assert_clean(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(bad.is_empty(), "{what} writes raw {bad:?}:\n{text}");
}

fn output(args: &[&str]) -> String {
    let (code, out, err) = run(args);
    assert!(code == 0 || code == 1, "{args:?}: {code} {err}");
    assert_clean(&format!("{args:?} (stderr)"), &err);
    out
}

#[test]
fn list_table_csv_and_json() {
    let (lab, port) = evil_lab();
    let p = port.to_string();
    let table = output(&["list", "--port", &p]);
    assert_clean("list", &table);
    assert!(table.contains(SHOWN), "{table}");
    let csv = output(&["list", "--csv", "--port", &p]);
    assert_clean("list --csv", &csv);
    // process and cmdline cells
    assert!(csv.matches(SHOWN).count() >= 2, "{csv}");
    let json = output(&["list", "--json", "--port", &p]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    let mine: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["pids"][0] == lab.child.id())
        .collect();
    assert!(!mine.is_empty(), "{json}");
    for r in mine {
        assert_eq!(r["process"], EVIL, "JSON keeps the exact name: {r}");
    }
    assert_clean("list --json", &json);
}

#[test]
fn check_pool_range_and_suggest() {
    let (_lab, port) = evil_lab();
    let p = port.to_string();
    let check = output(&["check", &format!("{p}/tcp")]);
    assert_clean("check", &check);
    assert!(check.contains(SHOWN), "{check}");
    // The listener inside a what-if range: a collision naming the process.
    let range = format!("{}-{}", port, port.saturating_add(100));
    let pool = output(&["--range", &range, "pool", "--sample", "0"]);
    assert_clean("pool", &pool);
    assert!(pool.contains(SHOWN), "{pool}");
    assert_clean("range", &output(&["--range", &range, "range"]));
    assert_clean("suggest", &output(&["--range", &range, "suggest"]));
}

#[test]
fn metrics_labels() {
    let (_lab, port) = evil_lab();
    let range = format!("{}-{}", port, port.saturating_add(100));
    let mut serve = porttop()
        .args(["--range", &range, "serve", "--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(serve.stderr.take().expect("stderr"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(err.read_line(&mut line).unwrap_or(0) > 0, "serve ended");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
    };
    let body = http_get(&addr, "/metrics");
    let _ = serve.kill();
    let _ = serve.wait();
    assert_clean("/metrics", &body);
    let shown_label = SHOWN.replace('\\', "\\\\");
    assert!(
        body.contains(&format!("process=\"{shown_label}\"")),
        "the listener's process label:\n{body}"
    );
}

pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
    let mut v = Vec::new();
    s.read_to_end(&mut v).expect("read");
    let text = String::from_utf8_lossy(&v).into_owned();
    // the body only (headers end in CRLF)
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

#[test]
fn dashboard_shows_the_name_escaped_and_keeps_the_title() {
    if !have("tmux") {
        eprintln!("SKIP: tmux is not installed; the dashboard's part did not run");
        return;
    }
    let (_lab, port) = evil_lab();
    let t = common::tmux::Tmux::new("evil");
    let cmd = format!(
        "'{}' --interval 250ms --port {port}; sleep 30",
        env!("CARGO_BIN_EXE_porttop")
    );
    t.start(160, 30, &cmd);
    let title_before = t.cmd(&["display", "-p", "-t", "t", "#{pane_title}"]);
    // The PROCESS column may cut the name: its start is enough.
    let screen = t.wait("the escaped name", 10, |s| s.contains(r"\x1b]2;PWN"));
    assert!(!screen.contains("]2;PWN]"), "{screen}");
    let title = t.cmd(&["display", "-p", "-t", "t", "#{pane_title}"]);
    assert!(
        !title.contains("PWN"),
        "title changed: {title} (was {title_before})"
    );
    t.keys(&["q"]);
}

#[test]
fn process_name_is_the_kernel_comm_as_ss_shows_it() {
    // An executable whose file name is longer than comm's 15 bytes: ss and ps show
    // the kernel's `loadlab-with-a-`, and so does porttop (not the file name).
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("loadlab-with-a-long-name");
    std::fs::copy(env!("CARGO_BIN_EXE_loadlab"), &exe).expect("copy loadlab");
    let lab = Lab::start(
        Command::new(&exe),
        &["hold", "--conns", "1", "--seconds", "60"],
    );
    let pid = lab.child.id();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("comm");
    assert_eq!(comm.trim_end(), "loadlab-with-a-");
    let json = output(&["list", "--json", "--pid", &pid.to_string()]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    assert!(!rows.is_empty(), "{json}");
    for r in &rows {
        assert_eq!(r["process"], "loadlab-with-a-", "{r}");
        let cmd = r["cmdline"].as_str().unwrap_or_default();
        assert!(cmd.contains("loadlab-with-a-long-name hold"), "{r}");
    }
    if have("ss") {
        let ss = Command::new("ss")
            .args(["-Htlpn", &format!("sport = :{}", lab.port("listener"))])
            .output()
            .expect("ss");
        let ss = String::from_utf8_lossy(&ss.stdout);
        assert!(ss.contains("((\"loadlab-with-a-\""), "{ss}");
    }
}

/// A recording is a file anyone may hand over: its host, user, process names and
/// command lines go through the same sanitiser (JSON output keeps them exact).
#[test]
fn a_hostile_recording_is_shown_escaped() {
    let snap = serde_json::json!({
        "taken_at_ms": 1_700_000_000_000u64,
        "host": format!("h{EVIL}"),
        "range": {"low": 40000, "high": 40099, "reserved": [], "source": format!("src{EVIL}")},
        "partial": false,
        "sockets": [{
            "proto": "tcp", "family": "ipv4",
            "local": {"addr": "0.0.0.0", "port": 40050}, "remote": null,
            "state": "LISTEN", "uid": 1000, "user": format!("u{EVIL}"),
            "inode": 7, "pids": [42]
        }],
        "processes": {"42": {
            "pid": 42, "name": EVIL, "uid": 1000, "user": format!("u{EVIL}"),
            "cmdline": format!("/bin/x --token {EVIL}")
        }}
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("evil.jsonl");
    std::fs::write(&file, format!("{snap}\n")).expect("write");
    let f = file.to_str().expect("utf-8 path");
    for args in [
        &["list", "--replay", f][..],
        &["list", "--csv", "--replay", f],
        &["pool", "--replay", f],
        &["range", "--replay", f],
        &["check", "40050/tcp", "--replay", f],
        &["suggest", "-n", "1", "--replay", f],
    ] {
        let out = output(args);
        assert_clean(&format!("{args:?}"), &out);
    }
    let table = output(&["list", "--replay", f]);
    assert!(table.contains(&format!("u{SHOWN}")), "{table}");
    let csv = output(&["list", "--csv", "--replay", f]);
    assert!(csv.contains(&format!("--token {SHOWN}")), "{csv}");
    let json = output(&["list", "--json", "--replay", f]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
    assert_eq!(rows[0]["user"], format!("u{EVIL}"));
}
