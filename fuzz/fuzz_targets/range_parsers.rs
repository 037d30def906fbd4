//! Every parser of OS text about port ranges, on arbitrary bytes: never panics,
//! and whatever parses is a sane range.
#![no_main]
use libfuzzer_sys::fuzz_target;
use porttop::range::*;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (lo, hi) in [
        parse_linux_port_range(&text),
        parse_range_arg(&text),
        parse_sysctl_portrange(&text),
        parse_netsh_dynamicport(&text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(lo <= hi);
    }
    let _ = windows::parse_reg_query_dword(&text, "MaxUserPort");
    for list in [
        parse_reserved_ports(&text),
        parse_netsh_excluded(&text),
        windows::parse_reg_query_reserved(&text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(list.windows(2).all(|w| w[0].1 < w[1].0), "sorted, merged");
        assert!(list.iter().all(|(a, b)| a <= b));
    }
});
