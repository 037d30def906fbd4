//! The config file's parsing and errors, on literal TOML.

use super::*;

fn parse(text: &str) -> Result<Loaded, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let p = dir.path().join("config.toml");
    std::fs::write(&p, text).map_err(|e| e.to_string())?;
    load(Some(&p), false).map_err(|e| e.replace(&p.display().to_string(), "F"))
}

#[test]
fn values_take_the_flags_syntax() {
    let l = parse(
        "[pool]\nwarn = 70\ncrit = \"90.5%\"\n[dashboard]\ninterval = \"500ms\"\n\
         keep-closed = 0\nview = \"Listening\"\ncolumns = [\"proto\", \"local-port\"]\n\
         theme = \"mono\"\n[serve]\nlisten = \"[::1]:7000\"\ninterval = 10\n",
    )
    .unwrap();
    let f = &l.file;
    assert_eq!(value(&f.pool.warn).map(|p| p.0), Some(0.7));
    assert_eq!(value(&f.pool.crit).map(|p| p.0), Some(0.905));
    assert_eq!(
        value(&f.dashboard.interval).map(|i| i.0),
        Some(Duration::from_millis(500))
    );
    assert_eq!(value(&f.dashboard.view).map(|v| v.0), Some(View::Listening));
    assert_eq!(
        value(&f.dashboard.columns),
        Some(Columns(vec![Col::Proto, Col::LocalPort]))
    );
    assert_eq!(
        value(&f.serve.interval).map(|i| i.0),
        Some(Duration::from_secs(10))
    );
    let s = l.settings();
    let origin = |k: &str| s.iter().find(|x| x.key == k).map(|x| x.origin.clone());
    assert!(origin("pool.crit").is_some_and(|o| o.ends_with("config.toml:3")));
    assert!(origin("serve.listen").is_some_and(|o| o.ends_with("config.toml:11")));
    assert!(origin("dashboard.theme").is_some_and(|o| o.ends_with("config.toml:9")));
    assert!(origin("dashboard.keep-closed").is_some_and(|o| o.ends_with("config.toml:6")));
    assert_eq!(origin("pool.warn").map(|o| o.ends_with(":2")), Some(true));
}

#[test]
fn errors_name_line_and_column_in_one_line() {
    for (text, want) in [
        (
            "[pool]\nwarn = 150\n",
            "F:2:8: 150: a percentage must lie in 0-100",
        ),
        ("[pool]\nwarn = \n", "F:2:8:"),
        ("[pool]\nwran = 80\n", "F:2:1: unknown field `wran`"),
        (
            "[dashboard]\ninterval = \"100ms\"\n",
            "F:2:12: interval '100ms' is below",
        ),
        (
            "[dashboard]\ncolumns = [\"proto\", \"nope\"]\n",
            "F:2:11: 'nope' is not a column",
        ),
        (
            "[dashboard]\ntheme = \"pink\"\n",
            "F:2:9: unknown variant `pink`",
        ),
        ("[dashboard]\nkeep-closed = -1\n", "F:2:15:"),
        (
            "[serve]\nlisten = \"localhost\"\n",
            "F:2:10: 'localhost' is not ADDR:PORT",
        ),
        (
            "[pool]\nwarn = 90\ncrit = 80\n",
            "F:2:8: pool.warn is above pool.crit",
        ),
        ("[nope]\n", "F:1:2: unknown field `nope`"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.starts_with(want), "{text:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn names_read_back_and_an_absent_default_file_is_no_error() {
    for v in View::ALL {
        assert_eq!(parse_view(&view_name(v)), Ok(v));
    }
    let all: Vec<String> = Col::ALL.into_iter().map(column_name).collect();
    assert_eq!(
        parse_columns(&all.join(",")),
        Ok(Columns(Col::ALL.to_vec()))
    );
    assert!(parse_columns("proto,proto").is_err());
    assert!(parse_columns(" , ").is_err());
    assert!(load(Some(Path::new("/nonexistent/porttop.toml")), false).is_err());
    assert!(load(None, true).is_ok_and(|l| l.path.is_none()));
}

#[test]
fn projection_windows_and_the_web_config_reach_every_command_unless_a_flag_says() {
    use clap::{CommandFactory, FromArgMatches};
    let l = parse(
        "[pool]\nwarn-within = \"2m\"\ncrit-within = 30\n[serve]\nweb-config = \"/etc/porttop/web.yml\"\n",
    )
    .unwrap();
    let parsed = |args: &[&str]| {
        let m = Cli::command().try_get_matches_from(args).unwrap();
        let mut c = Cli::from_arg_matches(&m).unwrap();
        l.file.apply(&mut c, &m);
        c
    };
    match parsed(&["porttop", "pool"]).command {
        Some(Command::Pool(a)) => {
            assert_eq!(
                (a.within.warn_within, a.within.crit_within),
                (Some(120.0), Some(30.0))
            );
        }
        other => panic!("{other:?}"),
    }
    match parsed(&["porttop", "serve", "--crit-within", "10s"]).command {
        Some(Command::Serve(a)) => {
            assert_eq!(
                (a.within.warn_within, a.within.crit_within),
                (Some(120.0), Some(10.0))
            );
            assert_eq!(
                a.web_config.as_deref(),
                Some(Path::new("/etc/porttop/web.yml"))
            );
        }
        other => panic!("{other:?}"),
    }
    let d = parsed(&["porttop"]).dash;
    assert_eq!(d.within.warn_within, Some(120.0));
    let e = parse("[pool]\nwarn-within = 30\ncrit-within = 60\n").unwrap_err();
    assert!(e.starts_with("F:3:15: pool.crit-within is longer"), "{e}");
}
