//! Runs a parsed command: builds the source, takes snapshots, calls the
//! renderers. No analysis lives here.

use super::{Cli, Command, GlobalArgs, ListArgs, RangeArgs};
use crate::model::{Snapshot, Socket};
use crate::output;
use crate::source::{FixtureSource, RangeConfig, SocketSource, SystemSource};
use std::io::{self, Write};

/// An error for the user: one line, and the exit status to use.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub msg: String,
}

impl CliError {
    pub fn bad_input(msg: impl std::fmt::Display) -> Self {
        CliError {
            code: 2,
            msg: msg.to_string(),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError {
            code: 2,
            msg: e.to_string(),
        }
    }
}

/// The exit status for a clap usage error: 3 for `pool` (2 means critical there).
pub fn exit_code_for_usage_error(args: &[String]) -> i32 {
    let sub = args.iter().skip(1).find(|a| !a.starts_with('-'));
    if sub.map(String::as_str) == Some("pool") {
        3
    } else {
        2
    }
}

impl GlobalArgs {
    pub fn range_config(&self) -> RangeConfig {
        RangeConfig {
            range: self.range.clone(),
            reserved: self.reserved.clone(),
        }
    }

    /// The source the command reads: a recording with `--replay`, else the system.
    /// Validates `--range`/`--reserved` up front so bad input fails before any work.
    pub fn source(&self) -> Result<Box<dyn SocketSource>, CliError> {
        let cfg = self.range_config();
        let range = cfg.resolve().map_err(CliError::bad_input)?;
        match &self.replay {
            Some(p) => Ok(Box::new(
                FixtureSource::open(p, range).map_err(CliError::bad_input)?,
            )),
            None => Ok(Box::new(SystemSource::new(cfg))),
        }
    }
}

/// Takes one snapshot and prints the one-time hint when attribution was partial.
pub fn one_snapshot(g: &GlobalArgs) -> Result<Snapshot, CliError> {
    let mut src = g.source()?;
    let snap = src.snapshot().map_err(CliError::bad_input)?;
    if snap.partial {
        eprintln!(
            "porttop: note: sockets of other users show no process; \
             run as root to see processes of other users"
        );
    }
    Ok(snap)
}

/// Sort order of `list`: protocol, state (listeners first), local, remote.
pub fn list_order(a: &Socket, b: &Socket) -> std::cmp::Ordering {
    let rank = |s: &Socket| (s.proto, s.state != crate::model::SockState::Listen);
    rank(a)
        .cmp(&rank(b))
        .then(a.local.cmp(&b.local))
        .then(a.remote.cmp(&b.remote))
}

fn list(g: &GlobalArgs, a: &ListArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let filter = a.filter.to_filter().map_err(CliError::bad_input)?;
    let snap = one_snapshot(g)?;
    let mut rows: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| filter.matches(&snap, s))
        .collect();
    rows.sort_by(|a, b| list_order(a, b));
    if a.json {
        output::list_json(out, &snap, &rows)?;
    } else if a.csv {
        output::list_csv(out, &snap, &rows, !a.no_header)?;
    } else {
        output::list_table(out, &snap, &rows, !a.no_header)?;
    }
    Ok(0)
}

fn range(g: &GlobalArgs, a: &RangeArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let snap = one_snapshot(g)?;
    let summary = output::RangeSummary::new(&snap.range, Some(&snap));
    if a.json {
        output::range_json(out, &summary)?;
    } else {
        output::range_text(out, &summary)?;
    }
    Ok(0)
}

fn dashboard(cli: &Cli) -> Result<i32, CliError> {
    let d = &cli.dash;
    let filter = d.filter.to_filter().map_err(CliError::bad_input)?;
    let source = cli.global.source()?;
    let opts = crate::tui::Options {
        filter,
        interval: d.interval,
        keep_closed: d.keep_closed,
        no_color: d.no_color,
        replay: cli.global.replay.is_some(),
    };
    crate::tui::run(source, opts).map_err(CliError::bad_input)
}

/// Runs the command; returns the exit status.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<i32, CliError> {
    match &cli.command {
        Some(Command::List(a)) => list(&cli.global, a, out),
        Some(Command::Range(a)) => range(&cli.global, a, out),
        None => dashboard(&cli),
    }
}
