//! Ephemeral range detection: which local ports the OS hands out for outbound
//! connections, and which of them are reserved.
//!
//! The parsers for each OS's text live in [`parse`] and are pure, so every one of
//! them is compiled and tested on every platform. Only [`detect`] differs per OS:
//!
//! - Linux: reads `/proc/sys/net/ipv4/ip_local_port_range` and
//!   `ip_local_reserved_ports` (both per network namespace: the process's own).
//! - macOS / FreeBSD: runs `sysctl -n net.inet.ip.portrange.first
//!   net.inet.ip.portrange.last`. There is no reserved list there.
//! - Windows: runs `netsh int ipv4 show dynamicport tcp` and
//!   `netsh int ipv4 show excludedportrange protocol=tcp`, and reads `MaxUserPort`
//!   with `reg query`; [`windows`] decides which one is in force and holds the
//!   article's MaxUserPort table.
//!
//! [`resolve`] applies the CLI what-if overrides (`--range`, `--reserved`) on top.

mod parse;
pub mod windows;

pub use parse::{
    parse_linux_port_range, parse_netsh_dynamicport, parse_netsh_excluded, parse_range_arg,
    parse_reserved_ports, parse_sysctl_portrange,
};

use crate::model::PortRange;
use std::path::Path;
use std::process::Command;

/// Where Linux keeps the two files, for the process's own network namespace.
pub const LINUX_PROC_DIR: &str = "/proc/sys/net/ipv4";

/// Well-known default ephemeral ranges: (system, first, last), inclusive. Windows
/// is not listed here: its defaults are the "not defined" cells of the MaxUserPort
/// table, [`windows::WINDOWS_TABLE`], one row per version.
pub const COMMON_DEFAULTS: &[(&str, u16, u16)] = &[
    // Linux kernel docs, Documentation/networking/ip-sysctl.rst, ip_local_port_range:
    // "The default values are 32768 and 60999 respectively."
    ("Linux", 32768, 60999),
    // RFC 6335 section 6: Dynamic Ports 49152-65535. macOS (XNU) allocates from this
    // range by default (net.inet.ip.portrange.first / .last = 49152 / 65535).
    ("macOS", 49152, 65535),
    ("IANA dynamic ports (RFC 6335)", 49152, 65535),
    // Left out on purpose: FreeBSD's default 10000-65535 (sys/netinet/in.h,
    // IPPORT_EPHEMERALFIRST). Counting it would leave `suggest --portable` only
    // 5001-9999; the knowledge-base advice this follows names the systems above.
];

/// Why the range could not be read or parsed. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum RangeError {
    #[error("{what}: empty input")]
    Empty { what: String },
    #[error("{what}: {detail}")]
    Invalid { what: String, detail: String },
    #[error("{what}: port {value} is out of range (ports are 1-65535)")]
    PortOutOfRange { what: String, value: String },
    #[error("range {lo}-{hi}: low port is above high port")]
    Reversed { lo: u16, hi: u16 },
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: std::io::Error },
    /// A parse error in a file, with the file's path in front.
    #[error("{path}: {err}")]
    InFile { path: String, err: Box<RangeError> },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("cannot detect the ephemeral port range on {os}; give it with --range LO-HI")]
    Unsupported { os: &'static str },
}

/// Detects the ephemeral range and reserved ports of this system.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn detect() -> Result<PortRange, RangeError> {
    detect_from(Path::new(LINUX_PROC_DIR))
}

/// Detects the ephemeral range of this system (no reserved list on this OS).
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
pub fn detect() -> Result<PortRange, RangeError> {
    detect_sysctl()
}

/// Detects the ephemeral range and excluded port ranges of this system.
#[cfg(windows)]
pub fn detect() -> Result<PortRange, RangeError> {
    windows::detect()
}

/// No detection on this OS: the range must come from `--range`.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "freebsd",
    windows
)))]
pub fn detect() -> Result<PortRange, RangeError> {
    Err(RangeError::Unsupported {
        os: std::env::consts::OS,
    })
}

/// Reads `ip_local_port_range` and `ip_local_reserved_ports` (Linux syntax) from
/// `dir` (normally [`LINUX_PROC_DIR`]; tests point it at a directory of literal
/// files). A missing reserved-ports file means none are reserved; a missing range
/// file is an error naming its path.
pub fn detect_from(dir: &Path) -> Result<PortRange, RangeError> {
    let range_path = dir.join("ip_local_port_range");
    let bytes = read_sysfile(&range_path).map_err(|e| read_error(&range_path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let (low, high) = parse_linux_port_range(&text).map_err(|e| in_file(&range_path, e))?;
    let reserved_path = dir.join("ip_local_reserved_ports");
    let reserved = match read_text(&reserved_path)? {
        Some(text) => parse_reserved_ports(&text).map_err(|e| in_file(&reserved_path, e))?,
        None => Vec::new(),
    };
    let mut range = PortRange::new(low, high, reserved, range_path.display().to_string());
    // Optional: a missing or odd file leaves it unknown (the analysis then assumes
    // TIME-WAIT blocks, the conservative reading).
    range.tw_reuse = read_text(&dir.join("tcp_tw_reuse"))
        .ok()
        .flatten()
        .and_then(|t| t.trim().parse::<u8>().ok())
        .filter(|v| *v <= 2);
    Ok(range)
}

/// The file's text (lossily decoded: the parsers reject anything odd), or None if it
/// does not exist.
fn read_text(path: &Path) -> Result<Option<String>, RangeError> {
    match read_sysfile(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_error(path, e)),
    }
}

/// The largest procfs/sysfs file porttop reads. The longest is
/// `ip_local_reserved_ports` with every other port reserved: 32,768 numbers of up to
/// five digits and a comma each, about 190 KB.
pub const SYSFILE_MAX: usize = 1 << 20;

/// Reads a procfs or sysfs file whole, in **one** `read(2)` from offset 0.
///
/// Why not `std::fs::read`: procfs reports a size of 0, so std starts with a small
/// probe read and goes on reading at the offset reached, and many sysctl handlers
/// answer any read that does not start at offset 0 with end-of-file
/// (`proc_do_large_bitmap` and `__do_proc_dointvec` in the kernel's
/// `kernel/sysctl.c` return 0 when `*ppos != 0`). The second read then looks like
/// the end of the file and the text is cut after 32 bytes: `ip_local_reserved_ports`
/// lost its tail that way and `reserve` wrote the cut list back. A sysctl handler
/// also fills at most the buffer it is given and drops the rest, so a read that
/// fills the buffer is repeated from offset 0 with a larger one.
pub fn read_sysfile(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut cap = 64 * 1024;
    loop {
        let mut buf = vec![0u8; cap];
        let n = read_at_start(&file, &mut buf)?;
        if n < cap {
            buf.truncate(n);
            return Ok(buf);
        }
        if cap >= SYSFILE_MAX {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("larger than {} KiB", SYSFILE_MAX / 1024),
            ));
        }
        cap = (cap * 4).min(SYSFILE_MAX);
    }
}

/// One read from offset 0 (`pread(2)`), retried on EINTR.
#[cfg(unix)]
fn read_at_start(file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, 0) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Elsewhere there is no procfs; a plain whole-file read (tests use literal files).
#[cfg(not(unix))]
fn read_at_start(mut file: &std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn read_error(path: &Path, err: std::io::Error) -> RangeError {
    RangeError::Read {
        path: path.display().to_string(),
        err,
    }
}

fn in_file(path: &Path, err: RangeError) -> RangeError {
    RangeError::InFile {
        path: path.display().to_string(),
        err: Box::new(err),
    }
}

/// macOS / FreeBSD: `sysctl -n net.inet.ip.portrange.first net.inet.ip.portrange.last`.
#[cfg_attr(not(any(target_os = "macos", target_os = "freebsd")), allow(dead_code))]
fn detect_sysctl() -> Result<PortRange, RangeError> {
    // sysctl lives in /usr/sbin on macOS and /sbin on FreeBSD, which a user's PATH
    // may lack; fall back to PATH otherwise.
    let program = ["/usr/sbin/sysctl", "/sbin/sysctl"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or("sysctl");
    let out = run(
        program,
        &[
            "-n",
            "net.inet.ip.portrange.first",
            "net.inet.ip.portrange.last",
        ],
    )?;
    let (low, high) = parse_sysctl_portrange(&out)?;
    Ok(PortRange::new(
        low,
        high,
        Vec::new(),
        "sysctl net.inet.ip.portrange",
    ))
}

/// Runs a command and returns its stdout (lossily decoded: netsh prints in the OEM
/// code page, and the parsers only need digits and punctuation).
#[cfg_attr(
    not(any(target_os = "macos", target_os = "freebsd", windows)),
    allow(dead_code)
)]
fn run(program: &str, args: &[&str]) -> Result<String, RangeError> {
    let command = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| RangeError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(RangeError::Command {
            command,
            detail: format!("{} {}", out.status, parse::snippet(first.trim())),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`detect`], then the CLI what-if overrides: `--range LO-HI` replaces low and high
/// (source `--range`; detection may then fail, only its reserved list is kept), and
/// `--reserved LIST` replaces the reserved list (the source says so).
pub fn resolve(
    range_override: Option<&str>,
    reserved_override: Option<&str>,
) -> Result<PortRange, RangeError> {
    resolve_with(range_override, reserved_override, detect)
}

/// [`resolve`] with the detection step supplied (e.g. `|| detect_from(dir)`).
/// Overrides are parsed first, so a bad flag is reported even where detection fails;
/// with both overrides given, `detect` is not called.
pub fn resolve_with(
    range_override: Option<&str>,
    reserved_override: Option<&str>,
    detect: impl FnOnce() -> Result<PortRange, RangeError>,
) -> Result<PortRange, RangeError> {
    let range = range_override.map(parse_range_arg).transpose()?;
    let reserved = reserved_override.map(parse_reserved_ports).transpose()?;
    let mut out = match (range, &reserved) {
        (Some((low, high)), Some(_)) => PortRange::new(low, high, Vec::new(), "--range"),
        (Some((low, high)), None) => {
            let (kept, tw_reuse) = detect()
                .map(|d| (d.reserved, d.tw_reuse))
                .unwrap_or_default();
            let mut r = PortRange::new(low, high, kept, "--range");
            r.tw_reuse = tw_reuse;
            r
        }
        (None, _) => detect()?,
    };
    if let Some(reserved) = reserved {
        out.reserved = reserved;
        out.source = format!("{} (reserved from --reserved)", out.source);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
