//! Header: host, time, interval/paused, counts by state, the ephemeral range and
//! the pool gauge, and the view tabs.

use super::clock;
use crate::tui::app::{App, View};
use crate::tui::rows::pool_use;
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
        Some(s) => (s.host.as_str(), clock(s.taken_at_ms)),
        None => ("…", "waiting for the first snapshot".to_string()),
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
        l1.push(Span::styled(
            "  other users' processes hidden: run as root",
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
            lines.push(Line::from(format!(
                "ephemeral {}-{} ({})  pool {}  reserved in range {}",
                r.low,
                r.high,
                r.source,
                r.pool_size(),
                r.reserved_in_range()
            )));
            let (used, pool) = pool_use(s);
            lines.push(gauge(used, pool, area.width, theme));
        }
        None => {
            lines.push(Line::from(""));
            lines.push(Line::from(""));
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

/// `pool [#####.....] 123/28232 0.4%`, the bar as wide as the line allows.
fn gauge(used: u32, pool: u32, width: u16, theme: &Theme) -> Line<'static> {
    let pct = 100.0 * f64::from(used) / f64::from(pool.max(1));
    let label = format!(" {used}/{pool} ports in use ({pct:.1}%)");
    let bar_w = usize::from(width)
        .saturating_sub(label.chars().count() + 8)
        .min(50);
    let filled = ((pct / 100.0) * bar_w as f64).ceil() as usize;
    let filled = filled.min(bar_w);
    Line::from(vec![
        Span::raw("pool ["),
        Span::styled("#".repeat(filled), theme.gauge(pct)),
        Span::styled(".".repeat(bar_w.saturating_sub(filled)), theme.dim()),
        Span::raw("]"),
        Span::styled(label, theme.gauge(pct)),
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
