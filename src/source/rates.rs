//! Rates between refreshes: each connection's tcp_info counters kept by socket
//! cookie (the kernel's identity of one socket for its whole life, so a new
//! connection reusing the 4-tuple or the inode starts afresh) with its
//! namespace (`Socket::cookie_id`), and the deltas over the time between the
//! two dumps.

use crate::model::conn::{rates_between, TcpInfo};
use crate::model::Socket;
use rustc_hash::FxHashMap;

#[derive(Default)]
pub struct RateTracker {
    prev: FxHashMap<(u64, u64), TcpInfo>,
    prev_ms: u64,
}

impl RateTracker {
    /// Sets the rates of `sockets` (those with tcp_info) from their last
    /// reading, and keeps this reading for the next call. `now_ms`: when the
    /// dump was taken.
    pub fn update(&mut self, sockets: &mut [Socket], now_ms: u64) {
        let dt = now_ms.saturating_sub(self.prev_ms);
        let mut next = FxHashMap::with_capacity_and_hasher(self.prev.len(), Default::default());
        for s in sockets.iter_mut() {
            let id = s.cookie_id();
            let Some(c) = s.conn.as_deref_mut() else {
                continue;
            };
            let (Some(t), Some(id)) = (c.tcp, id) else {
                continue;
            };
            if let Some(p) = self.prev.get(&id) {
                c.rates = rates_between(p, &t, dt);
            }
            next.insert(id, t);
        }
        self.prev = next;
        self.prev_ms = now_ms;
    }
}
