use super::*;
use crate::model::{Proto, SockState};
use crate::testkit::dashboard::{base, changed, ep, snap, sock, Fed, T0};
use crate::tui::rows::{DestCol, Mark, ProcCol, SortKey};

fn app() -> Fed {
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.apply(Action::Viewport(5));
    a.snapshot(base());
    a
}

fn ports(a: &App) -> Vec<u16> {
    a.listing
        .sockets()
        .iter()
        .map(|i| a.data.rows[*i].sock.local.port)
        .collect()
}

fn sel_port(a: &App) -> u16 {
    a.selected_row().map(|r| r.sock.local.port).unwrap_or(0)
}

#[test]
fn sorting_by_port_is_numeric_and_reversible() {
    let mut a = app();
    while a.spec.sort != Col::LocalPort {
        a.apply(Action::SortNext);
    }
    assert_eq!(
        ports(&a),
        vec![53, 80, 443, 9000, 40100, 40101, 45000, 50000]
    );
    a.apply(Action::SortReverse);
    assert_eq!(
        ports(&a),
        vec![50000, 45000, 40101, 40100, 9000, 443, 80, 53]
    );
    // 40,000 rows sort (the cost is measured in benches/collector.rs).
    let many: Vec<_> = (0..40_000u32)
        .map(|i| {
            let p = (i % 60000) as u16 + 1024;
            sock(
                Proto::Tcp,
                ep("10.0.0.1", p),
                Some(ep("10.9.0.1", 443)),
                SockState::Established,
                u64::from(i) + 10,
                Some(200),
            )
        })
        .collect();
    a.snapshot(snap(many, T0 + 1000));
    a.apply(Action::SortNext);
    assert_eq!(a.len(), 40_008);
}

#[test]
fn selection_sticks_to_the_same_socket_when_rows_arrive_above() {
    let mut a = app();
    while a.spec.sort != Col::LocalPort {
        a.apply(Action::SortNext);
    }
    a.apply(Action::Home);
    for _ in 0..4 {
        a.apply(Action::Down);
    }
    assert_eq!(sel_port(&a), 40100);
    let line = a.cursor.selected - a.cursor.offset;
    let mut s = base();
    for p in [20, 21, 22, 25, 110] {
        s.sockets.push(sock(
            Proto::Tcp,
            ep("0.0.0.0", p),
            None,
            SockState::Listen,
            u64::from(p) + 1000,
            Some(100),
        ));
    }
    s.taken_at_ms += 1000;
    a.snapshot(s);
    assert_eq!(sel_port(&a), 40100, "selection follows the socket");
    assert_eq!(
        a.cursor.selected - a.cursor.offset,
        line,
        "and stays on the same screen line"
    );
    // The connection going to TIME-WAIT (inode lost) is still the selected row.
    let mut s = base();
    s.sockets[2].state = SockState::TimeWait;
    s.sockets[2].inode = None;
    a.snapshot(s);
    assert_eq!(sel_port(&a), 40100);
    assert_eq!(a.selected_row().map(|r| r.mark), Some(Mark::Changed));
}

#[test]
fn change_marks_new_changed_closed_and_their_expiry() {
    let mut a = app();
    assert!(
        a.data.rows.iter().all(|r| r.mark == Mark::None),
        "first snapshot has no marks"
    );
    // :80 closes, 40100 changes state, 41000 is new.
    let s = Arc::new(changed());
    a.snapshot(Arc::unwrap_or_clone(s.clone()));
    let mark = |a: &App, p: u16| {
        a.data
            .rows
            .iter()
            .find(|r| r.sock.local.port == p)
            .map(|r| r.mark)
    };
    assert_eq!(mark(&a, 41000), Some(Mark::New));
    assert_eq!(mark(&a, 40100), Some(Mark::Changed));
    assert_eq!(mark(&a, 80), Some(Mark::Closed));
    assert_eq!(mark(&a, 443), Some(Mark::None));
    assert_eq!(a.len(), 9, "the closed row stays visible");
    a.snapshot(Arc::unwrap_or_clone(s.clone()));
    assert_eq!(
        mark(&a, 80),
        Some(Mark::Closed),
        "kept for keep-closed=2 refreshes"
    );
    assert_eq!(mark(&a, 41000), Some(Mark::New));
    a.snapshot(Arc::unwrap_or_clone(s));
    assert_eq!(mark(&a, 80), None, "gone after keep-closed refreshes");
    assert_eq!(mark(&a, 41000), Some(Mark::None));
    assert_eq!(mark(&a, 40100), Some(Mark::None));
    assert_eq!(a.len(), 8);
}

#[test]
fn a_new_socket_on_the_tuple_of_a_closed_one_is_new() {
    let mut a = app();
    let mut s = base();
    s.sockets[0].inode = Some(777); // :443 listener replaced by another socket
    a.snapshot(s);
    let marks: Vec<Mark> = a
        .data
        .rows
        .iter()
        .filter(|r| r.sock.local.port == 443)
        .map(|r| r.mark)
        .collect();
    assert!(
        marks.contains(&Mark::New) && marks.contains(&Mark::Closed),
        "{marks:?}"
    );
}

#[test]
fn filter_prompt_applies_rejects_bad_input_and_clears() {
    let mut a = app();
    a.apply(Action::OpenFilter);
    for c in "port:443".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.spec.filter.to_string(), "port:443");
    assert_eq!(a.len(), 3);
    assert!(a.listing.sockets().iter().all(|i| {
        let s = &a.data.rows[*i].sock;
        s.local.port == 443 || s.remote.map(|r| r.port) == Some(443)
    }));
    a.apply(Action::OpenFilter);
    a.apply(Action::FilterInput(' '));
    for c in "state:bogus".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    assert!(
        matches!(a.mode, Mode::Filter(_)),
        "prompt stays open on error"
    );
    assert!(a.status.as_deref().unwrap_or("").contains("unknown state"));
    assert_eq!(a.spec.filter.to_string(), "port:443", "old filter kept");
    a.apply(Action::FilterCancel);
    assert_eq!(
        a.spec.filter.to_string(),
        "port:443",
        "Esc in the prompt only closes it"
    );
    assert_eq!(a.mode, Mode::Normal);
    a.apply(Action::Close);
    assert!(
        a.spec.filter.is_empty(),
        "Esc on the table then clears the filter"
    );
    assert_eq!(a.len(), 8);
}

#[test]
fn views_select_and_group() {
    let mut a = app();
    a.apply(Action::View(View::Listening));
    assert_eq!(a.len(), 4);
    a.apply(Action::View(View::Established));
    assert_eq!(a.len(), 3);
    a.apply(Action::View(View::Ephemeral));
    assert_eq!(a.listing.dests().len(), 2);
    let d = &a.listing.dests()[0];
    assert_eq!(
        (d.remote, d.ports, d.time_wait),
        (ep("10.0.0.5", 443), 2, 1)
    );
    a.apply(Action::View(View::Processes));
    let nginx = a
        .listing
        .procs()
        .iter()
        .find(|p| p.pid == Some(100))
        .map(|p| (p.listening, p.established));
    assert_eq!(nginx, Some((2, 0)));
    let pg = a
        .listing
        .procs()
        .iter()
        .find(|p| p.pid == Some(300))
        .map(|p| (p.listening, p.established, p.ephemeral));
    assert_eq!(pg, Some((1, 1, 1)));
    // Enter on a process shows its sockets.
    let i = a
        .listing
        .procs()
        .iter()
        .position(|p| p.pid == Some(300))
        .unwrap_or(0);
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
    a.apply(Action::Open);
    assert_eq!((a.spec.view, a.len()), (View::All, 2));
    a.apply(Action::NextView);
    assert_eq!(a.spec.view, View::Listening);
}

#[test]
fn pause_ignores_snapshots_until_resumed() {
    let mut a = app();
    assert_eq!(a.apply(Action::TogglePause), Some(Effect::SetPaused(true)));
    let mut s = base();
    s.sockets.clear();
    let s = Arc::new(s);
    a.snapshot(Arc::unwrap_or_clone(s.clone()));
    assert_eq!(a.len(), 8);
    assert_eq!(a.apply(Action::TogglePause), Some(Effect::SetPaused(false)));
    a.snapshot(Arc::unwrap_or_clone(s));
    assert_eq!(a.len(), 8, "all closed, kept visible");
    assert!(a.data.rows.iter().all(|r| r.mark == Mark::Closed));
}

#[test]
fn interval_steps_and_kill_confirmation() {
    let mut a = app();
    assert_eq!(
        a.apply(Action::Slower),
        Some(Effect::SetInterval(Duration::from_secs(2)))
    );
    a.apply(Action::Faster);
    a.apply(Action::Faster);
    a.apply(Action::Faster);
    assert_eq!(
        a.apply(Action::Faster),
        Some(Effect::SetInterval(Duration::from_millis(250)))
    );
    a.apply(Action::Home); // sorted by proto then local: first row has pid 100
                           // K asks the runtime to pin every owner; the dialog opens on its answer.
    let pids: Vec<u32> = a
        .selected_row()
        .map(|r| r.sock.pids.iter().copied().collect())
        .unwrap_or_default();
    match a.apply(Action::Kill) {
        Some(Effect::Pin(owners)) => {
            assert_eq!(owners.iter().map(|o| o.0).collect::<Vec<_>>(), pids);
            assert_eq!(owners[0].1, "nginx");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(a.mode, Mode::Normal);
    // Nothing could be pinned: one line, no dialog.
    a.receive(Msg::Pinned(vec![Err("pid 100 no longer exists".into())]));
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.status.as_deref(), Some("pid 100 no longer exists"));
    // Pinned (this test's own process stands in): k = SIGKILL to every target.
    let me = crate::actions::pin(std::process::id(), "me").expect("pin self");
    a.receive(Msg::Pinned(vec![Ok(me.clone()), Err("gone".into())]));
    assert!(
        matches!(&a.mode, Mode::Confirm { targets, gone } if targets.len() == 1 && gone.len() == 1)
    );
    assert_eq!(
        a.apply(Action::ConfirmKill),
        Some(Effect::Signal(vec![me.clone()], crate::actions::Sig::Kill))
    );
    a.receive(Msg::Pinned(vec![Ok(me.clone())]));
    assert_eq!(
        a.apply(Action::ConfirmYes),
        Some(Effect::Signal(vec![me], crate::actions::Sig::Term))
    );
    assert_eq!(a.mode, Mode::Normal);
    // A socket without a pid: a message, no dialog.
    a.apply(Action::OpenFilter);
    for c in "state:time-wait".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    a.apply(Action::Kill);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.status.as_deref().unwrap_or("").contains("no process"));
    let mut r = Fed::new(App::new(Filter::default(), Duration::from_secs(1), true));
    r.snapshot(base());
    r.apply(Action::Kill);
    assert!(r.status.as_deref().unwrap_or("").contains("--replay"));
}

/// Applies the action of each key, as the runtime does.
fn press(a: &mut App, keys: &[(KeyCode, KeyModifiers)]) -> Vec<Option<Effect>> {
    keys.iter()
        .map(|(c, m)| {
            let ev = KeyEvent::new(*c, *m);
            crate::tui::keys::action_for(&ev, &a.mode).and_then(|act| a.apply(act))
        })
        .collect()
}

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
const ESC: (KeyCode, KeyModifiers) = (KeyCode::Esc, KeyModifiers::NONE);

fn k(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), KeyModifiers::NONE)
}

fn typed(a: &mut App, s: &str) {
    let keys: Vec<_> = s.chars().map(k).collect();
    press(a, &keys);
}

#[test]
fn esc_closes_the_innermost_thing_and_never_quits() {
    let mut a = app();
    // Help, then the details pane, then the kill dialog: Esc closes each.
    for open in ['?', '\n', 'K'] {
        let key = if open == '\n' {
            (KeyCode::Enter, KeyModifiers::NONE)
        } else {
            k(open)
        };
        // (K's dialog opens when the runtime has pinned the owners)
        if let [Some(Effect::Pin(_))] = press(&mut a, &[key])[..] {
            let me = crate::actions::pin(std::process::id(), "me").map_err(|e| e.to_string());
            a.receive(Msg::Pinned(vec![me]));
        }
        assert_ne!(a.mode, Mode::Normal, "{open:?} opens something");
        assert_eq!(press(&mut a, &[ESC]), [None]);
        assert_eq!(a.mode, Mode::Normal, "Esc closes what {open:?} opened");
    }
    // Ephemeral view, drill into a group with a filter active, Esc steps back out.
    press(&mut a, &[k('/')]);
    typed(&mut a, "tcp");
    press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE), k('4')]);
    assert_eq!((a.spec.view, a.listing.dests().len()), (View::Ephemeral, 2));
    press(&mut a, &[k('j')]);
    let group = a.listing.dests()[1].remote;
    press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE)]);
    assert_eq!(a.spec.view, View::All, "a group's sockets");
    assert!(a.drill.is_some());
    press(&mut a, &[k('/')]);
    assert!(matches!(a.mode, Mode::Filter(_)));
    press(&mut a, &[ESC]);
    assert_eq!(
        (a.mode.clone(), a.spec.view),
        (Mode::Normal, View::All),
        "first the prompt"
    );
    press(&mut a, &[ESC]);
    assert_eq!(a.spec.view, View::Ephemeral, "then back to the group list");
    assert_eq!(
        a.listing.dests()[a.cursor.selected].remote,
        group,
        "on the same group"
    );
    assert_eq!(a.spec.filter.to_string(), "tcp", "with its filter");
    press(&mut a, &[ESC]);
    assert!(a.spec.filter.is_empty(), "then the filter");
    assert_eq!(press(&mut a, &[ESC, ESC]), [None, None], "never quits");
    assert!(a.status.as_deref().unwrap_or("").contains("q quits"));
    // q in the help closes the help; q on the table and Ctrl-C anywhere quit.
    press(&mut a, &[k('?'), k('q')]);
    assert_eq!(a.mode, Mode::Normal);
    let ctrl_c = (KeyCode::Char('c'), KeyModifiers::CONTROL);
    press(&mut a, &[k('?')]);
    assert_eq!(press(&mut a, &[ctrl_c]), [Some(Effect::Quit)]);
    let mut b = app();
    assert_eq!(press(&mut b, &[k('q')]), [Some(Effect::Quit)]);
}

#[test]
fn shift_tab_goes_back_ctrl_l_redraws_and_backspace_leaves_a_drill_down() {
    let mut a = app();
    let back_tab = (KeyCode::BackTab, KeyModifiers::SHIFT);
    press(&mut a, &[back_tab]);
    assert_eq!(a.spec.view, View::Namespaces, "wraps to the last tab");
    press(&mut a, &[back_tab]);
    assert_eq!(a.spec.view, View::Processes);
    press(&mut a, &[back_tab]);
    assert_eq!(a.spec.view, View::Ephemeral);
    press(&mut a, &[(KeyCode::Tab, KeyModifiers::NONE)]);
    assert_eq!(a.spec.view, View::Processes);
    assert_eq!(
        press(&mut a, &[(KeyCode::Char('l'), KeyModifiers::CONTROL)]),
        [Some(Effect::Redraw)]
    );
    let i = a
        .listing
        .procs()
        .iter()
        .position(|p| p.pid == Some(300))
        .unwrap_or(0);
    a.apply(Action::Select(i));
    press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE)]);
    assert_eq!((a.spec.view, a.len()), (View::All, 2));
    press(&mut a, &[(KeyCode::Backspace, KeyModifiers::NONE)]);
    assert_eq!(a.spec.view, View::Processes);
    assert_eq!(
        a.listing.procs()[a.cursor.selected].pid,
        Some(300),
        "the same process again"
    );
    assert!(a.spec.filter.is_empty());
    press(&mut a, &[(KeyCode::Backspace, KeyModifiers::NONE)]);
    assert_eq!(a.spec.view, View::Processes, "nothing more to go back to");
    assert!(a
        .status
        .as_deref()
        .unwrap_or("")
        .contains("nothing to go back"));
}

#[test]
fn the_filter_prompt_edits_like_a_shell_line_with_history() {
    use KeyCode::*;
    let n = KeyModifiers::NONE;
    let ctrl = KeyModifiers::CONTROL;
    let mut a = app();
    press(&mut a, &[k('/')]);
    typed(&mut a, "port:443 proc:ngin");
    // Home, a word in front; End; Ctrl-W drops the last word; Ctrl-U all.
    press(&mut a, &[(Home, n)]);
    typed(&mut a, "tcp ");
    press(&mut a, &[(End, n), (Char('w'), ctrl)]);
    let text = |a: &App| match &a.mode {
        Mode::Filter(l) => l.text.clone(),
        _ => String::from("<closed>"),
    };
    assert_eq!(text(&a), "tcp port:443 ");
    press(&mut a, &[(Left, n), (Left, n), (Backspace, n)]);
    typed(&mut a, "5");
    assert_eq!(text(&a), "tcp port:453 ");
    press(&mut a, &[(Right, n), (Backspace, n), (Enter, n)]);
    assert_eq!(a.spec.filter.to_string(), "tcp port:45");
    press(&mut a, &[k('/'), (Char('u'), ctrl)]);
    assert_eq!(text(&a), "");
    typed(&mut a, "udp");
    press(&mut a, &[(Enter, n)]);
    // History: Up brings the older filters back, Down returns to the draft.
    press(&mut a, &[k('/'), (Char('u'), ctrl)]);
    typed(&mut a, "x");
    press(&mut a, &[(Up, n)]);
    assert_eq!(text(&a), "udp");
    press(&mut a, &[(Up, n)]);
    assert_eq!(text(&a), "tcp port:45");
    press(&mut a, &[(Down, n), (Down, n)]);
    assert_eq!(text(&a), "x");
    press(&mut a, &[(Up, n), (Enter, n)]);
    assert_eq!(a.spec.filter.to_string(), "udp");
}

#[test]
fn every_view_sorts_by_any_column_and_by_age() {
    let mut a = app();
    // Ephemeral: busiest first, then by TIME-WAIT, then by destination.
    a.apply(Action::View(View::Ephemeral));
    assert_eq!(a.listing.dests()[0].ports, 2);
    a.apply(Action::SortBy(SortKey::Dest(DestCol::Destination)));
    let remotes: Vec<_> = a
        .listing
        .dests()
        .iter()
        .map(|d| d.remote.to_string())
        .collect();
    assert_eq!(remotes, ["10.0.0.5:443", "[2001:db8::2]:8080"]);
    a.apply(Action::SortBy(SortKey::Dest(DestCol::Destination)));
    let remotes: Vec<_> = a
        .listing
        .dests()
        .iter()
        .map(|d| d.remote.to_string())
        .collect();
    assert_eq!(
        remotes,
        ["[2001:db8::2]:8080", "10.0.0.5:443"],
        "again: reversed"
    );
    a.apply(Action::SortNext);
    assert_eq!(a.sort_key().0, SortKey::Dest(DestCol::Local));
    // Processes: by name, by ephemeral ports (largest first).
    a.apply(Action::View(View::Processes));
    a.apply(Action::SortBy(SortKey::Proc(ProcCol::Process)));
    let names: Vec<_> = a.listing.procs().iter().map(|p| p.name.clone()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    a.apply(Action::SortBy(SortKey::Proc(ProcCol::Ephemeral)));
    assert_eq!(
        a.listing.procs()[0].ephemeral,
        a.listing
            .procs()
            .iter()
            .map(|p| p.ephemeral)
            .max()
            .unwrap_or(0)
    );
    a.apply(Action::SortReverse);
    assert_eq!(a.listing.procs()[0].ephemeral, 0);
    // Age: new, changed and closed rows of the last refresh first.
    a.apply(Action::View(View::All));
    a.snapshot(changed());
    a.apply(Action::SortAge);
    let marks: Vec<Mark> = a
        .listing
        .sockets()
        .iter()
        .take(3)
        .map(|i| a.data.rows[*i].mark)
        .collect();
    assert!(marks.iter().all(|m| *m != Mark::None), "{marks:?}");
    assert_eq!(a.data.rows[a.listing.sockets()[3]].mark, Mark::None);
}

#[test]
fn the_column_chooser_hides_and_shows_columns() {
    let mut a = app();
    press(&mut a, &[k('c')]);
    assert_eq!(a.mode, Mode::Columns(0));
    press(&mut a, &[k('j'), k(' ')]);
    assert_eq!(a.hidden, [Col::LocalAddr]);
    press(&mut a, &[k(' ')]);
    assert!(a.hidden.is_empty());
    press(&mut a, &[k(' '), ESC]);
    assert_eq!(
        (a.hidden.clone(), a.mode.clone()),
        (vec![Col::LocalAddr], Mode::Normal)
    );
}

#[test]
fn y_copies_the_row_m_toggles_the_mouse_and_w_saves_the_view() {
    let mut a = app();
    a.apply(Action::Home);
    let copied = press(&mut a, &[k('y')]);
    assert_eq!(
        copied,
        [Some(Effect::Copy(
            "tcp 0.0.0.0:80 * LISTEN pid 100 nginx user alice".into()
        ))]
    );
    assert_eq!(press(&mut a, &[k('m')]), [Some(Effect::Mouse(false))]);
    assert!(!a.mouse);
    assert_eq!(press(&mut a, &[k('m')]), [Some(Effect::Mouse(true))]);
    // w: a prompt with a file name; the ending picks the format.
    press(&mut a, &[k('w')]);
    let Mode::Save(l) = &a.mode else {
        panic!("save prompt: {:?}", a.mode)
    };
    assert!(
        l.text.starts_with("porttop-all-") && l.text.ends_with(".csv"),
        "{}",
        l.text
    );
    let eff = press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE)]);
    let Some(Some(Effect::Save { path, data, rows })) = eff.into_iter().next() else {
        panic!("no save effect")
    };
    assert!(path.ends_with(".csv"));
    assert_eq!(rows, 8);
    let csv = String::from_utf8(data).unwrap_or_default();
    assert_eq!(csv.lines().count(), 9, "{csv}");
    assert!(csv.starts_with("proto,family,local_addr"));
    // JSON of the Processes view.
    press(
        &mut a,
        &[k('5'), k('w'), (KeyCode::Char('u'), KeyModifiers::CONTROL)],
    );
    typed(&mut a, "procs.json");
    let eff = press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE)]);
    let Some(Some(Effect::Save { data, rows, .. })) = eff.into_iter().next() else {
        panic!("no save effect")
    };
    let v: serde_json::Value = serde_json::from_slice(&data).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(rows));
    assert!(v[0]["name"].is_string());
    // A name without .csv/.json: the prompt stays and says why.
    press(
        &mut a,
        &[k('w'), (KeyCode::Char('u'), KeyModifiers::CONTROL)],
    );
    typed(&mut a, "view.txt");
    assert_eq!(
        press(&mut a, &[(KeyCode::Enter, KeyModifiers::NONE)]),
        [None]
    );
    assert!(matches!(a.mode, Mode::Save(_)));
    assert!(a.status.as_deref().unwrap_or("").contains(".csv or .json"));
}

/// What the collector thread does: analyse, merge and list with its own
/// `Preparer`, for the spec the app shares.
fn prepared(
    prep: &mut crate::tui::prep::Preparer,
    spec: &crate::tui::prep::SharedSpec,
    s: crate::model::Snapshot,
) -> Msg {
    let alerts = crate::analysis::Analyzer::new(Default::default(), crate::tui::alerts::TOP)
        .analyze(&s)
        .into();
    let (version, view) = spec.get().unwrap();
    Msg::Prepared(Box::new(prep.prepare(s, alerts, &view, version)))
}

/// An app as the runtime sets it up: the spec shared with a collector's
/// `Preparer`, which has prepared the base snapshot.
fn with_collector() -> (
    App,
    crate::tui::prep::SharedSpec,
    crate::tui::prep::Preparer,
) {
    let mut a = App::new(Filter::default(), Duration::from_secs(1), false);
    a.apply(Action::Viewport(5));
    let spec = a.share_spec();
    let mut prep = crate::tui::prep::Preparer::new(2, crate::feed::Feed::privileged());
    a.receive(prepared(&mut prep, &spec, base()));
    (a, spec, prep)
}

#[test]
fn a_prepared_refresh_is_shown_as_listed_off_the_ui_thread() {
    let (mut a, spec, mut prep) = with_collector();
    let mut b = app();
    assert_eq!(ports(&a), ports(&b), "same as preparing on the UI thread");
    assert_eq!(a.counts(), b.counts());

    a.apply(Action::Down);
    a.receive(prepared(&mut prep, &spec, changed()));
    b.apply(Action::Down);
    b.snapshot(changed());
    assert_eq!(ports(&a), ports(&b));
    assert_eq!(
        sel_port(&a),
        sel_port(&b),
        "the selection sticks to its row"
    );
    assert_eq!(a.marked(), b.marked());
    assert!(a.marked() > 0);
    // The rows the refresh replaced go back to the runtime (to be freed on the
    // collector thread), not dropped here.
    assert!(a.take_retired().is_some_and(|r| !r.is_empty()));
    assert!(a.take_retired().is_none());
}

#[test]
fn a_sort_change_during_a_refresh_is_not_lost() {
    let (mut a, spec, mut prep) = with_collector();
    // The collector lists the next refresh for the old sort order ...
    let stale = prepared(&mut prep, &spec, changed());
    // ... while the user sorts by port and filters.
    while a.spec.sort != Col::LocalPort {
        a.apply(Action::SortNext);
    }
    a.apply(Action::SortReverse);
    assert_eq!(
        spec.get().unwrap().1,
        a.spec,
        "the collector sees the new spec"
    );
    a.receive(stale);
    let p = ports(&a);
    let mut want = p.clone();
    want.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(p, want, "listed again for the new order: {p:?}");
    assert!(p.contains(&41000), "and it is the new refresh");
}

#[test]
fn enter_on_an_ephemeral_group_lists_exactly_its_sockets() {
    // The case: 127.0.0.1 -> 127.0.0.1:15558 (2 sockets) next to sockets
    // toward 127.0.0.2:15558, from 127.0.0.2, and to another port of 127.0.0.1.
    use Proto::Tcp;
    use SockState::Established;
    let c = |l: &str, lp, r: &str, rp, i| {
        sock(Tcp, ep(l, lp), Some(ep(r, rp)), Established, i, Some(200))
    };
    let s = snap(
        vec![
            c("127.0.0.1", 40100, "127.0.0.1", 15558, 1),
            c("127.0.0.1", 40101, "127.0.0.1", 15558, 2),
            c("127.0.0.1", 40102, "127.0.0.2", 15558, 3),
            c("127.0.0.1", 40103, "127.0.0.2", 15558, 4),
            c("127.0.0.1", 40104, "127.0.0.2", 15558, 5),
            c("127.0.0.2", 40105, "127.0.0.1", 15558, 6),
            c("127.0.0.1", 40106, "127.0.0.1", 15559, 7),
        ],
        T0,
    );
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.apply(Action::Viewport(10));
    a.snapshot(s);
    a.apply(Action::View(View::Ephemeral));
    let i = a
        .listing
        .dests()
        .iter()
        .position(|d| d.remote == ep("127.0.0.1", 15558) && d.local == ep("127.0.0.1", 0).addr)
        .expect("the group");
    assert_eq!(a.listing.dests()[i].ports, 2);
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
    a.apply(Action::Open);
    assert_eq!(a.spec.view, View::All);
    let mut got = ports(&a);
    got.sort_unstable();
    assert_eq!(got, vec![40100, 40101], "filter: {}", a.spec.filter);
}

#[test]
fn sockets_without_a_process_say_why_and_the_unowned_group_has_no_user() {
    // SAFETY: geteuid has no preconditions.
    let root = crate::feed::Feed::privileged();
    let mut a = app();
    // The TIME-WAIT row (no inode): nobody holds it, whoever asks.
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
    a.apply(Action::Kill);
    let st = a.status.clone().unwrap_or_default();
    assert!(st.contains("no process holds a TIME-WAIT"), "{st}");
    // A socket with an inode and no known owner: as root, never "run as root".
    let mut s = base();
    s.sockets[0].pids.clear();
    let mut b = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    b.apply(Action::Viewport(10));
    b.snapshot(s);
    let i = b
        .listing
        .sockets()
        .iter()
        .position(|i| {
            b.data.rows[*i].sock.local.port == 443 && b.data.rows[*i].sock.remote.is_none()
        })
        .expect("443 listener");
    b.apply(Action::Home);
    for _ in 0..i {
        b.apply(Action::Down);
    }
    b.apply(Action::Kill);
    let st = b.status.clone().unwrap_or_default();
    assert_eq!(st.contains("run as root"), !root, "{st}");
    if root {
        assert!(st.contains("PID namespace"), "{st}");
    }
    // Processes view: sockets of no known process are not filed under a user.
    a.apply(Action::View(View::Processes));
    let none = a
        .listing
        .procs()
        .iter()
        .find(|p| p.pid.is_none())
        .expect("the - group");
    assert_eq!(none.user, "-");
}

/// Selects the first row of the listing that `f` accepts.
fn select_where(a: &mut Fed, f: impl Fn(&crate::model::Socket) -> bool) {
    let i = a
        .listing
        .sockets()
        .iter()
        .position(|i| f(&a.data.rows[*i].sock))
        .expect("a matching row");
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
}

#[test]
fn close_asks_naming_both_ends_and_refuses_what_it_cannot_close() {
    let estab =
        |s: &crate::model::Socket| s.proto == Proto::Tcp && s.state == SockState::Established;
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.apply(Action::Viewport(20));
    let mut sn = base();
    let i = sn.sockets.iter().position(estab).expect("an ESTAB socket");
    let mut other = sn.sockets[i].clone();
    other.netns = 7;
    other.local.port = 50999;
    sn.sockets.push(other);
    let listed = sn.clone();
    a.snapshot(sn);
    select_where(&mut a, |s| estab(s) && s.netns == 0);
    let want = a.selected_row().map(|r| r.sock.clone()).expect("row");
    assert_eq!(a.apply(Action::CloseConn), None);
    let Mode::CloseConfirm(c) = a.mode.clone() else {
        panic!("{:?}", a.mode)
    };
    assert_eq!(*c.sock, want);
    assert!(c.owner.starts_with("pid "), "{}", c.owner);
    assert_eq!(a.apply(Action::ConfirmKill), None, "k does not close");
    assert_eq!(a.apply(Action::ConfirmYes), Some(Effect::CloseSocket(c)));
    assert_eq!(a.mode, Mode::Normal);
    a.apply(Action::CloseConn);
    a.apply(Action::ConfirmNo);
    assert_eq!(a.status.as_deref(), Some("not closed"));
    // A namespace the snapshot does not list: refused with a line, no dialog.
    select_where(&mut a, |s| s.netns == 7);
    a.apply(Action::CloseConn);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a
        .status
        .as_deref()
        .unwrap_or("")
        .contains("network namespace is gone"));
    // Listed: the dialog names it and the effect carries its way in.
    let mut listed = listed;
    let web = crate::model::Netns {
        inode: 7,
        name: "web".into(),
        own: false,
        container: None,
        range: listed.range.clone(),
        counters: None,
        handle: Some(crate::model::NsHandle::new(std::sync::Arc::new(
            std::fs::File::open(std::env::current_exe().unwrap()).unwrap(),
        ))),
    };
    listed.netns = vec![web.clone()];
    a.snapshot(listed);
    select_where(&mut a, |s| s.netns == 7);
    a.apply(Action::CloseConn);
    let Mode::CloseConfirm(c) = a.mode.clone() else {
        panic!("{:?} {:?}", a.mode, a.status)
    };
    assert_eq!(c.netns.as_deref(), Some(&web));
    // the snapshot's own handle (what keeps the namespace alive), not a copy
    let held = |n: Option<&crate::model::Netns>| n.and_then(|n| n.handle.clone());
    assert!(held(c.netns.as_deref())
        .zip(held(Some(&web)))
        .is_some_and(|(a, b)| a.same(&b)));
    assert_eq!(c.netns_note(), " in netns web");
    assert_eq!(a.apply(Action::ConfirmYes), Some(Effect::CloseSocket(c)));
    // UDP / TIME-WAIT: not closable.
    select_where(&mut a, |s| s.state == SockState::TimeWait);
    a.apply(Action::CloseConn);
    assert!(a
        .status
        .as_deref()
        .unwrap_or("")
        .contains("cannot be closed"));
    // A grouped view: no socket selected.
    a.apply(Action::View(View::Processes));
    a.apply(Action::CloseConn);
    assert!(a
        .status
        .as_deref()
        .unwrap_or("")
        .contains("select a connection"));
    // --replay: refused.
    let mut r = Fed::new(App::new(Filter::default(), Duration::from_secs(1), true));
    r.snapshot(base());
    r.apply(Action::CloseConn);
    assert!(r.status.as_deref().unwrap_or("").contains("--replay"));
}

#[test]
fn processes_and_destinations_sum_their_sockets_rates_and_sort_by_them() {
    use crate::model::conn::{ConnInfo, Rates};
    let mut sn = base();
    // The pid with the most sockets: each of them moves rx 100·k, tx 10·k bytes/s.
    let mut by_pid = std::collections::BTreeMap::<u32, usize>::new();
    for s in &sn.sockets {
        if let Some(p) = s.pids.first() {
            *by_pid.entry(*p).or_default() += 1;
        }
    }
    let (&pid, &n) = by_pid.iter().max_by_key(|(_, n)| **n).expect("a pid");
    assert!(n >= 2, "base() has a pid with two sockets");
    let (mut want_rx, mut want_tx, mut k) = (0.0, 0.0, 0.0);
    for s in sn
        .sockets
        .iter_mut()
        .filter(|s| s.pids.first() == Some(&pid))
    {
        k += 1.0;
        let (rx, tx) = (100.0 * k, 10.0 * k);
        want_rx += rx;
        want_tx += tx;
        s.conn = Some(Box::new(ConnInfo {
            rates: Some(Rates {
                rx_bps: rx,
                tx_bps: tx,
                retrans_recent: 0,
            }),
            ..Default::default()
        }));
    }
    let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
    a.apply(Action::Viewport(20));
    a.snapshot(sn);
    a.apply(Action::View(View::Processes));
    a.apply(Action::SortBy(SortKey::Proc(ProcCol::RxRate)));
    assert!(a.sort_key().1, "a rate sorts largest first");
    let top = &a.listing.procs()[0];
    assert_eq!(top.pid, Some(pid));
    assert_eq!((top.rx_bps, top.tx_bps), (want_rx, want_tx));
    assert!(a.listing.procs()[1..].iter().all(|p| p.rx_bps == 0.0));
    // Ephemeral view: each destination sums its own sockets' rates.
    a.apply(Action::View(View::Ephemeral));
    a.apply(Action::SortBy(SortKey::Dest(DestCol::TxRate)));
    let d = a.listing.dests();
    let total: f64 = d.iter().map(|d| d.tx_bps).sum();
    assert!(total <= want_tx, "{total} {want_tx}");
    assert!(d.windows(2).all(|w| w[0].tx_bps >= w[1].tx_bps));
}

#[test]
fn the_detail_asked_for_follows_the_columns_the_view_and_the_rows_on_screen() {
    use crate::model::conn::Shown;
    let mut a = app();
    let on_screen = |a: &App| -> Vec<(u64, u64)> {
        let v = a.listing.sockets();
        let from = a.cursor.offset.min(v.len());
        v[from..(from + a.page).min(v.len())]
            .iter()
            .map(|i| &a.data.rows[*i].sock)
            .filter_map(|s| Some((s.netns, s.inode.filter(|i| *i != 0)?)))
            .collect()
    };
    // The default columns show RX/s, TX/s, RTT...: the rows on screen only.
    let cell = a.app.share_shown();
    let first = on_screen(&a);
    assert!(!first.is_empty() && first.len() <= 5, "{first:?}");
    assert_eq!(cell.take(), Some(Shown::Rows(first.clone())));
    // Scrolling changes them; the feed is told once.
    a.apply(Action::End);
    a.app.publish_shown();
    let last = on_screen(&a);
    assert_ne!(last, first);
    assert_eq!(cell.take(), Some(Shown::Rows(last)));
    a.app.publish_shown();
    assert_eq!(cell.take(), None, "unchanged: not published again");
    // A sort by a rate needs every socket's.
    a.apply(Action::SortBy(SortKey::Sock(Col::RxRate)));
    assert_eq!(a.shown_detail(), Shown::All);
    a.apply(Action::SortBy(SortKey::Sock(Col::Proto)));
    assert!(matches!(a.shown_detail(), Shown::Rows(_)));
    // No detail column shown: none, unless the details pane is open.
    a.app.hidden = Col::ALL.into_iter().filter(|c| c.is_detail()).collect();
    assert_eq!(a.shown_detail(), Shown::Nothing);
    a.apply(Action::Open);
    assert!(matches!(a.mode, Mode::Details { .. }));
    assert!(matches!(a.shown_detail(), Shown::Rows(v) if !v.is_empty()));
    a.apply(Action::Close);
    // The grouped views: Processes and Ephemeral sum every socket's rates,
    // Namespaces shows none.
    a.apply(Action::View(View::Processes));
    assert_eq!(a.shown_detail(), Shown::All);
    a.apply(Action::View(View::Ephemeral));
    assert_eq!(a.shown_detail(), Shown::All);
    a.apply(Action::View(View::Namespaces));
    assert_eq!(a.shown_detail(), Shown::Nothing);
}

#[test]
fn a_sort_started_from_the_last_order_ends_as_a_sort_from_scratch() {
    // The preparer starts each sort from the last refresh's order (a hint);
    // rows that changed state, appeared or closed must still land where a
    // sort from scratch puts them.
    for col in [Col::State, Col::LocalPort, Col::Age, Col::Proto] {
        let mut a = app();
        a.apply(Action::SortBy(SortKey::Sock(col)));
        a.snapshot(base());
        a.snapshot(changed());
        let snap = a.data.snap.clone().expect("snapshot");
        let fresh = prep::listing(&a.data.rows, &snap, &a.spec, &a.data.alerts);
        assert_eq!(a.listing, fresh, "{col:?}");
        a.apply(Action::SortReverse);
        a.snapshot(base());
        let snap = a.data.snap.clone().expect("snapshot");
        let fresh = prep::listing(&a.data.rows, &snap, &a.spec, &a.data.alerts);
        assert_eq!(a.listing, fresh, "{col:?} reversed");
    }
}
