//! Certificates for the TLS tests, made in a per-test directory: certificate authorities,
//! and server and client certificates signed by them (valid, expired, not yet valid).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rustls_pki_types::pem::PemObject;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A certificate authority that signs the test certificates.
pub struct Authority {
    certificate: Certificate,
    key: KeyPair,
    /// Its certificate, as a PEM file.
    pub pem: PathBuf,
}

/// A certificate and its key, as PEM files.
pub struct Identity {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The certificate's DER encoding.
    pub der: Vec<u8>,
}

/// How long a certificate is valid.
#[derive(Clone, Copy)]
pub enum Validity {
    Now,
    Expired,
    NotYetValid,
}

impl Authority {
    pub fn new(dir: &Path, name: &str) -> Authority {
        let key = KeyPair::generate().expect("generate a key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let certificate = params.self_signed(&key).expect("self-sign");
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, certificate.pem()).expect("write the CA");
        Authority {
            certificate,
            key,
            pem,
        }
    }

    /// A certificate for `names` (DNS names or IP addresses), with common name `names[0]`.
    pub fn issue(&self, dir: &Path, file: &str, names: &[&str], validity: Validity) -> Identity {
        let key = KeyPair::generate().expect("generate a key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, names[0]);
        match validity {
            Validity::Now => {}
            Validity::Expired => {
                params.not_before = rcgen::date_time_ymd(2001, 1, 1);
                params.not_after = rcgen::date_time_ymd(2002, 1, 1);
            }
            Validity::NotYetValid => {
                params.not_before = rcgen::date_time_ymd(2098, 1, 1);
                params.not_after = rcgen::date_time_ymd(2099, 1, 1);
            }
        }
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .expect("sign");
        write_identity(dir, file, &certificate, &key)
    }
}

/// A self-signed certificate for `names`.
pub fn self_signed(dir: &Path, file: &str, names: &[&str]) -> Identity {
    let key = KeyPair::generate().expect("generate a key");
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name.push(DnType::CommonName, names[0]);
    let certificate = params.self_signed(&key).expect("self-sign");
    write_identity(dir, file, &certificate, &key)
}

fn write_identity(dir: &Path, file: &str, certificate: &Certificate, key: &KeyPair) -> Identity {
    let cert = dir.join(format!("{file}.crt"));
    let key_path = dir.join(format!("{file}.key"));
    std::fs::write(&cert, certificate.pem()).expect("write the certificate");
    std::fs::write(&key_path, key.serialize_pem()).expect("write the key");
    Identity {
        cert,
        key: key_path,
        der: certificate.der().to_vec(),
    }
}

/// The SHA-256 fingerprint of a DER certificate, as `fingerprint=` takes it.
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(der);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// How a version 1 certificate is signed, and with which key type.
#[derive(Clone, Copy)]
pub enum Key {
    Rsa,
    EcdsaP256,
}

/// An X.509 version 1 certificate (no extensions at all), as `openssl req -x509` makes it
/// from a configuration that names none: self-signed, or signed by `issuer`. The openssl
/// CLI makes it, since rcgen makes only version 3.
pub fn v1(
    dir: &Path,
    file: &str,
    common_name: &str,
    key: Key,
    issuer: Option<&Identity>,
) -> Identity {
    let config = dir.join(format!("{file}.conf"));
    std::fs::write(
        &config,
        format!("prompt=no\n[ req ]\ndistinguished_name=dn\n[ dn ]\nCN={common_name}\nO=socketry tests\n"),
    )
    .expect("write the openssl configuration");
    let cert = dir.join(format!("{file}.crt"));
    let key_path = dir.join(format!("{file}.key"));
    let new_key: &[&str] = match key {
        Key::Rsa => &["-newkey", "rsa:2048"],
        Key::EcdsaP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    };
    let run = |command: &mut Command| {
        let output = command
            .output()
            .expect("run openssl (apt-get install openssl)");
        assert!(
            output.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    match issuer {
        None => run(Command::new("openssl")
            .args(["req", "-new", "-x509", "-nodes", "-days", "30"])
            .args(new_key)
            .arg("-config")
            .arg(&config)
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert)),
        Some(issuer) => {
            let request = dir.join(format!("{file}.csr"));
            run(Command::new("openssl")
                .args(["req", "-new", "-nodes"])
                .args(new_key)
                .arg("-config")
                .arg(&config)
                .arg("-keyout")
                .arg(&key_path)
                .arg("-out")
                .arg(&request));
            run(Command::new("openssl")
                .args(["x509", "-req", "-days", "30", "-set_serial", "7"])
                .arg("-in")
                .arg(&request)
                .arg("-CA")
                .arg(&issuer.cert)
                .arg("-CAkey")
                .arg(&issuer.key)
                .arg("-out")
                .arg(&cert));
        }
    }
    let pem = std::fs::read(&cert).expect("read the certificate");
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
        .expect("a PEM certificate")
        .to_vec();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).expect("an X.509 certificate");
    assert_eq!(parsed.version(), x509_parser::x509::X509Version::V1);
    Identity {
        cert,
        key: key_path,
        der,
    }
}
