//! The details pane: every field of the selected socket and all its owners.

use super::centered;
use crate::output::safe;
use crate::tui::app::App;
use crate::tui::rows::{service_name, Mark};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect, app: &App, advice: Option<&String>, theme: &Theme) {
    let Some(r) = app.selected_row() else { return };
    let s = &r.sock;
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<11}"), theme.title()),
            Span::raw(v),
        ])
    };
    let range = app.data.snap.as_ref().map(|s| &s.range);
    let mut lines = vec![
        kv("protocol", format!("{} ({})", s.proto, s.family.as_str())),
        kv("local", s.local.to_string()),
        kv(
            "remote",
            s.remote.map_or_else(|| "*".into(), |e| e.to_string()),
        ),
        kv("state", s.state.to_string()),
        kv(
            "local port",
            format!(
                "{}{}{}",
                if r.ephemeral {
                    "ephemeral"
                } else {
                    "not ephemeral"
                },
                if r.reserved { ", reserved" } else { "" },
                range.map_or_else(String::new, |r| format!(" (range {}-{})", r.low, r.high)),
            ),
        ),
        kv(
            "service",
            service_name(s.local.port, s.proto).unwrap_or_else(|| "-".into()),
        ),
        kv(
            "user",
            format!(
                "{} (uid {})",
                safe(s.user.as_deref().unwrap_or("-")),
                s.uid.map_or_else(|| "-".into(), |u| u.to_string())
            ),
        ),
        kv(
            "inode",
            s.inode.map_or_else(|| "-".into(), |i| i.to_string()),
        ),
    ];
    // The use of this socket's destination pool over the last minutes.
    if let Some(key) = crate::model::DestKey::of(s) {
        if let Some(h) = app.data.alerts.dest_history.get(&key) {
            let last = h.last().copied().unwrap_or(0.0);
            lines.push(kv(
                "dest. pool",
                format!(
                    "{:.1}% now{}",
                    last * 100.0,
                    super::header::sparkline(h, 40, theme.color)
                ),
            ));
        }
    }
    // The advisor on the local port (computed with the data, not here).
    if let Some(text) = advice {
        let s = &r.sock;
        lines.push(kv("advisor", text.clone()));
        for m in crate::ports::malware(s.local.port, s.proto) {
            lines.push(Line::styled(
                format!("malware    {} ({}) used this port", m.name, m.role),
                theme.warn(),
            ));
        }
    }
    for c in app.data.alerts.collisions.iter().filter(|c| {
        c.netns == s.netns && c.proto == s.proto && c.sockets.iter().any(|x| x.local == s.local)
    }) {
        lines.push(Line::styled(
            format!("collision  {}", safe(&c.message)),
            theme.warn(),
        ));
    }
    let change = match r.mark {
        Mark::None => None,
        Mark::New => Some("new"),
        Mark::Changed => Some("state changed"),
        Mark::Closed => Some("closed"),
    };
    if let Some(c) = change {
        lines.push(kv("change", c.into()));
    }
    lines.extend(super::conn_details::lines(r, theme.title(), theme.color));
    if s.pids.is_empty() {
        lines.push(kv("processes", s.why_no_process(app.data.root).into()));
    } else {
        lines.push(kv("processes", format!("{} holding it", s.pids.len())));
        for pid in &s.pids {
            match r.owners.iter().find(|p| p.pid == *pid) {
                Some(p) => {
                    lines.push(Line::from(format!(
                        "  pid {}  {}  user {}",
                        p.pid,
                        safe(&p.name),
                        safe(p.user.as_deref().unwrap_or("-"))
                    )));
                    lines.push(Line::styled(
                        format!(
                            "    {}",
                            if p.cmdline.is_empty() {
                                "-".into()
                            } else {
                                safe(&p.cmdline)
                            }
                        ),
                        theme.dim(),
                    ));
                }
                None => lines.push(Line::from(format!("  pid {pid}  (gone)"))),
            }
        }
    }
    let h = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let rect = centered(area, area.width.saturating_sub(4).min(100), h);
    f.render_widget(Clear, rect);
    let block = Block::default().borders(Borders::ALL).title(format!(
        " socket details ({} closes) ",
        crate::tui::keys::hint(
            &crate::tui::app::Action::Close,
            crate::tui::keys::Ctx::Details
        )
    ));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}
