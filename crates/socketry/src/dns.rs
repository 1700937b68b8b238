//! socketry's own DNS client, for the `res-*` options: a host name is looked up in /etc/hosts
//! first, as the system's resolver does, and otherwise asked of one DNS server (`res-nsaddr`,
//! else the first `nameserver` of /etc/resolv.conf) with the query's settings in hand (how
//! long to wait, how often to ask again, recursion, TCP). The messages are RFC 1035's: a
//! question for A or AAAA records of the name, and the answer's records of that type.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where and how a name is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server asked; `None`: the first nameserver of /etc/resolv.conf.
    pub server: Option<SocketAddr>,
    /// How many times an unanswered query is sent again (`res-retry`).
    pub retries: u32,
    /// How long to wait for each answer (`res-retrans`).
    pub timeout: Duration,
    /// Whether the server is asked to recurse (`res-recurse`).
    pub recurse: bool,
    /// Ask over TCP from the start (`res-usevc`).
    pub tcp: bool,
    /// Take a truncated UDP answer as it is instead of asking again over TCP (`res-igntc`).
    pub ignore_truncation: bool,
}

impl Default for Settings {
    /// The system resolver's defaults (resolv.conf(5)): 5 s, two more attempts, recursion.
    fn default() -> Settings {
        Settings {
            server: None,
            retries: 2,
            timeout: Duration::from_secs(5),
            recurse: true,
            tcp: false,
            ignore_truncation: false,
        }
    }
}

/// Why a name was not resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The name cannot be asked for: an empty label, one over 63 bytes, or over 253 in all.
    #[error("{0:?} is not a host name a DNS query can carry")]
    BadName(String),
    /// No server to ask: no `res-nsaddr`, and none in /etc/resolv.conf.
    #[error("no DNS server to ask (no res-nsaddr, and no nameserver in /etc/resolv.conf)")]
    NoServer,
    /// The server did not answer in time, however often it was asked.
    #[error("no answer from the DNS server {server} after {attempts} queries of {timeout:?} each")]
    NoAnswer {
        /// The server asked.
        server: SocketAddr,
        /// How many queries were sent.
        attempts: u32,
        /// How long each waited.
        timeout: Duration,
    },
    /// The server says the name does not exist.
    #[error("the DNS server {0} knows no such host")]
    NoSuchHost(SocketAddr),
    /// The server answered with an error code.
    #[error("the DNS server {server} answered with error code {code}")]
    ServerError {
        /// The server asked.
        server: SocketAddr,
        /// The response code (RCODE).
        code: u8,
    },
    /// The answer is not a DNS message that answers the query.
    #[error("the DNS server {0} sent an answer that does not parse")]
    Malformed(SocketAddr),
    /// Talking to the server failed.
    #[error("asking the DNS server {server}: {source}")]
    Io {
        /// The server asked.
        server: SocketAddr,
        /// What failed.
        source: io::Error,
    },
}

/// A record type asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
}

impl RecordType {
    fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::Aaaa => 28,
        }
    }
}

/// The addresses of `name` of each of `types`, in that order: from /etc/hosts if it names
/// the host, else from the DNS server.
pub async fn lookup(
    name: &str,
    types: &[RecordType],
    settings: &Settings,
) -> Result<Vec<IpAddr>, LookupError> {
    let from_hosts = hosts_file_lookup(name, types);
    if !from_hosts.is_empty() {
        return Ok(from_hosts);
    }
    let server = match settings.server {
        Some(server) => server,
        None => first_nameserver().ok_or(LookupError::NoServer)?,
    };
    let mut found = Vec::new();
    let mut missing = None;
    for &record in types {
        match ask(name, record, server, settings).await {
            Ok(addresses) => found.extend(addresses),
            Err(e @ LookupError::NoSuchHost(_)) => missing = Some(e),
            Err(e) => return Err(e),
        }
    }
    match missing {
        Some(e) if found.is_empty() => Err(e),
        _ => Ok(found),
    }
}

/// One question to the server, asked again while it does not answer.
async fn ask(
    name: &str,
    record: RecordType,
    server: SocketAddr,
    settings: &Settings,
) -> Result<Vec<IpAddr>, LookupError> {
    let id = query_id();
    let query = encode_query(id, name, record, settings.recurse)?;
    let io_error = |source| LookupError::Io { server, source };
    if settings.tcp {
        let answer = ask_tcp(&query, server, settings.timeout)
            .await
            .map_err(io_error)?;
        return decode_answer(&answer, id, record, server).map(|(addresses, _)| addresses);
    }
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(io_error)?;
    socket.connect(server).await.map_err(io_error)?;
    tracing::debug!("asking the DNS server {server} for {name} ({record:?})");
    let attempts = settings.retries.saturating_add(1);
    let mut buf = vec![0u8; 65535];
    for _ in 0..attempts {
        socket.send(&query).await.map_err(io_error)?;
        let deadline = tokio::time::Instant::now() + settings.timeout;
        loop {
            let received = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await;
            let Ok(received) = received else { break };
            let n = received.map_err(io_error)?;
            // Another query's answer, or not an answer at all: wait on for ours.
            let Ok((addresses, truncated)) = decode_answer(&buf[..n], id, record, server) else {
                continue;
            };
            if truncated && !settings.ignore_truncation {
                tracing::debug!("the DNS server {server} truncated its answer: asking over TCP");
                let answer = ask_tcp(&query, server, settings.timeout)
                    .await
                    .map_err(io_error)?;
                return decode_answer(&answer, id, record, server).map(|(a, _)| a);
            }
            return Ok(addresses);
        }
    }
    Err(LookupError::NoAnswer {
        server,
        attempts,
        timeout: settings.timeout,
    })
}

/// A query over TCP: the message with its 2-byte length, and the answer likewise.
async fn ask_tcp(query: &[u8], server: SocketAddr, timeout: Duration) -> io::Result<Vec<u8>> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(server).await?;
        let length = u16::try_from(query.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
        let mut framed = length.to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        stream.write_all(&framed).await?;
        let mut length = [0u8; 2];
        stream.read_exact(&mut length).await?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(io::Error::from(io::ErrorKind::TimedOut)))
}

/// A query id no other process can guess.
fn query_id() -> u16 {
    let hash = RandomState::new().hash_one(std::process::id());
    (hash & 0xffff) as u16
}

/// The query message: a header with one question, for `record` records of `name`.
pub fn encode_query(
    id: u16,
    name: &str,
    record: RecordType,
    recurse: bool,
) -> Result<Vec<u8>, LookupError> {
    let bad = || LookupError::BadName(name.to_owned());
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(bad());
    }
    let mut message = Vec::with_capacity(18 + trimmed.len());
    message.extend_from_slice(&id.to_be_bytes());
    // Flags: a standard query, recursion desired if asked.
    message.extend_from_slice(&[if recurse { 0x01 } else { 0x00 }, 0x00]);
    // One question, no answers, authority or additional records.
    message.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in trimmed.split('.') {
        let length = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l));
        message.push(length.ok_or_else(bad)?);
        message.extend_from_slice(label.as_bytes());
    }
    message.push(0);
    message.extend_from_slice(&record.code().to_be_bytes());
    // Class IN.
    message.extend_from_slice(&[0, 1]);
    Ok(message)
}

/// The addresses an answer to query `id` carries, and whether it was truncated.
pub fn decode_answer(
    message: &[u8],
    id: u16,
    record: RecordType,
    server: SocketAddr,
) -> Result<(Vec<IpAddr>, bool), LookupError> {
    let malformed = || LookupError::Malformed(server);
    let header = message.get(..12).ok_or_else(malformed)?;
    let is_answer = header[2] & 0x80 != 0;
    if u16::from_be_bytes([header[0], header[1]]) != id || !is_answer {
        return Err(malformed());
    }
    let truncated = header[2] & 0x02 != 0;
    match header[3] & 0x0f {
        0 => {}
        3 => return Err(LookupError::NoSuchHost(server)),
        code => return Err(LookupError::ServerError { server, code }),
    }
    let questions = u16::from_be_bytes([header[4], header[5]]);
    let answers = u16::from_be_bytes([header[6], header[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at).ok_or_else(malformed)? + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = skip_name(message, at).ok_or_else(malformed)?;
        let fixed = message.get(at..at + 10).ok_or_else(malformed)?;
        let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
        let length = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        at += 10;
        let data = message.get(at..at + length).ok_or_else(malformed)?;
        at += length;
        if kind != record.code() {
            continue;
        }
        match (record, data.len()) {
            (RecordType::A, 4) => {
                addresses.push(IpAddr::V4(Ipv4Addr::new(
                    data[0], data[1], data[2], data[3],
                )));
            }
            (RecordType::Aaaa, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(data);
                addresses.push(IpAddr::V6(Ipv6Addr::from(octets)));
            }
            _ => return Err(malformed()),
        }
    }
    if addresses.is_empty() && !truncated {
        return Err(LookupError::NoSuchHost(server));
    }
    Ok((addresses, truncated))
}

/// Where the name starting at `at` ends: after its zero label, or after the pointer that
/// ends it (compression).
fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let length = *message.get(at)?;
        match length {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => {
                message.get(at + 1)?;
                return Some(at + 2);
            }
            l if l & 0xc0 == 0 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
}

/// The addresses /etc/hosts gives `name`, of the types asked for.
fn hosts_file_lookup(name: &str, types: &[RecordType]) -> Vec<IpAddr> {
    let Ok(text) = std::fs::read_to_string("/etc/hosts") else {
        return Vec::new();
    };
    hosts_lookup(&text, name, types)
}

/// The addresses a hosts file's `text` gives `name`, of the types asked for, in its order.
fn hosts_lookup(text: &str, name: &str, types: &[RecordType]) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for &record in types {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(Ok(ip)) = words.next().map(str::parse::<IpAddr>) else {
                continue;
            };
            let wanted = matches!(
                (record, ip),
                (RecordType::A, IpAddr::V4(_)) | (RecordType::Aaaa, IpAddr::V6(_))
            );
            if wanted && words.any(|w| w.eq_ignore_ascii_case(name)) && !found.contains(&ip) {
                found.push(ip);
            }
        }
    }
    found
}

/// The first `nameserver` of /etc/resolv.conf, on port 53.
fn first_nameserver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse::<IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 53);

    #[test]
    fn a_query_carries_the_name_as_labels() {
        let query = encode_query(0x1234, "www.example.org", RecordType::A, true).unwrap();
        let mut want = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03org\x00\x00\x01\x00\x01");
        assert_eq!(query, want);
        let query = encode_query(1, "host.", RecordType::Aaaa, false).unwrap();
        assert_eq!(&query[2..4], &[0, 0]);
        assert_eq!(&query[12..], b"\x04host\x00\x00\x1c\x00\x01");
    }

    #[test]
    fn names_a_query_cannot_carry_are_refused() {
        for name in ["", ".", "a..b", &"x".repeat(64), &"a.".repeat(128)] {
            assert!(
                matches!(
                    encode_query(1, name, RecordType::A, true),
                    Err(LookupError::BadName(_))
                ),
                "{name}"
            );
        }
    }

    /// An answer to `query` with these records (type, data), the first name compressed.
    fn answer(query: &[u8], flags: [u8; 2], records: &[(u16, &[u8])]) -> Vec<u8> {
        let mut message = query.to_vec();
        message[2] = 0x80 | flags[0];
        message[3] = flags[1];
        message[6..8].copy_from_slice(&u16::try_from(records.len()).unwrap().to_be_bytes());
        for (kind, data) in records {
            message.extend_from_slice(&[0xc0, 12]);
            message.extend_from_slice(&kind.to_be_bytes());
            message.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            message.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
            message.extend_from_slice(data);
        }
        message
    }

    #[test]
    fn answers_give_their_addresses_of_the_type_asked() {
        let query = encode_query(7, "h.test", RecordType::A, true).unwrap();
        let message = answer(
            &query,
            [0, 0],
            &[
                (5, b"\x01x\x00"),
                (1, &[192, 0, 2, 7]),
                (1, &[192, 0, 2, 8]),
            ],
        );
        let (found, truncated) = decode_answer(&message, 7, RecordType::A, SERVER).unwrap();
        assert_eq!(
            found,
            [
                "192.0.2.7".parse::<IpAddr>().unwrap(),
                "192.0.2.8".parse().unwrap()
            ]
        );
        assert!(!truncated);
        let query = encode_query(8, "h.test", RecordType::Aaaa, true).unwrap();
        let message = answer(
            &query,
            [0x02, 0],
            &[(
                28,
                &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            )],
        );
        let (found, truncated) = decode_answer(&message, 8, RecordType::Aaaa, SERVER).unwrap();
        assert_eq!(found, ["2001:db8::1".parse::<IpAddr>().unwrap()]);
        assert!(truncated);
    }

    #[test]
    fn errors_and_strangers_are_told_apart() {
        let query = encode_query(9, "h.test", RecordType::A, true).unwrap();
        let nx = answer(&query, [0, 3], &[]);
        assert!(matches!(
            decode_answer(&nx, 9, RecordType::A, SERVER),
            Err(LookupError::NoSuchHost(_))
        ));
        let refused = answer(&query, [0, 5], &[]);
        assert!(matches!(
            decode_answer(&refused, 9, RecordType::A, SERVER),
            Err(LookupError::ServerError { code: 5, .. })
        ));
        let other = answer(&query, [0, 0], &[(1, &[1, 2, 3, 4])]);
        assert!(matches!(
            decode_answer(&other, 10, RecordType::A, SERVER),
            Err(LookupError::Malformed(_))
        ));
        assert!(matches!(
            decode_answer(&query, 9, RecordType::A, SERVER),
            Err(LookupError::Malformed(_))
        ));
        let cut = &other[..other.len() - 2];
        assert!(matches!(
            decode_answer(cut, 9, RecordType::A, SERVER),
            Err(LookupError::Malformed(_))
        ));
    }

    #[test]
    fn the_hosts_file_is_read_by_type_and_name() {
        let text =
            "127.0.0.1 localhost\n::1 localhost ip6-localhost # comment\n10.0.0.1 Box box.lan\n";
        let v4 = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            hosts_lookup(text, "localhost", &[RecordType::A, RecordType::Aaaa]),
            [v4("127.0.0.1"), v4("::1")]
        );
        assert_eq!(
            hosts_lookup(text, "BOX", &[RecordType::A]),
            [v4("10.0.0.1")]
        );
        assert!(hosts_lookup(text, "box", &[RecordType::Aaaa]).is_empty());
        assert!(hosts_lookup(text, "comment", &[RecordType::A, RecordType::Aaaa]).is_empty());
    }
}
