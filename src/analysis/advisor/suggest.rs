//! [`suggest`]: ports that pass every rule of [`judge`](super::judge).

use super::{in_portable_range, MIN_PORT};
use crate::model::{PortRange, Proto, Snapshot};
use crate::ports;
use std::collections::HashSet;

/// True when `judge(port, proto, ...)` would give [`Verdict::Good`](super::Verdict::Good); `used` holds
/// the (proto, port) pairs of every socket in the snapshot.
fn passes(
    port: u16,
    proto: Proto,
    range: &PortRange,
    used: &HashSet<(Proto, u16)>,
    portable: bool,
) -> bool {
    port >= MIN_PORT
        && ports::lookup(port, proto).is_empty()
        && ports::malware(port, proto).next().is_none()
        && !range.contains(port)
        && !(portable && in_portable_range(port))
        && !used.contains(&(proto, port))
}

/// Up to `n` ports that pass every rule: 1025 or above, not registered or
/// reserved by IANA, no malware association, outside the ephemeral range
/// (`portable`: outside every common default too), not used by any socket of the
/// snapshot. With `proto` `None` a port must pass for both TCP and UDP.
///
/// Deterministic: closest to `near` first (ties: the lower port), else ascending.
/// Every returned port gets [`Verdict::Good`](super::Verdict::Good) from [`judge`](super::judge) with the same inputs
/// (for each protocol). Fewer than `n` when fewer exist. Never panics.
pub fn suggest(
    n: usize,
    proto: Option<Proto>,
    near: Option<u16>,
    portable: bool,
    range: &PortRange,
    snapshot: Option<&Snapshot>,
) -> Vec<u16> {
    let protos: &[Proto] = match proto {
        Some(Proto::Tcp) => &[Proto::Tcp],
        Some(Proto::Udp) => &[Proto::Udp],
        None => &[Proto::Tcp, Proto::Udp],
    };
    let used: HashSet<(Proto, u16)> = snapshot
        .map(|s| s.sockets.iter().map(|s| (s.proto, s.local.port)).collect())
        .unwrap_or_default();
    let ok = |p: u16| {
        protos
            .iter()
            .all(|&pr| passes(p, pr, range, &used, portable))
    };
    let mut out = Vec::new();
    if n == 0 {
        return out;
    }
    match near {
        None => {
            for p in MIN_PORT..=u16::MAX {
                if ok(p) {
                    out.push(p);
                    if out.len() == n {
                        break;
                    }
                }
            }
        }
        Some(c) => {
            let c = i32::from(c);
            for d in 0..=i32::from(u16::MAX) {
                let below = c - d;
                let above = c + d;
                if below < i32::from(MIN_PORT) && above > i32::from(u16::MAX) {
                    break;
                }
                let count = if d == 0 { 1 } else { 2 };
                for p in [below, above].into_iter().take(count) {
                    if let Ok(p) = u16::try_from(p) {
                        if ok(p) {
                            out.push(p);
                            if out.len() == n {
                                return out;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}
