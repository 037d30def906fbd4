//! `porttop serve`: Prometheus `/metrics`, `/healthz` and `/snapshot.json`, and
//! `porttop watch --jsonl` (in [`watch`]): consumers of snapshots.
//!
//! The feed (`crate::feed`) runs on the main thread and refreshes on its
//! interval; each refresh renders the exposition once (`Renderer`) and
//! publishes it in a latest-value cell, so a scrape only copies pointers and N
//! scrapers cost one refresh. `/snapshot.json`
//! (and each gzip variant) is rendered on the first request after a refresh and
//! shared by every later one until the next refresh.

pub mod http;
pub mod watch;
pub mod web_config;

use crate::analysis::{pool, Analyzer};
use crate::feed::{Consumer, End, Feed, Flow, Frame, Latest};
use crate::output::metrics::{self, CollectorStatus};
use crate::source::{SocketSource, SourceError};
use http::{Body, Request, Response};
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, OnceLock};
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
    /// TLS, Basic auth and extra headers (`--web-config`).
    pub access: http::Access,
}

impl std::fmt::Debug for http::Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tls", &self.tls.is_some())
            .field("auth", &self.auth.is_some())
            .field("headers", &self.headers)
            .finish()
    }
}

/// A body rendered once per refresh, or why it could not be.
type Rendered = Result<Arc<Vec<u8>>, String>;

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
    /// `/snapshot.json` of `snapshot`, plain and gzipped, each rendered by the
    /// first request that wants it; concurrent requests wait for that one render.
    json: OnceLock<Rendered>,
    json_gz: OnceLock<Rendered>,
}

impl State {
    fn json(&self, gzipped: bool) -> Option<Rendered> {
        let snap = self.snapshot.as_deref()?;
        let plain = || {
            self.json
                .get_or_init(|| {
                    crate::output::snapshot_json(snap)
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                })
                .clone()
        };
        if !gzipped {
            return Some(plain());
        }
        Some(
            self.json_gz
                .get_or_init(|| {
                    // The gzip of a render that is not kept: one copy less in memory.
                    let j = match self.json.get() {
                        Some(r) => r.clone()?,
                        None => {
                            Arc::new(crate::output::snapshot_json(snap).map_err(|e| e.to_string())?)
                        }
                    };
                    gzip(&[&j]).map(Arc::new).map_err(|e| e.to_string())
                })
                .clone(),
        )
    }
}

/// gzip at the fastest level: a 10x smaller `/metrics` or `/snapshot.json` for
/// a few milliseconds per megabyte.
pub fn gzip(pieces: &[&[u8]]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for p in pieces {
        e.write_all(p)?;
    }
    e.finish()
}

/// Which requests are heavy for the server (own workers, bounded downloads).
pub fn is_heavy(rq: &Request) -> bool {
    rq.path == "/snapshot.json"
}

/// The HTTP counters as exposition text.
pub fn render_http_stats(stats: &http::Stats) -> String {
    use metrics::{Exposition, Kind};
    let mut e = Exposition::default();
    let name = "porttop_http_responses_total";
    e.family(
        name,
        Kind::Counter,
        "HTTP responses sent, by status code (408: head too slow, 431: head too \
         large, 503: busy or too many downloads, 401: wrong or no password)",
    );
    let mut codes = stats.responses();
    for code in [200, 400, 401, 404, 408, 431, 503] {
        codes.entry(code).or_default();
    }
    for (code, n) in codes {
        e.sample(name, &[("code", &code.to_string())], n as f64);
    }
    let name = "porttop_http_dropped_total";
    e.family(
        name,
        Kind::Counter,
        "Connections dropped before their answer was delivered: the reader took \
         nothing for the write timeout (write_stalled) or read below the minimum \
         rate (write_too_slow), a TLS failure, or the peer reset",
    );
    let mut drops = stats.drops();
    for why in [
        http::Abort::Stalled,
        http::Abort::TooSlow,
        http::Abort::Tls,
        http::Abort::Reset,
    ] {
        drops.entry(why).or_default();
    }
    for (why, n) in drops {
        e.sample(name, &[("reason", why.label())], n as f64);
    }
    e.text
}

/// Where the renderer publishes and every request reads: the latest state.
pub type Shared = Latest<Arc<State>>;

fn current(shared: &Shared) -> Arc<State> {
    shared.get().unwrap_or_default()
}

/// serve's consumer of the feed: renders each refresh once (the exposition) and
/// publishes it; on a failed refresh keeps the previous rendering and counts
/// the error.
pub struct Renderer {
    cfg: ServeConfig,
    errors: u64,
    told_partial: bool,
    shared: Shared,
}

impl Renderer {
    pub fn new(cfg: ServeConfig, shared: Shared) -> Self {
        Renderer {
            cfg,
            errors: 0,
            told_partial: false,
            shared,
        }
    }

    /// The state after refresh `r` (started at `t0`), given the one before.
    pub fn render(&mut self, r: Result<Frame, SourceError>, t0: Instant, prev: &State) -> State {
        let expose = self.cfg.expose_cmdline;
        let rendered = r.map_err(|e| e.to_string()).and_then(|f| {
            let Frame {
                mut snap,
                analysis: Some(a),
            } = f
            else {
                return Err("the feed gave no analysis".to_string());
            };
            if !expose {
                without_cmdlines(&mut snap);
            }
            if let Some(hint) = crate::source::partial_hint(&snap) {
                if !self.told_partial {
                    self.told_partial = true;
                    crate::elog!("porttop: note: {hint}");
                }
            }
            let text =
                metrics::render_snapshot(&snap, &a.report, &a.collisions, self.cfg.top, &a.netns);
            Ok((text.into_bytes(), Arc::new(snap)))
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
                ..State::default()
            },
            Err(e) => {
                self.errors += 1;
                crate::elog!("porttop: refresh failed: {e}");
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
                    // The same snapshot: keep its renders.
                    json: prev.json.clone(),
                    json_gz: prev.json_gz.clone(),
                }
            }
        }
    }
}

impl Consumer for Renderer {
    fn refresh(&mut self, r: Result<Frame, SourceError>, t0: Instant) -> Flow {
        let prev = current(&self.shared);
        let st = self.render(r, t0, &prev);
        self.shared.put(Arc::new(st));
        Flow::Go
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
/// any path; unknown paths are 404. Answers are gzipped when the client asks.
pub fn route(st: &State, rq: &Request, interval: Duration, stats: &http::Stats) -> Response {
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
            body.push(Body::Owned(render_http_stats(stats).into_bytes()));
            let mut r = Response {
                status: 200,
                content_type: metrics::CONTENT_TYPE,
                body,
                headers: vec!["Vary: Accept-Encoding".into()],
            };
            if rq.accept_gzip {
                let pieces: Vec<&[u8]> = r.body.iter().map(Body::bytes).collect();
                if let Ok(z) = gzip(&pieces) {
                    r.body = vec![Body::Owned(z)];
                    r.headers.push("Content-Encoding: gzip".into());
                }
            }
            r
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
        "/snapshot.json" => match st.json(rq.accept_gzip) {
            Some(Ok(j)) => {
                let mut headers = vec!["Vary: Accept-Encoding".to_string()];
                if rq.accept_gzip {
                    headers.push("Content-Encoding: gzip".into());
                }
                Response {
                    status: 200,
                    content_type: "application/json",
                    body: vec![Body::Shared(j)],
                    headers,
                }
            }
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

/// Serves until SIGTERM, SIGINT or SIGHUP: one refresh now, then the HTTP
/// threads, then the feed on this thread. Returns how the feed ended (a
/// recording that is used up is served as it ended, until a signal). `ready`
/// is logged once signals are handled.
pub fn run(
    listener: TcpListener,
    src: Box<dyn SocketSource>,
    cfg: ServeConfig,
    ready: &str,
) -> std::io::Result<End> {
    crate::source::tune_allocator();
    let interval = cfg.interval.max(MIN_INTERVAL);
    let (limits, access) = (cfg.limits, cfg.access.clone());
    let mut feed = Feed::new(src, Analyzer::new(cfg.thresholds, cfg.top))
        .interval(interval)
        .stop_on_signals()
        .map_err(std::io::Error::other)?;
    // Signals are handled from here on; the listener already queues clients.
    crate::elog!("{ready}");
    let shared: Shared = Latest::new(Arc::new(State::default()));
    let mut renderer = Renderer::new(cfg, shared.clone());
    let first = feed.step(&mut renderer);

    let h_shared = shared.clone();
    let stats = Arc::new(http::Stats::default());
    let h_stats = Arc::clone(&stats);
    let handler: http::Handler =
        Arc::new(move |rq: &Request| route(&current(&h_shared), rq, interval, &h_stats));
    let service = http::Service { handler, is_heavy };
    http::spawn(listener, limits, service, access, stats)?;
    let end = match first {
        Some(end) => end,
        None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| feed.run(&mut renderer)))
            .unwrap_or_else(|_| {
                // Serving stale data forever helps nobody: exit non-zero so a
                // supervisor (systemd) restarts it.
                crate::elog!("porttop: the collector panicked; exiting");
                std::process::exit(70);
            }),
    };
    if end != End::Done {
        return Ok(end);
    }
    // The recording is used up: its last frame stays served until a signal.
    let (tx, rx) = std::sync::mpsc::channel();
    let _hook = crate::feed::on_signal(move |n| {
        let _ = tx.send(n);
    })
    .map_err(std::io::Error::other)?;
    drop(feed);
    Ok(rx.recv().map_or(End::Stopped, End::Signal))
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
