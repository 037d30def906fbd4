use super::*;
use crate::analysis::pool::{self, Thresholds};
use crate::testkit::{conn, listener, range100, snap, tcp, SockExt};

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
