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
//! of MaxUserPort and netsh's answer is in force ([`in_force`]). Only `detect`
//! runs commands, and only on Windows.

mod host;
#[cfg(windows)]
pub(super) use host::detect;
pub use host::{
    detect_with, in_force, parse_reg_query_dword, parse_reg_query_reserved, InForce, Runner,
};

use super::RangeError;
use serde::{Serialize, Serializer};

/// The registry key holding `MaxUserPort` (and `ReservedPorts`), as `reg` spells it.
pub const TCPIP_PARAMETERS: &str = r"HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters";

/// The Vista row's assumption, said wherever it is used.
pub const VISTA_ASSUMES: &str =
    "the start 49152 was not moved with netsh int ipv4|ipv6 set dynamicport tcp|udp start=X num=Y";

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
    /// What the row takes for granted, if anything (Vista: the start 49152).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumes: Option<&'static str>,
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
        assumes: (version == WindowsVersion::Vista).then_some(VISTA_ASSUMES),
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

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
