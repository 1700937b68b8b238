//! Reading a proxy's reply, shared by the SOCKS and HTTP CONNECT layers: exactly as many bytes
//! as the reply has (never a byte of the data that follows it), never more than a bound, and
//! errors ([`ReplyError`]) that say what the proxy sent.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// What was wrong with a proxy's reply. Each is one sentence, and becomes the source of the
/// layer's handshake error, which names the layer and the connection to the proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// The proxy closed the connection before its reply was complete.
    #[error("the proxy closed the connection after {got} of the {expected} bytes of its {what}")]
    Truncated {
        /// Which reply it was.
        what: &'static str,
        /// How many bytes came.
        got: usize,
        /// How many were due.
        expected: usize,
    },
    /// The reply is of another protocol version than the one spoken.
    #[error("the proxy's {what} has version {got}, not {expected}")]
    Version {
        /// Which reply it was.
        what: &'static str,
        /// The version the reply carried.
        got: u8,
        /// The version expected.
        expected: u8,
    },
    /// The proxy said no.
    #[error("the proxy refused: reply code {code} ({meaning})")]
    Refused {
        /// The reply code as the protocol numbers it.
        code: u16,
        /// What the protocol says the code means, or the proxy's own words.
        meaning: String,
    },
    /// The reply went on past the longest a well-formed one can be.
    #[error("the proxy's {what} is longer than {limit} bytes")]
    Oversized {
        /// Which reply it was.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// The reply does not follow the protocol.
    #[error("the proxy's {what} is malformed: {why}")]
    Malformed {
        /// Which reply it was.
        what: &'static str,
        /// What is wrong with it.
        why: String,
    },
}

impl From<ReplyError> for io::Error {
    fn from(error: ReplyError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// Why reading a reply stopped: the connection failed, or the reply is wrong.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Reply(ReplyError),
}

impl From<ReplyError> for ReadError {
    fn from(error: ReplyError) -> ReadError {
        ReadError::Reply(error)
    }
}

impl From<ReadError> for io::Error {
    fn from(error: ReadError) -> io::Error {
        match error {
            ReadError::Io(error) => error,
            ReadError::Reply(error) => error.into(),
        }
    }
}

/// Fills `buf` from `reader`; EOF first is [`ReplyError::Truncated`], counting `before` bytes
/// of the same reply already read.
pub(crate) async fn read_exact<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    what: &'static str,
    before: usize,
    expected: usize,
) -> Result<(), ReadError> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]).await {
            Ok(0) => {
                return Err(ReplyError::Truncated {
                    what,
                    got: before + got,
                    expected,
                }
                .into())
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(())
}

/// One byte, or `None` at EOF.
pub(crate) async fn read_byte<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
) -> Result<Option<u8>, ReadError> {
    let mut byte = [0];
    loop {
        match reader.read(&mut byte).await {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(byte[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
}
