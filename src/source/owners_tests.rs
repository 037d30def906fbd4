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
        let f = find_owners_with(Path::new("/proc"), &wanted, threads).unwrap();
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
    let f = find_owners_with(Path::new("/proc"), &wanted, 2).unwrap();
    // SAFETY: closes the duplicate made above.
    unsafe { libc::close(high) };
    assert_eq!(
        f.owners.get(&i).map(|p| p.to_vec()),
        Some(vec![std::process::id()])
    );
}

#[test]
fn nothing_wanted_reads_nothing() {
    let f = find_owners(Path::new("/proc"), &InodeSet::default()).unwrap();
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
    src.attribute(&mut snap, &asked).unwrap();
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
