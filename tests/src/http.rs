//! A deliberately small blocking HTTP/1.1 client over `std::net::TcpStream`.
//!
//! Hand-rolled rather than a crate because the tests need to send exactly what they say (duplicate and
//! mixed-case headers, odd paths, a raw `Authorization` value) and must not pull in a TLS stack. One
//! request per connection (`Connection: close`); responses framed by `Content-Length`, chunked encoding or
//! end of stream.

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one request may take end to end unless the caller says otherwise. Generous: the filter may
/// hold a request while it waits for the first JWKS.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A complete HTTP response.
#[derive(Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header fields in received order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body after removing any chunked framing.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON, or an error that shows the body.
    pub fn try_json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body)
            .map_err(|err| format!("body is not JSON ({err}): {:?}", self.text()))
    }

    /// A string member of the JSON body (`None` if the body is not JSON or the member is missing).
    pub fn json_str(&self, member: &str) -> Option<String> {
        self.try_json()
            .ok()?
            .get(member)?
            .as_str()
            .map(str::to_owned)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "HTTP {}", self.status)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {value}")?;
        }
        let text = self.text();
        let shown: String = text.chars().take(2000).collect();
        write!(f, "\n{shown}")?;
        if shown.len() < text.len() {
            write!(f, "…")?;
        }
        Ok(())
    }
}

/// Sends one request and reads the whole response.
///
/// `target` is sent verbatim on the request line (path and query). A `Host` header is added unless the
/// caller gives one; `Content-Length` is added when there is a body or the method usually carries one.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<Response> {
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(timeout))?;

    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("Host: {addr}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let needs_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no complete response to {method} {target} within {timeout:?} (got {} bytes)",
                    buf.len()
                ),
            ));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) => return parse(&buf, method, true)?.ok_or_else(|| truncated(&buf)),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if let Some(response) = parse(&buf, method, false)? {
                    return Ok(response);
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(err) => return Err(err),
        }
    }
}

fn truncated(buf: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "connection closed before a complete response: {:?}",
            String::from_utf8_lossy(buf)
        ),
    )
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// `Ok(None)` while more bytes are needed; at end of stream (`eof`) a body without framing ends there.
fn parse(buf: &[u8], method: &str, eof: bool) -> io::Result<Option<Response>> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| invalid("response head is not UTF-8".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let rest = &buf[head_end + 4..];
    let response = |body: Vec<u8>| Response {
        status,
        headers: headers.clone(),
        body,
    };

    if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(Some(response(Vec::new())));
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return match dechunk(rest)? {
            Some(body) => Ok(Some(response(body))),
            None if eof => Err(truncated(buf)),
            None => Ok(None),
        };
    }
    if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad content-length {length:?}")))?;
        return if rest.len() >= length {
            Ok(Some(response(rest[..length].to_vec())))
        } else if eof {
            Err(truncated(buf))
        } else {
            Ok(None)
        };
    }
    Ok(eof.then(|| response(rest.to_vec())))
}

/// Decodes a complete chunked body, or `None` if the last chunk has not arrived yet.
fn dechunk(mut data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| invalid("chunk size line is not UTF-8".into()))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers (ignored) end with an empty line.
            return Ok(find(data, b"\r\n").map(|_| body));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `application/x-www-form-urlencoded` serialisation (RFC 6749 appendix B).
pub fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986 unreserved characters (also what RFC 6749 §2.3.1 asks for
/// the client id and secret in HTTP Basic).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reads an HTTP request head (up to the blank line) from a test server's connection; `None` if the
/// peer closed or failed first.
pub fn read_request_head(stream: &mut impl io::Read) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_chunked_and_eof_framing() {
        let fixed = b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\"\r\ncontent-length: 2\r\n\r\n{}";
        let response = parse(fixed, "GET", false).unwrap().unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"x\"")
        );
        assert_eq!(response.body, b"{}");
        assert!(
            parse(&fixed[..fixed.len() - 1], "GET", false)
                .unwrap()
                .is_none()
        );

        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(
            parse(chunked, "GET", false).unwrap().unwrap().body,
            b"abcde"
        );
        assert!(
            parse(&chunked[..chunked.len() - 2], "GET", false)
                .unwrap()
                .is_none()
        );

        let open = b"HTTP/1.1 200 OK\r\n\r\nhello";
        assert!(parse(open, "GET", false).unwrap().is_none());
        assert_eq!(parse(open, "GET", true).unwrap().unwrap().body, b"hello");
    }

    #[test]
    fn form_encoding_escapes_reserved_characters() {
        assert_eq!(
            form_encode(&[("grant_type", "client_credentials"), ("scope", "a:b c")]),
            "grant_type=client_credentials&scope=a%3Ab%20c"
        );
    }
}
