//! `porttop serve`: Prometheus `/metrics`, `/healthz` and `/snapshot.json`, and
//! `porttop watch --jsonl` (in [`watch`]): consumers of snapshots.
//!
//! A collector thread owns the source and refreshes on its own interval; each
//! refresh renders the exposition and the JSON once, and publishes them behind an
//! `Arc` swap, so a scrape only copies pointers and N scrapers cost one refresh.

pub mod http;
pub mod signal;
pub mod watch;

use crate::analysis::{pool, Analyzer};
use crate::output::metrics::{self, CollectorStatus};
use crate::source::SocketSource;
use http::{Body, Request, Response};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The default port of `serve`, chosen with porttop's own advisor: above 1024, not
/// IANA-assigned or reserved, no known malware, outside every common OS default
/// ephemeral range (`porttop suggest --portable --proto tcp --near 7000`), and
/// outside 9100-9999, which Prometheus' own list of exporter ports has filled, so it
/// does not meet another exporter on the same host. A unit test keeps it honest
/// against the embedded port data.
pub const DEFAULT_PORT: u16 = 6996;

/// Shortest refresh interval accepted.
pub use crate::model::MIN_INTERVAL;

#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub interval: Duration,
    /// Destinations exported as labelled series.
    pub top: usize,
    pub thresholds: pool::Thresholds,
    pub limits: http::Limits,
    /// Keep command lines in `/snapshot.json` (else they are emptied: they can
    /// hold secrets). The metrics never carry them.
    pub expose_cmdline: bool,
}

/// What a scrape reads: the latest refresh, rendered.
#[derive(Debug, Default)]
pub struct State {
    /// Exposition of the last successful snapshot (None before the first one).
    pub metrics: Option<Arc<Vec<u8>>>,
    /// The last successful snapshot; `/snapshot.json` renders it on request (as
    /// `list --json`), since pre-rendering tens of megabytes of JSON every refresh
    /// for a rarely used endpoint costs memory and CPU for nothing.
    pub snapshot: Option<Arc<crate::model::Snapshot>>,
    pub status: CollectorStatus,
    /// When the last successful refresh finished.
    pub last_ok: Option<Instant>,
}

pub type Shared = Arc<RwLock<Arc<State>>>;

fn current(shared: &Shared) -> Arc<State> {
    match shared.read() {
        Ok(g) => Arc::clone(&g),
        Err(p) => Arc::clone(&p.into_inner()),
    }
}

fn publish(shared: &Shared, st: State) {
    let st = Arc::new(st);
    match shared.write() {
        Ok(mut g) => *g = st,
        Err(p) => *p.into_inner() = st,
    }
}

/// Owns the source and the churn tracker; one `refresh` per interval.
pub struct Collector {
    src: Box<dyn SocketSource>,
    analyzer: Analyzer,
    cfg: ServeConfig,
    errors: u64,
    told_partial: bool,
}

impl Collector {
    pub fn new(src: Box<dyn SocketSource>, cfg: ServeConfig) -> Self {
        Collector {
            src,
            analyzer: Analyzer::new(cfg.thresholds, cfg.top),
            cfg,
            errors: 0,
            told_partial: false,
        }
    }

    /// Takes a snapshot and renders it; on error keeps the previous rendering and
    /// counts the error.
    pub fn refresh(&mut self, prev: &State) -> State {
        let t0 = Instant::now();
        let expose = self.cfg.expose_cmdline;
        let rendered = self
            .src
            .snapshot()
            .map_err(|e| e.to_string())
            .map(|mut snap| {
                if !expose {
                    without_cmdlines(&mut snap);
                }
                if let Some(hint) = crate::source::partial_hint(&snap) {
                    if !self.told_partial {
                        self.told_partial = true;
                        eprintln!("porttop: note: {hint}");
                    }
                }
                let a = self.analyzer.analyze(&snap);
                let text = metrics::render_snapshot(&snap, &a.report, &a.collisions, self.cfg.top);
                (text.into_bytes(), Arc::new(snap))
            });
        let refresh_secs = t0.elapsed().as_secs_f64();
        match rendered {
            Ok((text, snap)) => State {
                metrics: Some(Arc::new(text)),
                snapshot: Some(snap),
                status: CollectorStatus {
                    refresh_secs,
                    refresh_errors_total: self.errors,
                    last_success_ms: crate::source::now_ms(),
                    last_refresh_ok: true,
                },
                last_ok: Some(Instant::now()),
            },
            Err(e) => {
                self.errors += 1;
                eprintln!("porttop: refresh failed: {e}");
                State {
                    metrics: prev.metrics.clone(),
                    snapshot: prev.snapshot.clone(),
                    status: CollectorStatus {
                        refresh_secs,
                        refresh_errors_total: self.errors,
                        last_success_ms: prev.status.last_success_ms,
                        last_refresh_ok: false,
                    },
                    last_ok: prev.last_ok,
                }
            }
        }
    }
}

/// Empties every command line of the snapshot (for a non-loopback listener).
pub fn without_cmdlines(snap: &mut crate::model::Snapshot) {
    for p in snap.processes.values_mut() {
        if !p.cmdline.is_empty() {
            Arc::make_mut(p).cmdline.clear();
        }
    }
}

/// How old the last successful refresh may be for `/healthz` to say ok: three
/// periods of the collector (the interval, or the refresh time when that is longer:
/// attributing sockets to processes can take seconds on a busy host) plus 1 s.
pub fn health_window(interval: Duration, refresh_secs: f64) -> Duration {
    let refresh = Duration::try_from_secs_f64(refresh_secs).unwrap_or_default();
    interval.max(refresh) * 3 + Duration::from_secs(1)
}

/// Routes one request against the latest state. Non-GET (and non-HEAD) is 405 on
/// any path; unknown paths are 404.
pub fn route(st: &State, rq: &Request, interval: Duration) -> Response {
    if rq.method != "GET" && rq.method != "HEAD" {
        let mut r = Response::text(405, "method not allowed\n");
        r.headers.push("Allow: GET, HEAD".into());
        return r;
    }
    match rq.path.as_str() {
        "/metrics" => {
            let mut body = Vec::new();
            if let Some(m) = &st.metrics {
                body.push(Body::Shared(Arc::clone(m)));
            }
            body.push(Body::Owned(metrics::render_status(&st.status).into_bytes()));
            Response {
                status: 200,
                content_type: metrics::CONTENT_TYPE,
                body,
                headers: Vec::new(),
            }
        }
        "/healthz" => {
            let fresh = st
                .last_ok
                .is_some_and(|t| t.elapsed() <= health_window(interval, st.status.refresh_secs));
            if st.status.last_refresh_ok && fresh {
                Response::text(200, "ok\n")
            } else if !st.status.last_refresh_ok {
                Response::text(503, "last refresh failed\n")
            } else {
                Response::text(503, "last refresh is stale\n")
            }
        }
        "/snapshot.json" => match st.snapshot.as_deref().map(crate::output::snapshot_json) {
            Some(Ok(j)) => Response {
                status: 200,
                content_type: "application/json",
                body: vec![Body::Owned(j)],
                headers: Vec::new(),
            },
            Some(Err(_)) => Response::text(500, "cannot render the snapshot\n"),
            None => Response::text(503, "no snapshot yet\n"),
        },
        _ => Response::text(404, "not found: try /metrics, /healthz, /snapshot.json\n"),
    }
}

/// Binds the listening socket; the error names the address.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

/// Serves until SIGTERM/SIGINT: one refresh now, then the collector thread and the
/// HTTP threads. Returns when asked to stop.
pub fn run(
    listener: TcpListener,
    src: Box<dyn SocketSource>,
    cfg: ServeConfig,
) -> std::io::Result<()> {
    crate::source::tune_allocator();
    signal::install();
    let interval = cfg.interval.max(MIN_INTERVAL);
    let limits = cfg.limits;
    let mut collector = Collector::new(src, cfg);
    let shared: Shared = Arc::new(RwLock::new(Arc::new(State::default())));
    publish(&shared, collector.refresh(&State::default()));

    let c_shared = Arc::clone(&shared);
    std::thread::Builder::new()
        .name("collector".into())
        .spawn(move || {
            let mut next = Instant::now() + interval;
            while signal::sleep_until(next) {
                next += interval;
                let prev = current(&c_shared);
                let st = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    collector.refresh(&prev)
                }));
                let Ok(st) = st else {
                    // Serving stale data forever helps nobody: exit non-zero so a
                    // supervisor (systemd) restarts it.
                    eprintln!("porttop: the collector panicked; exiting");
                    std::process::exit(70);
                };
                publish(&c_shared, st);
                // After a long stall, do not try to catch up with a burst.
                let now = Instant::now();
                if next < now {
                    next = now + interval;
                }
            }
        })?;

    let h_shared = Arc::clone(&shared);
    let handler: http::Handler =
        Arc::new(move |rq: &Request| route(&current(&h_shared), rq, interval));
    http::spawn(listener, limits, handler)?;
    while !signal::stopping() {
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
