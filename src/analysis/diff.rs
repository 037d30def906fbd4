//! What changed between two snapshots: sockets that appeared, disappeared, or changed
//! state. O(n) with hashing; it runs every refresh on tables of 40,000 sockets.
//!
//! Identity: two sockets are the same when their [`SocketKey`] matches (proto, local,
//! remote, inode). The kernel drops the inode when a socket is orphaned (ESTAB ->
//! TIME-WAIT, FIN-WAIT-2 after close), so when keys do not match, the same
//! (proto, local, remote) with the inode 0 on one side is also the same connection.
//! Two different non-zero inodes on one tuple are two sockets (a closed one and a new
//! one reusing its tuple): one removed, one added. So are two different kernel
//! cookies (a live table's sockets carry one, kept into TIME-WAIT): under
//! TIME-WAIT pressure the kernel gives a just-freed tuple to a new connection.

use crate::model::{Endpoint, Proto, Snapshot, SockState, Socket, SocketKey};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::Hash;

/// A socket present in both snapshots with a different state (`socket` is the new one).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateChange {
    pub from: SockState,
    pub to: SockState,
    pub socket: Socket,
}

/// Added and changed keep the order of the new snapshot, removed that of the old one.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Diff {
    pub added: Vec<Socket>,
    pub removed: Vec<Socket>,
    pub changed: Vec<StateChange>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// (proto, local, remote): a socket's identity without the inode.
pub(crate) type Tuple = (Proto, Endpoint, Option<Endpoint>);

pub(crate) fn tuple(s: &Socket) -> Tuple {
    (s.proto, s.local, s.remote)
}

/// A multimap from keys to indices with O(1) "take one": heads in a HashMap, chains
/// in one Vec (no allocation per key). Duplicate keys happen where the OS reports no
/// inode (SO_REUSEPORT listeners on macOS/Windows all have key inode 0).
struct IndexMultimap<K> {
    head: HashMap<K, usize>,
    next: Vec<usize>,
}

const NONE: usize = usize::MAX;

impl<K: Hash + Eq> IndexMultimap<K> {
    fn new(len: usize) -> Self {
        IndexMultimap {
            head: HashMap::with_capacity(len),
            next: vec![NONE; len],
        }
    }

    /// Insert indices in descending order so that `take` returns them ascending.
    fn insert(&mut self, key: K, idx: usize) {
        if let Some(old) = self.head.insert(key, idx) {
            self.next[idx] = old;
        }
    }

    /// Takes the first index under `key` that satisfies `ok` (chains are short).
    fn take(&mut self, key: &K, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let mut prev = NONE;
        let mut cur = *self.head.get(key)?;
        while cur != NONE {
            if ok(cur) {
                let after = self.next[cur];
                if prev == NONE {
                    if after == NONE {
                        self.head.remove(key);
                    } else if let Some(slot) = self.head.get_mut(key) {
                        *slot = after;
                    }
                } else {
                    self.next[prev] = after;
                }
                return Some(cur);
            }
            prev = cur;
            cur = self.next[cur];
        }
        None
    }
}

/// Added, removed and state-changed sockets from `old` to `new`.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Diff {
    let (o, n) = (&old.sockets, &new.sockets);
    // Where both cookies are known they must be the same socket's.
    let same_cookie = |i: usize, s: &Socket| match (o[i].cookie_id(), s.cookie_id()) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let mut by_key: IndexMultimap<SocketKey> = IndexMultimap::new(o.len());
    for (i, s) in o.iter().enumerate().rev() {
        by_key.insert(s.key(), i);
    }
    let mut old_used = vec![false; o.len()];
    let mut matched: Vec<Option<usize>> = vec![None; n.len()];
    for (j, s) in n.iter().enumerate() {
        if let Some(i) = by_key.take(&s.key(), |i| same_cookie(i, s)) {
            old_used[i] = true;
            matched[j] = Some(i);
        }
    }

    // Second pass over the leftovers: same tuple, inode 0 on one side.
    let mut by_tuple: IndexMultimap<Tuple> = IndexMultimap::new(o.len());
    for (i, s) in o.iter().enumerate().rev() {
        if !old_used[i] {
            by_tuple.insert(tuple(s), i);
        }
    }
    for (j, s) in n.iter().enumerate() {
        if matched[j].is_some() {
            continue;
        }
        let new_inode = s.inode.unwrap_or(0);
        let hit = by_tuple.take(&tuple(s), |i| {
            (new_inode == 0 || o[i].inode.unwrap_or(0) == 0) && same_cookie(i, s)
        });
        if let Some(i) = hit {
            old_used[i] = true;
            matched[j] = Some(i);
        }
    }

    let mut d = Diff::default();
    for (j, s) in n.iter().enumerate() {
        match matched[j] {
            None => d.added.push(s.clone()),
            Some(i) if o[i].state != s.state => d.changed.push(StateChange {
                from: o[i].state,
                to: s.state,
                socket: s.clone(),
            }),
            Some(_) => {}
        }
    }
    d.removed = o
        .iter()
        .zip(&old_used)
        .filter(|(_, used)| !**used)
        .map(|(s, _)| s.clone())
        .collect();
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SockState::*;
    use crate::testkit::*;

    fn s(sockets: Vec<Socket>) -> Snapshot {
        snap(0, range100(), sockets)
    }

    #[test]
    fn diff_of_a_snapshot_with_itself_is_empty() {
        let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 50, Established);
        v.extend(many("10.0.0.2", "10.0.0.5:443", 40050, 50, TimeWait));
        v.push(listener(Proto::Tcp, "0.0.0.0:22"));
        let a = s(v);
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn diff_reports_added_and_removed_sockets() {
        let keep = tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(10);
        let gone = tcp("10.0.0.2:40001", "10.0.0.5:443", Established).inode(11);
        let fresh = tcp("10.0.0.2:40002", "10.0.0.5:443", SynSent).inode(12);
        let d = diff(
            &s(vec![keep.clone(), gone.clone()]),
            &s(vec![keep, fresh.clone()]),
        );
        assert_eq!(d.added, vec![fresh]);
        assert_eq!(d.removed, vec![gone]);
        assert!(d.changed.is_empty());
    }

    #[test]
    fn diff_reports_state_change_with_the_same_inode() {
        let a = tcp("10.0.0.2:40000", "10.0.0.5:443", SynSent).inode(10);
        let b = tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(10);
        let d = diff(&s(vec![a]), &s(vec![b.clone()]));
        assert!(d.added.is_empty() && d.removed.is_empty());
        assert_eq!(d.changed.len(), 1);
        assert_eq!((d.changed[0].from, d.changed[0].to), (SynSent, Established));
        assert_eq!(d.changed[0].socket, b);
    }

    #[test]
    fn estab_to_time_wait_losing_its_inode_is_a_state_change_not_add_remove() {
        let a = tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(10);
        let b = tcp("10.0.0.2:40000", "10.0.0.5:443", TimeWait);
        assert_eq!(b.inode, None);
        let d = diff(&s(vec![a]), &s(vec![b]));
        assert!(d.added.is_empty(), "{d:?}");
        assert!(d.removed.is_empty(), "{d:?}");
        assert_eq!(
            (d.changed[0].from, d.changed[0].to),
            (Established, TimeWait)
        );
    }

    #[test]
    fn a_new_inode_on_a_reused_tuple_is_a_new_socket() {
        let a = tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(10);
        let b = tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(11);
        let d = diff(&s(vec![a.clone()]), &s(vec![b.clone()]));
        assert_eq!(d.added, vec![b]);
        assert_eq!(d.removed, vec![a]);
        assert!(d.changed.is_empty());
    }

    #[test]
    fn another_cookie_on_a_reused_tuple_is_a_new_socket() {
        let with = |mut x: Socket, cookie| {
            x.cookie = cookie;
            x
        };
        let a = with(tcp("10.0.0.2:40000", "10.0.0.5:443", TimeWait), 7);
        let b = with(tcp("10.0.0.2:40000", "10.0.0.5:443", TimeWait), 8);
        let d = diff(&s(vec![a.clone()]), &s(vec![b.clone()]));
        assert_eq!((d.added, d.removed), (vec![b.clone()], vec![a]));
        // the same cookie: the same connection, its state changed
        let e = with(
            tcp("10.0.0.2:40000", "10.0.0.5:443", Established).inode(3),
            8,
        );
        let d = diff(&s(vec![e]), &s(vec![b]));
        assert!(d.added.is_empty() && d.removed.is_empty(), "{d:?}");
        assert_eq!(d.changed.len(), 1);
    }

    #[test]
    fn duplicate_keys_without_inodes_are_matched_one_to_one() {
        // SO_REUSEPORT listeners where the OS gives no inode: identical keys.
        let l = listener(Proto::Tcp, "0.0.0.0:80").inode(0);
        let d = diff(&s(vec![l.clone(), l.clone()]), &s(vec![l.clone()]));
        assert_eq!(d.removed.len(), 1);
        assert!(d.added.is_empty() && d.changed.is_empty());
        let d = diff(&s(vec![l.clone()]), &s(vec![l.clone(), l.clone(), l]));
        assert_eq!(d.added.len(), 2);
    }

    #[test]
    fn diff_handles_40000_sockets_with_churn() {
        let mut old = Vec::new();
        let mut new = Vec::new();
        for i in 0..20_000u16 {
            let local = format!("10.0.{}.{}:{}", i / 250, i % 250, 40000 + (i % 1000));
            let est = tcp(&local, "10.9.9.9:443", Established).inode(u64::from(i) + 1);
            old.push(est.clone());
            old.push(tcp(&local, "10.9.9.8:80", TimeWait));
            match i % 4 {
                0 => new.push(tcp(&local, "10.9.9.9:443", TimeWait)),
                1 => {}
                _ => new.push(est),
            }
            new.push(tcp(&local, "10.9.9.8:80", TimeWait));
        }
        let d = diff(&s(old), &s(new));
        assert_eq!(d.changed.len(), 5000);
        assert_eq!(d.removed.len(), 5000);
        assert!(d.added.is_empty());
    }
}
