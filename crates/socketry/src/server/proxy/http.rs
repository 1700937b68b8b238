//! HTTP as the proxy reads and answers it, without I/O: the request head (request line and
//! header fields, CRLF-terminated, at most [`MAX_HEAD`] bytes and [`MAX_FIELDS`] fields), the
//! `Proxy-Authorization: Basic` credentials in it, and the status lines the proxy sends.
//!
//! A request for an absolute `http://` URI (`GET http://host/path HTTP/1.1`) is forwarded:
//! [`Head::forward`] gives the origin and the head sent to it (the request line in origin
//! form, `Host` from the URI, the hop-by-hop fields and the credentials taken out, and
//! `Connection: close`: one request per connection, which the client is told), and
//! [`ResponseHeads`] rewrites the origin's answer the same way on its way back.

use base64::Engine as _;

use super::request::{authority, Destination, Parse, RequestError};

/// The longest request head the proxy reads.
pub const MAX_HEAD: usize = 8192;
/// The most header fields a request may have.
pub const MAX_FIELDS: usize = 100;

const PROTOCOL: &str = "HTTP";

/// A request head.
#[derive(Clone, PartialEq, Eq)]
pub struct Head {
    /// The method, as sent (`CONNECT`).
    pub method: String,
    /// The request target, as sent.
    pub target: String,
    /// HTTP/1.0 or HTTP/1.1: the minor version.
    pub minor_version: u8,
    /// The value of `Proxy-Authorization`, when there is one.
    pub proxy_authorization: Option<String>,
    /// Every other header field, name and value, in order.
    pub fields: Vec<(String, String)>,
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("minor_version", &self.minor_version)
            .field(
                "fields",
                &self.fields.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Head {
    /// For CONNECT: the target as a destination.
    pub fn connect_destination(&self) -> Result<Destination, RequestError> {
        authority(PROTOCOL, &self.target)
    }

    /// The name and password of `Proxy-Authorization: Basic ...`, if given in that scheme.
    pub fn basic_credentials(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let value = self.proxy_authorization.as_deref()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
    }
}

/// Where a forwarded request goes, and what is sent there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The origin server, from the URI (port 80 unless it gives one).
    pub destination: Destination,
    /// The request head for the origin.
    pub head: Vec<u8>,
}

/// The header fields a proxy never passes on (RFC 9110 7.6.1), besides those `Connection`
/// names; `Host` is replaced by the URI's.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "upgrade",
];

/// Whether a field named `name` stays in a forwarded message whose `Connection` fields
/// name `listed`.
fn passes(name: &str, listed: &[String]) -> bool {
    let lower = name.to_ascii_lowercase();
    !HOP_BY_HOP.contains(&lower.as_str()) && !listed.contains(&lower)
}

/// The field names every `Connection` field lists, lower-cased.
fn connection_options(fields: &[(String, String)]) -> Vec<String> {
    fields
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(','))
        .map(|option| option.trim().to_ascii_lowercase())
        .filter(|option| !option.is_empty())
        .collect()
}

impl Head {
    /// For a request other than CONNECT: the origin its absolute `http://` URI names, and
    /// the head to send there.
    pub fn forward(&self) -> Result<Forward, ForwardError> {
        let (scheme, rest) = self
            .target
            .split_once("://")
            .ok_or_else(|| ForwardError::NotAbsolute(self.target.clone()))?;
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(ForwardError::Scheme(scheme.to_owned()));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority_text, path) = rest.split_at(end);
        let path = path.split('#').next().unwrap_or_default();
        if authority_text.contains('@') {
            return Err(ForwardError::Request(RequestError::malformed(
                PROTOCOL,
                format!(
                    "\"{}\": credentials in a URI are not forwarded",
                    self.target.escape_debug()
                ),
            )));
        }
        // The port is optional in a URI, and 80 when absent.
        let has_port = match authority_text.rfind(']') {
            Some(bracket) => authority_text[bracket..].contains(':'),
            None => authority_text.contains(':'),
        };
        let with_port = if has_port {
            authority_text.to_owned()
        } else {
            format!("{authority_text}:80")
        };
        let destination = authority(PROTOCOL, &with_port)?;
        let origin_form = match path {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        let listed = connection_options(&self.fields);
        let mut head = format!(
            "{} {origin_form} HTTP/1.{}\r\nHost: {authority_text}\r\n",
            self.method, self.minor_version
        );
        for (name, value) in &self.fields {
            if passes(name, &listed) && !name.eq_ignore_ascii_case("host") {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str(&format!(
            "Via: 1.{} socketry\r\nConnection: close\r\n\r\n",
            self.minor_version
        ));
        Ok(Forward {
            destination,
            head: head.into_bytes(),
        })
    }
}

/// Why a request is not forwarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForwardError {
    /// The target is not an absolute URI (`GET / HTTP/1.1`, as to a server).
    #[error("\"{0}\" is not an absolute http:// URI (a proxy is sent the whole URL, or CONNECT)")]
    NotAbsolute(String),
    /// A scheme other than `http`.
    #[error("{0}:// URIs are not forwarded (only http://; https:// goes through CONNECT)")]
    Scheme(String),
    /// The URI's authority does not parse.
    #[error(transparent)]
    Request(#[from] RequestError),
}

fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a request head: the request line, the header fields, and the empty line.
pub fn head(buf: &[u8]) -> Parse<Head> {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= MAX_HEAD {
            return Err(RequestError::TooLong {
                protocol: PROTOCOL,
                limit: MAX_HEAD,
            });
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end])
        .map_err(|_| RequestError::malformed(PROTOCOL, "a request head that is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!(
                "\"{}\" is not METHOD TARGET HTTP/1.x",
                request_line.escape_debug()
            ),
        ));
    };
    if !is_token(method) || target.is_empty() || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!(
                "\"{}\" is not METHOD TARGET HTTP/1.x",
                request_line.escape_debug()
            ),
        ));
    }
    let minor_version = match version {
        "HTTP/1.0" => 0,
        "HTTP/1.1" => 1,
        other => {
            return Err(RequestError::malformed(
                PROTOCOL,
                format!(
                    "version \"{}\" (expected HTTP/1.0 or HTTP/1.1)",
                    other.escape_debug()
                ),
            ))
        }
    };
    let mut proxy_authorization = None;
    let mut fields = Vec::new();
    for (count, line) in lines.enumerate() {
        if count >= MAX_FIELDS {
            return Err(RequestError::malformed(
                PROTOCOL,
                format!("more than {MAX_FIELDS} header fields"),
            ));
        }
        let field = line.split_once(':').filter(|(name, _)| is_token(name));
        let Some((name, value)) = field else {
            return Err(RequestError::malformed(
                PROTOCOL,
                format!("\"{}\" is not a header field", line.escape_debug()),
            ));
        };
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(RequestError::malformed(
                PROTOCOL,
                format!("the {name} field has control characters"),
            ));
        }
        if name.eq_ignore_ascii_case("proxy-authorization") {
            if proxy_authorization.is_some() {
                return Err(RequestError::malformed(
                    PROTOCOL,
                    "Proxy-Authorization given twice",
                ));
            }
            proxy_authorization = Some(value.trim().to_owned());
        } else {
            fields.push((name.to_owned(), value.trim().to_owned()));
        }
    }
    Ok(Some((
        Head {
            method: method.to_owned(),
            target: target.to_owned(),
            minor_version,
            proxy_authorization,
            fields,
        },
        end + 4,
    )))
}

/// The longest response head the proxy reads from an origin server.
pub const MAX_RESPONSE_HEAD: usize = 65536;

/// An origin's response head, rewritten for the client: its hop-by-hop fields taken out,
/// and a final response told `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The head as the client gets it.
    pub rewritten: Vec<u8>,
    /// Where the body after it ends.
    pub body: Body,
}

/// How long a response's body is (RFC 9112 6.3), so that the answer ends for the client
/// there even when the origin keeps its connection open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// None: a 1xx, 204 or 304 answer (or, the caller knows, an answer to HEAD).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunked, or not said: until the origin closes the connection.
    UntilClose,
}

impl ResponseHead {
    /// Whether another head follows this one (`100 Continue`, `103 Early Hints`): every
    /// 1xx but `101 Switching Protocols`, which ends HTTP on the connection.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }
}

/// Parses an origin's response head at the start of `buf` and rewrites it: `Ok(None)` when
/// more is needed, else the head and its length; an error says what is wrong with it.
pub fn response_head(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, String> {
    let window = &buf[..buf.len().min(MAX_RESPONSE_HEAD)];
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= MAX_RESPONSE_HEAD {
            return Err(format!(
                "a response head longer than {MAX_RESPONSE_HEAD} bytes"
            ));
        }
        return Ok(None);
    };
    let mut lines = buf[..end]
        .split(|b| *b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let status_line = lines.next().unwrap_or_default();
    let shown = || {
        String::from_utf8_lossy(status_line)
            .escape_debug()
            .to_string()
    };
    let status = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0' | b'1', b' ', a, b, c, rest @ ..]
            if [a, b, c].iter().all(|d| d.is_ascii_digit())
                && (rest.is_empty() || rest[0] == b' ')
                && !rest.iter().any(|b| b.is_ascii_control() && *b != b'\t') =>
        {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => {
            return Err(format!(
                "\"{}\" is not a status line (HTTP/1.x CODE REASON)",
                shown()
            ))
        }
    };
    let mut fields: Vec<(String, &[u8])> = Vec::new();
    for line in lines {
        let colon = line.iter().position(|b| *b == b':');
        let field = colon.and_then(|at| {
            let name = std::str::from_utf8(&line[..at])
                .ok()
                .filter(|n| is_token(n))?;
            Some((name.to_owned(), line[at + 1..].trim_ascii()))
        });
        let Some((name, value)) = field else {
            return Err(format!(
                "\"{}\" is not a header field",
                String::from_utf8_lossy(line).escape_debug()
            ));
        };
        if value.iter().any(|b| b.is_ascii_control() && *b != b'\t') {
            return Err(format!("the {name} field has control characters"));
        }
        fields.push((name, value));
    }
    let listed = connection_options(
        &fields
            .iter()
            .map(|(name, value)| (name.clone(), String::from_utf8_lossy(value).into_owned()))
            .collect::<Vec<_>>(),
    );
    let mut rewritten = status_line.to_vec();
    rewritten.extend_from_slice(b"\r\n");
    for (name, value) in &fields {
        if passes(name, &listed) {
            rewritten.extend_from_slice(name.as_bytes());
            rewritten.extend_from_slice(b": ");
            rewritten.extend_from_slice(value);
            rewritten.extend_from_slice(b"\r\n");
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Empty
    } else if fields
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("transfer-encoding"))
    {
        Body::UntilClose
    } else {
        let mut lengths = fields
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .map(|(_, value)| {
                std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
            });
        match lengths.next() {
            None => Body::UntilClose,
            Some(first) => {
                let Some(length) = first.filter(|n| lengths.all(|other| other == Some(*n))) else {
                    return Err("a Content-Length that is not one number".to_owned());
                };
                Body::Length(length)
            }
        }
    };
    let mut head = ResponseHead {
        status,
        rewritten,
        body,
    };
    if !head.is_interim() {
        head.rewritten.extend_from_slice(b"Connection: close\r\n");
    }
    head.rewritten.extend_from_slice(b"\r\n");
    Ok(Some((head, end + 4)))
}

/// The status the proxy answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200: the tunnel is open.
    Established,
    /// 400: the request did not parse.
    BadRequest,
    /// 403: the destination is not allowed (`--to`).
    Forbidden,
    /// 501: a URI scheme other than `http`.
    NotImplemented,
    /// 407: credentials missing or wrong.
    ProxyAuthenticationRequired,
    /// 431: the head is longer than the proxy reads.
    HeadTooLarge,
    /// 502: the destination could not be reached or refused.
    BadGateway,
    /// 504: connecting to the destination timed out.
    GatewayTimeout,
}

impl Status {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Established => 200,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotImplemented => 501,
            Status::ProxyAuthenticationRequired => 407,
            Status::HeadTooLarge => 431,
            Status::BadGateway => 502,
            Status::GatewayTimeout => 504,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Established => "Connection established",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotImplemented => "Not Implemented",
            Status::ProxyAuthenticationRequired => "Proxy Authentication Required",
            Status::HeadTooLarge => "Request Header Fields Too Large",
            Status::BadGateway => "Bad Gateway",
            Status::GatewayTimeout => "Gateway Timeout",
        }
    }
}

/// The response head for `status`. A refusal has an empty body and closes the connection;
/// 407 asks for Basic credentials.
pub fn response(status: Status) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {} {}\r\n", status.code(), status.reason());
    match status {
        Status::Established => {}
        Status::ProxyAuthenticationRequired => {
            text.push_str("Proxy-Authenticate: Basic realm=\"socketry\"\r\n");
        }
        _ => {}
    }
    if status != Status::Established {
        text.push_str("Content-Length: 0\r\nConnection: close\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_connect_head_parses_and_leaves_what_follows() {
        let head_bytes = b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\nProxy-Authorization: Basic YWxpY2U6czNjcjN0\r\n\r\n";
        for end in 0..head_bytes.len() {
            assert_eq!(head(&head_bytes[..end]), Ok(None), "{end}");
        }
        let mut with_data = head_bytes.to_vec();
        with_data.extend_from_slice(b"\x16\x03\x01");
        let (parsed, used) = head(&with_data).unwrap().unwrap();
        assert_eq!(used, head_bytes.len());
        assert_eq!(parsed.method, "CONNECT");
        assert_eq!(parsed.minor_version, 1);
        assert_eq!(
            parsed.connect_destination().unwrap().to_string(),
            "example.org:443"
        );
        assert_eq!(
            parsed.basic_credentials(),
            Some((b"alice".to_vec(), b"s3cr3t".to_vec()))
        );
        let no_auth = head(b"CONNECT [::1]:22 HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(no_auth.basic_credentials(), None);
        assert_eq!(
            no_auth.connect_destination().unwrap().to_string(),
            "[::1]:22"
        );
    }

    #[test]
    fn bad_heads_are_refused_saying_why() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"CONNECT example.org:443\r\n\r\n",
                "malformed HTTP request: \"CONNECT example.org:443\" is not METHOD TARGET HTTP/1.x",
            ),
            (
                b"CONNECT a:1 HTTP/2.0\r\n\r\n",
                "malformed HTTP request: version \"HTTP/2.0\" (expected HTTP/1.0 or HTTP/1.1)",
            ),
            (
                b"CONNECT a:1 HTTP/1.1\r\nno colon\r\n\r\n",
                "malformed HTTP request: \"no colon\" is not a header field",
            ),
            (
                b"CONNECT a:1 HTTP/1.1\r\n folded: x\r\n\r\n",
                "malformed HTTP request: \" folded: x\" is not a header field",
            ),
            (
                b"CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: a\r\nproxy-authorization: b\r\n\r\n",
                "malformed HTTP request: Proxy-Authorization given twice",
            ),
            (
                b"CONNECT a:1 HTTP/1.1\r\nX: \xff\r\n\r\n",
                "malformed HTTP request: a request head that is not UTF-8",
            ),
        ];
        for (bytes, error) in cases {
            assert_eq!(head(bytes).unwrap_err().to_string(), *error);
        }
        let long = vec![b'A'; MAX_HEAD];
        assert_eq!(
            head(&long).unwrap_err().to_string(),
            "HTTP request longer than 8192 bytes"
        );
        let mut many = b"CONNECT a:1 HTTP/1.1\r\n".to_vec();
        for _ in 0..=MAX_FIELDS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            head(&many).unwrap_err().to_string(),
            "malformed HTTP request: more than 100 header fields"
        );
    }

    #[test]
    fn an_absolute_uri_is_forwarded_in_origin_form_without_hop_by_hop_fields() {
        let request = b"GET http://Example.org:8080/a/b?x=1#frag HTTP/1.1\r\nHost: wrong\r\nUser-Agent: curl\r\nProxy-Authorization: Basic YTpi\r\nProxy-Connection: Keep-Alive\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\nTE: trailers\r\nUpgrade: websocket\r\nAccept: */*\r\n\r\n";
        let (parsed, _) = head(request).unwrap().unwrap();
        assert_eq!(
            parsed.basic_credentials(),
            Some((b"a".to_vec(), b"b".to_vec()))
        );
        let forward = parsed.forward().unwrap();
        assert_eq!(forward.destination.to_string(), "Example.org:8080");
        assert_eq!(
            String::from_utf8(forward.head).unwrap(),
            "GET /a/b?x=1 HTTP/1.1\r\nHost: Example.org:8080\r\nUser-Agent: curl\r\nAccept: */*\r\nVia: 1.1 socketry\r\nConnection: close\r\n\r\n"
        );
        for (target, destination, origin_form) in [
            ("http://127.0.0.1", "127.0.0.1:80", "/"),
            ("HTTP://[::1]:81?q", "[::1]:81", "/?q"),
            ("http://[::1]/p", "[::1]:80", "/p"),
            ("http://h/", "h:80", "/"),
        ] {
            let text = format!("POST {target} HTTP/1.0\r\nContent-Length: 2\r\n\r\n");
            let forward = head(text.as_bytes()).unwrap().unwrap().0.forward().unwrap();
            assert_eq!(forward.destination.to_string(), destination, "{target}");
            let sent = String::from_utf8(forward.head).unwrap();
            assert!(
                sent.starts_with(&format!("POST {origin_form} HTTP/1.0\r\nHost: ")),
                "{target}: {sent}"
            );
            assert!(sent.contains("\r\nContent-Length: 2\r\n"), "{sent}");
            assert!(
                sent.ends_with("\r\nVia: 1.0 socketry\r\nConnection: close\r\n\r\n"),
                "{sent}"
            );
        }
        let refusal = |target: &str| {
            let text = format!("GET {target} HTTP/1.1\r\n\r\n");
            head(text.as_bytes())
                .unwrap()
                .unwrap()
                .0
                .forward()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refusal("/index.html"),
            "\"/index.html\" is not an absolute http:// URI (a proxy is sent the whole URL, or CONNECT)"
        );
        assert_eq!(
            refusal("https://example.org/"),
            "https:// URIs are not forwarded (only http://; https:// goes through CONNECT)"
        );
        assert_eq!(
            refusal("http://user:pw@example.org/"),
            "malformed HTTP request: \"http://user:pw@example.org/\": credentials in a URI are not forwarded"
        );
        assert_eq!(
            refusal("http://example.org:0/"),
            "malformed HTTP request: \"example.org:0\" is not HOST:PORT"
        );
    }

    #[test]
    fn response_heads_lose_their_hop_by_hop_fields_and_say_close() {
        let (parsed, used) = response_head(
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(used, 94);
        assert_eq!(parsed.status, 200);
        assert_eq!(parsed.body, Body::UntilClose);
        assert!(!parsed.is_interim());
        assert_eq!(
            String::from_utf8(parsed.rewritten).unwrap(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let (interim, _) = response_head(b"HTTP/1.1 100 Continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(interim.is_interim());
        assert_eq!(interim.body, Body::Empty);
        let length = |head: &[u8]| response_head(head).map(|h| h.map(|(h, _)| h.body));
        assert_eq!(
            length(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\ncontent-length: 12\r\n\r\n"),
            Ok(Some(Body::Length(12)))
        );
        assert_eq!(
            length(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n"),
            Ok(Some(Body::Empty))
        );
        assert_eq!(
            length(b"HTTP/1.0 200 OK\r\n\r\n"),
            Ok(Some(Body::UntilClose))
        );
        for bad in [&b"1, 2"[..], b"-1", b"", b"12\r\nContent-Length: 13"] {
            let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: ".to_vec();
            head.extend_from_slice(bad);
            head.extend_from_slice(b"\r\n\r\n");
            assert_eq!(
                length(&head),
                Err("a Content-Length that is not one number".to_owned()),
                "{bad:?}"
            );
        }
        assert_eq!(interim.rewritten, b"HTTP/1.1 100 Continue\r\n\r\n");
        assert_eq!(response_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert_eq!(
            response_head(b"HTTP/2 200\r\n\r\n").unwrap_err(),
            "\"HTTP/2 200\" is not a status line (HTTP/1.x CODE REASON)"
        );
        assert_eq!(
            response_head(&vec![b'x'; MAX_RESPONSE_HEAD]).unwrap_err(),
            "a response head longer than 65536 bytes"
        );
    }

    #[test]
    fn responses_say_what_happened() {
        assert_eq!(
            response(Status::Established),
            b"HTTP/1.1 200 Connection established\r\n\r\n"
        );
        assert_eq!(
            String::from_utf8(response(Status::ProxyAuthenticationRequired)).unwrap(),
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"socketry\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    }
}
