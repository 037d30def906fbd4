//! Every network namespace of the host: found, entered, dumped, named.
//!
//! Each network namespace has its own socket table and its own
//! `ip_local_port_range`, `ip_local_reserved_ports` and `tcp_tw_reuse`
//! (network_namespaces(7)). A sock_diag dump answers for the namespace the
//! netlink socket was created in, not for the reader's: a thread that
//! `setns(CLONE_NEWNET)`s into a namespace and opens a `NETLINK_SOCK_DIAG`
//! socket there gets a socket that keeps answering for that namespace after the
//! thread is gone (a socket holds its namespace, `sk_net`; net/core/sock.c).
//! So one such socket is kept per namespace across refreshes and dropped when the
//! namespace is no longer found. Sysctls under `/proc/sys/net` answer for the
//! reading *thread's* namespace (net/sysctl_net.c looks the table up in
//! `current->nsproxy->net_ns`), and `/proc/thread-self/net` is that thread's
//! `/proc/net` (proc(5)), so a short-lived thread per refresh enters each
//! namespace in turn and reads them there.
//!
//! Finding them: `/proc/PID/ns/net` of every process (`net:[INODE]`; the inode is
//! the namespace's identity), the bind mounts of `ip netns` (`/run/netns/NAME`)
//! and Docker's (`/var/run/docker/netns/KEY`), which keep a namespace without a
//! process. Entering one needs CAP_SYS_ADMIN (setns(2)); without it porttop
//! shows its own namespace and says once what it cannot see.

use super::attrib::InodeSet;
use super::diag::{Diag, Scope};
use super::{RangeConfig, SourceError};
use crate::model::{Container, KernelCounters, Netns, NsHandle, PortRange, Socket};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use super::NetnsSelect as Select;

/// Search directories: `ip netns` names and Docker's sandbox keys.
const NAMED_DIRS: [(&str, bool); 2] = [("/run/netns", true), ("/var/run/docker/netns", false)];

/// One namespace found: a file that refers to it and what names it.
#[derive(Debug, Default)]
struct Found {
    /// `/run/netns/NAME`, or `/proc/PID/ns/net`.
    path: PathBuf,
    ip_name: Option<String>,
    docker_key: Option<String>,
    /// The lowest pid in it.
    pid: Option<u32>,
}

/// What a walk of `/proc` and the bind-mount directories found.
#[derive(Debug, Default)]
struct Discovery {
    found: BTreeMap<u64, Found>,
    /// Processes whose namespace we may not read (other users', without root).
    hidden: usize,
}

/// The inode in `net:[4026531840]`.
fn link_inode(link: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(link).ok()?;
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

fn discover(own_dev: u64) -> Discovery {
    use std::os::unix::ffi::OsStrExt;
    let mut d = Discovery::default();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let link = format!("/proc/{pid}/ns/net");
            match std::fs::read_link(&link) {
                Ok(l) => {
                    if let Some(ino) = link_inode(l.as_os_str().as_bytes()) {
                        let f = d.found.entry(ino).or_default();
                        if f.pid.is_none_or(|p| pid < p) {
                            f.pid = Some(pid);
                            if f.ip_name.is_none() && f.docker_key.is_none() {
                                f.path = PathBuf::from(link);
                            }
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => d.hidden += 1,
                Err(_) => {} // exited meanwhile, or a kernel thread
            }
        }
    }
    for (dir, ip) in NAMED_DIRS {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            // A bind mount of nsfs has nsfs's device; a file left by a failed
            // `ip netns add` is a plain file of the directory's file system.
            let Ok(md) = std::fs::metadata(&path) else {
                continue;
            };
            if md.dev() != own_dev {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let f = d.found.entry(md.ino()).or_default();
            f.path = path;
            if ip {
                f.ip_name.get_or_insert(name);
            } else {
                f.docker_key.get_or_insert(name);
            }
        }
    }
    d
}

/// Porttop's own namespace: (inode, device of nsfs).
fn own_ns() -> Option<(u64, u64)> {
    let md = std::fs::metadata("/proc/thread-self/ns/net")
        .or_else(|_| std::fs::metadata("/proc/self/ns/net"))
        .ok()?;
    Some((md.ino(), md.dev()))
}

/// The process's capability CAP_SYS_ADMIN (bit 21, linux/capability.h), which
/// setns(2) needs for a network namespace.
fn may_enter() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|c| c & (1 << 21) != 0)
}

/// A namespace other than our own, entered.
struct Ns {
    /// Opened once when found and held while it is wanted: the way in for the
    /// visits, and, shared with every snapshot listing it (`Netns::handle`),
    /// for `actions::close_socket`. Held, it keeps the namespace alive, so the
    /// inode stays its identity (nsfs inodes are reused once a namespace is
    /// freed, and the pid it was found by may exit while it lives on).
    file: Arc<File>,
    diag: Option<Diag>,
    name: String,
    container: Option<Container>,
    range: Option<PortRange>,
    counters: Option<KernelCounters>,
    /// Its `sockstat` and `sockstat6`, opened inside it and kept: a file of
    /// `/proc/net` answers for the namespace it was opened in
    /// (`single_open_net` in fs/proc/proc_net.c takes the namespace at open),
    /// so they are read just before its dump, which is skipped where they
    /// count no TCP or UDP socket (the kernel's socket hash tables are shared
    /// by every namespace, so even an empty namespace's dump walks every
    /// socket of the host).
    sockstat: Option<Sockstat>,
}

/// A namespace's `sockstat` (and `sockstat6`, unless IPv6 is off), open.
struct Sockstat {
    v4: File,
    v6: Option<File>,
}

impl Sockstat {
    /// Opens the reading thread's namespace's (None where unreadable).
    fn open(net: &Path) -> Option<Sockstat> {
        Some(Sockstat {
            v4: File::open(net.join("sockstat")).ok()?,
            v6: File::open(net.join("sockstat6")).ok(),
        })
    }

    /// The TCP and UDP sockets they count now (None where unreadable).
    fn sockets(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut total = 0;
        for f in std::iter::once(&self.v4).chain(self.v6.as_ref()) {
            // One pread from offset 0: a seq_file shows its text anew there.
            let mut buf = [0u8; 4096];
            let n = f.read_at(&mut buf, 0).ok()?;
            total += sockstat_count(&String::from_utf8_lossy(&buf[..n]))?;
        }
        Some(total)
    }
}

/// What one visit inside a namespace read.
struct Visit {
    diag: Option<std::io::Result<Diag>>,
    range: Option<PortRange>,
    counters: Option<KernelCounters>,
    /// Its sockstat files, opened inside it (the first visit only).
    sockstat: Option<Sockstat>,
    entered: std::io::Result<()>,
}

/// The namespaces porttop reads, kept across refreshes.
pub struct Namespaces {
    select: Select,
    cfg: RangeConfig,
    own: u64,
    own_dev: u64,
    own_name: String,
    others: FxHashMap<u64, Ns>,
    /// Whether the own namespace is read (`--netns` names others only: no).
    own_wanted: bool,
    /// The namespace whose sockets are `netns` 0 and whose range is the
    /// snapshot's: the own one, unless only others are named.
    primary: u64,
    note: Option<String>,
    noted: bool,
    refreshed: bool,
}

impl Namespaces {
    pub fn new(select: Select, cfg: RangeConfig) -> Self {
        let (own, own_dev) = own_ns().unwrap_or((0, 0));
        Namespaces {
            own_wanted: !matches!(&select, Select::Named(n) if !n.iter().any(|x| x == "host")),
            select,
            cfg,
            own,
            own_dev,
            own_name: "host".into(),
            others: FxHashMap::default(),
            primary: own,
            note: None,
            noted: false,
            refreshed: false,
        }
    }

    /// Whether the caller dumps its own namespace (into `netns` 0).
    pub fn own_wanted(&self) -> bool {
        self.own_wanted
    }

    /// The primary namespace's range when it is not the own one.
    pub fn primary_range(&self) -> Option<&PortRange> {
        self.others
            .get(&self.primary)
            .and_then(|n| n.range.as_ref())
    }

    /// The primary namespace's counters when it is not the own one.
    pub fn primary_counters(&self) -> Option<Option<KernelCounters>> {
        self.others.get(&self.primary).map(|n| n.counters)
    }

    /// The one-time note about namespaces that cannot be seen.
    pub fn take_note(&mut self) -> Option<String> {
        self.note.take()
    }

    /// Finds the namespaces, drops the ones gone, enters the new ones (opening
    /// their sock_diag sockets) and reads every one's range and counters.
    pub fn refresh(&mut self) -> Result<(), SourceError> {
        let first = !self.refreshed;
        self.refreshed = true;
        if self.select == Select::Own {
            if first {
                self.own_name =
                    own_ip_name(self.own, self.own_dev).unwrap_or_else(|| "host".into());
            }
            return Ok(());
        }
        let disc = discover(self.own_dev);
        if first {
            if let Some(n) = disc.found.get(&self.own).and_then(|f| f.ip_name.clone()) {
                self.own_name = n;
            }
        }
        let privileged = may_enter();
        let wanted = self.wanted(&disc, first)?;
        if !privileged {
            if let Select::Named(_) = &self.select {
                if wanted.iter().any(|i| *i != self.own) {
                    return Err(SourceError::Netns(
                        "entering another network namespace needs CAP_SYS_ADMIN (run as root)"
                            .into(),
                    ));
                }
            }
            if first && !self.noted {
                self.noted = true;
                self.note = unseen_note(&disc, self.own);
            }
            return Ok(());
        }
        // Gone, or no longer wanted: their sockets (and namespaces) are let go.
        self.others.retain(|ino, _| wanted.contains(ino));
        let mut names = Vec::new();
        for ino in &wanted {
            if *ino == self.own || self.others.contains_key(ino) {
                continue;
            }
            let Some(f) = disc.found.get(ino) else {
                continue;
            };
            let Ok(file) = File::open(&f.path) else {
                continue; // gone meanwhile
            };
            let place = f
                .pid
                .map(|p| super::container::of_pid(p, &Default::default()));
            let container = place.and_then(|p| p.container);
            let name = f
                .ip_name
                .clone()
                .or_else(|| container.as_ref().map(|c| c.label().to_string()))
                .or_else(|| f.docker_key.as_ref().map(|k| format!("docker:{k}")))
                .or_else(|| f.pid.and_then(comm))
                .unwrap_or_else(|| ino.to_string());
            names.push((*ino, name.clone()));
            self.others.insert(
                *ino,
                Ns {
                    file: Arc::new(file),
                    diag: None,
                    name,
                    container,
                    range: None,
                    counters: None,
                    sockstat: None,
                },
            );
        }
        self.dedupe_names();
        self.visit_all();
        if let Select::Named(_) = &self.select {
            if !self.own_wanted {
                self.primary = wanted.first().copied().unwrap_or(self.own);
            }
        }
        Ok(())
    }

    /// Two namespaces named alike (two unnamed ones whose first process is
    /// `sh`) get their inode appended, so a name picks one.
    fn dedupe_names(&mut self) {
        let mut count: FxHashMap<String, usize> = FxHashMap::default();
        *count.entry(self.own_name.clone()).or_default() += 1;
        for n in self.others.values() {
            *count.entry(n.name.clone()).or_default() += 1;
        }
        for (ino, n) in self.others.iter_mut() {
            if count.get(&n.name).copied().unwrap_or(0) > 1 && !n.name.ends_with(&format!("@{ino}"))
            {
                n.name = format!("{}@{ino}", n.name);
            }
        }
    }

    /// The inodes to read, the own one included where wanted, ascending. With
    /// names, the first refresh fails on a name that matches nothing.
    fn wanted(&self, disc: &Discovery, first: bool) -> Result<Vec<u64>, SourceError> {
        let mut all: Vec<u64> = disc.found.keys().copied().collect();
        if !all.contains(&self.own) {
            all.push(self.own);
        }
        let names = match &self.select {
            Select::Named(n) => n,
            _ => return Ok(all),
        };
        let mut out = Vec::new();
        for want in names {
            let hit: Vec<u64> = all
                .iter()
                .copied()
                .filter(|ino| self.matches(*ino, disc, want))
                .collect();
            if hit.is_empty() && first {
                let mut known: Vec<String> = all.iter().map(|i| self.describe(*i, disc)).collect();
                known.sort();
                known.dedup();
                return Err(SourceError::Netns(format!(
                    "--netns: no network namespace named {} (known: {})",
                    crate::output::safe(want),
                    crate::output::safe(&known.join(", "))
                )));
            }
            out.extend(hit);
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn describe(&self, ino: u64, disc: &Discovery) -> String {
        if ino == self.own {
            return self.own_name.clone();
        }
        if let Some(n) = self.others.get(&ino) {
            return n.name.clone();
        }
        disc.found
            .get(&ino)
            .and_then(|f| f.ip_name.clone().or_else(|| f.pid.and_then(comm)))
            .unwrap_or_else(|| ino.to_string())
    }

    fn matches(&self, ino: u64, disc: &Discovery, want: &str) -> bool {
        if want == ino.to_string() || (want == "host" && ino == self.own) {
            return true;
        }
        if ino == self.own && want == self.own_name {
            return true;
        }
        if let Some(n) = self.others.get(&ino) {
            if n.name == want || n.container.as_ref().is_some_and(|c| c.matches(want)) {
                return true;
            }
        }
        let Some(f) = disc.found.get(&ino) else {
            return false;
        };
        if f.ip_name.as_deref() == Some(want) {
            return true;
        }
        let place = f
            .pid
            .map(|p| super::container::of_pid(p, &Default::default()));
        place
            .and_then(|p| p.container)
            .is_some_and(|c| c.matches(want))
            || (f.ip_name.is_none() && f.pid.and_then(comm).as_deref() == Some(want))
    }

    /// One thread enters each namespace in turn: opens the sock_diag socket of
    /// a new one, reads every one's range, reserved ports, tw_reuse, counters.
    fn visit_all(&mut self) {
        if self.others.is_empty() {
            return;
        }
        let cfg = self.cfg.clone();
        let jobs: Vec<(u64, i32, bool, bool)> = self
            .others
            .iter()
            .map(|(ino, n)| {
                (
                    *ino,
                    n.file.as_raw_fd(),
                    n.diag.is_none(),
                    n.sockstat.is_none(),
                )
            })
            .collect();
        let visits: Vec<(u64, Visit)> = std::thread::scope(|s| {
            s.spawn(move || {
                jobs.into_iter()
                    .map(|(ino, fd, diag, stat)| (ino, visit(fd, diag, stat, &cfg)))
                    .collect()
            })
            .join()
            .unwrap_or_default()
        });
        for (ino, v) in visits {
            let Some(n) = self.others.get_mut(&ino) else {
                continue;
            };
            if v.entered.is_err() {
                // Gone between the walk and the visit: dropped next refresh.
                continue;
            }
            if let Some(Ok(d)) = v.diag {
                n.diag = Some(d);
            }
            if v.range.is_some() {
                n.range = v.range;
            }
            n.counters = v.counters;
            if v.sockstat.is_some() {
                n.sockstat = v.sockstat;
            }
        }
    }

    /// Dumps every other namespace read (its sockets carry its inode, or 0 for
    /// the primary). A namespace whose dump fails is skipped this time and its
    /// socket reopened next time.
    pub fn dump(
        &mut self,
        scope: &Scope,
        detail: crate::model::Detail,
        mut f: impl FnMut(Socket, u32),
    ) {
        for (ino, n) in self.others.iter_mut() {
            // Empty by its sockstat, read now (bound-only TCP sockets are in
            // no hash it counts: asked for those alone, dump anyway), or
            // without a range: a namespace the snapshot cannot list is not
            // dumped either.
            if n.range.is_none() {
                continue;
            }
            let empty = || n.sockstat.as_ref().and_then(Sockstat::sockets) == Some(0);
            if !scope.only_bound() && empty() {
                continue;
            }
            let Some(d) = n.diag.as_mut() else { continue };
            d.detail = detail;
            let tag = if *ino == self.primary { 0 } else { *ino };
            let r = d.dump_all(scope, |mut s, ifx| {
                s.netns = tag;
                f(s, ifx)
            });
            if r.is_err() {
                n.diag = None;
            }
        }
    }

    /// The bare dumps of the other namespaces (records counted), for benchmarks.
    pub fn bare_dump(&mut self, scope: &Scope, detail: crate::model::Detail) -> usize {
        let mut k = 0;
        self.dump(scope, detail, |_, _| k += 1);
        k
    }

    /// Those of `unknown` that the other namespaces still have open.
    pub fn still_open(
        &mut self,
        sockets: &[Socket],
        unknown: &InodeSet,
        bound: &FxHashMap<u64, u32>,
    ) -> InodeSet {
        let mut open = InodeSet::default();
        for (ino, n) in self.others.iter_mut() {
            let tag = if *ino == self.primary { 0 } else { *ino };
            let mine: Vec<Socket> = sockets
                .iter()
                .filter(|s| s.netns == tag && s.inode.is_some_and(|i| unknown.contains(&i)))
                .cloned()
                .collect();
            if mine.is_empty() {
                continue;
            }
            match n.diag.as_mut() {
                Some(d) => open.extend(d.still_open(&mine, unknown, bound)),
                None => open.extend(mine.iter().filter_map(|s| s.inode)),
            }
        }
        open
    }

    /// The netlink socket of the other namespace whose sockets carry `tag`.
    pub fn diag_for(&mut self, tag: u64) -> Option<&mut Diag> {
        let primary = self.primary;
        self.others
            .iter_mut()
            .find(|(ino, _)| (if **ino == primary { 0 } else { **ino }) == tag)
            .and_then(|(_, n)| n.diag.as_mut())
    }

    /// Whether the own namespace's sockets get `netns` 0.
    pub fn own_tag(&self) -> u64 {
        if self.primary == self.own {
            0
        } else {
            self.own
        }
    }

    /// The namespaces of the snapshot, the primary first: `own_range` and
    /// `own_counters` are the own namespace's.
    pub fn infos(&self, own_range: &PortRange, own_counters: Option<KernelCounters>) -> Vec<Netns> {
        let mut v = Vec::with_capacity(self.others.len() + 1);
        if self.own_wanted {
            v.push(Netns {
                inode: self.own,
                name: self.own_name.clone(),
                own: self.primary == self.own,
                container: None,
                range: own_range.clone(),
                counters: own_counters,
                handle: None,
            });
        }
        let mut others: Vec<(&u64, &Ns)> = self.others.iter().collect();
        others.sort_by(|a, b| {
            (a.0 != &self.primary, &a.1.name).cmp(&(b.0 != &self.primary, &b.1.name))
        });
        for (ino, n) in others {
            let Some(range) = n.range.clone() else {
                continue;
            };
            v.push(Netns {
                inode: *ino,
                name: n.name.clone(),
                own: *ino == self.primary,
                container: n.container.clone(),
                range,
                counters: n.counters,
                handle: Some(NsHandle::new(n.file.clone())),
            });
        }
        if !v.iter().any(|n| n.own) {
            if let Some(first) = v.first_mut() {
                first.own = true;
            }
        }
        v
    }
}

/// One visit inside the namespace of `fd`, on the calling thread (which
/// stays there: call it on a thread of its own).
fn visit(fd: i32, open_diag: bool, open_sockstat: bool, cfg: &RangeConfig) -> Visit {
    // SAFETY: setns only changes the calling thread's namespace; `fd` is an
    // open namespace file owned by the caller for the duration of the call.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Visit {
            diag: None,
            range: None,
            counters: None,
            sockstat: None,
            entered: Err(std::io::Error::last_os_error()),
        };
    }
    Visit {
        diag: open_diag.then(Diag::new),
        range: cfg.resolve().ok(),
        counters: super::counters::read(Path::new("/proc/thread-self/net")),
        sockstat: open_sockstat
            .then(|| Sockstat::open(Path::new("/proc/thread-self/net")))
            .flatten(),
        entered: Ok(()),
    }
}

/// The TCP and UDP sockets (both families, TIME-WAIT included) that one
/// `sockstat` or `sockstat6` text counts: per namespace counters
/// (net/ipv4/proc.c sockstat_seq_show, net/ipv6/proc.c sockstat6_seq_show:
/// `inuse` of each protocol, `tw` of TCP). Bound-only TCP sockets are in no
/// hash and not counted.
fn sockstat_count(text: &str) -> Option<u64> {
    let mut total = 0u64;
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        if !matches!(
            proto,
            "TCP" | "UDP" | "UDPLITE" | "TCP6" | "UDP6" | "UDPLITE6"
        ) {
            continue;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        for pair in words.chunks(2) {
            if let ["inuse" | "tw", v] = pair {
                total = total.checked_add(v.parse().ok()?)?;
            }
        }
    }
    Some(total)
}

/// The kernel's name of process `pid`.
fn comm(pid: u32) -> Option<String> {
    let b = crate::range::read_sysfile(Path::new(&format!("/proc/{pid}/comm"))).ok()?;
    let s = String::from_utf8_lossy(&b)
        .trim_end_matches('\n')
        .to_string();
    (!s.is_empty()).then_some(s)
}

/// The `ip netns` name of the own namespace, if it has one.
fn own_ip_name(own: u64, own_dev: u64) -> Option<String> {
    let rd = std::fs::read_dir(NAMED_DIRS[0].0).ok()?;
    rd.flatten().find_map(|e| {
        let md = std::fs::metadata(e.path()).ok()?;
        (md.ino() == own && md.dev() == own_dev)
            .then(|| e.file_name().to_string_lossy().into_owned())
    })
}

/// What an unprivileged porttop cannot see, in one line (None: nothing).
fn unseen_note(d: &Discovery, own: u64) -> Option<String> {
    let mut names: Vec<String> = d
        .found
        .iter()
        .filter(|(ino, _)| **ino != own)
        .map(|(ino, f)| {
            f.ip_name
                .clone()
                .or_else(|| f.pid.and_then(comm))
                .unwrap_or_else(|| ino.to_string())
        })
        .collect();
    names.sort();
    let others = names.len();
    if others == 0 && d.hidden == 0 {
        return None;
    }
    names.truncate(5);
    let mut msg = String::from("showing this network namespace only: ");
    if others > 0 {
        msg.push_str(&format!(
            "{others} other{} ({}{}) not shown, ",
            if others == 1 { "" } else { "s" },
            crate::output::safe(&names.join(", ")),
            if others > names.len() { ", …" } else { "" }
        ));
    }
    if d.hidden > 0 {
        msg.push_str(&format!(
            "{} processes of other users not looked into, ",
            d.hidden
        ));
    }
    msg.push_str("entering a namespace needs CAP_SYS_ADMIN (run as root)");
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockstat_counts_tcp_udp_and_time_wait_of_both_families() {
        let v4 = "sockets: used 140\nTCP: inuse 5 orphan 0 tw 2 alloc 9 mem 1\n\
                  UDP: inuse 3 mem 2\nUDPLITE: inuse 0\nRAW: inuse 7\nFRAG: inuse 0 memory 0\n";
        assert_eq!(sockstat_count(v4), Some(10));
        let v6 = "TCP6: inuse 1\nUDP6: inuse 2\nUDPLITE6: inuse 0\nRAW6: inuse 4\n";
        assert_eq!(sockstat_count(v6), Some(3));
        assert_eq!(sockstat_count("TCP: inuse x"), None);
        // The machine's own namespace: readable, and at least this test's socket.
        let _l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let files = Sockstat::open(Path::new("/proc/thread-self/net")).unwrap();
        assert!(files.sockets().unwrap() >= 1);
    }

    /// A named namespace for one test, deleted when dropped (None where `ip
    /// netns add` is not permitted).
    struct TempNs(String);
    impl TempNs {
        fn new(tag: &str) -> Option<TempNs> {
            let name = format!("porttop-{tag}-{}", std::process::id());
            let ok = std::process::Command::new("ip")
                .args(["netns", "add", &name])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(TempNs(name))
        }
    }
    impl Drop for TempNs {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }

    #[test]
    fn a_namespace_s_first_socket_made_after_the_visit_is_in_that_refresh_s_dump() {
        // The gap between the visit (range, counters) and the namespace's dump
        // is the own namespace's dump (tens of ms at 10,000 sockets): a socket
        // made there must not wait for the next refresh because the namespace
        // looked empty at the visit.
        if !may_enter() {
            eprintln!("SKIP: entering a namespace needs CAP_SYS_ADMIN");
            return;
        }
        let Some(ns) = TempNs::new("sockstat") else {
            eprintln!("SKIP: cannot create a network namespace");
            return;
        };
        let mut all = Namespaces::new(Select::Named(vec![ns.0.clone()]), Default::default());
        all.refresh().unwrap();
        let mut before = 0;
        all.dump(&Scope::default(), crate::model::Detail::Bare, |_, _| {
            before += 1
        });
        assert_eq!(before, 0, "a new namespace holds no socket");
        // Now its first socket, made between the visit and the dump.
        let bind_in = |port: u16| {
            let path = format!("/run/netns/{}", ns.0);
            std::thread::spawn(move || {
                let f = File::open(&path).unwrap();
                // SAFETY: setns on this thread only, with a namespace fd we own.
                assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0);
                std::net::TcpListener::bind(("0.0.0.0", port)).unwrap()
            })
            .join()
            .unwrap()
        };
        let ports = |all: &mut Namespaces| {
            let mut found = Vec::new();
            all.dump(&Scope::default(), crate::model::Detail::Bare, |s, _| {
                found.push(s.local.port)
            });
            found
        };
        let l = bind_in(4567);
        assert_eq!(ports(&mut all), [4567], "made after the visit");
        drop(l);
        all.refresh().unwrap();
        assert_eq!(ports(&mut all), Vec::<u16>::new(), "closed");
        let _l = bind_in(4568);
        assert_eq!(ports(&mut all), [4568], "made after the next visit");
    }

    #[test]
    fn netns_words_parse() {
        assert_eq!(Select::parse("host"), Ok(Select::Own));
        assert_eq!(Select::parse("all"), Ok(Select::All));
        assert_eq!(
            Select::parse("web, host"),
            Ok(Select::Named(vec!["web".into(), "host".into()]))
        );
        assert!(Select::parse(" , ").is_err());
    }

    #[test]
    fn namespace_links_give_their_inode() {
        assert_eq!(link_inode(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(link_inode(b"pid:[4026531840]"), None);
        assert_eq!(link_inode(b"net:[x]"), None);
    }

    #[test]
    fn the_own_namespace_is_found_by_the_walk() {
        let Some((own, dev)) = own_ns() else { return };
        let d = discover(dev);
        assert!(d.found.contains_key(&own), "{d:?}");
    }
}
