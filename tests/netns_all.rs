//! Every network namespace at once: two real namespaces with different ranges
//! (one near exhaustion), seen from the host; a process in a docker-style cgroup;
//! a namespace that goes away between refreshes; and what `nobody` is told.
//! One namespace pair for the whole file (one test walks through it).

mod common;
use common::netns::{Lab, Netns};
use common::tmux::Tmux;
use serde_json::Value;
use std::process::Command;

/// porttop reading the namespaces `which` (overriding the helpers' `host`).
fn porttop(which: &str, args: &[&str]) -> (i32, String, String) {
    let o = common::porttop()
        .env("PORTTOP_NETNS", which)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Pair {
    busy: Netns,
    calm: Netns,
    busy_lab: Lab,
    calm_lab: Option<Lab>,
}

/// `busy`: range 40000-40019 and 18 connections to one listener (90 %: warn);
/// `calm`: range 50000-50999 and 3.
fn pair() -> Option<Pair> {
    let busy = Netns::create("nsbusy")?;
    let calm = Netns::create("nscalm")?;
    busy.sysctl("ip_local_port_range", "40000 40019");
    calm.sysctl("ip_local_port_range", "50000 50999");
    let busy_lab = busy.lab(&[
        "hold",
        "--conns",
        "18",
        "--seconds",
        "60",
        "--name",
        "busy-lab",
    ]);
    let calm_lab = Some(calm.lab(&[
        "hold",
        "--conns",
        "3",
        "--seconds",
        "60",
        "--name",
        "calm-lab",
    ]));
    Some(Pair {
        busy,
        calm,
        busy_lab,
        calm_lab,
    })
}

fn records_in<'a>(v: &'a Value, ns: &str) -> Vec<&'a Value> {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["netns"]["name"] == ns)
        .collect()
}

#[test]
fn two_namespaces_are_listed_pooled_ranged_shown_and_one_may_vanish() {
    let Some(mut p) = pair() else { return };
    // (the host's table only where it matters, the pool: it may be large)
    let names = format!("{},{}", p.busy.name, p.calm.name);
    let with_host = format!("host,{names}");

    // list --json: both namespaces' sockets, each with its namespace and owner.
    let (code, out, err) = porttop(&names, &["list", "--json", "-t"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    for (ns, lab, conns, name) in [
        (&p.busy, &p.busy_lab, 18, "busy-lab"),
        (&p.calm, p.calm_lab.as_ref().unwrap(), 3, "calm-lab"),
    ] {
        let recs = records_in(&v, &ns.name);
        let pid = lab.child.id();
        let owned: Vec<_> = recs
            .iter()
            .filter(|r| r["pids"].as_array().unwrap().iter().any(|x| x == pid))
            .collect();
        // the listener and both ends of every connection (the server sides
        // were accepted by the lab too)
        assert_eq!(owned.len(), 1 + 2 * conns, "{}: {recs:#?}", ns.name);
        assert!(owned.iter().all(|r| r["process"] == name), "{owned:#?}");
        let ino = recs[0]["netns"]["inode"].as_u64().unwrap();
        assert!(ino > 0 && recs.iter().all(|r| r["netns"]["inode"] == ino));
    }
    let busy_ino = records_in(&v, &p.busy.name)[0]["netns"]["inode"].clone();
    let calm_ino = records_in(&v, &p.calm.name)[0]["netns"]["inode"].clone();
    assert_ne!(busy_ino, calm_ino);
    // the table names the namespace of every row
    let (_, table, _) = porttop(
        &names,
        &[
            "list",
            "-t",
            "--port",
            &p.busy_lab.port("listener").to_string(),
        ],
    );
    assert!(table.starts_with("NETNS"), "{table}");
    assert!(table.contains(&p.busy.name), "{table}");

    // pool: warn (exit 1) for the busy one, named; the calm one and the host
    // are listed with their own ranges.
    let (code, out, err) = porttop(&with_host, &["pool", "--sample", "0"]);
    assert_eq!(code, 1, "{out}{err}");
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("level        WARN (90.0 %"), "{out}");
    assert!(
        first.contains(&format!("in netns {}", p.busy.name)),
        "{out}"
    );
    assert!(
        out.contains("40000-40019") && out.contains("50000-50999"),
        "{out}"
    );
    let (code, out, _) = porttop(&with_host, &["pool", "--json", "--sample", "0"]);
    assert_eq!(code, 1);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["netns"], p.busy.name.as_str());
    let calm = j["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == p.calm.name.as_str())
        .unwrap();
    assert_eq!(
        (calm["level"].as_str(), calm["range_low"].as_u64()),
        (Some("ok"), Some(50000))
    );

    // range: each namespace's own range.
    let (code, out, err) = porttop(&names, &["range"]);
    assert_eq!(code, 0, "{err}");
    for (ns, r) in [
        (&p.busy, "40000-40019 (20 ports)"),
        (&p.calm, "50000-50999 (1000 ports)"),
    ] {
        let at = out
            .find(&format!("netns            {}", ns.name))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(out[at..].lines().nth(1).unwrap().contains(r), "{out}");
    }
    let (_, out, _) = porttop(&p.calm.name, &["range", "--json"]);
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (j["low"].as_u64(), j["high"].as_u64()),
        (Some(50000), Some(50999))
    );

    // check takes --netns: a port of the calm namespace's range is ephemeral there.
    let (code, out, _) = porttop(&p.calm.name, &["check", "50500"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("50000-50999"), "{out}");

    // As nobody: its own namespace only, and one line on what it cannot see.
    if common::have("setpriv") {
        let dir = tempfile::tempdir().unwrap();
        let bin = common::world_runnable_binary(dir.path());
        let o = Command::new("setpriv")
            .env_remove("PORTTOP_NETNS")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&bin)
            .args(["list", "--json", "-l"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(records_in(&v, &p.busy.name).is_empty());
        let notes: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("network namespace"))
            .collect();
        assert_eq!(notes.len(), 1, "{err}");
        assert!(
            notes[0].contains("showing this network namespace only"),
            "{err}"
        );
        assert!(
            notes[0].contains(&p.busy.name) && notes[0].contains("CAP_SYS_ADMIN"),
            "{err}"
        );
    }

    // The dashboard: the Namespaces view lists both; then one namespace goes
    // away while the dashboard and `watch` run: it leaves the view, with no
    // error, and watch reports its sockets closed, naming it.
    let tmux = common::have("tmux").then(|| Tmux::new("netns"));
    if let Some(t) = &tmux {
        t.start(
            150,
            30,
            &format!(
                "PORTTOP_NETNS={names} '{}' --interval 250ms; echo PORTTOP_EXITED; sleep 30",
                env!("CARGO_BIN_EXE_porttop")
            ),
        );
        t.wait("the dashboard", 15, |s| s.contains(&p.busy.name));
        t.keys(&["6"]);
        let s = t.wait("the Namespaces view", 10, |s| {
            s.contains("Namespaces") && s.contains(&p.calm.name) && s.contains("40000-40019")
        });
        assert!(s.contains("50000-50999"), "{s}");
    }
    let mut watch = common::porttop()
        .env("PORTTOP_NETNS", &names)
        .args([
            "watch",
            "--jsonl",
            "--interval",
            "250ms",
            "--duration",
            "20",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = watch.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // (watch's first snapshot is its baseline: give it one refresh)
    std::thread::sleep(std::time::Duration::from_millis(600));
    drop(p.calm_lab.take());
    let _ = Command::new("ip")
        .args(["netns", "del", &p.calm.name])
        .status();
    let closed = rx
        .iter()
        .find(|l| l.contains(r#""event":"close""#) && l.contains(&p.calm.name));
    let _ = watch.kill();
    let o = watch.wait_with_output().unwrap();
    assert!(closed.is_some(), "no close event naming {}", p.calm.name);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("porttop:"), "{err}");
    if let Some(t) = &tmux {
        let s = t.wait("the calm namespace gone", 10, |s| !s.contains(&p.calm.name));
        assert!(
            s.contains(&p.busy.name) && !s.contains("PORTTOP_EXITED"),
            "{s}"
        );
        t.keys(&["q"]);
    }
}

/// The library's source across refreshes: a namespace deleted between two
/// snapshots is dropped, and the refresh does not fail.
#[test]
fn a_namespace_deleted_between_refreshes_is_dropped_without_error() {
    use porttop::source::{NetnsSelect, RangeConfig, SocketSource, SystemSource};
    let Some(ns) = Netns::create("nsgone") else {
        return;
    };
    let lab = ns.lab(&["hold", "--conns", "2", "--seconds", "60"]);
    let mut src = SystemSource::new(RangeConfig::default())
        .with_netns(NetnsSelect::Named(vec!["host".into(), ns.name.clone()]));
    let s1 = src.snapshot().unwrap();
    let n = s1
        .netns
        .iter()
        .find(|n| n.name == ns.name)
        .expect("the namespace");
    let ino = n.inode;
    assert_eq!(s1.sockets.iter().filter(|s| s.netns == ino).count(), 5);
    drop(lab);
    let name = ns.name.clone();
    drop(ns); // ip netns del
    let s2 = src.snapshot().expect("a refresh without the namespace");
    assert!(
        s2.netns.iter().all(|n| n.inode != ino && n.name != name),
        "{:?}",
        s2.netns
    );
    assert!(s2.sockets.iter().all(|s| s.netns != ino));
}

/// A process in a docker-style cgroup (`…/docker-<64 hex>.scope` under the
/// name=systemd v1 hierarchy) carries the container id in `list --json`.
#[test]
fn a_process_in_a_docker_cgroup_carries_the_container_id() {
    let root = std::path::Path::new("/sys/fs/cgroup/systemd");
    if !common::is_root() || !root.join("cgroup.procs").exists() {
        eprintln!("SKIP: needs root and a writable name=systemd cgroup hierarchy");
        return;
    }
    let id = format!("{:016x}", std::process::id()).repeat(4);
    let dir = root.join(format!("porttop-t.slice/docker-{id}.scope"));
    if std::fs::create_dir_all(&dir).is_err() {
        eprintln!("SKIP: cannot create a cgroup under {}", root.display());
        return;
    }
    let mut lab = Lab::start(
        Command::new(env!("CARGO_BIN_EXE_loadlab")),
        &["hold", "--conns", "1", "--seconds", "60"],
    );
    let pid = lab.child.id();
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    let port = lab.port("listener").to_string();
    let (code, out, err) = common::run(&["list", "--json", "-l", "--port", &port]);
    // back out before any assertion, so the cgroup can go
    let _ = lab.child.kill();
    let _ = lab.child.wait();
    let _ = std::fs::remove_dir(&dir);
    let _ = std::fs::remove_dir(dir.parent().unwrap());
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let r = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pids"].as_array().unwrap().iter().any(|x| x == pid))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(r["container"]["id"], id.as_str(), "{r:#}");
    assert_eq!(r["container"]["runtime"], "docker");
}
