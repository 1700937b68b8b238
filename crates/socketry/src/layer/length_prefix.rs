//! `length-prefix`: messages carried whole over a byte stream, each preceded by its length.
//!
//! The framing is the simplest agreement two ends of a stream can make to keep message
//! boundaries: a 2- or 4-byte big-endian length, then that many bytes. The reader refuses a
//! length longer than the relay buffer before it allocates anything.

use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::base::{Data, Handshake, Layer, LayerError};
use crate::channel::{
    ByteReader, ByteWriter, MessageRecv, MessageSend, Reader, Writer, MIN_MESSAGE_BUFFER,
};

/// How many bytes of big-endian length precede each message in [`LengthPrefix`] framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrefixWidth {
    /// Two bytes: messages of at most 65535 bytes.
    Two,
    /// Four bytes.
    Four,
}

impl PrefixWidth {
    /// How many bytes the prefix takes.
    pub fn bytes(self) -> usize {
        match self {
            PrefixWidth::Two => 2,
            PrefixWidth::Four => 4,
        }
    }

    /// The longest message the prefix can describe.
    pub fn max_message(self) -> usize {
        match self {
            PrefixWidth::Two => usize::from(u16::MAX),
            PrefixWidth::Four => usize::try_from(u32::MAX).unwrap_or(usize::MAX),
        }
    }
}

/// The layer that carries messages over a byte stream (`length-prefix`): each message is its
/// length in [`PrefixWidth`] big-endian bytes, then its bytes. Reading turns the stream back
/// into those messages; the stream's EOF between two messages is the channel's EOF, and EOF
/// inside one is an error. Both ends of the stream must use the same width.
///
/// That is how a TUN interface's packets cross a TCP connection without being merged or
/// split. Both directions are framed, so neither is spliced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefix(pub PrefixWidth);

impl LengthPrefix {
    /// Frames a reading stream: at most the relay buffer's length is accepted in one message,
    /// so that a corrupt or hostile length cannot make socketry allocate without bound.
    pub fn reader(self, stream: ByteReader) -> Box<dyn MessageRecv> {
        Box::new(PrefixedRecv {
            stream: tokio::io::BufReader::with_capacity(MIN_MESSAGE_BUFFER, stream),
            width: self.0,
            header: [0; 4],
            header_got: 0,
            body: Vec::new(),
            body_len: None,
            body_got: 0,
        })
    }

    /// Frames a writing stream.
    pub fn writer(self, stream: ByteWriter) -> Box<dyn MessageSend> {
        Box::new(PrefixedSend {
            stream,
            width: self.0,
            frame: Vec::new(),
            written: 0,
            sending: false,
        })
    }
}

impl Layer for LengthPrefix {
    fn name(&self) -> &str {
        "length-prefix"
    }

    /// Frames each half that is a byte stream. A half that already carries messages is
    /// refused: framing it would put a prefix inside each of its messages.
    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        let refuse = || {
            LayerError::Refused(format!(
                "length-prefix frames a byte stream, but {description} already carries messages"
            ))
        };
        let framed = (|| {
            let reader = match below.reader {
                Some(Reader::Bytes(stream)) => Some(Reader::Messages(self.reader(stream))),
                Some(Reader::Messages(_)) => return Err(refuse()),
                None => None,
            };
            let writer = match below.writer {
                Some(Writer::Bytes(stream)) => Some(Writer::Messages(self.writer(stream))),
                Some(Writer::Messages(_)) => return Err(refuse()),
                None => None,
            };
            Ok(Data::new(reader, writer))
        })();
        Box::pin(std::future::ready(framed))
    }
}

struct PrefixedRecv {
    stream: tokio::io::BufReader<ByteReader>,
    width: PrefixWidth,
    header: [u8; 4],
    header_got: usize,
    body: Vec<u8>,
    /// The length of the message being read, once its prefix is complete.
    body_len: Option<usize>,
    body_got: usize,
}

impl PrefixedRecv {
    fn read_some(&mut self, cx: &mut Context<'_>, into_body: bool) -> Poll<io::Result<usize>> {
        let target = if into_body {
            let end = self.body_len.unwrap_or(0);
            &mut self.body[self.body_got..end]
        } else {
            &mut self.header[self.header_got..self.width.bytes()]
        };
        let mut buf = ReadBuf::new(target);
        match std::pin::Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl MessageRecv for PrefixedRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        loop {
            let Some(len) = self.body_len else {
                let n = std::task::ready!(self.read_some(cx, false))?;
                if n == 0 {
                    return Poll::Ready(match self.header_got {
                        0 => Ok(None),
                        got => Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!(
                                "the stream ended {got} bytes into a {}-byte length prefix",
                                self.width.bytes()
                            ),
                        )),
                    });
                }
                self.header_got += n;
                if self.header_got == self.width.bytes() {
                    let len = self.header[..self.header_got]
                        .iter()
                        .fold(0usize, |len, byte| (len << 8) | usize::from(*byte));
                    if len > buf.len() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "a length prefix announces a message of {len} bytes, more than the {}-byte relay buffer (raise -b, or check that both ends use the same length-prefix)",
                                buf.len()
                            ),
                        )));
                    }
                    self.body.resize(len, 0);
                    self.body_len = Some(len);
                    self.body_got = 0;
                }
                continue;
            };
            if self.body_got < len {
                let n = std::task::ready!(self.read_some(cx, true))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the stream ended {} bytes into a message of {len} bytes",
                            self.body_got
                        ),
                    )));
                }
                self.body_got += n;
                continue;
            }
            buf[..len].copy_from_slice(&self.body[..len]);
            self.body_len = None;
            self.header_got = 0;
            return Poll::Ready(Ok(Some(len)));
        }
    }
}

struct PrefixedSend {
    stream: ByteWriter,
    width: PrefixWidth,
    /// The prefix and message being written.
    frame: Vec<u8>,
    written: usize,
    /// Whether `frame` holds a message not yet fully written (a send that returned Pending
    /// is called again with the same message).
    sending: bool,
}

impl MessageSend for PrefixedSend {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        if !self.sending {
            if msg.len() > self.width.max_message() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "a message of {} bytes does not fit a {}-byte length prefix (at most {} bytes)",
                        msg.len(),
                        self.width.bytes(),
                        self.width.max_message()
                    ),
                )));
            }
            let len = msg.len().to_be_bytes();
            self.frame.clear();
            self.frame
                .extend_from_slice(&len[len.len() - self.width.bytes()..]);
            self.frame.extend_from_slice(msg);
            self.written = 0;
            self.sending = true;
        }
        while self.written < self.frame.len() {
            let written =
                std::pin::Pin::new(&mut self.stream).poll_write(cx, &self.frame[self.written..]);
            match std::task::ready!(written) {
                Ok(0) => {
                    self.sending = false;
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => self.written += n,
                Err(e) => {
                    self.sending = false;
                    return Poll::Ready(Err(e));
                }
            }
        }
        let flushed = std::task::ready!(std::pin::Pin::new(&mut self.stream).poll_flush(cx));
        self.sending = false;
        Poll::Ready(flushed)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn max_message(&self) -> Option<usize> {
        Some(self.width.max_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn length_prefixed_messages_cross_a_stream_whole_in_both_widths() {
        for (width, header) in [(PrefixWidth::Two, 2), (PrefixWidth::Four, 4)] {
            // A tiny duplex buffer forces partial reads and writes of prefixes and bodies.
            let (near, far) = tokio::io::duplex(3);
            let (far_read, _far_write) = tokio::io::split(far);
            let mut writer = Writer::Messages(LengthPrefix(width).writer(Box::new(near)));
            let mut reader = Reader::Messages(LengthPrefix(width).reader(Box::new(far_read)));
            let messages: Vec<Vec<u8>> = vec![b"ab".to_vec(), Vec::new(), vec![7; 300]];
            let sent = messages.clone();
            let sending = tokio::spawn(async move {
                for msg in &sent {
                    writer.write_unit(msg).await.unwrap();
                }
                writer.shutdown().await.unwrap();
            });
            let mut buf = vec![0; MIN_MESSAGE_BUFFER];
            let mut got = Vec::new();
            while let Some(n) = reader.read_unit(&mut buf).await.unwrap() {
                got.push(buf[..n].to_vec());
            }
            sending.await.unwrap();
            assert_eq!(got, messages, "{header}-byte prefix");
        }
    }

    #[tokio::test]
    async fn length_prefix_framing_is_big_endian_and_refuses_what_it_cannot_carry() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut writer = Writer::Messages(LengthPrefix(PrefixWidth::Two).writer(Box::new(near)));
        writer.write_unit(&[0xAB; 258]).await.unwrap();
        let too_long = writer.write_unit(&vec![0; 65536]).await.unwrap_err();
        assert!(too_long
            .to_string()
            .contains("does not fit a 2-byte length prefix"));
        writer.shutdown().await.unwrap();
        drop(writer);
        let mut bytes = Vec::new();
        far.read_to_end(&mut bytes).await.unwrap();
        assert_eq!(&bytes[..3], &[0x01, 0x02, 0xAB]);
        assert_eq!(bytes.len(), 2 + 258);

        // A stream cut inside a message is an error, not a short message.
        let cut: &[u8] = &[0, 0, 0, 5, b'a', b'b'];
        let mut reader = Reader::Messages(LengthPrefix(PrefixWidth::Four).reader(Box::new(cut)));
        let mut buf = vec![0; 16];
        let err = reader.read_unit(&mut buf).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the stream ended 2 bytes into a message of 5 bytes"
        );
        // A length larger than the buffer is refused before anything is allocated.
        let huge: &[u8] = &[0xFF, 0xFF, 0xFF, 0xFF];
        let mut reader = Reader::Messages(LengthPrefix(PrefixWidth::Four).reader(Box::new(huge)));
        let err = reader.read_unit(&mut buf).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("more than the 16-byte relay buffer"),
            "{err}"
        );
    }
}
