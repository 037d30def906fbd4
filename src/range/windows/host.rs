//! A real Windows host: `reg query` and `netsh` output, and which of MaxUserPort
//! and netsh's answer is in force. Pure but for `detect`, which runs the commands
//! (Windows only); the rest is tested on every platform on literal output.

use super::{derive, WindowsVersion, TCPIP_PARAMETERS, WINDOWS_TABLE};
use crate::range::RangeError;

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
                crate::range::parse::snippet(&data.join(" "))
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
                crate::range::parse::snippet(text.trim())
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
                detail: format!(
                    "{name} is {}, expected {ty}",
                    crate::range::parse::snippet(t)
                ),
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

/// Runs a command and returns its stdout: `range::run` on a real host, literal
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
        Ok(text) if !crate::range::parse::has_colon_number(&text) => None,
        Ok(text) => Some(crate::range::parse_netsh_dynamicport(&text)?),
        Err(RangeError::Command { .. }) => None,
        Err(e) => return Err(e),
    };
    let f = in_force(netsh, max_user_port)?;
    let mut source = f.source;
    let reserved = if netsh.is_some() {
        match run("netsh", NETSH_EXCLUDED) {
            Ok(text) => crate::range::parse_netsh_excluded(&text)?,
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
    crate::range::parse_reserved_ports(list.trim_matches(',')).map_err(|e| RangeError::Invalid {
        what: WHAT.to_string(),
        detail: e.to_string(),
    })
}

/// Windows detection on this host.
#[cfg(windows)]
pub(in crate::range) fn detect() -> Result<crate::model::PortRange, RangeError> {
    detect_with(&crate::range::run)
}
