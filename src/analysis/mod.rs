//! Pure functions over snapshots: no I/O, no terminal.

pub mod advisor;
pub mod collisions;
pub mod diff;
pub mod pool;

#[cfg(test)]
pub(crate) mod testutil;
