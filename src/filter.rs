//! One filter, used by the CLI flags and by the TUI's `/` prompt.
//!
//! Semantics: conditions of different kinds combine with AND; alternatives of the
//! same kind (`--tcp --udp`, `-4 -6`, several states) combine with OR, as in `ss`.
//!
//! Prompt language (whitespace-separated, case-insensitive):
//! `tcp` `udp` `-4` `-6` `listening` `established` `ephemeral`
//! `state:S[,S..]` `port:N` `pid:N` `proc:NAME` (also `process:`) `user:NAME`,
//! and bare words, which match the address, port, process name or user.

use crate::model::{Family, Proto, Snapshot, SockState, Socket};
use std::fmt;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    pub protos: Vec<Proto>,
    pub families: Vec<Family>,
    pub states: Vec<SockState>,
    /// Local or remote port.
    pub port: Option<u16>,
    pub pid: Option<u32>,
    /// Substring of the process name (case-insensitive).
    pub process: Option<String>,
    pub user: Option<String>,
    /// Only sockets whose local port is in the ephemeral pool.
    pub ephemeral: bool,
    /// Bare words (each must match something).
    pub words: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("unknown state '{0}' (try listen, estab, time-wait, syn-sent, close-wait, unconn...)")]
    State(String),
    #[error("invalid port '{0}' (expected 0-65535)")]
    Port(String),
    #[error("invalid pid '{0}'")]
    Pid(String),
    #[error("'{0}:' needs a value")]
    Empty(String),
}

/// The states `--listening` selects: TCP LISTEN and bound UDP (as `ss -l`).
pub const LISTENING: [SockState; 2] = [SockState::Listen, SockState::Unconn];

impl Filter {
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    pub fn add_proto(&mut self, p: Proto) {
        if !self.protos.contains(&p) {
            self.protos.push(p);
        }
    }

    pub fn add_family(&mut self, f: Family) {
        if !self.families.contains(&f) {
            self.families.push(f);
        }
    }

    pub fn add_state(&mut self, s: SockState) {
        if !self.states.contains(&s) {
            self.states.push(s);
        }
    }

    /// Adds states from a comma-separated list (`--state` and `state:`).
    pub fn add_states(&mut self, list: &str) -> Result<(), FilterError> {
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let st = SockState::parse(part).ok_or_else(|| FilterError::State(part.into()))?;
            self.add_state(st);
        }
        Ok(())
    }

    /// Parses the prompt language. The empty string is the empty filter.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        for tok in text.split_whitespace() {
            let lower = tok.to_lowercase();
            // Split the original token: lowercasing can change byte lengths
            // ('Ⱥ' is 2 bytes, 'ⱥ' 3), so offsets into `lower` are not offsets
            // into `tok` (found by fuzzing).
            if let Some((raw_key, raw_val)) = tok.split_once(':') {
                let (key, val) = (raw_key.to_lowercase(), raw_val.to_lowercase());
                let (key, val) = (key.as_str(), val.as_str());
                if val.is_empty() {
                    return Err(FilterError::Empty(key.into()));
                }
                match key {
                    "state" | "st" => f.add_states(val)?,
                    "port" | "p" => f.port = Some(parse_port(val)?),
                    "pid" => f.pid = Some(val.parse().map_err(|_| FilterError::Pid(val.into()))?),
                    "proc" | "process" | "name" => f.process = Some(raw_val.into()),
                    "user" | "u" => f.user = Some(raw_val.into()),
                    // An IPv6 address or something else with a colon: a bare word.
                    _ => f.words.push(lower),
                }
                continue;
            }
            match lower.as_str() {
                "tcp" | "-t" => f.add_proto(Proto::Tcp),
                "udp" | "-u" => f.add_proto(Proto::Udp),
                "-4" | "ipv4" => f.add_family(Family::Ipv4),
                "-6" | "ipv6" => f.add_family(Family::Ipv6),
                "listening" | "-l" => LISTENING.iter().for_each(|s| f.add_state(*s)),
                "established" => f.add_state(SockState::Established),
                "ephemeral" | "eph" => f.ephemeral = true,
                _ => f.words.push(lower),
            }
        }
        Ok(f)
    }

    pub fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        if !self.protos.is_empty() && !self.protos.contains(&s.proto) {
            return false;
        }
        if !self.families.is_empty() && !self.families.contains(&s.family) {
            return false;
        }
        if !self.states.is_empty() && !self.states.contains(&s.state) {
            return false;
        }
        if let Some(p) = self.port {
            if s.local.port != p && s.remote.map(|r| r.port) != Some(p) {
                return false;
            }
        }
        if let Some(pid) = self.pid {
            if !s.pids.contains(&pid) {
                return false;
            }
        }
        if let Some(name) = &self.process {
            let name = name.to_lowercase();
            let hit = s
                .pids
                .iter()
                .filter_map(|p| snap.process(*p))
                .any(|p| p.name.to_lowercase().contains(&name));
            if !hit {
                return false;
            }
        }
        if let Some(u) = &self.user {
            let u = u.to_lowercase();
            if s.user.as_deref().map(str::to_lowercase) != Some(u) {
                return false;
            }
        }
        if self.ephemeral && !snap.is_ephemeral(s) {
            return false;
        }
        self.words.iter().all(|w| word_matches(snap, s, w))
    }
}

fn parse_port(v: &str) -> Result<u16, FilterError> {
    v.parse::<u16>().map_err(|_| FilterError::Port(v.into()))
}

/// A bare word matches an address (substring), a port (exactly), the state, the
/// protocol, a process name (substring) or the user.
fn word_matches(snap: &Snapshot, s: &Socket, w: &str) -> bool {
    if let Ok(p) = w.parse::<u16>() {
        if s.local.port == p || s.remote.map(|r| r.port) == Some(p) {
            return true;
        }
    }
    let addr_hit = |a: std::net::IpAddr| a.to_string().contains(w);
    if addr_hit(s.local.addr) || s.remote.map(|r| addr_hit(r.addr)).unwrap_or(false) {
        return true;
    }
    if s.state.as_str().to_lowercase().contains(w) {
        return true;
    }
    if s.user
        .as_deref()
        .map(|u| u.to_lowercase().contains(w))
        .unwrap_or(false)
    {
        return true;
    }
    s.pids
        .iter()
        .filter_map(|p| snap.process(*p))
        .any(|p| p.name.to_lowercase().contains(w) || p.pid.to_string() == w)
}

impl fmt::Display for Filter {
    /// The canonical prompt text; `Filter::parse` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(self.protos.iter().map(|p| p.as_str().to_string()));
        parts.extend(self.families.iter().map(|f| match f {
            Family::Ipv4 => "-4".to_string(),
            Family::Ipv6 => "-6".to_string(),
        }));
        if !self.states.is_empty() {
            let s: Vec<&str> = self.states.iter().map(|s| s.as_str()).collect();
            parts.push(format!("state:{}", s.join(",")));
        }
        if let Some(p) = self.port {
            parts.push(format!("port:{p}"));
        }
        if let Some(p) = self.pid {
            parts.push(format!("pid:{p}"));
        }
        if let Some(p) = &self.process {
            parts.push(format!("proc:{p}"));
        }
        if let Some(u) = &self.user {
            parts.push(format!("user:{u}"));
        }
        if self.ephemeral {
            parts.push("ephemeral".into());
        }
        parts.extend(self.words.iter().cloned());
        f.write_str(&parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Endpoint, PortRange, Process};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    fn snap() -> Snapshot {
        let ep = |a: &str, p| Endpoint::new(a.parse().unwrap(), p);
        let sock = |proto, fam, l, r: Option<Endpoint>, st, pid: Option<u32>| Socket {
            proto,
            family: fam,
            local: l,
            remote: r,
            state: st,
            uid: Some(0),
            user: Some("root".into()),
            inode: Some(1),
            pids: pid.into_iter().collect(),
            time_wait_left_ms: None,
        };
        let mut processes = BTreeMap::new();
        for (pid, name) in [(10, "nginx"), (20, "curl")] {
            processes.insert(
                pid,
                Arc::new(Process {
                    pid,
                    name: name.into(),
                    uid: Some(0),
                    user: Some("root".into()),
                    cmdline: name.into(),
                }),
            );
        }
        Snapshot {
            taken_at_ms: 1,
            host: "h".into(),
            range: PortRange::new(32768, 60999, vec![(40000, 40000)], "t"),
            partial: false,
            counters: None,
            processes,
            sockets: vec![
                sock(
                    Proto::Tcp,
                    Family::Ipv4,
                    ep("0.0.0.0", 443),
                    None,
                    SockState::Listen,
                    Some(10),
                ),
                sock(
                    Proto::Tcp,
                    Family::Ipv4,
                    ep("10.0.0.1", 40001),
                    Some(ep("10.0.0.5", 443)),
                    SockState::Established,
                    Some(20),
                ),
                sock(
                    Proto::Tcp,
                    Family::Ipv6,
                    ep("::1", 40000),
                    Some(ep("::1", 8080)),
                    SockState::TimeWait,
                    None,
                ),
                sock(
                    Proto::Udp,
                    Family::Ipv6,
                    ep("::", 53),
                    None,
                    SockState::Unconn,
                    None,
                ),
            ],
        }
    }

    fn hits(f: &Filter) -> Vec<usize> {
        let s = snap();
        (0..s.sockets.len())
            .filter(|i| f.matches(&s, &s.sockets[*i]))
            .collect()
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert_eq!(hits(&Filter::default()), vec![0, 1, 2, 3]);
        assert!(Filter::parse("  ").unwrap().is_empty());
    }

    #[test]
    fn kinds_combine_with_and_alternatives_with_or() {
        assert_eq!(hits(&Filter::parse("tcp -6").unwrap()), vec![2]);
        assert_eq!(hits(&Filter::parse("tcp udp").unwrap()), vec![0, 1, 2, 3]);
        assert_eq!(hits(&Filter::parse("listening").unwrap()), vec![0, 3]);
        assert_eq!(hits(&Filter::parse("listening tcp").unwrap()), vec![0]);
        assert_eq!(
            hits(&Filter::parse("state:TIME_WAIT,estab").unwrap()),
            vec![1, 2]
        );
    }

    #[test]
    fn port_matches_local_or_remote_and_bare_words_match_names_and_addresses() {
        assert_eq!(hits(&Filter::parse("port:443").unwrap()), vec![0, 1]);
        assert_eq!(hits(&Filter::parse("proc:NGI").unwrap()), vec![0]);
        assert_eq!(hits(&Filter::parse("curl").unwrap()), vec![1]);
        assert_eq!(hits(&Filter::parse("10.0.0.5").unwrap()), vec![1]);
        assert_eq!(hits(&Filter::parse("::1").unwrap()), vec![2]);
        assert_eq!(hits(&Filter::parse("pid:10").unwrap()), vec![0]);
        assert_eq!(hits(&Filter::parse("8080").unwrap()), vec![2]);
    }

    #[test]
    fn ephemeral_excludes_reserved_ports() {
        assert_eq!(hits(&Filter::parse("ephemeral").unwrap()), vec![1]);
    }

    #[test]
    fn bad_values_are_clear_errors() {
        assert_eq!(
            Filter::parse("port:70000"),
            Err(FilterError::Port("70000".into()))
        );
        assert!(matches!(
            Filter::parse("state:bogus"),
            Err(FilterError::State(_))
        ));
        assert!(matches!(Filter::parse("pid:x"), Err(FilterError::Pid(_))));
        assert!(matches!(Filter::parse("port:"), Err(FilterError::Empty(_))));
    }

    #[test]
    fn case_folding_that_changes_byte_lengths_does_not_panic() {
        // Fuzz crash: "stateȺȺt:Ȥ" sliced the original token at an offset of its
        // lowercase form.
        let text = String::from_utf8_lossy(b"state\xc4\xc8\xbat:\xc4");
        let _ = Filter::parse(&text);
        assert!(Filter::parse("ȺȺȺ:x").is_ok());
        assert_eq!(
            Filter::parse("PROC:Nginx").unwrap().process.as_deref(),
            Some("Nginx")
        );
    }

    #[test]
    fn display_parses_back_to_the_same_filter() {
        for text in [
            "tcp -4 state:LISTEN port:80 proc:nginx ephemeral foo",
            "udp -6 pid:3 user:bob",
        ] {
            let f = Filter::parse(text).unwrap();
            assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{text}");
        }
    }
}
