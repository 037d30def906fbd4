//! Pool pressure on real sockets in a private network namespace whose range is 100
//! ports: warn at 85 connections to one destination, critical at 96.

mod common;
use common::netns::Netns;
use serde_json::Value;

fn pool(ns: &Netns) -> (i32, Value, String) {
    let (code, out, err) = ns.porttop(&["pool", "--json", "--sample", "0", "--top", "10"]);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, v, err)
}

fn dest(v: &Value, port: u16) -> Option<&Value> {
    v["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["remote"]["port"] == port)
}

#[test]
fn pool_warns_at_85_and_goes_critical_at_96_connections_to_one_destination() {
    let Some(ns) = Netns::create("pool") else {
        return;
    };
    ns.sysctl("ip_local_port_range", "40000 40099");

    let a = ns.lab(&["hold", "--conns", "85", "--seconds", "60"]);
    let l1 = a.port("listener");
    let (code, v, err) = pool(&ns);
    assert_eq!(code, 1, "85 of 100 is warn: {v:#} {err}");
    assert_eq!(v["level"], "warn");
    assert_eq!(v["worst"]["remote"]["port"], l1, "{v:#}");
    assert_eq!(v["worst"]["sockets"], 85);
    // The text form names the destination too.
    let (code, text, _) = ns.porttop(&["pool", "--sample", "0"]);
    assert_eq!(code, 1);
    assert!(text.contains(&format!("127.0.0.1:{l1}")), "{text}");
    assert!(text.starts_with("level        WARN"), "{text}");

    // Recorded in the namespace, replayed on the host: the same verdict, with the
    // namespace's range (snapshot objects carry it).
    let (code, rec, err) = ns.porttop(&["record", "-n", "2", "--interval", "250ms"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ns.jsonl");
    std::fs::write(&file, &rec).unwrap();
    let (code, out, err) = common::run(&[
        "--replay",
        file.to_str().unwrap(),
        "pool",
        "--json",
        "--sample",
        "0",
    ]);
    assert_eq!(code, 1, "{out} {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["range_low"], 40000);
    assert_eq!(v["range_high"], 40099);
    assert_eq!(v["worst"]["sockets"], 85);

    // The dashboard, run inside the namespace, shows the warning too.
    if common::have("tmux") {
        let t = common::tmux::Tmux::new("poolns");
        t.start(
            120,
            40,
            &format!(
                "ip netns exec {} {} --interval 250ms",
                ns.name,
                env!("CARGO_BIN_EXE_porttop")
            ),
        );
        let screen = t.wait("the pool warning", 15, |s| s.contains("WARNING "));
        assert!(screen.contains("85.0% WARN"), "{screen}");
        assert!(
            screen.contains(&format!("toward 127.0.0.1:{l1}")),
            "{screen}"
        );
        assert!(
            screen.contains(&format!("127.0.0.1:{l1} 85/100")),
            "{screen}"
        );
        t.keys(&["q"]);
    } else {
        eprintln!("SKIP (TUI part): tmux is not installed");
    }

    let b = ns.lab(&[
        "hold",
        "--connect",
        &l1.to_string(),
        "--conns",
        "11",
        "--seconds",
        "60",
    ]);
    let (code, v, _) = pool(&ns);
    assert_eq!(code, 2, "96 of 100 is critical: {v:#}");
    assert_eq!(v["level"], "critical");
    assert_eq!(dest(&v, l1).unwrap()["sockets"], 96);
    // Killed clients whose server never closes linger in FIN-WAIT-2: the ports stay
    // taken, so the count is whatever it is now; it must not change below.
    drop(b);
    let (_, v, _) = pool(&ns);
    let before = dest(&v, l1).unwrap()["sockets"].clone();

    // A second listener's connections are another destination.
    let c = ns.lab(&["hold", "--conns", "3", "--seconds", "60"]);
    let l2 = c.port("listener");
    let (_, v, _) = pool(&ns);
    assert_eq!(dest(&v, l1).unwrap()["sockets"], before, "{v:#}");
    assert_eq!(dest(&v, l2).unwrap()["sockets"], 3, "{v:#}");
}

#[test]
fn time_wait_counts_and_a_listener_inside_the_range_is_a_collision() {
    let Some(ns) = Netns::create("tw") else {
        return;
    };
    ns.sysctl("ip_local_port_range", "40000 40099");
    // First the listener: the churn below then cannot take its port.
    let inside = ns.lab(&["hold", "--port", "40050", "--conns", "0", "--seconds", "60"]);
    assert_eq!(inside.port("listener"), 40050);
    let (_, v, _) = pool(&ns);
    let cols = v["collisions"].as_array().unwrap();
    assert!(
        cols.iter()
            .any(|c| c["kind"] == "listener_in_ephemeral_range" && c["port"] == 40050),
        "{cols:#?}"
    );
    // Short-lived connections closed by the client leave TIME-WAIT on its ports.
    let churn = ns.lab(&["churn", "--rate", "30", "--seconds", "1"]);
    let l = churn.port("listener");
    let mut done = false;
    // The lab closes stdout when its bounded run ends.
    while churn
        .lines
        .recv_timeout(std::time::Duration::from_secs(5))
        .is_ok()
    {}
    drop(churn);
    let (_, v, _) = pool(&ns);
    if let Some(d) = dest(&v, l) {
        let tw = d["time_wait"].as_u64().unwrap();
        assert!(tw >= 20, "{d}");
        assert_eq!(
            d["sockets"].as_u64().unwrap(),
            tw,
            "TIME-WAIT sockets count: {d}"
        );
        done = true;
    }
    assert!(done, "no destination for the churn listener: {v:#}");
    assert!(v["tcp"]["by_state"]["TIME-WAIT"].as_u64().unwrap() >= 20);

    // Reserving it makes it fine.
    ns.sysctl("ip_local_reserved_ports", "40050");
    let (_, v, _) = pool(&ns);
    let cols = v["collisions"].as_array().unwrap();
    assert!(!cols.iter().any(|c| c["port"] == 40050), "{cols:#?}");
}
