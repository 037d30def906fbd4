//! Header: host, time, interval/paused, counts by state, the ephemeral range and
//! the pool gauge, and the view tabs.

use super::{clock, fit_line, shorten_middle, width};
use crate::analysis::pool::Level;
use crate::output::collision_kind;
use crate::tui::app::{App, View};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// Draws the header; returns the tab line's y and each tab's [x0, x1).
pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) -> (u16, Vec<(u16, u16, View)>) {
    let w = usize::from(area.width);
    let mut lines: Vec<Line> = Vec::with_capacity(5);
    let every = if app.pace.paused {
        Span::styled("PAUSED", theme.warn())
    } else {
        Span::raw(every(app.pace.interval, app.data.took))
    };
    let (host, when) = match &app.data.snap {
        Some(s) => (crate::output::safe(&s.host), clock(s.taken_at_ms)),
        None => ("…".into(), "waiting for the first snapshot".to_string()),
    };
    let mut l1 = vec![
        Span::styled("porttop", theme.title()),
        Span::raw(format!("  {host}  {when}  ")),
        every,
    ];
    if app.pace.replay {
        l1.push(Span::styled("  (replay)", theme.dim()));
    }
    if app.data.snap.as_ref().is_some_and(|s| s.partial) {
        l1.push(Span::styled(
            if app.data.root {
                "  some processes hidden: outside this PID namespace"
            } else {
                "  other users' processes hidden: needs root or CAP_SYS_PTRACE + CAP_DAC_READ_SEARCH"
            },
            theme.dim(),
        ));
    }
    lines.push(Line::from(l1));
    let c = app.counts();
    // CLOSE-WAIT by itself: a program that does not close its sockets shows here.
    let cw_style = if c.close_wait > 0 {
        theme.warn()
    } else {
        ratatui::style::Style::default()
    };
    lines.push(Line::from(vec![
        Span::raw(format!(
            "LISTEN {}  ESTAB {}  TIME-WAIT {}  ",
            c.listen, c.established, c.time_wait
        )),
        Span::styled(format!("CLOSE-WAIT {}", c.close_wait), cw_style),
        Span::raw(format!("  other {}  total {}", c.other, c.total())),
        Span::styled(kernel_moves(app), theme.error()),
    ]));
    match &app.data.snap {
        Some(s) => {
            let r = &s.range;
            // The source last and short: it is the first thing to lose at 80 columns.
            let source = r.source.rsplit('/').next().unwrap_or(&r.source);
            let source = crate::output::safe(source);
            lines.push(Line::from(format!(
                "ephemeral {}-{}  pool {}  reserved in range {}  (from {source})",
                r.low,
                r.high,
                r.pool_size(),
                r.reserved_in_range()
            )));
            lines.push(pool_line(app, area.width, theme));
            lines.push(alert_line(app, w, theme));
            lines.push(collision_line(app, theme));
        }
        None => {
            for _ in 0..4 {
                lines.push(Line::from(""));
            }
        }
    }
    let mut tabs = Vec::new();
    let mut hits = Vec::new();
    let mut x = area.x;
    let texts: Vec<String> = View::ALL
        .iter()
        .map(|v| {
            let key = crate::tui::keys::hint(
                &crate::tui::app::Action::View(*v),
                crate::tui::keys::Ctx::Table,
            );
            format!(" {key} {} ", v.title())
        })
        .collect();
    // A space between tabs where the line has room; at 80 columns every tab
    // still fits without it (each carries its own padding).
    let all: usize = texts.iter().map(|t| width(t) + 1).sum();
    let gap = u16::from(all <= w);
    for (v, text) in View::ALL.iter().zip(texts) {
        let style = if *v == app.spec.view {
            theme.active_tab()
        } else {
            theme.dim()
        };
        let tw = u16::try_from(width(&text)).unwrap_or(u16::MAX);
        hits.push((x, x.saturating_add(tw), *v));
        x = x.saturating_add(tw + gap);
        tabs.push(Span::styled(text, style));
        if gap > 0 {
            tabs.push(Span::raw(" "));
        }
    }
    let tab_y = area.y + u16::try_from(lines.len()).unwrap_or(0);
    lines.push(Line::from(tabs));
    let lines: Vec<Line> = lines.into_iter().map(|l| fit_line(l, w)).collect();
    f.render_widget(Paragraph::new(lines), area);
    (tab_y, hits)
}

/// The gauge is never narrower than this, whatever else the line holds.
const GAUGE_MIN: usize = 10;

/// `pool [#####.....] 85.0% WARN  worst 127.0.0.1:12000 85/100 (TW 0)`: the
/// larger of the global and the worst destination's use; the bar as wide as the
/// line allows.
fn pool_line(app: &App, width: u16, theme: &Theme) -> Line<'static> {
    let Some(r) = app.data.alerts.report.as_ref() else {
        return Line::from("");
    };
    let pct = r.fraction * 100.0;
    let level = r.level.as_str().to_uppercase();
    let worst = match &r.worst {
        Some(d) => format!(
            "  worst {} {}/{} (TW {})",
            d.key.remote, d.sockets, r.pool_size, d.time_wait
        ),
        None => format!("  {}/{} ports in use", r.global.ports_in_use, r.pool_size),
    };
    let avail = usize::from(width);
    // The last ten minutes of pool use, where the line has room for them.
    let spark = if avail >= 100 {
        sparkline(&app.data.alerts.history, SPARK_W, theme.color)
    } else {
        String::new()
    };
    let label = format!(" {pct:.1}% {level}{spark}");
    let bar_w = avail
        .saturating_sub(label.chars().count() + worst.chars().count() + 8)
        .clamp(GAUGE_MIN, 40);
    // What is left after the gauge goes to `worst`, shortened in its middle.
    let room = avail.saturating_sub(bar_w + 7 + label.chars().count());
    let worst = shorten_middle(&worst, room);
    // Rounded, not ceiled: a `#` at a label of 0.0 % claimed use there is none of.
    let filled = (((pct / 100.0) * bar_w as f64).round() as usize).min(bar_w);
    // The level's colour (red at critical, whatever the usage: the projection
    // may have raised it), the usage colour while ok.
    let style = match r.level {
        Level::Ok => theme.gauge(pct),
        Level::Warn => theme.warn(),
        Level::Critical => theme.error(),
    };
    Line::from(vec![
        Span::raw("pool ["),
        Span::styled("#".repeat(filled), style),
        Span::styled(".".repeat(bar_w.saturating_sub(filled)), theme.dim()),
        Span::raw("]"),
        Span::styled(label, style),
        Span::raw(worst),
    ])
}

/// Width of the header's history sparkline.
const SPARK_W: usize = 20;

/// ` ▁▂▅▇` (ASCII ` .:-=+*#` without colours): `v` in at most `w` cells, each the
/// largest value of its share, scaled to the largest of all (at least 1 %); empty
/// before two values.
pub fn sparkline(v: &[f64], w: usize, unicode: bool) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    const ASCII: [char; 8] = [' ', '.', ':', '-', '=', '+', '*', '#'];
    if v.len() < 2 || w == 0 {
        return String::new();
    }
    let per = v.len().div_ceil(w);
    let cells: Vec<f64> = v
        .chunks(per)
        .map(|c| c.iter().copied().fold(0.0, f64::max))
        .collect();
    let top = cells.iter().copied().fold(0.01, f64::max);
    let ramp = if unicode { BLOCKS } else { ASCII };
    let mut out = String::from(" ");
    for c in cells {
        let i = ((c / top) * 7.0).round().clamp(0.0, 7.0) as usize;
        out.push(ramp[i]);
    }
    out
}

/// `  kernel: AttemptFails +3 ListenDrops +12`: the failure counters that rose
/// since the last refresh (empty when none did).
fn kernel_moves(app: &App) -> String {
    if app.data.alerts.kernel_moves.is_empty() {
        return String::new();
    }
    let moved: Vec<String> = app
        .data
        .alerts
        .kernel_moves
        .iter()
        .map(|(n, d)| format!("{n} +{d}"))
        .collect();
    format!("  kernel: {}", moved.join(" "))
}

/// The warning with its projection at warn/critical; otherwise the worst
/// destination's projection (or nothing to say).
/// The line says when: if it is too wide, the destination in it is shortened
/// (in its middle), never the time at the end.
fn alert_line(app: &App, w: usize, theme: &Theme) -> Line<'static> {
    if let Some(text) = app.data.alerts.warning() {
        let style = match app.data.alerts.level() {
            Level::Critical => theme.error(),
            _ => theme.warn(),
        };
        let subject = app.data.alerts.warning_subject();
        // A full accept queue too, where the line has room for it.
        let text = match app.data.alerts.queue_warning() {
            Some(q) if width(&text) + width(&q) + 3 <= w => format!("{text} · {q}"),
            _ => text,
        };
        return Line::from(Span::styled(keep_tail(text, subject, w), style));
    }
    if let Some(text) = app.data.alerts.queue_warning() {
        return Line::from(Span::styled(super::fit(&text, w), theme.warn()));
    }
    match app.data.alerts.projection_of_worst() {
        Some(p) if p.projection != crate::analysis::pool::Projection::NoData => {
            let subject = Some(p.dest.remote.to_string());
            Line::from(Span::styled(
                keep_tail(p.to_string(), subject, w),
                theme.dim(),
            ))
        }
        _ => Line::from(Span::styled("pool ok", theme.dim())),
    }
}

/// `text` in `w` columns: first the `subject` within it is shortened in the
/// middle; then the sentence is cut before its last clause, which says when.
fn keep_tail(text: String, subject: Option<String>, w: usize) -> String {
    let over = width(&text).saturating_sub(w);
    if over == 0 {
        return text;
    }
    let mut text = text;
    if let Some(sub) = subject.filter(|s| text.contains(s.as_str())) {
        let short = shorten_middle(&sub, width(&sub).saturating_sub(over).max(7));
        text = text.replacen(&sub, &short, 1);
    }
    if width(&text) <= w {
        return text;
    }
    // Still too wide: cut the start, keep the last clause (when) whole.
    match text.rsplit_once(": ") {
        Some((head, clause)) if width(clause) + 4 <= w => {
            let head = super::fit(head, w - width(clause) - 2);
            format!("{head}: {clause}")
        }
        _ => format!("…{}", super::tail_of(&text, w.saturating_sub(1))),
    }
}

/// `collisions 2: listener in ephemeral range 46883/tcp loadlab; shared port ...`
fn collision_line(app: &App, theme: &Theme) -> Line<'static> {
    let c = &app.data.alerts.collisions;
    if c.is_empty() {
        return Line::from(Span::styled("collisions none", theme.dim()));
    }
    let items: Vec<String> = c
        .iter()
        .map(|c| {
            let who = c
                .sockets
                .first()
                .and_then(|s| s.processes.first().cloned())
                .unwrap_or_else(|| "-".into());
            format!(
                "{} {}/{} {}",
                collision_kind(c.kind),
                c.port,
                c.proto,
                crate::output::safe(&who)
            )
        })
        .collect();
    Line::from(vec![
        Span::styled(format!("collisions {}: ", c.len()), theme.warn()),
        Span::raw(items.join("; ")),
    ])
}

/// The refresh period: the interval asked for, or, when the last refresh took
/// over half of it, twice that refresh's length (as the feed waits:
/// `Feed::due_after`), with the reason.
fn every(asked: std::time::Duration, took: std::time::Duration) -> String {
    let period = crate::feed::period(asked, took);
    if period > asked {
        format!(
            "every {} ({} asked; refresh {})",
            fmt_interval(period),
            fmt_interval(asked),
            fmt_interval(took)
        )
    } else {
        format!("every {}", fmt_interval(asked))
    }
}

pub fn fmt_interval(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms > 1000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{ms}ms")
    }
}
