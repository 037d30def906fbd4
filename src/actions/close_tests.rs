use super::*;
use crate::model::{Endpoint, NsHandle};
use std::sync::Arc;

fn ep(a: &str) -> Endpoint {
    let a: std::net::SocketAddr = a.parse().unwrap();
    Endpoint::new(a.ip(), a.port())
}

fn tcp(local: &str, remote: &str, netns: u64) -> Socket {
    Socket {
        proto: Proto::Tcp,
        family: if local.starts_with('[') {
            Family::Ipv6
        } else {
            Family::Ipv4
        },
        local: ep(local),
        remote: Some(ep(remote)),
        state: SockState::Established,
        uid: None,
        user: None,
        inode: None,
        pids: Default::default(),
        time_wait_left_ms: None,
        conn: None,
        netns,
        cookie: 0,
    }
}

fn netns(inode: u64, handle: Option<std::fs::File>) -> Netns {
    Netns {
        inode,
        name: "web".into(),
        own: false,
        container: None,
        range: crate::model::PortRange::new(1, 2, Vec::new(), "test"),
        counters: None,
        handle: handle.map(|f| NsHandle::new(Arc::new(f))),
    }
}

#[test]
fn the_request_names_the_socket_as_the_kernel_reads_it() {
    let mut s = tcp("[::1]:4660", "[::1]:80", 0);
    s.remote = Some(Endpoint::new("10.0.0.1".parse().unwrap(), 80));
    let b = request(&s, 7);
    assert_eq!(&b[24..26], &[0x12, 0x34]);
    assert_eq!(&b[26..28], &[0, 80]);
    assert_eq!(b[28 + 15], 1); // ::1
    assert_eq!(&b[44 + 10..44 + 16], &[0xff, 0xff, 10, 0, 0, 1]); // mapped
    assert_eq!(&b[64..72], &[0xff; 8]); // no cookie: by address
                                        // the socket's own cookie, which every dump gives, with or without detail
    s.cookie = 0x0102_0304_0506_0708;
    assert_eq!(&request(&s, 7)[64..72], &s.cookie.to_ne_bytes());
    assert!(!closable(&Socket {
        state: SockState::TimeWait,
        ..s.clone()
    }));
}

/// A socket of another namespace is closed only through the snapshot's
/// handle on it, and only a handle that is that namespace (nsfs, its inode):
/// without one, or with one that is not, nothing is sent.
#[cfg(target_os = "linux")]
#[test]
fn another_namespace_is_entered_only_through_its_own_handle() {
    use std::os::unix::fs::MetadataExt;
    let s = tcp("127.0.0.1:1", "127.0.0.1:2", 9);
    // tagged with a namespace the snapshot does not list
    assert!(matches!(
        close_socket(&s, None),
        Err(ActionError::NamespaceUnknown)
    ));
    let own = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
    let unknown = |n: Netns| {
        let e = close_socket(&s, Some(&n)).unwrap_err();
        assert!(matches!(e, ActionError::NamespaceUnknown), "{e}");
    };
    unknown(netns(own + 1, None));
    // a plain file as the handle
    unknown(netns(own + 1, std::fs::File::open("/dev/null").ok()));
    // a namespace file, but of another namespace (ours) than the socket's
    unknown(netns(
        own + 1,
        std::fs::File::open("/proc/self/ns/net").ok(),
    ));
}

/// A network namespace of its own that only the returned handle and the
/// connection's sockets keep alive (no process in it, no file naming it), lo
/// up, a connection in it: (handle, its inode, client, accepted end). None
/// where this machine cannot make one (not root, no `ip`).
#[cfg(target_os = "linux")]
fn lone_namespace() -> Option<(std::fs::File, u64, std::net::TcpStream, std::net::TcpStream)> {
    use std::os::unix::fs::MetadataExt;
    let made = std::thread::spawn(|| {
        // SAFETY: unshare only moves this thread (which ends here) to a new
        // network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        // a child of this thread is in its namespace
        let up = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .ok()?;
        if !up.success() {
            return None;
        }
        let f = std::fs::File::open("/proc/thread-self/ns/net").ok()?;
        let ino = f.metadata().ok()?.ino();
        let l = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
        let c = std::net::TcpStream::connect(l.local_addr().ok()?).ok()?;
        let (a, _) = l.accept().ok()?;
        Some((f, ino, c, a))
    })
    .join()
    .ok()
    .flatten();
    if made.is_none() {
        eprintln!("SKIP: cannot make a network namespace here (needs root and `ip`)");
    }
    made
}

/// The kernel's cookie of a socket (SO_COOKIE, 57 in asm-generic/socket.h).
#[cfg(target_os = "linux")]
fn cookie_of(s: &std::net::TcpStream) -> u64 {
    use std::os::fd::AsRawFd;
    let mut c = 0u64;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: a valid socket and an out-buffer of the length given.
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            57,
            (&mut c as *mut u64).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", io::Error::last_os_error());
    c
}

/// The client's end of `c` as the snapshot lists it: in namespace `ino`.
#[cfg(target_os = "linux")]
fn listed(c: &std::net::TcpStream, ino: u64) -> Socket {
    let mut s = tcp(
        &c.local_addr().unwrap().to_string(),
        &c.peer_addr().unwrap().to_string(),
        ino,
    );
    s.cookie = cookie_of(c);
    s
}

/// Whether the connection still carries a byte from `c` to `a`.
#[cfg(target_os = "linux")]
fn still_open(c: &mut std::net::TcpStream, a: &mut std::net::TcpStream) -> bool {
    use std::io::{Read, Write};
    let mut b = [0u8; 1];
    c.write_all(b"x").is_ok() && a.read_exact(&mut b).is_ok()
}

/// The namespace is entered through the handle the snapshot holds, with no
/// process in it and no path to find it by (the source's way in before, a
/// `/proc/PID/ns/net` whose pid had exited, failed here); the socket is
/// named by its cookie: a listed socket whose cookie is not the one on those
/// ports now is "already closed" and the one there is left open.
#[cfg(target_os = "linux")]
#[test]
fn a_connection_is_closed_in_a_namespace_only_the_handle_keeps() {
    use std::io::Read;
    let Some((f, ino, mut c, mut a)) = lone_namespace() else {
        return;
    };
    let n = netns(ino, Some(f));
    let mut s = listed(&c, ino);
    let real = s.cookie;
    assert_ne!(real, 0);
    // a newer socket on the same ports than the one listed: left alone
    s.cookie = real ^ 1;
    let e = close_socket(&s, Some(&n)).unwrap_err();
    assert!(matches!(e, ActionError::AlreadyClosed), "{e}");
    assert!(still_open(&mut c, &mut a));
    s.cookie = real;
    close_socket(&s, Some(&n)).unwrap();
    // the peer got a RST
    let e = a.read(&mut [0u8; 1]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
    let e = close_socket(&s, Some(&n)).unwrap_err();
    assert!(matches!(e, ActionError::AlreadyClosed), "{e}");
}

/// Capability sets of one thread (capget(2)/capset(2), linux/capability.h).
#[cfg(target_os = "linux")]
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}
#[cfg(target_os = "linux")]
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Takes CAP_SYS_ADMIN (21) out of the calling thread's effective set.
#[cfg(target_os = "linux")]
fn drop_sys_admin() -> io::Result<()> {
    let mut h = CapHeader {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let mut d = [CapData::default(); 2];
    // SAFETY: a version-3 header and the two data structs it wants.
    if unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    d[0].effective &= !(1 << 21);
    // SAFETY: as above; only the calling thread's sets change.
    if unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Without CAP_SYS_ADMIN the namespace cannot be entered (setns(2): EPERM):
/// EnterNotPermitted, naming it, and the connection stays open. (The thread
/// that enters is made by the caller's thread and has its capabilities.)
#[cfg(target_os = "linux")]
#[test]
fn entering_without_cap_sys_admin_is_not_permitted() {
    let Some((f, ino, mut c, mut a)) = lone_namespace() else {
        return;
    };
    let n = netns(ino, Some(f));
    let s = listed(&c, ino);
    let r = std::thread::scope(|sc| {
        sc.spawn(|| {
            drop_sys_admin()?;
            Ok::<_, io::Error>(close_socket(&s, Some(&n)))
        })
        .join()
        .unwrap()
    })
    .unwrap();
    let e = r.unwrap_err();
    assert!(
        matches!(&e, ActionError::EnterNotPermitted(name) if name == "web"),
        "{e}"
    );
    assert!(e.to_string().contains("needs CAP_SYS_ADMIN"), "{e}");
    assert!(still_open(&mut c, &mut a));
}

/// A thread that cannot be made (EAGAIN: here RLIMIT_NPROC 0 for an
/// unprivileged uid, as a pids cgroup's limit would) is an error, not a
/// panic. In a child process, whose exit code says: 0 the error, 1 another
/// answer, 2 a panic (or killed by its alarm when the panic's report hangs).
#[cfg(target_os = "linux")]
#[test]
fn no_thread_for_the_namespace_is_an_error_not_a_panic() {
    let Some((f, ino, c, _a)) = lone_namespace() else {
        return;
    };
    let n = netns(ino, Some(f));
    let s = listed(&c, ino);
    // SAFETY: the child only calls close_socket (no lock another thread of
    // the test process could hold: no output) and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "{}", io::Error::last_os_error());
    if pid == 0 {
        // A panic's report in a forked child can wait forever on a lock
        // another thread held at the fork: SIGALRM ends it then (a signal,
        // not an exit code: the assertion below fails, it does not hang).
        // SAFETY: alarm(2) on this process.
        unsafe { libc::alarm(30) };
        let lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain calls on this (child) process; 65534 is nobody.
        let ok = unsafe {
            libc::setrlimit(libc::RLIMIT_NPROC, &lim) == 0
                && libc::setresgid(65534, 65534, 65534) == 0
                && libc::setresuid(65534, 65534, 65534) == 0
        };
        let code = if !ok {
            3
        } else {
            match std::panic::catch_unwind(|| close_socket(&s, Some(&n))) {
                Ok(Err(ActionError::Close(e))) if e.raw_os_error() == Some(libc::EAGAIN) => 0,
                Ok(_) => 1,
                Err(_) => 2,
            }
        };
        // SAFETY: ends the child without running the test harness's exit.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child made above.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "{status}");
    match libc::WEXITSTATUS(status) {
        3 => eprintln!("SKIP: cannot drop to nobody with RLIMIT_NPROC 0"),
        code => assert_eq!(code, 0, "1: another answer, 2: a panic"),
    }
}
