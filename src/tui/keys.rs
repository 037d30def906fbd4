//! The one key table: `action_for` reads it to handle keys, the help screen
//! reads it to list them, and `hint` names a key from it for the status line,
//! so the three cannot disagree. Labels are derived from the bindings (gitui's
//! `get_hint` idea), never typed twice.

use super::app::{Action, Mode, View};
use super::line::Edit;
use ratatui::crossterm::event::{KeyCode as C, KeyEvent, KeyEventKind, KeyModifiers as M};

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// The table, nothing on top.
    Table,
    /// A prompt: `/` filter or `w` save (other printable keys are typed into it).
    Prompt,
    /// The kill confirmation dialog.
    Confirm,
    /// The close-connection confirmation dialog.
    CloseConfirm,
    /// The details pane.
    Details,
    /// The help screen.
    Help,
    /// The column chooser.
    Columns,
    /// Everywhere.
    Any,
}

impl Ctx {
    pub const ALL: [Ctx; 8] = [
        Ctx::Table,
        Ctx::Prompt,
        Ctx::Details,
        Ctx::Help,
        Ctx::Columns,
        Ctx::Confirm,
        Ctx::CloseConfirm,
        Ctx::Any,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Ctx::Table => "Table",
            Ctx::Prompt => "Prompt (/ filter, w save)",
            Ctx::Confirm => "Kill dialog",
            Ctx::CloseConfirm => "Close dialog",
            Ctx::Details => "Details pane",
            Ctx::Help => "Help",
            Ctx::Columns => "Column chooser",
            Ctx::Any => "Anywhere",
        }
    }

    fn applies(self, mode: &Mode) -> bool {
        match self {
            Ctx::Any => true,
            Ctx::Table => *mode == Mode::Normal,
            Ctx::Prompt => matches!(mode, Mode::Filter(_) | Mode::Save(_)),
            Ctx::Confirm => matches!(mode, Mode::Confirm { .. }),
            Ctx::CloseConfirm => matches!(mode, Mode::CloseConfirm(_)),
            Ctx::Details => matches!(mode, Mode::Details { .. }),
            Ctx::Help => *mode == Mode::Help,
            Ctx::Columns => matches!(mode, Mode::Columns(_)),
        }
    }
}

pub struct Binding {
    pub keys: &'static [(C, M)],
    pub ctx: Ctx,
    pub action: Action,
    /// What the binding does, as the help screen says it.
    pub help: &'static str,
}

const N: M = M::NONE;
const CT: M = M::CONTROL;
const SH: M = M::SHIFT;

const fn b(keys: &'static [(C, M)], ctx: Ctx, action: Action, help: &'static str) -> Binding {
    Binding {
        keys,
        ctx,
        action,
        help,
    }
}

use Action as A;
use Ctx::{Any, CloseConfirm, Columns, Confirm, Details, Help, Prompt, Table};

/// Every key of the dashboard, one line each. First match (in order) wins.
/// Characters match whatever Shift the terminal reports (`G` is `G`).
#[rustfmt::skip]
pub const KEYS: &[Binding] = &[
    b(&[(C::Char('c'), CT)], Any, A::Quit, "quit"),
    b(&[(C::Char('l'), CT)], Any, A::Redraw, "redraw the screen"),
    // Prompt
    b(&[(C::Enter, N)], Prompt, A::FilterSubmit, "apply the filter / save"),
    b(&[(C::Esc, N)], Prompt, A::FilterCancel, "close the prompt (the filter stays)"),
    b(&[(C::Left, N), (C::Char('b'), CT)], Prompt, A::Edit(Edit::Left), "cursor left"),
    b(&[(C::Right, N), (C::Char('f'), CT)], Prompt, A::Edit(Edit::Right), "cursor right"),
    b(&[(C::Home, N), (C::Char('a'), CT)], Prompt, A::Edit(Edit::Home), "start of the line"),
    b(&[(C::End, N), (C::Char('e'), CT)], Prompt, A::Edit(Edit::End), "end of the line"),
    b(&[(C::Backspace, N), (C::Char('h'), CT)], Prompt, A::FilterBackspace, "delete before the cursor"),
    b(&[(C::Delete, N), (C::Char('d'), CT)], Prompt, A::Edit(Edit::Delete), "delete under the cursor"),
    b(&[(C::Char('u'), CT)], Prompt, A::Edit(Edit::KillToStart), "delete to the start"),
    b(&[(C::Char('k'), CT)], Prompt, A::Edit(Edit::KillToEnd), "delete to the end"),
    b(&[(C::Char('w'), CT)], Prompt, A::Edit(Edit::KillWord), "delete the word before"),
    b(&[(C::Up, N), (C::Char('p'), CT)], Prompt, A::Edit(Edit::HistPrev), "older filter (history)"),
    b(&[(C::Down, N), (C::Char('n'), CT)], Prompt, A::Edit(Edit::HistNext), "newer filter (history)"),
    // Kill dialog
    b(&[(C::Char('y'), N), (C::Char('t'), N)], Confirm, A::ConfirmYes, "SIGTERM (every owner shown)"),
    b(&[(C::Char('k'), N), (C::Char('9'), N)], Confirm, A::ConfirmKill, "SIGKILL (every owner shown)"),
    b(&[(C::Char('n'), N), (C::Esc, N), (C::Char('q'), N)], Confirm, A::ConfirmNo, "do not kill"),
    // Close dialog
    b(&[(C::Char('y'), N)], CloseConfirm, A::ConfirmYes, "close the connection"),
    b(&[(C::Char('n'), N), (C::Esc, N), (C::Char('q'), N)], CloseConfirm, A::ConfirmNo, "do not close"),
    // Details
    b(&[(C::Esc, N), (C::Enter, N), (C::Char('q'), N)], Details, A::Close, "close the pane"),
    b(&[(C::Char('y'), N)], Details, A::Copy, "copy the row (OSC 52)"),
    b(&[(C::Char('K'), N)], Details, A::Kill, "signal the owning process(es)"),
    b(&[(C::Char('C'), N)], Details, A::CloseConn, "close the connection (SOCK_DESTROY)"),
    // Help
    b(&[(C::Esc, N), (C::Char('q'), N), (C::Char('?'), N), (C::Enter, N)], Help, A::Close, "close the help"),
    b(&[(C::Up, N), (C::Char('k'), N)], Help, A::Up, "scroll up"),
    b(&[(C::Down, N), (C::Char('j'), N)], Help, A::Down, "scroll down"),
    b(&[(C::PageUp, N)], Help, A::PageUp, "page up"),
    b(&[(C::PageDown, N), (C::Char(' '), N)], Help, A::PageDown, "page down"),
    // Column chooser
    b(&[(C::Esc, N), (C::Char('q'), N), (C::Char('c'), N)], Columns, A::Close, "close the chooser"),
    b(&[(C::Up, N), (C::Char('k'), N)], Columns, A::Up, "previous column"),
    b(&[(C::Down, N), (C::Char('j'), N)], Columns, A::Down, "next column"),
    b(&[(C::Char(' '), N), (C::Enter, N)], Columns, A::ToggleColumn, "show / hide the column"),
    // Table
    b(&[(C::Up, N), (C::Char('k'), N)], Table, A::Up, "previous row"),
    b(&[(C::Down, N), (C::Char('j'), N)], Table, A::Down, "next row"),
    b(&[(C::PageUp, N)], Table, A::PageUp, "page up"),
    b(&[(C::PageDown, N)], Table, A::PageDown, "page down"),
    b(&[(C::Home, N), (C::Char('g'), N)], Table, A::Home, "first row"),
    b(&[(C::End, N), (C::Char('G'), N)], Table, A::End, "last row"),
    b(&[(C::Tab, N)], Table, A::NextView, "next view"),
    b(&[(C::BackTab, N), (C::BackTab, SH)], Table, A::PrevView, "previous view"),
    b(&[(C::Char('1'), N)], Table, A::View(View::All), "view: All"),
    b(&[(C::Char('2'), N)], Table, A::View(View::Listening), "view: Listening"),
    b(&[(C::Char('3'), N)], Table, A::View(View::Established), "view: Established"),
    b(&[(C::Char('4'), N)], Table, A::View(View::Ephemeral), "view: Ephemeral (by destination)"),
    b(&[(C::Char('5'), N)], Table, A::View(View::Processes), "view: Processes"),
    b(&[(C::Char('6'), N)], Table, A::View(View::Namespaces), "view: Namespaces"),
    b(&[(C::Enter, N)], Table, A::Open, "details / a group's sockets"),
    b(&[(C::Backspace, N), (C::Left, N)], Table, A::Back, "back from a group's sockets"),
    b(&[(C::Esc, N)], Table, A::Close, "back, then clear the filter (never quits)"),
    b(&[(C::Char('s'), N)], Table, A::SortNext, "sort by the next column"),
    b(&[(C::Char('S'), N)], Table, A::SortReverse, "reverse the sort"),
    b(&[(C::Char('a'), N)], Table, A::SortAge, "sort by age (latest change first)"),
    b(&[(C::Char('/'), N)], Table, A::OpenFilter, "filter (see Filter words)"),
    b(&[(C::Char('c'), N)], Table, A::Columns, "choose columns"),
    b(&[(C::Char('K'), N)], Table, A::Kill, "signal the owning process(es)"),
    b(&[(C::Char('C'), N)], Table, A::CloseConn, "close the connection (SOCK_DESTROY)"),
    b(&[(C::Char('y'), N)], Table, A::Copy, "copy the row (OSC 52)"),
    b(&[(C::Char('w'), N)], Table, A::Save, "save the view (.csv / .json)"),
    b(&[(C::Char('m'), N)], Table, A::ToggleMouse, "mouse on / off (off: select text)"),
    b(&[(C::Char('p'), N), (C::Char(' '), N)], Table, A::TogglePause, "pause / resume refreshing"),
    b(&[(C::Char('+'), N), (C::Char('='), N)], Table, A::Slower, "longer refresh interval"),
    b(&[(C::Char('-'), N)], Table, A::Faster, "shorter refresh interval"),
    b(&[(C::Char('?'), N), (C::F(1), N)], Table, A::Help, "help (this screen)"),
    b(&[(C::Char('q'), N)], Table, A::Quit, "quit"),
];

/// The action a key press means in this mode (None: ignored).
pub fn action_for(ev: &KeyEvent, mode: &Mode) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let mut mods = ev.modifiers & (M::CONTROL | M::ALT | M::SHIFT);
    // A character carries its own case: terminals differ in reporting Shift.
    if matches!(ev.code, C::Char(_)) {
        mods.remove(M::SHIFT);
    }
    let code = match ev.code {
        // Ctrl-letters arrive lower-case from most terminals, upper from some.
        C::Char(c) if mods.contains(M::CONTROL) => C::Char(c.to_ascii_lowercase()),
        c => c,
    };
    for bind in KEYS.iter().filter(|b| b.ctx.applies(mode)) {
        if bind.keys.iter().any(|(c, m)| *c == code && *m == mods) {
            return Some(bind.action);
        }
    }
    // In a prompt, any other printable character is typed.
    if let (Mode::Filter(_) | Mode::Save(_), C::Char(c)) = (mode, ev.code) {
        if !mods.intersects(M::CONTROL | M::ALT) {
            return Some(Action::FilterInput(c));
        }
    }
    None
}

/// How a key is written on screen: `q`, `Ctrl-C`, `Shift-Tab`, `PgDn`.
pub fn key_name(code: C, mods: M) -> String {
    let base = match code {
        C::Char(' ') => "Space".to_string(),
        C::Char(c) if mods.contains(M::CONTROL) => c.to_ascii_uppercase().to_string(),
        C::Char(c) => c.to_string(),
        C::Up => "Up".into(),
        C::Down => "Down".into(),
        C::Left => "Left".into(),
        C::Right => "Right".into(),
        C::PageUp => "PgUp".into(),
        C::PageDown => "PgDn".into(),
        C::Home => "Home".into(),
        C::End => "End".into(),
        C::Tab => "Tab".into(),
        C::BackTab => return "Shift-Tab".into(),
        C::Enter => "Enter".into(),
        C::Esc => "Esc".into(),
        C::Backspace => "Bksp".into(),
        C::Delete => "Del".into(),
        C::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    };
    let mut s = String::new();
    if mods.contains(M::CONTROL) {
        s.push_str("Ctrl-");
    }
    if mods.contains(M::ALT) {
        s.push_str("Alt-");
    }
    s + &base
}

impl Binding {
    /// Every key of the binding, as the help shows them (`Up k`).
    pub fn label(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        for (c, m) in self.keys {
            let n = key_name(*c, *m);
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names.join(" ")
    }
}

/// The first key bound to `action` in `ctx` (for hints like "? help").
pub fn hint(action: &Action, ctx: Ctx) -> String {
    KEYS.iter()
        .find(|b| b.ctx == ctx && b.action == *action)
        .and_then(|b| b.keys.first())
        .map_or_else(|| "?".into(), |(c, m)| key_name(*c, *m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::line::LineEdit;

    fn key(c: C, m: M) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    fn prompt() -> Mode {
        Mode::Filter(LineEdit::default())
    }

    #[test]
    fn same_key_means_different_things_by_context() {
        let q = key(C::Char('q'), N);
        assert_eq!(action_for(&q, &Mode::Normal), Some(Action::Quit));
        assert_eq!(action_for(&q, &Mode::Help), Some(Action::Close));
        assert_eq!(action_for(&q, &prompt()), Some(Action::FilterInput('q')));
        let esc = key(C::Esc, N);
        assert_eq!(
            action_for(&esc, &Mode::Details { advice: None }),
            Some(Action::Close)
        );
        assert_eq!(action_for(&esc, &prompt()), Some(Action::FilterCancel));
        let ctrl_c = key(C::Char('c'), M::CONTROL);
        assert_eq!(action_for(&ctrl_c, &prompt()), Some(Action::Quit));
        assert_eq!(
            action_for(&key(C::Char('S'), SH), &Mode::Normal),
            Some(Action::SortReverse)
        );
        assert_eq!(
            action_for(&key(C::Char('G'), N), &Mode::Normal),
            Some(Action::End)
        );
        assert_eq!(action_for(&key(C::Char('x'), N), &Mode::Normal), None);
    }

    #[test]
    fn esc_never_quits_anywhere() {
        let esc = key(C::Esc, N);
        for mode in [
            Mode::Normal,
            Mode::Help,
            Mode::Details { advice: None },
            Mode::Columns(0),
            prompt(),
            Mode::Save(LineEdit::default()),
            Mode::Confirm {
                targets: vec![],
                gone: vec![],
            },
        ] {
            assert_ne!(action_for(&esc, &mode), Some(Action::Quit), "{mode:?}");
            assert!(action_for(&esc, &mode).is_some(), "{mode:?}");
        }
    }

    #[test]
    fn shift_tab_ctrl_l_and_the_back_key() {
        assert_eq!(
            action_for(&key(C::BackTab, SH), &Mode::Normal),
            Some(Action::PrevView)
        );
        assert_eq!(
            action_for(&key(C::Char('l'), M::CONTROL), &Mode::Help),
            Some(Action::Redraw)
        );
        assert_eq!(
            action_for(&key(C::Char('L'), M::CONTROL | SH), &Mode::Normal),
            Some(Action::Redraw)
        );
        assert_eq!(
            action_for(&key(C::Backspace, N), &Mode::Normal),
            Some(Action::Back)
        );
    }

    #[test]
    fn the_prompt_edits_like_a_shell_line() {
        for (c, m, e) in [
            (C::Left, N, Edit::Left),
            (C::Right, N, Edit::Right),
            (C::Home, N, Edit::Home),
            (C::End, N, Edit::End),
            (C::Char('a'), CT, Edit::Home),
            (C::Char('e'), CT, Edit::End),
            (C::Char('u'), CT, Edit::KillToStart),
            (C::Char('w'), CT, Edit::KillWord),
            (C::Up, N, Edit::HistPrev),
            (C::Down, N, Edit::HistNext),
        ] {
            assert_eq!(action_for(&key(c, m), &prompt()), Some(Action::Edit(e)));
        }
    }

    #[test]
    fn labels_come_from_the_bindings() {
        let label = |a: Action, ctx: Ctx| {
            KEYS.iter()
                .find(|b| b.action == a && b.ctx == ctx)
                .map(Binding::label)
        };
        assert_eq!(label(Action::Up, Ctx::Table).as_deref(), Some("Up k"));
        assert_eq!(label(Action::Quit, Ctx::Any).as_deref(), Some("Ctrl-C"));
        assert_eq!(
            label(Action::PrevView, Ctx::Table).as_deref(),
            Some("Shift-Tab")
        );
        assert_eq!(hint(&Action::Help, Ctx::Table), "?");
        assert_eq!(hint(&Action::OpenFilter, Ctx::Table), "/");
    }

    #[test]
    fn every_binding_has_keys_and_a_description_and_no_key_is_bound_twice() {
        for b in KEYS {
            assert!(!b.keys.is_empty() && !b.help.is_empty());
        }
        for (i, a) in KEYS.iter().enumerate() {
            for b in &KEYS[i + 1..] {
                let shared = a.ctx == b.ctx || a.ctx == Ctx::Any || b.ctx == Ctx::Any;
                for k in a.keys {
                    assert!(
                        !(shared && b.keys.contains(k)),
                        "{k:?} is bound to both {:?} and {:?}",
                        a.action,
                        b.action
                    );
                }
            }
        }
    }

    /// gitui's rule: a key label on screen comes from the bindings (`hint`,
    /// `Binding::label`), never typed. Every string literal of the dashboard's
    /// code (tests aside) is searched for the name of a bound key that is more
    /// than one character (`Esc`, `Enter`, `Shift-Tab`, `Ctrl-C`...): one
    /// found there was typed, and goes stale when the table changes.
    #[test]
    fn no_key_label_is_typed_outside_the_key_table() {
        let mut names: Vec<String> = KEYS
            .iter()
            .flat_map(|b| b.keys.iter().map(|(c, m)| key_name(*c, *m)))
            .filter(|n| n.chars().count() > 1)
            .collect();
        names.sort();
        names.dedup();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tui");
        let mut files = vec![];
        let mut todo = vec![dir];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut typed = vec![];
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().to_string();
            if name == "keys.rs" || name.ends_with("_tests.rs") || name.contains("test_") {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            // the code before its inline tests
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                // the string literals of the line (odd pieces between quotes)
                for lit in line.split('"').skip(1).step_by(2) {
                    let words = lit.split(|c: char| !(c.is_alphanumeric() || c == '-'));
                    for w in words {
                        if names.iter().any(|k| k == w) {
                            typed.push(format!("{}:{}: {w:?} in {lit:?}", f.display(), n + 1));
                        }
                    }
                }
            }
        }
        assert!(
            typed.is_empty(),
            "key labels typed, not derived:\n{}",
            typed.join("\n")
        );
    }
}
