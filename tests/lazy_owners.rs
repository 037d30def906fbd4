//! The one-shot commands find owners only for what they name (issue 19): their
//! answers are the same as from a snapshot with every owner (a `record`ed
//! frame, taken with the full walk, replayed), a command that names no process
//! reads no fd link and loads no BPF program, and one that does names every
//! holder of a shared socket.
//! One namespace for the file: its sockets are only the ones made here.

mod common;
use common::netns::Netns;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

/// Runs `f` on a thread that has entered the namespace: sockets it makes live
/// there (and stay there when handed back).
fn in_ns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{}", ns.name);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // SAFETY: setns on this thread only, with a namespace fd we own.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// `sleep` holding a copy of `fd` at the same number, as a forked worker holds
/// its parent's listener; returns once it runs sleep (before exec it holds
/// every fd of ours).
fn sharer(fd: i32) -> std::process::Child {
    let mut c = std::process::Command::new("sleep");
    c.arg("60");
    // SAFETY: fcntl is async-signal-safe; it clears FD_CLOEXEC of our own fd.
    unsafe {
        c.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().unwrap();
    let comm = format!("/proc/{}/comm", child.id());
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(&comm).ok().as_deref() != Some("sleep\n") {
        assert!(std::time::Instant::now() < until, "sleep did not start");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

/// Kills the child when dropped.
struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What strace saw porttop call (`-e trace=TRACE`) with `PORTTOP_WALK=walk`.
fn traced(ns: &Netns, args: &[&str], walk: &str, trace: &str) -> Option<String> {
    if !have("strace") {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace");
    let st = ns
        .cmd("strace")
        .env("PORTTOP_WALK", walk)
        .args(["-f", "-qq", "-e", &format!("trace={trace}"), "-o"])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_porttop"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.code().is_some(), "{args:?}");
    Some(std::fs::read_to_string(&log).unwrap())
}

/// fd links porttop's `/proc` walk read (readlink and readlinkat calls).
fn links_read(ns: &Netns, args: &[&str]) -> Option<usize> {
    let text = traced(ns, args, "proc", "readlink,readlinkat")?;
    // /proc/self/ns/pid (the note's PID-namespace test) is no fd link.
    Some(
        text.lines()
            .filter(|l| l.contains("readlink") && !l.contains("/ns/"))
            .count(),
    )
}

/// bpf(2) calls of the default walk (the BPF iterator where it loads).
fn bpf_calls(ns: &Netns, args: &[&str]) -> Option<usize> {
    let text = traced(ns, args, "", "bpf")?;
    Some(text.lines().filter(|l| l.contains("bpf(")).count())
}

#[test]
fn one_shot_commands_name_the_same_owners_as_a_full_walk_and_walk_only_when_they_name_one() {
    let Some(ns) = Netns::create("lazy") else {
        return;
    };
    // One listener outside the namespace's range, shared with a second
    // process; one inside it (a collision `pool` names); one connection.
    let (outside, inside, conn) = in_ns(&ns, || {
        let outside = TcpListener::bind("127.0.0.1:5000").unwrap();
        let inside = TcpListener::bind("127.0.0.1:40000").unwrap();
        let c = TcpStream::connect("127.0.0.1:5000").unwrap();
        let (s, _) = outside.accept().unwrap();
        (outside, inside, (c, s))
    });
    let child = Kill(sharer(outside.as_raw_fd()));
    let (me, other) = (std::process::id(), child.0.id());
    let mut holders = [me, other];
    holders.sort_unstable();

    // Every holder of the shared listener, as a full walk (and ss -p) sees them.
    let (code, json, err) = ns.porttop(&["list", "-t", "-l", "--json"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let pids_of = |port: u64| -> Vec<u64> {
        let row = rows.iter().find(|r| r["local_port"] == port).unwrap();
        row["pids"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_u64())
            .collect()
    };
    let want: Vec<u64> = holders.iter().map(|p| u64::from(*p)).collect();
    assert_eq!(pids_of(5000), want, "{json}");
    assert_eq!(pids_of(40000), [u64::from(me)], "{json}");

    // The same answers as from a frame with every owner (record walks all).
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let (code, frame, err) = ns.porttop(&["record", "--count", "1"]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&rec, &frame).unwrap();
    let rec = rec.to_str().unwrap();
    for args in [
        &["check", "5000/tcp"][..],
        &["check", "40000", "5001"],
        &["check", "--json", "5000"],
        &["range"],
        &["range", "--json"],
        &["pool", "--sample", "0"],
        &["suggest", "-n", "3"],
        &["list", "-t"],
        &["list", "--json", "sport:5000"],
        &["list", "-t", &format!("pid:{other}")],
    ] {
        let live = ns.porttop(args);
        let mut replayed = vec!["--replay", rec];
        replayed.extend_from_slice(args);
        let full = ns.porttop(&replayed);
        assert_eq!(live, full, "{args:?}: lazy vs full walk");
    }
    // (A replayed frame has no counter history, so the projection differs in
    // JSON; the collisions, which the owners feed, do not.)
    let collisions = |args: &[&str]| {
        let (code, out, err) = ns.porttop(args);
        assert!(code <= 2, "{args:?}: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["collisions"].clone()
    };
    let live = collisions(&["pool", "--json"]);
    assert_eq!(live, collisions(&["--replay", rec, "pool", "--json"]));
    assert!(live.to_string().contains(&format!("[{me}]")), "{live}");

    // check names both holders; pool names the listener inside the range.
    let (_, out, _) = ns.porttop(&["check", "5000/tcp"]);
    assert!(
        out.contains(&format!("(pid {me})")) && out.contains(&format!("(pid {other})")),
        "{out}"
    );
    let (_, out, _) = ns.porttop(&["pool", "--sample", "0"]);
    assert!(out.contains(&format!("(pid {me})")), "{out}");

    // No fd link is read where no answer names a process.
    for args in [
        &["range"][..],
        &["suggest", "-n", "3"],
        &["check", "5001"],
        &["list", "-t", "sport:5001"],
    ] {
        let Some(n) = links_read(&ns, args) else {
            eprintln!("SKIP (walk counts): strace is not installed");
            break;
        };
        assert_eq!(n, 0, "{args:?} read fd links");
        assert_eq!(
            bpf_calls(&ns, args),
            Some(0),
            "{args:?} loaded a BPF program"
        );
    }
    if let Some(n) = links_read(&ns, &["check", "5000"]) {
        assert!(n > 0, "check naming a process walks");
    }
    drop((inside, conn));
}
