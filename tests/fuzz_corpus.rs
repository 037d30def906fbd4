//! The fuzz targets' corpora (seeds and every crash found, kept as regression
//! inputs under fuzz/corpus/) through the same parsers, in the normal test run:
//! no panic, and whatever parses is sane.

use porttop::filter::Filter;
use porttop::model::PortRange;
use porttop::range::*;
use std::path::Path;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no corpus for {target}");
    v
}

#[test]
fn range_parser_corpus() {
    for (name, data) in inputs("range_parsers") {
        let text = String::from_utf8_lossy(&data);
        for r in [
            parse_linux_port_range(&text),
            parse_range_arg(&text),
            parse_sysctl_portrange(&text),
            parse_netsh_dynamicport(&text),
        ]
        .into_iter()
        .flatten()
        {
            assert!(r.0 <= r.1, "{name}");
        }
        if let Ok(Some(v)) = windows::parse_reg_query_dword(&text, "MaxUserPort") {
            // Whatever the registry says, the table answers or refuses; never panics.
            for version in windows::WindowsVersion::ALL {
                if let Ok(d) = windows::derive(version, Some(v), None) {
                    assert!(d.low <= d.high, "{name}");
                }
            }
        }
        for l in [
            parse_reserved_ports(&text),
            parse_netsh_excluded(&text),
            windows::parse_reg_query_reserved(&text),
        ]
        .into_iter()
        .flatten()
        {
            assert!(l.windows(2).all(|w| w[0].1 < w[1].0), "{name}");
        }
    }
}

#[test]
fn filter_corpus() {
    for (name, data) in inputs("filter") {
        let text = String::from_utf8_lossy(&data);
        if let Ok(f) = Filter::parse(&text) {
            let again = Filter::parse(&f.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(again.to_string(), f.to_string(), "{name}");
        }
    }
}

#[test]
fn fixture_corpus() {
    for (_, data) in inputs("fixture") {
        let text = String::from_utf8_lossy(&data);
        if let Ok(snaps) = porttop::source::parse_fixture(&text, &PortRange::linux_default()) {
            for s in snaps.iter().take(4) {
                let _ = porttop::analysis::pool::analyze(s, Default::default());
                let _ =
                    porttop::analysis::collisions::find_with(s, &porttop::analysis::malware_lookup);
            }
        }
    }
}
