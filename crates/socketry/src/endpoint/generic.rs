//! Generic sockets: a socket of any domain, type and protocol, given as numbers, whose
//! socket addresses are given as their bytes after the address family in socat's data form
//! (`SOCKET-CONNECT:2:6:x1f907f000001x0000000000000000` is TCP to 127.0.0.1:8080). They
//! reach what socketry has no address type for, and they are what socat's generic addresses
//! are: SOCKET-CONNECT and SOCKET-LISTEN (stream sockets), SOCKET-SENDTO, SOCKET-DATAGRAM,
//! SOCKET-RECVFROM and SOCKET-RECV (sockets of the type given, moving messages).
//!
//! `bind=` is a socket address in the same form, and `range=ADDR:MASK` admits peers whose
//! address bytes, masked, equal ADDR's. The kernel checks everything else: an address of a
//! length its family does not take, or a domain it does not have, fails when the socket is
//! made or used, with the kernel's words.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::connection::{Connection, OpenContext};
use super::datagrams::DatagramPeers;
use super::error::OpenError;
use super::listener::{Accept, AcceptError, AcceptFuture, Accepting, Listener, Peer};
use super::opened::Opened;
use super::setsockopt::{self, Phase, WhenConnected};
use super::socket::{
    apply_common_options, describe_sockaddr, MessageSocket, PeerFilter, RawPeers, ReceiveMode,
    Receiver, ReplyTo, Sender,
};
use super::stream::stream_connection;
use crate::address::data::to_hex;
use crate::address::{
    AddressType, BindAddr, BindDomain, Definition, FamilySpec, FamilyTypes, Groups, OptionId,
    Options, ParseErrorKind,
};
use crate::channel::{Reader, Writer};
use crate::sys;

/// What a generic address does with its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// SOCKET-CONNECT: a stream socket connected to the address.
    Connect,
    /// SOCKET-LISTEN: a stream socket listening on the address.
    Listen,
    /// SOCKET-SENDTO: send to the address, take what it sends back.
    Sendto,
    /// SOCKET-DATAGRAM: send to the address, take what any peer in range sends.
    Datagram,
    /// SOCKET-RECVFROM: receive on the address and reply to each sender.
    Recvfrom,
    /// SOCKET-RECV: only receive on the address.
    Recv,
}

/// A generic socket address: its role, the three numbers `socket(2)` takes, and the socket
/// address's bytes after the family (the peer's, or for a receiver or listener its own).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GenericSpec {
    /// What the socket does.
    pub role: Role,
    /// The address family, `socket(2)`'s domain (2 is `AF_INET`): also the family of the
    /// socket addresses.
    pub domain: u16,
    /// The socket type (1 stream, 2 datagram, 3 raw, 5 seqpacket); stream for
    /// SOCKET-CONNECT and SOCKET-LISTEN.
    pub ty: i32,
    /// The protocol number (6 is TCP, 17 UDP; 0 the domain's default).
    pub protocol: i32,
    /// The socket address's bytes after its family.
    pub address: Vec<u8>,
}

/// `SOCK_STREAM`, the type of SOCKET-CONNECT and SOCKET-LISTEN.
const STREAM: i32 = 1;

const CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::CONNECT);
const LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE);
const SENDTO: Groups = Groups::ALL.union(Groups::SOCKET);
const RECEIVER: Groups = Groups::ALL.union(Groups::SOCKET).union(Groups::RANGE);
const RECVFROM: Groups = RECEIVER.union(Groups::CHILD);

macro_rules! generic_type {
    ($id:ident, $role:ident, $name:literal, $params:expr, $groups:expr, $help:literal) => {
        static $id: Definition<GenericSpec> = Definition {
            ty: AddressType::new($name, &[], $params, $groups, $help).bind(BindDomain::Data),
            parse: |p| parse(Role::$role, p),
        };
    };
}

generic_type!(
    SOCKET_CONNECT,
    Connect,
    "SOCKET-CONNECT",
    &["domain", "protocol", "remote-address"],
    CONNECT,
    "connect a stream socket of any domain and protocol (numbers) to a socket address in data form (x... hex bytes after the family)"
);
generic_type!(
    SOCKET_LISTEN,
    Listen,
    "SOCKET-LISTEN",
    &["domain", "protocol", "local-address"],
    LISTEN,
    "accept stream connections on a socket of any domain and protocol, bound to a socket address in data form"
);
generic_type!(
    SOCKET_SENDTO,
    Sendto,
    "SOCKET-SENDTO",
    &["domain", "type", "protocol", "remote-address"],
    SENDTO,
    "send messages on a socket of any domain, type and protocol to a socket address in data form; take what it sends back"
);
generic_type!(
    SOCKET_DATAGRAM,
    Datagram,
    "SOCKET-DATAGRAM",
    &["domain", "type", "protocol", "remote-address"],
    RECEIVER,
    "send messages to a socket address in data form, take messages from any peer in range"
);
generic_type!(
    SOCKET_RECVFROM,
    Recvfrom,
    "SOCKET-RECVFROM",
    &["domain", "type", "protocol", "local-address"],
    RECVFROM,
    "receive messages on a socket bound to a socket address in data form and reply to their sender (with fork: a session per sender)"
);
generic_type!(
    SOCKET_RECV,
    Recv,
    "SOCKET-RECV",
    &["domain", "type", "protocol", "local-address"],
    RECEIVER,
    "only receive messages on a socket of any domain, type and protocol bound to a socket address in data form"
);

/// The generic socket family: its address types and features.
pub static FAMILY: FamilyTypes<GenericSpec> = FamilyTypes {
    features: &["GENERICSOCKET"],
    types: &[
        &SOCKET_CONNECT,
        &SOCKET_LISTEN,
        &SOCKET_SENDTO,
        &SOCKET_DATAGRAM,
        &SOCKET_RECVFROM,
        &SOCKET_RECV,
    ],
};

/// Reads a number as socat does (`strtoul` with base 0): decimal, or hex after `0x`.
fn number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u64::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

fn parse(role: Role, p: &crate::address::Params<'_>) -> Result<GenericSpec, ParseErrorKind> {
    let invalid =
        |what: &'static str, text: &str, expected: &'static str| ParseErrorKind::InvalidParameter {
            what,
            text: text.to_owned(),
            expected,
        };
    let given = p.text(0)?;
    let domain = number(given)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                "socket domain",
                given,
                "an address family number from 0 to 65535, e.g. 1 (AF_UNIX), 2 (AF_INET) or 10 (AF_INET6)",
            )
        })?;
    let int = |i: usize, what: &'static str, expected: &'static str| {
        let given = p.text(i)?;
        number(given)
            .and_then(|n| i32::try_from(n).ok())
            .ok_or_else(|| invalid(what, given, expected))
    };
    let (ty, protocol, at) = match role {
        Role::Connect | Role::Listen => (
            STREAM,
            int(
                1,
                "protocol",
                "a protocol number from 0, e.g. 6 (TCP) or 0 (the default)",
            )?,
            2,
        ),
        _ => (
            int(
                1,
                "socket type",
                "a socket type number, e.g. 1 (stream), 2 (datagram), 3 (raw) or 5 (seqpacket)",
            )?,
            int(
                2,
                "protocol",
                "a protocol number from 0, e.g. 17 (UDP) or 0 (the default)",
            )?,
            3,
        ),
    };
    let address = p.data(at)?;
    if address.len() > sys::generic::MAX_ADDRESS_DATA {
        return Err(ParseErrorKind::InvalidData {
            what: if matches!(role, Role::Listen | Role::Recvfrom | Role::Recv) {
                "local-address"
            } else {
                "remote-address"
            },
            text: to_hex(&address),
            reason: format!(
                "{} bytes, more than the {} a socket address holds after its family",
                address.len(),
                sys::generic::MAX_ADDRESS_DATA
            ),
        });
    }
    Ok(GenericSpec {
        role,
        domain,
        ty,
        protocol,
        address,
    })
}

impl FamilySpec for GenericSpec {
    fn address_type(&self) -> &'static AddressType {
        let definition = match self.role {
            Role::Connect => &SOCKET_CONNECT,
            Role::Listen => &SOCKET_LISTEN,
            Role::Sendto => &SOCKET_SENDTO,
            Role::Datagram => &SOCKET_DATAGRAM,
            Role::Recvfrom => &SOCKET_RECVFROM,
            Role::Recv => &SOCKET_RECV,
        };
        &definition.ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", self.domain)?;
        if !matches!(self.role, Role::Connect | Role::Listen) {
            write!(f, ":{}", self.ty)?;
        }
        write!(f, ":{}:{}", self.protocol, to_hex(&self.address))
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        check(self, options)
    }
}

/// `AF_INET` and `AF_INET6`: the domains whose peers TCP wrappers know.
fn is_internet(domain: u16) -> bool {
    i32::from(domain) == nix::libc::AF_INET || i32::from(domain) == nix::libc::AF_INET6
}

/// Refuses what cannot work on this socket: `bind` on a listener or receiver (its address
/// is the one it binds), and TCP wrappers' options on a domain whose peers have no internet
/// address to look up.
pub fn check(spec: &GenericSpec, options: &Options) -> Result<(), ParseErrorKind> {
    let name = spec.address_type().name;
    if options.bind().is_some() && matches!(spec.role, Role::Listen | Role::Recvfrom | Role::Recv) {
        return Err(super::combinations::conflict(
            OptionId::Bind,
            name,
            format!("bind does not apply to {name}: its local-address is what it binds (expected no bind option)"),
        ));
    }
    let wrap = [
        OptionId::TcpWrap,
        OptionId::TcpWrapEtc,
        OptionId::HostsAllow,
        OptionId::HostsDeny,
    ]
    .into_iter()
    .find(|id| options.has(*id));
    if let Some(id) = wrap.filter(|_| !is_internet(spec.domain)) {
        return Err(super::combinations::conflict(
            id,
            "domain",
            format!(
                "{}: TCP wrappers look peers up by internet address, and domain {} is not AF_INET (2) or AF_INET6 (10) (expected range=ADDR:MASK)",
                id.def().name,
                spec.domain
            ),
        ));
    }
    Ok(())
}

impl GenericSpec {
    /// The socket address of this spec's family with `data` after the family.
    fn sockaddr(&self, data: &[u8], what: &str) -> Result<SockAddr, OpenError> {
        sys::generic::sockaddr(self.domain, data).ok_or_else(|| {
            OpenError::Refused(format!(
                "{what} {}: {} bytes, more than the {} a socket address holds after its family",
                to_hex(data),
                data.len(),
                sys::generic::MAX_ADDRESS_DATA
            ))
        })
    }

    /// How logs name a socket address of this spec: as its family shows it when socketry
    /// knows the family (`127.0.0.1:8080`), else `domain 17 address x0003...`.
    fn shown(&self, addr: &SockAddr) -> String {
        shown(self.domain, addr)
    }

    /// How logs name `socket`'s own address once bound (the port the kernel chose for 0),
    /// or `asked` when the kernel does not say.
    fn bound(&self, socket: &Socket, asked: &SockAddr) -> String {
        socket
            .local_addr()
            .map_or_else(|_| self.shown(asked), |local| self.shown(&local))
    }

    /// A socket of this spec's domain and protocol, of type `ty`, with the shared options
    /// set, bound to `bind=` when it is given.
    fn socket(&self, ty: i32, options: &Options) -> Result<Socket, OpenError> {
        let socket = Socket::new(
            Domain::from(i32::from(self.domain)),
            Type::from(ty),
            Some(Protocol::from(self.protocol)),
        )
        .map_err(OpenError::io(format!(
            "creating a socket of domain {}, type {ty}, protocol {}",
            self.domain, self.protocol
        )))?;
        apply_common_options(&socket, options)
            .map_err(OpenError::io("setting the socket's options"))?;
        if let Some(BindAddr::Data(data)) = options.bind() {
            let local = self.sockaddr(data, "bind=")?;
            socket
                .bind(&local)
                .map_err(OpenError::io(format!("binding to {}", to_hex(data))))?;
        }
        Ok(socket)
    }

    /// The peers a receiving socket admits: `range=` by address bytes, TCP wrappers' tables.
    fn filter(options: &Options, only: Option<(u16, Vec<u8>)>) -> PeerFilter {
        PeerFilter::from_options(options).with_raw(RawPeers {
            ranges: options.data_ranges().cloned().collect(),
            only,
        })
    }

    /// Opens the socket for its role.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        check(self, options).map_err(super::combinations::refused)?;
        Ok(match self.role {
            Role::Connect => Opened::Connection(self.connect(options).await?),
            Role::Listen => Opened::Listener(self.listen(options)?),
            Role::Sendto | Role::Datagram => Opened::Connection(self.sendto(options)?),
            Role::Recv => Opened::Connection(self.recv(options)?),
            Role::Recvfrom => Opened::Listener(self.recvfrom(options)?),
        })
    }

    /// SOCKET-CONNECT: connects within `connect-timeout`.
    async fn connect(&self, options: &Options) -> Result<Connection, OpenError> {
        let peer = self.sockaddr(&self.address, "remote-address")?;
        let shown = self.shown(&peer);
        let action = format!("connecting to {shown}");
        let socket = self.socket(STREAM, options)?;
        let connecting = async {
            socket.set_nonblocking(true)?;
            match socket.connect(&peer) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(nix::libc::EINPROGRESS) => {
                    let fd = sys::register(socket.try_clone()?)?;
                    let _ = fd.writable().await?;
                    if let Some(e) = socket.take_error()? {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            Ok(())
        };
        super::error::within(
            options.seconds(OptionId::ConnectTimeout),
            &action,
            connecting,
        )
        .await?;
        setsockopt::apply(&socket, options, Phase::Connected)
            .map_err(OpenError::io(action.clone()))?;
        tracing::info!("successfully connected to {shown}");
        stream(socket, self.domain, format!("SOCKET {shown}")).map_err(OpenError::io(action))
    }

    /// SOCKET-LISTEN: binds, listens, and accepts the peers in range.
    fn listen(&self, options: &Options) -> Result<Listener, OpenError> {
        let local = self.sockaddr(&self.address, "local-address")?;
        let shown = self.shown(&local);
        let socket = self.socket(STREAM, options)?;
        if !options.has(OptionId::ReuseAddr) {
            socket
                .set_reuse_address(true)
                .map_err(OpenError::io("setting SO_REUSEADDR"))?;
        }
        socket
            .bind(&local)
            .map_err(OpenError::io(format!("binding to {shown}")))?;
        let shown = self.bound(&socket, &local);
        super::listener::listen(&socket, options, &shown)?;
        tracing::info!("listening on {shown}");
        let accept = GenericAccept {
            fd: sys::register(socket).map_err(OpenError::io("registering the listener"))?,
            domain: self.domain,
            filter: GenericSpec::filter(options, None),
            connected: WhenConnected::from_options(options),
        };
        Ok(
            Listener::new(accept, format!("SOCKET-LISTEN {shown}"), options)
                .admitting(PeerFilter::from_options(options)),
        )
    }

    /// A message socket of the spec's type, bound to `bind=` or `local`, with the connected
    /// phase's options set.
    fn message_socket(
        &self,
        options: &Options,
        local: Option<&SockAddr>,
    ) -> Result<Arc<MessageSocket>, OpenError> {
        let socket = self.socket(self.ty, options)?;
        if let Some(local) = local {
            socket
                .bind(local)
                .map_err(OpenError::io(format!("binding to {}", self.shown(local))))?;
            tracing::info!("receiving on {}", self.bound(&socket, local));
        }
        // A socket that connects to nobody is as connected as it gets once it is bound.
        setsockopt::apply(&socket, options, Phase::Connected)
            .map_err(OpenError::io("setting the socket's options"))?;
        let socket = MessageSocket::new(socket).map_err(OpenError::io("registering a socket"))?;
        Ok(Arc::new(socket))
    }

    /// SOCKET-SENDTO and SOCKET-DATAGRAM: send to the address; take what it sends (SENDTO),
    /// or what any peer in range sends (DATAGRAM).
    fn sendto(&self, options: &Options) -> Result<Connection, OpenError> {
        let peer = self.sockaddr(&self.address, "remote-address")?;
        let shown = self.shown(&peer);
        let socket = self.message_socket(options, None)?;
        let only = (self.role == Role::Sendto).then(|| (self.domain, self.address.clone()));
        Ok(Connection::new(
            Some(Reader::Messages(Box::new(Receiver {
                socket: socket.clone(),
                mode: ReceiveMode::From {
                    filter: GenericSpec::filter(options, only),
                    latest: None,
                },
            }))),
            Some(Writer::Messages(Box::new(Sender {
                socket,
                to: Some(ReplyTo::Fixed(peer)),
                shutdown_on_close: false,
            }))),
            format!("{} -> {shown}", self.address_type().name),
        ))
    }

    /// SOCKET-RECV: only receive.
    fn recv(&self, options: &Options) -> Result<Connection, OpenError> {
        let local = self.sockaddr(&self.address, "local-address")?;
        let shown = self.shown(&local);
        let socket = self.message_socket(options, Some(&local))?;
        Ok(Connection::new(
            Some(Reader::Messages(Box::new(Receiver {
                socket,
                mode: ReceiveMode::From {
                    filter: GenericSpec::filter(options, None),
                    latest: None,
                },
            }))),
            None,
            format!("SOCKET-RECV {shown}"),
        ))
    }

    /// SOCKET-RECVFROM: each sender is a peer, whose replies go back to it.
    fn recvfrom(&self, options: &Options) -> Result<Listener, OpenError> {
        let local = self.sockaddr(&self.address, "local-address")?;
        let shown = self.shown(&local);
        let socket = self.message_socket(options, Some(&local))?;
        Ok(Listener::new(
            DatagramPeers::new(socket, GenericSpec::filter(options, None)),
            format!("SOCKET-RECVFROM {shown}"),
            options,
        ))
    }
}

/// How logs name a socket address of `domain`: as its family shows it when socketry knows
/// the family, else by number and bytes.
fn shown(domain: u16, addr: &SockAddr) -> String {
    // An internet address shorter than its family's struct is shown as the bytes it is.
    let whole = match i32::from(domain) {
        nix::libc::AF_INET => std::mem::size_of::<nix::libc::sockaddr_in>(),
        nix::libc::AF_INET6 => std::mem::size_of::<nix::libc::sockaddr_in6>(),
        _ => 0,
    };
    let len = usize::try_from(addr.len()).unwrap_or(0);
    match describe_sockaddr(addr) {
        known if known != "(unnamed)" && len >= whole => known,
        _ => format!(
            "domain {domain} address {}",
            to_hex(&sys::generic::address_data(addr))
        ),
    }
}

/// A connected stream socket of `domain` as a connection: through tokio's TCP stream for
/// the internet domains (whose peer a program's environment learns), through its Unix
/// stream for any other, whose reads and writes are the same calls on any stream socket.
fn stream(socket: Socket, domain: u16, description: String) -> std::io::Result<Connection> {
    socket.set_nonblocking(true)?;
    if is_internet(domain) {
        let stream = tokio::net::TcpStream::from_std(std::net::TcpStream::from(socket))?;
        Ok(stream_connection(stream, description))
    } else {
        let stream = tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(
            OwnedFd::from(socket),
        ))?;
        Ok(stream_connection(stream, description))
    }
}

/// SOCKET-LISTEN's accepting: each connection whose peer is in range, with the connected
/// phase's options set.
#[derive(Debug)]
struct GenericAccept {
    fd: tokio::io::unix::AsyncFd<Socket>,
    domain: u16,
    /// `range=`, by the peer's address bytes.
    filter: PeerFilter,
    /// The numbered options set on each accepted connection (`setsockopt=`).
    connected: WhenConnected,
}

impl Accept for GenericAccept {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let (socket, from) = sys::ready::read(&self.fd, Socket::accept)
                    .await
                    .map_err(AcceptError::Accept)?;
                let who = shown(self.domain, &from);
                if let Some(why) = self.filter.raw_refusal(&from) {
                    tracing::warn!("refusing connection from {who} on {}: {why}", on.listener);
                    continue;
                }
                let peer = match from.as_socket() {
                    Some(addr) => Peer::Internet(addr),
                    None => Peer::Unix(None),
                };
                if !on.admission.admit(&peer, on.listener) {
                    continue;
                }
                tracing::info!("accepting connection from {who} on {}", on.listener);
                self.connected
                    .apply(&socket)
                    .map_err(OpenError::io(format!("accepting from {who}")))?;
                let description = format!("{} <- {who}", on.listener);
                return stream(socket, self.domain, description)
                    .map_err(|e| OpenError::io(format!("accepting from {who}"))(e).into());
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Address, Kind};

    fn spec(text: &str) -> GenericSpec {
        match Address::parse(text) {
            Ok(Address::Single(crate::registry::Spec {
                kind: Kind::Generic(spec),
                ..
            })) => spec,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn reads_numbers_and_the_address_bytes() {
        let tcp = spec("SOCKET-CONNECT:2:6:x1f907f000001x0000000000000000");
        assert_eq!(
            (tcp.role, tcp.domain, tcp.ty, tcp.protocol),
            (Role::Connect, 2, 1, 6)
        );
        assert_eq!(
            tcp.address,
            [0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let unix = spec("SOCKET-DATAGRAM:0x1:2:0:\\\"/tmp/s\\\\0\\\"");
        assert_eq!(
            (unix.domain, unix.ty, unix.address),
            (1, 2, b"/tmp/s\0".to_vec())
        );
    }

    #[test]
    fn refusals_quote_what_was_wrong() {
        let cases: &[(&str, &str)] = &[
            (
                "SOCKET-CONNECT:inet:6:x00",
                "invalid socket domain \"inet\" in \"SOCKET-CONNECT:inet:6:x00\" (expected an address family number from 0 to 65535",
            ),
            (
                "SOCKET-SENDTO:2:dgram:17:x00",
                "invalid socket type \"dgram\"",
            ),
            (
                "SOCKET-RECV:2:2:17:x1f9",
                "invalid local-address \"x1f9\" in \"SOCKET-RECV:2:2:17:x1f9\": odd number of hex digits (3): each byte takes two at offset 0 (expected socat's data form",
            ),
            (
                "SOCKET-LISTEN:2:6:x0000,bind=x00",
                "bind does not apply to SOCKET-LISTEN",
            ),
            (
                "SOCKET-LISTEN:1:0:\\\"/s\\0\\\",tcpwrap",
                "tcpwrap: TCP wrappers look peers up by internet address, and domain 1 is not",
            ),
            (
                "SOCKET-RECV:2:2:17:x00,range=x00:x0000",
                "invalid value \"x00:x0000\" for option range in \"SOCKET-RECV:2:2:17:x00,range=x00:x0000\" (expected ADDR:MASK, two socket addresses' bytes",
            ),
        ];
        for (text, want) in cases {
            let error = Address::parse(text).expect_err(text).to_string();
            assert!(error.contains(want), "{text}: {error}");
        }
        let long = format!("SOCKET-CONNECT:2:6:x{}", "00".repeat(127));
        let error = Address::parse(&long).expect_err("too long").to_string();
        assert!(error.contains("127 bytes, more than the 126"), "{error}");
    }

    #[test]
    fn writes_back_what_parses_to_the_same() {
        for text in [
            "SOCKET-CONNECT:2:6:x1f907f000001,bind=x0000",
            "SOCKET-RECVFROM:10:2:17:x00010203,range=x0001:x00ff,fork",
            "SOCKET-SENDTO:1:2:0:x2f7300,setsockopt=1:7:65536,setsockopt-bin=1:8:x0001",
        ] {
            let parsed = Address::parse(text).unwrap();
            assert_eq!(parsed.to_string(), text);
            assert_eq!(Address::parse(&parsed.to_string()).unwrap(), parsed);
        }
    }
}
