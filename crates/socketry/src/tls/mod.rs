//! TLS over any byte stream, on rustls: socat's `OPENSSL` addresses with verification on.
//!
//! This module is the engine, independent of the address language: typed [`TlsSettings`]
//! (socat's option names: `cert`, `key`, `cafile`, `capath`, `verify`, `commonname`,
//! `snihost`, `no-sni`, `min-proto-version`, `max-proto-version`, `cipher`, `compress`, and
//! socketry's `alpn` and `fingerprint`) are checked once into a [`TlsClientConfig`] or a
//! [`TlsServerConfig`], which then run one handshake per connection over any stream
//! (`AsyncRead + AsyncWrite`: a TCP connection, a Unix socket, a program's pipes, another
//! layer) and give back a [`TlsStream`].
//!
//! What a user of `socat` should know:
//!
//! - Verification is on by default, both ways. A client checks the server's certificate
//!   against `cafile`/`capath`, or the system's trust store when neither is given, and checks
//!   that it is valid for `commonname` (by default the host connected to). A server with
//!   `cafile` or `capath` requires a client certificate signed by one of them.
//! - `fingerprint=sha256:HEX` pins the peer's certificate. Without `cafile`/`capath` the pin
//!   takes the place of CA and name verification (a self-signed certificate is then enough);
//!   with them it is checked on top.
//! - A server without `cert` serves an ephemeral self-signed certificate, made at start, whose
//!   fingerprint is logged in the form `fingerprint=` takes.
//! - Options that rustls cannot honour (`method`, `egd`, `dhparams`, `fips`, `pseudo`,
//!   `compress` other than `none`) are refused by name with the reason when the address is
//!   read (the option table says why).
//! - Half-close works as over TCP: shutting the writing half sends `close_notify` and the
//!   reading half keeps reading; the peer's `close_notify` is EOF. A peer that closes the
//!   connection without `close_notify` is a read error ([`TlsError::Truncated`]): the data
//!   may have been cut short by an attacker or a crash.
//!
//! A TLS stream is never spliceable: its bytes on the wire are not the bytes read.

mod config;
mod error;
mod legacy;
mod peer;
mod pem;
mod settings;
mod stream;
mod verify;

pub use config::{TlsClientConfig, TlsServerConfig};
pub use error::TlsError;
pub use peer::{CertificateSummary, PeerInfo};
pub use settings::{
    parse_alpn, parse_compress, CipherList, Fingerprint, FingerprintError, ProtocolVersion, Sni,
    TlsSettings, ValueError, DEFAULT_SERVER_HANDSHAKE_TIMEOUT,
};
pub use stream::{Duplex, TlsReader, TlsStream, TlsWriter};
