//! Helpers shared by the integration tests: the real binary, real sockets.
#![allow(dead_code)]

pub mod netns;
pub mod tmux;

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;

/// The binary, reading only its own network namespace: as root porttop reads
/// every namespace by default, and other tests create some meanwhile. Tests of
/// namespaces give `--netns`, which wins over the variable.
pub fn porttop() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_porttop"));
    c.env("PORTTOP_NETNS", "host");
    c
}

/// The host's ephemeral range, read the way the kernel states it.
pub fn host_range() -> (u16, u16) {
    let t = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let v: Vec<u16> = t.split_whitespace().map(|x| x.parse().unwrap()).collect();
    (v[0], v[1])
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Tests in one binary share a pid: those that count "this process's sockets" take
/// this lock so they do not see each other's, and so do those that spawn
/// processes beside them (a child holds the parent's sockets, close-on-exec
/// or not, from its fork until its exec: a real holder a walk may see).
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A start port below the ephemeral range that differs between test processes and
/// calls, so tests do not land on each other's TIME_WAIT leftovers.
fn start_port(lo: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = lo.saturating_sub(11000).max(1000);
    let seed = (std::process::id() as u16).wrapping_mul(97);
    let step = NEXT.fetch_add(50, Ordering::Relaxed);
    10000u16.min(lo.saturating_sub(1000)).max(1025) + seed.wrapping_add(step) % span
}

/// Binds a TCP listener on `ip` at a free port below the ephemeral range, so that
/// only client sockets have ephemeral local ports.
pub fn listener_outside_range(ip: &str) -> TcpListener {
    let (lo, _) = host_range();
    let start = start_port(lo);
    for p in (start..lo).chain(1025..start) {
        if let Ok(l) = TcpListener::bind(SocketAddr::new(ip.parse().unwrap(), p)) {
            return l;
        }
    }
    panic!("no free port below the ephemeral range on {ip}");
}

pub fn udp_outside_range(ip: &str) -> UdpSocket {
    let (lo, _) = host_range();
    let start = start_port(lo);
    for p in (start..lo).chain(1025..start) {
        if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip.parse().unwrap(), p)) {
            return s;
        }
    }
    panic!("no free udp port below the ephemeral range on {ip}");
}

/// `n` connections to `l`: (client, accepted server side) pairs.
pub fn connect_n(l: &TcpListener, n: usize) -> Vec<(TcpStream, TcpStream)> {
    let addr = l.local_addr().unwrap();
    (0..n)
        .map(|_| {
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = l.accept().unwrap();
            (c, s)
        })
        .collect()
}

/// The name porttop should show for this test process: the kernel's (comm), as
/// `ss` and `ps` show it.
pub fn my_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .unwrap()
        .trim_end_matches('\n')
        .to_string()
}

/// Runs porttop with args; returns (status code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    outcome(porttop().args(args))
}

/// Runs `cmd` to its end: (status code, -1 for a signal; stdout; stderr).
pub fn outcome(cmd: &mut Command) -> (i32, String, String) {
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Copies the binary where an unprivileged user can run it; returns its path.
pub fn world_runnable_binary(dir: &std::path::Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dst = dir.join("porttop");
    std::fs::copy(env!("CARGO_BIN_EXE_porttop"), &dst).unwrap();
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Asserts a failure is one clear line: exit code, no panic, no backtrace.
pub fn assert_one_line_error(args: &[&str], code: i32) {
    let (c, out, err) = run(args);
    assert_eq!(c, code, "{args:?}: stdout={out} stderr={err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("porttop: "), "{args:?}: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}
