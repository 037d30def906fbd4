//! Widgets. `draw` renders the whole screen from `&App`; nothing here collects
//! data, and only the rows on screen are formatted.

mod details;
mod dialogs;
mod header;
mod help;
mod table;

use super::app::{App, Mode};
use super::theme::Theme;
use crate::output::{safe, safe_string};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Below this the dashboard shows "terminal too small" instead.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 10;
const HEADER_H: u16 = 7;

/// Table body rows that fit a terminal of height `h` (for paging).
pub fn viewport_rows(h: u16) -> usize {
    usize::from(h.saturating_sub(HEADER_H + 1 + 1)).max(1)
}

pub fn draw(f: &mut Frame, app: &App, theme: &Theme) {
    // A hidden trigger for the test that proves the panic hook restores the
    // terminal: a panic inside a render, once data is on screen.
    static PANIC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *PANIC.get_or_init(|| std::env::var_os("PORTTOP_TEST_PANIC").is_some()) && app.snap.is_some()
    {
        panic!("injected test panic (PORTTOP_TEST_PANIC)");
    }
    let area = f.area();
    if area.width < MIN_W || area.height < MIN_H {
        let msg = format!(
            "terminal too small ({}x{}); need {MIN_W}x{MIN_H}. q quits",
            area.width, area.height
        );
        f.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let [head, body, status] = Layout::vertical([
        Constraint::Length(HEADER_H),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(f, head, app, theme);
    table::draw(f, body, app, theme);
    draw_status(f, status, app, theme);
    match &app.mode {
        Mode::Details => details::draw(f, body, app, theme),
        Mode::Help => help::draw(f, area, theme),
        Mode::Confirm { pid, name } => dialogs::confirm(f, body, *pid, name, theme),
        _ => {}
    }
}

fn draw_status(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = if let Mode::Filter(text) = &app.mode {
        let mut spans = vec![
            Span::styled("/", theme.title()),
            Span::raw(safe_string(text)),
            Span::styled("_", theme.dim()),
        ];
        if let Some(s) = &app.status {
            spans.push(Span::raw("   "));
            spans.push(Span::styled(safe_string(s), theme.error()));
        }
        Line::from(spans)
    } else {
        let mut spans = Vec::new();
        if let Some(e) = &app.error {
            spans.push(Span::styled(format!("error: {}  ", safe(e)), theme.error()));
        }
        if let Some(s) = &app.status {
            spans.push(Span::styled(format!("{}  ", safe(s)), theme.warn()));
        }
        if !app.filter.is_empty() {
            spans.push(Span::styled("filter: ", theme.title()));
            spans.push(Span::raw(format!("{}  ", safe(&app.filter.to_string()))));
        }
        spans.push(Span::styled(
            format!("{}/{}  ", (app.selected + 1).min(app.len()), app.len()),
            theme.dim(),
        ));
        spans.push(Span::styled("? help  / filter  q quit", theme.dim()));
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}

/// A rectangle of at most `w` x `h`, centered in `r`.
pub(crate) fn centered(r: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(r.width);
    let h = h.min(r.height);
    Rect {
        x: r.x + (r.width.saturating_sub(w)) / 2,
        y: r.y + (r.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    }
}

/// Cuts `s` to `w` columns, ending with `…` when cut.
pub(crate) fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `HH:MM:SS UTC` of a snapshot time (UTC so recordings look the same anywhere).
pub(crate) fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02} UTC",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
#[path = "../ui_tests.rs"]
mod tests;
