//! What the proxy's request parsers share: where a client asks to go ([`Destination`]), how
//! a parse ends ([`Parse`]), and why a request is refused ([`RequestError`]). Each parser
//! takes the bytes read so far and either needs more, refuses, or gives its value and how
//! many bytes it used, so that whatever follows (the next step of the handshake, or the
//! client's first data) is left for the caller.

use std::fmt;
use std::net::IpAddr;

/// The longest host name a request may carry (DNS's limit; SOCKS's length byte allows 255).
pub const MAX_NAME: usize = 255;

/// A destination host: an address, or a name the proxy resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name, checked to be printable ASCII without spaces.
    Name(String),
}

/// Where a client asks to be connected (or, for a UDP datagram, where it goes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: u16,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            Host::Ip(ip) => write!(f, "{ip}:{}", self.port),
            Host::Name(name) => write!(f, "{name}:{}", self.port),
        }
    }
}

/// What parsing the bytes read so far gave: `None` when more are needed, or the value and
/// the number of bytes it took.
pub type Parse<T> = Result<Option<(T, usize)>, RequestError>;

/// Why a request was refused before anything was connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The first byte names no protocol the proxy speaks.
    #[error("the first byte 0x{0:02x} is neither SOCKS4 (0x04), SOCKS5 (0x05) nor an HTTP method")]
    UnknownProtocol(u8),
    /// The request breaks its protocol's grammar.
    #[error("malformed {protocol} request: {what}")]
    Malformed {
        /// `SOCKS4`, `SOCKS5`, `HTTP`, ...
        protocol: &'static str,
        /// What was wrong.
        what: String,
    },
    /// The request went on past its protocol's (or the proxy's) limit.
    #[error("{protocol} request longer than {limit} bytes")]
    TooLong {
        /// Which protocol.
        protocol: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A SOCKS5 address type other than IPv4, a name, or IPv6.
    #[error("SOCKS5 address type 0x{0:02x} is not IPv4 (1), a name (3) or IPv6 (4)")]
    AddressType(u8),
}

impl RequestError {
    pub(crate) fn malformed(protocol: &'static str, what: impl Into<String>) -> RequestError {
        RequestError::Malformed {
            protocol,
            what: what.into(),
        }
    }
}

/// A host name as a request carries it: 1 to 255 bytes of printable ASCII, no spaces, and
/// not an address in disguise (an address is taken as one).
pub fn host(protocol: &'static str, bytes: &[u8]) -> Result<Host, RequestError> {
    if bytes.is_empty() || bytes.len() > MAX_NAME {
        return Err(RequestError::malformed(
            protocol,
            format!(
                "a host name of {} bytes (expected 1 to {MAX_NAME})",
                bytes.len()
            ),
        ));
    }
    if !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(RequestError::malformed(
            protocol,
            format!(
                "the host name \"{}\" has bytes other than printable ASCII",
                String::from_utf8_lossy(bytes).escape_debug()
            ),
        ));
    }
    let text = String::from_utf8_lossy(bytes).into_owned();
    Ok(match text.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) => Host::Name(text),
    })
}

/// `host:port`, `[v6]:port` or `a.b.c.d:port`, as HTTP's CONNECT names its target.
pub fn authority(protocol: &'static str, text: &str) -> Result<Destination, RequestError> {
    let refuse = || {
        RequestError::malformed(
            protocol,
            format!("\"{}\" is not HOST:PORT", text.escape_debug()),
        )
    };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(refuse)?;
        let port = after.strip_prefix(':').ok_or_else(refuse)?;
        let ip: std::net::Ipv6Addr = inside.parse().map_err(|_| refuse())?;
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (name, port) = text.rsplit_once(':').ok_or_else(refuse)?;
        if name.contains(':') {
            return Err(refuse());
        }
        (host(protocol, name.as_bytes())?, port)
    };
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refuse());
    }
    let port: u16 = port.parse().map_err(|_| refuse())?;
    if port == 0 {
        return Err(refuse());
    }
    Ok(Destination { host, port })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn authorities_parse_into_destinations() {
        for (text, shown) in [
            ("example.org:443", "example.org:443"),
            ("127.0.0.1:80", "127.0.0.1:80"),
            ("[::1]:22", "[::1]:22"),
            ("[2001:db8::1]:65535", "[2001:db8::1]:65535"),
        ] {
            assert_eq!(authority("HTTP", text).unwrap().to_string(), shown);
        }
        for bad in [
            "example.org",
            "example.org:",
            "example.org:0",
            "example.org:65536",
            "example.org:+1",
            ":80",
            "::1:22",
            "[::1]22",
            "[nope]:22",
            "a b:1",
        ] {
            let err = authority("HTTP", bad).unwrap_err();
            assert!(
                err.to_string().starts_with("malformed HTTP request: "),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn host_names_are_bounded_and_printable() {
        assert_eq!(
            host("SOCKS5", b"10.1.2.3").unwrap(),
            Host::Ip("10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            host("SOCKS5", &[b'a'; 256]).unwrap_err().to_string(),
            "malformed SOCKS5 request: a host name of 256 bytes (expected 1 to 255)"
        );
        assert_eq!(
            host("SOCKS4", b"a\nb").unwrap_err().to_string(),
            "malformed SOCKS4 request: the host name \"a\\nb\" has bytes other than printable ASCII"
        );
    }
}
