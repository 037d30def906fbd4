//! Pure functions over snapshots: no I/O, no terminal.

pub mod advisor;
pub mod collisions;
pub mod diff;
pub mod pool;

#[cfg(test)]
pub(crate) mod testutil;

/// The malware lookup that collision finding uses (wired to the port data when it
/// exists).
pub fn malware_lookup(_port: u16, _proto: crate::model::Proto) -> Option<String> {
    None
}
