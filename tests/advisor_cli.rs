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
    assert!(
        err.contains("CAP_NET_ADMIN in this network namespace"),
        "{err}"
    );
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

// --- the Windows MaxUserPort table (issue 21) ----------------------------------

fn range_json(args: &[&str]) -> Value {
    let mut a = vec!["range", "--json"];
    a.extend_from_slice(args);
    let (code, out, err) = run(&a);
    assert_eq!(code, 0, "{a:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn range_json_computes_each_table_row_and_says_how() {
    /// (flags, low, high, version, MaxUserPort, meaning)
    type Row<'a> = (&'a [&'a str], u64, u64, &'a str, Value, &'a str);
    let rows: &[Row] = &[
        (
            &["--windows", "nt"],
            1025,
            5000,
            "nt",
            Value::Null,
            "ending_port",
        ),
        (
            &["--windows", "nt", "--maxuserport", "20000"],
            1025,
            20000,
            "nt",
            20000.into(),
            "ending_port",
        ),
        (
            &["--windows", "nt-kb951748"],
            49152,
            65535,
            "nt-kb951748",
            Value::Null,
            "ending_port",
        ),
        (
            &["--windows", "nt-kb951748", "--maxuserport", "0xea60"],
            1025,
            60000,
            "nt-kb951748",
            60000.into(),
            "ending_port",
        ),
        (
            &["--windows", "vista"],
            49152,
            65535,
            "vista",
            Value::Null,
            "number_of_ports",
        ),
        // --maxuserport alone: vista.
        (
            &["--maxuserport", "1000"],
            49152,
            50151,
            "vista",
            1000.into(),
            "number_of_ports",
        ),
    ];
    for (flags, low, high, version, value, meaning) in rows {
        let v = range_json(flags);
        assert_eq!(
            (v["low"].as_u64(), v["high"].as_u64()),
            (Some(*low), Some(*high)),
            "{flags:?}: {v:#}"
        );
        let d = &v["derived"];
        assert_eq!(d["version"], *version, "{flags:?}");
        assert_eq!(d["max_user_port"], *value, "{flags:?}");
        assert_eq!(d["meaning"], *meaning, "{flags:?}");
        assert!(
            d["source"]
                .as_str()
                .unwrap()
                .contains("Choosing a TCP Port"),
            "{d}"
        );
        // A Windows host's reserved ports are not this host's.
        assert_eq!(v["reserved"], "", "{flags:?}");
    }
    // Without the flags there is no derivation.
    assert!(range_json(&[]).get("derived").is_none());
    // Text names the formula.
    let (code, out, _) = run(&["range", "--windows", "nt", "--maxuserport", "20000"]);
    assert_eq!(code, 0);
    assert!(out.contains("ephemeral range  1025-20000"), "{out}");
    assert!(
        out.contains("1025-[MaxUserPort] with MaxUserPort 20000"),
        "{out}"
    );
}

#[test]
fn app_values_fill_in_the_maxuserport_each_product_sets() {
    for (app, value) in [
        ("sbs", 60000),
        ("isa", 65535),
        ("exchange2003", 60000),
        ("sbs-exchange", 65535),
    ] {
        // Alone, --app means the 2000/2003 row these products run on.
        let v = range_json(&["--app", app]);
        assert_eq!(v["derived"]["app"], app);
        assert_eq!(v["derived"]["version"], "nt");
        assert_eq!(v["derived"]["max_user_port"], value);
        assert_eq!(
            (v["low"].as_u64(), v["high"].as_u64()),
            (Some(1025), Some(value))
        );
    }
}

#[test]
fn a_bad_value_for_the_version_is_one_line_and_exit_2() {
    for args in [
        &["range", "--windows", "vista", "--maxuserport", "60000"][..],
        &["range", "--windows", "nt", "--maxuserport", "4999"],
        &["check", "--maxuserport", "16385", "8080"],
        &["suggest", "--windows", "vista", "--app", "isa"],
        &["range", "--maxuserport", "lots"],
        &["range", "--maxuserport", "4294967296"],
        &["range", "--windows", "win7"],
        &["range", "--app", "iis"],
        &["range", "--app", "isa", "--maxuserport", "5000"],
        &["range", "--range", "1-2", "--windows", "nt"],
    ] {
        assert_one_line_error(args, 2);
    }
    let (_, _, err) = run(&["range", "--windows", "vista", "--maxuserport", "60000"]);
    assert!(err.contains("number of ports (255-16384)"), "{err}");
}

#[test]
fn suggest_with_maxuserport_65535_exits_1_with_the_articles_remedies() {
    let (code, out, err) = run(&["suggest", "--windows", "nt", "--maxuserport", "65535"]);
    assert_eq!(code, 1, "{out} {err}");
    assert!(
        out.contains("no port passes every rule: the ephemeral range 1025-65535"),
        "{out}"
    );
    assert!(out.contains("60001-65535 free for listeners"), "{out}");
    assert!(
        out.contains(
            "$ reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\" /v \
             MaxUserPort /t REG_DWORD /d 60000 /f"
        ),
        "{out}"
    );
    assert!(out.contains("/v MaxUserPort /f"), "{out}");
    assert!(out.contains("5001-65535 free for listeners"), "{out}");
    assert!(out.contains("/v ReservedPorts"), "{out}");
    assert!(out.contains("in any case, reserve the port"), "{out}");
    // With KB951746 the default frees 1025-49151.
    let (code, out, _) = run(&[
        "suggest",
        "--windows",
        "nt-kb951748",
        "--app",
        "sbs-exchange",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("1025-49151 free for listeners"), "{out}");
    // JSON keeps its shape (an empty array); the remedies go to stderr.
    let (code, out, err) = run(&["suggest", "--json", "--app", "isa"]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        Value::Array(vec![])
    );
    assert!(err.contains("MaxUserPort /t REG_DWORD /d 60000"), "{err}");
    // A range over 1025-65535 on this (Linux) host: the sysctl remedy.
    let (code, out, _) = run(&["suggest", "--range", "1025-65535", "--proto", "tcp"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("$ sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\""),
        "{out}"
    );
    assert!(
        out.contains("1025-32767 and 61000-65535 free for listeners"),
        "{out}"
    );
}

#[test]
fn suggest_for_a_windows_2003_host_reserves_with_the_registry() {
    let (code, out, err) = run(&[
        "suggest", "--json", "-n", "2", "--app", "sbs", "--near", "60100",
    ]);
    assert_eq!(code, 0, "{err}");
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 2);
    for s in &list {
        let p = s["port"].as_u64().unwrap();
        assert!(p > 60000, "{p} is inside 1025-60000");
        let cmd = s["reserve"]["commands"][0].as_str().unwrap();
        assert!(
            cmd.contains("/v ReservedPorts /t REG_MULTI_SZ") && cmd.contains(&format!("{p}-{p}")),
            "{cmd}"
        );
    }
    // Vista and later: netsh excludedportrange.
    let (code, out, _) = run(&[
        "suggest",
        "--json",
        "-n",
        "1",
        "--windows",
        "vista",
        "--proto",
        "tcp",
    ]);
    assert_eq!(code, 0);
    let list: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(list[0]["reserve"]["commands"][0]
        .as_str()
        .unwrap()
        .starts_with("netsh int ipv4 add excludedportrange protocol=tcp"));
}

#[test]
fn check_uses_the_table_range_and_portable_names_the_rows() {
    // 61500: above 60000 and outside this host's own ephemeral range, so no
    // outgoing connection of a parallel test can hold it.
    let (code, v) = check_json(&["--app", "sbs", "61500/tcp"]);
    assert_eq!(code, 0, "{v:#?}");
    let e = finding(&v[0], "ephemeral_range");
    assert_eq!(e["status"], "good", "{e}");
    assert!(e["message"].as_str().unwrap().contains("1025-60000"), "{e}");
    let (_, v) = check_json(&["--app", "isa", "61500/tcp"]);
    assert_eq!(finding(&v[0], "ephemeral_range")["status"], "bad");

    let (code, v) = check_json(&["--portable", "50000/tcp"]);
    assert_eq!(code, 1);
    let rows: Vec<(&str, &str)> = v[0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "windows_table")
        .map(|f| {
            (
                f["windows"].as_str().unwrap(),
                f["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("nt", "info"),
            ("nt-kb951748", "caution"),
            ("vista", "caution")
        ]
    );
    let (_, out, _) = run(&["check", "--portable", "3000/tcp"]);
    assert!(
        out.contains(
            "caution  windows_table    Windows NT / 2000 / XP / Server 2003: inside 1025-5000"
        ),
        "{out}"
    );
}

/// A TCP socket bound and never listening or connected holds its port from every
/// destination: `check` says the port is taken, `pool` counts it (state BOUND).
#[test]
fn a_bound_only_socket_is_seen_by_check_and_pool() {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh fd with correctly sized addresses.
    let (_fd, port) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0);
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut a: libc::sockaddr_in = std::mem::zeroed();
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of_val(&a) as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&a as *const libc::sockaddr_in).cast(), len),
            0
        );
        let mut got: libc::sockaddr_in = std::mem::zeroed();
        let mut l = len;
        libc::getsockname(fd, (&mut got as *mut libc::sockaddr_in).cast(), &mut l);
        (owned, u16::from_be(got.sin_port))
    };
    let (_, out, err) = run(&["list", "--json", "--port", &port.to_string()]);
    let rows: Vec<Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    if rows.is_empty() {
        eprintln!("SKIP: this kernel does not dump bound-only sockets (Linux 6.5+)");
        return;
    }
    assert_eq!(rows[0]["state"], "BOUND", "{rows:?}");
    let (_, v) = check_json(&[&format!("{port}/tcp")]);
    let f = finding(&v[0], "in_use");
    assert_eq!(f["status"], "bad", "{f}");
    assert!(f["message"].as_str().unwrap().contains("BOUND"), "{f}");
    let (_, out, err) = run(&["pool", "--json", "--sample", "0"]);
    let p: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert!(
        p["tcp"]["by_state"]["BOUND"].as_u64().unwrap_or(0) >= 1,
        "{}",
        p["tcp"]
    );
}
