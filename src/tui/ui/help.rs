//! The help screen, generated from the key table that handles keys, with the
//! views (named as the tabs are), a legend and the filter words. It flows into
//! as many columns as the terminal is wide and scrolls when still too long.

use super::fit_line;
use crate::tui::app::{Action, View};
use crate::tui::keys::{hint, Ctx, KEYS};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

const COL_W: u16 = 46;

fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for ctx in Ctx::ALL {
        out.push(Line::styled(ctx.title(), theme.title()));
        for b in KEYS.iter().filter(|b| b.ctx == ctx) {
            out.push(Line::from(vec![
                Span::styled(format!(" {:<13} ", b.label()), theme.title()),
                Span::raw(b.help),
            ]));
        }
    }
    out.push(Line::styled("Views (the tabs)", theme.title()));
    let views: Vec<String> = View::ALL
        .iter()
        .map(|v| format!("{} {}", hint(&Action::View(*v), Ctx::Table), v.title()))
        .collect();
    out.push(Line::from(format!(" {}", views[..3].join("  "))));
    out.push(Line::from(format!(" {}", views[3..].join("  "))));
    out.push(Line::styled("Legend", theme.title()));
    let legend: [(&str, String); 11] = [
        ("green", "new row".into()),
        ("yellow", "state changed".into()),
        ("red", "closed (kept --keep-closed refreshes)".into()),
        ("magenta", "listener on an ephemeral port".into()),
        ("+ ~ -", "the same without colours (NO_COLOR)".into()),
        ("E", "listener on an ephemeral port (risk)".into()),
        ("e", "connection from an ephemeral port".into()),
        ("gauge", "pool use; yellow warn, red critical".into()),
        ("▲ ▼ (^ v)", "sort column and direction".into()),
        ("RX/s TX/s", "bytes a second in / acked out".into()),
        ("RX TX", "bytes in / acked of open conns".into()),
    ];
    for (k, v) in legend {
        out.push(Line::from(vec![
            Span::styled(format!(" {k:<13} "), theme.title()),
            Span::raw(v),
        ]));
    }
    out.push(Line::styled("Mouse", theme.title()));
    for t in [
        " click a row: select it; a title: sort by it".to_string(),
        " (again: reverse); a tab: that view".to_string(),
        " wheel: scroll".to_string(),
        format!(
            " {}: mouse off, so the terminal selects text",
            hint(&Action::ToggleMouse, Ctx::Table)
        ),
    ] {
        out.push(Line::from(t));
    }
    out.push(Line::styled("Filter words", theme.title()));
    // From the parser's own table, so help and parser cannot disagree: each
    // word's syntax (the meanings are in `porttop --help`), and the rules.
    for (syntax, meaning) in crate::filter::help_lines() {
        let shown = if syntax.is_empty() { meaning } else { syntax };
        out.push(Line::from(format!(" {shown}")));
    }
    out
}

/// How many lines the help has.
pub fn line_count() -> usize {
    lines(&Theme::mono()).len()
}

pub fn draw(f: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    f.render_widget(Clear, area);
    let all = lines(theme);
    let title = format!(
        " help: {} closes, {} scrolls ",
        hint(&Action::Close, Ctx::Help),
        crate::tui::keys::KEYS
            .iter()
            .find(|b| b.ctx == Ctx::Help && b.action == Action::Down)
            .map_or_else(String::new, |b| b.label())
    );
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let ncols = usize::from((inner.width / COL_W).clamp(1, 3));
    let col_h = usize::from(inner.height).max(1);
    let fits = ncols * col_h;
    let max_scroll = all.len().saturating_sub(fits);
    let start = scroll.min(max_scroll);
    let shown: Vec<Line> = all.into_iter().skip(start).take(fits).collect();
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, ncols as u32); ncols]).split(inner);
    for (i, chunk) in shown.chunks(col_h).enumerate() {
        if let Some(a) = areas.get(i) {
            let w = usize::from(a.width.saturating_sub(1));
            let ls: Vec<Line> = chunk.iter().cloned().map(|l| fit_line(l, w)).collect();
            f.render_widget(Paragraph::new(ls), *a);
        }
    }
    if max_scroll > 0 {
        let more = if start < max_scroll {
            " more ↓ "
        } else {
            " end "
        };
        let r = Rect {
            x: area.x + area.width.saturating_sub(10),
            y: area.y + area.height.saturating_sub(1),
            width: 8.min(area.width),
            height: 1,
        };
        f.render_widget(Line::styled(more, theme.dim()), r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> String {
        lines(&Theme::mono())
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn the_help_lists_every_filter_word_and_rule_of_the_parsers_table() {
        let help = text();
        let section = help
            .split("Filter words\n")
            .nth(1)
            .expect("a Filter words section");
        let shown: Vec<&str> = section.lines().map(str::trim).collect();
        let want: Vec<&str> = crate::filter::help_lines()
            .map(|(syntax, meaning)| if syntax.is_empty() { meaning } else { syntax })
            .collect();
        assert_eq!(shown, want);
        for w in crate::filter::WORDS.iter().filter(|w| !w.syntax.is_empty()) {
            assert!(shown.contains(&w.syntax), "{}", w.syntax);
        }
    }

    #[test]
    fn the_views_are_named_with_the_keys_bound_to_them() {
        let help = text();
        for v in View::ALL {
            let label = format!("{} {}", hint(&Action::View(v), Ctx::Table), v.title());
            assert!(help.contains(&label), "{label}");
        }
    }
}
