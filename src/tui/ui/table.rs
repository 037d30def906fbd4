//! The socket table and the two grouped views. Columns give way by priority as
//! the terminal narrows (bandwhich's declarative cut-offs): titles shorten and
//! addresses shrink (IPv6 in the middle) first, then AGE, USER, PROCESS and the
//! rest go, PID last. Widths are display widths. Every sortable title keeps a
//! cell for the sort arrow, so columns never shift when the sort moves. Only
//! rows on screen are turned into strings.

use super::{fit, shorten_middle, width, Hits};
use crate::model::conn::human_bytes;
use crate::output::{columns, safe_string};
use crate::tui::app::{App, View};
use crate::tui::rows::{fmt_age, Col, DestCol, ProcCol, Row as SockRow, SortKey};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

/// A column on screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Mark,
    Sort(Col),
    Eph,
    /// The socket's network namespace (shown when more than one has sockets).
    Netns,
}

struct Spec {
    c: Shown,
    title: &'static str,
    width: usize,
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, theme: &Theme, hits: &mut Hits) {
    match app.spec.view {
        View::Ephemeral => draw_dests(f, area, app, theme, hits),
        View::Processes => draw_procs(f, area, app, theme, hits),
        View::Namespaces => draw_netns(f, area, app, theme, hits),
        _ => draw_sockets(f, area, app, theme, hits),
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

fn cell(app: &App, r: &SockRow, c: Shown) -> String {
    match c {
        Shown::Mark => r.mark.symbol().into(),
        Shown::Netns => app
            .data
            .snap
            .as_ref()
            .map_or_else(|| "-".into(), |s| safe_string(s.netns_name(r.sock.netns))),
        Shown::Eph => match (r.ephemeral, r.collision()) {
            (true, true) => "E".into(),
            (true, false) => "e".into(),
            _ => " ".into(),
        },
        Shown::Sort(col) => match col {
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
            Col::Process => r
                .owner()
                .map_or_else(|| "-".into(), |p| safe_string(&p.name)),
            Col::User => safe_string(r.sock.user.as_deref().unwrap_or("-")),
            Col::Age => {
                let now = app.data.snap.as_ref().map_or(r.since_ms, |s| s.taken_at_ms);
                fmt_age(now.saturating_sub(r.since_ms))
            }
            c => c.field().map_or_else(String::new, |f| {
                columns::value(
                    f,
                    &r.sock,
                    &columns::Context::default(),
                    columns::Style::Table,
                )
            }),
        },
    }
}

/// A cell cut to its column: addresses in the middle (both ends of an IPv6
/// address say the most), other text at the end, with `…`.
fn fit_cell(s: &str, c: Shown, w: usize) -> String {
    match c {
        Shown::Sort(Col::LocalAddr | Col::RemoteAddr) => shorten_middle(s, w),
        _ => fit(s, w),
    }
}

fn short_title(c: Shown) -> Option<&'static str> {
    Some(match c {
        Shown::Sort(Col::LocalAddr) => "LOCAL",
        Shown::Sort(Col::RemoteAddr) => "REMOTE",
        Shown::Sort(Col::LocalPort) => "LPORT",
        Shown::Sort(Col::RemotePort) => "RPORT",
        Shown::Sort(Col::Proto) => "PROT",
        Shown::Sort(Col::Process) => "PROC",
        _ => return None,
    })
}

/// What a column needs for its title: the title and a cell for the arrow.
fn title_w(s: &Spec) -> usize {
    width(s.title) + usize::from(matches!(s.c, Shown::Sort(_)))
}

fn total(v: &[Spec]) -> usize {
    v.iter().map(|s| s.width.max(title_w(s))).sum::<usize>() + v.len().saturating_sub(1)
}

/// Column layout for `avail` columns.
fn layout(app: &App, rows: &[&SockRow], avail: usize, theme: &Theme) -> Vec<Spec> {
    let max_w = |c: Shown, min: usize, max: usize| {
        rows.iter()
            .map(|r| width(&cell(app, r, c)))
            .max()
            .unwrap_or(0)
            .clamp(min, max)
    };
    // The connection columns only where the source asked for the detail (a
    // recording without it, or a dashboard started with them hidden, shows none).
    let detail = rows.iter().any(|r| {
        r.sock
            .conn
            .as_ref()
            .is_some_and(|c| c.tcp.is_some() || c.mem.is_some())
    });
    let mut specs: Vec<Spec> = Vec::new();
    if !theme.color {
        specs.push(Spec {
            c: Shown::Mark,
            title: " ",
            width: 1,
        });
    }
    // Sockets of more than one namespace: which one, first (rows of the
    // snapshot's own namespace are 0).
    if rows.iter().any(|r| r.sock.netns != 0)
        || app
            .data
            .alerts
            .netns
            .iter()
            .filter(|p| p.sockets > 0)
            .count()
            > 1
    {
        specs.push(Spec {
            c: Shown::Netns,
            title: "NETNS",
            width: max_w(Shown::Netns, 5, 16),
        });
    }
    for col in Col::ALL {
        if col.field().is_some() && !detail {
            continue;
        }
        if !app.hidden.contains(&col) {
            let c = Shown::Sort(col);
            let w = match col {
                Col::Proto => 4,
                Col::LocalAddr | Col::RemoteAddr => max_w(c, 6, 39),
                Col::LocalPort | Col::RemotePort => 5,
                Col::State => 10,
                Col::Pid => 7,
                Col::Process => max_w(c, 4, 24),
                Col::User => max_w(c, 4, 12),
                Col::Age => 4,
                c => c.field().map_or(5, |f| columns::column(f).width),
            };
            specs.push(Spec {
                c,
                title: col.title(),
                width: w,
            });
        }
        if col == Col::LocalPort {
            specs.push(Spec {
                c: Shown::Eph,
                title: "E",
                width: 1,
            });
        }
    }
    if total(&specs) <= avail {
        return specs;
    }
    // 0. The connection columns that say least at a glance (Q, RETR, RTT) give
    // way before anything is shortened.
    for drop in [Col::Queue, Col::Retr, Col::Rtt] {
        if total(&specs) <= avail {
            return specs;
        }
        specs.retain(|s| s.c != Shown::Sort(drop));
    }
    if total(&specs) <= avail {
        return specs;
    }
    // 1. Short titles.
    for s in specs.iter_mut() {
        if let Some(t) = short_title(s.c) {
            s.title = t;
        }
    }
    // 2. Shrink addresses (an IPv4 address keeps its 15) and the process name.
    let shrink = |specs: &mut Vec<Spec>, addr_min: usize, proc_min: usize| {
        while total(specs) > avail {
            let victim = specs
                .iter_mut()
                .filter(|s| match s.c {
                    Shown::Sort(Col::LocalAddr | Col::RemoteAddr) => s.width > addr_min,
                    Shown::Sort(Col::Process) => s.width > proc_min,
                    _ => false,
                })
                .max_by_key(|s| s.width);
            match victim {
                Some(s) => s.width -= 1,
                None => break,
            }
        }
    };
    shrink(&mut specs, 15, 10);
    // 3. Drop columns by priority, shrinking further on the way; PID stays.
    // The rates go after AGE and USER.
    let drops = [
        Col::Age,
        Col::User,
        Col::TxRate,
        Col::RxRate,
        Col::Proto,
        Col::Process,
        Col::RemotePort,
        Col::State,
    ];
    for drop in drops.iter() {
        if total(&specs) <= avail {
            break;
        }
        if *drop == Col::Proto {
            shrink(&mut specs, 9, 7);
            if total(&specs) <= avail {
                break;
            }
        }
        specs.retain(|s| s.c != Shown::Sort(*drop));
    }
    shrink(&mut specs, 6, 4);
    specs
}

fn draw_sockets(f: &mut Frame, area: Rect, app: &App, theme: &Theme, hits: &mut Hits) {
    let body_h = usize::from(area.height.saturating_sub(1));
    let end = app
        .cursor
        .offset
        .saturating_add(body_h)
        .min(app.listing.sockets().len());
    let start = app.cursor.offset.min(end);
    let shown: Vec<&SockRow> = app.listing.sockets()[start..end]
        .iter()
        .filter_map(|i| app.data.rows.get(*i))
        .collect();
    let specs = layout(app, &shown, usize::from(area.width), theme);
    let widths: Vec<usize> = specs.iter().map(|s| s.width.max(title_w(s))).collect();
    let keys: Vec<Option<SortKey>> = specs
        .iter()
        .map(|s| match s.c {
            Shown::Sort(c) => Some(SortKey::Sock(c)),
            _ => None,
        })
        .collect();
    let titles: Vec<&str> = specs.iter().map(|s| s.title).collect();
    let header = header_row(&titles, &keys, app, theme);
    hits.table(area, &widths, &keys, start, end);
    let rows: Vec<Row> = shown
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let cells: Vec<String> = specs
                .iter()
                .zip(&widths)
                .map(|(s, w)| fit_cell(&cell(app, r, s.c), s.c, *w))
                .collect();
            let style = if start + i == app.cursor.selected {
                theme.row(r).patch(theme.selected())
            } else {
                theme.row(r)
            };
            Row::new(cells).style(style)
        })
        .collect();
    let constraints = lengths(&widths);
    if shown.is_empty() {
        let clears = format!(
            "no sockets match ({} clears the filter)",
            crate::tui::keys::hint(
                &crate::tui::app::Action::Close,
                crate::tui::keys::Ctx::Table
            )
        );
        let msg = if app.data.snap.is_none() {
            "waiting for the first snapshot…"
        } else {
            &clears
        };
        let t = Table::new(Vec::<Row>::new(), constraints).header(header);
        f.render_widget(t, area);
        let below = Rect {
            y: area.y.saturating_add(1),
            height: area.height.saturating_sub(1),
            ..area
        };
        f.render_widget(Line::styled(msg, theme.dim()), below);
        return;
    }
    f.render_widget(Table::new(rows, constraints).header(header), area);
}

fn lengths(widths: &[usize]) -> Vec<Constraint> {
    widths
        .iter()
        .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)))
        .collect()
}

/// Titles, the sorted one with its arrow (in the cell kept for it).
fn header_row(titles: &[&str], keys: &[Option<SortKey>], app: &App, theme: &Theme) -> Row<'static> {
    let (sorted, desc) = app.sort_key();
    Row::new(titles.iter().zip(keys).map(|(t, k)| {
        if *k == Some(sorted) {
            format!("{t}{}", theme.arrow(desc))
        } else {
            t.to_string()
        }
    }))
    .style(theme.table_header())
}

fn window<T>(v: &[T], app: &App, area: Rect) -> (usize, usize) {
    let body_h = usize::from(area.height.saturating_sub(1));
    let end = app.cursor.offset.saturating_add(body_h).min(v.len());
    (app.cursor.offset.min(end), end)
}

/// A grouped view's table: fixed widths (at least title + arrow), the first
/// column cut in the middle (it is an address or a pid).
#[allow(clippy::too_many_arguments)]
fn group_table(
    f: &mut Frame,
    area: Rect,
    app: &App,
    titles: &[&str],
    keys: &[Option<SortKey>],
    min_widths: &[usize],
    rows: Vec<(bool, Vec<String>)>,
    range: (usize, usize),
    theme: &Theme,
    hits: &mut Hits,
) {
    let widths: Vec<usize> = titles
        .iter()
        .zip(min_widths)
        .map(|(t, w)| (*w).max(width(t) + 1))
        .collect();
    let header = header_row(titles, keys, app, theme);
    hits.table(area, &widths, keys, range.0, range.1);
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(sel, cells)| {
            let cells: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (c, w))| {
                    if i == 0 {
                        shorten_middle(c, *w)
                    } else {
                        fit(c, *w)
                    }
                })
                .collect();
            let r = Row::new(cells);
            if sel {
                r.style(theme.selected())
            } else {
                r
            }
        })
        .collect();
    f.render_widget(Table::new(rows, lengths(&widths)).header(header), area);
}

fn draw_dests(f: &mut Frame, area: Rect, app: &App, theme: &Theme, hits: &mut Hits) {
    let (start, end) = window(app.listing.dests(), app, area);
    let rows = app.listing.dests()[start..end]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                start + i == app.cursor.selected,
                vec![
                    d.remote.to_string(),
                    d.local.to_string(),
                    d.ports.to_string(),
                    d.time_wait.to_string(),
                    format!("{:.1}%", d.pct),
                    d.rate.map_or_else(|| "-".into(), |r| format!("{r:.1}")),
                    d.runs_out_secs.map_or_else(|| "-".into(), runs_out),
                    human_bytes(d.rx_bps),
                    human_bytes(d.tx_bps),
                ],
            )
        })
        .collect();
    // The summed rates (the last two) only where they fit beside the rest.
    let n = rate_cols(area, DestCol::ALL.len());
    let titles: Vec<&str> = DestCol::ALL[..n].iter().map(|c| c.title()).collect();
    let keys: Vec<Option<SortKey>> = DestCol::ALL[..n]
        .iter()
        .map(|c| Some(SortKey::Dest(*c)))
        .collect();
    // The destination takes what the fixed columns leave (an IPv6 address and
    // port at most; shortened in its middle below that).
    let fixed = 15 + 6 + 10 + 7 + 6 + 9 + 7 + if n == DestCol::ALL.len() { 14 } else { 0 };
    let dest_w = usize::from(area.width).saturating_sub(fixed).clamp(20, 48);
    group_table(
        f,
        area,
        app,
        &titles,
        &keys,
        &[dest_w, 15, 6, 10, 7, 6, 9, 6, 6],
        rows,
        (start, end),
        theme,
        hits,
    );
}

/// How many of a grouped view's `all` columns to show: the last two (RX/s,
/// TX/s) only from 100 columns on, so 80 columns keep the counts whole.
fn rate_cols(area: Rect, all: usize) -> usize {
    if area.width >= 100 {
        all
    } else {
        all - 2
    }
}

/// `now`, `45s`, `12m`, `3.1h`: when a destination runs out at its rate.
fn runs_out(secs: f64) -> String {
    if secs < 0.5 {
        "now".into()
    } else if secs < 120.0 {
        format!("{secs:.0}s")
    } else if secs < 7200.0 {
        format!("{:.0}m", secs / 60.0)
    } else {
        format!("{:.1}h", secs / 3600.0)
    }
}

fn draw_netns(f: &mut Frame, area: Rect, app: &App, theme: &Theme, hits: &mut Hits) {
    let list = app.listing.namespaces();
    let (start, end) = window(list, app, area);
    let rows = list[start..end]
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let cells = crate::tui::netns::cells(n)
                .iter()
                .map(|c| safe_string(c))
                .collect();
            (start + i == app.cursor.selected, cells)
        })
        .collect();
    // A fixed order, the worst first: no sort keys.
    let keys = vec![None; crate::tui::netns::TITLES.len()];
    let name_w = list.iter().map(|n| width(&n.name)).max().unwrap_or(0);
    let cont_w = list.iter().map(|n| width(&n.container)).max().unwrap_or(0);
    group_table(
        f,
        area,
        app,
        &crate::tui::netns::TITLES,
        &keys,
        &[name_w.clamp(6, 32), cont_w.clamp(9, 24), 11, 7, 6, 6, 20],
        rows,
        (start, end),
        theme,
        hits,
    );
}

fn draw_procs(f: &mut Frame, area: Rect, app: &App, theme: &Theme, hits: &mut Hits) {
    let (start, end) = window(app.listing.procs(), app, area);
    let rows = app.listing.procs()[start..end]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                start + i == app.cursor.selected,
                vec![
                    p.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                    safe_string(&p.name),
                    safe_string(&p.user),
                    p.total().to_string(),
                    p.listening.to_string(),
                    p.established.to_string(),
                    p.other.to_string(),
                    p.ephemeral.to_string(),
                    human_bytes(p.rx_bps),
                    human_bytes(p.tx_bps),
                ],
            )
        })
        .collect();
    let n = rate_cols(area, ProcCol::ALL.len());
    let titles: Vec<&str> = ProcCol::ALL[..n].iter().map(|c| c.title()).collect();
    let keys: Vec<Option<SortKey>> = ProcCol::ALL[..n]
        .iter()
        .map(|c| Some(SortKey::Proc(*c)))
        .collect();
    group_table(
        f,
        area,
        app,
        &titles,
        &keys,
        &[7, 16, 10, 6, 6, 6, 6, 9, 6, 6],
        rows,
        (start, end),
        theme,
        hits,
    );
}
