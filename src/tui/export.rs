//! `w` in the grouped views: the Ephemeral and Processes tables as CSV or JSON
//! (the socket views reuse `porttop list`'s `--csv` and `--json` writers).

use super::rows::{DestGroup, ProcGroup};
use crate::output::csv_field;
use std::io::{self, Write};

fn json_array<T: serde::Serialize>(out: &mut dyn Write, items: &[T]) -> io::Result<()> {
    out.write_all(b"[")?;
    for (i, x) in items.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, x)?;
    }
    out.write_all(b"\n]\n")
}

pub fn dests(out: &mut dyn Write, v: &[DestGroup], json: bool) -> io::Result<()> {
    if json {
        return json_array(out, v);
    }
    writeln!(
        out,
        "proto,remote_addr,remote_port,local_addr,ports,time_wait,pool_percent,new_per_sec,runs_out_secs,rx_bps,tx_bps"
    )?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    for d in v {
        writeln!(
            out,
            "{},{},{},{},{},{},{:.1},{},{},{:.0},{:.0}",
            d.proto,
            d.remote.addr,
            d.remote.port,
            d.local,
            d.ports,
            d.time_wait,
            d.pct,
            opt(d.rate),
            opt(d.runs_out_secs),
            d.rx_bps,
            d.tx_bps
        )?;
    }
    Ok(())
}

pub fn procs(out: &mut dyn Write, v: &[ProcGroup], json: bool) -> io::Result<()> {
    if json {
        return json_array(out, v);
    }
    writeln!(
        out,
        "pid,process,user,sockets,listening,established,other,ephemeral_ports,rx_bps,tx_bps"
    )?;
    for p in v {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{:.0},{:.0}",
            p.pid.map(|p| p.to_string()).unwrap_or_default(),
            csv_field(&p.name),
            csv_field(&p.user),
            p.total(),
            p.listening,
            p.established,
            p.other,
            p.ephemeral,
            p.rx_bps,
            p.tx_bps
        )?;
    }
    Ok(())
}

pub fn namespaces(
    out: &mut dyn Write,
    v: &[crate::tui::netns::NsGroup],
    json: bool,
) -> io::Result<()> {
    if json {
        return json_array(out, v);
    }
    writeln!(
        out,
        "netns,inode,container,range,sockets,level,pool_pct,worst_destination"
    )?;
    for n in v {
        writeln!(
            out,
            "{},{},{},{},{},{},{:.1},{}",
            csv_field(&n.name),
            n.inode,
            csv_field(&n.container),
            n.range,
            n.sockets,
            n.level.as_str(),
            n.pct,
            csv_field(&n.worst)
        )?;
    }
    Ok(())
}
