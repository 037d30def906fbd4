//! The I/O thread (accept, TLS handshakes, request heads, every response
//! written non-blocking under `poll(2)`) and the worker pools that compute
//! answers. The bounds are described in the parent module.

use super::auth::{Auth, Cached};
use super::conn::{ReadError, Transport};
use super::parse::{self, head_state};
use super::{
    head_bytes, Abort, Access, Body, Handler, Limits, Parsed, Request, Response, Service, Stats,
};
use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A request on its way to a worker.
struct Job {
    id: u64,
    rq: Request,
    /// Check the password (bcrypt) before answering.
    verify: bool,
}

/// A worker's answer.
struct Done {
    id: u64,
    resp: Response,
    head_only: bool,
}

enum Phase {
    Reading {
        buf: Vec<u8>,
        /// Bytes of `buf` already searched for the end of the head.
        scanned: usize,
    },
    /// Waiting for room in a worker queue (until `deadline`).
    Queued(Job),
    /// At a worker.
    Handling,
    Writing(Out),
}

/// A response being written.
struct Out {
    pieces: Vec<Body>,
    piece: usize,
    off: usize,
    started: Instant,
    last_progress: Instant,
    sent: u64,
    /// All bytes handed over; flushing the TLS close_notify.
    closing: bool,
    notified: bool,
}

struct Conn {
    t: Transport,
    peer: SocketAddr,
    phase: Phase,
    /// Ends the head (from the accept) and the wait for a worker queue.
    deadline: Instant,
    heavy: bool,
    /// Plain HTTP came to the TLS port: read it in clear, answer 400 in clear.
    plain_on_tls: bool,
}

/// Starts the I/O thread and the workers; returns at once. The threads live as
/// long as the process.
pub fn spawn(
    listener: TcpListener,
    limits: Limits,
    service: Service,
    access: Access,
    stats: Arc<Stats>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let (wake_rx, wake_tx) = UnixStream::pair()?;
    wake_rx.set_nonblocking(true)?;
    wake_tx.set_nonblocking(true)?;
    let wake_tx = Arc::new(wake_tx);
    let (done_tx, done_rx) = channel::<Done>();
    let pool = |name: &str, n: usize| -> io::Result<SyncSender<Job>> {
        let (tx, rx) = sync_channel::<Job>(limits.queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n.max(1) {
            let (rx, done, wake) = (Arc::clone(&rx), done_tx.clone(), Arc::clone(&wake_tx));
            let (service, auth) = (service.clone(), access.auth.clone());
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || worker(&rx, &service.handler, auth.as_deref(), &done, &wake))?;
        }
        Ok(tx)
    };
    let light = pool("http", limits.workers)?;
    let heavy = pool("http-heavy", limits.heavy_workers)?;
    let mut io = Io {
        limits,
        service,
        access,
        stats,
        conns: HashMap::new(),
        next_id: 0,
        light,
        heavy,
        done: done_rx,
        wake: wake_rx,
        downloads: 0,
    };
    std::thread::Builder::new()
        .name("http-io".into())
        .spawn(move || io.run(&listener))?;
    Ok(())
}

fn worker(
    rx: &Mutex<Receiver<Job>>,
    handler: &Handler,
    auth: Option<&Auth>,
    done: &Sender<Done>,
    wake: &UnixStream,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = next else { return };
        let allowed =
            !job.verify || auth.is_some_and(|a| a.verify(job.rq.authorization.as_deref()));
        // A panicking handler answers 500 and keeps this worker alive: four
        // panics must not leave the server accepting but never answering.
        let resp = if allowed {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&job.rq)))
                .unwrap_or_else(|_| Response::text(500, "internal error\n"))
        } else {
            unauthorized()
        };
        let head_only = job.rq.method == "HEAD";
        if done
            .send(Done {
                id: job.id,
                resp,
                head_only,
            })
            .is_err()
        {
            return;
        }
        // One byte wakes the I/O thread; a full pipe already will.
        let _ = io::Write::write(&mut &*wake, &[1]);
    }
}

fn unauthorized() -> Response {
    let mut r = Response::text(401, "unauthorized\n");
    r.headers
        .push("WWW-Authenticate: Basic realm=\"porttop\", charset=\"UTF-8\"".into());
    r
}

/// Go's answer to plain HTTP on a TLS port, which operators recognise.
const PLAIN_ON_TLS: &str = "Client sent an HTTP request to an HTTPS server.\n";

struct Io {
    limits: Limits,
    service: Service,
    access: Access,
    stats: Arc<Stats>,
    conns: HashMap<u64, Conn>,
    next_id: u64,
    light: SyncSender<Job>,
    heavy: SyncSender<Job>,
    done: Receiver<Done>,
    wake: UnixStream,
    downloads: usize,
}

/// What to do with a connection after a step.
enum Next {
    Keep,
    Close,
    Drop(Abort, String),
}

impl Io {
    fn run(&mut self, listener: &TcpListener) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut ids: Vec<u64> = Vec::new();
        loop {
            fds.clear();
            ids.clear();
            let accepting = self.conns.len() < self.limits.max_conns;
            fds.push(pollfd(
                listener.as_raw_fd(),
                if accepting { libc::POLLIN } else { 0 },
            ));
            fds.push(pollfd(self.wake.as_raw_fd(), libc::POLLIN));
            let now = Instant::now();
            let mut wait = Duration::from_secs(1);
            for (&id, c) in &self.conns {
                let events = match &c.phase {
                    Phase::Reading { .. } => {
                        wait = wait.min(c.deadline.saturating_duration_since(now));
                        libc::POLLIN | if c.t.wants_write() { libc::POLLOUT } else { 0 }
                    }
                    Phase::Queued(_) => {
                        wait = wait.min(Duration::from_millis(2));
                        continue;
                    }
                    Phase::Handling => continue,
                    Phase::Writing(o) => {
                        let check = self.next_write_check(o);
                        wait = wait.min(check.saturating_duration_since(now));
                        libc::POLLOUT
                    }
                };
                fds.push(pollfd(c.t.sock().as_raw_fd(), events));
                ids.push(id);
            }
            let timeout = i32::try_from(wait.as_millis()).unwrap_or(1000) + 1;
            // SAFETY: `fds` is a valid, initialized slice of pollfd for its length,
            // and every fd in it stays open for the duration of the call.
            let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if rc < 0 {
                if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                    std::thread::sleep(Duration::from_millis(10));
                }
                continue;
            }
            if fds[1].revents != 0 {
                let mut sink = [0u8; 256];
                while matches!(io::Read::read(&mut &self.wake, &mut sink), Ok(n) if n > 0) {}
            }
            while let Ok(d) = self.done.try_recv() {
                self.answered(d);
            }
            let ready: Vec<(u64, bool)> = ids
                .iter()
                .zip(&fds[2..])
                .map(|(&id, f)| (id, f.revents != 0))
                .collect();
            for (id, ready) in ready {
                self.step(id, ready);
            }
            let queued: Vec<u64> = self
                .conns
                .iter()
                .filter(|(_, c)| matches!(c.phase, Phase::Queued(_)))
                .map(|(&id, _)| id)
                .collect();
            for id in queued {
                self.step(id, false);
            }
            if fds[0].revents != 0 {
                self.accept(listener);
            }
        }
    }

    fn accept(&mut self, listener: &TcpListener) {
        let now = Instant::now();
        while self.conns.len() < self.limits.max_conns {
            match listener.accept() {
                Ok((s, peer)) => {
                    if s.set_nonblocking(true).is_err() {
                        continue;
                    }
                    let _ = s.set_nodelay(true);
                    set_send_buffer(&s, self.limits.send_buffer);
                    let t = match &self.access.tls {
                        None => Transport::Plain(s),
                        Some(cfg) => match rustls::ServerConnection::new(Arc::clone(cfg)) {
                            Ok(tls) => Transport::Tls {
                                sock: s,
                                tls: Box::new(tls),
                                sniffed: false,
                            },
                            Err(_) => continue,
                        },
                    };
                    let id = self.next_id;
                    self.next_id += 1;
                    self.conns.insert(
                        id,
                        Conn {
                            t,
                            peer,
                            phase: Phase::Reading {
                                buf: Vec::new(),
                                scanned: 0,
                            },
                            deadline: now + self.limits.head_timeout,
                            heavy: false,
                            plain_on_tls: false,
                        },
                    );
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

    /// When a writing connection must next be judged: its stall limit, or the
    /// moment its average falls below the minimum rate.
    fn next_write_check(&self, o: &Out) -> Instant {
        let l = &self.limits;
        let stall = o.last_progress + l.write_timeout;
        let rate = o.started
            + l.write_timeout
            + Duration::from_secs_f64(o.sent as f64 / l.min_rate.max(1) as f64);
        stall.min(rate)
    }

    /// Advances one connection; removes it when it is done.
    fn step(&mut self, id: u64, ready: bool) {
        let Some(mut c) = self.conns.remove(&id) else {
            return;
        };
        let next = match &c.phase {
            Phase::Reading { .. } => self.read(&mut c, ready),
            Phase::Queued(_) => self.dispatch(&mut c, id),
            Phase::Handling => Next::Keep,
            Phase::Writing(_) => self.write(&mut c),
        };
        self.settle(id, c, next);
    }

    /// Puts a connection back, or ends it, as its last step said.
    fn settle(&mut self, id: u64, c: Conn, next: Next) {
        match next {
            Next::Keep => {
                self.conns.insert(id, c);
            }
            Next::Close => self.close(c),
            Next::Drop(why, detail) => {
                self.stats.drop_conn(why, c.peer, &detail);
                if matches!(why, Abort::Stalled | Abort::TooSlow) {
                    abort(&c);
                }
                self.close(c);
            }
        }
    }

    fn close(&mut self, c: Conn) {
        if c.heavy {
            self.downloads -= 1;
        }
        // Unread request bytes would make close() send a reset, which can destroy
        // an error answer before the client reads it: take what is there.
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            if !matches!(io::Read::read(&mut c.t.sock(), &mut sink), Ok(n) if n > 0) {
                break;
            }
        }
        let _ = c.t.sock().shutdown(Shutdown::Write);
    }

    fn read(&mut self, c: &mut Conn, ready: bool) -> Next {
        let now = Instant::now();
        let Phase::Reading { buf, scanned } = &mut c.phase else {
            return Next::Keep;
        };
        let max = self.limits.max_head;
        let mut parsed = None;
        if ready {
            let mut chunk = [0u8; 2048];
            loop {
                // Only the bytes that arrived since the last look (and 3 before
                // them, for an end split across reads) can complete the head: a
                // client trickling a byte at a time must not make every read
                // rescan the whole buffer.
                let from = scanned.saturating_sub(3).min(buf.len());
                let fresh = parse::find_end(&buf[from..]).is_some() || buf.len() >= max;
                *scanned = buf.len();
                if fresh {
                    if let Some(p) = head_state(buf, max) {
                        parsed = Some(p);
                        break;
                    }
                }
                let room = (max - buf.len()).min(chunk.len());
                match c.t.read(&mut chunk[..room]) {
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(None) => break,
                    Err(Some(ReadError::Gone)) => return Next::Close,
                    Err(Some(ReadError::PlainOnTls)) => {
                        // Read the request in clear and answer it in clear, so the
                        // client sees why instead of a reset.
                        let Ok(s) = c.t.sock().try_clone() else {
                            return Next::Close;
                        };
                        c.t = Transport::Plain(s);
                        c.plain_on_tls = true;
                    }
                    Err(Some(ReadError::Tls(e))) => {
                        return Next::Drop(Abort::Tls, format!(": {e}"));
                    }
                }
            }
        }
        let parsed = match parsed {
            Some(p) => p,
            None if now >= c.deadline => {
                if matches!(c.t, Transport::Tls { .. }) && buf.is_empty() {
                    // No request yet over TLS: a 408 could not even be encrypted
                    // meaningfully before the handshake; just close.
                    return Next::Drop(Abort::Tls, ": no request within the head timeout".into());
                }
                Parsed::Error(Response::text(408, "request timeout\n"))
            }
            None => return Next::Keep,
        };
        // From now on the deadline bounds the wait for a worker.
        c.deadline = now + self.limits.head_timeout;
        if c.plain_on_tls {
            return self.start_writing(c, Response::text(400, PLAIN_ON_TLS), false);
        }
        let rq = match parsed {
            Parsed::Error(r) => return self.start_writing(c, r, false),
            Parsed::Request(rq) => rq,
        };
        let mut verify = false;
        if let Some(auth) = &self.access.auth {
            match auth.cached(rq.authorization.as_deref()) {
                Cached::Allowed => {}
                Cached::Denied => return self.start_writing(c, unauthorized(), false),
                Cached::Unknown => verify = true,
            }
        }
        if (self.service.is_heavy)(&rq) {
            if self.downloads >= self.limits.max_downloads {
                let mut r = Response::text(503, "too many downloads in flight, retry later\n");
                r.headers.push("Retry-After: 5".into());
                return self.start_writing(c, r, false);
            }
            self.downloads += 1;
            c.heavy = true;
        }
        c.phase = Phase::Queued(Job { id: 0, rq, verify });
        Next::Keep
    }

    /// Hands a queued request to its pool; a full pool is retried until the
    /// deadline, then answered 503.
    fn dispatch(&mut self, c: &mut Conn, id: u64) -> Next {
        let Phase::Queued(_) = &c.phase else {
            return Next::Keep;
        };
        let Phase::Queued(mut job) = std::mem::replace(&mut c.phase, Phase::Handling) else {
            return Next::Keep;
        };
        job.id = id;
        let pool = if c.heavy || job.verify {
            &self.heavy
        } else {
            &self.light
        };
        match pool.try_send(job) {
            Ok(()) => Next::Keep,
            Err(TrySendError::Disconnected(_)) => Next::Close,
            Err(TrySendError::Full(job)) => {
                if Instant::now() < c.deadline {
                    c.phase = Phase::Queued(job);
                    return Next::Keep;
                }
                self.start_writing(c, Response::text(503, "busy\n"), false)
            }
        }
    }

    fn answered(&mut self, d: Done) {
        let Some(mut c) = self.conns.remove(&d.id) else {
            return;
        };
        let next = self.start_writing(&mut c, d.resp, d.head_only);
        self.settle(d.id, c, next);
    }

    fn start_writing(&mut self, c: &mut Conn, resp: Response, head_only: bool) -> Next {
        self.stats.response(resp.status, c.peer);
        let now = Instant::now();
        let mut pieces = vec![Body::Owned(head_bytes(&resp, &self.access.headers))];
        if !head_only {
            pieces.extend(resp.body);
        }
        c.phase = Phase::Writing(Out {
            pieces,
            piece: 0,
            off: 0,
            started: now,
            last_progress: now,
            sent: 0,
            closing: false,
            notified: false,
        });
        // Most answers fit in the socket buffer: write now, not after a poll.
        self.write(c)
    }

    /// Writes what the peer takes now (at most 1 MiB per round, so one fast
    /// reader cannot starve the others), then judges the reader's pace.
    fn write(&mut self, c: &mut Conn) -> Next {
        let Phase::Writing(o) = &mut c.phase else {
            return Next::Keep;
        };
        let now = Instant::now();
        let mut budget: usize = 1 << 20;
        while !o.closing && budget > 0 {
            let Some(piece) = o.pieces.get(o.piece) else {
                o.closing = true;
                break;
            };
            let rest = &piece.bytes()[o.off..];
            if rest.is_empty() {
                o.piece += 1;
                o.off = 0;
                continue;
            }
            let take = rest.len().min(budget);
            match c.t.write(&rest[..take]) {
                Ok(n) => {
                    o.off += n;
                    o.sent += n as u64;
                    o.last_progress = now;
                    budget -= n.min(budget);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => return Next::Drop(Abort::Reset, String::new()),
            }
        }
        if o.closing {
            return match c.t.finish(&mut o.notified) {
                Ok(()) => Next::Close,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.judge(c, now),
                Err(_) => Next::Close,
            };
        }
        self.judge(c, now)
    }

    fn judge(&self, c: &Conn, now: Instant) -> Next {
        let Phase::Writing(o) = &c.phase else {
            return Next::Keep;
        };
        let l = &self.limits;
        if now.duration_since(o.last_progress) >= l.write_timeout {
            let d = format!(
                ": took nothing for {:?} after {} bytes",
                l.write_timeout, o.sent
            );
            return Next::Drop(Abort::Stalled, d);
        }
        let elapsed = now.duration_since(o.started);
        if elapsed > l.write_timeout {
            let owed = l.min_rate as f64 * (elapsed - l.write_timeout).as_secs_f64();
            if (o.sent as f64) < owed {
                let d = format!(
                    ": {} bytes in {:.1} s, below {} bytes/s",
                    o.sent,
                    elapsed.as_secs_f64(),
                    l.min_rate
                );
                return Next::Drop(Abort::TooSlow, d);
            }
        }
        Next::Keep
    }
}

/// Makes the coming close() send a reset and free the socket's send queue at
/// once. A plain close() would leave the kernel an orphan socket that keeps
/// offering a reader that never reads up to `send_buffer` bytes for minutes.
fn abort(c: &Conn) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on an open socket with a pointer to a linger struct and
    // its size; failure leaves an ordinary close.
    unsafe {
        libc::setsockopt(
            c.t.sock().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

fn set_send_buffer(s: &std::net::TcpStream, bytes: usize) {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt on an open socket with a pointer to a c_int and its size.
    // Failure only leaves the kernel's default: nothing to handle.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn pollfd(fd: std::os::fd::RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}
