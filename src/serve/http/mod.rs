//! A deliberately small HTTP/1.1 server (optionally over TLS) for three GET
//! endpoints.
//!
//! Why not a crate: tiny_http 0.12 (the usual small choice) reads each connection's
//! request head on a thread of its own pool, which grows without limit (one thread
//! per idle connection, measured: 300 silent clients -> 287 threads, none ever
//! timed out), buffers a header line without a size limit (one client sending a
//! 64 MiB header line grew the server's RSS by 66 MB) and ends its accept loop for
//! good on the first accept() error (EMFILE). hyper would bring tokio and still
//! leave every bound below (head deadline, minimum read rate of a response,
//! download slots, priority of `/metrics`) to be written around it.
//!
//! Here every resource is bounded and no client can hold another's answer:
//! - one I/O thread accepts, runs TLS handshakes, reads request heads **and writes
//!   every response**, all non-blocking under `poll(2)`: a silent, trickling
//!   (slowloris) or never-reading client holds a connection slot, never a thread;
//!   at most [`Limits::max_conns`] connections are open, beyond that new ones wait
//!   in the kernel's listen backlog;
//! - a head (and the TLS handshake before it) must arrive within
//!   [`Limits::head_timeout`] of the accept, in total (else `408`), and fit in
//!   [`Limits::max_head`] bytes (else `431`); request bodies are never read;
//! - workers only compute answers, which are shared, already-rendered buffers:
//!   [`Limits::workers`] for light requests (`/metrics`, `/healthz`) and
//!   [`Limits::heavy_workers`] for heavy ones ([`Service::is_heavy`]:
//!   `/snapshot.json`) and for bcrypt checks, so light requests never queue behind
//!   heavy ones; each queue is bounded ([`Limits::queue`]; full for
//!   `head_timeout`: `503`);
//! - at most [`Limits::max_downloads`] heavy requests are in flight (else an
//!   immediate `503` with `Retry-After`);
//! - a response is dropped when its reader stalls for [`Limits::write_timeout`] or,
//!   after that much grace, averages less than [`Limits::min_rate`] bytes/s: a
//!   deadline that grew with the size would let a few clients that read one byte a
//!   second keep megabytes pinned for hours;
//! - accept() errors (EMFILE...) pause accepting briefly, never end it;
//! - every response is counted by status, every dropped one by reason
//!   ([`Stats`]), and errors are logged at most once per [`LOG_EVERY`].
//!
//! Memory: about `max_conns × max_head` (4 MiB) for heads, TLS buffers per
//! connection (rustls' send buffer is bounded), plus the shared bodies.

pub mod auth;
mod conn;
mod event;
pub mod parse;
mod stats;

use auth::Auth;
use std::sync::Arc;
use std::time::Duration;

pub use event::spawn;
pub use parse::{head_state, parse_request};
pub use stats::{Abort, Stats, LOG_EVERY};

/// Bounds on the server's resources.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Threads that answer light requests.
    pub workers: usize,
    /// Threads that answer heavy requests and check passwords.
    pub heavy_workers: usize,
    /// Open connections, in any phase.
    pub max_conns: usize,
    /// Requests waiting for a worker, per pool.
    pub queue: usize,
    /// Heavy requests in flight (queued, computed or being written).
    pub max_downloads: usize,
    pub max_head: usize,
    pub head_timeout: Duration,
    /// Longest stall of a reader, and the grace before [`Limits::min_rate`] applies.
    pub write_timeout: Duration,
    /// Bytes per second a reader must average once the grace is over.
    pub min_rate: u64,
    /// The kernel's send buffer per connection (SO_SNDBUF). Left to autotuning,
    /// Linux grows it to 4 MiB (`tcp_wmem`) on loopback at once, so a client
    /// that never reads still "takes" megabytes: the kernel holds them for it
    /// and the pace of the reader cannot be judged.
    pub send_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 4,
            heavy_workers: 2,
            max_conns: 512,
            queue: 64,
            max_downloads: 16,
            max_head: 8 * 1024,
            head_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
            min_rate: 128 * 1024,
            send_buffer: 256 * 1024,
        }
    }
}

/// The parts of a request the handler sees.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query string (absolute-form targets reduced to it).
    pub path: String,
    /// `Accept-Encoding` allows gzip.
    pub accept_gzip: bool,
    /// The `Authorization` field, as sent.
    pub authorization: Option<String>,
}

/// One piece of a response body; shared pieces are not copied per request.
#[derive(Clone, Debug)]
pub enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Body {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Static(b) => b,
            Body::Owned(v) => v,
            Body::Shared(a) => a,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<Body>,
    /// Extra header lines, each without CRLF.
    pub headers: Vec<String>,
}

impl Response {
    pub fn text(status: u16, body: &'static str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: vec![Body::Static(body.as_bytes())],
            headers: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.body.iter().map(|b| b.bytes().len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// What the server serves: the handler, and which requests are heavy (big
/// answers: own workers, bounded downloads).
#[derive(Clone)]
pub struct Service {
    pub handler: Handler,
    pub is_heavy: fn(&Request) -> bool,
}

/// How the server is reached: TLS, Basic auth, header lines added to every
/// answer (the web config's `http_server_config.headers`).
#[derive(Clone, Default)]
pub struct Access {
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub auth: Option<Arc<Auth>>,
    pub headers: Vec<String>,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// What a complete (or failed) request head turned into.
#[derive(Debug)]
pub enum Parsed {
    Request(Request),
    /// Answer this and close (400, 408, 431).
    Error(Response),
}

/// Serializes the status line and headers.
pub fn head_bytes(resp: &Response, extra: &[String]) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.len()
    );
    for line in resp.headers.iter().chain(extra) {
        h.push_str(line);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_length_and_close() {
        let mut r = Response::text(404, "not found\n");
        r.headers.push("Allow: GET".into());
        let h = String::from_utf8(head_bytes(&r, &["X-Frame-Options: deny".into()])).unwrap();
        assert!(h.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(h.contains("Content-Length: 10\r\n"));
        assert!(h.contains("Connection: close\r\nAllow: GET\r\nX-Frame-Options: deny\r\n\r\n"));
    }
}
