//! HAProxy's PROXY protocol, versions 1 (a text line) and 2 (binary): a header a proxy
//! sends before a connection's data, naming the original client and the address it reached.
//!
//! [`parse`] works on the bytes read so far without I/O, and when it needs more it says how
//! many more are certainly part of the header ([`Parsed::Incomplete`]), so that
//! [`read_header`] reads the header byte-exactly: never a byte of the data after it, and
//! the reader is handed back unchanged (a socket's reader keeps its splice). A v1 line is at
//! most [`V1_MAX`] bytes; a v2 header is its 16 bytes and the length they give.
//! [`build`] writes either version.
//!
//! [`ProxyProtocolWriter`] is the sending side: the layer a connecting address's
//! `proxy-protocol=1|2` (or a chain's `PROXY-PROTOCOL:1|2`) stacks, which writes one header
//! before any data and hands both halves back unchanged.
//!
//! [`ProxyProtocolReader`] is the layer a listener's `proxy-protocol` option stacks under
//! its other layers: it reads the header and reports the client it names
//! ([`Learned::peer_address`](super::Learned)), which then stands for the peer in logs,
//! admission and a program's `SOCAT_PEERADDR`/`SOCAT_PEERPORT`. With `proxy-protocol-from`,
//! only senders in those ranges are read a header from; any other sender is taken as it is,
//! its data untouched, so that direct clients and a load balancer can share one port.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::base::{Data, Handshake, Layer, LayerError};
use crate::address::{IpRange, OptionId, Options};
use crate::channel::{ByteReader, Reader, Writer};

/// The longest v1 header, CRLF included (the specification's 107 bytes).
pub const V1_MAX: usize = 107;
/// The 12 bytes every v2 header starts with.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// Bytes that tell the two versions apart without reading past the shortest header (v1's
/// `PROXY UNKNOWN\r\n`, 15 bytes).
const PREFIX: usize = 8;

/// Which version of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The text line.
    V1,
    /// The binary header.
    V2,
}

/// The version `proxy-protocol=1|2` names; `None` when the option has no version (a listener
/// then reads either) or is not given.
pub fn version_of(options: &Options) -> Option<Version> {
    match options.count(OptionId::ProxyProtocol) {
        Some(1) => Some(Version::V1),
        Some(2) => Some(Version::V2),
        _ => None,
    }
}

impl Version {
    /// The version's number, as `proxy-protocol=N` spells it.
    pub fn number(self) -> u8 {
        match self {
            Version::V1 => 1,
            Version::V2 => 2,
        }
    }
}

/// What a header says about the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses {
    /// The original client (`source`) and the address it connected to (`destination`).
    Inet {
        /// The original client.
        source: SocketAddr,
        /// Where it connected to.
        destination: SocketAddr,
    },
    /// No addresses: v1's `UNKNOWN`, v2's `LOCAL` command (a health check from the proxy
    /// itself), or a v2 family this reader does not use (Unix, unspecified). The
    /// connection's own peer stands.
    Unknown,
}

/// A parsed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Which version it was.
    pub version: Version,
    /// What it carried.
    pub addresses: Addresses,
}

impl Header {
    /// The original client, if the header names one.
    pub fn source(&self) -> Option<SocketAddr> {
        match self.addresses {
            Addresses::Inet { source, .. } => Some(source),
            Addresses::Unknown => None,
        }
    }
}

/// Why a header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The connection does not start with either version's signature.
    #[error("no PROXY protocol header: the connection starts with {0:?}, not \"PROXY \" or the v2 signature")]
    Missing(String),
    /// A v1 line that breaks the grammar.
    #[error("malformed PROXY v1 header {line:?}: {what}")]
    V1 {
        /// The line as read so far.
        line: String,
        /// What is wrong.
        what: String,
    },
    /// A v1 line with no CRLF within 107 bytes.
    #[error("PROXY v1 header longer than {V1_MAX} bytes")]
    V1TooLong,
    /// A v2 header that breaks the format.
    #[error("malformed PROXY v2 header: {0}")]
    V2(String),
    /// A header of the other version than `proxy-protocol=N` reads.
    #[error("a PROXY v{got} header, and proxy-protocol={wanted} reads only v{wanted}")]
    Version {
        /// The version sent.
        got: u8,
        /// The version read.
        wanted: u8,
    },
}

/// What parsing the bytes read so far gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// At least this many more bytes belong to the header; reading exactly that many never
    /// takes data after it.
    Incomplete(usize),
    /// The header, and its length in bytes.
    Complete(Header, usize),
}

/// Parses a PROXY header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let known = buf.len().min(PREFIX);
    let v1 = b"PROXY ".get(..known.min(6)) == buf.get(..known.min(6));
    let v2 = V2_SIGNATURE[..known] == buf[..known];
    if !v1 && !v2 {
        let shown = String::from_utf8_lossy(&buf[..known]).into_owned();
        return Err(HeaderError::Missing(shown));
    }
    if buf.len() < PREFIX {
        return Ok(Parsed::Incomplete(PREFIX - buf.len()));
    }
    if v2 {
        parse_v2(buf)
    } else {
        parse_v1(buf)
    }
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let shown = || String::from_utf8_lossy(window).into_owned();
    let end = match window.iter().position(|b| *b == b'\n') {
        Some(end) if end > 0 && window[end - 1] == b'\r' => end + 1,
        Some(_) => {
            return Err(HeaderError::V1 {
                line: shown(),
                what: "a line feed without a carriage return before it".to_owned(),
            })
        }
        None if buf.len() >= V1_MAX => return Err(HeaderError::V1TooLong),
        // The line ends in CR LF: after a CR one more byte may end it, otherwise two.
        None if buf.last() == Some(&b'\r') => {
            return Ok(Parsed::Incomplete(1));
        }
        None => return Ok(Parsed::Incomplete(2.min(V1_MAX - buf.len()))),
    };
    let line = &buf[..end - 2];
    let refuse = |what: &str| HeaderError::V1 {
        line: String::from_utf8_lossy(line).into_owned(),
        what: what.to_owned(),
    };
    let text = std::str::from_utf8(line).map_err(|_| refuse("not ASCII"))?;
    if !text.is_ascii() || text.bytes().any(|b| b.is_ascii_control()) {
        return Err(refuse("not printable ASCII"));
    }
    let fields: Vec<&str> = text.split(' ').collect();
    let addresses = match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Addresses::Unknown,
        ["PROXY", protocol @ ("TCP4" | "TCP6"), source, destination, source_port, destination_port] =>
        {
            let ip = |text: &str| -> Result<IpAddr, HeaderError> {
                let ip: IpAddr = text
                    .parse()
                    .map_err(|_| refuse(&format!("\"{text}\" is not an address")))?;
                match (ip, *protocol) {
                    (IpAddr::V4(_), "TCP4") | (IpAddr::V6(_), "TCP6") => Ok(ip),
                    _ => Err(refuse(&format!("\"{text}\" is not a {protocol} address"))),
                }
            };
            let port = |text: &str| -> Result<u16, HeaderError> {
                let digits = !text.is_empty()
                    && text.len() <= 5
                    && text.bytes().all(|b| b.is_ascii_digit())
                    && (text == "0" || !text.starts_with('0'));
                digits
                    .then(|| text.parse::<u16>().ok())
                    .flatten()
                    .ok_or_else(|| refuse(&format!("\"{text}\" is not a port")))
            };
            Addresses::Inet {
                source: SocketAddr::new(ip(source)?, port(source_port)?),
                destination: SocketAddr::new(ip(destination)?, port(destination_port)?),
            }
        }
        ["PROXY", "TCP4" | "TCP6", ..] => {
            return Err(refuse(
                "expected PROXY TCP4|TCP6 SOURCE DESTINATION SOURCE-PORT DESTINATION-PORT",
            ))
        }
        _ => return Err(refuse("the protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    Ok(Parsed::Complete(
        Header {
            version: Version::V1,
            addresses,
        },
        end,
    ))
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, HeaderError> {
    let signed = buf.len().min(V2_SIGNATURE.len());
    if buf[..signed] != V2_SIGNATURE[..signed] {
        return Err(HeaderError::Missing(
            String::from_utf8_lossy(&buf[..signed]).into_owned(),
        ));
    }
    if buf.len() < 16 {
        return Ok(Parsed::Incomplete(16 - buf.len()));
    }
    let version = buf[12] >> 4;
    let command = buf[12] & 0x0f;
    if version != 2 {
        return Err(HeaderError::V2(format!("version {version} (expected 2)")));
    }
    if command > 1 {
        return Err(HeaderError::V2(format!(
            "command {command} (expected 0, LOCAL, or 1, PROXY)"
        )));
    }
    let family = buf[13] >> 4;
    let transport = buf[13] & 0x0f;
    if family > 3 || transport > 2 {
        return Err(HeaderError::V2(format!(
            "address family and transport 0x{:02x} (expected 0x00-0x32)",
            buf[13]
        )));
    }
    let length = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    let total = 16 + length;
    if buf.len() < total {
        return Ok(Parsed::Incomplete(total - buf.len()));
    }
    let body = &buf[16..total];
    let needed = match family {
        1 => 12,
        2 => 36,
        3 => 216,
        _ => 0,
    };
    if body.len() < needed {
        return Err(HeaderError::V2(format!(
            "{} address bytes, fewer than the {needed} its family takes",
            body.len()
        )));
    }
    let port = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let addresses = match (command, family) {
        (1, 1) => {
            let ip = |at: usize| Ipv4Addr::new(body[at], body[at + 1], body[at + 2], body[at + 3]);
            Addresses::Inet {
                source: SocketAddr::new(IpAddr::V4(ip(0)), port(8)),
                destination: SocketAddr::new(IpAddr::V4(ip(4)), port(10)),
            }
        }
        (1, 2) => {
            let ip = |at: usize| {
                let mut octets = [0; 16];
                octets.copy_from_slice(&body[at..at + 16]);
                Ipv6Addr::from(octets)
            };
            Addresses::Inet {
                source: SocketAddr::new(IpAddr::V6(ip(0)), port(32)),
                destination: SocketAddr::new(IpAddr::V6(ip(16)), port(34)),
            }
        }
        _ => Addresses::Unknown,
    };
    Ok(Parsed::Complete(
        Header {
            version: Version::V2,
            addresses,
        },
        total,
    ))
}

/// The header of `version` for a connection from `source` to `destination`; `None` builds
/// v1's `UNKNOWN` or v2's `LOCAL`. When one address is IPv4 and the other IPv6, the IPv4
/// one is sent as IPv4-mapped IPv6, as one header carries one family.
pub fn build(version: Version, addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
    let addresses = addresses.map(|(source, destination)| match (source, destination) {
        (SocketAddr::V4(_), SocketAddr::V4(_)) | (SocketAddr::V6(_), SocketAddr::V6(_)) => {
            (source, destination)
        }
        _ => (mapped(source), mapped(destination)),
    });
    match version {
        Version::V1 => match addresses {
            Some((source, destination)) => {
                let protocol = if source.is_ipv4() { "TCP4" } else { "TCP6" };
                format!(
                    "PROXY {protocol} {} {} {} {}\r\n",
                    source.ip(),
                    destination.ip(),
                    source.port(),
                    destination.port()
                )
                .into_bytes()
            }
            None => b"PROXY UNKNOWN\r\n".to_vec(),
        },
        Version::V2 => {
            let mut header = V2_SIGNATURE.to_vec();
            match addresses {
                Some((SocketAddr::V4(source), SocketAddr::V4(destination))) => {
                    header.extend_from_slice(&[0x21, 0x11, 0, 12]);
                    header.extend_from_slice(&source.ip().octets());
                    header.extend_from_slice(&destination.ip().octets());
                    header.extend_from_slice(&source.port().to_be_bytes());
                    header.extend_from_slice(&destination.port().to_be_bytes());
                }
                Some((source, destination)) => {
                    let v6 = |a: SocketAddr| match a.ip() {
                        IpAddr::V6(ip) => ip,
                        IpAddr::V4(ip) => ip.to_ipv6_mapped(),
                    };
                    header.extend_from_slice(&[0x21, 0x21, 0, 36]);
                    header.extend_from_slice(&v6(source).octets());
                    header.extend_from_slice(&v6(destination).octets());
                    header.extend_from_slice(&source.port().to_be_bytes());
                    header.extend_from_slice(&destination.port().to_be_bytes());
                }
                None => header.extend_from_slice(&[0x20, 0x00, 0, 0]),
            }
            header
        }
    }
}

fn mapped(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        v6 => v6,
    }
}

/// Why reading a header failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The header was refused.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The connection ended before the header did.
    #[error("the connection ended inside the PROXY header ({0} bytes read)")]
    Truncated(usize),
    /// Reading failed.
    #[error("reading the PROXY header: {0}")]
    Io(#[from] io::Error),
}

/// Reads one header from `reader`, byte-exactly: what follows it stays unread.
pub async fn read_header(reader: &mut ByteReader) -> Result<Header, ReadError> {
    let mut buf = Vec::with_capacity(V1_MAX);
    loop {
        match parse(&buf)? {
            Parsed::Complete(header, _) => return Ok(header),
            Parsed::Incomplete(more) => {
                let start = buf.len();
                buf.resize(start + more, 0);
                let mut filled = start;
                while filled < buf.len() {
                    let n = reader.read(&mut buf[filled..]).await?;
                    if n == 0 {
                        return Err(ReadError::Truncated(filled));
                    }
                    filled += n;
                }
            }
        }
    }
}

/// The layer that reads a PROXY protocol header before a peer's data (`proxy-protocol`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyProtocolReader {
    /// `proxy-protocol-from`: the senders that send a header; empty means every sender must.
    pub trusted: Vec<IpRange>,
    /// `proxy-protocol=1|2`: the one version read; `None` reads either.
    pub version: Option<Version>,
}

/// The layer that sends a PROXY protocol header before any data (`proxy-protocol=1|2` on a
/// connecting address, the `PROXY-PROTOCOL` layer of a chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProtocolWriter {
    /// Which version to send.
    pub version: Version,
    /// The original client and the address it reached; `None` sends v1's `UNKNOWN` or v2's
    /// `LOCAL`.
    pub addresses: Option<(SocketAddr, SocketAddr)>,
}

impl Layer for ProxyProtocolWriter {
    fn name(&self) -> &str {
        "proxy-protocol"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let Data {
                reader,
                writer,
                mut learned,
            } = below;
            let mut writer = match writer {
                Some(Writer::Bytes(writer)) => writer,
                Some(Writer::Messages(_)) => {
                    return Err(LayerError::Refused(format!(
                        "proxy-protocol sends a header on a byte stream, but {description} carries messages"
                    )))
                }
                None => {
                    return Err(LayerError::Refused(format!(
                        "proxy-protocol sends a header to the peer, but {description} is not written to"
                    )))
                }
            };
            let header = build(self.version, self.addresses);
            let sent = async {
                writer.write_all(&header).await?;
                writer.flush().await
            };
            sent.await.map_err(|source| LayerError::Handshake {
                layer: "proxy-protocol".to_owned(),
                below: description.to_owned(),
                source,
            })?;
            learned.over.push(match self.addresses {
                Some((source, _)) => format!("PROXY v{} for {source}", self.version.number()),
                None => format!("PROXY v{} without a client", self.version.number()),
            });
            Ok(Data {
                reader,
                writer: Some(Writer::Bytes(writer)),
                learned,
            })
        })
    }
}

/// The internet address of the socket behind `reader`'s peer, when it has one.
fn sender(reader: &ByteReader) -> Option<SocketAddr> {
    let fd = reader.descriptor()?.fd()?;
    socket2::SockRef::from(&fd).peer_addr().ok()?.as_socket()
}

impl Layer for ProxyProtocolReader {
    fn name(&self) -> &str {
        "proxy-protocol"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let Data {
                reader,
                writer,
                mut learned,
            } = below;
            let mut reader = match reader {
                Some(Reader::Bytes(reader)) => reader,
                Some(Reader::Messages(_)) => {
                    return Err(LayerError::Refused(format!(
                        "proxy-protocol reads a header from a byte stream, but {description} carries messages"
                    )))
                }
                None => {
                    return Err(LayerError::Refused(format!(
                        "proxy-protocol reads a header from the peer, but {description} is not read from"
                    )))
                }
            };
            let failed = |e: ReadError| LayerError::Handshake {
                layer: "proxy-protocol".to_owned(),
                below: description.to_owned(),
                source: match e {
                    ReadError::Io(e) => e,
                    other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
                },
            };
            if !self.trusted.is_empty() {
                let Some(from) = sender(&reader) else {
                    return Err(LayerError::Refused(format!(
                        "proxy-protocol-from needs to know who sent the connection, and {description} does not say"
                    )));
                };
                if !self.trusted.iter().any(|range| range.contains(from.ip())) {
                    // Not a proxy: its own address stands and its data is left alone.
                    return Ok(Data {
                        reader: Some(Reader::Bytes(reader)),
                        writer,
                        learned,
                    });
                }
            }
            let header = read_header(&mut reader).await.map_err(failed)?;
            if let Some(wanted) = self.version.filter(|v| *v != header.version) {
                return Err(failed(ReadError::Header(HeaderError::Version {
                    got: header.version.number(),
                    wanted: wanted.number(),
                })));
            }
            if let Some(source) = header.source() {
                learned.peer_address = Some(source);
                learned
                    .over
                    .push(format!("PROXY v{} from {source}", header.version.number()));
            }
            Ok(Data {
                reader: Some(Reader::Bytes(reader)),
                writer,
                learned,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn address(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn parse_whole(bytes: &[u8]) -> Result<(Header, usize), HeaderError> {
        // Fed as a reader would feed it: exactly what it asks for, never more.
        let mut at = 0;
        loop {
            match parse(&bytes[..at])? {
                Parsed::Complete(header, used) => return Ok((header, used)),
                Parsed::Incomplete(more) => {
                    assert!(at + more <= bytes.len(), "{bytes:?}: asked past the header");
                    at += more;
                }
            }
        }
    }

    #[test]
    fn v1_headers_parse_byte_exactly() {
        let cases: &[(&[u8], Addresses)] = &[
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n",
                Addresses::Inet {
                    source: address("192.0.2.1:56324"),
                    destination: address("198.51.100.2:443"),
                },
            ),
            (
                b"PROXY TCP6 2001:db8::1 ::1 1 65535\r\n",
                Addresses::Inet {
                    source: address("[2001:db8::1]:1"),
                    destination: address("[::1]:65535"),
                },
            ),
            (b"PROXY UNKNOWN\r\n", Addresses::Unknown),
            (
                b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
                Addresses::Unknown,
            ),
        ];
        for (bytes, addresses) in cases {
            let (header, used) = parse_whole(bytes).unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(header.version, Version::V1);
            assert_eq!(header.addresses, *addresses);
        }
    }

    #[test]
    fn v1_headers_are_refused_saying_why() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
                "expected PROXY TCP4|TCP6 SOURCE DESTINATION SOURCE-PORT DESTINATION-PORT",
            ),
            (
                b"PROXY TCP4 ::1 198.51.100.2 1 2\r\n",
                "\"::1\" is not a TCP4 address",
            ),
            (
                b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n",
                "\"65536\" is not a port",
            ),
            (
                b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n",
                "\"01\" is not a port",
            ),
            (
                b"PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n",
                "the protocol is not TCP4, TCP6 or UNKNOWN",
            ),
            (
                b"PROXY TCP4 1.2.3.4  1.2.3.4 1 2\r\n",
                "expected PROXY TCP4|TCP6",
            ),
            (
                b"PROXY UNKNOWN\n",
                "a line feed without a carriage return before it",
            ),
        ];
        for (bytes, what) in cases {
            let err = parse_whole(bytes).unwrap_err().to_string();
            assert!(err.starts_with("malformed PROXY v1 header"), "{err}");
            assert!(err.contains(what), "{bytes:?}: {err}");
        }
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.extend(std::iter::repeat_n(b'x', 200));
        assert_eq!(parse_whole(&long).unwrap_err(), HeaderError::V1TooLong);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\n").unwrap_err().to_string(),
            "no PROXY protocol header: the connection starts with \"GET / HT\", not \"PROXY \" or the v2 signature"
        );
        assert!(matches!(parse(b"PROX"), Ok(Parsed::Incomplete(4))));
        assert!(parse(b"PROXX").is_err());
    }

    #[test]
    fn v2_headers_parse_byte_exactly_and_skip_their_tlvs() {
        let v4 = build(
            Version::V2,
            Some((address("192.0.2.1:56324"), address("198.51.100.2:443"))),
        );
        assert_eq!(v4.len(), 28);
        let (header, used) = parse_whole(&v4).unwrap();
        assert_eq!(used, 28);
        assert_eq!(header.source(), Some(address("192.0.2.1:56324")));

        // With a TLV after the addresses (a 5-byte NOOP), the length covers it.
        let mut with_tlv = v4.clone();
        with_tlv[15] = 12 + 5;
        with_tlv.extend_from_slice(&[0x04, 0, 2, 0, 0]);
        let (header, used) = parse_whole(&with_tlv).unwrap();
        assert_eq!(used, with_tlv.len());
        assert_eq!(header.source(), Some(address("192.0.2.1:56324")));

        let v6 = build(
            Version::V2,
            Some((address("[2001:db8::1]:1"), address("[::1]:2"))),
        );
        let (header, used) = parse_whole(&v6).unwrap();
        assert_eq!(used, 16 + 36);
        assert_eq!(
            header.addresses,
            Addresses::Inet {
                source: address("[2001:db8::1]:1"),
                destination: address("[::1]:2")
            }
        );
        let local = build(Version::V2, None);
        assert_eq!(parse_whole(&local).unwrap().0.addresses, Addresses::Unknown);
    }

    #[test]
    fn v2_headers_are_refused_saying_why() {
        let good = build(
            Version::V2,
            Some((address("192.0.2.1:1"), address("192.0.2.2:2"))),
        );
        let edit = |at: usize, byte: u8| {
            let mut bad = good.clone();
            bad[at] = byte;
            parse_whole(&bad).unwrap_err().to_string()
        };
        assert_eq!(
            edit(12, 0x11),
            "malformed PROXY v2 header: version 1 (expected 2)"
        );
        assert_eq!(
            edit(12, 0x22),
            "malformed PROXY v2 header: command 2 (expected 0, LOCAL, or 1, PROXY)"
        );
        assert_eq!(
            edit(13, 0x41),
            "malformed PROXY v2 header: address family and transport 0x41 (expected 0x00-0x32)"
        );
        assert_eq!(
            edit(15, 4),
            "malformed PROXY v2 header: 4 address bytes, fewer than the 12 its family takes"
        );
        assert!(edit(3, b'x').starts_with("no PROXY protocol header"));
    }

    #[test]
    fn build_gives_what_parse_reads_in_both_versions() {
        let pairs = [
            (address("127.0.0.1:4000"), address("127.0.0.1:80")),
            (address("[::1]:4000"), address("[2001:db8::7]:80")),
        ];
        for version in [Version::V1, Version::V2] {
            for (source, destination) in pairs {
                let bytes = build(version, Some((source, destination)));
                let (header, used) = parse_whole(&bytes).unwrap();
                assert_eq!(used, bytes.len());
                assert_eq!(header.version, version);
                assert_eq!(
                    header.addresses,
                    Addresses::Inet {
                        source,
                        destination
                    }
                );
            }
            let (header, _) = parse_whole(&build(version, None)).unwrap();
            assert_eq!(header.addresses, Addresses::Unknown);
        }
        assert_eq!(
            build(
                Version::V1,
                Some((address("10.0.0.1:5"), address("[::1]:6")))
            ),
            b"PROXY TCP6 ::ffff:10.0.0.1 ::1 5 6\r\n"
        );
    }

    #[tokio::test]
    async fn the_writer_sends_its_header_first_and_the_reader_checks_the_version() {
        let client = (address("192.0.2.1:4000"), address("127.0.0.1:80"));
        for (version, addresses, sent) in [
            (
                Version::V1,
                Some(client),
                b"PROXY TCP4 192.0.2.1 127.0.0.1 4000 80\r\n".to_vec(),
            ),
            (Version::V1, None, b"PROXY UNKNOWN\r\n".to_vec()),
            (Version::V2, Some(client), build(Version::V2, Some(client))),
            (Version::V2, None, build(Version::V2, None)),
        ] {
            let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
            let (read, write) = a.into_split();
            let data = Data::new(
                Some(Reader::Bytes(Box::new(read))),
                Some(Writer::Bytes(Box::new(write))),
            );
            let writer = ProxyProtocolWriter { version, addresses };
            let mut data = writer.apply(data, "socket a").await.unwrap();
            // The halves come back as they were: the socket still splices.
            assert!(data.writer.as_ref().unwrap().descriptor().is_some());
            data.writer
                .as_mut()
                .unwrap()
                .write_unit(b"data")
                .await
                .unwrap();
            drop(data);
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            let mut expected = sent.clone();
            expected.extend_from_slice(b"data");
            assert_eq!(got, expected, "{version:?} {addresses:?}");
        }

        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut b, &build(Version::V2, Some(client)))
            .await
            .unwrap();
        let (read, _write) = a.into_split();
        let reader = ProxyProtocolReader {
            trusted: Vec::new(),
            version: Some(Version::V1),
        };
        let data = Data::new(Some(Reader::Bytes(Box::new(read))), None);
        assert_eq!(
            reader.apply(data, "socket a").await.unwrap_err().to_string(),
            "proxy-protocol handshake over socket a: a PROXY v2 header, and proxy-protocol=1 reads only v1"
        );
    }

    #[tokio::test]
    async fn read_header_leaves_the_data_after_it() {
        for header in [
            b"PROXY UNKNOWN\r\n".to_vec(),
            b"PROXY TCP4 10.1.1.1 10.2.2.2 1000 2000\r\n".to_vec(),
            build(
                Version::V2,
                Some((address("10.1.1.1:1000"), address("10.2.2.2:2000"))),
            ),
        ] {
            let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
            let mut sent = header.clone();
            sent.extend_from_slice(b"\r\nPROXY data");
            tokio::io::AsyncWriteExt::write_all(&mut b, &sent)
                .await
                .unwrap();
            drop(b);
            let mut reader: ByteReader = Box::new(a.into_split().0);
            let read = read_header(&mut reader).await.unwrap();
            assert_eq!(read, parse_whole(&header).unwrap().0);
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await.unwrap();
            assert_eq!(rest, b"\r\nPROXY data");
        }
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut b, b"PROXY TCP4 1.2")
            .await
            .unwrap();
        drop(b);
        let mut reader: ByteReader = Box::new(a.into_split().0);
        assert_eq!(
            read_header(&mut reader).await.unwrap_err().to_string(),
            "the connection ended inside the PROXY header (14 bytes read)"
        );
    }
}
