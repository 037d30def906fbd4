//! What the server answered and whom it cut off, for `/metrics`, and error lines
//! on stderr at a bounded rate.

use super::reason;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one log line about HTTP errors per this long; the next line says how
/// many were not shown.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Why a response was not delivered whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Abort {
    /// The reader took nothing for `write_timeout`.
    Stalled,
    /// The reader averaged less than `min_rate`.
    TooSlow,
    /// The peer reset or closed the connection.
    Reset,
    /// The TLS handshake failed, or plain HTTP came to the TLS port.
    Tls,
}

impl Abort {
    pub fn label(self) -> &'static str {
        match self {
            Abort::Stalled => "write_stalled",
            Abort::TooSlow => "write_too_slow",
            Abort::Reset => "reset",
            Abort::Tls => "tls",
        }
    }
}

#[derive(Default)]
struct Counts {
    responses: BTreeMap<u16, u64>,
    drops: BTreeMap<Abort, u64>,
    last_log: Option<Instant>,
    unlogged: u64,
}

/// Responses by status and dropped connections by reason, for
/// `porttop_http_responses_total` and `porttop_http_dropped_total`.
#[derive(Default)]
pub struct Stats {
    counts: Mutex<Counts>,
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Responses sent so far, by status.
    pub fn responses(&self) -> BTreeMap<u16, u64> {
        self.lock().responses.clone()
    }

    /// Connections dropped so far, by reason.
    pub fn drops(&self) -> BTreeMap<Abort, u64> {
        self.lock().drops.clone()
    }

    pub(super) fn response(&self, status: u16, peer: SocketAddr) {
        let mut c = self.lock();
        *c.responses.entry(status).or_default() += 1;
        if matches!(status, 400 | 401 | 408 | 431 | 500 | 503) {
            let line = format!("{status} {} to {peer}", reason(status));
            if let Some(l) = Self::log(&mut c, &line, Instant::now()) {
                crate::elog!("{l}");
            }
        }
    }

    pub(super) fn drop_conn(&self, why: Abort, peer: SocketAddr, detail: &str) {
        let mut c = self.lock();
        *c.drops.entry(why).or_default() += 1;
        if why != Abort::Reset {
            let line = format!("{} {peer}{detail}", why.label());
            if let Some(l) = Self::log(&mut c, &line, Instant::now()) {
                crate::elog!("{l}");
            }
        }
    }

    /// The line to print for this event, or None within [`LOG_EVERY`] of the last
    /// one (then counted for the next line).
    fn log(c: &mut Counts, what: &str, now: Instant) -> Option<String> {
        if c.last_log
            .is_some_and(|t| now.duration_since(t) < LOG_EVERY)
        {
            c.unlogged += 1;
            return None;
        }
        let more = std::mem::take(&mut c.unlogged);
        let tail = if more > 0 {
            format!(" ({more} more since the last line)")
        } else {
            String::new()
        };
        c.last_log = Some(now);
        Some(format!("porttop: http: {what}{tail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_logged_at_most_once_per_period_and_the_rest_counted() {
        let mut c = Counts::default();
        let t0 = Instant::now();
        let first = Stats::log(&mut c, "408 Request Timeout to a", t0);
        assert_eq!(
            first.as_deref(),
            Some("porttop: http: 408 Request Timeout to a")
        );
        for i in 1..1000 {
            let t = t0 + Duration::from_millis(i);
            assert_eq!(Stats::log(&mut c, "408", t), None);
        }
        let next = Stats::log(&mut c, "503 Service Unavailable to b", t0 + LOG_EVERY);
        assert_eq!(
            next.as_deref(),
            Some("porttop: http: 503 Service Unavailable to b (999 more since the last line)")
        );
        // Counting is not rate-limited.
        let s = Stats::default();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for _ in 0..50 {
            s.response(431, peer);
        }
        s.drop_conn(Abort::Stalled, peer, "");
        assert_eq!(s.responses().get(&431), Some(&50));
        assert_eq!(s.drops().get(&Abort::Stalled), Some(&1));
    }
}
