//! Drives the real dashboard in tmux: a listener of this test shows up, the `/`
//! filter narrows the table, help opens and closes, `q` and SIGTERM both leave the
//! alternate screen, and NO_COLOR shows the mark column. Skips without tmux.

mod common;
use common::tmux::Tmux;

fn porttop_cmd(env: &str, args: &str) -> String {
    format!(
        "{env} '{}' {args}; echo PORTTOP_EXITED; sleep 30",
        env!("CARGO_BIN_EXE_porttop")
    )
}

/// The table's body lines: between the column header and the status line.
fn body(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("PROTO"))
        .map_or(0, |i| i + 1);
    lines[start..]
        .iter()
        .take_while(|l| !l.contains("? help"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn dashboard_in_tmux() {
    if !common::have("tmux") {
        eprintln!("SKIP: tmux is not installed; the dashboard's end-to-end test did not run");
        return;
    }
    let l = common::listener_outside_range("127.0.0.1");
    let port = l.local_addr().expect("addr").port();
    let other = common::listener_outside_range("127.0.0.1");
    let name = common::my_name();
    // The PROCESS column may cut long names; their first 20 characters show.
    let short: String = name.chars().take(20).collect();

    let t = Tmux::new("main");
    t.start(120, 40, &porttop_cmd("", "-t -l --interval 250ms"));
    let port_s = format!(" {port} ");
    t.wait("the listener's row with this process", 10, |s| {
        s.lines().any(|l| l.contains(&port_s) && l.contains(&short))
    });
    t.keys(&["/"]);
    t.keys(&["-l", &format!("port:{port}")]);
    t.keys(&["Enter"]);
    let other_s = format!(" {} ", other.local_addr().expect("addr").port());
    let s = t.wait("the filtered table", 5, |s| {
        s.contains("filter: ") && s.contains(&format!("port:{port}")) && !s.contains(&other_s)
    });
    let rows = body(&s);
    assert!(!rows.is_empty(), "{s}");
    for r in &rows {
        assert!(r.contains(&port_s), "row without port {port}: {r}\n{s}");
    }
    t.keys(&["?"]);
    t.wait("help", 5, |s| {
        s.contains("sort by the next column") && s.contains("pause / resume")
    });
    t.keys(&["Escape"]);
    t.wait("help closed", 5, |s| !s.contains("sort by the next column"));
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
    assert_eq!(t.alternate_on(), "0");
    drop(t);

    // SIGTERM restores the screen too.
    let t = Tmux::new("term");
    t.start(120, 40, &porttop_cmd("", ""));
    t.wait("the dashboard", 10, |s| s.contains("PROTO"));
    let pane_pid = t.cmd(&["display", "-p", "-t", "t", "#{pane_pid}"]);
    let pane_pid = pane_pid.trim();
    let children = std::fs::read_to_string(format!("/proc/{pane_pid}/task/{pane_pid}/children"))
        .expect("children of the pane's shell");
    let pid: i32 = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("porttop's pid");
    // SAFETY: plain kill(2) of the child we started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    t.wait("the shell after SIGTERM", 5, |s| {
        s.contains("PORTTOP_EXITED")
    });
    assert_eq!(t.alternate_on(), "0");
    drop(t);

    // 80x24 without colors: a mark column shows a new connection as `+`.
    let t = Tmux::new("mono");
    t.start(
        80,
        24,
        &porttop_cmd(
            "NO_COLOR=1",
            &format!("--port {port} --keep-closed 20 --interval 250ms"),
        ),
    );
    t.wait("the dashboard with a mark column", 10, |s| {
        s.lines()
            .any(|l| l.starts_with("  PROT") && l.contains('^'))
            && s.contains(&port_s)
    });
    let _conns = common::connect_n(&l, 1);
    let s = t.wait("a new connection marked +", 5, |s| {
        body(s)
            .iter()
            .any(|r| r.starts_with("+ ") && r.contains(&port_s))
    });
    for line in s.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
}

/// Every way out leaves the alternate screen and a sane tty: `stty -a` after exit
/// shows `icanon` and `echo` (not `-icanon`, `-echo`).
#[test]
fn terminal_is_restored_after_q_ctrl_c_sigterm_sighup_and_a_panic() {
    if !common::have("tmux") {
        eprintln!("SKIP: tmux is not installed");
        return;
    }
    let ways: [(&str, &str); 5] = [
        ("q", ""),
        ("ctrl-c", ""),
        ("sigterm", ""),
        ("sighup", ""),
        ("panic", "PORTTOP_TEST_PANIC=1 RUST_BACKTRACE=0"),
    ];
    for (way, env) in ways {
        let t = Tmux::new(&format!("exit-{way}"));
        let cmd = format!(
            "{env} '{}' --interval 250ms; echo PORTTOP_EXITED rc=$?; stty -a; sleep 30",
            env!("CARGO_BIN_EXE_porttop")
        );
        t.start(100, 40, &cmd);
        if way != "panic" {
            t.wait("the dashboard", 10, |s| s.contains("PROTO"));
        }
        let pid = || -> i32 {
            let pane = t.cmd(&["display", "-p", "-t", "t", "#{pane_pid}"]);
            let pane = pane.trim();
            std::fs::read_to_string(format!("/proc/{pane}/task/{pane}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()))
                .unwrap_or(0)
        };
        match way {
            "q" => t.keys(&["q"]),
            "ctrl-c" => t.keys(&["C-c"]),
            // SAFETY: kill(2) of porttop, the pane shell's child.
            "sigterm" => assert_eq!(unsafe { libc::kill(pid(), libc::SIGTERM) }, 0),
            "sighup" => assert_eq!(unsafe { libc::kill(pid(), libc::SIGHUP) }, 0),
            _ => {}
        }
        let s = t.wait(&format!("the shell after {way}"), 10, |s| {
            s.contains("PORTTOP_EXITED") && s.contains("icanon")
        });
        assert_eq!(
            t.alternate_on(),
            "0",
            "{way}: still on the alternate screen"
        );
        let words: Vec<&str> = s.split_whitespace().collect();
        assert!(
            words.contains(&"icanon") && !words.contains(&"-icanon"),
            "{way}: {s}"
        );
        assert!(
            words.contains(&"echo") && !words.contains(&"-echo"),
            "{way}: {s}"
        );
        let rc = match way {
            "sigterm" => "rc=143",
            "sighup" => "rc=129",
            "panic" => "rc=101",
            _ => "rc=0",
        };
        assert!(s.contains(rc), "{way}: exit status {rc}\n{s}");
        if way == "panic" {
            assert!(
                s.contains("injected test panic"),
                "{way}: the panic is printed\n{s}"
            );
            assert!(s.contains("rc=101"), "{s}");
        }
    }
}
