//! How porttop fits the tools around it: shell completions and man pages from
//! the clap definitions, the config file, `pool --nagios`.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// The visible subcommands, from `porttop --help` (the same clap definitions).
fn subcommands() -> Vec<String> {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    let list = help
        .split("Commands:")
        .nth(1)
        .and_then(|t| t.split("\n\n").next())
        .unwrap_or_default()
        .to_string();
    let subs: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .map(str::to_string)
        .collect();
    assert!(subs.len() >= 10, "{help}");
    subs
}

#[test]
fn bash_completion_parses_and_offers_every_subcommand() {
    let (code, script, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("porttop.bash");
    std::fs::write(&f, &script).unwrap();
    let st = Command::new("bash").arg("-n").arg(&f).status().unwrap();
    assert!(st.success(), "bash -n rejects the completion script");
    for sub in subcommands() {
        assert!(script.contains(&sub), "bash completion lacks {sub}");
    }
    // Loaded into bash, it completes `porttop po` to `pool`.
    let probe = format!(
        "source {}; COMP_WORDS=(porttop po); COMP_CWORD=1; _porttop porttop po porttop; echo \"${{COMPREPLY[@]}}\"",
        f.display()
    );
    let o = Command::new("bash").args(["-c", &probe]).output().unwrap();
    let words = String::from_utf8_lossy(&o.stdout);
    assert!(words.split_whitespace().any(|w| w == "pool"), "{words}");
}

#[test]
fn every_shell_gets_a_script_and_a_bad_shell_is_one_line() {
    for sh in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let (code, script, err) = run(&["completions", sh]);
        assert_eq!(code, 0, "{sh}: {err}");
        assert!(script.contains("porttop"), "{sh}");
    }
    if have("zsh") {
        let (_, script, _) = run(&["completions", "zsh"]);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("_porttop");
        std::fs::write(&f, script).unwrap();
        assert!(Command::new("zsh")
            .arg("-n")
            .arg(&f)
            .status()
            .unwrap()
            .success());
    }
    assert_one_line_error(&["completions", "tcsh"], 2);
    // A full disk is one line and exit 2, not a panic inside clap_complete.
    for args in [&["completions", "bash"][..], &["man"], &["config"]] {
        let o = porttop()
            .args(args)
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
    }
    assert_one_line_error(&["man", "nosuchcommand"], 2);
}

/// `groff -man` renders `page` without a warning; returns the text.
fn groff(page: &Path) -> String {
    let o = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(page)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", page.display());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.trim().is_empty(), "{}: {err}", page.display());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn man_pages_render_with_groff_one_per_subcommand() {
    if !have("groff") {
        eprintln!("SKIP: groff not installed (Debian: apt-get install groff)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, listed, err) = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let top = groff(&dir.path().join("porttop.1"));
    for section in ["SYNOPSIS", "OPTIONS", "SUBCOMMANDS", "EXIT STATUS", "FILES"] {
        assert!(top.contains(section), "porttop(1) lacks {section}");
    }
    for sub in subcommands() {
        let page = dir.path().join(format!("porttop-{sub}.1"));
        assert!(listed.contains(&page.display().to_string()), "{listed}");
        let text = groff(&page);
        assert!(text.contains(&format!("porttop-{sub}")), "{sub}");
    }
    // `porttop man pool` is the same page on stdout, with pool's own flags.
    let (_, pool, _) = run(&["man", "pool"]);
    assert_eq!(
        pool,
        std::fs::read_to_string(dir.path().join("porttop-pool.1")).unwrap()
    );
    assert!(pool.contains("nagios"));
    let (_, stdout_top, _) = run(&["man"]);
    assert!(stdout_top.contains("\n.TH porttop 1 "), "{stdout_top:.200}");
}

/// A config home holding `text` as porttop/config.toml.
fn config_home(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("porttop")).unwrap();
    std::fs::write(dir.path().join("porttop/config.toml"), text).unwrap();
    dir
}

/// porttop with `XDG_CONFIG_HOME=home`; (code, stdout, stderr).
fn run_with(home: &Path, args: &[&str]) -> (i32, String, String) {
    let o = porttop()
        .args(args)
        .env("XDG_CONFIG_HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn config_thresholds_change_pools_exit_code_and_flags_override_them() {
    // The pool is at or above 0 % (any host): warn = 0 makes it warn,
    // crit = 0 critical; a flag given on the command line wins.
    let args = ["pool", "--sample", "0"];
    let (code, _, err) = run_with(tempfile::tempdir().unwrap().path(), &args);
    assert_eq!(code, 0, "no config: ok on a quiet host ({err})");
    let warn = config_home("[pool]\nwarn = 0\n");
    assert_eq!(run_with(warn.path(), &args).0, 1, "[pool] warn = 0");
    let crit = config_home("[pool]\nwarn = 0\ncrit = \"0%\"\n");
    assert_eq!(run_with(crit.path(), &args).0, 2, "[pool] crit = 0");
    let (code, _, err) = run_with(
        crit.path(),
        &["pool", "--sample", "0", "--warn", "80", "--crit", "95"],
    );
    assert_eq!(code, 0, "flags override the file: {err}");
    assert_eq!(
        run_with(crit.path(), &["pool", "--sample", "0", "--no-config"]).0,
        0,
        "--no-config"
    );
    // --config names another file, wherever it is.
    let f = crit.path().join("porttop/config.toml");
    let (code, out, _) = run(&[
        "pool",
        "--sample",
        "0",
        "--nagios",
        "--config",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.starts_with("PORTTOP CRITICAL - "), "{out}");
    assert!(out.contains("pool=") && out.contains(";0;0;0;100"), "{out}");
}

#[test]
fn a_malformed_config_is_one_line_with_file_line_and_column() {
    for (text, want) in [
        ("[pool]\nwarn = 80\ncrit = [\n", ":3:"),
        (
            "[pool]\nwarn = 101\n",
            ":2:8: 101: a percentage must lie in 0-100",
        ),
        (
            "[dashbord]\nview = \"all\"\n",
            ":1:2: unknown field `dashbord`",
        ),
        (
            "[dashboard]\nview = \"sideways\"\n",
            ":2:8: 'sideways' is not a view",
        ),
    ] {
        let home = config_home(text);
        let file = home.path().join("porttop/config.toml");
        for (args, code) in [
            (&["list"][..], 2),
            (&["pool", "--sample", "0"], 3),
            (&["config"], 2),
        ] {
            let (c, out, err) = run_with(home.path(), args);
            assert_eq!(c, code, "{args:?} {text:?}: {err}");
            assert!(out.is_empty(), "{out}");
            assert_eq!(err.lines().count(), 1, "{err}");
            let expect = format!("porttop: {}{want}", file.display());
            assert!(err.starts_with(&expect), "{text:?}: {err} (want {expect})");
        }
    }
    // A named file that is missing is an error; a missing default file is not.
    assert_one_line_error(&["list", "--config", "/nonexistent/porttop.toml"], 2);
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(run_with(empty.path(), &["range"]).0, 0);
}

#[test]
fn porttop_config_shows_each_value_and_where_it_came_from() {
    let home = config_home("[pool]\ncrit = 90\n\n[serve]\nlisten = \"127.0.0.1:7001\"\n");
    let file = home.path().join("porttop/config.toml");
    let (code, out, err) = run_with(home.path(), &["config"]);
    assert_eq!(code, 0, "{err}");
    let line = |key: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(line("pool.warn"), ["pool.warn", "80%", "default"]);
    let crit_from = format!("{}:2", file.display());
    assert_eq!(line("pool.crit"), ["pool.crit", "90%", crit_from.as_str()]);
    let listen_from = format!("{}:5", file.display());
    assert_eq!(
        line("serve.listen"),
        ["serve.listen", "127.0.0.1:7001", listen_from.as_str()]
    );
    assert!(
        out.starts_with(&format!("config file  {}", file.display())),
        "{out}"
    );
    // --toml writes a file that reads back to the same settings.
    let (_, toml, _) = run_with(home.path(), &["config", "--toml"]);
    let copy = home.path().join("copy.toml");
    std::fs::write(&copy, &toml).unwrap();
    let (code, again, err) = run(&["config", "--config", copy.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}\n{toml}");
    let values = |t: &str| -> Vec<String> {
        t.lines()
            .skip(2)
            .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(values(&again), values(&out));
}

#[test]
fn serve_listens_where_the_config_says_unless_the_flag_says_otherwise() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = config_home(&format!(
        "[serve]\nlisten = \"127.0.0.1:{port}\"\ninterval = \"250ms\"\n"
    ));
    let mut child = porttop()
        .args(["serve"])
        .env("XDG_CONFIG_HOME", home.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reached = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            reached = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        reached,
        "serve did not listen on the config's port {port}: {err}"
    );
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    // A bad flag value still wins over (and is checked before) the file.
    assert_one_line_error(&["serve", "--listen", "nonsense"], 2);
}

#[test]
fn pool_nagios_is_one_plugin_line_with_performance_data() {
    let l = listener_outside_range("127.0.0.1");
    let _c = connect_n(&l, 3);
    let (code, out, err) = run(&["pool", "--nagios", "--sample", "0"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let line = out.trim_end();
    let (text, perf) = line
        .split_once(" | ")
        .expect("performance data after ' | '");
    let status = ["OK", "WARNING", "CRITICAL"][code as usize];
    assert!(
        text.starts_with(&format!("PORTTOP {status} - ephemeral pool ")),
        "{line} ({err})"
    );
    assert!(!text.contains('|'));
    // Every item is label=value[UOM];warn;crit;min;max.
    let mut labels = Vec::new();
    for item in perf.split(' ') {
        let (label, rest) = item.split_once('=').expect(item);
        let fields: Vec<&str> = rest.split(';').collect();
        assert!(fields.len() >= 4, "{item}");
        let num = fields[0].trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        assert!(num.parse::<f64>().is_ok(), "{item}");
        labels.push(label.to_string());
    }
    for want in [
        "pool",
        "tcp_ports",
        "udp_ports",
        "time_wait_ports",
        "worst_destination",
        "collisions",
    ] {
        assert!(labels.iter().any(|l| l == want), "{want} in {perf}");
    }
    assert!(
        perf.starts_with("pool=") && perf.split(' ').next().unwrap().ends_with("%;80;95;0;100"),
        "{perf}"
    );
    // The test's 3 connections are in the TCP count.
    let tcp: u32 = perf
        .split(' ')
        .find_map(|i| i.strip_prefix("tcp_ports="))
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(tcp >= 3, "{perf}");
    // Bad input: UNKNOWN on stdout (what the monitor reads), 3.
    let (code, out, _) = run(&["pool", "--nagios", "--replay", "/nonexistent"]);
    assert_eq!(code, 3);
    assert!(out.starts_with("PORTTOP UNKNOWN - "), "{out}");
}

#[test]
fn the_dashboard_opens_on_the_configs_view_with_its_columns() {
    if !have("tmux") {
        eprintln!("SKIP: tmux is not installed; the dashboard's config test did not run");
        return;
    }
    let l = listener_outside_range("127.0.0.1");
    let _c = connect_n(&l, 2);
    let home = config_home(
        "[dashboard]\nview = \"listening\"\ncolumns = [\"proto\", \"local-port\", \"state\"]\n\
         interval = \"250ms\"\n",
    );
    let header = |s: &str| {
        s.lines()
            .find(|l| l.contains("PROTO"))
            .unwrap_or("")
            .to_string()
    };
    // The table's rows in `state`: below the column header.
    let rows = |s: &str, state: &str| {
        s.lines()
            .skip_while(|l| !l.contains("PROTO"))
            .skip(1)
            .filter(|l| l.split_whitespace().any(|w| w == state))
            .count()
    };
    let t = common::tmux::Tmux::new("config");
    let cmd = |args: &str| {
        format!(
            "XDG_CONFIG_HOME='{}' '{}' {args}; echo PORTTOP_EXITED; sleep 30",
            home.path().display(),
            env!("CARGO_BIN_EXE_porttop")
        )
    };
    // Only this test's sockets (other tests leave TIME-WAIT rows meanwhile).
    let port = l.local_addr().unwrap().port();
    t.start(120, 40, &cmd(&format!("-t --port {port}")));
    let s = t.wait("the table", 10, |s| {
        header(s).contains("STATE") && rows(s, "LISTEN") > 0
    });
    let h = header(&s);
    assert!(
        h.contains("LOCAL PORT") && !h.contains("REMOTE") && !h.contains("PROCESS"),
        "{s}"
    );
    assert_eq!(
        rows(&s, "ESTAB"),
        0,
        "the Listening view shows no connections:\n{s}"
    );
    // It is the view, not a filter: the All view (1) has the connections.
    t.keys(&["1"]);
    t.wait("the All view", 5, |s| rows(s, "ESTAB") > 0);
    t.keys(&["q"]);
    t.wait("the shell", 5, |s| s.contains("PORTTOP_EXITED"));
    drop(t);
    // Flags override the file.
    let t = common::tmux::Tmux::new("config-flags");
    t.start(
        120,
        40,
        &cmd(&format!(
            "-t --port {port} --view established --columns proto,remote-port,state"
        )),
    );
    let s = t.wait("the table", 10, |s| {
        header(s).contains("REMOTE PORT") && rows(s, "ESTAB") > 0
    });
    assert!(!header(&s).contains("LOCAL PORT"), "{s}");
    t.keys(&["q"]);
    t.wait("the shell", 5, |s| s.contains("PORTTOP_EXITED"));
}
