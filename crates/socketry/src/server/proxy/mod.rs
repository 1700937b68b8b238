//! The proxy server (`socketry proxy`): SOCKS4, SOCKS4a, SOCKS5 (CONNECT and UDP ASSOCIATE),
//! HTTP CONNECT and plain HTTP forwarding (`GET http://host/path`, [`forward`]) on one
//! listening address, told apart by the first byte a client sends (4, 5, or an HTTP
//! method's first letter).
//!
//! Each connection is one of [`server::serve`](super::serve)'s, so the connection cap, the
//! idle timeout and graceful draining are the server's. The proxy adds, for every request:
//! credentials when users are configured (RFC 1929 for SOCKS5, `Proxy-Authorization: Basic`
//! for HTTP; SOCKS4 carries no password, so it is refused then), the client's `--allow` and
//! `--deny` lists (checked once the request is read, so that the refusal is the protocol's
//! own reply), and the `--to` rules on the destination's address after the proxy resolved
//! it. Every refusal is answered in the client's protocol and logged (`tunnel_refused`);
//! every tunnel is logged when it ends (`tunnel`: client, destination, bytes each way,
//! duration).
//!
//! Requests are parsed strictly and within bounds ([`socks`], [`http`]): reading stops at
//! the protocol's own limit or [`http::MAX_HEAD`], and the whole handshake must finish
//! within [`Settings::handshake_timeout`]. Bytes a client sends after its request, before
//! the reply, are passed on to the destination first.

mod forward;
pub mod http;
pub mod request;
pub mod rules;
pub mod socks;
pub mod udp;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub use request::{Destination, Host, RequestError};
pub use rules::{DestinationRule, DestinationRuleError, Users, UsersError};

use super::access::{AccessList, Refusal};
use super::traffic::Traffic;
use crate::channel::{ByteReader, ByteWriter, Reader, Writer};
use crate::endpoint::Connection;
use crate::relay::{self, Linger, RelayConfig};
use socks::{Command, Socks4Reply, Socks5Reply};

/// The port a proxy listens on when none is given.
pub const DEFAULT_PORT: u16 = 1080;
/// How long a client has to send its whole request by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long connecting to a destination (resolving its name included) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a proxy lets through, and how long it waits.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Who may use the proxy; empty lets everyone in without credentials.
    pub users: Users,
    /// Where clients may go (`--to`); empty allows every destination.
    pub destinations: Vec<DestinationRule>,
    /// The time a client has to send its request (credentials included).
    pub handshake_timeout: Duration,
    /// The time connecting to a destination may take.
    pub connect_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            users: Users::default(),
            destinations: Vec::new(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

/// Which protocol a client spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SOCKS4 (an address).
    Socks4,
    /// SOCKS4a (a name).
    Socks4a,
    /// SOCKS5.
    Socks5,
    /// HTTP CONNECT.
    HttpConnect,
    /// A plain HTTP request, forwarded to the origin its absolute URI names.
    Http,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Socks4 => "SOCKS4",
            Protocol::Socks4a => "SOCKS4a",
            Protocol::Socks5 => "SOCKS5",
            Protocol::HttpConnect => "HTTP CONNECT",
            Protocol::Http => "HTTP",
        })
    }
}

/// Why a proxy connection ended without a tunnel, or its tunnel failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The request did not parse.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The request was refused, and the client told so in its protocol.
    #[error("refused {protocol} request: {reason}")]
    Refused {
        /// The protocol the client spoke.
        protocol: Protocol,
        /// Why.
        reason: String,
    },
    /// The connection is not a byte stream both ways.
    #[error("a proxy serves byte streams, and {0} is not one both ways")]
    NotAStream(String),
    /// The client did not finish its request in time.
    #[error("no complete request within {}s", .0.as_secs_f64())]
    HandshakeTimeout(Duration),
    /// The client closed the connection before its request was complete.
    #[error("the client closed the connection in the middle of its request")]
    ClosedEarly,
    /// Reading from or writing to the client (or the UDP relay's sockets) failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Relaying the tunnel failed.
    #[error(transparent)]
    Relay(#[from] relay::RelayError),
}

impl ProxyError {
    /// A short kind for structured logs.
    pub fn kind(&self) -> String {
        match self {
            ProxyError::Request(_) => "malformed_request".to_owned(),
            ProxyError::Refused { .. } => "refused".to_owned(),
            ProxyError::NotAStream(_) => "not_a_stream".to_owned(),
            ProxyError::HandshakeTimeout(_) => "handshake_timeout".to_owned(),
            ProxyError::ClosedEarly => "closed_early".to_owned(),
            ProxyError::Io(e) => format!("{:?}", e.kind()),
            ProxyError::Relay(_) => "relay".to_owned(),
        }
    }
}

/// Why a request is refused, as each protocol can say it.
#[derive(Debug)]
enum Failure {
    /// Credentials missing or wrong, or a protocol without passwords when they are required.
    Unauthenticated(String),
    /// The client's address is refused by `--allow`/`--deny`.
    ClientDenied(Refusal),
    /// No address of the destination is allowed by `--to`.
    DestinationDenied,
    /// A command the proxy does not serve.
    Unsupported(String),
    /// The name did not resolve.
    NotFound(String),
    /// The destination refused the connection.
    ConnectionRefused(io::Error),
    /// The destination could not be reached.
    Unreachable(io::Error),
    /// Connecting took longer than the connect timeout.
    TimedOut(Duration),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unauthenticated(why) => f.write_str(why),
            Failure::ClientDenied(refusal) => write!(f, "client {refusal}"),
            Failure::DestinationDenied => f.write_str("destination not allowed by --to"),
            Failure::Unsupported(what) => write!(f, "{what} is not supported"),
            Failure::NotFound(why) => write!(f, "name not resolved: {why}"),
            Failure::ConnectionRefused(e) | Failure::Unreachable(e) => write!(f, "connecting: {e}"),
            Failure::TimedOut(limit) => {
                write!(f, "connecting took longer than {}s", limit.as_secs_f64())
            }
        }
    }
}

impl Failure {
    fn socks5(&self) -> Socks5Reply {
        match self {
            Failure::Unauthenticated(_) => Socks5Reply::NotAllowed,
            Failure::ClientDenied(_) | Failure::DestinationDenied => Socks5Reply::NotAllowed,
            Failure::Unsupported(_) => Socks5Reply::CommandNotSupported,
            Failure::NotFound(_) => Socks5Reply::HostUnreachable,
            Failure::ConnectionRefused(_) => Socks5Reply::ConnectionRefused,
            Failure::Unreachable(e) if e.kind() == io::ErrorKind::NetworkUnreachable => {
                Socks5Reply::NetworkUnreachable
            }
            Failure::Unreachable(_) => Socks5Reply::HostUnreachable,
            Failure::TimedOut(_) => Socks5Reply::TtlExpired,
        }
    }

    fn http(&self) -> http::Status {
        match self {
            Failure::Unauthenticated(_) => http::Status::ProxyAuthenticationRequired,
            Failure::ClientDenied(_) | Failure::DestinationDenied => http::Status::Forbidden,
            Failure::Unsupported(_) => http::Status::NotImplemented,
            Failure::NotFound(_) | Failure::ConnectionRefused(_) | Failure::Unreachable(_) => {
                http::Status::BadGateway
            }
            Failure::TimedOut(_) => http::Status::GatewayTimeout,
        }
    }
}

/// The client's side of a proxy connection during the handshake: its halves, what has been
/// read and not yet used, and the deadline for the request.
struct Client {
    reader: ByteReader,
    writer: ByteWriter,
    unread: Vec<u8>,
    deadline: Instant,
    timeout: Duration,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

impl Client {
    /// Reads until `parse` has what it needs, and takes those bytes.
    async fn need<T>(
        &mut self,
        parse: impl Fn(&[u8]) -> request::Parse<T>,
    ) -> Result<T, ProxyError> {
        loop {
            if let Some((value, used)) = parse(&self.unread)? {
                self.unread.drain(..used);
                return Ok(value);
            }
            self.fill().await?;
        }
    }

    /// Reads more of the request: at most 4 KiB, and every parser refuses more than its
    /// limit, so `unread` stays bounded.
    async fn fill(&mut self) -> Result<(), ProxyError> {
        let mut chunk = [0; 4096];
        let read = tokio::time::timeout_at(self.deadline, self.reader.read(&mut chunk));
        match read.await {
            Err(_) => Err(ProxyError::HandshakeTimeout(self.timeout)),
            Ok(Ok(0)) => Err(ProxyError::ClosedEarly),
            Ok(Ok(n)) => {
                self.unread.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ProxyError> {
        self.writer.write_all(bytes).await?;
        self.writer.flush().await?;
        Ok(())
    }

    fn peer_text(&self, fallback: &str) -> String {
        self.peer
            .map_or_else(|| fallback.to_owned(), |peer| peer.to_string())
    }
}

/// A request that may go ahead.
struct Granted {
    protocol: Protocol,
    destination: Destination,
    user: Option<String>,
    what: Granting,
}

enum Granting {
    /// CONNECT: the connection to the destination is open; the client still has to be told.
    Tunnel(TcpStream),
    /// A plain HTTP request: the connection to the origin is open, and this head goes
    /// first; `request` names it for the logs (`GET http://host/path`).
    Forward {
        origin: TcpStream,
        head: Vec<u8>,
        request: String,
    },
    /// SOCKS5 UDP ASSOCIATE.
    Udp,
}

/// Serves one proxy client: reads its request, refuses or connects, and relays.
pub(crate) async fn serve_client(
    mut connection: Connection,
    settings: &Settings,
    access: &AccessList,
    relay_config: RelayConfig,
) -> (Traffic, Result<(), ProxyError>) {
    let (reader, writer) = match (connection.reader.take(), connection.writer.take()) {
        (Some(Reader::Bytes(reader)), Some(Writer::Bytes(writer))) => (reader, writer),
        _ => {
            let error = ProxyError::NotAStream(connection.description.clone());
            return (Traffic::default(), Err(error));
        }
    };
    let started = Instant::now();
    let mut client = Client {
        reader,
        writer,
        unread: Vec::new(),
        deadline: started + settings.handshake_timeout,
        timeout: settings.handshake_timeout,
        peer: connection.addresses.map(|a| a.peer),
        local: connection.addresses.map(|a| a.local),
    };
    let client_text = client.peer_text(&connection.description);
    let granted = match negotiate(&mut client, settings, access, &client_text).await {
        Ok(granted) => granted,
        Err(e) => return (Traffic::default(), Err(e)),
    };
    let user = granted.user.clone().unwrap_or_default();
    match granted.what {
        Granting::Udp => {
            let result = associate(&mut client, &granted.destination, settings, &client_text).await;
            match result {
                Ok(traffic) => (traffic, Ok(())),
                Err(e) => (Traffic::default(), Err(e)),
            }
        }
        Granting::Tunnel(stream) => {
            let bound = stream.local_addr().ok();
            let success = match granted.protocol {
                Protocol::Socks4 | Protocol::Socks4a => {
                    socks::socks4_reply(Socks4Reply::Granted, bound).to_vec()
                }
                Protocol::Socks5 => socks::socks5_reply(Socks5Reply::Succeeded, bound),
                Protocol::HttpConnect | Protocol::Http => http::response(http::Status::Established),
            };
            if let Err(e) = client.send(&success).await {
                return (Traffic::default(), Err(e));
            }
            let tunnel = Tunnel {
                protocol: granted.protocol,
                destination: &granted.destination,
                user: &user,
                request: None,
                started,
                client_text: &client_text,
            };
            tunnel
                .relay(connection, client, stream, Vec::new(), relay_config)
                .await
        }
        Granting::Forward {
            origin,
            head,
            request,
        } => {
            let tunnel = Tunnel {
                protocol: granted.protocol,
                destination: &granted.destination,
                user: &user,
                request: Some(request),
                started,
                client_text: &client_text,
            };
            tunnel
                .relay(connection, client, origin, head, relay_config)
                .await
        }
    }
}

/// A granted request's relay, and its log line when it ends.
struct Tunnel<'a> {
    protocol: Protocol,
    destination: &'a Destination,
    user: &'a str,
    /// A forwarded HTTP request (`GET http://host/path`), whose response is rewritten.
    request: Option<String>,
    started: Instant,
    client_text: &'a str,
}

impl Tunnel<'_> {
    /// Relays between the client and `stream` (the destination, or the origin of a
    /// forwarded request), `first` and what the client sent after its request going to
    /// the destination first; logs the tunnel when it ends.
    async fn relay(
        self,
        mut connection: Connection,
        mut client: Client,
        stream: TcpStream,
        first: Vec<u8>,
        mut relay_config: RelayConfig,
    ) -> (Traffic, Result<(), ProxyError>) {
        let bound = stream.local_addr().ok();
        let connected = stream.peer_addr().ok();
        let description = match (bound, connected) {
            (Some(bound), Some(connected)) => format!("TCP {bound} -> {connected}"),
            _ => format!("TCP -> {}", self.destination),
        };
        let mut target = crate::endpoint::stream::stream_connection(stream, description);
        if let Some(request) = &self.request {
            target.reader = match target.reader.take() {
                Some(Reader::Bytes(origin)) => {
                    Some(Reader::Bytes(Box::new(forward::ResponseReader::new(
                        origin,
                        format!("{} -> {request}", self.client_text),
                        request.starts_with("HEAD "),
                    ))))
                }
                other => other,
            };
        }
        // What the client sent after its request is the tunnel's first data.
        let mut early = first;
        early.append(&mut client.unread);
        if !early.is_empty() {
            if let Err(e) = target.write_all(&early).await {
                return (Traffic::default(), Err(e.into()));
            }
            relay_config
                .totals
                .add(relay::Direction::LeftToRight, early.len() as u64);
        }
        connection.reader = Some(Reader::Bytes(client.reader));
        connection.writer = Some(Writer::Bytes(client.writer));
        relay_config.linger = Linger::UntilBothEnd;
        let relayed = relay::relay(connection, target, &relay_config).await;
        let (traffic, result) = match relayed {
            Ok((stats, _)) => (
                Traffic {
                    bytes_in: stats.left_to_right + early.len() as u64,
                    bytes_out: stats.right_to_left,
                },
                Ok(()),
            ),
            Err(e) => (Traffic::default(), Err(ProxyError::from(e))),
        };
        let seconds = self.started.elapsed().as_secs_f64();
        let address = connected.map(|a| a.to_string()).unwrap_or_default();
        let client_text = self.client_text;
        let request = self.request.unwrap_or_default();
        let what = if request.is_empty() {
            String::new()
        } else {
            format!(" ({request})")
        };
        tracing::info!(
            event = "tunnel",
            client = client_text,
            protocol = %self.protocol,
            destination = %self.destination,
            address = address.as_str(),
            user = self.user,
            request = request.as_str(),
            bytes_up = traffic.bytes_in,
            bytes_down = traffic.bytes_out,
            duration_s = seconds,
            "tunnel {client_text} -> {} ({address}) over {}{what}: {} bytes up, {} bytes down, {seconds:.3}s",
            self.destination,
            self.protocol,
            traffic.bytes_in,
            traffic.bytes_out
        );
        (traffic, result)
    }
}

/// Reads the request, checks it, and connects: what may go ahead, or the refusal (already
/// answered and logged).
async fn negotiate(
    client: &mut Client,
    settings: &Settings,
    access: &AccessList,
    client_text: &str,
) -> Result<Granted, ProxyError> {
    let first = client.need(|buf| Ok(buf.first().map(|b| (*b, 0)))).await?;
    match first {
        socks::SOCKS4 => socks4(client, settings, access, client_text).await,
        socks::SOCKS5 => socks5(client, settings, access, client_text).await,
        b'A'..=b'Z' => http_request(client, settings, access, client_text).await,
        other => {
            let error = RequestError::UnknownProtocol(other);
            tracing::warn!(
                event = "tunnel_refused",
                client = client_text,
                reason = %error,
                "refusing a request from {client_text}: {error}"
            );
            Err(error.into())
        }
    }
}

/// Logs a refusal and gives the error that ends the connection.
fn refused(
    protocol: Protocol,
    client_text: &str,
    destination: Option<&Destination>,
    reason: String,
) -> ProxyError {
    let destination = destination.map(ToString::to_string).unwrap_or_default();
    let target = if destination.is_empty() {
        String::new()
    } else {
        format!(" for {destination}")
    };
    tracing::warn!(
        event = "tunnel_refused",
        client = client_text,
        protocol = %protocol,
        destination = destination.as_str(),
        reason = reason.as_str(),
        "refusing {protocol} request from {client_text}{target}: {reason}"
    );
    ProxyError::Refused { protocol, reason }
}

/// Logs a malformed request.
fn malformed(protocol: Protocol, client_text: &str, error: RequestError) -> ProxyError {
    tracing::warn!(
        event = "tunnel_refused",
        client = client_text,
        protocol = %protocol,
        reason = %error,
        "refusing {protocol} request from {client_text}: {error}"
    );
    error.into()
}

/// Checks the client's address and the destination, then connects.
async fn admit_and_connect(
    peer: Option<SocketAddr>,
    destination: &Destination,
    settings: &Settings,
    access: &AccessList,
) -> Result<TcpStream, Failure> {
    if let Some(refusal) = access.refusal(peer.map(|p| p.ip())) {
        return Err(Failure::ClientDenied(refusal));
    }
    let limit = settings.connect_timeout;
    match tokio::time::timeout(limit, connect(destination, &settings.destinations)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::TimedOut(limit)),
    }
}

/// The addresses of `destination` that `--to` allows, resolved by the proxy.
async fn allowed_addresses(
    destination: &Destination,
    rules: &[DestinationRule],
) -> Result<Vec<SocketAddr>, Failure> {
    let port = destination.port;
    let all: Vec<SocketAddr> = match &destination.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| Failure::NotFound(e.to_string()))?
            .collect(),
    };
    if all.is_empty() {
        return Err(Failure::NotFound("no address".to_owned()));
    }
    let allowed: Vec<SocketAddr> = all
        .into_iter()
        .filter(|a| rules::admitted(rules, a.ip(), a.port()))
        .collect();
    if allowed.is_empty() {
        return Err(Failure::DestinationDenied);
    }
    Ok(allowed)
}

async fn connect(
    destination: &Destination,
    rules: &[DestinationRule],
) -> Result<TcpStream, Failure> {
    let mut last = None;
    for address in allowed_addresses(destination, rules).await? {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Failure::ConnectionRefused(e),
        Some(e) => Failure::Unreachable(e),
        None => Failure::DestinationDenied,
    })
}

async fn socks4(
    client: &mut Client,
    settings: &Settings,
    access: &AccessList,
    client_text: &str,
) -> Result<Granted, ProxyError> {
    let request = match client.need(socks::socks4_request).await {
        Ok(request) => request,
        Err(ProxyError::Request(e)) => {
            client
                .send(&socks::socks4_reply(Socks4Reply::Rejected, None))
                .await?;
            return Err(malformed(Protocol::Socks4, client_text, e));
        }
        Err(e) => return Err(e),
    };
    let protocol = if request.is_4a() {
        Protocol::Socks4a
    } else {
        Protocol::Socks4
    };
    let user = String::from_utf8_lossy(&request.user_id).into_owned();
    let failure = if settings.users.required() {
        Some(Failure::Unauthenticated(format!(
            "{protocol} carries no password, and this proxy requires one"
        )))
    } else if request.command != Command::Connect {
        Some(Failure::Unsupported(request.command.name()))
    } else {
        None
    };
    let connected = match failure {
        Some(failure) => Err(failure),
        None => admit_and_connect(client.peer, &request.destination, settings, access).await,
    };
    match connected {
        Ok(stream) => Ok(Granted {
            protocol,
            destination: request.destination,
            user: (!user.is_empty()).then_some(user),
            what: Granting::Tunnel(stream),
        }),
        Err(failure) => {
            client
                .send(&socks::socks4_reply(Socks4Reply::Rejected, None))
                .await?;
            Err(refused(
                protocol,
                client_text,
                Some(&request.destination),
                failure.to_string(),
            ))
        }
    }
}

async fn socks5(
    client: &mut Client,
    settings: &Settings,
    access: &AccessList,
    client_text: &str,
) -> Result<Granted, ProxyError> {
    const PROTOCOL: Protocol = Protocol::Socks5;
    let methods = match client.need(socks::socks5_greeting).await {
        Ok(methods) => methods,
        Err(ProxyError::Request(e)) => return Err(malformed(PROTOCOL, client_text, e)),
        Err(e) => return Err(e),
    };
    let wanted = if settings.users.required() {
        socks::method::USERNAME_PASSWORD
    } else {
        socks::method::NONE
    };
    if !methods.contains(&wanted) {
        client
            .send(&[socks::SOCKS5, socks::method::NO_ACCEPTABLE])
            .await?;
        let reason = if settings.users.required() {
            "credentials are required, and the client offers no username/password method (RFC 1929)"
        } else {
            "the client offers no method this proxy accepts (it takes no authentication)"
        };
        return Err(refused(PROTOCOL, client_text, None, reason.to_owned()));
    }
    client.send(&[socks::SOCKS5, wanted]).await?;
    let mut user = None;
    if settings.users.required() {
        let credentials = match client.need(socks::username_password).await {
            Ok(credentials) => credentials,
            Err(ProxyError::Request(e)) => {
                client.send(&socks::username_password_reply(false)).await?;
                return Err(malformed(PROTOCOL, client_text, e));
            }
            Err(e) => return Err(e),
        };
        let name = String::from_utf8_lossy(&credentials.name).into_owned();
        let accepted = settings
            .users
            .check(&credentials.name, &credentials.password);
        client
            .send(&socks::username_password_reply(accepted))
            .await?;
        if !accepted {
            let reason = format!(
                "wrong name or password for user \"{}\"",
                name.escape_debug()
            );
            return Err(refused(PROTOCOL, client_text, None, reason));
        }
        user = Some(name);
    }
    let request = match client.need(socks::socks5_request).await {
        Ok(request) => request,
        Err(ProxyError::Request(e)) => {
            let code = match e {
                RequestError::AddressType(_) => Socks5Reply::AddressTypeNotSupported,
                _ => Socks5Reply::GeneralFailure,
            };
            client.send(&socks::socks5_reply(code, None)).await?;
            return Err(malformed(PROTOCOL, client_text, e));
        }
        Err(e) => return Err(e),
    };
    let outcome = match request.command {
        Command::Connect => admit_and_connect(client.peer, &request.destination, settings, access)
            .await
            .map(Granting::Tunnel),
        Command::UdpAssociate => match access.refusal(client.peer.map(|p| p.ip())) {
            Some(refusal) => Err(Failure::ClientDenied(refusal)),
            None => Ok(Granting::Udp),
        },
        other => Err(Failure::Unsupported(other.name())),
    };
    match outcome {
        Ok(what) => Ok(Granted {
            protocol: PROTOCOL,
            destination: request.destination,
            user,
            what,
        }),
        Err(failure) => {
            client
                .send(&socks::socks5_reply(failure.socks5(), None))
                .await?;
            Err(refused(
                PROTOCOL,
                client_text,
                Some(&request.destination),
                failure.to_string(),
            ))
        }
    }
}

/// An HTTP request: CONNECT opens a tunnel; any other method with an absolute `http://` URI
/// is forwarded to the origin.
async fn http_request(
    client: &mut Client,
    settings: &Settings,
    access: &AccessList,
    client_text: &str,
) -> Result<Granted, ProxyError> {
    let head = match client.need(http::head).await {
        Ok(head) => head,
        Err(ProxyError::Request(e)) => {
            let status = match e {
                RequestError::TooLong { .. } => http::Status::HeadTooLarge,
                _ => http::Status::BadRequest,
            };
            client.send(&http::response(status)).await?;
            return Err(malformed(Protocol::HttpConnect, client_text, e));
        }
        Err(e) => return Err(e),
    };
    // What the request asks for, and what is sent to its destination first.
    let (protocol, destination, forward) = if head.method == "CONNECT" {
        match head.connect_destination() {
            Ok(destination) => (Protocol::HttpConnect, destination, None),
            Err(e) => {
                client
                    .send(&http::response(http::Status::BadRequest))
                    .await?;
                return Err(malformed(Protocol::HttpConnect, client_text, e));
            }
        }
    } else {
        match head.forward() {
            Ok(forward) => {
                let request = format!("{} {}", head.method, head.target);
                (
                    Protocol::Http,
                    forward.destination,
                    Some((forward.head, request)),
                )
            }
            Err(http::ForwardError::Request(e)) => {
                client
                    .send(&http::response(http::Status::BadRequest))
                    .await?;
                return Err(malformed(Protocol::Http, client_text, e));
            }
            Err(e) => {
                let status = match e {
                    http::ForwardError::Scheme(_) => http::Status::NotImplemented,
                    _ => http::Status::BadRequest,
                };
                client.send(&http::response(status)).await?;
                return Err(refused(Protocol::Http, client_text, None, e.to_string()));
            }
        }
    };
    let mut user = None;
    let mut failure = None;
    if settings.users.required() {
        match head.basic_credentials() {
            Some((name, password)) if settings.users.check(&name, &password) => {
                user = Some(String::from_utf8_lossy(&name).into_owned());
            }
            Some((name, _)) => {
                failure = Some(Failure::Unauthenticated(format!(
                    "wrong name or password for user \"{}\"",
                    String::from_utf8_lossy(&name).escape_debug()
                )));
            }
            None => {
                failure = Some(Failure::Unauthenticated(
                    "no Proxy-Authorization: Basic credentials".to_owned(),
                ));
            }
        }
    }
    let connected = match failure {
        Some(failure) => Err(failure),
        None => admit_and_connect(client.peer, &destination, settings, access).await,
    };
    match connected {
        Ok(stream) => Ok(Granted {
            protocol,
            destination,
            user,
            what: match forward {
                None => Granting::Tunnel(stream),
                Some((head, request)) => Granting::Forward {
                    origin: stream,
                    head,
                    request,
                },
            },
        }),
        Err(failure) => {
            client.send(&http::response(failure.http())).await?;
            Err(refused(
                protocol,
                client_text,
                Some(&destination),
                failure.to_string(),
            ))
        }
    }
}

/// SOCKS5 UDP ASSOCIATE: binds the relay's socket where the client reached the proxy, tells
/// the client, and relays until its TCP connection ends.
async fn associate(
    client: &mut Client,
    requested: &Destination,
    settings: &Settings,
    client_text: &str,
) -> Result<Traffic, ProxyError> {
    let (Some(local), Some(peer)) = (client.local, client.peer) else {
        client
            .send(&socks::socks5_reply(Socks5Reply::GeneralFailure, None))
            .await?;
        return Err(refused(
            Protocol::Socks5,
            client_text,
            Some(requested),
            "UDP ASSOCIATE needs an internet connection to the proxy".to_owned(),
        ));
    };
    let facing = match udp::bind(local.ip()).await {
        Ok(facing) => facing,
        Err(e) => {
            client
                .send(&socks::socks5_reply(Socks5Reply::GeneralFailure, None))
                .await?;
            return Err(refused(
                Protocol::Socks5,
                client_text,
                Some(requested),
                format!("binding a UDP socket on {}: {e}", local.ip()),
            ));
        }
    };
    let bound = facing.local_addr()?;
    client
        .send(&socks::socks5_reply(Socks5Reply::Succeeded, Some(bound)))
        .await?;
    let started = Instant::now();
    let traffic = udp::relay(
        facing,
        &mut client.reader,
        peer.ip(),
        requested,
        &settings.destinations,
    )
    .await?;
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        event = "udp_association",
        client = client_text,
        relay = %bound,
        datagrams_up = traffic.datagrams_up,
        bytes_up = traffic.bytes_up,
        datagrams_down = traffic.datagrams_down,
        bytes_down = traffic.bytes_down,
        dropped = traffic.dropped,
        duration_s = seconds,
        "UDP association {client_text} via {bound}: {} datagrams ({} bytes) up, {} datagrams ({} bytes) down, {} dropped, {seconds:.3}s",
        traffic.datagrams_up,
        traffic.bytes_up,
        traffic.datagrams_down,
        traffic.bytes_down,
        traffic.dropped
    );
    Ok(Traffic {
        bytes_in: traffic.bytes_up,
        bytes_out: traffic.bytes_down,
    })
}
