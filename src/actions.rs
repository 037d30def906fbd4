//! The two things porttop changes on a system, kept in one place: reserving ports
//! (Linux `ip_local_reserved_ports`) and sending SIGTERM to a process. Callers ask
//! for confirmation first; these functions only do the deed and report clearly.

use crate::model::{format_ranges, merge_ranges};
use crate::range::{parse_reserved_ports, LINUX_PROC_DIR};
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
}

/// The reserved-ports file of this network namespace.
pub fn reserved_ports_file() -> PathBuf {
    Path::new(LINUX_PROC_DIR).join("ip_local_reserved_ports")
}

/// The current list merged with `ports`: (old text, new text).
pub fn plan_reserve(file: &Path, ports: &[u16]) -> Result<(String, String), ActionError> {
    let old = std::fs::read_to_string(file).map_err(|err| ActionError::Read {
        path: file.display().to_string(),
        err,
    })?;
    let mut list = parse_reserved_ports(&old)?;
    list.extend(ports.iter().map(|p| (*p, *p)));
    Ok((old.trim().to_string(), format_ranges(&merge_ranges(list))))
}

/// Writes the merged list; never drops what was reserved before.
pub fn reserve(file: &Path, ports: &[u16]) -> Result<(String, String), ActionError> {
    let (old, new) = plan_reserve(file, ports)?;
    std::fs::write(file, format!("{new}\n")).map_err(|err| ActionError::Write {
        path: file.display().to_string(),
        hint: if err.kind() == std::io::ErrorKind::PermissionDenied {
            // net/sysctl_net.c: CAP_NET_ADMIN over the namespace grants root's access.
            " (needs root or CAP_NET_ADMIN in this network namespace)"
        } else {
            ""
        },
        err,
    })?;
    Ok((old, new))
}

/// Sends SIGTERM to `pid` (`name` is for the message).
pub fn terminate(pid: u32, name: &str) -> Result<(), ActionError> {
    let Ok(p) = libc::pid_t::try_from(pid) else {
        return Err(ActionError::NoSuchProcess(pid));
    };
    if p <= 0 {
        return Err(ActionError::NoPid);
    }
    // SAFETY: kill(2) with a positive pid and a valid signal number.
    let rc = unsafe { libc::kill(p, libc::SIGTERM) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    Err(match err.raw_os_error() {
        Some(libc::EPERM) => ActionError::NotPermitted(pid, name.to_string()),
        Some(libc::ESRCH) => ActionError::NoSuchProcess(pid),
        _ => ActionError::Signal(pid, err),
    })
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
    fn signalling_a_missing_pid_is_a_clear_error() {
        // pid_max is at most 2^22 on Linux.
        let e = terminate(4_194_304 + 17, "ghost").unwrap_err();
        assert!(matches!(e, ActionError::NoSuchProcess(_)), "{e}");
    }
}
