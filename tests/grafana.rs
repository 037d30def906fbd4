//! The Grafana dashboard (`demo/grafana/porttop-dashboard.json`) against a real
//! Prometheus: the test starts `porttop serve` and a Prometheus server on
//! loopback ports with a temporary storage directory, lets it scrape, and runs
//! every panel's expression (and every template variable's query) through the
//! query API. Each must be valid PromQL (status success), name only metrics the
//! exporter has, and return data where the test made some. Skips without the
//! `prometheus` binary (Debian: apt-get install prometheus).

mod common;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `s` percent-encoded for a query string (RFC 3986 unreserved kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// GET `path` from `addr`: the body, or None when nothing answers yet.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// Runs an instant query; the API's JSON answer.
fn query(prom: SocketAddr, expr: &str) -> Value {
    let body = get(prom, &format!("/api/v1/query?query={}", encode(expr)))
        .unwrap_or_else(|| panic!("no answer from Prometheus for {expr}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{expr}: {e}: {body}"))
}

/// Grafana's variables, as the dashboard would expand them with "All" chosen.
fn expand(expr: &str) -> String {
    expr.replace("$instance", ".*")
        .replace("$job", ".*")
        .replace("$__rate_interval", "1m")
}

/// Every (panel title, expression) of the dashboard, rows' panels included.
fn expressions(d: &Value) -> Vec<(String, String)> {
    fn walk(panels: &[Value], out: &mut Vec<(String, String)>) {
        for p in panels {
            if p["type"] == "row" {
                walk(p["panels"].as_array().map_or(&[][..], |v| v), out);
                continue;
            }
            let title = p["title"].as_str().unwrap_or("?").to_string();
            let targets = p["targets"].as_array().map_or(&[][..], |v| v);
            assert!(!targets.is_empty(), "panel {title} has no query");
            for t in targets {
                let e = t["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{title}: no expr"));
                out.push((title.clone(), e.to_string()));
            }
        }
    }
    let mut out = Vec::new();
    walk(d["panels"].as_array().expect("panels"), &mut out);
    out
}

/// The `porttop_*` metric names an expression uses.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("porttop_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

#[test]
fn every_dashboard_expression_runs_in_a_real_prometheus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/demo/grafana/porttop-dashboard.json"
    );
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs = expressions(&d);
    assert!(exprs.len() >= 10, "{exprs:?}");
    // Template variables: label_values(EXPR, LABEL) -> EXPR must carry LABEL.
    let vars: Vec<(String, String)> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["definition"].as_str())
        .map(|def| {
            let inner = def
                .strip_prefix("label_values(")
                .and_then(|s| s.strip_suffix(')'))
                .unwrap_or_else(|| panic!("unexpected variable query {def}"));
            let (e, label) = inner.rsplit_once(',').unwrap();
            (e.trim().to_string(), label.trim().to_string())
        })
        .collect();
    assert_eq!(vars.len(), 2, "job and instance");

    if !have("prometheus") {
        eprintln!(
            "SKIP: prometheus is not installed (Debian: apt-get install prometheus); \
             {} dashboard expressions were not run",
            exprs.len()
        );
        return;
    }
    let _g = serial();
    // Destinations for the destination panels: connections of this test.
    let l = listener_outside_range("127.0.0.1");
    let _conns = connect_n(&l, 20);

    let porttop_port = free_port();
    let exporter = Killed(
        porttop()
            .args(["serve", "--no-config", "--interval", "250ms", "--listen"])
            .arg(format!("127.0.0.1:{porttop_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let exporter_addr: SocketAddr = ([127, 0, 0, 1], porttop_port).into();
    let end = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        if let Some(b) = get(exporter_addr, "/metrics").filter(|b| b.contains("porttop_")) {
            break b;
        }
        assert!(Instant::now() < end, "porttop serve did not answer");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Every metric the dashboard names is one the exporter has (a typo would
    // otherwise be a panel that is silently empty).
    for (title, e) in &exprs {
        for m in metric_names(e) {
            assert!(
                metrics.contains(&format!("# TYPE {m} ")),
                "panel {title}: {m} is not exported"
            );
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: porttop\n    static_configs:\n      \
             - targets: ['127.0.0.1:{porttop_port}']\n"
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let prom_addr: SocketAddr = ([127, 0, 0, 1], prom_port).into();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prom = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    // Scraped often enough for the 1m rate windows: at least 4 samples.
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = get(
            prom_addr,
            &format!(
                "/api/v1/query?query={}",
                encode("count_over_time(up{job=\"porttop\"}[1m]) >= 4 and up == 1")
            ),
        )
        .and_then(|b| serde_json::from_str::<Value>(&b).ok())
        .is_some_and(|v| {
            v["data"]["result"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
        });
        if ready {
            break;
        }
        assert!(
            Instant::now() < end,
            "Prometheus did not scrape porttop in 60 s: {}",
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // Panels that may be empty on a quiet host: a projection needs growth.
    let may_be_empty = ["Time to exhaustion"];
    for (title, e) in &exprs {
        let expr = expand(e);
        let v = query(prom_addr, &expr);
        assert_eq!(v["status"], "success", "panel {title}: {expr}: {v}");
        let n = v["data"]["result"].as_array().map_or(0, Vec::len);
        if !may_be_empty.iter().any(|t| title.starts_with(t)) {
            assert!(n > 0, "panel {title}: {expr} returned no series");
        }
    }
    for (e, label) in &vars {
        let v = query(prom_addr, &expand(e));
        assert_eq!(v["status"], "success", "{e}: {v}");
        let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
        assert!(
            result
                .iter()
                .any(|s| s["metric"][label.as_str()].is_string()),
            "variable {label}: {e} gives no {label}: {v}"
        );
    }
    // A broken expression is caught (the check above is not vacuous).
    assert_eq!(
        query(prom_addr, "sum by (state (porttop_sockets)")["status"],
        "error"
    );
    drop(exporter);
}
