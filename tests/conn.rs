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
        let out = std::process::Command::new("setpriv")
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
                 $|=1; print qq(done\\n); sleep 60"
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
    // the child: received M, sent N (bytes_acked also counts the SYN)
    let (rx, tx) = bytes(pid);
    assert_eq!(rx, M, "{csv}");
    assert!((N..=N + 1).contains(&tx), "{csv}");
    // this process (the accepted end; its listener adds nothing): the other way
    let (rx, tx) = bytes(std::process::id());
    assert_eq!(rx, N, "{csv}");
    assert!((M..=M + 1).contains(&tx), "{csv}");
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
    drop(srv);
}
