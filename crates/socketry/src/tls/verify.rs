//! How a peer's certificate is checked: against certificate authorities (rustls's WebPKI
//! verifiers), for a name chosen apart from SNI (`commonname`), against a pinned
//! fingerprint, or not at all (`verify=0`). Each connection gets its own verifier, which
//! keeps the peer's certificate so that a failed handshake can say whose it was.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::error::PinMismatch;
use super::legacy;
use super::peer::CertificateSummary;
use super::settings::Fingerprint;

/// Where a verifier leaves the peer's certificate.
pub(super) type Seen = Arc<Mutex<Option<CertificateSummary>>>;

pub(super) fn take(seen: &Seen) -> Option<CertificateSummary> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// The checks common to both sides.
#[derive(Debug, Clone)]
pub(super) struct Checks {
    /// The certificates of `cafile` and `capath` themselves: a peer that presents one of
    /// them is trusted directly, as OpenSSL does, even when it is a self-signed CA
    /// certificate (what `openssl req -x509` makes) that WebPKI would not accept as a
    /// server's.
    pub(super) anchors: Arc<Vec<CertificateDer<'static>>>,
    /// The pinned fingerprint.
    pub(super) pin: Option<Fingerprint>,
    /// The name the certificate must be valid for (on a client: the host or `commonname`,
    /// unless a pin alone is the verification; on a server: `commonname`).
    pub(super) name: Option<ServerName<'static>>,
    pub(super) provider: Arc<CryptoProvider>,
}

impl Checks {
    /// Every check of the peer's certificate: the pin, then the CA verifier's verdict `ca`
    /// (absent when the pin alone is the verification), then the name. A version 1
    /// certificate, which WebPKI refuses whatever it is, has its own checks instead.
    fn verify(
        &self,
        seen: &Seen,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
        ca: Option<Result<(), rustls::Error>>,
    ) -> Result<(), rustls::Error> {
        self.see(seen, end_entity)?;
        if legacy::is_v1(end_entity) {
            if ca.is_some() {
                legacy::verify(end_entity, &self.anchors, now)?;
            }
            return legacy::check_name(end_entity, self.name.as_ref());
        }
        if let Some(Err(error)) = ca {
            return self.after_ca_error(error, end_entity, now);
        }
        self.check_name(end_entity)
    }

    fn see(&self, seen: &Seen, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let summary = CertificateSummary::of(end_entity);
        let actual = summary.fingerprint;
        *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(summary);
        match self.pin {
            Some(expected) if expected != actual => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(PinMismatch { expected, actual }))),
            )),
            _ => Ok(()),
        }
    }

    /// The CA verifier's error `error`, unless the peer's certificate is trusted directly
    /// (it is one of the anchors, valid now and for the name) or only fails the name check
    /// while it has no subject alternative names and its common name is the name (the
    /// fallback of OpenSSL and socat for certificates made without SAN).
    fn after_ca_error(
        &self,
        error: rustls::Error,
        end_entity: &CertificateDer<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let name_error = matches!(
            error,
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        );
        if name_error {
            return match &self.name {
                Some(name) if legacy::common_name_is(end_entity, name) => Ok(()),
                _ => Err(error),
            };
        }
        if !self
            .anchors
            .iter()
            .any(|a| a.as_ref() == end_entity.as_ref())
        {
            // A self-signed CA certificate that is not trusted: to the user, an unknown CA
            // (WebPKI says only that a CA certificate is used as an end entity's; its
            // error type is not rustls's, so it is known by its text).
            let ca_as_end_entity = matches!(
                &error,
                rustls::Error::InvalidCertificate(CertificateError::Other(other))
                    if other.to_string() == "CaUsedAsEndEntity"
            );
            return Err(if ca_as_end_entity {
                CertificateError::UnknownIssuer.into()
            } else {
                error
            });
        }
        legacy::valid_at(end_entity, now)?;
        self.check_name(end_entity)
    }

    fn check_name(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let Some(name) = &self.name else {
            return Ok(());
        };
        let parsed = ParsedCertificate::try_from(end_entity)?;
        match rustls::client::verify_server_name(&parsed, name) {
            Err(_) if legacy::common_name_is(end_entity, name) => Ok(()),
            other => other,
        }
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        if legacy::is_v1(cert) {
            legacy::verify_tls12_signature(message, cert, dss, algorithms)
        } else {
            verify_tls12_signature(message, cert, dss, algorithms)
        }
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        if legacy::is_v1(cert) {
            legacy::verify_tls13_signature(message, cert, dss, algorithms)
        } else {
            verify_tls13_signature(message, cert, dss, algorithms)
        }
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The methods that check a handshake's signature, the same in both verifier traits:
/// answered by the verifier's `checks`.
macro_rules! signatures_checked_by_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.checks.tls12(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.checks.tls13(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.checks.schemes()
        }
    };
}

/// A client's check of the server's certificate.
#[derive(Debug)]
pub(super) struct ServerVerifier {
    pub(super) ca: Option<Arc<WebPkiServerVerifier>>,
    pub(super) checks: Checks,
    pub(super) seen: Seen,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // The name checked is commonname's (or the host's), not necessarily the one sent as
        // SNI.
        let name = self.checks.name.as_ref().unwrap_or(server_name);
        let ca = self.ca.as_ref().map(|ca| {
            ca.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)
                .map(|_| ())
        });
        self.checks.verify(&self.seen, end_entity, now, ca)?;
        Ok(ServerCertVerified::assertion())
    }

    signatures_checked_by_checks!();
}

/// A server's check of a client's certificate: present only when one is required (CA
/// verification, or a pin).
#[derive(Debug)]
pub(super) struct ClientVerifier {
    pub(super) ca: Option<Arc<dyn ClientCertVerifier>>,
    pub(super) checks: Checks,
    pub(super) seen: Seen,
}

impl ClientCertVerifier for ClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.ca {
            Some(ca) => ca.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ca = self.ca.as_ref().map(|ca| {
            ca.verify_client_cert(end_entity, intermediates, now)
                .map(|_| ())
        });
        self.checks.verify(&self.seen, end_entity, now, ca)?;
        Ok(ClientCertVerified::assertion())
    }

    signatures_checked_by_checks!();
}
