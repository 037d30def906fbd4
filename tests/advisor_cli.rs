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
    let file = std::path::Path::new("/proc/sys/net/ipv4/ip_local_reserved_ports");
    let before = porttop::range::read_sysfile(file).unwrap();
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
    let after = porttop::range::read_sysfile(file).unwrap();
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
    assert!(err.contains("run as root"), "{err}");
    assert_eq!(
        ns.read("ip_local_reserved_ports"),
        "40010,40020-40022,40050"
    );
}

/// procfs answers a read that does not start at offset 0 with end-of-file, so a
/// buffered read cut the list after 32 bytes and `reserve` wrote the cut list back
/// (it lost 60000-60010 and reserved 6000). This runs on a real namespace's procfs
/// file: a temp file does not behave that way.
#[test]
fn reserve_keeps_a_list_longer_than_one_small_read() {
    let Some(ns) = Netns::create("reslong") else {
        return;
    };
    ns.sysctl(
        "ip_local_reserved_ports",
        "1000-1010,40000-40100,50000,60000-60010",
    );
    let (code, out, err) = ns.porttop(&["reserve", "--yes", "9123"]);
    assert_eq!(code, 0, "{out} {err}");
    let want = "1000-1010,9123,40000-40100,50000,60000-60010";
    assert_eq!(ns.read("ip_local_reserved_ports"), want);
    assert!(
        out.contains(&format!("net.ipv4.ip_local_reserved_ports = {want}'")),
        "the sysctl.d line must carry the whole list: {out}"
    );
    // Ranges past the first 32 bytes are seen by every command.
    ns.sysctl(
        "ip_local_reserved_ports",
        "40000-40009,40020-40029,40040-40049",
    );
    let (code, out, err) = ns.porttop(&["range", "--json"]);
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, err) = ns.porttop(&["check", "--json", "40045/tcp"]);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let msg = finding(&v[0], "reserved")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!msg.contains("not reserved"), "code {code}: {msg}");
}

/// 10,000 reserved ports (every other port of 20000-39999, about 60 KB of text):
/// `reserve` adds one port and keeps all of them; `range` counts all of them.
#[test]
fn reserve_keeps_ten_thousand_reserved_ports() {
    let Some(ns) = Netns::create("res10k") else {
        return;
    };
    let list: Vec<String> = (0..10_000).map(|i| (20_000 + 2 * i).to_string()).collect();
    let list = list.join(",");
    ns.sysctl("ip_local_reserved_ports", &list);
    assert_eq!(
        ns.read("ip_local_reserved_ports"),
        list,
        "the kernel took the list"
    );
    let (code, out, err) = ns.porttop(&["reserve", "--yes", "9123"]);
    assert_eq!(code, 0, "{out} {err}");
    assert_eq!(ns.read("ip_local_reserved_ports"), format!("9123,{list}"));
    let (code, out, err) = ns.porttop(&["range", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let text = v.to_string();
    assert!(
        text.contains("39998"),
        "the last reserved port is seen: {text:.400}"
    );
    let (_, out, err) = ns.porttop(&["check", "--json", "39998/tcp"]);
    let v: Vec<Value> = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    let msg = finding(&v[0], "reserved")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!msg.contains("not reserved"), "{msg}");
}
