//! `porttop close FILTER`: closes the TCP connections a filter matches, after
//! listing them and asking (or with `--yes`), through `actions::close_socket`.

use super::CliError;
use crate::actions::{self, ActionError};
use crate::cli::{CloseArgs, GlobalArgs};
use crate::model::{Detail, Socket};
use crate::output;
use std::io::{IsTerminal, Write};

pub fn close(g: &GlobalArgs, a: &CloseArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    if g.replay.is_some() {
        return Err(CliError::bad_input(
            "porttop close acts on the live system; it cannot be used with --replay",
        ));
    }
    let filter = a.filter.to_filter().map_err(CliError::bad_input)?;
    if filter.is_empty() {
        return Err(CliError::bad_input(
            "porttop close needs a filter (e.g. dport:443 or pid:1234); it never closes every connection",
        ));
    }
    // Detail: the cookies, so that a newer socket on the same ports is never hit.
    let mut src = g.detailed_source(Some(&filter), Detail::Info)?;
    let snap = src.snapshot().map_err(CliError::bad_input)?;
    // What it could not see (other namespaces without CAP_SYS_ADMIN): said
    // before "no TCP connection matches", which it may explain.
    super::print_note(&mut *src);
    let mut rows: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| filter.matches(&snap, s) && actions::closable(s))
        .collect();
    rows.sort_by(|a, b| output::list_order(a, b));
    if rows.is_empty() {
        writeln!(out, "no TCP connection matches; nothing to close")?;
        return Ok(1);
    }
    // Sockets of several namespaces get a NETNS column; those of one other
    // than porttop's own (`--netns NAME`) a line naming it.
    if !snap.multi_netns() {
        if let Some(n) = snap.netns_info(0).filter(|n| n.worth_naming()) {
            writeln!(out, "in network namespace {}:", output::safe(&n.name))?;
        }
    }
    output::list_table(out, &snap, &rows, true, false)?;
    let n = output::count(rows.len() as u64, "socket");
    if a.dry_run {
        writeln!(out, "dry run: would close {n}")?;
        return Ok(0);
    }
    if !a.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::bad_input(format!(
                "refusing to close {n} without a terminal to confirm; add --yes"
            )));
        }
        write!(out, "close {n}? [y/N] ")?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            writeln!(out, "nothing closed")?;
            return Ok(1);
        }
    }
    let mut failed = 0;
    for s in &rows {
        // A socket of another namespace is closed from inside it
        // (`actions::close_socket` enters it); the line names it.
        let ns = snap.netns_info(s.netns);
        let what = format!(
            "{} {} -> {}{}",
            s.proto,
            s.local,
            s.remote.map_or_else(|| "*".into(), |r| r.to_string()),
            in_netns(ns)
        );
        match actions::close_socket(s, ns) {
            Ok(()) => writeln!(out, "closed {what}")?,
            Err(ActionError::AlreadyClosed) => writeln!(out, "{what}: already closed")?,
            // The same for every socket: say it once.
            Err(e @ (ActionError::CloseNotPermitted | ActionError::CloseUnsupported)) => {
                return Err(CliError {
                    code: 1,
                    msg: e.to_string(),
                });
            }
            Err(e) => {
                failed += 1;
                crate::elog!("porttop: {what}: {}", output::safe(&e.to_string()));
            }
        }
    }
    Ok(i32::from(failed > 0))
}

/// ` in netns NAME` where the line should name it, else nothing.
fn in_netns(ns: Option<&crate::model::Netns>) -> String {
    match ns {
        Some(n) if n.worth_naming() => format!(" in netns {}", output::safe(&n.name)),
        _ => String::new(),
    }
}
