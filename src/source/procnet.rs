//! UDP peers from `/proc/net/udp` and `/proc/net/udp6` (this network namespace).
//!
//! netstat2's netlink records give UDP no remote end, so a connected UDP socket (a
//! resolver's query, a QUIC or NTP client) would look like a server bound to an
//! ephemeral port. The proc tables carry `rem_address` and the inode; joining on the
//! inode restores the peer, and `ss` calls such sockets ESTAB.

use crate::model::Endpoint;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// inode -> remote endpoint of every connected UDP socket in `text` (the content of
/// /proc/net/udp or /proc/net/udp6). Malformed lines are skipped.
pub fn parse_udp_peers(text: &str) -> HashMap<u64, Endpoint> {
    let mut out = HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        if f.len() < 10 {
            continue;
        }
        let (Some(remote), Ok(inode)) = (parse_hex_endpoint(f[2]), f[9].parse::<u64>()) else {
            continue;
        };
        if inode != 0 && !(remote.port == 0 && remote.addr.is_unspecified()) {
            out.insert(inode, remote);
        }
    }
    out
}

/// `0100007F:0035` or a 32-hex-digit IPv6 address and a port. The kernel prints
/// each 32-bit word of the address as a native-endian number.
fn parse_hex_endpoint(s: &str) -> Option<Endpoint> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = addr.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    };
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some(Endpoint::new(ip, port))
}

/// Connected UDP peers of this namespace, by inode (empty where unreadable).
pub fn udp_peers() -> HashMap<u64, Endpoint> {
    let mut m = HashMap::new();
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            m.extend(parse_udp_peers(&t));
        }
    }
    m
}

#[cfg(all(test, target_endian = "little"))]
mod tests {
    use super::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  133: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 16466 2 0000000000000000 0
  201: 0100007F:A1B2 0800000A:01BB 01 00000000:00000000 00:00000000 00000000     0        0 55501 2 0000000000000000 0
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  310: 00000000000000000000000001000000:C350 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000     0        0 77001 2 0000000000000000 0
  311: 0000000000000000FFFF00000100007F:C351 0000000000000000FFFF00000800000A:0035 01 00000000:00000000 00:00000000 00000000     0        0 77002 2 0000000000000000 0
";

    #[test]
    fn connected_sockets_get_their_peer_and_bound_ones_none() {
        let m = parse_udp_peers(UDP);
        assert_eq!(m.len(), 1);
        assert_eq!(m[&55501].to_string(), "10.0.0.8:443");
        let m = parse_udp_peers(UDP6);
        assert_eq!(m[&77001].to_string(), "[::1]:53");
        // IPv4-mapped peers show as IPv4.
        assert_eq!(m[&77002].to_string(), "10.0.0.8:53");
    }

    #[test]
    fn garbage_is_skipped() {
        for t in [
            "",
            "header only",
            "h\n1: zz:zz 00:00 01 0 0 0 0 0 x",
            "h\n1: 0100007F:0035 0800000A 01 a b c d e 5",
        ] {
            assert!(parse_udp_peers(t).is_empty(), "{t:?}");
        }
    }
}
