use super::*;
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

fn inode_of(fd: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    parse_socket_link(link.to_str().unwrap()).unwrap()
}

/// `sleep` holding a copy of `fd` (at the same number), as a forked worker
/// holds its parent's listener.
fn sharer(fd: i32) -> std::process::Child {
    let mut c = std::process::Command::new("sleep");
    c.arg("30");
    // SAFETY: fcntl is async-signal-safe; it only clears FD_CLOEXEC of an fd
    // this process owns.
    unsafe {
        c.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().unwrap();
    // Until exec, the child holds every fd of ours; after, only the one kept.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
        .ok()
        .as_deref()
        != Some("sleep\n")
        && std::time::Instant::now() < until
    {
        std::thread::yield_now();
    }
    child
}

#[test]
fn every_holder_of_a_wanted_socket_is_found_with_one_thread_or_many() {
    let shared = TcpListener::bind("127.0.0.1:0").unwrap();
    let mine = TcpListener::bind("127.0.0.1:0").unwrap();
    let unwanted = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut child = sharer(shared.as_raw_fd());
    let (s, m, u) = (
        inode_of(shared.as_raw_fd()),
        inode_of(mine.as_raw_fd()),
        inode_of(unwanted.as_raw_fd()),
    );
    let wanted: InodeSet = [s, m].into_iter().collect();
    let me = std::process::id();
    let mut both = vec![me, child.id()];
    both.sort_unstable();
    for threads in [1, 4] {
        let f = find_owners_with(Path::new("/proc"), &wanted, threads, Reach::Every).unwrap();
        assert_eq!(
            f.owners.get(&s).map(|p| p.to_vec()),
            Some(both.clone()),
            "{threads}"
        );
        assert_eq!(
            f.owners.get(&m).map(|p| p.to_vec()),
            Some(vec![me]),
            "{threads}"
        );
        assert!(!f.owners.contains_key(&u), "only wanted inodes are kept");
        assert!(f.pids.contains(&me) && f.pids.contains(&child.id()));
    }
    // The same holders as the incremental attribution finds.
    let mut a = crate::source::attrib::Attributor::default();
    a.refresh(wanted.clone(), |u| u.clone()).unwrap();
    assert_eq!(a.owners(s), both.as_slice());
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_socket_far_above_the_other_fds_is_found() {
    // A table with a large gap (dup2 to a high number): more numbers than the
    // kernel's count plus the slack, so the directory is listed for the rest.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let high = 9000 + (std::process::id() % 500) as i32;
    // SAFETY: dup2 onto a number this test owns until it closes it below.
    let fd = unsafe { libc::dup2(l.as_raw_fd(), high) };
    if fd != high {
        eprintln!("SKIP: cannot dup2 to fd {high} (fd limit)");
        return;
    }
    let i = inode_of(l.as_raw_fd());
    drop(l);
    let wanted: InodeSet = [i].into_iter().collect();
    let f = find_owners_with(Path::new("/proc"), &wanted, 2, Reach::Every).unwrap();
    // SAFETY: closes the duplicate made above.
    unsafe { libc::close(high) };
    assert_eq!(
        f.owners.get(&i).map(|p| p.to_vec()),
        Some(vec![std::process::id()])
    );
}

#[test]
fn nothing_wanted_reads_nothing() {
    let f = find_owners(Path::new("/proc"), &InodeSet::default(), Reach::Family).unwrap();
    assert_eq!((f.links_read, f.pids.len(), f.owners.len()), (0, 0, 0));
}

#[test]
fn a_lazy_snapshot_has_no_owners_until_asked_and_then_only_those() {
    use crate::source::{RangeConfig, SocketSource, SystemSource};
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ia, ib) = (inode_of(a.as_raw_fd()), inode_of(b.as_raw_fd()));
    let mut src = SystemSource::new(RangeConfig::default()).lazy();
    let mut snap = src.snapshot().unwrap();
    assert!(snap.sockets.iter().all(|s| s.pids.is_empty()));
    assert!(snap.processes.is_empty());
    let asked: InodeSet = [ia].into_iter().collect();
    src.attribute(&mut snap, &asked, Reach::Family).unwrap();
    let pids = |i: u64| {
        snap.sockets
            .iter()
            .find(|s| s.inode == Some(i))
            .map(|s| s.pids.to_vec())
    };
    let me = std::process::id();
    assert_eq!(pids(ia), Some(vec![me]));
    assert_eq!(pids(ib), Some(vec![]), "not asked for");
    assert_eq!(snap.processes.keys().copied().collect::<Vec<_>>(), [me]);
}

/// A process unrelated to this one (its parent exited: it is reparented)
/// holding `n` fds of /dev/null from 200 up; returns its pid.
fn unrelated_with_fds(n: i32) -> u32 {
    let null = std::fs::File::open("/dev/null").unwrap();
    let fd = null.as_raw_fd();
    let mut c = std::process::Command::new("sh");
    c.args(["-c", "sleep 30 </dev/null >/dev/null 2>&1 & echo $!"]);
    c.stdout(std::process::Stdio::piped());
    // SAFETY: dup2 is async-signal-safe; it fills numbers of the child only.
    unsafe {
        c.pre_exec(move || {
            for i in 0..n {
                if libc::dup2(fd, 200 + i) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let out = c.output().unwrap();
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // until it runs sleep (before exec, sh's copy is still starting)
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .as_deref()
        != Some("sleep\n")
        && std::time::Instant::now() < until
    {
        std::thread::yield_now();
    }
    pid
}

#[test]
fn a_family_walk_names_every_holder_of_a_forked_listener_and_stops_early() {
    // A listener shared with three children (a forked server's workers), one
    // more held by this process alone, and a big unrelated process that holds
    // neither: the family walk finds the same holders as reading every link,
    // and leaves most of the big process unread.
    let shared = TcpListener::bind("127.0.0.1:0").unwrap();
    let mine = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut workers: Vec<_> = (0..3).map(|_| sharer(shared.as_raw_fd())).collect();
    let big = unrelated_with_fds(800);
    assert_ne!(parent(Path::new("/proc"), big), Some(std::process::id()));
    let (s, m) = (inode_of(shared.as_raw_fd()), inode_of(mine.as_raw_fd()));
    let me = std::process::id();
    let mut holders: Vec<u32> = workers.iter().map(|w| w.id()).collect();
    holders.push(me);
    holders.sort_unstable();
    for wanted in [vec![s], vec![s, m], vec![m, s]] {
        let wanted: InodeSet = wanted.into_iter().collect();
        for threads in [1, 2] {
            let every =
                find_owners_with(Path::new("/proc"), &wanted, threads, Reach::Every).unwrap();
            let family =
                find_owners_with(Path::new("/proc"), &wanted, threads, Reach::Family).unwrap();
            assert_eq!(
                family.owners.get(&s).map(|p| p.to_vec()),
                Some(holders.clone()),
                "{threads}"
            );
            assert_eq!(every.owners, family.owners, "{threads}");
            assert!(
                family.links_read + 700 <= every.links_read,
                "family {} vs every {}",
                family.links_read,
                every.links_read
            );
        }
    }
    // SAFETY: kill of the pid started above (sleep, reparented).
    unsafe { libc::kill(big as i32, libc::SIGKILL) };
    for w in workers.iter_mut() {
        w.kill().unwrap();
        w.wait().unwrap();
    }
}

#[test]
fn a_family_walk_follows_a_holder_to_its_parent_and_the_parents_other_children() {
    // Only the children hold the socket (the parent, this process, closed its
    // copy, as a master that hands the listener to its workers): whichever
    // worker is found first, the others are its siblings through the parent.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let i = inode_of(l.as_raw_fd());
    let mut workers: Vec<_> = (0..4).map(|_| sharer(l.as_raw_fd())).collect();
    drop(l);
    let mut want: Vec<u32> = workers.iter().map(|w| w.id()).collect();
    want.sort_unstable();
    let wanted: InodeSet = [i].into_iter().collect();
    let f = find_owners_with(Path::new("/proc"), &wanted, 2, Reach::Family).unwrap();
    let got = f.owners.get(&i).map(|p| p.to_vec()).unwrap_or_default();
    assert!(
        want.iter().all(|p| got.contains(p)),
        "{got:?} lacks {want:?}"
    );
    // A child another test spawned meanwhile inherited the (inheritable) fd
    // until its exec: a real holder, and a child of this process too.
    let me = std::process::id().to_string();
    for p in got.iter().filter(|p| !want.contains(p)) {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1));
        assert!(ppid.is_none() || ppid == Some(me.as_str()), "{p}: {stat}");
    }
    for w in workers.iter_mut() {
        w.kill().unwrap();
        w.wait().unwrap();
    }
}

#[test]
fn a_process_line_gives_its_parent_whatever_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("77");
    std::fs::create_dir(&p).unwrap();
    std::fs::write(p.join("stat"), "77 (a) b) (c) S 42 77 77 0 -1\n").unwrap();
    assert_eq!(parent(dir.path(), 77), Some(42));
    assert_eq!(parent(dir.path(), 78), None);
}
