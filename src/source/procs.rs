//! Process details (name, user, command line), read once per process and cached
//! by pid, and uid -> user names.
//!
//! The name is the kernel's (comm), as `ss` and `ps` show it. On Linux the
//! details come from `/proc/<pid>/{stat,status,cmdline}` read here: the command line is read only up to [`CMDLINE_MAX`] (a process may have
//! megabytes of it), and a process that exits or execs while it is read is never
//! described with placeholders: `stat` is read before and after the other files,
//! and the details count only when both show the same live process (else they
//! are read once more, then given up). A pid without details loses its
//! attribution in the snapshot rather than showing as `?` with no user.
//! Elsewhere sysinfo reads them.

#[cfg(target_os = "linux")]
use crate::model::CMDLINE_MAX;
use crate::model::{cap_cmdline, Process};
use std::collections::HashMap;
#[cfg(target_os = "linux")]
use std::path::Path;
use std::sync::Arc;
use sysinfo::Users;
#[cfg(not(target_os = "linux"))]
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

pub struct ProcessTable {
    #[cfg(not(target_os = "linux"))]
    sys: Option<System>,
    users: UserNames,
    cache: HashMap<u32, Arc<Process>>,
}

impl Default for ProcessTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessTable {
    pub fn new() -> Self {
        ProcessTable {
            #[cfg(not(target_os = "linux"))]
            sys: System::new().ok(),
            users: UserNames::new(),
            cache: HashMap::new(),
        }
    }

    /// Drops cached details of pids now used by another process (or that
    /// called exec).
    pub fn forget(&mut self, pids: &[u32]) {
        for p in pids {
            self.cache.remove(p);
        }
    }

    pub fn users(&mut self) -> &mut UserNames {
        &mut self.users
    }

    /// Details of every pid in `wanted` that could be read, loading only those
    /// not cached; forgets pids that are not in `alive`. A pid that exited
    /// before its details were read is left out (and not cached).
    pub fn resolve(
        &mut self,
        wanted: &[u32],
        alive: &dyn Fn(u32) -> bool,
    ) -> HashMap<u32, Arc<Process>> {
        #[cfg(not(target_os = "linux"))]
        let mut dead: Vec<Pid> = Vec::new();
        self.cache.retain(|pid, _| {
            let keep = alive(*pid);
            #[cfg(not(target_os = "linux"))]
            if !keep {
                dead.push(Pid::from_u32(*pid));
            }
            keep
        });
        let missing: Vec<u32> = wanted
            .iter()
            .filter(|p| !self.cache.contains_key(p))
            .copied()
            .collect();
        #[cfg(not(target_os = "linux"))]
        if let Some(sys) = self.sys.as_mut() {
            // Let sysinfo drop its copies of processes that exited.
            if !dead.is_empty() {
                sys.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&dead),
                    true,
                    ProcessRefreshKind::nothing(),
                );
            }
            let pids: Vec<Pid> = missing.iter().map(|p| Pid::from_u32(*p)).collect();
            if !pids.is_empty() {
                sys.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&pids),
                    true,
                    ProcessRefreshKind::nothing()
                        .with_cmd(UpdateKind::Always)
                        .with_user(UpdateKind::Always)
                        .without_tasks(),
                );
            }
        }
        for pid in missing {
            if let Some(p) = self.load(pid) {
                self.cache.insert(pid, Arc::new(p));
            }
        }
        wanted
            .iter()
            .filter_map(|p| self.cache.get(p).map(|a| (*p, Arc::clone(a))))
            .collect()
    }

    #[cfg(target_os = "linux")]
    fn load(&mut self, pid: u32) -> Option<Process> {
        let d = linux::read(Path::new("/proc"), pid)?;
        let user = d.uid.map(|u| self.users.name(u));
        let place = super::container::of_pid(pid, &Default::default());
        Some(Process {
            pid,
            name: d.name,
            uid: d.uid,
            user,
            cmdline: d.cmdline,
            container: place.container,
            unit: place.unit,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn load(&mut self, pid: u32) -> Option<Process> {
        let p = self.sys.as_ref()?.process(Pid::from_u32(pid))?;
        let cmd: Vec<String> = p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        // The kernel's name (comm), as ss and ps show it; the full command line
        // is in the details.
        let name = p.name().to_string_lossy().into_owned();
        let uid = p.user_id().map(|u| **u);
        let user = uid.map(|u| self.users.name(u));
        Some(Process {
            pid,
            name,
            uid,
            user,
            cmdline: cap_cmdline(cmd.join(" ")),
        })
    }
}

/// The Linux reader of one process's details.
#[cfg(target_os = "linux")]
pub mod linux {
    use super::{cap_cmdline, CMDLINE_MAX};
    use std::io::Read;
    use std::path::Path;

    /// What `/proc/<pid>` says about a process.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Details {
        pub name: String,
        pub uid: Option<u32>,
        pub cmdline: String,
    }

    /// What `/proc/<pid>/stat` says (proc(5)): comm (field 2), state (3),
    /// flags (9) and start time (22). comm may hold spaces and parentheses,
    /// so fields are counted after its last `)`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Stat<'a> {
        pub comm: &'a str,
        pub state: char,
        pub flags: u32,
        pub start: u64,
    }

    /// PF_EXITING (include/linux/sched.h): set when do_exit() begins, before
    /// the memory (and so the command line) is released and the state is Z.
    pub const PF_EXITING: u32 = 0x4;
    /// PF_KTHREAD (include/linux/sched.h): a kernel thread, without a command line.
    pub const PF_KTHREAD: u32 = 0x0020_0000;

    pub fn parse_stat(stat: &str) -> Option<Stat<'_>> {
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat.get(open + 1..close)?;
        let mut rest = stat.get(close + 1..)?.split_whitespace();
        let state = rest.next()?.chars().next()?;
        let flags = rest.nth(5)?.parse().ok()?;
        Some(Stat {
            comm,
            state,
            flags,
            start: crate::source::attrib::parse_start_time(stat)?,
        })
    }

    impl Stat<'_> {
        /// Exiting, a zombie or dead: its descriptors are being or were closed.
        pub fn exiting(&self) -> bool {
            matches!(self.state, 'Z' | 'X') || self.flags & PF_EXITING != 0
        }
    }

    /// The real uid from `/proc/<pid>/status` (`Uid:\treal\teffective...`).
    pub fn parse_status_uid(status: &str) -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// `/proc/<pid>/cmdline` as read (NUL-separated, at most `CMDLINE_MAX + 1`
    /// bytes) -> (argv[0], the arguments joined by spaces, capped and marked).
    pub fn parse_cmdline(raw: &[u8]) -> (String, String) {
        let argv0 = raw.split(|b| *b == 0).next().unwrap_or_default();
        let argv0 = String::from_utf8_lossy(argv0).into_owned();
        let joined: Vec<u8> = raw
            .strip_suffix(&[0])
            .unwrap_or(raw)
            .iter()
            .map(|b| if *b == 0 { b' ' } else { *b })
            .collect();
        (
            argv0,
            cap_cmdline(String::from_utf8_lossy(&joined).into_owned()),
        )
    }

    fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(256);
        std::fs::File::open(path)?
            .take(CMDLINE_MAX as u64 + 1)
            .read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The details of `pid`, or None when it exited (or became a zombie, whose
    /// sockets are closed) before they could be read whole. A process that
    /// execs or is replaced while read is read again, twice at most; then None
    /// (the caller does not cache it, and the next refresh tries again).
    pub fn read(root: &Path, pid: u32) -> Option<Details> {
        let dir = root.join(pid.to_string());
        let stat = |d: &Path| {
            let text = std::fs::read_to_string(d.join("stat")).ok()?;
            let st = parse_stat(&text)?;
            let kthread = st.flags & PF_KTHREAD != 0;
            (!st.exiting()).then(|| (st.comm.to_string(), st.start, kthread))
        };
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::yield_now();
            }
            let before = stat(&dir)?;
            let uid = std::fs::read_to_string(dir.join("status"))
                .ok()
                .and_then(|s| parse_status_uid(&s));
            let raw = read_capped(&dir.join("cmdline")).ok()?;
            let after = stat(&dir)?;
            // exec'd or replaced meanwhile (or status was gone), or amid an
            // exec (the new program's comm is set before its arguments are in
            // place, and a parent learns that exec succeeded in that window):
            // once more. Only kernel threads have no argument area at all.
            if after != before || uid.is_none() || (raw.is_empty() && !before.2) {
                continue;
            }
            let (_, cmdline) = parse_cmdline(&raw);
            // The kernel's name (comm), as ss and ps show it.
            return Some(Details {
                name: before.0.clone(),
                uid,
                cmdline,
            });
        }
        None
    }
}

/// uid -> user name, loaded once and reloaded (at most once per refresh) when an
/// unknown uid shows up.
pub struct UserNames {
    names: HashMap<u32, Arc<str>>,
    reloaded_for: Option<u32>,
}

impl UserNames {
    pub fn new() -> Self {
        let mut u = UserNames {
            names: HashMap::new(),
            reloaded_for: None,
        };
        u.reload();
        u
    }

    fn reload(&mut self) {
        if let Ok(users) = Users::new_with_refreshed_list() {
            for user in &users {
                self.names.insert(**user.id(), Arc::from(user.name()));
            }
        }
    }

    /// The user name of a uid, or the number when no name is known.
    pub fn name(&mut self, uid: u32) -> String {
        self.shared(uid).to_string()
    }

    /// The same name as one shared string (no allocation per socket).
    pub fn shared(&mut self, uid: u32) -> Arc<str> {
        if let Some(n) = self.names.get(&uid) {
            return Arc::clone(n);
        }
        if self.reloaded_for != Some(uid) {
            self.reloaded_for = Some(uid);
            self.reload();
            if let Some(n) = self.names.get(&uid) {
                return Arc::clone(n);
            }
        }
        let n: Arc<str> = Arc::from(uid.to_string());
        self.names.insert(uid, Arc::clone(&n));
        n
    }
}

impl Default for UserNames {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn stat_status_and_cmdline_parse_from_literal_proc_text() {
        use linux::*;
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 \
                    20 0 1 0 987654 1000 100 18446744073709551615";
        let st = parse_stat(stat).unwrap();
        assert_eq!(
            (st.comm, st.state, st.flags, st.start),
            ("my (odd) name", 'S', 4194560, 987654)
        );
        assert!(!st.exiting());
        let zombie =
            parse_stat("4242 (x) Z 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5").unwrap();
        assert!(zombie.exiting());
        // Still running, but do_exit() has begun: its command line is gone.
        let exiting = parse_stat("4242 (x) R 1 2 3 4 5 4194564 7 8 9 10 11 12 13 14 15 16 17 18 5");
        assert!(exiting.unwrap().exiting());
        assert_eq!(parse_stat("garbage"), None);
        let status = "Name:\tsrv\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t0\t0\t0\n";
        assert_eq!(parse_status_uid(status), Some(1000));
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
        assert_eq!(
            parse_cmdline(b"/usr/bin/srv\0-x\0--port\x008080\0"),
            ("/usr/bin/srv".into(), "/usr/bin/srv -x --port 8080".into())
        );
        // setproctitle: one string without NULs.
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            (
                "nginx: worker process".into(),
                "nginx: worker process".into()
            )
        );
        let long = vec![b'a'; crate::model::CMDLINE_MAX + 1];
        let (_, cut) = parse_cmdline(&long);
        assert!(cut.ends_with(crate::model::CUT_MARK), "{}", cut.len());
        assert_eq!(parse_cmdline(b""), (String::new(), String::new()));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_live_process_is_read_whole_and_a_dead_one_not_at_all() {
        let me = linux::read(Path::new("/proc"), std::process::id()).expect("own details");
        assert!(!me.name.is_empty() && me.uid.is_some() && !me.cmdline.is_empty());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        // Until exec has set up the arguments, there are no details yet.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let d = loop {
            match linux::read(Path::new("/proc"), pid) {
                Some(d) => break d,
                None if std::time::Instant::now() < until => std::thread::yield_now(),
                None => panic!("no details of a live sleep"),
            }
        };
        assert_eq!((d.name.as_str(), d.cmdline.as_str()), ("sleep", "sleep 30"));
        child.kill().unwrap();
        // Killed but not reaped: a zombie, which holds no socket and no details.
        let stat = format!("/proc/{pid}/stat");
        let zombie = || {
            std::fs::read_to_string(&stat)
                .ok()
                .and_then(|t| linux::parse_stat(&t).map(|s| s.state == 'Z'))
                == Some(true)
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !zombie() && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(zombie());
        assert_eq!(linux::read(Path::new("/proc"), pid), None);
        child.wait().unwrap();
        assert_eq!(linux::read(Path::new("/proc"), pid), None);
    }
}
