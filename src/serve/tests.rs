use super::*;
use crate::analysis::advisor::{self, Verdict};
use crate::model::{PortRange, Proto, Snapshot, SockState};
use crate::source::SourceError;
use crate::testkit::*;

#[test]
fn default_port_passes_the_portable_advisor() {
    let empty = snap(0, PortRange::linux_default(), Vec::new());
    for range in [PortRange::linux_default(), range100()] {
        let j = advisor::judge(DEFAULT_PORT, Proto::Tcp, &range, Some(&empty), true);
        assert_eq!(j.verdict, Verdict::Good, "{j:#?}");
    }
    // Prometheus' exporter port list (9100-9999) is full: stay out of it.
    const {
        assert!(
            DEFAULT_PORT >= advisor::MIN_PORT && !(DEFAULT_PORT >= 9100 && DEFAULT_PORT <= 9999)
        )
    };
}

/// Replays given results, then repeats the last.
struct Script(Vec<Result<Snapshot, String>>);

impl SocketSource for Script {
    fn snapshot(&mut self) -> Result<Snapshot, SourceError> {
        let next = if self.0.len() > 1 {
            self.0.remove(0)
        } else {
            self.0[0].clone()
        };
        next.map_err(SourceError::Netlink)
    }
}

/// A feed of `src` and serve's renderer, one refresh per call.
struct Collector {
    feed: Feed,
    renderer: Renderer,
}

impl Collector {
    fn new(src: Box<dyn SocketSource>, cfg: ServeConfig) -> Self {
        let feed = Feed::new(src, Analyzer::new(cfg.thresholds, cfg.top));
        let renderer = Renderer::new(cfg, Shared::default());
        Collector { feed, renderer }
    }

    fn refresh(&mut self, prev: &State) -> State {
        let mut out = None;
        let r = &mut self.renderer;
        self.feed.step(&mut |f, t0| {
            out = Some(r.render(f, t0, prev));
            Flow::Go
        });
        out.expect("one refresh")
    }
}

fn cfg() -> ServeConfig {
    ServeConfig {
        interval: Duration::from_secs(5),
        top: 10,
        thresholds: pool::Thresholds::default(),
        limits: http::Limits::default(),
        expose_cmdline: true,
        access: http::Access::default(),
    }
}

fn get(path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
        accept_gzip: false,
        authorization: None,
    }
}

fn stats() -> http::Stats {
    http::Stats::default()
}

fn body(r: &Response) -> String {
    let mut out = Vec::new();
    for b in &r.body {
        out.extend_from_slice(match b {
            Body::Static(s) => s,
            Body::Owned(v) => v,
            Body::Shared(a) => a,
        });
    }
    String::from_utf8(out).unwrap()
}

/// One refresh of a collector over three connections to 10.0.0.2:443.
fn three_connections() -> (Collector, State) {
    let s = snap(
        5,
        range100(),
        many("10.0.0.1", "10.0.0.2:443", 40000, 3, SockState::Established),
    );
    let mut c = Collector::new(Box::new(Script(vec![Ok(s)])), cfg());
    let st = c.refresh(&State::default());
    (c, st)
}

#[test]
fn routes_serve_metrics_health_and_json_and_refuse_the_rest() {
    let (_, st) = three_connections();
    let iv = Duration::from_secs(5);

    let m = route(&st, &get("/metrics"), iv, &stats());
    assert_eq!((m.status, m.content_type), (200, metrics::CONTENT_TYPE));
    let text = body(&m);
    assert!(
        text.contains("porttop_pool_worst_destination_sockets 3\n"),
        "{text}"
    );
    assert!(text.contains("porttop_refresh_errors_total 0\n"));
    assert!(text.contains("porttop_last_refresh_success 1\n"));

    assert_eq!(route(&st, &get("/healthz"), iv, &stats()).status, 200);
    let j = route(&st, &get("/snapshot.json"), iv, &stats());
    let recs: Vec<crate::model::SocketRecord> = serde_json::from_str(&body(&j)).unwrap();
    assert_eq!(recs.len(), 3);

    assert_eq!(route(&st, &get("/"), iv, &stats()).status, 404);
    assert_eq!(route(&st, &get("/metricsx"), iv, &stats()).status, 404);
    let post = Request {
        method: "POST".into(),
        ..get("/metrics")
    };
    let r = route(&st, &post, iv, &stats());
    assert_eq!(r.status, 405);
    assert!(r.headers.iter().any(|h| h.starts_with("Allow: GET")));
}

#[test]
fn failed_refresh_keeps_the_last_data_counts_and_fails_health() {
    let s = snap(5, range100(), Vec::new());
    let script = Script(vec![Ok(s), Err("netlink broke".into())]);
    let mut c = Collector::new(Box::new(script), cfg());
    let first = c.refresh(&State::default());
    let second = c.refresh(&first);
    let iv = Duration::from_secs(5);
    assert_eq!(route(&second, &get("/healthz"), iv, &stats()).status, 503);
    let text = body(&route(&second, &get("/metrics"), iv, &stats()));
    assert!(text.contains("porttop_refresh_errors_total 1\n"), "{text}");
    assert!(text.contains("porttop_last_refresh_success 0\n"));
    assert!(text.contains("porttop_ephemeral_pool_size 100\n"));
    assert_eq!(second.status.last_success_ms, first.status.last_success_ms);
    // Never a successful refresh: metrics still answer (status only), health fails.
    let mut bad = Collector::new(Box::new(Script(vec![Err("no".into())])), cfg());
    let st = bad.refresh(&State::default());
    assert_eq!(route(&st, &get("/healthz"), iv, &stats()).status, 503);
    assert_eq!(route(&st, &get("/snapshot.json"), iv, &stats()).status, 503);
    assert_eq!(route(&st, &get("/metrics"), iv, &stats()).status, 200);
}

#[test]
fn stale_refresh_fails_health() {
    let st = State {
        metrics: None,
        snapshot: None,
        status: CollectorStatus {
            last_refresh_ok: true,
            ..Default::default()
        },
        last_ok: Instant::now().checked_sub(Duration::from_secs(30)),
        ..State::default()
    };
    if st.last_ok.is_some() {
        let r = route(&st, &get("/healthz"), Duration::from_secs(1), &stats());
        assert_eq!(r.status, 503);
    }
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

#[test]
fn snapshot_json_is_rendered_once_per_refresh_and_shared() {
    let (mut c, st) = three_connections();
    let iv = Duration::from_secs(5);
    let shared = |r: &Response| match &r.body[..] {
        [Body::Shared(a)] => Arc::clone(a),
        other => panic!("not one shared body: {other:?}"),
    };
    let a = shared(&route(&st, &get("/snapshot.json"), iv, &stats()));
    let b = shared(&route(&st, &get("/snapshot.json"), iv, &stats()));
    assert!(Arc::ptr_eq(&a, &b), "a second render for the same refresh");
    let gz = Request {
        accept_gzip: true,
        ..get("/snapshot.json")
    };
    let z1 = route(&st, &gz, iv, &stats());
    assert!(z1.headers.iter().any(|h| h == "Content-Encoding: gzip"));
    let (z1, z2) = (shared(&z1), shared(&route(&st, &gz, iv, &stats())));
    assert!(Arc::ptr_eq(&z1, &z2));
    assert_eq!(gunzip(&z1).as_bytes(), &a[..]);
    // The next refresh renders anew.
    let next = c.refresh(&st);
    let n = shared(&route(&next, &get("/snapshot.json"), iv, &stats()));
    assert!(!Arc::ptr_eq(&a, &n));
}

#[test]
fn metrics_are_gzipped_when_asked_and_carry_the_http_counters() {
    let s = snap(5, range100(), Vec::new());
    let mut c = Collector::new(Box::new(Script(vec![Ok(s)])), cfg());
    let st = c.refresh(&State::default());
    let iv = Duration::from_secs(5);
    let plain = route(&st, &get("/metrics"), iv, &stats());
    assert!(!plain
        .headers
        .iter()
        .any(|h| h.starts_with("Content-Encoding")));
    let rq = Request {
        accept_gzip: true,
        ..get("/metrics")
    };
    let z = route(&st, &rq, iv, &stats());
    assert!(z.headers.iter().any(|h| h == "Content-Encoding: gzip"));
    assert!(z.headers.iter().any(|h| h == "Vary: Accept-Encoding"));
    let Body::Owned(bytes) = &z.body[0] else {
        panic!("{:?}", z.body)
    };
    let text = gunzip(bytes);
    assert_eq!(text, body(&plain));
    assert!(
        text.contains("porttop_http_responses_total{code=\"408\"} 0\n"),
        "{text}"
    );
    assert!(text.contains("porttop_http_dropped_total{reason=\"write_stalled\"} 0\n"));
}
