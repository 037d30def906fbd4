//! Processes and sockets that vanish between the netlink dump and the /proc walk:
//! many short-lived processes with sockets are started and killed while the source
//! refreshes in a loop. No refresh fails, and no dead pid stays attributed.
#![cfg(target_os = "linux")]

use porttop::source::{RangeConfig, SocketSource, SystemSource};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kids(Vec<Child>);
impl Drop for Kids {
    fn drop(&mut self) {
        for c in self.0.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_lab(n: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_loadlab"))
        .args(["hold", "--conns", &n.to_string(), "--seconds", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loadlab")
}

#[test]
fn refreshes_survive_processes_dying_mid_walk_and_keep_no_dead_pid() {
    let mut src = SystemSource::new(RangeConfig::default());
    src.snapshot().expect("first snapshot");
    let mut kids = Kids(Vec::new());
    let mut seen_pids: HashSet<u32> = HashSet::new();
    let mut started = 0;
    let mut refreshes = 0;
    let end = Instant::now() + Duration::from_secs(6);
    let mut i = 0u64;
    while Instant::now() < end {
        i += 1;
        // Start a few, kill the oldest ones at varying moments.
        if kids.0.len() < 12 {
            kids.0.push(spawn_lab(3 + (i % 7) as usize));
            started += 1;
        }
        if i.is_multiple_of(3) && kids.0.len() > 4 {
            let mut c = kids.0.remove(0);
            let _ = c.kill();
            // Reap sometimes before, sometimes after the next refresh.
            if i.is_multiple_of(2) {
                let _ = c.wait();
            } else {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(3));
                    let _ = c.wait();
                });
            }
        }
        let snap = src
            .snapshot()
            .expect("a refresh never fails on vanishing processes");
        refreshes += 1;
        for s in &snap.sockets {
            seen_pids.extend(s.pids.iter().copied());
            for p in &s.pids {
                assert!(
                    snap.processes.contains_key(p),
                    "pid {p} attributed without details"
                );
            }
        }
        std::thread::sleep(Duration::from_millis(5 + i % 20));
    }
    assert!(started >= 12, "{started} processes started");
    assert!(refreshes >= 20, "{refreshes} refreshes");
    let lab_pids: HashSet<u32> = kids.0.iter().map(|c| c.id()).collect();
    drop(kids);
    std::thread::sleep(Duration::from_millis(100));
    let snap = src.snapshot().expect("snapshot after all died");
    let cached: HashSet<u32> = src.cached_pids().collect();
    for p in lab_pids {
        assert!(!cached.contains(&p), "dead pid {p} still cached");
        assert!(
            !snap.sockets.iter().any(|s| s.pids.contains(&p)),
            "dead pid {p} still attributed"
        );
    }
    assert!(!seen_pids.is_empty());
}
