//! Layers: protocols stacked over a connection's data.
//!
//! A [`Layer`] takes what a connection reads from and writes to (a byte stream or a message
//! channel each way, see [`Data`]) and gives back the same pair as seen through its protocol,
//! after an optional handshake: `length-prefix` turns a byte stream into a message channel;
//! TLS, SOCKS, HTTP CONNECT, WebSocket and the PROXY protocol (both ways) are each a layer
//! that works over any byte stream (TCP, Unix, a program's pipes, another layer).
//!
//! A [`Stack`] applies layers right to left, as a chain is written: in `A|B|TRANSPORT`, the
//! transport opens first, B runs over it, and A over B. So the stack holds its layers
//! outermost first and applies the last one first.
//!
//! A layer decides splicing for each direction by what it gives back. The relay splices a
//! direction only when both its reader and its writer report a descriptor
//! ([`ByteRead::descriptor`](crate::channel::ByteRead::descriptor)); a layer that must see a
//! direction's bytes wraps that half in a type of its own, which reports none, and that
//! direction is copied. A half the layer does not change is given back as it came, and keeps
//! its splice.
//!
//! This module knows the data models and the address language's option values, and nothing of
//! the families or of [`Connection`](crate::Connection), which applies a stack to its data.
//!
//! ```
//! # async fn demo() -> Result<(), socketry::Error> {
//! use std::sync::Arc;
//! use socketry::layer::{LengthPrefix, PrefixWidth, Stack};
//!
//! // What `TCP:127.0.0.1:9000,length-prefix=2` does, written out: messages over the stream.
//! let framing = Stack::new(vec![Arc::new(LengthPrefix(PrefixWidth::Two))]);
//! let mut peer = socketry::connect("TCP:127.0.0.1:9000")
//!     .await?
//!     .stack(&framing)
//!     .await?;
//! peer.write_all(b"one whole message").await?;
//! # Ok(()) }
//! ```

mod base;
pub mod http_connect;
pub mod length_prefix;
pub mod proxy_protocol;
pub(crate) mod reply;
pub mod socks4;
pub mod socks5;
pub mod tls;
pub mod websocket;

use std::sync::Arc;

use crate::address::{OptionId, Options};

pub use base::{Data, Handshake, Layer, LayerError, Learned};
pub use http_connect::{HttpConnect, HttpVersion, LineEnds};
pub use length_prefix::{LengthPrefix, PrefixWidth};
pub use proxy_protocol::{ProxyProtocolReader, ProxyProtocolWriter};
pub use reply::ReplyError;
pub use socks4::{Socks4, Socks4Version};
pub use socks5::{Credentials, Socks5, Socks5Command};
pub use tls::{ClientLayer as TlsClient, ServerLayer as TlsServer};
pub use websocket::{WebSocketClient, WebSocketServer};

/// Layers to stack over a connection, outermost first (as a chain is written, `A|B`, left of
/// the transport). Cloning is cheap: a listener hands the same stack to every connection.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    outermost_first: Vec<Arc<dyn Layer>>,
}

impl Stack {
    /// A stack of `layers`, the outermost first.
    pub fn new(layers: Vec<Arc<dyn Layer>>) -> Stack {
        Stack {
            outermost_first: layers,
        }
    }

    /// The layers an address's options ask for: today `length-prefix`, the only layer written
    /// as an option of its transport.
    pub fn from_options(options: &Options) -> Stack {
        let mut layers: Vec<Arc<dyn Layer>> = Vec::new();
        if let Some(count) = options.count(OptionId::LengthPrefix) {
            let width = if count == 2 {
                PrefixWidth::Two
            } else {
                PrefixWidth::Four
            };
            layers.push(Arc::new(LengthPrefix(width)));
        }
        Stack::new(layers)
    }

    /// The layers an address's options ask for that must run before any other, straight over
    /// the accepted transport: `proxy-protocol`'s header comes before a TLS handshake.
    pub fn first_from_options(options: &Options) -> Stack {
        let mut layers: Vec<Arc<dyn Layer>> = Vec::new();
        // proxy-protocol-from says who sends a header, so it asks for one too.
        if options.has(OptionId::ProxyProtocol) || options.has(OptionId::ProxyProtocolFrom) {
            layers.push(Arc::new(ProxyProtocolReader {
                trusted: options
                    .ranges_of(OptionId::ProxyProtocolFrom)
                    .copied()
                    .collect(),
                version: proxy_protocol::version_of(options),
            }));
        }
        Stack::new(layers)
    }

    /// Whether the stack has no layer, so that applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.outermost_first.is_empty()
    }

    /// The layers, outermost first.
    pub fn layers(&self) -> &[Arc<dyn Layer>] {
        &self.outermost_first
    }

    /// Applies every layer to `data`, innermost first, each over what the one before gave.
    /// `description` names the transport, for errors.
    /// What each layer learned is gathered into the data given back.
    pub async fn apply(&self, mut data: Data, description: &str) -> Result<Data, LayerError> {
        let mut learned = std::mem::take(&mut data.learned);
        let mut below = description.to_owned();
        for layer in self.outermost_first.iter().rev() {
            data = layer.apply(data, &below).await?;
            learned.merge(std::mem::take(&mut data.learned));
            below = format!("{} over {below}", layer.name());
        }
        data.learned = learned;
        Ok(data)
    }

    /// This stack over `inner`: `inner`'s layers run first, then these (a listener's own
    /// layers, the TLS server's handshake, under the ones its options ask for).
    pub fn over(&self, inner: &Stack) -> Stack {
        let mut layers = self.outermost_first.clone();
        layers.extend(inner.outermost_first.iter().cloned());
        Stack::new(layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{ByteReader, ByteWriter, Reader, Writer, MIN_MESSAGE_BUFFER};
    use std::io;
    use std::pin::Pin;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A layer with a handshake that leaves the bytes alone afterwards: each end sends a
    /// greeting and reads the peer's, exactly its length, so that nothing after it is taken.
    #[derive(Debug)]
    struct Greeting(&'static [u8]);

    impl Layer for Greeting {
        fn name(&self) -> &str {
            "greeting"
        }

        fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
            Box::pin(async move {
                let (Some(Reader::Bytes(mut reader)), Some(Writer::Bytes(mut writer))) =
                    (below.reader, below.writer)
                else {
                    return Err(LayerError::Refused(format!(
                        "greeting needs a byte stream both ways, which {description} is not"
                    )));
                };
                let failed = |source| LayerError::Handshake {
                    layer: "greeting".to_owned(),
                    below: description.to_owned(),
                    source,
                };
                writer.write_all(self.0).await.map_err(failed)?;
                let mut heard = vec![0; self.0.len()];
                reader.read_exact(&mut heard).await.map_err(failed)?;
                if heard != self.0 {
                    return Err(failed(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the peer said {heard:?}"),
                    )));
                }
                Ok(Data::new(
                    Some(Reader::Bytes(reader)),
                    Some(Writer::Bytes(writer)),
                ))
            })
        }
    }

    /// A layer that must see what it reads (it upper-cases it) and leaves writing alone.
    #[derive(Debug)]
    struct UpperCaseReading;

    struct UpperCase(ByteReader);

    impl tokio::io::AsyncRead for UpperCase {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            let start = buf.filled().len();
            std::task::ready!(Pin::new(&mut self.0).poll_read(cx, buf))?;
            buf.filled_mut()[start..].make_ascii_uppercase();
            std::task::Poll::Ready(Ok(()))
        }
    }

    impl crate::channel::ByteRead for UpperCase {}

    impl Layer for UpperCaseReading {
        fn name(&self) -> &str {
            "upper-case"
        }

        fn apply<'a>(&'a self, below: Data, _description: &'a str) -> Handshake<'a> {
            Box::pin(async move {
                let reader = match below.reader {
                    Some(Reader::Bytes(stream)) => {
                        Some(Reader::Bytes(Box::new(UpperCase(stream)) as ByteReader))
                    }
                    other => other,
                };
                Ok(Data::new(reader, below.writer))
            })
        }
    }

    /// Both ends of a connected Unix stream socket pair, each as a connection's data.
    fn socket_pair() -> (Data, Data) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let data = |stream: tokio::net::UnixStream| {
            let (read, write) = stream.into_split();
            Data::new(
                Some(Reader::Bytes(Box::new(read) as ByteReader)),
                Some(Writer::Bytes(Box::new(write) as ByteWriter)),
            )
        };
        (data(a), data(b))
    }

    fn stack(layers: Vec<Arc<dyn Layer>>) -> Stack {
        Stack::new(layers)
    }

    #[tokio::test]
    async fn stacked_layers_apply_right_to_left_and_carry_messages_whole() {
        // length-prefix|greeting|socket: the greeting runs over the socket, then the framing
        // over what the greeting gave.
        let layers = stack(vec![
            Arc::new(LengthPrefix(PrefixWidth::Two)),
            Arc::new(Greeting(b"hello\n")),
        ]);
        let (a, b) = socket_pair();
        let (a, b) = tokio::join!(layers.apply(a, "socket a"), layers.apply(b, "socket b"));
        let (mut a, mut b) = (a.unwrap(), b.unwrap());
        assert!(a.reader.as_ref().unwrap().is_messages());

        let mut writer = a.writer.take().unwrap();
        let messages: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![9; 1000]];
        let sent = messages.clone();
        let sending = tokio::spawn(async move {
            for message in &sent {
                writer.write_unit(message).await.unwrap();
            }
            writer.shutdown().await.unwrap();
        });
        let mut reader = b.reader.take().unwrap();
        let mut buf = vec![0; MIN_MESSAGE_BUFFER];
        let mut got = Vec::new();
        while let Some(n) = reader.read_unit(&mut buf).await.unwrap() {
            got.push(buf[..n].to_vec());
        }
        sending.await.unwrap();
        assert_eq!(got, messages);
    }

    #[tokio::test]
    async fn a_layer_stacked_over_messages_is_refused_naming_what_is_below() {
        // greeting|length-prefix|socket: the greeting would have to run over messages.
        let layers = stack(vec![
            Arc::new(Greeting(b"hello\n")),
            Arc::new(LengthPrefix(PrefixWidth::Four)),
        ]);
        let (a, _b) = socket_pair();
        let err = layers.apply(a, "socket a").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "greeting needs a byte stream both ways, which length-prefix over socket a is not"
        );

        let twice = stack(vec![
            Arc::new(LengthPrefix(PrefixWidth::Two)),
            Arc::new(LengthPrefix(PrefixWidth::Two)),
        ]);
        let (a, _b) = socket_pair();
        let err = twice.apply(a, "socket a").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "length-prefix frames a byte stream, but length-prefix over socket a already carries messages"
        );
    }

    #[tokio::test]
    async fn a_failed_handshake_names_the_layer_and_what_is_below() {
        let (a, b) = socket_pair();
        let ours = stack(vec![Arc::new(Greeting(b"hello\n"))]);
        let theirs = stack(vec![Arc::new(Greeting(b"HOWDY\n"))]);
        let (ours, _theirs) = tokio::join!(ours.apply(a, "socket a"), theirs.apply(b, "socket b"));
        assert_eq!(
            ours.unwrap_err().to_string(),
            "greeting handshake over socket a: the peer said [72, 79, 87, 68, 89, 10]"
        );
    }

    #[tokio::test]
    async fn a_layer_turns_splice_off_only_for_the_direction_it_must_see() {
        let (a, b) = socket_pair();
        let passing = stack(vec![Arc::new(Greeting(b"hi"))]);
        let (a, b) = tokio::join!(passing.apply(a, "socket a"), passing.apply(b, "socket b"));
        let (a, mut b) = (a.unwrap(), b.unwrap());
        // A handshake that gives the halves back as they came keeps both spliceable.
        assert!(a.reader.as_ref().unwrap().descriptor().is_some());
        assert!(a.writer.as_ref().unwrap().descriptor().is_some());

        let mut a = stack(vec![Arc::new(UpperCaseReading)])
            .apply(a, "socket a")
            .await
            .unwrap();
        assert!(a.reader.as_ref().unwrap().descriptor().is_none());
        assert!(a.writer.as_ref().unwrap().descriptor().is_some());

        b.writer
            .as_mut()
            .unwrap()
            .write_unit(b"shout")
            .await
            .unwrap();
        b.writer.as_mut().unwrap().shutdown().await.unwrap();
        let mut buf = vec![0; 64];
        let mut heard = Vec::new();
        while let Some(n) = a
            .reader
            .as_mut()
            .unwrap()
            .read_unit(&mut buf)
            .await
            .unwrap()
        {
            heard.extend_from_slice(&buf[..n]);
        }
        assert_eq!(heard, b"SHOUT");
    }

    #[test]
    fn the_options_ask_for_length_prefix_in_the_width_given() {
        for (text, width) in [
            ("TCP:h:1,length-prefix=2", PrefixWidth::Two),
            ("TCP:h:1,length-prefix=4", PrefixWidth::Four),
        ] {
            let crate::Address::Single(spec) = crate::Address::parse(text).unwrap() else {
                panic!("{text} is one address");
            };
            let layers = Stack::from_options(&spec.options);
            assert_eq!(layers.layers().len(), 1, "{text}");
            assert_eq!(
                format!("{:?}", layers.layers()[0]),
                format!("{:?}", LengthPrefix(width))
            );
        }
        let crate::Address::Single(spec) = crate::Address::parse("TCP:h:1").unwrap() else {
            panic!("one address");
        };
        assert!(Stack::from_options(&spec.options).is_empty());
    }
}
