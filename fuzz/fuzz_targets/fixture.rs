//! Recording/replay JSON: never panics; what parses can be analysed and listed.
#![no_main]
use libfuzzer_sys::fuzz_target;
use porttop::model::PortRange;
use porttop::source::parse_fixture;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(snaps) = parse_fixture(&text, &PortRange::linux_default()) {
        for s in snaps.iter().take(4) {
            let _ = porttop::analysis::pool::analyze(s, Default::default());
            let _ = porttop::analysis::collisions::find(s);
            let mut out = Vec::new();
            let rows: Vec<_> = s.sockets.iter().collect();
            let _ = porttop::output::list_table(&mut out, s, &rows, true);
        }
    }
});
