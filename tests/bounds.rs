//! What others can make big stays small in porttop: a process with a command
//! line of megabytes and twenty listeners. Output grows with sockets and
//! processes, not with sockets x command line.
#![cfg(target_os = "linux")]

mod common;
use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// perl with `listeners` loopback listeners and `mb` MB of extra arguments (in
/// pieces below the kernel's 128 KiB per argument, MAX_ARG_STRLEN, with the
/// stack limit lifted as `ulimit -s unlimited` does, so execve accepts them).
/// Returns the child and its ports once they listen.
fn big_cmdline_listener(listeners: usize, mb: usize) -> (Kill, Vec<u16>) {
    let code = format!(
        r#"use Socket; $|=1; my @s;
        for (1..{listeners}) {{
            socket(my $fh, PF_INET, SOCK_STREAM, 0) or die;
            bind($fh, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die;
            listen($fh, 5) or die;
            my ($port) = unpack_sockaddr_in(getsockname($fh));
            print "$port\n"; push @s, $fh;
        }}
        print "ready\n"; sleep 60;"#
    );
    let piece = "x".repeat(100 * 1024);
    let mut cmd = Command::new("perl");
    cmd.arg("-e").arg(code);
    for _ in 0..(mb * 1024 / 100) {
        cmd.arg(&piece);
    }
    // SAFETY: setrlimit is async-signal-safe; called between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let inf = libc::rlimit {
                rlim_cur: libc::RLIM_INFINITY,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_STACK, &inf) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perl with a big command line");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut ports = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        ports.push(line.parse().unwrap());
    }
    assert_eq!(ports.len(), listeners);
    (Kill(child), ports)
}

#[test]
fn a_multi_megabyte_command_line_is_cut_in_every_output() {
    if !have("perl") {
        eprintln!("SKIP: needs perl");
        return;
    }
    let (kid, ports) = big_cmdline_listener(20, 6);
    let pid = kid.0.id();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(cmdline.len() > 5_700_000, "{}", cmdline.len());

    let o = porttop()
        .args(["list", "--json", "--pid", &pid.to_string()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // 20 sockets x (the line twice, 4 KiB each) and some: not 20 x 2 x 6 MB.
    assert!(
        o.stdout.len() < 400_000,
        "list --json is {} bytes",
        o.stdout.len()
    );
    let rows: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.len(), 20);
    for r in &rows {
        assert!(ports.contains(&(r["local_port"].as_u64().unwrap() as u16)));
        let c = r["cmdline"].as_str().unwrap();
        assert!(c.starts_with("perl -e"), "{}", &c[..40]);
        assert!(c.ends_with('…') && c.len() <= 4096 + 3, "{}", c.len());
        assert_eq!(r["processes"][0]["cmdline"].as_str(), Some(c));
    }

    // The recording of it is as small, and so is its replay.
    let o = porttop().args(["record", "-n", "1"]).output().unwrap();
    assert!(o.status.success());
    assert!(
        o.stdout.len() < 2_000_000,
        "record is {} bytes",
        o.stdout.len()
    );

    // The CSV and the table too.
    for fmt in ["--csv", "--no-header"] {
        let o = porttop()
            .args(["list", fmt, "--pid", &pid.to_string()])
            .output()
            .unwrap();
        assert!(o.stdout.len() < 400_000, "{fmt}: {} bytes", o.stdout.len());
    }
}
