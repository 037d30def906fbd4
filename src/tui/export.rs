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
        "proto,remote_addr,remote_port,local_addr,ports,time_wait,pool_percent,new_per_sec,runs_out_secs,rx_bps,tx_bps,rx_bytes,tx_bytes"
    )?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    for d in v {
        writeln!(
            out,
            "{},{},{},{},{},{},{:.1},{},{},{:.0},{:.0},{},{}",
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
            d.tx_bps,
            d.rx_bytes,
            d.tx_bytes
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
        "pid,process,user,sockets,listening,established,other,ephemeral_ports,rx_bps,tx_bps,rx_bytes,tx_bytes"
    )?;
    for p in v {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{:.0},{:.0},{},{}",
            p.pid.map(|p| p.to_string()).unwrap_or_default(),
            csv_field(&p.name),
            csv_field(&p.user),
            p.total(),
            p.listening,
            p.established,
            p.other,
            p.ephemeral,
            p.rx_bps,
            p.tx_bps,
            p.rx_bytes,
            p.tx_bytes
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

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> ProcGroup {
        ProcGroup {
            pid: Some(7),
            name: "curl".into(),
            user: "root".into(),
            listening: 0,
            established: 2,
            other: 0,
            ephemeral: 2,
            rx_bps: 1500.0,
            tx_bps: 20.0,
            rx_bytes: 201_000,
            tx_bytes: 33,
        }
    }

    #[test]
    fn the_processes_export_carries_the_summed_bytes_under_their_names() {
        let mut csv = Vec::new();
        procs(&mut csv, &[group()], false).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        let mut lines = csv.lines();
        let head: Vec<&str> = lines.next().unwrap().split(',').collect();
        let row: Vec<&str> = lines.next().unwrap().split(',').collect();
        let at = |name: &str| row[head.iter().position(|h| *h == name).unwrap()];
        assert_eq!((at("rx_bytes"), at("tx_bytes")), ("201000", "33"));
        assert_eq!((at("rx_bps"), at("tx_bps")), ("1500", "20"));
        let mut json = Vec::new();
        procs(&mut json, &[group()], true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            (v[0]["rx_bytes"].as_u64(), v[0]["tx_bytes"].as_u64()),
            (Some(201_000), Some(33))
        );
    }

    #[test]
    fn the_destinations_export_carries_the_summed_bytes_under_their_names() {
        let d = DestGroup {
            proto: crate::model::Proto::Tcp,
            remote: crate::model::Endpoint::new("10.0.0.9".parse().unwrap(), 443),
            local: "10.0.0.2".parse().unwrap(),
            ports: 3,
            time_wait: 1,
            pct: 3.0,
            rate: None,
            runs_out_secs: None,
            rx_bps: 0.0,
            tx_bps: 0.0,
            rx_bytes: 5,
            tx_bytes: 300_000,
        };
        let mut csv = Vec::new();
        dests(&mut csv, std::slice::from_ref(&d), false).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .ends_with(",rx_bps,tx_bps,rx_bytes,tx_bytes"),
            "{csv}"
        );
        assert!(
            csv.lines().nth(1).unwrap().ends_with(",0,0,5,300000"),
            "{csv}"
        );
        let mut json = Vec::new();
        dests(&mut json, &[d], true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v[0]["tx_bytes"].as_u64(), Some(300_000));
    }
}
