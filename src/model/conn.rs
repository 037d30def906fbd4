//! What the kernel says about one connection beyond its addresses: queues,
//! timer, `struct tcp_info`, socket memory, and the rates porttop derives from
//! two refreshes. Filled by the source only when a view or command shows it
//! (`Detail`); listeners always get their accept queue (it is free in the dump).

use serde::{Deserialize, Serialize};

/// How much a dump asks the kernel for, beyond addresses, state and owner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    /// Addresses, state, owner; listeners with their accept queue.
    #[default]
    Bare,
    /// Also every connection's queues and timer, `tcp_info` and socket memory
    /// (`ss -tinoem`), and rates between refreshes.
    Info,
}

/// Which sockets a view shows the per-connection detail of (tcp_info, its
/// rates, queues), so that the source asks the kernel only for those: the
/// dashboard's rows on screen, all of them where a view sorts or sums by it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Shown {
    /// None (a view without detail columns).
    #[default]
    Nothing,
    /// Every socket's (a sort by a rate, the Processes and Ephemeral sums).
    All,
    /// These sockets' only, by (namespace tag, inode): the rows on screen.
    Rows(Vec<(u64, u64)>),
}

/// The socket's pending timer (`idiag_timer`, as `ss -o` names it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Timer {
    #[default]
    None,
    /// Retransmission (or the SYN / loss probe timers, which share it).
    On,
    Keepalive,
    Timewait,
    /// Zero-window probe.
    Persist,
    Unknown,
}

impl Timer {
    /// From `idiag_timer` (net/ipv4/inet_diag.c, inet_sk_diag_fill: 1 retransmit
    /// / loss probe / reorder, 2 keepalive, 3 TIME-WAIT, 4 zero-window probe).
    pub fn from_kernel(n: u8) -> Timer {
        match n {
            0 => Timer::None,
            1 => Timer::On,
            2 => Timer::Keepalive,
            3 => Timer::Timewait,
            4 => Timer::Persist,
            _ => Timer::Unknown,
        }
    }

    /// ss's name (`timer:(on,…)`, `keepalive`, `timewait`, `persist`).
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::None => "",
            Timer::On => "on",
            Timer::Keepalive => "keepalive",
            Timer::Timewait => "timewait",
            Timer::Persist => "persist",
            Timer::Unknown => "unknown",
        }
    }
}

/// The fields of `struct tcp_info` porttop shows, under the kernel's names
/// without the `tcpi_` prefix (include/uapi/linux/tcp.h). A field a kernel's
/// shorter struct lacks is 0 (as ss does: it zero-fills the rest).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpInfo {
    /// Retransmission timeout, µs.
    #[serde(rename = "rto_us")]
    pub rto: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments sent and not yet acknowledged.
    pub unacked: u32,
    pub lost: u32,
    /// Segments retransmitted and not yet acknowledged ("recent").
    pub retrans: u32,
    /// ms since the last data was sent / received.
    pub last_data_sent: u32,
    pub last_data_recv: u32,
    pub pmtu: u32,
    /// Smoothed RTT and its variance, µs.
    #[serde(rename = "rtt_us")]
    pub rtt: u32,
    #[serde(rename = "rttvar_us")]
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    /// Congestion window, segments.
    pub snd_cwnd: u32,
    pub total_retrans: u32,
    /// Bytes/s (tcpi_pacing_rate).
    pub pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    #[serde(rename = "min_rtt_us")]
    pub min_rtt: u32,
    /// Bytes/s (tcpi_delivery_rate; ss prints it in bit/s).
    pub delivery_rate: u64,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    /// The peer's advertised window, bytes (Linux 5.4+).
    pub snd_wnd: u32,
}

/// The socket's memory (`INET_DIAG_SKMEMINFO`, the `SK_MEMINFO_*` array of
/// include/uapi/linux/sock_diag.h), bytes; `drops` counts packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemInfo {
    pub rmem_alloc: u32,
    pub rcvbuf: u32,
    pub wmem_alloc: u32,
    pub sndbuf: u32,
    pub wmem_queued: u32,
    pub backlog: u32,
    /// Packets dropped before they reached the socket (a full receive buffer,
    /// mostly; UDP's "drops", `ss -m`'s `d`).
    pub drops: u32,
}

/// Rates between the last two refreshes (a socket seen once has none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rates {
    /// Bytes/s received (from tcpi_bytes_received).
    pub rx_bps: f64,
    /// Bytes/s sent and acknowledged (from tcpi_bytes_acked).
    pub tx_bps: f64,
    /// Segments retransmitted since the last refresh.
    pub retrans_recent: u32,
}

/// One socket's detail from the kernel.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnInfo {
    /// The kernel's socket cookie: one socket's identity for its whole life.
    pub cookie: u64,
    /// ss's Recv-Q / Send-Q: bytes not yet read / not yet acknowledged; on a
    /// listener the accept queue's length and its backlog.
    pub rx_queue: u32,
    pub tx_queue: u32,
    #[serde(default, skip_serializing_if = "is_none_timer")]
    pub timer: Timer,
    /// ms left of the timer; times it fired (retransmits or probes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timer_left_ms: u32,
    #[serde(default, skip_serializing_if = "is_zero8")]
    pub timer_retrans: u8,
    /// (flat in JSON, under the kernel's names: `bytes_acked`, `rtt_us`…)
    #[serde(flatten)]
    pub tcp: Option<TcpInfo>,
    #[serde(flatten)]
    pub mem: Option<MemInfo>,
    #[serde(flatten)]
    pub rates: Option<Rates>,
}

fn is_none_timer(t: &Timer) -> bool {
    *t == Timer::None
}
fn is_zero(n: &u32) -> bool {
    *n == 0
}
fn is_zero8(n: &u8) -> bool {
    *n == 0
}

impl ConnInfo {
    /// A listener's accept queue is full: the kernel drops the next SYN or
    /// completed handshake once `sk_ack_backlog > sk_max_ack_backlog`
    /// (include/net/sock.h, sk_acceptq_is_full), i.e. queue > backlog here
    /// (net/ipv4/tcp_diag.c, tcp_diag_get_info: a LISTEN socket's rqueue is
    /// sk_ack_backlog, its wqueue sk_max_ack_backlog).
    pub fn accept_queue_full(&self) -> bool {
        self.rx_queue > self.tx_queue
    }

    /// The accept queue's fill, 0..=1 (more than 1 when over the backlog).
    pub fn accept_queue_fill(&self) -> f64 {
        f64::from(self.rx_queue) / f64::from(self.tx_queue.max(1))
    }
}

/// A TCP listener's detail when its accept queue is full (only listeners:
/// on a connection the two queues are bytes, not an accept queue).
pub fn full_accept_queue(s: &super::Socket) -> Option<&ConnInfo> {
    if s.proto != super::Proto::Tcp || s.state != super::SockState::Listen {
        return None;
    }
    s.conn.as_deref().filter(|c| c.accept_queue_full())
}

/// Rates from an earlier reading of the same socket `dt_ms` before (None when
/// no time passed or a counter went back: not the same connection).
pub fn rates_between(prev: &TcpInfo, now: &TcpInfo, dt_ms: u64) -> Option<Rates> {
    if dt_ms == 0 {
        return None;
    }
    let rx = now.bytes_received.checked_sub(prev.bytes_received)?;
    let tx = now.bytes_acked.checked_sub(prev.bytes_acked)?;
    let secs = dt_ms as f64 / 1000.0;
    Some(Rates {
        rx_bps: rx as f64 / secs,
        tx_bps: tx as f64 / secs,
        retrans_recent: now.total_retrans.saturating_sub(prev.total_retrans),
    })
}

/// `0`, `812`, `12.3K`, `4.1M`, `2.0G`: a byte count or rate in 1024 steps
/// (as htop and bandwhich print them).
pub fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["", "K", "M", "G", "T"];
    let mut v = n.max(0.0);
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}{}", UNITS[i])
    }
}

/// RTT in µs as ms with 1 decimal (`0.1ms`, `23.4ms`), as ss's `rtt:23.4/…`.
pub fn fmt_rtt_us(us: u32) -> String {
    format!("{:.1}ms", f64::from(us) / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_counter_deltas_and_reject_a_counter_going_back() {
        let a = TcpInfo {
            bytes_received: 1000,
            bytes_acked: 0,
            total_retrans: 1,
            ..Default::default()
        };
        let b = TcpInfo {
            bytes_received: 3000,
            bytes_acked: 500,
            total_retrans: 4,
            ..Default::default()
        };
        let r = rates_between(&a, &b, 500).unwrap();
        assert_eq!((r.rx_bps, r.tx_bps, r.retrans_recent), (4000.0, 1000.0, 3));
        assert!(rates_between(&b, &a, 500).is_none());
        assert!(rates_between(&a, &b, 0).is_none());
    }

    #[test]
    fn accept_queue_is_full_above_its_backlog_as_the_kernel_counts() {
        let q = |rx, tx| ConnInfo {
            rx_queue: rx,
            tx_queue: tx,
            ..Default::default()
        };
        assert!(!q(1, 1).accept_queue_full());
        assert!(q(2, 1).accept_queue_full());
        assert!(!q(0, 0).accept_queue_full());
        assert_eq!(q(64, 128).accept_queue_fill(), 0.5);
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(0.0), "0");
        assert_eq!(human_bytes(1023.0), "1023");
        assert_eq!(human_bytes(1536.0), "1.5K");
        assert_eq!(human_bytes(3.0 * 1024.0 * 1024.0), "3.0M");
        assert_eq!(fmt_rtt_us(23_456), "23.5ms");
    }
}
