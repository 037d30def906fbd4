//! Early pool warnings on real sockets: a private namespace with a 1,000-port range
//! and `tcp_tw_reuse=0` (as toward a remote host, where TIME-WAIT blocks), a churn of
//! short connections to one destination, and `porttop watch` next to it. The lead
//! time is the figure of merit: how long before the first failed connect() the
//! level went warn and critical. The margins are wide (the goal is 30 s / 10 s; a
//! projection-driven level gives ~45 s here), so a loaded machine does not fail it.

mod common;
use common::netns::Netns;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// `porttop watch` in the namespace; its pool_level events (ts_ms, level) arrive
/// on the channel.
fn watch(ns: &Netns, secs: u32) -> (Child, mpsc::Receiver<(u64, String)>) {
    let mut child = ns
        .cmd(env!("CARGO_BIN_EXE_porttop"))
        .env("PORTTOP_NETNS", "host")
        .args(["watch", "--jsonl", "--interval", "1s", "--duration"])
        .arg(secs.to_string())
        .args(["--port", "1"]) // socket events off: only pool and collisions
        .stdout(Stdio::piped())
        .spawn()
        .expect("start watch");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["event"] == "pool_level" {
                let ts = v["ts_ms"].as_u64().unwrap_or(0);
                let level = v["level"].as_str().unwrap_or("").to_string();
                if tx.send((ts, level)).is_err() {
                    break;
                }
            }
        }
    });
    (child, rx)
}

fn setup(tag: &str) -> Option<Netns> {
    let ns = Netns::create(tag)?;
    ns.sysctl("ip_local_port_range", "40000 40999");
    ns.sysctl("tcp_tw_reuse", "0");
    Some(ns)
}

#[test]
fn a_churn_that_exhausts_the_pool_is_warned_about_long_before_connect_fails() {
    let Some(ns) = setup("early") else {
        return;
    };
    let (mut w, events) = watch(&ns, 90);
    std::thread::sleep(Duration::from_millis(1500)); // watch's baseline first
                                                     // 20/s, each leaving a 60 s TIME-WAIT: 1,000 ports are gone after ~50 s.
    let lab = ns.lab(&["churn", "--rate", "20", "--seconds", "80"]);
    let mut fail_ms = None;
    while let Ok(line) = lab.lines.recv_timeout(Duration::from_secs(120)) {
        if let Some(rest) = line.strip_prefix("fail ") {
            fail_ms = rest
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<u64>().ok());
            break;
        }
    }
    let fail_ms = fail_ms.expect("the churn never exhausted the pool");
    std::thread::sleep(Duration::from_millis(500));
    let _ = w.kill();
    let _ = w.wait();
    let got: Vec<(u64, String)> = events.try_iter().collect();
    let first = |l: &[&str]| {
        got.iter()
            .find(|(_, lv)| l.contains(&lv.as_str()))
            .map(|e| e.0)
    };
    let warn = first(&["warn", "critical"]).unwrap_or_else(|| panic!("never warned: {got:?}"));
    let crit = first(&["critical"]).unwrap_or_else(|| panic!("never critical: {got:?}"));
    let lead = |t: u64| fail_ms.saturating_sub(t) as f64 / 1000.0;
    eprintln!(
        "lead time: warn {:.1} s, critical {:.1} s",
        lead(warn),
        lead(crit)
    );
    assert!(
        lead(warn) >= 30.0,
        "warned {:.1} s ahead: {got:?}",
        lead(warn)
    );
    assert!(
        lead(crit) >= 10.0,
        "critical {:.1} s ahead: {got:?}",
        lead(crit)
    );
}

#[test]
fn a_churn_that_settles_at_60_percent_never_warns() {
    let Some(ns) = setup("settle") else {
        return;
    };
    let (mut w, events) = watch(&ns, 95);
    std::thread::sleep(Duration::from_millis(1500));
    // 10/s x 60 s of TIME-WAIT settles at ~600 of 1,000 ports after a minute.
    let mut lab = ns.lab(&["churn", "--rate", "10", "--seconds", "90"]);
    let _ = lab.child.wait();
    let failed = lab.lines.try_iter().find(|l| l.starts_with("fail "));
    std::thread::sleep(Duration::from_millis(1500));
    let _ = w.kill();
    let _ = w.wait();
    assert_eq!(failed, None, "the pool ran out");
    let got: Vec<(u64, String)> = events.try_iter().collect();
    assert!(got.is_empty(), "false alarms: {got:?}");
    // It did get busy: pool reports ~60 %.
    let (_, out, _) = ns.porttop(&["pool", "--json", "--sample", "0"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = v["fraction"].as_f64().unwrap();
    assert!(f > 0.4, "the churn did not fill the pool as expected: {f}");
}
