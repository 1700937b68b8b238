//! Why opening an endpoint failed ([`OpenError`]), and the timeout every connect and
//! handshake shares (`within`). Part of the connection core: it knows no family.

use std::io;
use std::time::Duration;

use crate::layer::LayerError;
use crate::sys;

/// Why an endpoint could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A system call failed while doing `action`.
    #[error("{action}: {}", sys::error_text(.source))]
    Io {
        /// What was being done.
        action: String,
        /// What the system said.
        source: io::Error,
    },
    /// A host name did not resolve.
    #[error("resolving \"{host}\": {reason}")]
    Resolve {
        /// The name.
        host: String,
        /// Why it did not resolve.
        reason: String,
    },
    /// `action` did not complete within its timeout.
    #[error("{action}: timed out after {}s", .after.as_secs_f64())]
    TimedOut {
        /// What was being done.
        action: String,
        /// The timeout.
        after: Duration,
    },
    /// socketry refused to do something unsafe or meaningless.
    #[error("{0}")]
    Refused(String),
    /// No peer came within `accept-timeout`: nothing went wrong, there is just nothing to do.
    #[error("no peer on {listener} within {}s (accept-timeout)", .after.as_secs_f64())]
    NoPeer {
        /// The listener, for the message.
        listener: String,
        /// The accept timeout.
        after: Duration,
    },
    /// The TLS handshake over `connection` failed: the peer got no application data.
    #[error("{connection}: {source}")]
    Tls {
        /// The connection, for the message.
        connection: String,
        /// What went wrong.
        source: Box<crate::tls::TlsError>,
    },
}

impl From<LayerError> for OpenError {
    fn from(e: LayerError) -> OpenError {
        match e {
            LayerError::Refused(why) => OpenError::Refused(why),
            LayerError::Handshake {
                layer,
                below,
                source,
            } => OpenError::Io {
                action: format!("{layer} handshake over {below}"),
                source,
            },
            LayerError::Tls { below, source } => OpenError::Tls {
                connection: below,
                source,
            },
        }
    }
}

impl OpenError {
    /// The error of `action` failing with an OS error; a `&str` action becomes a `String`
    /// only if it does fail.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> OpenError {
        move |source| OpenError::Io {
            action: action.into(),
            source,
        }
    }

    /// Whether trying again later may succeed: a TLS peer that closed during the handshake
    /// or sent something else first, not one that refused a certificate.
    pub fn may_pass_later(&self) -> bool {
        match self {
            OpenError::Tls { source, .. } => matches!(
                **source,
                crate::tls::TlsError::Plaintext | crate::tls::TlsError::HandshakeEof
            ),
            _ => false,
        }
    }

    /// The underlying OS error, if any.
    pub fn os_error(&self) -> Option<&io::Error> {
        match self {
            OpenError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Runs `work` (a connect or a handshake, described by `action`, which is written out only
/// if it fails), giving up after `limit` (`connect-timeout`) when one is set.
pub(crate) async fn within<T>(
    limit: Option<Duration>,
    action: &(dyn std::fmt::Display + Sync),
    work: impl std::future::Future<Output = io::Result<T>>,
) -> Result<T, OpenError> {
    let result = match limit {
        Some(after) => {
            tokio::time::timeout(after, work)
                .await
                .map_err(|_| OpenError::TimedOut {
                    action: action.to_string(),
                    after,
                })?
        }
        None => work.await,
    };
    result.map_err(|source| OpenError::Io {
        action: action.to_string(),
        source,
    })
}
