//! One connection's bytes, plain or TLS (rustls), on a non-blocking socket, so the
//! single I/O thread drives handshakes, request heads and responses of every
//! connection without ever blocking on one.

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// Why a read ended the connection instead of returning bytes.
#[derive(Debug)]
pub enum ReadError {
    /// EOF, reset, or nothing more to do.
    Gone,
    /// A plain HTTP request arrived on the TLS port (answered with a 400 in
    /// clear text, as Go's TLS server does, so a misconfigured scraper is told);
    /// nothing has been read.
    PlainOnTls,
    /// The TLS handshake or a record failed (an alert was sent).
    Tls(String),
}

pub enum Transport {
    Plain(TcpStream),
    Tls {
        sock: TcpStream,
        tls: Box<rustls::ServerConnection>,
        /// Whether the first byte has been looked at (TLS or plain HTTP).
        sniffed: bool,
    },
}

impl Transport {
    pub fn sock(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) | Transport::Tls { sock: s, .. } => s,
        }
    }

    /// Whether the connection has bytes of its own to send (TLS handshake
    /// records): poll for writability too.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls { tls, .. } => tls.wants_write(),
        }
    }

    /// Non-blocking read of request bytes: `Ok(n)` with n > 0; `Err(None)` while
    /// nothing has arrived (would block); `Err(Some(why))` when the connection is
    /// over.
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, Option<ReadError>> {
        match self {
            Transport::Plain(s) => loop {
                match s.read(out) {
                    Ok(0) => return Err(Some(ReadError::Gone)),
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(None),
                    Err(_) => return Err(Some(ReadError::Gone)),
                }
            },
            Transport::Tls { sock, tls, sniffed } => {
                if !*sniffed {
                    let mut first = [0u8; 1];
                    match sock.peek(&mut first) {
                        Ok(0) => return Err(Some(ReadError::Gone)),
                        // A TLS record starts with its content type (22 for a
                        // handshake); a request line starts with a method.
                        Ok(_) if first[0].is_ascii_uppercase() => {
                            return Err(Some(ReadError::PlainOnTls))
                        }
                        Ok(_) => *sniffed = true,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(None),
                        Err(_) => return Err(Some(ReadError::Gone)),
                    }
                }
                loop {
                    match tls.reader().read(out) {
                        Ok(0) => return Err(Some(ReadError::Gone)),
                        Ok(n) => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => return Err(Some(ReadError::Gone)),
                    }
                    flush_tls(sock, tls).map_err(|_| Some(ReadError::Gone))?;
                    match tls.read_tls(sock) {
                        Ok(0) => return Err(Some(ReadError::Gone)),
                        Ok(_) => {
                            if let Err(e) = tls.process_new_packets() {
                                // Tell the peer why (an alert), best effort.
                                let _ = flush_tls(sock, tls);
                                return Err(Some(ReadError::Tls(e.to_string())));
                            }
                            flush_tls(sock, tls).map_err(|_| Some(ReadError::Gone))?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(None),
                        Err(_) => return Err(Some(ReadError::Gone)),
                    }
                }
            }
        }
    }

    /// Non-blocking write of response bytes: how many were taken (0 only for an
    /// empty `data`), or `WouldBlock` while the peer's window and (for TLS) the
    /// library's bounded send buffer are full.
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => loop {
                match s.write(data) {
                    Ok(0) if !data.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => return r,
                }
            },
            Transport::Tls { sock, tls, .. } => {
                flush_tls(sock, tls)?;
                let n = tls.writer().write(data)?;
                // Push what we can now; the rest goes on the next writable poll.
                match flush_tls(sock, tls) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                    _ => {}
                }
                if n == 0 && !data.is_empty() {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Ok(n)
            }
        }
    }

    /// After the last byte of the response: TLS close_notify, everything flushed.
    /// `WouldBlock` means "call again when writable".
    pub fn finish(&mut self, notified: &mut bool) -> io::Result<()> {
        if let Transport::Tls { sock, tls, .. } = self {
            if !*notified {
                tls.send_close_notify();
                *notified = true;
            }
            flush_tls(sock, tls)?;
        }
        Ok(())
    }
}

/// Writes the TLS records the library has queued; `WouldBlock` when the socket is
/// full.
fn flush_tls(sock: &mut TcpStream, tls: &mut rustls::ServerConnection) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_reads_what_arrived_and_says_when_nothing_has() {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (srv, _) = l.accept().unwrap();
        srv.set_nonblocking(true).unwrap();
        let mut t = Transport::Plain(srv);
        let mut buf = [0u8; 16];
        assert!(matches!(t.read(&mut buf), Err(None)));
        c.write_all(b"GET").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(matches!(t.read(&mut buf), Ok(3)));
        drop(c);
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(matches!(t.read(&mut buf), Err(Some(ReadError::Gone))));
    }
}
