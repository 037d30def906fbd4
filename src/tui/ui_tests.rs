use super::*;
use crate::filter::Filter;
use crate::model::{Proto, SockState};
use crate::tui::app::{Action, App, View};
use crate::tui::test_fixture::{base, changed, ep, sock};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;
use std::sync::Arc;
use std::time::Duration;

/// Base table, then a refresh where :80 closed, 40100 changed and 41000 is new.
fn marked_app() -> App {
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Snapshot(Arc::new(base())));
    a.apply(Action::Snapshot(Arc::new(changed())));
    a
}

fn render(app: &mut App, theme: &Theme, w: u16, h: u16) -> Buffer {
    app.apply(Action::Viewport(viewport_rows(h)));
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    t.draw(|f| draw(f, app, theme)).expect("draw");
    t.backend().buffer().clone()
}

fn text(b: &Buffer) -> String {
    let w = usize::from(b.area.width);
    b.content
        .chunks(w)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
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
    assert_eq!(fg("0.0.0.0    80"), Color::Red, "closed row");
    assert_eq!(
        fg("127.0.0.1  45000"),
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
    for k in crate::tui::keys::KEYS {
        assert!(t.contains(k.desc), "help lists {}", k.desc);
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
    let mut s = crate::tui::test_fixture::snap(socks, 1_000);
    s.range = PortRange::new(40000, 40099, vec![], "test");
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Snapshot(Arc::new(s)));
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

#[test]
fn details_of_a_time_wait_socket_say_no_process_holds_it() {
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Snapshot(Arc::new(base())));
    a.apply(Action::Viewport(viewport_rows(30)));
    let i = a
        .visible
        .iter()
        .position(|i| a.rows[*i].sock.local.port == 40101)
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
    assert!(a.filter.is_empty(), "the filter is unchanged");
}

#[test]
fn system_text_shows_escaped_in_the_dashboard() {
    let mut s = base();
    s.host = "h\x1b]2;PWN\x07".into();
    let mut p = (**s.processes.get(&100).expect("nginx")).clone();
    p.name = "ng\x1b[2Jx".into();
    s.processes.insert(100, Arc::new(p));
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Snapshot(Arc::new(s)));
    let t = text(&render(&mut a, &Theme::mono(), 120, 30));
    assert!(t.contains(r"h\x1b]2;PWN\x07"), "{t}");
    assert!(t.contains(r"ng\x1b[2Jx"), "{t}");
}
