//! The socket table and the two grouped views. Columns give way by priority as
//! the terminal narrows (bandwhich's declarative cut-offs): titles shorten and
//! addresses shrink (IPv6 in the middle) first, then AGE, USER, PROCESS and the
//! rest go, PID last. Widths are display widths. Every sortable title keeps a
//! cell for the sort arrow, so columns never shift when the sort moves. Only
//! rows on screen are turned into strings. Which columns, their titles (and
//! short titles), widths and cell text come from the one column list,
//! `output::columns` (`DASHBOARD`), as `list`'s do; this file keeps the
//! table's own: narrowing order, arrow cell, colours, `…` cuts, click map.

use super::{fit, shorten_middle, width, Hits};
use crate::model::conn::human_bytes;
use crate::output::columns::{self, Field};
use crate::output::safe_string;
use crate::tui::app::{App, View};
use crate::tui::rows::{Col, DestCol, ProcCol, Row as SockRow, SortKey};
use crate::tui::theme::Theme;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Row, Table};
use ratatui::Frame;

/// A column on screen: the colour-less mark, or a column of the one list
/// (`output::columns`), sortable or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Mark,
    Sort(Col),
    /// Not a sort key: the E mark and the socket's network namespace (shown
    /// when more than one has sockets).
    Plain(Field),
}

impl Shown {
    fn field(self) -> Option<Field> {
        match self {
            Shown::Mark => None,
            Shown::Sort(c) => Some(c.field()),
            Shown::Plain(f) => Some(f),
        }
    }
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

/// What the one list's values need from a dashboard row besides its socket.
fn context<'a>(app: &'a App, r: &'a SockRow) -> columns::Context<'a> {
    let mut names: Vec<&str> = r.owners.iter().map(|p| p.name.as_str()).collect();
    names.dedup();
    let snap = app.data.snap.as_ref();
    let now = snap.map_or(r.since_ms, |s| s.taken_at_ms);
    columns::Context {
        names,
        cmdline: None,
        ephemeral: r.ephemeral,
        collision: r.collision(),
        netns: snap.map(|s| s.netns_name(r.sock.netns)),
        age_ms: Some(now.saturating_sub(r.since_ms)),
    }
}

/// A cell's text, before it is cut to its column: the one list's value.
fn cell(app: &App, r: &SockRow, c: Shown) -> String {
    match c.field() {
        None => r.mark.symbol().into(),
        Some(f) => columns::value(f, &r.sock, &context(app, r), columns::Style::Cell),
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
    let short = columns::column(c.field()?).short;
    (!short.is_empty()).then_some(short)
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
    let netns = rows.iter().any(|r| r.sock.netns != 0)
        || app
            .data
            .alerts
            .netns
            .iter()
            .filter(|p| p.sockets > 0)
            .count()
            > 1;
    for &f in columns::DASHBOARD {
        let c = match Col::of(f) {
            Some(col) if app.hidden.contains(&col) || (col.is_detail() && !detail) => continue,
            Some(col) => Shown::Sort(col),
            None if f == Field::Netns && !netns => continue,
            None => Shown::Plain(f),
        };
        let column = columns::column(f);
        let width = if column.max > 0 {
            max_w(c, column.width, column.max)
        } else {
            column.width
        };
        specs.push(Spec {
            c,
            title: column.title,
            width,
        });
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
                    human_bytes(d.rx_bytes as f64),
                    human_bytes(d.tx_bytes as f64),
                ],
            )
        })
        .collect();
    // The summed rates and bytes (the last four) only where they fit beside
    // the rest.
    let n = traffic_cols(area, DestCol::ALL.len());
    let titles: Vec<&str> = DestCol::ALL[..n].iter().map(|c| c.title()).collect();
    let keys: Vec<Option<SortKey>> = DestCol::ALL[..n]
        .iter()
        .map(|c| Some(SortKey::Dest(*c)))
        .collect();
    // The destination takes what the fixed columns leave (an IPv6 address and
    // port at most; shortened in its middle below that).
    let shown = TRAFFIC_W.len() - (DestCol::ALL.len() - n);
    let traffic: usize = TRAFFIC_W[..shown].iter().map(|w| w + 1).sum();
    let fixed = 15 + 6 + 10 + 7 + 6 + 9 + 7 + traffic;
    let dest_w = usize::from(area.width).saturating_sub(fixed).clamp(20, 48);
    group_table(
        f,
        area,
        app,
        &titles,
        &keys,
        &[&[dest_w, 15, 6, 10, 7, 6, 9][..], &TRAFFIC_W].concat(),
        rows,
        (start, end),
        theme,
        hits,
    );
}

/// The widths of a grouped view's last four columns, the traffic: RX/s, TX/s
/// (`120.6K`), RX, TX (`1023.9M`).
const TRAFFIC_W: [usize; 4] = [6, 6, 7, 7];

/// How many of a grouped view's `all` columns to show, by width priority: the
/// counts always (80 columns keep them whole), the summed rates RX/s and TX/s
/// from 100 columns on, the summed bytes RX and TX from 120.
fn traffic_cols(area: Rect, all: usize) -> usize {
    all - (TRAFFIC_W.len() - traffic_shown(area.width))
}

/// How many of the four traffic columns a grouped view `width` wide shows.
pub(crate) fn traffic_shown(width: u16) -> usize {
    if width >= 120 {
        4
    } else if width >= 100 {
        2
    } else {
        0
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
                    human_bytes(p.rx_bytes as f64),
                    human_bytes(p.tx_bytes as f64),
                ],
            )
        })
        .collect();
    let n = traffic_cols(area, ProcCol::ALL.len());
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
        &[&[7, 16, 10, 6, 6, 6, 6, 9][..], &TRAFFIC_W].concat(),
        rows,
        (start, end),
        theme,
        hits,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use crate::model::conn::{ConnInfo, MemInfo, Rates, TcpInfo, Timer};
    use crate::model::{Netns, Proto, SockState};
    use crate::testkit::dashboard::{base, ep, sock, Fed};
    use std::time::Duration;

    /// `base()` with a second namespace's socket, a connection with the
    /// kernel's detail and a socket two processes share.
    fn varied() -> crate::model::Snapshot {
        let mut s = base();
        s.sockets[2].conn = Some(Box::new(ConnInfo {
            cookie: 1,
            rx_queue: 3,
            tx_queue: 40,
            timer: Timer::On,
            timer_left_ms: 200,
            timer_retrans: 1,
            tcp: Some(TcpInfo {
                rtt: 1500,
                total_retrans: 2,
                snd_cwnd: 10,
                bytes_acked: 5000,
                bytes_received: 7000,
                ..Default::default()
            }),
            mem: Some(MemInfo::default()),
            rates: Some(Rates {
                rx_bps: 2048.0,
                tx_bps: 10.0,
                ..Default::default()
            }),
        }));
        let mut k = sock(
            Proto::Tcp,
            ep("172.17.0.2", 40000),
            Some(ep("10.0.0.1", 443)),
            SockState::Established,
            50,
            Some(300),
        );
        k.netns = 77;
        s.sockets.push(k);
        s.sockets[0].pids = [100, 200].into_iter().collect();
        let ns = |inode, name: &str, own| Netns {
            inode,
            name: name.into(),
            own,
            container: None,
            range: s.range.clone(),
            counters: None,
            handle: None,
        };
        s.netns = vec![ns(1, "host", true), ns(77, "web", false)];
        s
    }

    /// Every column the dashboard's socket table and `list --info`'s table
    /// both show has the same title and, for the same socket, the same text
    /// (the dashboard's before it is cut to its width; of several owners it
    /// shows the first).
    #[test]
    fn dashboard_and_list_agree_on_shared_columns() {
        let mut a = Fed::new(App::new(Filter::default(), Duration::from_secs(1), false));
        let snap = varied();
        a.snapshot(snap.clone());
        let app = &a.app;
        let rows: Vec<&SockRow> = app.data.rows.iter().collect();
        assert_eq!(rows.len(), snap.sockets.len());
        let specs = layout(app, &rows, 1000, &Theme::color());
        let list_fields = crate::output::list::table_fields(&snap, true);
        let mut shared = Vec::new();
        for (i, f) in list_fields.iter().enumerate() {
            let Some(spec) = specs.iter().find(|s| s.c.field() == Some(*f)) else {
                continue;
            };
            shared.push(*f);
            assert_eq!(spec.title, columns::column(*f).title, "{f:?}");
            for r in &rows {
                let dash = cell(app, r, spec.c);
                let list = crate::output::list::table_cells(&snap, &r.sock, &list_fields);
                if r.sock.pids.len() > 1 && matches!(f, Field::Pids | Field::Process) {
                    let first = list[i].split(',').next().unwrap_or_default();
                    assert_eq!(dash, first, "{f:?} of {:?}", r.sock.local);
                } else {
                    assert_eq!(dash, list[i], "{f:?} of {:?}", r.sock.local);
                }
            }
        }
        // the table's columns and the detail both ways
        for f in [
            Field::Netns,
            Field::Proto,
            Field::State,
            Field::Ephemeral,
            Field::Pids,
            Field::Process,
            Field::User,
            Field::Rtt,
            Field::Retrans,
        ] {
            assert!(shared.contains(&f), "{f:?} not in both: {shared:?}");
        }
        // and the values say something (not all "-")
        let r = rows
            .iter()
            .find(|r| r.sock.conn.is_some())
            .expect("the detailed row");
        assert_eq!(cell(app, r, Shown::Sort(Col::Rtt)), "1.5ms");
        assert_eq!(cell(app, r, Shown::Plain(Field::Netns)), "host");
    }

    /// Every dashboard column is in the one list with a title; the sortable
    /// ones are the `Col`s, in the same order as `Col::ALL`.
    #[test]
    fn the_dashboard_draws_its_columns_from_the_one_list() {
        let sortable: Vec<Col> = columns::DASHBOARD
            .iter()
            .filter_map(|f| Col::of(*f))
            .collect();
        assert_eq!(sortable, Col::ALL.to_vec());
        for c in Col::ALL {
            assert_eq!(c.title(), columns::column(c.field()).title);
        }
    }
}
