//! The config file: the defaults people keep (pool thresholds, the dashboard's
//! interval, view, columns and theme, the exporter's listen address). Flags
//! override it, and it overrides the built-in defaults.
//!
//! Found at `$XDG_CONFIG_HOME/porttop/config.toml` (an absolute
//! `XDG_CONFIG_HOME` only, as the XDG Base Directory spec says), else
//! `~/.config/porttop/config.toml`; a missing file there means defaults.
//! `--config FILE` names another (which must exist), `--no-config` reads none.
//! A file that does not parse, holds a bad value or an unknown key is one line
//! naming file, line and column: an unknown key would otherwise be a setting
//! that silently does nothing.
//!
//! Values are checked by the same parsers as the flags (`parse_percent`,
//! `parse_interval`, ...), so a file accepts exactly what the command line does.

use super::{parse_interval, parse_listen, parse_percent, parse_window, Cli, Command, WithinArgs};
use crate::tui::app::View;
use crate::tui::rows::Col;
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// What a config file holds; every key is optional.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub pool: PoolSection,
    #[serde(default)]
    pub dashboard: DashSection,
    #[serde(default)]
    pub serve: ServeSection,
}

/// Pool thresholds: every command with `--warn`/`--crit` (pool, the dashboard,
/// serve, watch).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PoolSection {
    pub warn: Option<Spanned<Percent>>,
    pub crit: Option<Spanned<Percent>>,
    /// The projection windows (`--warn-within`, `--crit-within`).
    pub warn_within: Option<Spanned<Window>>,
    pub crit_within: Option<Spanned<Window>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DashSection {
    pub interval: Option<Spanned<Interval>>,
    pub keep_closed: Option<Spanned<u32>>,
    pub view: Option<Spanned<ViewName>>,
    pub columns: Option<Spanned<Columns>>,
    pub theme: Option<Spanned<Theme>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeSection {
    pub listen: Option<Spanned<Listen>>,
    pub interval: Option<Spanned<Interval>>,
    /// `--web-config`: the exporter-toolkit TLS / basic-auth file.
    pub web_config: Option<Spanned<PathBuf>>,
}

/// A TOML scalar, for values the flags' parsers read as text (`80`, `"80%"`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    fn text(self) -> String {
        match self {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) => s,
        }
    }
}

/// A fraction of the pool, written as a percentage (`80`, `80.5`, `"80%"`).
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "Scalar")]
pub struct Percent(pub f64);

impl TryFrom<Scalar> for Percent {
    type Error = String;
    fn try_from(s: Scalar) -> Result<Self, String> {
        parse_percent(&s.text()).map(Percent)
    }
}

/// A refresh interval: seconds as a number, or `"500ms"`, `"2s"`, `"1m"`.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "Scalar")]
pub struct Interval(pub Duration);

impl TryFrom<Scalar> for Interval {
    type Error = String;
    fn try_from(s: Scalar) -> Result<Self, String> {
        parse_interval(&s.text()).map(Interval)
    }
}

/// A projection window: seconds as a number, or `"5m"`, `"90s"`.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "Scalar")]
pub struct Window(pub f64);

impl TryFrom<Scalar> for Window {
    type Error = String;
    fn try_from(s: Scalar) -> Result<Self, String> {
        parse_window(&s.text()).map(Window)
    }
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "String")]
pub struct Listen(pub std::net::SocketAddr);

impl TryFrom<String> for Listen {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_listen(&s).map(Listen)
    }
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "String")]
pub struct ViewName(pub View);

impl TryFrom<String> for ViewName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_view(&s).map(ViewName)
    }
}

/// The socket table's columns, in order.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(try_from = "ColumnList")]
pub struct Columns(pub Vec<Col>);

/// `columns = ["proto", "state"]` or `columns = "proto,state"` (the flag's form).
#[derive(Deserialize)]
#[serde(untagged)]
enum ColumnList {
    List(Vec<String>),
    Str(String),
}

impl TryFrom<ColumnList> for Columns {
    type Error = String;
    fn try_from(c: ColumnList) -> Result<Self, String> {
        match c {
            ColumnList::Str(s) => parse_columns(&s),
            ColumnList::List(v) => parse_columns(&v.join(",")),
        }
    }
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Colours (unless NO_COLOR is set).
    Color,
    /// No colours: a mark column and reverse video (`--no-color`).
    Mono,
}

/// A view's name: its tab title in lower case (`listening`).
pub fn view_name(v: View) -> String {
    v.title().to_ascii_lowercase()
}

/// A column's name: its header in lower case, `-` for spaces (`local-addr`).
pub fn column_name(c: Col) -> String {
    c.title().to_ascii_lowercase().replace(' ', "-")
}

pub fn parse_view(s: &str) -> Result<View, String> {
    let want = s.trim().to_ascii_lowercase();
    View::ALL
        .into_iter()
        .find(|v| view_name(*v) == want)
        .ok_or_else(|| {
            let names: Vec<String> = View::ALL.into_iter().map(view_name).collect();
            format!("'{s}' is not a view (one of {})", names.join(", "))
        })
}

/// `proto,local-port,state`: known names, each once, at least one.
pub fn parse_columns(s: &str) -> Result<Columns, String> {
    let mut cols = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let want = name.to_ascii_lowercase();
        let Some(c) = Col::ALL.into_iter().find(|c| column_name(*c) == want) else {
            let names: Vec<String> = Col::ALL.into_iter().map(column_name).collect();
            return Err(format!(
                "'{name}' is not a column (one of {})",
                names.join(", ")
            ));
        };
        if cols.contains(&c) {
            return Err(format!("column '{name}' is named twice"));
        }
        cols.push(c);
    }
    if cols.is_empty() {
        return Err("no columns named".into());
    }
    Ok(Columns(cols))
}

/// A loaded file (or none) with its text, for line numbers.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// Where porttop looked when no file was read (`None` with `--no-config`).
    pub looked_at: Option<PathBuf>,
    text: String,
    pub file: File,
}

/// Where the config file is looked for when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
    })?;
    Some(base.join("porttop").join("config.toml"))
}

/// 1-based line and column (in characters) of byte offset `at` of `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = text.get(..at.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Reads the config file that `--config`/`--no-config` select. An error is one
/// line: `FILE:LINE:COL: what is wrong`.
pub fn load(explicit: Option<&Path>, no_config: bool) -> Result<Loaded, String> {
    if no_config {
        return Ok(Loaded::default());
    }
    let (path, must_exist) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(Loaded::default()),
        },
    };
    // The default file is optional: absent, or behind a directory this user
    // cannot search (`setpriv --reuid=nobody` keeps root's HOME), is no file.
    // A file that is there but cannot be read is an error, never a silent default.
    if !must_exist && std::fs::metadata(&path).is_err() {
        return Ok(Loaded {
            looked_at: Some(path),
            ..Loaded::default()
        });
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Err(format!("config file {}: {e}", path.display())),
    };
    let at = |span: Option<Range<usize>>, msg: &str| {
        let (line, col) = line_col(&text, span.map_or(0, |s| s.start));
        let msg = msg.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("{}:{line}:{col}: {msg}", path.display())
    };
    let file: File = toml::from_str(&text).map_err(|e| at(e.span(), e.message()))?;
    if let (Some(w), Some(c)) = (&file.pool.warn, &file.pool.crit) {
        if w.get_ref().0 > c.get_ref().0 {
            return Err(at(Some(w.span()), "pool.warn is above pool.crit"));
        }
    }
    if let (Some(w), Some(c)) = (&file.pool.warn_within, &file.pool.crit_within) {
        if c.get_ref().0 > w.get_ref().0 {
            return Err(at(
                Some(c.span()),
                "pool.crit-within is longer than pool.warn-within",
            ));
        }
    }
    Ok(Loaded {
        path: Some(path),
        looked_at: None,
        text,
        file,
    })
}

fn span<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
    v.as_ref().map(Spanned::span)
}

fn value<T: Clone>(v: &Option<Spanned<T>>) -> Option<T> {
    v.as_ref().map(|s| s.get_ref().clone())
}

/// True when the argument `id` of `m` was given on the command line.
fn from_flag(m: Option<&ArgMatches>, id: &str) -> bool {
    m.and_then(|m| m.value_source(id)) == Some(ValueSource::CommandLine)
}

/// `slot` takes the file's value unless a flag set it.
fn set<T>(slot: &mut T, flag: bool, file: Option<T>) {
    if let (false, Some(v)) = (flag, file) {
        *slot = v;
    }
}

impl File {
    /// Puts the file's values into `cli` where no flag was given; `m` are the
    /// matches `cli` was built from (they tell a flag from a clap default).
    pub fn apply(&self, cli: &mut Cli, m: &ArgMatches) {
        let warn = value(&self.pool.warn).map(|p| p.0);
        let crit = value(&self.pool.crit).map(|p| p.0);
        let (ww, cw) = (
            value(&self.pool.warn_within).map(|x| Some(x.0)),
            value(&self.pool.crit_within).map(|x| Some(x.0)),
        );
        let windows = |w: &mut WithinArgs, m: Option<&ArgMatches>| {
            set(&mut w.warn_within, from_flag(m, "warn_within"), ww);
            set(&mut w.crit_within, from_flag(m, "crit_within"), cw);
        };
        let thresholds = |w: &mut f64, c: &mut f64, m: Option<&ArgMatches>| {
            set(w, from_flag(m, "warn"), warn);
            set(c, from_flag(m, "crit"), crit);
        };
        let sub = |name: &str| m.subcommand_matches(name);
        match &mut cli.command {
            None => {
                // The dashboard's flags are Options (None: not given, so a flag
                // before a subcommand can be told from a default and refused).
                let (d, f) = (&mut cli.dash, |id: &str| from_flag(Some(m), id));
                set(&mut d.warn, f("warn"), warn.map(Some));
                set(&mut d.crit, f("crit"), crit.map(Some));
                windows(&mut d.within, Some(m));
                let ds = &self.dashboard;
                set(
                    &mut d.interval,
                    f("interval"),
                    value(&ds.interval).map(|i| Some(i.0)),
                );
                set(
                    &mut d.keep_closed,
                    f("keep_closed"),
                    value(&ds.keep_closed).map(Some),
                );
                set(&mut d.view, f("view"), value(&ds.view).map(|v| Some(v.0)));
                set(&mut d.columns, f("columns"), value(&ds.columns).map(Some));
                if value(&ds.theme) == Some(Theme::Mono) {
                    d.no_color = true;
                }
            }
            Some(Command::Pool(a)) => {
                thresholds(&mut a.warn, &mut a.crit, sub("pool"));
                windows(&mut a.within, sub("pool"));
            }
            Some(Command::Watch(a)) => {
                thresholds(&mut a.warn, &mut a.crit, sub("watch"));
                windows(&mut a.within, sub("watch"));
            }
            Some(Command::Serve(a)) => {
                let m = sub("serve");
                thresholds(&mut a.warn, &mut a.crit, m);
                windows(&mut a.within, m);
                let s = &self.serve;
                set(
                    &mut a.web_config,
                    from_flag(m, "web_config"),
                    value(&s.web_config).map(Some),
                );
                set(
                    &mut a.listen,
                    from_flag(m, "listen"),
                    value(&s.listen).map(|l| l.0),
                );
                set(
                    &mut a.interval,
                    from_flag(m, "interval"),
                    value(&s.interval).map(|i| i.0),
                );
            }
            _ => {}
        }
    }
}

/// One line of `porttop config`: key, value, and where it came from.
pub struct Setting {
    pub key: &'static str,
    pub value: String,
    /// `default` or `FILE:LINE`.
    pub origin: String,
    /// The value as TOML (for `porttop config --toml`).
    pub toml: String,
}

fn pct(f: f64) -> String {
    format!("{}", (f * 100_000.0).round() / 1000.0)
}

fn dur(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl Loaded {
    /// The effective settings: the file's values over clap's defaults (read from
    /// the definitions themselves, so they cannot differ from `--help`).
    pub fn settings(&self) -> Vec<Setting> {
        use clap::Parser;
        let dash = Cli::try_parse_from(["porttop"]).map(|c| c.dash).ok();
        let serve = match Cli::try_parse_from(["porttop", "serve"]).map(|c| c.command) {
            Ok(Some(Command::Serve(a))) => Some(a),
            _ => None,
        };
        let (Some(d), Some(s)) = (dash, serve) else {
            return Vec::new();
        };
        // Where a value came from: the file's line, or clap's default.
        let from = |span: Option<Range<usize>>| match (span, &self.path) {
            (Some(sp), Some(p)) => format!("{}:{}", p.display(), line_col(&self.text, sp.start).0),
            _ => "default".to_string(),
        };
        let row = |key, value: String, toml: String, origin: String| Setting {
            key,
            value,
            origin,
            toml,
        };
        let quoted = |v: &str| format!("\"{v}\"");
        let (p, ds, ss) = (&self.file.pool, &self.file.dashboard, &self.file.serve);

        // The dashboard's flags have no clap default (None: not given); serve's
        // thresholds have the same defaults and carry them.
        let warn = value(&p.warn).map_or(s.warn, |x| x.0);
        let crit = value(&p.crit).map_or(s.crit, |x| x.0);
        let interval =
            dur(value(&ds.interval)
                .map_or(d.interval.unwrap_or(crate::cli::DASH_INTERVAL), |x| x.0));
        let keep =
            value(&ds.keep_closed).unwrap_or(d.keep_closed.unwrap_or(crate::cli::DASH_KEEP_CLOSED));
        let view = view_name(value(&ds.view).map_or(d.view.unwrap_or(View::All), |x| x.0));
        let cols: Vec<String> = value(&ds.columns)
            .map_or(Col::ALL.to_vec(), |c| c.0)
            .into_iter()
            .map(column_name)
            .collect();
        let cols_toml: Vec<String> = cols.iter().map(|c| quoted(c)).collect();
        // NO_COLOR (any non-empty value, https://no-color.org) wins over the file.
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let (theme, theme_from) = match value(&ds.theme) {
            _ if no_color => ("mono", "NO_COLOR".to_string()),
            Some(Theme::Mono) => ("mono", from(span(&ds.theme))),
            _ => ("color", from(span(&ds.theme))),
        };
        let listen = value(&ss.listen).map_or(s.listen, |x| x.0).to_string();
        let serve_interval = dur(value(&ss.interval).map_or(s.interval, |x| x.0));
        let defaults = crate::analysis::pool::Thresholds::default();
        let warn_within = value(&p.warn_within).map_or(defaults.warn_within_secs, |x| x.0);
        let crit_within = value(&p.crit_within).map_or(defaults.crit_within_secs, |x| x.0);
        let web_config = value(&ss.web_config)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        vec![
            row(
                "pool.warn",
                format!("{}%", pct(warn)),
                pct(warn),
                from(span(&p.warn)),
            ),
            row(
                "pool.crit",
                format!("{}%", pct(crit)),
                pct(crit),
                from(span(&p.crit)),
            ),
            row(
                "pool.warn-within",
                format!("{warn_within}s"),
                warn_within.to_string(),
                from(span(&p.warn_within)),
            ),
            row(
                "pool.crit-within",
                format!("{crit_within}s"),
                crit_within.to_string(),
                from(span(&p.crit_within)),
            ),
            row(
                "dashboard.interval",
                interval.clone(),
                quoted(&interval),
                from(span(&ds.interval)),
            ),
            row(
                "dashboard.keep-closed",
                keep.to_string(),
                keep.to_string(),
                from(span(&ds.keep_closed)),
            ),
            row(
                "dashboard.view",
                view.clone(),
                quoted(&view),
                from(span(&ds.view)),
            ),
            row(
                "dashboard.columns",
                cols.join(","),
                format!("[{}]", cols_toml.join(", ")),
                from(span(&ds.columns)),
            ),
            row("dashboard.theme", theme.into(), quoted(theme), theme_from),
            row(
                "serve.listen",
                listen.clone(),
                quoted(&listen),
                from(span(&ss.listen)),
            ),
            row(
                "serve.interval",
                serve_interval.clone(),
                quoted(&serve_interval),
                from(span(&ss.interval)),
            ),
            row(
                "serve.web-config",
                web_config.clone(),
                quoted(&web_config),
                from(span(&ss.web_config)),
            ),
        ]
        .into_iter()
        // No web config by default: nothing to print as TOML either.
        .filter(|r| !(r.key == "serve.web-config" && r.value.is_empty()))
        .collect()
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
