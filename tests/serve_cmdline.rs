//! Command lines can hold secrets: `serve` on a non-loopback address leaves them
//! out of `/snapshot.json` unless `--expose-cmdline`; on loopback they stay.
//! `--listen :PORT` and `localhost:PORT` work.

mod common;
use common::netns::Lab;
use common::*;
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};

/// Starts `serve` with `args`; returns it and the port it serves on (the caller
/// kills and waits for it).
#[allow(clippy::zombie_processes)]
fn serve(args: &[&str]) -> (std::process::Child, u16) {
    let mut child = porttop()
        .arg("serve")
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let mut err = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve ended before serving");
        }
        if let Some(rest) = line.split("http://").nth(1) {
            let addr = rest.split('/').next().unwrap_or_default();
            let port = addr.rsplit(':').next().and_then(|p| p.parse().ok());
            // Keep reading stderr: with its pipe closed, serve's next note on
            // stderr fails (eprintln panics on EPIPE) and the server goes wrong.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return (child, port.expect("a port"));
        }
    }
}

fn snapshot(port: u16, what: &str) -> Vec<serde_json::Value> {
    let mut last = String::new();
    for _ in 0..50 {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        };
        let _ = write!(s, "GET /snapshot.json HTTP/1.0\r\nHost: x\r\n\r\n");
        let mut v = Vec::new();
        match s.read_to_end(&mut v) {
            Ok(_) => {
                let text = String::from_utf8_lossy(&v).into_owned();
                let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
                return serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{what}: no answer from :{port}: {last}");
}

fn lab_cmdline(rows: &[serde_json::Value], pid: u32) -> Vec<String> {
    rows.iter()
        .filter(|r| r["pids"][0] == pid)
        .map(|r| r["cmdline"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn command_lines_leave_snapshot_json_on_a_non_loopback_listener() {
    let lab = Lab::start(
        Command::new(env!("CARGO_BIN_EXE_loadlab")),
        &["hold", "--conns", "1", "--seconds", "60"],
    );
    let pid = lab.child.id();
    for (args, exposed) in [
        (&["--listen", "127.0.0.1:0"][..], true),
        (&["--listen", "0.0.0.0:0"], false),
        (&["--listen", "0.0.0.0:0", "--expose-cmdline"], true),
        // `:PORT` (every IPv4 address) and `localhost:PORT` are accepted.
        (&["--listen", ":0"], false),
        (&["--listen", "localhost:0"], true),
    ] {
        let (mut child, port) = serve(args);
        let rows = snapshot(port, &format!("{args:?}"));
        let _ = child.kill();
        let _ = child.wait();
        let cmds = lab_cmdline(&rows, pid);
        assert!(!cmds.is_empty(), "{args:?}: loadlab's sockets");
        for c in &cmds {
            assert_eq!(c.contains("hold --conns 1"), exposed, "{args:?}: {c:?}");
        }
        if !exposed {
            let all = serde_json::to_string(&rows).unwrap_or_default();
            assert!(!all.contains("--conns"), "{args:?}");
        }
    }
}
