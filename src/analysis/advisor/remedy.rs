//! When no port can pass the rules because the ephemeral range covers every
//! candidate (MaxUserPort 65535 on an ending-port Windows, or any range over
//! 1025-65535): the remedies of the knowledge-base article ("Choosing a TCP Port
//! for a Network Service"), with the exact commands for the OS.
//!
//! The article's remedies are Windows': set MaxUserPort to 60000 (frees
//! 60001-65535 for listeners), or remove it to get the default (1025-49151 free
//! with KB951746), and in any case reserve the chosen port. The same idea on the
//! other systems is to move the range back to its default. Every command is built
//! from a range checked to be valid for its OS ([`derive`], [`dynamic_range`],
//! [`linux_port_range`]); a remedy whose range would still leave no port is left out.

use super::{reserve_plan, reserve_plan_registry, suggest, TargetOs};
use crate::model::{PortRange, Proto, Snapshot};
use crate::range::windows::{
    derive, dynamic_range, WindowsVersion, DYNAMIC_START, TCPIP_PARAMETERS,
};
use crate::range::RangeError;
use serde::Serialize;

/// The OS (and, for Windows, the table row) the remedies are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemedyTarget {
    Linux,
    Macos,
    /// `None`: the version is not known (a live host): remedies for both kinds.
    Windows(Option<WindowsVersion>),
}

impl RemedyTarget {
    /// The OS porttop was built for.
    pub fn current() -> Self {
        match TargetOs::current() {
            TargetOs::Linux => RemedyTarget::Linux,
            TargetOs::Macos => RemedyTarget::Macos,
            TargetOs::Windows => RemedyTarget::Windows(None),
        }
    }
}

/// One way out, with what it frees, its commands, and a port that passes after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// One line: what to change and which ports it frees for listeners.
    pub title: String,
    /// Shell commands (elevated / root), in order.
    pub commands: Vec<String>,
    pub notes: Vec<String>,
    /// The ephemeral range after the change.
    pub range_after: (u16, u16),
    /// The first port (closest to `near`) that passes every rule after the change.
    pub port: u16,
    /// The commands that reserve that port afterwards.
    pub reserve: Vec<String>,
}

/// The article's last remedy, which holds for every other one.
pub const RESERVE_ANYWAY: &str =
    "in any case, reserve the port you choose (the commands under each remedy), so the OS \
     never hands it out";

/// True when the range alone leaves no port that passes the rules: every port of
/// 1025 and above that is free of IANA and malware entries lies inside it.
pub fn blocked_by_range(range: &PortRange, proto: Option<Proto>) -> bool {
    suggest(1, proto, None, false, range, None).is_empty()
}

/// The remedies for `target` when [`blocked_by_range`] holds for `range`; each
/// checked, and kept only if its new range leaves a port (the first one, closest to
/// `near`, is named with the commands that reserve it).
pub fn remedies(
    target: RemedyTarget,
    range: &PortRange,
    proto: Option<Proto>,
    near: Option<u16>,
    snapshot: Option<&Snapshot>,
) -> Vec<Remedy> {
    let mut plans: Vec<Plan> = Vec::new();
    match target {
        RemedyTarget::Linux => plans.extend(linux(proto)),
        RemedyTarget::Macos => plans.extend(macos()),
        RemedyTarget::Windows(Some(v @ (WindowsVersion::Nt | WindowsVersion::NtKb951748))) => {
            plans.extend(windows_ending(v, ""))
        }
        RemedyTarget::Windows(Some(WindowsVersion::Vista)) => {
            plans.extend(windows_netsh(proto, ""))
        }
        RemedyTarget::Windows(None) => {
            plans.extend(windows_netsh(proto, "on Vista / Server 2008 and later: "));
            plans.extend(windows_ending(
                WindowsVersion::Nt,
                "on 2000 / XP / Server 2003: ",
            ));
        }
    }
    plans
        .into_iter()
        .filter_map(|p| {
            let after = PortRange::new(p.range.0, p.range.1, range.reserved.clone(), &p.title);
            if (after.low, after.high) == (range.low, range.high) {
                return None;
            }
            let port = *suggest(1, proto, near, false, &after, snapshot).first()?;
            let reserve = match p.reserve {
                Reserve::Registry => reserve_plan_registry(&[port], &after).commands,
                Reserve::Os(os) => reserve_plan(&[port], proto, &after, os).commands,
            };
            Some(Remedy {
                title: format!("{}: {}", p.title, frees(after.low, after.high)),
                commands: p.commands,
                notes: p.notes,
                range_after: p.range,
                port,
                reserve,
            })
        })
        .collect()
}

enum Reserve {
    /// Windows 2000 / XP / 2003: the ReservedPorts registry value.
    Registry,
    Os(TargetOs),
}

struct Plan {
    title: String,
    commands: Vec<String>,
    notes: Vec<String>,
    range: (u16, u16),
    reserve: Reserve,
}

/// "1025-32767 and 61000-65535 are free for listeners": what lies outside `lo-hi`
/// from 1025 up.
fn frees(lo: u16, hi: u16) -> String {
    let mut spans = Vec::new();
    if lo > super::MIN_PORT {
        spans.push(format!("{}-{}", super::MIN_PORT, lo - 1));
    }
    if hi < u16::MAX {
        spans.push(format!("{}-{}", hi + 1, u16::MAX));
    }
    format!("{} free for listeners", spans.join(" and "))
}

fn protos(proto: Option<Proto>) -> Vec<Proto> {
    match proto {
        Some(p) => vec![p],
        None => vec![Proto::Tcp, Proto::Udp],
    }
}

/// The article's two MaxUserPort remedies for an ending-port version.
fn windows_ending(version: WindowsVersion, prefix: &str) -> Vec<Plan> {
    let restart =
        "run in an elevated prompt, then restart the computer (Microsoft KB 196271)".to_string();
    let mut out = Vec::new();
    if let Ok(d) = derive(version, Some(60000), None) {
        out.push(Plan {
            title: format!(
                "{prefix}set MaxUserPort to 60000 (range {}-{})",
                d.low, d.high
            ),
            commands: vec![format!(
                "reg add \"{TCPIP_PARAMETERS}\" /v MaxUserPort /t REG_DWORD /d 60000 /f"
            )],
            notes: vec![restart.clone()],
            range: (d.low, d.high),
            reserve: Reserve::Registry,
        });
    }
    if let Ok(d) = derive(version, None, None) {
        out.push(Plan {
            title: format!(
                "{prefix}remove MaxUserPort to get the default of {} (range {}-{})",
                d.version_name, d.low, d.high
            ),
            commands: vec![format!(
                "reg delete \"{TCPIP_PARAMETERS}\" /v MaxUserPort /f"
            )],
            notes: vec![
                restart,
                "the product that set MaxUserPort (Small Business Server, ISA Server, \
                 Exchange) did so to have more ports for outgoing connections: check its \
                 guidance before lowering it"
                    .to_string(),
            ],
            range: (d.low, d.high),
            reserve: Reserve::Registry,
        });
    }
    out
}

/// `netsh int IP set dynamicport PROTO start=START num=NUM`, refused unless netsh
/// accepts the range ([`dynamic_range`]: start >= 1025, num >= 255,
/// start + num - 1 <= 65535).
pub fn netsh_set_dynamicport(
    ip: &str,
    proto: Proto,
    start: u32,
    num: u32,
) -> Result<String, RangeError> {
    dynamic_range(start, num)?;
    Ok(format!(
        "netsh int {ip} set dynamicport {proto} start={start} num={num}"
    ))
}

/// Vista and later: move the dynamic range back to its default, 49152 + 16384.
fn windows_netsh(proto: Option<Proto>, prefix: &str) -> Vec<Plan> {
    let (start, num) = (u32::from(DYNAMIC_START), 16384);
    let Ok(range) = dynamic_range(start, num) else {
        return Vec::new();
    };
    let mut commands = Vec::new();
    for ip in ["ipv4", "ipv6"] {
        for p in protos(proto) {
            match netsh_set_dynamicport(ip, p, start, num) {
                Ok(c) => commands.push(c),
                Err(_) => return Vec::new(),
            }
        }
    }
    vec![Plan {
        title: format!(
            "{prefix}set the dynamic port range back to its default (range {}-{})",
            range.0, range.1
        ),
        commands,
        notes: vec![
            "run in an elevated prompt; the range is set per transport and IP version \
             (Microsoft KB 929851)"
                .to_string(),
            "if MaxUserPort is defined too, `porttop range` says which one is in force".to_string(),
        ],
        range,
        reserve: Reserve::Os(TargetOs::Windows),
    }]
}

/// A range for `net.ipv4.ip_local_port_range`, refused unless it leaves the ports
/// below 1025 alone and is ordered.
pub fn linux_port_range(lo: u16, hi: u16) -> Result<(u16, u16), RangeError> {
    if lo < super::MIN_PORT || lo > hi {
        return Err(RangeError::Invalid {
            what: "ip_local_port_range".to_string(),
            detail: format!("{lo}-{hi} must start at 1025 or above and not be reversed"),
        });
    }
    Ok((lo, hi))
}

fn linux(_proto: Option<Proto>) -> Vec<Plan> {
    let d = PortRange::linux_default();
    let Ok((lo, hi)) = linux_port_range(d.low, d.high) else {
        return Vec::new();
    };
    const KEY: &str = "net.ipv4.ip_local_port_range";
    vec![Plan {
        title: format!("set the ephemeral range back to the kernel default (range {lo}-{hi})"),
        commands: vec![
            format!("sysctl -w {KEY}=\"{lo} {hi}\""),
            format!("echo '{KEY} = {lo} {hi}' > /etc/sysctl.d/60-porttop-port-range.conf"),
        ],
        notes: vec![
            "run as root; the range is per network namespace (this one)".to_string(),
            "programs that connect a lot get fewer ephemeral ports: watch `porttop pool`"
                .to_string(),
        ],
        range: (lo, hi),
        reserve: Reserve::Os(TargetOs::Linux),
    }]
}

fn macos() -> Vec<Plan> {
    let (lo, hi) = (DYNAMIC_START, u16::MAX);
    vec![Plan {
        title: format!("set the ephemeral range back to the default (range {lo}-{hi})"),
        commands: vec![format!(
            "sysctl -w net.inet.ip.portrange.first={lo} net.inet.ip.portrange.last={hi}"
        )],
        notes: vec!["run as root (sudo)".to_string()],
        range: (lo, hi),
        reserve: Reserve::Os(TargetOs::Macos),
    }]
}
