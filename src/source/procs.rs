//! Process details (name, user, command line) from one long-lived sysinfo `System`,
//! refreshed only for pids not seen before, and uid -> user names.

use crate::model::Process;
use std::collections::HashMap;
use std::sync::Arc;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind, Users};

pub struct ProcessTable {
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
            sys: System::new().ok(),
            users: UserNames::new(),
            cache: HashMap::new(),
        }
    }

    /// Drops cached details of pids now used by another process.
    pub fn forget(&mut self, pids: &[u32]) {
        for p in pids {
            self.cache.remove(p);
        }
        // sysinfo's own copy is refreshed with UpdateKind::Always when the pid is
        // next resolved (only pids missing from this cache are refreshed at all).
    }

    pub fn users(&mut self) -> &mut UserNames {
        &mut self.users
    }

    /// Details of every pid in `wanted`, loading only those not cached; forgets pids
    /// that are not in `alive`.
    pub fn resolve(
        &mut self,
        wanted: &[u32],
        alive: &dyn Fn(u32) -> bool,
    ) -> HashMap<u32, Arc<Process>> {
        let mut dead: Vec<Pid> = Vec::new();
        self.cache.retain(|pid, _| {
            let keep = alive(*pid);
            if !keep {
                dead.push(Pid::from_u32(*pid));
            }
            keep
        });
        if !dead.is_empty() {
            // Let sysinfo drop its copies of processes that exited.
            if let Some(sys) = self.sys.as_mut() {
                sys.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&dead),
                    true,
                    ProcessRefreshKind::nothing(),
                );
            }
        }
        let missing: Vec<Pid> = wanted
            .iter()
            .filter(|p| !self.cache.contains_key(p))
            .map(|p| Pid::from_u32(*p))
            .collect();
        if !missing.is_empty() {
            if let Some(sys) = self.sys.as_mut() {
                sys.refresh_processes_specifics(
                    ProcessesToUpdate::Some(&missing),
                    true,
                    ProcessRefreshKind::nothing()
                        .with_cmd(UpdateKind::Always)
                        .with_user(UpdateKind::Always)
                        .without_tasks(),
                );
            }
            for pid in missing {
                let p = self.load(pid);
                self.cache.insert(pid.as_u32(), Arc::new(p));
            }
        }
        wanted
            .iter()
            .filter_map(|p| self.cache.get(p).map(|a| (*p, Arc::clone(a))))
            .collect()
    }

    fn load(&mut self, pid: Pid) -> Process {
        let sp = self.sys.as_ref().and_then(|s| s.process(pid));
        let (name, uid, cmdline) = match sp {
            Some(p) => {
                let cmd: Vec<String> = p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect();
                // The kernel's name (comm), as ss and ps show it; the full
                // command line is in the details.
                let name = p.name().to_string_lossy().into_owned();
                let uid = p.user_id().map(|u| **u);
                (name, uid, cmd.join(" "))
            }
            None => (String::from("?"), None, String::new()),
        };
        let user = uid.map(|u| self.users.name(u));
        Process {
            pid: pid.as_u32(),
            name,
            uid,
            user,
            cmdline,
        }
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
