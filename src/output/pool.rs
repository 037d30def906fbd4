//! `porttop pool`: the pressure report and collisions as text or JSON.

use super::{count, safe, write_table};
use crate::analysis::collisions::{Collision, CollisionKind};
use crate::analysis::pool::{Driver, PoolReport};
use serde::Serialize;
use std::io::{self, Write};

fn pct(f: f64) -> String {
    format!("{:.1} %", f * 100.0)
}

/// What drove the level, in words.
pub fn driver_text(r: &PoolReport) -> String {
    match &r.driver {
        Driver::Global { proto } => format!("global {proto} pool"),
        Driver::Destination(k) => format!("destination {k}"),
        Driver::EmptyPool => "empty pool: the range has no usable port".into(),
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
}

pub fn pool_json(
    out: &mut dyn Write,
    r: &PoolReport,
    collisions: &[Collision],
    top: usize,
) -> io::Result<()> {
    let mut trimmed = r.clone();
    trimmed.destinations.truncate(top);
    serde_json::to_writer_pretty(
        &mut *out,
        &PoolJson {
            report: &trimmed,
            collisions,
        },
    )?;
    writeln!(out)
}
