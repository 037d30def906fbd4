//! The one test kit of the crate's unit tests: concise builders for hand-made
//! sockets and snapshots (this file), and the dashboard's fixed tables
//! (`dashboard`). Test-only (`#[cfg(test)]`); the integration tests under
//! `tests/` drive the real binary and real sockets and share `tests/common`.

pub mod dashboard;

use crate::model::{Endpoint, Family, PortRange, Process, Proto, Snapshot, SockState, Socket};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// `"10.0.0.2:40000"` or `"[::1]:40000"`.
pub fn ep(s: &str) -> Endpoint {
    let sa: SocketAddr = s.parse().unwrap_or_else(|_| panic!("bad endpoint {s}"));
    Endpoint::new(sa.ip(), sa.port())
}

fn family(e: &Endpoint) -> Family {
    if e.addr.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    }
}

/// A socket with a remote end, inode 1 unless changed with [`SockExt::inode`].
pub fn conn(proto: Proto, local: &str, remote: &str, state: SockState) -> Socket {
    let local = ep(local);
    Socket {
        proto,
        family: family(&local),
        local,
        remote: Some(ep(remote)),
        state,
        uid: None,
        user: None,
        inode: Some(1),
        pids: Default::default(),
        time_wait_left_ms: None,
        conn: None,
        netns: 0,
        cookie: 0,
    }
}

/// A TCP connection; TIME-WAIT sockets get no inode, like the kernel reports them.
pub fn tcp(local: &str, remote: &str, state: SockState) -> Socket {
    let s = conn(Proto::Tcp, local, remote, state);
    if state == SockState::TimeWait {
        s.inode(0)
    } else {
        s
    }
}

/// A TCP listener or, for UDP, an unconnected bound socket.
pub fn listener(proto: Proto, local: &str) -> Socket {
    let local = ep(local);
    Socket {
        proto,
        family: family(&local),
        local,
        remote: None,
        state: match proto {
            Proto::Tcp => SockState::Listen,
            Proto::Udp => SockState::Unconn,
        },
        uid: None,
        user: None,
        inode: Some(1),
        pids: Default::default(),
        time_wait_left_ms: None,
        conn: None,
        netns: 0,
        cookie: 0,
    }
}

pub trait SockExt {
    fn state(self, state: SockState) -> Self;
    fn pids(self, pids: &[u32]) -> Self;
    fn inode(self, inode: u64) -> Self;
    fn uid(self, uid: u32) -> Self;
}

impl SockExt for Socket {
    fn state(mut self, state: SockState) -> Self {
        self.state = state;
        self
    }
    fn pids(mut self, pids: &[u32]) -> Self {
        self.pids = pids.iter().copied().collect();
        self
    }
    fn inode(mut self, inode: u64) -> Self {
        self.inode = if inode == 0 { None } else { Some(inode) };
        self
    }
    fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }
}

/// A 100-port range 40000-40099 with nothing reserved.
pub fn range100() -> PortRange {
    PortRange::new(40000, 40099, Vec::new(), "test")
}

pub fn snap(taken_at_ms: u64, range: PortRange, sockets: Vec<Socket>) -> Snapshot {
    Snapshot {
        taken_at_ms,
        host: "test".into(),
        range,
        partial: false,
        counters: None,
        sockets,
        processes: BTreeMap::new(),
        netns: Vec::new(),
    }
}

/// Registers processes by (pid, name).
pub fn with_procs(mut s: Snapshot, procs: &[(u32, &str)]) -> Snapshot {
    for &(pid, name) in procs {
        let p = Process {
            pid,
            name: name.into(),
            uid: None,
            user: None,
            cmdline: String::new(),
            container: None,
            unit: None,
        };
        s.processes.insert(pid, Arc::new(p));
    }
    s
}

/// `n` TCP sockets from `local_ip` toward `remote`, local ports from `first_port` up.
pub fn many(local_ip: &str, remote: &str, first_port: u16, n: u16, st: SockState) -> Vec<Socket> {
    (0..n)
        .map(|i| {
            let local = format!("{local_ip}:{}", first_port + i);
            tcp(&local, remote, st).inode(if st == SockState::TimeWait {
                0
            } else {
                u64::from(first_port + i) + 1_000_000
            })
        })
        .collect()
}
