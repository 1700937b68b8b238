//! SOCKS as a server reads and answers it, without I/O: SOCKS4 and its 4a extension (a name
//! after the user id), SOCKS5's greeting, RFC 1929's username/password step, its request,
//! and the header of a UDP ASSOCIATE datagram (RFC 1928 section 7). Every field is checked,
//! and nothing is longer than its length byte or the protocol's limit allows.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::request::{host, Destination, Host, Parse, RequestError, MAX_NAME};

/// SOCKS4's version byte.
pub const SOCKS4: u8 = 4;
/// SOCKS5's version byte.
pub const SOCKS5: u8 = 5;

/// The longest user id a SOCKS4 request may carry.
pub const MAX_USER_ID: usize = 255;

/// A SOCKS4 or SOCKS5 command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Connect to the destination and relay.
    Connect,
    /// Listen for one connection from the destination (not served).
    Bind,
    /// Relay UDP datagrams (SOCKS5 only).
    UdpAssociate,
    /// A command code the protocol does not define.
    Other(u8),
}

impl Command {
    fn from_code(code: u8, version: u8) -> Command {
        match (code, version) {
            (1, _) => Command::Connect,
            (2, _) => Command::Bind,
            (3, SOCKS5) => Command::UdpAssociate,
            (other, _) => Command::Other(other),
        }
    }

    /// The command's name, for logs.
    pub fn name(self) -> String {
        match self {
            Command::Connect => "CONNECT".to_owned(),
            Command::Bind => "BIND".to_owned(),
            Command::UdpAssociate => "UDP ASSOCIATE".to_owned(),
            Command::Other(code) => format!("command 0x{code:02x}"),
        }
    }
}

/// A SOCKS4 or SOCKS4a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks4Request {
    /// What the client asks for.
    pub command: Command,
    /// Where to: an address (SOCKS4) or a name (SOCKS4a).
    pub destination: Destination,
    /// The user id the client sent (no password: SOCKS4 has none).
    pub user_id: Vec<u8>,
}

impl Socks4Request {
    /// Whether the request used SOCKS4a's name form.
    pub fn is_4a(&self) -> bool {
        matches!(self.destination.host, Host::Name(_))
    }
}

/// Reads a NUL-terminated field of at most `limit` bytes starting at `at`: the field and
/// where the byte after its NUL is.
fn nul_terminated(
    buf: &[u8],
    at: usize,
    limit: usize,
    protocol: &'static str,
    what: &str,
) -> Result<Option<(Vec<u8>, usize)>, RequestError> {
    let rest = buf.get(at..).unwrap_or_default();
    match rest.iter().take(limit + 1).position(|b| *b == 0) {
        Some(end) => Ok(Some((rest[..end].to_vec(), at + end + 1))),
        None if rest.len() > limit => Err(RequestError::malformed(
            protocol,
            format!("the {what} is longer than {limit} bytes"),
        )),
        None => Ok(None),
    }
}

/// Parses a SOCKS4 or SOCKS4a request: `04 CMD PORT(2) IP(4) USERID 00 [HOST 00]`.
pub fn socks4_request(buf: &[u8]) -> Parse<Socks4Request> {
    const PROTOCOL: &str = "SOCKS4";
    if buf.len() < 8 {
        return Ok(None);
    }
    if buf[0] != SOCKS4 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!("version {} (expected 4)", buf[0]),
        ));
    }
    let command = Command::from_code(buf[1], SOCKS4);
    let port = u16::from_be_bytes([buf[2], buf[3]]);
    let ip = Ipv4Addr::new(buf[4], buf[5], buf[6], buf[7]);
    let Some((user_id, after_user)) = nul_terminated(buf, 8, MAX_USER_ID, PROTOCOL, "user id")?
    else {
        return Ok(None);
    };
    // SOCKS4a: 0.0.0.x with x not 0 says a name follows the user id.
    let octets = ip.octets();
    let (host, used) = if octets[..3] == [0, 0, 0] && octets[3] != 0 {
        let Some((name, after_name)) =
            nul_terminated(buf, after_user, MAX_NAME, "SOCKS4a", "host name")?
        else {
            return Ok(None);
        };
        (host("SOCKS4a", &name)?, after_name)
    } else {
        (Host::Ip(IpAddr::V4(ip)), after_user)
    };
    if port == 0 && command == Command::Connect {
        return Err(RequestError::malformed(PROTOCOL, "port 0"));
    }
    Ok(Some((
        Socks4Request {
            command,
            destination: Destination { host, port },
            user_id,
        },
        used,
    )))
}

/// A SOCKS4 reply code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks4Reply {
    /// 90: request granted.
    Granted = 90,
    /// 91: request rejected or failed.
    Rejected = 91,
}

/// The 8-byte SOCKS4 reply: `00 CODE PORT(2) IP(4)`.
pub fn socks4_reply(code: Socks4Reply, bound: Option<SocketAddr>) -> [u8; 8] {
    let mut reply = [0, code as u8, 0, 0, 0, 0, 0, 0];
    if let Some(SocketAddr::V4(bound)) = bound {
        reply[2..4].copy_from_slice(&bound.port().to_be_bytes());
        reply[4..8].copy_from_slice(&bound.ip().octets());
    }
    reply
}

/// SOCKS5's authentication methods.
pub mod method {
    /// No authentication.
    pub const NONE: u8 = 0x00;
    /// RFC 1929 username and password.
    pub const USERNAME_PASSWORD: u8 = 0x02;
    /// No acceptable method: the server's answer when none of the client's will do.
    pub const NO_ACCEPTABLE: u8 = 0xff;
}

/// Parses SOCKS5's greeting, `05 N METHOD*N`: the methods the client offers.
pub fn socks5_greeting(buf: &[u8]) -> Parse<Vec<u8>> {
    const PROTOCOL: &str = "SOCKS5";
    if buf.len() < 2 {
        return Ok(None);
    }
    if buf[0] != SOCKS5 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!("version {} (expected 5)", buf[0]),
        ));
    }
    let count = usize::from(buf[1]);
    if count == 0 {
        return Err(RequestError::malformed(
            PROTOCOL,
            "a greeting that offers no method",
        ));
    }
    match buf.get(2..2 + count) {
        Some(methods) => Ok(Some((methods.to_vec(), 2 + count))),
        None => Ok(None),
    }
}

/// RFC 1929's request: the name and the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub name: Vec<u8>,
    /// The password.
    pub password: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("name", &String::from_utf8_lossy(&self.name))
            .finish_non_exhaustive()
    }
}

/// Parses RFC 1929's request, `01 ULEN UNAME PLEN PASSWD`.
pub fn username_password(buf: &[u8]) -> Parse<Credentials> {
    const PROTOCOL: &str = "RFC 1929";
    let Some(&version) = buf.first() else {
        return Ok(None);
    };
    if version != 1 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!("version {version} (expected 1)"),
        ));
    }
    let Some(&name_length) = buf.get(1) else {
        return Ok(None);
    };
    let name_end = 2 + usize::from(name_length);
    let Some(&password_length) = buf.get(name_end) else {
        return Ok(None);
    };
    let end = name_end + 1 + usize::from(password_length);
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some((
        Credentials {
            name: buf[2..name_end].to_vec(),
            password: buf[name_end + 1..end].to_vec(),
        },
        end,
    )))
}

/// RFC 1929's answer: `01 00` accepts, anything else refuses.
pub fn username_password_reply(accepted: bool) -> [u8; 2] {
    [1, if accepted { 0 } else { 1 }]
}

/// A SOCKS5 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks5Request {
    /// What the client asks for.
    pub command: Command,
    /// Where to (for UDP ASSOCIATE, where the client will send from, often all zeros).
    pub destination: Destination,
}

/// Parses SOCKS5's address form, `ATYP ADDR PORT(2)`, at the start of `buf`.
fn socks5_address(buf: &[u8], protocol: &'static str) -> Parse<Destination> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let (host, end) = match kind {
        1 => {
            let Some(octets) = buf.get(1..5) else {
                return Ok(None);
            };
            let octets: [u8; 4] = octets.try_into().unwrap_or_default();
            (Host::Ip(IpAddr::V4(Ipv4Addr::from(octets))), 5)
        }
        3 => {
            let Some(&length) = buf.get(1) else {
                return Ok(None);
            };
            let end = 2 + usize::from(length);
            let Some(name) = buf.get(2..end) else {
                return Ok(None);
            };
            (host(protocol, name)?, end)
        }
        4 => {
            let Some(octets) = buf.get(1..17) else {
                return Ok(None);
            };
            let octets: [u8; 16] = octets.try_into().unwrap_or_default();
            (Host::Ip(IpAddr::V6(Ipv6Addr::from(octets))), 17)
        }
        other => return Err(RequestError::AddressType(other)),
    };
    let Some(port) = buf.get(end..end + 2) else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    Ok(Some((Destination { host, port }, end + 2)))
}

/// Parses SOCKS5's request, `05 CMD 00 ATYP ADDR PORT(2)`.
pub fn socks5_request(buf: &[u8]) -> Parse<Socks5Request> {
    const PROTOCOL: &str = "SOCKS5";
    if buf.len() < 3 {
        return Ok(None);
    }
    if buf[0] != SOCKS5 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!("version {} (expected 5)", buf[0]),
        ));
    }
    if buf[2] != 0 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!("reserved byte 0x{:02x} (expected 0)", buf[2]),
        ));
    }
    let command = Command::from_code(buf[1], SOCKS5);
    let Some((destination, used)) = socks5_address(&buf[3..], PROTOCOL)? else {
        return Ok(None);
    };
    if destination.port == 0 && command == Command::Connect {
        return Err(RequestError::malformed(PROTOCOL, "port 0"));
    }
    Ok(Some((
        Socks5Request {
            command,
            destination,
        },
        3 + used,
    )))
}

/// A SOCKS5 reply code (RFC 1928 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks5Reply {
    /// 0: succeeded.
    Succeeded = 0,
    /// 1: general SOCKS server failure.
    GeneralFailure = 1,
    /// 2: connection not allowed by ruleset.
    NotAllowed = 2,
    /// 3: network unreachable.
    NetworkUnreachable = 3,
    /// 4: host unreachable.
    HostUnreachable = 4,
    /// 5: connection refused.
    ConnectionRefused = 5,
    /// 6: TTL expired.
    TtlExpired = 6,
    /// 7: command not supported.
    CommandNotSupported = 7,
    /// 8: address type not supported.
    AddressTypeNotSupported = 8,
}

fn push_address(out: &mut Vec<u8>, address: SocketAddr) {
    match address.ip() {
        IpAddr::V4(ip) => {
            out.push(1);
            out.extend_from_slice(&ip.octets());
        }
        IpAddr::V6(ip) => {
            out.push(4);
            out.extend_from_slice(&ip.octets());
        }
    }
    out.extend_from_slice(&address.port().to_be_bytes());
}

/// A SOCKS5 reply, `05 REP 00 ATYP BND.ADDR BND.PORT`; an unknown bound address is sent as
/// 0.0.0.0:0.
pub fn socks5_reply(code: Socks5Reply, bound: Option<SocketAddr>) -> Vec<u8> {
    let mut reply = vec![SOCKS5, code as u8, 0];
    let unspecified = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    push_address(&mut reply, bound.unwrap_or(unspecified));
    reply
}

/// A UDP ASSOCIATE datagram's header, as the client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpHeader {
    /// The fragment number; 0 is a whole datagram, and the server drops any other.
    pub fragment: u8,
    /// Where the payload goes.
    pub destination: Destination,
}

/// Parses a UDP ASSOCIATE datagram, `00 00 FRAG ATYP ADDR PORT(2) DATA`: the header and
/// where the payload starts. The datagram is whole, so a short one is an error.
pub fn udp_datagram(datagram: &[u8]) -> Result<(UdpHeader, usize), RequestError> {
    const PROTOCOL: &str = "SOCKS5 UDP";
    if datagram.len() < 3 {
        return Err(RequestError::malformed(
            PROTOCOL,
            format!(
                "a datagram of {} bytes, shorter than its header",
                datagram.len()
            ),
        ));
    }
    if datagram[..2] != [0, 0] {
        return Err(RequestError::malformed(PROTOCOL, "reserved bytes not zero"));
    }
    match socks5_address(&datagram[3..], PROTOCOL)? {
        Some((destination, used)) => Ok((
            UdpHeader {
                fragment: datagram[2],
                destination,
            },
            3 + used,
        )),
        None => Err(RequestError::malformed(
            PROTOCOL,
            "a datagram that ends inside its header",
        )),
    }
}

/// A datagram to the client: the header naming `source`, then `payload`.
pub fn udp_datagram_to_client(source: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::with_capacity(22 + payload.len());
    datagram.extend_from_slice(&[0, 0, 0]);
    push_address(&mut datagram, source);
    datagram.extend_from_slice(payload);
    datagram
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ip(text: &str) -> Host {
        Host::Ip(text.parse().unwrap())
    }

    #[test]
    fn socks4_and_4a_requests_parse_and_wait_for_their_end() {
        let plain = b"\x04\x01\x00\x50\x7f\x00\x00\x01bob\x00";
        for end in 0..plain.len() {
            assert_eq!(socks4_request(&plain[..end]), Ok(None), "{end}");
        }
        let mut with_data = plain.to_vec();
        with_data.extend_from_slice(b"GET");
        let (request, used) = socks4_request(&with_data).unwrap().unwrap();
        assert_eq!(used, plain.len());
        assert_eq!(request.command, Command::Connect);
        assert_eq!(request.destination.to_string(), "127.0.0.1:80");
        assert_eq!(request.user_id, b"bob");
        assert!(!request.is_4a());

        let named = b"\x04\x01\x01\xbb\x00\x00\x00\x07\x00example.org\x00";
        for end in 0..named.len() {
            assert_eq!(socks4_request(&named[..end]), Ok(None), "{end}");
        }
        let (request, used) = socks4_request(named).unwrap().unwrap();
        assert_eq!(used, named.len());
        assert_eq!(
            request.destination,
            Destination {
                host: Host::Name("example.org".to_owned()),
                port: 443
            }
        );
        assert!(request.is_4a());
        let bind = b"\x04\x02\x00\x50\x7f\x00\x00\x01\x00";
        assert_eq!(
            socks4_request(bind).unwrap().unwrap().0.command,
            Command::Bind
        );
    }

    #[test]
    fn socks4_refuses_what_is_too_long_or_wrong() {
        let mut long = b"\x04\x01\x00\x50\x7f\x00\x00\x01".to_vec();
        long.extend_from_slice(&[b'u'; 256]);
        assert_eq!(
            socks4_request(&long).unwrap_err().to_string(),
            "malformed SOCKS4 request: the user id is longer than 255 bytes"
        );
        let mut long_name = b"\x04\x01\x00\x50\x00\x00\x00\x01\x00".to_vec();
        long_name.extend_from_slice(&[b'h'; 256]);
        assert_eq!(
            socks4_request(&long_name).unwrap_err().to_string(),
            "malformed SOCKS4a request: the host name is longer than 255 bytes"
        );
        assert_eq!(
            socks4_request(b"\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00")
                .unwrap_err()
                .to_string(),
            "malformed SOCKS4a request: a host name of 0 bytes (expected 1 to 255)"
        );
        assert_eq!(
            socks4_request(b"\x04\x01\x00\x00\x7f\x00\x00\x01\x00")
                .unwrap_err()
                .to_string(),
            "malformed SOCKS4 request: port 0"
        );
    }

    #[test]
    fn socks4_replies_carry_the_code_and_address() {
        assert_eq!(
            socks4_reply(Socks4Reply::Granted, Some("10.0.0.1:258".parse().unwrap())),
            [0, 90, 1, 2, 10, 0, 0, 1]
        );
        assert_eq!(
            socks4_reply(Socks4Reply::Rejected, None),
            [0, 91, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn socks5_greeting_and_credentials_parse() {
        assert_eq!(socks5_greeting(b"\x05"), Ok(None));
        assert_eq!(socks5_greeting(b"\x05\x02\x00"), Ok(None));
        assert_eq!(
            socks5_greeting(b"\x05\x02\x00\x02\x01"),
            Ok(Some((vec![0, 2], 4)))
        );
        assert_eq!(
            socks5_greeting(b"\x05\x00").unwrap_err().to_string(),
            "malformed SOCKS5 request: a greeting that offers no method"
        );
        let auth = b"\x01\x05alice\x06secret";
        for end in 0..auth.len() {
            assert_eq!(username_password(&auth[..end]), Ok(None), "{end}");
        }
        let (credentials, used) = username_password(auth).unwrap().unwrap();
        assert_eq!(used, auth.len());
        assert_eq!(credentials.name, b"alice");
        assert_eq!(credentials.password, b"secret");
        assert!(!format!("{credentials:?}").contains("secret"));
        assert_eq!(
            username_password(b"\x05\x01a\x01b")
                .unwrap_err()
                .to_string(),
            "malformed RFC 1929 request: version 5 (expected 1)"
        );
        assert_eq!(username_password_reply(true), [1, 0]);
        assert_eq!(username_password_reply(false), [1, 1]);
    }

    #[test]
    fn socks5_requests_parse_every_address_type() {
        let cases: &[(&[u8], Command, Host, u16)] = &[
            (
                b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50",
                Command::Connect,
                ip("127.0.0.1"),
                80,
            ),
            (
                b"\x05\x01\x00\x03\x0bexample.org\x01\xbb",
                Command::Connect,
                Host::Name("example.org".to_owned()),
                443,
            ),
            (
                b"\x05\x03\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x16",
                Command::UdpAssociate,
                ip("::1"),
                22,
            ),
            (
                b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00",
                Command::Bind,
                ip("0.0.0.0"),
                0,
            ),
            (
                b"\x05\x09\x00\x01\x00\x00\x00\x00\x00\x01",
                Command::Other(9),
                ip("0.0.0.0"),
                1,
            ),
        ];
        for (bytes, command, host, port) in cases {
            for end in 0..bytes.len() {
                assert_eq!(socks5_request(&bytes[..end]), Ok(None), "{bytes:?} {end}");
            }
            let (request, used) = socks5_request(bytes).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(request.command, *command);
            assert_eq!(request.destination.host, *host);
            assert_eq!(request.destination.port, *port);
        }
        assert_eq!(
            socks5_request(b"\x05\x01\x00\x02\x00"),
            Err(RequestError::AddressType(2))
        );
        assert_eq!(
            socks5_request(b"\x05\x01\x01\x01").unwrap_err().to_string(),
            "malformed SOCKS5 request: reserved byte 0x01 (expected 0)"
        );
        assert_eq!(
            socks5_request(b"\x05\x01\x00\x03\x00\x00\x50")
                .unwrap_err()
                .to_string(),
            "malformed SOCKS5 request: a host name of 0 bytes (expected 1 to 255)"
        );
    }

    #[test]
    fn socks5_replies_name_the_bound_address() {
        assert_eq!(
            socks5_reply(
                Socks5Reply::Succeeded,
                Some("127.0.0.1:1080".parse().unwrap())
            ),
            b"\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"
        );
        assert_eq!(
            socks5_reply(Socks5Reply::NotAllowed, None),
            b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"
        );
        let v6 = socks5_reply(Socks5Reply::Succeeded, Some("[::1]:2".parse().unwrap()));
        assert_eq!(v6.len(), 22);
        assert_eq!(v6[3], 4);
    }

    #[test]
    fn udp_datagrams_parse_and_build_back() {
        let source: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let datagram = udp_datagram_to_client(source, b"answer");
        let (header, start) = udp_datagram(&datagram).unwrap();
        assert_eq!(header.fragment, 0);
        assert_eq!(header.destination.to_string(), "127.0.0.1:53");
        assert_eq!(&datagram[start..], b"answer");
        assert_eq!(
            udp_datagram(b"\x00\x00\x00\x01\x7f")
                .unwrap_err()
                .to_string(),
            "malformed SOCKS5 UDP request: a datagram that ends inside its header"
        );
        assert_eq!(
            udp_datagram(b"\x00\x01\x00\x01\x7f\x00\x00\x01\x00\x35")
                .unwrap_err()
                .to_string(),
            "malformed SOCKS5 UDP request: reserved bytes not zero"
        );
        let empty = b"\x00\x00\x00\x03\x01h\x00\x35";
        assert_eq!(udp_datagram(empty).unwrap().1, empty.len());
    }
}
