//! `o-direct`: a file opened with `O_DIRECT`, read and written through block-aligned
//! buffers on tokio's blocking pool.
//!
//! Direct I/O bypasses the page cache, and the kernel then asks that the memory, the file
//! offset and the length of every transfer be multiples of the device's block size. The
//! buffers here are aligned to [`ALIGN`] (a page, which satisfies every block size Linux
//! has). A read always starts at a block boundary: after a short read at the end of the file
//! (whose size need not be a whole number of blocks), the next read starts again at the
//! block the last one ended in, and skips what was already given, so that reading on after
//! EOF (`ignoreeof`) sees what was appended since. Writes go out as they come; a length the
//! file system will not write directly fails with a message that says why.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

use crate::channel::{ByteRead, ByteWrite};

/// The alignment of buffers and read offsets: a page.
pub const ALIGN: usize = 4096;

/// How much one read asks for.
const CHUNK: usize = 64 * 1024;

/// A buffer whose usable part starts at an [`ALIGN`]ed address.
struct Aligned {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let storage = vec![0; len + ALIGN];
        // The offset to the first aligned byte is below ALIGN, so `len` bytes still fit.
        let start = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        Aligned {
            storage,
            start,
            len,
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

/// What one read found: the buffer, and the range of it not given out yet.
struct Filled {
    buffer: Aligned,
    next: usize,
    end: usize,
}

/// The reading half of a file opened with `O_DIRECT`.
pub struct DirectReader {
    file: Arc<OwnedFd>,
    /// The file offset of the next byte to give out.
    position: u64,
    filled: Option<Filled>,
    reading: Option<JoinHandle<io::Result<Filled>>>,
}

impl std::fmt::Debug for DirectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectReader")
            .field("fd", &self.file.as_raw_fd())
            .field("position", &self.position)
            .finish()
    }
}

impl DirectReader {
    /// Reads `file` from its current offset (where `seek=` left it).
    pub fn new(file: Arc<OwnedFd>) -> io::Result<DirectReader> {
        let position = nix::unistd::lseek(file.as_raw_fd(), 0, nix::unistd::Whence::SeekCur)?;
        Ok(DirectReader {
            file,
            position: u64::try_from(position).unwrap_or(0),
            filled: None,
            reading: None,
        })
    }
}

/// Reads the block that holds `position` and what follows, giving the part from `position`.
fn read_from(file: &OwnedFd, position: u64) -> io::Result<Filled> {
    let block_start = position - position % ALIGN as u64;
    let skip = usize::try_from(position - block_start).unwrap_or(0);
    let mut buffer = Aligned::new(CHUNK);
    let offset = i64::try_from(block_start)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset beyond off_t"))?;
    let n = loop {
        match nix::sys::uio::pread(file.as_fd(), buffer.as_mut_slice(), offset) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EINVAL) => return Err(refused("read")),
            other => break other?,
        }
    };
    Ok(Filled {
        buffer,
        next: skip.min(n),
        end: n,
    })
}

fn refused(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "o-direct: the file system refuses this direct {what} (it may not support O_DIRECT, or want other block sizes)"
        ),
    )
}

impl AsyncRead for DirectReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if let Some(filled) = &mut self.filled {
                let n = (filled.end - filled.next).min(buf.remaining());
                buf.put_slice(&filled.buffer.as_slice()[filled.next..filled.next + n]);
                filled.next += n;
                if filled.next == filled.end {
                    self.filled = None;
                }
                self.position += n as u64;
                return Poll::Ready(Ok(()));
            }
            if let Some(reading) = &mut self.reading {
                let result = ready!(Pin::new(reading).poll(cx));
                self.reading = None;
                let filled = result.map_err(io::Error::other)??;
                if filled.next == filled.end {
                    // Nothing past `position`: EOF, for now.
                    return Poll::Ready(Ok(()));
                }
                self.filled = Some(filled);
                continue;
            }
            let file = self.file.clone();
            let position = self.position;
            self.reading = Some(tokio::task::spawn_blocking(move || {
                read_from(&file, position)
            }));
        }
    }
}

impl ByteRead for DirectReader {}

/// The writing half of a file opened with `O_DIRECT`.
pub struct DirectWriter {
    file: Arc<OwnedFd>,
    writing: Option<JoinHandle<io::Result<usize>>>,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter")
            .field("fd", &self.file.as_raw_fd())
            .finish()
    }
}

impl DirectWriter {
    /// Writes to `file` at its offset (at its end with `append`).
    pub fn new(file: Arc<OwnedFd>) -> DirectWriter {
        DirectWriter {
            file,
            writing: None,
        }
    }

    fn poll_written(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<usize>>> {
        let Some(writing) = &mut self.writing else {
            return Poll::Ready(None);
        };
        let result = ready!(Pin::new(writing).poll(cx));
        self.writing = None;
        Poll::Ready(Some(result.map_err(io::Error::other).and_then(|r| r)))
    }
}

fn write_aligned(file: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    let mut buffer = Aligned::new(data.len());
    buffer.as_mut_slice().copy_from_slice(data);
    loop {
        match nix::unistd::write(file.as_fd(), buffer.as_slice()) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::EINVAL) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "o-direct: the file system refuses a direct write of {} bytes (direct writes are whole blocks, such as multiples of 512 bytes, at block offsets)",
                        data.len()
                    ),
                ))
            }
            other => return other.map_err(io::Error::from),
        }
    }
}

use std::future::Future;

impl AsyncWrite for DirectWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.writing.is_none() {
            if data.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let file = self.file.clone();
            let data = data.to_vec();
            self.writing = Some(tokio::task::spawn_blocking(move || {
                write_aligned(&file, &data)
            }));
        }
        match ready!(self.poll_written(cx)) {
            Some(result) => Poll::Ready(result),
            None => Poll::Ready(Ok(0)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match ready!(self.poll_written(cx)) {
            Some(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

impl ByteWrite for DirectWriter {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buffers_are_aligned_and_as_long_as_asked() {
        for len in [1, 511, 4096, CHUNK] {
            let mut buffer = Aligned::new(len);
            assert_eq!(buffer.as_slice().as_ptr() as usize % ALIGN, 0);
            assert_eq!(buffer.as_mut_slice().len(), len);
        }
    }
}
