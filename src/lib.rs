//! porttop: a TCPView-style view of sockets, their processes and ephemeral-port
//! pressure. See DESIGN.md for the module map; data flows
//! source -> Snapshot -> analysis -> output / tui.

/// `eprintln!` that never panics: the long-running commands log to stderr, and a
/// log pipe that went away (its reader died) must not take the exporter down
/// (`eprintln!` panics when the write fails, e.g. with EPIPE).
#[macro_export]
macro_rules! elog {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod actions;
pub mod analysis;
pub mod cli;
pub mod feed;
pub mod filter;
pub mod model;
pub mod output;
pub mod ports;
pub mod range;
pub mod serve;
pub mod source;
#[cfg(test)]
pub(crate) mod testkit;
pub mod tui;
