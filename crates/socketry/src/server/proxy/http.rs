//! HTTP as a CONNECT proxy reads and answers it, without I/O: the request head (request line
//! and header fields, CRLF-terminated, at most [`MAX_HEAD`] bytes and [`MAX_FIELDS`] fields),
//! the `Proxy-Authorization: Basic` credentials in it, and the status lines the proxy sends.

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
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("minor_version", &self.minor_version)
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
        }
    }
    Ok(Some((
        Head {
            method: method.to_owned(),
            target: target.to_owned(),
            minor_version,
            proxy_authorization,
        },
        end + 4,
    )))
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
    /// 405: a method other than CONNECT.
    MethodNotAllowed,
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
            Status::MethodNotAllowed => 405,
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
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::ProxyAuthenticationRequired => "Proxy Authentication Required",
            Status::HeadTooLarge => "Request Header Fields Too Large",
            Status::BadGateway => "Bad Gateway",
            Status::GatewayTimeout => "Gateway Timeout",
        }
    }
}

/// The response head for `status`. A refusal has an empty body and closes the connection;
/// 407 asks for Basic credentials, 405 names the one method served.
pub fn response(status: Status) -> Vec<u8> {
    let mut text = format!("HTTP/1.1 {} {}\r\n", status.code(), status.reason());
    match status {
        Status::Established => {}
        Status::ProxyAuthenticationRequired => {
            text.push_str("Proxy-Authenticate: Basic realm=\"socketry\"\r\n");
        }
        Status::MethodNotAllowed => text.push_str("Allow: CONNECT\r\n"),
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
