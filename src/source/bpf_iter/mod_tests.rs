use super::*;
use crate::source::attrib::parse_socket_link;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

fn inode_of(fd: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    parse_socket_link(link.to_str().unwrap()).unwrap()
}

/// The BPF walk, or None (with the reason on stderr) where it cannot load.
fn bpf_or_skip(wanted: &InodeSet) -> Option<Found> {
    match find_owners(wanted) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("SKIP: the BPF iterator cannot run here: {e}");
            None
        }
    }
}

/// `sleep` holding copies of `fds` (at the same numbers).
fn holder(fds: Vec<i32>) -> std::process::Child {
    let mut c = std::process::Command::new("sleep");
    c.arg("60");
    // SAFETY: fcntl is async-signal-safe; the closure only iterates a vector
    // allocated before the fork and clears FD_CLOEXEC of fds this process owns.
    unsafe {
        c.pre_exec(move || {
            for fd in &fds {
                if libc::fcntl(*fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = c.spawn().unwrap();
    // Until exec, the child holds every fd of ours; after, only those kept.
    let until = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(format!("/proc/{}/comm", child.id()))
        .ok()
        .as_deref()
        != Some("sleep\n")
        && Instant::now() < until
    {
        std::thread::yield_now();
    }
    child
}

#[test]
fn the_bpf_walk_and_the_proc_walk_find_the_same_holders() {
    const N: usize = 300;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::new();
    let mut servers = Vec::new();
    for _ in 0..N {
        clients.push(TcpStream::connect(addr).unwrap());
        servers.push(listener.accept().unwrap().0);
    }
    // The child holds the server sides alone and shares the listener.
    let mut fds: Vec<i32> = servers.iter().map(|s| s.as_raw_fd()).collect();
    fds.push(listener.as_raw_fd());
    let server_inodes: Vec<u64> = servers.iter().map(|s| inode_of(s.as_raw_fd())).collect();
    let client_inodes: Vec<u64> = clients.iter().map(|s| inode_of(s.as_raw_fd())).collect();
    let l_inode = inode_of(listener.as_raw_fd());
    let mut child = holder(fds);
    drop(servers);
    let wanted: InodeSet = server_inodes
        .iter()
        .chain(&client_inodes)
        .chain([&l_inode])
        .copied()
        .collect();
    let Some(mut bpf) = bpf_or_skip(&wanted) else {
        child.kill().ok();
        child.wait().ok();
        return;
    };
    let mut procfs = crate::source::owners::find_owners(
        Path::new("/proc"),
        &wanted,
        crate::source::owners::Reach::Every,
    )
    .unwrap();
    // Another test's child between fork and exec holds our fds for a moment,
    // which one walk may see and the other not: the walks agree at once or
    // on a second look.
    for _ in 0..3 {
        if bpf.owners == procfs.owners {
            break;
        }
        bpf = find_owners(&wanted).unwrap();
        procfs = crate::source::owners::find_owners(
            Path::new("/proc"),
            &wanted,
            crate::source::owners::Reach::Every,
        )
        .unwrap();
    }
    assert_eq!(bpf.owners, procfs.owners);
    let (me, kid) = (std::process::id(), child.id());
    for i in &server_inodes {
        assert_eq!(bpf.owners.get(i).map(|p| p.to_vec()), Some(vec![kid]));
    }
    for i in &client_inodes {
        assert_eq!(bpf.owners.get(i).map(|p| p.to_vec()), Some(vec![me]));
    }
    let mut both = vec![me, kid];
    both.sort_unstable();
    assert_eq!(bpf.owners.get(&l_inode).map(|p| p.to_vec()), Some(both));
    assert!(bpf.pids.contains(&me) && bpf.pids.contains(&kid));
    // every socket of both processes was read, the wanted ones among them
    assert!(bpf.links_read >= 2 * N + 2, "{}", bpf.links_read);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn nothing_wanted_loads_nothing() {
    let f = find_owners(&InodeSet::default()).unwrap();
    assert!(f.owners.is_empty() && f.links_read == 0);
}

#[test]
fn the_attrs_match_the_kernels_union_bpf_attr() {
    // Offsets in include/uapi/linux/bpf.h (as a C compiler lays them out).
    use std::mem::offset_of;
    assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
    assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
    assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
    assert_eq!(offset_of!(ProgLoadAttr, attach_btf_id), 108);
    assert_eq!(offset_of!(ProgLoadAttr, attach_btf_obj_fd), 112);
    assert_eq!(offset_of!(LinkCreateAttr, attach_type), 8);
    assert_eq!(offset_of!(LinkCreateAttr, iter_info), 16);
    assert_eq!(offset_of!(IterCreateAttr, flags), 4);
}

#[test]
fn a_verifier_log_is_cut_to_its_last_lines() {
    let log = "0: R1=ctx() R10=fp0\n; foo\n\n12: invalid access\nprocessed 3 insns\n";
    assert_eq!(last_lines(log), "12: invalid access / processed 3 insns");
    assert_eq!(last_lines(""), "");
}
