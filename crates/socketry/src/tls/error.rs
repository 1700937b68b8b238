//! What can go wrong with TLS, each as the one line a user reads.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use rustls::{AlertDescription, CertificateError};

use super::peer::CertificateSummary;
use super::settings::{Fingerprint, ValueError};

/// A TLS error: a setting that cannot be used, a file that cannot be read, or a handshake or
/// a connection that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A PEM file could not be parsed.
    #[error("{} is not a valid PEM file: {reason}", path.display())]
    MalformedPem {
        /// The file.
        path: PathBuf,
        /// What is wrong in it.
        reason: String,
    },
    /// A PEM file (or a `capath` directory) holds no certificate.
    #[error("{} holds no PEM certificate (expected a \"-----BEGIN CERTIFICATE-----\" section)", path.display())]
    NoCertificate {
        /// The file or directory.
        path: PathBuf,
    },
    /// The file that should hold the private key holds none.
    #[error("{} holds no PEM private key (give the key in it, or in a file named by key=)", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is not the one of the certificate.
    #[error("the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate's file.
        cert: PathBuf,
        /// The key's file.
        key: PathBuf,
    },
    /// The certificate or key cannot be used by rustls.
    #[error("cannot use the certificate in {}: {reason}", path.display())]
    BadIdentity {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A certificate authority cannot be used.
    #[error("cannot use the certificate authority in {}: {reason}", path.display())]
    BadAuthority {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The system's trust store could not be loaded.
    #[error("cannot load the system's trust store ({0}); give cafile= or capath=, or pin the peer with fingerprint=")]
    TrustStore(String),
    /// Settings that contradict each other or that rustls cannot honour.
    #[error(transparent)]
    Setting(#[from] ValueError),
    /// An ephemeral certificate could not be made.
    #[error("cannot make an ephemeral certificate: {0}")]
    Ephemeral(String),

    /// The peer's certificate is not signed by a trusted authority.
    #[error("certificate verify failed: unknown CA: the peer's certificate ({peer}) is not signed by a trusted authority; trust it with cafile=, or pin it with fingerprint={fingerprint}", peer = peer.describe(), fingerprint = peer.fingerprint)]
    UnknownCa {
        /// The peer's certificate.
        peer: Box<CertificateSummary>,
    },
    /// The peer's certificate is not valid for the expected name.
    #[error("certificate verify failed: name mismatch: expected \"{expected}\", the certificate is for {}", presented_names(presented))]
    NameMismatch {
        /// The name checked (`commonname`, or the host connected to).
        expected: String,
        /// The names in the certificate.
        presented: Vec<String>,
    },
    /// The peer's certificate has expired.
    #[error("certificate verify failed: the peer's certificate expired at {} (it is now {})", date(*not_after), date(*now))]
    Expired {
        /// When it expired, in seconds since the epoch.
        not_after: u64,
        /// Now.
        now: u64,
    },
    /// The peer's certificate is not valid yet.
    #[error("certificate verify failed: the peer's certificate is not valid before {} (it is now {})", date(*not_before), date(*now))]
    NotYetValid {
        /// When it becomes valid, in seconds since the epoch.
        not_before: u64,
        /// Now.
        now: u64,
    },
    /// The peer's certificate does not have the pinned fingerprint.
    #[error("certificate verify failed: fingerprint mismatch: the peer's certificate is {actual}, expected {expected}")]
    PinMismatch {
        /// The pin.
        expected: Fingerprint,
        /// The peer's.
        actual: Fingerprint,
    },
    /// Another verification failure.
    #[error("certificate verify failed: {0}")]
    Certificate(String),
    /// A server that requires a client certificate got none.
    #[error("the client sent no certificate, and this server requires one (cafile=/capath=, or fingerprint=, with verify=1)")]
    ClientCertificateMissing,
    /// The server asked for a client certificate and this client has none.
    #[error("the server requires a client certificate (give cert=)")]
    ClientCertificateRequired,
    /// The peer refused this side's certificate.
    #[error("the peer refused our certificate ({0})")]
    CertificateRefused(String),
    /// The peer sent an alert that ended the handshake.
    #[error("the peer ended the TLS handshake: {0}")]
    Alert(String),
    /// The peer sent something that is not TLS.
    #[error("the peer does not speak TLS (it sent plaintext, or another protocol)")]
    Plaintext,
    /// The peer closed the connection before the handshake was over.
    #[error("the peer closed the connection during the TLS handshake")]
    HandshakeEof,
    /// The handshake took longer than `handshake-timeout` allows.
    #[error("the TLS handshake did not finish within {}s (handshake-timeout=)", limit.as_secs_f64())]
    HandshakeTimeout {
        /// The limit.
        limit: Duration,
    },
    /// The handshake failed for another protocol reason.
    #[error("TLS handshake failed: {0}")]
    Handshake(String),
    /// The peer closed the connection without `close_notify`: what was read may be cut short.
    #[error("the peer closed the connection without TLS close_notify: the data may be truncated")]
    Truncated,
    /// The connection under TLS failed.
    #[error(transparent)]
    Io(io::Error),
}

fn presented_names(names: &[String]) -> String {
    if names.is_empty() {
        return "no name".to_owned();
    }
    names
        .iter()
        .map(|n| format!("\"{}\"", bare_name(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A presented name as the user wrote it: rustls gives `DnsName("host")` and
/// `IpAddress(127.0.0.1)`.
fn bare_name(name: &str) -> &str {
    for prefix in ["DnsName(\"", "IpAddress("] {
        if let Some(inner) = name.strip_prefix(prefix) {
            return inner.trim_end_matches(')').trim_end_matches('"');
        }
    }
    name
}

fn date(seconds: u64) -> String {
    crate::clock::timestamp(UNIX_EPOCH + Duration::from_secs(seconds), false)
        .split('.')
        .next()
        .map(|s| format!("{} UTC", s.replace('/', "-")))
        .unwrap_or_default()
}

/// Which side of the handshake this is, for the errors that read differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Client,
    Server,
}

/// What a failed handshake knew: the peer's certificate if it got that far, and whether this
/// side offered a certificate of its own.
#[derive(Debug)]
pub(super) struct Attempt {
    pub(super) side: Side,
    pub(super) peer: Option<CertificateSummary>,
    pub(super) has_certificate: bool,
}

impl TlsError {
    /// The error of a failed handshake, from the I/O error tokio-rustls gives.
    pub(super) fn from_handshake(error: io::Error, attempt: &Attempt) -> TlsError {
        if let Some(tls) = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            return TlsError::from_rustls(tls, attempt);
        }
        match error.kind() {
            // A peer that closes with our hello unread resets the connection instead: the
            // same close, met a moment later.
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe => TlsError::HandshakeEof,
            _ => TlsError::Io(error),
        }
    }

    fn from_rustls(error: &rustls::Error, attempt: &Attempt) -> TlsError {
        use rustls::Error as E;
        match error {
            E::InvalidCertificate(certificate) => certificate_error(certificate, attempt),
            E::NoCertificatesPresented => TlsError::ClientCertificateMissing,
            E::AlertReceived(alert) => alert_error(*alert, attempt),
            E::InvalidMessage(_) | E::InappropriateMessage { .. } => TlsError::Plaintext,
            E::Other(other) => match other.0.downcast_ref::<PinMismatch>() {
                Some(pin) => TlsError::PinMismatch {
                    expected: pin.expected,
                    actual: pin.actual,
                },
                None => TlsError::Handshake(other.to_string()),
            },
            other => TlsError::Handshake(describe_rustls(other)),
        }
    }

    /// The error of a read or write after the handshake, as the I/O error a stream gives.
    pub(super) fn into_io(error: io::Error, side: Side) -> io::Error {
        let kind = error.kind();
        if let Some(tls) = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            let attempt = Attempt {
                side,
                peer: None,
                has_certificate: true,
            };
            return io::Error::new(kind, TlsError::from_rustls(tls, &attempt));
        }
        if kind == io::ErrorKind::UnexpectedEof {
            return io::Error::new(kind, TlsError::Truncated);
        }
        error
    }
}

impl From<TlsError> for io::Error {
    fn from(error: TlsError) -> io::Error {
        match error {
            TlsError::Io(error) => error,
            other => io::Error::other(other),
        }
    }
}

/// A pin that did not match: carried out of the verifier inside a rustls error.
#[derive(Debug, thiserror::Error)]
#[error("fingerprint mismatch: the peer's certificate is {actual}, expected {expected}")]
pub(super) struct PinMismatch {
    pub(super) expected: Fingerprint,
    pub(super) actual: Fingerprint,
}

fn certificate_error(error: &CertificateError, attempt: &Attempt) -> TlsError {
    use CertificateError as C;
    match error {
        C::UnknownIssuer => match &attempt.peer {
            Some(peer) => TlsError::UnknownCa {
                peer: Box::new(peer.clone()),
            },
            None => TlsError::Certificate("unknown CA".to_owned()),
        },
        C::NotValidForNameContext {
            expected,
            presented,
        } => TlsError::NameMismatch {
            expected: expected.to_str().into_owned(),
            presented: presented.clone(),
        },
        C::ExpiredContext { time, not_after } => TlsError::Expired {
            not_after: not_after.as_secs(),
            now: time.as_secs(),
        },
        C::NotValidYetContext { time, not_before } => TlsError::NotYetValid {
            not_before: not_before.as_secs(),
            now: time.as_secs(),
        },
        C::Other(other) => match other.0.downcast_ref::<PinMismatch>() {
            Some(pin) => TlsError::PinMismatch {
                expected: pin.expected,
                actual: pin.actual,
            },
            None => TlsError::Certificate(other.to_string()),
        },
        other => TlsError::Certificate(describe_certificate(other)),
    }
}

fn describe_certificate(error: &CertificateError) -> String {
    use CertificateError as C;
    match error {
        C::BadEncoding => "the certificate is not valid DER".to_owned(),
        C::Expired => "the certificate has expired".to_owned(),
        C::NotValidYet => "the certificate is not valid yet".to_owned(),
        C::Revoked => "the certificate has been revoked".to_owned(),
        C::NotValidForName => "the certificate is not valid for the expected name".to_owned(),
        C::BadSignature => "bad signature".to_owned(),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            "the certificate may not be used for this purpose (extended key usage)".to_owned()
        }
        other => format!("{other:?}"),
    }
}

fn alert_error(alert: AlertDescription, attempt: &Attempt) -> TlsError {
    use AlertDescription as A;
    let name = alert_name(alert);
    match (alert, attempt.side) {
        (A::CertificateRequired, Side::Client) => TlsError::ClientCertificateRequired,
        (A::HandshakeFailure, Side::Client) if !attempt.has_certificate => TlsError::Alert(
            format!("{name} (no cipher suite or version in common, or the server requires a client certificate: give cert=)"),
        ),
        (A::UnknownCA | A::BadCertificate | A::UnsupportedCertificate | A::CertificateExpired
            | A::CertificateUnknown | A::AccessDenied | A::CertificateRevoked, _)
            if attempt.has_certificate =>
        {
            TlsError::CertificateRefused(format!("alert: {name}"))
        }
        (A::ProtocolVersion, _) => TlsError::Alert(format!(
            "{name} (no protocol version in common: see min-proto-version and max-proto-version)"
        )),
        (A::NoApplicationProtocol, _) => {
            TlsError::Alert(format!("{name} (no application protocol in common: see alpn)"))
        }
        _ => TlsError::Alert(name),
    }
}

fn alert_name(alert: AlertDescription) -> String {
    use AlertDescription as A;
    match alert {
        A::UnknownCA => "unknown CA".to_owned(),
        A::BadCertificate => "bad certificate".to_owned(),
        A::CertificateExpired => "certificate expired".to_owned(),
        A::CertificateRequired => "certificate required".to_owned(),
        A::CertificateUnknown => "certificate unknown".to_owned(),
        A::HandshakeFailure => "handshake failure".to_owned(),
        A::ProtocolVersion => "protocol version".to_owned(),
        A::DecryptError => "decrypt error".to_owned(),
        A::AccessDenied => "access denied".to_owned(),
        A::NoApplicationProtocol => "no application protocol".to_owned(),
        A::UnrecognisedName => "unrecognised name".to_owned(),
        A::InternalError => "internal error".to_owned(),
        other => format!("{other:?}"),
    }
}

/// A rustls error as a phrase.
pub(super) fn describe_rustls(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidCertificate(certificate) => describe_certificate(certificate),
        E::PeerIncompatible(why) => format!("the peer is incompatible: {why:?}"),
        E::PeerMisbehaved(why) => format!("the peer misbehaved: {why:?}"),
        E::DecryptError => "cannot decrypt a message".to_owned(),
        E::NoApplicationProtocol => "no application protocol in common (see alpn)".to_owned(),
        E::General(text) => text.clone(),
        other => other.to_string(),
    }
}
