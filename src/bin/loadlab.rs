//! loadlab: makes the socket situations porttop exists for, on loopback only.
//!
//!   loadlab hold    --conns N            N long-lived connections to one listener
//!                   [--port P]           (the listener on port P; or, with
//!                   [--connect P]         --connect, to an existing listener;
//!                   [--bind-from P]       --bind-from: clients bind P, P+1, ... first,
//!                                         for what-if demos with porttop --range)
//!                   [--churn R]          and close+reopen R of them per second
//!   loadlab steady  [--conns N]          listeners (one inside the ephemeral range,
//!                                        two processes on one port via SO_REUSEPORT)
//!                                        and connections that open and close each second
//!   loadlab churn   [--rate R]           short-lived connections closed by the client:
//!                                        TIME-WAIT piles up on one destination (the
//!                                        first failed connect() prints `fail <unix ms>`)
//!   loadlab timewait [--rate R]         TIME-WAIT at scale (bench/scale.sh): connections
//!                   [--addrs N]          to a listener on each of 127.0.0.1..127.0.0.N
//!                   [--port P]           (port P, default 5000), closed by the client,
//!                                        spread over the destinations and two threads
//!   loadlab exhaust [--set-range N]      ramps connections to one destination until
//!                   [--step]             connect() fails with EADDRNOTAVAIL (--step:
//!                                        wait for a line on stdin after each attempt)
//!
//!   --name NAME (any command): set this process's name (comm) with
//!                prctl(PR_SET_NAME), as any unprivileged program can: the tests
//!                use it to put control characters where porttop shows names.
//!
//! Every loop is bounded by `--seconds` (default 60) and a count. The first line on
//! stdout is `ready {json}` once the promised sockets exist. The process exits on
//! SIGTERM/SIGINT, when `--seconds` pass, or when stdin closes with `--stdin-eof`,
//! and its child processes go with it.

use std::io::{BufRead, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

struct Opts {
    conns: usize,
    rate: u32,
    seconds: u64,
    set_range: Option<u32>,
    port: u16,
    connect: Option<u16>,
    bind_from: Option<u16>,
    stdin_eof: bool,
    step: bool,
    churn: u32,
    addrs: u8,
    name: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: loadlab <hold|steady|churn|timewait|exhaust> [--conns N] [--addrs N] [--rate R] [--seconds S] \
         [--set-range N] [--port P] [--stdin-eof]"
    );
    std::process::exit(2)
}

fn parse(args: &[String]) -> Opts {
    let mut o = Opts {
        conns: 200,
        rate: 200,
        seconds: 60,
        set_range: None,
        port: 0,
        connect: None,
        bind_from: None,
        stdin_eof: false,
        step: false,
        churn: 0,
        addrs: 1,
        name: None,
    };
    let mut i = 0;
    while i < args.len() {
        let val = |i: usize| -> u64 {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match args[i].as_str() {
            "--conns" => o.conns = val(i) as usize,
            "--rate" => o.rate = val(i).max(1) as u32,
            "--seconds" => o.seconds = val(i),
            "--set-range" => o.set_range = Some(val(i) as u32),
            "--port" => o.port = val(i) as u16,
            "--connect" => o.connect = Some(val(i) as u16),
            "--bind-from" => o.bind_from = Some(val(i) as u16),
            "--churn" => o.churn = val(i) as u32,
            "--addrs" => o.addrs = val(i).clamp(1, 250) as u8,
            "--name" => o.name = Some(args.get(i + 1).cloned().unwrap_or_else(|| usage())),
            "--step" => {
                o.step = true;
                i += 1;
                continue;
            }
            "--stdin-eof" => {
                o.stdin_eof = true;
                i += 1;
                continue;
            }
            _ => usage(),
        }
        i += 2;
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 {
        usage();
    }
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGHUP, on_signal as *const () as libc::sighandler_t);
    }
    let o = parse(&args[2..]);
    if let Some(name) = &o.name {
        set_name(name);
    }
    if o.stdin_eof {
        std::thread::spawn(|| {
            let mut s = String::new();
            while std::io::stdin()
                .lock()
                .read_line(&mut s)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                s.clear();
            }
            STOP.store(true, Ordering::SeqCst);
        });
    }
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let r = match args[1].as_str() {
        "hold" => hold(&o, deadline),
        "steady" => steady(&o, deadline),
        "churn" => churn(&o, deadline),
        "timewait" => timewait(&o, deadline),
        "exhaust" => exhaust(&o, deadline),
        "reuseport-child" => reuseport_child(o.port, deadline),
        _ => usage(),
    };
    if let Err(e) = r {
        eprintln!("loadlab: {e}");
        std::process::exit(1);
    }
}

type R = Result<(), String>;

fn running(deadline: Instant) -> bool {
    !STOP.load(Ordering::SeqCst) && Instant::now() < deadline
}

fn ready(v: String) {
    println!("ready {v}");
    let _ = std::io::stdout().flush();
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn localhost(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

fn read_range() -> (u16, u16) {
    porttop::range::read_sysfile(std::path::Path::new(
        "/proc/sys/net/ipv4/ip_local_port_range",
    ))
    .ok()
    .map(|b| String::from_utf8_lossy(&b).into_owned())
    .and_then(|t| {
        let v: Vec<u16> = t
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        (v.len() == 2).then(|| (v[0], v[1]))
    })
    .unwrap_or((32768, 60999))
}

/// A listener on a free port below the ephemeral range (or on `port`).
fn listener_outside(port: u16) -> Result<TcpListener, String> {
    if port != 0 {
        return TcpListener::bind(localhost(port)).map_err(|e| format!("bind {port}: {e}"));
    }
    let (lo, _) = read_range();
    let start = 12000u16.min(lo.saturating_sub(1000)).max(1025);
    (start..lo)
        .find_map(|p| TcpListener::bind(localhost(p)).ok())
        .ok_or_else(|| "no free port below the ephemeral range".into())
}

fn sleep_until(deadline: Instant, d: Duration) {
    let end = Instant::now() + d;
    while running(deadline) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Accepts connections on a thread; each is served by a small thread that reads
/// until the client closes and then closes too (no CLOSE-WAIT pile-up).
fn acceptor(l: TcpListener) {
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { break };
            let spawned = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = std::io::Read::read(&mut s, &mut buf) {
                        if n == 0 {
                            break;
                        }
                    }
                });
            if spawned.is_err() {
                // Out of threads: this connection is dropped (closed) at once.
                continue;
            }
        }
    });
}

/// prctl(PR_SET_NAME): the kernel keeps the first 15 bytes (prctl(2)).
fn set_name(name: &str) {
    let Ok(c) = std::ffi::CString::new(name) else {
        usage()
    };
    // SAFETY: PR_SET_NAME reads a NUL-terminated string that outlives the call.
    if unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) } != 0 {
        eprintln!(
            "loadlab: prctl(PR_SET_NAME): {}",
            std::io::Error::last_os_error()
        );
        std::process::exit(1);
    }
}

fn hold(o: &Opts, deadline: Instant) -> R {
    let l = match o.connect {
        Some(_) => None,
        None => Some(listener_outside(o.port)?),
    };
    let port = match (&l, o.connect) {
        (Some(l), _) => l.local_addr().map_err(|e| e.to_string())?.port(),
        (None, Some(p)) => p,
        (None, None) => unreachable!("one of the two is set"),
    };
    let mut conns = Vec::with_capacity(o.conns);
    let mut servers = Vec::with_capacity(o.conns);
    let mut next_bind = o.bind_from;
    for _ in 0..o.conns {
        let c = match next_bind.as_mut() {
            Some(p) => loop {
                let from = *p;
                *p = p.checked_add(1).ok_or("--bind-from ran past 65535")?;
                if let Ok(c) = connect_from(from, port) {
                    break c;
                }
            },
            None => TcpStream::connect(localhost(port)).map_err(|e| format!("connect: {e}"))?,
        };
        if let Some(l) = &l {
            let (s, _) = l.accept().map_err(|e| e.to_string())?;
            servers.push(s);
        }
        conns.push(c);
    }
    ready(format!("{{\"listener\":{port},\"conns\":{}}}", conns.len()));
    if o.churn == 0 || conns.is_empty() {
        sleep_until(deadline, Duration::from_secs(u64::MAX / 4));
        return Ok(());
    }
    // Churn in 10 steps a second: close some connections spread over the table and
    // open as many again (the kernel hands out the lowest free fds: the holes).
    let per_step = (o.churn as usize).div_ceil(10).min(conns.len());
    let mut at = 0usize;
    while running(deadline) {
        for _ in 0..per_step {
            at = (at + 7919) % conns.len();
            let c = TcpStream::connect(localhost(port)).map_err(|e| format!("connect: {e}"))?;
            if let Some(l) = &l {
                let (s, _) = l.accept().map_err(|e| e.to_string())?;
                servers[at] = s;
            }
            conns[at] = c;
        }
        sleep_until(deadline, Duration::from_millis(100));
    }
    Ok(())
}

/// bind(127.0.0.1:from) then connect(127.0.0.1:to): the bind-before-connect style.
fn connect_from(from: u16, to: u16) -> Result<TcpStream, String> {
    // SAFETY: plain socket calls on a descriptor we own; checked return values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err("socket() failed".into());
        }
        let s = TcpStream::from_raw_fd(fd);
        let addr = |port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let a = addr(from);
        if libc::bind(s.as_raw_fd(), (&a as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(format!("bind {from}: {}", std::io::Error::last_os_error()));
        }
        let b = addr(to);
        if libc::connect(s.as_raw_fd(), (&b as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(format!("connect: {}", std::io::Error::last_os_error()));
        }
        Ok(s)
    }
}

fn reuseport_listener(port: u16) -> Result<TcpListener, String> {
    // SAFETY: plain socket calls on a descriptor we own; checked return values.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err("socket() failed".into());
        }
        let one: libc::c_int = 1;
        for opt in [libc::SO_REUSEPORT, libc::SO_REUSEADDR] {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let l = TcpListener::from_raw_fd(fd);
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        if libc::bind(
            l.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        ) != 0
            || libc::listen(l.as_raw_fd(), 128) != 0
        {
            return Err(format!(
                "bind/listen {port}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(l)
    }
}

fn reuseport_child(port: u16, deadline: Instant) -> R {
    // Die with the parent, even when it is SIGKILLed (Linux).
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal number.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
    let _l = reuseport_listener(port)?;
    ready(format!("{{\"reuseport\":{port}}}"));
    sleep_until(deadline, Duration::from_secs(u64::MAX / 4));
    Ok(())
}

/// Kills the child when dropped.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn steady(o: &Opts, deadline: Instant) -> R {
    let (lo, hi) = read_range();
    let main_l = listener_outside(0)?;
    let port = main_l.local_addr().map_err(|e| e.to_string())?.port();
    // A listener deliberately inside the ephemeral range: a collision risk.
    let mid = lo + (hi - lo) / 2;
    let in_range = (mid..hi)
        .find_map(|p| TcpListener::bind(localhost(p)).ok())
        .ok_or("no free port inside the range")?;
    let in_port = in_range.local_addr().map_err(|e| e.to_string())?.port();
    // Two processes on one port with SO_REUSEPORT: this one and a child.
    let start = port.saturating_add(1);
    let (_mine, shared_port) = (start..lo)
        .find_map(|p| reuseport_listener(p).ok().map(|l| (l, p)))
        .ok_or("no free port for the SO_REUSEPORT pair")?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .args(["reuseport-child", "--port", &shared_port.to_string()])
        .args(["--seconds", &o.seconds.to_string()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let child = Child(child);
    acceptor(main_l);
    let mut conns: std::collections::VecDeque<TcpStream> = (0..o.conns)
        .filter_map(|_| TcpStream::connect(localhost(port)).ok())
        .collect();
    ready(format!(
        "{{\"listener\":{port},\"in_range\":{in_port},\"reuseport\":{shared_port},\"child\":{},\"conns\":{}}}",
        child.0.id(),
        conns.len()
    ));
    // Every second: close a few, open a few (TCPView's green and red).
    let turn = (o.conns / 20).max(1);
    while running(deadline) {
        sleep_until(deadline, Duration::from_secs(1));
        for _ in 0..turn {
            conns.pop_front();
            if let Ok(c) = TcpStream::connect(localhost(port)) {
                conns.push_back(c);
            }
        }
    }
    drop(in_range);
    Ok(())
}

fn churn(o: &Opts, deadline: Instant) -> R {
    let l = listener_outside(o.port)?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    // The server side reads until EOF and closes after the client: the client
    // closes first, so TIME-WAIT lands on the client's ephemeral ports.
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 64];
                while let Ok(n) = std::io::Read::read(&mut s, &mut buf) {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    ready(format!("{{\"listener\":{port},\"rate\":{}}}", o.rate));
    let start = Instant::now();
    let mut made: u64 = 0;
    let mut failed = false;
    let max = u64::from(o.rate) * o.seconds;
    while running(deadline) && made < max {
        let due = (start.elapsed().as_secs_f64() * f64::from(o.rate)) as u64;
        while made < due.min(max) {
            match TcpStream::connect(localhost(port)) {
                Ok(c) => drop(c),
                Err(e) => {
                    eprintln!("connect #{made}: {e}");
                    if !failed {
                        // When the pool ran out, for lead-time measurements.
                        failed = true;
                        println!("fail {} #{made}: {e}", unix_ms());
                        let _ = std::io::stdout().flush();
                    }
                }
            }
            made += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("churn: {made} connections made");
    Ok(())
}

/// TIME-WAIT at scale: `rate` connections a second to listeners on
/// 127.0.0.1..=127.0.0.N, each closed by the client right after connect(). The
/// server side accepts without a thread per connection and closes what it
/// accepted a little later, after the client's FIN (CLOSE-WAIT, LAST-ACK), so
/// every connection leaves one TIME-WAIT on a client's ephemeral port for 60 s.
/// Run it in a namespace with `tcp_tw_reuse` 0 (else connect() recycles them)
/// and a wide range: each destination holds at most the range in TIME-WAIT.
fn timewait(o: &Opts, deadline: Instant) -> R {
    let port = if o.port == 0 { 5000 } else { o.port };
    let mut dests = Vec::new();
    for i in 1..=o.addrs.max(1) {
        let a = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, i), port));
        let l = TcpListener::bind(a).map_err(|e| format!("bind {a}: {e}"))?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        dests.push(a);
        std::thread::spawn(move || {
            let mut held = std::collections::VecDeque::new();
            loop {
                match l.accept() {
                    Ok((s, _)) => held.push_back((Instant::now(), s)),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
                while held
                    .front()
                    .is_some_and(|(t, _)| t.elapsed() > Duration::from_millis(50))
                {
                    held.pop_front();
                }
            }
        });
    }
    ready(format!(
        "{{\"listener\":{port},\"addrs\":{},\"rate\":{}}}",
        dests.len(),
        o.rate
    ));
    let per = f64::from(o.rate) / 2.0;
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let dests = dests.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let (mut made, mut failed) = (0u64, 0u64);
                while running(deadline) {
                    let due = (start.elapsed().as_secs_f64() * per) as u64;
                    while made < due && running(deadline) {
                        let d = dests[(made as usize * 2 + w) % dests.len()];
                        match TcpStream::connect(d) {
                            Ok(c) => drop(c),
                            Err(_) => failed += 1,
                        }
                        made += 1;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                (made, failed)
            })
        })
        .collect();
    for w in workers {
        if let Ok((made, failed)) = w.join() {
            eprintln!("timewait: {made} connections, {failed} failed");
        }
    }
    Ok(())
}

/// True when this process is not in the host's network namespace: its namespace
/// differs from pid 1's, or is one that `ip netns add` created (under /run/netns).
fn in_private_netns() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(mine) = std::fs::metadata("/proc/self/ns/net").map(|m| m.ino()) else {
        return false;
    };
    if let Ok(init) = std::fs::metadata("/proc/1/ns/net") {
        return init.ino() != mine;
    }
    std::fs::read_dir("/run/netns")
        .map(|rd| {
            rd.flatten().any(|e| {
                std::fs::metadata(e.path())
                    .map(|m| m.ino() == mine)
                    .unwrap_or(false)
            })
        })
        .unwrap_or(false)
}

fn exhaust(o: &Opts, deadline: Instant) -> R {
    if let Some(n) = o.set_range {
        if !in_private_netns() {
            return Err("--set-range only inside a private network namespace \
                        (ip netns exec NAME loadlab exhaust ...); refusing to change the host"
                .into());
        }
        let lo: u32 = 40000;
        let hi = lo + n.clamp(10, 20000) - 1;
        std::fs::write(
            "/proc/sys/net/ipv4/ip_local_port_range",
            format!("{lo} {hi}"),
        )
        .map_err(|e| format!("cannot set ip_local_port_range (root needed): {e}"))?;
    }
    let (lo, hi) = read_range();
    let pool = u32::from(hi) - u32::from(lo) + 1;
    if pool > 5000 && !in_private_netns() {
        return Err(format!(
            "the ephemeral range has {pool} ports: exhausting it would hurt this host; \
             run in a namespace with --set-range (demo/run.sh exhaust does that)"
        ));
    }
    let l = listener_outside(o.port)?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    acceptor(l);
    ready(format!("{{\"listener\":{port},\"pool\":{pool}}}"));
    let mut held = Vec::new();
    let mut failures = 0u32;
    let stdin = std::io::stdin();
    let mut step_line = String::new();
    let interval = Duration::from_secs_f64(1.0 / f64::from(o.rate.max(1)));
    let max_attempts = pool as usize + 20;
    for n in 0..max_attempts {
        if !running(deadline) {
            break;
        }
        match TcpStream::connect(localhost(port)) {
            Ok(c) => {
                held.push(c);
                println!("ok {} {}", held.len(), pool);
            }
            Err(e) => {
                failures += 1;
                println!(
                    "fail {} {} after {} connections: {e}",
                    n + 1,
                    failures,
                    held.len()
                );
            }
        }
        let _ = std::io::stdout().flush();
        if failures >= 5 {
            break;
        }
        if o.step {
            step_line.clear();
            if stdin
                .lock()
                .read_line(&mut step_line)
                .map(|n| n == 0)
                .unwrap_or(true)
            {
                break;
            }
        } else {
            sleep_until(deadline, interval);
        }
    }
    println!("done held={} failures={failures}", held.len());
    let _ = std::io::stdout().flush();
    sleep_until(deadline, Duration::from_secs(u64::MAX / 4));
    Ok(())
}
