//! The dashboard's two actions on the system, in the real binary under tmux:
//! `K` pins a real child process's pid and SIGKILLs it when `k` is chosen (the
//! dialog names the process and both signals); `C` closes a real loopback
//! connection after a dialog naming both ends (the peer sees ECONNRESET).
//! Skips without tmux or root (SOCK_DESTROY needs CAP_NET_ADMIN).

mod common;
use common::tmux::Tmux;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn porttop_cmd(args: &str) -> String {
    format!(
        "'{}' {args}; echo PORTTOP_EXITED; sleep 30",
        env!("CARGO_BIN_EXE_porttop")
    )
}

/// Kills the child (by its own handle) when dropped.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens the filter prompt and applies `f`.
fn filter(t: &Tmux, f: &str) {
    t.keys(&["/"]);
    t.keys(&["-l", f]);
    t.keys(&["Enter"]);
}

#[test]
fn k_then_k_sigkills_the_pinned_owner_of_a_socket() {
    if !common::have("tmux") || !common::have("perl") {
        eprintln!("SKIP: needs tmux and perl");
        return;
    }
    // A child listening on loopback, printing its port.
    let mut c = Command::new("perl")
        .args([
            "-MIO::Socket::INET",
            "-e",
            "$s=IO::Socket::INET->new(Listen=>1,LocalAddr=>'127.0.0.1:0') or die $!; \
             $|=1; print $s->sockport, qq(\\n); sleep 60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("perl");
    let mut line = String::new();
    BufReader::new(c.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port line");
    let port: u16 = line.trim().parse().expect("a port");
    let mut child = Child(c);
    let pid = child.0.id();

    let t = Tmux::new("kill");
    // Started on its port: other tests' sockets must not push it off the screen.
    t.start(
        120,
        40,
        &porttop_cmd(&format!("-t -l --interval 250ms port:{port}")),
    );
    let port_s = format!(" {port} ");
    let row = |s: &str| s.lines().any(|l| l.contains(&port_s) && l.contains("perl"));
    t.wait("the child's listener", 10, row);
    filter(&t, &format!("port:{port}"));
    t.wait("the filtered table", 5, |s| {
        s.contains("filter: ") && row(s)
    });
    t.keys(&["K"]);
    let s = t.wait("the kill dialog", 5, |s| s.contains("SIGKILL"));
    assert!(s.contains(&format!("pid {pid} (perl)")), "{s}");
    assert!(s.contains("SIGTERM") && s.contains("k / 9: SIGKILL"), "{s}");
    t.keys(&["k"]);
    let end = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(st) = child.0.try_wait().expect("try_wait") {
            break st;
        }
        assert!(Instant::now() < end, "the child still runs: {}", t.screen());
        std::thread::sleep(Duration::from_millis(20));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    t.wait("the status line", 5, |s| {
        s.contains(&format!("sent SIGKILL to pid {pid} (perl)"))
    });
}

#[test]
fn c_then_y_closes_a_loopback_connection_and_the_peer_sees_a_reset() {
    if !common::have("tmux") || !common::is_root() {
        eprintln!("SKIP: needs tmux and root (CAP_NET_ADMIN)");
        return;
    }
    let l = common::listener_outside_range("127.0.0.1");
    let mut pairs = common::connect_n(&l, 1);
    let (client, server) = pairs.pop().expect("a pair");
    let cport = client.local_addr().expect("addr").port();
    let sport = l.local_addr().expect("addr").port();

    let t = Tmux::new("close");
    // Started on the server's port: other tests' TIME-WAITs must not push the
    // connection off the screen.
    t.start(
        120,
        40,
        &porttop_cmd(&format!("-t --interval 250ms port:{sport}")),
    );
    let (cs, ss) = (format!(" {cport} "), format!(" {sport} "));
    let row = |s: &str| {
        s.lines()
            .any(|l| l.contains("ESTAB") && l.contains(&cs) && l.contains(&ss))
    };
    t.wait("the connection's rows", 10, row);
    // The client's end only: its local port and the server's port.
    filter(&t, &format!("sport:{cport} dport:{sport}"));
    t.wait("the client's row", 5, |s| s.contains("filter: ") && row(s));
    let (a, b) = (format!("127.0.0.1:{cport}"), format!("127.0.0.1:{sport}"));
    t.keys(&["C"]);
    let s = t.wait("the close dialog", 5, |s| s.contains("Close tcp"));
    assert!(s.contains(&format!("{a} -> {b}")), "{s}");
    assert!(s.contains("owner: pid "), "{s}");
    t.keys(&["y"]);
    t.wait("the status line", 5, |s| {
        s.contains(&format!("closed {a} -> {b}"))
    });
    // The peer (the server's end) was reset.
    let mut server = server;
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 8];
    let e = server.read(&mut buf).expect_err("a reset, not data or EOF");
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    drop(client);
}

/// `C` then `y` as `nobody` (no CAP_NET_ADMIN): the kernel's EPERM comes back
/// as one status line naming the capability, and the connection still works.
#[test]
fn c_without_cap_net_admin_says_so_in_one_line_and_the_connection_lives() {
    if !common::have("tmux") || !common::have("setpriv") || !common::is_root() {
        eprintln!("SKIP: needs tmux, setpriv and root (to drop to nobody)");
        return;
    }
    let l = common::listener_outside_range("127.0.0.1");
    let (mut client, mut server) = common::connect_n(&l, 1).pop().expect("a pair");
    let cport = client.local_addr().expect("addr").port();
    let sport = l.local_addr().expect("addr").port();
    let t = Tmux::new("close-nobody");
    t.start(
        160,
        40,
        &format!(
            "setpriv --reuid=nobody --regid=nogroup --clear-groups {}",
            porttop_cmd(&format!(
                "--no-config -t --interval 250ms sport:{cport} dport:{sport}"
            ))
        ),
    );
    let cs = format!(" {cport} ");
    let row = |s: &str| s.lines().any(|l| l.contains("ESTAB") && l.contains(&cs));
    t.wait("the client's row", 10, row);
    let (a, b) = (format!("127.0.0.1:{cport}"), format!("127.0.0.1:{sport}"));
    t.keys(&["C"]);
    let s = t.wait("the close dialog", 5, |s| s.contains("Close tcp"));
    assert!(s.contains(&format!("{a} -> {b}")), "{s}");
    t.keys(&["y"]);
    let s = t.wait("the status line", 5, |s| s.contains("not closed: "));
    let lines: Vec<&str> = s.lines().filter(|l| l.contains("CAP_NET_ADMIN")).collect();
    assert_eq!(lines.len(), 1, "{s}");
    assert!(
        lines[0].contains(&format!("not closed: {a} -> {b}: "))
            && lines[0].contains("needs CAP_NET_ADMIN"),
        "{s}"
    );
    // Nothing was closed: both ends still talk.
    use std::io::Write;
    client.write_all(b"ping").expect("write");
    server
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).expect("the data, not a reset");
    assert_eq!(&buf, b"ping");
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
}
