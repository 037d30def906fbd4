//! `porttop bench-refresh` (hidden): times the live source's steady-state refresh
//! against the bare socket dump, interleaved, for bench/compare.sh.
//! `porttop bench-walk` (hidden): times a one-shot attribution of every socket
//! by the `/proc` walk and by the BPF iterator, interleaved, for
//! bench/bpf_iter.sh.

use super::CliError;
use crate::cli::{BenchRefreshArgs, BenchWalkArgs, GlobalArgs};
use crate::source::owners::{Walk, Walked};
use crate::source::SocketSource;
use crate::source::{netstat2_bare_dump, SystemSource};
use std::io::Write;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of some timings (0 when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// CPU time this thread has used (user + system, the kernel's work for its
/// system calls included), in ms: what a dump costs the machine, where the
/// wall time also counts waiting for a core on a loaded machine.
pub fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the struct it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1000.0 + t.tv_nsec as f64 / 1e6
}

/// Peak resident set of this process in kB (VmHWM), when /proc says.
pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

pub fn refresh(g: &GlobalArgs, a: &BenchRefreshArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    // With --info both the refresh and the bare dump ask for the attributes.
    let mut src = SystemSource::new(g.range_config())
        .with_netns(g.netns.clone().unwrap_or_default())
        .with_detail(if a.info {
            crate::model::Detail::Info
        } else {
            crate::model::Detail::Bare
        });
    let t = Instant::now();
    let snap = super::snapshot_of(&mut src)?;
    writeln!(
        out,
        "cold snapshot_ms {:.2} sockets {} processes {}",
        ms(t.elapsed()),
        snap.sockets.len(),
        snap.processes.len()
    )?;
    drop(snap);
    // Three timings per round, in rotating order so none always sees the
    // warmest cache: the bare dump, the full refresh, netstat2's dump.
    let (mut dumps, mut snaps, mut ns2) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dump_cpu, mut snap_cpu) = (Vec::new(), Vec::new());
    for i in 0..a.iterations {
        std::thread::sleep(Duration::from_millis(a.interval_ms));
        let mut t3 = [0.0; 3];
        let mut n = 0;
        for k in 0..3 {
            let which = (i + k) % 3;
            let t = Instant::now();
            let c = thread_cpu_ms();
            match which {
                0 => drop(src.bare_dump().map_err(CliError::bad_input)?),
                1 => n = super::snapshot_of(&mut src)?.sockets.len(),
                _ => drop(netstat2_bare_dump().map_err(CliError::bad_input)?),
            }
            t3[which] = ms(t.elapsed());
            match which {
                0 => dump_cpu.push(thread_cpu_ms() - c),
                1 => snap_cpu.push(thread_cpu_ms() - c),
                _ => {}
            }
        }
        let st = src.attrib_stats();
        writeln!(
            out,
            "refresh {i} dump_ms {:.2} snapshot_ms {:.2} netstat2_dump_ms {:.2} sockets {n} new_pids {} links_read {} full_walk {} closed_meanwhile {} unattributed {}",
            t3[0],
            t3[1],
            t3[2],
            st.pids_new,
            st.links_read,
            st.full_walk,
            st.closed_meanwhile,
            st.unattributed
        )?;
        dumps.push(t3[0]);
        snaps.push(t3[1]);
        ns2.push(t3[2]);
    }
    let (d, s, n2) = (median(&mut dumps), median(&mut snaps), median(&mut ns2));
    writeln!(
        out,
        "median dump_ms {d:.2} snapshot_ms {s:.2} ratio {:.2} peak_rss_kb {} netstat2_dump_ms {n2:.2}",
        if d > 0.0 { s / d } else { 0.0 },
        peak_rss_kb().unwrap_or(0)
    )?;
    // On the same line's terms: CPU time (this thread, kernel work included).
    writeln!(
        out,
        "cpu_median dump_ms {:.2} snapshot_ms {:.2}",
        median(&mut dump_cpu),
        median(&mut snap_cpu)
    )?;
    Ok(0)
}

/// One timed attribution: a fresh lazy source (no cached process details),
/// its snapshot untimed, then the owners of every socket with an inode found
/// by `walk` — the walk and what the caller does per pid after it (process
/// details, the kernel lookup of what no process holds).
struct Attributed {
    ms: f64,
    walked: Option<Walked>,
    /// (inode, pids) of every socket, sorted: the two walks must agree.
    owners: Vec<(u64, Vec<u32>)>,
    sockets: usize,
}

fn attribute_all(g: &GlobalArgs, walk: Walk) -> Result<Attributed, CliError> {
    let mut src = SystemSource::new(g.range_config())
        .with_netns(g.netns.clone().unwrap_or_default())
        .lazy()
        .walk(walk);
    let mut snap = super::snapshot_of(&mut src)?;
    let inodes: crate::source::attrib::InodeSet =
        snap.sockets.iter().filter_map(|s| s.inode).collect();
    let t = Instant::now();
    src.attribute(&mut snap, &inodes, crate::source::Reach::Every)
        .map_err(CliError::bad_input)?;
    let ms = ms(t.elapsed());
    let mut owners: Vec<(u64, Vec<u32>)> = snap
        .sockets
        .iter()
        .filter_map(|s| Some((s.inode?, s.pids.to_vec())))
        .collect();
    owners.sort_unstable();
    Ok(Attributed {
        ms,
        walked: src.walked(),
        owners,
        sockets: snap.sockets.len(),
    })
}

pub fn walk(g: &GlobalArgs, a: &BenchWalkArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let probe = attribute_all(g, Walk::Bpf)?;
    if let Some(Walked::ProcInstead(why) | Walked::ProcAfter(why)) = &probe.walked {
        writeln!(out, "bpf unavailable: {why}")?;
        return Ok(1);
    }
    let (mut procs, mut bpfs) = (Vec::new(), Vec::new());
    let (mut btf, mut load, mut walk) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..a.iterations {
        let mut round = [None, None];
        for k in 0..2 {
            let which = (i + k) % 2;
            let w = if which == 0 { Walk::Proc } else { Walk::Bpf };
            round[which] = Some(attribute_all(g, w)?);
        }
        let [Some(p), Some(b)] = round else {
            continue;
        };
        let times = match &b.walked {
            Some(Walked::Bpf(t)) => *t,
            other => {
                writeln!(out, "round {i}: the BPF walk did not run: {other:?}")?;
                return Ok(1);
            }
        };
        // Sockets both snapshots have whose owners differ (churn between the
        // two dumps makes the sets differ a little; the owners must not).
        let bo: std::collections::HashMap<u64, &Vec<u32>> =
            b.owners.iter().map(|(i, p)| (*i, p)).collect();
        let differ = p
            .owners
            .iter()
            .filter(|(i, o)| bo.get(i).is_some_and(|b| *b != o))
            .count();
        writeln!(
            out,
            "round {i} sockets {} proc_ms {:.2} bpf_ms {:.2} bpf_btf_ms {:.2} bpf_load_ms {:.2} bpf_walk_ms {:.2} owners_differ {differ}",
            p.sockets,
            p.ms,
            b.ms,
            ms(times.btf),
            ms(times.load),
            ms(times.walk)
        )?;
        procs.push(p.ms);
        bpfs.push(b.ms);
        btf.push(ms(times.btf));
        load.push(ms(times.load));
        walk.push(ms(times.walk));
    }
    let (p, b) = (median(&mut procs), median(&mut bpfs));
    writeln!(
        out,
        "median proc_ms {p:.2} bpf_ms {b:.2} ratio {:.2} (bpf: btf {:.2} load {:.2} walk {:.2})",
        if b > 0.0 { p / b } else { 0.0 },
        median(&mut btf),
        median(&mut load),
        median(&mut walk)
    )?;
    Ok(0)
}
