use super::*;
use crate::model::{PortRange, Process, SockState};
use std::collections::BTreeMap;
use std::sync::Arc;

const CLEAN: u16 = 5016; // unregistered for tcp and udp, outside every default range

fn range() -> PortRange {
    PortRange::new(
        32768,
        60999,
        vec![],
        "/proc/sys/net/ipv4/ip_local_port_range",
    )
}

/// A root-owned socket on `0.0.0.0:port` without a remote end (the kit's).
fn sock(proto: Proto, port: u16, state: SockState, pids: Vec<u32>) -> Socket {
    use crate::testkit::{listener, SockExt};
    listener(proto, &format!("0.0.0.0:{port}"))
        .state(state)
        .pids(&pids)
        .uid(0)
}

fn snap(sockets: Vec<Socket>) -> Snapshot {
    let mut processes = BTreeMap::new();
    for (pid, name) in [(42, "nginx"), (7, "curl")] {
        processes.insert(
            pid,
            Arc::new(Process {
                pid,
                name: name.to_string(),
                uid: Some(0),
                user: None,
                cmdline: String::new(),
                container: None,
                unit: None,
            }),
        );
    }
    Snapshot {
        taken_at_ms: 0,
        host: "test".to_string(),
        range: range(),
        partial: false,
        counters: None,
        sockets,
        processes,
        netns: Vec::new(),
    }
}

fn get<'a>(j: &'a Judgement, rule: &str) -> &'a Finding {
    j.findings
        .iter()
        .find(|f| f.rule == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {j:#?}"))
}

#[test]
fn port_80_is_privileged_and_registered_to_http() {
    let j = judge(80, Proto::Tcp, &range(), None, false);
    assert_eq!(j.verdict, Verdict::Bad);
    assert_eq!(get(&j, rule::PRIVILEGED).status, Status::Bad);
    let iana = get(&j, rule::IANA);
    assert_eq!(iana.status, Status::Caution);
    assert!(iana.message.contains("http"), "{}", iana.message);
}

#[test]
fn port_31337_udp_is_back_orifice() {
    let j = judge(31337, Proto::Udp, &range(), None, false);
    assert_eq!(j.verdict, Verdict::Bad);
    let m = get(&j, rule::MALWARE);
    assert_eq!(m.status, Status::Bad);
    assert!(m.message.contains("Back Orifice"), "{}", m.message);
    assert!(m.message.contains("CERT"), "{}", m.message);
}

#[test]
fn a_port_inside_the_range_names_the_range_and_its_source() {
    let j = judge(40001, Proto::Tcp, &range(), None, false);
    assert_eq!(j.verdict, Verdict::Bad);
    let e = get(&j, rule::EPHEMERAL_RANGE);
    assert_eq!(e.status, Status::Bad);
    assert!(e.message.contains("32768-60999"), "{}", e.message);
    assert!(e.message.contains("ip_local_port_range"), "{}", e.message);
    assert_eq!(get(&j, rule::RESERVED).status, Status::Caution);
}

#[test]
fn a_reserved_port_inside_the_range_is_caution_not_bad() {
    let r = PortRange::new(32768, 60999, vec![(40000, 40010)], "test");
    let j = judge(40001, Proto::Tcp, &r, Some(&snap(vec![])), false);
    assert_eq!(get(&j, rule::EPHEMERAL_RANGE).status, Status::Caution);
    assert!(get(&j, rule::EPHEMERAL_RANGE).message.contains("reserved"));
    assert_eq!(get(&j, rule::RESERVED).status, Status::Good);
    assert_eq!(j.verdict, Verdict::Caution);
}

#[test]
fn a_listener_in_the_snapshot_is_bad_and_named() {
    let s = snap(vec![sock(Proto::Tcp, CLEAN, SockState::Listen, vec![42])]);
    let j = judge(CLEAN, Proto::Tcp, &range(), Some(&s), false);
    assert_eq!(j.verdict, Verdict::Bad);
    let u = get(&j, rule::IN_USE);
    assert_eq!(u.status, Status::Bad);
    assert!(u.message.contains("nginx (pid 42)"), "{}", u.message);
    assert!(u.message.contains("LISTEN"), "{}", u.message);
    // The other protocol is not affected.
    let j = judge(CLEAN, Proto::Udp, &range(), Some(&s), false);
    assert_eq!(j.verdict, Verdict::Good);
}

#[test]
fn a_bound_udp_socket_is_a_listener_and_a_connection_is_caution() {
    let s = snap(vec![sock(Proto::Udp, CLEAN, SockState::Unconn, vec![])]);
    let u = judge(CLEAN, Proto::Udp, &range(), Some(&s), false);
    assert_eq!(get(&u, rule::IN_USE).status, Status::Bad);
    assert!(get(&u, rule::IN_USE).message.contains("process unknown"));
    let s = snap(vec![sock(
        Proto::Tcp,
        CLEAN,
        SockState::TimeWait,
        vec![7, 99],
    )]);
    let j = judge(CLEAN, Proto::Tcp, &range(), Some(&s), false);
    let f = get(&j, rule::IN_USE);
    assert_eq!(f.status, Status::Caution);
    assert!(f.message.contains("curl (pid 7), pid 99"), "{}", f.message);
    assert_eq!(j.verdict, Verdict::Caution);
}

#[test]
fn a_clean_port_is_good() {
    let j = judge(CLEAN, Proto::Tcp, &range(), Some(&snap(vec![])), true);
    assert_eq!(j.verdict, Verdict::Good, "{j:#?}");
    assert!(j
        .findings
        .iter()
        .all(|f| matches!(f.status, Status::Good | Status::Info)));
    let rules: Vec<_> = j.findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        [
            rule::PRIVILEGED,
            rule::IANA,
            rule::MALWARE,
            rule::EPHEMERAL_RANGE,
            rule::PORTABLE_RANGE,
            rule::WINDOWS_TABLE,
            rule::WINDOWS_TABLE,
            rule::WINDOWS_TABLE,
            rule::RESERVED,
            rule::IN_USE
        ]
    );
    // Without a snapshot the in-use rule is info, still good.
    let j = judge(CLEAN, Proto::Tcp, &range(), None, false);
    assert_eq!(j.verdict, Verdict::Good);
    assert_eq!(get(&j, rule::IN_USE).status, Status::Info);
}

#[test]
fn iana_reserved_and_unauthorized_use_are_caution() {
    let j = judge(796, Proto::Tcp, &range(), None, false);
    assert!(get(&j, rule::IANA).message.contains("unauthorized use"));
    let j = judge(1521, Proto::Tcp, &range(), None, false);
    let f = get(&j, rule::IANA);
    assert_eq!(f.status, Status::Caution);
    assert!(f.message.contains("ncube-lm") && f.message.contains("unauthorized use"));
    let j = judge(1024, Proto::Udp, &range(), None, false);
    assert!(get(&j, rule::IANA).message.contains("reserved by IANA"));
    assert_eq!(get(&j, rule::PRIVILEGED).status, Status::Bad);
}

#[test]
fn portable_flags_each_distinct_default_range() {
    let j = judge(
        50000,
        Proto::Tcp,
        &PortRange::new(1, 1, vec![], "t"),
        None,
        true,
    );
    let hits: Vec<_> = j
        .findings
        .iter()
        .filter(|f| f.rule == rule::PORTABLE_RANGE)
        .collect();
    // Linux 32768-60999 and the shared 49152-65535 of macOS and IANA; Windows has
    // its own findings, one per table row.
    assert_eq!(hits.len(), 2, "{hits:#?}");
    assert!(hits.iter().all(|f| f.status == Status::Caution));
    assert!(hits[1].message.contains("macOS") && hits[1].message.contains("IANA"));
    let j = judge(2000, Proto::Tcp, &range(), None, true);
    assert_eq!(get(&j, rule::PORTABLE_RANGE).status, Status::Good);
    let nt = windows_findings(&j)[0];
    assert!(nt.message.contains("1025-5000"), "{nt:?}");
    assert_eq!(j.verdict, Verdict::Caution);
}

fn windows_findings(j: &Judgement) -> Vec<&Finding> {
    j.findings
        .iter()
        .filter(|f| f.rule == rule::WINDOWS_TABLE)
        .collect()
}

fn row_statuses(port: u16) -> Vec<(WindowsVersion, Status)> {
    let j = judge(
        port,
        Proto::Tcp,
        &PortRange::new(1, 1, vec![], "t"),
        None,
        true,
    );
    windows_findings(&j)
        .iter()
        .map(|f| (f.windows.unwrap(), f.status))
        .collect()
}

#[test]
fn portable_names_each_windows_row_a_port_conflicts_with() {
    use WindowsVersion::*;
    // Inside 1025-5000 (nt default), and inside 1025-[MaxUserPort] for every valid
    // value on the KB951748 row, but never in Vista's 49152-... .
    assert_eq!(
        row_statuses(3000),
        vec![
            (Nt, Status::Caution),
            (NtKb951748, Status::Info),
            (Vista, Status::Good)
        ]
    );
    let j = judge(3000, Proto::Tcp, &range(), None, true);
    let kb = windows_findings(&j)[1];
    assert!(
        kb.message
            .contains("for every valid MaxUserPort (5000-65535)"),
        "{kb:?}"
    );
    // 20000: only when an ending-port MaxUserPort reaches it, as the products do.
    assert_eq!(
        row_statuses(20000),
        vec![
            (Nt, Status::Info),
            (NtKb951748, Status::Info),
            (Vista, Status::Good)
        ]
    );
    let j = judge(20000, Proto::Tcp, &range(), None, true);
    let nt = windows_findings(&j)[0];
    assert!(
        nt.message.contains("whenever MaxUserPort >= 20000")
            && nt
                .message
                .contains("Small Business Server 2000/2003 (60000)")
            && nt.message.contains("ISA Server (65535)"),
        "{nt:?}"
    );
    // 62000: past 60000, only ISA / SBS with Exchange (65535) cover it on NT; the
    // default of the other two rows does; on Vista MaxUserPort >= 12849.
    assert_eq!(
        row_statuses(62000),
        vec![
            (Nt, Status::Info),
            (NtKb951748, Status::Caution),
            (Vista, Status::Caution)
        ]
    );
    let j = judge(62000, Proto::Tcp, &range(), None, true);
    let w = windows_findings(&j);
    assert!(
        !w[0].message.contains("Small Business Server 2000/2003 ("),
        "{:?}",
        w[0]
    );
    assert!(w[0].message.contains("ISA Server (65535)"), "{:?}", w[0]);
    assert!(
        w[2].message.contains("whenever MaxUserPort >= 12849"),
        "{:?}",
        w[2]
    );
    // Below 1025 no row's range reaches: good (the privileged rule judges it).
    assert!(row_statuses(1000).iter().all(|r| r.1 == Status::Good));
    // JSON names the row.
    let v = serde_json::to_value(w[1]).unwrap();
    assert_eq!(v["windows"], "nt-kb951748");
    // Without --portable, no row findings.
    assert!(windows_findings(&judge(3000, Proto::Tcp, &range(), None, false)).is_empty());
}

// --- remedies ---------------------------------------------------------------------

fn win(
    v: WindowsVersion,
    app: Option<crate::range::windows::App>,
    value: Option<u32>,
) -> PortRange {
    let d = crate::range::windows::derive(v, value, app).unwrap();
    PortRange::new(d.low, d.high, vec![], d.describe())
}

#[test]
fn maxuserport_65535_blocks_every_port_and_the_remedies_free_some() {
    use crate::range::windows::App;
    for v in [WindowsVersion::Nt, WindowsVersion::NtKb951748] {
        let r = win(v, Some(App::Isa), None);
        assert_eq!((r.low, r.high), (1025, 65535));
        assert!(blocked_by_range(&r, None));
        assert!(suggest(5, None, None, false, &r, None).is_empty());
        let m = remedies(RemedyTarget::Windows(Some(v)), &r, None, None, None);
        assert_eq!(m.len(), 2, "{m:#?}");
        // 1. MaxUserPort 60000 frees 60001-65535.
        assert_eq!(m[0].range_after, (1025, 60000));
        assert!(
            m[0].title.contains("60001-65535 free for listeners"),
            "{}",
            m[0].title
        );
        assert_eq!(
            m[0].commands,
            vec![
                "reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\" \
                 /v MaxUserPort /t REG_DWORD /d 60000 /f"
                    .to_string()
            ]
        );
        assert!(m[0].port > 60000);
        assert!(m[0].reserve[0].contains("/v ReservedPorts /t REG_MULTI_SZ"));
        assert!(m[0].reserve[0].contains(&format!("/d \"{0}-{0}\"", m[0].port)));
        // 2. remove it: the row's default.
        assert!(m[1].commands[0].starts_with("reg delete "), "{:?}", m[1]);
        let after = PortRange::new(m[1].range_after.0, m[1].range_after.1, vec![], "after");
        assert!(!after.contains(m[1].port));
        for x in &m {
            let after = PortRange::new(x.range_after.0, x.range_after.1, vec![], "after");
            assert_eq!(
                judge(x.port, Proto::Tcp, &after, None, false).verdict,
                Verdict::Good
            );
        }
    }
    // nt: default 1025-5000 frees 5001-65535; with KB951746: 1025-49151.
    let nt = remedies(
        RemedyTarget::Windows(Some(WindowsVersion::Nt)),
        &win(WindowsVersion::Nt, None, Some(65535)),
        None,
        None,
        None,
    );
    assert_eq!(nt[1].range_after, (1025, 5000));
    assert!(
        nt[1].title.ends_with("5001-65535 free for listeners"),
        "{}",
        nt[1].title
    );
    let kb = remedies(
        RemedyTarget::Windows(Some(WindowsVersion::NtKb951748)),
        &win(WindowsVersion::NtKb951748, None, Some(65535)),
        None,
        None,
        None,
    );
    assert_eq!(kb[1].range_after, (49152, 65535));
    assert!(
        kb[1].title.ends_with("1025-49151 free for listeners"),
        "{}",
        kb[1].title
    );
    // 60000 itself leaves ports: not blocked.
    assert!(!blocked_by_range(
        &win(WindowsVersion::Nt, Some(App::Sbs), None),
        None
    ));
}

#[test]
fn a_range_over_1025_65535_gets_the_linux_and_netsh_remedies_validated() {
    let all = PortRange::new(1025, 65535, vec![], "--range");
    assert!(blocked_by_range(&all, Some(Proto::Tcp)));
    let m = remedies(
        RemedyTarget::Linux,
        &all,
        Some(Proto::Tcp),
        Some(8000),
        None,
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].range_after, (32768, 60999));
    assert_eq!(
        m[0].commands[0],
        "sysctl -w net.ipv4.ip_local_port_range=\"32768 60999\""
    );
    assert!(m[0]
        .title
        .ends_with("1025-32767 and 61000-65535 free for listeners"));
    assert!(m[0].port < 32768);
    assert!(m[0].reserve[0].starts_with("sysctl -w net.ipv4.ip_local_reserved_ports="));
    let w = remedies(
        RemedyTarget::Windows(Some(WindowsVersion::Vista)),
        &all,
        None,
        None,
        None,
    );
    assert_eq!(w.len(), 1);
    assert_eq!(
        w[0].commands,
        vec![
            "netsh int ipv4 set dynamicport tcp start=49152 num=16384",
            "netsh int ipv4 set dynamicport udp start=49152 num=16384",
            "netsh int ipv6 set dynamicport tcp start=49152 num=16384",
            "netsh int ipv6 set dynamicport udp start=49152 num=16384",
        ]
    );
    assert!(w[0].reserve[0].starts_with("netsh int ipv4 add excludedportrange"));
    // A live Windows host of unknown version: both kinds, labelled.
    let both = remedies(RemedyTarget::Windows(None), &all, None, None, None);
    assert_eq!(both.len(), 3);
    assert!(both[0].title.starts_with("on Vista"));
    assert!(both[1]
        .title
        .starts_with("on 2000 / XP / Server 2003: set MaxUserPort"));
    let mac = remedies(RemedyTarget::Macos, &all, None, None, None);
    assert_eq!(mac[0].range_after, (49152, 65535));
}

#[test]
fn remedy_commands_are_refused_when_not_valid() {
    assert_eq!(
        netsh_set_dynamicport("ipv4", Proto::Tcp, 10000, 1000).unwrap(),
        "netsh int ipv4 set dynamicport tcp start=10000 num=1000"
    );
    // start + num - 1 > 65535, start < 1025, num < 255.
    for (start, num) in [(60000, 6000), (49152, 16385), (1024, 5000), (40000, 254)] {
        assert!(
            netsh_set_dynamicport("ipv4", Proto::Tcp, start, num).is_err(),
            "{start} {num}"
        );
    }
    assert!(linux_port_range(1024, 60999).is_err());
    assert!(linux_port_range(40000, 30000).is_err());
    assert_eq!(linux_port_range(32768, 60999).unwrap(), (32768, 60999));
}

#[test]
fn registry_reservation_keeps_the_ranges_already_reserved() {
    let r = PortRange::new(1025, 60000, vec![(1433, 1434)], "what-if");
    let p = reserve_plan_registry(&[60001, 60002], &r);
    assert_eq!(p.os, TargetOs::Windows);
    assert_eq!(
        p.commands,
        vec![
            "reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters\" \
             /v ReservedPorts /t REG_MULTI_SZ /s , /d \"1433-1434,60001-60002\" /f"
                .to_string()
        ]
    );
    assert!(p.notes.iter().any(|n| n.contains("restart")));
    assert!(reserve_plan_registry(&[0], &r).commands.is_empty());
}

fn configs() -> Vec<(PortRange, Option<Snapshot>)> {
    let busy = snap(vec![
        sock(Proto::Tcp, CLEAN, SockState::Listen, vec![42]),
        sock(Proto::Udp, 5017, SockState::Unconn, vec![]),
        sock(Proto::Tcp, 5018, SockState::Established, vec![7]),
    ]);
    vec![
        (range(), None),
        (range(), Some(busy.clone())),
        (
            PortRange::new(1025, 5000, vec![(1028, 1028)], "windows xp"),
            None,
        ),
        (PortRange::new(49152, 65535, vec![], "windows"), Some(busy)),
        (
            PortRange::new(9000, 8000, vec![], "garbage: low > high"),
            None,
        ),
        (
            PortRange::new(1, 65535, vec![(20000, 20010)], "everything"),
            None,
        ),
    ]
}

#[test]
fn every_suggestion_is_judged_good() {
    for (r, s) in configs() {
        for proto in [None, Some(Proto::Tcp), Some(Proto::Udp)] {
            for near in [
                None,
                Some(0),
                Some(1025),
                Some(CLEAN),
                Some(40000),
                Some(65535),
            ] {
                for portable in [false, true] {
                    let got = suggest(20, proto, near, portable, &r, s.as_ref());
                    for &p in &got {
                        for pr in proto.map_or(vec![Proto::Tcp, Proto::Udp], |p| vec![p]) {
                            let j = judge(p, pr, &r, s.as_ref(), portable);
                            assert_eq!(j.verdict, Verdict::Good, "{j:#?}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn suggest_returns_exactly_the_good_ports() {
    // Over every port: suggest (ascending, unlimited) == {p : judge(p) is good}.
    for (r, s) in configs().into_iter().take(3) {
        for portable in [false, true] {
            let got = suggest(usize::MAX, Some(Proto::Tcp), None, portable, &r, s.as_ref());
            let want: Vec<u16> = (0..=u16::MAX)
                .filter(|&p| {
                    judge(p, Proto::Tcp, &r, s.as_ref(), portable).verdict == Verdict::Good
                })
                .collect();
            assert_eq!(got, want);
        }
    }
}

#[test]
fn suggestions_are_stable_ordered_and_portable() {
    let r = range();
    let s = snap(vec![sock(Proto::Tcp, CLEAN, SockState::Listen, vec![42])]);
    let a = suggest(10, None, Some(CLEAN), false, &r, Some(&s));
    assert_eq!(a, suggest(10, None, Some(CLEAN), false, &r, Some(&s)));
    assert_eq!(a.len(), 10);
    assert!(!a.contains(&CLEAN));
    let dist = |p: u16| (i32::from(p) - i32::from(CLEAN)).abs();
    assert!(a
        .windows(2)
        .all(|w| dist(w[0]) < dist(w[1]) || (dist(w[0]) == dist(w[1]) && w[0] < w[1])));
    // Ascending without `near`; lowest first.
    let b = suggest(5, Some(Proto::Tcp), None, false, &r, None);
    assert!(b.windows(2).all(|w| w[0] < w[1]));
    assert!(b[0] >= MIN_PORT);
    // Portable: outside every common default range (so above 5000 here).
    let c = suggest(50, None, Some(50000), true, &r, None);
    assert_eq!(c.len(), 50);
    for p in c {
        for &(_, lo, hi) in PORTABLE_RANGES {
            assert!(!(lo..=hi).contains(&p), "{p} in {lo}-{hi}");
        }
    }
    assert_eq!(suggest(3, None, None, true, &r, None)[0], CLEAN);
    assert!(suggest(0, None, None, false, &r, None).is_empty());
}

#[test]
fn judge_never_panics_on_odd_inputs() {
    let odd = PortRange::new(65535, 0, vec![(65535, 65535), (0, 0)], "");
    for p in [0, 1, 1023, 1024, 1025, 32767, 32768, 60999, 61000, 65535] {
        for pr in [Proto::Tcp, Proto::Udp] {
            let _ = judge(p, pr, &odd, Some(&snap(vec![])), true);
        }
    }
    let _ = suggest(5, None, Some(u16::MAX), true, &odd, None);
}

#[test]
fn judgement_serializes_with_stable_names() {
    let j = judge(80, Proto::Tcp, &range(), None, false);
    let v = serde_json::to_value(&j).unwrap();
    assert_eq!(v["verdict"], "bad");
    assert_eq!(v["proto"], "tcp");
    assert_eq!(v["findings"][0]["rule"], "privileged");
    assert_eq!(v["findings"][0]["status"], "bad");
}

#[test]
fn linux_reserve_merges_with_the_current_list() {
    let r = PortRange::new(32768, 60999, vec![(8000, 8000), (40000, 40002)], "procfs");
    let plan = reserve_plan(&[9001, 9000, 8000, 0, 40003], None, &r, TargetOs::Linux);
    assert_eq!(
        plan.commands,
        [
            "sysctl -w net.ipv4.ip_local_reserved_ports=8000,9000-9001,40000-40003",
            "echo 'net.ipv4.ip_local_reserved_ports = 8000,9000-9001,40000-40003' > \
             /etc/sysctl.d/60-porttop-reserved.conf"
        ]
    );
    assert!(plan.notes.iter().any(|n| n.contains("8000,40000-40002")));
}

#[test]
fn linux_reserve_says_where_reserved_ports_come_from() {
    let plan = reserve_plan(&[9000], None, &range(), TargetOs::Linux);
    let note = plan
        .notes
        .iter()
        .find(|n| n.contains("already reserved"))
        .expect("the note");
    assert!(
        note.contains("from /proc/sys/net/ipv4/ip_local_reserved_ports"),
        "{note}"
    );
    assert!(!note.contains("ip_local_port_range"), "{note}");
    let mut r = range();
    r.source.push_str(" (reserved from --reserved)");
    let plan = reserve_plan(&[9000], None, &r, TargetOs::Linux);
    assert!(plan.notes.iter().any(|n| n.contains("from --reserved)")));
}

#[test]
fn windows_reserve_adds_runs_per_protocol_and_skips_excluded_ports() {
    let r = PortRange::new(49152, 65535, vec![(5000, 5000)], "netsh");
    let plan = reserve_plan(&[5001, 5002, 5000, 7000], None, &r, TargetOs::Windows);
    assert_eq!(
        plan.commands,
        [
            "netsh int ipv4 add excludedportrange protocol=tcp startport=5001 numberofports=2",
            "netsh int ipv4 add excludedportrange protocol=tcp startport=7000 numberofports=1",
            "netsh int ipv4 add excludedportrange protocol=udp startport=5001 numberofports=2",
            "netsh int ipv4 add excludedportrange protocol=udp startport=7000 numberofports=1",
        ]
    );
    assert!(plan
        .notes
        .iter()
        .any(|n| n.contains("already excluded") && n.contains("5000")));
    let plan = reserve_plan(&[7000], Some(Proto::Udp), &r, TargetOs::Windows);
    assert_eq!(plan.commands.len(), 1);
    assert!(plan.commands[0].contains("protocol=udp"));
}

#[test]
fn macos_reserve_is_an_honest_note() {
    let r = PortRange::new(49152, 65535, vec![], "sysctl");
    let plan = reserve_plan(&[50000, 5016], None, &r, TargetOs::Macos);
    assert!(plan.commands.is_empty());
    assert!(plan.notes.iter().any(|n| n.contains("no way to reserve")));
    assert!(plan.notes.iter().any(|n| n.contains("50000 inside")));
    let none = reserve_plan(&[0], None, &r, TargetOs::Linux);
    assert!(none.commands.is_empty());
}
