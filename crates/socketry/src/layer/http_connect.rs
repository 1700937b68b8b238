//! An HTTP CONNECT client (socat's `PROXY`): asks an HTTP proxy for a tunnel to a host and
//! port, with Basic credentials if given, and reads the proxy's answer up to the blank line
//! that ends it, a byte at a time so that nothing of the tunnel's data is taken. The answer is
//! bounded ([`MAX_RESPONSE`]); socat spells the header `Proxy-authorization`, and so does this
//! (header names are case-insensitive). Any status but 2xx is a refusal naming the proxy's code and words.

use std::net::IpAddr;

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::base::{byte_halves, Data, Handshake, Layer, LayerError};
use super::reply::{self, ReadError, ReplyError};
use crate::address::Host;
use crate::channel::{Reader, Writer};

/// The longest answer read: status line and headers together.
pub const MAX_RESPONSE: usize = 16 * 1024;

/// The protocol version written in the request line (socat's `http-version`): 1.0 unless
/// told. A 1.1 request also carries the `Host` header HTTP/1.1 requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// `HTTP/1.0`.
    OneZero,
    /// `HTTP/1.1`.
    OneOne,
}

impl HttpVersion {
    /// Reads `1.0` or `1.1`.
    pub fn parse(text: &str) -> Option<HttpVersion> {
        match text {
            "1.0" => Some(HttpVersion::OneZero),
            "1.1" => Some(HttpVersion::OneOne),
            _ => None,
        }
    }
}

/// How the proxy's line endings are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineEnds {
    /// CR LF, as HTTP requires; a bare LF is an error.
    Strict,
    /// LF ends a line and every CR is dropped (socat's `ignorecr`).
    IgnoreCr,
}

/// An HTTP CONNECT through the proxy at the other end of the stream below.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConnect {
    /// The host the tunnel goes to, as sent (a name, or an address when `resolve` turned the
    /// name into one).
    pub host: Host,
    /// Its port.
    pub port: u16,
    /// `user:password` for a `Proxy-Authorization: Basic` header, as given.
    pub credentials: Option<Vec<u8>>,
    /// The version in the request line.
    pub version: HttpVersion,
    /// How the answer's lines end.
    pub line_ends: LineEnds,
}

impl std::fmt::Debug for HttpConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConnect")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.credentials.as_ref().map(|_| "..."))
            .field("version", &self.version)
            .field("line_ends", &self.line_ends)
            .finish()
    }
}

impl HttpConnect {
    /// `CONNECT host:port HTTP/1.x`, the `Host` header for 1.1, credentials, a blank line.
    fn request(&self) -> Vec<u8> {
        use base64::Engine as _;
        let authority = match &self.host {
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            host => format!("{host}:{}", self.port),
        };
        let version = match self.version {
            HttpVersion::OneZero => "1.0",
            HttpVersion::OneOne => "1.1",
        };
        let mut request = format!("CONNECT {authority} HTTP/{version}\r\n");
        if self.version == HttpVersion::OneOne {
            request.push_str(&format!("Host: {authority}\r\n"));
        }
        if let Some(credentials) = &self.credentials {
            let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
            request.push_str(&format!("Proxy-authorization: Basic {encoded}\r\n"));
        }
        request.push_str("\r\n");
        request.into_bytes()
    }
}

/// The proxy's answer: its status code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code.
    pub code: u16,
    /// The words after it.
    pub reason: String,
}

/// Reads the answer's lines up to the blank one, and checks its status line.
pub(crate) async fn read_response<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    line_ends: LineEnds,
) -> Result<Status, ReadError> {
    let mut total = 0;
    let mut status = None;
    loop {
        let line = read_line(reader, line_ends, &mut total).await?;
        match status {
            None => status = Some(parse_status(&line)?),
            Some(_) if line.is_empty() => break,
            Some(_) => {}
        }
    }
    let status = status.unwrap_or(Status {
        code: 0,
        reason: String::new(),
    });
    if !(200..300).contains(&status.code) {
        return Err(ReplyError::Refused {
            code: status.code,
            meaning: status.reason,
        }
        .into());
    }
    Ok(status)
}

async fn read_line<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    line_ends: LineEnds,
    total: &mut usize,
) -> Result<Vec<u8>, ReadError> {
    const WHAT: &str = "HTTP answer";
    let mut line = Vec::new();
    loop {
        if *total >= MAX_RESPONSE {
            return Err(ReplyError::Oversized {
                what: WHAT,
                limit: MAX_RESPONSE,
            }
            .into());
        }
        let Some(byte) = reply::read_byte(reader).await? else {
            return Err(ReplyError::Malformed {
                what: WHAT,
                why: format!("the proxy closed the connection after {total} bytes, before the blank line that ends it"),
            }
            .into());
        };
        *total += 1;
        match (byte, line_ends) {
            (b'\n', LineEnds::IgnoreCr) => return Ok(line),
            (b'\n', LineEnds::Strict) => {
                if line.pop() != Some(b'\r') {
                    return Err(ReplyError::Malformed {
                        what: WHAT,
                        why: "a line ends in LF without CR (ignorecr accepts that)".to_owned(),
                    }
                    .into());
                }
                return Ok(line);
            }
            (b'\r', LineEnds::IgnoreCr) => {}
            (byte, _) => line.push(byte),
        }
    }
}

/// `HTTP/1.x <code> <reason>`, the spaces between as many as the proxy likes.
pub fn parse_status(line: &[u8]) -> Result<Status, ReplyError> {
    let malformed = |why: &str| ReplyError::Malformed {
        what: "HTTP status line",
        why: format!("{why}: {:?}", String::from_utf8_lossy(line)),
    };
    let text = std::str::from_utf8(line).map_err(|_| malformed("not text"))?;
    let rest = text
        .strip_prefix("HTTP/")
        .ok_or_else(|| malformed("it does not start with HTTP/"))?;
    let (version, rest) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("no status code"))?;
    let well_formed_version = matches!(version.as_bytes(), [major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit());
    if !well_formed_version {
        return Err(malformed("the version is not digit.digit"));
    }
    let rest = rest.trim_start_matches(' ');
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed("the status code is not three digits"));
    }
    Ok(Status {
        code: code.parse().map_err(|_| malformed("bad status code"))?,
        reason: reason.trim().to_owned(),
    })
}

impl Layer for HttpConnect {
    fn name(&self) -> &str {
        "PROXY"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let (mut reader, mut writer) = byte_halves(below, "PROXY", description)?;
            let failed = |source| LayerError::Handshake {
                layer: "PROXY".to_owned(),
                below: description.to_owned(),
                source,
            };
            writer.write_all(&self.request()).await.map_err(failed)?;
            let status = read_response(&mut reader, self.line_ends)
                .await
                .map_err(|e| failed(e.into()))?;
            tracing::info!(
                "HTTP proxy over {description} connected to {}:{}: {} {}",
                self.host,
                self.port,
                status.code,
                status.reason
            );
            Ok(Data::new(
                Some(Reader::Bytes(reader)),
                Some(Writer::Bytes(writer)),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(version: HttpVersion, credentials: Option<&[u8]>) -> HttpConnect {
        HttpConnect {
            host: Host::Name("example.org".to_owned()),
            port: 22,
            credentials: credentials.map(<[u8]>::to_vec),
            version,
            line_ends: LineEnds::Strict,
        }
    }

    #[test]
    fn requests_follow_the_version_and_carry_basic_credentials() {
        assert_eq!(
            connect(HttpVersion::OneZero, None).request(),
            b"CONNECT example.org:22 HTTP/1.0\r\n\r\n"
        );
        assert_eq!(
            connect(HttpVersion::OneOne, Some(b"user:s3cr3t\n")).request(),
            b"CONNECT example.org:22 HTTP/1.1\r\nHost: example.org:22\r\nProxy-authorization: Basic dXNlcjpzM2NyM3QK\r\n\r\n"
        );
        let v6 = HttpConnect {
            host: Host::Ip("::1".parse().unwrap()),
            ..connect(HttpVersion::OneZero, None)
        };
        assert_eq!(v6.request(), b"CONNECT [::1]:22 HTTP/1.0\r\n\r\n");
        assert!(!format!("{:?}", connect(HttpVersion::OneZero, Some(b"u:p"))).contains("u:p"));
    }

    async fn response(bytes: &[u8], line_ends: LineEnds) -> Result<Status, String> {
        let mut bytes = bytes;
        read_response(&mut bytes, line_ends)
            .await
            .map_err(|e| match e {
                ReadError::Reply(e) => e.to_string(),
                ReadError::Io(e) => format!("io: {e}"),
            })
    }

    #[tokio::test]
    async fn answers_are_read_to_the_blank_line_strictly() {
        let ok = Status {
            code: 200,
            reason: "OK".to_owned(),
        };
        assert_eq!(
            response(b"HTTP/1.0 200 OK\r\nVia: x\r\n\r\ndata", LineEnds::Strict).await,
            Ok(ok.clone())
        );
        assert_eq!(
            response(b"HTTP/1.0   200 OK\r\n\r\n", LineEnds::Strict).await,
            Ok(ok.clone())
        );
        assert_eq!(
            response(b"HTTP/1.0 200 OK\n\r\n", LineEnds::IgnoreCr).await,
            Ok(ok)
        );
        assert_eq!(
            response(b"HTTP/1.0 200 OK\n\n", LineEnds::Strict).await.unwrap_err(),
            "the proxy's HTTP answer is malformed: a line ends in LF without CR (ignorecr accepts that)"
        );
        assert_eq!(
            response(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
                LineEnds::Strict
            )
            .await
            .unwrap_err(),
            "the proxy refused: reply code 407 (Proxy Authentication Required)"
        );
        assert_eq!(
            response(b"SSH-2.0-OpenSSH\r\n\r\n", LineEnds::Strict).await.unwrap_err(),
            "the proxy's HTTP status line is malformed: it does not start with HTTP/: \"SSH-2.0-OpenSSH\""
        );
        assert_eq!(
            response(b"HTTP/1.0 200 OK\r\n", LineEnds::Strict).await.unwrap_err(),
            "the proxy's HTTP answer is malformed: the proxy closed the connection after 17 bytes, before the blank line that ends it"
        );
        let endless = [b"HTTP/1.0 200 OK\r\n".as_slice(), &[b'x'; MAX_RESPONSE]].concat();
        assert_eq!(
            response(&endless, LineEnds::Strict).await.unwrap_err(),
            "the proxy's HTTP answer is longer than 16384 bytes"
        );
    }
}
