//! The backend of `SystemSource` off Linux (macOS, Windows, the BSDs):
//! netstat2's table with the pids it reports; no attribution cache, no kernel
//! counters, and nothing hidden that we could tell.

use super::super::attrib::AttribStats;
use super::super::procs::ProcessTable;
use super::super::SourceError;
use crate::model::{Endpoint, Family, KernelCounters, Proto, SockState, Socket};
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use std::collections::HashSet;
use std::net::IpAddr;

#[derive(Default)]
pub struct Backend;

impl Backend {
    pub fn new() -> Self {
        Backend
    }

    /// One network namespace here: nothing to choose.
    pub fn netns(&mut self, _select: super::super::NetnsSelect, _cfg: super::RangeConfig) {}

    pub fn refresh_netns(&mut self) -> Result<(), SourceError> {
        Ok(())
    }

    /// The own namespace's range and counters; no list of namespaces.
    pub fn namespaces(
        &self,
        own_range: crate::model::PortRange,
        own_counters: Option<KernelCounters>,
    ) -> (
        crate::model::PortRange,
        Option<KernelCounters>,
        Vec<crate::model::Netns>,
    ) {
        (own_range, own_counters, Vec::new())
    }

    pub fn take_note(&mut self) -> Option<String> {
        None
    }

    /// netstat2 has no kernel-side filter: the whole table is read and
    /// filtered after.
    pub fn scoped(&mut self, _f: &crate::filter::Filter) {}

    /// netstat2 has no per-connection detail: nothing to ask for.
    pub fn detail(&mut self, _d: crate::model::Detail) {}

    /// netstat2 has no per-connection detail.
    pub fn detail_of(&mut self, _s: &mut [Socket], _w: &rustc_hash::FxHashSet<(u64, u64)>) {}
    /// netstat2 gives pids with every socket: nothing to defer.
    pub fn lazy(&mut self) {}

    /// No walk here: netstat2 gives the pids.
    pub fn set_walk(&mut self, _w: super::super::owners::Walk) {}

    pub fn walked(&self) -> Option<super::super::owners::Walked> {
        None
    }

    /// Every socket came with its pids.
    pub fn attribute_named(
        &mut self,
        _snap: &mut crate::model::Snapshot,
        _inodes: &super::super::attrib::InodeSet,
        _reach: super::super::Reach,
        _procs: &mut ProcessTable,
    ) -> Result<(), SourceError> {
        Ok(())
    }

    pub fn attrib_stats(&self) -> AttribStats {
        AttribStats::default()
    }

    pub fn cached_pids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(std::iter::empty())
    }

    pub fn bare_dump(&mut self) -> Result<usize, SourceError> {
        super::netstat2_bare_dump()
    }

    /// The socket table into `sockets`, with netstat2's pids.
    pub fn dump(&mut self, sockets: &mut Vec<Socket>) -> Result<(), SourceError> {
        for si in netstat2_dump()? {
            let si = si.map_err(|e| SourceError::Netlink(e.to_string()))?;
            sockets.push(convert(si));
        }
        Ok(())
    }

    /// netstat2 attributed while it dumped.
    pub fn attribute(
        &mut self,
        _sockets: &[Socket],
        _procs: &mut ProcessTable,
    ) -> Result<(), SourceError> {
        Ok(())
    }

    /// The pids came with the dump: nothing to replace them with.
    pub fn owners(&self, _s: &Socket) -> Option<&[u32]> {
        None
    }

    /// No process table of our own: every pid netstat2 named counts as alive.
    pub fn alive(&self, wanted: &[u32]) -> HashSet<u32> {
        wanted.iter().copied().collect()
    }

    pub fn partial(&self, _sockets: &[Socket]) -> bool {
        false
    }
}

pub fn counters() -> Option<KernelCounters> {
    None
}

fn state(s: TcpState) -> SockState {
    match s {
        TcpState::Established => SockState::Established,
        TcpState::SynSent => SockState::SynSent,
        TcpState::SynReceived => SockState::SynRecv,
        TcpState::FinWait1 => SockState::FinWait1,
        TcpState::FinWait2 => SockState::FinWait2,
        TcpState::TimeWait => SockState::TimeWait,
        TcpState::Closed => SockState::Close,
        TcpState::CloseWait => SockState::CloseWait,
        TcpState::LastAck => SockState::LastAck,
        TcpState::Listen => SockState::Listen,
        TcpState::Closing => SockState::Closing,
        _ => SockState::Unknown,
    }
}

fn family(a: IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

/// Converts one netstat2 record, with its pids.
fn convert(si: netstat2::SocketInfo) -> Socket {
    let pids = {
        let mut p = si.associated_pids.clone();
        p.sort_unstable();
        p.dedup();
        crate::model::Pids::from_vec(p)
    };
    let (proto, local, remote, state) = match si.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let st = state(t.state);
            let remote =
                (st != SockState::Listen).then(|| Endpoint::new(t.remote_addr, t.remote_port));
            (Proto::Tcp, (t.local_addr, t.local_port), remote, st)
        }
        // netstat2 reports no peer for UDP: connected UDP sockets show as UNCONN.
        ProtocolSocketInfo::Udp(u) => (
            Proto::Udp,
            (u.local_addr, u.local_port),
            None,
            SockState::Unconn,
        ),
    };
    Socket {
        proto,
        family: family(local.0),
        local: Endpoint::new(local.0, local.1),
        remote,
        state,
        uid: None,
        user: None,
        inode: None,
        pids,
        time_wait_left_ms: None,
        conn: None,
        netns: 0,
        cookie: 0,
    }
}

/// netstat2's TCP and UDP table, IPv4 and IPv6, with pids.
pub fn netstat2_dump(
) -> Result<impl Iterator<Item = Result<netstat2::SocketInfo, netstat2::error::Error>>, SourceError>
{
    let af = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let pf = ProtocolFlags::TCP | ProtocolFlags::UDP;
    netstat2::iterate_sockets_info(af, pf).map_err(|e| SourceError::Netlink(e.to_string()))
}
