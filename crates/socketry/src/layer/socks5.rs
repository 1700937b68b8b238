//! A SOCKS5 client (RFC 1928): CONNECT to a target, or BIND for one incoming connection
//! (socat's `SOCKS5-LISTEN`), with no authentication or username and password (RFC 1929).
//! A target name goes to the proxy as a name (the domain form); an address as an address.
//! Every reply is read to its exact length, which its own bytes bound (at most 262), so that
//! nothing after it is taken.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::base::{byte_halves, Data, Handshake, Layer, LayerError};
use super::reply::{self, ReadError, ReplyError};
use crate::address::Host;
use crate::channel::{Reader, Writer};

/// What the proxy is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socks5Command {
    /// Connect to the target.
    Connect,
    /// Listen on the target address and hand over the first connection to it.
    Bind,
}

/// A username and password for RFC 1929 authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username, 1 to 255 bytes.
    pub user: String,
    /// The password, 1 to 255 bytes.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// A SOCKS5 request through the proxy at the other end of the stream below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5 {
    /// CONNECT or BIND.
    pub command: Socks5Command,
    /// The target (for BIND, the address the proxy listens on).
    pub host: Host,
    /// Its port.
    pub port: u16,
    /// Offered as username/password authentication when given; without, only "no
    /// authentication" is offered.
    pub credentials: Option<Credentials>,
}

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASSWORD: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xff;

/// What a request reply says: where the proxy is bound (CONNECT's local end, BIND's listening
/// address, or BIND's connected peer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundAddress {
    /// An IPv4 or IPv6 address and port.
    Ip(SocketAddr),
    /// A name and port.
    Name(String, u16),
}

impl std::fmt::Display for BoundAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoundAddress::Ip(address) => write!(f, "{address}"),
            BoundAddress::Name(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

impl Socks5 {
    fn greeting(&self) -> Vec<u8> {
        match self.credentials {
            Some(_) => vec![VERSION, 2, NO_AUTH, USER_PASSWORD],
            None => vec![VERSION, 1, NO_AUTH],
        }
    }

    fn request(&self) -> Vec<u8> {
        let command = match self.command {
            Socks5Command::Connect => 1,
            Socks5Command::Bind => 2,
        };
        let mut request = vec![VERSION, command, 0];
        match &self.host {
            Host::Ip(IpAddr::V4(ip)) => {
                request.push(1);
                request.extend_from_slice(&ip.octets());
            }
            Host::Ip(IpAddr::V6(ip)) => {
                request.push(4);
                request.extend_from_slice(&ip.octets());
            }
            Host::Name(name) => {
                // A host name is at most 253 bytes (Host::parse), within the one length byte.
                request.push(3);
                request.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
                request.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
            }
        }
        request.extend_from_slice(&self.port.to_be_bytes());
        request
    }

    async fn handshake(
        &self,
        reader: &mut crate::channel::ByteReader,
        writer: &mut crate::channel::ByteWriter,
        description: &str,
    ) -> Result<(), ReadError> {
        writer
            .write_all(&self.greeting())
            .await
            .map_err(ReadError::Io)?;
        match read_method(reader).await? {
            NO_AUTH => {}
            USER_PASSWORD => match &self.credentials {
                Some(credentials) => {
                    writer
                        .write_all(&authentication(credentials))
                        .await
                        .map_err(ReadError::Io)?;
                    read_authentication(reader).await?;
                }
                None => return Err(not_offered(USER_PASSWORD).into()),
            },
            other => return Err(not_offered(other).into()),
        }
        writer
            .write_all(&self.request())
            .await
            .map_err(ReadError::Io)?;
        let bound = read_reply(reader).await?;
        match self.command {
            Socks5Command::Connect => tracing::info!(
                "SOCKS5 proxy over {description} connected to {}:{} from {bound}",
                self.host,
                self.port
            ),
            Socks5Command::Bind => {
                tracing::info!("SOCKS5 proxy over {description} listening on {bound}");
                let peer = read_reply(reader).await?;
                tracing::info!("SOCKS5 proxy over {description} accepted a connection from {peer}");
            }
        }
        Ok(())
    }
}

fn not_offered(method: u8) -> ReplyError {
    ReplyError::Malformed {
        what: "method selection",
        why: format!("it chose method {method}, which was not offered"),
    }
}

/// The RFC 1929 request: version 1, the username and the password, each after its length.
fn authentication(credentials: &Credentials) -> Vec<u8> {
    let mut request = vec![1];
    for field in [&credentials.user, &credentials.password] {
        let bytes = &field.as_bytes()[..field.len().min(255)];
        request.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
        request.extend_from_slice(bytes);
    }
    request
}

/// Reads the method selection: version 5 and the method chosen (0xff: none acceptable).
pub(crate) async fn read_method<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
) -> Result<u8, ReadError> {
    let mut reply = [0; 2];
    reply::read_exact(reader, &mut reply, "SOCKS5 method selection", 0, 2).await?;
    if reply[0] != VERSION {
        return Err(ReplyError::Version {
            what: "SOCKS5 method selection",
            got: reply[0],
            expected: VERSION,
        }
        .into());
    }
    if reply[1] == NO_ACCEPTABLE {
        return Err(ReplyError::Refused {
            code: u16::from(NO_ACCEPTABLE),
            meaning: "no acceptable authentication method".to_owned(),
        }
        .into());
    }
    Ok(reply[1])
}

/// Reads the RFC 1929 status: version 1, status 0 for success.
pub(crate) async fn read_authentication<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
) -> Result<(), ReadError> {
    let mut reply = [0; 2];
    reply::read_exact(reader, &mut reply, "SOCKS5 authentication reply", 0, 2).await?;
    if reply[0] != 1 {
        return Err(ReplyError::Version {
            what: "SOCKS5 authentication reply",
            got: reply[0],
            expected: 1,
        }
        .into());
    }
    if reply[1] != 0 {
        return Err(ReplyError::Refused {
            code: u16::from(reply[1]),
            meaning: "username and password not accepted".to_owned(),
        }
        .into());
    }
    Ok(())
}

/// What RFC 1928 says a reply code means.
fn meaning(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "not a SOCKS5 reply code",
    }
}

/// Reads a request reply: version 5, code 0 (succeeded), a reserved 0, then the bound
/// address in one of the three forms and its port.
pub(crate) async fn read_reply<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
) -> Result<BoundAddress, ReadError> {
    const WHAT: &str = "SOCKS5 reply";
    let mut head = [0; 5];
    // The shortest reply: 4 bytes of header, an IPv4 address, a port.
    reply::read_exact(reader, &mut head, WHAT, 0, 10).await?;
    if head[0] != VERSION {
        return Err(ReplyError::Version {
            what: WHAT,
            got: head[0],
            expected: VERSION,
        }
        .into());
    }
    if head[1] != 0 {
        return Err(ReplyError::Refused {
            code: u16::from(head[1]),
            meaning: meaning(head[1]).to_owned(),
        }
        .into());
    }
    if head[2] != 0 {
        return Err(ReplyError::Malformed {
            what: WHAT,
            why: format!("its reserved byte is {}, not 0", head[2]),
        }
        .into());
    }
    // The fifth byte is the first of an address, or a name's length.
    let rest = match head[3] {
        1 => 4 - 1 + 2,
        4 => 16 - 1 + 2,
        3 => usize::from(head[4]) + 2,
        other => {
            return Err(ReplyError::Malformed {
                what: WHAT,
                why: format!("its address type is {other}, not 1, 3 or 4"),
            }
            .into())
        }
    };
    let mut tail = vec![0; rest];
    reply::read_exact(reader, &mut tail, WHAT, head.len(), head.len() + rest).await?;
    let (address, port) = tail.split_at(rest - 2);
    let port = u16::from_be_bytes([port[0], port[1]]);
    Ok(match head[3] {
        1 => {
            let ip = Ipv4Addr::new(head[4], address[0], address[1], address[2]);
            BoundAddress::Ip(SocketAddr::new(IpAddr::V4(ip), port))
        }
        4 => {
            let mut octets = [0; 16];
            octets[0] = head[4];
            octets[1..].copy_from_slice(address);
            BoundAddress::Ip(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        }
        _ => BoundAddress::Name(String::from_utf8_lossy(address).into_owned(), port),
    })
}

impl Layer for Socks5 {
    fn name(&self) -> &str {
        match self.command {
            Socks5Command::Connect => "SOCKS5-CONNECT",
            Socks5Command::Bind => "SOCKS5-LISTEN",
        }
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let (mut reader, mut writer) = byte_halves(below, self.name(), description)?;
            self.handshake(&mut reader, &mut writer, description)
                .await
                .map_err(|e| LayerError::Handshake {
                    layer: self.name().to_owned(),
                    below: description.to_owned(),
                    source: e.into(),
                })?;
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

    fn connect(host: Host, credentials: Option<Credentials>) -> Socks5 {
        Socks5 {
            command: Socks5Command::Connect,
            host,
            port: 80,
            credentials,
        }
    }

    #[test]
    fn requests_use_the_domain_form_only_for_names() {
        let ip = connect(Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)), None);
        assert_eq!(ip.greeting(), b"\x05\x01\x00");
        assert_eq!(ip.request(), b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50");
        let name = connect(Host::Name("example.org".to_owned()), None);
        assert_eq!(name.request(), b"\x05\x01\x00\x03\x0bexample.org\x00\x50");
        let v6 = connect(Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), None);
        assert_eq!(
            v6.request(),
            b"\x05\x01\x00\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x00\x50"
        );
        let credentials = Credentials {
            user: "ann".to_owned(),
            password: "s3cret".to_owned(),
        };
        assert_eq!(
            connect(
                Host::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                Some(credentials.clone())
            )
            .greeting(),
            b"\x05\x02\x00\x02"
        );
        assert_eq!(authentication(&credentials), b"\x01\x03ann\x06s3cret");
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }

    async fn reply(bytes: &[u8]) -> Result<BoundAddress, String> {
        let mut bytes = bytes;
        read_reply(&mut bytes).await.map_err(|e| match e {
            ReadError::Reply(e) => e.to_string(),
            ReadError::Io(e) => format!("io: {e}"),
        })
    }

    #[tokio::test]
    async fn replies_are_read_to_their_exact_length_and_refusals_name_the_code() {
        assert_eq!(
            reply(b"\x05\x00\x00\x01\x10\x00\x1f\x64\x1f\x64").await,
            Ok(BoundAddress::Ip("16.0.31.100:8036".parse().unwrap()))
        );
        assert_eq!(
            reply(b"\x05\x00\x00\x03\x04host\x00\x50").await,
            Ok(BoundAddress::Name("host".to_owned(), 80))
        );
        assert_eq!(
            reply(b"\x05\x05\x00\x01\0\0\0\0\0\0").await.unwrap_err(),
            "the proxy refused: reply code 5 (connection refused)"
        );
        assert_eq!(
            reply(b"\x04\x00\x00\x01\0\0\0\0\0\0").await.unwrap_err(),
            "the proxy's SOCKS5 reply has version 4, not 5"
        );
        assert_eq!(
            reply(b"\x05\x00\x00\x04\0\0\0").await.unwrap_err(),
            "the proxy closed the connection after 7 of the 22 bytes of its SOCKS5 reply"
        );
        assert_eq!(
            reply(b"\x05\x00\x00\x07\0\0\0").await.unwrap_err(),
            "the proxy's SOCKS5 reply is malformed: its address type is 7, not 1, 3 or 4"
        );
    }
}
