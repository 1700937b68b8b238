//! Reading certificates, keys and certificate authorities from PEM files, with errors that
//! name the file.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::error::TlsError;

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn malformed(path: &Path, error: pem::Error) -> TlsError {
    TlsError::MalformedPem {
        path: path.to_owned(),
        reason: match error {
            pem::Error::MissingSectionEnd { end_marker } => {
                format!(
                    "a section has no \"-----END {}-----\" line",
                    String::from_utf8_lossy(&end_marker)
                )
            }
            pem::Error::IllegalSectionStart { line } => {
                format!("bad section start \"{}\"", String::from_utf8_lossy(&line))
            }
            pem::Error::Base64Decode(why) => format!("bad base64 ({why})"),
            other => other.to_string(),
        },
    }
}

/// The certificates of a PEM file, in order; a file with none is an error.
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| malformed(path, error))?;
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(super) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|error| match error {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.to_owned(),
        },
        other => malformed(path, other),
    })
}

/// Adds the certificate authorities of `cafile` and of every file in `capath` to a store.
/// In `capath`, files that hold no certificate (OpenSSL's hash links to CRLs, a README) are
/// skipped, but a directory with no certificate at all is an error.
pub(super) fn authorities(
    cafile: Option<&Path>,
    capath: Option<&Path>,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), TlsError> {
    let mut store = RootCertStore::empty();
    let mut anchors = Vec::new();
    if let Some(path) = cafile {
        for certificate in certificates(path)? {
            anchors.push(certificate.clone());
            store
                .add(certificate)
                .map_err(|error| TlsError::BadAuthority {
                    path: path.to_owned(),
                    reason: super::error::describe_rustls(&error),
                })?;
        }
    }
    if let Some(dir) = capath {
        let entries = std::fs::read_dir(dir).map_err(|source| TlsError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| TlsError::Read {
                path: dir.to_owned(),
                source,
            })?;
            paths.push(entry.path());
        }
        paths.sort();
        let mut found = 0;
        for path in paths.iter().filter(|p| p.is_file()) {
            let bytes = read(path)?;
            for certificate in CertificateDer::pem_slice_iter(&bytes).flatten() {
                anchors.push(certificate.clone());
                if store.add(certificate).is_ok() {
                    found += 1;
                }
            }
        }
        if found == 0 {
            return Err(TlsError::NoCertificate {
                path: dir.to_owned(),
            });
        }
    }
    Ok((store, anchors))
}

/// The system's trust store, as rustls-native-certs finds it (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` are honoured).
pub(super) fn system_authorities() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut store = RootCertStore::empty();
    let (added, _) = store.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "it holds no certificate".to_owned());
        return Err(TlsError::TrustStore(why));
    }
    Ok(store)
}
