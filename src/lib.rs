//! porttop: a TCPView-style view of sockets, their processes and ephemeral-port
//! pressure. See DESIGN.md for the module map; data flows
//! source -> Snapshot -> analysis -> output / tui.

pub mod actions;
pub mod analysis;
pub mod cli;
pub mod filter;
pub mod model;
pub mod output;
pub mod ports;
pub mod range;
pub mod serve;
pub mod source;
pub mod tui;
