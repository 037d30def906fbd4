//! Pure parsers for the text each OS uses to describe its ephemeral port range and
//! reserved ports. No I/O: they compile and are tested on every platform, whatever
//! OS the text comes from. None of them panics, whatever the input.

use super::RangeError;
use crate::model::merge_ranges;

/// At most this many characters of hostile input are quoted back in an error.
const SNIPPET_CHARS: usize = 32;

/// The input quoted for an error message: escaped (so it stays on one line, NUL
/// bytes and all) and cut to a few characters.
pub(crate) fn snippet(s: &str) -> String {
    let mut cut: String = s.chars().take(SNIPPET_CHARS).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

/// A number (ASCII digits only) quoted back in an error: no quotes needed, but cut
/// short, since it may be hostile.
fn number_snippet(s: &str) -> String {
    let mut cut: String = s.chars().take(12).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    cut
}

/// True when `s` looks like a number: ASCII digits only. (`u16::from_str` would also
/// take a leading `+`, which neither the kernel nor a user means.)
fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a port in 1..=65535. `what` names the input for the error message.
fn port(what: &str, s: &str) -> Result<u16, RangeError> {
    if !is_number(s) {
        return Err(RangeError::Invalid {
            what: what.to_string(),
            detail: format!("{} is not a port number", snippet(s)),
        });
    }
    // Digits only, so the only way `parse` fails is overflow: out of range too.
    match s.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(RangeError::PortOutOfRange {
            what: what.to_string(),
            value: number_snippet(s),
        }),
    }
}

/// Checks low <= high.
fn ordered(lo: u16, hi: u16) -> Result<(u16, u16), RangeError> {
    if lo > hi {
        Err(RangeError::Reversed { lo, hi })
    } else {
        Ok((lo, hi))
    }
}

/// Content of `/proc/sys/net/ipv4/ip_local_port_range`: two numbers separated by a
/// tab (the kernel prints `32768\t60999\n`) or spaces. low == high is allowed, as
/// the kernel allows it.
pub fn parse_linux_port_range(text: &str) -> Result<(u16, u16), RangeError> {
    const WHAT: &str = "ip_local_port_range";
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    match fields.as_slice() {
        [lo, hi] => ordered(port(WHAT, lo)?, port(WHAT, hi)?),
        [] => Err(RangeError::Empty {
            what: WHAT.to_string(),
        }),
        _ => Err(RangeError::Invalid {
            what: WHAT.to_string(),
            detail: format!("expected two port numbers, got {}", snippet(text.trim())),
        }),
    }
}

/// `/proc/sys/net/ipv4/ip_local_reserved_ports` syntax, also the CLI `--reserved`
/// list: comma-separated ports and `LO-HI` ranges (`1-4,10,40005-40007`), blank for
/// none. Spaces around items are tolerated; empty items, reversed ranges, port 0
/// and anything that is not a number are rejected. Returns sorted, merged ranges.
pub fn parse_reserved_ports(text: &str) -> Result<Vec<(u16, u16)>, RangeError> {
    const WHAT: &str = "reserved ports";
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        if item.is_empty() {
            return Err(RangeError::Invalid {
                what: WHAT.to_string(),
                detail: format!("empty item in {}", snippet(text)),
            });
        }
        let r = match item.split_once('-') {
            Some((lo, hi)) => ordered(port(WHAT, lo.trim())?, port(WHAT, hi.trim())?)?,
            None => {
                let p = port(WHAT, item)?;
                (p, p)
            }
        };
        out.push(r);
    }
    Ok(merge_ranges(out))
}

/// The CLI `--range LO-HI` value, e.g. `40000-40099`.
pub fn parse_range_arg(text: &str) -> Result<(u16, u16), RangeError> {
    const WHAT: &str = "--range";
    let t = text.trim();
    let Some((lo, hi)) = t.split_once('-') else {
        return Err(RangeError::Invalid {
            what: WHAT.to_string(),
            detail: format!("expected LO-HI (e.g. 40000-40099), got {}", snippet(t)),
        });
    };
    ordered(port(WHAT, lo.trim())?, port(WHAT, hi.trim())?)
}

/// Output of `sysctl net.inet.ip.portrange.first net.inet.ip.portrange.last` on
/// macOS and FreeBSD: `name: value` lines, or `name=value` lines, or (with `-n`) two
/// bare numbers. Named lines are picked by name, so the full `sysctl
/// net.inet.ip.portrange` listing works too.
///
/// Both kernels accept first > last: FreeBSD swaps them before allocating
/// (`in_pcb_lport_dest` in sys/netinet/in_pcb.c), and XNU counts down from first to
/// last. Either way the ports handed out are min..=max, so that is what we return.
pub fn parse_sysctl_portrange(text: &str) -> Result<(u16, u16), RangeError> {
    const WHAT: &str = "sysctl net.inet.ip.portrange";
    const FIRST: &str = "net.inet.ip.portrange.first";
    const LAST: &str = "net.inet.ip.portrange.last";
    let mut first = None;
    let mut last = None;
    let mut bare = Vec::new();
    let mut named = false;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once([':', '=']) {
            Some((name, value)) => {
                named = true;
                let slot = match name.trim() {
                    FIRST => &mut first,
                    LAST => &mut last,
                    _ => continue,
                };
                if slot.is_some() {
                    return Err(RangeError::Invalid {
                        what: WHAT.to_string(),
                        detail: format!("{} appears twice", name.trim()),
                    });
                }
                *slot = Some(port(WHAT, value.trim())?);
            }
            None => bare.push(line),
        }
    }
    let (a, b) = match (named, bare.as_slice()) {
        (false, [a, b]) => (port(WHAT, a)?, port(WHAT, b)?),
        (false, []) => {
            return Err(RangeError::Empty {
                what: WHAT.to_string(),
            })
        }
        (true, []) => match (first, last) {
            (Some(a), Some(b)) => (a, b),
            _ => {
                return Err(RangeError::Invalid {
                    what: WHAT.to_string(),
                    detail: format!("{FIRST} and {LAST} not both found"),
                })
            }
        },
        _ => {
            return Err(RangeError::Invalid {
                what: WHAT.to_string(),
                detail: format!(
                    "expected two values (first, last), got {}",
                    snippet(text.trim())
                ),
            })
        }
    };
    Ok((a.min(b), a.max(b)))
}

/// The value after the colon of a `Label : value` line, if the line has one. Accepts
/// the full-width colon too, which East Asian localizations may print.
fn after_colon(line: &str) -> Option<&str> {
    line.rsplit_once([':', '：']).map(|(_, v)| v.trim())
}

/// True when some line has a number after a colon: the shape of netsh's
/// `show dynamicport` answer (which 2000 / XP / 2003 cannot give).
pub(crate) fn has_colon_number(text: &str) -> bool {
    text.lines().filter_map(after_colon).any(is_number)
}

/// Output of `netsh int ipv4 show dynamicport tcp`. The labels are localized
/// ("Start Port" / "Startport", "Number of Ports" / "Anzahl der Ports", ...), so this
/// takes the first two numeric values after a colon: start, then count. Returns
/// (start, start + count - 1).
pub fn parse_netsh_dynamicport(text: &str) -> Result<(u16, u16), RangeError> {
    const WHAT: &str = "netsh dynamicport";
    let values: Vec<&str> = text
        .lines()
        .filter_map(after_colon)
        .filter(|v| is_number(v))
        .take(2)
        .collect();
    let [start, count] = values.as_slice() else {
        return Err(RangeError::Invalid {
            what: WHAT.to_string(),
            detail: "no start port and number of ports found".to_string(),
        });
    };
    let start = port(WHAT, start)?;
    // Digits only, so `parse` fails only on overflow: far past 65535 anyway.
    let end = match count.parse::<u64>() {
        Ok(0) => {
            return Err(RangeError::Invalid {
                what: WHAT.to_string(),
                detail: "number of ports is 0".to_string(),
            })
        }
        Ok(n) => u64::from(start).saturating_add(n - 1),
        Err(_) => u64::MAX,
    };
    match u16::try_from(end) {
        Ok(end) => Ok((start, end)),
        Err(_) => Err(RangeError::Invalid {
            what: WHAT.to_string(),
            detail: format!(
                "start port {start} plus {} ports runs past 65535",
                number_snippet(count)
            ),
        }),
    }
}

/// Output of `netsh int ipv4 show excludedportrange protocol=tcp`: a table whose
/// rows are two numbers (start, end), optionally followed by `*` (administered
/// exclusion). Headers are localized, so rows are found by shape: every line after
/// the dashes line that is two numbers (and maybe `*`). Other lines (the footnote)
/// are skipped. Input without a dashes line is not netsh's table and is rejected.
pub fn parse_netsh_excluded(text: &str) -> Result<Vec<(u16, u16)>, RangeError> {
    const WHAT: &str = "netsh excludedportrange";
    let is_rule = |l: &str| {
        let l = l.trim();
        l.contains('-') && l.chars().all(|c| c == '-' || c.is_whitespace())
    };
    let mut lines = text.lines();
    if !lines.by_ref().any(is_rule) {
        return Err(RangeError::Invalid {
            what: WHAT.to_string(),
            detail: format!("no port table found in {}", snippet(text.trim())),
        });
    }
    let mut out = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().take(4).collect();
        let (lo, hi) = match fields.as_slice() {
            [lo, hi] | [lo, hi, "*"] if is_number(lo) && is_number(hi) => (*lo, *hi),
            _ => continue,
        };
        out.push(ordered(port(WHAT, lo)?, port(WHAT, hi)?)?);
    }
    Ok(merge_ranges(out))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
