//! Client and server configurations, checked once from [`TlsSettings`], and the handshakes
//! they run.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, InconsistentKeys, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::error::TlsError;
use super::error::{Attempt, Side};
use super::legacy;
use super::peer::PeerInfo;
use super::pem;
use super::settings::{
    Fingerprint, Sni, TlsSettings, ValueError, DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
};
use super::stream::TlsStream;
use super::verify::{self, Checks, ClientVerifier, Seen, ServerVerifier};

fn provider(settings: &TlsSettings) -> Arc<CryptoProvider> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(ciphers) = &settings.ciphers {
        provider.cipher_suites = ciphers.suites().to_vec();
    }
    Arc::new(provider)
}

fn versions(settings: &TlsSettings) -> Result<Vec<&'static SupportedProtocolVersion>, TlsError> {
    if settings.min_version > settings.max_version {
        return Err(ValueError(format!(
            "min-proto-version={} is above max-proto-version={} (expected min <= max)",
            settings.min_version, settings.max_version
        ))
        .into());
    }
    let mut versions = vec![settings.min_version.rustls()];
    if settings.max_version != settings.min_version {
        versions.push(settings.max_version.rustls());
    }
    Ok(versions)
}

fn setting_error(error: rustls::Error) -> TlsError {
    TlsError::Setting(ValueError(format!(
        "the TLS settings cannot be used together: {}",
        super::error::describe_rustls(&error)
    )))
}

fn server_name(name: &str, option: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(name.to_owned()).map_err(|_| {
        ValueError(format!(
            "{option} \"{name}\" is not a DNS name or an IP address"
        ))
        .into()
    })
}

/// This side's certificate and key, from `cert` and `key`.
fn identity(
    cert: &Path,
    key: Option<&Path>,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = pem::certificates(cert)?;
    let key_path = key.unwrap_or(cert);
    let private = pem::private_key(key_path)?;
    let bad_key = |error: rustls::Error| TlsError::BadIdentity {
        path: key_path.to_owned(),
        reason: super::error::describe_rustls(&error),
    };
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(bad_key)?;
    // Not CertifiedKey::from_der: its check of the key against the certificate parses the
    // certificate with WebPKI, which refuses X.509 version 1 ones.
    let key = CertifiedKey::new(chain, signing);
    legacy::keys_match(&key)
        .map(|()| Arc::new(key))
        .map_err(|error| match error {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => {
                TlsError::KeyMismatch {
                    cert: cert.to_owned(),
                    key: key_path.to_owned(),
                }
            }
            other => bad_key(other),
        })
}

/// The authorities to trust, and the certificates of `cafile`/`capath` themselves.
type Authorities = (rustls::RootCertStore, Vec<CertificateDer<'static>>);

fn authorities(settings: &TlsSettings) -> Result<Authorities, TlsError> {
    if settings.cafile.is_some() || settings.capath.is_some() {
        pem::authorities(settings.cafile.as_deref(), settings.capath.as_deref())
    } else {
        Ok((pem::system_authorities()?, Vec::new()))
    }
}

/// A client's configuration: how it verifies servers, what it offers, its certificate.
#[derive(Debug, Clone)]
pub struct TlsClientConfig {
    config: Arc<ClientConfig>,
    ca: Option<Arc<WebPkiServerVerifier>>,
    checks: Checks,
    sni: ServerName<'static>,
    has_certificate: bool,
    handshake_timeout: Option<Duration>,
}

/// Client configurations already built, the newest last. A fork server whose second
/// address is `OPENSSL:host:port` opens it once per connection, and building its
/// configuration reads `cert`, `key` and `cafile`, or the system's trust store, which alone
/// costs milliseconds; with the configuration shared, so is its cache of sessions, which
/// later connections to the same server resume.
static CLIENT_CONFIGS: Mutex<Vec<(TlsSettings, String, Arc<TlsClientConfig>)>> =
    Mutex::new(Vec::new());

/// How many client configurations [`TlsClientConfig::shared`] keeps.
const CLIENT_CONFIGS_KEPT: usize = 16;

impl TlsClientConfig {
    /// The configuration for `settings` and `host`, as [`TlsClientConfig::new`] builds it,
    /// built once per process: the files named are read the first time (a server, too,
    /// reads its files once, when it starts). An error is not kept, so a file that appears
    /// later is read then.
    pub fn shared(settings: &TlsSettings, host: &str) -> Result<Arc<Self>, TlsError> {
        let kept = || {
            CLIENT_CONFIGS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if let Some((_, _, config)) = kept().iter().find(|(s, h, _)| s == settings && h == host) {
            return Ok(config.clone());
        }
        let config = Arc::new(TlsClientConfig::new(settings, host)?);
        let mut kept = kept();
        if kept.len() == CLIENT_CONFIGS_KEPT {
            kept.remove(0);
        }
        kept.push((settings.clone(), host.to_owned(), config.clone()));
        Ok(config)
    }

    /// Checks `settings` for a client connecting to `host` (the default name the server's
    /// certificate must be valid for, and the default SNI), and reads every file they name.
    pub fn new(settings: &TlsSettings, host: &str) -> Result<Self, TlsError> {
        let provider = provider(settings);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions(settings)?)
            .map_err(setting_error)?;
        let expected = settings.common_name.as_deref().unwrap_or(host);
        let name = server_name(
            expected,
            if settings.common_name.is_some() {
                "commonname"
            } else {
                "the host"
            },
        )?;
        // With a pin alone, the pin is the verification; with cafile/capath as well, both
        // are checked.
        let ca_check = settings.verify
            && (settings.fingerprint.is_none()
                || settings.cafile.is_some()
                || settings.capath.is_some());
        let mut anchors = Vec::new();
        let ca = if ca_check {
            let (roots, certificates) = authorities(settings)?;
            anchors = certificates;
            let verifier =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|error| TlsError::Setting(ValueError(error.to_string())))?;
            Some(verifier)
        } else {
            None
        };
        let pin = settings.fingerprint.filter(|_| settings.verify);
        let checks = Checks {
            anchors: Arc::new(anchors),
            pin,
            name: ca.is_some().then(|| name.clone()),
            provider: provider.clone(),
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ServerVerifier {
                ca: ca.clone(),
                checks: checks.clone(),
                seen: Seen::default(),
            }));
        let mut config = match &settings.cert {
            Some(cert) => {
                let key = identity(cert, settings.key.as_deref(), &provider)?;
                builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key)))
            }
            None => {
                if let Some(key) = &settings.key {
                    return Err(ValueError(format!(
                        "key={} is given without cert= (expected both)",
                        key.display()
                    ))
                    .into());
                }
                builder.with_no_client_auth()
            }
        };
        config.alpn_protocols = settings
            .alpn
            .iter()
            .map(|p| p.as_bytes().to_vec())
            .collect();
        let sni = match &settings.sni {
            Sni::Default => name,
            Sni::Host(host) => server_name(host, "snihost")?,
            Sni::Off => {
                config.enable_sni = false;
                name
            }
        };
        Ok(TlsClientConfig {
            config: Arc::new(config),
            ca,
            checks,
            sni,
            has_certificate: settings.cert.is_some(),
            handshake_timeout: settings.handshake_timeout.filter(|t| !t.is_zero()),
        })
    }

    /// Runs the client's handshake over `io`.
    pub async fn connect<IO>(&self, io: IO) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let seen = Seen::default();
        let mut config = (*self.config).clone();
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(ServerVerifier {
                ca: self.ca.clone(),
                checks: self.checks.clone(),
                seen: seen.clone(),
            }));
        let connector = TlsConnector::from(Arc::new(config));
        let handshake = connector.connect(self.sni.clone(), io);
        match within(self.handshake_timeout, handshake).await? {
            Ok(stream) => {
                let peer = PeerInfo::of(stream.get_ref().1, None);
                Ok(TlsStream::new(stream.into(), peer, Side::Client))
            }
            Err(error) => Err(TlsError::from_handshake(
                error,
                &Attempt {
                    side: Side::Client,
                    peer: verify::take(&seen),
                    has_certificate: self.has_certificate,
                },
            )),
        }
    }
}

/// A server's configuration: its certificate (given, or ephemeral), and whether and how it
/// verifies clients.
#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    /// The configuration of every handshake, built once, when no client certificate is
    /// checked; with a check, each handshake builds its own, whose verifier keeps the
    /// client's certificate for the error that names it.
    shared: Option<Arc<ServerConfig>>,
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static SupportedProtocolVersion>,
    key: Arc<CertifiedKey>,
    ephemeral: Option<Fingerprint>,
    client_check: Option<(Option<Arc<dyn ClientCertVerifier>>, Checks)>,
    alpn: Vec<Vec<u8>>,
    sessions: Arc<dyn rustls::server::StoresServerSessions>,
    handshake_timeout: Option<Duration>,
}

impl TlsServerConfig {
    /// Checks `settings` for a server and reads every file they name. Without `cert`, a
    /// self-signed certificate for `localhost`, `127.0.0.1` and `::1` is made, and its
    /// fingerprint logged as a warning (clients pin it with `fingerprint=`).
    pub fn new(settings: &TlsSettings) -> Result<Self, TlsError> {
        let provider = provider(settings);
        let versions = versions(settings)?;
        // Fail now, not at the first client, when the versions and suites do not fit.
        ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(setting_error)?;
        let (key, ephemeral) = match &settings.cert {
            Some(cert) => (identity(cert, settings.key.as_deref(), &provider)?, None),
            None => {
                if let Some(key) = &settings.key {
                    return Err(ValueError(format!(
                        "key={} is given without cert= (expected both)",
                        key.display()
                    ))
                    .into());
                }
                let (key, fingerprint) = ephemeral(&provider)?;
                tracing::warn!(
                    "no cert= given: serving an ephemeral self-signed certificate, fingerprint={fingerprint}"
                );
                (key, Some(fingerprint))
            }
        };
        let has_authorities = settings.cafile.is_some() || settings.capath.is_some();
        let client_check = if settings.verify && (has_authorities || settings.fingerprint.is_some())
        {
            let mut anchors = Vec::new();
            let ca = if has_authorities {
                let (roots, certificates) = authorities(settings)?;
                anchors = certificates;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|error| TlsError::Setting(ValueError(error.to_string())))?;
                Some(verifier)
            } else {
                None
            };
            let name = match &settings.common_name {
                Some(name) => Some(server_name(name, "commonname")?),
                None => None,
            };
            Some((
                ca,
                Checks {
                    anchors: Arc::new(anchors),
                    pin: settings.fingerprint,
                    name,
                    provider: provider.clone(),
                },
            ))
        } else {
            if let Some(name) = &settings.common_name {
                return Err(ValueError(format!(
                    "commonname={name} on a server checks client certificates, which it asks for only with cafile=, capath= or fingerprint= and verify=1"
                ))
                .into());
            }
            None
        };
        let mut config = TlsServerConfig {
            shared: None,
            provider,
            versions,
            key,
            ephemeral,
            client_check,
            alpn: settings
                .alpn
                .iter()
                .map(|p| p.as_bytes().to_vec())
                .collect(),
            sessions: rustls::server::ServerSessionMemoryCache::new(256),
            handshake_timeout: Some(
                settings
                    .handshake_timeout
                    .unwrap_or(DEFAULT_SERVER_HANDSHAKE_TIMEOUT),
            )
            .filter(|t| !t.is_zero()),
        };
        if config.client_check.is_none() {
            config.shared = Some(config.build(&Seen::default())?);
        }
        Ok(config)
    }

    /// A configuration for handshakes whose client verifier (if any) leaves the client's
    /// certificate in `seen`.
    fn build(&self, seen: &Seen) -> Result<Arc<ServerConfig>, TlsError> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&self.versions)
            .map_err(setting_error)?;
        let builder = match &self.client_check {
            Some((ca, checks)) => builder.with_client_cert_verifier(Arc::new(ClientVerifier {
                ca: ca.clone(),
                checks: checks.clone(),
                seen: seen.clone(),
            })),
            None => builder.with_no_client_auth(),
        };
        let mut config =
            builder.with_cert_resolver(Arc::new(SingleCertAndKey::from(self.key.clone())));
        config.alpn_protocols = self.alpn.clone();
        config.session_storage = self.sessions.clone();
        Ok(Arc::new(config))
    }

    /// The fingerprint of the ephemeral certificate, when no `cert` was given.
    pub fn ephemeral_fingerprint(&self) -> Option<Fingerprint> {
        self.ephemeral
    }

    /// Runs the server's handshake over `io`.
    pub async fn accept<IO>(&self, io: IO) -> Result<TlsStream<IO>, TlsError>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let seen = Seen::default();
        let config = match &self.shared {
            Some(config) => config.clone(),
            None => self.build(&seen)?,
        };
        let acceptor = TlsAcceptor::from(config);
        match within(self.handshake_timeout, acceptor.accept(io)).await? {
            Ok(stream) => {
                let (_, connection) = stream.get_ref();
                let peer = PeerInfo::of(connection, connection.server_name());
                Ok(TlsStream::new(stream.into(), peer, Side::Server))
            }
            Err(error) => Err(TlsError::from_handshake(
                error,
                &Attempt {
                    side: Side::Server,
                    peer: verify::take(&seen),
                    has_certificate: true,
                },
            )),
        }
    }
}

/// Runs `handshake` for at most `limit`.
async fn within<F: std::future::Future>(
    limit: Option<Duration>,
    handshake: F,
) -> Result<F::Output, TlsError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, handshake)
            .await
            .map_err(|_| TlsError::HandshakeTimeout { limit }),
        None => Ok(handshake.await),
    }
}

fn ephemeral(provider: &CryptoProvider) -> Result<(Arc<CertifiedKey>, Fingerprint), TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|error| TlsError::Ephemeral(error.to_string()))?;
    let der = made.cert.der().clone();
    let fingerprint = Fingerprint::of(&der);
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    let key = CertifiedKey::from_der(vec![der], key, provider)
        .map_err(|error| TlsError::Ephemeral(super::error::describe_rustls(&error)))?;
    Ok((Arc::new(key), fingerprint))
}
