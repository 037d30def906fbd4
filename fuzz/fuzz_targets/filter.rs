//! The filter language: never panics, and its text form reads back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use porttop::filter::Filter;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(f) = Filter::parse(&text) {
        let again = Filter::parse(&f.to_string()).expect("display parses back");
        assert_eq!(again.to_string(), f.to_string());
    }
});
