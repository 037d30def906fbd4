//! `check`, `suggest` and `reserve`: the port advisor on the command line.

use super::{one_snapshot, CliError};
use crate::actions;
use crate::analysis::advisor::{self, reserve_plan, TargetOs, Verdict};
use crate::cli::{CheckArgs, GlobalArgs, ReserveArgs, SuggestArgs};
use crate::model::Proto;
use crate::output;
use serde::Serialize;
use std::io::{IsTerminal, Write};

pub fn check(g: &GlobalArgs, a: &CheckArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let snap = one_snapshot(g, None)?;
    let judgements: Vec<_> = a
        .ports
        .iter()
        .flat_map(|(port, proto)| {
            let protos = match proto {
                Some(p) => vec![*p],
                None => vec![Proto::Tcp, Proto::Udp],
            };
            protos.into_iter().map(|p| (*port, p)).collect::<Vec<_>>()
        })
        .map(|(port, proto)| advisor::judge(port, proto, &snap.range, Some(&snap), a.portable))
        .collect();
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &judgements).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        for (i, j) in judgements.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(
                out,
                "{}/{}: {}",
                j.port,
                j.proto,
                j.verdict.as_str().to_uppercase()
            )?;
            for f in &j.findings {
                writeln!(
                    out,
                    "  {:<8} {:<16} {}",
                    f.status.as_str(),
                    f.rule,
                    output::safe(&f.message)
                )?;
            }
        }
    }
    let all_good = judgements.iter().all(|j| j.verdict == Verdict::Good);
    Ok(if all_good { 0 } else { 1 })
}

#[derive(Serialize)]
struct Suggestion {
    port: u16,
    protos: Vec<Proto>,
    reserve: advisor::ReservePlan,
}

pub fn suggest(g: &GlobalArgs, a: &SuggestArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let snap = one_snapshot(g, None)?;
    let ports = advisor::suggest(
        usize::from(a.n),
        a.proto,
        a.near,
        a.portable,
        &snap.range,
        Some(&snap),
    );
    let protos = match a.proto {
        Some(p) => vec![p],
        None => vec![Proto::Tcp, Proto::Udp],
    };
    let os = TargetOs::current();
    let list: Vec<Suggestion> = ports
        .iter()
        .map(|p| Suggestion {
            port: *p,
            protos: protos.clone(),
            reserve: reserve_plan(&[*p], a.proto, &snap.range, os),
        })
        .collect();
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(0);
    }
    let protos_txt: Vec<&str> = protos.iter().map(|p| p.as_str()).collect();
    writeln!(
        out,
        "ports for a new service ({}): >= 1025, not assigned by IANA, no known malware use,\n\
         outside the ephemeral range {}-{} ({}){}, not in use now",
        protos_txt.join("+"),
        snap.range.low,
        snap.range.high,
        output::safe(&snap.range.source),
        if a.portable {
            " and every common OS default range"
        } else {
            ""
        }
    )?;
    let mut notes: Vec<&str> = Vec::new();
    for s in &list {
        writeln!(out)?;
        writeln!(out, "{}", s.port)?;
        for c in &s.reserve.commands {
            writeln!(out, "  $ {c}")?;
        }
        for n in &s.reserve.notes {
            if !notes.contains(&n.as_str()) {
                notes.push(n);
            }
        }
    }
    if list.is_empty() {
        writeln!(out, "\nno port passes every rule")?;
        return Ok(1);
    }
    writeln!(out, "\nto reserve on {}:", os.as_str())?;
    for n in notes {
        writeln!(out, "  # {n}")?;
    }
    Ok(0)
}

pub fn reserve(g: &GlobalArgs, a: &ReserveArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    if !cfg!(target_os = "linux") {
        return Err(CliError::bad_input(
            "reserve works on Linux only; `porttop suggest` prints this OS's commands",
        ));
    }
    if g.replay.is_some() || g.range.is_some() || g.reserved.is_some() {
        return Err(CliError::bad_input(
            "reserve changes the running system: --replay, --range and --reserved do not apply",
        ));
    }
    let file = actions::reserved_ports_file();
    let (old, new) = actions::plan_reserve(&file, &a.ports).map_err(CliError::bad_input)?;
    let shown = |s: &str| {
        if s.is_empty() {
            "(empty)".to_string()
        } else {
            s.to_string()
        }
    };
    writeln!(
        out,
        "{}: {} -> {}",
        file.display(),
        shown(&old),
        shown(&new)
    )?;
    if old == new {
        writeln!(out, "already reserved; nothing to do")?;
        return Ok(0);
    }
    if a.dry_run {
        writeln!(out, "dry run: nothing written")?;
        return Ok(0);
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::bad_input(
                "refusing to change ip_local_reserved_ports without a terminal to confirm; add --yes",
            ));
        }
        write!(out, "write it? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            writeln!(out, "nothing written")?;
            return Ok(1);
        }
    }
    actions::reserve(&file, &a.ports).map_err(CliError::bad_input)?;
    writeln!(out, "reserved. To keep it after a reboot:")?;
    writeln!(
        out,
        "  echo 'net.ipv4.ip_local_reserved_ports = {new}' > /etc/sysctl.d/60-porttop-reserved.conf"
    )?;
    Ok(0)
}
