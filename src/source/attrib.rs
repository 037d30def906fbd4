//! Socket inode -> pid attribution on Linux, incremental across refreshes.
//!
//! `ss -p` and netstat2 read every `/proc/<pid>/fd/*` link on every call. Here the
//! result is cached: pid -> (fd -> socket inode) and inode -> pids. A refresh
//! 1. lists `/proc` and forgets pids that vanished;
//! 2. fully scans pids that appeared (a new process may hold new or inherited sockets);
//! 3. if some live inode is still unknown, re-reads the fd directories of processes that
//!    already own sockets, reading links only for fd numbers not seen before;
//! 4. if something is still unknown, walks every readable process (a full walk);
//! 5. what a full walk cannot find is remembered as unattributable (kernel sockets,
//!    sockets of processes we may not read) so it does not trigger a walk every refresh.
//!
//! Directories we may not read (other users' processes without root) are marked and
//! never re-read while the pid lives. Every `VERIFY_EVERY`th refresh step 3 runs for all
//! socket owners anyway, so a closed-and-reused fd number or a parent that handed a
//! socket to a child cannot keep a stale owner for long.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Refreshes between forced incremental re-reads of socket owners.
const VERIFY_EVERY: u64 = 10;

#[derive(Default)]
struct PidEntry {
    /// fd number -> socket inode, for the fds that are sockets.
    fds: HashMap<u32, u64>,
    /// false when `/proc/<pid>/fd` could not be read (EACCES): never retried.
    readable: bool,
}

/// Counters of the work one refresh did; used by tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttribStats {
    pub pids_seen: usize,
    pub pids_new: usize,
    pub pids_unreadable: usize,
    pub links_read: usize,
    pub full_walk: bool,
    pub unattributed: usize,
}

/// The cache behind attribution. One lives as long as the `SystemSource`.
pub struct Attributor {
    proc_root: PathBuf,
    pids: HashMap<u32, PidEntry>,
    owners: HashMap<u64, Vec<u32>>,
    unattributable: HashSet<u64>,
    refreshes: u64,
    pub last: AttribStats,
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
            pids: HashMap::new(),
            owners: HashMap::new(),
            unattributable: HashSet::new(),
            refreshes: 0,
            last: AttribStats::default(),
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
        self.owners.get(&inode).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Brings the cache up to date for the given live socket inodes.
    /// Errors only when `/proc` itself cannot be listed.
    pub fn refresh(&mut self, live: &HashSet<u64>) -> std::io::Result<()> {
        self.refreshes += 1;
        let mut stats = AttribStats::default();
        let current = list_pids(&self.proc_root)?;
        stats.pids_seen = current.len();

        // 1. forget vanished pids.
        let gone: Vec<u32> = self
            .pids
            .keys()
            .filter(|p| !current.contains(p))
            .copied()
            .collect();
        for pid in gone {
            if let Some(e) = self.pids.remove(&pid) {
                for inode in e.fds.values() {
                    self.remove_owner(*inode, pid);
                }
            }
        }
        self.unattributable.retain(|i| live.contains(i));

        // 2. scan new pids fully.
        let new: Vec<u32> = current
            .iter()
            .filter(|p| !self.pids.contains_key(p))
            .copied()
            .collect();
        stats.pids_new = new.len();
        for pid in &new {
            self.rescan(*pid, false, &mut stats);
        }
        if !new.is_empty() {
            // New processes may hold what we could not place before.
            self.unattributable.clear();
        }

        // 3. incremental re-read of socket owners, when something is unknown.
        let unknown = |s: &Self| {
            live.iter()
                .any(|i| !s.owners.contains_key(i) && !s.unattributable.contains(i))
        };
        if unknown(self) || self.refreshes.is_multiple_of(VERIFY_EVERY) {
            let owners: Vec<u32> = self
                .pids
                .iter()
                .filter(|(_, e)| e.readable && !e.fds.is_empty())
                .map(|(p, _)| *p)
                .collect();
            for pid in owners {
                self.rescan(pid, true, &mut stats);
            }
        }

        // 4. full walk when still unknown.
        if unknown(self) {
            stats.full_walk = true;
            let all: Vec<u32> = self
                .pids
                .iter()
                .filter(|(_, e)| e.readable)
                .map(|(p, _)| *p)
                .collect();
            for pid in all {
                self.rescan(pid, false, &mut stats);
            }
            // 5. remember what nobody we can see holds.
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
        Ok(())
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

    /// Re-reads `/proc/<pid>/fd`. With `incremental`, links are read only for fd
    /// numbers not cached; fds that disappeared are dropped either way.
    fn rescan(&mut self, pid: u32, incremental: bool, stats: &mut AttribStats) {
        let dir = self.proc_root.join(pid.to_string()).join("fd");
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(_) => {
                let entry = self.pids.entry(pid).or_default();
                // EACCES: another user's process. ENOENT: it just exited (the next
                // listing forgets it). Either way: do not retry while it lives.
                entry.readable = false;
                let old: Vec<u64> = entry.fds.drain().map(|(_, i)| i).collect();
                for i in old {
                    self.remove_owner(i, pid);
                }
                return;
            }
        };
        let mut old = self.pids.remove(&pid).unwrap_or_default().fds;
        let mut fds: HashMap<u32, u64> = HashMap::with_capacity(old.len());
        for ent in rd.flatten() {
            let name = ent.file_name();
            let Some(fd) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if incremental {
                if let Some(inode) = old.remove(&fd) {
                    fds.insert(fd, inode);
                    continue;
                }
            }
            stats.links_read += 1;
            if let Some(inode) = read_socket_link(&ent.path()) {
                fds.insert(fd, inode);
            }
        }
        // `old` now holds only fds that are gone (all of them when not incremental):
        // drop this pid from inodes it no longer holds, then add what it holds.
        let now: HashSet<u64> = fds.values().copied().collect();
        let before: HashSet<u64> = old.values().copied().collect();
        for i in before.difference(&now) {
            self.remove_owner(*i, pid);
        }
        for i in &now {
            self.add_owner(*i, pid);
        }
        self.pids.insert(
            pid,
            PidEntry {
                fds,
                readable: true,
            },
        );
    }
}

/// Numeric entries of the proc root.
fn list_pids(root: &Path) -> std::io::Result<HashSet<u32>> {
    let mut out = HashSet::new();
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

fn read_socket_link(p: &Path) -> Option<u64> {
    let target = fs::read_link(p).ok()?;
    parse_socket_link(target.to_str()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_parse_and_others_do_not() {
        assert_eq!(parse_socket_link("socket:[4242]"), Some(4242));
        assert_eq!(parse_socket_link("pipe:[4242]"), None);
        assert_eq!(parse_socket_link("socket:[]"), None);
        assert_eq!(parse_socket_link("/dev/null"), None);
        assert_eq!(parse_socket_link("socket:[12"), None);
    }

    /// A fake proc tree: /<pid>/fd/<n> symlinks pointing at `socket:[inode]`.
    fn fake_proc(layout: &[(u32, &[(u32, u64)])]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (pid, fds) in layout {
            let fd = d.path().join(pid.to_string()).join("fd");
            fs::create_dir_all(&fd).unwrap();
            for (n, inode) in *fds {
                std::os::unix::fs::symlink(format!("socket:[{inode}]"), fd.join(n.to_string()))
                    .unwrap();
            }
        }
        d
    }

    fn live(v: &[u64]) -> HashSet<u64> {
        v.iter().copied().collect()
    }

    #[test]
    fn steady_state_reads_no_links_and_new_sockets_are_found_incrementally() {
        let d = fake_proc(&[(10, &[(3, 100), (4, 101)]), (20, &[(3, 200)]), (30, &[])]);
        let mut a = Attributor::new(d.path());
        a.refresh(&live(&[100, 101, 200])).unwrap();
        assert_eq!(a.owners(100), &[10]);
        assert_eq!(a.owners(200), &[20]);
        assert_eq!(a.last.links_read, 3);

        a.refresh(&live(&[100, 101, 200])).unwrap();
        assert_eq!(a.last.links_read, 0, "warm cache reads nothing");
        assert!(!a.last.full_walk);

        // pid 20 opens a new socket on fd 5: found by the incremental re-read.
        std::os::unix::fs::symlink("socket:[201]", d.path().join("20/fd/5")).unwrap();
        a.refresh(&live(&[100, 101, 200, 201])).unwrap();
        assert_eq!(a.owners(201), &[20]);
        assert_eq!(a.last.links_read, 1);
        assert!(!a.last.full_walk);
    }

    #[test]
    fn a_new_process_is_scanned_and_a_vanished_one_forgotten() {
        let d = fake_proc(&[(10, &[(3, 100)])]);
        let mut a = Attributor::new(d.path());
        a.refresh(&live(&[100])).unwrap();
        // fork: child 11 inherits fd 3.
        let fd = d.path().join("11/fd");
        fs::create_dir_all(&fd).unwrap();
        std::os::unix::fs::symlink("socket:[100]", fd.join("3")).unwrap();
        a.refresh(&live(&[100])).unwrap();
        assert_eq!(a.owners(100), &[10, 11]);
        fs::remove_dir_all(d.path().join("10")).unwrap();
        a.refresh(&live(&[100])).unwrap();
        assert_eq!(a.owners(100), &[11]);
        assert_eq!(a.live_pids().collect::<Vec<_>>(), vec![11]);
    }

    #[test]
    fn reused_fd_number_is_caught_by_the_full_walk() {
        let d = fake_proc(&[(10, &[(3, 100)])]);
        let mut a = Attributor::new(d.path());
        a.refresh(&live(&[100])).unwrap();
        // fd 3 closed and reopened as another socket between refreshes.
        fs::remove_file(d.path().join("10/fd/3")).unwrap();
        std::os::unix::fs::symlink("socket:[300]", d.path().join("10/fd/3")).unwrap();
        a.refresh(&live(&[300])).unwrap();
        assert!(a.last.full_walk);
        assert_eq!(a.owners(300), &[10]);
        assert!(a.owners(100).is_empty());
    }

    #[test]
    fn unattributable_inodes_do_not_cause_a_walk_every_refresh() {
        let d = fake_proc(&[(10, &[(3, 100)])]);
        let mut a = Attributor::new(d.path());
        a.refresh(&live(&[100, 999])).unwrap();
        assert!(a.last.full_walk);
        assert_eq!(a.last.unattributed, 1);
        a.refresh(&live(&[100, 999])).unwrap();
        assert!(!a.last.full_walk);
        assert_eq!(a.last.links_read, 0);
    }
}
