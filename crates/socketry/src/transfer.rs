//! Verified file transfers over a byte stream (`socketry send` / `socketry recv`).
//!
//! The sender writes a header (magic and the length, when known), the data in chunks each
//! with a 4-byte big-endian length, an empty chunk, then a trailer with the total length and
//! the SHA-256 digest of the data. The receiver checks every length and the digest, and
//! answers one status byte, so that the sender too knows the data arrived intact. A short
//! stream, a length that does not add up, or a digest that differs is a [`TransferError`];
//! the caller decides what to do with what it has written (the command line throws it away).

use std::io;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::endpoint::Connection;

const MAGIC: &[u8; 8] = b"SKTRY\x00T1";
/// The header's length when the sender does not know it (standard input).
const UNKNOWN_LENGTH: u64 = u64::MAX;
/// The largest chunk a sender writes; a receiver refuses a larger one before allocating.
pub const CHUNK: usize = 64 * 1024;
const STATUS_OK: u8 = 0;
const STATUS_FAILED: u8 = 1;

/// What a finished transfer moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// How many bytes of data crossed (headers and lengths not counted).
    pub bytes: u64,
    /// The SHA-256 digest of those bytes, which both ends computed and compared.
    pub sha256: [u8; 32],
}

impl Summary {
    /// The digest in hexadecimal, as `sha256sum` prints it.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why a transfer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The stream did not begin with a transfer header: the peer is something else.
    #[error("the peer is not a socketry sender (its first bytes are not a transfer header)")]
    NotATransfer,
    #[error("the transfer ended early, after {received}{} bytes", expected_text(*.expected))]
    /// The stream ended before the trailer.
    Truncated {
        /// Bytes of data received until then.
        received: u64,
        /// The length the header announced, if the sender knew it.
        expected: Option<u64>,
    },
    /// A chunk length above [`CHUNK`]: refused before anything is allocated for it.
    #[error("a chunk of {0} bytes is larger than the {CHUNK} a sender writes")]
    ChunkTooLarge(u32),
    #[error("the sender announced {announced} bytes, but {received} arrived")]
    /// The trailer's (or header's) total differs from the bytes that arrived.
    LengthMismatch {
        /// The length the sender announced.
        announced: u64,
        /// The bytes that arrived.
        received: u64,
    },
    /// The data's digest differs from the sender's: the data changed on the way.
    #[error("the data is corrupt: SHA-256 {received} does not match the sender's {sent}")]
    DigestMismatch {
        /// The sender's digest, in hexadecimal.
        sent: String,
        /// The digest of what arrived, in hexadecimal.
        received: String,
    },
    /// The sender's side: the receiver answered that the data did not check out.
    #[error("the receiver reported that the data did not arrive intact")]
    Rejected,
    /// The sender's side: the receiver closed before it answered.
    #[error("the receiver closed without confirming the transfer")]
    Unconfirmed,
    /// Reading the data to send (the file or standard input) failed.
    #[error("reading the data: {0}")]
    Source(io::Error),
    /// Writing the received data (the file) failed.
    #[error("writing the data: {0}")]
    Sink(io::Error),
    /// Reading from or writing to the connection failed.
    #[error("{0}")]
    Connection(io::Error),
}

fn expected_text(expected: Option<u64>) -> String {
    expected.map_or_else(String::new, |n| format!(" of {n}"))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads exactly what is asked from a connection whose reads return arbitrary pieces.
struct Incoming<'a> {
    connection: &'a mut Connection,
    buffered: Vec<u8>,
    start: usize,
    piece: Vec<u8>,
}

impl<'a> Incoming<'a> {
    fn new(connection: &'a mut Connection) -> Incoming<'a> {
        Incoming {
            connection,
            buffered: Vec::new(),
            start: 0,
            piece: vec![0; CHUNK + 4],
        }
    }
}

impl Incoming<'_> {
    /// Fills `out`; `Ok(false)` if the stream ended first (nothing is consumed then).
    async fn read_exact(&mut self, out: &mut [u8]) -> Result<bool, TransferError> {
        while self.buffered.len() - self.start < out.len() {
            match self
                .connection
                .read(&mut self.piece)
                .await
                .map_err(TransferError::Connection)?
            {
                Some(n) => {
                    self.buffered.drain(..self.start);
                    self.start = 0;
                    self.buffered.extend_from_slice(&self.piece[..n]);
                }
                None => return Ok(false),
            }
        }
        out.copy_from_slice(&self.buffered[self.start..self.start + out.len()]);
        self.start += out.len();
        Ok(true)
    }
}

/// Sends everything `source` gives over `connection`; `length` (when known) is announced
/// up front for the receiver's progress. `progress` is told the bytes sent so far.
pub async fn send(
    connection: &mut Connection,
    mut source: impl AsyncRead + Unpin,
    length: Option<u64>,
    mut progress: impl FnMut(u64),
) -> Result<Summary, TransferError> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&length.unwrap_or(UNKNOWN_LENGTH).to_be_bytes());
    connection
        .write_all(&header)
        .await
        .map_err(TransferError::Connection)?;
    let mut digest = Sha256::new();
    let mut total = 0u64;
    let mut buf = vec![0; 4 + CHUNK];
    loop {
        let n = source
            .read(&mut buf[4..])
            .await
            .map_err(TransferError::Source)?;
        // n <= CHUNK, which fits in 4 bytes.
        buf[..4].copy_from_slice(&(n as u32).to_be_bytes());
        connection
            .write_all(&buf[..4 + n])
            .await
            .map_err(TransferError::Connection)?;
        if n == 0 {
            break;
        }
        digest.update(&buf[4..4 + n]);
        total += n as u64;
        progress(total);
    }
    let sha256: [u8; 32] = digest.finalize().into();
    let mut trailer = total.to_be_bytes().to_vec();
    trailer.extend_from_slice(&sha256);
    connection
        .write_all(&trailer)
        .await
        .map_err(TransferError::Connection)?;
    let mut status = [0; 1];
    let mut incoming = Incoming::new(connection);
    if !incoming.read_exact(&mut status).await? {
        return Err(TransferError::Unconfirmed);
    }
    if status[0] != STATUS_OK {
        return Err(TransferError::Rejected);
    }
    Ok(Summary {
        bytes: total,
        sha256,
    })
}

/// Receives a transfer from `connection` into `sink`, verifying it; answers the sender.
/// `announced` is told the length the sender announced (if it knew it) before any data,
/// `progress` the bytes received so far.
pub async fn receive(
    connection: &mut Connection,
    mut sink: impl AsyncWrite + Unpin,
    announced: impl FnOnce(Option<u64>),
    mut progress: impl FnMut(u64),
) -> Result<Summary, TransferError> {
    let result = receive_verified(connection, &mut sink, announced, &mut progress).await;
    let status = if result.is_ok() {
        STATUS_OK
    } else {
        STATUS_FAILED
    };
    // The sender may be gone already (a truncated transfer): its answer is best effort.
    let _ = connection.write_all(&[status]).await;
    let _ = connection.shutdown_write().await;
    result
}

async fn receive_verified(
    connection: &mut Connection,
    sink: &mut (impl AsyncWrite + Unpin),
    announced: impl FnOnce(Option<u64>),
    progress: &mut impl FnMut(u64),
) -> Result<Summary, TransferError> {
    let mut incoming = Incoming::new(connection);
    let mut header = [0; 16];
    if !incoming.read_exact(&mut header).await? || &header[..8] != MAGIC {
        return Err(TransferError::NotATransfer);
    }
    let mut length = [0; 8];
    length.copy_from_slice(&header[8..]);
    let expected = Some(u64::from_be_bytes(length)).filter(|n| *n != UNKNOWN_LENGTH);
    announced(expected);
    let mut digest = Sha256::new();
    let mut received = 0u64;
    let truncated = |received| TransferError::Truncated { received, expected };
    let mut data = vec![0; CHUNK];
    loop {
        let mut size = [0; 4];
        if !incoming.read_exact(&mut size).await? {
            return Err(truncated(received));
        }
        let size = u32::from_be_bytes(size);
        let n = usize::try_from(size).unwrap_or(usize::MAX);
        if n > CHUNK {
            return Err(TransferError::ChunkTooLarge(size));
        }
        if n == 0 {
            break;
        }
        if !incoming.read_exact(&mut data[..n]).await? {
            return Err(truncated(received));
        }
        digest.update(&data[..n]);
        sink.write_all(&data[..n])
            .await
            .map_err(TransferError::Sink)?;
        received += n as u64;
        progress(received);
    }
    sink.flush().await.map_err(TransferError::Sink)?;
    let mut trailer = [0; 40];
    if !incoming.read_exact(&mut trailer).await? {
        return Err(truncated(received));
    }
    let mut total = [0; 8];
    total.copy_from_slice(&trailer[..8]);
    let total = u64::from_be_bytes(total);
    for announced in [Some(total), expected].into_iter().flatten() {
        if announced != received {
            return Err(TransferError::LengthMismatch {
                announced,
                received,
            });
        }
    }
    let sha256: [u8; 32] = digest.finalize().into();
    if sha256[..] != trailer[8..] {
        return Err(TransferError::DigestMismatch {
            sent: hex(&trailer[8..]),
            received: hex(&sha256),
        });
    }
    Ok(Summary {
        bytes: received,
        sha256,
    })
}
