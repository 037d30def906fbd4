//! Dialogs: the kill and close confirmations and the column chooser.

use super::centered;
use crate::actions::Pinned;
use crate::output::safe;
use crate::tui::app::{Action, Closing};
use crate::tui::keys::{hint, Ctx};
use crate::tui::rows::Col;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// The keys of `action` in `ctx`, as the key table names them ("y / t").
fn keys_of(action: Action, ctx: Ctx) -> String {
    crate::tui::keys::KEYS
        .iter()
        .find(|b| b.ctx == ctx && b.action == action)
        .map_or_else(String::new, |b| b.label().replace(' ', " / "))
}

/// A dialog box of these lines, as wide as its widest line.
fn dialog(f: &mut Frame, area: Rect, title: &str, text: Vec<Line>) {
    let w = text.iter().map(Line::width).max().unwrap_or(0) + 4;
    let w = u16::try_from(w).unwrap_or(u16::MAX).max(30);
    let h = u16::try_from(text.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, w, h);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

/// The kill dialog: every pinned owner, the signal keys, and who is gone.
pub fn confirm(f: &mut Frame, area: Rect, targets: &[Pinned], gone: &[String], theme: &Theme) {
    let who = |t: &Pinned| format!("pid {} ({})", t.pid, safe(&t.name));
    let mut text = vec![Line::from(match targets {
        [t] => format!("Signal {}?", who(t)),
        ts => format!("Signal all {} processes sharing this socket?", ts.len()),
    })];
    if targets.len() > 1 {
        text.extend(
            targets
                .iter()
                .take(8)
                .map(|t| Line::from(format!("  {}", who(t)))),
        );
        if targets.len() > 8 {
            text.push(Line::from(format!("  and {} more", targets.len() - 8)));
        }
    }
    for g in gone {
        text.push(Line::styled(format!("  ({})", safe(g)), theme.dim()));
    }
    text.push(Line::styled(
        format!(
            "{}: SIGTERM   {}: SIGKILL   {}: cancel",
            keys_of(Action::ConfirmYes, Ctx::Confirm),
            keys_of(Action::ConfirmKill, Ctx::Confirm),
            keys_of(Action::ConfirmNo, Ctx::Confirm),
        ),
        theme.warn(),
    ));
    dialog(f, area, " kill ", text);
}

/// The close dialog: both ends, the state and the owner.
pub fn close(f: &mut Frame, area: Rect, c: &Closing, theme: &Theme) {
    let s = &c.sock;
    let mut text = vec![
        Line::from(format!(
            "Close {} {} -> {} ({})?",
            s.proto,
            s.local,
            s.remote.map_or_else(|| "*".into(), |r| r.to_string()),
            s.state
        )),
        Line::from(format!("owner: {}", safe(&c.owner))),
    ];
    if let Some(n) = c.netns.as_ref().filter(|n| n.worth_naming()) {
        text.push(Line::from(format!("netns: {}", safe(&n.name))));
    }
    text.push(Line::styled(
        format!(
            "{}: close (the peer gets a reset)   {}: cancel",
            keys_of(Action::ConfirmYes, Ctx::CloseConfirm),
            keys_of(Action::ConfirmNo, Ctx::CloseConfirm),
        ),
        theme.warn(),
    ));
    dialog(f, area, " close connection ", text);
}

/// The column chooser: every socket-table column with a check box.
pub fn columns(f: &mut Frame, area: Rect, cursor: usize, hidden: &[Col], theme: &Theme) {
    let mut text: Vec<Line> = super::chooser_cols()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let on = if hidden.contains(c) { "[ ]" } else { "[x]" };
            let l = format!(" {on} {}", c.title());
            if i == cursor {
                Line::styled(l, theme.selected())
            } else {
                Line::from(l)
            }
        })
        .collect();
    text.push(Line::styled(
        format!(
            " {} show/hide  {} close",
            hint(&Action::ToggleColumn, Ctx::Columns),
            hint(&Action::Close, Ctx::Columns)
        ),
        theme.dim(),
    ));
    let h = u16::try_from(text.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, 30, h);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" columns ")),
        rect,
    );
}
