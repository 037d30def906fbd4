//! Embedded port data: the IANA service registry (TCP and UDP entries, derived
//! from IANA's CSV by `tools/gen_iana.py` into `data/iana-ports.tsv`) and a small
//! hand-written table of ports widely documented as used by malware.
//!
//! Both are compiled into the binary; nothing here does I/O. The IANA table is
//! parsed once, on first use, into a sorted table for binary-search lookups.

mod iana;
mod malware;

pub use iana::{lookup, service_name, services, Kind, Service};
pub use malware::{malware, Malware, MALWARE};
