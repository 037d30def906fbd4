//! `serve` and `watch`: build the source and the config, hand over to `crate::serve`.

use super::CliError;
use crate::cli::{GlobalArgs, ServeArgs, WatchArgs};
use crate::serve::{self, watch, ServeConfig};
use std::io::Write;
use std::time::Duration;

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
    let thresholds = a
        .within
        .thresholds(a.warn, a.crit)
        .map_err(CliError::bad_input)?;
    let src = super::Noted::print(g.source()?);
    let listener = serve::bind(a.listen).map_err(CliError::bad_input)?;
    let addr = listener.local_addr().unwrap_or(a.listen);
    // Command lines can hold secrets (passwords, tokens in arguments): only a
    // loopback listener, or the operator's explicit word, exposes them. An
    // IPv4-mapped loopback address ([::ffff:127.0.0.1]) is loopback too.
    let loopback = addr.ip().to_canonical().is_loopback();
    let expose_cmdline = a.expose_cmdline || loopback;
    if !loopback {
        crate::elog!(
            "porttop: warning: serving on non-loopback address {addr}: anyone who can \
             reach it sees this host's sockets and processes{}",
            if expose_cmdline {
                ", command lines included (--expose-cmdline)"
            } else {
                " (command lines left out; --expose-cmdline includes them)"
            }
        );
    }
    let cfg = ServeConfig {
        interval: a.interval,
        top: usize::from(a.top),
        thresholds,
        limits: serve::http::Limits::default(),
        expose_cmdline,
        access,
    };
    let ready = format!(
        "porttop: serving {scheme}://{addr}/metrics (also /healthz, /snapshot.json; {how})"
    );
    let end = serve::run(listener, src, cfg, &ready)?;
    Ok(end.exit_code())
}

pub fn watch(g: &GlobalArgs, a: &WatchArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let cfg = watch::WatchConfig {
        interval: a.interval,
        count: a.count,
        duration: a.duration.map(Duration::from_secs_f64),
        filter: a.filter.to_filter().map_err(CliError::bad_input)?,
        thresholds: a
            .within
            .thresholds(a.warn, a.crit)
            .map_err(CliError::bad_input)?,
        out_fd: Some(std::os::fd::AsRawFd::as_raw_fd(&std::io::stdout())),
        replay: g.replay.is_some(),
    };
    let src = super::Noted::print(g.source()?);
    let end = watch::run(src, &cfg, out).map_err(CliError::bad_input)?;
    Ok(end.exit_code())
}
