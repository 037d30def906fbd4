//! Commands that reserve ports so the OS never hands them out as ephemeral ports.

use crate::model::{format_ranges, merge_ranges, PortRange, Proto};
use serde::Serialize;

/// The OS the commands are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetOs {
    Linux,
    Windows,
    Macos,
}

impl TargetOs {
    /// The OS porttop was built for (anything that is neither Windows nor macOS
    /// is treated as Linux).
    pub fn current() -> Self {
        if cfg!(target_os = "windows") {
            TargetOs::Windows
        } else if cfg!(target_os = "macos") {
            TargetOs::Macos
        } else {
            TargetOs::Linux
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetOs::Linux => "linux",
            TargetOs::Windows => "windows",
            TargetOs::Macos => "macos",
        }
    }
}

/// What to run (as root / elevated) to reserve ports, and what to know about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReservePlan {
    pub os: TargetOs,
    /// Shell commands, in order; empty when there is nothing to run (macOS, or no
    /// valid port given).
    pub commands: Vec<String>,
    /// Explanations and caveats, one line each.
    pub notes: Vec<String>,
}

/// Commands that reserve `ports` on `os`, given the range and reserved ports in
/// force (`range`, as detected on that host).
///
/// * Linux: `sysctl -w net.ipv4.ip_local_reserved_ports=<list>` where the list is
///   the current one merged with the new ports (writing the key replaces the whole
///   list), plus a file in `/etc/sysctl.d/` that makes it persist. The key covers
///   TCP and UDP, IPv4 and IPv6; `proto` is ignored.
/// * Windows: one `netsh int ipv4 add excludedportrange` per run of consecutive
///   ports not excluded yet, per protocol (`proto` `None`: tcp and udp).
/// * macOS: no commands; it has no per-port reservation, so staying outside the
///   range is the protection (notes say whether the ports are).
///
/// Port 0 is ignored; duplicates are merged.
pub fn reserve_plan(
    ports: &[u16],
    proto: Option<Proto>,
    range: &PortRange,
    os: TargetOs,
) -> ReservePlan {
    let wanted = merge_ranges(ports.iter().filter(|&&p| p != 0).map(|&p| (p, p)).collect());
    let mut plan = ReservePlan {
        os,
        commands: Vec::new(),
        notes: Vec::new(),
    };
    if wanted.is_empty() {
        plan.notes.push("no port to reserve".to_string());
        return plan;
    }
    match os {
        TargetOs::Linux => linux(&mut plan, &wanted, range),
        TargetOs::Windows => windows(&mut plan, &wanted, proto, range),
        TargetOs::Macos => macos(&mut plan, &wanted, range),
    }
    plan
}

const LINUX_KEY: &str = "net.ipv4.ip_local_reserved_ports";
const LINUX_CONF: &str = "/etc/sysctl.d/60-porttop-reserved.conf";

fn linux(plan: &mut ReservePlan, wanted: &[(u16, u16)], range: &PortRange) {
    let mut all = range.reserved.clone();
    all.extend_from_slice(wanted);
    let list = format_ranges(&merge_ranges(all));
    let current = if range.reserved.is_empty() {
        "none".to_string()
    } else {
        range.reserved_string()
    };
    plan.commands.push(format!("sysctl -w {LINUX_KEY}={list}"));
    plan.commands
        .push(format!("echo '{LINUX_KEY} = {list}' > {LINUX_CONF}"));
    plan.notes.push("run as root".to_string());
    // Reserved ports come from ip_local_reserved_ports (or --reserved), not from
    // the file the range came from.
    let from = if range.source.contains("--reserved") {
        "--reserved"
    } else {
        "/proc/sys/net/ipv4/ip_local_reserved_ports"
    };
    plan.notes.push(format!(
        "the list replaces the current one, so it includes the ports already reserved \
         ({current}, from {from})"
    ));
    plan.notes.push(
        "applies to TCP and UDP, IPv4 and IPv6; reserved ports are skipped by automatic \
         assignment only, your service can still bind them"
            .to_string(),
    );
    plan.notes.push(format!(
        "sysctl files apply in lexical order: a later file (or /etc/sysctl.conf) setting \
         {LINUX_KEY} overrides {LINUX_CONF}"
    ));
}

fn windows(plan: &mut ReservePlan, wanted: &[(u16, u16)], proto: Option<Proto>, range: &PortRange) {
    let protos: &[Proto] = match proto {
        Some(Proto::Tcp) => &[Proto::Tcp],
        Some(Proto::Udp) => &[Proto::Udp],
        None => &[Proto::Tcp, Proto::Udp],
    };
    // Excluding a port that is already excluded fails, so only add the others.
    let mut runs: Vec<(u16, u16)> = Vec::new();
    let mut already: Vec<(u16, u16)> = Vec::new();
    for &(lo, hi) in wanted {
        for p in lo..=hi {
            if range.is_reserved(p) {
                already.push((p, p));
            } else {
                runs.push((p, p));
            }
        }
    }
    let runs = merge_ranges(runs);
    for &pr in protos {
        for &(lo, hi) in &runs {
            let count = u32::from(hi) - u32::from(lo) + 1;
            plan.commands.push(format!(
                "netsh int ipv4 add excludedportrange protocol={pr} startport={lo} numberofports={count}"
            ));
        }
    }
    plan.notes
        .push("run in an elevated prompt; exclusions persist across reboots".to_string());
    if !already.is_empty() {
        plan.notes.push(format!(
            "already excluded (per {}): {}",
            range.source,
            format_ranges(&merge_ranges(already))
        ));
    }
    plan.notes.push(
        "netsh refuses to exclude a port that is in use: run it before the service starts"
            .to_string(),
    );
    plan.notes.push(
        "check with: netsh int ipv4 show excludedportrange protocol=tcp (and protocol=udp)"
            .to_string(),
    );
}

fn macos(plan: &mut ReservePlan, wanted: &[(u16, u16)], range: &PortRange) {
    plan.notes.push(
        "macOS has no way to reserve single ports from the ephemeral range; staying \
         outside the range is the protection"
            .to_string(),
    );
    let inside: Vec<(u16, u16)> = wanted
        .iter()
        .filter_map(|&(lo, hi)| {
            let lo = lo.max(range.low);
            let hi = hi.min(range.high);
            (lo <= hi).then_some((lo, hi))
        })
        .collect();
    if inside.is_empty() {
        plan.notes.push(format!(
            "the ports are outside the ephemeral range {}-{} (from {}): nothing to do",
            range.low, range.high, range.source
        ));
    } else {
        plan.notes.push(format!(
            "{} inside the ephemeral range {}-{} (from {}): choose a port outside it \
             (porttop suggest), or move the range with sysctl net.inet.ip.portrange.first \
             / .last (affects every application)",
            format_ranges(&inside),
            range.low,
            range.high,
            range.source
        ));
    }
}

/// Commands that reserve `ports` on Windows 2000 / XP / Server 2003, which have no
/// `netsh int ipv4 add excludedportrange`: the `ReservedPorts` registry value
/// (REG_MULTI_SZ of `LO-HI` ranges) under the TCP/IP parameters (Microsoft KB
/// 812873, "How to reserve a range of ephemeral ports on a computer that is running
/// Windows Server 2003 or Windows 2000 Server"). Writing the value replaces it, so
/// the list includes the ranges already reserved per `range`.
pub fn reserve_plan_registry(ports: &[u16], range: &PortRange) -> ReservePlan {
    use crate::range::windows::TCPIP_PARAMETERS;
    let wanted = merge_ranges(ports.iter().filter(|&&p| p != 0).map(|&p| (p, p)).collect());
    let mut plan = ReservePlan {
        os: TargetOs::Windows,
        commands: Vec::new(),
        notes: Vec::new(),
    };
    if wanted.is_empty() {
        plan.notes.push("no port to reserve".to_string());
        return plan;
    }
    let mut all = range.reserved.clone();
    all.extend_from_slice(&wanted);
    let list: Vec<String> = merge_ranges(all)
        .iter()
        .map(|&(lo, hi)| format!("{lo}-{hi}"))
        .collect();
    plan.commands.push(format!(
        "reg add \"{TCPIP_PARAMETERS}\" /v ReservedPorts /t REG_MULTI_SZ /s , /d \"{}\" /f",
        list.join(",")
    ));
    plan.notes
        .push("run in an elevated prompt, then restart the computer (KB 812873)".to_string());
    plan.notes.push(format!(
        "the value replaces the current one: add what `reg query \"{TCPIP_PARAMETERS}\" /v \
         ReservedPorts` lists (here: {}, from {})",
        if range.reserved.is_empty() {
            "none".to_string()
        } else {
            range.reserved_string()
        },
        range.source
    ));
    plan
}
