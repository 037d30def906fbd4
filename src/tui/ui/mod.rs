//! Widgets. `draw` renders the whole screen from `&App`; nothing here collects
//! data, and only the rows on screen are formatted.

mod conn_details;
mod details;
mod dialogs;
mod header;
mod help;
mod table;

use super::app::{Action, App, Mode, View};
use super::keys::{hint, Ctx};
use super::rows::{Col, SortKey};
use super::theme::Theme;
use crate::output::{safe, safe_string};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Below this the dashboard shows "terminal too small" instead.
pub const MIN_W: u16 = 40;
pub const MIN_H: u16 = 10;
const HEADER_H: u16 = 7;

/// Table body rows that fit a terminal of height `h` (for paging).
pub fn viewport_rows(h: u16) -> usize {
    usize::from(h.saturating_sub(HEADER_H + 1 + 1)).max(1)
}

/// Lines of the help screen (the most it can scroll).
pub fn help_lines() -> usize {
    help::line_count()
}

/// One clickable line: its y and the [x0, x1) spans on it with their meaning.
type Spans<T> = Option<(u16, Vec<(u16, u16, T)>)>;

/// Where things are on the screen just drawn, for mouse clicks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Hits {
    /// The tab line: (y, [x0, x1) per view).
    tabs: Spans<View>,
    /// The table's title line: (y, [x0, x1) per sortable column).
    titles: Spans<SortKey>,
    /// Body rows: first y, and the view's row indices shown from there.
    body: Option<(u16, usize, usize)>,
}

impl Hits {
    /// Records a table drawn in `area` with these column widths (spacing 1).
    fn table(
        &mut self,
        area: Rect,
        widths: &[usize],
        keys: &[Option<SortKey>],
        start: usize,
        end: usize,
    ) {
        let mut x = usize::from(area.x);
        let mut cols = Vec::new();
        for (w, k) in widths.iter().zip(keys) {
            let x0 = u16::try_from(x).unwrap_or(u16::MAX);
            let x1 = u16::try_from(x + w).unwrap_or(u16::MAX);
            if let Some(k) = k {
                cols.push((x0, x1, *k));
            }
            x += w + 1;
        }
        self.titles = Some((area.y, cols));
        self.body = Some((area.y.saturating_add(1), start, end));
    }

    /// What a left click at (x, y) means.
    pub fn click(&self, x: u16, y: u16) -> Option<Action> {
        if let Some((ty, tabs)) = &self.tabs {
            if y == *ty {
                return tabs
                    .iter()
                    .find(|(a, b, _)| (*a..*b).contains(&x))
                    .map(|(_, _, v)| Action::View(*v));
            }
        }
        if let Some((ty, cols)) = &self.titles {
            if y == *ty {
                return cols
                    .iter()
                    .find(|(a, b, _)| (*a..*b).contains(&x))
                    .map(|(_, _, k)| Action::SortBy(*k));
            }
        }
        let (y0, start, end) = self.body?;
        let i = start + usize::from(y.checked_sub(y0)?);
        (i < end).then_some(Action::Select(i))
    }
}

/// Draws the screen; returns where its clickable parts are.
pub fn draw(f: &mut Frame, app: &App, theme: &Theme) -> Hits {
    let mut hits = Hits::default();
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
        return hits;
    }
    let [head, body, status] = Layout::vertical([
        Constraint::Length(HEADER_H),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    hits.tabs = Some(header::draw(f, head, app, theme));
    table::draw(f, body, app, theme, &mut hits);
    draw_status(f, status, app, theme);
    match &app.mode {
        Mode::Details { advice } => details::draw(f, body, app, advice.as_ref(), theme),
        Mode::Help => help::draw(f, area, app.help_scroll, theme),
        Mode::Confirm { targets, gone } => dialogs::confirm(f, body, targets, gone, theme),
        Mode::CloseConfirm(c) => dialogs::close(f, body, c, theme),
        Mode::Columns(i) => dialogs::columns(f, body, *i, &app.hidden, theme),
        _ => {}
    }
    hits
}

fn draw_status(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let prompt = match &app.mode {
        Mode::Filter(l) => Some(("/", l)),
        Mode::Save(l) => Some(("save to (.csv/.json): ", l)),
        _ => None,
    };
    let line = if let Some((label, l)) = prompt {
        // The error (if any) gets up to half the line; the text scrolls so the
        // cursor stays visible in the rest.
        let err = app
            .status
            .as_deref()
            .map(|s| format!("   {}", safe_string(s)));
        let avail = usize::from(area.width);
        let err_w = err.as_deref().map_or(0, |e| width(e).min(avail / 2));
        let text_w = avail.saturating_sub(width(label) + err_w).max(1);
        let (before, under, after) = l.window(text_w);
        let mut spans = vec![
            Span::styled(label, theme.title()),
            Span::raw(safe_string(&before)),
            Span::styled(safe_string(&under.to_string()), theme.cursor()),
            Span::raw(safe_string(&after)),
        ];
        if let Some(e) = err {
            spans.push(Span::styled(fit(&e, err_w), theme.error()));
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
        if !app.spec.filter.is_empty() {
            spans.push(Span::styled("filter: ", theme.title()));
            spans.push(Span::raw(format!(
                "{}  ",
                safe(&app.spec.filter.to_string())
            )));
        }
        if app.drill.is_some() {
            spans.push(Span::styled(
                format!("{} back  ", hint(&Action::Back, Ctx::Table)),
                theme.title(),
            ));
        }
        spans.push(Span::styled(
            format!(
                "{}/{}  ",
                (app.cursor.selected + 1).min(app.len()),
                app.len()
            ),
            theme.dim(),
        ));
        spans.push(Span::styled(
            format!(
                "{} help  {} filter  {} quit",
                hint(&Action::Help, Ctx::Table),
                hint(&Action::OpenFilter, Ctx::Table),
                hint(&Action::Quit, Ctx::Table)
            ),
            theme.dim(),
        ));
        if app.spec.view == View::Ephemeral && app.drill.is_none() {
            // What the columns mean, where a user reading them needs it.
            spans.push(Span::styled(
                "  PORTS held toward it (each destination is a pool of its own) · NEW/S \
                 new sockets a second · RUNS OUT at this rate, TIME-WAIT expiries and \
                 lifetimes counted",
                theme.dim(),
            ));
        }
        let grouped = matches!(app.spec.view, View::Ephemeral | View::Processes);
        if grouped && app.drill.is_none() {
            // The traffic columns shown at this width, explained.
            let text = match table::traffic_shown(area.width) {
                0 => "",
                2 => "  RX/s TX/s: bytes a second in / acked, its sockets summed",
                _ => {
                    "  RX/s TX/s RX TX: rates and bytes (in / acked) of its open connections, \
                     summed (a closed one leaves the sum)"
                }
            };
            spans.push(Span::styled(text, theme.dim()));
        }
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

/// Display width of `s` in terminal columns (a CJK character takes two).
pub(crate) fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// The longest start of `s` that fits in `w` columns.
fn head(s: &str, w: usize) -> String {
    let mut used = 0;
    s.chars()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= w
        })
        .collect()
}

/// The longest end of `s` that fits in `w` columns.
pub(crate) fn tail_of(s: &str, w: usize) -> String {
    let mut used = 0;
    let mut v: Vec<char> = s
        .chars()
        .rev()
        .take_while(|c| {
            used += c.width().unwrap_or(0);
            used <= w
        })
        .collect();
    v.reverse();
    v.into_iter().collect()
}

/// Cuts `s` to `w` display columns, ending with `…` when cut.
pub(crate) fn fit(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    head(s, w - 1) + "…"
}

/// Cuts `s` to `w` columns in the middle (`2001:db8:…:2`, `[fe80::…]:443`):
/// both ends of an address say the most, and a port at the end stays.
pub(crate) fn shorten_middle(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    if w < 3 {
        return fit(s, w);
    }
    let keep = w - 1;
    // A trailing `:port` of `[v6]:port` is kept whole.
    let right = (keep / 2).max(s.rfind("]:").map_or(0, |i| width(&s[i..])));
    let right = right.min(keep.saturating_sub(1));
    head(s, keep - right) + "…" + &tail_of(s, right)
}

/// A line cut to `w` columns with `…` (styles kept): the header's lines.
pub(crate) fn fit_line(line: Line<'static>, w: usize) -> Line<'static> {
    if line.width() <= w {
        return line;
    }
    let mut out = Vec::new();
    let mut left = w.saturating_sub(1);
    for span in line.spans {
        let sw = width(&span.content);
        if sw <= left {
            left -= sw;
            out.push(span);
        } else {
            let cut = head(&span.content, left);
            out.push(Span::styled(cut + "…", span.style));
            break;
        }
    }
    Line::from(out)
}

/// The socket columns for the chooser.
pub(crate) fn chooser_cols() -> &'static [Col] {
    &Col::ALL
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
#[path = "mod_tests.rs"]
mod tests;
