//! Raw IP: datagrams of one IP protocol, with no transport header of socketry's (IP-SENDTO,
//! IP-DATAGRAM, IP-RECVFROM, IP-RECV, and their IPv4 and IPv6 forms). Each message is one
//! packet's payload: an IPv4 packet's header, which the kernel hands over with it, is taken
//! off (except for protocol 255, whose sender writes the header itself). There are no ports,
//! so a socket takes every packet of its protocol addressed to it: IP-SENDTO takes only what
//! its peer host sends, IP-DATAGRAM what `range` admits. For the same reason IP-RECVFROM's
//! session takes one packet and then ends its reading, with or without `fork`: its replies to
//! a sender on its own address come back to it. Raw sockets need `CAP_NET_RAW`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::combinations::conflict;
use super::connection::{Connection, OpenContext};
use super::datagrams::DatagramPeers;
use super::error::OpenError;
use super::listener::Listener;
use super::opened::Opened;
use super::socket::{
    apply_common_options, apply_multicast_options, MessageSocket, PeerFilter, ReceiveMode, Receiver,
};
use super::socket::{ReplyTo, Sender};
use super::tcp::{effective_family, listen_address, resolve_with, source_address};
use crate::address::{
    AddressType, BindAddr, BindDomain, Definition, Family, FamilySpec, FamilyTypes, Groups, Host,
    Local, OptionId, Options, ParseErrorKind,
};
use crate::channel::{Reader, Writer};

/// `IPPROTO_RAW`: a socket of this protocol sends packets whose IP header the data gives.
const IPPROTO_RAW: u8 = 255;

/// Where raw IP packets go: a host and the protocol they carry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawRemote {
    /// The peer, a literal address or a name to resolve.
    pub host: Host,
    /// The IP protocol number.
    pub protocol: u8,
    /// Which address family the host may resolve to.
    pub family: Family,
}

/// Which packets a raw IP receiver takes: those of one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawLocal {
    /// The IP protocol number.
    pub protocol: u8,
    /// Which address family to receive on.
    pub family: Family,
}

/// What a raw IP address does with its socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawIpSpec {
    /// Send packets to a host, take the packets it sends back.
    Sendto(RawRemote),
    /// Send packets to a host (broadcast and multicast too), take packets from any admitted
    /// sender.
    Datagram(RawRemote),
    /// Receive packets and reply to their sender.
    Recvfrom(RawLocal),
    /// Only receive packets.
    Recv(RawLocal),
}

const PEER: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::IP_DATAGRAM);
const SERVER: Groups = PEER.union(Groups::CHILD).union(Groups::RANGE);
const RECEIVER: Groups = PEER.union(Groups::RANGE);
const HOST_PROTOCOL: &[&str] = &["host", "protocol"];
const PROTOCOL: &[&str] = &["protocol"];
/// `bind=` takes an address; a port in it is refused by [`RawIpSpec::check`].
const BIND: BindDomain = BindDomain::Ip(None);

/// Defines one role's three address types: any family, IPv4, IPv6.
macro_rules! role_types {
    ($role:ident, $parse:expr, $params:expr, $groups:expr,
     [$any:ident $name:literal $aliases:expr, $v4:ident $name4:literal $aliases4:expr, $v6:ident $name6:literal $aliases6:expr],
     $help:literal) => {
        static $any: Definition<RawIpSpec> = Definition {
            ty: AddressType::new($name, $aliases, $params, $groups, $help).bind(BIND),
            parse: |p| Ok(RawIpSpec::$role($parse(p, Family::Any)?)),
        };
        static $v4: Definition<RawIpSpec> = Definition {
            ty: AddressType::new(
                $name4,
                $aliases4,
                $params,
                $groups,
                concat!($name, " over IPv4"),
            )
            .bind(BIND),
            parse: |p| Ok(RawIpSpec::$role($parse(p, Family::V4)?)),
        };
        static $v6: Definition<RawIpSpec> = Definition {
            ty: AddressType::new(
                $name6,
                $aliases6,
                $params,
                $groups,
                concat!($name, " over IPv6"),
            )
            .bind(BIND),
            parse: |p| Ok(RawIpSpec::$role($parse(p, Family::V6)?)),
        };
    };
}

fn parse_remote(
    p: &crate::address::Params<'_>,
    family: Family,
) -> Result<RawRemote, ParseErrorKind> {
    Ok(RawRemote {
        host: p.host(0, family)?,
        protocol: p.protocol(1)?,
        family,
    })
}

fn parse_local(p: &crate::address::Params<'_>, family: Family) -> Result<RawLocal, ParseErrorKind> {
    Ok(RawLocal {
        protocol: p.protocol(0)?,
        family,
    })
}

role_types!(Sendto, parse_remote, HOST_PROTOCOL, PEER,
    [IP_SENDTO "IP-SENDTO" &["IP"], IP4_SENDTO "IP4-SENDTO" &["IP4"], IP6_SENDTO "IP6-SENDTO" &["IP6"]],
    "send raw IP packets of a protocol to host, take the packets host sends back");
role_types!(Datagram, parse_remote, HOST_PROTOCOL, RECEIVER,
    [IP_DATAGRAM "IP-DATAGRAM" &["IP-DGRAM"], IP4_DATAGRAM "IP4-DATAGRAM" &["IP4-DGRAM"],
     IP6_DATAGRAM "IP6-DATAGRAM" &["IP6-DGRAM"]],
    "send raw IP packets to host (broadcast, multicast), take packets from any peer in range");
role_types!(Recvfrom, parse_local, PROTOCOL, SERVER,
    [IP_RECVFROM "IP-RECVFROM" &[], IP4_RECVFROM "IP4-RECVFROM" &[], IP6_RECVFROM "IP6-RECVFROM" &[]],
    "receive raw IP packets of a protocol and reply to their sender (with fork: a session per packet)");
role_types!(Recv, parse_local, PROTOCOL, RECEIVER,
    [IP_RECV "IP-RECV" &[], IP4_RECV "IP4-RECV" &[], IP6_RECV "IP6-RECV" &[]],
    "only receive raw IP packets of a protocol");

/// The family's types by role (in [`RawIpSpec`]'s order) and family (any, IPv4, IPv6).
static ROWS: [[&Definition<RawIpSpec>; 3]; 4] = [
    [&IP_SENDTO, &IP4_SENDTO, &IP6_SENDTO],
    [&IP_DATAGRAM, &IP4_DATAGRAM, &IP6_DATAGRAM],
    [&IP_RECVFROM, &IP4_RECVFROM, &IP6_RECVFROM],
    [&IP_RECV, &IP4_RECV, &IP6_RECV],
];

/// The raw IP family: its address types and features.
pub static FAMILY: FamilyTypes<RawIpSpec> = FamilyTypes {
    features: &["IP4", "IP6", "RAWIP"],
    types: &[
        &IP_SENDTO,
        &IP4_SENDTO,
        &IP6_SENDTO,
        &IP_DATAGRAM,
        &IP4_DATAGRAM,
        &IP6_DATAGRAM,
        &IP_RECVFROM,
        &IP4_RECVFROM,
        &IP6_RECVFROM,
        &IP_RECV,
        &IP4_RECV,
        &IP6_RECV,
    ],
};

impl FamilySpec for RawIpSpec {
    fn address_type(&self) -> &'static AddressType {
        let (role, family) = match self {
            RawIpSpec::Sendto(r) => (0, r.family),
            RawIpSpec::Datagram(r) => (1, r.family),
            RawIpSpec::Recvfrom(l) => (2, l.family),
            RawIpSpec::Recv(l) => (3, l.family),
        };
        let family = match family {
            Family::Any => 0,
            Family::V4 => 1,
            Family::V6 => 2,
        };
        &ROWS[role][family].ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawIpSpec::Sendto(r) | RawIpSpec::Datagram(r) => match &r.host {
                Host::Name(name) => write!(f, ":{}:{}", crate::address::escape(name), r.protocol),
                ip => write!(f, ":{ip}:{}", r.protocol),
            },
            RawIpSpec::Recvfrom(l) | RawIpSpec::Recv(l) => write!(f, ":{}", l.protocol),
        }
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        check(options)
    }
}

/// Refuses what needs a port, which raw IP has none of: `sourceport`, and a port in `bind=`.
pub fn check(options: &Options) -> Result<(), ParseErrorKind> {
    if options.has(OptionId::SourcePort) {
        return Err(conflict(
            OptionId::SourcePort,
            "protocol",
            "sourceport cannot be used with raw IP: its packets have no ports".to_owned(),
        ));
    }
    if let Some(BindAddr::Ip { port: Some(_), .. }) = options.bind() {
        return Err(conflict(
            OptionId::Bind,
            "protocol",
            "bind= gives a port, but raw IP packets have none: give only an address".to_owned(),
        ));
    }
    Ok(())
}

impl RawIpSpec {
    /// Opens a raw IP socket for its role.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        check(options).map_err(super::combinations::refused)?;
        Ok(match self {
            RawIpSpec::Sendto(remote) => {
                Opened::Connection(sendto(remote, Role::Sendto, options, context).await?)
            }
            RawIpSpec::Datagram(remote) => {
                Opened::Connection(sendto(remote, Role::Datagram, options, context).await?)
            }
            RawIpSpec::Recv(local) => Opened::Connection(recv(local, options, context)?),
            RawIpSpec::Recvfrom(local) => Opened::Listener(recvfrom(local, options, context)?),
        })
    }
}

/// Whose packets a sending socket takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// IP-SENDTO: its peer host's only.
    Sendto,
    /// IP-DATAGRAM: anyone's `range` admits.
    Datagram,
}

/// A raw socket of `protocol` for `addr`'s family, with the shared options applied, bound to
/// `addr` when it is given, and registered with the reactor.
fn raw_socket(
    family_of: &SocketAddr,
    protocol: u8,
    bind: Option<SocketAddr>,
    options: &Options,
) -> Result<MessageSocket, OpenError> {
    let name = if family_of.is_ipv4() { "IPv4" } else { "IPv6" };
    let socket = Socket::new(
        Domain::for_address(*family_of),
        Type::RAW,
        Some(Protocol::from(i32::from(protocol))),
    )
    .map_err(OpenError::io(format!(
        "creating a raw {name} socket of protocol {protocol}"
    )))?;
    apply_common_options(&socket, options)
        .and_then(|()| apply_multicast_options(&socket, options))
        .and_then(|()| super::tcp::apply_ip_options(&socket, family_of, options))
        .and_then(|()| super::packet_info::apply(&socket, family_of.is_ipv6(), options))
        .map_err(OpenError::io("setting the socket's options"))?;
    if family_of.is_ipv6() && options.has(OptionId::V6Only) {
        socket
            .set_only_v6(options.flag(OptionId::V6Only, false))
            .map_err(OpenError::io("setting IPV6_V6ONLY"))?;
    }
    if let Some(local) = bind {
        socket
            .bind(&local.into())
            .map_err(OpenError::io(format!("binding to {}", local.ip())))?;
    }
    super::setsockopt::apply(&socket, options, super::setsockopt::Phase::Connected)
        .map_err(OpenError::io("setting the socket's options"))?;
    let registered = if family_of.is_ipv4() && protocol != IPPROTO_RAW {
        MessageSocket::new_raw_ipv4(socket)
    } else {
        MessageSocket::new(socket)
    };
    registered
        .map(|socket| socket.with_packet_info(super::packet_info::wanted(options)))
        .map_err(OpenError::io("registering a raw IP socket"))
}

/// IP-SENDTO and IP-DATAGRAM: send to one host, receive what the role admits.
async fn sendto(
    remote: &RawRemote,
    role: Role,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let target = resolve_with(&remote.host, 0, family, options).await?[0];
    let bind = source_address(options, &target)?;
    let socket = raw_socket(&target, remote.protocol, bind, options)?;
    if target.ip().is_multicast() || target.ip() == IpAddr::from(std::net::Ipv4Addr::BROADCAST) {
        socket
            .socket()
            .set_broadcast(true)
            .map_err(OpenError::io("setting SO_BROADCAST"))?;
    }
    let filter = match role {
        Role::Sendto => PeerFilter::from_options(options).only_from(target.ip()),
        Role::Datagram => PeerFilter::from_options(options),
    };
    let socket = Arc::new(socket);
    let description = format!("IP protocol {} -> {}", remote.protocol, target.ip());
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(Receiver {
            socket: socket.clone(),
            mode: ReceiveMode::From {
                filter,
                latest: None,
            },
        }))),
        Some(Writer::Messages(Box::new(Sender {
            socket,
            to: Some(ReplyTo::Fixed(SockAddr::from(target))),
            shutdown_on_close: false,
        }))),
        description,
    ))
}

/// The socket a raw IP receiver takes packets on: bound to `bind=`'s address, or to every
/// local address of the family.
fn bound_socket(
    local: &RawLocal,
    options: &Options,
    context: &OpenContext,
) -> Result<(MessageSocket, IpAddr), OpenError> {
    let addr = listen_address(
        &Local {
            port: 0,
            family: local.family,
        },
        options,
        context,
    )?;
    let bind = (!addr.ip().is_unspecified()).then_some(addr);
    let socket = raw_socket(&addr, local.protocol, bind, options)?;
    tracing::info!("receiving IP protocol {} on {}", local.protocol, addr.ip());
    Ok((socket, addr.ip()))
}

/// IP-RECV: only receive.
fn recv(
    local: &RawLocal,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let (socket, addr) = bound_socket(local, options, context)?;
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(Receiver {
            socket: Arc::new(socket),
            mode: ReceiveMode::From {
                filter: PeerFilter::from_options(options),
                latest: None,
            },
        }))),
        None,
        format!("IP-RECV protocol {} on {addr}", local.protocol),
    ))
}

/// IP-RECVFROM: each packet's sender is a peer to reply to.
fn recvfrom(
    local: &RawLocal,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let (socket, addr) = bound_socket(local, options, context)?;
    Ok(Listener::new(
        DatagramPeers::first_only(Arc::new(socket), PeerFilter::from_options(options)),
        format!("IP-RECVFROM protocol {} on {addr}", local.protocol),
        options,
    ))
}
