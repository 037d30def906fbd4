//! Request heads: where they end, the request line (origin- and absolute-form) and
//! the two header fields the server acts on (`Authorization`, `Accept-Encoding`).
//! Pure, so it is tested on literal bytes.

use super::{Parsed, Request, Response};

/// End of the head: `\r\n\r\n` (or a bare `\n\n` from sloppy clients).
pub fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    crlf.into_iter().chain(lf).min()
}

/// What the bytes received so far amount to: None while the head is incomplete
/// and under `max` bytes.
pub fn head_state(buf: &[u8], max: usize) -> Option<Parsed> {
    if find_end(buf).is_some() {
        return Some(match parse_request(buf) {
            Some(rq) => Parsed::Request(rq),
            None => Parsed::Error(Response::text(400, "bad request\n")),
        });
    }
    (buf.len() >= max).then(|| Parsed::Error(Response::text(431, "request head too large\n")))
}

/// Parses the request line `METHOD SP TARGET SP HTTP/1.x` and the header fields
/// the server uses. The target is origin-form (`/metrics`) or absolute-form
/// (`http://host:port/metrics`), which RFC 9112 §3.2.2 says a server must accept
/// (proxies and some clients send it).
pub fn parse_request(head: &[u8]) -> Option<Request> {
    // Header lines that are not UTF-8 are skipped; only the request line must be.
    let mut lines = head
        .split(|b| *b == b'\n')
        .map(|l| std::str::from_utf8(l).map(|l| l.trim_end_matches('\r')));
    let line = lines.next()?.ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    let target = origin_form(target)?;
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let mut rq = Request {
        method: method.to_string(),
        path: path.to_string(),
        accept_gzip: false,
        authorization: None,
    };
    for field in lines.take_while(|l| l.as_ref().map_or(true, |l| !l.is_empty())) {
        let Some((name, value)) = field.ok().and_then(|f| f.split_once(':')) else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("accept-encoding") {
            rq.accept_gzip |= accepts_gzip(value);
        } else if name.eq_ignore_ascii_case("authorization") {
            rq.authorization = Some(value.to_string());
        }
    }
    Some(rq)
}

/// `/x` stays; `http://host[:port]/x` (or `https://`) becomes `/x`, and
/// `http://host` becomes `/`. Anything else is not a request target we serve.
fn origin_form(target: &str) -> Option<&str> {
    if target.starts_with('/') {
        return Some(target);
    }
    let scheme_end = target.find("://")?;
    if !["http", "https"]
        .iter()
        .any(|s| target[..scheme_end].eq_ignore_ascii_case(s))
    {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if authority_end == 0 {
        return None;
    }
    match &rest[authority_end..] {
        "" => Some("/"),
        p if p.starts_with('/') => Some(p),
        // `http://host?q`: the path is empty, which means "/".
        _ => Some("/"),
    }
}

/// Whether an `Accept-Encoding` value allows gzip: a `gzip` (or `x-gzip`, or `*`)
/// coding whose weight is not 0 (RFC 9110 §12.5.3).
pub fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let named = ["gzip", "x-gzip", "*"]
            .iter()
            .any(|c| coding.eq_ignore_ascii_case(c));
        let q_zero = parts.any(|p| {
            let p = p.trim();
            p.len() > 2
                && p[..2].eq_ignore_ascii_case("q=")
                && p[2..].trim().parse::<f64>().is_ok_and(|q| q <= 0.0)
        });
        named && !q_zero
    })
}

/// The user and password of an `Authorization: Basic <base64>` value.
pub fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64_decode(token.trim())?;
    let text = String::from_utf8(raw).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Standard base64 with padding (RFC 4648 §4), as Basic auth uses it.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i + 1 == bytes.len() / 4;
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let got = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&got[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_parse_strictly() {
        let rq = parse_request(b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!(rq.method, "GET");
        assert_eq!(rq.path, "/metrics");
        assert!(parse_request(b"GET /x HTTP/1.0\n\n").is_some());
        for bad in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"get / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2 extra\r\n\r\n",
            b"GET / SPDY/3\r\n\r\n",
            b"GET ftp://host/metrics HTTP/1.1\r\n\r\n",
            b"GET http:///metrics HTTP/1.1\r\n\r\n",
            b"\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn absolute_form_targets_are_accepted() {
        for (target, path) in [
            ("http://localhost:6996/metrics", "/metrics"),
            ("HTTP://10.0.0.5/healthz?x=1", "/healthz"),
            ("https://[::1]:6996/snapshot.json", "/snapshot.json"),
            ("http://host", "/"),
            ("http://host?q=1", "/"),
        ] {
            let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
            let rq = parse_request(head.as_bytes()).unwrap_or_else(|| panic!("{target}"));
            assert_eq!(rq.path, path, "{target}");
        }
    }

    #[test]
    fn accept_encoding_and_authorization_are_read() {
        let rq = parse_request(
            b"GET /metrics HTTP/1.1\r\naccept-encoding: gzip\r\n\
              Authorization: Basic dXNlcjpwYTpzcw==\r\n\r\n",
        )
        .unwrap();
        assert!(rq.accept_gzip);
        let auth = rq.authorization.as_deref().unwrap();
        assert_eq!(
            basic_credentials(auth),
            Some(("user".into(), "pa:ss".into()))
        );
        for (v, gz) in [
            ("gzip", true),
            ("deflate, gzip;q=1.0, *;q=0.5", true),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("identity", false),
            ("br, x-gzip", true),
            ("*", true),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(v), gz, "{v}");
        }
        for bad in [
            "Bearer abc",
            "Basic !!!!",
            "Basic dXNlcg==",
            "Basic dXN=lcjpw",
            "Basic",
        ] {
            assert_eq!(basic_credentials(bad), None, "{bad}");
        }
        assert_eq!(base64_decode("YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64_decode("YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode("YWJj"), Some(b"abc".to_vec()));
        assert_eq!(base64_decode(""), Some(Vec::new()));
    }

    #[test]
    fn heads_are_bounded_and_judged_when_complete() {
        assert!(head_state(b"GET / HTTP/1.1\r\nHost: a\r\n", 1024).is_none());
        assert!(matches!(
            head_state(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1024),
            Some(Parsed::Request(_))
        ));
        match head_state(&[b'a'; 64], 64) {
            Some(Parsed::Error(r)) => assert_eq!(r.status, 431),
            other => panic!("{other:?}"),
        }
        match head_state(b"\x16\x03\x01garbage\r\n\r\n", 1024) {
            Some(Parsed::Error(r)) => assert_eq!(r.status, 400),
            other => panic!("{other:?}"),
        }
    }
}
