//! The Namespaces view: one row per network namespace — its name, container,
//! range, sockets (of those the filter passes), pool level and fraction, and
//! worst destination — the worst first, as the analysis ranks them.

use super::rows::Row;
use crate::analysis::NetnsPool;
use crate::model::Snapshot;

/// One namespace of the Namespaces view.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NsGroup {
    pub inode: u64,
    pub name: String,
    pub container: String,
    pub range: String,
    pub sockets: usize,
    pub level: crate::analysis::pool::Level,
    pub pct: f64,
    pub worst: String,
}

/// Column titles, in order (the same as `pool`'s table of namespaces).
pub use crate::output::NETNS_TITLES as TITLES;

/// The namespaces of `snap`, in the analysis' order (worst first; those it has
/// no pool for after, by name), counting the sockets of `passing`.
pub fn ns_groups<'a>(
    passing: impl Iterator<Item = &'a Row>,
    snap: &Snapshot,
    pools: &[NetnsPool],
) -> Vec<NsGroup> {
    let mut count: rustc_hash::FxHashMap<u64, usize> = Default::default();
    for r in passing {
        *count.entry(r.sock.netns).or_default() += 1;
    }
    // Socket::netns is 0 for the primary namespace.
    let tag = |inode: u64| match snap.netns_info(0) {
        Some(n) if n.inode == inode => 0,
        _ => inode,
    };
    let mut out: Vec<NsGroup> = Vec::with_capacity(snap.netns.len());
    let mut order: Vec<u64> = pools.iter().map(|p| p.inode).collect();
    let mut rest: Vec<&crate::model::Netns> = snap
        .netns
        .iter()
        .filter(|n| !order.contains(&n.inode))
        .collect();
    rest.sort_by(|a, b| a.name.cmp(&b.name));
    order.extend(rest.iter().map(|n| n.inode));
    for inode in order {
        let Some(n) = snap.netns.iter().find(|n| n.inode == inode) else {
            continue;
        };
        let pool = pools.iter().find(|p| p.inode == inode);
        out.push(NsGroup {
            inode,
            name: n.name.clone(),
            container: n
                .container
                .as_ref()
                .map_or_else(|| "-".into(), |c| c.label().to_string()),
            range: format!("{}-{}", n.range.low, n.range.high),
            sockets: count.get(&tag(inode)).copied().unwrap_or(0),
            level: pool.map(|p| p.report.level).unwrap_or_default(),
            pct: pool.map_or(0.0, |p| p.report.fraction * 100.0),
            worst: pool
                .and_then(|p| p.report.worst.as_ref())
                .map_or_else(|| "-".into(), |d| d.key.remote.to_string()),
        });
    }
    out
}

/// The cells of one row.
pub fn cells(g: &NsGroup) -> Vec<String> {
    vec![
        g.name.clone(),
        g.container.clone(),
        g.range.clone(),
        g.sockets.to_string(),
        g.level.as_str().to_string(),
        format!("{:.1}%", g.pct),
        g.worst.clone(),
    ]
}
