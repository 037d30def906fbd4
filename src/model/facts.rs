//! Facts about sockets that every room shares, each defined once: what a
//! listener is, which sockets hold a port of the ephemeral pool ("ports in
//! use"), and which destination — its own pool on Linux — an outbound socket
//! took its port from. `analysis`, `output`, `filter` and `tui` ask these; none
//! of them spells the rules again (they disagreed when each did, issue 13).

use super::{Endpoint, PortRange, Proto, Snapshot, SockState, Socket};
use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

impl SockState {
    /// The states listeners are in: TCP LISTEN, and UDP UNCONN (the kernel's
    /// TCP_CLOSE, a UDP socket not connected). What `ss -l` asks the kernel for:
    /// iproute2's `misc/ss.c` maps `-l` to the state filter
    /// `(1 << SS_LISTEN) | (1 << SS_CLOSE)`. For asking the kernel (and the
    /// `listening` filter word); [`Socket::is_listener`] decides per socket.
    pub const LISTENING: [SockState; 2] = [SockState::Listen, SockState::Unconn];
}

impl Socket {
    /// The remote end, if the socket has one: `0.0.0.0:0` / `[::]:0`, how some
    /// sources and recordings spell "no peer", is none.
    pub fn peer(&self) -> Option<Endpoint> {
        self.remote
            .filter(|r| !(r.port == 0 && r.addr.is_unspecified()))
    }

    /// A socket that waits for peers, as `ss -l` lists them: a TCP socket in
    /// LISTEN, or a UDP socket bound to a port and not connected (no peer). A
    /// connected UDP socket (the kernel's TCP_ESTABLISHED, ss `ESTAB`) is not a
    /// listener: its datagrams come from one peer. A TCP socket bound and
    /// neither listening nor connected (`BOUND`, ss -B) is not one either, but
    /// it holds its port: see [`Socket::owns_port`].
    pub fn is_listener(&self) -> bool {
        match self.proto {
            Proto::Tcp => self.state == SockState::Listen,
            Proto::Udp => self.peer().is_none(),
        }
    }

    /// Holds its local port from every destination: a listener or a bound-only
    /// TCP socket. A service's bind() to the port fails while it lives, and
    /// connect() cannot take the port toward any peer.
    pub fn owns_port(&self) -> bool {
        self.is_listener() || (self.proto == Proto::Tcp && self.state == SockState::Bound)
    }

    /// Which socket this is on a live table, for its whole life: its
    /// namespace and the kernel's cookie, which a connection keeps into
    /// TIME-WAIT (net/ipv4/inet_timewait_sock.c inet_twsk_alloc copies it).
    /// The namespace goes with it: kernels before 5.11 number cookies per
    /// namespace (net/core/sock_diag.c, its cookie_gen), so two namespaces
    /// may each have cookie 7. None where the source gave none (recordings,
    /// other OSes): then inode and 4-tuple are all there is.
    pub fn cookie_id(&self) -> Option<(u64, u64)> {
        (self.cookie != 0).then_some((self.netns, self.cookie))
    }
}

/// `count / pool`: the one share of a pool every view shows (0 for an empty
/// pool, never NaN: JSON has no NaN).
pub fn share(count: u32, pool: u32) -> f64 {
    if pool == 0 {
        0.0
    } else {
        f64::from(count) / f64::from(pool)
    }
}

/// One destination of outbound connections: its own pool on Linux, where
/// connect() picks a local port per (proto, local addr, remote addr, remote
/// port) (`__inet_hash_connect`, net/ipv4/inet_hashtables.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DestKey {
    pub proto: Proto,
    pub local_addr: IpAddr,
    pub remote: Endpoint,
}

impl DestKey {
    /// The destination of `s` if it could have one: it has a peer and is not a
    /// listener. Whether its port came from the pool is [`PoolView::dest`]'s.
    pub fn of(s: &Socket) -> Option<DestKey> {
        let remote = s.peer()?;
        (!s.is_listener()).then_some(DestKey {
            proto: s.proto,
            local_addr: s.local.addr,
            remote,
        })
    }

    /// Whether connect() may reuse a TIME-WAIT port toward this destination under
    /// `tcp_tw_reuse` (1: always, 2: when either end is loopback; the kernel's
    /// `tcp_twsk_unique`, net/ipv4/tcp_ipv4.c, with TCP timestamps on, the default).
    pub fn tw_reusable(&self, tw_reuse: Option<u8>) -> bool {
        self.proto == Proto::Tcp
            && match tw_reuse {
                Some(1) => true,
                Some(2) => self.local_addr.is_loopback() || self.remote.addr.is_loopback(),
                _ => false,
            }
    }
}

impl fmt::Display for DestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} -> {}", self.proto, self.local_addr, self.remote)
    }
}

/// A set of u16 ports as a bitmap: O(1), no hashing, deterministic.
pub struct PortSet {
    bits: Vec<u64>,
    len: u32,
}

impl Default for PortSet {
    fn default() -> Self {
        PortSet::new()
    }
}

impl PortSet {
    pub fn new() -> Self {
        PortSet {
            bits: vec![0; 1024],
            len: 0,
        }
    }

    pub fn contains(&self, port: u16) -> bool {
        let (w, b) = (usize::from(port) / 64, port % 64);
        self.bits[w] & (1 << b) != 0
    }

    pub fn insert(&mut self, port: u16) {
        let (w, b) = (usize::from(port) / 64, port % 64);
        if self.bits[w] & (1 << b) == 0 {
            self.bits[w] |= 1 << b;
            self.len += 1;
        }
    }

    /// Distinct ports in the set.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The facts of one table that decide which sockets are ephemeral allocations:
/// the range, and the TCP ports listeners hold (a connection on a listener's
/// port was accepted, not connected: its TIME-WAIT after the server closes
/// first is no allocation from the pool, whatever its port).
pub struct PoolView<'a> {
    pub range: &'a PortRange,
    listening: PortSet,
}

impl<'a> PoolView<'a> {
    pub fn new(snap: &'a Snapshot) -> Self {
        PoolView::of(&snap.range, &snap.sockets)
    }

    /// The view of `sockets` under `range` (another range than the one they
    /// were taken with: `range --range`; sockets moved out of their snapshot:
    /// the dashboard's rows).
    pub fn of<'s>(range: &'a PortRange, sockets: impl IntoIterator<Item = &'s Socket>) -> Self {
        let mut listening = PortSet::new();
        for s in sockets {
            if s.proto == Proto::Tcp && s.is_listener() {
                listening.insert(s.local.port);
            }
        }
        PoolView { range, listening }
    }

    /// A connection on a TCP listener's port (the server side of an accepted
    /// connection).
    pub fn is_server_side(&self, s: &Socket) -> bool {
        s.proto == Proto::Tcp && !s.is_listener() && self.listening.contains(s.local.port)
    }

    /// Holds a port of the ephemeral pool: its local port is in the pool, and it
    /// is not the server side of an accepted connection. "Ports in use" are the
    /// distinct local ports of these sockets, per protocol.
    pub fn takes_from_pool(&self, s: &Socket) -> bool {
        self.range.is_ephemeral(s.local.port) && !self.is_server_side(s)
    }

    /// Distinct ports of the pool in use by `proto` (IPv4 and IPv6 together:
    /// Linux keeps one bind table per protocol for both families).
    pub fn ports_in_use<'s>(
        &self,
        sockets: impl IntoIterator<Item = &'s Socket>,
        proto: Proto,
    ) -> u32 {
        let mut set = PortSet::new();
        for s in sockets {
            if s.proto == proto && self.takes_from_pool(s) {
                set.insert(s.local.port);
            }
        }
        set.len()
    }

    /// The destination of a socket that has a peer and an ephemeral local port
    /// it was given by connect(); None for listeners, the server side of
    /// accepted connections and ports outside the pool.
    pub fn dest(&self, s: &Socket) -> Option<DestKey> {
        DestKey::of(s).filter(|_| self.takes_from_pool(s))
    }
}

#[cfg(test)]
#[path = "facts_tests.rs"]
mod tests;
