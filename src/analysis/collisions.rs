//! Listening sockets that can get in each other's way, or in the way of outbound
//! connections.
//!
//! - `ListenerInEphemeralRange`: a TCP listener or a bound (unconnected) UDP socket
//!   on a port the OS may hand out for outbound connections. While the service is
//!   down an outbound socket can take the port, and the service then fails to bind.
//!   Reserved ports inside the range are fine.
//! - `SharedPort`: different processes bound to the same proto and port on
//!   overlapping addresses (equal, or a wildcard of the same family covering a
//!   specific one). `::` also covers IPv4 unless IPV6_V6ONLY is set, which the socket
//!   table does not show: that case gets a softer message. Owners are compared by pid
//!   set: sets that share a pid are one owner (inherited sockets, the same process on
//!   two addresses). When pids are unknown on either side (other users' processes
//!   without root), differing socket uids are used as a weaker hint; equal or
//!   unknown uids are skipped rather than guessed. Separate sockets of the same
//!   program (SO_REUSEPORT workers) are reported as probably intentional.
//! - `MalwarePort`: a listener on a port known to be used by malware, from a lookup
//!   supplied by the caller.

use crate::model::{Endpoint, Proto, Snapshot, SockState, Socket};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CollisionKind {
    ListenerInEphemeralRange,
    SharedPort,
    MalwarePort,
}

/// One socket involved in a collision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Involved {
    pub proto: Proto,
    pub local: Endpoint,
    pub state: SockState,
    pub pids: Vec<u32>,
    /// Names of the known owning processes, in pid order.
    pub processes: Vec<String>,
    pub uid: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Collision {
    pub kind: CollisionKind,
    pub proto: Proto,
    pub port: u16,
    /// Looks deliberate (SO_REUSEPORT workers of one program): show it, don't alarm.
    pub probably_intentional: bool,
    pub message: String,
    pub sockets: Vec<Involved>,
    /// The network namespace of its sockets (their `Socket::netns`; 0 the own
    /// one): collisions are found within one namespace, never across (the
    /// analyzer tags each namespace's).
    #[serde(skip_serializing_if = "is_own_netns")]
    pub netns: u64,
}

fn is_own_netns(n: &u64) -> bool {
    *n == 0
}

/// Collisions; `is_malware(port, proto)` names the malware known on a port.
/// Sorted by proto, port, then kind.
pub fn find_with(
    snap: &Snapshot,
    is_malware: &dyn Fn(u16, Proto) -> Option<String>,
) -> Vec<Collision> {
    let mut groups: BTreeMap<(Proto, u16), Vec<&Socket>> = BTreeMap::new();
    for s in snap.sockets.iter().filter(|s| s.is_listener()) {
        groups.entry((s.proto, s.local.port)).or_default().push(s);
    }
    let mut out = Vec::new();
    for (&(proto, port), socks) in &groups {
        if snap.range.is_ephemeral(port) {
            out.push(in_range(snap, proto, port, socks));
        }
        if let Some(c) = shared(snap, proto, port, socks) {
            out.push(c);
        }
        if let Some(name) = is_malware(port, proto) {
            let message = format!(
                "{proto} port {port} is a known malware port ({name}); listening: {}. \
                 Check that this is the program you expect.",
                owners(snap, socks)
            );
            out.push(collision(
                snap,
                CollisionKind::MalwarePort,
                proto,
                port,
                false,
                message,
                socks,
            ));
        }
    }
    out
}

/// The sockets whose owners `find_with(snap, is_malware)` needs: it groups
/// listeners by protocol and port, and names the owners of a group in the
/// ephemeral range or on a malware port, and tells owners apart where two
/// sockets of a group overlap. Other sockets' owners change nothing, so a
/// snapshot taken without owners needs them for these only.
pub fn owners_needed<'a>(
    snap: &'a Snapshot,
    is_malware: &dyn Fn(u16, Proto) -> Option<String>,
) -> Vec<&'a Socket> {
    let mut groups: BTreeMap<(Proto, u16), Vec<&Socket>> = BTreeMap::new();
    for s in snap.sockets.iter().filter(|s| s.is_listener()) {
        groups.entry((s.proto, s.local.port)).or_default().push(s);
    }
    let mut out = Vec::new();
    for ((proto, port), socks) in groups {
        let overlapping = socks.iter().enumerate().any(|(i, a)| {
            socks[i + 1..]
                .iter()
                .any(|b| overlap(a.local.addr, b.local.addr).is_some())
        });
        if overlapping || snap.range.is_ephemeral(port) || is_malware(port, proto).is_some() {
            out.extend(socks);
        }
    }
    out
}

fn in_range(snap: &Snapshot, proto: Proto, port: u16, socks: &[&Socket]) -> Collision {
    let r = &snap.range;
    let why = match proto {
        Proto::Tcp => "an outbound connection can take this port while the service is \
                       down, and the service then fails to start"
            .to_string(),
        Proto::Udp => "if this is a server's fixed port, an outbound socket can take it \
                       while the service is down; if it is a client's auto-assigned \
                       port, it is harmless"
            .to_string(),
    };
    let message = format!(
        "{proto} port {port} is bound inside the ephemeral range {}-{} and not reserved \
         ({}): {why}. Reserve it (net.ipv4.ip_local_reserved_ports) or move it out of \
         the range.",
        r.low,
        r.high,
        owners(snap, socks)
    );
    let kind = CollisionKind::ListenerInEphemeralRange;
    // An unconnected UDP socket on an ephemeral port is most often a client's
    // automatically bound port (connected ones have a peer and are not here):
    // shown, but not alarmed on (metrics label it intentional="true").
    let hedged = proto == Proto::Udp;
    collision(snap, kind, proto, port, hedged, message, socks)
}

#[derive(Clone, Copy, PartialEq)]
enum Overlap {
    Firm,
    /// `::` against an IPv4 address: only without IPV6_V6ONLY.
    DualStack,
}

fn overlap(a: IpAddr, b: IpAddr) -> Option<Overlap> {
    let v6_any = |x: IpAddr| x.is_ipv6() && x.is_unspecified();
    if a.is_ipv4() == b.is_ipv4() {
        (a == b || a.is_unspecified() || b.is_unspecified()).then_some(Overlap::Firm)
    } else if (v6_any(a) && b.is_ipv4()) || (v6_any(b) && a.is_ipv4()) {
        Some(Overlap::DualStack)
    } else {
        None
    }
}

/// Whether two sockets have different owners: Some(true) by pids, Some(false) only by
/// uid (weaker), None when they are (or may be) the same owner.
fn different_owners(a: &Socket, b: &Socket) -> Option<bool> {
    if !a.pids.is_empty() && !b.pids.is_empty() {
        let disjoint = !a.pids.iter().any(|p| b.pids.contains(p));
        return disjoint.then_some(true);
    }
    match (a.uid, b.uid) {
        (Some(x), Some(y)) if x != y => Some(false),
        _ => None,
    }
}

fn names(snap: &Snapshot, s: &Socket) -> BTreeSet<String> {
    s.pids
        .iter()
        .filter_map(|p| snap.process(*p))
        .map(|p| p.name.clone())
        .collect()
}

fn shared(snap: &Snapshot, proto: Proto, port: u16, socks: &[&Socket]) -> Option<Collision> {
    let mut involved = BTreeSet::new();
    let (mut firm, mut by_uid_only, mut same_program) = (false, false, true);
    for (i, a) in socks.iter().enumerate() {
        for (j, b) in socks.iter().enumerate().skip(i + 1) {
            let Some(ov) = overlap(a.local.addr, b.local.addr) else {
                continue;
            };
            let Some(by_pid) = different_owners(a, b) else {
                continue;
            };
            involved.extend([i, j]);
            firm |= ov == Overlap::Firm;
            by_uid_only |= !by_pid;
            let (na, nb) = (names(snap, a), names(snap, b));
            same_program &= by_pid && !na.is_empty() && na == nb;
        }
    }
    if involved.is_empty() {
        return None;
    }
    let socks: Vec<&Socket> = involved.iter().map(|&i| socks[i]).collect();
    let who = owners(snap, &socks);
    let mut message = if same_program {
        format!(
            "{proto} port {port} has {} separate sockets of the same program ({who}): \
             SO_REUSEPORT load balancing, probably intentional",
            socks.len()
        )
    } else if firm {
        format!(
            "{proto} port {port} is bound by different processes on overlapping \
             addresses ({who}): traffic goes to only one of them (the most specific \
             address, or split by SO_REUSEPORT)"
        )
    } else {
        format!(
            "{proto} port {port} is bound by different processes on [::] and IPv4 \
             ({who}): they overlap unless the IPv6 socket sets IPV6_V6ONLY, which is \
             not visible here"
        )
    };
    if by_uid_only {
        message.push_str("; owning processes not visible, told apart by socket uid only");
    }
    if proto == Proto::Udp && !same_program {
        message.push_str("; for UDP multicast (mDNS, SSDP) sharing a port is normal");
    }
    Some(collision(
        snap,
        CollisionKind::SharedPort,
        proto,
        port,
        same_program,
        message,
        &socks,
    ))
}

/// "java (pid 10) on 0.0.0.0, pid 20 on ::1, uid 1000 on 0.0.0.0"
fn owners(snap: &Snapshot, socks: &[&Socket]) -> String {
    socks
        .iter()
        .map(|s| {
            let pids = s
                .pids
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let who = match (snap.owner(s), s.pids.is_empty(), s.uid) {
                (Some(p), _, _) => format!("{} (pid {pids})", p.name),
                (None, false, _) => format!("pid {pids}"),
                (None, true, Some(uid)) => format!("uid {uid}"),
                (None, true, None) => "unknown owner".to_string(),
            };
            format!("{who} on {}", s.local.addr)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn collision(
    snap: &Snapshot,
    kind: CollisionKind,
    proto: Proto,
    port: u16,
    probably_intentional: bool,
    message: String,
    socks: &[&Socket],
) -> Collision {
    let sockets = socks
        .iter()
        .map(|s| Involved {
            proto: s.proto,
            local: s.local,
            state: s.state,
            pids: s.pids.to_vec(),
            processes: s
                .pids
                .iter()
                .filter_map(|p| snap.process(*p))
                .map(|p| p.name.clone())
                .collect(),
            uid: s.uid,
        })
        .collect();
    Collision {
        kind,
        proto,
        port,
        probably_intentional,
        message,
        sockets,
        netns: socks.first().map_or(0, |s| s.netns),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PortRange;
    use crate::testkit::*;

    /// Collisions without a malware lookup.
    fn find(snap: &Snapshot) -> Vec<Collision> {
        find_with(snap, &|_, _| None)
    }
    use CollisionKind::*;

    const PROCS: &[(u32, &str)] = &[
        (10, "java"),
        (20, "python3"),
        (30, "nginx"),
        (31, "nginx"),
        (40, "dnsmasq"),
    ];

    fn found(sockets: Vec<Socket>) -> Vec<Collision> {
        find(&with_procs(snap(0, range100(), sockets), PROCS))
    }

    fn kinds(c: &[Collision]) -> Vec<CollisionKind> {
        c.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn tcp_listener_inside_the_ephemeral_range_is_reported() {
        let c = found(vec![listener(Proto::Tcp, "0.0.0.0:40010").pids(&[10])]);
        assert_eq!(kinds(&c), [ListenerInEphemeralRange]);
        assert_eq!((c[0].proto, c[0].port), (Proto::Tcp, 40010));
        assert!(
            c[0].message.contains("java (pid 10) on 0.0.0.0"),
            "{}",
            c[0].message
        );
        assert_eq!(c[0].sockets[0].processes, ["java"]);
        assert_eq!(c[0].sockets[0].pids, [10]);
    }

    #[test]
    fn bound_udp_socket_inside_the_range_is_reported_with_a_hedged_message() {
        let c = found(vec![listener(Proto::Udp, "0.0.0.0:40020")]);
        assert_eq!(kinds(&c), [ListenerInEphemeralRange]);
        assert!(c[0].message.contains("auto-assigned"));
    }

    #[test]
    fn reserved_port_inside_the_range_is_fine() {
        let range = PortRange::new(40000, 40099, vec![(40010, 40010)], "t");
        let s = snap(0, range, vec![listener(Proto::Tcp, "0.0.0.0:40010")]);
        assert!(find(&s).is_empty());
    }

    #[test]
    fn listener_outside_the_range_and_outbound_sockets_inside_it_are_fine() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080"),
            tcp("10.0.0.2:40001", "10.0.0.5:443", SockState::Established),
            conn(
                Proto::Udp,
                "10.0.0.2:40002",
                "10.0.0.53:53",
                SockState::Unconn,
            ),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn two_processes_on_the_same_address_and_port_share_it() {
        let c = found(vec![
            listener(Proto::Tcp, "10.0.0.2:8080").pids(&[10]),
            listener(Proto::Tcp, "10.0.0.2:8080").pids(&[20]),
        ]);
        assert_eq!(kinds(&c), [SharedPort]);
        assert!(!c[0].probably_intentional);
        assert_eq!(c[0].sockets.len(), 2);
        assert!(c[0].message.contains("java") && c[0].message.contains("python3"));
    }

    #[test]
    fn wildcard_and_specific_address_of_two_processes_overlap() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080").pids(&[10]),
            listener(Proto::Tcp, "127.0.0.1:8080").pids(&[20]),
        ]);
        assert_eq!(kinds(&c), [SharedPort]);
        assert!(c[0].message.contains("overlapping"));
    }

    #[test]
    fn v6_wildcard_against_ipv4_is_flagged_softly_for_v6only() {
        let c = found(vec![
            listener(Proto::Udp, "[::]:53").pids(&[40]),
            listener(Proto::Udp, "0.0.0.0:53").pids(&[20]),
        ]);
        assert_eq!(kinds(&c), [SharedPort]);
        assert!(c[0].message.contains("IPV6_V6ONLY"), "{}", c[0].message);
    }

    #[test]
    fn v4_wildcard_does_not_cover_ipv6_and_different_addresses_do_not_overlap() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080").pids(&[10]),
            listener(Proto::Tcp, "[::1]:8080").pids(&[20]),
            listener(Proto::Tcp, "10.0.0.2:9090").pids(&[10]),
            listener(Proto::Tcp, "10.0.0.3:9090").pids(&[20]),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn tcp_and_udp_on_the_same_port_do_not_collide() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:53").pids(&[10]),
            listener(Proto::Udp, "0.0.0.0:53").pids(&[20]),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn the_same_process_on_two_addresses_with_one_port_is_not_a_collision() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:22").pids(&[10]),
            listener(Proto::Tcp, "[::]:22").pids(&[10]),
            listener(Proto::Tcp, "127.0.0.1:22").pids(&[10]),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn an_inherited_socket_sharing_a_pid_is_one_owner() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:80").pids(&[30, 31]),
            listener(Proto::Tcp, "0.0.0.0:80").pids(&[30]),
        ]);
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn reuseport_workers_of_one_program_are_reported_as_probably_intentional() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:80").pids(&[30]),
            listener(Proto::Tcp, "0.0.0.0:80").pids(&[31]),
        ]);
        assert_eq!(kinds(&c), [SharedPort]);
        assert!(c[0].probably_intentional);
        assert!(c[0].message.contains("SO_REUSEPORT"));
    }

    #[test]
    fn unknown_pids_fall_back_to_differing_uids_and_otherwise_skip() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080").uid(0),
            listener(Proto::Tcp, "0.0.0.0:8080").uid(1000),
        ]);
        assert_eq!(kinds(&c), [SharedPort]);
        assert!(c[0].message.contains("uid only"), "{}", c[0].message);
        assert!(c[0].message.contains("uid 1000 on 0.0.0.0"));
        let same_uid = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080").uid(1000),
            listener(Proto::Tcp, "0.0.0.0:8080").uid(1000),
        ]);
        assert!(same_uid.is_empty());
        let nothing_known = found(vec![
            listener(Proto::Tcp, "0.0.0.0:8080"),
            listener(Proto::Tcp, "0.0.0.0:8080").pids(&[10]),
        ]);
        assert!(nothing_known.is_empty());
    }

    #[test]
    fn malware_port_is_reported_from_the_supplied_lookup() {
        let s = with_procs(
            snap(
                0,
                range100(),
                vec![listener(Proto::Tcp, "0.0.0.0:31337").pids(&[20])],
            ),
            PROCS,
        );
        let lookup = |port: u16, proto: Proto| {
            (port == 31337 && proto == Proto::Tcp).then(|| "Back Orifice".to_string())
        };
        let c = find_with(&s, &lookup);
        assert_eq!(kinds(&c), [MalwarePort]);
        assert!(c[0].message.contains("Back Orifice") && c[0].message.contains("python3"));
        assert!(find(&s).is_empty(), "no lookup, no malware report");
    }

    #[test]
    fn malware_lookup_is_only_asked_about_listeners() {
        let s = snap(
            0,
            range100(),
            vec![tcp(
                "10.0.0.2:31337",
                "10.0.0.5:443",
                SockState::Established,
            )],
        );
        let c = find_with(&s, &|_, _| Some("anything".into()));
        assert!(c.is_empty());
    }

    #[test]
    fn one_port_can_carry_several_kinds_in_a_stable_order() {
        let c = found(vec![
            listener(Proto::Tcp, "0.0.0.0:40050").pids(&[10]),
            listener(Proto::Tcp, "0.0.0.0:40050").pids(&[20]),
            listener(Proto::Tcp, "0.0.0.0:8080").pids(&[20]),
        ]);
        assert_eq!(kinds(&c), [ListenerInEphemeralRange, SharedPort]);
        assert_eq!(c[0].sockets.len(), 2);
    }

    #[test]
    fn collision_kind_serializes_snake_case() {
        let c = found(vec![listener(Proto::Tcp, "0.0.0.0:40010").pids(&[10])]);
        let j = serde_json::to_value(&c[0]).unwrap();
        assert_eq!(j["kind"], "listener_in_ephemeral_range");
        assert_eq!(j["sockets"][0]["local"]["port"], 40010);
        assert_eq!(serde_json::to_value(SharedPort).unwrap(), "shared_port");
    }
}
