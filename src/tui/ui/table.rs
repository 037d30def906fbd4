//! The socket table (columns drop by priority as the terminal narrows) and the
//! two grouped views. Only rows on screen are turned into strings.

use super::fit;
use crate::tui::app::{App, View};
use crate::tui::rows::{Col, Row as SockRow};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

/// A column on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum C {
    Mark,
    Sort(Col),
    Eph,
}

struct Spec {
    c: C,
    title: String,
    width: usize,
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    match app.view {
        View::Ephemeral => draw_dests(f, area, app, theme),
        View::Processes => draw_procs(f, area, app, theme),
        _ => draw_sockets(f, area, app, theme),
    }
}

fn addr(r: &SockRow, remote: bool) -> String {
    if remote {
        r.sock
            .remote
            .map_or_else(|| "*".into(), |e| e.addr.to_string())
    } else {
        r.sock.local.addr.to_string()
    }
}

fn cell(r: &SockRow, c: C) -> String {
    match c {
        C::Mark => r.mark.symbol().into(),
        C::Eph => match (r.ephemeral, r.collision()) {
            (true, true) => "E".into(),
            (true, false) => "e".into(),
            _ => " ".into(),
        },
        C::Sort(col) => match col {
            Col::Proto => r.sock.proto.as_str().into(),
            Col::LocalAddr => addr(r, false),
            Col::LocalPort => r.sock.local.port.to_string(),
            Col::RemoteAddr => addr(r, true),
            Col::RemotePort => r
                .sock
                .remote
                .map_or_else(|| "*".into(), |e| e.port.to_string()),
            Col::State => r.sock.state.as_str().into(),
            Col::Pid => r
                .sock
                .pids
                .first()
                .map_or_else(|| "-".into(), u32::to_string),
            Col::Process => r.owner().map_or_else(|| "-".into(), |p| p.name.clone()),
            Col::User => r.sock.user.as_deref().unwrap_or("-").to_string(),
        },
    }
}

/// Column layout for `width`: drop USER, then PID, then shorten titles and
/// addresses, then the process name.
fn layout(app: &App, rows: &[&SockRow], width: usize, theme: &Theme) -> Vec<Spec> {
    let max_len = |f: &dyn Fn(&SockRow) -> String, min: usize| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let la = max_len(&|r| addr(r, false), 9).min(39);
    let ra = max_len(&|r| addr(r, true), 9).min(39);
    let pr = max_len(&|r| cell(r, C::Sort(Col::Process)), 7).min(24);
    let us = max_len(&|r| cell(r, C::Sort(Col::User)), 4).min(12);
    let mut specs: Vec<Spec> = Vec::new();
    if !theme.color {
        specs.push(Spec {
            c: C::Mark,
            title: " ".into(),
            width: 1,
        });
    }
    for &col in &app.columns {
        let w = match col {
            Col::Proto => 5,
            Col::LocalAddr => la,
            Col::LocalPort => 5,
            Col::RemoteAddr => ra,
            Col::RemotePort => 5,
            Col::State => 10,
            Col::Pid => 7,
            Col::Process => pr,
            Col::User => us,
        };
        specs.push(Spec {
            c: C::Sort(col),
            title: col.title().into(),
            width: w,
        });
        if col == Col::LocalPort {
            specs.push(Spec {
                c: C::Eph,
                title: "E".into(),
                width: 1,
            });
        }
    }
    let title_w = |s: &Spec| s.title.chars().count() + usize::from(s.c == C::Sort(app.sort));
    let total = |v: &[Spec]| -> usize {
        v.iter().map(|s| s.width.max(title_w(s))).sum::<usize>() + v.len().saturating_sub(1)
    };
    for drop in [Col::User, Col::Pid] {
        if total(&specs) > width {
            specs.retain(|s| s.c != C::Sort(drop));
        }
    }
    if total(&specs) > width {
        for s in specs.iter_mut() {
            let short = match s.c {
                C::Sort(Col::LocalAddr) => "LOCAL",
                C::Sort(Col::RemoteAddr) => "REMOTE",
                C::Sort(Col::LocalPort) => "LPORT",
                C::Sort(Col::RemotePort) => "RPORT",
                C::Sort(Col::Proto) => "PROT",
                _ => continue,
            };
            s.title = short.into();
        }
        if let Some(s) = specs.iter_mut().find(|s| s.c == C::Sort(Col::Proto)) {
            s.width = 4;
        }
    }
    // Shrink the widest of addresses and process, one column at a time.
    while total(&specs) > width {
        let victim = specs
            .iter_mut()
            .filter(|s| {
                matches!(
                    s.c,
                    C::Sort(Col::LocalAddr | Col::RemoteAddr | Col::Process)
                ) && s.width > 6
            })
            .max_by_key(|s| s.width);
        match victim {
            Some(s) => s.width -= 1,
            None => break,
        }
    }
    for s in specs.iter_mut() {
        s.width = s.width.max(title_w(s));
        if s.c == C::Sort(app.sort) {
            s.title.push_str(theme.arrow(app.desc));
        }
    }
    specs
}

fn draw_sockets(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let body_h = usize::from(area.height.saturating_sub(1));
    let end = app.offset.saturating_add(body_h).min(app.visible.len());
    let start = app.offset.min(end);
    let shown: Vec<&SockRow> = app.visible[start..end]
        .iter()
        .filter_map(|i| app.rows.get(*i))
        .collect();
    let specs = layout(app, &shown, usize::from(area.width), theme);
    let header = Row::new(specs.iter().map(|s| s.title.clone())).style(theme.table_header());
    let rows: Vec<Row> = shown
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let cells: Vec<String> = specs.iter().map(|s| fit(&cell(r, s.c), s.width)).collect();
            let style = if start + i == app.selected {
                theme.row(r).patch(theme.selected())
            } else {
                theme.row(r)
            };
            Row::new(cells).style(style)
        })
        .collect();
    let widths: Vec<Constraint> = specs
        .iter()
        .map(|s| Constraint::Length(u16::try_from(s.width).unwrap_or(u16::MAX)))
        .collect();
    if shown.is_empty() {
        let msg = if app.snap.is_none() {
            "waiting for the first snapshot…"
        } else {
            "no sockets match (Esc clears the filter: / then Esc)"
        };
        let t = Table::new(Vec::<Row>::new(), widths).header(header);
        f.render_widget(t, area);
        let below = Rect {
            y: area.y.saturating_add(1),
            height: area.height.saturating_sub(1),
            ..area
        };
        f.render_widget(Line::styled(msg, theme.dim()), below);
        return;
    }
    f.render_widget(Table::new(rows, widths).header(header), area);
}

fn window<T>(v: &[T], app: &App, area: Rect) -> (usize, usize) {
    let body_h = usize::from(area.height.saturating_sub(1));
    let end = app.offset.saturating_add(body_h).min(v.len());
    (app.offset.min(end), end)
}

fn simple_table(
    f: &mut Frame,
    area: Rect,
    titles: &[&str],
    widths: &[u16],
    rows: Vec<(bool, Vec<String>)>,
    theme: &Theme,
) {
    let header = Row::new(titles.iter().map(|t| t.to_string())).style(theme.table_header());
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(sel, cells)| {
            let r = Row::new(cells);
            if sel {
                r.style(theme.selected())
            } else {
                r
            }
        })
        .collect();
    let widths: Vec<Constraint> = widths.iter().map(|w| Constraint::Length(*w)).collect();
    f.render_widget(Table::new(rows, widths).header(header), area);
}

fn draw_dests(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (start, end) = window(&app.dests, app, area);
    let rows = app.dests[start..end]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                start + i == app.selected,
                vec![
                    d.remote.to_string(),
                    d.local.to_string(),
                    d.ports.to_string(),
                    d.time_wait.to_string(),
                    format!("{:.1}%", d.pct),
                ],
            )
        })
        .collect();
    simple_table(
        f,
        area,
        &["DESTINATION", "LOCAL ADDR", "PORTS", "TIME-WAIT", "% POOL"],
        &[30, 22, 7, 9, 7],
        rows,
        theme,
    );
}

fn draw_procs(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (start, end) = window(&app.procs, app, area);
    let rows = app.procs[start..end]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                start + i == app.selected,
                vec![
                    p.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                    p.name.clone(),
                    p.user.clone(),
                    p.listening.to_string(),
                    p.established.to_string(),
                    p.other.to_string(),
                    p.ephemeral.to_string(),
                ],
            )
        })
        .collect();
    simple_table(
        f,
        area,
        &[
            "PID",
            "PROCESS",
            "USER",
            "LISTEN",
            "ESTAB",
            "OTHER",
            "EPH PORTS",
        ],
        &[7, 20, 10, 6, 6, 6, 9],
        rows,
        theme,
    );
}
