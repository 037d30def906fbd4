//! `cargo bench`: the collector and the analysis on a 40,000-socket fixture, and
//! the live warm refresh (SystemSource::snapshot) on whatever sockets the machine has.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use porttop::analysis::{diff, pool};
use porttop::filter::Filter;
use porttop::model::{
    snapshot_from_records, Endpoint, Family, PortRange, Process, Proto, Snapshot, SockState,
    Socket, SocketRecord,
};
use porttop::source::{RangeConfig, SocketSource, SystemSource};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

const N: u32 = 40_000;

/// `n` loopback client/server halves spread over 50 processes and 20 listeners;
/// `shift` moves which connections exist (churn between two snapshots).
fn fixture(n: u32, shift: u32) -> Snapshot {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut sockets = Vec::with_capacity(n as usize);
    let mut processes = BTreeMap::new();
    for i in 0..n {
        let k = i + shift;
        let server = 8000 + (k % 20) as u16;
        let eph = 32768 + (k / 2 % 28000) as u16;
        let pid = 1000 + k % 50;
        let (local, remote) = if k.is_multiple_of(2) {
            (eph, server)
        } else {
            (server, eph)
        };
        sockets.push(Socket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            local: Endpoint::new(lo, local),
            remote: Some(Endpoint::new(lo, remote)),
            state: if k.is_multiple_of(10) {
                SockState::TimeWait
            } else {
                SockState::Established
            },
            uid: Some(1000),
            user: Some("bench".into()),
            inode: (!k.is_multiple_of(10)).then_some(100_000 + k as u64),
            pids: [pid].into_iter().collect(),
            time_wait_left_ms: None,
            conn: None,
            netns: 0,
            cookie: 0,
        });
        processes.entry(pid).or_insert_with(|| {
            Arc::new(Process {
                pid,
                name: format!("server{}", pid % 7),
                uid: Some(1000),
                user: Some("bench".into()),
                cmdline: format!("/usr/bin/server{} --port {server}", pid % 7),
                container: None,
                unit: None,
            })
        });
    }
    Snapshot {
        taken_at_ms: 1_700_000_000_000 + u64::from(shift),
        host: "bench".into(),
        range: PortRange::new(32768, 60999, vec![], "bench"),
        partial: false,
        counters: None,
        sockets,
        processes,
        netns: Vec::new(),
    }
}

fn analysis(c: &mut Criterion) {
    let a = fixture(N, 0);
    let b = fixture(N, 400); // 1 % churn
    let recs: Vec<SocketRecord> = a.sockets.iter().map(|s| SocketRecord::new(&a, s)).collect();
    c.bench_function("snapshot_from_records 40k", |bch| {
        bch.iter(|| {
            snapshot_from_records(black_box(recs.clone()), a.range.clone(), "bench".into(), 0)
        })
    });
    c.bench_function("pool::analyze 40k", |bch| {
        bch.iter(|| pool::analyze(black_box(&a), pool::Thresholds::default()))
    });
    c.bench_function("diff::diff 40k (1% churn)", |bch| {
        bch.iter(|| diff::diff(black_box(&a), black_box(&b)))
    });
    let f = Filter::parse("established proc:server3 ephemeral").unwrap();
    c.bench_function("filter matches 40k", |bch| {
        bch.iter(|| a.sockets.iter().filter(|s| f.matches(&a, s)).count())
    });
    c.bench_function("sort 40k (list order)", |bch| {
        bch.iter(|| {
            let mut rows: Vec<&Socket> = a.sockets.iter().collect();
            rows.sort_by(|x, y| porttop::output::list_order(x, y));
            black_box(rows.len())
        })
    });
}

fn live(c: &mut Criterion) {
    let mut src = SystemSource::new(RangeConfig::default());
    let Ok(first) = src.snapshot() else {
        eprintln!("live: no socket table here; skipped");
        return;
    };
    let name = format!(
        "SystemSource::snapshot warm ({} sockets)",
        first.sockets.len()
    );
    let mut g = c.benchmark_group("live");
    g.sample_size(20);
    g.bench_function(name, |bch| bch.iter(|| src.snapshot().unwrap()));
    g.bench_function("netlink dump only", |bch| {
        bch.iter(|| src.bare_dump().unwrap())
    });
    g.bench_function("netstat2 dump only (no pids)", |bch| {
        bch.iter(|| porttop::source::netstat2_bare_dump().unwrap())
    });
    g.finish();
}

criterion_group!(benches, analysis, live);
criterion_main!(benches);
