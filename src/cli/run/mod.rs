//! Runs a parsed command: builds the source, takes snapshots, calls the
//! renderers. No analysis lives here.

use super::{Cli, Command, GlobalArgs, ListArgs, PoolArgs, RangeArgs};
mod advise;
mod bench;
mod close;
mod docs;
mod serve;
use crate::model::{Snapshot, Socket};
use crate::output;
use crate::source::attrib::InodeSet;
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
        if e.kind() == io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): exit quietly, like other CLI tools.
            return CliError {
                code: 0,
                msg: String::new(),
            };
        }
        CliError {
            code: 2,
            msg: format!("cannot write output: {e}"),
        }
    }
}

/// An error line with the command-line arguments it repeats cut short: a
/// 128 KB argument echoed in full is no longer one line for the user. Arguments
/// (or the value of `--flag=value`) longer than 64 characters appear as their
/// first 40 and `…`; whatever is still longer than 1,000 characters is cut too.
pub fn shorten_echoes(msg: &str, args: &[String]) -> String {
    const LONG: usize = 64;
    const KEEP: usize = 40;
    const MAX: usize = 1000;
    let cut = |s: &str, n: usize| -> String {
        let end = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
        format!("{}…", &s[..end])
    };
    let mut out = msg.to_string();
    let mut long: Vec<&str> = args
        .iter()
        .flat_map(|a| [Some(a.as_str()), a.split_once('=').map(|(_, v)| v)])
        .flatten()
        .filter(|a| a.chars().count() > LONG)
        .collect();
    long.sort_by_key(|a| std::cmp::Reverse(a.len()));
    for a in long {
        if out.contains(a) {
            out = out.replace(a, &cut(a, KEEP));
        }
    }
    if out.chars().count() > MAX {
        out = cut(&out, MAX);
    }
    out
}

/// The exit status for a clap usage error: 3 for `pool` (2 means critical there).
pub fn exit_code_for_usage_error(args: &[String]) -> i32 {
    // Ask clap which subcommand it saw, ignoring the error itself: a flag value
    // (`--range 1-2 pool`) is not mistaken for the subcommand.
    use clap::CommandFactory;
    let sub = super::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()
        .and_then(|m| m.subcommand_name().map(str::to_string));
    if sub.as_deref() == Some("pool") {
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
        self.scoped_source(None)
    }

    /// `source`, reading from the system only what `scope` can match (for
    /// commands that show nothing else).
    pub fn scoped_source(
        &self,
        scope: Option<&crate::filter::Filter>,
    ) -> Result<Box<dyn SocketSource>, CliError> {
        self.make_source(scope, false, crate::model::Detail::Bare)
    }

    /// `scoped_source` whose snapshots come without owners: the command asks
    /// for those of the sockets it names (`SocketSource::attribute`), so it
    /// walks `/proc` only when it names a process.
    pub fn lazy_source(
        &self,
        scope: Option<&crate::filter::Filter>,
    ) -> Result<Box<dyn SocketSource>, CliError> {
        self.make_source(scope, true, crate::model::Detail::Bare)
    }

    /// `scoped_source`, asking the system for `detail` per connection.
    pub fn detailed_source(
        &self,
        scope: Option<&crate::filter::Filter>,
        detail: crate::model::Detail,
    ) -> Result<Box<dyn SocketSource>, CliError> {
        self.make_source(scope, false, detail)
    }

    fn make_source(
        &self,
        scope: Option<&crate::filter::Filter>,
        lazy: bool,
        detail: crate::model::Detail,
    ) -> Result<Box<dyn SocketSource>, CliError> {
        let cfg = self.range_config();
        let range = cfg.resolve().map_err(CliError::bad_input)?;
        match &self.replay {
            Some(p) => Ok(Box::new(
                FixtureSource::open(p, cfg, range).map_err(CliError::bad_input)?,
            )),
            None => {
                let src = SystemSource::new(cfg)
                    .with_netns(self.netns.clone().unwrap_or_default())
                    .with_detail(detail);
                let src = if lazy { src.lazy() } else { src };
                Ok(Box::new(match scope {
                    Some(f) => src.scoped(f),
                    None => src,
                }))
            }
        }
    }
}

/// One snapshot of `src` for a one-shot command (the long-running ones take
/// theirs through `crate::feed`): the one place outside the feed that asks a
/// source.
pub(crate) fn snapshot_of(src: &mut dyn SocketSource) -> Result<Snapshot, CliError> {
    src.snapshot().map_err(CliError::bad_input)
}

/// Takes one snapshot of everything, with the owners of the sockets `named`
/// picks (the ones the command will name; no `/proc` walk when none; the
/// walk stops at their holders' process family, `Reach::Family`), and prints
/// the one-time hint when attribution was partial.
pub fn one_snapshot(
    g: &GlobalArgs,
    named: &dyn Fn(&Snapshot) -> InodeSet,
) -> Result<Snapshot, CliError> {
    let mut src = g.lazy_source(None)?;
    let mut snap = snapshot_of(src.as_mut())?;
    let inodes = named(&snap);
    src.attribute(&mut snap, &inodes, crate::source::Reach::Family)
        .map_err(CliError::bad_input)?;
    print_note(src.as_mut());
    if let Some(hint) = crate::source::partial_hint(&snap) {
        crate::elog!("porttop: note: {hint}");
    }
    Ok(snap)
}

fn list(g: &GlobalArgs, a: &ListArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let filter = a.filter.to_filter().map_err(CliError::bad_input)?;
    let detail = if a.info {
        crate::model::Detail::Info
    } else {
        crate::model::Detail::Bare
    };
    let mut src = g.make_source(Some(&filter), true, detail)?;
    let mut snap = snapshot_of(src.as_mut())?;
    // Owners of the rows printed only, unless the filter itself reads owners;
    // every holder of each, as `ss -p` lists them (`Reach::Every`).
    let inodes: InodeSet = snap
        .sockets
        .iter()
        .filter(|s| filter.reads_owners() || filter.matches(&snap, s))
        .filter_map(|s| s.inode)
        .collect();
    src.attribute(&mut snap, &inodes, crate::source::Reach::Every)
        .map_err(CliError::bad_input)?;
    print_note(src.as_mut());
    let mut rows: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(|s| filter.matches(&snap, s))
        .collect();
    // The note is about the rows printed: only when one of them could have a
    // process (it has an inode; TIME-WAIT has none) and shows none.
    if rows.iter().any(|s| s.inode.is_some() && s.pids.is_empty()) {
        if let Some(hint) = crate::source::partial_hint(&snap) {
            crate::elog!("porttop: note: {hint}");
        }
    }
    rows.sort_by(|a, b| output::list_order(a, b));
    if a.json {
        output::list_json(out, &snap, &rows)?;
    } else if a.csv {
        output::list_csv_info(out, &snap, &rows, !a.no_header, a.info)?;
    } else {
        output::list_table(out, &snap, &rows, !a.no_header, a.info)?;
    }
    for w in output::queue_warnings(&snap, &rows) {
        crate::elog!("porttop: warning: {w}");
    }
    Ok(0)
}

fn range(g: &GlobalArgs, a: &RangeArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    // The summary names no process: no owners needed.
    let (snap, derived) = advise::snapshot_for(g, &a.windows, &|_| InodeSet::default())?;
    let mut summary = output::RangeSummary::new(&snap.range, Some(&snap));
    summary.derived = derived;
    if a.json {
        output::range_json(out, &summary)?;
    } else {
        output::range_text(out, &summary)?;
    }
    Ok(0)
}

fn pool_cmd(g: &GlobalArgs, a: &PoolArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let result = pool_report(g, a, out);
    if let (true, Err(e)) = (a.nagios, &result) {
        // A plugin's monitor reads stdout only: say UNKNOWN there too.
        writeln!(out, "PORTTOP UNKNOWN - {}", e.msg.replace('|', "/"))?;
    }
    result
}

fn pool_report(g: &GlobalArgs, a: &PoolArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    // Bad input and errors are 3 here: 2 means critical (Nagios UNKNOWN is 3).
    let unknown = |e: CliError| CliError { code: 3, ..e };
    let thresholds = a
        .within
        .thresholds(a.warn, a.crit)
        .map_err(|e| unknown(CliError::bad_input(e)))?;
    // Owners only where a collision names them or tells them apart, and only
    // in the snapshot analysed (the first of --sample's two feeds the churn
    // history, which counts ports).
    let skip = usize::from(g.replay.is_none() && a.sample > 0.0);
    let src = Named::boxed(g.lazy_source(None).map_err(unknown)?, skip, |snap| {
        crate::analysis::collisions::owners_needed(snap, &crate::analysis::malware_lookup)
            .iter()
            .filter_map(|s| s.inode)
            .collect()
    });
    // One snapshot; with --sample two, `sample` apart, the first feeding the
    // churn history; a recording's frames are its own samples: all but the
    // last feed the history. Only the last is analysed.
    let mut feed = crate::feed::Feed::new(src, crate::analysis::Analyzer::new(thresholds, a.top))
        .analyze(crate::feed::Analyze::Last)
        .paced(g.replay.is_none());
    if g.replay.is_none() {
        let sample = a.sample > 0.0;
        feed = feed
            .limit(if sample { 2 } else { 1 })
            .interval(std::time::Duration::from_secs_f64(a.sample.max(0.0)));
        if sample {
            feed = feed
                .stop_on_signals()
                .map_err(|e| unknown(CliError::bad_input(e)))?;
        }
    }
    let mut last = None;
    let end = feed.run(&mut |r, _| {
        last = Some(r);
        crate::feed::Flow::Stop
    });
    print_note_of(&mut feed);
    if let crate::feed::End::Signal(_) = end {
        return Ok(end.exit_code());
    }
    let frame = last
        .ok_or_else(|| unknown(CliError::bad_input("no snapshot was taken")))?
        .map_err(|e| unknown(CliError::bad_input(e)))?;
    let (snap, Some(an)) = (frame.snap, frame.analysis) else {
        return Err(unknown(CliError::bad_input(
            "the snapshot was not analysed",
        )));
    };
    if let Some(hint) = crate::source::partial_hint(&snap) {
        crate::elog!("porttop: note: {hint}");
    }
    let (report, found) = (&an.report, &an.collisions);
    if a.nagios {
        output::pool_nagios(out, report, found, &thresholds).map_err(|e| unknown(e.into()))?;
    } else if a.json {
        output::pool_json(out, report, found, a.top, &an.netns).map_err(|e| unknown(e.into()))?;
    } else {
        output::pool_text(out, report, found, a.top).map_err(|e| unknown(e.into()))?;
        if an.netns.len() > 1 {
            output::pool_netns_text(out, &an.netns).map_err(|e| unknown(e.into()))?;
        }
    }
    Ok(report.level.exit_code())
}

/// A lazy source whose snapshots, after the first `skip`, come with the owners
/// of the sockets `pick` chooses (for commands that run on a `Feed`).
struct Named<F> {
    inner: Box<dyn SocketSource>,
    skip: usize,
    pick: F,
}

impl<F: Fn(&Snapshot) -> InodeSet + Send + 'static> Named<F> {
    fn boxed(inner: Box<dyn SocketSource>, skip: usize, pick: F) -> Box<dyn SocketSource> {
        Box::new(Named { inner, skip, pick })
    }
}

impl<F: Fn(&Snapshot) -> InodeSet + Send> SocketSource for Named<F> {
    fn snapshot(&mut self) -> Result<Snapshot, crate::source::SourceError> {
        let mut snap = self.inner.snapshot()?;
        if self.skip > 0 {
            self.skip -= 1;
        } else {
            let inodes = (self.pick)(&snap);
            self.inner
                .attribute(&mut snap, &inodes, crate::source::Reach::Family)?;
        }
        Ok(snap)
    }

    fn at_end(&self) -> bool {
        self.inner.at_end()
    }

    fn take_note(&mut self) -> Option<String> {
        self.inner.take_note()
    }
}

/// `porttop record`: one snapshot object per line, the format `--replay` reads
/// with its range and processes, so a recording replays the same anywhere.
fn record(g: &GlobalArgs, a: &super::RecordArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    // A recording ends at its end (no repeat of its last frame), and is
    // converted at once: its frames carry their own times.
    let mut feed = crate::feed::Feed::new(g.source()?, crate::analysis::Analyzer::default())
        .analyze(crate::feed::Analyze::Never)
        .interval(a.interval)
        .paced(g.replay.is_none())
        .limit(u64::from(a.count))
        .stop_on_signals()
        .map_err(CliError::bad_input)?;
    let mut failed = None;
    let end = if a.count == 0 {
        crate::feed::End::Done
    } else {
        feed.run(&mut |r: Result<crate::feed::Frame, _>, _| {
            let written = r
                .map_err(CliError::bad_input)
                .and_then(|f| write_frame(out, &f.snap));
            match written {
                Ok(()) => crate::feed::Flow::Go,
                Err(e) => {
                    failed = Some(e);
                    crate::feed::Flow::Stop
                }
            }
        })
    };
    print_note_of(&mut feed);
    match failed {
        Some(e) => Err(e),
        None => Ok(end.exit_code()),
    }
}

/// One frame of a recording: a whole line, flushed (a signal waits for it).
fn write_frame(out: &mut dyn Write, snap: &Snapshot) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, snap).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

fn print_note_of(feed: &mut crate::feed::Feed) {
    if let Some(n) = feed.take_note() {
        crate::elog!("porttop: note: {n}");
    }
}

/// Prints what the source had to say (a recording's cut last line) on stderr.
pub(crate) fn print_note(src: &mut dyn SocketSource) {
    if let Some(n) = src.take_note() {
        crate::elog!("porttop: note: {n}");
    }
}
/// `porttop config`: the effective settings and where each came from.
fn show_config(
    c: &super::config::Loaded,
    a: &super::ConfigArgs,
    out: &mut dyn Write,
) -> Result<i32, CliError> {
    let settings = c.settings();
    if a.toml {
        let mut section = "";
        for s in &settings {
            let (sec, key) = s.key.split_once('.').unwrap_or(("", s.key));
            if sec != section {
                if !section.is_empty() {
                    writeln!(out)?;
                }
                writeln!(out, "[{sec}]")?;
                section = sec;
            }
            writeln!(out, "{key} = {}", s.toml)?;
        }
        return Ok(0);
    }
    match (&c.path, &c.looked_at) {
        (Some(p), _) => writeln!(out, "config file  {}", p.display())?,
        (None, Some(p)) => writeln!(out, "config file  none ({} does not exist)", p.display())?,
        (None, None) => writeln!(out, "config file  none")?,
    }
    let rows: Vec<Vec<String>> = settings
        .iter()
        .map(|s| vec![s.key.to_string(), s.value.clone(), s.origin.clone()])
        .collect();
    output::write_table(
        out,
        Some(&["KEY", "VALUE", "FROM"]),
        &rows,
        &[false, false, false],
    )?;
    writeln!(
        out,
        "Flags override these values for the command they are given to."
    )?;
    Ok(0)
}

fn dashboard(cli: &Cli) -> Result<i32, CliError> {
    let d = &cli.dash;
    let filter = d.filter.to_filter().map_err(CliError::bad_input)?;
    let defaults = crate::analysis::pool::Thresholds::default();
    let thresholds = d
        .within
        .thresholds(
            d.warn.unwrap_or(defaults.warn),
            d.crit.unwrap_or(defaults.crit),
        )
        .map_err(CliError::bad_input)?;
    let columns = d
        .columns
        .clone()
        .map_or(crate::tui::rows::Col::ALL.to_vec(), |c| c.0);
    // The kernel's per-connection detail only when a column shows it.
    let detail = if columns.iter().any(|c| c.is_detail()) {
        crate::model::Detail::Info
    } else {
        crate::model::Detail::Bare
    };
    let source = cli.global.detailed_source(None, detail)?;
    let opts = crate::tui::Options {
        filter,
        interval: d.interval.unwrap_or(super::DASH_INTERVAL),
        keep_closed: d.keep_closed.unwrap_or(super::DASH_KEEP_CLOSED),
        no_color: d.no_color,
        replay: cli.global.replay.is_some(),
        view: d.view.unwrap_or(crate::tui::app::View::All),
        columns,
    };
    // The source's notes (a recording's cut last line) wait for the terminal to
    // be restored: written during the dashboard they would land on its screen.
    let (source, notes) = Noted::keep(source);
    crate::source::tune_allocator();
    let feed = crate::feed::Feed::new(
        source,
        crate::analysis::Analyzer::new(thresholds, crate::tui::alerts::TOP),
    )
    .interval(opts.interval);
    let r = crate::tui::run(feed, opts).map_err(CliError::bad_input);
    if let Ok(v) = notes.lock() {
        v.iter().for_each(|n| crate::elog!("porttop: note: {n}"));
    }
    r
}

/// A source whose notes are collected as they come (for the dashboard, which
/// prints them after the terminal is restored), or printed at once (`serve`).
pub(crate) struct Noted {
    inner: Box<dyn SocketSource>,
    notes: Option<Notes>,
}

type Notes = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

impl Noted {
    fn keep(inner: Box<dyn SocketSource>) -> (Box<dyn SocketSource>, Notes) {
        let notes = Notes::default();
        let src = Noted {
            inner,
            notes: Some(std::sync::Arc::clone(&notes)),
        };
        (Box::new(src), notes)
    }

    pub(crate) fn print(inner: Box<dyn SocketSource>) -> Box<dyn SocketSource> {
        Box::new(Noted { inner, notes: None })
    }
}

impl SocketSource for Noted {
    fn snapshot(&mut self) -> Result<Snapshot, crate::source::SourceError> {
        let r = self.inner.snapshot();
        if let Some(n) = self.inner.take_note() {
            match &self.notes {
                Some(v) => {
                    if let Ok(mut v) = v.lock() {
                        v.push(n);
                    }
                }
                None => crate::elog!("porttop: note: {n}"),
            }
        }
        r
    }

    fn at_end(&self) -> bool {
        self.inner.at_end()
    }

    fn show_detail(&mut self, shown: &crate::model::conn::Shown) {
        self.inner.show_detail(shown)
    }
}

/// Runs the command; returns the exit status. `matches` are those `cli` was
/// parsed from: the config file fills in what no flag gave.
pub fn run(mut cli: Cli, matches: &clap::ArgMatches, out: &mut dyn Write) -> Result<i32, CliError> {
    if cli.command.is_none() {
        // `porttop tcp list`: clap reads `list` as a filter word of the dashboard.
        use clap::CommandFactory;
        let cmd = super::Cli::command();
        if let Some(w) = cli
            .dash
            .filter
            .words
            .iter()
            .find(|w| cmd.get_subcommands().any(|c| c.get_name() == w.as_str()))
        {
            return Err(CliError::bad_input(format!(
                "filter words come after the subcommand: porttop {w} {}",
                cli.dash
                    .filter
                    .words
                    .iter()
                    .filter(|x| *x != w)
                    .map(|x| crate::output::safe_string(x))
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
    }
    // Before the config file fills anything in: what was given on the command
    // line only.
    let given = cli.dash.given();
    let config = match super::config::load(cli.global.config.as_deref(), cli.global.no_config) {
        Ok(c) => c,
        Err(msg) => {
            // `pool`'s bad input is UNKNOWN (3), and a plugin's monitor reads stdout.
            let Some(Command::Pool(a)) = &cli.command else {
                return Err(CliError::bad_input(msg));
            };
            if a.nagios {
                writeln!(out, "PORTTOP UNKNOWN - {}", msg.replace('|', "/"))?;
            }
            return Err(CliError { code: 3, msg });
        }
    };
    config.file.apply(&mut cli, matches);
    if cli.command.is_some() && !given.is_empty() {
        // `porttop --warn 10 pool` would silently use pool's 80 %: the flags
        // before a subcommand are the dashboard's. Refuse, naming them.
        let code = if matches!(cli.command, Some(Command::Pool(_))) {
            3
        } else {
            2
        };
        return Err(CliError {
            code,
            msg: format!(
                "{} before a subcommand apply to the dashboard only; put them after \
                 the subcommand (e.g. porttop pool --warn 70, porttop list -t)",
                given.join(", ")
            ),
        });
    }
    match &cli.command {
        Some(Command::List(a)) => list(&cli.global, a, out),
        Some(Command::Range(a)) => range(&cli.global, a, out),
        Some(Command::Pool(a)) => pool_cmd(&cli.global, a, out),
        Some(Command::Check(a)) => advise::check(&cli.global, a, out),
        Some(Command::Suggest(a)) => advise::suggest(&cli.global, a, out),
        Some(Command::Reserve(a)) => advise::reserve(&cli.global, a, out),
        Some(Command::Serve(a)) => serve::serve(&cli.global, a),
        Some(Command::Watch(a)) => serve::watch(&cli.global, a, out),
        Some(Command::Record(a)) => record(&cli.global, a, out),
        Some(Command::Close(a)) => close::close(&cli.global, a, out),
        Some(Command::BenchRefresh(a)) => bench::refresh(&cli.global, a, out),
        Some(Command::BenchWalk(a)) => bench::walk(&cli.global, a, out),
        Some(Command::Config(a)) => show_config(&config, a, out),
        Some(Command::Completions(a)) => docs::completions(a, out),
        Some(Command::Man(a)) => docs::man(a, out),
        None => dashboard(&cli),
    }
}

#[cfg(test)]
mod tests {
    use super::shorten_echoes;

    #[test]
    fn long_arguments_are_cut_where_an_error_repeats_them() {
        let huge = "9".repeat(130_000);
        let args = vec![
            "porttop".to_string(),
            format!("--port={huge}"),
            "--pid".into(),
            "12".into(),
        ];
        let msg = format!("invalid value '{huge}' for '--port <N>'");
        let short = shorten_echoes(&msg, &args);
        assert_eq!(
            short,
            format!("invalid value '{}…' for '--port <N>'", &huge[..40])
        );
        // Short arguments and messages are left alone; anything else is capped.
        assert_eq!(shorten_echoes("bad pid 12", &args), "bad pid 12");
        let other = "x".repeat(5000);
        assert_eq!(shorten_echoes(&other, &[]).chars().count(), 1001);
    }
}
