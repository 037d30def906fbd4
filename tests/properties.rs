//! Property tests for the pure parts: pool counting, filters and diff, over random
//! socket tables (proptest).

use porttop::analysis::{diff::diff, pool};
use porttop::filter::Filter;
use porttop::model::{Endpoint, Family, PortRange, Proto, Snapshot, SockState, Socket};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        (0u8..4).prop_map(|x| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + x))),
        (0u16..3).prop_map(|x| IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1 + x))),
    ]
}

fn state() -> impl Strategy<Value = SockState> {
    prop::sample::select(vec![
        SockState::Established,
        SockState::TimeWait,
        SockState::SynSent,
        SockState::CloseWait,
        SockState::FinWait2,
        SockState::Listen,
    ])
}

/// Ports drawn near a small range so the pool fills up.
fn port() -> impl Strategy<Value = u16> {
    prop_oneof![1000u16..1010, 40000u16..40040]
}

fn socket() -> impl Strategy<Value = Socket> {
    (
        any::<bool>(),
        addr(),
        port(),
        addr(),
        1u16..6,
        state(),
        0u64..4,
        0u32..4,
    )
        .prop_map(|(udp, la, lp, ra, rp, st, inode, pid)| {
            let proto = if udp { Proto::Udp } else { Proto::Tcp };
            // Keep the families of both ends equal, as the kernel does.
            let ra = match (la, ra) {
                (IpAddr::V4(_), IpAddr::V6(_)) => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)),
                (IpAddr::V6(_), IpAddr::V4(_)) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                _ => ra,
            };
            let listening = st == SockState::Listen || udp;
            Socket {
                proto,
                family: if la.is_ipv4() {
                    Family::Ipv4
                } else {
                    Family::Ipv6
                },
                local: Endpoint::new(la, lp),
                remote: (!listening).then(|| Endpoint::new(ra, 9000 + rp)),
                state: if udp { SockState::Unconn } else { st },
                uid: Some(0),
                user: Some("root".into()),
                inode: (st != SockState::TimeWait).then_some(100 + inode),
                pids: if pid == 0 {
                    Default::default()
                } else {
                    [pid].into_iter().collect()
                },
                time_wait_left_ms: None,
                conn: None,
                netns: 0,
                cookie: 0,
            }
        })
}

/// A snapshot whose sockets are unique per (proto, local, remote), as in a real table.
fn snapshot() -> impl Strategy<Value = Snapshot> {
    (prop::collection::vec(socket(), 0..120), 0u16..8, 30u16..60).prop_map(
        |(socks, reserved, size)| {
            let mut seen = HashSet::new();
            let sockets: Vec<Socket> = socks
                .into_iter()
                .filter(|s| seen.insert((s.proto, s.local, s.remote)))
                .collect();
            Snapshot {
                taken_at_ms: 1_000,
                host: "h".into(),
                range: PortRange::new(40000, 40000 + size, vec![(40003, 40003 + reserved)], "t"),
                partial: false,
                counters: None,
                sockets,
                processes: BTreeMap::new(),
                netns: Vec::new(),
            }
        },
    )
}

fn filter() -> impl Strategy<Value = Filter> {
    prop::sample::select(vec![
        "tcp",
        "udp",
        "-4",
        "-6",
        "listening",
        "established",
        "ephemeral",
        "port:40001",
        "state:time-wait",
        "pid:1",
        "127.0.0.2",
        "tcp -6",
        "state:estab,syn-sent port:9001",
        "udp ephemeral",
        "",
    ])
    .prop_map(|t| Filter::parse(t).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn pool_counts_never_exceed_the_pool(s in snapshot()) {
        let r = pool::analyze(&s, pool::Thresholds::default());
        prop_assert!(r.tcp.ports_in_use <= r.pool_size);
        prop_assert!(r.udp.ports_in_use <= r.pool_size);
        prop_assert!(r.fraction <= 1.0 && r.fraction >= 0.0);
        for d in &r.destinations {
            prop_assert!(d.sockets <= r.pool_size, "{d:?}");
            prop_assert!(d.time_wait <= d.sockets);
            prop_assert!(d.fraction <= 1.0);
        }
    }

    #[test]
    fn destination_counts_sum_to_the_connected_ephemeral_sockets(s in snapshot()) {
        let r = pool::analyze(&s, pool::Thresholds::default());
        let total: u32 = r.destinations.iter().map(|d| d.sockets).sum();
        // Connections on a listener's port were accepted, not connected: not
        // allocations from the pool.
        let view = pool::PoolView::new(&s);
        let expected = s
            .sockets
            .iter()
            .filter(|x| x.remote.is_some() && s.range.is_ephemeral(x.local.port)
                && !view.is_server_side(x))
            .count() as u32;
        prop_assert_eq!(total, expected);
        let tw: u32 = r.destinations.iter().map(|d| d.time_wait).sum();
        let tw_expected = s
            .sockets
            .iter()
            .filter(|x| x.remote.is_some() && s.range.is_ephemeral(x.local.port)
                && x.state == SockState::TimeWait && !view.is_server_side(x))
            .count() as u32;
        prop_assert_eq!(tw, tw_expected);
        // A destination never has more sockets than its protocol's distinct ports.
        for d in &r.destinations {
            let g = if d.key.proto == Proto::Tcp { &r.tcp } else { &r.udp };
            prop_assert!(d.sockets <= g.ports_in_use);
        }
    }

    #[test]
    fn filters_are_idempotent_and_commute(s in snapshot(), f in filter(), g in filter()) {
        let apply = |f: &Filter, v: &[Socket]| -> Vec<Socket> {
            v.iter().filter(|x| f.matches(&s, x)).cloned().collect()
        };
        let once = apply(&f, &s.sockets);
        prop_assert_eq!(&apply(&f, &once), &once);
        let fg = apply(&g, &apply(&f, &s.sockets));
        let gf = apply(&f, &apply(&g, &s.sockets));
        prop_assert_eq!(fg, gf);
        // The text form means the same filter.
        let back = Filter::parse(&f.to_string()).unwrap();
        prop_assert_eq!(apply(&back, &s.sockets), once);
    }

    #[test]
    fn diff_of_a_snapshot_with_itself_is_empty(s in snapshot()) {
        prop_assert!(diff(&s, &s).is_empty());
    }

    #[test]
    fn diff_accounts_for_every_socket(a in snapshot(), b in snapshot()) {
        let d = diff(&a, &b);
        // Every socket of b is either new, changed, or was already in a.
        prop_assert!(d.added.len() + d.changed.len() <= b.sockets.len());
        prop_assert!(d.removed.len() + d.changed.len() <= a.sockets.len());
        prop_assert_eq!(
            a.sockets.len() - d.removed.len() + d.added.len(),
            b.sockets.len()
        );
    }
}
