//! `check`, `suggest` and `reserve`: the port advisor on the command line.

use super::{one_snapshot, CliError};
use crate::actions;
use crate::analysis::advisor::{self, reserve_plan, RemedyTarget, TargetOs, Verdict};
use crate::cli::{CheckArgs, GlobalArgs, ReserveArgs, SuggestArgs, WindowsArgs};
use crate::model::{PortRange, Proto, Snapshot};
use crate::output;
use crate::range::windows::{Derivation, WindowsVersion};
use crate::source::attrib::InodeSet;
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// One snapshot, with the range of the Windows what-if (`--windows`,
/// `--maxuserport`, `--app`) in place when one is given: the table's range, the
/// reserved ports of `--reserved` (a Windows host's are not this host's, so none
/// without it), and a source naming the derivation. A bad value is reported before
/// any work.
/// `named` picks the sockets whose owners the command names (see `one_snapshot`).
pub(super) fn snapshot_for(
    g: &GlobalArgs,
    w: &WindowsArgs,
    named: &dyn Fn(&Snapshot) -> InodeSet,
) -> Result<(Snapshot, Option<Derivation>), CliError> {
    let Some(d) = w.derive().map_err(CliError::bad_input)? else {
        return Ok((one_snapshot(g, named)?, None));
    };
    if g.range.is_some() {
        return Err(CliError::bad_input(
            "--range and --windows/--maxuserport/--app both give the ephemeral range: use one",
        ));
    }
    let reserved_arg = g.reserved.clone().unwrap_or_default();
    let reserved =
        crate::range::parse_reserved_ports(&reserved_arg).map_err(CliError::bad_input)?;
    // Both overrides given: the sockets are read, the local range is not.
    let what_if = GlobalArgs {
        range: Some(format!("{}-{}", d.low, d.high)),
        reserved: Some(reserved_arg),
        ..g.clone()
    };
    let mut snap = one_snapshot(&what_if, named)?;
    let mut source = d.describe();
    if g.reserved.is_some() {
        source.push_str(" (reserved from --reserved)");
    }
    snap.range = PortRange::new(d.low, d.high, reserved, source);
    Ok((snap, Some(d)))
}

pub fn check(g: &GlobalArgs, a: &CheckArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let asked: Vec<(u16, Proto)> = a
        .ports
        .iter()
        .flat_map(|(port, proto)| {
            let protos = match proto {
                Some(p) => vec![*p],
                None => vec![Proto::Tcp, Proto::Udp],
            };
            protos.into_iter().map(|p| (*port, p)).collect::<Vec<_>>()
        })
        .collect();
    // Owners only of the sockets the answers name.
    let named = |snap: &Snapshot| {
        asked
            .iter()
            .flat_map(|(port, proto)| advisor::named_sockets(*port, *proto, snap))
            .filter_map(|s| s.inode)
            .collect()
    };
    let (snap, _) = snapshot_for(g, &a.windows, &named)?;
    let judgements: Vec<_> = asked
        .iter()
        .map(|(port, proto)| advisor::judge(*port, *proto, &snap.range, Some(&snap), a.portable))
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
    // Suggestions and remedies name no process: no owners needed.
    let (snap, derived) = snapshot_for(g, &a.windows, &|_| InodeSet::default())?;
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
    let version = derived.as_ref().map(|d| d.version);
    let os = match version {
        Some(_) => TargetOs::Windows,
        None => TargetOs::current(),
    };
    // 2000 / XP / 2003 have no excludedportrange: their reservation is the registry.
    let registry = matches!(
        version,
        Some(WindowsVersion::Nt | WindowsVersion::NtKb951748)
    );
    let list: Vec<Suggestion> = ports
        .iter()
        .map(|p| Suggestion {
            port: *p,
            protos: protos.clone(),
            reserve: if registry {
                advisor::reserve_plan_registry(&[*p], &snap.range)
            } else {
                reserve_plan(&[*p], a.proto, &snap.range, os)
            },
        })
        .collect();
    if a.json {
        serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
        writeln!(out)?;
        if list.is_empty() {
            // The array keeps its shape; the remedies go to stderr for a human.
            let mut err = std::io::stderr().lock();
            no_port(&mut err, a, &snap, version)?;
            return Ok(1);
        }
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
        writeln!(out)?;
        no_port(out, a, &snap, version)?;
        return Ok(1);
    }
    writeln!(out, "\nto reserve on {}:", os.as_str())?;
    for n in notes {
        writeln!(out, "  # {n}")?;
    }
    Ok(0)
}

/// Why no port passes, and when the range is the cause, the remedies for the OS.
fn no_port(
    out: &mut dyn Write,
    a: &SuggestArgs,
    snap: &Snapshot,
    version: Option<WindowsVersion>,
) -> Result<(), CliError> {
    let r = &snap.range;
    if !advisor::blocked_by_range(r, a.proto) {
        writeln!(out, "no port passes every rule")?;
        if a.portable {
            writeln!(
                out,
                "  # --portable also avoids every common default range; without it ports may pass"
            )?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "no port passes every rule: the ephemeral range {}-{} ({}) covers every port \
         from 1025 up that is free of IANA and malware entries",
        r.low, r.high, r.source
    )?;
    let target = match version {
        Some(v) => RemedyTarget::Windows(Some(v)),
        None => RemedyTarget::current(),
    };
    let remedies = advisor::remedies(target, r, a.proto, a.near, Some(snap));
    writeln!(
        out,
        "\nremedies (from the {}):",
        crate::range::windows::ARTICLE
    )?;
    for (i, m) in remedies.iter().enumerate() {
        writeln!(out, "{}. {}", i + 1, m.title)?;
        for c in &m.commands {
            writeln!(out, "  $ {c}")?;
        }
        for n in &m.notes {
            writeln!(out, "  # {n}")?;
        }
        writeln!(out, "  then, e.g. port {}, reserved with:", m.port)?;
        for c in &m.reserve {
            writeln!(out, "  $ {c}")?;
        }
    }
    writeln!(out, "{}. {}", remedies.len() + 1, advisor::RESERVE_ANYWAY)?;
    Ok(())
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
    // The list is read again and merged at the moment of writing (another writer may
    // have changed it since the prompt); the line for sysctl.d is what was written.
    let (_, new) = actions::reserve(&file, &a.ports).map_err(CliError::bad_input)?;
    writeln!(out, "reserved. To keep it after a reboot:")?;
    writeln!(
        out,
        "  echo 'net.ipv4.ip_local_reserved_ports = {new}' > /etc/sysctl.d/60-porttop-reserved.conf"
    )?;
    Ok(0)
}
