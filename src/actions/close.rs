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
//! the namespace file the source opened when it found the namespace and the
//! snapshot still holds (`Netns::handle`), never a path opened again: the pid
//! of `/proc/PID/ns/net` may have exited while the namespace lives on, and a
//! freed namespace's nsfs inode is given to the next one made, so a file found
//! again by its path and "the same inode" prove nothing once nothing held the
//! namespace; asked by address in another namespace, the request could hit a
//! different socket on the same ports.

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
/// (`Socket::cookie`, which every live dump gives) makes sure it is that very
/// socket, not a newer one on the same ports: a newer one is left open and
/// the answer is [`ActionError::AlreadyClosed`].
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
        // ESTALE: the addresses are there but not the cookie: the socket
        // listed is gone and a newer one took its ports (net/core/sock_diag.c,
        // sock_diag_check_cookie); that one is left alone.
        Some(libc::ENOENT) | Some(libc::ESTALE) => ActionError::AlreadyClosed,
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

/// The open file of namespace `n` the snapshot holds (`Netns::handle`),
/// checked to be that namespace (nsfs, its inode). Held since the source
/// found it, it is that namespace still: an nsfs inode is reused only once its
/// namespace is freed, and the handle keeps it alive.
#[cfg(target_os = "linux")]
fn ns_file(n: &Netns) -> Result<&std::fs::File, ActionError> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let f = n
        .handle
        .as_ref()
        .ok_or(ActionError::NamespaceUnknown)?
        .file();
    // SAFETY: an all-zero statfs is a valid out-buffer; the fd is open.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a buffer of the struct's size.
    let statfs = unsafe { libc::fstatfs(f.as_raw_fd(), &mut st) };
    // (f_type is an i64 here, an i32 on some 32-bit targets)
    #[allow(clippy::unnecessary_cast)]
    let fs_ok = statfs == 0 && st.f_type as i64 == NSFS_MAGIC;
    if fs_ok && f.metadata().is_ok_and(|m| m.ino() == n.inode) {
        Ok(f)
    } else {
        Err(ActionError::NamespaceUnknown)
    }
}

/// SOCK_DESTROY from inside namespace `n`: a thread of its own enters it
/// (the process's other threads stay where they are) and ends with the
/// request. A thread that cannot be made (EAGAIN: RLIMIT_NPROC, a pids
/// cgroup's limit) is an error to report, not a panic.
#[cfg(target_os = "linux")]
fn destroy_in(s: &Socket, n: &Netns) -> Result<(), ActionError> {
    use std::os::fd::AsRawFd;
    let fd = ns_file(n)?.as_raw_fd();
    std::thread::scope(|sc| {
        std::thread::Builder::new()
            .name("porttop-close".into())
            .spawn_scoped(sc, || {
                // SAFETY: setns changes only this thread's namespace; `fd` is
                // the snapshot's open namespace file, which outlives the
                // thread (scoped, and `n` is borrowed for the call).
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
                    let e = io::Error::last_os_error();
                    return Err(match e.raw_os_error() {
                        Some(libc::EPERM) => ActionError::EnterNotPermitted(n.name.clone()),
                        _ => ActionError::Close(e),
                    });
                }
                destroy(s).map_err(destroy_error)
            })
            .map_err(ActionError::Close)?
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
    // idiag_if 0; the cookie (from every dump's header), or where unknown
    // INET_DIAG_NOCOOKIE (all ones): match by address
    let cookie = Some(s.cookie)
        .filter(|c| *c != 0)
        .or_else(|| s.conn.as_ref().map(|c| c.cookie).filter(|c| *c != 0))
        .unwrap_or(u64::MAX);
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
#[path = "close_tests.rs"]
mod tests;
