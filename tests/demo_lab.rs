//! demo/'s load lab at small scale: each scenario starts, makes the sockets it
//! promises (seen through `porttop list --json`), and leaves nothing behind.

mod common;
use common::netns::{Lab, Netns};
use common::*;
use serde_json::Value;
use std::process::Command;

fn lab(args: &[&str]) -> Lab {
    Lab::start(Command::new(env!("CARGO_BIN_EXE_loadlab")), args)
}

fn rows_of(pid: u32) -> Vec<Value> {
    let (code, out, err) = run(&["list", "--json", "--pid", &pid.to_string()]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

fn wait_gone(pid: u32) {
    for _ in 0..100 {
        if !alive(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("process {pid} is still alive");
}

#[test]
fn steady_makes_listeners_a_collision_a_shared_port_and_connections_then_cleans_up() {
    let (lo, hi) = host_range();
    let l = lab(&["steady", "--conns", "40", "--seconds", "20"]);
    let pid = l.child.id();
    let child = l.ready["child"].as_u64().unwrap() as u32;
    let rows = rows_of(pid);
    let listen: Vec<&Value> = rows.iter().filter(|r| r["state"] == "LISTEN").collect();
    assert!(listen.len() >= 3, "{listen:#?}");
    let in_range = l.port("in_range");
    assert!((lo..=hi).contains(&in_range));
    assert!(listen
        .iter()
        .any(|r| r["local_port"] == in_range && r["ephemeral"] == true));
    // The SO_REUSEPORT port has two processes.
    let shared = l.port("reuseport");
    let (_, out, _) = run(&["list", "--json", "--port", &shared.to_string(), "-l"]);
    let owners: Vec<Value> = serde_json::from_str(&out).unwrap();
    let pids: Vec<&Value> = owners
        .iter()
        .flat_map(|r| r["pids"].as_array().unwrap())
        .collect();
    assert!(
        pids.contains(&&Value::from(pid)) && pids.contains(&&Value::from(child)),
        "{owners:#?}"
    );
    let estab = rows.iter().filter(|r| r["state"] == "ESTAB").count();
    assert!(estab >= 40, "{estab}");
    // pool names the collision.
    let (_, out, _) = run(&["pool", "--json", "--sample", "0"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<(Value, Value)> = v["collisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].clone(), c["port"].clone()))
        .collect();
    assert!(
        kinds.contains(&("listener_in_ephemeral_range".into(), in_range.into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("shared_port".into(), shared.into())),
        "{kinds:?}"
    );
    drop(l);
    wait_gone(pid);
    wait_gone(child);
    assert!(rows_of(pid).is_empty());
}

#[test]
fn churn_leaves_time_wait_on_one_destination() {
    let l = lab(&["churn", "--rate", "100", "--seconds", "1"]);
    let port = l.port("listener");
    let pid = l.child.id();
    while l.next_line().is_some() {}
    drop(l);
    wait_gone(pid);
    let (_, out, _) = run(&[
        "list",
        "--json",
        "--state",
        "time-wait",
        "--port",
        &port.to_string(),
    ]);
    let tw: Vec<Value> = serde_json::from_str(&out).unwrap();
    // The client closes first, so TIME-WAIT sits on the client side: toward the port.
    let client_side = tw.iter().filter(|r| r["remote_port"] == port).count();
    assert!(
        client_side >= 80,
        "{client_side} client-side TIME-WAIT sockets"
    );
}

#[test]
fn exhaust_refuses_to_narrow_the_host_range() {
    let o = Command::new(env!("CARGO_BIN_EXE_loadlab"))
        .args(["exhaust", "--set-range", "50", "--seconds", "2"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("namespace"));
}

#[test]
fn exhaust_in_a_namespace_warns_before_the_first_failure_and_is_critical_before_the_last_success() {
    let Some(ns) = Netns::create("exhaust") else {
        return;
    };
    let mut lab = ns.lab(&["exhaust", "--set-range", "100", "--step", "--seconds", "60"]);
    assert_eq!(lab.ready["pool"], 100);
    let mut levels: Vec<(usize, String)> = Vec::new();
    let mut first_fail: Option<usize> = None;
    let mut last_ok = 0;
    let mut n = 0;
    while let Some(line) = lab.next_line() {
        if line.starts_with("done") {
            break;
        }
        n += 1;
        if line.starts_with("ok") {
            last_ok = n;
        } else if line.starts_with("fail") {
            assert!(line.contains("Cannot assign requested address"), "{line}");
            first_fail.get_or_insert(n);
        }
        if n >= 70 {
            let (code, out, _) = ns.porttop(&["pool", "--json", "--sample", "0"]);
            let v: Value = serde_json::from_str(&out).unwrap();
            levels.push((n, v["level"].as_str().unwrap().to_string()));
            assert_eq!(
                code,
                v["level"]
                    .as_str()
                    .map(|l| match l {
                        "ok" => 0,
                        "warn" => 1,
                        _ => 2,
                    })
                    .unwrap()
            );
        }
        lab.step();
    }
    let first_fail = first_fail.expect("connect() never failed");
    assert_eq!(last_ok, 100, "every port of the pool was usable");
    let warn_at = levels
        .iter()
        .find(|(_, l)| l == "warn")
        .map(|x| x.0)
        .unwrap();
    let crit_at = levels
        .iter()
        .find(|(_, l)| l == "critical")
        .map(|x| x.0)
        .unwrap();
    assert!(
        warn_at < first_fail,
        "warn at {warn_at}, first failure at {first_fail}"
    );
    assert!(
        crit_at < last_ok,
        "critical at {crit_at}, last success at {last_ok}"
    );
    let pid = lab.child.id();
    drop(lab);
    wait_gone(pid);
}

/// `sudo demo/run.sh exhaust` as the README says, where sudo's PATH has no cargo.
fn demo(env: &[(&str, &str)]) -> (i32, String, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/demo/run.sh");
    let o = Command::new("bash")
        .arg(script)
        .arg("exhaust")
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs(env.iter().copied())
        .output()
        .expect("bash");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn demo_without_cargo_on_path_finds_the_binaries_or_says_what_to_do() {
    if have_on("/usr/sbin:/usr/bin:/sbin:/bin", "cargo") {
        eprintln!("SKIP: cargo is on the system PATH here; the no-cargo case cannot be made");
        return;
    }
    // Nothing built where it looks: one clear instruction, exit 2.
    let (code, _, err) = demo(&[("CARGO_TARGET_DIR", "/nonexistent-porttop-target")]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cargo build --release --bin porttop --bin loadlab"),
        "{err}"
    );
    assert!(err.contains("sudo resets PATH"), "{err}");
    // Binaries already built in the target dir are used without cargo...
    let t = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(t.path().join("release")).expect("mkdir");
    for b in [env!("CARGO_BIN_EXE_porttop"), env!("CARGO_BIN_EXE_loadlab")] {
        let name = std::path::Path::new(b).file_name().expect("name");
        std::os::unix::fs::symlink(b, t.path().join("release").join(name)).expect("symlink");
    }
    let tdir = t.path().to_str().expect("utf-8 path");
    let (code, out, err) = demo(&[("CARGO_TARGET_DIR", tdir), ("DEMO_DRY_RUN", "1")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{tdir}/release/porttop")), "{out}");
    assert!(out.contains(&format!("{tdir}/release/loadlab")), "{out}");
    assert!(err.contains("cargo not found"), "{err}");
    // ... and so are those of PORTTOP_BIN_DIR.
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_porttop"))
        .parent()
        .and_then(|d| d.to_str())
        .expect("bin dir");
    let (code, out, err) = demo(&[
        ("CARGO_TARGET_DIR", "/nonexistent"),
        ("PORTTOP_BIN_DIR", dir),
        ("DEMO_DRY_RUN", "1"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{dir}/porttop")), "{out}");
}

fn have_on(path: &str, cmd: &str) -> bool {
    path.split(':')
        .any(|d| std::path::Path::new(d).join(cmd).exists())
}
