//! `packaging/`: the systemd unit verifies, scores as hardened, and its
//! capabilities are enough; `cargo deb` builds a package with the binary, unit,
//! man pages, completions and config. Each part skips with a message where its
//! tool is missing.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unit_text() -> String {
    std::fs::read_to_string(repo().join("packaging/porttop.service")).unwrap()
}

/// The unit with ExecStart= on the binary under test (verify checks that the
/// program exists), in `dir`, with porttop's man pages where `man` finds them
/// (verify checks Documentation=man: too). Returns (unit path, MANPATH).
fn unit_under_test(dir: &Path) -> (PathBuf, PathBuf) {
    let text = unit_text().replace("/usr/bin/porttop", env!("CARGO_BIN_EXE_porttop"));
    let unit = dir.join("porttop.service");
    std::fs::write(&unit, text).unwrap();
    let man = dir.join("man");
    let man1 = man.join("man1");
    let (code, _, err) = run(&["man", "--dir", man1.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    (unit, man)
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !have("systemd-analyze") || !have("man") {
        eprintln!("SKIP: systemd-analyze or man is not installed; the unit was not verified");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (unit, man) = unit_under_test(dir.path());
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .env("MANPATH", &man)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "systemd-analyze verify: {err}");
    assert!(err.trim().is_empty(), "verify warns: {err}");
}

#[test]
fn the_unit_is_hardened_by_systemds_own_measure() {
    if !have("systemd-analyze") {
        eprintln!("SKIP: systemd-analyze is not installed; the unit's exposure was not scored");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (unit, _) = unit_under_test(dir.path());
    let o = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    if text.contains("Unknown option") || text.contains("unrecognized option") {
        eprintln!("SKIP: this systemd-analyze has no --offline (systemd < 252)");
        return;
    }
    // "Overall exposure level for porttop.service: 2.0 OK"
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("porttop.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{text}"));
    // systemd rates below 2.5 "OK" (0-10, 10 = unprotected; a unit with no
    // settings scores 9.6). What remains is what porttop needs: the host's
    // network and process table, two capabilities.
    assert!(score <= 2.5, "exposure {score}:\n{text}");
    let u = unit_text();
    for want in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH\n",
        "CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH\n",
    ] {
        assert!(u.contains(want), "unit lacks {want}");
    }
}

#[test]
fn the_units_capabilities_are_enough_to_see_other_users_processes() {
    if !is_root() || !have("setpriv") {
        eprintln!("SKIP: needs root and setpriv to run as nobody with the unit's capabilities");
        return;
    }
    let _g = serial();
    // The unit's AmbientCapabilities=, as setpriv spells them.
    let caps: Vec<String> = unit_text()
        .lines()
        .find_map(|l| l.strip_prefix("AmbientCapabilities="))
        .unwrap_or_default()
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    assert_eq!(caps.len(), 2, "{caps:?}");
    let caps = caps.join(",");
    let dir = tempfile::tempdir().unwrap();
    let bin = world_runnable_binary(dir.path());
    let l = listener_outside_range("127.0.0.1");
    let port = l.local_addr().unwrap().port().to_string();
    let o = Command::new("setpriv")
        .env("PORTTOP_NETNS", "host")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(format!("--inh-caps={caps}"))
        .arg(format!("--ambient-caps={caps}"))
        .arg("--")
        .arg(&bin)
        .args(["list", "--json", "-l", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        json.contains(&format!("{}", std::process::id())) && json.contains(&my_name()),
        "root's listener without its process as the unit's user: {json}"
    );
}

#[test]
fn cargo_deb_builds_a_package_with_binary_unit_man_pages_and_completions() {
    if !have("cargo-deb") || !have("dpkg-deb") {
        eprintln!(
            "SKIP: cargo-deb or dpkg-deb is not installed (cargo install cargo-deb); \
             the package was not built"
        );
        return;
    }
    // A target directory of our own, holding the binary under test as the
    // release binary: packaging/deb.sh --no-build packages what is there.
    let dir = tempfile::tempdir().unwrap();
    let release = dir.path().join("release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_porttop"), release.join("porttop")).unwrap();
    let deb = dir.path().join("porttop.deb");
    let o = Command::new(repo().join("packaging/deb.sh"))
        .args(["--no-build", "--no-strip", "--fast", "-o"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "deb.sh: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let list = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for want in [
        "usr/bin/porttop",
        "lib/systemd/system/porttop.service",
        "usr/share/man/man1/porttop.1.gz",
        "usr/share/man/man1/porttop-serve.1.gz",
        "usr/share/man/man1/porttop-pool.1.gz",
        "usr/share/bash-completion/completions/porttop",
        "usr/share/zsh/vendor-completions/_porttop",
        "usr/share/fish/vendor_completions.d/porttop.fish",
        "etc/porttop/config.toml",
    ] {
        assert!(
            list.lines().any(|l| l
                .split_whitespace()
                .last()
                .is_some_and(|p| p.trim_start_matches("./") == want)),
            "{want} not in the package:\n{list}"
        );
    }
    let field = |f: &str| {
        let o = Command::new("dpkg-deb")
            .arg("-f")
            .arg(&deb)
            .arg(f)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    assert_eq!(field("Package"), "porttop");
    assert!(field("Version").starts_with(env!("CARGO_PKG_VERSION")));
    // The config is a conffile (kept on upgrade), and what is inside works: the
    // binary runs, the shipped config parses, the shipped page renders.
    let root = dir.path().join("root");
    let x = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .unwrap();
    assert!(x.success());
    let ctl = dir.path().join("control");
    assert!(Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(&ctl)
        .status()
        .unwrap()
        .success());
    let conffiles = std::fs::read_to_string(ctl.join("conffiles")).unwrap_or_default();
    assert!(
        conffiles.contains("/etc/porttop/config.toml"),
        "{conffiles}"
    );
    let bin = root.join("usr/bin/porttop");
    let conf = root.join("etc/porttop/config.toml");
    let o = Command::new(&bin)
        .args(["config", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let shipped_unit =
        std::fs::read_to_string(root.join("lib/systemd/system/porttop.service")).unwrap();
    assert_eq!(shipped_unit, unit_text());
}

/// The system calls of a systemd syscall-filter group, nested groups expanded.
fn syscall_group(group: &str, out: &mut std::collections::BTreeSet<String>) {
    let o = Command::new("systemd-analyze")
        .args(["syscall-filter", group])
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        // The group's own name is the one unindented line.
        if !line.starts_with(char::is_whitespace) {
            continue;
        }
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if name.starts_with('@') {
            syscall_group(name, out);
        } else {
            out.insert(name.to_string());
        }
    }
}

#[test]
fn serve_makes_only_system_calls_the_units_filter_allows() {
    if !have("systemd-analyze") || !have("strace") {
        eprintln!(
            "SKIP: systemd-analyze or strace is not installed; the syscall filter was not checked"
        );
        return;
    }
    // What the unit allows: each SystemCallFilter= line in order, `~` removing.
    let mut allowed = std::collections::BTreeSet::new();
    for spec in unit_text()
        .lines()
        .filter_map(|l| l.strip_prefix("SystemCallFilter="))
    {
        let (deny, groups) = match spec.strip_prefix('~') {
            Some(g) => (true, g),
            None => (false, spec),
        };
        for g in groups.split_whitespace() {
            let mut set = std::collections::BTreeSet::new();
            syscall_group(g, &mut set);
            assert!(!set.is_empty(), "{g} expands to nothing");
            if deny {
                allowed.retain(|s| !set.contains(s));
            } else {
                allowed.extend(set);
            }
        }
    }
    assert!(allowed.contains("socket") && !allowed.contains("setrlimit"));
    // porttop serve under strace: start, a few refreshes, scrapes of every
    // endpoint, SIGTERM.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // -c: a count per system call, written when porttop exits.
    let mut child = Command::new("strace")
        .env("PORTTOP_NETNS", "host")
        .args(["-f", "-c", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_porttop"))
        .args(["serve", "--no-config", "--interval", "1s", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let fetch = |path: &str| -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .ok()?;
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
        let mut r = String::new();
        s.read_to_string(&mut r).ok()?;
        Some(r)
    };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while fetch("/metrics").is_none_or(|r| !r.contains("porttop_pool_fraction")) {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("serve under strace did not answer in 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for path in ["/metrics", "/healthz", "/snapshot.json", "/nope"] {
        assert!(fetch(path).is_some(), "{path}");
    }
    // SIGTERM to porttop (strace's child), which ends serve and then strace.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let pid: i32 = std::fs::read_to_string(&children)
        .ok()
        .and_then(|t| t.split_whitespace().next().and_then(|p| p.parse().ok()))
        .expect("porttop under strace");
    // SAFETY: kill(2) on a pid this test started (via strace).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("serve under strace did not end after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&trace).unwrap();
    // "% time  seconds  usecs/call  calls  errors  syscall" rows: the name last.
    let used: std::collections::BTreeSet<String> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split_whitespace().last())
        .filter(|n| *n != "total")
        .map(str::to_string)
        .collect();
    assert!(
        used.contains("recvfrom") || used.contains("recvmsg"),
        "{used:?}"
    );
    let denied: Vec<&String> = used.iter().filter(|s| !allowed.contains(*s)).collect();
    assert!(
        denied.is_empty(),
        "porttop serve calls {denied:?}, which the unit's SystemCallFilter= kills"
    );
}
