//! The two data models every endpoint is one of, and the adapters between them.
//!
//! A **byte stream** (TCP, Unix stream, standard streams, inherited descriptors) has no
//! boundaries: a read returns whatever is available, and EOF is the end. A **message channel**
//! (UDP, Unix datagram, seqpacket, POSIX message queues, TUN/TAP packets) moves whole messages
//! whose boundaries are kept.
//!
//! The relay moves data in *units*: [`Reader::read_unit`] returns what one read gave, and
//! [`Writer::write_unit`] writes it. The conversion between the two models happens there and
//! only there:
//!
//! - message to stream: each message's bytes are written to the stream in order, whole;
//! - stream to message: each stream read becomes one message, so a message is at most one
//!   relay buffer long (64 KiB at least, see [`MIN_MESSAGE_BUFFER`]), and no longer than
//!   the largest message the channel takes ([`MessageSend::max_message`]).
//!
//! A byte stream can also carry messages whole, when both ends agree on a framing: that is a
//! [layer](crate::layer) stacked over the stream, such as
//! [`LengthPrefix`](crate::layer::LengthPrefix) (the `length-prefix` option).
//!
//! A byte stream backed by a file descriptor that the kernel can splice (a socket or a pipe)
//! says so through [`ByteRead::descriptor`] and [`ByteWrite::descriptor`]: the relay then
//! moves its bytes without copying them, and waits for readiness before it takes a buffer.

use std::future::poll_fn;
use std::io;
use std::os::fd::BorrowedFd;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};

/// Buffers that receive messages are at least this big, so that no UDP datagram is cut.
pub const MIN_MESSAGE_BUFFER: usize = 64 * 1024;

/// A non-blocking descriptor registered with the reactor, usable directly for system calls
/// that the stream types do not offer (splice).
pub trait Descriptor: Send + Sync {
    /// Ready when the descriptor may be ready for `interest` (readable or writable); a try
    /// may still find that it is not.
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>>;

    /// Runs `op` on the descriptor if it is ready for `interest`, else fails with
    /// `WouldBlock`. A `WouldBlock` from `op` clears the readiness, so that the next
    /// [`poll_ready`](Descriptor::poll_ready) waits for the reactor.
    fn try_io(
        &self,
        interest: Interest,
        op: &mut dyn FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize>;

    /// The descriptor itself, for calls that need no readiness (reading socket options);
    /// `None` once it has been given away.
    fn fd(&self) -> Option<BorrowedFd<'_>>;
}

/// The reading half of a byte stream.
pub trait ByteRead: AsyncRead + Send + Unpin {
    /// The descriptor behind the stream, if reading it directly gives exactly the bytes (and
    /// the EOF) that reading the stream gives.
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        None
    }
}

/// The writing half of a byte stream.
pub trait ByteWrite: AsyncWrite + Send + Unpin {
    /// The descriptor behind the stream, if writing to it directly is the same as writing
    /// to the stream.
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        None
    }
}

/// Makes one of tokio's connected stream types (`$stream`, split into the halves of module
/// `$halves`) a [`Descriptor`], and its owned halves byte streams that expose it, so that
/// the relay can splice them.
macro_rules! splittable_stream {
    ($stream:ty, $halves:path) => {
        impl $crate::channel::Descriptor for $stream {
            fn poll_ready(
                &self,
                cx: &mut std::task::Context<'_>,
                interest: tokio::io::Interest,
            ) -> std::task::Poll<std::io::Result<()>> {
                if interest.is_writable() {
                    self.poll_write_ready(cx)
                } else {
                    self.poll_read_ready(cx)
                }
            }

            fn try_io(
                &self,
                interest: tokio::io::Interest,
                op: &mut dyn FnMut(std::os::fd::BorrowedFd<'_>) -> std::io::Result<usize>,
            ) -> std::io::Result<usize> {
                <$stream>::try_io(self, interest, || op(std::os::fd::AsFd::as_fd(self)))
            }

            fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
                Some(std::os::fd::AsFd::as_fd(self))
            }
        }

        const _: () = {
            use $halves as halves;
            impl $crate::channel::ByteRead for halves::OwnedReadHalf {
                fn descriptor(&self) -> Option<&dyn $crate::channel::Descriptor> {
                    Some(self.as_ref())
                }
            }

            impl $crate::channel::ByteWrite for halves::OwnedWriteHalf {
                fn descriptor(&self) -> Option<&dyn $crate::channel::Descriptor> {
                    Some(self.as_ref())
                }
            }
        };
    };
}
pub(crate) use splittable_stream;

/// The reading half of a byte stream.
pub type ByteReader = Box<dyn ByteRead>;
/// The writing half of a byte stream.
pub type ByteWriter = Box<dyn ByteWrite>;

/// The receiving half of a message channel.
pub trait MessageRecv: Send + Unpin {
    /// Receives one message into `buf`: `Some(len)`, or `None` when the channel has ended.
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>>;

    /// Receives into `buf` the messages that are waiting, at least one, each whole and in
    /// order, and records where each is in the empty `batch`: `Some(())`, or `None` when the
    /// channel has ended. Channels that can take several messages in one call (`recvmmsg`, a
    /// queue) do; by default one message is received.
    fn poll_recv_batch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        batch: &mut MessageBatch,
    ) -> Poll<io::Result<Option<()>>> {
        match self.poll_recv(cx, buf) {
            Poll::Ready(Ok(Some(n))) => {
                batch.push(0, n);
                Poll::Ready(Ok(Some(())))
            }
            Poll::Ready(Ok(None)) => Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Where the messages received together into one buffer are: each one's start and length,
/// in order, at most [`MessageBatch::CAPACITY`] of them.
#[derive(Debug, Default)]
pub struct MessageBatch {
    messages: Vec<(usize, usize)>,
}

impl MessageBatch {
    /// The most messages a batch holds.
    pub const CAPACITY: usize = crate::sys::datagram::BATCH;

    /// An empty batch, with room for [`Self::CAPACITY`] messages.
    pub fn new() -> MessageBatch {
        MessageBatch {
            messages: Vec::with_capacity(Self::CAPACITY),
        }
    }

    /// Records a message of `len` bytes at `start` in the batch's buffer.
    pub fn push(&mut self, start: usize, len: usize) {
        self.messages.push((start, len));
    }

    /// How many messages the batch holds.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether the batch holds no message.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// Whether the batch has no room for another message.
    pub fn is_full(&self) -> bool {
        self.messages.len() >= Self::CAPACITY
    }

    /// Forgets every message, so the batch can be filled again.
    pub fn clear(&mut self) {
        self.messages.clear();
    }

    /// The first byte of `buf` after the last message: where the next one may go.
    pub fn end(&self) -> usize {
        self.messages.last().map_or(0, |(start, len)| start + len)
    }

    /// The bytes of all messages together.
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(|(_, len)| len).sum()
    }

    /// The `i`-th message, in `buf`.
    pub fn get<'b>(&self, buf: &'b [u8], i: usize) -> Option<&'b [u8]> {
        let (start, len) = *self.messages.get(i)?;
        buf.get(start..start + len)
    }

    /// Each message's start and length, in order.
    pub fn messages(&self) -> &[(usize, usize)] {
        &self.messages
    }
}

/// The sending half of a message channel.
pub trait MessageSend: Send + Unpin {
    /// Sends `msg` as one message.
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>>;

    /// Sends the messages of `batch` (in `buf`) from the `*sent`-th on, each as one message,
    /// in order, counting each sent in `*sent`; ready once all are. Channels that can send
    /// several messages in one call (`sendmmsg`) do; by default they go one at a time.
    fn poll_send_batch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        batch: &MessageBatch,
        sent: &mut usize,
    ) -> Poll<io::Result<()>> {
        while let Some(msg) = batch.get(buf, *sent) {
            match self.poll_send(cx, msg) {
                Poll::Ready(Ok(())) => *sent += 1,
                other => return other,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Tells the peer no more messages follow, where the channel can say so (seqpacket).
    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The largest message the channel takes, where it has a limit below the relay buffer's
    /// (a message queue's message size). Stream reads relayed to it are made no larger, so
    /// that a byte stream never produces a message the channel must refuse.
    fn max_message(&self) -> Option<usize> {
        None
    }
}

/// Where a relay direction reads from.
pub enum Reader {
    /// A byte stream: a read gives whatever is available.
    Bytes(ByteReader),
    /// A message channel: a read gives one whole message.
    Messages(Box<dyn MessageRecv>),
}

/// Where a relay direction writes to.
pub enum Writer {
    /// A byte stream: a unit is written in full, in order, with no boundary kept.
    Bytes(ByteWriter),
    /// A message channel: a unit is sent as one message.
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

    /// The descriptor behind a byte stream, if it has one the relay may use directly.
    pub fn descriptor(&self) -> Option<&dyn Descriptor> {
        match self {
            Reader::Bytes(reader) => reader.descriptor(),
            Reader::Messages(_) => None,
        }
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

/// A writing half that was closed: it takes no more data. What a writer becomes once
/// `shut-close` has closed it.
struct ClosedWriter;

impl tokio::io::AsyncWrite for ClosedWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "the writing half was closed (shut-close)",
        )))
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl ByteWrite for ClosedWriter {}

impl Writer {
    /// A writer that was closed: every write fails, shutting it down again does nothing.
    pub fn closed() -> Writer {
        Writer::Bytes(Box::new(ClosedWriter))
    }

    /// The descriptor behind a byte stream, if it has one the relay may use directly.
    pub fn descriptor(&self) -> Option<&dyn Descriptor> {
        match self {
            Writer::Bytes(writer) => writer.descriptor(),
            Writer::Messages(_) => None,
        }
    }

    /// Whether this writer sends whole messages.
    pub fn is_messages(&self) -> bool {
        matches!(self, Writer::Messages(_))
    }

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

    /// The largest message this writer takes, if it is a message channel with such a limit.
    pub fn max_message(&self) -> Option<usize> {
        match self {
            Writer::Bytes(_) => None,
            Writer::Messages(send) => send.max_message(),
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

    impl ByteWrite for tokio::io::DuplexStream {}
    impl ByteRead for tokio::io::ReadHalf<tokio::io::DuplexStream> {}
    impl ByteRead for &[u8] {}

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
