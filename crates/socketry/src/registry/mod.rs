//! The registry of address families: the one list of families, one line each. From it come
//! the [`Kind`] enum (one variant per family, holding that family's typed spec), parsing
//! ([`Address::parse`]), `Display`, the dispatch of [`open_spec`], and everything that lists
//! the address types: `-h`, `-V`'s features, error suggestions and README's reference.
//!
//! Each family module owns its address types (names, aliases, parameters, option groups, help,
//! the parse into its spec, and the open); adding an address type is one definition in its
//! family and, for a new family, one line in [`registry!`](self) below.

pub mod layers;
pub mod reference;

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::str::FromStr;

use crate::address::{
    self, AddressType, Catalog, Definition, FamilySpec, Options, Params, ParseError,
    ParseErrorKind, Shorthand,
};
use crate::endpoint::{
    self, exec, file, generic, inherited, interface, mqueue, pipe, proxy, pty, rawip, readline,
    shm, socketpair, stdio, tcp, tls, tun, udp, unix, websocket, Access, Connection, DataOptions,
    OpenContext, OpenError, Opened,
};

/// Generates [`Kind`], the registry's catalog of rows, and the dispatch of every operation on
/// a kind to its family.
macro_rules! registry {
    ($($(#[$doc:meta])* $variant:ident($spec:ty) = $family:expr;)*) => {
        /// Every kind of endpoint an address can name: one variant per family, holding that
        /// family's typed spec, which carries only what its address type needs.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Kind {
            $($(#[$doc])* $variant($spec),)*
        }

        /// One address type of some family, as the parser finds it.
        #[derive(Debug, Clone, Copy)]
        pub enum Row {
            $($(#[$doc])* $variant(&'static Definition<$spec>),)*
        }

        impl Row {
            /// The row's description.
            pub fn address_type(self) -> &'static AddressType {
                match self {
                    $(Row::$variant(definition) => &definition.ty,)*
                }
            }

            fn build(self, params: &Params<'_>) -> Result<Kind, ParseErrorKind> {
                match self {
                    $(Row::$variant(definition) => (definition.parse)(params).map(Kind::$variant),)*
                }
            }
        }

        /// Every address type, family by family, in the order help lists them.
        pub fn rows() -> impl Iterator<Item = Row> {
            std::iter::empty()
                $(.chain($family.types.iter().map(|definition| Row::$variant(definition))))*
        }

        /// The `WITH_*` feature names the families provide, in registry order (repeats
        /// removed).
        pub fn features() -> Vec<&'static str> {
            let mut all: Vec<&'static str> = Vec::new();
            for feature in [$($family.features),*].into_iter().flatten() {
                if !all.contains(feature) {
                    all.push(feature);
                }
            }
            all
        }

        impl Kind {
            /// The address type this kind was parsed as (and is displayed as).
            pub fn address_type(&self) -> &'static AddressType {
                match self {
                    $(Kind::$variant(spec) => spec.address_type(),)*
                }
            }

            /// Refuses options that cannot work with this kind, in its family.
            fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
                match self {
                    $(Kind::$variant(spec) => spec.check(options),)*
                }
            }

            /// Writes the parameters, each preceded by `:`.
            fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Kind::$variant(spec) => spec.fmt_params(f),)*
                }
            }

            /// Opens the endpoint once, in its family.
            async fn open(
                &self,
                options: &Options,
                context: &OpenContext,
            ) -> Result<Opened, OpenError> {
                match self {
                    $(Kind::$variant(spec) => spec.open(options, context).await,)*
                }
            }
        }
    };
}

registry! {
    /// Standard streams and inherited descriptors (`STDIO`, `FD`).
    Stdio(stdio::StdioSpec) = stdio::FAMILY;
    /// TCP (`TCP`, `TCP-LISTEN`).
    Tcp(tcp::TcpSpec) = tcp::FAMILY;
    /// TLS over TCP (`OPENSSL`, `OPENSSL-LISTEN`).
    Tls(tls::TlsSpec) = tls::FAMILY;
    /// UDP (`UDP`, `UDP-LISTEN`, `UDP-SENDTO`, ...).
    Udp(udp::UdpSpec) = udp::FAMILY;
    /// UDP-Lite (`UDPLITE-CONNECT`, `UDPLITE-LISTEN`, ...).
    UdpLite(udp::UdpLiteSpec) = udp::UDPLITE_FAMILY;
    /// Raw IP (`IP-SENDTO`, `IP-DATAGRAM`, `IP-RECVFROM`, `IP-RECV`).
    RawIp(rawip::RawIpSpec) = rawip::FAMILY;
    /// Unix domain sockets, by path or abstract name (`UNIX-*`, `ABSTRACT-*`).
    Unix(unix::UnixSpec) = unix::FAMILY;
    /// Inherited listening sockets (`ACCEPT-FD`, `SYSTEMD-LISTEN`).
    Inherited(inherited::InheritedSpec) = inherited::FAMILY;
    /// Shared memory (`SHM-LISTEN`, `SHM-CONNECT`).
    Shm(shm::ShmSpec) = shm::FAMILY;
    /// Pipes (`PIPE`).
    Pipe(pipe::PipeSpec) = pipe::FAMILY;
    /// Socket pairs (`SOCKETPAIR`).
    SocketPair(socketpair::SocketPairSpec) = socketpair::FAMILY;
    /// Pseudo-terminals (`PTY`).
    Pty(pty::PtySpec) = pty::FAMILY;
    /// Programs (`EXEC`, `SYSTEM`, `SHELL`).
    Exec(exec::Program) = exec::FAMILY;
    /// Files (`OPEN`, `CREATE`, `GOPEN`).
    File(file::FileSpec) = file::FAMILY;
    /// POSIX message queues (`POSIXMQ-*`).
    PosixMq(mqueue::MqSpec) = mqueue::FAMILY;
    /// TUN/TAP interfaces (`TUN`).
    Tun(tun::TunSpec) = tun::FAMILY;
    /// Proxy clients (`SOCKS4`, `SOCKS4A`, `SOCKS5-CONNECT`, `SOCKS5-LISTEN`, `PROXY`).
    Proxy(proxy::ProxySpec) = proxy::FAMILY;
    /// WebSocket (`WS-CONNECT`).
    WebSocket(websocket::WebSocketSpec) = websocket::FAMILY;
    /// Generic sockets of any domain, type and protocol (`SOCKET-CONNECT`, `SOCKET-LISTEN`, ...).
    Generic(generic::GenericSpec) = generic::FAMILY;
    /// Standard streams through a line editor (`READLINE`).
    Readline(readline::ReadlineSpec) = readline::FAMILY;
    /// Network interfaces' frames (`INTERFACE`).
    Interface(interface::InterfaceSpec) = interface::FAMILY;
}

/// socat's address types (and their aliases) that socketry does not build yet; naming one is
/// a clear error rather than "unknown".
#[rustfmt::skip]
pub static LATER_TYPES: &[&str] = &[
    "OPENSSL-DTLS-CLIENT", "DTLS", "OPENSSL-DTLS-SERVER", "DTLS-L",
    "SCTP-CONNECT", "SCTP", "SCTP4-CONNECT", "SCTP4", "SCTP6-CONNECT", "SCTP6",
    "SCTP-LISTEN", "SCTP-L", "SCTP4-LISTEN", "SCTP4-L", "SCTP6-LISTEN", "SCTP6-L",
    "DCCP-CONNECT", "DCCP", "DCCP4-CONNECT", "DCCP4", "DCCP6-CONNECT", "DCCP6",
    "DCCP-LISTEN", "DCCP-L", "DCCP4-LISTEN", "DCCP4-L", "DCCP6-LISTEN", "DCCP6-L",
    "VSOCK-CONNECT", "VSOCK", "VSOCK-LISTEN", "VSOCK-L",
];

/// Every address type's description, in the order help lists them.
pub fn address_types() -> impl Iterator<Item = &'static AddressType> {
    rows().map(Row::address_type)
}

/// Every address type's name and aliases, for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    address_types().flat_map(AddressType::names)
}

/// Looks an address type up by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static AddressType> {
    address_types().find(|ty| ty.is_named(name))
}

/// The registry as the parser's catalog.
struct Registry;

impl Catalog for Registry {
    type Row = Row;
    type Kind = Kind;

    fn lookup(name: &str) -> Option<Row> {
        rows().find(|row| row.address_type().is_named(name))
    }

    fn shorthand(form: Shorthand) -> Option<Row> {
        rows().find(|row| row.address_type().shorthand == Some(form))
    }

    fn address_type(row: Row) -> &'static AddressType {
        row.address_type()
    }

    fn build(row: Row, params: &Params<'_>) -> Result<Kind, ParseErrorKind> {
        row.build(params)
    }

    fn names() -> Vec<&'static str> {
        names().collect()
    }

    fn is_later(name: &str) -> bool {
        LATER_TYPES.iter().any(|t| t.eq_ignore_ascii_case(name))
    }
}

/// One endpoint: what it is, the options it was given, and the layers of its chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The endpoint's family and its typed parameters.
    pub kind: Kind,
    /// The options given to it, already checked against its type.
    pub options: Options,
    /// The layers written left of it in a chain (`A|B|TRANSPORT`), outermost first: empty
    /// for an address that is not a chain.
    pub layers: Vec<layers::LayerSpec>,
}

impl Spec {
    /// The address type this endpoint is (and is displayed as).
    pub fn address_type(&self) -> &'static AddressType {
        self.kind.address_type()
    }

    /// Whether an option group applies to this endpoint's type.
    pub fn has_group(&self, group: address::Groups) -> bool {
        self.address_type().groups.contains(group)
    }
}

/// A parsed address: one endpoint, or a dual address that reads from one endpoint and writes to
/// another.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    /// One endpoint, read and written.
    Single(Spec),
    /// `READ!!WRITE`: read from one endpoint, write to the other.
    Dual {
        /// The endpoint read from.
        read: Spec,
        /// The endpoint written to.
        write: Spec,
    },
}

impl Address {
    /// Parses an address in socat's syntax.
    pub fn parse(input: &str) -> Result<Address, ParseError> {
        Address::parse_bytes(input.as_bytes())
    }

    /// Parses an address as the command line gives it: bytes, which in a path parameter need
    /// not be UTF-8 (`OPEN:/tmp/\xff`), as the file system allows.
    pub fn parse_os(input: &OsStr) -> Result<Address, ParseError> {
        Address::parse_bytes(input.as_bytes())
    }

    /// Parses an address from its bytes; see [`Address::parse_os`].
    pub fn parse_bytes(input: &[u8]) -> Result<Address, ParseError> {
        let parts = address::split_dual(input)?;
        let refused = |position: usize, kind| ParseError {
            input: address::display_bytes(input),
            position,
            kind,
        };
        let spec = |base: usize, text: &[u8]| parse_chain(input, base, text);
        match parts.as_slice() {
            [(base, text)] => spec(*base, text).map(Address::Single),
            [(rbase, rtext), (wbase, wtext)] => {
                let read = spec(*rbase, rtext)?;
                let write = spec(*wbase, wtext)?;
                check_dual(&read, &write).map_err(|why| refused(0, why))?;
                Ok(Address::Dual { read, write })
            }
            _ => Err(address::too_many_halves(input, &parts)),
        }
    }

    /// Whether a run with this first address is served best by one runtime worker thread: a
    /// forking UDP or UDP-Lite listener (`UDP-LISTEN`, `UDP-RECVFROM` with `fork`) feeds every
    /// session from its one socket, and on one thread the sessions a batch of datagrams feeds
    /// run right after it, instead of each batch waking a second thread (which then competes
    /// with the peers for the cores).
    pub fn serves_best_on_one_thread(&self) -> bool {
        let Address::Single(spec) = self else {
            return false;
        };
        let role = match &spec.kind {
            Kind::Udp(role) | Kind::UdpLite(udp::UdpLiteSpec(role)) => role,
            _ => return false,
        };
        matches!(role, udp::UdpSpec::Listen(_) | udp::UdpSpec::Recvfrom(_))
            && spec.options.flag(crate::address::OptionId::Fork, false)
    }

    /// The endpoints this address opens, the reading one first.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        let (first, second) = match self {
            Address::Single(spec) => (spec, None),
            Address::Dual { read, write } => (read, Some(write)),
        };
        std::iter::once(first).chain(second)
    }
}

/// Parses one half of an address: a transport, or a chain of layers left of one
/// (`LAYER|...|TRANSPORT`). A part that names a program (EXEC, SYSTEM, SHELL) is the
/// transport, and every `|` after it belongs to its command line, as before chains existed.
fn parse_chain(input: &[u8], base: usize, text: &[u8]) -> Result<Spec, ParseError> {
    let refused = |position: usize, kind| ParseError {
        input: address::display_bytes(input),
        position,
        kind,
    };
    let end = base + text.len();
    let parts = address::split_chain(input, base, text)?;
    let mut chain = Vec::new();
    for (i, &(start, len)) in parts.iter().enumerate() {
        let part = &input[start..start + len];
        let name = address::leading_name(part);
        let last = i + 1 == parts.len();
        let transport = name.and_then(lookup);
        let layer = name.and_then(layers::lookup_layer);
        let program = transport.is_some_and(|ty| ty.groups.contains(address::Groups::EXEC));
        if last || program || (layer.is_none() && transport.is_none() && name.is_none()) {
            if last && transport.is_none() && layer.is_some() {
                let name = name.unwrap_or_default().to_owned();
                return Err(refused(start, ParseErrorKind::NotATransport { name }));
            }
            let whole_rest = &input[start..end];
            let (_, kind, options) = address::parse_endpoint::<Registry>(input, start, whole_rest)?;
            kind.check(&options)
                .and_then(|()| DataOptions::check(&options))
                .map_err(|why| refused(start, why))?;
            return Ok(Spec {
                kind,
                options,
                layers: chain,
            });
        }
        match (layer, transport) {
            (Some(_), _) => chain.push(layers::parse_layer(input, start, part)?),
            (None, Some(_)) => {
                let name = name.unwrap_or_default().to_owned();
                return Err(refused(start, ParseErrorKind::NotALayer { name }));
            }
            (None, None) => {
                let name = name.unwrap_or_default();
                let suggestion = address::suggest::nearest(
                    name,
                    layers::layer_types().flat_map(AddressType::names),
                );
                return Err(refused(
                    start,
                    ParseErrorKind::UnknownLayer {
                        name: name.to_owned(),
                        suggestion,
                    },
                ));
            }
        }
    }
    // split_chain gives at least one part, and the last one returns above.
    Err(refused(base, ParseErrorKind::Empty))
}

/// Refuses what cannot work in a dual address `read!!write`: a `nofork` program, which takes
/// the first address's own descriptors both ways, cannot be half of one.
pub fn check_dual(read: &Spec, write: &Spec) -> Result<(), ParseErrorKind> {
    let nofork = [read, write].into_iter().any(|spec| match &spec.kind {
        Kind::Exec(_) => exec::is_nofork(&spec.options),
        _ => false,
    });
    if nofork {
        return Err(endpoint::combinations::conflict(
            address::OptionId::Nofork,
            "!!",
            "nofork: the program takes the first address's own descriptors, so it cannot be half of A!!B"
                .to_owned(),
        ));
    }
    Ok(())
}

impl FromStr for Address {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for layer in &self.layers {
            write!(f, "{layer}|")?;
        }
        f.write_str(self.address_type().name)?;
        self.kind.fmt_params(f)?;
        address::fmt_options(&self.options, f)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Single(spec) => write!(f, "{spec}"),
            Address::Dual { read, write } => write!(f, "{read}!!{write}"),
        }
    }
}

/// Opens one endpoint, trying again as its `retry`/`forever` options say. A chain's layers
/// are built first (their certificates and credential files read before anything opens),
/// then stacked over the transport's connection, or over each connection its listener
/// accepts; a failed handshake is retried as a failed connect is.
pub async fn open_spec(spec: &Spec, context: &OpenContext) -> Result<Opened, OpenError> {
    let mut chain = Vec::with_capacity(spec.layers.len());
    for layer in &spec.layers {
        chain.extend(layer.layers(context).await?);
    }
    let chain = crate::layer::Stack::new(chain);
    let namespace = spec
        .options
        .text(crate::address::OptionId::Netns)
        .map(endpoint::netns::Namespace::open)
        .transpose()?;
    endpoint::retry::with_retries(&spec.options, spec, || async {
        let opened = match &namespace {
            Some(namespace) => {
                namespace
                    .run(spec.kind.open(&spec.options, context))
                    .await?
            }
            None => spec.kind.open(&spec.options, context).await?,
        };
        endpoint::opened::finish_open(opened, &spec.options, &chain).await
    })
    .await
}

/// Opens an address as one connection: a listener accepts its first peer, and a dual address
/// takes the reader of its first half and the writer of its second.
pub async fn connect(address: &Address, context: &OpenContext) -> Result<Connection, OpenError> {
    match address {
        Address::Single(spec) => match open_spec(spec, context).await? {
            Opened::Connection(c) => Ok(c),
            Opened::Listener(l) => l.accept_once().await,
        },
        Address::Dual { read, write } => {
            let half = |access| OpenContext {
                access,
                ..context.clone()
            };
            let reading =
                Box::pin(connect(&Address::Single(read.clone()), &half(Access::Read))).await?;
            let writing = Box::pin(connect(
                &Address::Single(write.clone()),
                &half(Access::Write),
            ))
            .await?;
            Ok(Connection::join(reading, writing))
        }
    }
}

#[cfg(test)]
mod tests;
