//! One-shot attribution: which processes hold the given socket inodes, found by
//! one walk of `/proc/*/fd` that keeps only the inodes asked for. For the one-shot commands (`list`, `check`, `pool`), which
//! ask only for the sockets they will name and keep no cache; the dashboard and
//! `serve` keep the incremental [`Attributor`](super::attrib::Attributor).
//! Where a BPF program may be loaded (root), the Linux backend asks the
//! kernel's task_file iterator instead (`bpf_iter`, which returns the same
//! [`Found`]); this walk is what runs everywhere else ([`Walk`]).
//!
//! How far it walks ([`Reach`]): a socket can have many holders (a forked
//! server's workers, systemd's socket activation, SCM_RIGHTS), and no file in
//! `/proc` says how many; `ss -p` reads every link to list them all, and so
//! does `list` ([`Reach::Every`]). `check` and `pool`, whose answers name a
//! holder, stop once every wanted socket has a holder and then read the holders' parents, children and siblings
//! ([`Reach::Family`]), where a forked server's other holders are: the same
//! answer unless a socket's holders are unrelated processes (handed over
//! SCM_RIGHTS). The first 64 fd numbers of every process are read
//! before the rest of any: listeners are opened first, so a walk for them
//! mostly ends there.
//!
//! What makes a walk cheap:
//! - no directory listing where the kernel says how many fds a process has
//!   (`stat` of `/proc/<pid>/fd` reports the count as its size since Linux 6.2,
//!   "proc: report open files as size in stat() for /proc/pid/fd",
//!   `proc_fd_getattr` in fs/proc/fd.c): fd numbers are read from 0 up to that count and a slack past it;
//!   the directory is listed for the rest when fewer were found or the slack
//!   held some (fds opened meanwhile at low numbers make up the count while
//!   older ones sit above it). Listing costs about a
//!   third of reading every link again (proc allocates a dentry per entry);
//! - `readlinkat` relative to the fd directory, into a stack buffer: no path
//!   lookup of `/proc/<pid>/fd` per link and no allocation;
//! - the fd numbers of large processes are cut into chunks that the threads
//!   (one per core, at most [`MAX_THREADS`]) take in turn, so one process with
//!   10,000 sockets is walked by every core.
//!
//! The walk is not atomic (nor is `ss`'s): a socket opened during it may be
//! missed, and the caller asks the kernel whether what is missing still exists.

use super::attrib::{parse_socket_link, InodeSet};
use super::procs::ProcessTable;
use super::SourceError;
use crate::model::{Pids, Snapshot, Socket};
use rustc_hash::FxHashMap as HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// fd numbers per unit of work.
const CHUNK: u32 = 1024;
/// fd numbers of every process read before the rest of any (a walk that
/// stops when the wanted sockets are found mostly stops there: listeners are
/// opened first).
const FIRST: u32 = 64;
/// fd numbers read past the reported count before a table counts as sparse
/// (then its directory is listed for the rest).
const SLACK: u32 = 64;
/// Threads at most, whatever the core count: the walk is syscalls on one
/// kernel structure, and more threads mostly contend.
pub const MAX_THREADS: usize = 4;
/// Below this many fds in all, one thread (spawning costs more than it saves).
const PARALLEL_FROM: u64 = 2048;

/// How far the `/proc` walk goes (the BPF walk reads every fd in one pass
/// whatever is asked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Every fd link of every process: every holder of every wanted socket,
    /// as `ss -p` lists them.
    Every,
    /// Until every wanted socket has a holder, then the holders' process
    /// family (parent, children and siblings, again for every holder so
    /// found; not the siblings under pid 1): the
    /// holders a forked server, its workers and systemd's socket activation
    /// share. For the commands whose answers name a holder (`check`,
    /// `pool`); what it can
    /// miss is a holder outside that family (a socket handed over SCM_RIGHTS
    /// to an unrelated process).
    Family,
}

/// Which walk finds a one-shot command's owners (`PORTTOP_WALK`): by default
/// (`Auto`) one BPF iterator over every task's files where it loads (Linux,
/// CAP_BPF + CAP_PERFMON, the initial PID namespace) and the `/proc` walk
/// where not, silently; `proc` always the `/proc` walk; `bpf` the iterator,
/// saying why when it falls back to `/proc`. README, "Performance", has the
/// measurement behind the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Walk {
    #[default]
    Auto,
    Proc,
    Bpf,
}

impl Walk {
    /// From `PORTTOP_WALK` (unset, empty or unknown: `Auto`).
    pub fn from_env() -> Walk {
        match std::env::var("PORTTOP_WALK").as_deref() {
            Ok("bpf") => Walk::Bpf,
            Ok("proc") => Walk::Proc,
            _ => Walk::Auto,
        }
    }
}

/// Where the time of one BPF walk went (for the benchmark).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BpfTimings {
    /// Mapping or reading and parsing the kernel's BTF.
    pub btf: std::time::Duration,
    /// Loading (verifying) the program, the link and the iterator.
    pub load: std::time::Duration,
    /// Reading the iterator to the end (the kernel's walk) and sorting.
    pub walk: std::time::Duration,
}

/// Which walk the last one-shot attribution took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Walked {
    Proc,
    Bpf(BpfTimings),
    /// The BPF walk was asked for and could not run (why); `/proc` instead.
    ProcInstead(String),
    /// The BPF walk (the default) could not run (why); `/proc` instead.
    ProcAfter(String),
}

/// What a walk found.
#[derive(Debug, Default)]
pub struct Found {
    /// Holders of each wanted inode that was found, ascending pids.
    pub owners: HashMap<u64, Pids>,
    /// Every process seen.
    pub pids: Vec<u32>,
    /// Processes whose fds we may not read (other users' without privilege).
    pub unreadable: usize,
    /// fd links read (for tests and benchmarks).
    pub links_read: usize,
}

struct Proc {
    pid: u32,
    /// fds the kernel reported (0: unknown, list the directory).
    count: u64,
    hits: AtomicUsize,
    /// The highest fd number found (+1; 0: none).
    top: AtomicUsize,
    denied: AtomicBool,
    /// Counted chunks made for it, and read to their end.
    chunks: usize,
    chunks_done: AtomicUsize,
    /// Every fd link of it was read.
    full: bool,
}

impl Proc {
    fn new(pid: u32, count: u64) -> Self {
        Proc {
            pid,
            count,
            hits: AtomicUsize::new(0),
            top: AtomicUsize::new(0),
            denied: AtomicBool::new(false),
            chunks: 0,
            chunks_done: AtomicUsize::new(0),
            full: false,
        }
    }

    /// The end of the numbers read by count (the count and the slack).
    fn end(&self) -> u32 {
        u32::try_from(self.count)
            .unwrap_or(u32::MAX)
            .saturating_add(SLACK)
    }

    /// Whether its directory must be listed past what the counted reads
    /// covered, and from which number: tables with gaps past the slack,
    /// processes whose count is unknown (kernels before 6.2) or that changed.
    /// (Every number up to the count and the slack was read; the table goes on
    /// past that when fewer fds were found than counted (gaps), or when the
    /// slack itself held some: fds opened meanwhile at low numbers can make up
    /// the count while older ones sit above it.)
    fn rest_from(&self) -> Option<u32> {
        if self.count == 0 {
            return Some(0);
        }
        let end = self.end();
        let dense = self.hits.load(Ordering::Relaxed) as u64 >= self.count
            && self.top.load(Ordering::Relaxed) <= (end - SLACK) as usize;
        (!dense).then_some(end)
    }
}

struct Task {
    proc_idx: usize,
    lo: u32,
    hi: u32,
}

/// The wanted inodes and, for `Reach::Family`, which were found so far.
struct Want<'a> {
    set: &'a InodeSet,
    /// Stop once every wanted inode has a holder.
    early: bool,
    found: Mutex<InodeSet>,
    remaining: AtomicUsize,
}

impl Want<'_> {
    fn done(&self) -> bool {
        self.early && self.remaining.load(Ordering::Relaxed) == 0
    }

    /// Notes a holder of wanted inode `i`.
    fn hit(&self, i: u64) {
        if !self.early {
            return;
        }
        if let Ok(mut f) = self.found.lock() {
            if f.insert(i) {
                self.remaining.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// The holders of every inode in `wanted`, by one walk of `root` (`/proc`).
/// An empty `wanted` walks nothing. Errors only when `root` cannot be listed or
/// file descriptors run out.
pub fn find_owners(root: &Path, wanted: &InodeSet, reach: Reach) -> std::io::Result<Found> {
    find_owners_with(root, wanted, threads(), reach)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
}

/// `find_owners` with a given number of threads (tests compare 1 and many).
pub fn find_owners_with(
    root: &Path,
    wanted: &InodeSet,
    threads: usize,
    reach: Reach,
) -> std::io::Result<Found> {
    let mut found = Found::default();
    if wanted.is_empty() {
        return Ok(found);
    }
    let mut procs = Vec::new();
    for ent in std::fs::read_dir(root)?.flatten() {
        let Some(pid) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        found.pids.push(pid);
        // stat needs no read access to the directory: an unreadable one fails
        // at open, below.
        let count = match std::fs::metadata(root.join(pid.to_string()).join("fd")) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                found.unreadable += 1;
                continue;
            }
            Err(_) => continue, // exited
        };
        procs.push(Proc::new(pid, count));
    }
    found.pids.sort_unstable();
    let want = Want {
        set: wanted,
        early: reach == Reach::Family,
        found: Mutex::new(InodeSet::default()),
        remaining: AtomicUsize::new(wanted.iter().filter(|i| **i != 0).count()),
    };
    // The first FIRST numbers of every process, then the rest, largest first
    // (so the big chunks are spread before the small ones). Sockets a command
    // names are mostly listeners, opened first: a walk that stops when they
    // are found mostly stops after the first round.
    let mut first = Vec::new();
    let mut rest = Vec::new();
    procs.sort_by_key(|p| std::cmp::Reverse(p.count));
    for (i, p) in procs.iter_mut().enumerate() {
        if p.count == 0 {
            continue; // listed below
        }
        let end = p.end();
        let mut lo = 0;
        while lo < end {
            let hi = if lo == 0 {
                FIRST.min(end)
            } else {
                lo.saturating_add(CHUNK).min(end)
            };
            let t = Task {
                proc_idx: i,
                lo,
                hi,
            };
            if lo == 0 {
                first.push(t);
            } else {
                rest.push(t);
            }
            p.chunks += 1;
            lo = hi;
        }
    }
    first.extend(rest);
    let total: u64 = procs.iter().map(|p| p.count).sum();
    let mut parts = run_tasks(root, &procs, &first, &want, total, threads)?;
    let mut part = Part::default();
    for p in procs.iter_mut() {
        if p.denied.load(Ordering::Relaxed) {
            continue;
        }
        if p.chunks_done.load(Ordering::Relaxed) < p.chunks {
            continue; // cut short: all were found (completed below if needed)
        }
        match p.rest_from() {
            None => p.full = true,
            Some(_) if want.done() => {}
            Some(from) => {
                list_rest(root, p, from, &want, &mut part)?;
                p.full = true;
            }
        }
    }
    parts.push(part);
    if want.early {
        complete_family(root, &mut procs, &want, threads, &mut parts)?;
    }
    let mut pairs: Vec<(u64, u32)> = Vec::new();
    for p in parts {
        found.links_read += p.links;
        pairs.extend(p.pairs);
    }
    let denied: Vec<u32> = procs
        .iter()
        .filter(|p| p.denied.load(Ordering::Relaxed))
        .map(|p| p.pid)
        .collect();
    found.unreadable += denied.len();
    pairs.retain(|(_, pid)| !denied.contains(pid));
    pairs.sort_unstable();
    pairs.dedup();
    for (inode, pid) in pairs {
        found.owners.entry(inode).or_default().push(pid);
    }
    Ok(found)
}

/// Runs `tasks` on up to `threads` threads (one below PARALLEL_FROM fds in
/// all); with `want.early` they stop once every wanted inode is found.
fn run_tasks(
    root: &Path,
    procs: &[Proc],
    tasks: &[Task],
    want: &Want,
    total: u64,
    threads: usize,
) -> std::io::Result<Vec<Part>> {
    let threads = if total < PARALLEL_FROM {
        1
    } else {
        threads.max(1)
    };
    let next = AtomicUsize::new(0);
    let error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let mut parts: Vec<Part> = Vec::new();
    let work = || {
        let mut part = Part::default();
        while !want.done() {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(t) = tasks.get(i) else { break };
            let p = &procs[t.proc_idx];
            match read_range(root, p, t.lo, t.hi, want, &mut part) {
                Ok(true) => {
                    p.chunks_done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(false) => {}
                Err(e) => {
                    if let Ok(mut slot) = error.lock() {
                        slot.get_or_insert(e);
                    }
                    break;
                }
            }
        }
        part
    };
    if threads == 1 {
        parts.push(work());
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
            for h in handles {
                // A panicking worker would be a bug; its part is lost, not the walk.
                if let Ok(p) = h.join() {
                    parts.push(p);
                }
            }
        });
    }
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(parts)
}

/// `Reach::Family` after every wanted inode has a holder: reads every fd of
/// the holders' parents, children and siblings, again for the holders that
/// finds, until no new one. A holder's children are read even for pid 1
/// (socket activation: init and its service hold the socket); the siblings
/// of a child of pid 1 are not (that is every service). A holder itself is not read to its end: another socket it holds
/// has holders of its own found, and their families read; what this misses
/// is a socket whose holders are in unrelated families (SCM_RIGHTS).
fn complete_family(
    root: &Path,
    procs: &mut [Proc],
    want: &Want,
    threads: usize,
    parts: &mut Vec<Part>,
) -> std::io::Result<()> {
    let index: HashMap<u32, usize> = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
    let mut expanded: rustc_hash::FxHashSet<u32> = Default::default();
    let mut ppids: Option<HashMap<u32, Vec<u32>>> = None;
    loop {
        // Holders so far, with what each holds.
        let mut holders: Vec<u32> = parts
            .iter()
            .flat_map(|p| p.pairs.iter().map(|(_, pid)| *pid))
            .collect();
        holders.sort_unstable();
        holders.dedup();
        let mut todo: Vec<u32> = Vec::new();
        for pid in holders {
            if expanded.insert(pid) {
                if let Some(pp) = parent(root, pid) {
                    todo.push(pp);
                    // Its siblings: a master's other workers, when the master
                    // itself closed its copy.
                    if pp > 1 {
                        todo.extend(children(root, pp, &mut ppids));
                    }
                }
                todo.extend(children(root, pid, &mut ppids));
            }
        }
        todo.sort_unstable();
        todo.dedup();
        let walk: Vec<usize> = todo
            .iter()
            .filter_map(|pid| index.get(pid).copied())
            .filter(|&i| !procs[i].full && !procs[i].denied.load(Ordering::Relaxed))
            .collect();
        if walk.is_empty() {
            return Ok(());
        }
        let mut tasks = Vec::new();
        let mut total = 0;
        for &i in &walk {
            let p = &procs[i];
            total += p.count;
            let end = if p.count == 0 { 0 } else { p.end() };
            let mut lo = 0;
            while lo < end {
                let hi = lo.saturating_add(CHUNK).min(end);
                tasks.push(Task {
                    proc_idx: i,
                    lo,
                    hi,
                });
                lo = hi;
            }
            p.hits.store(0, Ordering::Relaxed);
            p.top.store(0, Ordering::Relaxed);
        }
        let all = Want {
            set: want.set,
            early: false,
            found: Mutex::new(InodeSet::default()),
            remaining: AtomicUsize::new(0),
        };
        parts.extend(run_tasks(root, procs, &tasks, &all, total, threads)?);
        let mut part = Part::default();
        for &i in &walk {
            let p = &mut procs[i];
            if !p.denied.load(Ordering::Relaxed) {
                if let Some(from) = p.rest_from() {
                    list_rest(root, p, from, &all, &mut part)?;
                }
            }
            p.full = true;
        }
        parts.push(part);
    }
}

/// The parent of `pid` (`/proc/PID/stat`'s fourth field, after the name in
/// parentheses, which may hold spaces and parentheses: proc(5)).
fn parent(root: &Path, pid: u32) -> Option<u32> {
    let b = crate::range::read_sysfile(&root.join(pid.to_string()).join("stat")).ok()?;
    let s = std::str::from_utf8(&b).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The children of `pid`: `/proc/PID/task/TID/children` of each of its
/// threads (proc(5), CONFIG_PROC_CHILDREN), else every process's parent,
/// read once into `ppids`.
fn children(root: &Path, pid: u32, ppids: &mut Option<HashMap<u32, Vec<u32>>>) -> Vec<u32> {
    if ppids.is_none() {
        let task = root.join(pid.to_string()).join("task");
        let mut out = Vec::new();
        let mut any = false;
        for t in std::fs::read_dir(&task).into_iter().flatten().flatten() {
            match crate::range::read_sysfile(&t.path().join("children")) {
                Ok(b) => {
                    any = true;
                    let text = String::from_utf8_lossy(&b);
                    out.extend(
                        text.split_whitespace()
                            .filter_map(|w| w.parse::<u32>().ok()),
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(_) => any = true, // exited meanwhile
            }
        }
        if any || !task.exists() {
            return out;
        }
        // No children files in this kernel: every process's parent.
        let mut map: HashMap<u32, Vec<u32>> = HashMap::default();
        for ent in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let Some(p) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(pp) = parent(root, p) {
                map.entry(pp).or_default().push(p);
            }
        }
        *ppids = Some(map);
    }
    ppids
        .as_ref()
        .and_then(|m| m.get(&pid).cloned())
        .unwrap_or_default()
}

/// What one thread found.
#[derive(Default)]
struct Part {
    pairs: Vec<(u64, u32)>,
    links: usize,
}

/// `/proc/<pid>/fd` opened for `*at` calls; None when the process is gone or
/// not ours to read (then marked denied).
fn open_fd_dir(root: &Path, p: &Proc) -> std::io::Result<Option<OwnedFd>> {
    use std::os::unix::ffi::OsStrExt;
    let path = root.join(p.pid.to_string()).join("fd");
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return Ok(None);
    };
    // SAFETY: a valid NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE) => Err(e),
            Some(libc::EACCES | libc::EPERM) => {
                p.denied.store(true, Ordering::Relaxed);
                Ok(None)
            }
            _ => Ok(None),
        };
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}

/// What one link is.
enum Link {
    Socket(u64),
    Other,
    Missing,
    Denied,
}

fn read_link_at(dir: &OwnedFd, fd: u32) -> Link {
    let mut name = [0u8; 12];
    let mut n = fd;
    let mut i = name.len() - 1; // name[11] stays NUL
    loop {
        i -= 1;
        name[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut buf = [0u8; 64];
    // SAFETY: name[i..] is NUL-terminated inside the array; buf is valid for
    // its length; readlinkat does not terminate and returns the length.
    let r = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name[i..].as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if r < 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EACCES | libc::EPERM) => Link::Denied,
            _ => Link::Missing,
        };
    }
    let text = &buf[..r as usize];
    match std::str::from_utf8(text).ok().and_then(parse_socket_link) {
        Some(i) => Link::Socket(i),
        None => Link::Other,
    }
}

/// Reads links `lo..hi` of one process; false when cut short (denied, gone,
/// or every wanted inode found).
fn read_range(
    root: &Path,
    p: &Proc,
    lo: u32,
    hi: u32,
    want: &Want,
    part: &mut Part,
) -> std::io::Result<bool> {
    if p.denied.load(Ordering::Relaxed) {
        return Ok(false);
    }
    let Some(dir) = open_fd_dir(root, p)? else {
        return Ok(false);
    };
    for fd in lo..hi {
        part.links += 1;
        match read_link_at(&dir, fd) {
            Link::Missing => continue,
            Link::Denied => {
                // Listable (CAP_DAC_READ_SEARCH) but its links are not
                // (readlink needs ptrace access): as unreadable as a directory
                // that does not open.
                p.denied.store(true, Ordering::Relaxed);
                return Ok(false);
            }
            Link::Socket(i) if want.set.contains(&i) => {
                part.pairs.push((i, p.pid));
                want.hit(i);
                p.hits.fetch_add(1, Ordering::Relaxed);
                p.top.fetch_max(fd as usize + 1, Ordering::Relaxed);
                if want.done() {
                    return Ok(false);
                }
                continue;
            }
            Link::Socket(_) | Link::Other => {}
        }
        p.hits.fetch_add(1, Ordering::Relaxed);
        p.top.fetch_max(fd as usize + 1, Ordering::Relaxed);
    }
    Ok(true)
}

/// Lists the fd directory and reads the links numbered `from` and up.
fn list_rest(
    root: &Path,
    p: &Proc,
    from: u32,
    want: &Want,
    part: &mut Part,
) -> std::io::Result<()> {
    let path = root.join(p.pid.to_string()).join("fd");
    let rd = match std::fs::read_dir(&path) {
        Ok(rd) => rd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => return Err(e),
        Err(e) => {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                p.denied.store(true, Ordering::Relaxed);
            }
            return Ok(());
        }
    };
    let Some(dir) = open_fd_dir(root, p)? else {
        return Ok(());
    };
    for ent in rd.flatten() {
        let Some(fd) = ent.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if fd < from {
            continue;
        }
        part.links += 1;
        match read_link_at(&dir, fd) {
            Link::Denied => {
                p.denied.store(true, Ordering::Relaxed);
                return Ok(());
            }
            Link::Socket(i) if want.set.contains(&i) => {
                part.pairs.push((i, p.pid));
                want.hit(i);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Fills in the owners of the sockets with these inodes and their processes
/// (`SystemSource::attribute` when lazy); returns those of them that no
/// process holds and the kernel no longer has (closed since the dump: their
/// lack of an owner hides nothing). `still_open(sockets, inodes)`: which of
/// the given inodes the kernel still has.
/// `walk(wanted)` finds the holders: [`find_owners`] over `/proc`, or on
/// Linux the BPF iterator where it loads (`Walk`).
pub fn attribute(
    snap: &mut Snapshot,
    wanted: &InodeSet,
    procs: &mut ProcessTable,
    walk: impl FnOnce(&InodeSet) -> std::io::Result<Found>,
    still_open: impl FnOnce(&[Socket], &InodeSet) -> InodeSet,
) -> Result<InodeSet, SourceError> {
    if wanted.is_empty() {
        return Ok(InodeSet::default());
    }
    let found = walk(wanted).map_err(SourceError::Proc)?;
    let mut pids: Vec<u32> = found.owners.values().flatten().copied().collect();
    pids.sort_unstable();
    pids.dedup();
    let details = procs.resolve(&pids, &|_| true);
    for s in snap.sockets.iter_mut() {
        let Some(o) = s.inode.and_then(|i| found.owners.get(&i)) else {
            continue;
        };
        // A pid that exited before its details were read holds nothing now.
        s.pids = o
            .iter()
            .filter(|p| details.contains_key(p))
            .copied()
            .collect();
    }
    snap.processes.extend(details);
    let missing: InodeSet = wanted
        .iter()
        .filter(|i| **i != 0 && !found.owners.contains_key(i))
        .copied()
        .collect();
    let closed: InodeSet = if missing.is_empty() {
        InodeSet::default()
    } else {
        let open = still_open(&snap.sockets, &missing);
        missing.difference(&open).copied().collect()
    };
    Ok(closed)
}

/// `partial` of a snapshot taken without owners, without a walk: without the
/// capabilities to read other users' fds, another user's open socket would
/// show no process. (As root, or with them, only a walk can tell; the
/// sockets a command names get it from `attribute`.)
pub fn others_hidden(sockets: &[Socket]) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid != 0
        && !super::missing_read_caps().is_empty()
        && sockets
            .iter()
            .any(|s| s.inode.is_some_and(|i| i != 0) && s.uid.is_some_and(|u| u != euid))
}

#[cfg(test)]
#[path = "owners_tests.rs"]
mod tests;
