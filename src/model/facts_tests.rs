use super::*;
use crate::testkit::{conn, ep, listener, SockExt};

/// A socket of the kit: with a remote end, or without one (then a listener's
/// shape, in `state`).
fn sock(proto: Proto, local: &str, remote: Option<&str>, state: SockState) -> Socket {
    match remote {
        Some(r) => conn(proto, local, r, state),
        None => listener(proto, local).state(state),
    }
}

#[test]
fn a_listener_is_tcp_listen_or_udp_without_a_peer_as_ss_l_lists() {
    use Proto::*;
    use SockState::*;
    let cases = [
        // (socket, is_listener, owns_port)
        (sock(Tcp, "0.0.0.0:80", None, Listen), true, true),
        (sock(Udp, "0.0.0.0:53", None, Unconn), true, true),
        // how some sources spell "no peer"
        (
            sock(Udp, "0.0.0.0:53", Some("0.0.0.0:0"), Unconn),
            true,
            true,
        ),
        // connected UDP, as the live source has it (kernel TCP_ESTABLISHED) ...
        (
            sock(Udp, "10.0.0.2:40002", Some("10.0.0.53:53"), Established),
            false,
            false,
        ),
        // ... and as a recording of another source may have it
        (
            sock(Udp, "10.0.0.2:40002", Some("10.0.0.53:53"), Unconn),
            false,
            false,
        ),
        // bound, neither listening nor connected: not a listener, holds the port
        (sock(Tcp, "0.0.0.0:40003", None, Bound), false, true),
        (
            sock(Tcp, "10.0.0.2:40004", Some("10.0.0.5:443"), Established),
            false,
            false,
        ),
        (
            sock(Tcp, "10.0.0.2:40005", Some("10.0.0.5:443"), TimeWait),
            false,
            false,
        ),
    ];
    for (s, listener, owns) in cases {
        assert_eq!(s.is_listener(), listener, "{s:?}");
        assert_eq!(s.owns_port(), owns, "{s:?}");
    }
    // The kernel-side states select exactly the listeners of a live table.
    for (s, listener, _) in [
        (sock(Tcp, "0.0.0.0:80", None, Listen), true),
        (sock(Udp, "0.0.0.0:53", None, Unconn), true),
        (
            sock(Udp, "10.0.0.2:1", Some("10.0.0.53:53"), Established),
            false,
        ),
        (sock(Tcp, "0.0.0.0:2", None, Bound), false),
    ]
    .map(|(s, l)| (s, l, ()))
    {
        assert_eq!(SockState::LISTENING.contains(&s.state), listener, "{s:?}");
    }
}

fn range() -> PortRange {
    PortRange::new(40000, 40099, vec![(40090, 40099)], "t")
}

#[test]
fn ports_in_use_are_distinct_pool_ports_per_protocol_without_the_server_side() {
    use Proto::*;
    use SockState::*;
    let v = vec![
        // a listener inside the range, and a connection accepted on it
        sock(Tcp, "0.0.0.0:40000", None, Listen),
        sock(Tcp, "10.0.0.2:40000", Some("10.0.0.9:5000"), Established),
        // two connections sharing local port 40001 toward two destinations
        sock(Tcp, "10.0.0.2:40001", Some("10.0.0.5:443"), Established),
        sock(Tcp, "10.0.0.2:40001", Some("10.0.0.6:443"), TimeWait),
        // outside the range, and reserved
        sock(Tcp, "10.0.0.2:8080", Some("10.0.0.5:443"), Established),
        sock(Tcp, "10.0.0.2:40095", Some("10.0.0.5:443"), Established),
        // UDP is its own port space
        sock(Udp, "0.0.0.0:40001", None, Unconn),
    ];
    let r = range();
    let view = PoolView::of(&r, &v);
    assert_eq!(view.ports_in_use(&v, Tcp), 2);
    assert_eq!(view.ports_in_use(&v, Udp), 1);
    assert!(view.is_server_side(&v[1]));
    assert!(!view.takes_from_pool(&v[1]));
    assert!(view.takes_from_pool(&v[2]));
}

#[test]
fn a_destination_has_the_protocol_and_only_outbound_pool_sockets_have_one() {
    use Proto::*;
    use SockState::*;
    let r = range();
    let tcp = sock(Tcp, "10.0.0.2:40001", Some("10.0.0.53:53"), Established);
    let udp = sock(Udp, "10.0.0.2:40001", Some("10.0.0.53:53"), Established);
    let listener = sock(Tcp, "0.0.0.0:40002", None, Listen);
    let accepted = sock(Tcp, "10.0.0.2:40002", Some("10.0.0.9:1"), Established);
    let outside = sock(Tcp, "10.0.0.2:8080", Some("10.0.0.53:53"), Established);
    let unspec = sock(Udp, "0.0.0.0:40003", Some("0.0.0.0:0"), Unconn);
    let all = [&tcp, &udp, &listener, &accepted, &outside, &unspec];
    let view = PoolView::of(&r, all);
    let (kt, ku) = (view.dest(&tcp).unwrap(), view.dest(&udp).unwrap());
    assert_ne!(kt, ku, "TCP and UDP to one endpoint are two pools");
    assert_eq!((kt.proto, ku.proto), (Tcp, Udp));
    assert_eq!(kt.to_string(), "tcp 10.0.0.2 -> 10.0.0.53:53");
    for s in [&listener, &accepted, &outside, &unspec] {
        assert_eq!(view.dest(s), None, "{s:?}");
    }
}

#[test]
fn a_share_of_an_empty_pool_is_zero_not_nan() {
    assert_eq!(share(5, 0), 0.0);
    assert_eq!(share(25, 100), 0.25);
}

#[test]
fn tw_reuse_applies_to_tcp_and_under_2_to_loopback_only() {
    let k = |proto, local: &str, remote: &str| DestKey {
        proto,
        local_addr: local.parse().unwrap(),
        remote: ep(remote),
    };
    assert!(k(Proto::Tcp, "127.0.0.1", "127.0.0.1:80").tw_reusable(Some(2)));
    assert!(!k(Proto::Tcp, "10.0.0.1", "10.0.0.2:80").tw_reusable(Some(2)));
    assert!(k(Proto::Tcp, "10.0.0.1", "10.0.0.2:80").tw_reusable(Some(1)));
    assert!(!k(Proto::Udp, "127.0.0.1", "127.0.0.1:80").tw_reusable(Some(1)));
    assert!(!k(Proto::Tcp, "127.0.0.1", "127.0.0.1:80").tw_reusable(None));
}
