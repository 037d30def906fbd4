//! Closing a TCP socket from outside its process (TCPView's "Close Connection",
//! `ss -K`): a `SOCK_DESTROY` request over `NETLINK_SOCK_DIAG` naming the
//! socket by its addresses, ports and cookie. The kernel aborts it
//! (net/ipv4/tcp.c, tcp_abort: the owner's next call fails with ECONNABORTED
//! and the peer gets a RST, ECONNRESET). Needs CAP_NET_ADMIN over the socket's
//! network namespace (net/core/sock_diag.c, sock_diag_destroy: EPERM) and a
//! kernel built with CONFIG_INET_DIAG_DESTROY (else the TCP handler has no
//! `destroy`: EOPNOTSUPP, net/ipv4/inet_diag.c).
//!
//! A netlink socket reaches only the sockets of the namespace it was created
//! in (inet_diag_find_one_icsk looks the socket up in `sock_net(in_skb->sk)`),
//! so a socket of another namespace is closed from a short-lived thread that
//! `setns(CLONE_NEWNET)`s into it (setns(2): a thread may join another network
//! namespace; CAP_SYS_ADMIN) and opens its netlink socket there. The way in is
//! the file the source found the namespace by (`Netns::path`), checked first
//! to still be that namespace (nsfs, the same inode): `/proc/PID/ns/net` of an
//! exited pid, or `/run/netns/NAME` deleted and made again, is another
//! namespace, and asked by address there the request could hit a different
//! socket on the same ports.

use super::ActionError;
use crate::model::{Family, Netns, Proto, SockState, Socket};
use std::io;

/// `SOCK_DESTROY` (include/uapi/linux/sock_diag.h).
const SOCK_DESTROY: u16 = 21;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;

/// What can be closed: a TCP socket with a process side (not TIME-WAIT, which
/// no one holds; not a request socket).
pub fn closable(s: &Socket) -> bool {
    s.proto == Proto::Tcp && !matches!(s.state, SockState::TimeWait | SockState::SynRecv)
}

/// Closes `s`, a socket of the namespace `ns`: the snapshot's entry for its
/// `Socket::netns` ([`crate::model::Snapshot::netns_info`]); None where the
/// snapshot lists no namespaces (then `s` must be of porttop's own). Its cookie
/// (when the dump gave one) makes sure it is that very socket, not a newer one
/// on the same ports.
pub fn close_socket(s: &Socket, ns: Option<&Netns>) -> Result<(), ActionError> {
    if !closable(s) {
        return Err(ActionError::NotClosable(s.state.to_string()));
    }
    #[cfg(target_os = "linux")]
    return match ns.filter(|n| !is_current(n.inode)) {
        // tagged with a namespace the snapshot does not list: never guess
        None if s.netns != 0 && ns.is_none() => Err(ActionError::NamespaceUnknown),
        None => destroy(s).map_err(destroy_error),
        Some(n) => destroy_in(s, n),
    };
    #[cfg(not(target_os = "linux"))]
    {
        let _ = ns;
        Err(ActionError::Close(io::Error::from(
            io::ErrorKind::Unsupported,
        )))
    }
}

#[cfg(target_os = "linux")]
fn destroy_error(e: io::Error) -> ActionError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => ActionError::CloseNotPermitted,
        Some(libc::EOPNOTSUPP) => ActionError::CloseUnsupported,
        Some(libc::ENOENT) => ActionError::AlreadyClosed,
        _ => ActionError::Close(e),
    }
}

/// Whether the calling thread is in the namespace of inode `ino`.
#[cfg(target_os = "linux")]
fn is_current(ino: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/thread-self/ns/net")
        .or_else(|_| std::fs::metadata("/proc/self/ns/net"))
        .is_ok_and(|m| m.ino() == ino)
}

/// nsfs's magic (include/uapi/linux/magic.h, NSFS_MAGIC).
#[cfg(target_os = "linux")]
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// The namespace `n`, opened by its path and checked to be it still.
#[cfg(target_os = "linux")]
fn open_ns(n: &Netns) -> Result<std::fs::File, ActionError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let path = n.path.as_ref().ok_or(ActionError::NamespaceUnknown)?;
    let gone = || ActionError::NamespaceGone(n.name.clone());
    let f = std::fs::File::open(path).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => ActionError::EnterNotPermitted(n.name.clone()),
        _ => gone(),
    })?;
    // SAFETY: an all-zero statfs is a valid out-buffer; the fd is open.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a buffer of the struct's size.
    let statfs = unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) };
    // (f_type is an i64 here, an i32 on some 32-bit targets)
    #[allow(clippy::unnecessary_cast)]
    let fs_ok = statfs == 0 && st.f_type as i64 == NSFS_MAGIC;
    let same = f.metadata().is_ok_and(|m| m.ino() == n.inode);
    if fs_ok && same {
        Ok(f)
    } else {
        Err(gone())
    }
}

/// SOCK_DESTROY from inside namespace `n`: a thread of its own enters it
/// (the process's other threads stay where they are) and ends with the request.
#[cfg(target_os = "linux")]
fn destroy_in(s: &Socket, n: &Netns) -> Result<(), ActionError> {
    use std::os::fd::AsRawFd;
    let f = open_ns(n)?;
    let fd = f.as_raw_fd();
    std::thread::scope(|sc| {
        sc.spawn(|| {
            // SAFETY: setns changes only this thread's namespace; `fd` is an
            // open namespace file that outlives the thread (scoped).
            if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                let e = io::Error::last_os_error();
                return Err(match e.raw_os_error() {
                    Some(libc::EPERM) => ActionError::EnterNotPermitted(n.name.clone()),
                    _ => ActionError::Close(e),
                });
            }
            destroy(s).map_err(destroy_error)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(ActionError::Close(io::Error::other(
                "closing thread failed",
            )))
        })
    })
}

/// The request: nlmsghdr (16 bytes) + inet_diag_req_v2 (56: family, protocol,
/// ext, pad, states u32, inet_diag_sockid of 48: sport, dport big-endian,
/// src[4] and dst[4] u32 words, if, cookie[2]); include/uapi/linux/inet_diag.h.
fn request(s: &Socket, seq: u32) -> [u8; 72] {
    let mut b = [0u8; 72];
    b[0..4].copy_from_slice(&72u32.to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DESTROY.to_ne_bytes());
    b[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    b[16] = match s.family {
        Family::Ipv4 => libc::AF_INET as u8,
        Family::Ipv6 => libc::AF_INET6 as u8,
    };
    b[17] = libc::IPPROTO_TCP as u8;
    b[20..24].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
    let id = 24;
    b[id..id + 2].copy_from_slice(&s.local.port.to_be_bytes());
    let rport = s.remote.map_or(0, |r| r.port);
    b[id + 2..id + 4].copy_from_slice(&rport.to_be_bytes());
    let put = |b: &mut [u8], at: usize, a: Option<std::net::IpAddr>| {
        let bytes: [u8; 16] = match (a, s.family) {
            (Some(std::net::IpAddr::V4(v4)), Family::Ipv4) => {
                let mut x = [0u8; 16];
                x[..4].copy_from_slice(&v4.octets());
                x
            }
            // an IPv6 socket's IPv4 peer is shown unmapped; the kernel keeps it mapped
            (Some(std::net::IpAddr::V4(v4)), Family::Ipv6) => v4.to_ipv6_mapped().octets(),
            (Some(std::net::IpAddr::V6(v6)), _) => v6.octets(),
            (None, _) => [0u8; 16],
        };
        b[at..at + 16].copy_from_slice(&bytes);
    };
    put(&mut b, id + 4, Some(s.local.addr));
    put(&mut b, id + 20, s.remote.map(|r| r.addr));
    // idiag_if 0; the cookie, or INET_DIAG_NOCOOKIE (all ones): match by address
    let cookie = s.conn.as_ref().map_or(u64::MAX, |c| c.cookie);
    b[id + 40..id + 48].copy_from_slice(&cookie.to_ne_bytes());
    b
}

#[cfg(target_os = "linux")]
fn destroy(s: &Socket) -> io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let req = request(s, 1);
    // SAFETY: a valid buffer of its length; the kernel is the destination of
    // an unbound, unconnected netlink socket's send.
    let n = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = [0u8; 1024];
    loop {
        // SAFETY: a valid buffer of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        if n < 20 {
            return Err(io::Error::other("short netlink answer"));
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        if kind != NLMSG_ERROR {
            continue;
        }
        // nlmsgerr: int error (negative errno, 0 for the ack)
        let code = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
        return match code {
            0 => Ok(()),
            c => Err(io::Error::from_raw_os_error(-c)),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint;

    #[test]
    fn the_request_names_the_socket_as_the_kernel_reads_it() {
        let s = Socket {
            proto: Proto::Tcp,
            family: Family::Ipv6,
            local: Endpoint::new("::1".parse().unwrap(), 0x1234),
            remote: Some(Endpoint::new("10.0.0.1".parse().unwrap(), 80)),
            state: SockState::Established,
            uid: None,
            user: None,
            inode: None,
            pids: Default::default(),
            time_wait_left_ms: None,
            conn: None,
            netns: 0,
        };
        let b = request(&s, 7);
        assert_eq!(&b[24..26], &[0x12, 0x34]);
        assert_eq!(&b[26..28], &[0, 80]);
        assert_eq!(b[28 + 15], 1); // ::1
        assert_eq!(&b[44 + 10..44 + 16], &[0xff, 0xff, 10, 0, 0, 1]); // mapped
        assert_eq!(&b[64..72], &[0xff; 8]); // no cookie: by address
        assert!(!closable(&Socket {
            state: SockState::TimeWait,
            ..s.clone()
        }));
    }

    /// A socket of another namespace is closed only through a file that still
    /// is that namespace: without one, or with one that is not (not nsfs, or
    /// another namespace's inode), nothing is sent.
    #[cfg(target_os = "linux")]
    #[test]
    fn another_namespace_is_entered_only_through_its_own_file() {
        use std::os::unix::fs::MetadataExt;
        let s = Socket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            local: Endpoint::new("127.0.0.1".parse().unwrap(), 1),
            remote: Some(Endpoint::new("127.0.0.1".parse().unwrap(), 2)),
            state: SockState::Established,
            uid: None,
            user: None,
            inode: None,
            pids: Default::default(),
            time_wait_left_ms: None,
            conn: None,
            netns: 9,
        };
        // tagged with a namespace the snapshot does not list
        assert!(matches!(
            close_socket(&s, None),
            Err(ActionError::NamespaceUnknown)
        ));
        let own = std::fs::metadata("/proc/self/ns/net").unwrap().ino();
        let ns = |path: Option<&str>, inode: u64| Netns {
            inode,
            name: "web".into(),
            own: false,
            container: None,
            range: crate::model::PortRange::new(1, 2, Vec::new(), "test"),
            counters: None,
            path: path.map(Into::into),
        };
        assert!(matches!(
            close_socket(&s, Some(&ns(None, own + 1))),
            Err(ActionError::NamespaceUnknown)
        ));
        // a plain file where the namespace was
        let e = close_socket(&s, Some(&ns(Some("/dev/null"), own + 1))).unwrap_err();
        assert!(
            matches!(&e, ActionError::NamespaceGone(n) if n == "web"),
            "{e}"
        );
        // a namespace file, but of another namespace (ours) than the socket's
        let e = close_socket(&s, Some(&ns(Some("/proc/self/ns/net"), own + 1))).unwrap_err();
        assert!(matches!(e, ActionError::NamespaceGone(_)), "{e}");
        let e = close_socket(&s, Some(&ns(Some("/nonexistent/ns"), own + 1))).unwrap_err();
        assert!(matches!(e, ActionError::NamespaceGone(_)), "{e}");
    }
}
