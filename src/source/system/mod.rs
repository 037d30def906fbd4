//! The live system: one face (`SystemSource`, the `SocketSource` impl) over one
//! backend per OS, as bottom's `data_harvester/disks/{linux,macos,windows}.rs`
//! and bandwhich's `os/` do: `linux.rs` is our own sock_diag dump (`diag`) plus
//! our incremental attribution (`attrib`); `other.rs` is netstat2's table with
//! its pids. This file holds what every OS shares: the range, the process table
//! (`procs`), user names, and the snapshot's assembly. Each backend has the same
//! methods (`Backend::new`, `scoped`, `lazy`, `attribute_named`, `attrib_stats`, `cached_pids`, `bare_dump`,
//! `dump`, `attribute`, `owners`, `alive`, `counters`, `partial`), so this file
//! has no `cfg` but the one that picks the backend.

use super::procs::ProcessTable;
use super::{host_name, now_ms, RangeConfig, SocketSource, SourceError};
use crate::model::{PortRange, Snapshot};
use std::collections::BTreeMap;

#[cfg(target_os = "linux")]
#[path = "linux.rs"]
mod os;
#[cfg(not(target_os = "linux"))]
#[path = "other.rs"]
mod os;

pub struct SystemSource {
    range_cfg: RangeConfig,
    last_range: Option<PortRange>,
    /// The OS's socket table and attribution.
    os: os::Backend,
    procs: ProcessTable,
    host: String,
    /// Sockets in the last snapshot (the next one's starting capacity).
    last_len: usize,
    /// What the dump asks for beyond the header, and the rates kept from the
    /// last refresh.
    detail: crate::model::Detail,
    /// Of which sockets a view shows that detail (all unless told).
    shown: crate::model::conn::Shown,
    rates: super::rates::RateTracker,
}

impl SystemSource {
    pub fn new(range_cfg: RangeConfig) -> Self {
        SystemSource {
            range_cfg,
            last_range: None,
            os: os::Backend::new(),
            procs: ProcessTable::new(),
            host: host_name(),
            last_len: 0,
            detail: Default::default(),
            shown: crate::model::conn::Shown::All,
            rates: Default::default(),
        }
    }

    /// Asks the kernel for each connection's queues, timer, tcp_info and
    /// socket memory (`Detail::Info`), for views and commands that show them.
    pub fn with_detail(mut self, detail: crate::model::Detail) -> Self {
        self.detail = detail;
        self.os.detail(detail);
        self
    }

    /// Asks the OS only for sockets `f` can match by protocol, family and state
    /// (Linux; elsewhere the whole table is read and filtered after). For
    /// one-shot commands that show only what the filter passes.
    pub fn scoped(mut self, f: &crate::filter::Filter) -> Self {
        self.os.scoped(f);
        self
    }

    /// Reads the network namespaces `select` names (Linux; elsewhere there is
    /// one).
    pub fn with_netns(mut self, select: super::NetnsSelect) -> Self {
        self.os.netns(select, self.range_cfg.clone());
        self
    }

    /// Snapshots without owners: `attribute` finds them for the sockets a
    /// command will name (Linux; elsewhere netstat2 gives them anyway). For
    /// one-shot commands, which then walk `/proc` only when they name a process.
    pub fn lazy(mut self) -> Self {
        self.os.lazy();
        self
    }

    /// Chooses how a lazy source finds owners (`owners::Walk`; off Linux
    /// netstat2 gives them and this changes nothing).
    pub fn walk(mut self, w: super::owners::Walk) -> Self {
        self.os.set_walk(w);
        self
    }

    /// The walk the last `attribute` took (None: none yet, or off Linux).
    pub fn walked(&self) -> Option<super::owners::Walked> {
        self.os.walked()
    }

    /// What the last refresh's attribution did (all zero off Linux).
    pub fn attrib_stats(&self) -> super::attrib::AttribStats {
        self.os.attrib_stats()
    }

    /// Pids the attribution cache holds (Linux; empty elsewhere): every live
    /// process, so exited ones must not show up here.
    pub fn cached_pids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        self.os.cached_pids()
    }

    /// The floor every refresh pays: the socket dump alone, no conversion, no
    /// attribution; returns the number of records. For benchmarks.
    pub fn bare_dump(&mut self) -> Result<usize, SourceError> {
        self.os.bare_dump()
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

impl SocketSource for SystemSource {
    fn take_note(&mut self) -> Option<String> {
        self.os.take_note()
    }

    fn show_detail(&mut self, shown: &crate::model::conn::Shown) {
        self.shown = shown.clone();
    }

    fn attribute(
        &mut self,
        snap: &mut Snapshot,
        inodes: &super::attrib::InodeSet,
        reach: super::Reach,
    ) -> Result<(), SourceError> {
        self.os
            .attribute_named(snap, inodes, reach, &mut self.procs)
    }

    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        self.os.refresh_netns()?;
        let own_range = self.range()?;
        let taken_at_ms = now_ms();
        // Room for as many as last time and some growth: no re-copying of a
        // 40,000-entry table while it fills.
        let mut sockets = Vec::with_capacity(self.last_len + self.last_len / 8);
        use crate::model::{conn::Shown, Detail};
        // The whole table's detail only where a view shows all of it; else a
        // dump without it, and exact requests for the rows shown.
        let all = self.detail == Detail::Info && self.shown == Shown::All;
        self.os
            .detail(if all { Detail::Info } else { Detail::Bare });
        self.os.dump(&mut sockets)?;
        self.last_len = sockets.len();
        if let (Detail::Info, Shown::Rows(v)) = (self.detail, &self.shown) {
            let want: rustc_hash::FxHashSet<(u64, u64)> = v.iter().copied().collect();
            self.os.detail_of(&mut sockets, &want);
        }
        if self.detail == Detail::Info {
            self.rates.update(&mut sockets, taken_at_ms);
        }
        self.os.attribute(&sockets, &mut self.procs)?;

        // One pass: owners (where the backend attributes), user names, and the
        // set of pids to describe. Consecutive sockets mostly share owner and
        // uid, so both are looked up only when they change.
        let mut wanted = rustc_hash::FxHashSet::default();
        let users = self.procs.users();
        let mut last_user: Option<(u32, std::sync::Arc<str>)> = None;
        let mut last_pid = None;
        for s in sockets.iter_mut() {
            if let Some(owners) = self.os.owners(s) {
                s.pids = crate::model::Pids::from_slice(owners);
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
        let alive = self.os.alive(&wanted);
        let processes: BTreeMap<_, _> = self
            .procs
            .resolve(&wanted, &|p| alive.contains(&p))
            .into_iter()
            .collect();
        let (range, counters, netns) = self.os.namespaces(own_range, os::counters());
        // A pid that exited (or became a zombie) before its details were read
        // holds nothing any more: it loses the attribution instead of showing
        // as a process without name, user or command line.
        for s in sockets.iter_mut() {
            if s.pids.iter().any(|p| !processes.contains_key(p)) {
                s.pids.retain(|p| processes.contains_key(p));
            }
        }
        let partial = self.os.partial(&sockets);
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

/// netstat2's dump, counted: the benchmark's reference row, what the refresh
/// cost before `diag` replaced it on Linux.
pub fn netstat2_bare_dump() -> Result<usize, SourceError> {
    os::netstat2_dump()?.try_fold(0, |n, si| {
        si.map(|_| n + 1)
            .map_err(|e| SourceError::Netlink(e.to_string()))
    })
}

/// The off-Linux backend, also built and run by the tests on Linux (netstat2
/// reads /proc here): CI runs on Linux only, and a change to the face must not
/// break the other backend unseen.
#[cfg(all(test, target_os = "linux"))]
#[path = "other.rs"]
mod other;

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use crate::model::{Proto, SockState};

    #[test]
    fn asked_for_the_rows_shown_the_kernel_gives_tcp_info_for_those_alone() {
        use super::SocketSource;
        use crate::model::conn::Shown;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let b = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (pa, pb) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        let mut src = super::SystemSource::new(Default::default())
            .with_netns(crate::source::NetnsSelect::Own)
            .with_detail(crate::model::Detail::Info);
        let find = |snap: &crate::model::Snapshot, port: u16| {
            snap.sockets
                .iter()
                .find(|s| s.proto == Proto::Tcp && s.local.port == port)
                .cloned()
                .expect("our connection")
        };
        // Unless told, every connection's (list --info, serve, bench).
        let snap = src.snapshot().unwrap();
        let (sa, sb) = (find(&snap, pa), find(&snap, pb));
        assert!(sa.conn.as_ref().and_then(|c| c.tcp).is_some(), "{sa:?}");
        assert!(sb.conn.as_ref().and_then(|c| c.tcp).is_some(), "{sb:?}");
        // Only a's row is shown: one exact request for it, none for b.
        src.show_detail(&Shown::Rows(vec![(sa.netns, sa.inode.unwrap())]));
        let snap = src.snapshot().unwrap();
        let (na, nb) = (find(&snap, pa), find(&snap, pb));
        let info = na.conn.as_ref().and_then(|c| c.tcp).expect("a's tcp_info");
        assert!(info.bytes_acked >= 1, "{info:?}");
        assert_eq!(nb.conn, None, "b is not shown");
        src.show_detail(&Shown::Nothing);
        let snap = src.snapshot().unwrap();
        assert_eq!(find(&snap, pa).conn, None);
        drop((a, b, l));
    }

    #[test]
    fn the_other_os_backend_builds_and_lists_a_listener_with_its_pid() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut b = super::other::Backend::new();
        let mut v = Vec::new();
        b.dump(&mut v).unwrap();
        let s = v
            .iter()
            .find(|s| s.proto == Proto::Tcp && s.local.port == port)
            .expect("the listener");
        assert_eq!(s.state, SockState::Listen);
        assert!(s.pids.contains(&std::process::id()), "{s:?}");
        assert!(b.bare_dump().unwrap() >= 1);
        // the rest of the face: no attribution cache, nothing hidden, no counters
        let mut procs = crate::source::procs::ProcessTable::new();
        b.attribute(&v, &mut procs).unwrap();
        assert_eq!(b.owners(s), None);
        assert!(b.alive(&[1, 2]).contains(&2));
        assert!(!b.partial(&v));
        assert_eq!(b.cached_pids().count(), 0);
        assert_eq!(b.attrib_stats(), Default::default());
        assert!(super::other::counters().is_none());
        b.scoped(&crate::filter::Filter::default());
        b.detail(crate::model::Detail::Info);
        b.detail_of(&mut v.clone(), &Default::default());
        // one namespace there: the own range and counters, nothing listed
        b.netns(Default::default(), Default::default());
        b.refresh_netns().unwrap();
        let r = crate::model::PortRange::linux_default();
        assert_eq!(b.namespaces(r.clone(), None), (r, None, Vec::new()));
        assert_eq!(b.take_note(), None);
        // lazy changes nothing where every socket comes with its pids
        b.lazy();
        b.set_walk(crate::source::owners::Walk::Bpf);
        assert_eq!(b.walked(), None);
        let range = crate::model::PortRange::new(32768, 60999, vec![], "test");
        let mut snap = crate::testkit::snap(0, range, v.clone());
        b.attribute_named(
            &mut snap,
            &Default::default(),
            crate::source::Reach::Every,
            &mut procs,
        )
        .unwrap();
        assert_eq!(snap.sockets, v);
    }
}
