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
//! - one I/O thread accepts and reads request heads of every connection with
//!   `poll(2)`, so silent or trickling (slowloris) clients hold a slot, not a
//!   thread; at most [`Limits::max_pending`] heads are in flight, beyond that new
//!   connections wait in the kernel's listen backlog;
//! - a head must arrive within [`Limits::head_timeout`] of the accept, in total
//!   (else `408`), and fit in [`Limits::max_head`] bytes (else `431`); request
//!   bodies are never read;
//! - complete requests go through a bounded queue ([`Limits::queue`]; full: a
//!   best-effort `503`) to [`Limits::workers`] threads, one request per connection
//!   (`Connection: close`), and a response must be written within
//!   [`Limits::write_timeout`] in total;
//! - accept() errors (EMFILE...) pause accepting briefly, never end it.
//!
//! Memory stays at about `max_pending × max_head` (4 MiB) plus the shared bodies.
//! Left open: a client that reads its response very slowly holds a worker for up
//! to `write_timeout`; four such clients delay other scrapes by that much.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bounds on the server's resources.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub workers: usize,
    /// Connections whose request head is still arriving.
    pub max_pending: usize,
    pub queue: usize,
    pub max_head: usize,
    pub head_timeout: Duration,
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            workers: 4,
            max_pending: 512,
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

/// A connection whose request head is still arriving.
struct Pending {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes of `buf` already searched for the end of the head (minus 3 for an
    /// end split across reads).
    scanned: usize,
    deadline: Instant,
    /// A complete head waiting for room in the worker queue.
    parsed: Option<Parsed>,
}

/// Starts the I/O thread (accept + read heads) and the workers; returns at once.
/// The threads live as long as the process.
pub fn spawn(listener: TcpListener, limits: Limits, handler: Handler) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let (tx, rx) = sync_channel::<(TcpStream, Parsed)>(limits.queue.max(1));
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..limits.workers.max(1) {
        let rx = Arc::clone(&rx);
        let handler = Arc::clone(&handler);
        std::thread::Builder::new()
            .name(format!("http-{i}"))
            .spawn(move || worker(&rx, limits, &handler))?;
    }
    std::thread::Builder::new()
        .name("http-io".into())
        .spawn(move || io_loop(&listener, limits, &tx))?;
    Ok(())
}

/// One thread polls the listener and every connection whose head is incomplete,
/// so silent or trickling clients cost a slot, never a worker. While
/// `max_pending` heads are in flight the listener is not polled: new connections
/// wait in the kernel's backlog (backpressure, no memory).
fn io_loop(listener: &TcpListener, limits: Limits, tx: &SyncSender<(TcpStream, Parsed)>) {
    let mut pending: Vec<Pending> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        fds.clear();
        let accepting = pending.len() < limits.max_pending;
        fds.push(pollfd(listener.as_raw_fd(), accepting));
        fds.extend(
            pending
                .iter()
                .map(|p| pollfd(p.stream.as_raw_fd(), p.parsed.is_none())),
        );
        let now = Instant::now();
        let queued = pending.iter().any(|p| p.parsed.is_some());
        let wait = pending
            .iter()
            .map(|p| p.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_millis(if queued { 2 } else { 1000 }));
        let timeout = i32::try_from(wait.as_millis()).unwrap_or(1000) + 1;
        // SAFETY: `fds` is a valid, initialized slice of pollfd for its length, and
        // every fd in it stays open for the duration of the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if rc < 0 {
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        let now = Instant::now();
        // Backwards, so that swap_remove only moves already-visited entries.
        for i in (0..pending.len()).rev() {
            if pending[i].parsed.is_none() {
                let outcome = if fds[i + 1].revents != 0 {
                    read_available(&mut pending[i], limits.max_head)
                } else {
                    Step::More
                };
                match outcome {
                    Step::More if now >= pending[i].deadline => {
                        let r = Response::text(408, "request timeout\n");
                        pending[i].parsed = Some(Parsed::Error(r));
                    }
                    Step::More => continue,
                    Step::Gone => {
                        drop(pending.swap_remove(i));
                        continue;
                    }
                    Step::Done(parsed) => {
                        // From now on the deadline bounds the wait for a worker.
                        pending[i].deadline = now + limits.head_timeout;
                        pending[i].parsed = Some(parsed);
                    }
                }
            }
            let p = pending.swap_remove(i);
            if let Some(p) = dispatch(tx, p, now) {
                // Queue full, still in time: keep it at the end (already visited).
                pending.push(p);
            }
        }
        if fds[0].revents != 0 {
            while pending.len() < limits.max_pending {
                match listener.accept() {
                    Ok((s, _)) => {
                        if s.set_nonblocking(true).is_ok() {
                            pending.push(Pending {
                                stream: s,
                                buf: Vec::new(),
                                scanned: 0,
                                deadline: now + limits.head_timeout,
                                parsed: None,
                            });
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // EMFILE, ENFILE, ENOBUFS...: back off, keep serving.
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        break;
                    }
                }
            }
        }
    }
}

fn pollfd(fd: RawFd, read: bool) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: if read { libc::POLLIN } else { 0 },
        revents: 0,
    }
}

enum Step {
    More,
    Gone,
    Done(Parsed),
}

/// Reads what a non-blocking connection has, up to `max` bytes of head in total.
fn read_available(p: &mut Pending, max: usize) -> Step {
    let mut chunk = [0u8; 2048];
    // Only the bytes that arrived since the last look (and 3 before them, for an
    // end split across reads) can complete the head: a client trickling a byte at
    // a time must not make every read rescan the whole buffer.
    loop {
        let from = p.scanned.saturating_sub(3).min(p.buf.len());
        let fresh = find_end(&p.buf[from..]).is_some() || p.buf.len() >= max;
        p.scanned = p.buf.len();
        if fresh {
            if let Some(done) = head_state(&p.buf, max) {
                return Step::Done(done);
            }
        }
        let room = (max - p.buf.len()).min(chunk.len());
        match p.stream.read(&mut chunk[..room]) {
            Ok(0) => return Step::Gone,
            Ok(n) => p.buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::More,
            Err(_) => return Step::Gone,
        }
    }
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

/// Hands a parsed connection to the workers. When the queue is full it comes back
/// to wait (its `deadline` bounds that), and past the deadline gets a best-effort
/// 503: the I/O thread never blocks on a client.
fn dispatch(tx: &SyncSender<(TcpStream, Parsed)>, mut p: Pending, now: Instant) -> Option<Pending> {
    let parsed = p.parsed.take()?;
    match tx.try_send((p.stream, parsed)) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => None,
        Err(TrySendError::Full((stream, parsed))) => {
            if now < p.deadline {
                p.stream = stream;
                p.parsed = Some(parsed);
                return Some(p);
            }
            let mut busy = head_bytes(&Response::text(503, "busy\n"));
            busy.extend_from_slice(b"busy\n");
            let _ = (&stream).write(&busy);
            let _ = stream.shutdown(Shutdown::Write);
            None
        }
    }
}

fn worker(rx: &Mutex<Receiver<(TcpStream, Parsed)>>, limits: Limits, handler: &Handler) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok((mut s, parsed)) = next else { return };
        let _ = s.set_nonblocking(false);
        let _ = s.set_nodelay(true);
        let (resp, head_only) = match parsed {
            // A panicking handler answers 500 and keeps this worker alive: four
            // panics must not leave the server accepting but never answering.
            Parsed::Request(rq) => (
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&rq)))
                    .unwrap_or_else(|_| Response::text(500, "internal error\n")),
                rq.method == "HEAD",
            ),
            Parsed::Error(r) => (r, false),
        };
        let _ = write_response(&mut s, &resp, head_only, limits.write_timeout);
        let _ = s.shutdown(Shutdown::Write);
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
    let head = head_bytes(resp);
    let mut pieces: Vec<&[u8]> = vec![&head];
    if !head_only {
        pieces.extend(resp.body.iter().map(Body::bytes));
    }
    // A total deadline (a slow reader must not hold a worker for long), grown by
    // a second per MiB so a large /snapshot.json reaches an ordinary client whole.
    let bytes: usize = pieces.iter().map(|p| p.len()).sum();
    let deadline = Instant::now() + timeout + Duration::from_secs_f64(bytes as f64 / 1_048_576.0);
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

    #[test]
    fn a_head_whose_end_is_split_across_reads_is_found() {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (srv, _) = l.accept().unwrap();
        srv.set_nonblocking(true).unwrap();
        let mut p = Pending {
            stream: srv,
            buf: Vec::new(),
            scanned: 0,
            deadline: Instant::now(),
            parsed: None,
        };
        let mut feed = |bytes: &[u8], p: &mut Pending| {
            c.write_all(bytes).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
            read_available(p, 8192)
        };
        assert!(matches!(
            feed(b"GET /metrics HTTP/1.1\r\nHost: x\r", &mut p),
            Step::More
        ));
        assert!(matches!(feed(b"\n\r", &mut p), Step::More));
        match feed(b"\n", &mut p) {
            Step::Done(Parsed::Request(rq)) => assert_eq!(rq.path, "/metrics"),
            _ => panic!("the head was complete"),
        }
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
