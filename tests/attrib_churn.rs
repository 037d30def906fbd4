//! Attribution under churn, in-process on real sockets: sockets opened and closed
//! between refreshes, by this process (reusing fd numbers) and by a child that starts
//! after the first refresh, get the right pid in the very next refresh; the cache
//! forgets a child that exited.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use porttop::model::{Snapshot, SockState};
use porttop::source::{RangeConfig, SocketSource, SystemSource};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// Sockets with an inode (not TIME_WAIT leftovers) touching `port`, with their pids.
fn on_port(s: &Snapshot, port: u16) -> Vec<(u64, Vec<u32>)> {
    s.sockets
        .iter()
        .filter(|x| x.state != SockState::TimeWait && x.inode.is_some())
        .filter(|x| x.local.port == port || x.remote.as_ref().map(|r| r.port) == Some(port))
        .map(|x| (x.inode.unwrap(), x.pids.to_vec()))
        .collect()
}

struct Loadlab(Child);
impl Drop for Loadlab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `loadlab hold --conns n --churn c`; returns it and its listener port.
fn loadlab(n: usize, churn: u32) -> (Loadlab, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadlab"))
        .args([
            "hold",
            "--conns",
            &n.to_string(),
            "--churn",
            &churn.to_string(),
        ])
        .args(["--seconds", "60", "--stdin-eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(line.trim_start_matches("ready ")).unwrap();
    (Loadlab(child), v["listener"].as_u64().unwrap() as u16)
}

fn signal(c: &Child, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(c.id() as libc::pid_t, sig) };
}

#[test]
fn churned_sockets_are_attributed_in_the_next_refresh() {
    let _g = serial();
    let me = std::process::id();
    let mut src = SystemSource::new(RangeConfig::default());
    src.snapshot().unwrap();

    // After the first refresh: our own connections, and a child that churns its own.
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port();
    let mut mine = connect_n(&l, 5);
    let (lab, lab_port) = loadlab(50, 200);
    std::thread::sleep(std::time::Duration::from_millis(300));

    for round in 0..4 {
        // Freeze the child so its sockets hold still between the dump and /proc.
        signal(&lab.0, libc::SIGSTOP);
        let snap = src.snapshot().unwrap();
        signal(&lab.0, libc::SIGCONT);
        let ours = on_port(&snap, port);
        assert_eq!(
            ours.len(),
            11,
            "round {round}: listener + 5 pairs: {ours:?}"
        );
        for (inode, pids) in &ours {
            assert_eq!(pids, &vec![me], "round {round}: inode {inode}");
        }
        let lab_pid = lab.0.id();
        let theirs = on_port(&snap, lab_port);
        assert!(theirs.len() >= 101, "round {round}: {}", theirs.len());
        for (inode, pids) in &theirs {
            assert_eq!(pids, &vec![lab_pid], "round {round}: inode {inode}");
        }

        // Close two of ours and open two more: the kernel reuses the freed fd numbers.
        mine.truncate(3);
        mine.extend(connect_n(&l, 2));
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    // One more through an existing process: a lone client socket, fd reused.
    drop(mine.pop());
    let extra = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (_srv, _) = l.accept().unwrap();
    let snap = src.snapshot().unwrap();
    let local = extra.local_addr().unwrap().port();
    let s = snap
        .sockets
        .iter()
        .find(|s| {
            s.local.port == local
                && s.remote.as_ref().map(|r| r.port) == Some(port)
                && s.inode.is_some()
        })
        .unwrap();
    assert_eq!(s.pids.to_vec(), vec![me], "{:?}", src.attrib_stats());

    // The child exits: its pid and sockets leave the cache.
    let lab_pid = lab.0.id();
    drop(lab);
    let snap = src.snapshot().unwrap();
    assert!(!snap.processes.contains_key(&lab_pid));
    assert!(
        !src.cached_pids().any(|p| p == lab_pid),
        "dead pid still cached"
    );
    assert!(on_port(&snap, lab_port)
        .iter()
        .all(|(_, pids)| !pids.contains(&lab_pid)));
}
