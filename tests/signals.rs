//! One stop for every long-running command: SIGTERM, SIGINT and SIGHUP end the
//! real `serve`, `watch` and `record` binaries between refreshes, with exit
//! status 128 + the signal, and what they wrote is whole (no half line).

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, sig) };
}

/// The exit code, waiting at most 20 s (then the child is killed: a failure).
fn exit_code(mut child: Child) -> Option<i32> {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("not ended 20 s after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to 20 s) until `path` holds at least `n` whole lines.
fn wait_for_lines(path: &std::path::Path, n: usize) {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.matches('\n').count() >= n {
            return;
        }
        assert!(Instant::now() < end, "fewer than {n} lines in 20 s: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every line whole JSON, the last one ended.
fn assert_whole_json_lines(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).expect("output");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "half a line: {text}"
    );
    for l in text.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
}

#[test]
fn sighup_and_sigterm_end_serve_with_128_plus_the_signal() {
    for (sig, code) in [(libc::SIGHUP, 129), (libc::SIGTERM, 143)] {
        let mut child = porttop()
            .args(["serve", "--no-config", "--interval", "250ms"])
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve");
        // It says where it serves once the first refresh is published.
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        while !line.contains("serving http://") {
            line.clear();
            assert!(
                err.read_line(&mut line).expect("stderr") > 0,
                "no serving line"
            );
        }
        std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
        signal(&child, sig);
        assert_eq!(exit_code(child), Some(code), "signal {sig}");
    }
}

#[test]
fn sighup_ends_watch_and_sigterm_ends_record_between_whole_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    // watch: a socket of ours opened after the baseline gives one line.
    let out = dir.path().join("watch.jsonl");
    let probe = udp_outside_range("127.0.0.1");
    let port = probe.local_addr().expect("addr").port();
    drop(probe);
    let child = porttop()
        .args(["watch", "--no-config", "--interval", "250ms"])
        .arg(format!("port:{port}"))
        .stdout(std::fs::File::create(&out).expect("file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("watch");
    let end = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&out).unwrap_or_default().is_empty() {
        // Bound again until watch has its baseline and reports the open.
        let sock = std::net::UdpSocket::bind(("127.0.0.1", port));
        std::thread::sleep(Duration::from_millis(300));
        drop(sock);
        assert!(Instant::now() < end, "no event from watch");
    }
    wait_for_lines(&out, 1);
    signal(&child, libc::SIGHUP);
    assert_eq!(exit_code(child), Some(129));
    assert_whole_json_lines(&out);

    // record: frames written while it is stopped are whole.
    let out = dir.path().join("rec.jsonl");
    let child = porttop()
        .args([
            "record",
            "--no-config",
            "--interval",
            "250ms",
            "--count",
            "1000",
        ])
        .stdout(std::fs::File::create(&out).expect("file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("record");
    wait_for_lines(&out, 2);
    signal(&child, libc::SIGTERM);
    assert_eq!(exit_code(child), Some(143));
    assert_whole_json_lines(&out);
}
