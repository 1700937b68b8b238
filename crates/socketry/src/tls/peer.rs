//! What a handshake learnt about the peer: its certificate, the version and cipher suite
//! negotiated, and the environment a program run for the connection sees.

use rustls::CommonState;
use x509_parser::objects::{oid2abbrev, oid2sn, oid_registry};
use x509_parser::oid_registry::{OID_PKCS9_EMAIL_ADDRESS, OID_X509_ORGANIZATIONAL_UNIT};
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
    /// The subject's attributes in order, each by its long name (`countryName`,
    /// `commonName`, ...) with its value: what socat puts in `SOCAT_OPENSSL_X509_<NAME>`.
    pub subject_attributes: Vec<(String, String)>,
    /// The subject as OpenSSL prints it and socat passes it on: `C = XY, CN = host`.
    pub subject_printed: String,
    /// The issuer, in the same form.
    pub issuer_printed: String,
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
                subject_attributes: attributes(certificate.subject())
                    .map(|a| (a.long.to_owned(), a.value))
                    .collect(),
                subject_printed: printed(certificate.subject()),
                issuer_printed: printed(certificate.issuer()),
                fingerprint,
            },
            Err(_) => CertificateSummary {
                subject: String::new(),
                issuer: String::new(),
                common_name: None,
                subject_attributes: Vec::new(),
                subject_printed: String::new(),
                issuer_printed: String::new(),
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

/// One attribute of a name, by OpenSSL's short and long names.
struct Attribute {
    short: String,
    long: String,
    value: String,
    /// Whether it is part of the same relative distinguished name as the one before.
    continues: bool,
}

fn attributes<'a>(name: &'a X509Name<'_>) -> impl Iterator<Item = Attribute> + 'a {
    name.iter().flat_map(|rdn| {
        rdn.iter().enumerate().map(|(i, attribute)| {
            let oid = attribute.attr_type();
            // OpenSSL's long names, which are the registry's but for one.
            let long = if *oid == OID_X509_ORGANIZATIONAL_UNIT {
                "organizationalUnitName".to_owned()
            } else {
                oid2sn(oid, oid_registry())
                    .map(str::to_owned)
                    .unwrap_or_else(|_| oid.to_id_string())
            };
            // OpenSSL's short names, but for the e-mail address, which it calls by its long
            // name.
            let short = if *oid == OID_PKCS9_EMAIL_ADDRESS {
                long.clone()
            } else {
                oid2abbrev(oid, oid_registry())
                    .map(str::to_owned)
                    .unwrap_or_else(|_| oid.to_id_string())
            };
            let value = attribute
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(attribute.as_slice()).into_owned());
            Attribute {
                short,
                long,
                value,
                continues: i > 0,
            }
        })
    })
}

fn one_line(name: &X509Name<'_>) -> String {
    let mut text = String::new();
    for attribute in attributes(name) {
        text.push('/');
        text.push_str(&attribute.short);
        text.push('=');
        text.push_str(&attribute.value);
    }
    text
}

/// A name as OpenSSL 3 prints it by default (`C = XY, CN = host, O = "A, B"`): attributes
/// separated by `, ` (`+` within one relative name), a value with special characters
/// quoted.
fn printed(name: &X509Name<'_>) -> String {
    let mut text = String::new();
    for attribute in attributes(name) {
        if !text.is_empty() {
            text.push_str(if attribute.continues { " + " } else { ", " });
        }
        text.push_str(&attribute.short);
        text.push_str(" = ");
        let special = attribute.value.starts_with([' ', '#'])
            || attribute.value.ends_with(' ')
            || attribute
                .value
                .contains([',', '+', '"', '\\', '<', '>', ';']);
        if special {
            text.push('"');
            text.push_str(&attribute.value.replace('"', "\\\""));
            text.push('"');
        } else {
            text.push_str(&attribute.value);
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
    /// `SOCAT_OPENSSL_X509_SUBJECT` and `_ISSUER` (as OpenSSL prints them: `C = XY, CN =
    /// host`) and one `SOCAT_OPENSSL_X509_<ATTRIBUTE>` for each attribute of the subject, by
    /// its long name (`_COMMONNAME`, `_COUNTRYNAME`, `_ORGANIZATIONNAME`, ...); and
    /// socketry's `SOCKETRY_TLS_VERSION`, `_CIPHER`, `_ALPN`, `_SNI`, `_SUBJECT`, `_ISSUER`
    /// (in the `/CN=host` form), `_FINGERPRINT` (in the form `fingerprint=` takes). A
    /// variable whose value is unknown is left out.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = Vec::new();
        let mut set = |name: &str, value: &str| env.push((name.to_owned(), value.to_owned()));
        if let Some(certificate) = &self.certificate {
            set("SOCAT_OPENSSL_X509_SUBJECT", &certificate.subject_printed);
            set("SOCAT_OPENSSL_X509_ISSUER", &certificate.issuer_printed);
            for (name, value) in &certificate.subject_attributes {
                let variable = format!("SOCAT_OPENSSL_X509_{}", name.to_ascii_uppercase());
                // Socat's names are C identifiers; an attribute known only by its dotted
                // number has none.
                if variable
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    set(&variable, value);
                }
            }
            set("SOCKETRY_TLS_SUBJECT", &certificate.subject);
            set("SOCKETRY_TLS_ISSUER", &certificate.issuer);
            set(
                "SOCKETRY_TLS_FINGERPRINT",
                &certificate.fingerprint.to_string(),
            );
        }
        if let Some(version) = self.version {
            set("SOCKETRY_TLS_VERSION", &version.to_string());
        }
        if let Some(cipher) = &self.cipher {
            set("SOCKETRY_TLS_CIPHER", cipher);
        }
        if let Some(alpn) = &self.alpn {
            set("SOCKETRY_TLS_ALPN", alpn);
        }
        if let Some(sni) = &self.sni {
            set("SOCKETRY_TLS_SNI", sni);
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
