//! The typed TLS settings, and the parsing of each option's value from the text a user gives.
//!
//! Every value is checked here, when the command line is read; building a configuration
//! from [`TlsSettings`] then only reads files.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use rustls::crypto::ring::cipher_suite as suites;
use rustls::SupportedCipherSuite;

/// The TLS settings of one endpoint, client or server, by socat's option names.
///
/// The default is what socat does with no options: verification on, the system's trust
/// store, SNI and name checks with the host connected to, TLS 1.2 and 1.3, every cipher
/// suite rustls offers.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsSettings {
    /// `cert`: a PEM file with this side's certificate chain (end-entity first), and its
    /// private key too when `key` is not given.
    pub cert: Option<PathBuf>,
    /// `key`: a PEM file with the private key of `cert`.
    pub key: Option<PathBuf>,
    /// `cafile`: a PEM file of certificate authorities to trust.
    pub cafile: Option<PathBuf>,
    /// `capath`: a directory of PEM files of certificate authorities to trust.
    pub capath: Option<PathBuf>,
    /// `verify`: whether the peer's certificate is checked (default: on).
    pub verify: bool,
    /// `commonname`: the name the peer's certificate must be valid for; a client's default
    /// is the host it connects to. On a server, a client certificate must be valid for it.
    pub common_name: Option<String>,
    /// `snihost` and `no-sni`: what a client sends as server name indication.
    pub sni: Sni,
    /// `min-proto-version`: the oldest protocol version spoken.
    pub min_version: ProtocolVersion,
    /// `max-proto-version`: the newest protocol version spoken.
    pub max_version: ProtocolVersion,
    /// `cipher`: the cipher suites offered or accepted; `None` is every suite rustls has.
    pub ciphers: Option<CipherList>,
    /// `alpn`: the application protocols offered (a client) or accepted (a server), in order
    /// of preference.
    pub alpn: Vec<String>,
    /// `fingerprint`: the SHA-256 fingerprint the peer's certificate must have.
    pub fingerprint: Option<Fingerprint>,
    /// `handshake-timeout`: how long a handshake may take. `None` is the default: on a
    /// server [`DEFAULT_SERVER_HANDSHAKE_TIMEOUT`], on a client no limit; zero is no limit.
    pub handshake_timeout: Option<Duration>,
}

/// How long a server waits for a client's handshake unless `handshake-timeout` says
/// otherwise: long enough for any honest client, short enough that silent ones do not hold
/// the connections `max-children` allows.
pub const DEFAULT_SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            cert: None,
            key: None,
            cafile: None,
            capath: None,
            verify: true,
            common_name: None,
            sni: Sni::Default,
            min_version: ProtocolVersion::Tls12,
            max_version: ProtocolVersion::Tls13,
            ciphers: None,
            alpn: Vec::new(),
            fingerprint: None,
            handshake_timeout: None,
        }
    }
}

/// What a client sends as server name indication (SNI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// `commonname` if given, else the host connected to (an IP address is never sent).
    Default,
    /// `snihost=NAME`.
    Host(String),
    /// `no-sni`: no server name is sent.
    Off,
}

/// Why an option's value was not accepted: says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub(super) String);

/// The `compress` option's value: `none`, or `auto` (socat's "let the library choose":
/// rustls has no compression, so it chooses none). Anything else asks for compression, which
/// TLS should not do (CRIME) and rustls cannot.
pub fn parse_compress(text: &str) -> Result<(), ValueError> {
    if text.eq_ignore_ascii_case("none") || text.eq_ignore_ascii_case("auto") {
        Ok(())
    } else {
        Err(ValueError(format!(
            "compress={text} is not supported: TLS compression is unsafe (CRIME) and rustls never compresses; only compress=none (or auto, which is none here) is accepted"
        )))
    }
}

/// A TLS protocol version rustls speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl ProtocolVersion {
    pub(crate) fn rustls(self) -> &'static rustls::SupportedProtocolVersion {
        match self {
            ProtocolVersion::Tls12 => &rustls::version::TLS12,
            ProtocolVersion::Tls13 => &rustls::version::TLS13,
        }
    }

    pub(crate) fn from_rustls(version: rustls::ProtocolVersion) -> Option<Self> {
        match version {
            rustls::ProtocolVersion::TLSv1_2 => Some(ProtocolVersion::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(ProtocolVersion::Tls13),
            _ => None,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::Tls12 => "TLS1.2",
            ProtocolVersion::Tls13 => "TLS1.3",
        })
    }
}

impl FromStr for ProtocolVersion {
    type Err = ValueError;

    /// `TLS1.2` or `TLS1.3`, also spelled as OpenSSL does (`TLSv1.2`) or bare (`1.3`).
    fn from_str(text: &str) -> Result<Self, ValueError> {
        let lower = text.to_ascii_lowercase();
        let bare = lower
            .strip_prefix("tlsv")
            .or_else(|| lower.strip_prefix("tls"))
            .unwrap_or(&lower);
        match bare {
            "1.2" | "1_2" => Ok(ProtocolVersion::Tls12),
            "1.3" | "1_3" => Ok(ProtocolVersion::Tls13),
            "1" | "1.0" | "1.1" | "1_0" | "1_1" => Err(ValueError(format!(
                "{text} is not supported: rustls speaks only TLS1.2 and TLS1.3 (older versions are insecure)"
            ))),
            _ if lower.starts_with("ssl") || lower.starts_with("dtls") => Err(ValueError(format!(
                "{text} is not supported: rustls speaks only TLS1.2 and TLS1.3"
            ))),
            _ => Err(ValueError(format!(
                "\"{text}\" is not a protocol version (expected TLS1.2 or TLS1.3)"
            ))),
        }
    }
}

/// A SHA-256 certificate fingerprint, written `sha256:` and 64 hex digits (colons between
/// the bytes allowed, as `openssl x509 -fingerprint` prints them).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

/// Why a fingerprint did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a fingerprint (expected sha256: followed by 64 hex digits)")]
pub struct FingerprintError {
    text: String,
}

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(der: &[u8]) -> Self {
        use sha2::Digest;
        Fingerprint(sha2::Sha256::digest(der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    fn from_str(text: &str) -> Result<Self, FingerprintError> {
        let error = || FingerprintError {
            text: text.to_owned(),
        };
        let (algorithm, hex) = text.split_once(':').ok_or_else(error)?;
        if !algorithm.eq_ignore_ascii_case("sha256") {
            return Err(error());
        }
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(error());
        }
        let mut bytes = [0; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| error())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| error())?;
        }
        Ok(Fingerprint(bytes))
    }
}

/// The cipher suites rustls has, by their IANA name (as rustls names them) and OpenSSL's.
const SUITES: &[(&str, &str, SupportedCipherSuite)] = &[
    (
        "TLS13_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
        suites::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS13_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
        suites::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS13_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
        suites::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        suites::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        suites::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        suites::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
        suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// OpenSSL cipher-string exclusions that name nothing rustls has (anonymous, null, export
/// and broken ciphers), so excluding them is already true.
const ABSENT_CLASSES: &[&str] = &[
    "anull", "enull", "null", "export", "exp", "low", "des", "3des", "rc4", "md5", "psk", "srp",
    "dss", "adh", "aecdh", "camellia", "idea", "seed", "aria", "sha1",
];

/// The `cipher` option: which cipher suites may be negotiated.
///
/// The text is a `:`-separated list of suite names, IANA's (`TLS13_AES_128_GCM_SHA256`,
/// `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) or OpenSSL's (`TLS_AES_128_GCM_SHA256`,
/// `ECDHE-RSA-AES128-GCM-SHA256`), or `DEFAULT`, `ALL`, `HIGH` (every suite rustls has: they
/// are all of high strength); `!NAME` removes a suite, and `!aNULL`, `!MD5`, `!RC4` and other
/// exclusions of classes rustls never offers are accepted. As in OpenSSL, a list that names
/// no TLS 1.3 suite leaves the TLS 1.3 suites as they are, and likewise for TLS 1.2.
#[derive(Debug, Clone, PartialEq)]
pub struct CipherList {
    text: String,
    suites: Vec<SupportedCipherSuite>,
}

impl CipherList {
    /// The suites, in order of preference.
    pub fn suites(&self) -> &[SupportedCipherSuite] {
        &self.suites
    }
}

impl fmt::Display for CipherList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_tls13(suite: SupportedCipherSuite) -> bool {
    matches!(suite, SupportedCipherSuite::Tls13(_))
}

impl FromStr for CipherList {
    type Err = ValueError;

    fn from_str(text: &str) -> Result<Self, ValueError> {
        let all: Vec<SupportedCipherSuite> = SUITES.iter().map(|&(_, _, s)| s).collect();
        let mut named: Vec<SupportedCipherSuite> = Vec::new();
        let mut removed: Vec<SupportedCipherSuite> = Vec::new();
        for word in text.split([':', ' ']).filter(|w| !w.is_empty()) {
            let (negated, name) = match word.strip_prefix(['!', '-']) {
                Some(name) => (true, name),
                None => (false, word.strip_prefix('+').unwrap_or(word)),
            };
            let every = matches!(
                name.to_ascii_uppercase().as_str(),
                "DEFAULT" | "ALL" | "HIGH"
            );
            let found = SUITES
                .iter()
                .find(|(iana, openssl, _)| {
                    iana.eq_ignore_ascii_case(name) || openssl.eq_ignore_ascii_case(name)
                })
                .map(|&(_, _, suite)| suite);
            match (negated, found) {
                (false, Some(suite)) => {
                    if !named.contains(&suite) {
                        named.push(suite);
                    }
                }
                (true, Some(suite)) => removed.push(suite),
                (false, None) if every => {
                    for suite in &all {
                        if !named.contains(suite) {
                            named.push(*suite);
                        }
                    }
                }
                (true, None) if ABSENT_CLASSES.contains(&name.to_ascii_lowercase().as_str()) => {}
                _ => {
                    let names: Vec<&str> = SUITES.iter().map(|(_, openssl, _)| *openssl).collect();
                    return Err(ValueError(format!(
                        "cipher \"{word}\" is not one rustls can honour (expected names from: {}, or DEFAULT, ALL, HIGH)",
                        names.join(", ")
                    )));
                }
            }
        }
        named.retain(|suite| !removed.contains(suite));
        if named.is_empty() {
            return Err(ValueError(format!(
                "cipher={text} leaves no cipher suite (expected at least one of rustls's suites)"
            )));
        }
        // A version whose suites the list does not name keeps all of its own.
        let mut suites = named.clone();
        for version_13 in [true, false] {
            if !named.iter().any(|&s| is_tls13(s) == version_13) {
                suites.extend(
                    all.iter()
                        .copied()
                        .filter(|&s| is_tls13(s) == version_13 && !removed.contains(&s)),
                );
            }
        }
        Ok(CipherList {
            text: text.to_owned(),
            suites,
        })
    }
}

/// The `alpn` option's value: protocol names separated by `:` or `,` (`h2:http/1.1`).
pub fn parse_alpn(text: &str) -> Result<Vec<String>, ValueError> {
    let names: Vec<String> = text.split([':', ',']).map(str::to_owned).collect();
    if names.iter().any(|n| n.is_empty() || n.len() > 255) {
        return Err(ValueError(format!(
            "alpn=\"{text}\" is not a list of protocol names (expected names of 1 to 255 bytes separated by ':', such as h2:http/1.1)"
        )));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_in_every_usual_spelling_and_old_ones_are_refused_with_the_reason() {
        for (text, version) in [
            ("TLS1.2", ProtocolVersion::Tls12),
            ("TLSv1.2", ProtocolVersion::Tls12),
            ("tls1.3", ProtocolVersion::Tls13),
            ("1.3", ProtocolVersion::Tls13),
        ] {
            assert_eq!(text.parse::<ProtocolVersion>(), Ok(version), "{text}");
        }
        assert_eq!(
            "TLS1.1".parse::<ProtocolVersion>().unwrap_err().to_string(),
            "TLS1.1 is not supported: rustls speaks only TLS1.2 and TLS1.3 (older versions are insecure)"
        );
        assert_eq!(
            "SSLv3".parse::<ProtocolVersion>().unwrap_err().to_string(),
            "SSLv3 is not supported: rustls speaks only TLS1.2 and TLS1.3"
        );
        assert_eq!(
            "fast".parse::<ProtocolVersion>().unwrap_err().to_string(),
            "\"fast\" is not a protocol version (expected TLS1.2 or TLS1.3)"
        );
    }

    #[test]
    fn fingerprints_parse_with_or_without_colons_and_display_in_the_form_they_parse_from() {
        let hex = "ab".repeat(32);
        let plain: Fingerprint = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(plain.0, [0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(format!("SHA256:{colons}").parse::<Fingerprint>(), Ok(plain));
        assert_eq!(plain.to_string().parse::<Fingerprint>(), Ok(plain));
        for bad in [
            "ab",
            "sha1:abcd",
            &format!("sha256:{}", "ab".repeat(31)),
            &format!("sha256:{}", "zz".repeat(32)),
        ] {
            assert_eq!(
                bad.parse::<Fingerprint>().unwrap_err().to_string(),
                format!(
                    "\"{bad}\" is not a fingerprint (expected sha256: followed by 64 hex digits)"
                )
            );
        }
    }

    #[test]
    fn cipher_lists_take_both_namings_and_keep_the_other_version_whole() {
        let list: CipherList = "ECDHE-RSA-AES128-GCM-SHA256".parse().unwrap();
        assert_eq!(
            list.suites()[0],
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        );
        assert_eq!(list.suites().iter().filter(|s| !is_tls13(**s)).count(), 1);
        assert_eq!(list.suites().iter().filter(|s| is_tls13(**s)).count(), 3);

        let list: CipherList = "TLS13_AES_256_GCM_SHA384".parse().unwrap();
        assert_eq!(list.suites().iter().filter(|s| is_tls13(**s)).count(), 1);
        assert_eq!(list.suites().iter().filter(|s| !is_tls13(**s)).count(), 6);

        let list: CipherList = "HIGH:!aNULL:!MD5:!ECDHE-RSA-CHACHA20-POLY1305"
            .parse()
            .unwrap();
        assert_eq!(list.suites().len(), 8);
        assert!(!list
            .suites()
            .contains(&suites::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256));

        let error = "RC4-SHA".parse::<CipherList>().unwrap_err().to_string();
        assert!(error.starts_with("cipher \"RC4-SHA\" is not one rustls can honour (expected names from: TLS_AES_256_GCM_SHA384,"), "{error}");
        assert_eq!(
            "HIGH:!TLS_AES_256_GCM_SHA384:!TLS_AES_128_GCM_SHA256:!TLS_CHACHA20_POLY1305_SHA256:!ECDHE-ECDSA-AES256-GCM-SHA384:!ECDHE-ECDSA-AES128-GCM-SHA256:!ECDHE-ECDSA-CHACHA20-POLY1305:!ECDHE-RSA-AES256-GCM-SHA384:!ECDHE-RSA-AES128-GCM-SHA256:!ECDHE-RSA-CHACHA20-POLY1305"
                .parse::<CipherList>()
                .unwrap_err()
                .to_string()
                .split(" leaves")
                .nth(1),
            Some(" no cipher suite (expected at least one of rustls's suites)")
        );
    }

    #[test]
    fn compression_is_refused_except_none_and_auto() {
        assert_eq!(parse_compress("none"), Ok(()));
        assert_eq!(parse_compress("AUTO"), Ok(()));
        assert!(parse_compress("zlib")
            .unwrap_err()
            .to_string()
            .starts_with("compress=zlib is not supported: TLS compression is unsafe"));
    }

    #[test]
    fn alpn_lists_split_on_colons_or_commas_and_refuse_empty_names() {
        assert_eq!(
            parse_alpn("h2:http/1.1"),
            Ok(vec!["h2".to_owned(), "http/1.1".to_owned()])
        );
        assert_eq!(
            parse_alpn("h2,http/1.1"),
            Ok(vec!["h2".to_owned(), "http/1.1".to_owned()])
        );
        assert!(parse_alpn("h2::x").is_err());
    }
}
