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
