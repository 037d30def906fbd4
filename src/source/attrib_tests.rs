//! Unit tests of `attrib` on a fake proc tree.

use super::*;

#[test]
fn socket_links_parse_and_others_do_not() {
    assert_eq!(parse_socket_link("socket:[4242]"), Some(4242));
    assert_eq!(parse_socket_link("pipe:[4242]"), None);
    assert_eq!(parse_socket_link("socket:[]"), None);
    assert_eq!(parse_socket_link("/dev/null"), None);
    assert_eq!(parse_socket_link("socket:[12"), None);
}

/// A fake proc tree: /<pid>/fd/<n> symlinks pointing at `socket:[inode]`.
fn fake_proc(layout: &[(u32, &[(u32, u64)])]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (pid, fds) in layout {
        let fd = d.path().join(pid.to_string()).join("fd");
        fs::create_dir_all(&fd).unwrap();
        for (n, inode) in *fds {
            std::os::unix::fs::symlink(format!("socket:[{inode}]"), fd.join(n.to_string()))
                .unwrap();
        }
    }
    d
}

fn live(v: &[u64]) -> InodeSet {
    v.iter().copied().collect()
}

/// The kernel lookup for tests where no socket closes behind attribution's back.
fn all_open(unknown: &InodeSet) -> InodeSet {
    unknown.clone()
}

#[test]
fn steady_state_reads_no_links_and_new_sockets_are_found_incrementally() {
    let d = fake_proc(&[(10, &[(3, 100), (4, 101)]), (20, &[(3, 200)]), (30, &[])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100, 101, 200]), all_open).unwrap();
    assert_eq!(a.owners(100), &[10]);
    assert_eq!(a.owners(200), &[20]);
    assert_eq!(a.last.links_read, 3);

    a.refresh(live(&[100, 101, 200]), all_open).unwrap();
    assert_eq!(a.last.links_read, 0, "warm cache reads nothing");
    assert!(!a.last.full_walk);

    // pid 20 opens a new socket on fd 5: found by the incremental re-read.
    std::os::unix::fs::symlink("socket:[201]", d.path().join("20/fd/5")).unwrap();
    a.refresh(live(&[100, 101, 200, 201]), all_open).unwrap();
    assert_eq!(a.owners(201), &[20]);
    assert_eq!(a.last.links_read, 0);
    assert_eq!(a.last.dirs_listed, 0, "found by probing, no listing");
    assert!(a.last.probes >= 1);
    assert!(!a.last.full_walk);
}

#[test]
fn a_new_process_is_scanned_and_a_vanished_one_forgotten() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    // fork: child 11 inherits fd 3.
    let fd = d.path().join("11/fd");
    fs::create_dir_all(&fd).unwrap();
    std::os::unix::fs::symlink("socket:[100]", fd.join("3")).unwrap();
    a.refresh(live(&[100]), all_open).unwrap();
    assert_eq!(a.owners(100), &[10, 11]);
    fs::remove_dir_all(d.path().join("10")).unwrap();
    a.refresh(live(&[100]), all_open).unwrap();
    assert_eq!(a.owners(100), &[11]);
    assert_eq!(a.live_pids().collect::<Vec<_>>(), vec![11]);
}

#[test]
fn reused_fd_number_is_caught_by_the_full_walk() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    // fd 3 closed and reopened as another socket between refreshes.
    fs::remove_file(d.path().join("10/fd/3")).unwrap();
    std::os::unix::fs::symlink("socket:[300]", d.path().join("10/fd/3")).unwrap();
    a.refresh(live(&[300]), all_open).unwrap();
    assert!(
        !a.last.full_walk,
        "the probe reads the fd whose socket closed"
    );
    assert_eq!(a.last.dirs_listed, 0);
    assert_eq!(a.owners(300), &[10]);
    assert!(a.owners(100).is_empty());
}

#[test]
fn a_freed_fd_the_probe_did_not_need_stays_a_candidate() {
    let d = fake_proc(&[(10, &[(3, 100), (4, 101), (5, 102)])]);
    let fd = |n: u32| d.path().join("10/fd").join(n.to_string());
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100, 101, 102]), all_open).unwrap();
    // 101 and 102 close; a new socket takes the lowest free number, 4.
    fs::remove_file(fd(4)).unwrap();
    fs::remove_file(fd(5)).unwrap();
    std::os::unix::fs::symlink("socket:[200]", fd(4)).unwrap();
    a.refresh(live(&[100, 200]), all_open).unwrap();
    assert_eq!(a.owners(200), &[10]);
    // Next, one takes 5: its old socket closed two refreshes ago, and the probe
    // above stopped before looking at it.
    std::os::unix::fs::symlink("socket:[300]", fd(5)).unwrap();
    a.refresh(live(&[100, 200, 300]), all_open).unwrap();
    assert_eq!(a.owners(300), &[10], "found in the refresh after it opened");
    assert!(!a.last.full_walk);
    assert_eq!(a.last.dirs_listed, 0);
}

#[test]
fn an_fd_freed_in_a_quiet_refresh_is_probed_later() {
    let d = fake_proc(&[(10, &[(3, 100), (4, 101)])]);
    let fd4 = d.path().join("10/fd/4");
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100, 101]), all_open).unwrap();
    // 101 closes; nothing new, so nothing is probed in this refresh ...
    fs::remove_file(&fd4).unwrap();
    a.refresh(live(&[100]), all_open).unwrap();
    assert_eq!(a.last.probes, 0);
    a.refresh(live(&[100]), all_open).unwrap();
    // ... and refreshes later a reconnect gets the freed number.
    std::os::unix::fs::symlink("socket:[102]", &fd4).unwrap();
    a.refresh(live(&[100, 102]), all_open).unwrap();
    assert_eq!(a.owners(102), &[10], "found in the refresh after it opened");
    assert!(!a.last.full_walk);
    assert_eq!(a.last.dirs_listed, 0);
}

#[test]
fn numbers_skipped_above_the_highest_fd_become_candidates() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let fd = |n: u32| d.path().join("10/fd").join(n.to_string());
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    // Files took 4 and 5 and were closed again; a socket got 6.
    std::os::unix::fs::symlink("socket:[200]", fd(6)).unwrap();
    a.refresh(live(&[100, 200]), all_open).unwrap();
    assert_eq!(a.owners(200), &[10]);
    // The next socket gets 4.
    std::os::unix::fs::symlink("socket:[300]", fd(4)).unwrap();
    a.refresh(live(&[100, 200, 300]), all_open).unwrap();
    assert_eq!(a.owners(300), &[10]);
    assert!(!a.last.full_walk);
    assert_eq!(a.last.dirs_listed, 0);
}

#[test]
fn a_socket_on_the_number_of_a_never_listed_one_is_found() {
    // fd 4: a socket the dump never shows (AF_UNIX, say).
    let d = fake_proc(&[(10, &[(3, 100), (4, 555)])]);
    let fd4 = d.path().join("10/fd/4");
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    fs::remove_file(&fd4).unwrap();
    std::os::unix::fs::symlink("socket:[600]", &fd4).unwrap();
    a.refresh(live(&[100, 600]), all_open).unwrap();
    assert_eq!(a.owners(600), &[10]);
    assert!(!a.last.full_walk);
    assert_eq!(a.last.dirs_listed, 0);
}

#[test]
fn a_socket_closed_since_the_dump_causes_no_walk() {
    let d = fake_proc(&[(10, &[(3, 100)]), (20, &[])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    // 500 was in the dump, but its process closed it before attribution looked.
    let mut asked = Vec::new();
    a.refresh(live(&[100, 500]), |u| {
        asked.extend(u.iter().copied());
        InodeSet::default()
    })
    .unwrap();
    assert_eq!(asked, vec![500]);
    assert!(!a.last.full_walk);
    assert_eq!(a.last.dirs_listed, 0);
    assert_eq!(a.last.closed_meanwhile, 1);
    assert_eq!(a.last.unattributed, 1, "still shown without a process");
    // One the kernel still has is looked for everywhere, and found.
    std::os::unix::fs::symlink("socket:[600]", d.path().join("20/fd/4")).unwrap();
    a.refresh(live(&[100, 600]), all_open).unwrap();
    assert!(a.last.full_walk);
    assert_eq!(a.owners(600), &[20]);
}

#[test]
fn unattributable_inodes_do_not_cause_a_walk_every_refresh() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100, 999]), all_open).unwrap();
    assert!(a.last.full_walk);
    assert_eq!(a.last.unattributed, 1);
    a.refresh(live(&[100, 999]), all_open).unwrap();
    assert!(!a.last.full_walk);
    assert_eq!(a.last.links_read, 0);
}

#[test]
fn a_process_starting_does_not_bring_back_the_walk_for_kernel_sockets() {
    let d = fake_proc(&[(10, &[(3, 100)]), (20, &[])]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100, 999]), all_open).unwrap();
    assert!(a.last.full_walk);
    // A new process (no sockets) starts: 999 is still nobody's, and no walk runs.
    std::fs::create_dir_all(d.path().join("30/fd")).unwrap();
    a.refresh(live(&[100, 999]), all_open).unwrap();
    assert_eq!(a.last.pids_new, 1);
    assert!(!a.last.full_walk, "{:?}", a.last);
    // A new process that does hold it is found by its own full scan.
    let fd = d.path().join("40/fd");
    std::fs::create_dir_all(&fd).unwrap();
    std::os::unix::fs::symlink("socket:[999]", fd.join("7")).unwrap();
    a.refresh(live(&[100, 999]), all_open).unwrap();
    assert_eq!(a.owners(999), &[40]);
}

#[test]
fn unix_sockets_are_not_probed_for_a_new_tcp_socket() {
    // fds 3..=50 are AF_UNIX sockets (never in the TCP/UDP dump), 51 is TCP.
    let mut fds: Vec<(u32, u64)> = (3..=50).map(|fd| (fd, 1000 + u64::from(fd))).collect();
    fds.push((51, 100));
    let d = fake_proc(&[(10, &fds)]);
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    std::os::unix::fs::symlink("socket:[101]", d.path().join("10/fd/52")).unwrap();
    a.refresh(live(&[100, 101]), all_open).unwrap();
    assert_eq!(a.owners(101), &[10]);
    assert!(a.last.probes <= 4, "{:?}", a.last);
}

#[test]
fn start_time_is_field_22_after_the_last_paren() {
    let stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
    assert_eq!(parse_start_time(stat), Some(987654));
    assert_eq!(parse_start_time("garbage"), None);
    assert_eq!(parse_start_time("1 (x) S"), None);
}

#[test]
fn a_reused_pid_is_forgotten_and_rescanned() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let stat = |t: u64| format!("10 (srv) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 {t} 0 0");
    std::fs::write(d.path().join("10/stat"), stat(500)).unwrap();
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    assert_eq!(a.owners(100), &[10]);
    // Process 10 exits, another process gets pid 10 and opens socket 200 on fd 3.
    std::fs::remove_file(d.path().join("10/fd/3")).unwrap();
    std::os::unix::fs::symlink("socket:[200]", d.path().join("10/fd/3")).unwrap();
    std::fs::write(d.path().join("10/stat"), stat(900)).unwrap();
    a.refresh(live(&[200]), all_open).unwrap();
    assert_eq!(a.replaced, vec![10]);
    assert_eq!(a.owners(200), &[10]);
    assert!(a.owners(100).is_empty());
    assert_eq!(a.last.pids_new, 1, "rescanned as a new process");
}

#[test]
fn a_process_that_exited_mid_scan_is_not_counted_unreadable() {
    // pid 40 is listed but its fd directory is gone: it exited between the
    // listing and the scan. That hides nothing (the note about hidden
    // processes blamed another PID namespace for it).
    let d = fake_proc(&[(10, &[(3, 100)])]);
    fs::create_dir_all(d.path().join("40")).unwrap();
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    assert_eq!(a.owners(100), &[10]);
    assert_eq!(a.unreadable_pids(), 0);
    assert_eq!(a.last.pids_unreadable, 0);
}

#[test]
fn sockets_closed_since_the_dump_are_told_apart() {
    let d = fake_proc(&[(10, &[(3, 100)])]);
    let mut a = Attributor::new(d.path());
    // 101 and 102 nobody holds; the kernel no longer has 101.
    let open_102 = |u: &InodeSet| u.iter().copied().filter(|i| *i == 102).collect();
    a.refresh(live(&[100, 101, 102]), open_102).unwrap();
    assert!(a.closed_since_dump.contains(&101));
    assert!(!a.closed_since_dump.contains(&102));
}

#[test]
fn a_process_that_execs_while_holding_no_socket_is_reported_replaced() {
    let d = fake_proc(&[(10, &[(3, 100)]), (30, &[])]);
    let stat =
        |comm: &str| format!("10 ({comm}) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0");
    std::fs::write(d.path().join("10/stat"), stat("perl")).unwrap();
    let mut a = Attributor::new(d.path());
    a.refresh(live(&[100]), all_open).unwrap();
    // perl closes its socket; a socket of pid 30 makes the walk re-read it,
    // and perl's entry is left holding none.
    fs::remove_file(d.path().join("10/fd/3")).unwrap();
    std::os::unix::fs::symlink("socket:[101]", d.path().join("30/fd/4")).unwrap();
    a.refresh(live(&[101]), all_open).unwrap();
    assert_eq!(a.owners(101), &[30]);
    // Then it execs (same pid and start time, new comm) and opens a socket:
    // found by the walk of processes without sockets, it must be reported as
    // replaced so that the details cached for "perl" are dropped.
    std::fs::write(d.path().join("10/stat"), stat("loadlab")).unwrap();
    std::os::unix::fs::symlink("socket:[102]", d.path().join("10/fd/3")).unwrap();
    a.refresh(live(&[101, 102]), all_open).unwrap();
    assert_eq!(a.owners(102), &[10]);
    assert_eq!(a.replaced, vec![10]);
}
