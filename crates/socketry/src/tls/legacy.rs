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
    let names: Vec<&str> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .collect();
    if names.iter().any(|cn| is_name(cn, name)) {
        return Ok(());
    }
    Err(CertificateError::NotValidForNameContext {
        expected: name.to_owned(),
        presented: names.into_iter().map(str::to_owned).collect(),
    }
    .into())
}

/// Whether a certificate without subject alternative names (version 1, or version 3 made
/// without them) has `name` as its common name: the fallback of OpenSSL and socat.
pub(super) fn common_name_is(end_entity: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    let Ok(certificate) = parse(end_entity) else {
        return false;
    };
    if matches!(certificate.subject_alternative_name(), Ok(Some(_)) | Err(_)) {
        return false;
    }
    let matches = certificate
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .any(|cn| is_name(cn, name));
    matches
}

/// Whether a common name names `name`: a DNS name in any case, or the same IP address (an
/// IPv6 one with or without brackets, as `[::1]` is often written in certificates).
fn is_name(common_name: &str, name: &ServerName<'_>) -> bool {
    match name {
        ServerName::IpAddress(ip) => {
            let bare = common_name
                .strip_prefix('[')
                .and_then(|inner| inner.strip_suffix(']'))
                .unwrap_or(common_name);
            bare.parse::<std::net::IpAddr>()
                .is_ok_and(|parsed| rustls_pki_types::IpAddr::from(parsed) == *ip)
        }
        _ => common_name.eq_ignore_ascii_case(&name.to_str()),
    }
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::process::Command;

    use rustls_pki_types::pem::PemObject;

    use super::*;

    /// A version 1 RSA certificate for `cn` made by the openssl CLI, self-signed or signed by
    /// `issuer` (its files' stem) with `digest`; returns its DER.
    fn make(
        dir: &Path,
        stem: &str,
        cn: &str,
        issuer: Option<(&str, &str)>,
    ) -> CertificateDer<'static> {
        let config = dir.join("req.conf");
        std::fs::write(
            &config,
            format!("prompt=no\n[ req ]\ndistinguished_name=dn\n[ dn ]\nCN={cn}\n"),
        )
        .unwrap();
        let path = |ext: &str| dir.join(format!("{stem}.{ext}"));
        let mut command = Command::new("openssl");
        command
            .current_dir(dir)
            .args(["req", "-new", "-nodes", "-newkey", "rsa:2048", "-config"])
            .arg(&config)
            .arg("-keyout")
            .arg(path("key"));
        match issuer {
            None => command
                .args(["-x509", "-days", "30", "-out"])
                .arg(path("crt")),
            Some(_) => command.arg("-out").arg(path("csr")),
        };
        assert!(command.status().expect("run openssl").success());
        if let Some((issuer, digest)) = issuer {
            let status = Command::new("openssl")
                .current_dir(dir)
                .args(["x509", "-req", "-days", "30", &format!("-{digest}"), "-in"])
                .arg(path("csr"))
                .args([
                    "-CA",
                    &format!("{issuer}.crt"),
                    "-CAkey",
                    &format!("{issuer}.key"),
                    "-out",
                ])
                .arg(path("crt"))
                .status()
                .expect("run openssl");
            assert!(status.success());
        }
        let der = CertificateDer::from_pem_file(path("crt")).unwrap();
        assert!(is_v1(&der));
        der
    }

    fn at(year_2000_offset_days: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(
            946_684_800 + year_2000_offset_days * 86_400,
        ))
    }

    #[test]
    fn a_v1_certificate_is_trusted_only_as_an_anchor_or_signed_by_one_within_its_validity() {
        let dir = tempfile::tempdir().unwrap();
        let ca = make(dir.path(), "ca", "ca", None);
        let leaf = make(dir.path(), "leaf", "leaf.test", Some(("ca", "sha256")));
        let sha1 = make(dir.path(), "sha1", "leaf.test", Some(("ca", "sha1")));
        let stranger = make(dir.path(), "stranger", "leaf.test", None);
        let now = UnixTime::now();
        let anchors = [ca.clone()];

        assert_eq!(verify(&ca, &anchors, now), Ok(()));
        assert_eq!(verify(&leaf, &anchors, now), Ok(()));
        let unknown = Err(CertificateError::UnknownIssuer.into());
        assert_eq!(verify(&stranger, &anchors, now), unknown);
        assert_eq!(verify(&sha1, &anchors, now), unknown);
        assert_eq!(verify(&leaf, &[], now), unknown);

        assert!(matches!(
            verify(&leaf, &anchors, at(365 * 200)),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext { .. }
            ))
        ));
        assert!(matches!(
            verify(&leaf, &anchors, at(0)),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYetContext { .. }
            ))
        ));
    }

    #[test]
    fn a_v1_certificate_s_name_is_its_common_name_and_an_ip_may_be_bracketed() {
        let dir = tempfile::tempdir().unwrap();
        let named = make(dir.path(), "named", "Leaf.Test", None);
        let bracketed = make(dir.path(), "bracketed", "[::1]", None);
        let name = |text: &str| ServerName::try_from(text.to_owned()).unwrap();
        assert_eq!(check_name(&named, Some(&name("leaf.test"))), Ok(()));
        assert_eq!(check_name(&named, None), Ok(()));
        assert_eq!(check_name(&bracketed, Some(&name("::1"))), Ok(()));
        assert_eq!(
            check_name(&named, Some(&name("other.test"))),
            Err(CertificateError::NotValidForNameContext {
                expected: name("other.test"),
                presented: vec!["Leaf.Test".to_owned()],
            }
            .into())
        );
        assert!(common_name_is(&bracketed, &name("::1")));
        assert!(!common_name_is(&bracketed, &name("::2")));
    }
}
