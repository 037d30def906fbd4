//! The data porttop works on: sockets, their owners, the ephemeral range, and the
//! immutable `Snapshot` that the collector hands to every consumer. No I/O here.

pub mod conn;
mod facts;
mod record;
pub use conn::{ConnInfo, Detail};
pub use facts::{share, DestKey, PoolView, PortSet};
pub use record::{snapshot_from_records, ProcessRecord, SocketRecord};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// The shortest refresh interval any command accepts.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

/// Transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Address family of the socket as the kernel reports it (an IPv6 socket talking to
/// an IPv4-mapped peer stays `Ipv6`, like `ss -6` shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// Socket state. TCP states use the names `ss` prints; UDP sockets are `Unconn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SockState {
    #[serde(rename = "ESTAB")]
    Established,
    #[serde(rename = "SYN-SENT")]
    SynSent,
    #[serde(rename = "SYN-RECV")]
    SynRecv,
    #[serde(rename = "FIN-WAIT-1")]
    FinWait1,
    #[serde(rename = "FIN-WAIT-2")]
    FinWait2,
    #[serde(rename = "TIME-WAIT")]
    TimeWait,
    #[serde(rename = "CLOSE")]
    Close,
    #[serde(rename = "CLOSE-WAIT")]
    CloseWait,
    #[serde(rename = "LAST-ACK")]
    LastAck,
    #[serde(rename = "LISTEN")]
    Listen,
    #[serde(rename = "CLOSING")]
    Closing,
    #[serde(rename = "UNCONN")]
    Unconn,
    /// A TCP socket bound to a port but neither listening nor connected (`ss -B`):
    /// it holds the port from every destination.
    #[serde(rename = "BOUND")]
    Bound,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

impl SockState {
    /// Every state; the TCP ones first, in the order of their numbers in the
    /// Linux kernel (1 = ESTABLISHED .. 11 = CLOSING, include/net/tcp_states.h).
    pub const ALL: [SockState; 14] = [
        SockState::Established,
        SockState::SynSent,
        SockState::SynRecv,
        SockState::FinWait1,
        SockState::FinWait2,
        SockState::TimeWait,
        SockState::Close,
        SockState::CloseWait,
        SockState::LastAck,
        SockState::Listen,
        SockState::Closing,
        SockState::Unconn,
        SockState::Bound,
        SockState::Unknown,
    ];

    /// The name `ss` prints for this state (also the JSON spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            SockState::Established => "ESTAB",
            SockState::SynSent => "SYN-SENT",
            SockState::SynRecv => "SYN-RECV",
            SockState::FinWait1 => "FIN-WAIT-1",
            SockState::FinWait2 => "FIN-WAIT-2",
            SockState::TimeWait => "TIME-WAIT",
            SockState::Close => "CLOSE",
            SockState::CloseWait => "CLOSE-WAIT",
            SockState::LastAck => "LAST-ACK",
            SockState::Listen => "LISTEN",
            SockState::Closing => "CLOSING",
            SockState::Unconn => "UNCONN",
            SockState::Bound => "BOUND",
            SockState::Unknown => "UNKNOWN",
        }
    }

    /// Parses ss-style and netstat-style names, case-insensitively:
    /// `time-wait`, `TIME_WAIT`, `timewait`, `estab`, `established`, `listening`...
    pub fn parse(s: &str) -> Option<SockState> {
        let norm: String = s
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        Some(match norm.as_str() {
            "estab" | "established" => SockState::Established,
            "synsent" => SockState::SynSent,
            "synrecv" | "synreceived" => SockState::SynRecv,
            "finwait1" => SockState::FinWait1,
            "finwait2" => SockState::FinWait2,
            "timewait" => SockState::TimeWait,
            "close" | "closed" => SockState::Close,
            "closewait" => SockState::CloseWait,
            "lastack" => SockState::LastAck,
            "listen" | "listening" => SockState::Listen,
            "closing" => SockState::Closing,
            "unconn" | "unconnected" => SockState::Unconn,
            "bound" | "boundinactive" => SockState::Bound,
            "unknown" => SockState::Unknown,
            _ => return None,
        })
    }
}

impl fmt::Display for SockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An address and a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Endpoint {
            addr: unmap(addr),
            port,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// `::ffff:1.2.3.4` becomes `1.2.3.4`; everything else is unchanged.
pub fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// The process that owns (holds a descriptor of) a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub pid: u32,
    /// The kernel's name for it (comm, at most 15 bytes), as `ss` and `ps` show it.
    pub name: String,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// Arguments joined by spaces (empty for kernel threads and unreadable entries),
    /// at most [`CMDLINE_MAX`] bytes: longer ones end in [`CUT_MARK`].
    pub cmdline: String,
    /// The container the process runs in (from its cgroup path), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// The systemd unit (service or scope) of a process that sits in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// A container, as its cgroup path and the runtime's files on disk name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// The runtime's id: 64 hex digits for Docker, containerd, CRI-O and
    /// Podman; the pod uid for a Kubernetes pod seen only by its slice.
    pub id: String,
    /// The name the runtime keeps on disk (Docker's `Name`, the pod's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// docker, containerd, cri-o, podman or kubernetes.
    pub runtime: String,
}

impl Container {
    /// Its name, or else the first 12 digits of its id (as `docker ps` shows it).
    pub fn label(&self) -> &str {
        match &self.name {
            Some(n) => n,
            None => &self.id[..self.id.len().min(12)],
        }
    }

    /// Whether `want` names it: its name, or its id or a prefix of it of at
    /// least 4 digits (as `docker` takes one).
    pub fn matches(&self, want: &str) -> bool {
        self.name.as_deref() == Some(want) || (want.len() >= 4 && self.id.starts_with(want))
    }
}

/// A network namespace of the host: its own socket table, ephemeral range,
/// reserved ports and `tcp_tw_reuse`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Netns {
    /// The namespace's inode (`/proc/PID/ns/net` -> `net:[INODE]`): its identity.
    pub inode: u64,
    /// `host` for the one porttop runs in (unless `ip netns` names it), else the
    /// `ip netns` name, the container's name, or the first process's name.
    pub name: String,
    /// The namespace porttop runs in (its sockets have `Socket::netns` 0).
    #[serde(default)]
    pub own: bool,
    /// The container whose processes live in it, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Its range, read inside it.
    pub range: PortRange,
    /// Its kernel TCP counters, read inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<KernelCounters>,
    /// The live source's open file of it: what `actions::close_socket`
    /// enters to act there. None for the namespace porttop runs in, and in
    /// recordings (a handle on the live system, not a fact about it: never
    /// serialised, and not compared).
    #[serde(skip)]
    pub handle: Option<NsHandle>,
}

/// Equal facts: the handle aside (two snapshots of one namespace are equal
/// whether or not they hold a way into it).
impl PartialEq for Netns {
    fn eq(&self, o: &Self) -> bool {
        let Netns {
            inode,
            name,
            own,
            container,
            range,
            counters,
            handle: _,
        } = self;
        *inode == o.inode
            && *name == o.name
            && *own == o.own
            && *container == o.container
            && *range == o.range
            && *counters == o.counters
    }
}

/// An open file of a network namespace (nsfs), shared by the source that
/// opened it and every snapshot and dialog that lists the namespace. Holding
/// it keeps that very namespace alive (an nsfs file holds a reference to it,
/// fs/nsfs.c), so its inode cannot be given to another one meanwhile and no
/// pid has to stay alive for it: acting through it reaches the namespace that
/// was listed, never a newer one found again by a path. The model only holds
/// what the source handed over; opening it and entering it is the source's
/// and `actions`' business.
#[derive(Clone)]
pub struct NsHandle(Arc<std::fs::File>);

impl NsHandle {
    pub fn new(file: Arc<std::fs::File>) -> Self {
        NsHandle(file)
    }

    /// The open namespace file.
    pub fn file(&self) -> &std::fs::File {
        &self.0
    }

    /// Whether `o` is this very handle (not another file of the namespace).
    pub fn same(&self, o: &NsHandle) -> bool {
        Arc::ptr_eq(&self.0, &o.0)
    }
}

/// (File's Debug asks the OS for the file's path: not here.)
impl std::fmt::Debug for NsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NsHandle")
    }
}

impl Netns {
    /// Whether a line about one of its sockets names it: every namespace but
    /// the one named `host` (porttop's own, unless `ip netns` names it), since
    /// the same addresses can be in two namespaces.
    pub fn worth_naming(&self) -> bool {
        self.name != "host"
    }
}

/// The longest command line porttop keeps, in bytes. Any user can give a process
/// a command line of megabytes (`ulimit -s unlimited` lifts the kernel's cap of a
/// quarter of the stack limit, execve(2) "Limits on size of arguments"); kept
/// whole it was copied into every socket's record, so twenty listeners made
/// `list --json` 230 MB. Beyond this the line is cut and marked with [`CUT_MARK`].
pub const CMDLINE_MAX: usize = 4096;

/// What ends a command line that was cut at [`CMDLINE_MAX`].
pub const CUT_MARK: &str = "…";

/// `s` cut to at most [`CMDLINE_MAX`] bytes (at a character boundary) plus
/// [`CUT_MARK`] when it was longer; unchanged otherwise.
pub fn cap_cmdline(mut s: String) -> String {
    if s.len() > CMDLINE_MAX {
        let mut end = CMDLINE_MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str(CUT_MARK);
        s.shrink_to_fit();
    }
    s
}

/// The pids of one socket: almost always one, so held inline (no allocation per
/// socket: a table has tens of thousands).
pub type Pids = smallvec::SmallVec<[u32; 2]>;

/// One socket of the table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Socket {
    pub proto: Proto,
    pub family: Family,
    pub local: Endpoint,
    /// None for listeners and unconnected UDP sockets.
    pub remote: Option<Endpoint>,
    pub state: SockState,
    /// Owner uid of the socket (Linux reports it for every socket).
    pub uid: Option<u32>,
    /// The uid's name, shared by every socket of that user (one allocation per
    /// user, not per socket: tables hold tens of thousands of sockets).
    pub user: Option<Arc<str>>,
    /// Socket inode (Linux); 0 / None for TIME_WAIT and other orphaned sockets.
    pub inode: Option<u64>,
    /// Pids holding a descriptor of this socket, ascending; empty when unknown.
    pub pids: Pids,
    /// What is left of a TIME-WAIT socket's timer, in ms (sock_diag `idiag_expires`):
    /// when its port comes back. None for other states and where unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_wait_left_ms: Option<u32>,
    /// Queues, timer, tcp_info, memory and rates (`model::conn`): for listeners
    /// always, for the rest when the source was asked for `Detail::Info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn: Option<Box<ConnInfo>>,
    /// The network namespace of the socket (its inode, see [`Netns`]); 0 for the
    /// snapshot's own namespace, whose range is `Snapshot::range`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub netns: u64,
    /// The kernel's socket cookie (sock_diag's `idiag_cookie`, in every
    /// record's header whatever detail was asked): the socket's identity for
    /// its whole life, with which `actions::close_socket` names that very
    /// socket and not a newer one on the same ports. 0 where unknown (other
    /// OS, recordings: the kernel never gives a socket cookie 0,
    /// net/core/sock_diag.c sock_gen_cookie). A handle on the live system,
    /// so not serialised (`conn.cookie` says it where detail was asked).
    #[serde(skip)]
    pub cookie: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl Socket {
    /// Why the socket shows no process, in words true for the caller (`root`:
    /// porttop runs as root): TIME-WAIT and orphaned sockets have none; as root,
    /// an owner we cannot see is in another PID namespace; otherwise it is
    /// probably another user's.
    pub fn why_no_process(&self, root: bool) -> &'static str {
        if self.inode.is_none() {
            "none (no process holds a TIME-WAIT or orphaned socket)"
        } else if root {
            "not visible here (in another PID namespace or container?)"
        } else {
            "unknown (another user's? run as root to see it)"
        }
    }

    /// A key that identifies the same socket across snapshots.
    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            local: self.local,
            remote: self.remote,
            inode: self.inode.unwrap_or(0),
            netns: self.netns,
        }
    }
}

/// Identity of a socket across refreshes (the 4-tuple plus the inode, so that a
/// new socket reusing the tuple of a closed one counts as new).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketKey {
    pub proto: Proto,
    pub local: Endpoint,
    pub remote: Option<Endpoint>,
    pub inode: u64,
    pub netns: u64,
}

/// The ephemeral (dynamic) port range in force and the ports reserved from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
    /// Reserved ports as sorted, merged, inclusive ranges (may lie outside the range).
    pub reserved: Vec<(u16, u16)>,
    /// Where the range came from, e.g. `/proc/sys/net/ipv4/ip_local_port_range`.
    pub source: String,
    /// `net.ipv4.tcp_tw_reuse` of the namespace (0 off, 1 on, 2 loopback only, the
    /// default since Linux 5.1): whether connect() may reuse a TIME-WAIT port toward
    /// the same destination. None where unknown (other OS, old recordings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tw_reuse: Option<u8>,
}

impl PortRange {
    pub fn new(low: u16, high: u16, reserved: Vec<(u16, u16)>, source: impl Into<String>) -> Self {
        PortRange {
            low,
            high,
            reserved: merge_ranges(reserved),
            source: source.into(),
            tw_reuse: None,
        }
    }

    /// Linux default (32768-60999), used when nothing can be read.
    pub fn linux_default() -> Self {
        PortRange::new(32768, 60999, Vec::new(), "built-in Linux default")
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    pub fn is_reserved(&self, port: u16) -> bool {
        self.reserved
            .binary_search_by(|&(lo, hi)| {
                if hi < port {
                    std::cmp::Ordering::Less
                } else if lo > port {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .is_ok()
    }

    /// A port the OS may hand out for an outbound connection.
    pub fn is_ephemeral(&self, port: u16) -> bool {
        self.contains(port) && !self.is_reserved(port)
    }

    /// Number of ports in the range (0 for a malformed range with low > high).
    pub fn size(&self) -> u32 {
        (u32::from(self.high) + 1).saturating_sub(u32::from(self.low))
    }

    /// Reserved ports that lie inside the range.
    pub fn reserved_in_range(&self) -> u32 {
        self.reserved
            .iter()
            .map(|&(lo, hi)| {
                let lo = lo.max(self.low);
                let hi = hi.min(self.high);
                if lo > hi {
                    0
                } else {
                    u32::from(hi) - u32::from(lo) + 1
                }
            })
            .sum()
    }

    /// Ports the OS can actually hand out: range size minus reserved ports in it.
    pub fn pool_size(&self) -> u32 {
        self.size().saturating_sub(self.reserved_in_range())
    }

    /// The reserved list in the kernel's syntax: `1-4,10,40005-40007`.
    pub fn reserved_string(&self) -> String {
        format_ranges(&self.reserved)
    }
}

/// Sorts and merges overlapping or adjacent inclusive ranges.
pub fn merge_ranges(mut v: Vec<(u16, u16)>) -> Vec<(u16, u16)> {
    for r in v.iter_mut() {
        if r.0 > r.1 {
            *r = (r.1, r.0);
        }
    }
    v.sort_unstable();
    let mut out: Vec<(u16, u16)> = Vec::with_capacity(v.len());
    for (lo, hi) in v {
        match out.last_mut() {
            Some(last) if u32::from(lo) <= u32::from(last.1) + 1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Formats ranges the way `/proc/sys/net/ipv4/ip_local_reserved_ports` does.
pub fn format_ranges(v: &[(u16, u16)]) -> String {
    v.iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One immutable picture of the socket table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch.
    pub taken_at_ms: u64,
    pub host: String,
    pub range: PortRange,
    /// True when some open sockets show no process because their owners are
    /// hidden from porttop (other users' processes without root, processes
    /// outside its PID namespace).
    pub partial: bool,
    pub sockets: Vec<Socket>,
    /// Owning processes by pid.
    pub processes: BTreeMap<u32, Arc<Process>>,
    /// The kernel's TCP counters of the namespace when the snapshot was taken
    /// (`/proc/net/snmp`, `/proc/net/netstat`); None where unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<KernelCounters>,
    /// The network namespaces read, the own one first (empty: only the own one,
    /// unnamed, as in older recordings and off Linux).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub netns: Vec<Netns>,
}

/// The kernel's own TCP counters (cumulative since boot or namespace creation),
/// under their `/proc/net/snmp` (`Tcp:`) and `/proc/net/netstat` (`TcpExt:`) names.
/// A counter the kernel does not report is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelCounters {
    /// connect() calls that sent a SYN (Tcp ActiveOpens): every outbound
    /// connection, however short.
    pub active_opens: u64,
    /// Connections that failed before ESTABLISHED (Tcp AttemptFails).
    pub attempt_fails: u64,
    /// Established connections reset (Tcp EstabResets).
    pub estab_resets: u64,
    /// TIME-WAIT sockets not created because tcp_max_tw_buckets was reached
    /// (TcpExt TCPTimeWaitOverflow).
    pub time_wait_overflow: u64,
    /// SYNs dropped because an accept queue was full (TcpExt ListenOverflows).
    pub listen_overflows: u64,
    /// SYNs dropped at a listener for any reason (TcpExt ListenDrops).
    pub listen_drops: u64,
}

impl KernelCounters {
    /// (kernel name, value) of every counter, in a fixed order.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("ActiveOpens", self.active_opens),
            ("AttemptFails", self.attempt_fails),
            ("EstabResets", self.estab_resets),
            ("TCPTimeWaitOverflow", self.time_wait_overflow),
            ("ListenOverflows", self.listen_overflows),
            ("ListenDrops", self.listen_drops),
        ]
    }

    /// Sets a counter by its kernel name (`prefix` is `Tcp` or `TcpExt`); other
    /// names are ignored.
    pub fn set(&mut self, prefix: &str, name: &str, value: u64) {
        let slot = match (prefix, name) {
            ("Tcp", "ActiveOpens") => &mut self.active_opens,
            ("Tcp", "AttemptFails") => &mut self.attempt_fails,
            ("Tcp", "EstabResets") => &mut self.estab_resets,
            ("TcpExt", "TCPTimeWaitOverflow") => &mut self.time_wait_overflow,
            ("TcpExt", "ListenOverflows") => &mut self.listen_overflows,
            ("TcpExt", "ListenDrops") => &mut self.listen_drops,
            _ => return,
        };
        *slot = value;
    }
}

impl Snapshot {
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid).map(|p| p.as_ref())
    }

    /// The first owner of a socket (lowest pid), if known.
    pub fn owner(&self, s: &Socket) -> Option<&Process> {
        s.pids.first().and_then(|p| self.process(*p))
    }

    /// Whether a socket's local port lies in the ephemeral pool of its namespace.
    pub fn is_ephemeral(&self, s: &Socket) -> bool {
        self.range_of(s.netns).is_ephemeral(s.local.port)
    }

    /// The namespace `inode` (0: the own one), if the snapshot knows it.
    pub fn netns_info(&self, inode: u64) -> Option<&Netns> {
        if inode == 0 {
            self.netns.iter().find(|n| n.own)
        } else {
            self.netns.iter().find(|n| n.inode == inode)
        }
    }

    /// The range of namespace `inode` (0, or unknown: the own one's).
    pub fn range_of(&self, inode: u64) -> &PortRange {
        match self.netns_info(inode) {
            Some(n) if inode != 0 => &n.range,
            _ => &self.range,
        }
    }

    /// The name of namespace `inode` (`host` for the own one when unnamed).
    pub fn netns_name(&self, inode: u64) -> &str {
        self.netns_info(inode).map_or("host", |n| n.name.as_str())
    }

    /// Whether sockets of more than one namespace are in the snapshot.
    pub fn multi_netns(&self) -> bool {
        self.netns.len() > 1 && self.sockets.iter().any(|s| s.netns != 0)
    }

    /// One snapshot per namespace with sockets, by `Socket::netns` (the own one,
    /// 0, first and always): its
    /// sockets (with `netns` 0), its range and counters, the processes that own
    /// them; `netns` holds just that namespace, as its own. Each is what an
    /// analysis of one namespace reads.
    pub fn split_netns(&self) -> Vec<(u64, Snapshot)> {
        let mut by: BTreeMap<u64, Vec<Socket>> = BTreeMap::new();
        by.insert(0, Vec::new());
        for s in &self.sockets {
            let mut c = s.clone();
            c.netns = 0;
            by.entry(s.netns).or_default().push(c);
        }
        by.into_iter()
            .map(|(ino, sockets)| {
                let info = self.netns_info(ino).cloned();
                let processes = sockets
                    .iter()
                    .flat_map(|s| s.pids.iter())
                    .filter_map(|p| self.processes.get(p).map(|a| (*p, Arc::clone(a))))
                    .collect();
                let (range, counters) = match (&info, ino) {
                    (Some(n), i) if i != 0 => (n.range.clone(), n.counters),
                    _ => (self.range.clone(), self.counters),
                };
                let part = Snapshot {
                    taken_at_ms: self.taken_at_ms,
                    host: self.host.clone(),
                    range,
                    partial: self.partial,
                    sockets,
                    processes,
                    counters,
                    netns: info
                        .map(|mut n| {
                            n.own = true;
                            vec![n]
                        })
                        .unwrap_or_default(),
                };
                (ino, part)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table holds 50,000 to 500,000 sockets: each 8 bytes of Socket is
    /// up to 4 MB (the cookie took 8: 136 -> 144 on x86_64). Grow it on purpose.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_socket_stays_small() {
        assert!(std::mem::size_of::<Socket>() <= 144);
    }
    use std::net::Ipv6Addr;

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
    }

    #[test]
    fn mapped_ipv6_is_shown_as_ipv4() {
        let e = Endpoint::new(v6("::ffff:10.1.2.3"), 80);
        assert_eq!(e.to_string(), "10.1.2.3:80");
        let e = Endpoint::new(v6("::1"), 80);
        assert_eq!(e.to_string(), "[::1]:80");
    }

    #[test]
    fn state_names_parse_in_ss_and_netstat_spellings() {
        assert_eq!(SockState::parse("time-wait"), Some(SockState::TimeWait));
        assert_eq!(SockState::parse("TIME_WAIT"), Some(SockState::TimeWait));
        assert_eq!(
            SockState::parse("Established"),
            Some(SockState::Established)
        );
        assert_eq!(SockState::parse("estab"), Some(SockState::Established));
        assert_eq!(SockState::parse("LISTENING"), Some(SockState::Listen));
        assert_eq!(SockState::parse("bogus"), None);
        for s in SockState::ALL {
            assert_eq!(SockState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn pool_size_excludes_reserved_ports_inside_the_range_only() {
        let r = PortRange::new(1000, 1099, vec![(10, 20), (1090, 1200), (1000, 1000)], "t");
        assert_eq!(r.size(), 100);
        assert_eq!(r.reserved_in_range(), 11);
        assert_eq!(r.pool_size(), 89);
        assert!(r.is_reserved(1095));
        assert!(!r.is_ephemeral(1095));
        assert!(r.is_ephemeral(1050));
        assert!(!r.is_ephemeral(999));
    }

    #[test]
    fn long_command_lines_are_cut_at_a_char_boundary_and_marked() {
        assert_eq!(cap_cmdline("srv -x".into()), "srv -x");
        let exact = "a".repeat(CMDLINE_MAX);
        assert_eq!(cap_cmdline(exact.clone()), exact);
        let cut = cap_cmdline(format!("a{}", "é".repeat(CMDLINE_MAX)));
        assert!(cut.len() <= CMDLINE_MAX + CUT_MARK.len());
        assert!(cut.ends_with(CUT_MARK));
        assert!(cut[1..]
            .trim_end_matches(CUT_MARK)
            .chars()
            .all(|c| c == 'é'));
    }

    #[test]
    fn ranges_merge_and_format_like_the_kernel() {
        let m = merge_ranges(vec![
            (40005, 40007),
            (10, 10),
            (1, 4),
            (5, 5),
            (40002, 40002),
        ]);
        assert_eq!(format_ranges(&m), "1-5,10,40002,40005-40007");
    }
}
