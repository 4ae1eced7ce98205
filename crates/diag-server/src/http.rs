//! HTTP/1.1 over a `TcpListener`, with every resource a client controls bounded.
//!
//! One request per connection (`Connection: close`). Each connection gets an IO thread with a
//! small stack that reads the head and body under a deadline; only a complete request reaches
//! the fixed pool of workers that run checks, so a slow or stalled client holds an IO thread
//! until its deadline and never a worker. Limits: the head (request line and headers) to
//! [`MAX_HEAD`] bytes (431), the body to [`api::MAX_BODY`] (413), the open connections to
//! `max_connections` (further ones wait in the listen backlog).
//!
//! Shutdown (SIGTERM, SIGINT): the listener closes, requests already read are answered (running
//! checks finish, queued ones still run), connections still sending their request get 503, and
//! whatever is unfinished after [`SHUTDOWN_GRACE`] is cut off.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::api::{self, Reply};

/// Largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header fields in one request.
const MAX_HEADERS: usize = 100;
/// How long in-flight requests get to finish once shutdown starts.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// Longest a blocking read waits before the deadline and the shutdown flag are looked at again.
const POLL: Duration = Duration::from_millis(200);
/// IO threads only parse and copy bytes; checks run on the workers' normal stacks.
const IO_STACK: usize = 128 * 1024;

/// How the listener treats its clients.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workers running requests (checks) at once.
    pub workers: usize,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send its whole request, and for each write of the answer.
    pub timeout: Duration,
}

/// A complete request as read from the wire. Header names are lower case.
#[derive(Debug)]
pub struct Incoming {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Set once shutdown starts; wakes the accept loop.
#[derive(Clone)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    wake: SocketAddr,
}

impl Stop {
    /// Starts the shutdown: no new connections, in-flight requests finish.
    pub fn trigger(&self) {
        if !self.flag.swap(true, Ordering::SeqCst) {
            // The accept loop blocks in accept(); a connection of our own wakes it.
            let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
        }
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// A bound listener, ready to serve.
pub struct Listener {
    listener: TcpListener,
    stop: Stop,
}

impl Listener {
    pub fn bind(addr: SocketAddr) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr)?;
        let mut wake = listener.local_addr()?;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Ok(Listener {
            listener,
            stop: Stop {
                flag: Arc::default(),
                wake,
            },
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What starts the shutdown of [`Listener::serve`].
    pub fn stop(&self) -> Stop {
        self.stop.clone()
    }

    /// Serves until [`Stop::trigger`], then waits (at most [`SHUTDOWN_GRACE`]) for the requests
    /// in flight. Returns how many were cut off.
    pub fn serve<H>(self, options: &Options, handler: H) -> usize
    where
        H: Fn(&Incoming) -> Reply + Send + Sync + 'static,
    {
        let handler = Arc::new(handler);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..options.workers.max(1) {
            let queue = queue.clone();
            let handler = handler.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{n}"))
                .spawn(move || work(&queue, &*handler));
            if let Err(e) = spawned {
                eprintln!("diag-server: starting worker {n}: {e}");
            }
        }
        let open = Arc::new(Gauge::default());
        for stream in self.listener.incoming() {
            if self.stop.is_set() {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                // A connection reset before accept, or out of descriptors for a moment.
                Err(e) => {
                    eprintln!("diag-server: accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            open.wait_below(options.max_connections.max(1), &self.stop);
            if self.stop.is_set() {
                break;
            }
            let conn = Conn {
                jobs: jobs.clone(),
                stop: self.stop.clone(),
                timeout: options.timeout,
                _slot: open.enter(),
            };
            let spawned = std::thread::Builder::new()
                .name("io".into())
                .stack_size(IO_STACK)
                .spawn(move || conn.run(stream));
            if let Err(e) = spawned {
                eprintln!("diag-server: no thread for a connection: {e}");
            }
        }
        drop(self.listener);
        drop(jobs);
        let in_flight = open.count();
        if in_flight > 0 {
            eprintln!("diag-server: shutting down; {in_flight} requests in flight");
        }
        open.wait_empty(SHUTDOWN_GRACE)
    }
}

/// A request for the workers, and where its answer goes.
struct Job {
    request: Incoming,
    answer: mpsc::SyncSender<Reply>,
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>, handler: &(dyn Fn(&Incoming) -> Reply + Sync)) {
    loop {
        let job = match queue.lock().unwrap_or_else(PoisonError::into_inner).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        // A panic costs its request a 500, not the pool a worker.
        let reply =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&job.request)))
                .unwrap_or_else(|_| {
                    Reply::error(
                        500,
                        "the request failed inside the server",
                        api::wants_json(&job.request.headers),
                    )
                });
        // The client may be gone by now; its answer then goes nowhere.
        let _ = job.answer.send(reply);
    }
}

/// Counts open connections; the accept loop and shutdown wait on it.
#[derive(Default)]
struct Gauge {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Gauge {
    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self) -> usize {
        *self.lock()
    }

    fn enter(self: &Arc<Gauge>) -> Slot {
        *self.lock() += 1;
        Slot(self.clone())
    }

    fn wait_below(&self, max: usize, stop: &Stop) {
        let mut count = self.lock();
        while *count >= max && !stop.is_set() {
            count = self
                .changed
                .wait_timeout(count, POLL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits for zero, at most `grace`; returns what is left.
    fn wait_empty(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        let mut count = self.lock();
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            count = self
                .changed
                .wait_timeout(count, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *count
    }
}

/// One open connection's place in the gauge, given back when dropped.
struct Slot(Arc<Gauge>);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
        self.0.changed.notify_all();
    }
}

/// A connection's IO thread.
struct Conn {
    jobs: mpsc::Sender<Job>,
    stop: Stop,
    timeout: Duration,
    _slot: Slot,
}

/// Why a request could not be read; each becomes an answer, or silence for a vanished client.
enum ReadFailure {
    Reply(Reply),
    Gone,
}

impl Conn {
    fn run(self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(self.timeout));
        let deadline = Instant::now() + self.timeout;
        let reply = match self.read_request(&mut stream, deadline) {
            Ok(request) => {
                let (answer, reply) = mpsc::sync_channel(1);
                let method = request.method.clone();
                let url = request.url.clone();
                if self.jobs.send(Job { request, answer }).is_err() {
                    return;
                }
                // No answer: shutdown's grace ran out with the request still queued.
                let Ok(r) = reply.recv() else { return };
                eprintln!("{method} {url} -> {}", r.status);
                r
            }
            Err(ReadFailure::Gone) => return,
            Err(ReadFailure::Reply(r)) => {
                eprintln!("(request not read) -> {}", r.status);
                r
            }
        };
        if write_reply(&mut stream, &reply).is_err() {
            // The client went away mid-answer: nothing else to do for it.
            return;
        }
        let _ = stream.shutdown(Shutdown::Write);
        drain(&mut stream);
    }

    /// Reads bytes into `buf` until `done` says stop, within the deadline and `cap`.
    fn read_until(
        &self,
        stream: &mut TcpStream,
        buf: &mut Vec<u8>,
        deadline: Instant,
        cap: usize,
        mut done: impl FnMut(&[u8]) -> bool,
        json: bool,
    ) -> Result<(), ReadFailure> {
        let mut chunk = [0u8; 4096];
        while !done(buf) {
            if self.stop.is_set() {
                return Err(ReadFailure::Reply(Reply::error(
                    503,
                    "the server is shutting down",
                    json,
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadFailure::Reply(Reply::error(
                    408,
                    &format!(
                        "the request did not arrive within {} s",
                        self.timeout.as_secs_f64()
                    ),
                    json,
                )));
            }
            let _ = stream.set_read_timeout(Some(left.min(POLL)));
            let room = cap.saturating_sub(buf.len()).min(chunk.len());
            if room == 0 {
                return Ok(());
            }
            match stream.read(&mut chunk[..room]) {
                Ok(0) => return Err(ReadFailure::Gone),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadFailure::Gone),
            }
        }
        Ok(())
    }

    fn read_request(
        &self,
        stream: &mut TcpStream,
        deadline: Instant,
    ) -> Result<Incoming, ReadFailure> {
        let mut buf = Vec::new();
        // Each read looks only at the new bytes (and the three before), never the whole head
        // again: a client sending a byte at a time costs linear time.
        let mut scanned = 0usize;
        self.read_until(
            stream,
            &mut buf,
            deadline,
            MAX_HEAD + 4,
            |b| {
                let from = scanned.saturating_sub(3);
                scanned = b.len();
                head_end(&b[from..]).is_some()
            },
            false,
        )?;
        let Some(end) = head_end(&buf) else {
            return Err(ReadFailure::Reply(Reply::error(
                431,
                &format!("request head over {MAX_HEAD} bytes"),
                false,
            )));
        };
        let head = parse_head(&buf[..end]).map_err(ReadFailure::Reply)?;
        let json = api::wants_json(&head.headers);
        let fail =
            |status: u16, message: &str| ReadFailure::Reply(Reply::error(status, message, json));
        let mut body = buf.split_off(end + 4);
        let header = |name: &'static str| {
            head.headers
                .iter()
                .filter(move |(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        let too_big = || fail(413, &format!("request body over {} bytes", api::MAX_BODY));
        if header("expect").any(|v| !v.eq_ignore_ascii_case("100-continue")) {
            return Err(fail(417, "only `Expect: 100-continue` is understood"));
        }
        let continue_ = header("expect").next().is_some();
        if header("transfer-encoding").next().is_some() && header("content-length").next().is_some()
        {
            return Err(fail(400, "both Transfer-Encoding and Content-Length"));
        }
        let chunked = match header("transfer-encoding").next_back() {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("chunked") => true,
            Some(v) => {
                return Err(fail(
                    501,
                    &format!("transfer coding `{v}` is not supported (send Content-Length)"),
                ));
            }
        };
        let length = if chunked {
            None
        } else {
            let mut lengths = header("content-length").map(|v| v.trim().parse::<u64>());
            match (lengths.next(), lengths.next()) {
                (None, _) => Some(0),
                (Some(Ok(n)), None) => Some(n),
                _ => return Err(fail(400, "malformed Content-Length")),
            }
        };
        if length.is_some_and(|n| n > api::MAX_BODY as u64) {
            return Err(too_big());
        }
        if continue_ && (chunked || length.is_some_and(|n| n > body.len() as u64)) {
            stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(|_| ReadFailure::Gone)?;
        }
        match length {
            Some(n) => {
                let n = n as usize;
                self.read_until(stream, &mut body, deadline, n, |b| b.len() >= n, json)?;
                body.truncate(n);
            }
            None => {
                // Chunked: the raw body (sizes, data, trailers) is bounded by a little more
                // than the limit. It ends with a blank line, and only then is it decoded (one
                // request per connection: nothing follows it).
                let cap = api::MAX_BODY + MAX_HEAD;
                self.read_until(
                    stream,
                    &mut body,
                    deadline,
                    cap,
                    |b| b.ends_with(b"\r\n\r\n") && dechunk(b, api::MAX_BODY) != Chunked::Partial,
                    json,
                )?;
                body = match dechunk(&body, api::MAX_BODY) {
                    Chunked::Done(b) => b,
                    Chunked::TooBig => return Err(too_big()),
                    Chunked::Malformed | Chunked::Partial => {
                        return Err(fail(400, "malformed chunked body"));
                    }
                };
            }
        }
        Ok(Incoming {
            method: head.method,
            url: head.url,
            headers: head.headers,
            body,
        })
    }
}

/// Reads and drops what the client still sends, up to 1 MiB or 1 s: unread request bytes (a
/// refused body) make the close a reset, which can destroy the answer before the client has
/// read it.
fn drain(stream: &mut TcpStream) {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut left = 1usize << 20;
    let mut chunk = [0u8; 4096];
    while left > 0 {
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Where the head ends: the offset of its blank line's `\r\n\r\n`.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

struct Head {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

fn parse_head(raw: &[u8]) -> Result<Head, Reply> {
    let bad = |message: &str| Reply::error(400, message, false);
    let text = std::str::from_utf8(raw).map_err(|_| bad("request head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(url), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(
            "malformed request line (expected `METHOD /path HTTP/1.1`)",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("malformed request method"));
    }
    if !url.starts_with('/') {
        return Err(bad("the request target must be a path"));
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        v if v.starts_with("HTTP/") => {
            return Err(Reply::error(505, "only HTTP/1.0 and 1.1 are served", false));
        }
        _ => return Err(bad("malformed HTTP version")),
    }
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == MAX_HEADERS {
            return Err(Reply::error(
                431,
                &format!("more than {MAX_HEADERS} header fields"),
                false,
            ));
        }
        let (name, value) = line
            .split_once(':')
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(is_token))
            .ok_or_else(|| bad("malformed header field"))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Head {
        method: method.to_owned(),
        url: url.to_owned(),
        headers,
    })
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[derive(Debug, PartialEq, Eq)]
enum Chunked {
    Done(Vec<u8>),
    Partial,
    TooBig,
    Malformed,
}

/// Decodes a chunked body (RFC 9112 §7.1) of at most `max` bytes; extensions and trailers are
/// read and dropped.
fn dechunk(mut raw: &[u8], max: usize) -> Chunked {
    let mut out = Vec::new();
    loop {
        let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
            return Chunked::Partial;
        };
        let size_text = std::str::from_utf8(&raw[..eol]).unwrap_or("!");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Chunked::Malformed;
        };
        raw = &raw[eol + 2..];
        if size == 0 {
            // Trailers, then a blank line.
            loop {
                let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") else {
                    return Chunked::Partial;
                };
                if eol == 0 {
                    return Chunked::Done(out);
                }
                raw = &raw[eol + 2..];
            }
        }
        if out.len().saturating_add(size) > max {
            return Chunked::TooBig;
        }
        if raw.len() < size + 2 {
            return Chunked::Partial;
        }
        if &raw[size..size + 2] != b"\r\n" {
            return Chunked::Malformed;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn write_reply(stream: &mut TcpStream, reply: &Reply) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (name, value) in &reply.headers {
        // Header values come from the server itself; a line break would still split them.
        if !value.contains(['\r', '\n']) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        reply.body.len()
    ));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&reply.body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_decode_within_the_limit() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n", 10),
            Chunked::Done(b"abcde".to_vec())
        );
        assert_eq!(dechunk(b"3\r\nab", 10), Chunked::Partial);
        assert_eq!(dechunk(b"3\r\nabc\r\n0\r\n", 10), Chunked::Partial);
        assert_eq!(dechunk(b"b\r\n", 10), Chunked::TooBig);
        assert_eq!(dechunk(b"zz\r\n", 10), Chunked::Malformed);
        assert_eq!(dechunk(b"3\r\nabcX\r\n", 10), Chunked::Malformed);
    }

    #[test]
    fn heads_parse_or_are_refused_clearly() {
        let head =
            parse_head(b"POST /api/v1/data HTTP/1.1\r\nHost: x\r\nAccept:  application/json ")
                .map_err(|r| r.status)
                .unwrap_or_else(|s| panic!("{s}"));
        assert_eq!(
            (head.method.as_str(), head.url.as_str()),
            ("POST", "/api/v1/data")
        );
        assert_eq!(
            head.headers,
            [
                ("host".into(), "x".into()),
                ("accept".into(), "application/json".into())
            ]
        );
        let status = |raw: &[u8]| parse_head(raw).err().map(|r| r.status);
        assert_eq!(status(b"GET / HTTP/2.0"), Some(505));
        assert_eq!(status(b"GET /"), Some(400));
        assert_eq!(status(b"GET http://x/ HTTP/1.1"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nno colon"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nbad name: x"), Some(400));
        let many = format!("GET / HTTP/1.1{}", "\r\nx: y".repeat(MAX_HEADERS + 1));
        assert_eq!(status(many.as_bytes()), Some(431));
    }
}
