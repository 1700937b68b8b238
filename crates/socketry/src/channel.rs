//! The two data models every endpoint is one of, and the adapters between them.
//!
//! A **byte stream** (TCP, Unix stream, standard streams, inherited descriptors) has no
//! boundaries: a read returns whatever is available, and EOF is the end. A **message channel**
//! (UDP, Unix datagram, seqpacket) moves whole messages whose boundaries are kept.
//!
//! The relay moves data in *units*: [`Reader::read_unit`] returns what one read gave, and
//! [`Writer::write_unit`] writes it. The conversion between the two models happens there and
//! only there:
//!
//! - message to stream: each message's bytes are written to the stream in order, whole;
//! - stream to message: each stream read becomes one message, so a message is at most one
//!   relay buffer long (64 KiB at least, see [`MIN_MESSAGE_BUFFER`]).

use std::future::poll_fn;
use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Buffers that receive messages are at least this big, so that no UDP datagram is cut.
pub const MIN_MESSAGE_BUFFER: usize = 64 * 1024;

/// The reading half of a byte stream.
pub type ByteReader = Box<dyn AsyncRead + Send + Unpin>;
/// The writing half of a byte stream.
pub type ByteWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// The receiving half of a message channel.
pub trait MessageRecv: Send + Unpin {
    /// Receives one message into `buf`: `Some(len)`, or `None` when the channel has ended.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>>;
}

/// The sending half of a message channel.
pub trait MessageSend: Send + Unpin {
    /// Sends `msg` as one message.
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>>;

    /// Tells the peer no more messages follow, where the channel can say so (seqpacket).
    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Where a relay direction reads from.
pub enum Reader {
    Bytes(ByteReader),
    Messages(Box<dyn MessageRecv>),
}

/// Where a relay direction writes to.
pub enum Writer {
    Bytes(ByteWriter),
    Messages(Box<dyn MessageSend>),
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reader::Bytes(_) => "Reader::Bytes",
            Reader::Messages(_) => "Reader::Messages",
        })
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writer::Bytes(_) => "Writer::Bytes",
            Writer::Messages(_) => "Writer::Messages",
        })
    }
}

impl Reader {
    /// Whether this reader delivers whole messages.
    pub fn is_messages(&self) -> bool {
        matches!(self, Reader::Messages(_))
    }

    /// Reads one unit: what one stream read gives, or one whole message. `None` is EOF.
    pub async fn read_unit(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self {
            Reader::Bytes(reader) => match reader.read(buf).await? {
                0 => Ok(None),
                n => Ok(Some(n)),
            },
            Reader::Messages(recv) => poll_fn(|cx| recv.poll_recv(cx, buf)).await,
        }
    }
}

impl Writer {
    /// Writes one unit: all of it to a stream, or as one message.
    pub async fn write_unit(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Writer::Bytes(writer) => {
                writer.write_all(data).await?;
                writer.flush().await
            }
            Writer::Messages(send) => poll_fn(|cx| send.poll_send(cx, data)).await,
        }
    }

    /// Ends the writing direction: the peer sees EOF where the channel can carry it.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Bytes(writer) => writer.shutdown().await,
            Writer::Messages(send) => poll_fn(|cx| send.poll_close(cx)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages from a fixed list: the test double for a datagram socket.
    struct Script(Vec<Vec<u8>>);

    impl MessageRecv for Script {
        fn poll_recv(
            &mut self,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<Option<usize>>> {
            if self.0.is_empty() {
                return Poll::Ready(Ok(None));
            }
            let msg = self.0.remove(0);
            buf[..msg.len()].copy_from_slice(&msg);
            Poll::Ready(Ok(Some(msg.len())))
        }
    }

    #[tokio::test]
    async fn messages_keep_their_boundaries_and_streams_get_their_bytes_in_order() {
        let mut reader = Reader::Messages(Box::new(Script(vec![
            b"ab".to_vec(),
            b"".to_vec(),
            b"cde".to_vec(),
        ])));
        let mut buf = vec![0; MIN_MESSAGE_BUFFER];
        let mut units = Vec::new();
        while let Some(n) = reader.read_unit(&mut buf).await.unwrap() {
            units.push(buf[..n].to_vec());
        }
        assert_eq!(units, vec![b"ab".to_vec(), vec![], b"cde".to_vec()]);

        let (client, mut server) = tokio::io::duplex(64);
        let mut writer = Writer::Bytes(Box::new(client));
        for unit in &units {
            writer.write_unit(unit).await.unwrap();
        }
        writer.shutdown().await.unwrap();
        drop(writer);
        let mut all = Vec::new();
        server.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcde");
    }
}
