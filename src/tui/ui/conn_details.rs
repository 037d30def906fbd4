//! The details pane's connection part: the queues, the timer, every field of
//! tcp_info porttop reads, the socket's memory, and the rates with their
//! sparklines (what `ss -tinoem` prints for one socket).

use crate::model::conn::{fmt_rtt_us, human_bytes};
use crate::output::columns::timer_text;
use crate::tui::rows::Row;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// The lines for `r` (none when the source gave no detail for it).
pub fn lines(r: &Row, key: Style, color: bool) -> Vec<Line<'static>> {
    let Some(c) = r.sock.conn.as_deref() else {
        return Vec::new();
    };
    let kv =
        |k: &str, v: String| Line::from(vec![Span::styled(format!("{k:<11}"), key), Span::raw(v)]);
    let listener = r.sock.state == crate::model::SockState::Listen;
    let mut out = Vec::new();
    if listener {
        out.push(kv(
            "accept q.",
            format!(
                "{} waiting, backlog {}{}",
                c.rx_queue,
                c.tx_queue,
                if c.accept_queue_full() {
                    " — FULL: new connections are dropped"
                } else {
                    ""
                }
            ),
        ));
    } else {
        out.push(kv(
            "queues",
            format!("Recv-Q {}  Send-Q {}", c.rx_queue, c.tx_queue),
        ));
    }
    let timer = timer_text(c);
    if !timer.is_empty() {
        out.push(kv("timer", format!("{timer} (kind, left, fired)")));
    }
    if let Some(t) = c.tcp.filter(|_| !listener) {
        let b = |n: u64| human_bytes(n as f64);
        out.push(kv(
            "rtt",
            format!(
                "{} ± {} (min {}), rto {}",
                fmt_rtt_us(t.rtt),
                fmt_rtt_us(t.rttvar),
                fmt_rtt_us(t.min_rtt),
                fmt_rtt_us(t.rto)
            ),
        ));
        out.push(kv(
            "bytes",
            format!(
                "acked {}  received {}  sent {}  retransmitted {}  not sent {}",
                b(t.bytes_acked),
                b(t.bytes_received),
                b(t.bytes_sent),
                b(t.bytes_retrans),
                b(u64::from(t.notsent_bytes))
            ),
        ));
        out.push(kv(
            "segments",
            format!(
                "out {}  in {}  unacked {}  lost {}",
                t.segs_out, t.segs_in, t.unacked, t.lost
            ),
        ));
        let recent = c.rates.map_or(0, |r| r.retrans_recent);
        out.push(kv(
            "retrans.",
            format!(
                "{} total, {} since the last refresh, {} in flight",
                t.total_retrans, recent, t.retrans
            ),
        ));
        out.push(kv(
            "window",
            format!(
                "cwnd {}  ssthresh {}  mss {}/{}  pmtu {}  peer window {}",
                t.snd_cwnd,
                if t.snd_ssthresh >= 0x7fff_ffff {
                    "-".to_string()
                } else {
                    t.snd_ssthresh.to_string()
                },
                t.snd_mss,
                t.rcv_mss,
                t.pmtu,
                b(u64::from(t.snd_wnd))
            ),
        ));
        out.push(kv(
            "rates",
            format!(
                "delivery {}/s  pacing {}/s  last data sent {} ms / received {} ms ago",
                b(t.delivery_rate),
                b(t.pacing_rate),
                t.last_data_sent,
                t.last_data_recv
            ),
        ));
    }
    if let Some(m) = c.mem {
        out.push(kv(
            "memory",
            format!(
                "rmem {}/{}  wmem {}/{}  queued {}  drops {}",
                m.rmem_alloc, m.rcvbuf, m.wmem_alloc, m.sndbuf, m.wmem_queued, m.drops
            ),
        ));
    }
    if let Some(x) = c.rates {
        let h = r.hist.as_deref();
        let spark = |v: Option<&Vec<f64>>| {
            v.map_or_else(String::new, |v| super::header::sparkline(v, 40, color))
        };
        out.push(kv(
            "rx",
            format!("{}/s{}", human_bytes(x.rx_bps), spark(h.map(|h| &h.rx))),
        ));
        out.push(kv(
            "tx",
            format!("{}/s{}", human_bytes(x.tx_bps), spark(h.map(|h| &h.tx))),
        ));
    }
    out
}
