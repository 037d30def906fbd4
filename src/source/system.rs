//! The live system: netstat2's socket dump (netlink on Linux) without its pid walk,
//! plus our own incremental attribution (`attrib`) and process table (`procs`).

use super::procs::ProcessTable;
use super::{host_name, now_ms, RangeConfig, SocketSource, SourceError};
use crate::model::{Endpoint, Family, PortRange, Proto, Snapshot, SockState, Socket};
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

pub struct SystemSource {
    range_cfg: RangeConfig,
    last_range: Option<PortRange>,
    #[cfg(target_os = "linux")]
    attrib: super::attrib::Attributor,
    procs: ProcessTable,
    host: String,
}

impl SystemSource {
    pub fn new(range_cfg: RangeConfig) -> Self {
        SystemSource {
            range_cfg,
            last_range: None,
            #[cfg(target_os = "linux")]
            attrib: super::attrib::Attributor::default(),
            procs: ProcessTable::new(),
            host: host_name(),
        }
    }

    /// What the last refresh's attribution did (all zero off Linux).
    pub fn attrib_stats(&self) -> super::attrib::AttribStats {
        #[cfg(target_os = "linux")]
        return self.attrib.last;
        #[cfg(not(target_os = "linux"))]
        super::attrib::AttribStats::default()
    }

    /// Pids the attribution cache holds (Linux; empty elsewhere): every live
    /// process, so exited ones must not show up here.
    pub fn cached_pids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        #[cfg(target_os = "linux")]
        return Box::new(self.attrib.live_pids());
        #[cfg(not(target_os = "linux"))]
        Box::new(std::iter::empty())
    }

    fn range(&mut self) -> Result<PortRange, SourceError> {
        match self.range_cfg.resolve() {
            Ok(r) => {
                self.last_range = Some(r.clone());
                Ok(r)
            }
            // A transient read failure keeps the last good range.
            Err(e) => self.last_range.clone().ok_or(SourceError::Range(e)),
        }
    }
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

/// Converts one netstat2 record (pids not attached).
pub(crate) fn convert(si: netstat2::SocketInfo) -> Socket {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let (uid, inode) = (Some(si.uid), Some(u64::from(si.inode)).filter(|i| *i != 0));
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let (uid, inode) = (None, None);
    let pids = {
        let mut p = si.associated_pids.clone();
        p.sort_unstable();
        p.dedup();
        p
    };
    match si.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let st = state(t.state);
            let remote = if st == SockState::Listen {
                None
            } else {
                Some(Endpoint::new(t.remote_addr, t.remote_port))
            };
            Socket {
                proto: Proto::Tcp,
                family: family(t.local_addr),
                local: Endpoint::new(t.local_addr, t.local_port),
                remote,
                state: st,
                uid,
                user: None,
                inode,
                pids,
            }
        }
        // netstat2 reports no peer for UDP: connected UDP sockets show as UNCONN.
        ProtocolSocketInfo::Udp(u) => Socket {
            proto: Proto::Udp,
            family: family(u.local_addr),
            local: Endpoint::new(u.local_addr, u.local_port),
            remote: None,
            state: SockState::Unconn,
            uid,
            user: None,
            inode,
            pids,
        },
    }
}

impl SocketSource for SystemSource {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let range = self.range()?;
        let taken_at_ms = now_ms();
        let mut sockets = Vec::new();
        for si in dump()? {
            let si = si.map_err(|e| SourceError::Netlink(e.to_string()))?;
            sockets.push(convert(si));
        }
        // netstat2 gives UDP no peer: take connected UDP sockets' peers from
        // /proc/net/udp{,6} (Linux), so clients are not mistaken for servers.
        #[cfg(target_os = "linux")]
        if sockets.iter().any(|s| s.proto == Proto::Udp) {
            let peers = super::procnet::udp_peers();
            for s in sockets.iter_mut().filter(|s| s.proto == Proto::Udp) {
                if let Some(r) = s.inode.and_then(|i| peers.get(&i)) {
                    s.remote = Some(*r);
                    s.state = SockState::Established;
                }
            }
        }

        #[cfg(target_os = "linux")]
        let partial = {
            let live: HashSet<u64> = sockets.iter().filter_map(|s| s.inode).collect();
            self.attrib.refresh(&live).map_err(SourceError::Proc)?;
            self.procs.forget(&self.attrib.replaced);
            for s in sockets.iter_mut() {
                if let Some(i) = s.inode {
                    s.pids = self.attrib.owners(i).to_vec();
                }
            }
            self.attrib.last.unattributed > 0 && self.attrib.last.pids_unreadable > 0
        };
        #[cfg(not(target_os = "linux"))]
        let partial = false;

        let mut wanted: Vec<u32> = sockets
            .iter()
            .flat_map(|s| s.pids.iter().copied())
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        #[cfg(target_os = "linux")]
        let alive: HashSet<u32> = self.attrib.live_pids().collect();
        #[cfg(not(target_os = "linux"))]
        let alive: HashSet<u32> = wanted.iter().copied().collect();
        let processes: BTreeMap<_, _> = self
            .procs
            .resolve(&wanted, &|p| alive.contains(&p))
            .into_iter()
            .collect();
        let users = self.procs.users();
        for s in sockets.iter_mut() {
            if let Some(uid) = s.uid {
                s.user = Some(users.shared(uid));
            }
        }
        Ok(Snapshot {
            taken_at_ms,
            host: self.host.clone(),
            range,
            partial,
            sockets,
            processes,
        })
    }
}

/// netstat2's TCP and UDP dump, IPv4 and IPv6; on Linux without its pid walk
/// (attribution is ours, incremental).
fn dump(
) -> Result<impl Iterator<Item = Result<netstat2::SocketInfo, netstat2::error::Error>>, SourceError>
{
    let af = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let pf = ProtocolFlags::TCP | ProtocolFlags::UDP;
    #[cfg(target_os = "linux")]
    let iter = netstat2::iterate_sockets_info_without_pids(af, pf);
    #[cfg(not(target_os = "linux"))]
    let iter = netstat2::iterate_sockets_info(af, pf);
    iter.map_err(|e| SourceError::Netlink(e.to_string()))
}

/// The floor every refresh pays: netstat2's socket dump with no pids and no
/// conversion; returns the number of records. For benchmarks.
pub fn bare_dump() -> Result<usize, SourceError> {
    let mut n = 0;
    for si in dump()? {
        si.map_err(|e| SourceError::Netlink(e.to_string()))?;
        n += 1;
    }
    Ok(n)
}
