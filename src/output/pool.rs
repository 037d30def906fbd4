//! `porttop pool`: the pressure report and collisions as text or JSON.

use super::{count, safe, write_table};
use crate::analysis::collisions::{Collision, CollisionKind};
use crate::analysis::pool::{Driver, PoolReport};
use serde::Serialize;
use std::io::{self, Write};

fn pct(f: f64) -> String {
    format!("{:.1} %", f * 100.0)
}

/// What drove the level, in words (naming the network namespace when the
/// report is the worst of several).
pub fn driver_text(r: &PoolReport) -> String {
    let what = match &r.driver {
        Driver::Global { proto } => format!("global {proto} pool"),
        Driver::Destination(k) => format!("destination {k}"),
        Driver::EmptyPool => "empty pool: the range has no usable port".into(),
    };
    match &r.netns {
        Some(ns) => format!("{what} in netns {}", safe(ns)),
        None => what,
    }
}

/// The columns of a table of namespaces (`pool` and the dashboard's view).
pub const NETNS_TITLES: [&str; 7] = [
    "NETNS",
    "CONTAINER",
    "RANGE",
    "SOCKETS",
    "LEVEL",
    "POOL",
    "WORST DESTINATION",
];

/// The pool of every network namespace, the worst first (after `pool_text`
/// when there is more than one).
pub fn pool_netns_text(
    out: &mut dyn Write,
    pools: &[crate::analysis::NetnsPool],
) -> io::Result<()> {
    writeln!(out, "namespaces   {}", pools.len())?;
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|p| {
            let r = &p.report;
            vec![
                format!("  {}", safe(&p.name)),
                safe(p.container.as_deref().unwrap_or("-")).into_owned(),
                format!("{}-{}", r.range_low, r.range_high),
                p.sockets.to_string(),
                r.level.as_str().to_string(),
                pct(r.fraction),
                match &r.worst {
                    Some(d) => d.key.remote.to_string(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut header = NETNS_TITLES;
    header[0] = "  NETNS";
    write_table(
        out,
        Some(&header),
        &rows,
        &[false, false, false, true, false, true, false],
    )
}

/// The JSON of one namespace's pool in `pool --json`.
#[derive(Serialize)]
pub struct NetnsPoolJson<'a> {
    pub inode: u64,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<&'a str>,
    pub sockets: usize,
    pub level: crate::analysis::pool::Level,
    pub fraction: f64,
    pub range_low: u16,
    pub range_high: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<String>,
}

impl<'a> NetnsPoolJson<'a> {
    pub fn of(p: &'a crate::analysis::NetnsPool) -> Self {
        NetnsPoolJson {
            inode: p.inode,
            name: &p.name,
            container: p.container.as_deref(),
            sockets: p.sockets,
            level: p.report.level,
            fraction: p.report.fraction,
            range_low: p.report.range_low,
            range_high: p.report.range_high,
            worst: p.report.worst.as_ref().map(|d| d.key.remote.to_string()),
        }
    }
}

pub fn collision_kind(k: CollisionKind) -> &'static str {
    match k {
        CollisionKind::ListenerInEphemeralRange => "listener in ephemeral range",
        CollisionKind::SharedPort => "shared port",
        CollisionKind::MalwarePort => "malware port",
    }
}

pub fn pool_text(
    out: &mut dyn Write,
    r: &PoolReport,
    collisions: &[Collision],
    top: usize,
) -> io::Result<()> {
    writeln!(
        out,
        "level        {} ({} of the pool; {}){}",
        r.level.as_str().to_uppercase(),
        pct(r.fraction),
        driver_text(r),
        match (r.level_by, r.exhaustion_secs) {
            (crate::analysis::pool::LevelBy::Projection, Some(secs)) => {
                format!(": by projection, runs out in ~{secs:.0} s")
            }
            _ => String::new(),
        }
    )?;
    writeln!(
        out,
        "range        {}-{}: pool {} ({} reserved in range)",
        r.range_low,
        r.range_high,
        count(r.pool_size, "port"),
        r.reserved_in_range
    )?;
    for u in [&r.tcp, &r.udp] {
        let states: Vec<String> = u.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
        writeln!(
            out,
            "global {}   {} in use ({}){}{}",
            u.proto,
            count(u.ports_in_use, "port"),
            pct(u.fraction),
            if states.is_empty() { "" } else { ": " },
            states.join(", ")
        )?;
    }
    if r.destinations.is_empty() {
        writeln!(out, "destinations none with an ephemeral local port")?;
    } else {
        writeln!(out, "busiest destinations")?;
        let rows: Vec<Vec<String>> = r
            .destinations
            .iter()
            .take(top)
            .map(|d| {
                vec![
                    format!("  {}", d.key.proto),
                    d.key.local_addr.to_string(),
                    d.key.remote.to_string(),
                    d.sockets.to_string(),
                    if d.reusable_time_wait > 0 {
                        format!("{} ({} reusable)", d.time_wait, d.reusable_time_wait)
                    } else {
                        d.time_wait.to_string()
                    },
                    pct(d.fraction),
                ]
            })
            .collect();
        let header = [
            "  PROTO",
            "LOCAL ADDR",
            "DESTINATION",
            "SOCKETS",
            "TIME-WAIT",
            "POOL",
        ];
        write_table(
            out,
            Some(&header),
            &rows,
            &[false, false, false, true, true, true],
        )?;
    }
    use crate::analysis::pool::Projection;
    let with_data: Vec<_> = r
        .projections
        .iter()
        .filter(|p| p.projection != Projection::NoData)
        .collect();
    if with_data.is_empty() && !r.destinations.is_empty() {
        writeln!(out, "projection   needs two snapshots (--sample SECS)")?;
    }
    if let Some(g) = r
        .global_projection
        .as_ref()
        .filter(|g| **g != Projection::NoData)
    {
        writeln!(
            out,
            "projection   {}",
            g.sentence(&format!("the global {} pool", r.global.proto))
        )?;
    }
    for p in with_data {
        writeln!(out, "projection   {p}")?;
    }
    if collisions.is_empty() {
        writeln!(out, "collisions   none")?;
    } else {
        writeln!(out, "collisions   {}", collisions.len())?;
        for c in collisions {
            let who: Vec<String> = c
                .sockets
                .iter()
                .map(|s| {
                    let names = if s.processes.is_empty() {
                        "-".to_string()
                    } else {
                        s.processes.join(",")
                    };
                    format!("{} {}", s.local, names)
                })
                .collect();
            writeln!(
                out,
                "  {} {}/{}{}: {} [{}]",
                collision_kind(c.kind),
                c.port,
                c.proto,
                match (c.probably_intentional, c.kind) {
                    (false, _) => "",
                    (true, CollisionKind::ListenerInEphemeralRange) => " (likely a client's port)",
                    (true, _) => " (probably intentional)",
                },
                safe(&c.message),
                safe(&who.join("; "))
            )?;
        }
    }
    for n in &r.notes {
        writeln!(out, "note         {}", safe(n))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct PoolJson<'a> {
    #[serde(flatten)]
    report: &'a PoolReport,
    collisions: &'a [Collision],
    /// Every network namespace's pool, the worst first (with more than one).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    namespaces: Vec<NetnsPoolJson<'a>>,
}

pub fn pool_json(
    out: &mut dyn Write,
    r: &PoolReport,
    collisions: &[Collision],
    top: usize,
    pools: &[crate::analysis::NetnsPool],
) -> io::Result<()> {
    let mut trimmed = r.clone();
    trimmed.destinations.truncate(top);
    serde_json::to_writer_pretty(
        &mut *out,
        &PoolJson {
            report: &trimmed,
            collisions,
            namespaces: if pools.len() > 1 {
                pools.iter().map(NetnsPoolJson::of).collect()
            } else {
                Vec::new()
            },
        },
    )?;
    writeln!(out)
}

/// `pool --nagios`: the one line of the Nagios plugin API — status, a summary,
/// and performance data as `label=value[UOM];warn;crit;min;max`
/// (<https://nagios-plugins.org/doc/guidelines.html#AEN200>), which Icinga reads
/// the same way. The exit status (0/1/2) is the caller's, as for the text form.
pub fn pool_nagios(
    out: &mut dyn Write,
    r: &PoolReport,
    collisions: &[Collision],
    t: &crate::analysis::pool::Thresholds,
) -> io::Result<()> {
    use crate::analysis::pool::{Level, Projection};
    use crate::model::SockState;
    let status = match r.level {
        Level::Ok => "OK",
        Level::Warn => "WARNING",
        Level::Critical => "CRITICAL",
    };
    // The soonest exhaustion, if any destination is heading there.
    let soonest = r
        .projections
        .iter()
        .filter_map(|p| match p.projection {
            Projection::Exhausts { secs } => Some((secs, p)),
            _ => None,
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    let mut summary = format!(
        "ephemeral pool {:.1}% used ({}), range {}-{}, {} collision{}",
        r.fraction * 100.0,
        driver_text(r),
        r.range_low,
        r.range_high,
        collisions.len(),
        if collisions.len() == 1 { "" } else { "s" }
    );
    if let Some((_, p)) = soonest {
        summary.push_str("; ");
        summary.push_str(&p.to_string());
    }
    if r.level_by == crate::analysis::pool::LevelBy::Projection {
        summary.push_str(&format!(
            "; level by projection (runs out within --{}-within)",
            if r.level == Level::Critical {
                "crit"
            } else {
                "warn"
            }
        ));
    }
    // The summary must not contain the performance data separator.
    let summary = summary.replace('|', "/");
    // Hundredths of a percent (a busy host's 12 ports of 28,232 are 0.04 %),
    // without trailing zeros.
    let pct = |f: f64| {
        let s = format!("{:.2}", f * 100.0);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let time_wait = r
        .tcp
        .by_state
        .get(&SockState::TimeWait)
        .copied()
        .unwrap_or(0);
    let worst = r.worst.as_ref().map_or(0, |d| d.sockets);
    let mut perf = vec![
        format!(
            "pool={}%;{};{};0;100",
            pct(r.fraction),
            pct(t.warn),
            pct(t.crit)
        ),
        format!("tcp_ports={};;;0;{}", r.tcp.ports_in_use, r.pool_size),
        format!("udp_ports={};;;0;{}", r.udp.ports_in_use, r.pool_size),
        format!("time_wait_ports={time_wait};;;0;{}", r.pool_size),
        format!("worst_destination={worst};;;0;{}", r.pool_size),
        format!("collisions={};;;0", collisions.len()),
    ];
    // The soonest of the global pool and every destination; the thresholds are
    // the windows, as ranges that alert below them ("300:", the guidelines'
    // range syntax).
    if let Some(secs) = r.exhaustion_secs.or(soonest.map(|(s, _)| s)) {
        perf.push(format!(
            "exhaustion_seconds={:.0}s;{:.0}:;{:.0}:;0",
            secs.max(0.0),
            t.warn_within_secs,
            t.crit_within_secs
        ));
    }
    writeln!(out, "PORTTOP {status} - {summary} | {}", perf.join(" "))
}

#[cfg(test)]
mod nagios_tests {
    use crate::analysis::pool::{analyze_with_churn, Churn, Hysteresis, Thresholds};
    use crate::model::{PortRange, SockState};
    use crate::testkit::*;

    #[test]
    fn the_plugin_line_says_the_projection_raised_the_level_and_carries_its_time() {
        let range = PortRange::new(40000, 40999, Vec::new(), "t");
        let mut churn = Churn::default();
        churn.observe(&snap(0, range.clone(), Vec::new()));
        let s = snap(
            10_000,
            range,
            many(
                "10.0.0.2",
                "10.0.0.5:443",
                40000,
                200,
                SockState::Established,
            ),
        );
        churn.observe(&s);
        let t = Thresholds::default();
        let r = analyze_with_churn(&s, t, &churn, 5, Hysteresis::default());
        let mut out = Vec::new();
        super::pool_nagios(&mut out, &r, &[], &t).unwrap();
        let line = String::from_utf8(out).unwrap();
        assert!(line.starts_with("PORTTOP CRITICAL - "), "{line}");
        assert!(line.contains("level by projection"), "{line}");
        assert!(line.contains("exhaustion_seconds=40s;300:;60:;0"), "{line}");
    }
}
