//! Proxy clients: `SOCKS4`, `SOCKS4A`, `SOCKS5-CONNECT`, `SOCKS5-LISTEN` and `PROXY` (HTTP
//! CONNECT), socat's names and options. Each opens TCP to the proxy, with every TCP option
//! (`bind`, `sourceport`, `connect-timeout`, `retry`, ...), and stacks its protocol's layer
//! ([`crate::layer::socks4`], [`crate::layer::socks5`], [`crate::layer::http_connect`]) over
//! that connection. The same protocols are layers of an address chain
//! (`SOCKS4:host:port|TCP:proxy:1080`, `SOCKS5-LISTEN:0.0.0.0:0|TCP:proxy:1080`), which
//! take the target and the protocol's own options only; [`ProxyLayer`] is what both forms
//! share.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::combinations::conflict;
use super::connection::{Connection, OpenContext};
use super::error::OpenError;
use super::opened::Opened;
use crate::address::{
    AddressType, Definition, Family, FamilySpec, FamilyTypes, Groups, Host, OptionId, Options,
    Params, ParseErrorKind, Remote,
};
use crate::layer::{
    Credentials, HttpConnect, HttpVersion, Layer, LineEnds, Socks4, Socks4Version, Socks5,
    Socks5Command, Stack,
};

/// socat's default SOCKS port.
pub const DEFAULT_SOCKS_PORT: u16 = 1080;
/// socat's default HTTP proxy port.
pub const DEFAULT_PROXY_PORT: u16 = 8080;

/// Which proxy protocol, and what it asks the proxy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SOCKS4 or SOCKS4a CONNECT.
    Socks4(Socks4Version),
    /// SOCKS5 CONNECT or BIND.
    Socks5(Socks5Command),
    /// HTTP CONNECT.
    Http,
}

/// A proxy protocol with its target: the layer half of every proxy address, and the whole of
/// a proxy layer in a chain. Its options are read when the layer is built.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyLayer {
    /// The protocol.
    pub protocol: Protocol,
    /// The host the proxy connects to (for SOCKS5 BIND, the address it listens on).
    pub host: Host,
    /// Its port.
    pub port: u16,
}

impl ProxyLayer {
    /// The name the address language gives this protocol.
    pub fn name(&self) -> &'static str {
        match self.protocol {
            Protocol::Socks4(Socks4Version::Four) => "SOCKS4",
            Protocol::Socks4(Socks4Version::FourA) => "SOCKS4A",
            Protocol::Socks5(Socks5Command::Connect) => "SOCKS5-CONNECT",
            Protocol::Socks5(Socks5Command::Bind) => "SOCKS5-LISTEN",
            Protocol::Http => "PROXY",
        }
    }

    /// Refuses, at parse time, what cannot work: a target SOCKS4 cannot carry, options that
    /// contradict each other, a value out of its protocol's range.
    pub fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        if let (Protocol::Socks4(_), Host::Ip(IpAddr::V6(_))) = (self.protocol, &self.host) {
            return Err(ParseErrorKind::InvalidParameter {
                what: "SOCKS4 target",
                text: self.host.to_string(),
                expected:
                    "an IPv4 address or a name: SOCKS4 cannot carry IPv6 (SOCKS5-CONNECT can)",
            });
        }
        if options.has(OptionId::SocksPass) && !options.has(OptionId::SocksUser) {
            return Err(conflict(
                OptionId::SocksPass,
                "socksuser",
                "sockspass needs socksuser: RFC 1929 sends both".to_owned(),
            ));
        }
        if options.has(OptionId::SocksAuthFile)
            && (options.has(OptionId::SocksUser) || options.has(OptionId::SocksPass))
        {
            return Err(conflict(
                OptionId::SocksAuthFile,
                "socksuser",
                "socks-auth-file gives the username and password; socksuser and sockspass would give them again".to_owned(),
            ));
        }
        if let Protocol::Socks5(_) = self.protocol {
            for id in [OptionId::SocksUser, OptionId::SocksPass] {
                if options
                    .text(id)
                    .is_some_and(|t| t.is_empty() || t.len() > 255)
                {
                    return Err(ParseErrorKind::InvalidOptionValue {
                        name: id.def().name.to_owned(),
                        value: options.text(id).unwrap_or_default().to_owned(),
                        expected: "1 to 255 bytes (RFC 1929)",
                    });
                }
            }
        }
        if options.has(OptionId::ProxyAuth) && options.has(OptionId::ProxyAuthFile) {
            return Err(conflict(
                OptionId::ProxyAuth,
                "proxy-authorization-file",
                "proxyauth and proxy-authorization-file both give the credentials".to_owned(),
            ));
        }
        if let Some(version) = options.text(OptionId::HttpVersion) {
            if HttpVersion::parse(version).is_none() {
                return Err(ParseErrorKind::InvalidOptionValue {
                    name: "http-version".to_owned(),
                    value: version.to_owned(),
                    expected: "1.0 or 1.1",
                });
            }
        }
        Ok(())
    }

    /// The layer, its options read: the SOCKS user from the environment when not given, the
    /// credential files, a target name resolved here when `resolve` says so.
    pub async fn layer(&self, options: &Options) -> Result<Arc<dyn Layer>, OpenError> {
        Ok(match self.protocol {
            Protocol::Socks4(version) => Arc::new(Socks4 {
                version,
                host: self.host.clone(),
                port: self.port,
                user: match options.text(OptionId::SocksUser) {
                    Some(user) => user.to_owned(),
                    None => login_name(),
                },
            }),
            Protocol::Socks5(command) => Arc::new(Socks5 {
                command,
                host: self.host.clone(),
                port: self.port,
                credentials: socks5_credentials(options)?,
            }),
            Protocol::Http => Arc::new(HttpConnect {
                host: match (&self.host, options.flag(OptionId::ProxyResolve, false)) {
                    (Host::Name(_), true) => Host::Ip(self.resolve_v4().await?),
                    (host, _) => host.clone(),
                },
                port: self.port,
                credentials: http_credentials(options)?,
                version: options
                    .text(OptionId::HttpVersion)
                    .and_then(HttpVersion::parse)
                    .unwrap_or(HttpVersion::OneZero),
                line_ends: if options.flag(OptionId::IgnoreCr, false) {
                    LineEnds::IgnoreCr
                } else {
                    LineEnds::Strict
                },
            }),
        })
    }

    /// `resolve`: the target's first IPv4 address (RFC 2396's host form, as socat).
    async fn resolve_v4(&self) -> Result<IpAddr, OpenError> {
        let addrs = super::tcp::resolve(&self.host, self.port, Family::V4).await?;
        addrs
            .first()
            .map(SocketAddr::ip)
            .ok_or_else(|| OpenError::Resolve {
                host: self.host.to_string(),
                reason: "no IPv4 address".to_owned(),
            })
    }

    fn fmt_target(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}:{}", self.host, self.port)
    }
}

/// The user id SOCKS4 sends by default: `$LOGNAME`, else `$USER`, else none.
fn login_name() -> String {
    ["LOGNAME", "USER"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_default()
}

fn socks5_credentials(options: &Options) -> Result<Option<Credentials>, OpenError> {
    if let Some(path) = options.text(OptionId::SocksAuthFile) {
        let text = std::fs::read_to_string(path)
            .map_err(OpenError::io(format!("reading socks-auth-file {path}")))?;
        let line = text.lines().next().unwrap_or_default();
        let refuse = || {
            OpenError::Refused(format!(
                "socks-auth-file {path}: its first line must be user:password, each 1 to 255 bytes"
            ))
        };
        let (user, password) = line.split_once(':').ok_or_else(refuse)?;
        let fits = |field: &str| (1..=255).contains(&field.len());
        if !fits(user) || !fits(password) {
            return Err(refuse());
        }
        return Ok(Some(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        }));
    }
    Ok(
        match (
            options.text(OptionId::SocksUser),
            options.text(OptionId::SocksPass),
        ) {
            (Some(user), Some(password)) => Some(Credentials {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            // A user alone is SOCKS4's user id; SOCKS5 then asks for no authentication.
            _ => None,
        },
    )
}

fn http_credentials(options: &Options) -> Result<Option<Vec<u8>>, OpenError> {
    if let Some(path) = options.text(OptionId::ProxyAuthFile) {
        // socat sends the file's bytes as they are, a final newline included.
        let bytes = std::fs::read(path).map_err(OpenError::io(format!(
            "reading proxy-authorization-file {path}"
        )))?;
        return Ok(Some(bytes));
    }
    Ok(options
        .text(OptionId::ProxyAuth)
        .map(|text| text.as_bytes().to_vec()))
}

// ---- The family's address types ----

/// What a proxy address does: reach the proxy over TCP, then ask it for the target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxySpec {
    /// The proxy's host, and its port when a parameter gave it (`SOCKS5-CONNECT`'s
    /// four-parameter form); otherwise `socksport`/`proxyport` or the protocol's default.
    pub proxy: Host,
    /// The port given as a parameter.
    pub proxy_port: Option<u16>,
    /// The protocol and its target.
    pub target: ProxyLayer,
}

const BIND: crate::address::BindDomain = super::tcp::BIND;
const SOCKS4_GROUPS: Groups = super::tcp::CONNECT.union(Groups::SOCKS);
const SOCKS5_GROUPS: Groups = SOCKS4_GROUPS.union(Groups::SOCKS5);
const HTTP_GROUPS: Groups = super::tcp::CONNECT.union(Groups::HTTP);

/// `<proxy>:<host>:<port>`, the proxy's port from an option.
fn three(protocol: Protocol) -> impl Fn(&Params<'_>) -> Result<ProxySpec, ParseErrorKind> {
    move |p| {
        Ok(ProxySpec {
            proxy: proxy_host(p.text(0)?)?,
            proxy_port: None,
            target: target(protocol, p, 1)?,
        })
    }
}

/// `<proxy>:<proxy-port>:<host>:<port>`, or the three-parameter form.
fn three_or_four(p: &Params<'_>, command: Socks5Command) -> Result<ProxySpec, ParseErrorKind> {
    let protocol = Protocol::Socks5(command);
    let proxy = proxy_host(p.text(0)?)?;
    if p.len() == 4 {
        Ok(ProxySpec {
            proxy,
            proxy_port: Some(p.port(1)?),
            target: target(protocol, p, 2)?,
        })
    } else {
        Ok(ProxySpec {
            proxy,
            proxy_port: None,
            target: target(protocol, p, 1)?,
        })
    }
}

fn proxy_host(text: &str) -> Result<Host, ParseErrorKind> {
    Host::parse(text).ok_or_else(|| ParseErrorKind::InvalidHost {
        text: text.to_owned(),
    })
}

/// Parameters `at` and `at + 1` as the target host and port.
pub(crate) fn target(
    protocol: Protocol,
    p: &Params<'_>,
    at: usize,
) -> Result<ProxyLayer, ParseErrorKind> {
    let host = p.text(at)?;
    Ok(ProxyLayer {
        protocol,
        host: Host::parse(host).ok_or_else(|| ParseErrorKind::InvalidHost {
            text: host.to_owned(),
        })?,
        port: p.port(at + 1)?,
    })
}

static SOCKS4: Definition<ProxySpec> = Definition {
    ty: AddressType::new(
        "SOCKS4",
        &["SOCKS"],
        &["socks-server", "host", "port"],
        SOCKS4_GROUPS,
        "connect to host:port through a SOCKS4 server (port: socksport, default 1080); a name is resolved here",
    )
    .bind(BIND),
    parse: |p| three(Protocol::Socks4(Socks4Version::Four))(p),
};
static SOCKS4A: Definition<ProxySpec> = Definition {
    ty: AddressType::new(
        "SOCKS4A",
        &[],
        &["socks-server", "host", "port"],
        SOCKS4_GROUPS,
        "SOCKS4 with the target's name resolved by the server",
    )
    .bind(BIND),
    parse: |p| three(Protocol::Socks4(Socks4Version::FourA))(p),
};
static SOCKS5_CONNECT: Definition<ProxySpec> = Definition {
    ty: AddressType::new(
        "SOCKS5-CONNECT",
        &["SOCKS5"],
        &["socks-server", "socks-port", "host", "port"],
        SOCKS5_GROUPS,
        "connect to host:port through a SOCKS5 server (also <socks-server>:<host>:<port> with socksport); names go to the server",
    )
    .required(3)
    .bind(BIND),
    parse: |p| three_or_four(p, Socks5Command::Connect),
};
static SOCKS5_LISTEN: Definition<ProxySpec> = Definition {
    ty: AddressType::new(
        "SOCKS5-LISTEN",
        &[],
        &["socks-server", "socks-port", "listen-host", "listen-port"],
        SOCKS5_GROUPS,
        "have a SOCKS5 server listen (BIND) on listen-host:listen-port and take the one connection it accepts",
    )
    .required(3)
    .bind(BIND),
    parse: |p| three_or_four(p, Socks5Command::Bind),
};
static PROXY: Definition<ProxySpec> = Definition {
    ty: AddressType::new(
        "PROXY",
        &["PROXY-CONNECT"],
        &["proxy", "host", "port"],
        HTTP_GROUPS,
        "connect to host:port through an HTTP proxy's CONNECT (port: proxyport, default 8080)",
    )
    .bind(BIND),
    parse: |p| three(Protocol::Http)(p),
};

/// The proxy family: its address types and features.
pub static FAMILY: FamilyTypes<ProxySpec> = FamilyTypes {
    features: &["SOCKS4", "SOCKS4A", "SOCKS5", "PROXY"],
    types: &[&SOCKS4, &SOCKS4A, &SOCKS5_CONNECT, &SOCKS5_LISTEN, &PROXY],
};

impl FamilySpec for ProxySpec {
    fn address_type(&self) -> &'static AddressType {
        match self.target.protocol {
            Protocol::Socks4(Socks4Version::Four) => &SOCKS4.ty,
            Protocol::Socks4(Socks4Version::FourA) => &SOCKS4A.ty,
            Protocol::Socks5(Socks5Command::Connect) => &SOCKS5_CONNECT.ty,
            Protocol::Socks5(Socks5Command::Bind) => &SOCKS5_LISTEN.ty,
            Protocol::Http => &PROXY.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", self.proxy)?;
        if let Some(port) = self.proxy_port {
            write!(f, ":{port}")?;
        }
        self.target.fmt_target(f)
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        if self.proxy_port.is_some() && options.has(OptionId::SocksPort) {
            return Err(conflict(
                OptionId::SocksPort,
                "socks-port",
                "the SOCKS server's port is given twice: as a parameter and as socksport"
                    .to_owned(),
            ));
        }
        super::proxy_header::check_sending(options)?;
        self.target.check(options)
    }
}

impl ProxySpec {
    /// The proxy's address: its host, and the port the parameters, the options or the
    /// protocol's default give.
    fn proxy_remote(&self, options: &Options) -> Remote {
        let (option, default) = match self.target.protocol {
            Protocol::Http => (OptionId::ProxyPort, DEFAULT_PROXY_PORT),
            _ => (OptionId::SocksPort, DEFAULT_SOCKS_PORT),
        };
        Remote {
            host: self.proxy.clone(),
            port: self
                .proxy_port
                .or_else(|| options.port(option))
                .unwrap_or(default),
            family: Family::Any,
        }
    }

    /// Connects to the proxy over TCP and runs its protocol over that connection.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        let layer = self.target.layer(options).await?;
        let connection = super::tcp::connect(&self.proxy_remote(options), options, context).await?;
        let tunnel = through(connection, layer, &self.target).await?;
        // A PROXY protocol header is for the target, through the tunnel.
        Ok(Opened::Connection(
            super::proxy_header::send(tunnel, options, context).await?,
        ))
    }
}

/// Stacks a proxy's layer over the connection to it, and describes the result by its target.
pub(crate) async fn through(
    connection: Connection,
    layer: Arc<dyn Layer>,
    target: &ProxyLayer,
) -> Result<Connection, OpenError> {
    let mut connection = connection.stack(&Stack::new(vec![layer])).await?;
    connection.description = format!(
        "{} {}:{} over {}",
        target.name(),
        target.host,
        target.port,
        connection.description
    );
    Ok(connection)
}

// ---- The proxy protocols as layers of a chain: `SOCKS4:host:port|TCP:proxy:1080` ----

const TARGET: &[&str] = &["host", "port"];

static SOCKS4_LAYER: Definition<ProxyLayer> = Definition {
    ty: AddressType::new(
        "SOCKS4",
        &["SOCKS"],
        TARGET,
        Groups::SOCKS,
        "SOCKS4 CONNECT to host:port through the SOCKS server on the right",
    )
    .bind(BIND),
    parse: |p| target(Protocol::Socks4(Socks4Version::Four), p, 0),
};
static SOCKS4A_LAYER: Definition<ProxyLayer> = Definition {
    ty: AddressType::new(
        "SOCKS4A",
        &[],
        TARGET,
        Groups::SOCKS,
        "SOCKS4a CONNECT, the name resolved by the server on the right",
    )
    .bind(BIND),
    parse: |p| target(Protocol::Socks4(Socks4Version::FourA), p, 0),
};
static SOCKS5_LAYER: Definition<ProxyLayer> = Definition {
    ty: AddressType::new(
        "SOCKS5-CONNECT",
        &["SOCKS5"],
        TARGET,
        Groups::SOCKS.union(Groups::SOCKS5),
        "SOCKS5 CONNECT to host:port through the SOCKS server on the right",
    )
    .bind(BIND),
    parse: |p| target(Protocol::Socks5(Socks5Command::Connect), p, 0),
};
static SOCKS5_LISTEN_LAYER: Definition<ProxyLayer> = Definition {
    ty: AddressType::new(
        "SOCKS5-LISTEN",
        &[],
        &["listen-host", "listen-port"],
        Groups::SOCKS.union(Groups::SOCKS5),
        "SOCKS5 BIND: the SOCKS server on the right listens on listen-host:listen-port, and the one connection it accepts is the data",
    )
    .bind(BIND),
    parse: |p| target(Protocol::Socks5(Socks5Command::Bind), p, 0),
};
static PROXY_LAYER: Definition<ProxyLayer> = Definition {
    ty: AddressType::new(
        "PROXY",
        &["PROXY-CONNECT"],
        TARGET,
        Groups::HTTP,
        "HTTP CONNECT to host:port through the HTTP proxy on the right",
    )
    .bind(BIND),
    parse: |p| target(Protocol::Http, p, 0),
};

/// The proxy protocols' layers, for the registry of layers.
pub static LAYERS: FamilyTypes<ProxyLayer> = FamilyTypes {
    features: &[],
    types: &[
        &SOCKS4_LAYER,
        &SOCKS4A_LAYER,
        &SOCKS5_LAYER,
        &SOCKS5_LISTEN_LAYER,
        &PROXY_LAYER,
    ],
};

impl FamilySpec for ProxyLayer {
    fn address_type(&self) -> &'static AddressType {
        match self.protocol {
            Protocol::Socks4(Socks4Version::Four) => &SOCKS4_LAYER.ty,
            Protocol::Socks4(Socks4Version::FourA) => &SOCKS4A_LAYER.ty,
            Protocol::Socks5(Socks5Command::Connect) => &SOCKS5_LAYER.ty,
            Protocol::Socks5(Socks5Command::Bind) => &SOCKS5_LISTEN_LAYER.ty,
            Protocol::Http => &PROXY_LAYER.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fmt_target(f)
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        ProxyLayer::check(self, options)
    }
}
