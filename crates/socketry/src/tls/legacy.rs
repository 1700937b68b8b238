//! X.509 version 1 certificates: no extensions, so no subject alternative names and no
//! constraints. `openssl req -x509` makes them when its configuration names no extensions,
//! and many test and in-house setups (socat's own test suite among them) use them. WebPKI
//! refuses them outright, for the peer's certificate and for this side's own, so they are
//! handled here, narrowly: a version 1 certificate is accepted only when it is itself one of
//! the `cafile`/`capath` certificates or is signed directly by one, is within its validity
//! period, and has the expected name as its common name. The handshake's signature is still
//! checked with the certificate's key, with rustls's own algorithms. Every other certificate
//! goes through WebPKI.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls13_signature_with_raw_key, WebPkiSupportedAlgorithms};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, DigitallySignedStruct, InconsistentKeys, OtherError, PeerMisbehaved,
};
use rustls_pki_types::{CertificateDer, ServerName, SubjectPublicKeyInfoDer, UnixTime};
use std::sync::Arc;
use std::time::Duration;
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_PKCS1_SHA1WITHRSA, OID_SHA1_WITH_RSA};
use x509_parser::x509::X509Version;

fn parse<'a>(der: &'a CertificateDer<'_>) -> Result<X509Certificate<'a>, rustls::Error> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, certificate)| certificate)
        .map_err(|_| CertificateError::BadEncoding.into())
}

/// Whether `der` is a certificate of X.509 version 1.
pub(super) fn is_v1(der: &CertificateDer<'_>) -> bool {
    matches!(
        x509_parser::parse_x509_certificate(der),
        Ok((_, certificate)) if certificate.version() == X509Version::V1
    )
}

/// Checks a version 1 certificate of the peer against `anchors` (the certificates of
/// `cafile`/`capath`) and the time: it is one of them, or one of them signed it.
pub(super) fn verify(
    end_entity: &CertificateDer<'_>,
    anchors: &[CertificateDer<'static>],
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let certificate = parse(end_entity)?;
    let trusted = anchors.iter().any(|a| a.as_ref() == end_entity.as_ref())
        || anchors.iter().any(|anchor| signed_by(&certificate, anchor));
    if !trusted {
        return Err(CertificateError::UnknownIssuer.into());
    }
    within_validity(&certificate, now)
}

/// Whether `anchor` issued and signed `certificate`. SHA-1 signatures are not accepted, as
/// WebPKI accepts none.
fn signed_by(certificate: &X509Certificate<'_>, anchor: &CertificateDer<'_>) -> bool {
    let Ok(anchor) = parse(anchor) else {
        return false;
    };
    let algorithm = &certificate.signature_algorithm.algorithm;
    if *algorithm == OID_PKCS1_SHA1WITHRSA || *algorithm == OID_SHA1_WITH_RSA {
        return false;
    }
    anchor.subject().as_raw() == certificate.issuer().as_raw()
        && certificate
            .verify_signature(Some(anchor.public_key()))
            .is_ok()
}

/// A certificate's validity period, checked as WebPKI checks a chain's (for the certificates
/// trusted without WebPKI: version 1, and `cafile` certificates presented by the peer).
pub(super) fn valid_at(
    end_entity: &CertificateDer<'_>,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    within_validity(&parse(end_entity)?, now)
}

fn within_validity(certificate: &X509Certificate<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    let seconds =
        |t: i64| UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(t).unwrap_or(0)));
    let validity = certificate.validity();
    let not_before = seconds(validity.not_before.timestamp());
    let not_after = seconds(validity.not_after.timestamp());
    if now.as_secs() < not_before.as_secs() {
        return Err(CertificateError::NotValidYetContext {
            time: now,
            not_before,
        }
        .into());
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(CertificateError::ExpiredContext {
            time: now,
            not_after,
        }
        .into());
    }
    Ok(())
}

/// A version 1 certificate's name check: with no subject alternative names, the common name
/// is the name.
pub(super) fn check_name(
    end_entity: &CertificateDer<'_>,
    name: Option<&ServerName<'_>>,
) -> Result<(), rustls::Error> {
    let Some(name) = name else {
        return Ok(());
    };
    let certificate = parse(end_entity)?;
    let expected = name.to_str();
    let names: Vec<&str> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .collect();
    if names.iter().any(|cn| cn.eq_ignore_ascii_case(&expected)) {
        return Ok(());
    }
    Err(CertificateError::NotValidForNameContext {
        expected: name.to_owned(),
        presented: names.into_iter().map(str::to_owned).collect(),
    }
    .into())
}

fn public_key(
    certificate: &CertificateDer<'_>,
) -> Result<SubjectPublicKeyInfoDer<'static>, rustls::Error> {
    let parsed = parse(certificate)?;
    Ok(SubjectPublicKeyInfoDer::from(
        parsed.public_key().raw.to_vec(),
    ))
}

/// A TLS 1.2 handshake signature made with a version 1 certificate's key: every algorithm
/// rustls maps the scheme to is tried, as rustls does for other certificates.
pub(super) fn verify_tls12_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    let candidates = algorithms
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, candidates)| *candidates)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    let spki = public_key(cert)?;
    let key = webpki::RawPublicKeyEntity::try_from(&spki)
        .map_err(|_| rustls::Error::from(CertificateError::BadEncoding))?;
    let mut unsupported = None;
    for algorithm in candidates {
        #[allow(deprecated)] // webpki still names the old variant among its errors
        match key.verify_signature(*algorithm, message, dss.signature()) {
            Ok(()) => return Ok(HandshakeSignatureValid::assertion()),
            Err(
                error @ (webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
                | webpki::Error::UnsupportedSignatureAlgorithmForPublicKey),
            ) => unsupported = Some(error),
            Err(webpki::Error::InvalidSignatureForPublicKey) => {
                return Err(CertificateError::BadSignature.into())
            }
            Err(other) => return Err(other_error(other)),
        }
    }
    Err(match unsupported {
        Some(error) => other_error(error),
        None => PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into(),
    })
}

fn other_error(error: webpki::Error) -> rustls::Error {
    CertificateError::Other(OtherError(Arc::new(error))).into()
}

/// A TLS 1.3 handshake signature made with a version 1 certificate's key.
pub(super) fn verify_tls13_signature(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algorithms: &WebPkiSupportedAlgorithms,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature_with_raw_key(message, &public_key(cert)?, dss, algorithms)
}

/// Whether this side's key is the one of its certificate: rustls's own check parses the
/// certificate with WebPKI, which refuses version 1, so for those the public keys are
/// compared here.
pub(super) fn keys_match(key: &CertifiedKey) -> Result<(), rustls::Error> {
    let end_entity = key.end_entity_cert()?;
    if !is_v1(end_entity) {
        return match key.keys_match() {
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => Ok(()),
            other => other,
        };
    }
    let Some(ours) = key.key.public_key() else {
        return Ok(());
    };
    if ours == public_key(end_entity)? {
        Ok(())
    } else {
        Err(InconsistentKeys::KeyMismatch.into())
    }
}
