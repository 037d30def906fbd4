//! Fixed snapshots for the TUI's tests (fixed host and time: stable snapshots).

use crate::model::{Endpoint, Family, PortRange, Process, Proto, Snapshot, SockState, Socket};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const T0: u64 = 1_700_000_000_000;

pub fn ep(a: &str, p: u16) -> Endpoint {
    Endpoint::new(a.parse().expect("test address"), p)
}

pub fn sock(
    proto: Proto,
    local: Endpoint,
    remote: Option<Endpoint>,
    state: SockState,
    inode: u64,
    pid: Option<u32>,
) -> Socket {
    Socket {
        proto,
        family: if local.addr.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        },
        local,
        remote,
        state,
        uid: Some(1000),
        user: Some("alice".into()),
        inode: (inode != 0).then_some(inode),
        pids: pid.into_iter().collect(),
        time_wait_left_ms: None,
        conn: None,
        netns: 0,
        cookie: 0,
    }
}

pub fn snap(sockets: Vec<Socket>, at: u64) -> Snapshot {
    let mut processes = BTreeMap::new();
    for (pid, name) in [
        (100, "nginx"),
        (200, "curl"),
        (300, "postgres"),
        (400, "dnsmasq"),
    ] {
        processes.insert(
            pid,
            Arc::new(Process {
                pid,
                name: name.into(),
                uid: Some(1000),
                user: Some("alice".into()),
                cmdline: format!("/usr/bin/{name} --flag"),
                container: None,
                unit: None,
            }),
        );
    }
    Snapshot {
        taken_at_ms: at,
        host: "testhost".into(),
        range: PortRange::new(32768, 60999, vec![(40000, 40009)], "test"),
        partial: false,
        counters: None,
        sockets,
        processes,
        netns: Vec::new(),
    }
}

/// A small, varied table: listeners, connections, TIME-WAIT, UDP, IPv6, a
/// listener on an ephemeral port (collision risk).
pub fn base() -> Snapshot {
    use Proto::*;
    use SockState::*;
    snap(
        vec![
            sock(Tcp, ep("0.0.0.0", 443), None, Listen, 1, Some(100)),
            sock(Tcp, ep("0.0.0.0", 80), None, Listen, 2, Some(100)),
            sock(
                Tcp,
                ep("10.0.0.1", 40100),
                Some(ep("10.0.0.5", 443)),
                Established,
                3,
                Some(200),
            ),
            sock(
                Tcp,
                ep("10.0.0.1", 40101),
                Some(ep("10.0.0.5", 443)),
                TimeWait,
                0,
                None,
            ),
            sock(
                Tcp,
                ep("10.0.0.1", 9000),
                Some(ep("10.0.0.7", 5432)),
                Established,
                4,
                Some(300),
            ),
            sock(Tcp, ep("127.0.0.1", 45000), None, Listen, 5, Some(300)),
            sock(Udp, ep("::", 53), None, Unconn, 6, Some(400)),
            sock(
                Tcp,
                ep("fe80::1", 50000),
                Some(ep("2001:db8::2", 8080)),
                Established,
                7,
                Some(200),
            ),
        ],
        T0,
    )
}

/// `base()` one refresh later: :80 closed, 40100 changed state, 41000 is new.
pub fn changed() -> Snapshot {
    let mut s = base();
    s.sockets.remove(1);
    s.sockets[1].state = SockState::FinWait1;
    s.sockets.push(sock(
        Proto::Tcp,
        ep("10.0.0.1", 41000),
        Some(ep("10.0.0.5", 443)),
        SockState::SynSent,
        99,
        Some(200),
    ));
    s.taken_at_ms += 1000;
    s
}

/// An app fed the way the runtime feeds it: each snapshot analysed by the one
/// `analysis::Analyzer`, merged and listed by a `Preparer` for the app's spec
/// now, and received as a prepared refresh.
pub struct Fed {
    pub app: crate::tui::app::App,
    analyzer: crate::analysis::Analyzer,
    prep: crate::tui::prep::Preparer,
}

impl Fed {
    pub fn new(app: crate::tui::app::App) -> Self {
        Fed {
            app,
            analyzer: crate::analysis::Analyzer::new(Default::default(), crate::tui::alerts::TOP),
            prep: crate::tui::prep::Preparer::new(2, crate::feed::Feed::privileged()),
        }
    }

    /// One refresh of `s` (none while paused: a paused feed takes none).
    pub fn snapshot(&mut self, s: Snapshot) {
        if self.app.pace.paused {
            return;
        }
        let alerts = self.analyzer.analyze(&s).into();
        let p = self
            .prep
            .prepare(s, alerts, &self.app.spec, self.app.spec_version());
        self.app
            .receive(crate::tui::app::Msg::Prepared(Box::new(p)));
    }
}

impl std::ops::Deref for Fed {
    type Target = crate::tui::app::App;
    fn deref(&self) -> &Self::Target {
        &self.app
    }
}

impl std::ops::DerefMut for Fed {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.app
    }
}
