//! TCP: connecting (every resolved address in turn) and listening.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::connection::{Connection, OpenContext};
use super::error::OpenError;
use super::listener::{Accept, AcceptError, AcceptFuture, Accepting, Admit, Listener, Peer};
use super::peer::SocketAddresses;
use super::setsockopt::WhenConnected;
use super::socket::{
    apply_common_options, apply_multicast_options, set_priority, setting, PeerFilter,
};
use super::stream::stream_connection_at;
use crate::address::{BindAddr, Family, Host, Local, OptionId, Options, Remote};

pub use super::listener::DEFAULT_BACKLOG;

/// Which family an address uses: its own option, then its type, then the command line.
pub(crate) fn effective_family(
    declared: Family,
    options: &Options,
    context: &OpenContext,
) -> Family {
    match (options.family(), declared, context.family) {
        (Some(f), _, _) => f,
        (None, Family::Any, global) => global,
        (None, declared, _) => declared,
    }
}

/// Resolves a host to the addresses of `family`, in the resolver's order.
pub(crate) async fn resolve(
    host: &Host,
    port: u16,
    family: Family,
) -> Result<Vec<SocketAddr>, OpenError> {
    resolve_with(host, port, family, &Options::default()).await
}

/// Resolves a host as [`resolve`] does, with the address's resolver options: any `res-*`
/// option asks socketry's own DNS client instead of the system's resolver, and
/// `ai-addrconfig` keeps only the families this host has addresses of.
pub(crate) async fn resolve_with(
    host: &Host,
    port: u16,
    family: Family,
    options: &Options,
) -> Result<Vec<SocketAddr>, OpenError> {
    let addrs: Vec<SocketAddr> = match (host, dns_settings(options)) {
        (Host::Ip(ip), _) => vec![SocketAddr::new(*ip, port)],
        (Host::Name(name), None) => tokio::net::lookup_host((name.as_str(), port))
            .await
            .map_err(|e| OpenError::Resolve {
                host: name.clone(),
                reason: resolver_text(&e),
            })?
            .collect(),
        (Host::Name(name), Some(settings)) => {
            use crate::dns::RecordType;
            let types: &[RecordType] = match family {
                Family::V4 => &[RecordType::A],
                Family::V6 => &[RecordType::Aaaa],
                Family::Any => &[RecordType::A, RecordType::Aaaa],
            };
            crate::dns::lookup(name, types, &settings)
                .await
                .map_err(|e| OpenError::Resolve {
                    host: name.clone(),
                    reason: e.to_string(),
                })?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        }
    };
    let configured = match (host, options.flag(OptionId::AiAddrconfig, false)) {
        (Host::Name(_), true) => configured_families(),
        _ => (true, true),
    };
    let of_family: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    let found_some = !of_family.is_empty();
    let wanted: Vec<SocketAddr> = of_family
        .into_iter()
        .filter(|a| {
            if a.is_ipv4() {
                configured.0
            } else {
                configured.1
            }
        })
        .collect();
    if wanted.is_empty() && found_some {
        return Err(OpenError::Resolve {
            host: host.to_string(),
            reason: "no address of a family this host has configured (ai-addrconfig)".to_owned(),
        });
    }
    if wanted.is_empty() {
        let which = if family == Family::V6 { "IPv6" } else { "IPv4" };
        return Err(OpenError::Resolve {
            host: host.to_string(),
            reason: format!("no {which} address"),
        });
    }
    Ok(wanted)
}

/// The settings of socketry's own DNS query, when the address has any `res-*` option.
fn dns_settings(options: &Options) -> Option<crate::dns::Settings> {
    const RESOLVER_OPTIONS: [OptionId; 6] = [
        OptionId::ResNsaddr,
        OptionId::ResRetry,
        OptionId::ResRetrans,
        OptionId::ResRecurse,
        OptionId::ResUsevc,
        OptionId::ResIgntc,
    ];
    if !RESOLVER_OPTIONS.iter().any(|id| options.has(*id)) {
        return None;
    }
    let defaults = crate::dns::Settings::default();
    // The last one given counts.
    let server = options
        .iter()
        .filter_map(|(id, value)| match (id, value) {
            (OptionId::ResNsaddr, crate::address::Value::SocketAddr(addr)) => Some(*addr),
            _ => None,
        })
        .last();
    Some(crate::dns::Settings {
        server,
        retries: options
            .count(OptionId::ResRetry)
            .map_or(defaults.retries, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        timeout: options
            .count(OptionId::ResRetrans)
            .map_or(defaults.timeout, Duration::from_secs),
        recurse: options.flag(OptionId::ResRecurse, defaults.recurse),
        tcp: options.flag(OptionId::ResUsevc, defaults.tcp),
        ignore_truncation: options.flag(OptionId::ResIgntc, defaults.ignore_truncation),
    })
}

/// Whether this host has an IPv4 and an IPv6 address other than loopback: the families
/// `ai-addrconfig` keeps, as getaddrinfo's AI_ADDRCONFIG does.
fn configured_families() -> (bool, bool) {
    let Ok(addresses) = nix::ifaddrs::getifaddrs() else {
        return (true, true);
    };
    let mut found = (false, false);
    for address in addresses.filter_map(|a| a.address) {
        if let Some(v4) = address.as_sockaddr_in() {
            found.0 |= !v4.ip().is_loopback();
        } else if let Some(v6) = address.as_sockaddr_in6() {
            found.1 |= !v6.ip().is_loopback();
        }
    }
    found
}

fn resolver_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    text.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text)
        .to_owned()
}

/// The local address a socket binds to before connecting, from `bind=` and `sourceport=`.
pub(crate) fn source_address(
    options: &Options,
    peer: &SocketAddr,
) -> Result<Option<SocketAddr>, OpenError> {
    let (host, port) = match options.bind() {
        Some(BindAddr::Ip { host, port }) => (host.clone(), *port),
        _ => (None, None),
    };
    let port = options.port(OptionId::SourcePort).or(port);
    if host.is_none() && port.is_none() && !options.flag(OptionId::LowPort, false) {
        return Ok(None);
    }
    let ip = match host {
        Some(Host::Ip(ip)) => ip,
        Some(Host::Name(name)) => {
            let family = if peer.is_ipv4() {
                Family::V4
            } else {
                Family::V6
            };
            resolve_bind_name(&name, family)?
        }
        None if peer.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    Ok(Some(SocketAddr::new(ip, port.unwrap_or(0))))
}

/// The ports `lowport` binds a client to: reserved ports (below 1024) that no well-known
/// service uses, as socat and rsh have always taken them.
const LOW_PORTS: std::ops::RangeInclusive<u16> = 640..=1023;

/// Binds a client's `socket` to `local`. With `lowport` and no port chosen, that is the
/// first free port of [`LOW_PORTS`] from a random one on (binding one needs root, or
/// `CAP_NET_BIND_SERVICE`: what a server's `lowport` relies on).
pub(crate) fn bind_source(
    socket: &Socket,
    local: SocketAddr,
    options: &Options,
) -> Result<SocketAddr, OpenError> {
    if local.port() != 0 || !options.flag(OptionId::LowPort, false) {
        socket
            .bind(&local.into())
            .map_err(OpenError::io(format!("binding to {local}")))?;
        return Ok(local);
    }
    let count = LOW_PORTS.len();
    let start = usize::from(rand_start()) % count;
    for i in 0..count {
        let offset = u16::try_from((start + i) % count).unwrap_or(0);
        let candidate = SocketAddr::new(local.ip(), LOW_PORTS.start() + offset);
        let family = if candidate.is_ipv4() { 2 } else { 10 };
        tracing::trace!("bind(lowport, {{AF={family} {candidate}}}, ...)");
        match socket.bind(&candidate.into()) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => {
                return Err(OpenError::Io {
                    action: format!("binding to {candidate} for lowport"),
                    source: e,
                })
            }
        }
    }
    Err(OpenError::Refused(format!(
        "lowport: every port from {} to {} of {} is in use",
        LOW_PORTS.start(),
        LOW_PORTS.end(),
        local.ip()
    )))
}

/// Where a search for a free low port starts: varied per process and call, so that clients
/// started together do not all race for the same port. Not a secret, so no CSPRNG.
fn rand_start() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    #[allow(clippy::cast_possible_truncation)]
    let value = hasher.finish() as u16;
    value
}

/// A socket of `ty` for `addr`'s family with the shared options applied.
pub(crate) fn new_socket(
    addr: &SocketAddr,
    ty: Type,
    protocol: Protocol,
    options: &Options,
) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(*addr), ty, Some(protocol))?;
    apply_common_options(&socket, options)?;
    apply_multicast_options(&socket, options)?;
    if addr.is_ipv6() && options.has(OptionId::V6Only) {
        socket.set_only_v6(options.flag(OptionId::V6Only, false))?;
    }
    apply_ip_options(&socket, addr, options)?;
    super::packet_info::apply(&socket, addr.is_ipv6(), options)?;
    if protocol == Protocol::TCP {
        apply_tcp_options(&socket, options)?;
    }
    Ok(socket)
}

/// IPPROTO_MPTCP: Multipath TCP, a stream socket that can use several paths at once.
const MPTCP: i32 = 262;

/// A stream socket for `addr`, non-blocking from the start: Multipath TCP with `mptcp`, or
/// plain TCP. A kernel without
/// MPTCP (or with it disabled: `net.mptcp.enabled=0`) refuses the socket; then the address
/// uses plain TCP and says so once, as a peer without MPTCP would make it fall back anyway.
fn stream_socket(addr: &SocketAddr, options: &Options) -> std::io::Result<Socket> {
    if options.flag(OptionId::Mptcp, false) {
        match new_socket(
            addr,
            Type::STREAM.nonblocking(),
            Protocol::from(MPTCP),
            options,
        ) {
            Ok(socket) => return Ok(socket),
            Err(e) if mptcp_unavailable(&e) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "mptcp: the kernel refused a Multipath TCP socket ({e}); using plain TCP"
                    );
                });
            }
            Err(e) => return Err(e),
        }
    }
    new_socket(addr, Type::STREAM.nonblocking(), Protocol::TCP, options)
}

/// Whether creating an MPTCP socket failed because the kernel has no MPTCP to give.
fn mptcp_unavailable(error: &std::io::Error) -> bool {
    use nix::libc::{EAFNOSUPPORT, EINVAL, ENOPROTOOPT, EPROTONOSUPPORT};
    matches!(
        error.raw_os_error(),
        Some(EPROTONOSUPPORT | ENOPROTOOPT | EINVAL | EAFNOSUPPORT)
    )
}

/// The IP-level options: the type of service, the time to live (hop limit on IPv6) and
/// IPv6's traffic class.
pub(crate) fn apply_ip_options(
    socket: &Socket,
    addr: &SocketAddr,
    options: &Options,
) -> std::io::Result<()> {
    let byte = |id| {
        options
            .count(id)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    if let Some(tos) = byte(OptionId::IpTos) {
        socket.set_tos(tos).map_err(setting("IP_TOS"))?;
        set_priority(socket, options)?;
    }
    if let Some(ttl) = byte(OptionId::IpTtl) {
        if addr.is_ipv6() {
            socket
                .set_unicast_hops_v6(ttl)
                .map_err(setting("IPV6_UNICAST_HOPS"))?;
        } else {
            socket.set_ttl(ttl).map_err(setting("IP_TTL"))?;
        }
    }
    if let Some(class) = byte(OptionId::Ipv6Tclass) {
        if !addr.is_ipv6() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("ipv6-tclass applies to IPv6 sockets, and {addr} is IPv4"),
            ));
        }
        socket
            .set_tclass_v6(class)
            .map_err(setting("IPV6_TCLASS"))?;
    }
    Ok(())
}

/// TCP's own options: keepalive timing, the user timeout, the segment size, quick ACKs.
fn apply_tcp_options(socket: &Socket, options: &Options) -> std::io::Result<()> {
    let int = |id| {
        options
            .count(id)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let mut keepalive = socket2::TcpKeepalive::new();
    let mut timing = false;
    if let Some(idle) = int(OptionId::TcpKeepIdle) {
        keepalive = keepalive.with_time(Duration::from_secs(u64::from(idle)));
        timing = true;
    }
    if let Some(interval) = int(OptionId::TcpKeepIntvl) {
        keepalive = keepalive.with_interval(Duration::from_secs(u64::from(interval)));
        timing = true;
    }
    if let Some(count) = int(OptionId::TcpKeepCnt) {
        keepalive = keepalive.with_retries(count);
        timing = true;
    }
    if timing {
        // socket2 turns SO_KEEPALIVE on with the timing; `keepalive=0` turns it back off.
        socket
            .set_tcp_keepalive(&keepalive)
            .map_err(setting("TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT"))?;
        if options.has(OptionId::KeepAlive) {
            socket.set_keepalive(options.flag(OptionId::KeepAlive, false))?;
        }
    }
    if let Some(ms) = options.count(OptionId::TcpUserTimeout) {
        socket
            .set_tcp_user_timeout(Some(Duration::from_millis(ms)).filter(|t| !t.is_zero()))
            .map_err(setting("TCP_USER_TIMEOUT"))?;
    }
    if let Some(mss) = int(OptionId::TcpMaxSeg) {
        socket.set_mss(mss).map_err(setting("TCP_MAXSEG"))?;
    }
    if options.has(OptionId::TcpQuickAck) {
        socket
            .set_quickack(options.flag(OptionId::TcpQuickAck, false))
            .map_err(setting("TCP_QUICKACK"))?;
    }
    Ok(())
}

/// Connects to `remote`, trying each resolved address until one accepts.
pub async fn connect(
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let addrs = resolve_with(&remote.host, remote.port, family, options).await?;
    let timeout = options.seconds(OptionId::ConnectTimeout);
    let mut last = None;
    for addr in addrs {
        match connect_one(addr, options, timeout).await {
            Ok(stream) => {
                super::setsockopt::apply(&stream, options, super::setsockopt::Phase::Connected)
                    .map_err(OpenError::io(format!("connecting to {addr}")))?;
                if options.has(OptionId::NoDelay) {
                    stream
                        .set_nodelay(options.flag(OptionId::NoDelay, false))
                        .map_err(OpenError::io("setting TCP_NODELAY"))?;
                }
                // The peer is the address connected to; only the local one is the kernel's.
                let local = stream.local_addr().ok();
                let shown = local.map_or_else(String::new, |a| a.to_string());
                tracing::info!("successfully connected from local address {shown} to {addr}");
                let addresses = local.map(|local| SocketAddresses { local, peer: addr });
                return Ok(stream_connection_at(
                    stream,
                    addresses,
                    format!("TCP {shown} -> {addr}"),
                ));
            }
            Err(e) => {
                tracing::debug!("{e}");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| {
        OpenError::Refused(format!("no address to connect to for {}", remote.host))
    }))
}

async fn connect_one(
    addr: SocketAddr,
    options: &Options,
    timeout: Option<Duration>,
) -> Result<TcpStream, OpenError> {
    // Said only when something fails: a connection that succeeds formats nothing.
    let action = Connecting(addr);
    let failed = |source| OpenError::Io {
        action: action.to_string(),
        source,
    };
    let socket = stream_socket(&addr, options).map_err(failed)?;
    if let Some(local) = source_address(options, &addr)? {
        socket.set_reuse_address(true).map_err(failed)?;
        bind_source(&socket, local, options)?;
    }
    let socket = TcpSocket::from_std_stream(std::net::TcpStream::from(socket));
    crate::endpoint::error::within(timeout, &action, socket.connect(addr)).await
}

/// What [`connect_one`] is doing, for its errors.
struct Connecting(SocketAddr);

impl std::fmt::Display for Connecting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "connecting to {}", self.0)
    }
}

crate::channel::splittable_stream!(TcpStream, tokio::net::tcp);

/// The address a server socket binds to: `bind=` if given, else every local address of the
/// family (IPv4 unless IPv6 is asked for).
pub(crate) fn listen_address(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<SocketAddr, OpenError> {
    let family = match effective_family(local.family, options, context) {
        Family::Any => context.listen_family,
        family => family,
    };
    let any = match family {
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let ip = match options.bind() {
        Some(BindAddr::Ip {
            host: Some(Host::Ip(ip)),
            ..
        }) => *ip,
        Some(BindAddr::Ip {
            host: Some(Host::Name(name)),
            ..
        }) => resolve_bind_name(name, family)?,
        _ => any,
    };
    Ok(SocketAddr::new(ip, local.port))
}

/// The first address of `family` (IPv4 for `Any`) that a `bind=` host name resolves to. Names
/// in `bind=` are local ones (`localhost`, this host's name), answered from /etc/hosts.
fn resolve_bind_name(name: &str, family: Family) -> Result<IpAddr, OpenError> {
    use std::net::ToSocketAddrs;
    let resolved = (name, 0)
        .to_socket_addrs()
        .map_err(|e| OpenError::Resolve {
            host: name.to_owned(),
            reason: resolver_text(&e),
        })?;
    let wanted = |ip: &IpAddr| match family {
        Family::V6 => ip.is_ipv6(),
        _ => ip.is_ipv4(),
    };
    resolved
        .map(|a| a.ip())
        .find(wanted)
        .ok_or_else(|| OpenError::Resolve {
            host: name.to_owned(),
            reason: format!("no {} address for a bind", family_name(family)),
        })
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V6 => "IPv6",
        _ => "IPv4",
    }
}

/// Binds and listens on `local`.
pub fn listen(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let addr = listen_address(local, options, context)?;
    let socket = stream_socket(&addr, options)
        .map_err(OpenError::io(format!("creating a socket for {addr}")))?;
    if !options.has(OptionId::ReuseAddr) {
        socket
            .set_reuse_address(true)
            .map_err(OpenError::io("setting SO_REUSEADDR"))?;
    }
    socket
        .bind(&addr.into())
        .map_err(OpenError::io(format!("binding to {addr}")))?;
    super::listener::listen(&socket, options, addr)?;
    let listener = TcpListener::from_std(std::net::TcpListener::from(socket))
        .map_err(OpenError::io("registering the listener"))?;
    let bound = listener.local_addr().map_or(addr, |a| a);
    tracing::info!("listening on {bound}");
    let nodelay = options
        .has(OptionId::NoDelay)
        .then(|| options.flag(OptionId::NoDelay, false));
    Ok(Listener::new(
        TcpAccept {
            local: fixed_local(bound),
            listener,
            nodelay,
            priority: options.count(OptionId::Priority).map(|_| options.clone()),
            connected: WhenConnected::from_options(options),
        },
        format!("TCP-LISTEN {bound}"),
        options,
    )
    .admitting(PeerFilter::for_server(options)))
}

/// The local address of every connection a listener bound to `bound` accepts, when that is
/// the bound address itself (not a wildcard, whose connections each have their own).
fn fixed_local(bound: SocketAddr) -> Option<SocketAddr> {
    (!bound.ip().is_unspecified() && bound.port() != 0).then_some(bound)
}

/// TCP's accepting: each connection, with `nodelay` applied.
#[derive(Debug)]
pub(crate) struct TcpAccept {
    listener: TcpListener,
    /// The local address of every accepted connection, when the listener's tells it.
    local: Option<SocketAddr>,
    nodelay: Option<bool>,
    /// The listener's options when they set `so-priority`, which the kernel does not pass
    /// on to accepted connections, so each gets it again.
    priority: Option<Options>,
    /// The numbered socket options set on each accepted connection (`setsockopt=`).
    connected: WhenConnected,
}

impl TcpAccept {
    /// Accepts on `listener`, setting `TCP_NODELAY` on each connection when `nodelay` says.
    pub(crate) fn new(listener: TcpListener, nodelay: Option<bool>) -> TcpAccept {
        TcpAccept {
            local: listener.local_addr().ok().and_then(fixed_local),
            listener,
            nodelay,
            priority: None,
            connected: WhenConnected::default(),
        }
    }
}

impl Accept for TcpAccept {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let (stream, peer) = self.listener.accept().await.map_err(AcceptError::Accept)?;
                if !on.admission.admit(&Peer::Internet(peer), on.listener) {
                    close_refused(stream);
                    continue;
                }
                let local = match self.local {
                    Some(local) => Some(local),
                    None => stream.local_addr().ok(),
                };
                let shown = local.map_or_else(String::new, |a| a.to_string());
                tracing::info!("accepting connection from {peer} on {shown}");
                if let Some(nodelay) = self.nodelay {
                    stream
                        .set_nodelay(nodelay)
                        .map_err(OpenError::io("setting TCP_NODELAY"))?;
                }
                if let Some(options) = &self.priority {
                    set_priority(&stream, options).map_err(OpenError::io("setting SO_PRIORITY"))?;
                }
                self.connected
                    .apply(&stream)
                    .map_err(OpenError::io(format!("accepting from {peer}")))?;
                let addresses = local.map(|local| SocketAddresses { local, peer });
                return Ok(stream_connection_at(
                    stream,
                    addresses,
                    format!("TCP {shown} <- {peer}"),
                ));
            }
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }
}

/// How long a refused peer's connection is drained before it is closed.
const REFUSED_DRAIN_TIME: Duration = Duration::from_secs(1);
/// How much of what a refused peer sent is read and dropped, at most.
const REFUSED_DRAIN_BYTES: usize = 64 * 1024;

/// Closes a refused peer's connection so that it sees the end of the stream, not a reset:
/// closing a socket with unread data resets it, so what the peer sent (a client writes before
/// it reads) is read and dropped until it shuts down its side, for a bounded time and amount.
fn close_refused(mut stream: TcpStream) {
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = stream.shutdown().await;
        let drain = async {
            let mut sink = [0u8; 4096];
            let mut total = 0;
            while total < REFUSED_DRAIN_BYTES {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
        };
        let _ = tokio::time::timeout(REFUSED_DRAIN_TIME, drain).await;
    });
}

/// `range` and a server's `sourceport`, for internet peers.
impl Admit for PeerFilter {
    fn refusal(&self, peer: &Peer) -> Option<String> {
        match peer {
            Peer::Internet(addr) => PeerFilter::refusal(self, addr),
            Peer::Unix(_) => None,
        }
    }
}

// ---- The family's address types: TCP, TCP-LISTEN and their 4/6 variants ----

use crate::address::{AddressType, BindDomain, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::opened::Opened;

/// What a TCP address does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TcpSpec {
    /// Connect to a host and port, trying every resolved address in turn.
    Connect(Remote),
    /// Listen on a port and accept connections.
    Listen(Local),
}

pub(crate) const BIND: BindDomain = BindDomain::Ip(Some(crate::services::Protocol::Tcp));
pub(crate) const CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::CONNECT);
pub(crate) const LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE);
const HOST_PORT: &[&str] = &["host", "port"];
const PORT: &[&str] = &["port"];

static TCP: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP",
        &["TCP-CONNECT"],
        HOST_PORT,
        CONNECT,
        "connect to host:port, trying every resolved address in turn",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Connect(p.remote(Family::Any)?)),
};
static TCP4: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP4",
        &["TCP4-CONNECT"],
        HOST_PORT,
        CONNECT,
        "TCP over IPv4",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Connect(p.remote(Family::V4)?)),
};
static TCP6: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP6",
        &["TCP6-CONNECT"],
        HOST_PORT,
        CONNECT,
        "TCP over IPv6",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Connect(p.remote(Family::V6)?)),
};
static TCP_LISTEN: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP-LISTEN",
        &["TCP-L"],
        PORT,
        LISTEN,
        "accept a TCP connection (with fork: every connection)",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Listen(p.local(Family::Any)?)),
};
static TCP4_LISTEN: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP4-LISTEN",
        &["TCP4-L"],
        PORT,
        LISTEN,
        "TCP-LISTEN over IPv4",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Listen(p.local(Family::V4)?)),
};
static TCP6_LISTEN: Definition<TcpSpec> = Definition {
    ty: AddressType::new(
        "TCP6-LISTEN",
        &["TCP6-L"],
        PORT,
        LISTEN,
        "TCP-LISTEN over IPv6",
    )
    .bind(BIND),
    parse: |p| Ok(TcpSpec::Listen(p.local(Family::V6)?)),
};

/// The TCP family: its address types and features.
pub static FAMILY: FamilyTypes<TcpSpec> = FamilyTypes {
    features: &["IP4", "IP6", "TCP", "LISTEN", "LIBWRAP"],
    types: &[&TCP, &TCP4, &TCP6, &TCP_LISTEN, &TCP4_LISTEN, &TCP6_LISTEN],
};

impl FamilySpec for TcpSpec {
    fn address_type(&self) -> &'static AddressType {
        let [any, v4, v6] = match self {
            TcpSpec::Connect(_) => [&TCP, &TCP4, &TCP6],
            TcpSpec::Listen(_) => [&TCP_LISTEN, &TCP4_LISTEN, &TCP6_LISTEN],
        };
        let family = match self {
            TcpSpec::Connect(remote) => remote.family,
            TcpSpec::Listen(local) => local.family,
        };
        match family {
            Family::Any => &any.ty,
            Family::V4 => &v4.ty,
            Family::V6 => &v6.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TcpSpec::Connect(remote) => remote.fmt_params(f),
            TcpSpec::Listen(local) => local.fmt_params(f),
        }
    }

    fn check(&self, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        match self {
            TcpSpec::Connect(_) => super::proxy_header::check_sending(options),
            TcpSpec::Listen(_) => Ok(()),
        }
    }
}

impl TcpSpec {
    /// Connects, or starts listening.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        Ok(match self {
            TcpSpec::Connect(remote) => {
                let connection = connect(remote, options, context).await?;
                Opened::Connection(super::proxy_header::send(connection, options, context).await?)
            }
            TcpSpec::Listen(local) => Opened::Listener(listen(local, options, context)?),
        })
    }
}
