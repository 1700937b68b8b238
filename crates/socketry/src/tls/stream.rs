//! A TLS connection as a byte stream: one value for a library user, two halves for the relay.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf, ReadHalf, WriteHalf};

use super::error::Side;
use super::error::TlsError;
use super::peer::PeerInfo;
use crate::channel::{ByteRead, ByteWrite};

/// A stream after a successful handshake. Reading gives the peer's application data and EOF
/// at its `close_notify`; a peer that closes without it is a read error
/// ([`TlsError::Truncated`]). Shutting down sends `close_notify` and half-closes the
/// underlying stream, and reading goes on.
#[derive(Debug)]
pub struct TlsStream<IO> {
    inner: tokio_rustls::TlsStream<IO>,
    peer: PeerInfo,
    side: Side,
}

impl<IO> TlsStream<IO> {
    pub(super) fn new(inner: tokio_rustls::TlsStream<IO>, peer: PeerInfo, side: Side) -> Self {
        TlsStream { inner, peer, side }
    }

    /// What the handshake established: version, cipher suite, the peer's certificate.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The stream under TLS.
    pub fn get_ref(&self) -> &IO {
        self.inner.get_ref().0
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> TlsStream<IO> {
    /// Splits the stream into a reading and a writing half, for the relay: each direction
    /// can run on its own, and shutting the writer down leaves the reader reading.
    pub fn split(self) -> (TlsReader<IO>, TlsWriter<IO>) {
        let (read, write) = tokio::io::split(self);
        (TlsReader { half: read }, TlsWriter { half: write })
    }
}

fn map<T>(poll: Poll<io::Result<T>>, side: Side) -> Poll<io::Result<T>> {
    match poll {
        Poll::Ready(Err(error)) => Poll::Ready(Err(TlsError::into_io(error, side))),
        other => other,
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let side = self.side;
        map(Pin::new(&mut self.inner).poll_read(cx, buf), side)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let side = self.side;
        map(Pin::new(&mut self.inner).poll_write(cx, buf), side)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let side = self.side;
        map(Pin::new(&mut self.inner).poll_flush(cx), side)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let side = self.side;
        match map(Pin::new(&mut self.inner).poll_shutdown(cx), side) {
            // The peer may have closed first; its side is gone, ours is closed all the same.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            other => other,
        }
    }
}

/// The reading half of a [`TlsStream`]: a byte stream with no descriptor to splice.
#[derive(Debug)]
pub struct TlsReader<IO> {
    half: ReadHalf<TlsStream<IO>>,
}

/// The writing half of a [`TlsStream`]: a byte stream with no descriptor to splice.
#[derive(Debug)]
pub struct TlsWriter<IO> {
    half: WriteHalf<TlsStream<IO>>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsReader<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.half).poll_read(cx, buf)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsWriter<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.half).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.half).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.half).poll_shutdown(cx)
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin + Send> ByteRead for TlsReader<IO> {}
impl<IO: AsyncRead + AsyncWrite + Unpin + Send> ByteWrite for TlsWriter<IO> {}

/// One stream made of a reading and a writing half (a program's stdout and stdin, the two
/// halves of a connection), so that TLS can run over it.
#[derive(Debug)]
pub struct Duplex<R, W> {
    reader: BufReader<R>,
    writer: W,
}

/// How much is read from below at a time: rustls asks for 4 KiB per read, a quarter of a
/// full record, so without this a bulk transfer costs four system calls per record. One
/// read here takes a whole record (16 KiB of data, its header and tag) where the peer has
/// sent one.
const READ_AHEAD: usize = 18 * 1024 + 5;

impl<R: AsyncRead, W> Duplex<R, W> {
    /// Joins the halves.
    pub fn new(reader: R, writer: W) -> Self {
        Duplex {
            reader: BufReader::with_capacity(READ_AHEAD, reader),
            writer,
        }
    }
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for Duplex<R, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Duplex<R, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }

    /// rustls hands over every record it has ready (a handshake flight, a large write's
    /// records) as one vectored write: one system call, and one segment where Nagle's
    /// algorithm would otherwise hold the second record back for the peer's delayed ACK.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.writer.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSlice;

    use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};

    use super::Duplex;

    /// rustls writes a flight's records as one vectored write; the stream below gets them
    /// in one call, not only the first.
    #[tokio::test]
    async fn a_vectored_write_reaches_the_writer_whole() {
        let (near, mut far) = tokio::io::duplex(1024);
        let (reader, writer) = tokio::io::split(near);
        let mut joined = Duplex::new(reader, writer);
        assert!(joined.is_write_vectored());
        let records = [
            IoSlice::new(b"change cipher spec|"),
            IoSlice::new(b"finished"),
        ];
        let written = joined.write_vectored(&records).await.unwrap();
        assert_eq!(written, 27);
        drop(joined);
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"change cipher spec|finished");
    }

    /// Counts the reads that reach the stream below.
    struct Counting<R> {
        inner: R,
        reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl<R: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counting<R> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    /// rustls reads 4 KiB at a time; a whole record that has arrived is taken from below in
    /// one read, not four.
    #[tokio::test]
    async fn small_reads_take_a_record_from_below_at_once() {
        let (near, mut far) = tokio::io::duplex(64 * 1024);
        let (reader, writer) = tokio::io::split(near);
        let reads = std::sync::Arc::default();
        let counting = Counting {
            inner: reader,
            reads: std::sync::Arc::clone(&reads),
        };
        let record: Vec<u8> = (0..16 * 1024 + 5).map(|i| (i % 251) as u8).collect();
        far.write_all(&record).await.unwrap();
        let mut joined = Duplex::new(counting, writer);
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while got.len() < record.len() {
            let n = joined.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, record);
        assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 1);
    }
}
