use super::*;
use crate::model::{Proto, SockState};
use crate::tui::rows::Mark;
use crate::tui::test_fixture::{base, changed, ep, snap, sock, T0};

fn app() -> App {
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Viewport(5));
    a.apply(Action::Snapshot(Arc::new(base())));
    a
}

fn ports(a: &App) -> Vec<u16> {
    a.visible
        .iter()
        .map(|i| a.rows[*i].sock.local.port)
        .collect()
}

fn sel_port(a: &App) -> u16 {
    a.selected_row().map(|r| r.sock.local.port).unwrap_or(0)
}

#[test]
fn sorting_by_port_is_numeric_and_reversible() {
    let mut a = app();
    while a.sort != Col::LocalPort {
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
    a.apply(Action::Snapshot(Arc::new(snap(many, T0 + 1000))));
    a.apply(Action::SortNext);
    assert_eq!(a.len(), 40_008);
}

#[test]
fn selection_sticks_to_the_same_socket_when_rows_arrive_above() {
    let mut a = app();
    while a.sort != Col::LocalPort {
        a.apply(Action::SortNext);
    }
    a.apply(Action::Home);
    for _ in 0..4 {
        a.apply(Action::Down);
    }
    assert_eq!(sel_port(&a), 40100);
    let line = a.selected - a.offset;
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
    a.apply(Action::Snapshot(Arc::new(s)));
    assert_eq!(sel_port(&a), 40100, "selection follows the socket");
    assert_eq!(
        a.selected - a.offset,
        line,
        "and stays on the same screen line"
    );
    // The connection going to TIME-WAIT (inode lost) is still the selected row.
    let mut s = base();
    s.sockets[2].state = SockState::TimeWait;
    s.sockets[2].inode = None;
    a.apply(Action::Snapshot(Arc::new(s)));
    assert_eq!(sel_port(&a), 40100);
    assert_eq!(a.selected_row().map(|r| r.mark), Some(Mark::Changed));
}

#[test]
fn change_marks_new_changed_closed_and_their_expiry() {
    let mut a = app();
    assert!(
        a.rows.iter().all(|r| r.mark == Mark::None),
        "first snapshot has no marks"
    );
    // :80 closes, 40100 changes state, 41000 is new.
    let s = Arc::new(changed());
    a.apply(Action::Snapshot(s.clone()));
    let mark = |a: &App, p: u16| {
        a.rows
            .iter()
            .find(|r| r.sock.local.port == p)
            .map(|r| r.mark)
    };
    assert_eq!(mark(&a, 41000), Some(Mark::New));
    assert_eq!(mark(&a, 40100), Some(Mark::Changed));
    assert_eq!(mark(&a, 80), Some(Mark::Closed));
    assert_eq!(mark(&a, 443), Some(Mark::None));
    assert_eq!(a.len(), 9, "the closed row stays visible");
    a.apply(Action::Snapshot(s.clone()));
    assert_eq!(
        mark(&a, 80),
        Some(Mark::Closed),
        "kept for keep-closed=2 refreshes"
    );
    assert_eq!(mark(&a, 41000), Some(Mark::New));
    a.apply(Action::Snapshot(s));
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
    a.apply(Action::Snapshot(Arc::new(s)));
    let marks: Vec<Mark> = a
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
    assert_eq!(a.filter.to_string(), "port:443");
    assert_eq!(a.len(), 3);
    assert!(a.visible.iter().all(|i| {
        let s = &a.rows[*i].sock;
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
    assert_eq!(a.filter.to_string(), "port:443", "old filter kept");
    a.apply(Action::FilterCancel);
    assert_eq!(
        a.filter.to_string(),
        "port:443",
        "Esc after an edit only cancels it"
    );
    a.apply(Action::OpenFilter);
    a.apply(Action::FilterCancel);
    assert!(
        a.filter.is_empty(),
        "Esc on the unchanged prompt clears the filter"
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
    assert_eq!(a.dests.len(), 2);
    let d = &a.dests[0];
    assert_eq!(
        (d.remote, d.ports, d.time_wait),
        (ep("10.0.0.5", 443), 2, 1)
    );
    a.apply(Action::View(View::Processes));
    let nginx = a
        .procs
        .iter()
        .find(|p| p.pid == Some(100))
        .map(|p| (p.listening, p.established));
    assert_eq!(nginx, Some((2, 0)));
    let pg = a
        .procs
        .iter()
        .find(|p| p.pid == Some(300))
        .map(|p| (p.listening, p.established, p.ephemeral));
    assert_eq!(pg, Some((1, 1, 1)));
    // Enter on a process shows its sockets.
    let i = a.procs.iter().position(|p| p.pid == Some(300)).unwrap_or(0);
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
    a.apply(Action::Open);
    assert_eq!((a.view, a.len()), (View::All, 2));
    a.apply(Action::NextView);
    assert_eq!(a.view, View::Listening);
}

#[test]
fn pause_ignores_snapshots_until_resumed() {
    let mut a = app();
    assert_eq!(a.apply(Action::TogglePause), Some(Effect::SetPaused(true)));
    let mut s = base();
    s.sockets.clear();
    let s = Arc::new(s);
    a.apply(Action::Snapshot(s.clone()));
    assert_eq!(a.len(), 8);
    assert_eq!(a.apply(Action::TogglePause), Some(Effect::SetPaused(false)));
    a.apply(Action::Snapshot(s));
    assert_eq!(a.len(), 8, "all closed, kept visible");
    assert!(a.rows.iter().all(|r| r.mark == Mark::Closed));
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
    assert_eq!(a.apply(Action::Kill), None);
    assert!(matches!(a.mode, Mode::Confirm { .. }));
    let pid = a.selected_row().and_then(|r| r.sock.pids.first().copied());
    assert_eq!(a.apply(Action::ConfirmYes), pid.map(Effect::Kill));
    // A socket without a pid: a message, no dialog.
    a.apply(Action::OpenFilter);
    for c in "state:time-wait".chars() {
        a.apply(Action::FilterInput(c));
    }
    a.apply(Action::FilterSubmit);
    a.apply(Action::Kill);
    assert_eq!(a.mode, Mode::Normal);
    assert!(a.status.as_deref().unwrap_or("").contains("no process"));
    let mut r = App::new(Filter::default(), Duration::from_secs(1), 2, true);
    r.apply(Action::Snapshot(Arc::new(base())));
    r.apply(Action::Kill);
    assert!(r.status.as_deref().unwrap_or("").contains("--replay"));
}

#[test]
fn esc_closes_panes_before_quitting() {
    let mut a = app();
    a.apply(Action::Open);
    assert_eq!(a.mode, Mode::Details);
    assert_eq!(a.apply(Action::Close), None);
    assert_eq!(a.mode, Mode::Normal);
    assert_eq!(a.apply(Action::Close), Some(Effect::Quit));
}

/// What the collector thread does: analyse, merge and list with its own
/// `Preparer`, for the spec the app shares.
fn prepared(
    prep: &mut crate::tui::prep::Preparer,
    spec: &crate::tui::prep::SharedSpec,
    s: crate::model::Snapshot,
) -> Action {
    let alerts = crate::tui::alerts::Analyzer::default().analyze(&s);
    let (version, view) = spec.lock().unwrap().clone();
    Action::Prepared(Box::new(prep.prepare(s, alerts, &view, version)))
}

/// An app as the runtime sets it up: the spec shared with a collector's
/// `Preparer`, which has prepared the base snapshot.
fn with_collector() -> (
    App,
    crate::tui::prep::SharedSpec,
    crate::tui::prep::Preparer,
) {
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Viewport(5));
    let spec = a.share_spec();
    let mut prep = crate::tui::prep::Preparer::new(2);
    a.apply(prepared(&mut prep, &spec, base()));
    (a, spec, prep)
}

#[test]
fn a_prepared_refresh_is_shown_as_listed_off_the_ui_thread() {
    let (mut a, spec, mut prep) = with_collector();
    let mut b = app();
    assert_eq!(ports(&a), ports(&b), "same as preparing on the UI thread");
    assert_eq!(a.counts(), b.counts());

    a.apply(Action::Down);
    a.apply(prepared(&mut prep, &spec, changed()));
    b.apply(Action::Down);
    b.apply(Action::Snapshot(Arc::new(changed())));
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
    while a.sort != Col::LocalPort {
        a.apply(Action::SortNext);
    }
    a.apply(Action::SortReverse);
    assert_eq!(
        spec.lock().unwrap().1,
        a.spec(),
        "the collector sees the new spec"
    );
    a.apply(stale);
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
    let mut a = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    a.apply(Action::Viewport(10));
    a.apply(Action::Snapshot(Arc::new(s)));
    a.apply(Action::View(View::Ephemeral));
    let i = a
        .dests
        .iter()
        .position(|d| d.remote == ep("127.0.0.1", 15558) && d.local == ep("127.0.0.1", 0).addr)
        .expect("the group");
    assert_eq!(a.dests[i].ports, 2);
    a.apply(Action::Home);
    for _ in 0..i {
        a.apply(Action::Down);
    }
    a.apply(Action::Open);
    assert_eq!(a.view, View::All);
    let mut got = ports(&a);
    got.sort_unstable();
    assert_eq!(got, vec![40100, 40101], "filter: {}", a.filter);
}

#[test]
fn sockets_without_a_process_say_why_and_the_unowned_group_has_no_user() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let mut a = app();
    // The TIME-WAIT row (no inode): nobody holds it, whoever asks.
    let i = a
        .visible
        .iter()
        .position(|i| a.rows[*i].sock.local.port == 40101)
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
    let mut b = App::new(Filter::default(), Duration::from_secs(1), 2, false);
    b.apply(Action::Viewport(10));
    b.apply(Action::Snapshot(Arc::new(s)));
    let i = b
        .visible
        .iter()
        .position(|i| b.rows[*i].sock.local.port == 443 && b.rows[*i].sock.remote.is_none())
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
        .procs
        .iter()
        .find(|p| p.pid.is_none())
        .expect("the - group");
    assert_eq!(none.user, "-");
}
