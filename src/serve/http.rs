//! A deliberately small HTTP/1.1 server for three GET endpoints, on std only.
//!
//! Why not a crate: tiny_http 0.12 (the usual small choice) reads each connection's
//! request head on a thread of its own pool, which grows without limit (one thread
//! per idle connection, measured: 300 silent clients -> 287 threads, none ever
//! timed out), buffers a header line without a size limit (one client sending a
//! 64 MiB header line grew the server's RSS by 66 MB) and ends its accept loop for
//! good on the first accept() error (EMFILE). None of that is configurable.
//!
//! Here every resource is bounded:
//! - one accept thread hands connections to a bounded queue ([`Limits::queue`]); when
//!   it is full the connection gets a best-effort `503` and is closed at once;
//! - [`Limits::workers`] threads take connections from the queue, one request each
//!   (`Connection: close`, no keep-alive);
//! - the request head must arrive within [`Limits::head_timeout`] in total (not per
//!   read, so a slowloris client trickling bytes is cut off too) and fit in
//!   [`Limits::max_head`] bytes (else `431`); request bodies are never read;
//! - a response must be written within [`Limits::write_timeout`] in total;
//! - accept() errors (EMFILE...) pause the accept loop briefly, never end it.
//!
//! Worst case under a slowloris flood: all workers are held for `head_timeout`, new
//! connections wait in the queue or get 503, and service resumes within
//! `head_timeout` of the flood stopping. Memory stays at about
//! `(workers + queue) × max_head` plus the shared response bodies.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bounds on the server's resources.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub workers: usize,
    pub queue: usize,
    pub max_head: usize,
    pub head_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 8,
            queue: 64,
            max_head: 8 * 1024,
            head_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// The parts of a request the handler sees.
#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
}

/// One piece of a response body; shared pieces are not copied per request.
#[derive(Clone, Debug)]
pub enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Body {
    fn bytes(&self) -> &[u8] {
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

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Starts the accept thread and the workers; returns at once. The threads live as
/// long as the process.
pub fn spawn(listener: TcpListener, limits: Limits, handler: Handler) -> io::Result<()> {
    let (tx, rx) = sync_channel::<TcpStream>(limits.queue.max(1));
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..limits.workers.max(1) {
        let rx = Arc::clone(&rx);
        let handler = Arc::clone(&handler);
        std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || worker(&rx, limits, &handler))?;
    }
    std::thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || loop {
            match listener.accept() {
                Ok((stream, _)) => match tx.try_send(stream) {
                    Ok(()) => {}
                    Err(TrySendError::Full(s)) => reject_busy(s),
                    Err(TrySendError::Disconnected(_)) => return,
                },
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EMFILE, ENFILE, ENOBUFS...: back off, keep serving.
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        })?;
    Ok(())
}

/// A non-blocking, best-effort 503: the accept thread never waits on a client.
fn reject_busy(s: TcpStream) {
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\
        Retry-After: 1\r\nConnection: close\r\n\r\nbusy\n";
    if s.set_nonblocking(true).is_ok() {
        let _ = (&s).write(BUSY);
    }
}

fn worker(rx: &Mutex<Receiver<TcpStream>>, limits: Limits, handler: &Handler) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(stream) => handle(stream, limits, handler),
            Err(_) => return,
        }
    }
}

/// What reading the request head produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    Complete(Vec<u8>),
    TooLarge,
    /// Timed out, closed early, or a socket error: nothing worth answering.
    Gone,
    TimedOut,
}

/// Reads until the blank line that ends the head, within `max` bytes and `timeout`
/// in total.
pub fn read_head(s: &mut impl ReadTimeout, max: usize, timeout: Duration) -> Head {
    let deadline = Instant::now() + timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if find_end(&buf).is_some() {
            return Head::Complete(buf);
        }
        if buf.len() >= max {
            return Head::TooLarge;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_timeout(left).is_err() {
            return Head::TimedOut;
        }
        let room = (max - buf.len()).min(chunk.len());
        match s.read(&mut chunk[..room]) {
            Ok(0) => return Head::Gone,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Head::TimedOut
            }
            Err(_) => return Head::Gone,
        }
    }
}

/// A reader whose per-read timeout can be set (a `TcpStream`; fakes in tests).
pub trait ReadTimeout: Read {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

/// End of the head: `\r\n\r\n` (or a bare `\n\n` from sloppy clients).
fn find_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    crlf.into_iter().chain(lf).min()
}

/// Parses the request line: `METHOD SP TARGET SP HTTP/1.x`.
pub fn parse_request(head: &[u8]) -> Option<Request> {
    let line_end = head.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end])
        .ok()?
        .trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
        || !version.starts_with("HTTP/1.")
    {
        return None;
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Some(Request {
        method: method.to_string(),
        path: path.to_string(),
    })
}

fn handle(mut s: TcpStream, limits: Limits, handler: &Handler) {
    let _ = s.set_nodelay(true);
    let (resp, head_only) = match read_head(&mut s, limits.max_head, limits.head_timeout) {
        Head::Complete(h) => match parse_request(&h) {
            Some(rq) => (handler(&rq), rq.method == "HEAD"),
            None => (Response::text(400, "bad request\n"), false),
        },
        Head::TooLarge => (Response::text(431, "request head too large\n"), false),
        Head::TimedOut => (Response::text(408, "request timeout\n"), false),
        Head::Gone => return,
    };
    let _ = write_response(&mut s, &resp, head_only, limits.write_timeout);
    let _ = s.shutdown(Shutdown::Write);
}

/// Serializes the status line and headers.
pub fn head_bytes(resp: &Response) -> Vec<u8> {
    let mut h = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.len()
    );
    for line in &resp.headers {
        h.push_str(line);
        h.push_str("\r\n");
    }
    h.push_str("\r\n");
    h.into_bytes()
}

fn write_response(
    s: &mut TcpStream,
    resp: &Response,
    head_only: bool,
    timeout: Duration,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let head = head_bytes(resp);
    let mut pieces: Vec<&[u8]> = vec![&head];
    if !head_only {
        pieces.extend(resp.body.iter().map(Body::bytes));
    }
    for mut piece in pieces {
        while !piece.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            s.set_write_timeout(Some(left))?;
            match s.write(piece) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => piece = &piece[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    s.flush()
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
            b"\r\n\r\n",
        ] {
            assert_eq!(parse_request(bad), None, "{bad:?}");
        }
    }

    struct Slow(Vec<u8>, usize);
    impl Read for Slow {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() {
                std::thread::sleep(Duration::from_millis(30));
                return Err(io::ErrorKind::WouldBlock.into());
            }
            std::thread::sleep(Duration::from_millis(5));
            b[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }
    impl ReadTimeout for Slow {
        fn set_timeout(&mut self, _: Duration) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn head_reading_is_bounded_in_size_and_total_time() {
        let mut ok = Slow(b"GET / HTTP/1.1\r\n\r\n".to_vec(), 0);
        assert!(matches!(
            read_head(&mut ok, 1024, Duration::from_secs(5)),
            Head::Complete(_)
        ));
        let mut huge = Slow(vec![b'a'; 10_000], 0);
        assert_eq!(
            read_head(&mut huge, 64, Duration::from_secs(5)),
            Head::TooLarge
        );
        // A trickle of bytes never completing: cut off by the total deadline.
        let mut trickle = Slow(vec![b'a'; 100_000], 0);
        let t = Instant::now();
        assert_eq!(
            read_head(&mut trickle, 1 << 20, Duration::from_millis(200)),
            Head::TimedOut
        );
        assert!(t.elapsed() < Duration::from_millis(400));
    }

    #[test]
    fn responses_carry_length_and_close() {
        let mut r = Response::text(404, "not found\n");
        r.headers.push("Allow: GET".into());
        let h = String::from_utf8(head_bytes(&r)).unwrap();
        assert!(h.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(h.contains("Content-Length: 10\r\n"));
        assert!(h.contains("Connection: close\r\nAllow: GET\r\n\r\n"));
    }
}
