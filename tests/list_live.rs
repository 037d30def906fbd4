//! `porttop list` on real loopback sockets, cross-checked with `ss`.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

type Row = (String, String, String, String, u32); // proto, local, remote, state, pid

fn endpoint(addr: &Value, port: &Value) -> String {
    match (addr.as_str(), port.as_u64()) {
        (Some(a), Some(p)) if a.contains(':') => format!("[{a}]:{p}"),
        (Some(a), Some(p)) => format!("{a}:{p}"),
        _ => "*".into(),
    }
}

/// Our own sockets as porttop lists them.
fn porttop_rows(json: &[Value], pid: u32) -> BTreeSet<Row> {
    json.iter()
        .filter(|r| r["pids"].as_array().unwrap().iter().any(|p| p == pid))
        .map(|r| {
            (
                r["proto"].as_str().unwrap().to_string(),
                endpoint(&r["local_addr"], &r["local_port"]),
                endpoint(&r["remote_addr"], &r["remote_port"]),
                r["state"].as_str().unwrap().to_string(),
                pid,
            )
        })
        .collect()
}

/// Our own sockets as `ss -Hanp -t|-u` lists them.
fn ss_rows(proto: &str, pid: u32) -> BTreeSet<Row> {
    let flag = if proto == "tcp" { "-tanpH" } else { "-uanpH" };
    let out = std::process::Command::new("ss").arg(flag).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let unmap = |s: &str| -> String {
        let s = s.replace("[::ffff:", "").replace("]:", ":");
        if s.ends_with(":*") {
            "*".into()
        } else if s.starts_with('[') || s.matches(':').count() > 1 {
            // IPv6: put the brackets back.
            let (a, p) = s.trim_start_matches('[').rsplit_once(':').unwrap();
            format!("[{}]:{p}", a.trim_end_matches(']'))
        } else {
            s
        }
    };
    text.lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                proto.to_string(),
                unmap(f[3]),
                unmap(f[4]),
                f[0].to_string(),
                pid,
            )
        })
        .collect()
}

#[test]
fn list_json_finds_every_test_socket_with_pid_state_and_ephemeral_flag() {
    let _g = serial();
    let (lo, hi) = host_range();
    let l4 = listener_outside_range("127.0.0.1");
    let l6 = listener_outside_range("::1");
    let c4 = connect_n(&l4, 50);
    let c6 = connect_n(&l6, 50);
    let u = udp_outside_range("127.0.0.1");
    let pid = std::process::id();

    let (code, out, err) = run(&["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mine: Vec<&Value> = json
        .iter()
        .filter(|r| r["pids"].as_array().unwrap().iter().any(|p| p == pid))
        .collect();
    for r in &mine {
        assert_eq!(r["process"].as_str(), Some(my_name().as_str()), "{r}");
    }
    let find = |proto: &str, port: u16, state: &str| -> Vec<&&Value> {
        mine.iter()
            .filter(|r| r["proto"] == proto && r["local_port"] == port && r["state"] == state)
            .collect()
    };
    for (l, conns) in [(&l4, &c4), (&l6, &c6)] {
        let lport = l.local_addr().unwrap().port();
        assert_eq!(find("tcp", lport, "LISTEN").len(), 1);
        assert_eq!(find("tcp", lport, "ESTAB").len(), 50, "accepted side");
        for (c, _) in conns.iter() {
            let cport = c.local_addr().unwrap().port();
            let rows = find("tcp", cport, "ESTAB");
            assert_eq!(rows.len(), 1, "client port {cport}");
            let inside = (lo..=hi).contains(&cport);
            assert_eq!(rows[0]["ephemeral"], inside, "{}", rows[0]);
            assert_eq!(rows[0]["remote_port"], lport);
        }
    }
    let uport = u.local_addr().unwrap().port();
    assert_eq!(find("udp", uport, "UNCONN").len(), 1);
    // ephemeral is true exactly for client ports.
    let eph = mine.iter().filter(|r| r["ephemeral"] == true).count();
    let clients_in_range = c4
        .iter()
        .chain(c6.iter())
        .filter(|(c, _)| (lo..=hi).contains(&c.local_addr().unwrap().port()))
        .count();
    assert_eq!(eph, clients_in_range);
    assert_eq!(mine.len(), 2 + 200 + 1);
}

#[test]
fn list_agrees_with_ss_on_every_socket_of_this_process() {
    let _g = serial();
    if !have("ss") {
        eprintln!("SKIP: ss (iproute2) is not installed");
        return;
    }
    let l4 = listener_outside_range("127.0.0.1");
    let l6 = listener_outside_range("::1");
    let _c4 = connect_n(&l4, 20);
    let _c6 = connect_n(&l6, 20);
    let u = udp_outside_range("127.0.0.1");
    // A connected UDP client: ss shows it ESTAB with its peer, and so must we.
    let uc = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    uc.connect(u.local_addr().unwrap()).unwrap();
    let pid = std::process::id();
    let (code, out, err) = run(&["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: Vec<Value> = serde_json::from_str(&out).unwrap();
    let ours = porttop_rows(&json, pid);
    let client = (
        "udp".to_string(),
        uc.local_addr().unwrap().to_string(),
        u.local_addr().unwrap().to_string(),
        "ESTAB".to_string(),
        pid,
    );
    assert!(ours.contains(&client), "{ours:?}");
    let mut theirs = ss_rows("tcp", pid);
    theirs.extend(ss_rows("udp", pid));
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 2 + 80 + 2);
}

#[test]
fn replay_of_a_recording_gives_the_same_output() {
    let _g = serial();
    let l = listener_outside_range("127.0.0.1");
    let _c = connect_n(&l, 5);
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.json");
    let (code, live, _) = run(&["list", "--json"]);
    assert_eq!(code, 0);
    std::fs::write(&rec, &live).unwrap();
    let rec = rec.to_str().unwrap();
    let (code, replayed, err) = run(&["list", "--json", "--replay", rec]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(replayed, live);
    // The table from the recording shows the same sockets.
    let pid = std::process::id().to_string();
    let (_, table, _) = run(&["list", "--replay", rec, "--pid", &pid]);
    assert_eq!(table.lines().count(), 1 + 1 + 5 + 5, "{table}");
    assert!(table.contains(&my_name()), "{table}");
}

#[test]
fn unprivileged_run_lists_roots_sockets_without_pid_and_hints() {
    let _g = serial();
    if !is_root() || !have("setpriv") {
        eprintln!("SKIP: needs root and setpriv to drop to nobody");
        return;
    }
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let bin = world_runnable_binary(dir.path());
    let o = std::process::Command::new("setpriv")
        .env("PORTTOP_NETNS", "host")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(&bin)
        // -l: leftovers of earlier runs (TIME-WAIT toward a reused port) are not ours.
        .args(["list", "--json", "-l", "--port", &port.to_string()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (or run it as root) to see them"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let json: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["user"], "root");
    assert_eq!(json[0]["pids"], serde_json::json!([]));
    assert_eq!(json[0]["process"], Value::Null);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    // (its children hold the other tests' sockets between fork and exec)
    let _g = serial();
    for args in [
        &["list", "--port", "70000"][..],
        &["list", "--state", "bogus"],
        &["list", "--range", "5-3"],
        &["list", "--range", "abc"],
        &["list", "--replay", "/nonexistent/porttop.json"],
        &["list", "--json", "--csv"],
        &["list", "--bogus-flag"],
        &["range", "--reserved", "1,,x"],
    ] {
        assert_one_line_error(args, 2);
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    assert_one_line_error(&["list", "--replay", bad.to_str().unwrap()], 2);
}

#[test]
fn a_filtered_list_reads_only_what_it_shows() {
    use porttop::filter::Filter;
    use porttop::source::{RangeConfig, SocketSource, SystemSource};
    let _g = serial();
    let l4 = listener_outside_range("127.0.0.1");
    let l6 = listener_outside_range("::1");
    let _c4 = connect_n(&l4, 3);
    let _c6 = connect_n(&l6, 2);
    let u4 = udp_outside_range("127.0.0.1");
    let u6 = udp_outside_range("::1");
    let u6b = udp_outside_range("::1");
    u6.connect(u6b.local_addr().unwrap()).unwrap();
    // a TIME-WAIT: the client closes first
    let (c, s) = connect_n(&l4, 1).pop().unwrap();
    drop(c);
    drop(s);
    let ports: BTreeSet<u16> = [&l4.local_addr(), &l6.local_addr()]
        .iter()
        .map(|a| a.as_ref().unwrap().port())
        .chain([&u4, &u6, &u6b].map(|u| u.local_addr().unwrap().port()))
        .collect();
    let ours = |s: &porttop::model::Socket| {
        ports.contains(&s.local.port) || s.remote.is_some_and(|r| ports.contains(&r.port))
    };
    let keys = |f: &Filter, snap: &porttop::model::Snapshot| -> BTreeSet<String> {
        snap.sockets
            .iter()
            .filter(|s| ours(s) && f.matches(snap, s))
            .map(|s| {
                format!(
                    "{} {:?} {:?} {:?} {:?}",
                    s.proto, s.local, s.remote, s.state, s.pids
                )
            })
            .collect()
    };
    for text in [
        "listening",
        "established tcp",
        "udp",
        "-6",
        "-4 tcp listening",
        "state:time-wait",
        "state:unconn",
        "state:estab udp",
    ] {
        let f = Filter::parse(text).unwrap();
        let all = SystemSource::new(RangeConfig::default())
            .snapshot()
            .unwrap();
        let scoped = SystemSource::new(RangeConfig::default())
            .scoped(&f)
            .snapshot()
            .unwrap();
        let want = keys(&f, &all);
        assert!(!want.is_empty(), "{text}: the fixture has such sockets");
        assert_eq!(keys(&f, &scoped), want, "{text}");
        assert!(
            scoped.sockets.len() < all.sockets.len(),
            "{text}: the kernel was asked for less ({} of {})",
            scoped.sockets.len(),
            all.sockets.len()
        );
    }
}

/// Snapshots carry the kernel's TCP counters of the namespace (they feed the
/// global rate and the dashboard's failure line).
#[test]
fn snapshots_carry_the_kernels_tcp_counters() {
    let _g = serial();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (code, out, err) = common::run(&["record", "-n", "1"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v["counters"]["active_opens"].as_u64().unwrap_or(0) > 0,
        "{}",
        v["counters"]
    );
}

#[test]
fn positional_filter_words_or_within_a_kind_negate_and_pick_directions() {
    let _g = serial();
    let a = listener_outside_range("127.0.0.1");
    let b = listener_outside_range("127.0.0.1");
    let _ca = connect_n(&a, 2);
    let _cb = connect_n(&b, 1);
    let (pa, pb) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let rows = |words: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["list", "--json"];
        args.extend_from_slice(words);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{words:?}: {err}");
        serde_json::from_str(&out).unwrap()
    };
    let count = |v: &[serde_json::Value], f: &dyn Fn(&serde_json::Value) -> bool| {
        v.iter().filter(|r| f(r)).count()
    };
    // Two ports: both listeners and their connections (both ends), not the last only.
    let both = rows(&[&format!("port:{pa}"), &format!("port:{pb}"), "tcp"]);
    assert_eq!(count(&both, &|r| r["state"] == "LISTEN"), 2, "{both:#?}");
    assert_eq!(both.len(), 2 + 2 * 2 + 2, "{both:#?}");
    // dport: the client ends only; !state:listen leaves the listener out.
    let clients = rows(&[&format!("dport:{pa}"), "!state:listen"]);
    assert_eq!(clients.len(), 2, "{clients:#?}");
    assert!(clients.iter().all(|r| r["remote_port"] == pa));
    let servers = rows(&[&format!("sport:{pa}"), "not", "listening"]);
    assert_eq!(servers.len(), 2, "{servers:#?}");
    assert!(servers.iter().all(|r| r["local_port"] == pa));
    // src/dst with CIDR, and positional words together with flags.
    let cidr = rows(&["-t", "dst:127.0.0.0/8", &format!("dport:{pa}-{pa}")]);
    assert_eq!(cidr.len(), 2, "{cidr:#?}");
    assert!(rows(&["dst:10.255.255.0/24", &format!("dport:{pa}")]).is_empty());
}

#[test]
fn time_wait_sockets_have_no_user_and_user_root_does_not_match_them() {
    let _g = serial();
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port();
    // The client closes first: its end goes to TIME-WAIT.
    let (c, s) = connect_n(&l, 1).pop().unwrap();
    let cport = c.local_addr().unwrap().port();
    drop(c);
    drop(s);
    // The local port alone is not enough: the kernel hands the same one out
    // toward other destinations (other tests' TIME-WAITs).
    let sport = format!("sport:{cport}");
    let dport = format!("dport:{port}");
    let tw = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["list", "--json", "state:time-wait", &sport, &dport];
        args.extend_from_slice(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let mut rows = tw(&[]);
    for _ in 0..50 {
        if !rows.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        rows = tw(&[]);
    }
    assert_eq!(rows.len(), 1, "the TIME-WAIT of :{cport} -> :{port}");
    assert_eq!(rows[0]["user"], serde_json::Value::Null, "{}", rows[0]);
    assert_eq!(rows[0]["uid"], serde_json::Value::Null, "{}", rows[0]);
    assert!(tw(&["user:root"]).is_empty());
    assert_eq!(tw(&["user:-"]).len(), 1);
    let (_, table, _) = run(&["list", "state:time-wait", &sport, &dport, "--no-header"]);
    assert!(table.trim_end().ends_with(" -"), "USER is -: {table}");
}

/// A TCP socket bound to `127.0.0.1:0` and neither listening nor connected
/// (`BOUND`, ss -B). std has no such call: socket(2) + bind(2).
fn bound_only_tcp() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a fresh descriptor we own; `addr` and `len`
    // are valid for the calls that take them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let rc = libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len);
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let mut got: libc::sockaddr_in = std::mem::zeroed();
        let mut glen = len;
        libc::getsockname(fd, &mut got as *mut _ as *mut libc::sockaddr, &mut glen);
        (owned, u16::from_be(got.sin_port))
    }
}

/// One definition of "is a listener" (`Socket::is_listener`, what `ss -l`
/// lists: TCP LISTEN and UDP not connected): `list`'s E column, the
/// dashboard's E column and its Listening view agree with it and with `ss -l`
/// on real sockets on ephemeral ports. Before, `list` marked "a listener"
/// by a missing remote and the dashboard by the state: they disagreed on a
/// bound-only TCP socket (`list` said E) and on a connected UDP socket recorded
/// as UNCONN with its peer (the dashboard said E).
#[test]
fn list_and_the_dashboard_agree_on_which_sockets_are_listeners() {
    use porttop::model::{SockState, Socket};
    use porttop::source::{RangeConfig, SocketSource, SystemSource};
    use porttop::tui::app::View;
    use porttop::tui::prep::{listing, Listing, ViewSpec};
    use porttop::tui::rows::{merge, Col, DestCol, ProcCol};
    use std::net::{TcpListener, UdpSocket};
    let _g = serial();
    let tl = TcpListener::bind("127.0.0.1:0").unwrap();
    let uu = UdpSocket::bind("127.0.0.1:0").unwrap();
    let uc = UdpSocket::bind("127.0.0.1:0").unwrap();
    uc.connect(uu.local_addr().unwrap()).unwrap();
    let (_bound, bound_port) = bound_only_tcp();
    let port = |a: std::io::Result<std::net::SocketAddr>| a.unwrap().port();
    let (tl_port, uu_port, uc_port) = (
        port(tl.local_addr()),
        port(uu.local_addr()),
        port(uc.local_addr()),
    );
    let mut snap = SystemSource::new(RangeConfig::default())
        .snapshot()
        .unwrap();
    let me = std::process::id();
    let mine = |s: &Socket| s.pids.contains(&me) || s.local.port == bound_port;
    // (proto, local port) -> listener, of our sockets
    let mut want: Vec<(String, u16, bool)> = snap
        .sockets
        .iter()
        .filter(|s| mine(s) && [tl_port, uu_port, uc_port, bound_port].contains(&s.local.port))
        .map(|s| (s.proto.to_string(), s.local.port, s.is_listener()))
        .collect();
    want.sort();
    assert_eq!(
        want,
        {
            let mut v = vec![
                ("tcp".to_string(), tl_port, true),
                ("tcp".to_string(), bound_port, false),
                ("udp".to_string(), uu_port, true),
                ("udp".to_string(), uc_port, false),
            ];
            v.sort();
            v
        },
        "the live table: {:?}",
        snap.sockets.iter().filter(|s| mine(s)).collect::<Vec<_>>()
    );
    assert!(
        snap.sockets
            .iter()
            .any(|s| s.local.port == bound_port && s.state == SockState::Bound),
        "the kernel reports the bound-only socket"
    );
    // What ss -l lists of ours is exactly the listeners.
    let out = std::process::Command::new("ss").arg("-HlntuO").output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        let listed = |p: u16| text.lines().any(|l| l.contains(&format!("127.0.0.1:{p} ")));
        for (proto, p, listener) in &want {
            assert_eq!(listed(*p), *listener, "ss -l and {proto} port {p}:\n{text}");
        }
    }
    // A connected UDP socket as a recording may have it: UNCONN with its peer.
    let mut recorded = snap
        .sockets
        .iter()
        .find(|s| s.local.port == uc_port && s.proto == porttop::model::Proto::Udp)
        .unwrap()
        .clone();
    recorded.state = SockState::Unconn;
    recorded.inode = recorded.inode.map(|i| i + (1 << 40));
    let recorded_port = recorded.local.port;
    snap.sockets.push(recorded.clone());

    let ours: Vec<Socket> = snap.sockets.iter().filter(|s| mine(s)).cloned().collect();
    let mut next_id = 0;
    let rows = merge(&[], ours.clone(), &snap, true, 3, &mut next_id);
    let spec = ViewSpec {
        view: View::Listening,
        sort: Col::LocalPort,
        desc: false,
        dest_sort: (DestCol::Ports, true),
        proc_sort: (ProcCol::Sockets, true),
        filter: Default::default(),
    };
    let Listing::Sockets(shown) = listing(&rows, &snap, &spec, &Default::default()) else {
        panic!("a socket view")
    };
    for (i, r) in rows.iter().enumerate() {
        let s = &r.sock;
        if ![tl_port, uu_port, uc_port, bound_port, recorded_port].contains(&s.local.port) {
            continue;
        }
        let eph = snap.is_ephemeral(s);
        assert!(eph, "bind(0) gives an ephemeral port: {s:?}");
        let mut line = Vec::new();
        porttop::output::list_table(&mut line, &snap, &[s], false, false).unwrap();
        let line = String::from_utf8(line).unwrap();
        let list_e = line.split_whitespace().any(|w| w == "E");
        assert_eq!(list_e, s.is_listener(), "list's E column: {line}");
        assert_eq!(
            r.collision(),
            s.is_listener(),
            "the dashboard's E column: {s:?}"
        );
        assert_eq!(
            shown.contains(&i),
            s.is_listener(),
            "the Listening view: {s:?}"
        );
    }
    drop((tl, uu, uc));
}
