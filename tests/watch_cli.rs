//! `watch` as a pipeline stage: JSON lines without saying `--jsonl`, and
//! `watch | head -1` ends when head does, not at the next event.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn jsonl_is_the_default() {
    let (code, _, err) = run(&[
        "watch",
        "--interval",
        "250ms",
        "--duration",
        "0.3",
        "port:1",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["watch", "--jsonl", "--duration", "0.3", "port:1"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_reader_that_goes_away_ends_watch_between_events() {
    // UDP sockets on ports of our own: one `open` event each and nothing after.
    let first = udp_outside_range("127.0.0.1");
    let base = first.local_addr().expect("addr").port();
    drop(first);
    let span = format!("port:{base}-{}", base.saturating_add(200));
    let mut child = porttop()
        .args(["watch", "--interval", "250ms", "--duration", "120", &span])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watch");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // `head -1` exits here: the pipe's read end closes with `r`.
    });
    // The baseline is taken first: bind until one socket is reported, waiting
    // long enough each time that no second one is.
    let mut socks = Vec::new();
    let line = loop {
        let port = base + socks.len() as u16;
        if let Ok(s) = std::net::UdpSocket::bind(("127.0.0.1", port)) {
            socks.push(s);
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_secs(3)) {
            break l;
        }
        assert!(socks.len() < 20, "no event from watch");
    };
    assert!(line.contains("\"event\":\"open\""), "{line}");
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if Instant::now() > end {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = status.expect("watch ended after its reader left, before any further event");
    assert_eq!(status.code(), Some(0));
}
