//! `check`, `suggest` and `reserve` through the real binary.

mod common;
use common::netns::Netns;
use common::*;
use serde_json::Value;

fn check_json(args: &[&str]) -> (i32, Vec<Value>) {
    let mut a = vec!["check", "--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, v)
}

fn finding<'a>(j: &'a Value, rule: &str) -> &'a Value {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} in {j:#}"))
}

#[test]
fn check_80_is_privileged_and_registered() {
    let (code, v) = check_json(&["80/tcp"]);
    assert_eq!(code, 1);
    assert_eq!(v[0]["verdict"], "bad");
    assert_eq!(finding(&v[0], "privileged")["status"], "bad");
    assert_eq!(finding(&v[0], "iana")["status"], "caution");
    assert!(finding(&v[0], "iana")["message"]
        .as_str()
        .unwrap()
        .contains("http"));
}

#[test]
fn check_31337_names_back_orifice() {
    let (code, v) = check_json(&["31337"]);
    assert_eq!(code, 1);
    let udp = v.iter().find(|j| j["proto"] == "udp").unwrap();
    assert_eq!(udp["verdict"], "bad");
    let m = finding(udp, "malware");
    assert_eq!(m["status"], "bad");
    assert!(
        m["message"].as_str().unwrap().contains("Back Orifice"),
        "{m}"
    );
}

#[test]
fn check_uses_the_what_if_range_and_reserved_list() {
    let (code, v) = check_json(&["--range", "20000-20999", "20500/tcp"]);
    assert_eq!(code, 1);
    let e = finding(&v[0], "ephemeral_range");
    assert_eq!(e["status"], "bad");
    assert!(
        e["message"].as_str().unwrap().contains("20000-20999"),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("--range"), "{e}");

    let (_, v) = check_json(&["--range", "20000-20999", "--reserved", "20500", "20500/tcp"]);
    assert_eq!(finding(&v[0], "reserved")["status"], "good");
    assert_ne!(finding(&v[0], "ephemeral_range")["status"], "bad");
}

#[test]
fn check_reports_a_port_this_test_listens_on_with_its_process() {
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port().to_string();
    let (code, v) = check_json(&[&format!("{port}/tcp")]);
    assert_eq!(code, 1);
    let u = finding(&v[0], "in_use");
    assert_eq!(u["status"], "bad");
    let msg = u["message"].as_str().unwrap();
    assert!(msg.contains(&my_name()), "{msg}");
    assert!(msg.contains(&std::process::id().to_string()), "{msg}");
}

#[test]
fn suggested_ports_pass_check_are_stable_and_portable_ones_avoid_every_default() {
    let (code, a, _) = run(&["suggest", "--json", "-n", "8", "--near", "7000"]);
    assert_eq!(code, 0);
    let (_, b, _) = run(&["suggest", "--json", "-n", "8", "--near", "7000"]);
    assert_eq!(a, b, "stable across runs");
    let list: Vec<Value> = serde_json::from_str(&a).unwrap();
    assert_eq!(list.len(), 8);
    let ports: Vec<String> = list.iter().map(|s| s["port"].to_string()).collect();
    let refs: Vec<&str> = ports.iter().map(String::as_str).collect();
    let (code, out, _) = run(&[&["check"][..], &refs].concat());
    assert_eq!(code, 0, "every suggestion passes check:\n{out}");
    // A clean port: exit 0.
    let (code, _, _) = run(&["check", refs[0]]);
    assert_eq!(code, 0);

    let (_, p, _) = run(&["suggest", "--json", "-n", "20", "--portable"]);
    let list: Vec<Value> = serde_json::from_str(&p).unwrap();
    for s in &list {
        let port = s["port"].as_u64().unwrap();
        for (lo, hi) in [(32768, 60999), (49152, 65535), (1025, 5000)] {
            assert!(!(lo..=hi).contains(&port), "{port} in {lo}-{hi}");
        }
        assert!(!s["reserve"]["commands"].as_array().unwrap().is_empty());
    }
}

#[test]
fn check_and_reserve_reject_bad_input() {
    assert_one_line_error(&["check", "70000"], 2);
    assert_one_line_error(&["check", "80/sctp"], 2);
    assert_one_line_error(&["check"], 2);
    assert_one_line_error(&["suggest", "-n", "0"], 2);
    assert_one_line_error(&["reserve", "0"], 2);
    assert_one_line_error(&["reserve", "--range", "1-2", "5000"], 2);
}

#[test]
fn reserve_refuses_without_a_terminal_and_dry_run_changes_nothing() {
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap();
    let o = porttop()
        .args(["reserve", "45678"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));
    let (code, out, _) = run(&["reserve", "45678", "--dry-run"]);
    assert_eq!(code, 0);
    assert!(out.contains("45678") && out.contains("dry run"), "{out}");
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap();
    assert_eq!(before, after);
}

#[test]
fn reserve_in_a_namespace_keeps_the_list_and_connect_never_gets_the_port() {
    let Some(ns) = Netns::create("reserve") else {
        return;
    };
    ns.sysctl("ip_local_port_range", "40000 40099");
    ns.sysctl("ip_local_reserved_ports", "40010,40020-40022");
    let (code, out, err) = ns.porttop(&["reserve", "40050", "--yes"]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(
        ns.read("ip_local_reserved_ports"),
        "40010,40020-40022,40050"
    );
    // Pool is 100 - 5 reserved: a storm of 95 connections to one destination
    // gets every other port and never a reserved one.
    let lab = ns.lab(&["hold", "--conns", "95", "--seconds", "60"]);
    let (_, out, _) = ns.porttop(&[
        "list",
        "--json",
        "--port",
        &lab.port("listener").to_string(),
    ]);
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mut clients: Vec<u64> = rows
        .iter()
        .filter(|r| r["local_port"] != lab.port("listener"))
        .map(|r| r["local_port"].as_u64().unwrap())
        .collect();
    clients.sort();
    assert_eq!(clients.len(), 95);
    for p in [40010, 40020, 40021, 40022, 40050] {
        assert!(!clients.contains(&p), "reserved port {p} handed out");
    }
    // Non-root cannot reserve: a clear message, nothing changed.
    let dir = tempfile::tempdir().unwrap();
    let bin = world_runnable_binary(dir.path());
    let o = ns
        .cmd("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        .args(["reserve", "40060", "--yes"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("CAP_NET_ADMIN in this network namespace"),
        "{err}"
    );
    assert_eq!(
        ns.read("ip_local_reserved_ports"),
        "40010,40020-40022,40050"
    );
}
