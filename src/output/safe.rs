//! The one sanitiser for text that comes from the system or a file (process
//! names, command lines, user and host names, recordings) on its way to a
//! terminal, a CSV cell or a Prometheus label.
//!
//! Any user can put control characters in a process name (`prctl(PR_SET_NAME)`
//! needs no privilege) or a command line; printed raw, `ESC ] 0 ; ... BEL` retitles
//! root's terminal and `ESC [ 2 J` clears it. So every such text goes through
//! [`safe`] before it is shown: C0 controls, DEL and C1 controls are written as
//! `\xNN` (the character's code, two hex digits, as `ss` does for odd bytes in
//! names), and the Unicode bidirectional overrides and isolates and the line and
//! paragraph separators (which reorder or break what follows them: "Trojan
//! Source", CVE-2021-42574) as `\u{NNNN}`. Everything else, including
//! non-ASCII letters, is kept. JSON output does not use this: it keeps the exact
//! value, and JSON's own escapes make it safe.

use std::borrow::Cow;

/// Whether `c` is written escaped by [`safe`].
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with control characters shown escaped (see the module doc); borrowed when
/// nothing needed escaping, which is almost always.
pub fn safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// [`safe`], owned.
pub fn safe_string(s: &str) -> String {
    safe(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(safe("nginx"), "nginx");
        assert!(matches!(safe("nginx"), Cow::Borrowed(_)));
        assert_eq!(safe("a\x1b]0;x\x07b"), "a\\x1b]0;x\\x07b");
        assert_eq!(safe("a\nb\tc\r\0"), "a\\x0ab\\x09c\\x0d\\x00");
        assert_eq!(safe("\x7f\u{9b}"), "\\x7f\\x9b");
        assert_eq!(safe("ab\u{202e}cd\u{2066}"), "ab\\u{202e}cd\\u{2066}");
        assert_eq!(safe("grüße 名前 \\x1b"), "grüße 名前 \\x1b");
    }

    proptest::proptest! {
        #[test]
        fn output_has_no_control_characters(s in "\\PC*|[\\x00-\\x1f\\x7f-\\u{9f}a-z]*") {
            let out = safe(&s);
            proptest::prop_assert!(!out.chars().any(unsafe_char));
            if !s.chars().any(unsafe_char) {
                proptest::prop_assert_eq!(out.as_ref(), s.as_str());
            }
        }
    }
}
