//! One filter language, used by the CLI (flags and positional words, like
//! `ss [FILTER]`) and by the dashboard's `/` prompt.
//!
//! A filter is a list of terms. Terms of the same kind are alternatives (OR:
//! `port:80 port:443`, `tcp udp`, `state:listen,estab`); different kinds must all
//! hold (AND); bare words must each match something. `!term` or `not term`
//! negates a term (`!state:listen`, `not user:root`). Unknown keys and bad values
//! are errors, never a filter that silently matches nothing. The words and what
//! they mean are in [`WORDS`], which the parser dispatches on and the help screen
//! and `--help` print.

use crate::model::{Endpoint, Family, Proto, Snapshot, SockState, Socket};
use std::fmt;
use std::net::IpAddr;

/// An inclusive port span: `443` or `8000-8100`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub lo: u16,
    pub hi: u16,
}

impl Ports {
    pub fn one(p: u16) -> Ports {
        Ports { lo: p, hi: p }
    }

    fn contains(self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}-{}", self.lo, self.hi)
        }
    }
}

/// An address or a CIDR block: `10.0.0.5`, `10.0.0.0/8`, `::1`, `fe80::/10`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Net {
    pub fn host(addr: IpAddr) -> Net {
        let addr = crate::model::unmap(addr);
        Net {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    fn contains(self, a: IpAddr) -> bool {
        match (self.addr, crate::model::unmap(a)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    fn parse(v: &str) -> Option<Net> {
        let (a, p) = match v.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (v, None),
        };
        let a = a.trim_start_matches('[').trim_end_matches(']');
        let addr = crate::model::unmap(a.parse::<IpAddr>().ok()?);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Net { addr, prefix })
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == max {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// One condition on a socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    Proto(Proto),
    Family(Family),
    State(SockState),
    /// Local or remote port.
    Port(Ports),
    /// Local (source) port.
    SPort(Ports),
    /// Remote (destination) port; sockets without a remote end never match.
    DPort(Ports),
    Pid(u32),
    /// Substring of an owner's name, case-insensitive.
    Process(String),
    /// The socket's user, case-insensitive; `-` is "no user" (TIME-WAIT, orphans).
    User(String),
    /// Local address in the block.
    Src(Net),
    /// Remote address in the block.
    Dst(Net),
    /// Local port in the ephemeral pool.
    Ephemeral,
    /// A bare word (lowercase): address, port, state, process, pid or user.
    Word(String),
    /// In the network namespace of this name (or its container's name, or id
    /// prefix; `host` for the one porttop runs in).
    Netns(String),
}

impl Term {
    /// Terms of one kind are alternatives of each other.
    fn kind(&self) -> u32 {
        match self {
            Term::Proto(_) => 0,
            Term::Family(_) => 1,
            Term::State(_) => 2,
            Term::Port(_) => 3,
            Term::SPort(_) => 4,
            Term::DPort(_) => 5,
            Term::Pid(_) => 6,
            Term::Process(_) => 7,
            Term::User(_) => 8,
            Term::Src(_) => 9,
            Term::Dst(_) => 10,
            Term::Ephemeral => 11,
            Term::Word(_) => 12,
            Term::Netns(_) => 13,
        }
    }

    pub fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        let remote_port = || s.remote.map(|r| r.port);
        match self {
            Term::Proto(p) => s.proto == *p,
            Term::Family(f) => s.family == *f,
            Term::State(st) => s.state == *st,
            Term::Port(p) => {
                p.contains(s.local.port) || remote_port().is_some_and(|r| p.contains(r))
            }
            Term::SPort(p) => p.contains(s.local.port),
            Term::DPort(p) => remote_port().is_some_and(|r| p.contains(r)),
            Term::Pid(pid) => s.pids.contains(pid),
            Term::Process(name) => {
                let name = name.to_lowercase();
                s.pids
                    .iter()
                    .filter_map(|p| snap.process(*p))
                    .any(|p| p.name.to_lowercase().contains(&name))
            }
            Term::Netns(n) => {
                let name = snap.netns_name(s.netns);
                name == n
                    || (n == "host" && s.netns == 0 && snap.netns_info(0).is_none_or(|i| i.own))
                    || snap
                        .netns_info(s.netns)
                        .and_then(|i| i.container.as_ref())
                        .is_some_and(|c| c.matches(n))
            }
            Term::User(u) if u == "-" => s.user.is_none(),
            Term::User(u) => s
                .user
                .as_deref()
                .is_some_and(|x| x.to_lowercase() == u.to_lowercase()),
            Term::Src(n) => n.contains(s.local.addr),
            Term::Dst(n) => s.remote.is_some_and(|r| n.contains(r.addr)),
            Term::Ephemeral => snap.is_ephemeral(s),
            Term::Word(w) => word_matches(snap, s, w),
        }
    }
}

impl fmt::Display for Term {
    /// The canonical text of the term; [`Filter::parse`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Proto(p) => f.write_str(p.as_str()),
            Term::Family(Family::Ipv4) => f.write_str("-4"),
            Term::Family(Family::Ipv6) => f.write_str("-6"),
            Term::State(s) => write!(f, "state:{}", s.as_str()),
            Term::Port(p) => write!(f, "port:{p}"),
            Term::SPort(p) => write!(f, "sport:{p}"),
            Term::DPort(p) => write!(f, "dport:{p}"),
            Term::Pid(p) => write!(f, "pid:{p}"),
            Term::Process(p) => write!(f, "proc:{p}"),
            Term::User(u) => write!(f, "user:{u}"),
            Term::Netns(n) => write!(f, "netns:{n}"),
            Term::Src(n) => write!(f, "src:{n}"),
            Term::Dst(n) => write!(f, "dst:{n}"),
            Term::Ephemeral => f.write_str("ephemeral"),
            Term::Word(w) => f.write_str(w),
        }
    }
}

/// What a word of the language does.
#[derive(Clone, Copy, Debug)]
enum Does {
    /// Adds these terms (a flag-like word: `tcp`, `listening`).
    Terms(&'static [Term]),
    /// `key:V[,V..]`: parses each value.
    Key(Key),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    State,
    Port,
    SPort,
    DPort,
    Src,
    Dst,
    Pid,
    Proc,
    User,
    Netns,
}

/// One word of the filter language.
#[derive(Debug)]
pub struct Word {
    /// How help shows it.
    pub syntax: &'static str,
    /// What it selects.
    pub help: &'static str,
    /// Spellings the parser accepts (for `key:` words, the key).
    names: &'static [&'static str],
    does: Does,
}

/// Every word of the language: the parser looks words up here, and the help
/// screen and `--help` print it, so the two cannot disagree.
#[rustfmt::skip]
pub const WORDS: &[Word] = &[
    Word { syntax: "tcp udp", help: "protocol (also -t -u)", names: &["tcp", "-t"], does: Does::Terms(&[Term::Proto(Proto::Tcp)]) },
    Word { syntax: "", help: "", names: &["udp", "-u"], does: Does::Terms(&[Term::Proto(Proto::Udp)]) },
    Word { syntax: "-4 -6", help: "address family (also ipv4 ipv6)", names: &["-4", "ipv4"], does: Does::Terms(&[Term::Family(Family::Ipv4)]) },
    Word { syntax: "", help: "", names: &["-6", "ipv6"], does: Does::Terms(&[Term::Family(Family::Ipv6)]) },
    Word { syntax: "listening", help: "TCP LISTEN and bound UDP, as ss -l (also -l)", names: &["listening", "-l"], does: Does::Terms(&[Term::State(SockState::LISTENING[0]), Term::State(SockState::LISTENING[1])]) },
    Word { syntax: "established", help: "ESTAB (also -e)", names: &["established", "-e"], does: Does::Terms(&[Term::State(SockState::Established)]) },
    Word { syntax: "ephemeral", help: "local port in the ephemeral pool (also eph)", names: &["ephemeral", "eph"], does: Does::Terms(&[Term::Ephemeral]) },
    Word { syntax: "state:S", help: "ss or netstat name: listen estab time-wait close-wait syn-sent unconn...", names: &["state", "st"], does: Does::Key(Key::State) },
    Word { syntax: "port:N[-M]", help: "local or remote port, or a range of them", names: &["port", "p"], does: Does::Key(Key::Port) },
    Word { syntax: "sport:N[-M]", help: "local (source) port", names: &["sport"], does: Does::Key(Key::SPort) },
    Word { syntax: "dport:N[-M]", help: "remote (destination) port", names: &["dport"], does: Does::Key(Key::DPort) },
    Word { syntax: "src:ADDR[/LEN]", help: "local address or CIDR block", names: &["src"], does: Does::Key(Key::Src) },
    Word { syntax: "dst:ADDR[/LEN]", help: "remote address or CIDR block", names: &["dst"], does: Does::Key(Key::Dst) },
    Word { syntax: "pid:N", help: "held by this process", names: &["pid"], does: Does::Key(Key::Pid) },
    Word { syntax: "proc:NAME", help: "process name contains NAME (also process:)", names: &["proc", "process", "name"], does: Does::Key(Key::Proc) },
    Word { syntax: "user:NAME", help: "socket's user; user:- for none (TIME-WAIT, orphans)", names: &["user", "u"], does: Does::Key(Key::User) },
    Word { syntax: "netns:NAME", help: "in this network namespace (ip netns or container name; host)", names: &["netns", "ns"], does: Does::Key(Key::Netns) },
];

/// How the terms combine, for help texts.
pub const RULES: &[(&str, &str)] = &[
    ("!TERM, not TERM", "everything but what TERM selects"),
    ("key:A,B", "the same as key:A key:B"),
    (
        "WORD",
        "a bare word matches an address, port, state, process, pid or user",
    ),
    ("", "terms of one kind OR, kinds AND, words AND"),
];

/// `WORDS` and `RULES` as help lines: (syntax, meaning).
pub fn help_lines() -> impl Iterator<Item = (&'static str, &'static str)> {
    WORDS
        .iter()
        .filter(|w| !w.syntax.is_empty())
        .map(|w| (w.syntax, w.help))
        .chain(RULES.iter().copied())
}

/// The help as one block of text (for `--help`).
pub fn help_text() -> String {
    let mut s = String::from("Filter words (FILTER, and the dashboard's / prompt):\n");
    for (k, v) in help_lines() {
        s.push_str(&format!("  {k:<16} {v}\n"));
    }
    s
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("unknown state '{0}' (try listen, estab, time-wait, syn-sent, close-wait, unconn...)")]
    State(String),
    #[error("invalid port '{0}' (expected 0-65535 or LO-HI)")]
    Port(String),
    #[error("invalid pid '{0}'")]
    Pid(String),
    #[error("invalid address '{0}' (expected ADDR or ADDR/LEN, e.g. 10.0.0.0/8, ::1)")]
    Net(String),
    #[error("'{0}:' needs a value")]
    Empty(String),
    #[error("unknown filter word '{0}:' (keys: state port sport dport src dst pid proc user)")]
    UnknownKey(String),
    #[error("'{0}' needs a term after it (e.g. !state:listen)")]
    Negation(String),
}

/// A filter: terms that must hold, terms that must not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Of one kind: any; of different kinds: all; words: all.
    pub terms: Vec<Term>,
    /// None of these may hold.
    pub negated: Vec<Term>,
}

/// A token with a colon whose key is no word: an address (`10.0.0.5:443`, `::1`,
/// `[fe80::1]:22`) is a bare word; anything else is an unknown key.
fn looks_like_address(tok: &str) -> bool {
    tok.chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | '[' | ']' | '/' | '%'))
}

fn parse_ports(v: &str) -> Result<Ports, FilterError> {
    let bad = || FilterError::Port(v.into());
    let (lo, hi) = match v.split_once('-') {
        Some((a, b)) => (a.parse::<u16>(), b.parse::<u16>()),
        None => (v.parse::<u16>(), v.parse::<u16>()),
    };
    match (lo, hi) {
        (Ok(lo), Ok(hi)) if lo <= hi => Ok(Ports { lo, hi }),
        _ => Err(bad()),
    }
}

impl Filter {
    /// A filter of these terms.
    pub fn of(terms: impl IntoIterator<Item = Term>) -> Filter {
        let mut f = Filter::default();
        terms.into_iter().for_each(|t| f.add(t));
        f
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.negated.is_empty()
    }

    /// Adds a term that must hold (an alternative to those of its kind).
    pub fn add(&mut self, t: Term) {
        if !self.terms.contains(&t) {
            self.terms.push(t);
        }
    }

    /// `add(Term::Proto(p))`.
    pub fn add_proto(&mut self, p: Proto) {
        self.add(Term::Proto(p));
    }

    /// `add(Term::Family(f))`.
    pub fn add_family(&mut self, f: Family) {
        self.add(Term::Family(f));
    }

    /// `add(Term::State(s))`.
    pub fn add_state(&mut self, s: SockState) {
        self.add(Term::State(s));
    }

    /// Adds a term that must not hold.
    pub fn add_negated(&mut self, t: Term) {
        if !self.negated.contains(&t) {
            self.negated.push(t);
        }
    }

    /// Everything `other` asks for, too.
    pub fn extend(&mut self, other: Filter) {
        other.terms.into_iter().for_each(|t| self.add(t));
        other.negated.into_iter().for_each(|t| self.add_negated(t));
    }

    /// Adds states from a comma-separated list (`--state` and `state:`).
    pub fn add_states(&mut self, list: &str) -> Result<(), FilterError> {
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let st = SockState::parse(part).ok_or_else(|| FilterError::State(part.into()))?;
            self.add(Term::State(st));
        }
        Ok(())
    }

    /// The protocols the filter asks for (empty: any).
    pub fn protos(&self) -> Vec<Proto> {
        self.terms
            .iter()
            .filter_map(|t| match t {
                Term::Proto(p) => Some(*p),
                _ => None,
            })
            .collect()
    }

    /// The families the filter asks for (empty: any).
    pub fn families(&self) -> Vec<Family> {
        self.terms
            .iter()
            .filter_map(|t| match t {
                Term::Family(f) => Some(*f),
                _ => None,
            })
            .collect()
    }

    /// The states the filter asks for (empty: any).
    pub fn states(&self) -> Vec<SockState> {
        self.terms
            .iter()
            .filter_map(|t| match t {
                Term::State(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    /// Parses the language. The empty string is the empty filter.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        let mut toks = text.split_whitespace();
        while let Some(tok) = toks.next() {
            let (negate, tok) = if tok.eq_ignore_ascii_case("not") {
                let next = toks
                    .next()
                    .ok_or_else(|| FilterError::Negation(tok.into()))?;
                (true, next)
            } else if let Some(rest) = tok.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(FilterError::Negation(tok.into()));
                }
                (true, rest)
            } else {
                (false, tok)
            };
            for t in parse_token(tok)? {
                if negate {
                    f.add_negated(t);
                } else {
                    f.add(t);
                }
            }
        }
        Ok(f)
    }

    /// Parses positional words (`porttop list dport:443 !state:listen`).
    pub fn parse_words(words: &[String]) -> Result<Filter, FilterError> {
        Filter::parse(&words.join(" "))
    }

    /// True when whether a socket matches can depend on its owners (`pid:`,
    /// `proc:`, and bare words, which also match process names): then every
    /// socket needs its owners before matching, not only the rows shown.
    pub fn reads_owners(&self) -> bool {
        self.terms
            .iter()
            .chain(&self.negated)
            .any(|t| matches!(t, Term::Pid(_) | Term::Process(_) | Term::Word(_)))
    }

    pub fn matches(&self, snap: &Snapshot, s: &Socket) -> bool {
        // Bit k of `need`: some term of kind k is present; of `got`: one matched.
        let (mut need, mut got) = (0u32, 0u32);
        for t in &self.terms {
            if let Term::Word(w) = t {
                if !word_matches(snap, s, w) {
                    return false;
                }
                continue;
            }
            let bit = 1 << t.kind();
            need |= bit;
            if got & bit == 0 && t.matches(snap, s) {
                got |= bit;
            }
        }
        need == got && !self.negated.iter().any(|t| t.matches(snap, s))
    }
}

/// One token (without its negation) as terms.
fn parse_token(tok: &str) -> Result<Vec<Term>, FilterError> {
    if let Some((raw_key, raw_val)) = tok.split_once(':') {
        // Split the original token: lowercasing can change byte lengths ('Ⱥ' is 2
        // bytes, 'ⱥ' 3), so offsets into a lowercased copy are not offsets into
        // `tok` (found by fuzzing).
        let key = raw_key.to_lowercase();
        let word = WORDS
            .iter()
            .find(|w| matches!(w.does, Does::Key(_)) && w.names.contains(&key.as_str()));
        let Some(Word {
            does: Does::Key(k), ..
        }) = word
        else {
            if looks_like_address(tok) {
                return Ok(vec![Term::Word(tok.to_lowercase())]);
            }
            return Err(FilterError::UnknownKey(key));
        };
        if raw_val.is_empty() {
            return Err(FilterError::Empty(key));
        }
        let mut out = Vec::new();
        for raw in raw_val.split(',').filter(|v| !v.is_empty()) {
            let v = raw.to_lowercase();
            out.push(match k {
                Key::State => {
                    Term::State(SockState::parse(&v).ok_or_else(|| FilterError::State(v.clone()))?)
                }
                Key::Port => Term::Port(parse_ports(&v)?),
                Key::SPort => Term::SPort(parse_ports(&v)?),
                Key::DPort => Term::DPort(parse_ports(&v)?),
                Key::Src => Term::Src(Net::parse(&v).ok_or_else(|| FilterError::Net(v.clone()))?),
                Key::Dst => Term::Dst(Net::parse(&v).ok_or_else(|| FilterError::Net(v.clone()))?),
                Key::Pid => Term::Pid(v.parse().map_err(|_| FilterError::Pid(v.clone()))?),
                Key::Proc => Term::Process(raw.into()),
                Key::User => Term::User(raw.into()),
                Key::Netns => Term::Netns(raw.into()),
            });
        }
        if out.is_empty() {
            return Err(FilterError::Empty(key));
        }
        return Ok(out);
    }
    let lower = tok.to_lowercase();
    let flag = WORDS
        .iter()
        .find(|w| matches!(w.does, Does::Terms(_)) && w.names.contains(&lower.as_str()));
    Ok(match flag {
        Some(Word {
            does: Does::Terms(ts),
            ..
        }) => ts.to_vec(),
        _ => vec![Term::Word(lower)],
    })
}

/// A bare word matches an endpoint (substring of `addr:port`), a port (exactly),
/// the state, a process name (substring), a pid or the user.
fn word_matches(snap: &Snapshot, s: &Socket, w: &str) -> bool {
    if let Ok(p) = w.parse::<u16>() {
        if s.local.port == p || s.remote.map(|r| r.port) == Some(p) {
            return true;
        }
    }
    let ep_hit = |e: Endpoint| e.to_string().contains(w);
    if ep_hit(s.local) || s.remote.is_some_and(ep_hit) {
        return true;
    }
    if s.state.as_str().to_lowercase().contains(w) {
        return true;
    }
    if s.user
        .as_deref()
        .is_some_and(|u| u.to_lowercase().contains(w))
    {
        return true;
    }
    s.pids
        .iter()
        .filter_map(|p| snap.process(*p))
        .any(|p| p.name.to_lowercase().contains(w) || p.pid.to_string() == w)
}

impl fmt::Display for Filter {
    /// The canonical text; `Filter::parse` reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (neg, t) in self
            .terms
            .iter()
            .map(|t| (false, t))
            .chain(self.negated.iter().map(|t| (true, t)))
        {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            if neg {
                f.write_str("!")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
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
            conn: None,
            netns: 0,
            cookie: 0,
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
                    container: None,
                    unit: None,
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
            netns: Vec::new(),
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

    fn p(text: &str) -> Vec<usize> {
        hits(&Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn kinds_combine_with_and_alternatives_with_or() {
        assert_eq!(p("tcp -6"), vec![2]);
        assert_eq!(p("tcp udp"), vec![0, 1, 2, 3]);
        assert_eq!(p("listening"), vec![0, 3]);
        assert_eq!(p("listening tcp"), vec![0]);
        assert_eq!(p("state:TIME_WAIT,estab"), vec![1, 2]);
        assert_eq!(p("state:TIME_WAIT state:estab"), vec![1, 2]);
        // Two ports: either (this kept only the last one).
        assert_eq!(p("port:53 port:8080"), vec![2, 3]);
        assert_eq!(p("port:53,8080"), vec![2, 3]);
        assert_eq!(p("pid:10 pid:20"), vec![0, 1]);
        assert_eq!(p("proc:nginx proc:curl tcp"), vec![0, 1]);
    }

    #[test]
    fn negation_with_bang_or_not() {
        assert_eq!(p("!state:listen"), vec![1, 2, 3]);
        assert_eq!(p("not tcp"), vec![3]);
        assert_eq!(p("NOT listening"), vec![1, 2]);
        assert_eq!(p("tcp !port:443"), vec![2]);
        assert_eq!(p("!proc:curl !proc:nginx"), vec![2, 3]);
        assert_eq!(Filter::parse("!"), Err(FilterError::Negation("!".into())));
        assert!(matches!(
            Filter::parse("tcp not"),
            Err(FilterError::Negation(_))
        ));
    }

    #[test]
    fn sport_dport_and_port_ranges() {
        assert_eq!(p("sport:443"), vec![0]);
        assert_eq!(p("dport:443"), vec![1]);
        assert_eq!(p("dport:443 !state:listen"), vec![1]);
        assert_eq!(p("sport:40000-40001"), vec![1, 2]);
        assert_eq!(p("port:8000-8100"), vec![2]);
        assert_eq!(p("dport:1-65535"), vec![1, 2]);
        assert_eq!(
            Filter::parse("port:9000-8000"),
            Err(FilterError::Port("9000-8000".into()))
        );
    }

    #[test]
    fn src_and_dst_take_addresses_and_cidr_blocks() {
        assert_eq!(p("src:10.0.0.1"), vec![1]);
        assert_eq!(p("src:10.0.0.0/8"), vec![1]);
        assert_eq!(p("dst:10.0.0.5"), vec![1]);
        assert_eq!(p("dst:10.0.0.4/31"), vec![1]);
        assert_eq!(p("dst:10.0.0.6/32"), Vec::<usize>::new());
        assert_eq!(p("src:::1"), vec![2]);
        assert_eq!(p("dst:[::1]"), vec![2]);
        assert_eq!(p("src:::/0"), vec![2, 3]);
        assert_eq!(p("src:0.0.0.0/0"), vec![0, 1]);
        // A v4-mapped address is the v4 one (as the table shows it).
        assert_eq!(p("src:::ffff:10.0.0.1"), vec![1]);
        for bad in ["src:10.0.0.1/33", "dst:nope", "src:::1/129", "dst:10.0.0/8"] {
            assert!(
                matches!(Filter::parse(bad), Err(FilterError::Net(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn port_matches_local_or_remote_and_bare_words_match_names_and_addresses() {
        assert_eq!(p("port:443"), vec![0, 1]);
        assert_eq!(p("proc:NGI"), vec![0]);
        assert_eq!(p("curl"), vec![1]);
        assert_eq!(p("10.0.0.5"), vec![1]);
        assert_eq!(p("10.0.0.5:443"), vec![1]);
        assert_eq!(p("::1"), vec![2]);
        assert_eq!(p("[::1]:8080"), vec![2]);
        assert_eq!(p("pid:10"), vec![0]);
        assert_eq!(p("8080"), vec![2]);
    }

    #[test]
    fn ephemeral_excludes_reserved_ports() {
        assert_eq!(p("ephemeral"), vec![1]);
    }

    #[test]
    fn user_dash_is_sockets_no_user_owns() {
        let mut s = snap();
        s.sockets[2].user = None;
        s.sockets[2].uid = None;
        let f = Filter::parse("user:-").unwrap();
        let got: Vec<usize> = (0..4).filter(|i| f.matches(&s, &s.sockets[*i])).collect();
        assert_eq!(got, vec![2]);
        let f = Filter::parse("user:ROOT").unwrap();
        let got: Vec<usize> = (0..4).filter(|i| f.matches(&s, &s.sockets[*i])).collect();
        assert_eq!(got, vec![0, 1, 3]);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_clear_errors() {
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
        assert!(matches!(
            Filter::parse("port:,"),
            Err(FilterError::Empty(_))
        ));
        // A typo and a key of another tool: errors, not "matches nothing".
        assert_eq!(
            Filter::parse("prot:80"),
            Err(FilterError::UnknownKey("prot".into()))
        );
        assert_eq!(
            Filter::parse("sprt:80"),
            Err(FilterError::UnknownKey("sprt".into()))
        );
        // Addresses with colons stay bare words.
        assert!(Filter::parse("fe80::1 10.0.0.1:80 [::1]:22").is_ok());
    }

    #[test]
    fn case_folding_that_changes_byte_lengths_does_not_panic() {
        // Fuzz crash: "stateȺȺt:Ȥ" sliced the original token at an offset of its
        // lowercase form.
        let text = String::from_utf8_lossy(b"state\xc4\xc8\xbat:\xc4");
        let _ = Filter::parse(&text);
        let _ = Filter::parse("ȺȺȺ:x");
        assert_eq!(
            Filter::parse("PROC:Nginx").unwrap().terms,
            vec![Term::Process("Nginx".into())]
        );
    }

    #[test]
    fn display_parses_back_to_the_same_filter() {
        for text in [
            "tcp -4 state:LISTEN port:80 proc:nginx ephemeral foo",
            "udp -6 pid:3 user:bob",
            "sport:1-2 dport:443 src:10.0.0.0/8 dst:::1 !state:listen not user:- !x",
            "port:53,80 listening [::1]:22 !!y",
        ] {
            let f = Filter::parse(text).unwrap();
            assert_eq!(Filter::parse(&f.to_string()).unwrap(), f, "{text}");
        }
    }

    proptest::proptest! {
        /// Never a panic, in parsing or matching; whatever parses reads back
        /// from its text.
        #[test]
        fn any_token_soup_parses_or_errs_and_reads_back(
            toks in proptest::collection::vec(
                "(!|not |)(tcp|udp|-4|-6|listening|established|ephemeral|state:(listen|estab|tw|x)|(s|d|)port:[0-9]{1,5}(-[0-9]{1,5})?|(src|dst):(10\\.0\\.0\\.[0-9]|::1|fe80::|[0-9.:]{1,8})(/[0-9]{1,3})?|pid:[0-9]{1,3}|proc:[a-zA-Z,]{1,4}|user:[a-z-]{1,3}|[a-z0-9:.!]{1,6}|\\PC{1,3})",
                0..6,
            )
        ) {
            let text = toks.join(" ");
            if let Ok(f) = Filter::parse(&text) {
                let back = Filter::parse(&f.to_string());
                proptest::prop_assert_eq!(back.as_ref(), Ok(&f), "{}", text);
                let s = snap();
                for x in &s.sockets {
                    let _ = f.matches(&s, x);
                }
            }
        }
    }

    #[test]
    fn help_lists_every_key_the_parser_takes() {
        let help = help_text();
        for w in WORDS {
            if let Does::Key(_) = w.does {
                assert!(help.contains(&format!("{}:", w.names[0])), "{}", w.names[0]);
                let probe = format!("{}:1", w.names[0]);
                assert!(
                    !matches!(Filter::parse(&probe), Err(FilterError::UnknownKey(_))),
                    "{probe}"
                );
            }
        }
    }
}
