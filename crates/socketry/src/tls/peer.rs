//! What a handshake learnt about the peer: its certificate, the version and cipher suite
//! negotiated, and the environment a program run for the connection sees.

use rustls::CommonState;
use x509_parser::objects::{oid2abbrev, oid_registry};
use x509_parser::x509::X509Name;

use super::settings::{Fingerprint, ProtocolVersion};

/// The parts of a certificate a user recognises it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The subject in OpenSSL's one-line form: `/C=XY/O=Example/CN=host`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// The subject's common name, if it has one.
    pub common_name: Option<String>,
    /// The SHA-256 fingerprint of the DER encoding.
    pub fingerprint: Fingerprint,
}

impl CertificateSummary {
    /// Reads a DER-encoded certificate; one that does not parse is still summarised by its
    /// fingerprint.
    pub fn of(der: &[u8]) -> Self {
        let fingerprint = Fingerprint::of(der);
        match x509_parser::parse_x509_certificate(der) {
            Ok((_, certificate)) => CertificateSummary {
                subject: one_line(certificate.subject()),
                issuer: one_line(certificate.issuer()),
                common_name: certificate
                    .subject()
                    .iter_common_name()
                    .next()
                    .and_then(|cn| cn.as_str().ok())
                    .map(str::to_owned),
                fingerprint,
            },
            Err(_) => CertificateSummary {
                subject: String::new(),
                issuer: String::new(),
                common_name: None,
                fingerprint,
            },
        }
    }

    /// The certificate in a few words: `subject /CN=host, issuer /CN=ca`.
    pub fn describe(&self) -> String {
        if self.subject == self.issuer {
            format!("self-signed, subject \"{}\"", self.subject)
        } else {
            format!("subject \"{}\", issuer \"{}\"", self.subject, self.issuer)
        }
    }
}

fn one_line(name: &X509Name<'_>) -> String {
    let mut text = String::new();
    for rdn in name.iter() {
        for attribute in rdn.iter() {
            let key = oid2abbrev(attribute.attr_type(), oid_registry())
                .map(str::to_owned)
                .unwrap_or_else(|_| attribute.attr_type().to_id_string());
            let value = attribute
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(attribute.as_slice()).into_owned());
            text.push('/');
            text.push_str(&key);
            text.push('=');
            text.push_str(&value);
        }
    }
    text
}

/// What the handshake established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The protocol version negotiated.
    pub version: Option<ProtocolVersion>,
    /// The cipher suite negotiated, by its IANA name.
    pub cipher: Option<String>,
    /// The application protocol agreed on with ALPN.
    pub alpn: Option<String>,
    /// The server name the client asked for (on a server).
    pub sni: Option<String>,
    /// The peer's end-entity certificate, if it sent one.
    pub certificate: Option<CertificateSummary>,
}

impl PeerInfo {
    pub(super) fn of(state: &CommonState, sni: Option<&str>) -> Self {
        PeerInfo {
            version: state
                .protocol_version()
                .and_then(ProtocolVersion::from_rustls),
            cipher: state
                .negotiated_cipher_suite()
                .map(|suite| suite_name(suite.suite())),
            alpn: state
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            sni: sni.map(str::to_owned),
            certificate: state
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|der| CertificateSummary::of(der)),
        }
    }

    /// The environment a program run for this connection sees: socat's
    /// `SOCAT_OPENSSL_X509_SUBJECT`, `_ISSUER` and `_COMMONNAME` (OpenSSL's one-line form),
    /// and socketry's `SOCKETRY_TLS_VERSION`, `_CIPHER`, `_ALPN`, `_SNI`, `_SUBJECT`,
    /// `_ISSUER`, `_FINGERPRINT` (in the form `fingerprint=` takes). A variable whose value is
    /// unknown is left out.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(certificate) = &self.certificate {
            env.push(("SOCAT_OPENSSL_X509_SUBJECT", certificate.subject.clone()));
            env.push(("SOCAT_OPENSSL_X509_ISSUER", certificate.issuer.clone()));
            if let Some(cn) = &certificate.common_name {
                env.push(("SOCAT_OPENSSL_X509_COMMONNAME", cn.clone()));
            }
            env.push(("SOCKETRY_TLS_SUBJECT", certificate.subject.clone()));
            env.push(("SOCKETRY_TLS_ISSUER", certificate.issuer.clone()));
            env.push((
                "SOCKETRY_TLS_FINGERPRINT",
                certificate.fingerprint.to_string(),
            ));
        }
        if let Some(version) = self.version {
            env.push(("SOCKETRY_TLS_VERSION", version.to_string()));
        }
        if let Some(cipher) = &self.cipher {
            env.push(("SOCKETRY_TLS_CIPHER", cipher.clone()));
        }
        if let Some(alpn) = &self.alpn {
            env.push(("SOCKETRY_TLS_ALPN", alpn.clone()));
        }
        if let Some(sni) = &self.sni {
            env.push(("SOCKETRY_TLS_SNI", sni.clone()));
        }
        env
    }

    /// The connection in a few words, for logs: `TLS1.3 TLS13_AES_256_GCM_SHA384, peer
    /// subject "/CN=host", issuer "/CN=ca"`.
    pub fn describe(&self) -> String {
        let mut text = match self.version {
            Some(version) => version.to_string(),
            None => "TLS".to_owned(),
        };
        if let Some(cipher) = &self.cipher {
            text.push(' ');
            text.push_str(cipher);
        }
        match &self.certificate {
            Some(certificate) => {
                text.push_str(", peer ");
                text.push_str(&certificate.describe());
            }
            None => text.push_str(", the peer sent no certificate"),
        }
        text
    }
}

fn suite_name(suite: rustls::CipherSuite) -> String {
    match suite.as_str() {
        Some(name) => name.to_owned(),
        None => format!("{suite:?}"),
    }
}
