//! Just enough HTTP/1.x (RFC 9112) for a demo service that load tests hammer:
//! resumable request-head parsing, keep-alive rules, Content-Length bodies,
//! and responses that always carry Content-Length.

use std::io::{self, Read};
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest request head we accept; real clients send far less.
pub const MAX_HEAD: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    Empty,
    Length(u64),
    /// Transfer-Encoding (chunked) request bodies are not supported.
    TransferEncoded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the client allows the connection to stay open after the response.
    pub keep_alive: bool,
    pub expect_continue: bool,
    pub body: Body,
}

impl Request {
    /// The path without query string; absolute-form targets (as sent to
    /// proxies) are reduced to their path too.
    pub fn path(&self) -> &str {
        let mut target = self.target.as_str();
        if let Some(rest) = target.strip_prefix("http://") {
            target = rest.find('/').map_or("/", |i| &rest[i..]);
        }
        target.split(['?', '#']).next().unwrap_or(target)
    }
}

#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Malformed(&'static str),
    TooLarge,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// Reads requests off one connection. Bytes past the current request (the
/// body, pipelined requests) stay buffered for the next call.
pub struct RequestReader<R> {
    inner: R,
    buf: Vec<u8>,
    received: u64,
}

impl<R: Read> RequestReader<R> {
    pub fn new(inner: R) -> Self {
        RequestReader {
            inner,
            buf: Vec::with_capacity(1024),
            received: 0,
        }
    }

    /// Bytes read from the connection but not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Total bytes ever read; lets callers tell a slow client from a dead one.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Reads the next request head. `Ok(None)` is a clean EOF between requests.
    ///
    /// Resumable: on an I/O error such as a read timeout the partial head stays
    /// buffered and the next call carries on where this one stopped.
    pub fn read_head(&mut self) -> Result<Option<Request>, ReadError> {
        let mut scanned = 0;
        loop {
            // RFC 9112 §2.2: ignore empty lines before the request line.
            let blank = self
                .buf
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            self.buf.drain(..blank);

            if let Some(end) = find_head_end(&self.buf, scanned) {
                let head: Vec<u8> = self.buf.drain(..end).collect();
                return parse_head(&head).map(Some);
            }
            if self.buf.len() >= MAX_HEAD {
                return Err(ReadError::TooLarge);
            }
            // Only re-scan the tail, where a terminator may straddle reads.
            scanned = self.buf.len().saturating_sub(3);
            if self.fill()? == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::from(io::ErrorKind::UnexpectedEof).into())
                };
            }
        }
    }

    /// Reads and drops `*remaining` body bytes, counting down as it goes so a
    /// call interrupted by a read timeout can simply be repeated.
    pub fn discard_body(&mut self, remaining: &mut u64) -> Result<(), ReadError> {
        loop {
            let take = (*remaining).min(self.buf.len() as u64) as usize;
            self.buf.drain(..take);
            *remaining -= take as u64;
            if *remaining == 0 {
                return Ok(());
            }
            if self.fill()? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        loop {
            match self.inner.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    self.received += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// Position just past the blank line ending a message head, searching for
/// line ends from `from`. Bare `\n` line ends are tolerated.
pub fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| match buf[i..] {
        [b'\n', b'\n', ..] => Some(i + 2),
        [b'\n', b'\r', b'\n', ..] => Some(i + 3),
        _ => None,
    })
}

fn parse_head(head: &[u8]) -> Result<Request, ReadError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));

    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if is_token(m) && !t.is_empty() => (m, t, v),
        _ => return Err(ReadError::Malformed("bad request line")),
    };
    let minor = match version {
        "HTTP/1.0" => 0,
        "HTTP/1.1" => 1,
        _ => return Err(ReadError::Malformed("unsupported HTTP version")),
    };

    let mut content_length = None;
    let mut transfer_encoded = false;
    let (mut close, mut keep_alive) = (false, false);
    let mut expect_continue = false;
    for line in lines.filter(|l| !l.is_empty()) {
        if line.starts_with([' ', '\t']) {
            return Err(ReadError::Malformed("obsolete header line folding"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(ReadError::Malformed("header line without colon"))?;
        if !is_token(name) {
            return Err(ReadError::Malformed("bad header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(value).ok_or(ReadError::Malformed("bad Content-Length"))?;
            if content_length.is_some_and(|old| old != n) {
                return Err(ReadError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoded = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                close |= option.eq_ignore_ascii_case("close");
                keep_alive |= option.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = value.eq_ignore_ascii_case("100-continue");
        }
    }

    // HTTP/1.1 is persistent unless told otherwise; HTTP/1.0 only on request.
    let keep_alive = !close && (minor >= 1 || keep_alive);
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3).
    let body = match (transfer_encoded, content_length) {
        (true, _) => Body::TransferEncoded,
        (false, Some(n)) if n > 0 => Body::Length(n),
        _ => Body::Empty,
    };
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        minor,
        keep_alive,
        expect_continue,
        body,
    })
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Digits only: `str::parse` would also accept a leading `+`.
fn parse_length(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The whole response in one buffer, so it goes out in a single write.
    /// Content-Length is always sent, also for HEAD where the body is left out.
    pub fn to_bytes(&self, keep_alive: bool, include_body: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            reason(self.status),
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut out = out.into_bytes();
        if include_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`, for the Date header.
pub fn http_date(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
    )
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Hands out the input in fixed-size pieces, with a timeout before each
    /// piece, like a slow client behind a socket with a read timeout.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        piece: usize,
        stall: bool,
    }

    impl Trickle {
        fn new(data: &[u8], piece: usize) -> Self {
            Trickle {
                data: data.to_vec(),
                pos: 0,
                piece,
                stall: false,
            }
        }
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            self.stall = !self.stall;
            if self.stall && self.pos < self.data.len() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = self.piece.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    /// Retries across simulated timeouts, as the server does.
    fn next<R: Read>(r: &mut RequestReader<R>) -> Option<Request> {
        loop {
            match r.read_head() {
                Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => return other.unwrap(),
            }
        }
    }

    fn parse(raw: &str) -> Result<Request, ReadError> {
        RequestReader::new(raw.as_bytes())
            .read_head()
            .map(|r| r.expect("a request"))
    }

    #[test]
    fn parses_request_line_and_path() {
        let r = parse("GET /demo/hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
        assert_eq!((r.method.as_str(), r.minor), ("GET", 1));
        assert_eq!(r.target, "/demo/hello?x=1");
        assert_eq!(r.path(), "/demo/hello");
        assert_eq!(r.body, Body::Empty);
        let r = parse("GET http://h:1/health HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.path(), "/health");
    }

    #[test]
    fn head_split_across_many_reads_with_timeouts() {
        let raw = b"GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        for piece in [1, 2, 3, 7, 64] {
            let mut r = RequestReader::new(Trickle::new(raw, piece));
            assert_eq!(next(&mut r).unwrap().target, "/a", "piece {piece}");
            assert_eq!(next(&mut r).unwrap().target, "/b", "piece {piece}");
            assert!(next(&mut r).is_none(), "piece {piece}");
        }
    }

    #[test]
    fn timeout_keeps_partial_head_buffered() {
        let mut r = RequestReader::new(Trickle::new(b"GET / HTTP/1.1\r\n\r\n", 5));
        // First read stalls, second delivers 5 bytes, third stalls again.
        assert!(matches!(r.read_head(), Err(ReadError::Io(_))));
        assert!(matches!(r.read_head(), Err(ReadError::Io(_))));
        assert_eq!((r.buffered(), r.received()), (5, 5));
        assert_eq!(next(&mut r).unwrap().path(), "/");
    }

    #[test]
    fn keep_alive_rules() {
        let cases = [
            ("HTTP/1.1", "", true),
            ("HTTP/1.1", "Connection: close\r\n", false),
            ("HTTP/1.1", "Connection: Keep-Alive, CLOSE\r\n", false),
            ("HTTP/1.1", "Connection: upgrade\r\n", true),
            ("HTTP/1.0", "", false),
            ("HTTP/1.0", "Connection: keep-alive\r\n", true),
            ("HTTP/1.0", "connection: Keep-Alive\r\n", true),
            (
                "HTTP/1.0",
                "Connection: keep-alive\r\nConnection: close\r\n",
                false,
            ),
        ];
        for (version, headers, want) in cases {
            let raw = format!("GET / {version}\r\n{headers}\r\n");
            assert_eq!(parse(&raw).unwrap().keep_alive, want, "{raw:?}");
        }
    }

    #[test]
    fn content_length_body_is_discarded_and_next_request_read() {
        let raw =
            b"POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello=worldGET /y HTTP/1.1\r\n\r\n";
        for piece in [1, 4, 100] {
            let mut r = RequestReader::new(Trickle::new(raw, piece));
            let first = next(&mut r).unwrap();
            assert_eq!(first.body, Body::Length(11));
            let mut left = 11;
            while let Err(e) = r.discard_body(&mut left) {
                assert!(matches!(e, ReadError::Io(ref e) if e.kind() == io::ErrorKind::WouldBlock));
            }
            assert_eq!(left, 0);
            assert_eq!(next(&mut r).unwrap().target, "/y", "piece {piece}");
        }
    }

    #[test]
    fn body_cut_short_is_an_error() {
        let mut r = RequestReader::new(&b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc"[..]);
        assert_eq!(r.read_head().unwrap().unwrap().body, Body::Length(9));
        let mut left = 9;
        assert!(matches!(r.discard_body(&mut left), Err(ReadError::Io(_))));
        assert_eq!(left, 6);
    }

    #[test]
    fn content_length_edge_cases() {
        let cl = |v: &str| parse(&format!("POST / HTTP/1.1\r\nContent-Length: {v}\r\n\r\n"));
        assert_eq!(cl("0").unwrap().body, Body::Empty);
        assert_eq!(cl(" 42 ").unwrap().body, Body::Length(42));
        for bad in ["+1", "-1", "1x", "", "99999999999999999999999"] {
            assert!(matches!(cl(bad), Err(ReadError::Malformed(_))), "{bad:?}");
        }
        let twice = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert!(matches!(parse(twice), Err(ReadError::Malformed(_))));
        let te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        assert_eq!(parse(te).unwrap().body, Body::TransferEncoded);
    }

    #[test]
    fn tolerates_bare_newlines_and_leading_blank_lines() {
        let mut r = RequestReader::new(
            &b"\r\n\r\nGET /a HTTP/1.1\nHost: x\n\n\r\nGET /b HTTP/1.0\r\n\r\n"[..],
        );
        assert_eq!(r.read_head().unwrap().unwrap().target, "/a");
        assert_eq!(r.read_head().unwrap().unwrap().target, "/b");
        assert!(r.read_head().unwrap().is_none());
    }

    #[test]
    fn eof_handling() {
        assert!(RequestReader::new(&b""[..]).read_head().unwrap().is_none());
        assert!(RequestReader::new(&b"\r\n"[..])
            .read_head()
            .unwrap()
            .is_none());
        let cut = RequestReader::new(&b"GET / HTTP/1.1\r\nHost"[..]).read_head();
        assert!(matches!(cut, Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof));
    }

    #[test]
    fn rejects_malformed_heads() {
        for raw in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(ReadError::Malformed(_))),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn oversized_head_is_rejected() {
        let raw = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&raw), Err(ReadError::TooLarge)));
    }

    #[test]
    fn expect_continue() {
        let raw = "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n";
        assert!(parse(raw).unwrap().expect_continue);
    }

    #[test]
    fn response_always_has_content_length() {
        let resp = Response::new(200, "text/plain", "hi").header("X-Color", "blue");
        let text = String::from_utf8(resp.to_bytes(true, true)).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\
             Content-Type: text/plain\r\nX-Color: blue\r\n\r\nhi"
        );
        let head_only = String::from_utf8(resp.to_bytes(false, false)).unwrap();
        assert!(head_only.contains("Content-Length: 2\r\nConnection: close\r\n"));
        assert!(head_only.ends_with("\r\n\r\n"));
    }

    #[test]
    fn formats_http_dates() {
        let at = |secs| http_date(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }
}
