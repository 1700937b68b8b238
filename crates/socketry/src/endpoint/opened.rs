//! What opening an address gives ([`Opened`]: a connection or a listener), and what every
//! opened endpoint gets after its family opened it (`finish_open`).

use super::connection::{Connection, DataOptions};
use super::error::OpenError;
use super::listener::Listener;
use crate::address::{OptionId, Options};
use crate::channel::Reader;
use crate::layer::Stack;

/// What opening an address gave.
// An Opened is moved once, straight after opening: boxing the connection would cost every
// connection an allocation to save a copy of a few hundred bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Opened {
    /// A ready connection.
    Connection(Connection),
    /// A listener that yields connections.
    Listener(Listener),
}

/// What every opened endpoint gets after its family opened it: `readbytes=N`, the data
/// options (line endings, EOF handling), then the layers the options ask for (`length-prefix`),
/// then the layers of its chain, `chain`, over those.
pub(crate) async fn finish_open(
    opened: Opened,
    options: &Options,
    chain: &Stack,
) -> Result<Opened, OpenError> {
    let layers = chain.over(&Stack::from_options(options));
    Ok(match opened {
        Opened::Connection(mut c) => {
            if let Some(limit) = options.count(OptionId::ReadBytes) {
                c.reader = c
                    .reader
                    .take()
                    .map(|r| limit_reading(r, limit))
                    .transpose()?;
            }
            c.data = DataOptions::from_options(options);
            Opened::Connection(c.stack(&layers).await?)
        }
        Opened::Listener(l) => Opened::Listener(
            l.with_data_options(DataOptions::from_options(options))
                .with_layers(layers)
                .with_peer_layers(Stack::first_from_options(options)),
        ),
    })
}

/// A reader cut off after N bytes keeps to the copy path: a splice would not stop at N.
impl crate::channel::ByteRead for tokio::io::Take<crate::channel::ByteReader> {}

/// `readbytes=N`: the reader ends after N bytes.
fn limit_reading(reader: Reader, limit: u64) -> Result<Reader, OpenError> {
    use tokio::io::AsyncReadExt;
    match reader {
        Reader::Bytes(stream) => Ok(Reader::Bytes(Box::new(stream.take(limit)))),
        Reader::Messages(_) => Err(OpenError::Refused(
            "readbytes applies to byte streams; this address carries messages".to_owned(),
        )),
    }
}
