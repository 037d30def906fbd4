//! The listening-port advisor: "which port should my new service listen on?"
//!
//! Pure (no I/O): it judges a port against the rules of the usual knowledge-base
//! advice, using the embedded port data (`crate::ports`), the ephemeral range in
//! force and, optionally, a snapshot of the sockets in use:
//!
//! 1. not below 1025 (privileged / well-known ports);
//! 2. not a port known to be used by another application (IANA-registered,
//!    reserved by IANA, or unauthorized use reported) or by malware;
//! 3. outside the ephemeral range in force (and, with `portable`, outside every
//!    common OS default range, for software that ships to other hosts; for Windows
//!    one finding per row of the article's MaxUserPort table,
//!    [`crate::range::windows`]);
//! 4. reserved, so that the OS never hands it out ([`reserve_plan`]).
//!
//! Decisions (also documented on [`judge`]):
//! * IANA registration, IANA "Reserved" and "unauthorized use reported" are
//!   *caution*: the port may well be free here, but another product may expect it.
//! * Inside the ephemeral range and not reserved is *bad*; inside but reserved is
//!   *caution* (this host is protected, but the protection is per host and lasts
//!   only as long as the reservation does).
//! * In use now: a listener (TCP `LISTEN`, or a bound unconnected UDP socket) is
//!   *bad*; any other socket on the port (connections, `TIME-WAIT`) is *caution*,
//!   since `bind()` fails until it closes.
//! * [`suggest`] returns exactly the ports whose verdict is [`Verdict::Good`].

mod remedy;
mod reserve;
mod suggest;
#[cfg(test)]
mod tests;

pub use remedy::{
    blocked_by_range, linux_port_range, netsh_set_dynamicport, remedies, Remedy, RemedyTarget,
    RESERVE_ANYWAY,
};
pub use reserve::{reserve_plan, reserve_plan_registry, ReservePlan, TargetOs};
pub use suggest::suggest;

use crate::model::{PortRange, Proto, Snapshot, Socket};
use crate::ports::{self, Kind};
use crate::range::windows::{App, Meaning, WindowsRow, WindowsVersion, WINDOWS_TABLE};
use serde::Serialize;
use std::fmt::Write as _;

/// Lowest port the advisor accepts (the knowledge-base rule: "not below 1025").
pub const MIN_PORT: u16 = 1025;

/// The common OS default ranges `--portable` checks against.
use crate::range::COMMON_DEFAULTS as PORTABLE_RANGES;

/// Stable rule ids, as they appear in JSON.
pub mod rule {
    /// Rule 1: below 1025.
    pub const PRIVILEGED: &str = "privileged";
    /// Rule 2: registered with IANA (assigned, reserved, unauthorized use).
    pub const IANA: &str = "iana";
    /// Rule 2: documented malware port.
    pub const MALWARE: &str = "malware";
    /// Rule 3: the ephemeral range in force on this host.
    pub const EPHEMERAL_RANGE: &str = "ephemeral_range";
    /// Rule 3 with `portable`: one finding per common default range hit.
    pub const PORTABLE_RANGE: &str = "portable_range";
    /// Rule 3 with `portable`: one finding per row of the Windows MaxUserPort table.
    pub const WINDOWS_TABLE: &str = "windows_table";
    /// Rule 4: reserved from the ephemeral pool.
    pub const RESERVED: &str = "reserved";
    /// Sockets using the port right now (from the snapshot).
    pub const IN_USE: &str = "in_use";
}

/// Status of one finding. `Info` never worsens the verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Good,
    Info,
    Caution,
    Bad,
}

/// The overall verdict: the worst status of the findings (`Info` counts as good).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Good,
    Caution,
    Bad,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Good => "good",
            Status::Info => "info",
            Status::Caution => "caution",
            Status::Bad => "bad",
        }
    }

    fn verdict(self) -> Verdict {
        match self {
            Status::Good | Status::Info => Verdict::Good,
            Status::Caution => Verdict::Caution,
            Status::Bad => Verdict::Bad,
        }
    }
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Caution => "caution",
            Verdict::Bad => "bad",
        }
    }
}

/// One rule applied to one port.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// One of the [`rule`] ids.
    pub rule: &'static str,
    pub status: Status,
    /// One line, for humans.
    pub message: String,
    /// The row of the Windows MaxUserPort table this finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsVersion>,
}

/// Everything the advisor has to say about one port and protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Judgement {
    pub port: u16,
    pub proto: Proto,
    pub verdict: Verdict,
    /// In rule order: privileged, iana, malware, ephemeral_range,
    /// portable_range (only with `portable`; one per distinct range hit, or one
    /// good finding), windows_table (only with `portable`; one per table
    /// row), reserved, in_use.
    pub findings: Vec<Finding>,
}

/// Judges `port`/`proto` as a listening port for a new service.
///
/// `range` is the ephemeral range in force (with its reserved ports and where it
/// came from); `snapshot`, when given, is used for the in-use rule (its own
/// `range` is ignored). `portable` adds the check against every common OS
/// default range. Never panics.
pub fn judge(
    port: u16,
    proto: Proto,
    range: &PortRange,
    snapshot: Option<&Snapshot>,
    portable: bool,
) -> Judgement {
    let mut findings = vec![
        privileged(port),
        iana(port, proto),
        malware(port, proto),
        ephemeral(port, range),
    ];
    if portable {
        findings.extend(portable_findings(port));
        findings.extend(WINDOWS_TABLE.iter().map(|row| windows_row(port, row)));
    }
    findings.push(reserved(port, range));
    findings.push(in_use(port, proto, snapshot));
    let verdict = findings
        .iter()
        .map(|f| f.status.verdict())
        .max()
        .unwrap_or(Verdict::Good);
    Judgement {
        port,
        proto,
        verdict,
        findings,
    }
}

fn finding(rule: &'static str, status: Status, message: String) -> Finding {
    Finding {
        rule,
        status,
        message,
        windows: None,
    }
}

fn privileged(port: u16) -> Finding {
    let (status, msg) = match port {
        0 => (
            Status::Bad,
            "port 0 is not a port: binding it asks the OS for an ephemeral one".to_string(),
        ),
        1..=1023 => (
            Status::Bad,
            format!(
                "{port} is a well-known (system) port below 1024: reserved for standard \
                 services, and binding it needs root (CAP_NET_BIND_SERVICE on Linux)"
            ),
        ),
        1024 => (
            Status::Bad,
            "1024 is below 1025, the lowest port the rule accepts (IANA lists it as reserved)"
                .to_string(),
        ),
        _ => (
            Status::Good,
            format!("{port} is not a privileged port (1025 or above)"),
        ),
    };
    finding(rule::PRIVILEGED, status, msg)
}

const MAX_LISTED: usize = 3;

fn iana(port: u16, proto: Proto) -> Finding {
    let entries = ports::lookup(port, proto);
    if entries.is_empty() {
        return finding(
            rule::IANA,
            Status::Good,
            format!("{port}/{proto} is not registered with IANA"),
        );
    }
    let assigned: Vec<_> = entries
        .iter()
        .filter(|s| s.kind == Kind::Assigned)
        .collect();
    let mut msg = String::new();
    if !assigned.is_empty() {
        let _ = write!(msg, "{port}/{proto} is registered with IANA to ");
        for (i, s) in assigned.iter().take(MAX_LISTED).enumerate() {
            if i > 0 {
                msg.push_str(", ");
            }
            let name = if s.name.is_empty() {
                "(no name)"
            } else {
                s.name
            };
            msg.push_str(name);
            if s.low != s.high {
                let _ = write!(msg, " [{}]", s.ports());
            }
            if !s.description.is_empty() && s.description != s.name {
                let _ = write!(msg, " ({})", s.description);
            }
        }
        if assigned.len() > MAX_LISTED {
            let _ = write!(msg, " and {} more", assigned.len() - MAX_LISTED);
        }
        msg.push_str(": known to be used by another application");
    } else if entries.iter().any(|s| s.kind == Kind::Reserved) {
        let _ = write!(
            msg,
            "{port}/{proto} is reserved by IANA (not assigned, but not free for new services)"
        );
    } else {
        let _ = write!(msg, "{port}/{proto} is unassigned by IANA");
    }
    if entries.iter().any(|s| s.unauthorized_use) {
        msg.push_str("; IANA notes unauthorized use reported");
    }
    finding(rule::IANA, Status::Caution, msg)
}

fn malware(port: u16, proto: Proto) -> Finding {
    let hits: Vec<_> = ports::malware(port, proto).collect();
    if hits.is_empty() {
        return finding(
            rule::MALWARE,
            Status::Good,
            format!("{port}/{proto} has no documented malware association"),
        );
    }
    let list: Vec<String> = hits
        .iter()
        .map(|m| {
            format!(
                "{} ({}, {} {}; {})",
                m.name,
                m.role,
                m.proto,
                m.ports(),
                m.source
            )
        })
        .collect();
    finding(
        rule::MALWARE,
        Status::Bad,
        format!(
            "{port}/{proto} is used by malware: {}; scanners probe it and firewalls block it",
            list.join(", ")
        ),
    )
}

fn ephemeral(port: u16, range: &PortRange) -> Finding {
    let where_ = format!("{}-{} (from {})", range.low, range.high, range.source);
    if !range.contains(port) {
        finding(
            rule::EPHEMERAL_RANGE,
            Status::Good,
            format!("outside the ephemeral range {where_}"),
        )
    } else if range.is_reserved(port) {
        finding(
            rule::EPHEMERAL_RANGE,
            Status::Caution,
            format!(
                "inside the ephemeral range {where_}, but reserved: this host will not hand \
                 it out while the reservation lasts; other hosts need the same reservation"
            ),
        )
    } else {
        finding(
            rule::EPHEMERAL_RANGE,
            Status::Bad,
            format!(
                "inside the ephemeral range {where_}: the OS may hand it to any outgoing \
                 connection, and the service then fails to bind"
            ),
        )
    }
}

/// Distinct common default ranges containing `port`, with the OS names sharing each.
fn portable_hits(port: u16) -> Vec<(u16, u16, Vec<&'static str>)> {
    let mut hits: Vec<(u16, u16, Vec<&'static str>)> = Vec::new();
    for &(name, lo, hi) in PORTABLE_RANGES {
        if (lo..=hi).contains(&port) {
            match hits.iter_mut().find(|h| h.0 == lo && h.1 == hi) {
                Some(h) => h.2.push(name),
                None => hits.push((lo, hi, vec![name])),
            }
        }
    }
    hits
}

/// Inside a common default range, Windows' (the table's "not defined" cells) included.
pub(super) fn in_portable_range(port: u16) -> bool {
    PORTABLE_RANGES
        .iter()
        .map(|&(_, lo, hi)| (lo, hi))
        .chain(WINDOWS_TABLE.iter().map(|r| r.default))
        .any(|(lo, hi)| (lo..=hi).contains(&port))
}

/// The lowest valid MaxUserPort at which `row`'s "defined" range contains `port`.
fn min_max_user_port(port: u16, row: &WindowsRow) -> Option<u32> {
    let p = u32::from(port);
    let need = match row.meaning {
        Meaning::EndingPort if port >= crate::range::windows::NT_FIRST => p,
        Meaning::NumberOfPorts if port >= crate::range::windows::DYNAMIC_START => {
            p - u32::from(crate::range::windows::DYNAMIC_START) + 1
        }
        _ => return None,
    };
    let need = need.max(row.valid.0);
    (need <= row.valid.1).then_some(need)
}

/// `port` against one row of the Windows table: caution inside the range Windows
/// uses when MaxUserPort is not defined; info when only some valid MaxUserPort
/// values (as products set them) would cover it; good otherwise.
fn windows_row(port: u16, row: &WindowsRow) -> Finding {
    let (lo, hi) = row.default;
    let in_default = (lo..=hi).contains(&port);
    let when = min_max_user_port(port, row).map(|v| {
        let mut s = if v == row.valid.0 {
            format!(
                "inside {} for every valid MaxUserPort ({}-{})",
                row.defined, row.valid.0, row.valid.1
            )
        } else {
            format!("inside {} whenever MaxUserPort >= {v}", row.defined)
        };
        let apps: Vec<String> = App::ALL
            .iter()
            .filter(|a| {
                let m = a.max_user_port();
                m >= v && (row.valid.0..=row.valid.1).contains(&m)
            })
            .map(|a| format!("{} ({})", a.name(), a.max_user_port()))
            .collect();
        if !apps.is_empty() {
            let _ = write!(s, ", as set by {}", apps.join(", "));
        }
        s
    });
    let (status, message) = match (in_default, when) {
        (true, Some(w)) => (
            Status::Caution,
            format!(
                "{}: inside {lo}-{hi}, the range when MaxUserPort is not defined; also {w}",
                row.name
            ),
        ),
        (true, None) => (
            Status::Caution,
            format!(
                "{}: inside {lo}-{hi}, the range when MaxUserPort is not defined",
                row.name
            ),
        ),
        (false, Some(w)) => (
            Status::Info,
            format!("{}: outside its default {lo}-{hi}, but {w}", row.name),
        ),
        (false, None) => (
            Status::Good,
            format!(
                "{}: outside {lo}-{hi} and outside {} for every valid MaxUserPort ({}-{})",
                row.name, row.defined, row.valid.0, row.valid.1
            ),
        ),
    };
    Finding {
        windows: Some(row.version),
        ..finding(rule::WINDOWS_TABLE, status, message)
    }
}

fn portable_findings(port: u16) -> Vec<Finding> {
    let hits = portable_hits(port);
    if hits.is_empty() {
        return vec![finding(
            rule::PORTABLE_RANGE,
            Status::Good,
            "outside the default ephemeral ranges of Linux, macOS and IANA (RFC 6335)".to_string(),
        )];
    }
    hits.into_iter()
        .map(|(lo, hi, names)| {
            finding(
                rule::PORTABLE_RANGE,
                Status::Caution,
                format!(
                    "inside the default ephemeral range {lo}-{hi} of {}: hosts with that \
                     default may hand it out",
                    names.join(", ")
                ),
            )
        })
        .collect()
}

fn reserved(port: u16, range: &PortRange) -> Finding {
    if range.is_reserved(port) {
        finding(
            rule::RESERVED,
            Status::Good,
            "reserved on this host: the OS will not hand it out for outgoing connections"
                .to_string(),
        )
    } else if range.contains(port) {
        finding(
            rule::RESERVED,
            Status::Caution,
            "not reserved: reserve it so the OS never hands it out (porttop reserve)".to_string(),
        )
    } else {
        finding(
            rule::RESERVED,
            Status::Info,
            "not reserved; not needed while it stays outside the ephemeral range, but \
             reserving it also covers a later change of the range"
                .to_string(),
        )
    }
}

fn describe(s: &Socket, snap: &Snapshot) -> String {
    let mut out = format!("{} {} {}", s.proto, s.local, s.state);
    if s.pids.is_empty() {
        out.push_str(" (process unknown)");
        return out;
    }
    out.push_str(" by ");
    for (i, pid) in s.pids.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match snap.process(*pid) {
            Some(p) => {
                let _ = write!(out, "{} (pid {pid})", p.name);
            }
            None => {
                let _ = write!(out, "pid {pid}");
            }
        }
    }
    if s.pids.len() > MAX_LISTED {
        let _ = write!(out, " and {} more", s.pids.len() - MAX_LISTED);
    }
    out
}

/// The sockets using `proto` port `port`, those that own the port first
/// (listeners, bound-only TCP: a service's bind() fails on them; they matter
/// most): what the in-use rule lists.
fn port_users(port: u16, proto: Proto, snap: &Snapshot) -> Vec<&Socket> {
    let mut users: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| s.proto == proto && s.local.port == port)
        .collect();
    users.sort_by_key(|s| !s.owns_port());
    users
}

/// The sockets whose owners `judge(port, proto, ..)` names (the in-use rule
/// describes at most `MAX_LISTED`): the only ones a snapshot taken without
/// owners needs them for.
pub fn named_sockets(port: u16, proto: Proto, snap: &Snapshot) -> Vec<&Socket> {
    let mut users = port_users(port, proto, snap);
    users.truncate(MAX_LISTED);
    users
}

fn in_use(port: u16, proto: Proto, snapshot: Option<&Snapshot>) -> Finding {
    let Some(snap) = snapshot else {
        return finding(
            rule::IN_USE,
            Status::Info,
            "not checked: no socket snapshot".to_string(),
        );
    };
    let users = port_users(port, proto, snap);
    if users.is_empty() {
        return finding(
            rule::IN_USE,
            Status::Good,
            format!("no {proto} socket uses {port} on this host right now"),
        );
    }
    let listeners = users.iter().filter(|s| s.owns_port()).count();
    let mut list: Vec<String> = users
        .iter()
        .take(MAX_LISTED)
        .map(|s| describe(s, snap))
        .collect();
    if users.len() > MAX_LISTED {
        list.push(format!("and {} more", users.len() - MAX_LISTED));
    }
    let list = list.join("; ");
    if listeners > 0 {
        finding(rule::IN_USE, Status::Bad, format!("in use: {list}"))
    } else {
        finding(
            rule::IN_USE,
            Status::Caution,
            format!(
                "used right now as the local port of {} socket(s): {list}; bind() fails until \
                 they close",
                users.len()
            ),
        )
    }
}
