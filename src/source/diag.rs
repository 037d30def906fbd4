//! Linux socket dump over `NETLINK_SOCK_DIAG` (what `ss` reads), with the message
//! types of `netlink-packet-sock-diag` — the crates netstat2 itself is built on.
//!
//! Why not netstat2's own iterator: it receives into an 8 KiB buffer, so the kernel
//! fills ~4 KiB chunks and the dump takes one `recvmsg` and one resume of the hash
//! walk per ~30 sockets; it parses every attribute of every message into a list we
//! never read; it drops the peer of UDP sockets; and it walks the kernel's TCP
//! table once per address family. Here one netlink socket lives as long as the
//! source, receives into 64 KiB (the kernel then fills 32 KiB chunks), only the
//! fixed 72-byte `inet_diag_msg` header is decoded, and TCP of both families comes
//! from one walk (`dump_tcp`). `porttop bench-refresh` times both dumps; the
//! figures are in README.md ("Performance", "Measured for design decisions").

use super::attrib::InodeSet;
use crate::model::{Detail, Endpoint, Family, Proto, SockState, Socket};
use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseBuffer, InetResponseHeader, SocketId, StateFlags,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_utils::Parseable;
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket as NlSocket, SocketAddr};
use rustc_hash::FxHashMap;
use std::io;

/// Receive buffer: the kernel sizes its dump chunks after the largest buffer a
/// reader offered, capped at 32 KiB; anything above that is headroom.
const RECV_BUF: usize = 64 * 1024;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// `SOCK_DIAG_BY_FAMILY`: the answer type of an `inet_diag_req_v2` dump.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// The pre-v2 TCP dump request and answer type.
const TCPDIAG_GETSOCK: u16 = 18;

/// A netlink socket for sock_diag dumps, kept across refreshes.
pub struct Diag {
    sock: NlSocket,
    buf: Vec<u8>,
    seq: u32,
    /// The kernel takes the old one-walk TCP request (`dump_tcp`); cleared
    /// when it refuses it.
    compat_tcp: bool,
    /// What dumps ask for beyond the header (tcp_info, socket memory).
    pub detail: Detail,
}

/// One socket as the kernel reports it: the decoded `inet_diag_msg` header, and
/// its `idiag_expires` (ms left of the socket's timer), which the crate's header
/// drops for TIME-WAIT sockets (`Timer::TimeWait` carries no time), the raw
/// `idiag_timer`/`idiag_retrans`, and the attributes after the header
/// (decoded on demand by `diag_info`).
pub struct Record<'a> {
    pub header: InetResponseHeader,
    pub expires_ms: u32,
    pub timer: u8,
    pub retrans: u8,
    pub attrs: &'a [u8],
}

impl std::ops::Deref for Record<'_> {
    type Target = InetResponseHeader;
    fn deref(&self) -> &InetResponseHeader {
        &self.header
    }
}

impl Diag {
    pub fn new() -> io::Result<Self> {
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Diag {
            sock,
            buf: vec![0; RECV_BUF],
            seq: 0,
            compat_tcp: true,
            detail: Detail::Bare,
        })
    }

    /// Dumps every socket of `proto` (TCP or UDP) and `family` in the kernel
    /// states `states` (a bit per `TCP_*` state number; `StateFlags::all()` for
    /// all), calling `f` per socket. A family or protocol the kernel has no
    /// diag handler for (IPv6 disabled, udp_diag not available) dumps nothing.
    pub fn dump(
        &mut self,
        proto: Proto,
        family: Family,
        states: StateFlags,
        mut f: impl FnMut(&Record),
    ) -> io::Result<()> {
        let id = match family {
            Family::Ipv4 => SocketId::new_v4(),
            Family::Ipv6 => SocketId::new_v6(),
        };
        self.request(proto, family, states, id, true)?;
        match self.receive(SOCK_DIAG_BY_FAMILY, false, &mut f) {
            // No handler for this family or protocol here (IPv6 off, no udp_diag).
            Err(e) if missing(&e) => Ok(()),
            r => r,
        }
    }

    /// The inode of the socket the kernel has now at `s`'s addresses and ports
    /// (one netlink round trip, no dump; `ifindex`: the device it is bound to, 0
    /// for none): None when it has none. A socket closed since the dump has none
    /// or inode 0 (TIME-WAIT, orphaned); sockets sharing a port (SO_REUSEPORT)
    /// may answer with a sibling's inode.
    pub fn inode_now(&mut self, s: &Socket, ifindex: u32) -> io::Result<Option<u64>> {
        let id = exact_id(s, ifindex);
        self.request(s.proto, s.family, StateFlags::all(), id, false)?;
        let mut inode = None;
        match self.receive(SOCK_DIAG_BY_FAMILY, true, &mut |r: &Record| {
            inode = Some(u64::from(r.inode))
        }) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(inode),
        }
    }

    /// `s`'s queues, timer, tcp_info and socket memory now (one exact request
    /// asking what a `Detail::Info` dump asks, no dump; `ifindex` as for
    /// `inode_now`): None when the kernel has no socket there any more, or
    /// another one (a different inode).
    pub fn info_now(
        &mut self,
        s: &Socket,
        ifindex: u32,
    ) -> io::Result<Option<Box<crate::model::ConnInfo>>> {
        let id = exact_id(s, ifindex);
        let ext = super::diag_info::ext_bits(Detail::Info);
        self.request_ext(s.proto, s.family, StateFlags::all(), id, false, ext)?;
        let mut info = None;
        let want = s.inode.unwrap_or(0);
        match self.receive(SOCK_DIAG_BY_FAMILY, true, &mut |r: &Record| {
            let st = to_socket(s.proto, r).state;
            if u64::from(r.inode) == want {
                info = super::diag_info::conn_info(s.proto, st, r, Detail::Info);
            }
        }) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
            Ok(()) => Ok(info),
        }
    }

    /// Those of `unknown` (inodes of `sockets`) the kernel still has: open
    /// unless it has no socket at their addresses or one with inode 0
    /// (TIME-WAIT); a sibling's inode (SO_REUSEPORT) counts as open, and so does
    /// a failed lookup. `bound`: device index by inode, for sockets bound to one.
    pub fn still_open(
        &mut self,
        sockets: &[Socket],
        unknown: &InodeSet,
        bound: &FxHashMap<u64, u32>,
    ) -> InodeSet {
        let mut open = InodeSet::default();
        for s in sockets {
            let Some(i) = s.inode.filter(|i| unknown.contains(i)) else {
                continue;
            };
            let ifindex = bound.get(&i).copied().unwrap_or(0);
            if !matches!(self.inode_now(s, ifindex), Ok(None | Some(0))) {
                open.insert(i);
            }
        }
        open
    }

    fn request(
        &mut self,
        proto: Proto,
        family: Family,
        states: StateFlags,
        socket_id: SocketId,
        dump: bool,
    ) -> io::Result<()> {
        // (only dumps ask for more than the header)
        let ext = if dump {
            super::diag_info::ext_bits(self.detail)
        } else {
            0
        };
        self.request_ext(proto, family, states, socket_id, dump, ext)
    }

    fn request_ext(
        &mut self,
        proto: Proto,
        family: Family,
        states: StateFlags,
        socket_id: SocketId,
        dump: bool,
        ext: u8,
    ) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut hdr = NetlinkHeader::default();
        hdr.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        hdr.sequence_number = self.seq;
        let mut req = NetlinkMessage::new(
            hdr,
            SockDiagMessage::InetRequest(InetRequest {
                family: match family {
                    Family::Ipv4 => AF_INET,
                    Family::Ipv6 => AF_INET6,
                },
                protocol: match proto {
                    Proto::Tcp => IPPROTO_TCP,
                    Proto::Udp => IPPROTO_UDP,
                },
                extensions: ExtensionFlags::from_bits_truncate(ext),
                states,
                socket_id,
            })
            .into(),
        );
        req.finalize();
        let mut out = vec![0; req.buffer_len()];
        req.serialize(&mut out);
        self.sock.send(&out, 0)?;
        Ok(())
    }

    /// Every TCP socket, IPv4 and IPv6, in one walk of the kernel's tables: the
    /// older `inet_diag_req` request (`TCPDIAG_GETSOCK`), which the kernel serves
    /// with the family left open, where the v2 request needs one walk per family.
    pub fn dump_tcp(&mut self, states: StateFlags, mut f: impl FnMut(&Record)) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        // nlmsghdr (16 bytes) + inet_diag_req (60 bytes: family, src_len, dst_len,
        // ext, a 48-byte zeroed inet_diag_sockid, states, dbs); linux/inet_diag.h.
        let mut out = [0u8; 76];
        out[0..4].copy_from_slice(&76u32.to_ne_bytes());
        out[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        out[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        out[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        out[16] = AF_INET;
        out[19] = super::diag_info::ext_bits(self.detail);
        out[68..72].copy_from_slice(&states.bits().to_ne_bytes());
        self.sock.send(&out, 0)?;
        self.receive(TCPDIAG_GETSOCK, false, &mut f)
    }

    /// The sockets `scope` asks for — by default the whole table: TCP (both
    /// families in one walk) and UDP (IPv4, IPv6) — as `Socket`s without pids,
    /// each with the index of the device it is bound to (0: none).
    pub fn dump_all(&mut self, scope: &Scope, mut f: impl FnMut(Socket, u32)) -> io::Result<()> {
        let detail = self.detail;
        let mut emit = |p: Proto, r: &Record| {
            let mut s = to_socket(p, r);
            s.conn = super::diag_info::conn_info(p, s.state, r, detail);
            f(s, r.socket_id.interface_id)
        };
        let fams: Vec<Family> = [(Family::Ipv4, scope.v4), (Family::Ipv6, scope.v6)]
            .into_iter()
            .filter_map(|(f, on)| on.then_some(f))
            .collect();
        if scope.tcp != 0 {
            let states = state_flags(scope.tcp);
            let mut done = false;
            if scope.v4 && scope.v6 && self.compat_tcp {
                let mut got = 0usize;
                match self.dump_tcp(states, |r| {
                    got += 1;
                    emit(Proto::Tcp, r)
                }) {
                    Ok(()) => done = true,
                    // The kernel refused it before any record (a kernel without
                    // the old request): one walk per family, from now on. Any
                    // other failure may leave the dump running: the caller
                    // drops this socket.
                    Err(e) if got == 0 && refused(&e) => self.compat_tcp = false,
                    Err(e) => return Err(e),
                }
            }
            if !done {
                for fam in &fams {
                    self.dump(Proto::Tcp, *fam, states, |r| emit(Proto::Tcp, r))?;
                }
            }
        }
        if scope.udp != 0 {
            let states = state_flags(scope.udp & !BOUND_INACTIVE_BIT);
            for fam in &fams {
                self.dump(Proto::Udp, *fam, states, |r| emit(Proto::Udp, r))?;
            }
        }
        Ok(())
    }

    /// Reads answers to the last request up to its end (`single`: up to the
    /// first record, the whole answer to an exact lookup). An error answer is an
    /// `Err` with the kernel's errno. After any `Err` the socket may still have
    /// a dump running (the kernel refuses the next one): drop it.
    fn receive(
        &mut self,
        answer: u16,
        single: bool,
        f: &mut impl FnMut(&Record),
    ) -> io::Result<()> {
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut chunk = &self.buf[..n];
            while !chunk.is_empty() {
                let msg = NetlinkBuffer::new_checked(chunk).map_err(bad)?;
                let len = (msg.length() as usize).min(chunk.len());
                // Left over from an earlier, interrupted dump: not ours.
                if msg.sequence_number() != self.seq {
                    chunk = &chunk[align(len).min(chunk.len())..];
                    continue;
                }
                match msg.message_type() {
                    // Both carry an errno (negative; 0 for a plain end).
                    t @ (NLMSG_DONE | NLMSG_ERROR) => {
                        let code = msg
                            .payload()
                            .get(..4)
                            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                            .unwrap_or(0);
                        return match code {
                            0 if t == NLMSG_DONE || single => Ok(()),
                            0 => Err(io::Error::other("sock_diag: unexpected ack")),
                            c => Err(io::Error::from_raw_os_error(-c)),
                        };
                    }
                    t if t == answer => {
                        let b = InetResponseBuffer::new_checked(msg.payload()).map_err(bad)?;
                        f(&Record {
                            header: InetResponseHeader::parse(&b).map_err(bad)?,
                            expires_ms: b.expires(),
                            timer: b.timer(),
                            retrans: b.retransmits(),
                            attrs: b.payload(),
                        });
                        if single {
                            return Ok(());
                        }
                    }
                    _ => {}
                }
                chunk = &chunk[align(len).min(chunk.len())..];
            }
        }
    }
}

/// Which sockets a dump asks the kernel for: a mask of kernel state numbers per
/// protocol (0: none of that protocol) and the address families. A one-shot
/// `list` with a filter asks for no more than it shows: `list -l` on a host
/// with 40,000 connections then dumps only the listeners (the kernel skips its
/// table of connections entirely).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub tcp: u32,
    pub udp: u32,
    pub v4: bool,
    pub v6: bool,
}

impl Scope {
    /// Asks for bound-only TCP sockets and nothing else (`state:bound`).
    pub fn only_bound(&self) -> bool {
        self.tcp == BOUND_INACTIVE_BIT && self.udp == 0
    }
}

/// Every state (`TCP_ESTABLISHED` = 1 .. `TCP_CLOSING` = 11; the kernel adds
/// request sockets, `TCP_NEW_SYN_RECV`, whenever SYN-RECV is asked for), and
/// bound-only TCP sockets (`TCP_BOUND_INACTIVE` = 13, dumped since Linux 6.5 from
/// the bind table: bound, neither listening nor connected; `ss -B`). Older kernels
/// ignore the bit.
const ALL_STATES: u32 = StateFlags::all().bits() | BOUND_INACTIVE_BIT;

/// `1 << TCP_BOUND_INACTIVE` (include/net/tcp_states.h).
const BOUND_INACTIVE_BIT: u32 = 1 << 13;

/// A state mask as the crate's type, keeping bits it has no name for (bit 13).
fn state_flags(bits: u32) -> StateFlags {
    // SAFETY: the type is a plain u32 mask passed to the kernel as is; the kernel
    // tests only the bits it knows.
    unsafe { StateFlags::from_bits_unchecked(bits) }
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            tcp: ALL_STATES,
            udp: ALL_STATES,
            v4: true,
            v6: true,
        }
    }
}

impl Scope {
    /// No more than `f` can show (the socket filter's protocols, families and
    /// states; the rest of it is applied after).
    pub fn of(f: &crate::filter::Filter) -> Scope {
        let (protos, families, states) = (f.protos(), f.families(), f.states());
        let wants = |p: Proto| protos.is_empty() || protos.contains(&p);
        let fam = |x: Family| families.is_empty() || families.contains(&x);
        let (mut tcp, mut udp) = (ALL_STATES, ALL_STATES);
        // (a state porttop has no name for could be any kernel state)
        if !states.is_empty() && !states.contains(&SockState::Unknown) {
            tcp = states
                .iter()
                .filter_map(|s| tcp_number(*s))
                .fold(0, |m, n| m | 1 << n);
            udp = states
                .iter()
                .filter_map(|s| match s {
                    SockState::Established => Some(1),
                    SockState::Unconn => Some(7),
                    _ => None,
                })
                .fold(0, |m, n| m | 1 << n);
        }
        Scope {
            tcp: if wants(Proto::Tcp) { tcp } else { 0 },
            udp: if wants(Proto::Udp) { udp } else { 0 },
            v4: fam(Family::Ipv4),
            v6: fam(Family::Ipv6),
        }
    }
}

/// The kernel's number of a TCP state (as a dump request asks for it).
fn tcp_number(s: SockState) -> Option<u32> {
    if s == SockState::Bound {
        return Some(13);
    }
    let i = tcp_states().iter().position(|t| *t == s)?;
    Some(i as u32 + 1)
}

/// An errno a kernel answers a request it does not support with.
fn refused(e: &io::Error) -> bool {
    missing(e) || matches!(e.raw_os_error(), Some(libc::EINVAL | libc::EOPNOTSUPP))
}

/// The kernel has no sock_diag handler for what was asked.
fn missing(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT)
    )
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad sock_diag message: {e}"),
    )
}

/// The kernel's TCP states by number, 1..=11: the first of `SockState::ALL`.
fn tcp_states() -> &'static [SockState] {
    &SockState::ALL[..11]
}

/// A kernel state number as porttop's state. UDP sockets are `TCP_ESTABLISHED`
/// once connected and `TCP_CLOSE` otherwise, as ss shows.
fn state(proto: Proto, s: u8) -> SockState {
    match (proto, s) {
        (Proto::Udp, 1) => SockState::Established,
        (Proto::Udp, _) => SockState::Unconn,
        // TCP_NEW_SYN_RECV: a connection request not yet accepted (ss: SYN-RECV)
        (_, 12) => SockState::SynRecv,
        (_, n) => n
            .checked_sub(1)
            .and_then(|i| tcp_states().get(usize::from(i)))
            .copied()
            .unwrap_or(SockState::Unknown),
    }
}

/// One kernel record as a `Socket` (no pids yet). Listeners and unconnected UDP
/// sockets have no remote end.
pub fn to_socket(proto: Proto, r: &Record) -> Socket {
    let family = if r.family == AF_INET6 {
        Family::Ipv6
    } else {
        Family::Ipv4
    };
    let id = &r.socket_id;
    let mut st = state(proto, r.state);
    // The bind-table walk reports bound-only sockets as TCP_CLOSE with no peer.
    if proto == Proto::Tcp
        && st == SockState::Close
        && id.destination_port == 0
        && id.destination_address.is_unspecified()
    {
        st = SockState::Bound;
    }
    let remote = match st {
        SockState::Listen | SockState::Unconn | SockState::Bound => None,
        _ => Some(Endpoint::new(id.destination_address, id.destination_port)),
    };
    let inode = Some(u64::from(r.inode)).filter(|i| *i != 0);
    Socket {
        proto,
        family,
        local: Endpoint::new(id.source_address, id.source_port),
        remote,
        state: st,
        // TIME-WAIT (and orphaned) sockets have no inode and the kernel fills in
        // uid 0 for them (net/ipv4/inet_diag.c, inet_twsk_diag_fill:
        // `r->idiag_uid = 0; r->idiag_inode = 0;`): no user owns them, so
        // they show `-` and `user:root` does not match them.
        uid: Some(r.uid).filter(|u| *u != 0 || inode.is_some()),
        user: None,
        inode,
        pids: Default::default(),
        // net/ipv4/inet_diag.c, inet_twsk_diag_fill: idiag_timer 3 and
        // idiag_expires = the ms left until the TIME-WAIT socket is freed.
        time_wait_left_ms: (st == SockState::TimeWait).then_some(r.expires_ms),
        conn: None,
        netns: 0,
        cookie: u64::from_ne_bytes(id.cookie),
    }
}

/// The id of an exact request for `s` (`ifindex`: the device it is bound to,
/// 0 for none), matched by addresses only (INET_DIAG_NOCOOKIE).
///
/// An AF_INET6 socket talking IPv4 carries `::ffff:a.b.c.d` in the kernel,
/// which `Endpoint` shows as plain IPv4: the request must map it back, or the
/// kernel looks up another address and answers ENOENT (net/ipv4/inet_diag.c,
/// inet_diag_find_one_icsk compares the 16-byte addresses). The kernel's UDP
/// lookup takes the request's source as the packet's source, i.e. the remote
/// end (net/ipv4/udp_diag.c, udp_dump_one).
fn exact_id(s: &Socket, ifindex: u32) -> SocketId {
    let wire = |addr: std::net::IpAddr| match (s.family, addr) {
        (Family::Ipv6, std::net::IpAddr::V4(a)) => std::net::IpAddr::V6(a.to_ipv6_mapped()),
        _ => addr,
    };
    let remote = s.remote.unwrap_or(Endpoint::new(
        match s.family {
            Family::Ipv4 => std::net::Ipv4Addr::UNSPECIFIED.into(),
            Family::Ipv6 => std::net::Ipv6Addr::UNSPECIFIED.into(),
        },
        0,
    ));
    let (src, dst) = match s.proto {
        Proto::Tcp => (s.local, remote),
        Proto::Udp => (remote, s.local),
    };
    SocketId {
        source_port: src.port,
        destination_port: dst.port,
        source_address: wire(src.addr),
        destination_address: wire(dst.addr),
        interface_id: ifindex,
        cookie: [0xff; 8], // INET_DIAG_NOCOOKIE: match by addresses only
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    /// A sock_diag socket, or None (with a note) where the kernel has none.
    fn diag() -> Option<Diag> {
        let d = Diag::new().ok();
        if d.is_none() {
            eprintln!("skipped: no NETLINK_SOCK_DIAG here");
        }
        d
    }

    fn all(d: &mut Diag) -> Vec<Socket> {
        let mut v = Vec::new();
        d.dump_all(&Scope::default(), |s, _| v.push(s)).unwrap();
        v
    }

    #[test]
    fn sees_tcp_listener_connection_and_udp_peer() {
        let Some(mut d) = diag() else { return };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.connect(peer.local_addr().unwrap()).unwrap();
        // twice on one netlink socket: a reused socket keeps working
        for _ in 0..2 {
            let v = all(&mut d);
            let lp = l.local_addr().unwrap().port();
            assert!(v
                .iter()
                .any(|s| s.local.port == lp && s.state == SockState::Listen && s.remote.is_none()));
            let cp = c.local_addr().unwrap().port();
            // (other processes may use the same local port towards other peers)
            let cs = v
                .iter()
                .find(|s| s.local.port == cp && s.remote.map(|r| r.port) == Some(lp))
                .unwrap();
            assert_eq!((cs.proto, cs.state), (Proto::Tcp, SockState::Established));
            assert!(cs.inode.is_some());
            // a bare dump (no detail asked, no `conn`) still names the very
            // socket: its cookie, as the socket itself reports it
            assert!(cs.conn.is_none());
            assert_eq!(cs.cookie, crate::testkit::so_cookie(&c));
            let us = v
                .iter()
                .find(|s| s.proto == Proto::Udp && s.local.port == u.local_addr().unwrap().port())
                .unwrap();
            assert_eq!(us.state, SockState::Established);
            assert_eq!(us.remote.unwrap().port, peer.local_addr().unwrap().port());
            let ps = v
                .iter()
                .find(|s| {
                    s.proto == Proto::Udp && s.local.port == peer.local_addr().unwrap().port()
                })
                .unwrap();
            assert_eq!((ps.state, ps.remote), (SockState::Unconn, None));
        }
    }

    #[test]
    fn state_filter_only_returns_those_states() {
        let Some(mut d) = diag() else { return };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let mut v = Vec::new();
        d.dump(Proto::Tcp, Family::Ipv4, StateFlags::LISTEN, |r| {
            v.push(to_socket(Proto::Tcp, r))
        })
        .unwrap();
        assert!(v.iter().all(|s| s.state == SockState::Listen));
        assert!(v
            .iter()
            .any(|s| s.local.port == l.local_addr().unwrap().port()));
    }

    #[test]
    fn exact_lookup_tells_open_from_closed_sockets() {
        let Some(mut d) = diag() else { return };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (srv, _) = l.accept().unwrap();
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("[::1]:0").unwrap();
        let u6 = UdpSocket::bind("[::1]:0").unwrap();
        u6.connect(peer.local_addr().unwrap()).unwrap();
        let find = |v: &[Socket], proto: Proto, port: u16, remote: Option<u16>| {
            v.iter()
                .find(|s| {
                    s.proto == proto && s.local.port == port && s.remote.map(|r| r.port) == remote
                })
                .cloned()
                .unwrap()
        };
        let v = all(&mut d);
        let lp = l.local_addr().unwrap().port();
        let cp = c.local_addr().unwrap().port();
        let socks = [
            find(&v, Proto::Tcp, lp, None),
            find(&v, Proto::Tcp, cp, Some(lp)),
            find(&v, Proto::Tcp, lp, Some(cp)),
            find(&v, Proto::Udp, u.local_addr().unwrap().port(), None),
            find(
                &v,
                Proto::Udp,
                u6.local_addr().unwrap().port(),
                Some(peer.local_addr().unwrap().port()),
            ),
        ];
        for s in &socks {
            assert_eq!(d.inode_now(s, 0).unwrap(), s.inode, "{s:?}");
        }
        drop((l, c, srv, u, u6));
        for s in &socks {
            // Another test's fork (before its exec closes the inherited fds)
            // can keep a socket alive for a moment: wait for that, boundedly.
            let mut now = d.inode_now(s, 0).unwrap();
            for _ in 0..100 {
                if now.is_none() || now == Some(0) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
                now = d.inode_now(s, 0).unwrap();
            }
            assert!(now.is_none() || now == Some(0), "{s:?} still has {now:?}");
        }
        // the socket still answers dumps afterwards
        assert!(!all(&mut d).is_empty());
    }

    #[test]
    fn per_family_tcp_dumps_see_what_the_one_walk_sees() {
        let Some(mut d) = diag() else { return };
        let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
        let l6 = TcpListener::bind("[::1]:0").unwrap();
        let _c4 = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
        let _c6 = TcpStream::connect(l6.local_addr().unwrap()).unwrap();
        let ports = [
            l4.local_addr().unwrap().port(),
            l6.local_addr().unwrap().port(),
        ];
        let ours = |d: &mut Diag| -> Vec<String> {
            let mut v: Vec<String> = all(d)
                .into_iter()
                .filter(|s| {
                    s.proto == Proto::Tcp
                        && (ports.contains(&s.local.port)
                            || s.remote.is_some_and(|r| ports.contains(&r.port)))
                })
                .map(|s| format!("{:?}", (s.family, s.local, s.remote, s.state, s.inode)))
                .collect();
            v.sort();
            v
        };
        let one_walk = ours(&mut d);
        assert_eq!(one_walk.len(), 6, "{one_walk:?}");
        d.compat_tcp = false; // what a kernel refusing the old request gets
        assert_eq!(ours(&mut d), one_walk);
    }

    #[test]
    fn kernel_state_numbers_round_trip() {
        for n in 1..=11u8 {
            assert_eq!(tcp_number(state(Proto::Tcp, n)), Some(u32::from(n)), "{n}");
        }
        // numbers from include/net/tcp_states.h
        assert_eq!(state(Proto::Tcp, 1), SockState::Established);
        assert_eq!(state(Proto::Tcp, 6), SockState::TimeWait);
        assert_eq!(state(Proto::Tcp, 10), SockState::Listen);
        assert_eq!(state(Proto::Tcp, 11), SockState::Closing);
        assert_eq!(state(Proto::Tcp, 12), SockState::SynRecv);
        assert_eq!(state(Proto::Tcp, 0), SockState::Unknown);
        assert_eq!(state(Proto::Tcp, 99), SockState::Unknown);
        assert_eq!(state(Proto::Udp, 7), SockState::Unconn);
        assert_eq!(state(Proto::Udp, 1), SockState::Established);
        assert_eq!(tcp_number(SockState::Unconn), None);
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    /// The dump asks for bound-only sockets (a real one is dumped as BOUND in
    /// tests/advisor_cli.rs); a filter on other states does not.
    #[test]
    fn bound_only_sockets_are_asked_for_unless_a_state_filter_leaves_them_out() {
        assert_ne!(Scope::default().tcp & BOUND_INACTIVE_BIT, 0);
        let listen = crate::filter::Filter::of([crate::filter::Term::State(SockState::Listen)]);
        assert_eq!(Scope::of(&listen).tcp & BOUND_INACTIVE_BIT, 0);
        let bound = crate::filter::Filter::of([crate::filter::Term::State(SockState::Bound)]);
        assert_eq!(Scope::of(&bound).tcp, BOUND_INACTIVE_BIT);
        assert_eq!(state_flags(ALL_STATES).bits(), ALL_STATES, "bit 13 is kept");
    }
}
