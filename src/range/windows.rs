//! Windows: the `MaxUserPort` table, and which range is in force on a real host.
//!
//! Source of the table: the knowledge-base article porttop grew out of, "Choosing
//! a TCP Port for a Network Service". The registry value `MaxUserPort` under
//! [`TCPIP_PARAMETERS`] changed its *meaning* between Windows versions:
//!
//! | Windows                                   | MaxUserPort means | not defined  | defined                          | valid values |
//! |-------------------------------------------|-------------------|--------------|----------------------------------|--------------|
//! | NT / 2000 / XP / 2003                     | ending port       | 1025-5000    | 1025-[MaxUserPort]               | 5000-65535   |
//! | 2000 / XP / 2003 with KB951748/KB951746   | ending port       | 49152-65535  | 1025-[MaxUserPort]               | 5000-65535   |
//! | Vista / 2008 and later                    | number of ports   | 49152-65535  | 49152-[49152 + MaxUserPort - 1]  | 255-16384    |
//!
//! The Vista row assumes the start 49152 was not moved with `netsh int ipv4|ipv6
//! set dynamicport tcp|udp start=X num=Y`; there start + num - 1 must stay at or
//! below 65535 ([`dynamic_range`]). Products set MaxUserPort themselves ([`App`]);
//! at 65535 on an ending-port version no listening port is free of conflict.
//!
//! Everything here is pure and tested on every platform, including the parser of
//! `reg query` output ([`parse_reg_query_dword`]) and the rule that decides which
//! of MaxUserPort and netsh's answer is in force ([`in_force`]). Only [`detect`]
//! runs commands, and only on Windows.

use super::RangeError;
use serde::{Serialize, Serializer};

/// The registry key holding `MaxUserPort` (and `ReservedPorts`), as `reg` spells it.
pub const TCPIP_PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";

/// The article's source line, for JSON and messages.
pub const ARTICLE: &str = "knowledge-base article \"Choosing a TCP Port for a Network Service\"";

/// First port of the ending-port versions' range (NT / 2000 / XP / 2003).
pub const NT_FIRST: u16 = 1025;
/// Start of the dynamic range on Vista and later, and with KB951748 (also IANA's
/// dynamic ports, RFC 6335).
pub const DYNAMIC_START: u16 = 49152;

/// A row of the article's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WindowsVersion {
    /// NT / 2000 / XP / Server 2003.
    Nt,
    /// 2000 / XP / Server 2003 with KB951748 / KB951746 installed.
    NtKb951748,
    /// Vista / Server 2008 and later.
    Vista,
}

/// What the value of MaxUserPort means on a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    EndingPort,
    NumberOfPorts,
}

impl Meaning {
    pub fn as_str(self) -> &'static str {
        match self {
            Meaning::EndingPort => "ending port",
            Meaning::NumberOfPorts => "number of ports",
        }
    }
}

/// One row of the table, as the article gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowsRow {
    pub version: WindowsVersion,
    pub name: &'static str,
    pub meaning: Meaning,
    /// The range when MaxUserPort is not defined.
    pub default: (u16, u16),
    /// The range when it is defined, as the article writes it.
    pub defined: &'static str,
    /// Valid values of MaxUserPort, inclusive.
    pub valid: (u32, u32),
}

/// The article's table, row by row (see the module doc).
pub const WINDOWS_TABLE: [WindowsRow; 3] = [
    WindowsRow {
        version: WindowsVersion::Nt,
        name: "Windows NT / 2000 / XP / Server 2003",
        meaning: Meaning::EndingPort,
        default: (NT_FIRST, 5000),
        defined: "1025-[MaxUserPort]",
        valid: (5000, 65535),
    },
    WindowsRow {
        version: WindowsVersion::NtKb951748,
        name: "Windows 2000 / XP / Server 2003 with KB951748/KB951746",
        meaning: Meaning::EndingPort,
        default: (DYNAMIC_START, 65535),
        defined: "1025-[MaxUserPort]",
        valid: (5000, 65535),
    },
    WindowsRow {
        version: WindowsVersion::Vista,
        name: "Windows Vista / Server 2008 and later",
        meaning: Meaning::NumberOfPorts,
        default: (DYNAMIC_START, 65535),
        defined: "49152-[49152 + MaxUserPort - 1]",
        valid: (255, 16384),
    },
];

impl WindowsVersion {
    pub const ALL: [WindowsVersion; 3] = [
        WindowsVersion::Nt,
        WindowsVersion::NtKb951748,
        WindowsVersion::Vista,
    ];

    /// The flag value: `nt`, `nt-kb951748`, `vista`.
    pub fn id(self) -> &'static str {
        match self {
            WindowsVersion::Nt => "nt",
            WindowsVersion::NtKb951748 => "nt-kb951748",
            WindowsVersion::Vista => "vista",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|v| v.id() == s)
    }

    pub fn row(self) -> &'static WindowsRow {
        match self {
            WindowsVersion::Nt => &WINDOWS_TABLE[0],
            WindowsVersion::NtKb951748 => &WINDOWS_TABLE[1],
            WindowsVersion::Vista => &WINDOWS_TABLE[2],
        }
    }
}

impl Serialize for WindowsVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Products that set MaxUserPort themselves, with the value each sets (the
/// article). All of them run on the ending-port versions (2000 / 2003).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum App {
    /// Small Business Server 2000 / 2003.
    Sbs,
    /// ISA Server.
    Isa,
    /// Exchange Server 2003.
    Exchange2003,
    /// Small Business Server with Exchange.
    SbsExchange,
}

impl App {
    pub const ALL: [App; 4] = [App::Sbs, App::Isa, App::Exchange2003, App::SbsExchange];

    /// The flag value: `sbs`, `isa`, `exchange2003`, `sbs-exchange`.
    pub fn id(self) -> &'static str {
        match self {
            App::Sbs => "sbs",
            App::Isa => "isa",
            App::Exchange2003 => "exchange2003",
            App::SbsExchange => "sbs-exchange",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            App::Sbs => "Small Business Server 2000/2003",
            App::Isa => "ISA Server",
            App::Exchange2003 => "Exchange Server 2003",
            App::SbsExchange => "Small Business Server with Exchange",
        }
    }

    /// The MaxUserPort the product sets.
    pub fn max_user_port(self) -> u32 {
        match self {
            App::Sbs | App::Exchange2003 => 60000,
            App::Isa | App::SbsExchange => 65535,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|a| a.id() == s)
    }
}

impl Serialize for App {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// How a Windows range was computed from the table: what `range --json` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Derivation {
    pub os: &'static str,
    pub version: WindowsVersion,
    pub version_name: &'static str,
    /// The value of MaxUserPort; `None`: not defined (the row's default applies).
    pub max_user_port: Option<u32>,
    pub meaning: Meaning,
    /// The table cell used: the row's "defined" formula, or "not defined".
    pub rule: &'static str,
    /// The product whose value was filled in (`--app`).
    pub app: Option<App>,
    pub low: u16,
    pub high: u16,
    pub source: &'static str,
}

impl Derivation {
    /// One line for the range's `source`, e.g. "Windows NT / 2000 / XP / Server
    /// 2003, MaxUserPort 60000 (ending port; set by Small Business Server 2000/2003)".
    pub fn describe(&self) -> String {
        let mut out = format!("{}, ", self.version_name);
        match self.max_user_port {
            Some(v) => {
                out.push_str(&format!("MaxUserPort {v} ({}", self.meaning.as_str()));
                if let Some(app) = self.app {
                    out.push_str(&format!("; set by {}", app.name()));
                }
                out.push(')');
            }
            None => out.push_str("MaxUserPort not defined (the default)"),
        }
        out
    }
}

/// The range the table gives for `version` with MaxUserPort `value` (`None`: not
/// defined), or the product's value with `app`. A value outside the version's valid
/// values is an error naming the flag, the version and the valid values.
pub fn derive(
    version: WindowsVersion,
    value: Option<u32>,
    app: Option<App>,
) -> Result<Derivation, RangeError> {
    let (value, what) = match (value, app) {
        (Some(_), Some(_)) => {
            return Err(RangeError::Invalid {
                what: "--app".to_string(),
                detail: "give --maxuserport or --app, not both".to_string(),
            })
        }
        (None, Some(a)) => (Some(a.max_user_port()), format!("--app {}", a.id())),
        (v, None) => (v, "--maxuserport".to_string()),
    };
    let row = version.row();
    let (low, high, rule) = match value {
        None => (row.default.0, row.default.1, "not defined"),
        Some(v) => {
            if !(row.valid.0..=row.valid.1).contains(&v) {
                let set = match app {
                    Some(_) => format!("sets MaxUserPort {v}, which"),
                    None => v.to_string(),
                };
                return Err(RangeError::Invalid {
                    what,
                    detail: format!(
                        "{set} is not valid on {} (--windows {}), where MaxUserPort is the {} \
                         ({}-{})",
                        row.name,
                        version.id(),
                        row.meaning.as_str(),
                        row.valid.0,
                        row.valid.1
                    ),
                });
            }
            let (lo, hi) = match row.meaning {
                // Valid values stop at 65535, so the cast cannot truncate.
                Meaning::EndingPort => (NT_FIRST, v as u16),
                Meaning::NumberOfPorts => dynamic_range(u32::from(DYNAMIC_START), v)?,
            };
            (lo, hi, row.defined)
        }
    };
    Ok(Derivation {
        os: "windows",
        version,
        version_name: row.name,
        max_user_port: value,
        meaning: row.meaning,
        rule,
        app,
        low,
        high,
        source: ARTICLE,
    })
}

/// The range `netsh int ipv4 set dynamicport ... start=START num=NUM` gives, if
/// netsh accepts it: start >= 1025, num >= 255 and start + num - 1 <= 65535
/// (Microsoft KB 929851, "The default dynamic port range for TCP/IP has changed in
/// Windows Vista and in Windows Server 2008": the smallest range is 255 ports, the
/// lowest start port 1025, and the end port may not exceed 65535; the range is set
/// separately per transport and per IP version).
pub fn dynamic_range(start: u32, num: u32) -> Result<(u16, u16), RangeError> {
    const WHAT: &str = "netsh dynamicport";
    let bad = |detail: String| RangeError::Invalid {
        what: WHAT.to_string(),
        detail,
    };
    if start < u32::from(NT_FIRST) {
        return Err(bad(format!("start={start} is below 1025")));
    }
    if num < 255 {
        return Err(bad(format!("num={num} is below 255")));
    }
    let end = u64::from(start) + u64::from(num) - 1;
    match u16::try_from(end) {
        Ok(end) => Ok((start as u16, end)),
        Err(_) => Err(bad(format!(
            "start={start} num={num} ends at {end}, past 65535 (start + num - 1 must be <= 65535)"
        ))),
    }
}

/// Reads a `REG_DWORD` value `name` from the output of `reg query KEY /v NAME`:
///
/// ```text
///
/// HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters
///     MaxUserPort    REG_DWORD    0xfffe
///
/// ```
///
/// `Ok(None)` when the key is listed without the value (`reg query KEY` of the
/// whole key). When the value is not defined at all, `reg query` exits 1 with an
/// error on stderr instead, which the caller sees as a failed command. Output with
/// no `HKEY_` line is not `reg query`'s and is rejected; so is the value with
/// another type or a data field that is not `0x` hex.
pub fn parse_reg_query_dword(text: &str, name: &str) -> Result<Option<u32>, RangeError> {
    let what = format!("reg query {name}");
    let Some(data) = reg_value(text, name, "REG_DWORD", &what)? else {
        return Ok(None);
    };
    let hex = match data.as_slice() {
        [d] => d.strip_prefix("0x").or_else(|| d.strip_prefix("0X")),
        _ => None,
    };
    match hex
        .filter(|h| !h.is_empty() && h.len() <= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|h| u32::from_str_radix(h, 16).ok())
    {
        Some(v) => Ok(Some(v)),
        None => Err(RangeError::Invalid {
            what,
            detail: format!(
                "{} is not a REG_DWORD value (0x...)",
                super::parse::snippet(&data.join(" "))
            ),
        }),
    }
}

/// The data fields of value `name` (of type `ty`) in `reg query` output, or `None`
/// when it is not listed. Output without an `HKEY_` line is not `reg query`'s; a
/// value of another type is an error.
fn reg_value<'a>(
    text: &'a str,
    name: &str,
    ty: &str,
    what: &str,
) -> Result<Option<Vec<&'a str>>, RangeError> {
    let mut lines = text.lines().map(str::trim);
    if !lines.by_ref().any(|l| l.starts_with("HKEY_")) {
        return Err(RangeError::Invalid {
            what: what.to_string(),
            detail: format!(
                "no registry key found in {}",
                super::parse::snippet(text.trim())
            ),
        });
    }
    for line in lines {
        let mut fields = line.split_whitespace();
        let (Some(n), Some(t)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !n.eq_ignore_ascii_case(name) {
            continue;
        }
        if t != ty {
            return Err(RangeError::Invalid {
                what: what.to_string(),
                detail: format!("{name} is {}, expected {ty}", super::parse::snippet(t)),
            });
        }
        return Ok(Some(fields.take(64).collect()));
    }
    Ok(None)
}

/// The range in force on a Windows host and a one-line account of why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InForce {
    pub low: u16,
    pub high: u16,
    pub source: String,
}

/// Which of netsh's answer and MaxUserPort is in force on a real host.
///
/// * `netsh` is `Some` (Vista and later: `netsh int ipv4 show dynamicport tcp`
///   exists): netsh reports the range the running TCP/IP stack hands out, so it is
///   in force. MaxUserPort, if defined, is compared with what the Vista row says it
///   means, and the source says whether they agree.
/// * `netsh` is `None` (2000 / XP / 2003 have no `netsh int ipv4`): MaxUserPort is
///   the ending port (first row): 1025-MaxUserPort, or 1025-5000 when it is not
///   defined (49152-65535 with KB951748/KB951746, which the source mentions since
///   it cannot tell). A value outside 5000-65535 is an error: what Windows does
///   with it is not documented.
pub fn in_force(
    netsh: Option<(u16, u16)>,
    max_user_port: Option<u32>,
) -> Result<InForce, RangeError> {
    const NETSH: &str = "netsh int ipv4 show dynamicport tcp";
    let Some((low, high)) = netsh else {
        let d =
            derive(WindowsVersion::Nt, max_user_port, None).map_err(|e| RangeError::Invalid {
                what: "MaxUserPort".to_string(),
                detail: format!("{e}; give the range with --range LO-HI"),
            })?;
        let source = match max_user_port {
            Some(v) => format!("MaxUserPort {v} in {TCPIP_PARAMETERS} (ending port; no netsh dynamicport on this Windows)"),
            None => format!(
                "MaxUserPort not defined: the default of {} (49152-65535 if KB951748/KB951746 is installed)",
                WINDOWS_TABLE[0].name
            ),
        };
        return Ok(InForce {
            low: d.low,
            high: d.high,
            source,
        });
    };
    let source = match max_user_port {
        None => format!("{NETSH} (MaxUserPort not defined)"),
        Some(v) => match derive(WindowsVersion::Vista, Some(v), None) {
            Ok(d) if (d.low, d.high) == (low, high) => {
                format!("{NETSH}; MaxUserPort {v} (number of ports) agrees")
            }
            Ok(d) => format!(
                "{NETSH}, in force (the running stack's range); MaxUserPort {v} would mean {}-{} \
                 but is not in force",
                d.low, d.high
            ),
            Err(_) => format!(
                "{NETSH}, in force (the running stack's range); MaxUserPort {v} is set but not \
                 valid on Vista and later (255-16384), so not in force"
            ),
        },
    };
    Ok(InForce { low, high, source })
}

/// Runs a command and returns its stdout: [`super::run`] on a real host, literal
/// text in tests.
pub type Runner<'a> = &'a dyn Fn(&str, &[&str]) -> Result<String, RangeError>;

const REG_MAXUSERPORT: &[&str] = &["query", TCPIP_PARAMETERS, "/v", "MaxUserPort"];
const REG_RESERVED: &[&str] = &["query", TCPIP_PARAMETERS, "/v", "ReservedPorts"];
const NETSH_DYNAMIC: &[&str] = &["int", "ipv4", "show", "dynamicport", "tcp"];
const NETSH_EXCLUDED: &[&str] = &["int", "ipv4", "show", "excludedportrange", "protocol=tcp"];

/// Windows detection, with the commands run by `run`: MaxUserPort by `reg query`
/// next to `netsh int ipv4 show dynamicport tcp`, and [`in_force`] says which one
/// holds. The reserved list is netsh's excluded ranges where netsh has them
/// (Vista and later), else the `ReservedPorts` registry value (Microsoft KB
/// 812873). A value that is not defined (`reg query` exits 1) counts as absent;
/// a value that is there but malformed is an error.
pub fn detect_with(run: Runner) -> Result<crate::model::PortRange, RangeError> {
    let max_user_port = match run("reg", REG_MAXUSERPORT) {
        Ok(text) => parse_reg_query_dword(&text, "MaxUserPort")?,
        Err(_) => None,
    };
    // 2000 / XP / 2003 have no `netsh int ipv4`: netsh fails, or answers without
    // the two numbers.
    let netsh = match run("netsh", NETSH_DYNAMIC) {
        Ok(text) if !super::parse::has_colon_number(&text) => None,
        Ok(text) => Some(super::parse_netsh_dynamicport(&text)?),
        Err(RangeError::Command { .. }) => None,
        Err(e) => return Err(e),
    };
    let f = in_force(netsh, max_user_port)?;
    let mut source = f.source;
    let reserved = if netsh.is_some() {
        match run("netsh", NETSH_EXCLUDED) {
            Ok(text) => super::parse_netsh_excluded(&text)?,
            Err(_) => {
                source.push_str(" (excluded port ranges unavailable)");
                Vec::new()
            }
        }
    } else {
        match run("reg", REG_RESERVED) {
            Ok(text) => parse_reg_query_reserved(&text)?,
            Err(_) => Vec::new(),
        }
    };
    Ok(crate::model::PortRange::new(
        f.low, f.high, reserved, source,
    ))
}

/// `reg query ... /v ReservedPorts`: a REG_MULTI_SZ of `LO-HI` items, which `reg`
/// prints joined with `\0` (`1433-1434\060001-60001`). Missing value: none.
pub fn parse_reg_query_reserved(text: &str) -> Result<Vec<(u16, u16)>, RangeError> {
    const WHAT: &str = "reg query ReservedPorts";
    let Some(data) = reg_value(text, "ReservedPorts", "REG_MULTI_SZ", WHAT)? else {
        return Ok(Vec::new());
    };
    let list = data.join("").replace("\\0", ",");
    super::parse_reserved_ports(list.trim_matches(',')).map_err(|e| RangeError::Invalid {
        what: WHAT.to_string(),
        detail: e.to_string(),
    })
}

/// Windows detection on this host.
#[cfg(windows)]
pub(super) fn detect() -> Result<crate::model::PortRange, RangeError> {
    detect_with(&super::run)
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
