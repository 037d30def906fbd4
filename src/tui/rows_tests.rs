use super::*;
use crate::analysis::pool::{self, Thresholds};
use crate::testkit::{conn, listener, range100, snap, tcp, with_procs, SockExt};

/// The Ephemeral view's groups are the pool's destinations: one key (with the
/// protocol: TCP and UDP to one endpoint are two pools), the same rule for
/// what is a destination (not the server side of an accepted connection), and
/// the analysis' share of the pool (reusable TIME-WAIT not counted).
#[test]
fn destination_groups_use_the_pools_key_and_its_percentage() {
    let mut range = range100();
    range.tw_reuse = Some(1);
    let mut tw = tcp("10.0.0.2:40002", "10.0.0.53:53", SockState::TimeWait);
    tw.time_wait_left_ms = Some(1000);
    let sockets = vec![
        tcp("10.0.0.2:40001", "10.0.0.53:53", SockState::Established).inode(1),
        tw,
        conn(
            Proto::Udp,
            "10.0.0.2:40001",
            "10.0.0.53:53",
            SockState::Established,
        )
        .inode(2),
        listener(Proto::Tcp, "0.0.0.0:40050").inode(3),
        tcp("10.0.0.2:40050", "10.0.0.9:5000", SockState::Established).inode(4),
    ];
    let s = snap(1, range, sockets.clone());
    let report = pool::analyze(&s, Thresholds::default());
    let rows = merge(&[], sockets, &s, true, 3, &mut 0);
    let view = PoolView::of(&s.range, rows.iter().map(|r| &r.sock));
    let groups = DestGroup::with_analysis(dest_groups(rows.iter(), &view), &report);
    let got: Vec<(Proto, String, usize, String)> = groups
        .iter()
        .map(|g| {
            (
                g.proto,
                g.remote.to_string(),
                g.ports,
                format!("{:.1}", g.pct),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // 2 ports, one of them a reusable TIME-WAIT: 1 % of the pool blocked
            (Proto::Tcp, "10.0.0.53:53".into(), 2, "1.0".into()),
            (Proto::Udp, "10.0.0.53:53".into(), 1, "1.0".into()),
        ]
    );
    for g in &groups {
        let d = report
            .destinations
            .iter()
            .find(|d| d.key == g.key())
            .unwrap();
        assert_eq!(g.pct, 100.0 * d.fraction);
    }
    // without an analysis yet: the share of the rows' ports
    let bare = dest_groups(rows.iter(), &view);
    assert_eq!(bare[0].pct, 2.0);
}

/// A socket with tcp_info's byte counters.
fn with_bytes(mut s: Socket, received: u64, acked: u64) -> Socket {
    use crate::model::conn::{ConnInfo, TcpInfo};
    s.conn = Some(Box::new(ConnInfo {
        tcp: Some(TcpInfo {
            bytes_received: received,
            bytes_acked: acked,
            ..Default::default()
        }),
        ..Default::default()
    }));
    s
}

/// Processes and destinations sum tcp_info's bytes_received / bytes_acked over
/// their open connections; a connection closed since (its row kept, marked
/// closed) or in TIME-WAIT (no tcp_info) adds nothing; both sort by them.
#[test]
fn groups_sum_the_bytes_of_their_open_connections_and_sort_by_them() {
    let dst = "10.0.0.9:443";
    let old = vec![
        with_bytes(tcp("10.0.0.2:40001", dst, SockState::Established), 0, 0)
            .inode(9)
            .pids(&[7]),
    ];
    let s0 = with_procs(
        snap(1, range100(), old.clone()),
        &[(7, "curl"), (8, "wget")],
    );
    let rows0 = merge(&[], old, &s0, true, 3, &mut 0);
    let sockets = vec![
        with_bytes(tcp("10.0.0.2:40002", dst, SockState::Established), 1000, 11)
            .inode(1)
            .pids(&[7]),
        with_bytes(
            tcp("10.0.0.2:40003", dst, SockState::Established),
            200_000,
            22,
        )
        .inode(2)
        .pids(&[7]),
        tcp("10.0.0.2:40004", dst, SockState::TimeWait),
        with_bytes(
            tcp("10.0.0.2:40005", "10.0.0.8:80", SockState::Established),
            5,
            300_000,
        )
        .inode(3)
        .pids(&[8]),
    ];
    let s = with_procs(
        snap(2, range100(), sockets.clone()),
        &[(7, "curl"), (8, "wget")],
    );
    // inode 9 is gone: kept as a closed row, with its (old) counters
    let mut rows = merge(&rows0, sockets, &s, false, 3, &mut 1);
    let closed = rows.iter_mut().find(|r| r.sock.inode == Some(9)).unwrap();
    assert_eq!(closed.mark, Mark::Closed);
    closed.sock = with_bytes(closed.sock.clone(), 1 << 40, 1 << 40);

    let mut procs = proc_groups(rows.iter());
    let by_pid = |v: &[ProcGroup], pid| {
        let g = v.iter().find(|g| g.pid == Some(pid)).unwrap();
        (g.rx_bytes, g.tx_bytes)
    };
    assert_eq!(by_pid(&procs, 7), (201_000, 33));
    assert_eq!(by_pid(&procs, 8), (5, 300_000));
    sort_procs(&mut procs, ProcCol::TxBytes, true);
    assert_eq!(procs[0].pid, Some(8));
    sort_procs(&mut procs, ProcCol::RxBytes, true);
    assert_eq!(procs[0].pid, Some(7));
    sort_procs(&mut procs, ProcCol::RxBytes, false);
    assert_eq!(procs.last().unwrap().pid, Some(7));

    let view = PoolView::of(&s.range, rows.iter().map(|r| &r.sock));
    let mut dests = dest_groups(rows.iter(), &view);
    let of = |v: &[DestGroup], r: &str| {
        let g = v.iter().find(|g| g.remote.to_string() == r).unwrap();
        (g.ports, g.rx_bytes, g.tx_bytes)
    };
    // three ports toward dst (the TIME-WAIT holds one), two connections' bytes
    assert_eq!(of(&dests, dst), (3, 201_000, 33));
    assert_eq!(of(&dests, "10.0.0.8:80"), (1, 5, 300_000));
    sort_dests(&mut dests, DestCol::TxBytes, true);
    assert_eq!(dests[0].remote.to_string(), "10.0.0.8:80");
    sort_dests(&mut dests, DestCol::RxBytes, true);
    assert_eq!(dests[0].remote.to_string(), dst);
}

/// On a live table the kernel's cookie is a row's identity: a connection
/// that goes ESTAB -> TIME-WAIT (losing its inode) stays the same row, and a
/// new connection on the very same 4-tuple is a new row, not the old one.
#[test]
fn a_live_rows_identity_is_its_cookie() {
    let with_cookie = |mut s: Socket, cookie: u64| {
        s.cookie = cookie;
        s
    };
    let est = |inode, cookie| {
        with_cookie(
            tcp("127.0.0.1:40001", "127.0.0.1:80", SockState::Established).inode(inode),
            cookie,
        )
    };
    let tw = |cookie| {
        with_cookie(
            tcp("127.0.0.1:40001", "127.0.0.1:80", SockState::TimeWait),
            cookie,
        )
    };
    let other = with_cookie(
        tcp("127.0.0.1:40002", "127.0.0.1:80", SockState::Established).inode(9),
        9,
    );
    let s1 = snap(1, range100(), vec![est(5, 77), other.clone()]);
    let mut next = 0;
    let r1 = merge(&[], s1.sockets.clone(), &s1, true, 3, &mut next);
    let id = r1[0].id;
    // ESTAB -> TIME-WAIT: same cookie, no inode: the same row, changed.
    let s2 = snap(2, range100(), vec![tw(77), other.clone()]);
    let r2 = merge(&r1, s2.sockets.clone(), &s2, false, 3, &mut next);
    assert_eq!((r2[0].id, r2[0].mark), (id, Mark::Changed));
    assert_eq!(r2.len(), 2, "nothing closed");
    // That TIME-WAIT gone and another connection on the same ports already
    // in TIME-WAIT (another cookie; the 4-tuple alone would take it for the
    // old one): a new row, and the old one closed.
    let s3 = snap(3, range100(), vec![tw(78), other]);
    let r3 = merge(&r2, s3.sockets.clone(), &s3, false, 3, &mut next);
    assert_eq!(r3[0].mark, Mark::New);
    assert_ne!(r3[0].id, id);
    assert!(r3.iter().any(|r| r.id == id && r.mark == Mark::Closed));
    assert_eq!(r3[1].mark, Mark::None, "the untouched row stays");
}

/// Kernels before 5.11 number cookies per namespace: the same cookie in two
/// namespaces is two sockets, each its own row across refreshes.
#[test]
fn a_cookie_is_a_sockets_identity_within_its_namespace() {
    let in_ns = |netns, port: &str| {
        let mut s = tcp(port, "127.0.0.1:80", SockState::Established).inode(0);
        s.netns = netns;
        s.cookie = 7;
        s
    };
    let sockets = vec![in_ns(0, "127.0.0.1:40001"), in_ns(42, "127.0.0.1:40002")];
    let s1 = snap(1, range100(), sockets.clone());
    let mut next = 0;
    let r1 = merge(&[], sockets.clone(), &s1, true, 3, &mut next);
    let s2 = snap(2, range100(), sockets.clone());
    let r2 = merge(&r1, sockets, &s2, false, 3, &mut next);
    assert_eq!(r2.len(), 2, "{r2:?}");
    assert!(r2.iter().all(|r| r.mark == Mark::None), "{r2:?}");
    assert_eq!(
        r2.iter().map(|r| (r.sock.netns, r.id)).collect::<Vec<_>>(),
        r1.iter().map(|r| (r.sock.netns, r.id)).collect::<Vec<_>>()
    );
}
