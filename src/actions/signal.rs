//! Signalling a process through a pidfd (pidfd_open(2), pidfd_send_signal(2),
//! Linux 5.3+): the descriptor is opened when the user is asked (`pin`), and
//! the signal sent later goes to that very process. If it exited meanwhile and
//! its pid went to a new process, the kernel answers ESRCH instead of
//! signalling the stranger (pidfd_send_signal(2): "the signal is sent to the
//! process referred to by pidfd", which a reused pid number never is).

use super::ActionError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// The signals the dashboard offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sig {
    Term,
    Kill,
}

impl Sig {
    pub fn name(self) -> &'static str {
        match self {
            Sig::Term => "SIGTERM",
            Sig::Kill => "SIGKILL",
        }
    }

    fn number(self) -> libc::c_int {
        match self {
            Sig::Term => libc::SIGTERM,
            Sig::Kill => libc::SIGKILL,
        }
    }
}

/// A process held by a pidfd since the moment it was chosen.
#[derive(Clone)]
pub struct Pinned {
    pub pid: u32,
    /// Its name when chosen (for messages).
    pub name: String,
    fd: Arc<OwnedFd>,
}

impl std::fmt::Debug for Pinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pinned({} {})", self.pid, self.name)
    }
}

impl PartialEq for Pinned {
    fn eq(&self, o: &Pinned) -> bool {
        self.pid == o.pid && Arc::ptr_eq(&self.fd, &o.fd)
    }
}

impl Eq for Pinned {}

fn pid_t(pid: u32) -> Result<libc::pid_t, ActionError> {
    match libc::pid_t::try_from(pid) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ActionError::NoPid),
    }
}

/// Opens a pidfd for `pid` now: what is signalled later is this process.
pub fn pin(pid: u32, name: &str) -> Result<Pinned, ActionError> {
    let p = pid_t(pid)?;
    // SAFETY: pidfd_open(pid, flags 0) returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, p, 0) };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        return Err(match err.raw_os_error() {
            Some(libc::ESRCH) => ActionError::NoSuchProcess(pid),
            _ => ActionError::Signal(pid, err),
        });
    }
    let fd = libc::c_int::try_from(fd).map_err(|_| ActionError::NoPid)?;
    Ok(Pinned {
        pid,
        name: name.to_string(),
        // SAFETY: a fresh descriptor that nothing else owns.
        fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
    })
}

impl Pinned {
    /// Sends `sig` to the pinned process (ESRCH: it has exited, whatever now
    /// holds its pid).
    pub fn signal(&self, sig: Sig) -> Result<(), ActionError> {
        // SAFETY: pidfd_send_signal(pidfd, sig, info NULL, flags 0).
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.fd.as_raw_fd(),
                sig.number(),
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        Err(match err.raw_os_error() {
            Some(libc::EPERM) => ActionError::NotPermitted(self.pid, self.name.clone()),
            Some(libc::ESRCH) => ActionError::NoSuchProcess(self.pid),
            _ => ActionError::Signal(self.pid, err),
        })
    }
}

/// Pins every owner (`(pid, name)`), each on its own: one gone already does
/// not stop the others.
pub fn pin_all(owners: &[(u32, String)]) -> Vec<Result<Pinned, ActionError>> {
    owners.iter().map(|(p, n)| pin(*p, n)).collect()
}

/// Sends `sig` to each pinned process; one line per process for the user.
pub fn signal_all(targets: &[Pinned], sig: Sig) -> Vec<Result<String, ActionError>> {
    targets
        .iter()
        .map(|t| {
            t.signal(sig)
                .map(|()| format!("sent {} to pid {} ({})", sig.name(), t.pid, t.name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_pinned_process_is_signalled() {
        let mut c = Command::new("sleep").arg("30").spawn().unwrap();
        let p = pin(c.id(), "sleep").unwrap();
        p.signal(Sig::Kill).unwrap();
        let st = c.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }

    /// Spawn, pin, reap; hand the pid to a new process (as root, through
    /// ns_last_pid, proc(5)); the old pin must not reach it.
    #[test]
    fn a_reused_pid_is_never_signalled() {
        let mut old = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = old.id();
        let pinned = pin(pid, "sleep").unwrap();
        old.kill().unwrap();
        old.wait().unwrap(); // reaped: the pid is free
        let mut reused = None;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            for _ in 0..20 {
                if std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).is_err() {
                    break;
                }
                let c = Command::new("sleep").arg("30").spawn().unwrap();
                if c.id() == pid {
                    reused = Some(c);
                    break;
                }
                let mut c = c;
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        let r = pinned.signal(Sig::Kill);
        assert!(
            matches!(r, Err(ActionError::NoSuchProcess(p)) if p == pid),
            "{r:?}"
        );
        match reused {
            Some(mut c) => {
                // the new holder of the pid is alive: it was not signalled
                assert!(
                    c.try_wait().unwrap().is_none(),
                    "the reused pid was signalled"
                );
                c.kill().unwrap();
                c.wait().unwrap();
            }
            None => eprintln!("note: pid {pid} was not reused (not root?); ESRCH checked only"),
        }
    }

    #[test]
    fn every_owner_is_signalled_and_a_gone_one_does_not_stop_the_rest() {
        let mut a = Command::new("sleep").arg("30").spawn().unwrap();
        let mut b = Command::new("sleep").arg("30").spawn().unwrap();
        let owners = vec![
            (a.id(), "a".to_string()),
            (4_194_304 + 5, "ghost".to_string()),
            (b.id(), "b".to_string()),
        ];
        let pinned = pin_all(&owners);
        assert!(matches!(pinned[1], Err(ActionError::NoSuchProcess(_))));
        let ok: Vec<Pinned> = pinned.into_iter().filter_map(Result::ok).collect();
        let r = signal_all(&ok, Sig::Term);
        assert!(r.iter().all(Result::is_ok), "{r:?}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(a.wait().unwrap().signal(), Some(libc::SIGTERM));
        assert_eq!(b.wait().unwrap().signal(), Some(libc::SIGTERM));
    }
}
