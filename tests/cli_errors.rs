//! Every subcommand's bad input: one clear line on stderr and the documented exit
//! status; no panic, no backtrace. A closed stdout exits quietly.

mod common;
use common::*;
use std::io::Read;
use std::process::Stdio;

#[test]
fn bad_inputs_of_every_subcommand_are_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["list", "--port", "-1"],
        &["list", "--pid", "x"],
        &["list", "--state", "listen,bogus"],
        &["list", "--range", "0-10"],
        &["list", "--range", "65536-65537"],
        &["list", "--range", "1-2-3"],
        &["list", "--reserved", "5-3"],
        &["list", "--replay", "/"],
        &["range", "--json", "--bogus"],
        &["check", "abc"],
        &["check", "80/tcp/udp"],
        &["suggest", "--near", "99999"],
        &["suggest", "--proto", "icmp"],
        &["reserve"],
        &["reserve", "70000"],
        &["nosuchcommand"],
        &["-t", "list"],
        &["--port", "80", "check", "80"],
        // The filter language: unknown keys and bad values, positional or not.
        &["list", "sport:x"],
        &["list", "sprt:80"],
        &["list", "port:9000-8000"],
        &["list", "src:10.0.0.1/40"],
        &["list", "!"],
        &["list", "tcp", "not"],
        &["watch", "bogus:1", "--count", "1"],
        &["porttop-typo:1"],
        // A subcommand after filter words would be one more filter word.
        &["tcp", "list"],
        // Dashboard-only flags before a subcommand: refused, never ignored.
        &["--interval", "2s", "list"],
        &["--keep-closed", "5", "range"],
        &["--no-color", "check", "80"],
        &["--warn", "10", "watch", "--count", "1"],
    ];
    for args in cases {
        assert_one_line_error(args, 2);
    }
}

#[test]
fn pool_bad_input_is_unknown_3_since_2_means_critical() {
    for args in [
        &["pool", "--warn", "120"][..],
        &["pool", "--warn", "90", "--crit", "80"],
        &["pool", "--sample", "-1"],
        &["pool", "--range", "9-1"],
        &["pool", "--replay", "/nonexistent"],
        &["pool", "--bogus"],
        &["--range", "40000-40099", "pool", "--warn", "x"],
        &["--replay", "/nonexistent", "pool", "--crit", "200"],
        &["-l", "pool"],
        // The dashboard's thresholds before `pool` were silently ignored.
        &["--warn", "10", "--crit", "15", "pool"],
        &["--interval", "2s", "pool"],
    ] {
        assert_one_line_error(args, 3);
    }
}

#[test]
fn help_and_version_exit_0_and_help_documents_exit_codes() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit status:"), "{out}");
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("porttop "));
    for sub in ["list", "range", "pool", "check", "suggest", "reserve"] {
        let (code, out, _) = run(&[sub, "--help"]);
        assert_eq!(code, 0, "{sub}");
        assert!(out.contains("Usage:"), "{sub}: {out}");
    }
}

#[test]
fn a_closed_stdout_exits_quietly() {
    // Enough sockets that the output does not fit one pipe buffer.
    let l = listener_outside_range("127.0.0.1");
    let _c = connect_n(&l, 300);
    for args in [&["list"][..], &["list", "--json"], &["list", "--csv"]] {
        let mut child = porttop()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{err}"
        );
    }
}

#[test]
fn an_unwritable_stdout_is_a_clear_error() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("SKIP: no /dev/full");
        return;
    };
    let out = porttop().arg("list").stdout(full).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("cannot write output"), "{err}");
}
