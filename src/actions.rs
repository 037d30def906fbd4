//! The things porttop changes on a system, kept in one place: reserving ports
//! (Linux `ip_local_reserved_ports`), signalling a process, and closing a TCP
//! connection (`close`, SOCK_DESTROY). Callers ask for confirmation first; these
//! functions only do the deed and report clearly.

mod close;
mod signal;
pub use close::{closable, close_socket};
pub use signal::{pin, pin_all, signal_all, Pinned, Sig};

use crate::model::{format_ranges, merge_ranges};
use crate::range::{parse_reserved_ports, read_sysfile, LINUX_PROC_DIR};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("cannot write {path}: {err}{hint}")]
    Write {
        path: String,
        err: std::io::Error,
        hint: &'static str,
    },
    #[error(
        "{path} after writing is {got}, not the intended {wanted}; the kernel changed or \
         refused part of the list: check it before relying on it"
    )]
    Verify {
        path: String,
        wanted: String,
        got: String,
    },
    #[error("{0}")]
    Parse(#[from] crate::range::RangeError),
    #[error("no pid is known for this socket")]
    NoPid,
    #[error("not permitted to signal pid {0} ({1}): needs CAP_KILL (or root), or to be its owner")]
    NotPermitted(u32, String),
    #[error("pid {0} no longer exists")]
    NoSuchProcess(u32),
    #[error("cannot signal pid {0}: {1}")]
    Signal(u32, std::io::Error),
    #[error("not permitted to close connections: needs CAP_NET_ADMIN (run as root)")]
    CloseNotPermitted,
    #[error(
        "this kernel cannot close sockets from outside (built without CONFIG_INET_DIAG_DESTROY)"
    )]
    CloseUnsupported,
    #[error("already closed")]
    AlreadyClosed,
    #[error("a {0} socket cannot be closed (only TCP sockets a process holds)")]
    NotClosable(String),
    #[error("the socket's network namespace is not known to porttop (gone meanwhile?)")]
    NamespaceUnknown,
    #[error(
        "closing a socket in network namespace {0} needs CAP_SYS_ADMIN to enter it (run as root)"
    )]
    EnterNotPermitted(String),
    #[error("cannot close: {0}")]
    Close(std::io::Error),
}

/// The reserved-ports file of this network namespace.
pub fn reserved_ports_file() -> PathBuf {
    Path::new(LINUX_PROC_DIR).join("ip_local_reserved_ports")
}

/// The current list merged with `ports`: (old text, new text).
pub fn plan_reserve(file: &Path, ports: &[u16]) -> Result<(String, String), ActionError> {
    let old = read_list(file)?;
    let mut list = parse_reserved_ports(&old)?;
    list.extend(ports.iter().map(|p| (*p, *p)));
    Ok((old, format_ranges(&merge_ranges(list))))
}

/// The file's text, trimmed, read whole in one read (see [`read_sysfile`]: a
/// std read cuts a procfs list after 32 bytes, and writing that back loses ports).
fn read_list(file: &Path) -> Result<String, ActionError> {
    let bytes = read_sysfile(file).map_err(|err| ActionError::Read {
        path: file.display().to_string(),
        err,
    })?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// Merges `ports` into the list the file holds now, writes it in one `write(2)`,
/// reads it back and checks that the kernel holds exactly the union that was meant.
/// Returns (old text, new text); never drops what was reserved before.
pub fn reserve(file: &Path, ports: &[u16]) -> Result<(String, String), ActionError> {
    let (old, new) = plan_reserve(file, ports)?;
    write_list(file, format!("{new}\n").as_bytes()).map_err(|err| ActionError::Write {
        path: file.display().to_string(),
        hint: if err.kind() == std::io::ErrorKind::PermissionDenied {
            // net/sysctl_net.c: CAP_NET_ADMIN over the namespace grants root's access.
            " (needs root or CAP_NET_ADMIN in this network namespace)"
        } else {
            ""
        },
        err,
    })?;
    let got = read_list(file)?;
    let same = parse_reserved_ports(&got)
        .map(|l| format_ranges(&merge_ranges(l)) == new)
        .unwrap_or(false);
    if !same {
        return Err(ActionError::Verify {
            path: file.display().to_string(),
            wanted: new,
            got: if got.is_empty() {
                "(empty)".into()
            } else {
                got
            },
        });
    }
    Ok((old, new))
}

/// Writes the text through one open file, continuing after short writes. The kernel
/// takes a long list in pieces: `proc_do_large_bitmap` (kernel/sysctl.c) parses at
/// most a page per write(2), returns a short count cut at a number boundary, and
/// ORs a write at a non-zero offset into the bitmap the first write replaced. So
/// the rest must follow on the same file, at the offset reached (`write_all`);
/// reopening, or one write of the whole text, would keep only the first page.
fn write_list(file: &Path, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(file)?;
    f.write_all(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_merges_and_keeps_the_existing_list() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("ip_local_reserved_ports");
        std::fs::write(&f, "1-4,10,40002\n").unwrap();
        let (old, new) = reserve(&f, &[40003, 11, 9000]).unwrap();
        assert_eq!(old, "1-4,10,40002");
        assert_eq!(new, "1-4,10-11,9000,40002-40003");
        assert_eq!(
            std::fs::read_to_string(&f).unwrap(),
            "1-4,10-11,9000,40002-40003\n"
        );
    }

    #[test]
    fn empty_list_and_garbage() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("r");
        std::fs::write(&f, "\n").unwrap();
        assert_eq!(plan_reserve(&f, &[5]).unwrap().1, "5");
        std::fs::write(&f, "x-y\n").unwrap();
        assert!(plan_reserve(&f, &[5]).is_err());
        assert!(plan_reserve(&d.path().join("missing"), &[5]).is_err());
    }

    #[test]
    fn a_list_the_kernel_did_not_take_is_a_loud_error() {
        // /dev/null takes the write and reads back empty, as a kernel that refused
        // the list would.
        let e = reserve(Path::new("/dev/null"), &[5]).unwrap_err();
        assert!(matches!(e, ActionError::Verify { .. }), "{e}");
        assert!(e.to_string().contains("not the intended 5"), "{e}");
    }

    #[test]
    fn signalling_a_missing_pid_is_a_clear_error() {
        // pid_max is at most 2^22 on Linux.
        let e = pin(4_194_304 + 17, "ghost").unwrap_err();
        assert!(matches!(e, ActionError::NoSuchProcess(_)), "{e}");
    }
}
