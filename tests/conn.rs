//! Per-connection detail through the real binary: tcp_info bytes on both ends
//! of a loopback transfer, a full accept queue and its warning, and `porttop
//! close` ending a real connection (and failing clearly without the right).

mod common;
use common::porttop;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn json(args: &[&str]) -> Vec<serde_json::Value> {
    let out = porttop().args(args).output().expect("run porttop");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn list_info_shows_a_known_transfer_on_both_ends() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let lp = l.local_addr().unwrap().port();
    let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let cp = c.local_addr().unwrap().port();
    let (mut srv, _) = l.accept().unwrap();
    const N: u64 = 123_457;
    let w = std::thread::spawn(move || {
        c.write_all(&vec![3u8; N as usize]).unwrap();
        c
    });
    let mut buf = vec![0u8; N as usize];
    srv.read_exact(&mut buf).unwrap();
    let _c = w.join().unwrap();
    let (sp, dp) = (format!("sport:{cp}"), format!("dport:{lp}"));
    let end = Instant::now() + Duration::from_secs(5);
    let (acked, received) = loop {
        // one call: the listener and both ends have port lp
        let all = json(&["list", "--json", "--info", &format!("port:{lp}")]);
        let end_of = |l: u16, r: u16| {
            all.iter()
                .find(|x| x["local_port"] == l && x["remote_port"] == r)
                .cloned()
                .unwrap_or_default()
        };
        let (client, server) = (end_of(cp, lp), end_of(lp, cp));
        let (a, r) = (
            client["bytes_acked"].as_u64(),
            server["bytes_received"].as_u64(),
        );
        assert!(
            client["rtt_us"].is_u64() && client["tx_queue"].is_u64(),
            "{all:?}"
        );
        if let (Some(a), Some(r)) = (a, r) {
            if a > N || Instant::now() > end {
                break (a, r);
            }
        }
        assert!(Instant::now() < end, "no tcp_info in {all:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // bytes_acked counts the SYN's sequence number, bytes_received does not
    // (include/uapi/linux/tcp.h: RFC 4898 tcpEStatsAppHCThruOctetsAcked/Received).
    assert!((N..=N + 1).contains(&acked), "{acked}");
    assert!((N..=N + 1).contains(&received), "{received}");
    // and the table shows them with --info (as ss -i)
    let out = porttop()
        .args(["list", "--info", &sp, &dp])
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.lines().next().unwrap().contains("RECV-Q  SEND-Q"), "{t}");
    assert!(t.contains("120.6K"), "{t}");
}

#[test]
fn a_full_accept_queue_shows_with_a_warning() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: a valid listening descriptor; listen(2) again sets the backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 1) }, 0);
    let lp = l.local_addr().unwrap().port();
    let _a = TcpStream::connect(("127.0.0.1", lp)).unwrap();
    let _b = TcpStream::connect(("127.0.0.1", lp)).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let out = porttop()
            .args(["list", "-l", "--info", &format!("sport:{lp}")])
            .output()
            .unwrap();
        let (t, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let row = t.lines().nth(1).unwrap_or_default().to_string();
        let cells: Vec<&str> = row.split_whitespace().collect();
        if cells.contains(&"2") {
            assert!(
                e.contains(&format!("accept queue of tcp 127.0.0.1:{lp}")),
                "{e}"
            );
            assert!(
                e.contains("is full: 2 connections wait for accept(), backlog 1"),
                "{e}"
            );
            assert!(e.contains("ListenOverflows"), "{e}");
            let v = json(&["list", "-l", "--json", &format!("sport:{lp}")]);
            assert_eq!(
                (v[0]["rx_queue"].as_u64(), v[0]["tx_queue"].as_u64()),
                (Some(2), Some(1))
            );
            return;
        }
        assert!(Instant::now() < end, "queue never reached 2: {t}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn close_ends_a_real_connection_and_says_what_it_lacks() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let lp = l.local_addr().unwrap().port();
    let c = TcpStream::connect(("127.0.0.1", lp)).unwrap();
    let cp = c.local_addr().unwrap().port();
    let (mut srv, _) = l.accept().unwrap();
    let f = [format!("sport:{cp}"), format!("dport:{lp}")];
    // no terminal, no --yes: refused, nothing closed
    let out = porttop()
        .arg("close")
        .args(&f)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("without a terminal to confirm; add --yes")
    );
    // a dry run lists it
    let out = porttop()
        .arg("close")
        .args(&f)
        .arg("--dry-run")
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.contains(&format!("127.0.0.1:{cp}")) && t.contains("would close 1 socket"),
        "{t}"
    );
    if common::is_root() {
        // as nobody: the kernel's EPERM, named as the capability it wants
        // (this namespace only, as porttop() runs it: no note about others)
        let out = std::process::Command::new("setpriv")
            .env("PORTTOP_NETNS", "host")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_porttop"))
            .arg("close")
            .args(&f)
            .arg("--yes")
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{e}");
        assert!(e.contains("needs CAP_NET_ADMIN"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        let out = porttop()
            .arg("close")
            .args(&f)
            .arg("--yes")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("closed tcp"));
        let mut b = [0u8; 1];
        srv.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let err = srv.read(&mut b).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
            "{err:?}"
        );
    }
    drop(c);
}

#[test]
fn close_refuses_replay_and_an_empty_filter() {
    let out = porttop()
        .args(["close", "--replay", "/dev/null", "dport:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with --replay"));
    let out = porttop().args(["close", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a filter"));
}

/// The dashboard shows a running transfer's rate in RX/s and TX/s, and a full
/// accept queue in its warning line.
#[test]
fn dashboard_shows_rates_and_a_full_accept_queue() {
    if !common::have("tmux") {
        eprintln!("SKIP: tmux is not installed");
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let lp = l.local_addr().unwrap().port();
    let mut c = TcpStream::connect(("127.0.0.1", lp)).unwrap();
    let (mut srv, _) = l.accept().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let w = std::thread::spawn(move || {
        let buf = [5u8; 32768];
        while !st.load(std::sync::atomic::Ordering::Relaxed) && c.write_all(&buf).is_ok() {
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let r = std::thread::spawn(move || {
        let mut b = [0u8; 65536];
        while srv.read(&mut b).is_ok_and(|n| n > 0) {}
    });
    let full = TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: a valid listening descriptor; listen(2) again sets the backlog.
    assert_eq!(unsafe { libc::listen(full.as_raw_fd(), 1) }, 0);
    let fp = full.local_addr().unwrap().port();
    let _q = [
        TcpStream::connect(("127.0.0.1", fp)).unwrap(),
        TcpStream::connect(("127.0.0.1", fp)).unwrap(),
    ];
    let t = common::tmux::Tmux::new("conn");
    t.start(
        200,
        30,
        &format!(
            "'{}' --no-config --warn 99 --crit 99.5 --interval 250ms port:{lp} port:{fp}; echo PORTTOP_EXITED; sleep 30",
            env!("CARGO_BIN_EXE_porttop")
        ),
    );
    let s = t.wait("a rate in the transfer's rows", 15, |s| {
        s.contains("RX/s")
            && s.lines()
                .any(|l| l.contains(&format!(" {lp} ")) && (l.contains("K ") || l.contains("M ")))
    });
    assert!(
        s.contains("TX/s") && s.contains("RTT") && s.contains("RETR"),
        "{s}"
    );
    t.wait("the full accept queue's warning", 10, |s| {
        s.contains(&format!("accept queue full: 127.0.0.1:{fp}")) && s.contains(" 2/1")
    });
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    w.join().unwrap();
    r.join().unwrap();
}

/// A child process sends a known number of bytes over loopback and receives
/// another: the dashboard's Processes view shows its summed bytes (RX, TX) and
/// `w` saves them exactly (`rx_bytes`, `tx_bytes`), within tcp_info's one-byte
/// SYN accounting of `bytes_acked`; the receiving end (this test process)
/// shows the same transfer the other way round.
#[test]
fn the_processes_view_sums_a_childs_bytes_and_saves_them() {
    if !common::have("tmux") || !common::have("perl") {
        eprintln!("SKIP: needs tmux and perl");
        return;
    }
    const N: u64 = 1_234_567; // the child sends: "1.2M"
    const M: u64 = 56_789; // and receives: "55.5K"
    let l = common::listener_outside_range("127.0.0.1");
    let lp = l.local_addr().unwrap().port();
    let mut c = std::process::Command::new("perl")
        .args([
            "-MIO::Socket::INET",
            "-e",
            &format!(
                "$s=IO::Socket::INET->new(PeerAddr=>'127.0.0.1:{lp}') or die $!; \
                 $s->autoflush(1); print $s 'x' x {N}; $n=0; \
                 while ($n < {M}) {{ $r=sysread($s,$b,65536) or die 'eof'; $n+=$r }} \
                 print $s '!'; $|=1; print qq(done\\n); sleep 60"
            ),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("perl");
    let out = c.stdout.take().unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let child = Kill(c);
    let pid = child.0.id();
    let (mut srv, _) = l.accept().unwrap();
    let mut buf = vec![0u8; N as usize];
    srv.read_exact(&mut buf).unwrap();
    srv.write_all(&vec![7u8; M as usize]).unwrap();
    // The child's last byte comes with its ACK of all M: no ACK in flight
    // when the counters are read (each end's bytes_acked is final).
    let mut last = [0u8; 1];
    srv.read_exact(&mut last).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line).unwrap();
    assert_eq!(line, "done\n");

    let dir = tempfile::tempdir().unwrap();
    let t = common::tmux::Tmux::new("bytes");
    t.start(
        140,
        20,
        &format!(
            "cd '{}' && '{}' --no-config --interval 250ms --view processes port:{lp}; \
             echo PORTTOP_EXITED; sleep 30",
            dir.path().display(),
            env!("CARGO_BIN_EXE_porttop")
        ),
    );
    let pid_s = pid.to_string();
    let s = t.wait("the child's summed bytes", 15, |s| {
        s.lines().any(|l| {
            l.split_whitespace().next() == Some(pid_s.as_str())
                && l.contains("perl")
                && l.contains(" 55.5K ")
                && l.contains(" 1.2M")
        })
    });
    let head = s.lines().find(|l| l.contains("PROCESS")).unwrap();
    assert!(
        head.contains(" RX/s ") && head.contains(" RX ") && head.contains(" TX"),
        "{s}"
    );
    // `w`, Enter: the view's CSV in the dashboard's directory
    t.keys(&["w"]);
    t.wait("the save prompt", 5, |s| s.contains("porttop-processes-"));
    t.keys(&["Enter"]);
    t.wait("the saved status", 5, |s| s.contains("saved "));
    let file = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".csv"))
        .expect("a saved CSV")
        .path();
    let csv = std::fs::read_to_string(file).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let bytes = |pid: u32| {
        let r = rows
            .iter()
            .find(|r| r[col("pid")] == pid.to_string())
            .unwrap_or_else(|| panic!("no row of pid {pid} in {csv}"));
        let n = |c: &str| r[col(c)].parse::<u64>().unwrap();
        (n("rx_bytes"), n("tx_bytes"))
    };
    // the child: received M, sent N + 1 (bytes_acked also counts the SYN)
    let (rx, tx) = bytes(pid);
    assert_eq!(rx, M, "{csv}");
    assert!((N + 1..=N + 2).contains(&tx), "{csv}");
    // this process (the accepted end; its listener adds nothing): the other way
    let (rx, tx) = bytes(std::process::id());
    assert_eq!(rx, N + 1, "{csv}");
    assert!((M..=M + 1).contains(&tx), "{csv}");
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
    drop(srv);
}

/// In a namespace of its own: a listener, a client connected to it and the
/// accepted end blocked in recv(), which prints what ends it (ECONNRESET is
/// `ConnectionResetError`). Killed when dropped (before the namespace).
struct NsPair {
    child: std::process::Child,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    sport: u16,
    cport: u16,
}

impl NsPair {
    fn start(ns: &common::netns::Netns) -> NsPair {
        const PY: &str = "import socket, time\n\
            l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
            c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n\
            print('ready', l.getsockname()[1], c.getsockname()[1], flush=True)\n\
            try:\n    print('data' if s.recv(1) else 'eof', flush=True)\n\
            except OSError as e:\n    print(type(e).__name__, flush=True)\n\
            time.sleep(60)\n";
        let mut child = ns
            .cmd("python3")
            .args(["-c", PY])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 in the namespace");
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = lines.next().expect("a ready line").unwrap();
        let w: Vec<u16> = ready
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse().unwrap())
            .collect();
        NsPair {
            child,
            lines,
            sport: w[0],
            cport: w[1],
        }
    }

    /// The client's end: its port and the server's.
    fn filter(&self, ns: &common::netns::Netns) -> [String; 3] {
        [
            format!("netns:{}", ns.name),
            format!("sport:{}", self.cport),
            format!("dport:{}", self.sport),
        ]
    }

    /// What ended the accepted end's recv().
    fn outcome(&mut self) -> String {
        self.lines.next().expect("an outcome line").unwrap()
    }
}

impl Drop for NsPair {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `porttop close` ends a connection of another network namespace from the
/// host: `--dry-run` lists it with its namespace (NETNS column, `--netns
/// all`); with `--netns NAME` (its sockets the snapshot's own, tag 0) `--yes`
/// closes it inside that namespace and the peer sees ECONNRESET; without
/// CAP_SYS_ADMIN the source cannot list it: one line naming the capability
/// (`--netns NAME`), or its note and no match (`--netns all`), nothing closed.
#[test]
fn close_ends_a_connection_in_another_namespace() {
    if !common::have("python3") {
        eprintln!("SKIP: needs python3");
        return;
    }
    let Some(ns) = common::netns::Netns::create("close") else {
        return;
    };
    let mut p = NsPair::start(&ns);
    let f = p.filter(&ns);
    let (a, b) = (
        format!("127.0.0.1:{}", p.cport),
        format!("127.0.0.1:{}", p.sport),
    );
    let out = porttop()
        .args(["--netns", "all", "close", "--dry-run"])
        .args(&f)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let head = t.lines().next().unwrap_or_default();
    let row = t
        .lines()
        .find(|l| l.contains(&a))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(
        head.starts_with("NETNS") && row.starts_with(&ns.name),
        "{t}"
    );
    assert!(t.contains("would close 1 socket"), "{t}");
    // Named alone (its sockets the snapshot's own): a line names it.
    let out = porttop()
        .args(["--netns", &ns.name, "close", "--dry-run"])
        .args(&f)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        t.starts_with(&format!("in network namespace {}:\n", ns.name)) && t.contains(&a),
        "{t}"
    );
    if common::have("setpriv") {
        // As nobody the source cannot enter the namespace, so the connection
        // is never listed and close is never tried (the actions' own refusal,
        // EnterNotPermitted, is the unit test
        // entering_without_cap_sys_admin_is_not_permitted): named with
        // --netns, the source's one line; with --netns all, the note of what
        // is not shown and no match.
        let nobody = |netns: &str| {
            std::process::Command::new("setpriv")
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_porttop"))
                .args(["--netns", netns, "close", "--yes"])
                .args(&f)
                .output()
                .unwrap()
        };
        let out = nobody(&ns.name);
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(2), "{o}{e}");
        assert_eq!(e.trim_end().lines().count(), 1, "{e}");
        assert!(
            e.contains("entering another network namespace needs CAP_SYS_ADMIN"),
            "{e}"
        );
        assert!(!o.contains("closed") && !o.contains(&a), "{o}");
        let out = nobody("all");
        let (o, e) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{o}{e}");
        assert_eq!(o, "no TCP connection matches; nothing to close\n", "{e}");
        assert!(
            e.contains("showing this network namespace only")
                && e.contains("entering a namespace needs CAP_SYS_ADMIN"),
            "{e}"
        );
    }
    let out = porttop()
        .args(["--netns", &ns.name, "close", "--yes"])
        .args(&f)
        .output()
        .unwrap();
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{t}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.contains(&format!("closed tcp {a} -> {b} in netns {}", ns.name)),
        "{t}"
    );
    assert_eq!(p.outcome(), "ConnectionResetError");
}

/// The dashboard's `C` on a connection of another namespace (`--netns all`,
/// the socket tagged with its namespace): the dialog names the namespace, `y`
/// closes it there, the status line says where, the peer sees ECONNRESET.
#[test]
fn dashboard_c_closes_a_connection_in_another_namespace() {
    if !common::have("python3") || !common::have("tmux") {
        eprintln!("SKIP: needs python3 and tmux");
        return;
    }
    let Some(ns) = common::netns::Netns::create("dclose") else {
        return;
    };
    let mut p = NsPair::start(&ns);
    let t = common::tmux::Tmux::new("nsclose");
    t.start(
        160,
        30,
        &format!(
            "'{}' --no-config --netns all -t --interval 250ms {}; echo PORTTOP_EXITED; sleep 30",
            env!("CARGO_BIN_EXE_porttop"),
            p.filter(&ns).join(" ")
        ),
    );
    let cs = format!(" {} ", p.cport);
    t.wait("the client's row", 15, |s| {
        s.lines()
            .any(|l| l.contains("ESTAB") && l.contains(&cs) && l.starts_with("porttop-t-"))
    });
    let (a, b) = (
        format!("127.0.0.1:{}", p.cport),
        format!("127.0.0.1:{}", p.sport),
    );
    t.keys(&["C"]);
    let s = t.wait("the close dialog", 5, |s| s.contains("Close tcp"));
    assert!(s.contains(&format!("{a} -> {b}")), "{s}");
    assert!(s.contains(&format!("netns: {}", ns.name)), "{s}");
    t.keys(&["y"]);
    t.wait("the status line", 5, |s| {
        s.contains(&format!("closed {a} -> {b} in netns {}", ns.name))
    });
    assert_eq!(p.outcome(), "ConnectionResetError");
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
}

/// The dashboard's `C` reaches a namespace that only a process it was not
/// found by keeps alive: found by `/proc/PID/ns/net` of its first process
/// (no `ip netns` name), which exits while the dialog is open; the
/// connection, held by that process's child, is still closed there (the
/// snapshot holds the namespace's file; before, the path of the exited pid
/// was reopened and the namespace called gone).
#[test]
fn dashboard_c_closes_in_a_namespace_whose_first_process_exited() {
    if !common::is_root()
        || !common::have("python3")
        || !common::have("tmux")
        || !common::have("unshare")
    {
        eprintln!("SKIP: needs root, python3, tmux and unshare");
        return;
    }
    // The first process (unshare execs python) forks the holder of the
    // connection, then waits for its stdin to close.
    const PY: &str = "import os, socket, sys, time\n\
        os.system('ip link set lo up')\n\
        l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
        c = socket.create_connection(l.getsockname()); s, _ = l.accept()\n\
        if os.fork() == 0:\n\
        \x20   print('ready', l.getsockname()[1], c.getsockname()[1], os.getpid(), flush=True)\n\
        \x20   try:\n        print('data' if s.recv(1) else 'eof', flush=True)\n\
        \x20   except OSError as e:\n        print(type(e).__name__, flush=True)\n\
        \x20   time.sleep(60); os._exit(0)\n\
        sys.stdin.read()\n";
    let mut first = std::process::Command::new("unshare")
        .args(["-n", "python3", "-c", PY])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("unshare -n python3");
    use std::io::BufRead;
    let mut lines = std::io::BufReader::new(first.stdout.take().unwrap()).lines();
    let ready = lines.next().expect("a ready line").unwrap();
    let w: Vec<u32> = ready
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    let (sport, cport, holder) = (w[0], w[1], w[2]);
    struct Holder(u32);
    impl Drop for Holder {
        fn drop(&mut self) {
            // SAFETY: signals the child this test's python forked.
            unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
        }
    }
    let _holder = Holder(holder);
    let t = common::tmux::Tmux::new("nsexit");
    t.start(
        160,
        30,
        &format!(
            "'{}' --no-config --netns all -t --interval 250ms sport:{cport} dport:{sport}; \
             echo PORTTOP_EXITED; sleep 30",
            env!("CARGO_BIN_EXE_porttop"),
        ),
    );
    let cs = format!(" {cport} ");
    t.wait("the client's row", 15, |s| {
        s.lines().any(|l| l.contains("ESTAB") && l.contains(&cs))
    });
    t.keys(&["C"]);
    t.wait("the close dialog", 5, |s| s.contains("Close tcp"));
    // the first process ends: its /proc/PID/ns/net is gone, the namespace not
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
    t.keys(&["y"]);
    let (a, b) = (format!("127.0.0.1:{cport}"), format!("127.0.0.1:{sport}"));
    let s = t.wait("the status line", 5, |s| {
        s.contains(&format!("closed {a} -> {b} in netns ")) || s.contains("gone")
    });
    assert!(s.contains(&format!("closed {a} -> {b} in netns ")), "{s}");
    assert_eq!(
        lines.next().expect("an outcome line").unwrap(),
        "ConnectionResetError"
    );
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
}
