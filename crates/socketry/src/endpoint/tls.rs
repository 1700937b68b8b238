//! TLS endpoints: `OPENSSL:<host>:<port>` (a TLS client over a TCP connection) and
//! `OPENSSL-LISTEN:<port>` (a TLS server over each accepted TCP connection), with every TCP
//! option. The TLS engine itself is [`crate::tls`]; this module reads the address's options
//! into its settings and runs the handshake over a connection's byte streams.
//!
//! Both handshakes are layers ([`crate::layer::TlsClient`], [`crate::layer::TlsServer`]).
//! A server's is not run by the listener: it runs in the task that serves the peer
//! ([`Accepted::ready`](super::listener::Accepted::ready)), so that a slow or plaintext client never holds
//! up the accepting of others, and before the second address opens, so that a program
//! started for a peer sees who it is and nothing is opened for a peer that failed.

use std::path::PathBuf;
use std::sync::Arc;

use super::connection::{Connection, OpenContext};
use super::error::OpenError;
use super::listener::Listener;
use super::opened::Opened;
use crate::address::{
    AddressType, BindDomain, Definition, Family, FamilySpec, FamilyTypes, Groups, Host, Local,
    OptionId, Options, Remote,
};
use crate::layer::{Stack, TlsClient, TlsServer};
use crate::tls::{Sni, TlsClientConfig, TlsError, TlsServerConfig, TlsSettings};

/// The TLS settings an address's options give. Every value was checked when the address was
/// parsed; a value that no longer parses here is refused all the same.
pub(crate) fn settings(options: &Options) -> Result<TlsSettings, OpenError> {
    let refuse = |what: String| OpenError::Refused(what);
    let path = |id| options.text(id).map(PathBuf::from);
    let defaults = TlsSettings::default();
    Ok(TlsSettings {
        cert: path(OptionId::TlsCert),
        key: path(OptionId::TlsKey),
        cafile: path(OptionId::TlsCafile),
        capath: path(OptionId::TlsCapath),
        verify: options.flag(OptionId::TlsVerify, true),
        common_name: options.text(OptionId::TlsCommonName).map(str::to_owned),
        sni: match (
            options.flag(OptionId::TlsNoSni, false),
            options.text(OptionId::TlsSniHost),
        ) {
            (true, _) => Sni::Off,
            (false, Some(host)) => Sni::Host(host.to_owned()),
            (false, None) => Sni::Default,
        },
        min_version: parse(options, OptionId::TlsMinVersion)?.unwrap_or(defaults.min_version),
        max_version: parse(options, OptionId::TlsMaxVersion)?.unwrap_or(defaults.max_version),
        ciphers: parse(options, OptionId::TlsCipher)?,
        alpn: match options.text(OptionId::TlsAlpn) {
            Some(text) => crate::tls::parse_alpn(text).map_err(|e| refuse(e.to_string()))?,
            None => Vec::new(),
        },
        fingerprint: options
            .text(OptionId::TlsFingerprint)
            .map(|text| text.parse().map_err(|e| refuse(format!("{e}"))))
            .transpose()?,
        handshake_timeout: options.seconds(OptionId::TlsHandshakeTimeout),
    })
}

fn parse<T>(options: &Options, id: OptionId) -> Result<Option<T>, OpenError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    options
        .text(id)
        .map(|text| {
            text.parse()
                .map_err(|e: T::Err| OpenError::Refused(e.to_string()))
        })
        .transpose()
}

fn setting_error(error: TlsError) -> OpenError {
    OpenError::Refused(error.to_string())
}

/// The host a client checks the server's certificate for, as the address gave it (an IPv6
/// address without the brackets that `[::1]:443` needs).
pub(crate) fn host_name(host: &Host) -> String {
    match host {
        Host::Name(name) => name.clone(),
        Host::Ip(ip) => ip.to_string(),
    }
}

/// `OPENSSL:<host>:<port>`: connects over TCP, then runs the client's handshake.
pub(crate) async fn connect(
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let config = TlsClientConfig::shared(&settings(options)?, &host_name(&remote.host))
        .map_err(setting_error)?;
    let tls = Stack::new(vec![Arc::new(TlsClient(config))]);
    let connection = super::tcp::connect(remote, options, context).await?;
    // A PROXY protocol header goes before the TLS handshake, where a server reads it.
    super::proxy_header::send(connection, options, context)
        .await?
        .stack(&tls)
        .await
}

/// `OPENSSL-LISTEN:<port>`: a TCP listener whose connections get the server's handshake, in
/// the task that serves each. The settings (certificate, authorities) are read now, before
/// anything listens.
pub(crate) fn listen(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let config = TlsServerConfig::new(&settings(options)?).map_err(setting_error)?;
    let tls = Stack::new(vec![Arc::new(TlsServer(Arc::new(config)))]);
    Ok(super::tcp::listen(local, options, context)?.with_layers(tls))
}

// ---- The family's address types: OPENSSL and OPENSSL-LISTEN ----

/// What a TLS address does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlsSpec {
    /// Connect over TCP, then run a TLS client's handshake.
    Connect(Remote),
    /// Listen on a TCP port; each accepted connection runs a TLS server's handshake.
    Listen(Local),
}

const BIND: BindDomain = super::tcp::BIND;
const CONNECT: Groups = super::tcp::CONNECT
    .union(Groups::TLS)
    .union(Groups::TLS_CLIENT);
const LISTEN: Groups = super::tcp::LISTEN.union(Groups::TLS);

// socat has no OPENSSL4/OPENSSL6 types: pf= chooses the family.
static OPENSSL: Definition<TlsSpec> = Definition {
    ty: AddressType::new(
        "OPENSSL",
        &["SSL", "OPENSSL-CONNECT"],
        &["host", "port"],
        CONNECT,
        "TLS to host:port, the server's certificate verified (cafile=, or the system's authorities)",
    )
    .bind(BIND),
    parse: |p| Ok(TlsSpec::Connect(p.remote(Family::Any)?)),
};
static OPENSSL_LISTEN: Definition<TlsSpec> = Definition {
    ty: AddressType::new(
        "OPENSSL-LISTEN",
        &["SSL-L"],
        &["port"],
        LISTEN,
        "accept TLS over TCP (cert=, or an ephemeral certificate whose fingerprint is logged)",
    )
    .bind(BIND),
    parse: |p| Ok(TlsSpec::Listen(p.local(Family::Any)?)),
};

/// The TLS family: its address types and features.
pub static FAMILY: FamilyTypes<TlsSpec> = FamilyTypes {
    features: &["OPENSSL"],
    types: &[&OPENSSL, &OPENSSL_LISTEN],
};

impl FamilySpec for TlsSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            TlsSpec::Connect(_) => &OPENSSL.ty,
            TlsSpec::Listen(_) => &OPENSSL_LISTEN.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsSpec::Connect(remote) => remote.fmt_params(f),
            TlsSpec::Listen(local) => local.fmt_params(f),
        }
    }

    fn check(&self, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        match self {
            TlsSpec::Connect(_) => super::proxy_header::check_sending(options),
            TlsSpec::Listen(_) => Ok(()),
        }
    }
}

impl TlsSpec {
    /// Connects and runs the client's handshake, or starts listening.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        Ok(match self {
            TlsSpec::Connect(remote) => {
                Opened::Connection(connect(remote, options, context).await?)
            }
            TlsSpec::Listen(local) => Opened::Listener(listen(local, options, context)?),
        })
    }
}

// ---- TLS as layers of a chain: OPENSSL and OPENSSL-SERVER ----

/// Which side of TLS a chain's layer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsLayer {
    /// `OPENSSL|...`: the client's handshake over what is on the right.
    Client,
    /// `OPENSSL-SERVER|...`: the server's handshake, over each connection a listener on the
    /// right accepts (or over the one connection a connecting address opens).
    Server,
}

static OPENSSL_LAYER: Definition<TlsLayer> = Definition {
    ty: AddressType::new(
        "OPENSSL",
        &["SSL", "OPENSSL-CLIENT"],
        &[],
        Groups::TLS.union(Groups::TLS_CLIENT),
        "TLS client over what is on the right; the certificate is checked for commonname= (or pinned by fingerprint=, or verify=0)",
    ),
    parse: |_| Ok(TlsLayer::Client),
};
static OPENSSL_SERVER_LAYER: Definition<TlsLayer> = Definition {
    ty: AddressType::new(
        "OPENSSL-SERVER",
        &["SSL-SERVER"],
        &[],
        Groups::TLS,
        "TLS server over each connection on the right (cert=, or an ephemeral certificate)",
    ),
    parse: |_| Ok(TlsLayer::Server),
};

/// TLS's layers, for the registry of layers.
pub static LAYERS: FamilyTypes<TlsLayer> = FamilyTypes {
    features: &[],
    types: &[&OPENSSL_LAYER, &OPENSSL_SERVER_LAYER],
};

impl FamilySpec for TlsLayer {
    fn address_type(&self) -> &'static AddressType {
        match self {
            TlsLayer::Client => &OPENSSL_LAYER.ty,
            TlsLayer::Server => &OPENSSL_SERVER_LAYER.ty,
        }
    }

    fn fmt_params(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }

    /// A client layer knows no host: the name its certificate must carry is `commonname`,
    /// unless a pin alone or `verify=0` replaces the check.
    fn check(&self, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        let pinned_alone = options.has(OptionId::TlsFingerprint)
            && !options.has(OptionId::TlsCafile)
            && !options.has(OptionId::TlsCapath);
        let unchecked = !options.flag(OptionId::TlsVerify, true);
        if *self == TlsLayer::Client
            && !options.has(OptionId::TlsCommonName)
            && !pinned_alone
            && !unchecked
        {
            return Err(super::combinations::conflict(
                OptionId::TlsCommonName,
                "OPENSSL",
                "OPENSSL as a layer has no host to check the server's certificate for: give commonname= (or fingerprint=, or verify=0)".to_owned(),
            ));
        }
        Ok(())
    }
}

impl TlsLayer {
    /// The layer, its settings read (certificate, authorities) before anything opens.
    pub fn layer(&self, options: &Options) -> Result<Arc<dyn crate::layer::Layer>, OpenError> {
        let mut settings = settings(options)?;
        Ok(match self {
            TlsLayer::Client => {
                // Without commonname there is no name to send either.
                let host = match settings.common_name.clone() {
                    Some(name) => name,
                    None => {
                        if matches!(settings.sni, Sni::Default) {
                            settings.sni = Sni::Off;
                        }
                        "localhost".to_owned()
                    }
                };
                let config = TlsClientConfig::shared(&settings, &host).map_err(setting_error)?;
                Arc::new(crate::layer::TlsClient(config))
            }
            TlsLayer::Server => {
                let config = TlsServerConfig::new(&settings).map_err(setting_error)?;
                Arc::new(crate::layer::TlsServer(Arc::new(config)))
            }
        })
    }
}
