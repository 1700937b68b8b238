//! SOCKS4 and SOCKS4a clients: a CONNECT request for a target, sent over whatever stream
//! reaches the proxy. SOCKS4 carries the target as an IPv4 address, so a name is resolved
//! here; SOCKS4a sends the name for the proxy to resolve. The reply is exactly eight bytes,
//! read exactly, so that nothing of the data after it is taken.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWriteExt};

use super::base::{byte_halves, Data, Handshake, Layer, LayerError};
use super::reply::{self, ReadError, ReplyError};
use crate::address::Host;
use crate::channel::{Reader, Writer};

/// Which of the two SOCKS4 dialects is spoken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Socks4Version {
    /// SOCKS4: the target is an IPv4 address, resolved by the client.
    Four,
    /// SOCKS4a: a target name is sent for the proxy to resolve.
    FourA,
}

/// A SOCKS4 or SOCKS4a CONNECT through the proxy at the other end of the stream below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks4 {
    /// The dialect.
    pub version: Socks4Version,
    /// The host the proxy connects to: an IPv4 address or a name (never IPv6, which SOCKS4
    /// cannot carry).
    pub host: Host,
    /// The port it connects to.
    pub port: u16,
    /// The user id sent (socat's `socksuser`, by default the login name).
    pub user: String,
}

/// The length of every SOCKS4 reply.
pub const REPLY_LEN: usize = 8;

impl Socks4 {
    fn name_of(&self) -> &'static str {
        match self.version {
            Socks4Version::Four => "SOCKS4",
            Socks4Version::FourA => "SOCKS4A",
        }
    }

    /// The request: version 4, command 1 (CONNECT), the port, the address (0.0.0.1 for a
    /// SOCKS4a name), the user id and a NUL, then for SOCKS4a the name and a NUL.
    fn request(&self, address: Ipv4Addr, name: Option<&str>) -> Vec<u8> {
        let mut request = vec![4, 1];
        request.extend_from_slice(&self.port.to_be_bytes());
        request.extend_from_slice(&address.octets());
        request.extend_from_slice(self.user.as_bytes());
        request.push(0);
        if let Some(name) = name {
            request.extend_from_slice(name.as_bytes());
            request.push(0);
        }
        request
    }

    /// The target's IPv4 address, resolving a name for SOCKS4; for SOCKS4a a name is left
    /// for the proxy.
    async fn target(&self) -> std::io::Result<(Ipv4Addr, Option<&str>)> {
        match (&self.host, self.version) {
            (Host::Ip(IpAddr::V4(ip)), _) => Ok((*ip, None)),
            (Host::Ip(IpAddr::V6(ip)), _) => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("SOCKS4 cannot carry the IPv6 address {ip}"),
            )),
            (Host::Name(name), Socks4Version::FourA) => {
                Ok((Ipv4Addr::new(0, 0, 0, 1), Some(name.as_str())))
            }
            (Host::Name(name), Socks4Version::Four) => {
                let resolved = tokio::net::lookup_host((name.as_str(), self.port)).await?;
                resolved
                    .filter_map(|a| match a {
                        SocketAddr::V4(a) => Some(*a.ip()),
                        SocketAddr::V6(_) => None,
                    })
                    .next()
                    .map(|ip| (ip, None))
                    .ok_or_else(|| {
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("{name} has no IPv4 address for SOCKS4 (SOCKS4A lets the proxy resolve it)"),
                        )
                    })
            }
        }
    }
}

/// Reads a SOCKS4 reply: eight bytes, version 0 (some servers answer 4), code 90 granted.
pub(crate) async fn read_reply<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
) -> Result<(), ReadError> {
    let mut reply = [0; REPLY_LEN];
    reply::read_exact(reader, &mut reply, "SOCKS4 reply", 0, REPLY_LEN).await?;
    parse_reply(&reply)?;
    Ok(())
}

/// Checks a SOCKS4 reply's version and code.
pub fn parse_reply(reply: &[u8; REPLY_LEN]) -> Result<(), ReplyError> {
    if reply[0] != 0 && reply[0] != 4 {
        return Err(ReplyError::Version {
            what: "SOCKS4 reply",
            got: reply[0],
            expected: 0,
        });
    }
    let meaning = match reply[1] {
        90 => return Ok(()),
        91 => "request rejected or failed",
        92 => "the proxy could not reach the client's identd",
        93 => "the client's identd reported another user",
        _ => "not a SOCKS4 reply code",
    };
    Err(ReplyError::Refused {
        code: u16::from(reply[1]),
        meaning: meaning.to_owned(),
    })
}

impl Layer for Socks4 {
    fn name(&self) -> &str {
        self.name_of()
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let layer = self.name_of();
            let (mut reader, mut writer) = byte_halves(below, layer, description)?;
            let failed = |source| LayerError::Handshake {
                layer: layer.to_owned(),
                below: description.to_owned(),
                source,
            };
            let (address, name) = self.target().await.map_err(failed)?;
            writer
                .write_all(&self.request(address, name))
                .await
                .map_err(failed)?;
            read_reply(&mut reader)
                .await
                .map_err(|e| failed(e.into()))?;
            tracing::info!(
                "{layer} proxy over {description} connected to {}:{}",
                self.host,
                self.port
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

    #[test]
    fn requests_carry_the_port_address_user_and_name() {
        let socks4 = Socks4 {
            version: Socks4Version::Four,
            host: Host::Ip(IpAddr::V4(Ipv4Addr::new(32, 98, 76, 54))),
            port: 32109,
            user: "nobody".to_owned(),
        };
        assert_eq!(
            socks4.request(Ipv4Addr::new(32, 98, 76, 54), None),
            b"\x04\x01\x7d\x6d\x20\x62\x4c\x36nobody\0"
        );
        let socks4a = Socks4 {
            version: Socks4Version::FourA,
            host: Host::Name("example.org".to_owned()),
            ..socks4
        };
        assert_eq!(
            socks4a.request(Ipv4Addr::new(0, 0, 0, 1), Some("example.org")),
            b"\x04\x01\x7d\x6d\0\0\0\x01nobody\0example.org\0"
        );
    }

    #[test]
    fn replies_are_parsed_strictly() {
        assert_eq!(parse_reply(b"\0\x5a\0\0\0\0\0\0"), Ok(()));
        assert_eq!(parse_reply(b"\x04\x5a\0\0\0\0\0\0"), Ok(()));
        assert_eq!(
            parse_reply(b"\0\x5b\0\0\0\0\0\0").unwrap_err().to_string(),
            "the proxy refused: reply code 91 (request rejected or failed)"
        );
        assert_eq!(
            parse_reply(b"\x05\x5a\0\0\0\0\0\0")
                .unwrap_err()
                .to_string(),
            "the proxy's SOCKS4 reply has version 5, not 0"
        );
    }

    #[tokio::test]
    async fn a_short_reply_is_truncated_not_a_hang() {
        let mut short: &[u8] = b"\0\x5a\0";
        let Err(ReadError::Reply(error)) = read_reply(&mut short).await else {
            panic!("three bytes are not a reply");
        };
        assert_eq!(
            error.to_string(),
            "the proxy closed the connection after 3 of the 8 bytes of its SOCKS4 reply"
        );
    }
}
