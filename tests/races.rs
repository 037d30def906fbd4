//! Processes and sockets that vanish between the netlink dump and the /proc walk:
//! many short-lived processes with sockets are started and killed while the source
//! refreshes in a loop. No refresh fails, and no dead pid stays attributed.
#![cfg(target_os = "linux")]

use porttop::source::{RangeConfig, SocketSource, SystemSource};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kids(Vec<Child>);
impl Drop for Kids {
    fn drop(&mut self) {
        for c in self.0.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_lab(n: usize) -> Child {
    Command::new(env!("CARGO_BIN_EXE_loadlab"))
        .args(["hold", "--conns", &n.to_string(), "--seconds", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start loadlab")
}

/// An attributed pid has its details whole: a name, a user, a command line
/// (never the placeholders of a process that exited while it was read).
fn assert_full_details(snap: &porttop::model::Snapshot, pid: u32) {
    let p = snap
        .process(pid)
        .unwrap_or_else(|| panic!("pid {pid} attributed without details"));
    assert!(
        p.name != "?" && !p.name.is_empty() && p.uid.is_some() && p.user.is_some(),
        "pid {pid} shown with placeholder details: {p:?}"
    );
    assert!(
        !p.cmdline.is_empty(),
        "pid {pid} without command line: {p:?}"
    );
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// perl running `code` after setting up listener S; returns once it printed
/// its first line (the port).
fn perl(code: &str, stdin: bool) -> (Kill, u16) {
    let prog = format!(
        r#"use Socket; use POSIX ":sys_wait_h"; $|=1; $^F = 255;
        socket(S, PF_INET, SOCK_STREAM, 0) or die;
        bind(S, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
        listen(S, 5) or die;
        my ($port) = unpack_sockaddr_in(getsockname(S));
        print "$port\n"; {code}"#
    );
    let mut child = Command::new("perl")
        .args(["-e", &prog, env!("CARGO_BIN_EXE_loadlab")])
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perl");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (Kill(child), line.trim().parse().expect("a port"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn have_perl() -> bool {
    Command::new("perl")
        .arg("-v")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_fork_storm_never_shows_placeholder_details() {
    if !have_perl() {
        eprintln!("SKIP: needs perl");
        return;
    }
    // Children inherit the listener and exit within a few ms, as fast as the
    // parent can fork: many exit while a refresh reads them.
    let (_storm, port) = perl(
        r#"my $end = time + 30;
        while (time < $end) {
            my $p = fork();
            if (defined $p && $p == 0) { select(undef, undef, undef, 0.002); POSIX::_exit(0); }
            while (waitpid(-1, WNOHANG) > 0) {}
        }"#,
        false,
    );
    let mut src = SystemSource::new(RangeConfig::default());
    let (mut records, mut children) = (0, HashSet::new());
    let end = Instant::now() + Duration::from_secs(5);
    let mut refreshes = 0;
    while Instant::now() < end || refreshes < 20 {
        let snap = src.snapshot().expect("refresh under a fork storm");
        refreshes += 1;
        // Children that exited hide nothing: no note about hidden processes
        // (as root in the initial PID namespace every process is visible).
        if is_root() && porttop::source::in_initial_pid_ns() {
            assert!(!snap.partial, "partial under a fork storm");
        }
        for s in snap.sockets.iter().filter(|s| s.local.port == port) {
            for p in &s.pids {
                records += 1;
                assert_full_details(&snap, *p);
                if s.pids.len() > 1 {
                    children.insert(*p);
                }
            }
        }
    }
    assert!(records >= refreshes, "{records} attributed records");
    eprintln!(
        "{refreshes} refreshes, {records} records, {} forked pids",
        children.len()
    );
}

#[test]
fn a_process_that_calls_exec_is_shown_with_its_new_name() {
    if !have_perl() {
        eprintln!("SKIP: needs perl");
        return;
    }
    // The listener survives exec ($^F: not close-on-exec); pid and start time
    // stay, the program changes.
    let (mut kid, port) = perl(r#"<STDIN>; exec "sleep", "60";"#, true);
    let pid = kid.0.id();
    let mut src = SystemSource::new(RangeConfig::default());
    let owner = |src: &mut SystemSource| {
        let snap = src.snapshot().unwrap();
        assert!(
            snap.sockets
                .iter()
                .any(|s| s.local.port == port && s.pids.contains(&pid)),
            "the listener, attributed"
        );
        let p = snap.process(pid).unwrap();
        (p.name.clone(), p.cmdline.clone())
    };
    assert_eq!(owner(&mut src).0, "perl");
    owner(&mut src);
    use std::io::Write;
    kid.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let comm = format!("/proc/{pid}/comm");
    let until = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
        assert!(Instant::now() < until, "perl did not exec");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        owner(&mut src),
        ("sleep".to_string(), "sleep 60".to_string())
    );
}

#[test]
fn a_process_that_execs_after_closing_its_sockets_is_not_shown_by_its_old_name() {
    if !have_perl() {
        eprintln!("SKIP: needs perl");
        return;
    }
    // perl holds a listener, closes it, then becomes loadlab, whose sockets are
    // found by a walk of processes that held none: they must not be shown as
    // perl's (the details cached while perl held its listener).
    let (mut kid, port) = perl(
        r#"<STDIN>; close(S); <STDIN>; open(STDOUT, ">", "/dev/null");
        exec $ARGV[0], "hold", "--conns", "1", "--seconds", "30";"#,
        true,
    );
    let pid = kid.0.id();
    let mut src = SystemSource::new(RangeConfig::default());
    let names = |src: &mut SystemSource| {
        let snap = src.snapshot().unwrap();
        snap.sockets
            .iter()
            .filter(|s| s.pids.contains(&pid))
            .map(|s| snap.process(pid).unwrap().name.clone() + ":" + &s.local.port.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&mut src), vec![format!("perl:{port}")]);
    use std::io::Write;
    let mut stdin = kid.0.stdin.take().unwrap();
    stdin.write_all(b"1\n").unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while !names(&mut src).is_empty() {
        assert!(Instant::now() < until, "perl did not close its listener");
    }
    stdin.write_all(b"2\n").unwrap();
    let comm = format!("/proc/{pid}/comm");
    // loadlab is exec'd via its path as the argument to perl's exec.
    let mut seen = Vec::new();
    while seen.is_empty() {
        assert!(Instant::now() < until, "loadlab's sockets never showed");
        if std::fs::read_to_string(&comm).unwrap_or_default().trim() == "loadlab" {
            seen = names(&mut src);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(seen.iter().all(|n| n.starts_with("loadlab:")), "{seen:?}");
}

#[test]
fn refreshes_survive_processes_dying_mid_walk_and_keep_no_dead_pid() {
    let mut src = SystemSource::new(RangeConfig::default());
    src.snapshot().expect("first snapshot");
    let mut kids = Kids(Vec::new());
    let mut seen_pids: HashSet<u32> = HashSet::new();
    let mut started = 0;
    let mut refreshes = 0;
    let end = Instant::now() + Duration::from_secs(6);
    let mut i = 0u64;
    while Instant::now() < end {
        i += 1;
        // Start a few, kill the oldest ones at varying moments.
        if kids.0.len() < 12 {
            kids.0.push(spawn_lab(3 + (i % 7) as usize));
            started += 1;
        }
        if i.is_multiple_of(3) && kids.0.len() > 4 {
            let mut c = kids.0.remove(0);
            let _ = c.kill();
            // Reap sometimes before, sometimes after the next refresh.
            if i.is_multiple_of(2) {
                let _ = c.wait();
            } else {
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(3));
                    let _ = c.wait();
                });
            }
        }
        let snap = src
            .snapshot()
            .expect("a refresh never fails on vanishing processes");
        refreshes += 1;
        for s in &snap.sockets {
            seen_pids.extend(s.pids.iter().copied());
            for p in &s.pids {
                assert_full_details(&snap, *p);
            }
        }
        std::thread::sleep(Duration::from_millis(5 + i % 20));
    }
    assert!(started >= 12, "{started} processes started");
    assert!(refreshes >= 20, "{refreshes} refreshes");
    let lab_pids: HashSet<u32> = kids.0.iter().map(|c| c.id()).collect();
    drop(kids);
    std::thread::sleep(Duration::from_millis(100));
    let snap = src.snapshot().expect("snapshot after all died");
    let cached: HashSet<u32> = src.cached_pids().collect();
    for p in lab_pids {
        assert!(!cached.contains(&p), "dead pid {p} still cached");
        assert!(
            !snap.sockets.iter().any(|s| s.pids.contains(&p)),
            "dead pid {p} still attributed"
        );
    }
    assert!(!seen_pids.is_empty());
}
