//! Where snapshots come from: the live system (`SystemSource`) or a recording
//! (`FixtureSource`). Everything above this module sees only `Snapshot`s.

pub mod attrib;
#[cfg(target_os = "linux")]
mod bpf_iter;
#[cfg(target_os = "linux")]
pub mod container;
pub mod counters;
#[cfg(target_os = "linux")]
mod diag;
#[cfg(target_os = "linux")]
mod diag_info;
mod fixture;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod owners;
pub mod procs;
mod rates;
mod system;

pub use fixture::{parse_fixture, FixtureSource};
pub use owners::Reach;
pub use system::{netstat2_bare_dump, SystemSource};

/// Which namespaces to read (`--netns`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NetnsSelect {
    /// Every namespace where porttop may enter them (root), else its own.
    #[default]
    Auto,
    /// `host`: only the namespace porttop runs in.
    Own,
    /// `all`: every namespace (saying what cannot be entered).
    All,
    /// By name, container name or id, or inode (`host` for the own one).
    Named(Vec<String>),
}

impl NetnsSelect {
    /// `host`, `all`, or `NAME[,NAME..]`.
    pub fn parse(s: &str) -> Result<NetnsSelect, String> {
        let names: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        match names.as_slice() {
            [] => Err("--netns: give host, all, or namespace names".into()),
            [one] if one == "host" => Ok(NetnsSelect::Own),
            [one] if one == "all" => Ok(NetnsSelect::All),
            _ => Ok(NetnsSelect::Named(names)),
        }
    }
}

use crate::model::Snapshot;

/// Errors while taking a snapshot; each displays as one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read the socket table: {0}")]
    Netlink(String),
    #[error("cannot list /proc: {}", proc_error(.0))]
    Proc(std::io::Error),
    #[error("cannot read {path}: {err}")]
    File { path: String, err: std::io::Error },
    #[error("{path}: not a porttop recording: {msg}")]
    Fixture { path: String, msg: String },
    #[error("{0}")]
    Range(#[from] crate::range::RangeError),
    /// A namespace asked for that cannot be read; the message says which and why.
    #[error("{0}")]
    Netns(String),
    #[error("socket listing is not supported on this OS")]
    Unsupported,
}

/// An I/O error as the user should read it: running out of file descriptors
/// says so and what to do (it is not a missing /proc).
pub fn describe_io(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE) => format!(
            "{e}: porttop reached its limit of open files (raise it, e.g. ulimit -n {})",
            fd_limit().map_or(1024, |n| (n * 4).max(1024))
        ),
        Some(libc::ENFILE) => format!("{e}: the system-wide limit of open files is reached"),
        _ => e.to_string(),
    }
}

fn proc_error(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{e} (is /proc mounted?)")
    } else {
        describe_io(e)
    }
}

/// The soft limit of open files (RLIMIT_NOFILE), if known.
#[cfg(not(unix))]
fn fd_limit() -> Option<u64> {
    None
}

/// The soft limit of open files (RLIMIT_NOFILE), if known.
#[cfg(unix)]
fn fd_limit() -> Option<libc::rlim_t> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct it is given.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } == 0).then_some(r.rlim_cur)
}

/// A source of socket-table snapshots. The collector thread owns one.
pub trait SocketSource: Send {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError>;

    /// Finds the owning processes of the sockets of `snap` with these inodes,
    /// when this source leaves owners out (a lazy `SystemSource`); the others
    /// keep none. Sources whose snapshots come with owners (a recording, a
    /// source that is not lazy) have nothing to do. `reach`: every holder, or
    /// the first holders' process family (see `owners::Reach`; the BPF
    /// walk finds every holder whatever is asked).
    fn attribute(
        &mut self,
        _snap: &mut Snapshot,
        _inodes: &attrib::InodeSet,
        _reach: Reach,
    ) -> Result<(), SourceError> {
        Ok(())
    }

    /// True when the next `snapshot` would only repeat the last one: a
    /// recording that is used up. Commands that go through a recording once
    /// (`watch`, `record`, `pool`) stop there; the live system never ends.
    fn at_end(&self) -> bool {
        false
    }

    /// A note for the user that the source met (once): a recording whose last
    /// line was cut, say.
    fn take_note(&mut self) -> Option<String> {
        None
    }

    /// Which sockets the next snapshots need the per-connection detail of
    /// (the dashboard's rows on screen); a source made without detail, or a
    /// recording, ignores it.
    fn show_detail(&mut self, _shown: &crate::model::conn::Shown) {}
}

/// The ephemeral-range settings a source applies: the `--range`/`--reserved`
/// what-if overrides (None: use what the OS says).
#[derive(Clone, Debug, Default)]
pub struct RangeConfig {
    pub range: Option<String>,
    pub reserved: Option<String>,
}

impl RangeConfig {
    pub fn resolve(&self) -> Result<crate::model::PortRange, crate::range::RangeError> {
        crate::range::resolve(self.range.as_deref(), self.reserved.as_deref())
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// This machine's host name ("?" when unknown).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates or
    // truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The one line to say when attribution was partial, or None.
pub fn partial_hint(snap: &crate::model::Snapshot) -> Option<String> {
    if !snap.partial {
        return None;
    }
    let missing = missing_read_caps();
    if missing.is_empty() {
        // Every /proc entry is readable to us: what is missing is outside our
        // PID namespace.
        return Some(
            "some sockets show no process: no process in this PID namespace holds \
             them (they belong to processes outside it, e.g. on this container's host)"
                .into(),
        );
    }
    Some(format!(
        "sockets of other users show no process; give porttop {} (or run it as root) to see them",
        missing.join(" and ")
    ))
}

/// The capabilities, of the two that reading every process's sockets needs, this
/// process lacks: CAP_SYS_PTRACE for `/proc/PID/fd` of another user (ptrace
/// access mode read, proc(5)) and CAP_DAC_READ_SEARCH to search that directory
/// (mode 0500, its owner's). Root has both.
pub fn missing_read_caps() -> Vec<&'static str> {
    // Bit numbers from linux/capability.h.
    const WANTED: [(u32, &str); 2] = [(19, "CAP_SYS_PTRACE"), (2, "CAP_DAC_READ_SEARCH")];
    let eff = effective_caps();
    WANTED
        .iter()
        .filter(|(bit, _)| eff & (1u64 << bit) == 0)
        .map(|(_, name)| *name)
        .collect()
}

/// The effective capability set (`CapEff` of /proc/self/status); off Linux,
/// all or nothing by the effective uid.
pub(crate) fn effective_caps() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let from_status = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok());
    // SAFETY: geteuid has no preconditions.
    from_status.unwrap_or(if unsafe { libc::geteuid() } == 0 {
        u64::MAX
    } else {
        0
    })
}

/// True when porttop runs in the initial PID namespace, where every process is
/// in /proc: `/proc/self/ns/pid` is `pid:[4026531836]` there (PROC_PID_INIT_INO,
/// include/linux/proc_ns.h). Unknown (no /proc, other OS) counts as true.
pub fn in_initial_pid_ns() -> bool {
    match std::fs::read_link("/proc/self/ns/pid") {
        Ok(l) => l.as_os_str() == "pid:[4026531836]",
        Err(_) => true,
    }
}

/// Allocator settings for the long-running commands (dashboard, serve, watch), called
/// before their threads start. glibc: one arena, as the collector builds tables
/// that another thread frees and per-thread arenas would each keep their own
/// high-water mark; and a fixed mmap threshold of 1 MiB, so the large per-refresh
/// vectors (megabytes at 40,000 sockets) are mapped and unmapped instead of
/// fragmenting the heap: glibc's adaptive threshold moved them onto the heap and
/// the dashboard's peak RSS wandered from run to run; with the fixed threshold it
/// stays put (figures in README.md, "Measured for design decisions").
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before other threads start.
    unsafe {
        // An operator's (or a benchmark's) own glibc.malloc tunables win.
        let tuned = std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("glibc.malloc."));
        if !tuned {
            libc::mallopt(libc::M_ARENA_MAX, 1);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}
