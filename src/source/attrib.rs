//! Socket inode -> pid attribution on Linux, incremental across refreshes.
//!
//! `ss -p` and netstat2 read every `/proc/<pid>/fd/*` link on every call. Here the
//! result is cached: pid -> (fd -> socket inode) and inode -> pids. A refresh
//! 1. lists `/proc` and forgets pids that vanished;
//! 2. fully scans pids that appeared (a new process may hold new or inherited sockets);
//! 3. if some live inode is still unknown, *probes* the processes that already own
//!    sockets: it reads single links where a new socket most likely sits: fds whose
//!    cached socket has closed (the kernel hands out the lowest free number, so a
//!    freed number is reused first), fd numbers found free on an earlier probe, and
//!    the numbers just above the highest known fd (numbers found free on the way
//!    up are kept as candidates). Listing a directory of 20,000 fds
//!    (getdents) costs about as much as the whole netlink dump; a readlink costs
//!    microseconds. Candidates are read in fd order and probing stops as soon as
//!    every unknown inode is found; the candidates not read stay candidates;
//! 4. if something is still unknown, re-lists the fd directories of socket owners
//!    (reading links only for fd numbers not cached or whose socket closed);
//! 5. asks the kernel (`still_open`, an exact sock_diag lookup) whether what is
//!    still unknown exists: a connection opened and closed between the dump and
//!    now leaves nothing in /proc, and on a busy server every refresh has some;
//!    for what does, re-reads socket owners' fds cached with a socket the dump
//!    does not show (an AF_UNIX socket's number may now hold a TCP one), then
//!    walks every readable process that owns no socket yet (a full walk);
//! 6. what that walk cannot find is remembered as unattributable (kernel sockets,
//!    sockets of processes we may not read) so it does not trigger a walk every refresh.
//!
//! The dump is not atomic: a socket closed while it ran may be reported open, and a
//! new socket opened on its fd number in the same window is then found by no probe
//! (its fd still looks taken). It is found in the next refresh, when the old one
//! is known closed; this refresh pays a full walk for it.
//!
//! Directories we may not read (other users' processes without root) are marked and
//! never re-read while the pid lives. Every `VERIFY_EVERY`th refresh step 4 runs for
//! socket owners whose fd count (`stat` of the fd directory, Linux >= 6.2) changed
//! since their last listing (all of them on kernels that report no count), so a
//! parent that handed a socket to a child and closed its copy loses it soon.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A set of socket inodes (FxHash: inodes are small integers, and these sets
/// hold every live socket, so SipHash would cost milliseconds per refresh).
pub type InodeSet = HashSet<u64>;

/// Refreshes between forced incremental re-reads of socket owners.
const VERIFY_EVERY: u64 = 10;

#[derive(Default)]
struct PidEntry {
    /// fd number -> socket inode, for the fds that are sockets.
    fds: HashMap<u32, u64>,
    /// Free fd numbers below `max_fd` (gaps at the last listing, fds found closed
    /// since): where the next new fds land, as the kernel hands out the lowest.
    holes: Vec<u32>,
    /// fd numbers that are not sockets (files, pipes): one may close and its number
    /// be reused by a socket.
    others: Vec<u32>,
    /// True when `holes` or `others` was cut at `MAX_HOLES`: probing cannot be
    /// exhaustive, relist instead.
    overflow: bool,
    /// The highest fd number seen in a listing or probe.
    max_fd: u32,
    /// Number of fds at the last listing (for the periodic verification).
    listed: u64,
    /// false when `/proc/<pid>/fd` could not be read (EACCES): not retried while
    /// the process keeps its identity.
    readable: bool,
    /// Who the process is when first seen: a pid reused by a new process, a
    /// process that changed user (setuid exec) or that called exec (new comm),
    /// is treated as gone and new.
    ident: Option<Ident>,
}

/// Free and non-socket fd numbers remembered per process for probing.
const MAX_HOLES: usize = 4096;
/// Consecutive free numbers above the highest fd after which a probe gives up.
const PROBE_ABOVE: u32 = 8;

/// Counters of the work one refresh did; used by tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttribStats {
    pub pids_seen: usize,
    pub pids_new: usize,
    pub pids_unreadable: usize,
    pub links_read: usize,
    /// Single links read by probing (step 3).
    pub probes: usize,
    /// fd directories listed (getdents) this refresh.
    pub dirs_listed: usize,
    pub full_walk: bool,
    pub unattributed: usize,
    /// Unknown sockets the kernel no longer had when looked up (closed since
    /// the dump): no walk for them.
    pub closed_meanwhile: usize,
}

/// The cache behind attribution. One lives as long as the `SystemSource`.
pub struct Attributor {
    proc_root: PathBuf,
    pids: HashMap<u32, PidEntry>,
    owners: HashMap<u64, crate::model::Pids>,
    unattributable: HashSet<u64>,
    /// The live (TCP/UDP) inodes of the last refresh, to tell which closed since.
    prev_live: HashSet<u64>,
    /// Cached sockets that were live once and have closed since, while an fd in
    /// the cache still points at them: those fds are where new sockets most likely
    /// sit (the kernel hands out the lowest free number). Kept until the fd is
    /// read again, however many refreshes that takes. AF_UNIX and netlink sockets
    /// are never live, so never here and never probe candidates.
    closed: HashSet<u64>,
    /// Pids found reused (or changed owner) in the last refresh: callers drop what
    /// they cached for them (process names).
    pub replaced: Vec<u32>,
    /// Sockets of the last refresh's dump that nobody was found holding and
    /// that the kernel no longer had when asked (closed meanwhile): their lack
    /// of a process hides nothing.
    pub closed_since_dump: InodeSet,
    refreshes: u64,
    pub last: AttribStats,
    /// An fd directory could not be listed for want of file descriptors.
    fd_error: Option<std::io::Error>,
}

impl Default for Attributor {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl Attributor {
    pub fn new(proc_root: impl Into<PathBuf>) -> Self {
        Attributor {
            proc_root: proc_root.into(),
            pids: HashMap::default(),
            owners: HashMap::default(),
            unattributable: HashSet::default(),
            prev_live: HashSet::default(),
            closed: HashSet::default(),
            replaced: Vec::new(),
            closed_since_dump: InodeSet::default(),
            refreshes: 0,
            last: AttribStats::default(),
            fd_error: None,
        }
    }

    /// Pids currently known to exist (as of the last refresh).
    pub fn live_pids(&self) -> impl Iterator<Item = u32> + '_ {
        self.pids.keys().copied()
    }

    /// Number of pids whose fd directory could not be read.
    pub fn unreadable_pids(&self) -> usize {
        self.pids.values().filter(|e| !e.readable).count()
    }

    /// Owners of a socket inode, ascending (empty when unknown).
    pub fn owners(&self, inode: u64) -> &[u32] {
        self.owners.get(&inode).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// Brings the cache up to date for the given live socket inodes.
    /// Errors only when `/proc` itself cannot be listed.
    /// `still_open(inodes)` returns those of the given sockets of the dump that
    /// still exist (kernel lookups); it is asked only about sockets no process
    /// was found holding, before the full walk: a connection opened and closed
    /// again since the dump leaves nothing in /proc to find, and on a busy server
    /// every refresh has some.
    pub fn refresh(
        &mut self,
        live: InodeSet,
        still_open: impl FnOnce(&InodeSet) -> InodeSet,
    ) -> std::io::Result<()> {
        self.update(&live, still_open)?;
        self.prev_live = live;
        Ok(())
    }

    fn update(
        &mut self,
        live: &InodeSet,
        still_open: impl FnOnce(&InodeSet) -> InodeSet,
    ) -> std::io::Result<()> {
        self.refreshes += 1;
        let mut stats = AttribStats::default();
        let current = list_pids(&self.proc_root)?;
        stats.pids_seen = current.len();

        // 1. forget vanished pids, and pids now used by another process (or whose
        //    process changed user): checked for socket owners and unreadable ones,
        //    where a stale entry would attribute wrongly or hide forever.
        self.replaced.clear();
        let root = &self.proc_root;
        let reused: Vec<u32> = self
            .pids
            .iter()
            .filter(|(p, e)| {
                current.contains(p)
                    && (!e.readable || !e.fds.is_empty())
                    && e.ident.is_some()
                    && identity(root, **p) != e.ident
            })
            .map(|(p, _)| *p)
            .collect();
        self.replaced.extend(reused.iter().copied());
        let gone: Vec<u32> = self
            .pids
            .keys()
            .filter(|p| !current.contains(p))
            .copied()
            .chain(reused)
            .collect();
        for pid in gone {
            if let Some(e) = self.pids.remove(&pid) {
                for inode in e.fds.values() {
                    self.remove_owner(*inode, pid);
                }
            }
        }
        self.unattributable.retain(|i| live.contains(i));
        // Sockets closed since the last refresh whose fds the cache still holds
        // (probe candidates until read; see `closed`).
        for i in &self.prev_live {
            if !live.contains(i) && self.owners.contains_key(i) {
                self.closed.insert(*i);
            }
        }
        let cached = &self.owners;
        self.closed
            .retain(|i| cached.contains_key(i) && !live.contains(i));

        // 2. scan new pids fully.
        let new: Vec<u32> = current
            .iter()
            .filter(|p| !self.pids.contains_key(p))
            .copied()
            .collect();
        stats.pids_new = new.len();
        for pid in &new {
            self.rescan(*pid, None, &mut stats);
        }
        // No reset of `unattributable` here: the full scan of the new pids above
        // already placed whatever they hold, and kernel sockets (NFS, WireGuard)
        // or other users' would otherwise cost a walk on every refresh in which
        // any process starts.

        let mut unknown: HashSet<u64> = live
            .iter()
            .filter(|i| !self.owners.contains_key(i) && !self.unattributable.contains(i))
            .copied()
            .collect();
        let owners: Vec<u32> = self
            .pids
            .iter()
            .filter(|(_, e)| e.readable && !e.fds.is_empty())
            .map(|(p, _)| *p)
            .collect();

        // 3. probe socket owners where new sockets land.
        for pid in &owners {
            if unknown.is_empty() {
                break;
            }
            self.probe(*pid, &mut unknown, &mut stats, None);
        }

        // 4. re-list socket owners whose probe could not be exhaustive, and now and
        // then those whose fd count changed.
        let verify = self.refreshes.is_multiple_of(VERIFY_EVERY);
        if !unknown.is_empty() || verify {
            for pid in &owners {
                // A probe looked at every fd number that could hold a new socket
                // unless the candidate lists overflowed.
                let needed = if unknown.is_empty() {
                    verify && self.fd_count_changed(*pid)
                } else {
                    self.pids[pid].overflow || (verify && self.fd_count_changed(*pid))
                };
                if !needed {
                    continue;
                }
                self.rescan(*pid, Some(live), &mut stats);
                self.pids[pid].fds.values().for_each(|i| {
                    unknown.remove(i);
                });
            }
        }

        // 5. for what is still unknown and still open: the socket owners' fds
        //    cached with a socket not in the dump, then a full walk of the
        //    processes that own no socket yet.
        self.closed_since_dump.clear();
        if !unknown.is_empty() {
            let open = still_open(&unknown);
            stats.closed_meanwhile = unknown.len().saturating_sub(open.len());
            for i in unknown.iter().filter(|i| !open.contains(i)) {
                self.closed_since_dump.insert(*i);
            }
            unknown.retain(|i| open.contains(i));
        }
        for pid in &owners {
            if unknown.is_empty() {
                break;
            }
            self.probe(*pid, &mut unknown, &mut stats, Some(live));
        }
        if !unknown.is_empty() {
            stats.full_walk = true;
            let rest: Vec<u32> = self
                .pids
                .iter()
                .filter(|(_, e)| e.readable && e.fds.is_empty())
                .map(|(p, _)| *p)
                .collect();
            for pid in rest {
                self.rescan(pid, None, &mut stats);
            }
            // 6. remember what nobody we can see holds.
            for i in live {
                if !self.owners.contains_key(i) {
                    self.unattributable.insert(*i);
                }
            }
        }
        // Owner entries live as long as some fd refers to them (rescan and pid
        // removal keep that true); the unattributed count feeds `partial`.
        stats.unattributed = live.iter().filter(|i| !self.owners.contains_key(i)).count();
        stats.pids_unreadable = self.unreadable_pids();
        self.last = stats;
        match self.fd_error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn remove_owner(&mut self, inode: u64, pid: u32) {
        if let Some(v) = self.owners.get_mut(&inode) {
            v.retain(|p| *p != pid);
            if v.is_empty() {
                self.owners.remove(&inode);
            }
        }
    }

    fn add_owner(&mut self, inode: u64, pid: u32) {
        let v = self.owners.entry(inode).or_default();
        if let Err(pos) = v.binary_search(&pid) {
            v.insert(pos, pid);
        }
    }

    /// True when the number of fds the kernel reports for `pid` differs from the
    /// last listing, or the kernel reports none (then we cannot tell).
    fn fd_count_changed(&self, pid: u32) -> bool {
        let dir = self.proc_root.join(pid.to_string()).join("fd");
        match fs::metadata(&dir) {
            Ok(m) if m.len() > 0 => self.pids.get(&pid).is_none_or(|e| e.listed != m.len()),
            _ => true,
        }
    }

    /// Step 3 for one process: reads single fd links where new sockets can be
    /// (closed sockets' numbers, holes, non-socket fds, just above the highest fd)
    /// until `unknown` is empty or the candidates run out.
    fn probe(
        &mut self,
        pid: u32,
        unknown: &mut HashSet<u64>,
        stats: &mut AttribStats,
        stale: Option<&InodeSet>,
    ) {
        let Some(e) = self.pids.get_mut(&pid) else {
            return;
        };
        let closed = &self.closed;
        let mut cands: Vec<u32> = match stale {
            // Second pass: cached fds whose socket the dump does not show (never
            // live: AF_UNIX, netlink, unbound; or held but gone from the tables),
            // which a new socket may have replaced on the same number.
            Some(live) => e
                .fds
                .iter()
                .filter(|(_, i)| !live.contains(i) && !closed.contains(i))
                .map(|(fd, _)| *fd)
                .collect(),
            None => {
                let mut c: Vec<u32> = e
                    .fds
                    .iter()
                    .filter(|(_, i)| closed.contains(i))
                    .map(|(fd, _)| *fd)
                    .collect();
                c.append(&mut e.holes);
                c.append(&mut e.others);
                c
            }
        };
        cands.sort_unstable();
        cands.dedup();
        let mut path = self.proc_root.join(pid.to_string()).join("fd");
        let mut read = |fd: u32, stats: &mut AttribStats| {
            path.push(fd.to_string());
            stats.probes += 1;
            let r = fs::read_link(&path)
                .ok()
                .map(|t| t.to_str().and_then(parse_socket_link));
            path.pop();
            r // None: no such fd; Some(None): not a socket; Some(Some(i)): socket i
        };
        let mut idx = 0;
        let mut misses_above = 0;
        while idx < cands.len() || misses_above < PROBE_ABOVE {
            let e = self.pids.get_mut(&pid).expect("probed pid exists");
            if unknown.is_empty() {
                // Put back the candidates not looked at (those still cached with a
                // closed socket stay candidates through `closed`).
                for fd in cands.drain(idx..) {
                    if !e.fds.contains_key(&fd) {
                        e.holes.push(fd);
                    }
                }
                e.overflow |= e.holes.len() > MAX_HOLES;
                break;
            }
            let (fd, above) = if idx < cands.len() {
                idx += 1;
                (cands[idx - 1], false)
            } else {
                (e.max_fd + 1 + misses_above, true)
            };
            let r = read(fd, stats);
            let e = self.pids.get_mut(&pid).expect("probed pid exists");
            let old = e.fds.remove(&fd);
            let now = r.flatten();
            match r {
                None if above => misses_above += 1,
                None => e.holes.push(fd),
                Some(None) => e.others.push(fd),
                Some(Some(i)) => {
                    e.fds.insert(fd, i);
                }
            }
            if above && r.is_some() {
                // The numbers skipped on the way up are free: where the next
                // sockets will go.
                e.holes.extend(e.max_fd + 1..fd);
                e.max_fd = fd;
                misses_above = 0;
            }
            if e.holes.len() > MAX_HOLES || e.others.len() > MAX_HOLES {
                e.overflow = true;
            }
            if old == now {
                // Still held, only gone from the kernel's tables (reset, or
                // disconnected): no longer a closed socket's fd.
                if let Some(o) = old {
                    self.closed.remove(&o);
                }
            } else {
                if let Some(o) = old {
                    if !e.fds.values().any(|x| *x == o) {
                        self.remove_owner(o, pid);
                    }
                }
                if let Some(n) = now {
                    self.add_owner(n, pid);
                    unknown.remove(&n);
                }
            }
        }
    }

    /// Lists `/proc/<pid>/fd`. With `live` (incremental), links are read only for fd
    /// numbers not cached or whose cached socket is no longer live; without, all.
    /// fds that disappeared are dropped either way.
    fn rescan(&mut self, pid: u32, live: Option<&InodeSet>, stats: &mut AttribStats) {
        let dir = self.proc_root.join(pid.to_string()).join("fd");
        stats.dirs_listed += 1;
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(err) if matches!(err.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                // Out of file descriptors: nothing is known about this process;
                // the refresh fails rather than drop its sockets' owners.
                self.fd_error.get_or_insert(err);
                return;
            }
            Err(err) => {
                let ident = identity(&self.proc_root, pid);
                let entry = self.pids.entry(pid).or_default();
                // EACCES: another user's process: not retried while it lives as
                // the same process, and counted as unreadable (the note that
                // processes are hidden). Anything else (ENOENT): it just exited,
                // which hides nothing; the next listing forgets it.
                entry.readable = err.kind() != std::io::ErrorKind::PermissionDenied;
                entry.ident = ident;
                let old: Vec<u64> = entry.fds.drain().map(|(_, i)| i).collect();
                for i in old {
                    self.remove_owner(i, pid);
                }
                return;
            }
        };
        let prev = self.pids.remove(&pid).unwrap_or_default();
        // Who it is now: a process that held no socket is not checked for reuse
        // or exec each refresh, so it may have become another since it was
        // first seen; then callers drop its cached details (`replaced`).
        let ident = identity(&self.proc_root, pid);
        if prev.ident.is_some() && ident.is_some() && prev.ident != ident {
            self.replaced.push(pid);
        }
        let ident = ident.or(prev.ident);
        let mut old = prev.fds;
        let mut fds: HashMap<u32, u64> =
            HashMap::with_capacity_and_hasher(old.len(), Default::default());
        let (mut max_fd, mut listed) = (0, 0);
        let mut others = Vec::new();
        let mut present = Vec::with_capacity(old.len() + 16);
        let mut path = dir;
        let mut denied = false;
        for ent in rd.flatten() {
            let name = ent.file_name();
            let Some(fd) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            max_fd = max_fd.max(fd);
            listed += 1;
            present.push(fd);
            if let Some(live) = live {
                if let Some(inode) = old.get(&fd).copied().filter(|i| live.contains(i)) {
                    old.remove(&fd);
                    fds.insert(fd, inode);
                    continue;
                }
            }
            stats.links_read += 1;
            path.push(&name);
            match read_socket_link(&path) {
                Link::Socket(inode) => {
                    fds.insert(fd, inode);
                }
                Link::Other => others.push(fd),
                Link::Denied => {
                    denied = true;
                    break;
                }
            }
            path.pop();
        }
        if denied {
            // The directory lists (CAP_DAC_READ_SEARCH) but its links do not
            // (readlink needs ptrace access: CAP_SYS_PTRACE): as unreadable as a
            // directory that does not list.
            let held: HashSet<u64> = old.values().chain(fds.values()).copied().collect();
            for i in held {
                self.remove_owner(i, pid);
            }
            self.pids.insert(
                pid,
                PidEntry {
                    readable: false,
                    ident,
                    ..PidEntry::default()
                },
            );
            return;
        }
        // `old` now holds fds that are gone or were re-read (all of them without
        // `live`): drop this pid from inodes it no longer holds, then add what it holds.
        let now: HashSet<u64> = fds.values().copied().collect();
        let before: HashSet<u64> = old.values().copied().collect();
        for i in before.difference(&now) {
            self.remove_owner(*i, pid);
        }
        for i in &now {
            self.add_owner(*i, pid);
        }
        present.sort_unstable();
        let mut holes = Vec::new();
        let mut next = 0;
        for fd in present {
            let room = (MAX_HOLES + 1).saturating_sub(holes.len());
            holes.extend((next..fd).take(room));
            next = fd + 1;
        }
        let overflow = holes.len() > MAX_HOLES || others.len() > MAX_HOLES;
        self.pids.insert(
            pid,
            PidEntry {
                fds,
                holes,
                others,
                overflow,
                max_fd,
                listed,
                readable: true,
                ident,
            },
        );
    }
}

/// What tells a process from a later one with the same pid, and from what it
/// became by exec: start time (clock ticks since boot), owner uid, and comm
/// (the kernel sets it to the new program's file name on exec; exec(3) keeps
/// pid and start time, so without it `serve` and the dashboard kept the old
/// name while `ss` showed the new one). A process that renames itself
/// (prctl PR_SET_NAME) is also re-read, which shows the new name too.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ident {
    start: u64,
    uid: u32,
    comm: Box<str>,
}

/// The identity of a process; None when unreadable.
fn identity(root: &Path, pid: u32) -> Option<Ident> {
    use std::os::unix::fs::MetadataExt;
    let dir = root.join(pid.to_string());
    let uid = fs::metadata(&dir).ok()?.uid();
    let stat = fs::read_to_string(dir.join("stat")).ok()?;
    let comm = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?;
    Some(Ident {
        start: parse_start_time(&stat)?,
        uid,
        comm: comm.into(),
    })
}

/// Field 22 (starttime) of `/proc/<pid>/stat`; the command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn list_pids(root: &Path) -> std::io::Result<HashSet<u32>> {
    let mut out = HashSet::default();
    for ent in fs::read_dir(root)?.flatten() {
        if let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
            out.insert(pid);
        }
    }
    Ok(out)
}

/// `socket:[12345]` -> 12345; anything else -> None.
pub fn parse_socket_link(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// What one `/proc/<pid>/fd/N` link is.
enum Link {
    Socket(u64),
    /// Not a socket, or gone meanwhile.
    Other,
    /// Not ours to read (EACCES: no ptrace access to that process).
    Denied,
}

fn read_socket_link(p: &Path) -> Link {
    match fs::read_link(p) {
        Ok(t) => t
            .to_str()
            .and_then(parse_socket_link)
            .map_or(Link::Other, Link::Socket),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Link::Denied,
        Err(_) => Link::Other,
    }
}

#[cfg(test)]
#[path = "attrib_tests.rs"]
mod tests;
