//! The Linux backend of `SystemSource`: our own sock_diag dump (`diag`, one
//! netlink socket kept across refreshes) and our incremental attribution
//! (`attrib`), with the kernel's TCP counters read beside each dump.

use super::super::attrib::{AttribStats, Attributor, InodeSet};
use super::super::bpf_iter;
use super::super::diag::{Diag, Scope};
use super::super::netns::{Namespaces, Select};
use super::super::owners::{self, Walk, Walked};
use super::super::procs::ProcessTable;
use super::super::{describe_io, in_initial_pid_ns, SourceError};
use crate::model::{KernelCounters, Netns, PortRange, Socket};
use netstat2::{AddressFamilyFlags, ProtocolFlags};
use std::collections::HashSet;

pub struct Backend {
    /// The other network namespaces read (`--netns`), kept across refreshes.
    netns: Namespaces,
    attrib: Attributor,
    /// The netlink socket, opened on the first refresh and kept.
    diag: Option<Diag>,
    /// Which sockets to ask the kernel for (all, unless `scoped`).
    scope: Scope,
    /// Devices that the last dump's sockets are bound to, by inode (rare:
    /// SO_BINDTODEVICE, VRFs, IPv6 link-local), for exact lookups.
    bound: rustc_hash::FxHashMap<u64, u32>,
    /// What dumps ask for beyond the header.
    detail: crate::model::Detail,
    /// Owners are found on demand (`attribute_named`), not with every dump.
    lazy: bool,
    /// How `attribute_named` walks (`PORTTOP_WALK`), and what its last walk
    /// was.
    walk: Walk,
    walked: Option<Walked>,
}

impl Backend {
    pub fn new() -> Self {
        Backend {
            netns: Namespaces::new(Select::default(), Default::default()),
            attrib: Default::default(),
            diag: None,
            scope: Default::default(),
            bound: Default::default(),
            detail: Default::default(),
            lazy: false,
            walk: Walk::from_env(),
            walked: None,
        }
    }

    /// Chooses the walk of `attribute_named` (the benchmark runs both).
    pub fn set_walk(&mut self, w: Walk) {
        self.walk = w;
    }

    /// What the last `attribute_named` walked with.
    pub fn walked(&self) -> Option<Walked> {
        self.walked.clone()
    }

    /// Reads the network namespaces `select` names (ranges by `cfg`).
    pub fn netns(&mut self, select: Select, cfg: super::RangeConfig) {
        self.netns = Namespaces::new(select, cfg);
    }

    /// Finds the namespaces and reads their ranges (before the dump).
    pub fn refresh_netns(&mut self) -> Result<(), SourceError> {
        self.netns.refresh()
    }

    /// The snapshot's range, counters and namespaces, given the own
    /// namespace's: the primary namespace's range is the snapshot's.
    pub fn namespaces(
        &self,
        own_range: PortRange,
        own_counters: Option<KernelCounters>,
    ) -> (PortRange, Option<KernelCounters>, Vec<Netns>) {
        let infos = self.netns.infos(&own_range, own_counters);
        (
            self.netns.primary_range().cloned().unwrap_or(own_range),
            self.netns.primary_counters().unwrap_or(own_counters),
            infos,
        )
    }

    /// The one-time note about namespaces that cannot be seen.
    pub fn take_note(&mut self) -> Option<String> {
        let walk = match self.walked.as_mut() {
            Some(Walked::ProcInstead(why)) if !why.is_empty() => Some(format!(
                "PORTTOP_WALK=bpf: the BPF walk cannot run ({}); walked /proc",
                std::mem::take(why)
            )),
            _ => None,
        };
        match (self.netns.take_note(), walk) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }

    pub fn scoped(&mut self, f: &crate::filter::Filter) {
        self.scope = Scope::of(f);
    }

    /// tcp_info and socket memory per connection (`Detail::Info`), or not.
    pub fn detail(&mut self, d: crate::model::Detail) {
        self.detail = d;
    }

    /// Dumps come without owners; `attribute_named` finds those asked for.
    pub fn lazy(&mut self) {
        self.lazy = true;
    }

    /// Owners and processes of the sockets of `snap` with these inodes (lazy
    /// only: otherwise every socket has them already), by one walk that keeps
    /// only those; `snap.partial` also says whether some of them show none
    /// because their owners are hidden.
    pub fn attribute_named(
        &mut self,
        snap: &mut crate::model::Snapshot,
        inodes: &InodeSet,
        reach: super::super::Reach,
        procs: &mut ProcessTable,
    ) -> Result<(), SourceError> {
        if !self.lazy {
            return Ok(());
        }
        let (diag, bound, netns) = (&mut self.diag, &self.bound, &mut self.netns);
        let still_open = |socks: &[Socket], unknown: &InodeSet| {
            let mut open = match diag.as_mut() {
                Some(d) => d.still_open(socks, unknown, bound),
                None => unknown.clone(),
            };
            open.extend(netns.still_open(socks, unknown, bound));
            open
        };
        let (choice, walked) = (self.walk, &mut self.walked);
        let walk = |wanted: &InodeSet| {
            let proc_walk = || owners::find_owners(std::path::Path::new("/proc"), wanted, reach);
            if choice == Walk::Proc {
                *walked = Some(Walked::Proc);
                return proc_walk();
            }
            match bpf_iter::find_owners_timed(wanted) {
                Ok((found, times)) => {
                    *walked = Some(Walked::Bpf(times));
                    Ok(found)
                }
                Err(e) => {
                    // The answer is the same either way; asked for by name,
                    // the note (`take_note`) says why it came from /proc.
                    *walked = Some(if choice == Walk::Bpf {
                        Walked::ProcInstead(e.to_string())
                    } else {
                        Walked::ProcAfter(e.to_string())
                    });
                    proc_walk()
                }
            }
        };
        let closed = owners::attribute(snap, inodes, procs, walk, still_open)?;
        let asked = snap
            .sockets
            .iter()
            .filter(|s| s.inode.is_some_and(|i| inodes.contains(&i)));
        snap.partial |= owners_hidden(asked, &closed);
        Ok(())
    }

    pub fn attrib_stats(&self) -> AttribStats {
        self.attrib.last
    }

    pub fn cached_pids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        Box::new(self.attrib.live_pids())
    }

    /// The TCP and UDP sockets in `scope` (all, unless `scoped`), calling `f`
    /// per socket with the index of the device it is bound to (0: none).
    fn dump_into(&mut self, f: impl FnMut(Socket, u32)) -> Result<(), SourceError> {
        let err = |e: std::io::Error| SourceError::Netlink(describe_io(&e));
        let diag = match &mut self.diag {
            Some(d) => d,
            none => none.insert(Diag::new().map_err(err)?),
        };
        diag.detail = self.detail;
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

    pub fn bare_dump(&mut self) -> Result<usize, SourceError> {
        let mut n = 0;
        if self.netns.own_wanted() {
            self.dump_into(|_, _| n += 1)?;
        }
        Ok(n + self.netns.bare_dump(&self.scope, self.detail))
    }

    /// The socket table into `sockets` (no pids yet).
    pub fn dump(&mut self, sockets: &mut Vec<Socket>) -> Result<(), SourceError> {
        let mut bound = std::mem::take(&mut self.bound);
        bound.clear();
        let mut keep = |s: Socket, ifindex: u32| {
            if let (Some(i), true) = (s.inode, ifindex != 0) {
                bound.insert(i, ifindex);
            }
            sockets.push(s)
        };
        let r = if self.netns.own_wanted() {
            self.dump_into(&mut keep)
        } else {
            Ok(())
        };
        // Every other namespace, on its own socket.
        self.netns.dump(&self.scope, self.detail, keep);
        self.bound = bound;
        r
    }

    /// The per-connection detail of the TCP connections of `sockets` whose
    /// (namespace tag, inode) is in `want`, by one exact request each (after
    /// a dump without it): the rows a view shows, not the whole table.
    pub fn detail_of(&mut self, sockets: &mut [Socket], want: &rustc_hash::FxHashSet<(u64, u64)>) {
        use crate::model::{Proto, SockState};
        let own = self.netns.own_wanted().then(|| self.netns.own_tag());
        for s in sockets.iter_mut() {
            let Some(inode) = s.inode.filter(|i| *i != 0) else {
                continue;
            };
            if s.proto != Proto::Tcp
                || matches!(s.state, SockState::Listen | SockState::TimeWait)
                || !want.contains(&(s.netns, inode))
            {
                continue;
            }
            let ifindex = self.bound.get(&inode).copied().unwrap_or(0);
            let diag = if own == Some(s.netns) {
                self.diag.as_mut()
            } else {
                self.netns.diag_for(s.netns)
            };
            if let Some(Ok(Some(c))) = diag.map(|d| d.info_now(s, ifindex)) {
                s.conn = Some(c);
            }
        }
    }

    /// Brings the inode -> pid cache up to date for `sockets`.
    pub fn attribute(
        &mut self,
        sockets: &[Socket],
        procs: &mut ProcessTable,
    ) -> Result<(), SourceError> {
        if self.lazy {
            return Ok(());
        }
        let mut live = InodeSet::default();
        live.reserve(sockets.len());
        live.extend(sockets.iter().filter_map(|s| s.inode));
        // Asked only for sockets no process was found holding: one kernel
        // lookup each instead of a walk of every process.
        let (diag, bound, netns) = (&mut self.diag, &self.bound, &mut self.netns);
        let still_open = |unknown: &InodeSet| {
            let mut open = match diag.as_mut() {
                Some(d) => d.still_open(sockets, unknown, bound),
                None => unknown.clone(),
            };
            open.extend(netns.still_open(sockets, unknown, bound));
            open
        };
        self.attrib
            .refresh(live, still_open)
            .map_err(SourceError::Proc)?;
        procs.forget(&self.attrib.replaced);
        Ok(())
    }

    /// The pids holding `s` (from the attribution cache), if it has an inode.
    pub fn owners(&self, s: &Socket) -> Option<&[u32]> {
        s.inode
            .filter(|_| !self.lazy)
            .map(|i| self.attrib.owners(i))
    }

    /// The pids alive at the last attribution.
    pub fn alive(&self, _wanted: &[u32]) -> HashSet<u32> {
        self.attrib.live_pids().collect()
    }

    /// Whether some open sockets show no process because their owners are
    /// hidden from us (the `partial` of the snapshot, which the one-time note
    /// reports). Without root: other users' sockets, whose processes' fd
    /// directories are unreadable, or invisible under `hidepid=2` (proc(5)). As
    /// root: only outside the initial PID namespace, whose processes are not in
    /// our /proc. Sockets closed since the dump, and sockets no process holds
    /// (kernel sockets, in the initial namespace), hide nothing; TIME-WAIT has
    /// no inode and no owner. Lazy: what can be told without a walk
    /// (`attribute_named` adds the sockets it is asked about).
    pub fn partial(&self, sockets: &[Socket]) -> bool {
        if self.lazy {
            return owners::others_hidden(sockets);
        }
        owners_hidden(sockets.iter(), &self.attrib.closed_since_dump)
    }
}

/// `Backend::partial` over some sockets, `closed`: those closed since the dump.
fn owners_hidden<'a>(sockets: impl Iterator<Item = &'a Socket>, closed: &InodeSet) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let mut orphans = sockets
        .filter(|s| s.pids.is_empty() && s.inode.is_some_and(|i| i != 0 && !closed.contains(&i)));
    if euid == 0 {
        orphans.next().is_some() && !in_initial_pid_ns()
    } else {
        orphans.any(|s| s.uid.is_some_and(|u| u != euid))
    }
}

/// The kernel's TCP counters of our namespace.
pub fn counters() -> Option<KernelCounters> {
    super::super::counters::read(std::path::Path::new("/proc/net"))
}

/// netstat2's TCP and UDP table, IPv4 and IPv6, without pids: on Linux only the
/// benchmark's reference row reads it.
pub fn netstat2_dump(
) -> Result<impl Iterator<Item = Result<netstat2::SocketInfo, netstat2::error::Error>>, SourceError>
{
    let af = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
    let pf = ProtocolFlags::TCP | ProtocolFlags::UDP;
    netstat2::iterate_sockets_info_without_pids(af, pf)
        .map_err(|e| SourceError::Netlink(e.to_string()))
}
