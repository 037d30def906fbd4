//! Pure functions over snapshots: no I/O, no terminal.

pub mod advisor;
mod analyzer;
pub use analyzer::{Analysis, Analyzer, NetnsPool};
pub mod collisions;
pub mod diff;
pub mod pool;

/// The malware lookup collision finding uses: names of documented malware that
/// used this port, from the embedded table.
pub fn malware_lookup(port: u16, proto: crate::model::Proto) -> Option<String> {
    let names: Vec<&str> = crate::ports::malware(port, proto).map(|m| m.name).collect();
    (!names.is_empty()).then(|| names.join(", "))
}
