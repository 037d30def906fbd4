//! Non-interactive renderers: aligned tables, CSV and JSON, over snapshots and
//! analysis results. They write to any `io::Write`; the caller owns stdout.

mod base64;
pub mod columns;
pub(crate) mod list;
pub mod metrics;
mod pool;
mod safe;
pub use base64::base64;
pub use list::{
    list_csv, list_csv_info, list_json, list_order, list_table, queue_warnings, range_json,
    range_text, snapshot_json, RangeSummary,
};
pub use pool::{
    collision_kind, driver_text, pool_json, pool_nagios, pool_netns_text, pool_text, NETNS_TITLES,
};
pub use safe::{safe, safe_string};

use std::io::{self, Write};

/// Writes rows as left-aligned columns separated by two spaces (the last column is
/// not padded). `right` marks columns aligned to the right (numbers).
pub fn write_table(
    out: &mut dyn Write,
    header: Option<&[&str]>,
    rows: &[Vec<String>],
    right: &[bool],
) -> io::Result<()> {
    let ncol = header
        .map(|h| h.len())
        .or_else(|| rows.first().map(Vec::len))
        .unwrap_or(0);
    let mut width = vec![0usize; ncol];
    let cells = header
        .into_iter()
        .map(|h| h.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned());
    for r in cells.clone() {
        for (i, c) in r.iter().enumerate().take(ncol) {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let mut line = String::new();
    for r in cells {
        line.clear();
        for (i, c) in r.iter().enumerate().take(ncol) {
            let last = i + 1 == ncol;
            let pad = width[i].saturating_sub(c.chars().count());
            if right.get(i).copied().unwrap_or(false) {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            if !last {
                line.push_str("  ");
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `1 port`, `2 ports`, `0 ports`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// Quotes a CSV field when needed (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
