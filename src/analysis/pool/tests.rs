use super::*;
use crate::model::SockState::*;
use crate::testkit::*;

/// 1000 ports: 40000-40999.
fn range1000() -> PortRange {
    PortRange::new(40000, 40999, Vec::new(), "test")
}

fn report(range: PortRange, sockets: Vec<Socket>) -> PoolReport {
    analyze(&snap(0, range, sockets), Thresholds::default())
}

#[test]
fn per_destination_counts_sockets_while_global_counts_distinct_ports() {
    // The same 10 local ports toward two destinations: connect() reuses them.
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established);
    v.extend(many("10.0.0.2", "10.0.0.6:443", 40000, 10, Established));
    let r = report(range100(), v);
    assert_eq!(r.pool_size, 100);
    assert_eq!(r.tcp.ports_in_use, 10);
    assert_eq!(r.global.fraction, 0.10);
    assert_eq!(r.destinations.len(), 2);
    assert!(r.destinations.iter().all(|d| d.sockets == 10));
}

#[test]
fn reserved_and_out_of_range_ports_are_not_counted() {
    let range = PortRange::new(40000, 40099, vec![(40050, 40059)], "t");
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40045, 10, Established); // 5 reserved
    v.extend(many("10.0.0.2", "10.0.0.5:443", 39990, 5, Established)); // below range
    let r = report(range, v);
    assert_eq!(r.pool_size, 90);
    assert_eq!(r.reserved_in_range, 10);
    assert_eq!(r.tcp.ports_in_use, 5);
    assert_eq!(r.destinations[0].sockets, 5);
}

#[test]
fn time_wait_sockets_count_toward_the_pool_and_are_reported_apart() {
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 6, Established);
    v.extend(many("10.0.0.2", "10.0.0.5:443", 40006, 4, TimeWait));
    let r = report(range100(), v);
    let d = &r.destinations[0];
    assert_eq!((d.sockets, d.time_wait), (10, 4));
    assert_eq!(r.tcp.by_state[&TimeWait], 4);
    assert_eq!(r.tcp.by_state[&Established], 6);
    assert_eq!(r.tcp.ports_in_use, 10);
}

#[test]
fn distinct_ports_per_state_count_a_port_once_per_state() {
    let v = vec![
        tcp("10.0.0.2:40000", "10.0.0.5:443", Established),
        tcp("10.0.0.2:40000", "10.0.0.6:443", TimeWait),
        tcp("10.0.0.2:40000", "10.0.0.7:443", TimeWait),
    ];
    let r = report(range100(), v);
    assert_eq!(r.tcp.ports_in_use, 1);
    assert_eq!(r.tcp.by_state[&TimeWait], 1);
    assert_eq!(r.tcp.by_state[&Established], 1);
}

#[test]
fn ipv4_and_ipv6_are_separate_destinations_but_one_global_port_space() {
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established);
    v.extend(many(
        "[2001:db8::2]",
        "[2001:db8::5]:443",
        40005,
        10,
        Established,
    ));
    let r = report(range100(), v);
    assert_eq!(r.destinations.len(), 2);
    assert!(r.destinations.iter().all(|d| d.sockets == 10));
    assert_eq!(r.tcp.ports_in_use, 15, "40000-40014 across both families");
}

#[test]
fn pool_warns_at_80_percent_of_one_destination() {
    let r = report(
        range1000(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 800, Established),
    );
    assert_eq!(r.level, Level::Warn);
    assert_eq!(r.fraction, 0.80);
    assert_eq!(r.driver, Driver::Destination(r.destinations[0].key));
}

#[test]
fn pool_does_not_warn_at_79_9_percent() {
    let r = report(
        range1000(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 799, Established),
    );
    assert_eq!(r.level, Level::Ok);
}

#[test]
fn pool_is_critical_at_95_percent_and_warn_just_below() {
    let r = report(
        range1000(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 950, TimeWait),
    );
    assert_eq!(r.level, Level::Critical);
    let r = report(
        range1000(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 949, TimeWait),
    );
    assert_eq!(r.level, Level::Warn);
}

#[test]
fn custom_thresholds_apply() {
    let snap = snap(
        0,
        range1000(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 500, Established),
    );
    let t = Thresholds {
        warn: 0.5,
        crit: 0.6,
        ..Thresholds::default()
    };
    assert_eq!(analyze(&snap, t).level, Level::Warn);
}

#[test]
fn global_drives_the_level_when_ports_are_spread_over_destinations() {
    let mut v = Vec::new();
    for i in 0..8u16 {
        let remote = format!("10.0.1.{i}:443");
        v.extend(many("10.0.0.2", &remote, 40000 + i * 100, 100, Established));
    }
    let r = report(range1000(), v);
    assert_eq!(r.tcp.ports_in_use, 800);
    assert_eq!(r.worst.as_ref().unwrap().fraction, 0.10);
    assert_eq!(r.level, Level::Warn);
    assert_eq!(r.driver, Driver::Global { proto: Proto::Tcp });
    assert!(
        r.notes.iter().any(|n| n.contains("bind(0)")),
        "{:?}",
        r.notes
    );
}

#[test]
fn listeners_in_range_count_globally_but_are_not_destinations() {
    let v = vec![
        listener(Proto::Tcp, "0.0.0.0:40010"),
        listener(Proto::Udp, "0.0.0.0:40020"),
        listener(Proto::Tcp, "0.0.0.0:22"),
    ];
    let r = report(range100(), v);
    assert!(r.destinations.is_empty() && r.worst.is_none());
    assert_eq!((r.tcp.ports_in_use, r.tcp.held_by_listeners), (1, 1));
    assert_eq!((r.udp.ports_in_use, r.udp.held_by_listeners), (1, 1));
    assert_eq!(r.tcp.by_state[&Listen], 1);
}

#[test]
fn tcp_and_udp_are_separate_pools_and_global_is_the_worse() {
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 10, Established);
    for p in 40000..40030u16 {
        v.push(conn(
            Proto::Udp,
            &format!("10.0.0.2:{p}"),
            "10.0.0.53:53",
            Unconn,
        ));
    }
    let r = report(range100(), v);
    assert_eq!(r.tcp.ports_in_use, 10);
    assert_eq!(r.udp.ports_in_use, 30);
    assert_eq!(r.global.proto, Proto::Udp);
    assert_eq!(r.destinations[0].key.proto, Proto::Udp);
    assert_eq!(r.destinations[0].sockets, 30);
}

#[test]
fn empty_pool_is_critical_and_does_not_divide_by_zero() {
    let range = PortRange::new(40000, 40099, vec![(40000, 40099)], "t");
    let r = report(
        range,
        vec![tcp("10.0.0.2:40000", "10.0.0.5:443", Established)],
    );
    assert_eq!(r.pool_size, 0);
    assert_eq!((r.fraction, r.global.fraction), (0.0, 0.0));
    assert_eq!(r.level, Level::Critical);
    assert_eq!(r.driver, Driver::EmptyPool);
    assert!(serde_json::to_string(&r)
        .unwrap()
        .contains("\"empty_pool\""));
}

#[test]
fn a_malformed_range_with_low_above_high_is_an_empty_pool_not_a_panic() {
    let range = PortRange {
        low: 50000,
        high: 40000,
        reserved: Vec::new(),
        source: "t".into(),
        tw_reuse: None,
    };
    let r = report(range, Vec::new());
    assert_eq!((r.pool_size, r.level), (0, Level::Critical));
}

#[test]
fn levels_map_to_nagios_exit_codes_and_serialize_lowercase() {
    assert_eq!(Level::Ok.exit_code(), 0);
    assert_eq!(Level::Warn.exit_code(), 1);
    assert_eq!(Level::Critical.exit_code(), 2);
    assert_eq!(
        serde_json::to_string(&Level::Critical).unwrap(),
        "\"critical\""
    );
    assert!(Level::Critical > Level::Warn && Level::Warn > Level::Ok);
}

#[test]
fn destinations_sort_busiest_first_then_by_key() {
    let mut v = many("10.0.0.2", "10.0.0.9:80", 40000, 3, Established);
    v.extend(many("10.0.0.2", "10.0.0.7:80", 40000, 5, Established));
    v.extend(many("10.0.0.2", "10.0.0.8:80", 40000, 3, Established));
    let r = report(range100(), v);
    let order: Vec<String> = r
        .destinations
        .iter()
        .map(|d| d.key.remote.to_string())
        .collect();
    assert_eq!(order, ["10.0.0.7:80", "10.0.0.8:80", "10.0.0.9:80"]);
    assert_eq!(r.worst.unwrap().key.remote.to_string(), "10.0.0.7:80");
}

#[test]
fn more_than_half_of_a_destination_notes_the_connect_parity_preference() {
    let r = report(
        range100(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 51, Established),
    );
    assert!(
        r.notes.iter().any(|n| n.contains("even half")),
        "{:?}",
        r.notes
    );
    let r = report(
        range100(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 50, Established),
    );
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[test]
fn unspecified_remote_is_not_a_destination() {
    let s = conn(Proto::Udp, "0.0.0.0:40001", "0.0.0.0:0", Unconn);
    let r = report(range100(), vec![s]);
    assert!(r.destinations.is_empty());
    assert_eq!(r.udp.ports_in_use, 1);
}

#[test]
fn report_serializes_with_ss_state_names_and_a_tagged_driver() {
    let v = many("10.0.0.2", "10.0.0.5:443", 40000, 3, TimeWait);
    let j = serde_json::to_value(report(range100(), v)).unwrap();
    assert_eq!(j["tcp"]["by_state"]["TIME-WAIT"], 3);
    assert_eq!(j["driver"]["kind"], "destination");
    assert_eq!(j["driver"]["remote"]["port"], 443);
    assert_eq!(j["destinations"][0]["time_wait"], 3);
    assert_eq!(j["level"], "ok");
}

#[test]
fn analyze_with_churn_projects_the_busiest_destination() {
    let range = range1000();
    let mut churn = Churn::default();
    churn.observe(&snap(0, range.clone(), Vec::new()));
    // 200 new sockets in 10 s toward one destination: 20/s, 100 of them closed.
    let mut v = many("10.0.0.2", "10.0.0.5:443", 40000, 100, Established);
    v.extend(many("10.0.0.2", "10.0.0.5:443", 40100, 100, TimeWait));
    let s = snap(10_000, range, v);
    churn.observe(&s);
    let r = analyze_with_churn(&s, Thresholds::default(), &churn, 5, Hysteresis::default());
    assert_eq!(r.projections.len(), 1);
    assert_eq!(r.projections[0].rate_per_sec, Some(20.0));
    // steady = 20 * 60 + 100 = 1300 >= 1000: (1000 - 200) / 20 = 40 s.
    assert_eq!(
        r.projections[0].projection,
        Projection::Exhausts { secs: 40.0 }
    );
    assert_eq!(
        r.projections[0].to_string(),
        "at this rate, 10.0.0.5:443 runs out in ~40 s"
    );
}

#[test]
fn the_projection_raises_the_level_before_usage_does() {
    let range = range1000();
    let mut churn = Churn::default();
    churn.observe(&snap(0, range.clone(), Vec::new()));
    // 20/s toward one destination, all still open: 200 of 1000 (20 %) in use,
    // runs out in (1000 - 200) / 20 = 40 s: within the 60 s critical window.
    let s = snap(
        10_000,
        range,
        many("10.0.0.2", "10.0.0.5:443", 40000, 200, Established),
    );
    churn.observe(&s);
    let r = analyze_with_churn(&s, Thresholds::default(), &churn, 5, Hysteresis::default());
    assert_eq!(r.level, Level::Critical, "{r:#?}");
    assert_eq!(r.level_by, LevelBy::Projection);
    assert_eq!(r.exhaustion_secs, Some(40.0));
    assert!(matches!(r.driver, Driver::Destination(k) if k.remote.port == 443));
    // With a 30 s critical window it is only a warning (5 min warn window).
    let t = Thresholds {
        crit_within_secs: 30.0,
        ..Thresholds::default()
    };
    let r = analyze_with_churn(&s, t, &churn, 5, Hysteresis::default());
    assert_eq!((r.level, r.level_by), (Level::Warn, LevelBy::Projection));
    // Without projections (one snapshot) usage alone decides.
    let r = analyze(&s, Thresholds::default());
    assert_eq!((r.level, r.level_by), (Level::Ok, LevelBy::Usage));
}

#[test]
fn levels_clear_lower_than_they_raise() {
    let t = Thresholds::default();
    assert_eq!(t.usage_level(0.81, Level::Ok), Level::Warn);
    assert_eq!(t.usage_level(0.78, Level::Ok), Level::Ok);
    assert_eq!(
        t.usage_level(0.78, Level::Warn),
        Level::Warn,
        "within 5 points"
    );
    assert_eq!(t.usage_level(0.74, Level::Warn), Level::Ok);
    assert_eq!(t.usage_level(0.92, Level::Critical), Level::Critical);
    assert_eq!(t.usage_level(0.89, Level::Critical), Level::Warn);
    assert_eq!(t.projection_level(Some(80.0), Level::Ok), Level::Warn);
    assert_eq!(
        t.projection_level(Some(80.0), Level::Critical),
        Level::Critical
    );
    assert_eq!(
        t.projection_level(Some(100.0), Level::Critical),
        Level::Warn
    );
    assert_eq!(t.projection_level(Some(400.0), Level::Warn), Level::Warn);
    assert_eq!(t.projection_level(Some(500.0), Level::Warn), Level::Ok);
    assert_eq!(t.projection_level(None, Level::Critical), Level::Ok);
}

#[test]
fn server_side_time_wait_on_a_listener_port_is_not_a_destination() {
    // A listener inside the range that closes first: its TIME-WAITs have the
    // listener's port as the local one and one client port each.
    let mut v = vec![listener(Proto::Tcp, "0.0.0.0:40050")];
    for p in 0..20u16 {
        v.push(tcp(
            "127.0.0.1:40050",
            &format!("127.0.0.1:{}", 50_000 + p),
            TimeWait,
        ));
    }
    v.push(tcp("127.0.0.1:40050", "127.0.0.1:51000", Established).inode(77));
    let r = report(range100(), v);
    assert!(r.destinations.is_empty(), "{:#?}", r.destinations);
    assert_eq!(r.tcp.ports_in_use, 1, "the listener's port only");
}

/// A TIME-WAIT `left_ms` from its end; from 127.0.0.1 toward loopback, else from
/// 10.0.0.2.
fn tw_left(local_port: u16, remote: &str, left_ms: u32) -> Socket {
    let local = if remote.starts_with("127.") {
        "127.0.0.1"
    } else {
        "10.0.0.2"
    };
    let mut s = tcp(&format!("{local}:{local_port}"), remote, TimeWait);
    s.time_wait_left_ms = Some(left_ms);
    s
}

#[test]
fn reusable_time_wait_does_not_block_a_destination() {
    let mut range = range100();
    let mut v: Vec<Socket> = (0..50)
        .map(|i| tw_left(40000 + i, "127.0.0.1:9000", 30_000))
        .collect();
    // Younger than the reuse delay: still blocks.
    v.push(tw_left(40060, "127.0.0.1:9000", 59_500));
    v.extend((0..50).map(|i| tw_left(40000 + i, "10.0.0.5:443", 30_000)));
    for (reuse, loopback_blocking, remote_blocking) in [
        (None, 51, 50),
        (Some(0), 51, 50),
        (Some(2), 1, 50),
        (Some(1), 1, 0),
    ] {
        range.tw_reuse = reuse;
        let r = report(range.clone(), v.clone());
        let d = |port: u16| {
            r.destinations
                .iter()
                .find(|d| d.key.remote.port == port)
                .unwrap()
        };
        assert_eq!(d(9000).sockets, 51);
        assert_eq!(
            d(9000).sockets - d(9000).reusable_time_wait,
            loopback_blocking,
            "{reuse:?}"
        );
        assert_eq!(
            d(443).sockets - d(443).reusable_time_wait,
            remote_blocking,
            "{reuse:?}"
        );
    }
}

/// A churn simulation: `rate` connections a second toward one destination, each
/// closed by the client at once (a TIME-WAIT of 60 s, with the kernel's
/// `left` time), snapshots every second; the level at each second.
fn churn_levels(rate: u32, pool: u16, secs: u32) -> Vec<(u32, Level, LevelBy)> {
    let range = PortRange::new(40000, 40000 + pool - 1, Vec::new(), "t");
    let mut a = crate::analysis::Analyzer::new(Thresholds::default(), 5);
    let mut out = Vec::new();
    let mut made: Vec<(u32, u16)> = Vec::new(); // (created at ms, local port)
    let mut next_port = 0u32;
    for t in 0..=secs {
        let now_ms = t * 1000;
        if t > 0 {
            for i in 0..rate {
                let at = now_ms - 1000 + i * 1000 / rate;
                made.push((at, 40000 + (next_port % u32::from(pool)) as u16));
                next_port += 1;
            }
        }
        made.retain(|(at, _)| now_ms - at < 60_000);
        if made.len() > usize::from(pool) {
            break; // exhausted: connect() fails now
        }
        let sockets = made
            .iter()
            .map(|(at, port)| tw_left(*port, "10.0.0.5:443", 60_000 - (now_ms - at)))
            .collect();
        let r = a
            .analyze(&snap(u64::from(now_ms), range.clone(), sockets))
            .report;
        out.push((t, r.level, r.level_by));
    }
    out
}

#[test]
fn a_fill_that_exhausts_in_50_s_warns_30_s_and_goes_critical_10_s_ahead() {
    // 20/s into 1000 ports with 60 s TIME-WAIT: the 1001st connect fails at 50 s.
    let levels = churn_levels(20, 1000, 60);
    let fail_at = levels.last().unwrap().0 + 1;
    assert!((49..=51).contains(&fail_at), "{fail_at}");
    let first = |l: Level| levels.iter().find(|(_, lv, _)| *lv >= l).map(|x| x.0);
    let warn = first(Level::Warn).expect("never warned");
    let crit = first(Level::Critical).expect("never critical");
    assert!(
        fail_at - warn >= 30,
        "warned only {} s ahead",
        fail_at - warn
    );
    assert!(
        fail_at - crit >= 10,
        "critical only {} s ahead",
        fail_at - crit
    );
}

#[test]
fn a_churn_that_settles_at_60_percent_never_alarms() {
    // 10/s with 60 s TIME-WAIT settles at 600 of 1000.
    let levels = churn_levels(10, 1000, 150);
    assert_eq!(levels.len(), 151, "never exhausted");
    let alarms: Vec<_> = levels.iter().filter(|(_, l, _)| *l != Level::Ok).collect();
    assert!(alarms.is_empty(), "false alarms: {alarms:?}");
}

#[test]
fn the_kernels_connect_count_drives_the_global_rate_and_failures_are_reported() {
    use crate::model::KernelCounters;
    let range = range1000();
    let mut a = crate::analysis::Analyzer::new(Thresholds::default(), 5);
    let with = |ms: u64, opens: u64, fails: u64| {
        let mut s = snap(ms, range.clone(), Vec::new());
        s.counters = Some(KernelCounters {
            active_opens: opens,
            attempt_fails: fails,
            ..Default::default()
        });
        s
    };
    let first = a.analyze(&with(0, 1000, 5));
    assert!(first.kernel_moves.is_empty());
    // 500 connect()s in 10 s that left no socket behind (reset, server-closed):
    // the dump saw nothing, the kernel counted them.
    let an = a.analyze(&with(10_000, 1500, 8));
    assert_eq!(an.kernel_moves, vec![("AttemptFails", 3)]);
    assert_eq!(an.history.len(), 2);
    // 50/s taken to stay (no close seen): 1000 ports in 20 s. Without the
    // kernel's count the rate would be 0.
    assert_eq!(
        an.report.global_projection,
        Some(Projection::Exhausts { secs: 20.0 })
    );
}

#[test]
fn a_level_the_projection_raised_does_not_lower_the_usage_threshold() {
    // 91 % in use and nothing new: usage alone is warn. A critical the projection
    // raised last time must not keep it critical through the usage margin.
    let range = range1000();
    let s = snap(
        10_000,
        range.clone(),
        many("10.0.0.2", "10.0.0.5:443", 40000, 910, Established),
    );
    let mut churn = Churn::default();
    churn.observe(&snap(
        0,
        range,
        many("10.0.0.2", "10.0.0.5:443", 40000, 910, Established),
    ));
    churn.observe(&s);
    let prev = Hysteresis {
        usage: Level::Warn,
        projection: Level::Critical,
    };
    let r = analyze_with_churn(&s, Thresholds::default(), &churn, 5, prev);
    assert_eq!(
        (r.level, r.level_by),
        (Level::Warn, LevelBy::Usage),
        "{r:#?}"
    );
    // A critical usage raised stays within its margin.
    let prev = Hysteresis {
        usage: Level::Critical,
        projection: Level::Ok,
    };
    let r = analyze_with_churn(&s, Thresholds::default(), &churn, 5, prev);
    assert_eq!(r.level, Level::Critical);
}

#[test]
fn a_young_reusable_time_wait_blocks_only_until_it_may_be_reused() {
    let mut range = range100();
    range.tw_reuse = Some(2);
    let r = report(range, vec![tw_left(40060, "127.0.0.1:9000", 59_500)]);
    assert_eq!(r.destinations[0].tw_left_secs, vec![0.5]);
}
