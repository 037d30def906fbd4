use super::*;
use crate::filter::Filter;
use crate::model::{Proto, SockState};
use crate::testkit::dashboard::{base, changed, ep, sock, Fed};
use crate::tui::app::{Action, App, View};
use crate::tui::rows::{Col, ProcCol, SortKey};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use std::sync::Arc;
use std::time::Duration;

/// Base table, then a refresh where :80 closed, 40100 changed and 41000 is new.
fn marked_app() -> Fed {
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(base());
    a.snapshot(changed());
    a
}

fn render(app: &mut App, theme: &Theme, w: u16, h: u16) -> Buffer {
    render_hits(app, theme, w, h).0
}

/// The screen and where its clickable parts are.
fn render_hits(app: &mut App, theme: &Theme, w: u16, h: u16) -> (Buffer, Hits) {
    app.apply(Action::Viewport(viewport_rows(h)));
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    let mut hits = Hits::default();
    t.draw(|f| hits = draw(f, app, theme)).expect("draw");
    (t.backend().buffer().clone(), hits)
}

fn text(b: &Buffer) -> String {
    let w = usize::from(b.area.width);
    b.content
        .chunks(w)
        .map(|row| {
            // A wide character's second cell is not a character of its own.
            let mut skip = 0;
            let mut line = String::new();
            for c in row {
                if skip > 0 {
                    skip -= 1;
                    continue;
                }
                line.push_str(c.symbol());
                skip = unicode_width::UnicodeWidthStr::width(c.symbol()).saturating_sub(1);
            }
            line.trim_end().to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The y of the first line containing `needle`.
fn line_of(b: &Buffer, needle: &str) -> u16 {
    let t = text(b);
    let y = t.lines().position(|l| l.contains(needle)).expect(needle);
    u16::try_from(y).expect("y")
}

#[test]
fn all_view_120x30_color() {
    let mut a = marked_app();
    let b = render(&mut a, &Theme::color(), 120, 30);
    insta::assert_snapshot!("all_120x30_color", text(&b));
    let fg = |needle: &str| b[(2, line_of(&b, needle))].fg;
    assert_eq!(fg("41000"), Color::Green, "new row");
    assert_eq!(fg("FIN-WAIT-1"), Color::Yellow, "changed row");
    assert_eq!(fg("0.0.0.0     80 "), Color::Red, "closed row");
    assert_eq!(
        fg("127.0.0.1   45000"),
        Color::Magenta,
        "listener on an ephemeral port"
    );
    // The selection (first row) has a background.
    let y = line_of(&b, "PROTO") + 1;
    assert_eq!(b[(2, y)].bg, Color::Blue);
}

#[test]
fn all_view_80x24_no_color_has_marks_and_reverse_selection() {
    let mut a = marked_app();
    let b = render(&mut a, &Theme::mono(), 80, 24);
    insta::assert_snapshot!("all_80x24_mono", text(&b));
    let t = text(&b);
    assert!(t.contains("+ tcp"), "new mark");
    assert!(t.contains("~ tcp"), "changed mark");
    assert!(t.contains("- tcp"), "closed mark");
    assert!(t.contains('^'), "ascii sort arrow");
    assert!(
        b.content
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset),
        "no colors at all"
    );
    let y = line_of(&b, "PROT") + 1;
    assert!(b[(0, y)].modifier.contains(Modifier::REVERSED));
    for l in t.lines() {
        assert!(l.chars().count() <= 80);
    }
}

#[test]
fn tiny_terminal_says_too_small() {
    let mut a = marked_app();
    let b = render(&mut a, &Theme::color(), 20, 5);
    insta::assert_snapshot!("tiny_20x5", text(&b));
    assert!(text(&b).contains("too small"));
    for (w, h) in [(1, 1), (39, 30), (120, 9), (40, 10), (0, 0)] {
        let _ = render(&mut a, &Theme::mono(), w, h);
    }
}

#[test]
fn help_is_generated_from_the_key_table() {
    let mut a = marked_app();
    a.apply(Action::Help);
    let b = render(&mut a, &Theme::mono(), 120, 30);
    insta::assert_snapshot!("help_120x30", text(&b));
    let t = text(&b);
    let table = crate::tui::keys::KEYS
        .iter()
        .filter(|k| k.ctx == crate::tui::keys::Ctx::Table);
    for k in table {
        assert!(t.contains(k.help), "help lists {}", k.help);
        assert!(t.contains(&k.label()), "with its keys {}", k.label());
    }
}

#[test]
fn details_pane_shows_every_field() {
    let mut a = marked_app();
    a.apply(Action::Home);
    a.apply(Action::Open);
    let b = render(&mut a, &Theme::mono(), 120, 30);
    insta::assert_snapshot!("details_120x30", text(&b));
    let t = text(&b);
    for s in ["inode", "/usr/bin/", "uid 1000", "ephemeral", "service"] {
        assert!(t.contains(s), "{s}");
    }
}

#[test]
fn grouped_views_render() {
    let mut a = marked_app();
    a.apply(Action::View(View::Ephemeral));
    let b = render(&mut a, &Theme::mono(), 80, 24);
    insta::assert_snapshot!("ephemeral_80x24", text(&b));
    a.apply(Action::View(View::Processes));
    let b = render(&mut a, &Theme::mono(), 80, 24);
    insta::assert_snapshot!("processes_80x24", text(&b));
    assert!(text(&b).contains("postgres"));
}

#[test]
fn filter_prompt_and_errors_show_in_the_status_line() {
    let mut a = marked_app();
    a.apply(Action::OpenFilter);
    for c in "port:99999".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    let b = render(&mut a, &Theme::mono(), 80, 24);
    let last = text(&b).lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("/port:99999"), "{last}");
    assert!(last.contains("invalid port"), "{last}");
}

#[test]
fn header_warns_at_85_percent_of_one_destination_and_lists_collisions() {
    use crate::model::PortRange;
    let mut socks: Vec<_> = (0..85)
        .map(|i| {
            sock(
                Proto::Tcp,
                ep("127.0.0.1", 40000 + i),
                Some(ep("127.0.0.1", 12000)),
                SockState::Established,
                u64::from(i) + 10,
                Some(200),
            )
        })
        .collect();
    socks.push(sock(
        Proto::Tcp,
        ep("0.0.0.0", 40090),
        None,
        SockState::Listen,
        5,
        Some(100),
    ));
    let mut s = crate::testkit::dashboard::snap(socks, 1_000);
    s.range = PortRange::new(40000, 40099, vec![], "test");
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(s);
    let b = render(&mut a, &Theme::color(), 120, 30);
    let t = text(&b);
    assert!(t.contains("86.0% WARN"), "{t}");
    assert!(t.contains("WARNING 86.0% of the global tcp pool"), "{t}");
    assert!(
        t.contains("collisions 1: listener in ephemeral range 40090/tcp"),
        "{t}"
    );
    let y = line_of(&b, "WARNING ");
    assert_eq!(b[(0, y)].fg, Color::Yellow);
}

/// A table with long IPv6 addresses, a long and a wide (CJK) process name and
/// sockets in CLOSE-WAIT.
fn crowded_app() -> Fed {
    use crate::model::Process;
    let mut s = base();
    for (i, (name, local, remote)) in [
        (
            "数据库服务数据库服务数据库",
            "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
            "2001:db8:ffff:eeee:dddd:cccc:bbbb:2",
        ),
        (
            "a-very-long-process-name-indeed",
            "fd00:1234:5678:9abc:def0:1234:5678:9abc",
            "10.0.0.9",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let pid = 500 + i as u32;
        s.processes.insert(
            pid,
            Arc::new(Process {
                pid,
                name: name.into(),
                uid: Some(1000),
                user: Some("alice".into()),
                cmdline: name.into(),
                container: None,
                unit: None,
            }),
        );
        s.sockets.push(sock(
            Proto::Tcp,
            ep(local, 41000 + i as u16),
            Some(ep(remote, 5432)),
            SockState::CloseWait,
            900 + i as u64,
            Some(pid),
        ));
    }
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(s);
    a
}

/// `n` established connections from 10.0.0.1, local ports from `first`, toward
/// `remote` (owned by pid 200), in a 1,000-port range 40000-40999.
fn conns(n: u16, first: u16, remote: &str, inode0: u64) -> Vec<crate::model::Socket> {
    let (host, port) = remote.rsplit_once(':').unwrap_or((remote, "0"));
    let port: u16 = port.parse().unwrap_or(0);
    (0..n)
        .map(|i| {
            sock(
                Proto::Tcp,
                ep("10.0.0.1", first + i),
                Some(ep(host, port)),
                SockState::Established,
                u64::from(i) + inode0,
                Some(200),
            )
        })
        .collect()
}

/// A snapshot at `ms` of `socks` in the range 40000-40999.
fn in_range1000(socks: Vec<crate::model::Socket>, ms: u64) -> crate::model::Snapshot {
    let mut s = crate::testkit::dashboard::snap(socks, ms);
    s.range = crate::model::PortRange::new(40000, 40999, vec![], "test");
    s
}

fn line_width(l: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(l)
}

#[test]
fn at_80_columns_pid_stays_ipv6_shortens_in_the_middle_and_cuts_end_in_ellipsis() {
    let mut a = crowded_app();
    let b = render(&mut a, &Theme::mono(), 80, 24);
    insta::assert_snapshot!("crowded_80x24_mono", text(&b));
    let t = text(&b);
    for l in t.lines() {
        assert!(line_width(l) <= 80, "{l}");
    }
    let titles = t.lines().find(|l| l.contains("PROT")).unwrap_or("");
    assert!(titles.contains("PID"), "{titles}");
    assert!(
        t.contains("CLOSE-WAIT 2"),
        "header counts CLOSE-WAIT by itself"
    );
    // The IPv6 addresses keep both ends; the long name is cut with `…`.
    let row = t.lines().find(|l| l.contains("41001")).unwrap_or("");
    assert!(row.contains("fd00:") && row.contains("…"), "{row}");
    assert!(row.contains("9abc "), "the end of the address stays: {row}");
    assert!(row.contains("a-very-lo") && row.contains('…'), "{row}");
    // A wide (CJK) process name is cut by display width, with `…`.
    let row = t.lines().find(|l| l.contains("41000")).unwrap_or("");
    assert!(row.contains("数据库") && row.ends_with('…'), "{row}");
    assert!(line_width(row) <= 80, "{row}");
    // Wide enough, nothing is cut at all.
    let b = render(&mut a, &Theme::mono(), 180, 30);
    let t = text(&b);
    assert!(t.contains("2001:db8:ffff:eeee:dddd:cccc:bbbb:2"), "{t}");
    assert!(
        t.contains("a-very-long-process-nam…"),
        "names wider than 24 cut: {t}"
    );
}

#[test]
fn columns_do_not_shift_when_the_sort_arrow_moves() {
    let mut a = marked_app();
    let starts = |a: &mut App| -> Vec<usize> {
        let b = render(a, &Theme::color(), 120, 30);
        let t = text(&b);
        let l = t
            .lines()
            .find(|l| l.contains("PROTO"))
            .unwrap_or("")
            .to_string();
        [
            "PROTO",
            "LOCAL ADDR",
            "LOCAL PORT",
            "REMOTE ADDR",
            "STATE",
            "PID",
            "USER",
        ]
        .iter()
        .map(|w| l.find(w).map_or(usize::MAX, |i| l[..i].chars().count()))
        .collect()
    };
    let before = starts(&mut a);
    for _ in 0..3 {
        a.apply(Action::SortNext);
    }
    assert_eq!(starts(&mut a), before);
    a.apply(Action::SortReverse);
    assert_eq!(starts(&mut a), before);
}

#[test]
fn the_projection_time_is_never_cut_and_the_gauge_keeps_its_width() {
    use crate::model::PortRange;
    let at = |n: u16, ms: u64| {
        let socks: Vec<_> = (0..n)
            .map(|i| {
                sock(
                    Proto::Tcp,
                    ep("2001:db8::1", 40000 + i),
                    Some(ep("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 12000)),
                    SockState::Established,
                    u64::from(i) + 10,
                    Some(200),
                )
            })
            .collect();
        let mut s = crate::testkit::dashboard::snap(socks, ms);
        s.range = PortRange::new(40000, 40099, vec![], "test");
        s
    };
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(at(82, 1_000));
    a.snapshot(at(85, 2_000));
    let full = a.data.alerts.warning().unwrap_or_default();
    let when = full.rsplit(": ").next().unwrap_or("").to_string();
    assert!(when.contains(" s"), "a projection in seconds: {full}");
    for w in [40u16, 60, 80, 120] {
        let b = render(&mut a, &Theme::mono(), w, 24);
        let t = text(&b);
        let warn = t.lines().find(|l| l.contains("ports in ~")).unwrap_or("");
        // Critical by projection here (3/s, 15 ports left), else a warning.
        assert!(
            warn.starts_with("WARN") || warn.starts_with("CRIT"),
            "{w} columns: {warn:?}"
        );
        assert!(
            warn.ends_with(&when),
            "{w} columns: {warn:?} ends with {when:?}"
        );
        let pool = t.lines().find(|l| l.starts_with("pool [")).unwrap_or("");
        let bar = pool
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .map_or(0, |(bar, _)| bar.chars().count());
        assert!(bar >= 10, "{w} columns: gauge {bar} wide: {pool}");
        for l in t.lines() {
            assert!(line_width(l) <= usize::from(w), "{l}");
        }
    }
    // The ok-level projection at 80 columns ends whole too.
    let mut a = marked_app();
    let b = render(&mut a, &Theme::mono(), 80, 24);
    let t = text(&b);
    let l = t
        .lines()
        .find(|l| l.starts_with("at this rate"))
        .unwrap_or("");
    assert!(l.ends_with("~7.8 h"), "{l}");
}

#[test]
fn clicks_select_rows_sort_by_titles_and_switch_views() {
    let mut a = marked_app();
    let (b, hits) = render_hits(&mut a, &Theme::color(), 120, 30);
    let t = text(&b);
    let find = |needle: &str| -> (u16, u16) {
        let y = line_of(&b, needle);
        let l = t.lines().nth(usize::from(y)).unwrap_or("");
        let x = l.find(needle).map_or(0, |i| l[..i].chars().count());
        (u16::try_from(x).unwrap_or(0) + 1, y)
    };
    let (x, y) = find("LOCAL PORT");
    let click = |a: &mut App, hits: &Hits, x: u16, y: u16| {
        if let Some(act) = hits.click(x, y) {
            a.apply(act);
        }
    };
    click(&mut a, &hits, x, y);
    assert_eq!((a.spec.sort, a.spec.desc), (Col::LocalPort, false));
    click(&mut a, &hits, x, y);
    assert_eq!(
        (a.spec.sort, a.spec.desc),
        (Col::LocalPort, true),
        "again: reversed"
    );
    let (b, hits) = render_hits(&mut a, &Theme::color(), 120, 30);
    let body_y = line_of(&b, "LOCAL PORT") + 1;
    click(&mut a, &hits, 3, body_y + 2);
    assert_eq!(a.cursor.selected, 2);
    let (x, y) = find("5 Processes");
    click(&mut a, &hits, x, y);
    assert_eq!(a.spec.view, View::Processes);
    let (b, hits) = render_hits(&mut a, &Theme::color(), 120, 30);
    let t = text(&b);
    let y = line_of(&b, "EPH PORTS");
    let l = t.lines().nth(usize::from(y)).unwrap_or("");
    let x = u16::try_from(l.find("PROCESS").unwrap_or(0)).unwrap_or(0);
    click(&mut a, &hits, x, y);
    assert_eq!(a.sort_key(), (SortKey::Proc(ProcCol::Process), false));
    let names: Vec<_> = a.listing.procs().iter().map(|p| p.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn help_has_a_legend_tab_names_and_scrolls_at_80x24() {
    let mut a = marked_app();
    a.apply(Action::Help);
    let b = render(&mut a, &Theme::mono(), 80, 24);
    insta::assert_snapshot!("help_80x24", text(&b));
    let mut seen = text(&b);
    for _ in 0..10 {
        a.apply(Action::PageDown);
        seen.push_str(&text(&render(&mut a, &Theme::mono(), 80, 24)));
    }
    for want in [
        "Legend",
        "+ ~ -",
        " E ",
        " e ",
        "Mouse",
        "a title: sort",
        "Filter words",
        "Shift-Tab",
        "Ctrl-W",
    ] {
        assert!(seen.contains(want), "help shows {want:?}");
    }
    for v in View::ALL {
        assert!(
            seen.contains(&format!("view: {}", v.title())),
            "{}",
            v.title()
        );
    }
    for k in crate::tui::keys::KEYS {
        assert!(seen.contains(k.help), "help lists {}", k.help);
    }
}

#[test]
fn the_prompt_shows_its_cursor_and_the_chooser_hides_columns() {
    let mut a = marked_app();
    a.apply(Action::OpenFilter);
    for c in "port:443".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::Edit(crate::tui::line::Edit::Home));
    let b = render(&mut a, &Theme::mono(), 80, 24);
    let y = b.area.height - 1;
    assert_eq!(b[(1, y)].symbol(), "p");
    assert!(
        b[(1, y)].modifier.contains(Modifier::REVERSED),
        "cursor on 'p'"
    );
    assert!(!b[(2, y)].modifier.contains(Modifier::REVERSED));
    a.apply(Action::FilterCancel);
    a.apply(Action::Columns);
    a.apply(Action::Down);
    a.apply(Action::ToggleColumn);
    let b = render(&mut a, &Theme::mono(), 120, 30);
    let t = text(&b);
    assert!(
        t.contains("[ ] LOCAL ADDR") && t.contains("[x] PROTO"),
        "{t}"
    );
    a.apply(Action::Close);
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    let titles = t.lines().find(|l| l.contains("PROTO")).unwrap_or("");
    assert!(
        !titles.contains("LOCAL ADDR") && titles.contains("LOCAL PORT"),
        "{titles}"
    );
}

#[test]
fn critical_is_red_even_when_the_projection_raised_it_at_low_usage() {
    use ratatui::style::Color;
    let at = |n: u16, ms: u64| in_range1000(conns(n, 40000, "10.0.0.2:443", 10), ms);
    // 100 new connections a second that stay: 200 of 1000 in use (20 %), the
    // pool runs out in 8 s: critical by projection.
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(at(100, 1_000));
    a.snapshot(at(200, 2_000));
    assert_eq!(
        a.data.alerts.level(),
        crate::analysis::pool::Level::Critical
    );
    let b = render(&mut a, &Theme::color(), 120, 30);
    let y = line_of(&b, "pool [");
    let t = text(&b);
    let line = t.lines().nth(usize::from(y)).unwrap_or("");
    assert!(line.contains("CRITICAL"), "{line}");
    let x = u16::try_from(line.find("CRITICAL").unwrap_or(0)).unwrap_or(0);
    assert_eq!(b[(x, y)].fg, Color::Red, "{line}");
    assert_eq!(b[(6, y)].fg, Color::Red, "the gauge's bar: {line}");
}

#[test]
fn the_header_shows_kernel_failures_that_moved_and_a_history_of_pool_use() {
    use crate::model::KernelCounters;
    let at = |n: u16, ms: u64, fails: u64| {
        let mut s = in_range1000(conns(n, 40000, "10.0.0.2:443", 10), ms);
        s.counters = Some(KernelCounters {
            attempt_fails: fails,
            ..Default::default()
        });
        s
    };
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    for (i, n) in [10u16, 10, 50, 100].iter().enumerate() {
        let fails = if i == 3 { 12 } else { 5 };
        a.snapshot(at(*n, 1_000 * (i as u64 + 1), fails));
    }
    let t = text(&render(&mut a, &Theme::color(), 120, 30));
    assert!(t.contains("kernel: AttemptFails +7"), "{t}");
    let pool = t.lines().find(|l| l.starts_with("pool [")).unwrap_or("");
    assert!(
        pool.contains(" ▂▂▅█ "),
        "history 10, 10, 50, 100 sockets: {pool}"
    );
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    let pool = t.lines().find(|l| l.starts_with("pool [")).unwrap_or("");
    assert!(pool.contains(" ..=# "), "ASCII without colours: {pool}");
    // At 80 columns the gauge keeps the room.
    let t = text(&render(&mut a, &Theme::color(), 80, 24));
    assert!(!t.contains('█'), "{t}");
}

#[test]
fn details_of_a_time_wait_socket_say_no_process_holds_it() {
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(base());
    a.apply(Action::Viewport(viewport_rows(30)));
    let i = a
        .listing
        .sockets()
        .iter()
        .position(|i| a.data.rows[*i].sock.local.port == 40101)
        .expect("TIME-WAIT row");
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
    a.apply(Action::Open);
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    assert!(t.contains("no process holds a TIME-WAIT"), "{t}");
    assert!(!t.contains("run as root"), "{t}");
}

#[test]
fn the_gauge_is_empty_at_0_0_percent_and_full_at_100() {
    let mut a = marked_app();
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    let line = t.lines().find(|l| l.starts_with("pool [")).expect("gauge");
    assert!(line.contains("0.0%"), "{line}");
    assert!(!line.contains('#'), "{line}");
}

#[test]
fn the_prompt_shows_an_unknown_filter_key_instead_of_matching_nothing() {
    let mut a = marked_app();
    a.apply(Action::OpenFilter);
    for c in "sprt:80".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    let b = render(&mut a, &Theme::mono(), 120, 24);
    let last = text(&b).lines().last().unwrap_or("").to_string();
    assert!(last.starts_with("/sprt:80"), "{last}");
    assert!(last.contains("unknown filter word 'sprt:'"), "{last}");
    assert!(a.spec.filter.is_empty(), "the filter is unchanged");
}

#[test]
fn system_text_shows_escaped_in_the_dashboard() {
    let mut s = base();
    s.host = "h\x1b]2;PWN\x07".into();
    let mut p = (**s.processes.get(&100).expect("nginx")).clone();
    p.name = "ng\x1b[2Jx".into();
    s.processes.insert(100, Arc::new(p));
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(s);
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    assert!(t.contains(r"h\x1b]2;PWN\x07"), "{t}");
    assert!(t.contains(r"ng\x1b[2Jx"), "{t}");
}

#[test]
fn the_ephemeral_view_puts_the_destination_that_runs_out_soonest_first() {
    // 10.0.0.2:443 holds more ports but gains none; 10.0.0.3:80 gains 100 a
    // second that stay: it runs out first and is listed first.
    let at = |fast: u16, ms: u64| {
        let mut socks = conns(300, 40000, "10.0.0.2:443", 10);
        socks.extend(conns(fast, 40500, "10.0.0.3:80", 5000));
        in_range1000(socks, ms)
    };
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(at(10, 1_000));
    a.snapshot(at(110, 2_000));
    a.apply(Action::View(View::Ephemeral));
    let t = text(&render(&mut a, &Theme::mono(), 100, 30));
    let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("10.0.0.")).collect();
    assert!(rows[0].starts_with("10.0.0.3:80"), "{t}");
    assert!(
        // (the RUNS OUT cell, before the summed RX/s and TX/s)
        rows[0].contains("100.0")
            && rows[0]
                .split_whitespace()
                .nth(6)
                .is_some_and(|c| c.ends_with('s')),
        "{}",
        rows[0]
    );
    assert!(
        rows[1].starts_with("10.0.0.2:443") && rows[1].split_whitespace().nth(6) == Some("-"),
        "{}",
        rows[1]
    );
}

#[test]
fn the_details_pane_draws_the_history_of_the_sockets_destination_pool() {
    let at = |n: u16, ms: u64| in_range1000(conns(n, 40000, "10.0.0.3:80", 10), ms);
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    for (i, n) in [100u16, 200, 400, 800].iter().enumerate() {
        a.snapshot(at(*n, 1_000 * (i as u64 + 1)));
    }
    a.apply(Action::Home);
    a.apply(Action::Open);
    let t = text(&render(&mut a, &Theme::color(), 120, 30));
    let l = t.lines().find(|l| l.contains("dest. pool")).unwrap_or("");
    assert!(l.contains("80.0% now"), "{t}");
    assert!(l.contains("▂▃▅█"), "100, 200, 400, 800 of 1000: {l}");
}

/// Two namespaces: the host (base fixture) and `web`, a container's, whose
/// range of 10 ports is 90 % taken toward one destination.
fn two_namespaces() -> crate::model::Snapshot {
    use crate::model::{Container, Netns, PortRange};
    let mut s = base();
    for i in 0..9u16 {
        let mut k = sock(
            Proto::Tcp,
            ep("172.17.0.2", 40000 + i),
            Some(ep("10.0.0.1", 443)),
            SockState::Established,
            9000 + u64::from(i),
            Some(300),
        );
        k.netns = 77;
        s.sockets.push(k);
    }
    let web = PortRange::new(40000, 40009, vec![], "test");
    s.netns = vec![
        Netns {
            inode: 1,
            name: "host".into(),
            own: true,
            container: None,
            range: s.range.clone(),
            counters: None,
            handle: None,
        },
        Netns {
            inode: 77,
            name: "web".into(),
            own: false,
            container: Some(Container {
                id: "ab".repeat(32),
                name: Some("shop-web".into()),
                runtime: "docker".into(),
            }),
            range: web,
            counters: None,
            handle: None,
        },
    ];
    s
}

#[test]
fn namespaces_view_lists_each_namespace_and_drills_down_to_its_sockets() {
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(two_namespaces());
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    // the socket table names every row's namespace; the header the worst one
    assert!(
        t.lines().any(|l| l.trim_start().starts_with("NETNS")),
        "{t}"
    );
    assert!(t.contains("in netns web"), "{t}");
    a.apply(Action::View(View::Namespaces));
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    let web = t
        .lines()
        .find(|l| l.contains("shop-web"))
        .unwrap_or_else(|| panic!("{t}"));
    for want in ["web", "40000-40009", " 9 ", "warn", "90.0%", "10.0.0.1:443"] {
        assert!(web.contains(want), "{want}: {web}");
    }
    assert!(
        t.lines()
            .any(|l| l.contains("host") && l.contains("32768-60999")),
        "{t}"
    );
    // Enter on `web` (the worst, first): its sockets, by the filter word
    assert!(a.listing.namespaces()[a.cursor.selected].name == "web");
    a.apply(Action::Open);
    assert_eq!(a.spec.view, View::All);
    assert_eq!(a.spec.filter.to_string(), "netns:web");
    assert_eq!(a.len(), 9);
}

/// The grouped views place their traffic by width: the counts alone at 80
/// columns, the summed rates from 100, the summed bytes too from 120 (with
/// the bytes of the connections' tcp_info, `human_bytes` as everywhere).
#[test]
fn grouped_views_add_rates_then_bytes_as_the_terminal_widens() {
    use crate::model::conn::{ConnInfo, TcpInfo};
    let mut s = base();
    let pid = 100; // nginx
    for k in s
        .sockets
        .iter_mut()
        .filter(|k| k.pids.first() == Some(&pid))
    {
        k.conn = Some(Box::new(ConnInfo {
            tcp: Some(TcpInfo {
                bytes_received: 3 << 20,
                bytes_acked: 5 << 10,
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    let n = s
        .sockets
        .iter()
        .filter(|k| k.pids.first() == Some(&pid))
        .count() as u64;
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(s);
    a.apply(Action::View(View::Processes));
    let head = |t: &str| {
        t.lines()
            .find(|l| l.starts_with("PID"))
            .unwrap_or("")
            .to_string()
    };
    let titles = |t: &str| {
        head(t)
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let t80 = text(&render(&mut a, &Theme::mono(), 80, 24));
    assert!(!titles(&t80).iter().any(|c| c.starts_with("RX")), "{t80}");
    let t100 = text(&render(&mut a, &Theme::mono(), 100, 24));
    let c100 = titles(&t100);
    assert!(
        c100.iter().any(|c| c == "RX/s") && !c100.iter().any(|c| c == "RX"),
        "{t100}"
    );
    assert!(t100.contains("RX/s TX/s: bytes a second"), "{t100}");
    let t120 = text(&render(&mut a, &Theme::mono(), 120, 24));
    let c120 = titles(&t120);
    assert!(c120.ends_with(&["RX".into(), "TX".into()]), "{t120}");
    let row = t120
        .lines()
        .find(|l| l.starts_with(&format!("{pid} ")))
        .unwrap_or_else(|| panic!("{t120}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    let want_rx = crate::model::conn::human_bytes((n * (3 << 20)) as f64);
    let want_tx = crate::model::conn::human_bytes((n * (5 << 10)) as f64);
    assert_eq!(
        &cells[cells.len() - 2..],
        [want_rx.as_str(), want_tx.as_str()],
        "{row}"
    );
    assert!(
        t120.contains("rates and bytes (in / acked) of its open connections"),
        "{t120}"
    );
}

/// `C`, `y`, and the runtime's answer through `App::receive`: a kernel
/// without CONFIG_INET_DIAG_DESTROY (EOPNOTSUPP) and a missing CAP_NET_ADMIN
/// (EPERM) each come back as one status line on the screen naming what is
/// missing and the connection.
#[test]
fn a_failed_close_is_one_status_line_naming_what_is_missing() {
    use crate::actions::ActionError;
    use crate::tui::app::{Effect, Msg};
    for (err, want) in [
        (
            ActionError::CloseUnsupported,
            "built without CONFIG_INET_DIAG_DESTROY",
        ),
        (ActionError::CloseNotPermitted, "needs CAP_NET_ADMIN"),
    ] {
        let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
        a.app.apply(Action::Viewport(20));
        a.snapshot(base());
        while !a
            .selected_row()
            .is_some_and(|r| r.sock.proto == Proto::Tcp && r.sock.state == SockState::Established)
        {
            let at = a.cursor.selected;
            a.app.apply(Action::Down);
            assert_ne!(a.cursor.selected, at, "base() has an ESTAB TCP row");
        }
        a.app.apply(Action::CloseConn);
        let Some(Effect::CloseSocket(c)) = a.app.apply(Action::ConfirmYes) else {
            panic!("no close effect: {:?}", a.status)
        };
        a.app
            .receive(Msg::Status(crate::tui::close_status(&c, Err(err))));
        let t = text(&render(&mut a.app, &Theme::mono(), 200, 30));
        let lines: Vec<&str> = t.lines().filter(|l| l.contains(want)).collect();
        assert_eq!(lines.len(), 1, "{t}");
        let remote = c.sock.remote.expect("a connection's peer");
        assert!(
            lines[0].starts_with(&format!("not closed: {} -> {remote}: ", c.sock.local)),
            "{t}"
        );
    }
}

#[test]
fn header_shows_the_stretched_interval_when_a_refresh_is_long() {
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.snapshot(crate::testkit::dashboard::snap(Vec::new(), 1_000));
    let first = |a: &mut Fed| {
        let b = render(a, &Theme::mono(), 80, 24);
        text(&b).lines().next().unwrap_or("").to_string()
    };
    // Under half the interval: the interval as asked.
    a.app.data.took = Duration::from_millis(400);
    let l = first(&mut a);
    assert!(l.contains("every 1s") && !l.contains("asked"), "{l}");
    // 2.2 s at 500,000 sockets: the feed waits 4.4 s, and the header says why.
    a.app.data.took = Duration::from_millis(2_200);
    let l = first(&mut a);
    assert!(l.contains("every 4.4s (1s asked; refresh 2.2s)"), "{l}");
}
