//! The per-connection detail of a sock_diag record: the queues and timer of the
//! fixed header, and the `INET_DIAG_INFO` (struct tcp_info) and
//! `INET_DIAG_SKMEMINFO` attributes after it. Only the fields porttop shows are
//! decoded, by offset, and a shorter struct (an older kernel) reads as zeros
//! past its end, as ss does (misc/ss.c, tcp_show_info: "workaround for older
//! kernels with less fields", memset of the rest).

use super::diag::Record;
use crate::model::conn::{ConnInfo, Detail, MemInfo, TcpInfo, Timer};
use crate::model::{Proto, SockState};

/// `enum inet_diag_attr` numbers (include/uapi/linux/inet_diag.h).
const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_SKMEMINFO: u16 = 7;

/// The request's `idiag_ext` bits for `detail`: `1 << (attr - 1)` per
/// attribute (as ss sets them, misc/ss.c `req.r.idiag_ext |= (1<<(INET_DIAG_INFO-1))`).
/// SKMEMINFO alone: it carries everything the older MEMINFO does (Linux 3.6+).
pub fn ext_bits(detail: Detail) -> u8 {
    match detail {
        Detail::Bare => 0,
        Detail::Info => (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1)),
    }
}

/// The detail of one record: for listeners always (the accept queue is in the
/// header for free), for other sockets when `detail` asks. None otherwise.
pub fn conn_info(proto: Proto, st: SockState, r: &Record, detail: Detail) -> Option<Box<ConnInfo>> {
    let listener = proto == Proto::Tcp && st == SockState::Listen;
    if detail == Detail::Bare && !listener {
        return None;
    }
    let (timer, left, retrans) = match r.header.timer {
        None => (Timer::None, 0, 0),
        Some(_) => {
            // The crate folds expires and retransmits into its enum; the raw
            // numbers are what ss prints (`timer:(on,200ms,1)`).
            (Timer::from_kernel(r.timer), r.expires_ms, r.retrans)
        }
    };
    let mut c = ConnInfo {
        cookie: u64::from_ne_bytes(r.header.socket_id.cookie),
        rx_queue: r.header.recv_queue,
        tx_queue: r.header.send_queue,
        timer,
        timer_left_ms: left,
        timer_retrans: retrans,
        ..Default::default()
    };
    if detail == Detail::Info {
        for (kind, data) in attributes(r.attrs) {
            match kind {
                INET_DIAG_INFO if proto == Proto::Tcp => c.tcp = Some(tcp_info(data)),
                INET_DIAG_SKMEMINFO => c.mem = Some(meminfo(data)),
                _ => {}
            }
        }
    }
    Some(Box::new(c))
}

/// The rtattrs of a record (`struct rtattr`: u16 length incl. the 4-byte head,
/// u16 type, payload padded to 4), stopping at the first malformed one.
fn attributes(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
        let kind = u16::from_ne_bytes([*b.get(2)?, *b.get(3)?]);
        if len < 4 || len > b.len() {
            return None;
        }
        let data = &b[4..len];
        b = &b[((len + 3) & !3).min(b.len())..];
        // NLA_F_NESTED / NLA_F_NET_BYTEORDER live in the top bits of the type.
        Some((kind & 0x3fff, data))
    })
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off + 8).map_or(0, |s| {
        u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

/// struct tcp_info by byte offset (include/uapi/linux/tcp.h; 8 bytes of u8
/// fields, then u32s from 8, the u64s from 104 on). A field past the end of
/// what the kernel sent is 0.
fn tcp_info(b: &[u8]) -> TcpInfo {
    TcpInfo {
        rto: u32_at(b, 8),
        snd_mss: u32_at(b, 16),
        rcv_mss: u32_at(b, 20),
        unacked: u32_at(b, 24),
        lost: u32_at(b, 32),
        retrans: u32_at(b, 36),
        last_data_sent: u32_at(b, 44),
        last_data_recv: u32_at(b, 52),
        pmtu: u32_at(b, 60),
        rtt: u32_at(b, 68),
        rttvar: u32_at(b, 72),
        snd_ssthresh: u32_at(b, 76),
        snd_cwnd: u32_at(b, 80),
        total_retrans: u32_at(b, 100),
        pacing_rate: u64_at(b, 104),
        bytes_acked: u64_at(b, 120),
        bytes_received: u64_at(b, 128),
        segs_out: u32_at(b, 136),
        segs_in: u32_at(b, 140),
        notsent_bytes: u32_at(b, 144),
        min_rtt: u32_at(b, 148),
        delivery_rate: u64_at(b, 160),
        bytes_sent: u64_at(b, 200),
        bytes_retrans: u64_at(b, 208),
        snd_wnd: u32_at(b, 228),
    }
}

/// The `SK_MEMINFO_*` u32 array (include/uapi/linux/sock_diag.h: RMEM_ALLOC 0,
/// RCVBUF 1, WMEM_ALLOC 2, SNDBUF 3, FWD_ALLOC 4, WMEM_QUEUED 5, OPTMEM 6,
/// BACKLOG 7, DROPS 8 — the last since Linux 4.7; missing entries read 0).
fn meminfo(b: &[u8]) -> MemInfo {
    let at = |i: usize| u32_at(b, 4 * i);
    MemInfo {
        rmem_alloc: at(0),
        rcvbuf: at(1),
        wmem_alloc: at(2),
        sndbuf: at(3),
        wmem_queued: at(5),
        backlog: at(7),
        drops: at(8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets above against the C struct, checked where a C compiler and
    /// the kernel headers are at hand (they are on CI's image).
    #[test]
    fn tcp_info_offsets_match_the_kernel_header() {
        let src = r#"#include <stddef.h>
#include <stdio.h>
#include <linux/tcp.h>
#define O(f) printf("%s %zu\n", #f, offsetof(struct tcp_info, tcpi_##f));
int main(void){O(rto)O(snd_mss)O(rcv_mss)O(unacked)O(lost)O(retrans)O(last_data_sent)
O(last_data_recv)O(pmtu)O(rtt)O(rttvar)O(snd_ssthresh)O(snd_cwnd)O(total_retrans)
O(pacing_rate)O(bytes_acked)O(bytes_received)O(segs_out)O(segs_in)O(notsent_bytes)
O(min_rtt)O(delivery_rate)O(bytes_sent)O(bytes_retrans)O(snd_wnd)return 0;}"#;
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("o.c");
        std::fs::write(&c, src).unwrap();
        let exe = d.path().join("o");
        let ok = std::process::Command::new("cc")
            .arg(&c)
            .arg("-o")
            .arg(&exe)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: no C compiler or kernel headers");
            return;
        }
        let out = std::process::Command::new(&exe).output().unwrap();
        let ours = [
            8, 16, 20, 24, 32, 36, 44, 52, 60, 68, 72, 76, 80, 100, 104, 120, 128, 136, 140, 144,
            148, 160, 200, 208, 228,
        ];
        let theirs: Vec<usize> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
            .collect();
        assert_eq!(theirs, ours);
    }

    #[test]
    fn a_short_tcp_info_reads_zeros_past_its_end() {
        // Linux 4.1's struct ended after tcpi_bytes_received (136 bytes).
        let mut b = vec![0u8; 136];
        b[68..72].copy_from_slice(&1234u32.to_ne_bytes());
        b[128..136].copy_from_slice(&99u64.to_ne_bytes());
        let t = tcp_info(&b);
        assert_eq!((t.rtt, t.bytes_received), (1234, 99));
        assert_eq!((t.delivery_rate, t.bytes_sent, t.snd_wnd), (0, 0, 0));
        assert_eq!(tcp_info(&[]).rtt, 0);
    }

    #[test]
    fn attributes_stop_at_a_malformed_one() {
        let mut b = Vec::new();
        b.extend_from_slice(&8u16.to_ne_bytes());
        b.extend_from_slice(&7u16.to_ne_bytes());
        b.extend_from_slice(&5u32.to_ne_bytes());
        b.extend_from_slice(&200u16.to_ne_bytes()); // longer than what is left
        b.extend_from_slice(&2u16.to_ne_bytes());
        let v: Vec<(u16, Vec<u8>)> = attributes(&b).map(|(k, d)| (k, d.to_vec())).collect();
        assert_eq!(v, vec![(7, 5u32.to_ne_bytes().to_vec())]);
        assert_eq!(meminfo(&5u32.to_ne_bytes()).rmem_alloc, 5);
        assert_eq!(meminfo(&5u32.to_ne_bytes()).drops, 0);
    }
}

#[cfg(test)]
mod live_tests {
    use super::super::diag::{Diag, Scope};
    use crate::model::{Detail, SockState, Socket};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    fn dump(d: &mut Diag) -> Vec<Socket> {
        let mut v = Vec::new();
        d.dump_all(&Scope::default(), |s, _| v.push(s)).unwrap();
        v
    }

    /// Polls `f` on fresh dumps until it yields, for up to 5 s.
    fn poll<T>(d: &mut Diag, mut f: impl FnMut(&[Socket]) -> Option<T>) -> T {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(t) = f(&dump(d)) {
                return t;
            }
            assert!(Instant::now() < end, "timed out");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_known_transfer_shows_on_both_ends_and_bare_dumps_carry_no_info() {
        let Ok(mut d) = Diag::new() else { return };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let lp = l.local_addr().unwrap().port();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let cp = c.local_addr().unwrap().port();
        let (mut srv, _) = l.accept().unwrap();
        const N: u64 = 300_000;
        let w = std::thread::spawn(move || {
            c.write_all(&vec![7u8; N as usize]).unwrap();
            c
        });
        let mut got = vec![0u8; N as usize];
        srv.read_exact(&mut got).unwrap();
        let _c = w.join().unwrap();
        // Bare: no tcp_info, and no detail at all on connections.
        for s in dump(&mut d) {
            if s.local.port == cp {
                assert!(s.conn.is_none());
            }
        }
        d.detail = Detail::Info;
        let (acked, received) = poll(&mut d, |v| {
            let ti = |local: u16, remote: u16| {
                v.iter()
                    .find(|s| s.local.port == local && s.remote.map(|r| r.port) == Some(remote))
                    .and_then(|s| s.conn.as_ref()?.tcp)
            };
            let (a, b) = (ti(cp, lp)?, ti(lp, cp)?);
            // the ACK of the last segment may still be on its way
            (a.bytes_acked > N).then_some((a.bytes_acked, b.bytes_received))
        });
        // The SYN takes one sequence number: bytes_acked counts it (net/ipv4/
        // tcp_input.c, tcp_snd_una_update from the ISS), bytes_received does not.
        assert!((N..=N + 1).contains(&acked), "{acked}");
        assert!((N..=N + 1).contains(&received), "{received}");
    }

    #[test]
    fn a_backlog_one_listener_shows_its_full_accept_queue() {
        let Ok(mut d) = Diag::new() else { return };
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        // listen(2) again on a listening socket sets the new backlog.
        // SAFETY: a valid listening descriptor.
        assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 1) }, 0);
        let lp = l.local_addr().unwrap().port();
        let _a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _b = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        // Bare dumps carry a listener's queue too (it is in the header).
        let c = poll(&mut d, |v| {
            let c = v
                .iter()
                .find(|s| s.local.port == lp && s.state == SockState::Listen)?
                .conn
                .clone()?;
            (c.rx_queue == 2).then_some(c)
        });
        assert_eq!(c.tx_queue, 1, "{c:?}");
        assert!(c.accept_queue_full());
    }

    #[test]
    fn rates_show_while_a_transfer_runs() {
        if Diag::new().is_err() {
            return;
        }
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let lp = l.local_addr().unwrap().port();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let cp = c.local_addr().unwrap().port();
        let (mut srv, _) = l.accept().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = stop.clone();
        let w = std::thread::spawn(move || {
            let buf = [1u8; 16384];
            while !st.load(std::sync::atomic::Ordering::Relaxed) {
                if c.write_all(&buf).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let r = std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while srv.read(&mut buf).is_ok_and(|n| n > 0) {}
        });
        let mut src =
            crate::source::SystemSource::new(Default::default()).with_detail(Detail::Info);
        // A bound on the wait, not a timing claim: on a loaded host with tens of
        // thousands of sockets each whole snapshot takes seconds, and a rate
        // needs two of them.
        let end = Instant::now() + Duration::from_secs(60);
        let tx = loop {
            use crate::source::SocketSource;
            let snap = src.snapshot().unwrap();
            // (other processes may hold the same local port towards others)
            let ours = |s: &&Socket| s.local.port == cp && s.remote.map(|r| r.port) == Some(lp);
            let rate = snap
                .sockets
                .iter()
                .find(ours)
                .and_then(|s| s.conn.as_ref()?.rates);
            if let Some(r) = rate.filter(|r| r.tx_bps > 0.0) {
                break r.tx_bps;
            }
            assert!(Instant::now() < end, "no rate seen");
            std::thread::sleep(Duration::from_millis(50));
        };
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        w.join().unwrap();
        r.join().unwrap();
        assert!(tx > 1000.0, "{tx}");
    }
}
