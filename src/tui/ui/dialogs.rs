//! Dialogs: the kill confirmation.

use super::centered;
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
        Line::styled("y: kill   n / Esc: cancel", theme.warn()),
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
