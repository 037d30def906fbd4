//! The kernel's TCP counters from `/proc/net/snmp` and `/proc/net/netstat`: both
//! files hold pairs of lines per group, a header of names and a line of values
//! with the same `Group:` prefix (`Tcp: RtoAlgorithm RtoMin ...` then `Tcp: 1 200
//! ...`; net/ipv4/proc.c). /proc/net answers for the reading thread's network
//! namespace.

use crate::model::KernelCounters;
use std::path::Path;

/// Adds the counters of one file's text to `c`: only the `Tcp` and `TcpExt`
/// groups, only names it knows; malformed lines are skipped.
pub fn parse_into(text: &str, c: &mut KernelCounters) {
    let mut lines = text.lines().peekable();
    while let Some(names) = lines.next() {
        let Some(&values) = lines.peek() else {
            break;
        };
        let (Some((p1, names)), Some((p2, values))) =
            (names.split_once(':'), values.split_once(':'))
        else {
            continue;
        };
        // An unpaired line: the next one may start a pair of its own.
        if p1 != p2 {
            continue;
        }
        lines.next();
        if !matches!(p1, "Tcp" | "TcpExt") {
            continue;
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            // MaxConn is -1 ("no limit"): not one of ours, and not a u64.
            if let Ok(v) = v.parse::<u64>() {
                c.set(p1, n, v);
            }
        }
    }
}

/// Reads both files under `net` (normally `/proc/net`); None when neither exists.
pub fn read(net: &Path) -> Option<KernelCounters> {
    let mut c = KernelCounters::default();
    let mut any = false;
    for f in ["snmp", "netstat"] {
        if let Ok(b) = crate::range::read_sysfile(&net.join(f)) {
            parse_into(&String::from_utf8_lossy(&b), &mut c);
            any = true;
        }
    }
    any.then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Literal lines of Linux 6.x's /proc/net/snmp and /proc/net/netstat (cut).
    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives\n\
Ip: 1 64 12345\n\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
Tcp: 1 200 120000 -1 4242 17 9 3 5 100 100 0 0 12 0\n\
Udp: InDatagrams NoPorts\n\
Udp: 5 6\n";
    const NETSTAT: &str =
        "TcpExt: SyncookiesSent SyncookiesRecv TCPTimeWaitOverflow ListenOverflows ListenDrops\n\
TcpExt: 0 0 2 11 13\n\
IpExt: InNoRoutes InTruncatedPkts\n\
IpExt: 0 0\n";

    #[test]
    fn counters_come_from_their_groups_by_name() {
        let mut c = KernelCounters::default();
        parse_into(SNMP, &mut c);
        parse_into(NETSTAT, &mut c);
        assert_eq!(
            c,
            KernelCounters {
                active_opens: 4242,
                attempt_fails: 9,
                estab_resets: 3,
                time_wait_overflow: 2,
                listen_overflows: 11,
                listen_drops: 13,
            }
        );
    }

    #[test]
    fn an_unpaired_line_does_not_shift_the_pairs_after_it() {
        let mut c = KernelCounters::default();
        parse_into(&format!("Ip: Forwarding\n{SNMP}"), &mut c);
        assert_eq!(c.active_opens, 4242);
    }

    #[test]
    fn hostile_text_is_skipped() {
        let mut c = KernelCounters::default();
        for t in [
            "",
            "Tcp:",
            "Tcp: ActiveOpens\n",
            "Tcp: ActiveOpens\nTcpExt: 5\n",
            "Tcp: ActiveOpens\nTcp: x\n",
            "\u{0}\n\n",
        ] {
            parse_into(t, &mut c);
        }
        assert_eq!(c, KernelCounters::default());
    }

    #[test]
    fn this_machine_has_them() {
        if !Path::new("/proc/net/snmp").exists() {
            eprintln!("SKIP: no /proc/net/snmp here");
            return;
        }
        let c = read(Path::new("/proc/net")).expect("counters");
        // Every test run makes connections: loopback ones count too.
        let _ = c.active_opens;
    }
}
