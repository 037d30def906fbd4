//! Error and warning lines that say what is true: a full disk is a write error,
//! running out of descriptors is not a missing /proc, a mapped loopback address
//! is loopback, an empty state list is an error, and a huge argument is not
//! echoed whole.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn watch_to_a_full_disk_is_a_write_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIP: no /dev/full");
        return;
    };
    // Two frames: the second opens a socket, an event to write.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let sock = |port: u16| {
        format!(
            r#"{{"proto":"tcp","family":"ipv4","local":{{"addr":"127.0.0.1","port":{port}}},"remote":null,"state":"LISTEN","uid":0,"user":"root","inode":{port},"pids":[]}}"#
        )
    };
    let frame = |ts: u64, socks: &[String]| {
        format!(
            r#"{{"taken_at_ms":{ts},"host":"h","range":{{"low":32768,"high":60999,"reserved":[],"source":"r"}},"partial":false,"sockets":[{}],"processes":{{}}}}"#,
            socks.join(",")
        )
    };
    std::fs::write(
        &rec,
        format!(
            "{}\n{}\n",
            frame(1000, &[sock(2000)]),
            frame(2000, &[sock(2000), sock(2001)])
        ),
    )
    .unwrap();
    let o = porttop()
        .args(["watch", "--jsonl", "--replay", rec.to_str().unwrap()])
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot write output"), "{err}");
    assert!(!err.contains("read"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn running_out_of_file_descriptors_says_so() {
    if !have("prlimit") {
        eprintln!("SKIP: needs prlimit");
        return;
    }
    // 4: stdin, stdout, stderr and one more; the listing of /proc needs two.
    let o = std::process::Command::new("prlimit")
        .env("PORTTOP_NETNS", "host")
        .arg("--nofile=4")
        .arg(env!("CARGO_BIN_EXE_porttop"))
        .arg("list")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("limit of open files"), "{err}");
    assert!(!err.contains("mounted"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn an_ipv4_mapped_loopback_address_is_not_warned_about() {
    let port = listener_outside_range("127.0.0.1")
        .local_addr()
        .unwrap()
        .port();
    let mut child = porttop()
        .args(["serve", "--listen", &format!("[::ffff:127.0.0.1]:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let done = l.contains("serving http://");
        seen.push(l);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = seen.join("\n");
    assert!(text.contains("serving http://"), "{text}");
    assert!(!text.contains("non-loopback"), "{text}");
}

#[test]
fn an_empty_state_list_is_an_error_not_no_filter() {
    for v in ["", ",", " , "] {
        assert_one_line_error(&["list", "--state", v], 2);
        assert_one_line_error(&["watch", "--jsonl", "--state", v], 2);
    }
}

#[test]
fn a_huge_argument_is_not_echoed_whole() {
    // Just below the kernel's 128 KiB per argument (MAX_ARG_STRLEN).
    let huge = "9".repeat(130_000);
    let path = "a".repeat(5000);
    let cases: Vec<Vec<&str>> = vec![
        vec!["list", "--port", &huge],
        vec!["check", &huge],
        vec!["list", "--range", &huge],
        vec!["list", "--process", "x", "--replay", &path],
        vec!["list", "--bogus", &huge],
    ];
    for args in cases {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{err}");
        assert_eq!(err.trim_end().lines().count(), 1);
        assert!(err.len() < 1100, "{} bytes: {}…", err.len(), &err[..200]);
    }
}

#[test]
fn as_root_in_a_child_pid_namespace_the_note_says_where_owners_are() {
    if !is_root() || !have("unshare") {
        eprintln!("SKIP: needs root and unshare");
        return;
    }
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port().to_string();
    // A new PID namespace with its own /proc: this test process (the owner)
    // is not in it, so root cannot see who holds the listener.
    let o = std::process::Command::new("unshare")
        .env("PORTTOP_NETNS", "host")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_porttop"))
        .args(["list", "-l", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    if !o.status.success() && err.contains("unshare") {
        eprintln!("SKIP: cannot make a PID namespace here: {err}");
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains(&format!(":{port}")), "{out}");
    assert!(err.contains("no process in this PID namespace"), "{err}");
    // And in the initial namespace, where every process is visible: no note.
    if porttop::source::in_initial_pid_ns() {
        let (code, _, err) = run(&["list", "-l", "--port", &port]);
        assert_eq!(code, 0);
        assert!(!err.contains("note"), "{err}");
    }
}
