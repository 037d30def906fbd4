//! The flat, per-socket JSON record of `porttop list --json`, and the way back from
//! records to a `Snapshot` (so a recorded `list --json` replays anywhere).

use super::{Endpoint, Family, PortRange, Process, Proto, Snapshot, SockState, Socket};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

/// One owner of a socket, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub pid: u32,
    pub name: String,
    #[serde(default)]
    pub uid: Option<u32>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub cmdline: String,
}

/// One row of `porttop list --json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketRecord {
    pub proto: Proto,
    pub family: Family,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub state: SockState,
    pub uid: Option<u32>,
    pub user: Option<String>,
    #[serde(default)]
    pub inode: Option<u64>,
    #[serde(default)]
    pub pids: Vec<u32>,
    /// Name of the first owner.
    pub process: Option<String>,
    /// Command line of the first owner.
    pub cmdline: Option<String>,
    /// Local port inside the ephemeral range and not reserved.
    pub ephemeral: bool,
    /// Every owner in full.
    #[serde(default)]
    pub processes: Vec<ProcessRecord>,
    /// Queues (`rx_queue`, `tx_queue`: ss's Recv-Q/Send-Q), timer, tcp_info
    /// under the kernel's names, memory and rates, where the source had them.
    #[serde(flatten)]
    pub conn: Option<super::ConnInfo>,
    /// The socket's network namespace (where the snapshot names them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<NetnsRecord>,
    /// The container of the first owner, if it runs in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<super::Container>,
}

/// A network namespace as a record names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetnsRecord {
    pub inode: u64,
    pub name: String,
}

impl SocketRecord {
    pub fn new(snap: &Snapshot, s: &Socket) -> Self {
        let procs: Vec<&Process> = s.pids.iter().filter_map(|p| snap.process(*p)).collect();
        SocketRecord {
            proto: s.proto,
            family: s.family,
            local_addr: s.local.addr,
            local_port: s.local.port,
            remote_addr: s.remote.map(|r| r.addr),
            remote_port: s.remote.map(|r| r.port),
            state: s.state,
            uid: s.uid,
            user: s.user.as_deref().map(str::to_string),
            inode: s.inode,
            pids: s.pids.to_vec(),
            process: procs.first().map(|p| p.name.clone()),
            cmdline: procs.first().map(|p| p.cmdline.clone()),
            ephemeral: snap.is_ephemeral(s),
            processes: procs
                .iter()
                .map(|p| ProcessRecord {
                    pid: p.pid,
                    name: p.name.clone(),
                    uid: p.uid,
                    user: p.user.clone(),
                    cmdline: p.cmdline.clone(),
                })
                .collect(),
            conn: s.conn.as_deref().cloned(),
            netns: snap.netns_info(s.netns).map(|n| NetnsRecord {
                inode: n.inode,
                name: n.name.clone(),
            }),
            container: procs.first().and_then(|p| p.container.clone()),
        }
    }
}

/// Rebuilds a snapshot from records. Records of older versions without `processes`
/// get one process per pid from `process`/`cmdline`.
pub fn snapshot_from_records(
    recs: Vec<SocketRecord>,
    range: PortRange,
    host: String,
    taken_at_ms: u64,
) -> Snapshot {
    let mut processes: BTreeMap<u32, Arc<Process>> = BTreeMap::new();
    let mut sockets = Vec::with_capacity(recs.len());
    // The namespaces the records name: the first is the primary (`netns` 0);
    // the others' ranges are not in the records and replay as the given one.
    let mut netns: Vec<super::Netns> = Vec::new();
    for r in recs {
        let ns = match &r.netns {
            Some(n) => match netns.iter().position(|x| x.inode == n.inode) {
                Some(0) => 0,
                Some(_) => n.inode,
                None => {
                    netns.push(super::Netns {
                        inode: n.inode,
                        name: n.name.clone(),
                        own: netns.is_empty(),
                        container: None,
                        range: range.clone(),
                        counters: None,
                        handle: None,
                    });
                    if netns.len() == 1 {
                        0
                    } else {
                        n.inode
                    }
                }
            },
            None => 0,
        };
        if r.processes.is_empty() {
            for pid in &r.pids {
                processes.entry(*pid).or_insert_with(|| {
                    Arc::new(Process {
                        pid: *pid,
                        name: r.process.clone().unwrap_or_default(),
                        uid: r.uid,
                        user: r.user.clone(),
                        cmdline: r.cmdline.clone().unwrap_or_default(),
                        container: None,
                        unit: None,
                    })
                });
            }
        }
        for p in &r.processes {
            processes.entry(p.pid).or_insert_with(|| {
                Arc::new(Process {
                    pid: p.pid,
                    name: p.name.clone(),
                    uid: p.uid,
                    user: p.user.clone(),
                    cmdline: p.cmdline.clone(),
                    container: None,
                    unit: None,
                })
            });
        }
        let remote = match (r.remote_addr, r.remote_port) {
            (Some(a), Some(p)) => Some(Endpoint::new(a, p)),
            _ => None,
        };
        let mut pids = r.pids;
        pids.sort_unstable();
        pids.dedup();
        sockets.push(Socket {
            proto: r.proto,
            family: r.family,
            local: Endpoint::new(r.local_addr, r.local_port),
            remote,
            state: r.state,
            uid: r.uid,
            user: r.user.map(Arc::from),
            inode: r.inode,
            pids: pids.into(),
            time_wait_left_ms: None,
            conn: r.conn.map(Box::new),
            netns: ns,
            cookie: 0,
        });
    }
    Snapshot {
        taken_at_ms,
        host,
        range,
        partial: false,
        counters: None,
        sockets,
        processes,
        netns,
    }
}
