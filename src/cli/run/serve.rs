//! `serve` and `watch`: build the source and the config, hand over to `crate::serve`.

use super::CliError;
use crate::analysis::pool::Thresholds;
use crate::cli::{GlobalArgs, ServeArgs, WatchArgs};
use crate::serve::{self, watch, ServeConfig};
use std::io::Write;
use std::time::Duration;

fn thresholds(warn: f64, crit: f64) -> Result<Thresholds, CliError> {
    if warn > crit {
        return Err(CliError::bad_input(format!(
            "--warn {:.0}% is above --crit {:.0}%",
            warn * 100.0,
            crit * 100.0
        )));
    }
    Ok(Thresholds { warn, crit })
}

pub fn serve(g: &GlobalArgs, a: &ServeArgs) -> Result<i32, CliError> {
    let access = match &a.web_config {
        Some(p) => serve::web_config::load(p).map_err(CliError::bad_input)?,
        None => serve::http::Access::default(),
    };
    let scheme = if access.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let how = serve::web_config::describe(&access);
    let cfg = ServeConfig {
        interval: a.interval,
        top: usize::from(a.top),
        thresholds: thresholds(a.warn, a.crit)?,
        limits: serve::http::Limits::default(),
        access,
    };
    let src = g.source()?;
    let listener = serve::bind(a.listen).map_err(CliError::bad_input)?;
    let addr = listener.local_addr().unwrap_or(a.listen);
    if !addr.ip().is_loopback() {
        eprintln!(
            "porttop: warning: serving on non-loopback address {addr}: anyone who can \
             reach it sees this host's sockets, processes and command lines"
        );
    }
    eprintln!("porttop: serving {scheme}://{addr}/metrics (also /healthz, /snapshot.json; {how})");
    serve::run(listener, src, cfg)?;
    Ok(0)
}

pub fn watch(g: &GlobalArgs, a: &WatchArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    if !a.jsonl {
        return Err(CliError::bad_input(
            "watch needs --jsonl (the interactive view is `porttop` itself)",
        ));
    }
    let cfg = watch::WatchConfig {
        interval: a.interval,
        count: a.count,
        duration: a.duration.map(Duration::from_secs_f64),
        filter: a.filter.to_filter().map_err(CliError::bad_input)?,
        thresholds: thresholds(a.warn, a.crit)?,
    };
    let mut src = g.source()?;
    watch::run(src.as_mut(), &cfg, out).map_err(CliError::bad_input)?;
    Ok(0)
}
