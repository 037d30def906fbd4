//! Every command run as an unprivileged user (`nobody`, via setpriv when the tests
//! run as root): it works, says what it cannot see, and actions that need root
//! fail with a clear message and change nothing. With the capabilities
//! DESIGN/README name (CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH to see every process,
//! CAP_NET_ADMIN to reserve ports) nobody needs no root.

mod common;
use common::*;
use std::process::{Command, Stdio};

struct Nobody {
    _dir: tempfile::TempDir,
    bin: std::path::PathBuf,
}

impl Nobody {
    fn new() -> Option<Nobody> {
        if !is_root() || !have("setpriv") {
            eprintln!("SKIP: needs root and setpriv to run commands as nobody");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = world_runnable_binary(dir.path());
        Some(Nobody { _dir: dir, bin })
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        // (its own namespace: the note on the others is tested in netns_all.rs)
        c.env("PORTTOP_NETNS", "host");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&self.bin)
            .args(args);
        c
    }

    /// `nobody` holding `caps` (e.g. `+sys_ptrace,+dac_read_search`) as ambient
    /// capabilities, as systemd's `AmbientCapabilities=` gives them.
    fn with_caps(&self, caps: &str, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.env("PORTTOP_NETNS", "host");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(format!("--inh-caps={caps}"))
            .arg(format!("--ambient-caps={caps}"))
            .arg("--")
            .arg(&self.bin)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        out(self.cmd(args))
    }
}

fn out(mut c: Command) -> (i32, String, String) {
    let o = c.stdin(Stdio::null()).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const HINT: &str = "give porttop CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (or run it as root)";

#[test]
fn read_only_commands_work_as_nobody_and_say_what_they_cannot_see() {
    let Some(n) = Nobody::new() else { return };
    let _l = listener_outside_range("127.0.0.1");
    for (args, ok_codes) in [
        (&["list"][..], &[0][..]),
        (&["list", "--json"], &[0]),
        (&["range"], &[0]),
        (&["pool", "--sample", "0"], &[0, 1, 2]),
        (&["check", "47123/tcp"], &[0, 1]),
        (&["suggest", "-n", "2"], &[0]),
        (
            &[
                "watch",
                "--jsonl",
                "--duration",
                "0.5",
                "--interval",
                "250ms",
            ],
            &[0],
        ),
    ] {
        let (code, out, err) = n.run(args);
        assert!(ok_codes.contains(&code), "{args:?}: {code} {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if args[0] != "suggest" && args[0] != "check" && args[0] != "watch" {
            assert!(!out.is_empty(), "{args:?}");
        }
        if matches!(args[0], "list" | "pool" | "range") {
            assert!(
                err.contains(HINT),
                "{args:?} says what it cannot see: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{args:?}: one hint line: {err}");
        }
    }
}

#[test]
fn reserve_as_nobody_fails_clearly_and_changes_nothing() {
    let Some(n) = Nobody::new() else { return };
    let file = std::path::Path::new("/proc/sys/net/ipv4/ip_local_reserved_ports");
    let before = porttop::range::read_sysfile(file).unwrap();
    let (code, _, err) = n.run(&["reserve", "45999", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs root or CAP_NET_ADMIN"), "{err}");
    let after = porttop::range::read_sysfile(file).unwrap();
    assert_eq!(before, after);
}

#[test]
fn serve_as_nobody_serves_and_the_dashboard_runs() {
    let Some(n) = Nobody::new() else { return };
    // serve on a free port, scrape once.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = n
        .cmd(&[
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "250ms",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let _ = s.read_to_string(&mut body);
            if body.contains("porttop_") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("porttop_ephemeral_pool_size"), "{body}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(HINT), "{err}");

    if !have("tmux") {
        eprintln!("SKIP (dashboard part): tmux is not installed");
        return;
    }
    let t = tmux::Tmux::new("nobody");
    t.start(
        120,
        30,
        &format!(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups -- {} --interval 250ms; \
             echo PORTTOP_EXITED; sleep 30",
            n.bin.display()
        ),
    );
    t.wait(
        "the dashboard as nobody, saying what it cannot see",
        20,
        |s| s.contains("other users' processes hidden: needs root or CAP_SYS_PTRACE"),
    );
    // K on a root-owned socket: no pid is known, so nothing can be killed.
    t.keys(&["K"]);
    t.wait("a clear message", 5, |s| s.contains("no process to signal"));
    t.keys(&["q"]);
    t.wait("exit", 5, |s| s.contains("PORTTOP_EXITED"));
}

#[test]
fn list_notes_missing_processes_only_when_a_printed_row_lacks_one() {
    let Some(n) = Nobody::new() else { return };
    use std::os::unix::fs::PermissionsExt;
    let lab = n.bin.with_file_name("loadlab");
    std::fs::copy(env!("CARGO_BIN_EXE_loadlab"), &lab).unwrap();
    std::fs::set_permissions(&lab, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _root_listener = listener_outside_range("127.0.0.1");
    // nobody's own loadlab: every row of `list pid:N` has its process.
    let script = format!(
        "'{lab}' hold --conns 1 --seconds 30 > /dev/null & \
         sleep 0.5; i=0; while [ $i -lt 100 ] && ! '{bin}' list -t pid:$! | grep -q ESTAB; do \
         sleep 0.1; i=$((i+1)); done; '{bin}' list -t pid:$!; kill $!",
        lab = lab.display(),
        bin = n.bin.display()
    );
    let o = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(
        out.contains("ESTAB") && out.contains("loadlab"),
        "{out}{err}"
    );
    assert!(
        !err.contains(HINT),
        "a note although every row has a process:\n{out}{err}"
    );
    // The whole table has root's listener without a process: the note stays.
    let (_, _, err) = n.run(&["list", "-t"]);
    assert!(err.contains(HINT), "{err}");
}

#[test]
fn under_hidepid_other_users_sockets_still_get_the_note() {
    let Some(n) = Nobody::new() else { return };
    if !have("unshare") {
        eprintln!("SKIP: needs unshare");
        return;
    }
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port().to_string();
    // A private /proc with hidepid=2 (proc(5)): nobody sees only its own
    // processes, so root's are not unreadable but absent.
    let script = r#"mount -t proc -o hidepid=2 proc /proc || exit 77
        exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$0" "$@""#;
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .arg(&n.bin)
        .args(["list", "-l", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    if o.status.code() == Some(77) {
        eprintln!("SKIP: cannot mount a proc with hidepid=2 here");
        return;
    }
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains(&format!(":{port}")), "{out}");
    assert!(err.contains(HINT), "no note under hidepid=2: {err}");
}

#[test]
fn nobody_with_ptrace_and_dac_read_search_sees_other_users_processes() {
    let Some(n) = Nobody::new() else { return };
    let _g = serial();
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port().to_string();
    let args = ["list", "--json", "-l", "--port", &port];
    let me = std::process::id();
    let pid_of = |json: &str| -> Option<u64> {
        let rows: Vec<serde_json::Value> = serde_json::from_str(json).ok()?;
        assert_eq!(rows.len(), 1, "{json}");
        rows[0]["pids"][0].as_u64().or(rows[0]["pid"].as_u64())
    };
    // Root's listener (this test) with its pid and process, and no hint.
    let (code, json, err) = out(n.with_caps("+sys_ptrace,+dac_read_search", &args));
    assert_eq!(code, 0, "{err}");
    assert_eq!(pid_of(&json), Some(u64::from(me)), "{json}");
    assert!(json.contains(&my_name()), "{json}");
    // No capability is missing, so none is asked for. (A process that exits
    // during the walk may still make the note about other PID namespaces appear:
    // the other tests of this binary start and end processes meanwhile.)
    assert!(!err.contains("give porttop"), "{err}");
    // Either one alone is not enough, and the note names the one missing.
    for (caps, missing, held) in [
        ("+sys_ptrace", "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE"),
        ("+dac_read_search", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"),
    ] {
        let (code, json, err) = out(n.with_caps(caps, &args));
        assert_eq!(code, 0, "{caps}: {err}");
        assert_eq!(pid_of(&json), None, "{caps}: {json}");
        assert!(
            err.contains(&format!("give porttop {missing} (or run it as root)")),
            "{caps}: {err}"
        );
        assert!(!err.contains(held), "{caps}: {err}");
    }
}

#[test]
fn nobody_with_cap_net_admin_reserves_ports_in_its_namespace() {
    let Some(n) = Nobody::new() else { return };
    let Some(ns) = common::netns::Netns::create("capnet") else {
        return;
    };
    let run_in_ns = |caps: Option<&str>| {
        let mut c = ns.cmd("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
        if let Some(caps) = caps {
            c.arg(format!("--inh-caps={caps}"))
                .arg(format!("--ambient-caps={caps}"));
        }
        c.arg("--").arg(&n.bin).args(["reserve", "40123", "--yes"]);
        out(c)
    };
    let (code, _, err) = run_in_ns(None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("needs root or CAP_NET_ADMIN in this network namespace"),
        "{err}"
    );
    assert_eq!(ns.read("ip_local_reserved_ports"), "");
    let (code, _, err) = run_in_ns(Some("+net_admin"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(ns.read("ip_local_reserved_ports"), "40123");
}
