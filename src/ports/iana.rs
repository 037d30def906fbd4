//! The IANA "Service Name and Transport Protocol Port Number Registry", TCP and
//! UDP only, embedded from `data/iana-ports.tsv` (see its header for provenance,
//! licence (CC0 1.0) and how to regenerate it with `tools/gen_iana.py`).
//!
//! Parsed lazily, once, into a table sorted by (protocol, port) with range rows
//! (`6000-6063 x11`) expanded to one entry per port, so that every lookup is one
//! binary search over a dense `u32` key array and returns a contiguous slice.

use crate::model::Proto;
use serde::Serialize;
use std::sync::OnceLock;

const RAW: &str = include_str!("../../data/iana-ports.tsv");

/// What an IANA registry row means for a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Assigned to a service (the usual case): another application may use it.
    Assigned,
    /// Listed by IANA as "Reserved" (no service, but not free either).
    Reserved,
    /// Unassigned (or de-registered/removed), but IANA records that unauthorized
    /// use of it has been reported.
    UnauthorizedUse,
}

/// One registry entry as it applies to one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Service {
    /// First port of the registry row (equal to `high` for single ports).
    pub low: u16,
    /// Last port of the registry row.
    pub high: u16,
    pub proto: Proto,
    pub kind: Kind,
    /// IANA's "Unauthorized Use Reported" column was not empty.
    pub unauthorized_use: bool,
    /// Service name (`ssh`); empty for reserved rows and a few private-use rows.
    pub name: &'static str,
    /// Description, at most 60 characters.
    pub description: &'static str,
}

impl Service {
    /// `22` or `6000-6063`: the port or range of the registry row.
    pub fn ports(&self) -> String {
        if self.low == self.high {
            self.low.to_string()
        } else {
            format!("{}-{}", self.low, self.high)
        }
    }
}

struct Table {
    /// `proto << 16 | port`, sorted, parallel to `services`.
    keys: Vec<u32>,
    services: Vec<Service>,
}

fn key(port: u16, proto: Proto) -> u32 {
    let p: u32 = match proto {
        Proto::Tcp => 0,
        Proto::Udp => 1,
    };
    (p << 16) | u32::from(port)
}

/// Parses the embedded text; returns the table and the number of lines that could
/// not be parsed (zero for the committed file; a test checks that).
fn parse(raw: &'static str) -> (Table, usize) {
    let mut entries: Vec<(u32, Service)> = Vec::with_capacity(14_000);
    let mut bad = 0;
    for line in raw.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Some((protos, svc)) => {
                for &proto in protos {
                    for port in svc.low..=svc.high {
                        entries.push((key(port, proto), Service { proto, ..svc }));
                    }
                }
            }
            None => bad += 1,
        }
    }
    // Stable: entries of one port keep the registry's order.
    entries.sort_by_key(|e| e.0);
    let (keys, services) = entries.into_iter().unzip();
    (Table { keys, services }, bad)
}

fn parse_line(line: &'static str) -> Option<(&'static [Proto], Service)> {
    let mut f = line.split('\t');
    let low: u16 = f.next()?.parse().ok()?;
    let high: u16 = f.next()?.parse().ok()?;
    let protos: &'static [Proto] = match f.next()? {
        "tcp" => &[Proto::Tcp],
        "udp" => &[Proto::Udp],
        "tcp,udp" => &[Proto::Tcp, Proto::Udp],
        _ => return None,
    };
    let kind = match f.next()? {
        "A" => Kind::Assigned,
        "R" => Kind::Reserved,
        "U" => Kind::UnauthorizedUse,
        _ => return None,
    };
    let unauthorized_use = match f.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    let name = f.next()?;
    let description = f.next()?;
    if f.next().is_some() || low > high {
        return None;
    }
    let svc = Service {
        low,
        high,
        proto: protos[0],
        kind,
        unauthorized_use,
        name,
        description,
    };
    Some((protos, svc))
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| parse(RAW).0)
}

/// Every registry entry for `port`/`proto` (assigned, reserved, unauthorized-use),
/// in registry order; empty when IANA lists nothing there (unassigned).
pub fn lookup(port: u16, proto: Proto) -> &'static [Service] {
    let t = table();
    let k = key(port, proto);
    let start = t.keys.partition_point(|&x| x < k);
    // A port has a handful of entries at most: scan rather than search again.
    let end = start + t.keys[start..].iter().take_while(|&&x| x == k).count();
    &t.services[start..end]
}

/// The name of the first service assigned to `port`/`proto`, for the socket
/// table's service column. One binary search; no allocation.
pub fn service_name(port: u16, proto: Proto) -> Option<&'static str> {
    lookup(port, proto)
        .iter()
        .find(|s| s.kind == Kind::Assigned && !s.name.is_empty())
        .map(|s| s.name)
}

/// The whole table, sorted by protocol (tcp first) then port, ranges expanded.
pub fn services() -> &'static [Service] {
    &table().services
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(port: u16, proto: Proto) -> Vec<&'static str> {
        lookup(port, proto).iter().map(|s| s.name).collect()
    }

    #[test]
    fn the_embedded_table_parses_completely() {
        let (t, bad) = parse(RAW);
        assert_eq!(bad, 0);
        assert!(t.services.len() > 12_000, "{}", t.services.len());
        assert_eq!(t.keys.len(), t.services.len());
        assert!(t.keys.windows(2).all(|w| w[0] <= w[1]));
        assert!(t
            .services
            .iter()
            .all(|s| s.description.chars().count() <= 60 && !s.description.contains('\t')));
    }

    #[test]
    fn known_rows() {
        assert_eq!(service_name(22, Proto::Tcp), Some("ssh"));
        assert_eq!(service_name(443, Proto::Tcp), Some("https"));
        assert_eq!(service_name(5432, Proto::Tcp), Some("postgresql"));
        assert_eq!(service_name(3389, Proto::Tcp), Some("ms-wbt-server"));
        assert_eq!(service_name(53, Proto::Udp), Some("domain"));
        let ssh = lookup(22, Proto::Tcp);
        assert_eq!(ssh.len(), 1);
        assert_eq!(ssh[0].description, "The Secure Shell (SSH) Protocol");
        assert_eq!(ssh[0].kind, Kind::Assigned);
    }

    #[test]
    fn range_rows_cover_every_port_and_keep_their_bounds() {
        // "x11,6000-6063,tcp,X Window System" in the registry.
        for port in [6000, 6010, 6063] {
            let s = lookup(port, Proto::Tcp);
            assert_eq!(s[0].name, "x11", "{port}");
            assert_eq!((s[0].low, s[0].high), (6000, 6063));
            assert_eq!(s[0].ports(), "6000-6063");
        }
        assert_ne!(service_name(6064, Proto::Tcp), Some("x11"));
        // "vrml-multi-use,4200-4299,,..." (no protocol: both).
        assert_eq!(service_name(4250, Proto::Udp), Some("vrml-multi-use"));
    }

    #[test]
    fn several_services_may_share_a_port() {
        // 1022/tcp: exp2, RFC3692-style Experiment 2.
        let mut n = names(1022, Proto::Tcp);
        n.sort_unstable();
        assert!(n.contains(&"exp2"), "{n:?}");
        // 5353/udp mdns and others; at least one entry, and all for udp.
        assert!(lookup(5353, Proto::Udp)
            .iter()
            .all(|s| s.proto == Proto::Udp));
    }

    #[test]
    fn reserved_and_unauthorized_use_rows() {
        // 0 and 1024 are "Reserved" in the registry.
        for p in [0, 1024] {
            let s = lookup(p, Proto::Tcp);
            assert!(s.iter().any(|s| s.kind == Kind::Reserved), "{p}");
            assert_eq!(service_name(p, Proto::Tcp), None);
        }
        // 796 is inside the unassigned row 788-799 noted "Unauthorized Use Known
        // on port 796": only 796 is kept.
        let s = lookup(796, Proto::Tcp);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].kind, Kind::UnauthorizedUse);
        assert!(s[0].unauthorized_use);
        assert!(lookup(795, Proto::Tcp).is_empty());
        // An assignment with the flag set.
        assert!(lookup(1521, Proto::Tcp).iter().any(|s| s.unauthorized_use));
    }

    #[test]
    fn unassigned_ports_return_nothing() {
        // Ports the registry lists as Unassigned.
        for (port, proto) in [(788, Proto::Tcp), (4337, Proto::Tcp), (4338, Proto::Udp)] {
            assert!(lookup(port, proto).is_empty(), "{port}/{proto}");
            assert_eq!(service_name(port, proto), None);
        }
        assert!(lookup(65535, Proto::Udp).len() <= 1);
    }

    #[test]
    fn hostile_lines_are_skipped_not_panicked_on() {
        for l in [
            "",
            "x",
            "1\t2",
            "5\t1\ttcp\tA\t0\tn\td",
            "1\t1\tsctp\tA\t0\tn\td",
            "1\t1\ttcp\tZ\t0\tn\td",
            "1\t1\ttcp\tA\t2\tn\td",
            "1\t1\ttcp\tA\t0\tn\td\textra",
            "70000\t1\ttcp\tA\t0\tn\td",
        ] {
            assert!(parse_line(l).is_none(), "{l:?}");
        }
        let (t, bad) = parse("# c\n1\t1\ttcp\tA\t0\tn\td\nbogus\n");
        assert_eq!((t.services.len(), bad), (1, 1));
    }
}
