//! Socket owners from one BPF iterator (`iter/task_file`) instead of a
//! readlink per fd: the kernel walks every task's file table and a ten-
//! instruction program writes (tgid, fd, inode) for each socket into the
//! iterator's seq_file, which we read to the end. The same walk bpftool's
//! `pid_iter.bpf.c` and Inspektor Gadget's socket enricher do, without their
//! toolchains: the program is built in Rust (`insn.rs`) from offsets read in
//! the running kernel's BTF (`btf.rs`), and loaded with raw bpf(2).
//!
//! The steps (include/uapi/linux/bpf.h, kernel/bpf/bpf_iter.c, task_iter.c):
//! `BPF_PROG_LOAD` (type TRACING, expected attach type TRACE_ITER,
//! `attach_btf_id` = the vmlinux FUNC `bpf_iter_task_file`), `BPF_LINK_CREATE`
//! (attach type TRACE_ITER), `BPF_ITER_CREATE`, then `read()` until 0. Each
//! read fills at most the kernel's 8-page seq buffer; an object that does not
//! fit is shown again by the next read, so nothing is cut or repeated.
//!
//! What it sees, against the `/proc` walk (`owners.rs`):
//! - the tasks of porttop's PID namespace, but `task->tgid` is the pid in the
//!   initial namespace; so it is used only there (elsewhere: `PidNamespace`);
//! - per process, not per thread: threads that share their leader's file
//!   table are skipped (`task_seq_get_next(.., skip_if_dup_files)`); a thread
//!   with a table of its own (unshare(CLONE_FILES)) is visited and its sockets
//!   count for its process, which `/proc/<pid>/fd` (the leader's table) does
//!   not show;
//! - every process, whatever porttop's ptrace rights: loading needs
//!   CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN), which only root or a unit
//!   granting them has. Without: `NoCapability` (checked before the BTF is
//!   read) or `Refused` (lockdown, an LSM), and the caller walks `/proc`.
//!
//! Like the `/proc` walk it is not atomic: a socket opened or closed during
//! the walk may be missed or reported.

mod btf;
mod insn;

use super::attrib::InodeSet;
use super::owners::{BpfTimings as Timings, Found};
use rustc_hash::FxHashMap as HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

/// Why the BPF walk cannot run here; the caller then walks `/proc`.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("no kernel BTF ({0})")]
    NoBtf(std::io::Error),
    #[error("kernel BTF not understood: {0}")]
    BadBtf(&'static str),
    #[error("kernel BTF has no {0} (kernel older than 5.8 or built without it)")]
    Missing(String),
    #[error("not in the initial PID namespace (the iterator's pids would be the host's)")]
    PidNamespace,
    /// Checked before anything is read: without them the load would fail
    /// after the BTF cost its milliseconds.
    #[error("porttop lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)")]
    NoCapability,
    #[error("bpf({cmd}) refused: {err} (needs CAP_BPF and CAP_PERFMON)")]
    Refused {
        cmd: &'static str,
        err: std::io::Error,
    },
    #[error("the verifier rejected the program: {0}")]
    Verifier(String),
    #[error("bpf({cmd}): {err}")]
    Sys {
        cmd: &'static str,
        err: std::io::Error,
    },
    #[error("reading the iterator: {0}")]
    Read(std::io::Error),
}

/// The holders of every inode in `wanted`, by one BPF iterator walk over every
/// task's files; `Found` as the `/proc` walk fills it (`pids`: the processes
/// holding sockets; `links_read`: socket records read; nothing unreadable).
/// The tests' entry; the backend calls `find_owners_timed`.
#[cfg(test)]
pub fn find_owners(wanted: &InodeSet) -> Result<Found, BpfError> {
    find_owners_timed(wanted).map(|(f, _)| f)
}

/// `find_owners` and where its time went.
pub fn find_owners_timed(wanted: &InodeSet) -> Result<(Found, Timings), BpfError> {
    let mut t = Timings::default();
    if wanted.is_empty() {
        return Ok((Found::default(), t));
    }
    if !may_load() {
        return Err(BpfError::NoCapability);
    }
    if !in_initial_pid_ns() {
        return Err(BpfError::PidNamespace);
    }
    let start = Instant::now();
    let layout = {
        let raw = Blob::open("/sys/kernel/btf/vmlinux").map_err(BpfError::NoBtf)?;
        layout(raw.bytes())?
    };
    let btf_done = Instant::now();
    t.btf = btf_done - start;
    let iter = load(&layout)?;
    let loaded = Instant::now();
    t.load = loaded - btf_done;
    let found = collect(&iter, wanted)?;
    t.walk = loaded.elapsed();
    Ok((found, t))
}

/// Whether the effective capabilities allow loading a tracing program and
/// reading kernel memory through it: CAP_BPF (39) and CAP_PERFMON (38), or
/// CAP_SYS_ADMIN (21) alone (kernel/bpf/syscall.c, `bpf_capable`,
/// `perfmon_capable`). bpf(2) has the last word (lockdown, LSMs).
fn may_load() -> bool {
    let eff = super::effective_caps();
    let has = |bit: u32| eff & (1u64 << bit) != 0;
    has(21) || (has(39) && has(38))
}

/// True only when `/proc/self/ns/pid` says so (PROC_PID_INIT_INO): unlike
/// `source::in_initial_pid_ns`, unknown counts as no.
fn in_initial_pid_ns() -> bool {
    std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == "pid:[4026531836]")
}

/// The program's attach point and the offsets it reads, from the BTF.
struct Target {
    btf_id: u32,
    layout: insn::Layout,
}

/// The structs and the function `layout` looks up.
const BTF_NAMES: [&str; 5] = [
    "bpf_iter_task_file",
    "bpf_iter_meta",
    "task_struct",
    "file",
    "inode",
];

fn layout(raw: &[u8]) -> Result<Target, BpfError> {
    let b = btf::Btf::parse(raw, &BTF_NAMES)?;
    let (btf_id, params) = b.func("bpf_iter_task_file")?;
    // The context is one u64 per parameter (btf_ctx_access); fd is a u32 in
    // its slot (`u32 fd __aligned(8)` in struct bpf_iter__task_file).
    let slot = |name: &str, size: u32| {
        params
            .iter()
            .position(|p| p == name)
            .map(|i| btf::Field {
                offset: i as u32 * 8,
                size,
            })
            .ok_or_else(|| BpfError::Missing(format!("parameter {name} of bpf_iter_task_file")))
    };
    let layout = insn::Layout {
        ctx_meta: slot("meta", 8)?,
        ctx_task: slot("task", 8)?,
        ctx_fd: slot("fd", 4)?,
        ctx_file: slot("file", 8)?,
        meta_seq: b.field("bpf_iter_meta", "seq")?,
        task_tgid: b.field("task_struct", "tgid")?,
        file_inode: b.field("file", "f_inode")?,
        inode_mode: b.field("inode", "i_mode")?,
        inode_ino: b.field("inode", "i_ino")?,
    };
    Ok(Target { btf_id, layout })
}

/// The raw BTF: mapped where the kernel allows it (Linux >= 6.16,
/// `btf_sysfs_vmlinux_mmap` in kernel/bpf/sysfs_btf.c), else read (sysfs hands
/// out a page per read, ~1,300 reads for 5 MB).
enum Blob {
    Mapped { ptr: *mut libc::c_void, len: usize },
    Read(Vec<u8>),
}

impl Blob {
    fn open(path: &str) -> std::io::Result<Blob> {
        let f = std::fs::File::open(path)?;
        let len = usize::try_from(f.metadata()?.len()).unwrap_or(0);
        if len > 0 {
            // SAFETY: a read-only private mapping of a file we opened, of its
            // size; the result is checked, and the mapping is owned by the Blob
            // (unmapped in Drop) and outlives every slice taken from it.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ,
                    // One fault-in of every page instead of ~1,300 faults.
                    libc::MAP_PRIVATE | libc::MAP_POPULATE,
                    f.as_raw_fd(),
                    0,
                )
            };
            if ptr != libc::MAP_FAILED {
                return Ok(Blob::Mapped { ptr, len });
            }
        }
        use std::io::Read;
        let mut v = Vec::with_capacity(len);
        (&f).read_to_end(&mut v)?;
        Ok(Blob::Read(v))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            // SAFETY: ptr..ptr+len is a live read-only mapping (see open) for
            // as long as &self lives.
            Blob::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.cast::<u8>(), *len)
            },
            Blob::Read(v) => v,
        }
    }
}

impl Drop for Blob {
    fn drop(&mut self) {
        if let Blob::Mapped { ptr, len } = self {
            // SAFETY: unmaps the mapping made in open, once; no slice of it
            // outlives the Blob.
            unsafe { libc::munmap(*ptr, *len) };
        }
    }
}

// bpf(2) commands and types (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;

/// The head of `union bpf_attr` for BPF_PROG_LOAD, up to `attach_btf_obj_fd`
/// (the kernel takes a shorter attr and zeroes the rest).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    attach_btf_id: u32,
    attach_btf_obj_fd: u32,
    _pad: u32,
}

/// `link_create` of `union bpf_attr`, up to `iter_info_len`.
#[repr(C)]
#[derive(Default)]
struct LinkCreateAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    iter_info: u64,
    iter_info_len: u32,
    _pad: u32,
}

/// `iter_create` of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct IterCreateAttr {
    link_fd: u32,
    flags: u32,
}

/// bpf(cmd, attr, sizeof attr): a new fd, or the errno.
fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<OwnedFd> {
    // SAFETY: attr is a valid, initialised #[repr(C)] prefix of union bpf_attr
    // of the size given; every pointer inside it points at memory that lives
    // across the call. The kernel reads (and for logs writes) only within it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = i32::try_from(r).map_err(|_| std::io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: bpf(2) returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sys_error(cmd: &'static str, err: std::io::Error) -> BpfError {
    match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => BpfError::Refused { cmd, err },
        _ => BpfError::Sys { cmd, err },
    }
}

/// The kernel reserves bpf_seq_write to GPL-compatible programs; this one is
/// offered under MIT (as porttop) and the GPL, a string the kernel accepts
/// (`license_is_gpl_compatible`, include/linux/license.h).
const LICENSE: &[u8] = b"Dual MIT/GPL\0";

/// Loads the program and returns a fresh iterator fd over it (the program
/// and link fds close here; the iterator keeps what it needs).
fn load(t: &Target) -> Result<OwnedFd, BpfError> {
    let prog = insn::program(&t.layout).ok_or(BpfError::BadBtf("a field no load can read"))?;
    let mut name = [0u8; 16];
    name[..12].copy_from_slice(b"porttop_sock");
    let attr = |log: &mut Vec<u8>| ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_TRACING,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        prog_name: name,
        expected_attach_type: BPF_TRACE_ITER,
        attach_btf_id: t.btf_id,
        ..Default::default()
    };
    let prog_fd = match bpf(BPF_PROG_LOAD, &mut attr(&mut Vec::new())) {
        Ok(fd) => fd,
        // A rejection says why only with a log: load once more with one.
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EACCES) =>
        {
            let mut log = vec![0u8; 1 << 16];
            let again = bpf(BPF_PROG_LOAD, &mut attr(&mut log));
            let text =
                String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)])
                    .into_owned();
            match again {
                Ok(fd) => fd,
                Err(_) if !text.trim().is_empty() => {
                    return Err(BpfError::Verifier(last_lines(&text)))
                }
                Err(_) => return Err(sys_error("BPF_PROG_LOAD", e)),
            }
        }
        Err(e) => return Err(sys_error("BPF_PROG_LOAD", e)),
    };
    let mut link = LinkCreateAttr {
        prog_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_TRACE_ITER,
        ..Default::default()
    };
    let link_fd = bpf(BPF_LINK_CREATE, &mut link).map_err(|e| sys_error("BPF_LINK_CREATE", e))?;
    let mut it = IterCreateAttr {
        link_fd: link_fd.as_raw_fd() as u32,
        flags: 0,
    };
    bpf(BPF_ITER_CREATE, &mut it).map_err(|e| sys_error("BPF_ITER_CREATE", e))
}

/// The end of a verifier log, where it says what it refused (one line).
fn last_lines(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(2)..].join(" / ")
}

/// Reads the iterator to the end and keeps the wanted inodes' holders.
fn collect(iter: &OwnedFd, wanted: &InodeSet) -> Result<Found, BpfError> {
    let mut found = Found::default();
    let mut pairs: Vec<(u64, u32)> = Vec::new();
    let mut pids: Vec<u32> = Vec::new();
    // A few reads of the kernel's 32 KiB seq buffer each.
    let mut buf = vec![0u8; 1 << 17];
    let mut carry = 0usize;
    let mut again = 0;
    loop {
        // SAFETY: buf[carry..] is valid writable memory of the length given.
        let n = unsafe {
            libc::read(
                iter.as_raw_fd(),
                buf[carry..].as_mut_ptr().cast(),
                buf.len() - carry,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            // EAGAIN: a million objects in one read without output
            // (MAX_ITER_OBJECTS); the next read goes on from there.
            if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) && again < 1000 {
                again += 1;
                continue;
            }
            return Err(BpfError::Read(e));
        }
        if n == 0 {
            break;
        }
        let have = carry + n as usize;
        let whole = have - have % insn::RECORD;
        for rec in buf[..whole].chunks_exact(insn::RECORD) {
            let tgid = u32::from_ne_bytes([rec[0], rec[1], rec[2], rec[3]]);
            let ino = u64::from_ne_bytes([
                rec[8], rec[9], rec[10], rec[11], rec[12], rec[13], rec[14], rec[15],
            ]);
            found.links_read += 1;
            if pids.last() != Some(&tgid) {
                pids.push(tgid);
            }
            if wanted.contains(&ino) {
                pairs.push((ino, tgid));
            }
        }
        buf.copy_within(whole..have, 0);
        carry = have - whole;
    }
    pids.sort_unstable();
    pids.dedup();
    found.pids = pids;
    pairs.sort_unstable();
    pairs.dedup();
    let mut owners: HashMap<u64, crate::model::Pids> = HashMap::default();
    for (inode, pid) in pairs {
        owners.entry(inode).or_default().push(pid);
    }
    found.owners = owners;
    Ok(found)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
