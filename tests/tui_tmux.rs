//! Drives the real dashboard in tmux: a listener of this test shows up, the `/`
//! filter narrows the table, help opens and closes, `q` and SIGTERM both leave the
//! alternate screen, NO_COLOR shows the mark column; Esc never quits, mouse
//! clicks, OSC 52 copy and `w` work in a real terminal. Skips without tmux.

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
        .position(|l| l.contains("STATE"))
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
    t.wait("the dashboard", 10, |s| s.contains("STATE"));
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
            t.wait("the dashboard", 10, |s| s.contains("STATE"));
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

/// The column (1-based, as the terminal counts) where `needle` starts on line `y`.
fn col_of(screen: &str, needle: &str) -> Option<(usize, usize)> {
    screen
        .lines()
        .enumerate()
        .find_map(|(y, l)| l.find(needle).map(|i| (l[..i].chars().count() + 1, y + 1)))
}

/// An SGR mouse report (xterm's mode 1006) of a left press and release at (x, y),
/// typed into the pane as a terminal would send it.
fn click(t: &Tmux, x: usize, y: usize) {
    t.keys(&["-l", &format!("\u{1b}[<0;{x};{y}M\u{1b}[<0;{x};{y}m")]);
}

/// Esc over a real terminal closes things and never quits; clicks select, sort
/// and switch views; `m` turns the pane's mouse reporting off and on; `y` puts
/// the row on the clipboard through OSC 52 (tmux keeps it as a paste buffer).
#[test]
fn esc_mouse_and_osc52_in_tmux() {
    if !common::have("tmux") {
        eprintln!("SKIP: tmux is not installed; the keys test did not run");
        return;
    }
    let l = common::listener_outside_range("127.0.0.1");
    let port = l.local_addr().expect("addr").port();
    let port_s = format!(" {port} ");
    let t = Tmux::new("keys");
    t.start(
        120,
        40,
        &porttop_cmd("", &format!("-t -l --port {port} --interval 250ms")),
    );
    t.cmd(&["set", "-g", "set-clipboard", "on"]);
    t.wait("the listener's row", 10, |s| {
        body(s).iter().any(|r| r.contains(&port_s))
    });
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "t", "#{mouse_any_flag}"])
            .trim(),
        "1"
    );

    // y: OSC 52 with the selected row.
    t.keys(&["y"]);
    t.wait("the copy message", 5, |s| s.contains("copied (OSC 52)"));
    let end = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let buf = loop {
        let b = t.cmd(&["show-buffer"]);
        if b.contains(&port.to_string()) || std::time::Instant::now() > end {
            break b;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(
        buf.contains(&format!("127.0.0.1:{port}")) && buf.contains("LISTEN"),
        "clipboard: {buf:?}"
    );

    // Esc: help closes; on the table it clears the filter; then it only says q.
    t.keys(&["?"]);
    t.wait("help", 5, |s| {
        s.contains("Legend") || s.contains("previous view")
    });
    t.keys(&["Escape"]);
    t.wait("help closed", 5, |s| s.contains("STATE"));
    t.keys(&["Escape"]);
    t.wait("the filter cleared", 5, |s| s.contains("filter cleared"));
    t.keys(&["Escape"]);
    t.keys(&["Escape"]);
    let s = t.wait("Esc says q quits", 5, |s| s.contains("q quits"));
    assert!(
        !s.contains("PORTTOP_EXITED"),
        "Esc quit the dashboard:\n{s}"
    );
    assert_eq!(t.alternate_on(), "1");

    // Mouse: a click on a tab switches view; on a title sorts by it.
    let s = t.screen();
    let (x, y) = col_of(&s, "5 Processes").expect("tab");
    click(&t, x + 1, y);
    let s = t.wait("the Processes view", 5, |s| s.contains("EPH PORTS"));
    let (x, y) = col_of(&s, "PROCESS").expect("PROCESS title");
    click(&t, x + 1, y);
    let s = t.wait("sorted by PROCESS", 5, |s| s.contains("PROCESS▲"));
    // A click on the second body row selects it (status `2/N`; this test's
    // listener and the sockets without a process make at least two groups).
    let (_, ty) = col_of(&s, "PROCESS▲").expect("title");
    click(&t, 3, ty + 2);
    t.wait("row 2 selected", 5, |s| {
        s.lines()
            .any(|l| l.contains("  2/") || l.trim_start().starts_with("2/"))
    });

    // m: mouse reporting off for the pane (text selection), then on again.
    t.keys(&["m"]);
    t.wait("mouse off", 5, |s| s.contains("mouse off"));
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "t", "#{mouse_any_flag}"])
            .trim(),
        "0"
    );
    t.keys(&["m"]);
    t.wait("mouse on", 5, |s| s.contains("mouse on"));
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "t", "#{mouse_any_flag}"])
            .trim(),
        "1"
    );

    // w: the view saved as JSON to the path typed, which the status line shows.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("procs.json");
    let path_s = path.to_str().expect("utf-8 temp path");
    t.keys(&["w", "C-u"]);
    t.keys(&["-l", path_s]);
    t.keys(&["Enter"]);
    t.wait("the saved message", 5, |s| {
        s.contains("saved ") && s.contains("procs.json")
    });
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("saved file")).expect("JSON");
    assert!(saved.as_array().is_some_and(|a| !a.is_empty()), "{saved}");
    t.keys(&["q"]);
    t.wait("the shell after q", 5, |s| s.contains("PORTTOP_EXITED"));
}
