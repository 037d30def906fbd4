use super::*;
use crate::analysis::collisions;
use crate::analysis::pool::{analyze, Thresholds};
use crate::model::{Proto, SockState};
use crate::testkit::*;
use std::collections::{BTreeMap, BTreeSet};

/// Parsed exposition: family -> (help, type), and every sample as (name, labels line, value).
struct Parsed {
    help: BTreeMap<String, String>,
    types: BTreeMap<String, String>,
    samples: Vec<(String, String, f64)>,
}

fn parse(text: &str) -> Parsed {
    let mut p = Parsed {
        help: BTreeMap::new(),
        types: BTreeMap::new(),
        samples: Vec::new(),
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(
                p.help.insert(name.into(), help.into()).is_none(),
                "dup HELP {name}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, t) = rest.split_once(' ').unwrap();
            assert!(p.help.contains_key(name), "TYPE before HELP for {name}");
            assert!(
                p.types.insert(name.into(), t.into()).is_none(),
                "dup TYPE {name}"
            );
        } else {
            assert!(!line.starts_with('#'), "{line}");
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, l)) => (n.to_string(), l.trim_end_matches('}').to_string()),
                None => (series.to_string(), String::new()),
            };
            assert!(
                p.types.contains_key(&name),
                "sample {name} without a TYPE before it"
            );
            p.samples.push((name, labels, value.parse().unwrap()));
        }
    }
    p
}

impl Parsed {
    fn count(&self, name: &str) -> usize {
        self.samples.iter().filter(|s| s.0 == name).count()
    }
    fn value(&self, name: &str, labels: &str) -> f64 {
        self.samples
            .iter()
            .find(|s| s.0 == name && s.1 == labels)
            .unwrap_or_else(|| panic!("no {name}{{{labels}}}"))
            .2
    }
}

fn sample_snapshot() -> crate::model::Snapshot {
    let mut socks = many(
        "10.0.0.1",
        "10.0.0.2:443",
        40000,
        70,
        SockState::Established,
    );
    socks.extend(many(
        "10.0.0.1",
        "10.0.0.2:443",
        40070,
        15,
        SockState::TimeWait,
    ));
    socks.extend(many(
        "10.0.0.1",
        "10.0.0.3:80",
        40000,
        3,
        SockState::Established,
    ));
    socks.push(listener(Proto::Tcp, "0.0.0.0:40090").pids(&[7]));
    socks.push(listener(Proto::Tcp, "0.0.0.0:8080").pids(&[7]));
    socks.push(listener(Proto::Udp, "0.0.0.0:5353").pids(&[8]));
    with_procs(
        snap(1_000, range100(), socks),
        &[(7, "we\"ird\\na\nme"), (8, "avahi")],
    )
}

fn render(s: &crate::model::Snapshot, top: usize) -> String {
    let r = analyze(s, Thresholds::default());
    let c = collisions::find_with(s, &crate::analysis::malware_lookup);
    render_snapshot(s, &r, &c, top, &[])
}

#[test]
fn label_values_escape_backslash_quote_and_newline() {
    assert_eq!(escape_label(r#"a\b"c"#), r#"a\\b\"c"#);
    assert_eq!(escape_label("x\ny\x1b"), r"x\\x0ay\\x1b");
    assert_eq!(escape_label("plain ünïcode"), "plain ünïcode");
    assert_eq!(escape_help("a\\b\nc \"q\""), "a\\\\b\\nc \"q\"");
    let text = render(&sample_snapshot(), 10);
    assert!(
        text.contains(r#"process="we\"ird\\na\\x0ame""#),
        "escaped process label missing:\n{text}"
    );
    // every sample line is one line: the raw newline never leaks
    assert!(!text.lines().any(|l| l == "me\"} 1"));
}

#[test]
fn every_family_has_help_and_type_and_every_sample_a_family() {
    let s = sample_snapshot();
    let mut text = render(&s, 10);
    text.push_str(&render_status(&CollectorStatus::default()));
    let p = parse(&text);
    assert_eq!(
        p.help.keys().collect::<Vec<_>>(),
        p.types.keys().collect::<Vec<_>>()
    );
    for t in p.types.values() {
        assert!(t == "gauge" || t == "counter", "{t}");
    }
    for name in [
        "porttop_sockets",
        "porttop_ephemeral_range_low",
        "porttop_ephemeral_range_high",
        "porttop_ephemeral_pool_size",
        "porttop_ephemeral_ports_in_use",
        "porttop_pool_worst_destination_sockets",
        "porttop_pool_worst_destination_fraction",
        "porttop_pool_level",
        "porttop_pool_level_code",
        "porttop_destination_sockets",
        "porttop_destination_time_wait",
        "porttop_collisions",
        "porttop_listener_sockets",
        "porttop_scrape_duration_seconds",
        "porttop_refresh_errors_total",
        "porttop_last_refresh_timestamp_seconds",
    ] {
        assert!(p.types.contains_key(name), "{name} missing");
    }
    assert_eq!(p.types["porttop_refresh_errors_total"], "counter");
}

#[test]
fn values_agree_with_the_pool_report() {
    let s = sample_snapshot();
    let p = parse(&render(&s, 10));
    assert_eq!(p.value("porttop_ephemeral_range_low", ""), 40000.0);
    assert_eq!(p.value("porttop_ephemeral_pool_size", ""), 100.0);
    assert_eq!(p.value("porttop_pool_worst_destination_sockets", ""), 85.0);
    assert_eq!(p.value("porttop_pool_worst_destination_fraction", ""), 0.85);
    let dest = r#"proto="tcp",local_addr="10.0.0.1",remote_addr="10.0.0.2",remote_port="443""#;
    assert_eq!(p.value("porttop_destination_sockets", dest), 85.0);
    assert_eq!(p.value("porttop_destination_time_wait", dest), 15.0);
    assert_eq!(p.value("porttop_pool_level", r#"level="warn""#), 1.0);
    assert_eq!(p.value("porttop_pool_level", r#"level="ok""#), 0.0);
    assert_eq!(p.value("porttop_pool_level_code", ""), 1.0);
    assert_eq!(
        p.value("porttop_sockets", r#"proto="tcp",state="TIME-WAIT""#),
        15.0
    );
    assert_eq!(
        p.value("porttop_sockets", r#"proto="tcp",state="SYN-SENT""#),
        0.0
    );
    let in_range = r#"kind="listener_in_ephemeral_range",intentional="false""#;
    assert_eq!(p.value("porttop_collisions", in_range), 1.0);
    assert_eq!(p.value("porttop_listeners", ""), 3.0);
}

#[test]
fn series_counts_stay_bounded() {
    let mut socks = Vec::new();
    for i in 0..50u16 {
        socks.extend(many(
            "10.0.0.1",
            &format!("10.0.1.{i}:443"),
            40000,
            2,
            SockState::Established,
        ));
    }
    for port in 1025..2025u16 {
        socks.push(listener(Proto::Tcp, &format!("127.0.0.1:{port}")));
    }
    let s = snap(1, range100(), socks);
    let p = parse(&render(&s, 10));
    assert_eq!(p.count("porttop_destination_sockets"), 10);
    assert_eq!(p.count("porttop_destination_time_wait"), 10);
    assert_eq!(p.count("porttop_listener_sockets"), MAX_LISTENER_SERIES);
    assert_eq!(p.value("porttop_listeners", ""), 1000.0);
    assert_eq!(p.count("porttop_collisions"), 6);
    // fixed state sets: 11 TCP states, BOUND, and UNCONN for UDP
    assert_eq!(p.count("porttop_sockets"), 13);
    let p0 = parse(&render(&s, 0));
    assert_eq!(p0.count("porttop_destination_sockets"), 0);
    let names: BTreeSet<&str> = p.samples.iter().map(|s| s.0.as_str()).collect();
    assert!(names.len() < 40, "{names:?}");
}

#[test]
fn values_are_spelled_like_prometheus() {
    assert_eq!(format_value(1.0), "1");
    assert_eq!(format_value(0.85), "0.85");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(1_700_000_000.123), "1700000000.123");
}

#[test]
fn kernel_counters_are_exported_as_counters() {
    let mut s = sample_snapshot();
    s.counters = Some(crate::model::KernelCounters {
        active_opens: 100,
        listen_drops: 7,
        ..Default::default()
    });
    let p = parse(&render(&s, 10));
    assert_eq!(p.types["porttop_kernel_tcp_total"], "counter");
    assert_eq!(
        p.value("porttop_kernel_tcp_total", r#"counter="ActiveOpens""#),
        100.0
    );
    assert_eq!(
        p.value("porttop_kernel_tcp_total", r#"counter="ListenDrops""#),
        7.0
    );
    assert!(!render(&sample_snapshot(), 10).contains("porttop_kernel_tcp_total"));
}

/// Accept queues per TCP listener, on the listener's label set; a full one
/// reads above 1; drops only where the source had the socket's memory.
#[test]
fn listener_accept_queues_are_exported_per_listener() {
    use crate::model::conn::{ConnInfo, MemInfo};
    let mut full = listener(Proto::Tcp, "127.0.0.1:8080").pids(&[7]);
    full.conn = Some(Box::new(ConnInfo {
        rx_queue: 3,
        tx_queue: 2,
        mem: Some(MemInfo {
            drops: 9,
            ..Default::default()
        }),
        ..Default::default()
    }));
    let mut idle = listener(Proto::Tcp, "127.0.0.1:9090").pids(&[7]);
    idle.conn = Some(Box::new(ConnInfo {
        tx_queue: 128,
        ..Default::default()
    }));
    let s = with_procs(snap(1_000, range100(), vec![full, idle]), &[(7, "srv")]);
    let t = render(&s, 10);
    let l = r#"proto="tcp",addr="127.0.0.1",port="8080",process="srv""#;
    assert!(
        t.contains(&format!("porttop_listener_accept_queue{{{l}}} 3\n")),
        "{t}"
    );
    assert!(
        t.contains(&format!("porttop_listener_accept_backlog{{{l}}} 2\n")),
        "{t}"
    );
    assert!(
        t.contains(&format!("porttop_listener_accept_fill_ratio{{{l}}} 1.5\n")),
        "{t}"
    );
    assert!(
        t.contains(&format!("porttop_listener_drops_total{{{l}}} 9\n")),
        "{t}"
    );
    assert!(!t.contains(r#"porttop_listener_drops_total{proto="tcp",addr="127.0.0.1",port="9090""#));
    // no detail at all: no queue families
    let bare = render(&sample_snapshot(), 10);
    assert!(!bare.contains("porttop_listener_accept_queue"), "{bare}");
}

#[test]
fn namespaces_get_series_of_their_own_bounded_by_the_worst_n_and_the_rest() {
    let s = sample_snapshot();
    let r = analyze(&s, Thresholds::default());
    let pools: Vec<crate::analysis::NetnsPool> = (0..NETNS_TOP + 2)
        .map(|i| {
            let mut report = r.clone();
            report.fraction = 1.0 - i as f64 / 100.0;
            crate::analysis::NetnsPool {
                inode: i as u64 + 1,
                name: format!("ns{i}"),
                container: (i == 0).then(|| "web\x1b[31m".to_string()),
                sockets: 10,
                report,
            }
        })
        .collect();
    let text = render_snapshot(&s, &r, &[], 5, &pools);
    let lines = |name: &str| -> Vec<&str> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .collect()
    };
    let socks = lines("porttop_netns_sockets");
    assert_eq!(socks.len(), NETNS_TOP + 1, "{socks:?}");
    assert!(socks.contains(&r#"porttop_netns_sockets{netns="_other",container=""} 20"#));
    assert!(lines("porttop_netns_pool_fraction")
        .contains(&r#"porttop_netns_pool_fraction{netns="_other",container=""} 0.9"#));
    // a container name from the system is made safe for a terminal
    assert!(socks[0].starts_with(r#"porttop_netns_sockets{netns="ns0",container="web"#));
    assert!(!socks[0].contains('\x1b'), "{}", socks[0]);
    assert!(text.contains("porttop_netns_count 12"));
    // one namespace: no such series
    assert!(!render_snapshot(&s, &r, &[], 5, &pools[..1]).contains("porttop_netns_"));
}
