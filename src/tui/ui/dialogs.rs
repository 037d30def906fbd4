//! Dialogs: the kill confirmation and the column chooser.

use super::centered;
use crate::tui::app::Action;
use crate::tui::keys::{hint, Ctx};
use crate::tui::rows::Col;
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

pub fn confirm(f: &mut Frame, area: Rect, pid: u32, name: &str, theme: &Theme) {
    let text = vec![
        Line::from(format!(
            "Send SIGTERM to pid {pid} ({})?",
            crate::output::safe(name)
        )),
        Line::styled(
            format!(
                "{}: kill   {}: cancel",
                hint(&Action::ConfirmYes, Ctx::Confirm),
                crate::tui::keys::KEYS
                    .iter()
                    .find(|b| b.action == Action::ConfirmNo)
                    .map_or_else(String::new, |b| b.label().replace(' ', " / "))
            ),
            theme.warn(),
        ),
    ];
    let w = u16::try_from(text[0].width() + 4)
        .unwrap_or(u16::MAX)
        .max(30);
    let rect = centered(area, w, 4);
    f.render_widget(Clear, rect);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" kill ")),
        rect,
    );
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
