//! What every layer and its users share: the data a layer works on ([`Data`]), the
//! [`Layer`] trait and its [`Handshake`], and [`LayerError`]. The layers themselves and the
//! [`Stack`](super::Stack) use these; the parent module re-exports them.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::channel::{Reader, Writer};

/// What a connection reads from and writes to: the part of it a layer works on. A read-only
/// endpoint has no writer, a write-only one no reader.
#[derive(Debug, Default)]
pub struct Data {
    /// Where the relay reads what this side sends.
    pub reader: Option<Reader>,
    /// Where the relay writes what this side receives.
    pub writer: Option<Writer>,
    /// What the layers stacked so far found out about the peer.
    pub learned: Learned,
}

impl Data {
    /// The data of `reader` and `writer`, with nothing learned yet.
    pub fn new(reader: Option<Reader>, writer: Option<Writer>) -> Data {
        Data {
            reader,
            writer,
            learned: Learned::default(),
        }
    }
}

/// What a layer's handshake found out about the peer, for the connection to keep: the
/// [`Stack`](super::Stack) gathers it from every layer, and
/// [`Connection::stack`](crate::Connection::stack) puts it in place.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Learned {
    /// What a TLS handshake established: version, cipher suite, the peer's certificate.
    pub tls: Option<Box<crate::tls::PeerInfo>>,
    /// The peer's own address, when a layer carried it (the PROXY protocol's header): it takes
    /// the place of the socket's peer address for admission, logs and a program's environment.
    pub peer_address: Option<SocketAddr>,
    /// Variables for a program run as the other address (`SOCAT_OPENSSL_...`).
    pub environment: Vec<(String, String)>,
    /// What the connection's description gains, one entry per layer that says
    /// (`TLSv1.3`, read as `TCP ... over TLSv1.3`).
    pub over: Vec<String>,
}

impl Learned {
    /// Adds what a layer above learned: a later value replaces an earlier one.
    pub(crate) fn merge(&mut self, above: Learned) {
        if above.tls.is_some() {
            self.tls = above.tls;
        }
        if above.peer_address.is_some() {
            self.peer_address = above.peer_address;
        }
        self.environment.extend(above.environment);
        self.over.extend(above.over);
    }
}

/// The future a [`Layer::apply`] returns: the handshake, then the layered data.
pub type Handshake<'a> = Pin<Box<dyn Future<Output = Result<Data, LayerError>> + Send + 'a>>;

/// A protocol stacked over a connection's data.
///
/// `apply` runs the layer's handshake, if it has one, over `below` (which may read and write
/// both halves before giving them on), and returns the halves its peer's data travels in from
/// then on. It must give back every half it was given, wrapped or not, so that a read-only or
/// write-only endpoint stays so. `description` names what lies below, for error messages.
pub trait Layer: fmt::Debug + Send + Sync {
    /// The layer's name as the address language spells it (`length-prefix`), for logs and
    /// errors.
    fn name(&self) -> &str;

    /// Stacks this layer over `below`.
    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a>;
}

/// Why a layer could not be stacked over a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// The layer cannot work over what it was given (a stream layer over messages): no
    /// retry changes that.
    #[error("{0}")]
    Refused(String),
    /// The handshake failed on the connection below.
    #[error("{layer} handshake over {below}: {source}")]
    Handshake {
        /// The layer's name.
        layer: String,
        /// What the layer was being stacked over.
        below: String,
        /// What reading or writing the connection below gave.
        source: io::Error,
    },
    /// A TLS handshake failed: the peer got no application data.
    #[error("{below}: {source}")]
    Tls {
        /// What TLS was being stacked over.
        below: String,
        /// What went wrong.
        source: Box<crate::tls::TlsError>,
    },
}

/// The two byte-stream halves a proxy handshake needs, or the refusal naming `layer` and what
/// is below it when they are not there.
pub(crate) fn byte_halves(
    below: Data,
    layer: &str,
    description: &str,
) -> Result<(crate::channel::ByteReader, crate::channel::ByteWriter), LayerError> {
    match (below.reader, below.writer) {
        (Some(Reader::Bytes(reader)), Some(Writer::Bytes(writer))) => Ok((reader, writer)),
        _ => Err(LayerError::Refused(format!(
            "{layer} needs a byte stream both ways, which {description} is not"
        ))),
    }
}
