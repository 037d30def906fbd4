//! Tests of detection from literal /proc files and of the CLI overrides.

use super::*;
use std::fs;

fn proc_dir(range: Option<&str>, reserved: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(r) = range {
        fs::write(dir.path().join("ip_local_port_range"), r).unwrap();
    }
    if let Some(r) = reserved {
        fs::write(dir.path().join("ip_local_reserved_ports"), r).unwrap();
    }
    dir
}

#[test]
fn detect_from_reads_both_files() {
    let dir = proc_dir(Some("32768\t60999\n"), Some("40000-40009,50000\n"));
    let r = detect_from(dir.path()).unwrap();
    assert_eq!((r.low, r.high), (32768, 60999));
    assert_eq!(r.reserved, vec![(40000, 40009), (50000, 50000)]);
    assert_eq!(r.pool_size(), 28232 - 11);
    assert!(r.source.ends_with("ip_local_port_range"), "{}", r.source);
}

#[test]
fn detect_from_missing_or_empty_reserved_file_means_none() {
    let dir = proc_dir(Some("1024\t65000\n"), None);
    assert_eq!(detect_from(dir.path()).unwrap().reserved, vec![]);
    let dir = proc_dir(Some("1024\t65000\n"), Some("\n"));
    assert_eq!(detect_from(dir.path()).unwrap().reserved, vec![]);
}

#[test]
fn detect_from_missing_range_file_names_the_path() {
    let dir = proc_dir(None, Some("\n"));
    let e = detect_from(dir.path()).unwrap_err();
    let m = e.to_string();
    assert!(matches!(e, RangeError::Read { .. }), "{m}");
    assert!(m.contains("ip_local_port_range"), "{m}");
}

#[test]
fn detect_from_bad_files_name_the_path() {
    let dir = proc_dir(Some("garbage\n"), None);
    let m = detect_from(dir.path()).unwrap_err().to_string();
    assert!(m.contains("ip_local_port_range:"), "{m}");
    let dir = proc_dir(Some("32768\t60999\n"), Some("5-3\n"));
    let m = detect_from(dir.path()).unwrap_err().to_string();
    assert!(m.contains("ip_local_reserved_ports: range 5-3"), "{m}");
    // Not UTF-8 at all: decoded lossily, then rejected by the parser.
    let dir = proc_dir(None, None);
    fs::write(dir.path().join("ip_local_port_range"), [0xff, 0xfe, b'1']).unwrap();
    assert!(detect_from(dir.path()).is_err());
}

#[test]
fn detect_from_unreadable_range_file_is_an_error() {
    // A directory where the file should be: reading it fails with something other
    // than NotFound (works as root too, unlike chmod).
    let dir = proc_dir(None, None);
    fs::create_dir(dir.path().join("ip_local_port_range")).unwrap();
    let m = detect_from(dir.path()).unwrap_err().to_string();
    assert!(
        m.starts_with("cannot read ") && m.contains("ip_local_port_range"),
        "{m}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn detect_on_this_linux_host_matches_proc() {
    let Ok(text) = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        eprintln!("skipped: /proc/sys/net/ipv4/ip_local_port_range unreadable here");
        return;
    };
    let r = detect().unwrap();
    assert_eq!((r.low, r.high), parse_linux_port_range(&text).unwrap());
    assert_eq!(r.source, "/proc/sys/net/ipv4/ip_local_port_range");
}

fn detected() -> Result<PortRange, RangeError> {
    Ok(PortRange::new(
        32768,
        60999,
        vec![(40000, 40000)],
        "/proc/x",
    ))
}

fn failing() -> Result<PortRange, RangeError> {
    Err(RangeError::Unsupported { os: "test" })
}

#[test]
fn resolve_without_overrides_is_detection() {
    assert_eq!(
        resolve_with(None, None, detected).unwrap(),
        detected().unwrap()
    );
    assert!(resolve_with(None, None, failing).is_err());
    assert!(resolve_with(None, Some("1"), failing).is_err());
}

#[test]
fn resolve_range_override_replaces_low_high_and_tolerates_failed_detection() {
    let r = resolve_with(Some("40000-40099"), None, detected).unwrap();
    assert_eq!(
        (r.low, r.high, r.source.as_str()),
        (40000, 40099, "--range")
    );
    assert_eq!(
        r.reserved,
        vec![(40000, 40000)],
        "detected reserved list is kept"
    );
    let r = resolve_with(Some("40000-40099"), None, failing).unwrap();
    assert_eq!((r.low, r.high), (40000, 40099));
    assert_eq!(r.reserved, vec![]);
}

#[test]
fn resolve_reserved_override_replaces_the_list_and_notes_it() {
    let r = resolve_with(None, Some("1-4, 10"), detected).unwrap();
    assert_eq!((r.low, r.high), (32768, 60999));
    assert_eq!(r.reserved, vec![(1, 4), (10, 10)]);
    assert_eq!(r.source, "/proc/x (reserved from --reserved)");
    let r = resolve_with(None, Some(""), detected).unwrap();
    assert_eq!(r.reserved, vec![], "an empty --reserved clears the list");
}

#[test]
fn resolve_both_overrides_need_no_detection() {
    let r = resolve_with(Some("1000-1999"), Some("1500"), || {
        panic!("detection must not run when both overrides are given")
    })
    .unwrap();
    assert_eq!((r.low, r.high), (1000, 1999));
    assert_eq!(r.reserved, vec![(1500, 1500)]);
    assert_eq!(r.source, "--range (reserved from --reserved)");
    assert_eq!(r.pool_size(), 999);
}

#[test]
fn resolve_reports_bad_flags_even_when_detection_works() {
    let e = resolve_with(Some("5-3"), None, detected).unwrap_err();
    assert_eq!(e.to_string(), "range 5-3: low port is above high port");
    assert!(resolve_with(None, Some("1,,2"), detected).is_err());
    assert!(resolve_with(Some("abc"), Some("1"), failing).is_err());
}

#[test]
fn common_defaults_are_sane() {
    assert!(COMMON_DEFAULTS
        .iter()
        .all(|&(_, lo, hi)| 1 <= lo && lo <= hi));
    let find = |name: &str| COMMON_DEFAULTS.iter().find(|d| d.0.starts_with(name));
    assert_eq!(find("Linux").map(|d| (d.1, d.2)), Some((32768, 60999)));
    // Windows defaults live in the MaxUserPort table only (one fact, one place).
    assert!(COMMON_DEFAULTS.iter().all(|d| !d.0.contains("Windows")));
    // The built-in model fallback agrees with the table.
    let l = PortRange::linux_default();
    assert_eq!(find("Linux").map(|d| (d.1, d.2)), Some((l.low, l.high)));
}

#[cfg(unix)]
#[test]
fn run_returns_stdout_and_reports_failures_on_one_line() {
    assert_eq!(
        run("sh", &["-c", "printf '49152\\n65535\\n'"]).unwrap(),
        "49152\n65535\n"
    );
    let e = run("sh", &["-c", "echo oops >&2; echo more >&2; exit 3"]).unwrap_err();
    let m = e.to_string();
    assert!(
        m.starts_with("`sh -c ") && m.contains("oops") && !m.contains('\n'),
        "{m}"
    );
    let e = run("/nonexistent/porttop-no-such-program", &[]).unwrap_err();
    assert!(matches!(e, RangeError::Command { .. }), "{e}");
}

#[test]
fn read_sysfile_reads_files_larger_than_its_first_buffer() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("big");
    let text: String = (0..40_000).map(|i| format!("{},", i + 1)).collect();
    assert!(text.len() > 200_000);
    std::fs::write(&f, &text).unwrap();
    assert_eq!(super::read_sysfile(&f).unwrap(), text.as_bytes());
    let huge = vec![b'1'; super::SYSFILE_MAX + 1];
    std::fs::write(&f, &huge).unwrap();
    let e = super::read_sysfile(&f).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
}
