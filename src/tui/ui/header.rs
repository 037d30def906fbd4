//! Header: host, time, interval/paused, counts by state, the ephemeral range and
//! the pool gauge, and the view tabs.

use super::clock;
use crate::analysis::pool::Level;
use crate::output::collision_kind;
use crate::tui::app::{App, View};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut lines: Vec<Line> = Vec::with_capacity(5);
    let every = if app.paused {
        Span::styled("PAUSED", theme.warn())
    } else {
        Span::raw(format!("every {}", fmt_interval(app.interval)))
    };
    let (host, when) = match &app.snap {
        Some(s) => (crate::output::safe(&s.host), clock(s.taken_at_ms)),
        None => ("…".into(), "waiting for the first snapshot".to_string()),
    };
    let mut l1 = vec![
        Span::styled("porttop", theme.title()),
        Span::raw(format!("  {host}  {when}  ")),
        every,
    ];
    if app.replay {
        l1.push(Span::styled("  (replay)", theme.dim()));
    }
    if app.snap.as_ref().is_some_and(|s| s.partial) {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        l1.push(Span::styled(
            if root {
                "  some processes hidden (another PID namespace?)"
            } else {
                "  other users' processes hidden: run as root"
            },
            theme.dim(),
        ));
    }
    lines.push(Line::from(l1));
    let (listen, estab, tw, other) = app.counts();
    lines.push(Line::from(format!(
        "LISTEN {listen}  ESTAB {estab}  TIME-WAIT {tw}  other {other}  total {}",
        listen + estab + tw + other
    )));
    match &app.snap {
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
            lines.push(alert_line(app, theme));
            lines.push(collision_line(app, theme));
        }
        None => {
            for _ in 0..4 {
                lines.push(Line::from(""));
            }
        }
    }
    let mut tabs = Vec::new();
    for (i, v) in View::ALL.iter().enumerate() {
        let text = format!(" {} {} ", i + 1, v.title());
        let style = if *v == app.view {
            theme.active_tab()
        } else {
            theme.dim()
        };
        tabs.push(Span::styled(text, style));
        tabs.push(Span::raw(" "));
    }
    lines.push(Line::from(tabs));
    f.render_widget(Paragraph::new(lines), area);
}

/// `pool [#####.....] 85.0% WARN  worst 127.0.0.1:12000 85/100 (TW 0)`: the
/// larger of the global and the worst destination's use; the bar as wide as the
/// line allows.
fn pool_line(app: &App, width: u16, theme: &Theme) -> Line<'static> {
    let Some(r) = app.alerts.report.as_ref() else {
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
    let label = format!(" {pct:.1}% {level}");
    let bar_w = usize::from(width)
        .saturating_sub(label.chars().count() + worst.chars().count() + 8)
        .clamp(0, 40);
    // Rounded, not ceiled: a `#` at a label of 0.0 % claimed use there is none of.
    let filled = (((pct / 100.0) * bar_w as f64).round() as usize).min(bar_w);
    let style = match r.level {
        Level::Ok => theme.gauge(pct),
        _ => theme.warn(),
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

/// The warning with its projection at warn/critical; otherwise the worst
/// destination's projection (or nothing to say).
fn alert_line(app: &App, theme: &Theme) -> Line<'static> {
    if let Some(w) = app.alerts.warning() {
        let style = match app.alerts.level() {
            Level::Critical => theme.error(),
            _ => theme.warn(),
        };
        return Line::from(Span::styled(w, style));
    }
    match app.alerts.projection_of_worst() {
        Some(p) if p.projection != crate::analysis::pool::Projection::NoData => {
            Line::from(Span::styled(p.to_string(), theme.dim()))
        }
        _ => Line::from(Span::styled("pool ok", theme.dim())),
    }
}

/// `collisions 2: listener in ephemeral range 46883/tcp loadlab; shared port ...`
fn collision_line(app: &App, theme: &Theme) -> Line<'static> {
    let c = &app.alerts.collisions;
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
