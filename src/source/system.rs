//! The live system: on Linux our own sock_diag dump (`diag`) plus our incremental
//! attribution (`attrib`); elsewhere netstat2's table with its pids. The process
//! table (`procs`) is shared.

use super::procs::ProcessTable;
use super::{host_name, now_ms, RangeConfig, SocketSource, SourceError};
#[cfg(not(target_os = "linux"))]
use crate::model::{Endpoint, Family, Proto, SockState};
use crate::model::{PortRange, Snapshot, Socket};
use netstat2::{AddressFamilyFlags, ProtocolFlags};
#[cfg(not(target_os = "linux"))]
use netstat2::{ProtocolSocketInfo, TcpState};
use std::collections::{BTreeMap, HashSet};
#[cfg(not(target_os = "linux"))]
use std::net::IpAddr;

pub struct SystemSource {
    range_cfg: RangeConfig,
    last_range: Option<PortRange>,
    #[cfg(target_os = "linux")]
    attrib: super::attrib::Attributor,
    /// The netlink socket, opened on the first refresh and kept.
    #[cfg(target_os = "linux")]
    diag: Option<super::diag::Diag>,
    /// Which sockets to ask the kernel for (all, unless `scoped`).
    #[cfg(target_os = "linux")]
    scope: super::diag::Scope,
    /// The other network namespaces read (`--netns`), kept across refreshes.
    #[cfg(target_os = "linux")]
    netns: super::netns::Namespaces,
    procs: ProcessTable,
    host: String,
    /// Sockets in the last snapshot (the next one's starting capacity).
    last_len: usize,
}

impl SystemSource {
    pub fn new(range_cfg: RangeConfig) -> Self {
        SystemSource {
            #[cfg(target_os = "linux")]
            netns: super::netns::Namespaces::new(Default::default(), range_cfg.clone()),
            range_cfg,
            last_range: None,
            #[cfg(target_os = "linux")]
            attrib: super::attrib::Attributor::default(),
            #[cfg(target_os = "linux")]
            diag: None,
            #[cfg(target_os = "linux")]
            scope: Default::default(),
            procs: ProcessTable::new(),
            host: host_name(),
            last_len: 0,
        }
    }

    /// Asks the OS only for sockets `f` can match by protocol, family and state
    /// (Linux; elsewhere the whole table is read and filtered after). For
    /// one-shot commands that show only what the filter passes.
    pub fn scoped(mut self, f: &crate::filter::Filter) -> Self {
        #[cfg(target_os = "linux")]
        {
            self.scope = super::diag::Scope::of(f);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = f;
        self
    }

    /// Reads the network namespaces `select` names (Linux; elsewhere there is
    /// one).
    pub fn with_netns(mut self, select: super::NetnsSelect) -> Self {
        #[cfg(target_os = "linux")]
        {
            self.netns = super::netns::Namespaces::new(select, self.range_cfg.clone());
        }
        #[cfg(not(target_os = "linux"))]
        let _ = select;
        self
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

    /// The TCP and UDP sockets in `scope` (all, unless `scoped`), calling `f`
    /// per socket with the index of the device it is bound to (0: none).
    #[cfg(target_os = "linux")]
    fn dump_into(&mut self, f: impl FnMut(Socket, u32)) -> Result<(), SourceError> {
        let err = |e: std::io::Error| SourceError::Netlink(super::describe_io(&e));
        let diag = match &mut self.diag {
            Some(d) => d,
            none => none.insert(super::diag::Diag::new().map_err(err)?),
        };
        let tag = self.netns.own_tag();
        let mut f = f;
        let r = diag.dump_all(&self.scope, |mut s, i| {
            s.netns = tag;
            f(s, i)
        });
        if r.is_err() {
            // A dump cut short may still run in the kernel, which then refuses
            // the next one on this socket: the next refresh opens a new one.
            self.diag = None;
        }
        r.map_err(err)
    }

    /// The floor every refresh pays: the socket dump alone, no conversion, no
    /// attribution; returns the number of records. For benchmarks.
    pub fn bare_dump(&mut self) -> Result<usize, SourceError> {
        #[cfg(target_os = "linux")]
        {
            let mut n = 0;
            if self.netns.own_wanted() {
                self.dump_into(|_, _| n += 1)?;
            }
            Ok(n + self.netns.bare_dump(&self.scope))
        }
        #[cfg(not(target_os = "linux"))]
        netstat2_bare_dump()
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

#[cfg(not(target_os = "linux"))]
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

#[cfg(not(target_os = "linux"))]
fn family(a: IpAddr) -> Family {
    match a {
        IpAddr::V4(_) => Family::Ipv4,
        IpAddr::V6(_) => Family::Ipv6,
    }
}

/// Converts one netstat2 record, with its pids (not Linux).
#[cfg(not(target_os = "linux"))]
fn convert(si: netstat2::SocketInfo) -> Socket {
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
    fn take_note(&mut self) -> Option<String> {
        #[cfg(target_os = "linux")]
        return self.netns.take_note();
        #[cfg(not(target_os = "linux"))]
        None
    }

    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        #[cfg(target_os = "linux")]
        self.netns.refresh()?;
        let own_range = self.range()?;
        let taken_at_ms = now_ms();
        // Room for as many as last time and some growth: no re-copying of a
        // 40,000-entry table while it fills.
        let mut sockets = Vec::with_capacity(self.last_len + self.last_len / 8);
        // Devices that sockets are bound to (rare: SO_BINDTODEVICE, VRFs, IPv6
        // link-local), for exact lookups.
        #[cfg(target_os = "linux")]
        let mut bound: rustc_hash::FxHashMap<u64, u32> = Default::default();
        #[cfg(target_os = "linux")]
        {
            let mut keep = |s: Socket, ifindex: u32| {
                if let (Some(i), true) = (s.inode, ifindex != 0) {
                    bound.insert(i, ifindex);
                }
                sockets.push(s)
            };
            if self.netns.own_wanted() {
                self.dump_into(&mut keep)?;
            }
            self.netns.dump(&self.scope, keep);
        }
        #[cfg(not(target_os = "linux"))]
        for si in netstat2_dump()? {
            let si = si.map_err(|e| SourceError::Netlink(e.to_string()))?;
            sockets.push(convert(si));
        }
        self.last_len = sockets.len();

        #[cfg(target_os = "linux")]
        {
            let mut live = super::attrib::InodeSet::default();
            live.reserve(sockets.len());
            live.extend(sockets.iter().filter_map(|s| s.inode));
            // Asked only for sockets no process was found holding: one kernel
            // lookup each instead of a walk of every process.
            let (diag, socks, netns) = (&mut self.diag, &sockets, &mut self.netns);
            let still_open = |unknown: &super::attrib::InodeSet| {
                let mut open = match diag.as_mut() {
                    Some(d) => d.still_open(socks, unknown, &bound),
                    None => unknown.clone(),
                };
                open.extend(netns.still_open(socks, unknown, &bound));
                open
            };
            self.attrib
                .refresh(live, still_open)
                .map_err(SourceError::Proc)?;
            self.procs.forget(&self.attrib.replaced);
        }

        // One pass: owners (Linux), user names, and the set of pids to describe.
        // Consecutive sockets mostly share owner and uid, so both are looked up
        // only when they change.
        let mut wanted = rustc_hash::FxHashSet::default();
        let users = self.procs.users();
        let mut last_user: Option<(u32, std::sync::Arc<str>)> = None;
        let mut last_pid = None;
        for s in sockets.iter_mut() {
            #[cfg(target_os = "linux")]
            if let Some(i) = s.inode {
                s.pids = crate::model::Pids::from_slice(self.attrib.owners(i));
            }
            for &p in &s.pids {
                if last_pid != Some(p) {
                    last_pid = Some(p);
                    wanted.insert(p);
                }
            }
            if let Some(uid) = s.uid {
                let name = match &last_user {
                    Some((u, n)) if *u == uid => n.clone(),
                    _ => {
                        let n = users.shared(uid);
                        last_user = Some((uid, n.clone()));
                        n
                    }
                };
                s.user = Some(name);
            }
        }
        let mut wanted: Vec<u32> = wanted.into_iter().collect();
        wanted.sort_unstable();
        #[cfg(target_os = "linux")]
        let alive: HashSet<u32> = self.attrib.live_pids().collect();
        #[cfg(not(target_os = "linux"))]
        let alive: HashSet<u32> = wanted.iter().copied().collect();
        let processes: BTreeMap<_, _> = self
            .procs
            .resolve(&wanted, &|p| alive.contains(&p))
            .into_iter()
            .collect();
        #[cfg(target_os = "linux")]
        let own_counters = super::counters::read(std::path::Path::new("/proc/net"));
        #[cfg(not(target_os = "linux"))]
        let own_counters = None;
        #[cfg(target_os = "linux")]
        let (range, counters, netns) = (
            self.netns
                .primary_range()
                .cloned()
                .unwrap_or_else(|| own_range.clone()),
            self.netns.primary_counters().unwrap_or(own_counters),
            self.netns.infos(&own_range, own_counters),
        );
        #[cfg(not(target_os = "linux"))]
        let (range, counters, netns) = (own_range, own_counters, Vec::new());
        // A pid that exited (or became a zombie) before its details were read
        // holds nothing any more: it loses the attribution instead of showing
        // as a process without name, user or command line.
        for s in sockets.iter_mut() {
            if s.pids.iter().any(|p| !processes.contains_key(p)) {
                s.pids.retain(|p| processes.contains_key(p));
            }
        }
        #[cfg(target_os = "linux")]
        let partial = owners_hidden(&sockets, &self.attrib.closed_since_dump);
        #[cfg(not(target_os = "linux"))]
        let partial = false;
        Ok(Snapshot {
            taken_at_ms,
            host: self.host.clone(),
            range,
            partial,
            sockets,
            processes,
            counters,
            netns,
        })
    }
}

/// Whether some open sockets show no process because their owners are hidden
/// from us (the `partial` of the snapshot, which the one-time note reports).
/// Without root: other users' sockets, whose processes' fd directories are
/// unreadable, or invisible under `hidepid=2` (proc(5)). As root: only outside
/// the initial PID namespace, whose processes are not in our /proc. Sockets
/// closed since the dump, and sockets no process holds (kernel sockets, in the
/// initial namespace), hide nothing; TIME-WAIT has no inode and no owner.
#[cfg(target_os = "linux")]
fn owners_hidden(sockets: &[Socket], closed: &super::attrib::InodeSet) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let mut orphans = sockets
        .iter()
        .filter(|s| s.pids.is_empty() && s.inode.is_some_and(|i| i != 0 && !closed.contains(&i)));
    if euid == 0 {
        orphans.next().is_some() && !super::in_initial_pid_ns()
    } else {
        orphans.any(|s| s.uid.is_some_and(|u| u != euid))
    }
}

/// netstat2's TCP and UDP table, IPv4 and IPv6: with pids where it is the source
/// (not Linux); on Linux without (only the benchmark's reference row reads it).
fn netstat2_dump(
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

/// netstat2's dump, counted: the benchmark's reference row, what the refresh
/// cost before `diag` replaced it on Linux.
pub fn netstat2_bare_dump() -> Result<usize, SourceError> {
    netstat2_dump()?.try_fold(0, |n, si| {
        si.map(|_| n + 1)
            .map_err(|e| SourceError::Netlink(e.to_string()))
    })
}
