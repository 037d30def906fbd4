//! The one key table: `action_for` reads it to handle keys and the help screen
//! reads it to list them, so the two cannot disagree.

use super::app::{Action, Mode, View};
use ratatui::crossterm::event::{KeyCode as C, KeyEvent, KeyEventKind, KeyModifiers as M};

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// The table, nothing on top.
    Table,
    /// The `/` filter prompt (other printable keys are typed into it).
    Prompt,
    /// The kill confirmation dialog.
    Confirm,
    /// The details pane or the help screen.
    Pane,
    /// Everywhere.
    Any,
}

impl Ctx {
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Table => "Table",
            Ctx::Prompt => "Filter prompt",
            Ctx::Confirm => "Kill dialog",
            Ctx::Pane => "Details / help",
            Ctx::Any => "Anywhere",
        }
    }

    fn applies(self, mode: &Mode) -> bool {
        match self {
            Ctx::Any => true,
            Ctx::Table => *mode == Mode::Normal,
            Ctx::Prompt => matches!(mode, Mode::Filter(_)),
            Ctx::Confirm => matches!(mode, Mode::Confirm { .. }),
            Ctx::Pane => matches!(mode, Mode::Details | Mode::Help),
        }
    }
}

pub struct Binding {
    pub keys: &'static [(C, M)],
    /// How the help screen names the keys.
    pub label: &'static str,
    pub ctx: Ctx,
    pub action: Action,
    pub desc: &'static str,
}

const N: M = M::NONE;
const SH: M = M::SHIFT;

const fn b(
    keys: &'static [(C, M)],
    label: &'static str,
    ctx: Ctx,
    action: Action,
    desc: &'static str,
) -> Binding {
    Binding {
        keys,
        label,
        ctx,
        action,
        desc,
    }
}

/// Every key of the dashboard. First match (in order) wins.
pub const KEYS: &[Binding] = &[
    b(
        &[(C::Char('c'), M::CONTROL)],
        "Ctrl-C",
        Ctx::Any,
        Action::Quit,
        "quit",
    ),
    // Prompt
    b(
        &[(C::Enter, N)],
        "Enter",
        Ctx::Prompt,
        Action::FilterSubmit,
        "apply the filter",
    ),
    b(
        &[(C::Esc, N)],
        "Esc",
        Ctx::Prompt,
        Action::FilterCancel,
        "cancel (unchanged: clear)",
    ),
    b(
        &[(C::Backspace, N)],
        "Backspace",
        Ctx::Prompt,
        Action::FilterBackspace,
        "delete a character",
    ),
    // Confirm
    b(
        &[(C::Char('y'), N), (C::Char('Y'), SH)],
        "y",
        Ctx::Confirm,
        Action::ConfirmYes,
        "send SIGTERM",
    ),
    b(
        &[(C::Char('n'), N), (C::Char('N'), SH), (C::Esc, N)],
        "n Esc",
        Ctx::Confirm,
        Action::ConfirmNo,
        "do not kill",
    ),
    // Panes
    b(
        &[(C::Esc, N), (C::Enter, N)],
        "Esc Enter",
        Ctx::Pane,
        Action::Close,
        "close the pane",
    ),
    b(
        &[(C::Char('?'), N), (C::Char('?'), SH)],
        "?",
        Ctx::Pane,
        Action::Help,
        "toggle help",
    ),
    b(&[(C::Char('q'), N)], "q", Ctx::Pane, Action::Quit, "quit"),
    // Table
    b(
        &[(C::Up, N), (C::Char('k'), N)],
        "Up k",
        Ctx::Table,
        Action::Up,
        "previous row",
    ),
    b(
        &[(C::Down, N), (C::Char('j'), N)],
        "Down j",
        Ctx::Table,
        Action::Down,
        "next row",
    ),
    b(
        &[(C::PageUp, N)],
        "PgUp",
        Ctx::Table,
        Action::PageUp,
        "page up",
    ),
    b(
        &[(C::PageDown, N)],
        "PgDn",
        Ctx::Table,
        Action::PageDown,
        "page down",
    ),
    b(
        &[(C::Home, N), (C::Char('g'), N)],
        "Home g",
        Ctx::Table,
        Action::Home,
        "first row",
    ),
    b(
        &[(C::End, N), (C::Char('G'), SH), (C::Char('G'), N)],
        "End G",
        Ctx::Table,
        Action::End,
        "last row",
    ),
    b(
        &[(C::Tab, N)],
        "Tab",
        Ctx::Table,
        Action::NextView,
        "next view",
    ),
    b(
        &[(C::Char('1'), N)],
        "1",
        Ctx::Table,
        Action::View(View::All),
        "view: all sockets",
    ),
    b(
        &[(C::Char('2'), N)],
        "2",
        Ctx::Table,
        Action::View(View::Listening),
        "view: listening",
    ),
    b(
        &[(C::Char('3'), N)],
        "3",
        Ctx::Table,
        Action::View(View::Established),
        "view: established",
    ),
    b(
        &[(C::Char('4'), N)],
        "4",
        Ctx::Table,
        Action::View(View::Ephemeral),
        "view: by destination",
    ),
    b(
        &[(C::Char('5'), N)],
        "5",
        Ctx::Table,
        Action::View(View::Processes),
        "view: by process",
    ),
    b(
        &[(C::Char('s'), N)],
        "s",
        Ctx::Table,
        Action::SortNext,
        "sort by the next column",
    ),
    b(
        &[(C::Char('S'), SH), (C::Char('S'), N)],
        "S",
        Ctx::Table,
        Action::SortReverse,
        "reverse the sort",
    ),
    b(
        &[(C::Char('/'), N)],
        "/",
        Ctx::Table,
        Action::OpenFilter,
        "filter (see Filter words)",
    ),
    b(
        &[(C::Enter, N)],
        "Enter",
        Ctx::Table,
        Action::Open,
        "details / a group's sockets",
    ),
    b(
        &[(C::Char('K'), SH), (C::Char('K'), N)],
        "K",
        Ctx::Table,
        Action::Kill,
        "SIGTERM the owning process",
    ),
    b(
        &[(C::Char('p'), N), (C::Char(' '), N)],
        "p Space",
        Ctx::Table,
        Action::TogglePause,
        "pause / resume refreshing",
    ),
    b(
        &[(C::Char('+'), N), (C::Char('+'), SH), (C::Char('='), N)],
        "+",
        Ctx::Table,
        Action::Slower,
        "longer refresh interval",
    ),
    b(
        &[(C::Char('-'), N)],
        "-",
        Ctx::Table,
        Action::Faster,
        "shorter refresh interval",
    ),
    b(
        &[(C::Char('?'), N), (C::Char('?'), SH)],
        "?",
        Ctx::Table,
        Action::Help,
        "help (this screen)",
    ),
    b(
        &[(C::Char('q'), N), (C::Esc, N)],
        "q Esc",
        Ctx::Table,
        Action::Close,
        "quit",
    ),
];

/// The action a key press means in this mode (None: ignored).
pub fn action_for(ev: &KeyEvent, mode: &Mode) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let mods = ev.modifiers & (M::CONTROL | M::ALT | M::SHIFT);
    for bind in KEYS.iter().filter(|b| b.ctx.applies(mode)) {
        if bind.keys.iter().any(|(c, m)| *c == ev.code && *m == mods) {
            return Some(bind.action.clone());
        }
    }
    // In the prompt, any other printable character is typed.
    if let (Mode::Filter(_), C::Char(c)) = (mode, ev.code) {
        if !mods.intersects(M::CONTROL | M::ALT) {
            return Some(Action::FilterInput(c));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: C, m: M) -> KeyEvent {
        KeyEvent::new(c, m)
    }

    #[test]
    fn same_key_means_different_things_by_context() {
        let q = key(C::Char('q'), N);
        assert_eq!(action_for(&q, &Mode::Normal), Some(Action::Close));
        assert_eq!(action_for(&q, &Mode::Help), Some(Action::Quit));
        assert_eq!(
            action_for(&q, &Mode::Filter(String::new())),
            Some(Action::FilterInput('q'))
        );
        let esc = key(C::Esc, N);
        assert_eq!(action_for(&esc, &Mode::Details), Some(Action::Close));
        assert_eq!(
            action_for(&esc, &Mode::Filter("x".into())),
            Some(Action::FilterCancel)
        );
        let ctrl_c = key(C::Char('c'), M::CONTROL);
        assert_eq!(
            action_for(&ctrl_c, &Mode::Filter(String::new())),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&key(C::Char('S'), SH), &Mode::Normal),
            Some(Action::SortReverse)
        );
        assert_eq!(action_for(&key(C::Char('x'), N), &Mode::Normal), None);
    }

    #[test]
    fn every_binding_has_keys_and_a_description() {
        for b in KEYS {
            assert!(!b.keys.is_empty() && !b.desc.is_empty() && !b.label.is_empty());
        }
    }
}
