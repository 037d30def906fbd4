//! Every command run as an unprivileged user (`nobody`, via setpriv when the tests
//! run as root): it works, says what it cannot see, and actions that need root
//! fail with a clear message and change nothing.

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
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
            .arg(&self.bin)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let o = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }
}

const HINT: &str = "run as root to see processes of other users";

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
    let before = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap();
    let (code, _, err) = n.run(&["reserve", "45999", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("run as root"), "{err}");
    let after = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap();
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
        |s| s.contains("other users' processes hidden: run as root"),
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
