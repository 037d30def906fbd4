//! The help screen, generated from the key table that handles keys.

use crate::tui::keys::{Ctx, KEYS};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

fn lines(ctxs: &[Ctx], theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in ctxs {
        if ctxs.len() > 1 {
            out.push(Line::styled(ctx.title(), theme.title()));
        }
        for b in KEYS.iter().filter(|b| b.ctx == *ctx) {
            out.push(Line::from(vec![
                Span::styled(format!(" {:<10}", b.label), theme.title()),
                Span::raw(b.desc),
            ]));
        }
    }
    out
}

pub fn draw(f: &mut Frame, area: Rect, theme: &Theme) {
    f.render_widget(Clear, area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    let table = Paragraph::new(lines(&[Ctx::Table], theme)).block(
        Block::default()
            .borders(Borders::ALL)
            .title(" keys: table (Esc closes) "),
    );
    let mut other = lines(&[Ctx::Prompt, Ctx::Confirm, Ctx::Pane, Ctx::Any], theme);
    other.push(Line::styled("Filter words", theme.title()));
    // From the parser's own table, so help and parser cannot disagree; the
    // meanings are in `porttop --help`.
    let words: Vec<&str> = crate::filter::help_lines()
        .map(|(syntax, _)| syntax)
        .filter(|s| !s.is_empty())
        .collect();
    other.push(Line::from(format!(" {}", words.join("  "))));
    other.push(Line::from(
        " one kind: OR; kinds: AND; ! or not negates (porttop --help)",
    ));
    // The filter words are prose: let them wrap in narrow terminals.
    let other = Paragraph::new(other)
        .wrap(ratatui::widgets::Wrap { trim: false })
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(" keys: other "),
        );
    f.render_widget(table, left);
    f.render_widget(other, right);
}
