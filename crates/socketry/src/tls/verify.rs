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
use super::peer::CertificateSummary;
use super::Fingerprint;

/// Where a verifier leaves the peer's certificate.
pub(super) type Seen = Arc<Mutex<Option<CertificateSummary>>>;

pub(super) fn take(seen: &Seen) -> Option<CertificateSummary> {
    seen.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// The checks common to both sides.
#[derive(Debug, Clone)]
pub(super) struct Checks {
    /// The pinned fingerprint.
    pub(super) pin: Option<Fingerprint>,
    /// The name the certificate must be valid for (on a client: always, with `ca`; on a
    /// server: `commonname`).
    pub(super) name: Option<ServerName<'static>>,
    pub(super) provider: Arc<CryptoProvider>,
}

impl Checks {
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

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
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
        self.checks.see(&self.seen, end_entity)?;
        if let Some(ca) = &self.ca {
            // The name checked is commonname's (or the host's), not necessarily the one
            // sent as SNI.
            let name = self.checks.name.as_ref().unwrap_or(server_name);
            ca.verify_server_cert(end_entity, intermediates, name, ocsp_response, now)?;
        }
        Ok(ServerCertVerified::assertion())
    }

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
        self.checks.see(&self.seen, end_entity)?;
        if let Some(ca) = &self.ca {
            ca.verify_client_cert(end_entity, intermediates, now)?;
        }
        if let Some(name) = &self.checks.name {
            let parsed = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_name(&parsed, name)?;
        }
        Ok(ClientCertVerified::assertion())
    }

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
}
