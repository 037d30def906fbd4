use super::*;
use crate::analysis::advisor::{self, Verdict};
use crate::analysis::testutil::*;
use crate::model::{PortRange, Proto, Snapshot, SockState};
use crate::source::SourceError;

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

fn cfg() -> ServeConfig {
    ServeConfig {
        interval: Duration::from_secs(5),
        top: 10,
        thresholds: pool::Thresholds::default(),
        limits: http::Limits::default(),
        expose_cmdline: true,
    }
}

fn get(path: &str) -> Request {
    Request {
        method: "GET".into(),
        path: path.into(),
    }
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

#[test]
fn routes_serve_metrics_health_and_json_and_refuse_the_rest() {
    let s = snap(
        5,
        range100(),
        many("10.0.0.1", "10.0.0.2:443", 40000, 3, SockState::Established),
    );
    let mut c = Collector::new(Box::new(Script(vec![Ok(s)])), cfg());
    let st = c.refresh(&State::default());
    let iv = Duration::from_secs(5);

    let m = route(&st, &get("/metrics"), iv);
    assert_eq!((m.status, m.content_type), (200, metrics::CONTENT_TYPE));
    let text = body(&m);
    assert!(
        text.contains("porttop_pool_worst_destination_sockets 3\n"),
        "{text}"
    );
    assert!(text.contains("porttop_refresh_errors_total 0\n"));
    assert!(text.contains("porttop_last_refresh_success 1\n"));

    assert_eq!(route(&st, &get("/healthz"), iv).status, 200);
    let j = route(&st, &get("/snapshot.json"), iv);
    let recs: Vec<crate::model::SocketRecord> = serde_json::from_str(&body(&j)).unwrap();
    assert_eq!(recs.len(), 3);

    assert_eq!(route(&st, &get("/"), iv).status, 404);
    assert_eq!(route(&st, &get("/metricsx"), iv).status, 404);
    let post = Request {
        method: "POST".into(),
        path: "/metrics".into(),
    };
    let r = route(&st, &post, iv);
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
    assert_eq!(route(&second, &get("/healthz"), iv).status, 503);
    let text = body(&route(&second, &get("/metrics"), iv));
    assert!(text.contains("porttop_refresh_errors_total 1\n"), "{text}");
    assert!(text.contains("porttop_last_refresh_success 0\n"));
    assert!(text.contains("porttop_ephemeral_pool_size 100\n"));
    assert_eq!(second.status.last_success_ms, first.status.last_success_ms);
    // Never a successful refresh: metrics still answer (status only), health fails.
    let mut bad = Collector::new(Box::new(Script(vec![Err("no".into())])), cfg());
    let st = bad.refresh(&State::default());
    assert_eq!(route(&st, &get("/healthz"), iv).status, 503);
    assert_eq!(route(&st, &get("/snapshot.json"), iv).status, 503);
    assert_eq!(route(&st, &get("/metrics"), iv).status, 200);
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
    };
    if st.last_ok.is_some() {
        let r = route(&st, &get("/healthz"), Duration::from_secs(1));
        assert_eq!(r.status, 503);
    }
}
