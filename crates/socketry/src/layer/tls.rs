//! TLS as a [`Layer`]: the client's or the server's handshake over any byte stream both
//! ways, giving back the TLS stream's halves. They report no descriptor, so the relay copies
//! through them (the bytes on the wire are not the bytes read), and the connection learns
//! what the handshake established ([`Learned::tls`]).

use std::sync::Arc;

use super::base::{Data, Handshake, Layer, LayerError, Learned};
use crate::channel::{ByteReader, ByteWriter, Reader, Writer};
use crate::tls::{Duplex, TlsClientConfig, TlsError, TlsServerConfig, TlsStream};

/// A TLS client's handshake over the connection below (`OPENSSL`).
#[derive(Debug, Clone)]
pub struct ClientLayer(pub Arc<TlsClientConfig>);

/// A TLS server's handshake over the connection below (`OPENSSL-LISTEN`), run for each
/// accepted connection in the task that serves it.
#[derive(Debug, Clone)]
pub struct ServerLayer(pub Arc<TlsServerConfig>);

impl Layer for ClientLayer {
    fn name(&self) -> &str {
        "TLS"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let io = duplex(below, description)?;
            let stream = self
                .0
                .connect(io)
                .await
                .map_err(|e| failed(e, description))?;
            Ok(established(stream, description))
        })
    }
}

impl Layer for ServerLayer {
    fn name(&self) -> &str {
        "TLS"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let io = duplex(below, description)?;
            let stream = self
                .0
                .accept(io)
                .await
                .map_err(|e| failed(e, description))?;
            Ok(established(stream, description))
        })
    }
}

/// The two byte-stream halves below, joined for the handshake.
fn duplex(below: Data, description: &str) -> Result<Duplex<ByteReader, ByteWriter>, LayerError> {
    match (below.reader, below.writer) {
        (Some(Reader::Bytes(reader)), Some(Writer::Bytes(writer))) => {
            Ok(Duplex::new(reader, writer))
        }
        _ => Err(LayerError::Refused(format!(
            "TLS runs over a byte stream both ways, and {description} is not one"
        ))),
    }
}

fn failed(error: TlsError, description: &str) -> LayerError {
    LayerError::Tls {
        below: description.to_owned(),
        source: Box::new(error),
    }
}

/// Logs the handshake and gives the TLS stream's halves, with what it established.
fn established(stream: TlsStream<Duplex<ByteReader, ByteWriter>>, description: &str) -> Data {
    let peer = stream.peer().clone();
    tracing::info!("{description}: TLS established: {}", peer.describe());
    let (reader, writer) = stream.split();
    let (reader, writer): (ByteReader, ByteWriter) = (Box::new(reader), Box::new(writer));
    let mut data = Data::new(Some(Reader::Bytes(reader)), Some(Writer::Bytes(writer)));
    data.learned = Learned {
        over: peer.version.map(|v| v.to_string()).into_iter().collect(),
        environment: peer.environment(),
        tls: Some(Box::new(peer)),
        ..Learned::default()
    };
    data
}
