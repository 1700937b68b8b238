//! Standard streams and inherited descriptors (`STDIO`, `STDIN`, `STDOUT`, `STDERR`, `FD:n`)
//! as byte streams.
//!
//! A pollable descriptor (pipe, socket, terminal) is switched to non-blocking mode and driven
//! by the reactor; its original mode is restored when socketry is done with it. A regular file
//! or `/dev/null` cannot be polled, so it is read and written on tokio's blocking pool.
//! Shutting down the writing half retires the descriptor (a socket is shut down for writing,
//! anything else is replaced by `/dev/null`), so the reader on the other end sees EOF even
//! though the process keeps the descriptor number.
//!
//! A polled socket or pipe offers its descriptor to the relay, which splices it; a terminal
//! or other device does not (a terminal's EIO is its EOF, which a splice would not know).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::fcntl::OFlag;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::channel::{ByteRead, ByteWrite, Descriptor};
use crate::sys::fd::{self, FileKind};

/// A descriptor socketry reads from or writes to, pollable or not.
enum Inner {
    Polled { fd: AsyncFd<OwnedFd>, flags: OFlag },
    Blocking(tokio::fs::File),
    Retired,
}

/// One direction of an inherited descriptor.
pub struct FdStream {
    inner: Inner,
    /// The number the descriptor was inherited as, retired on shutdown; `None` when socketry
    /// created the descriptor, which shutdown simply closes.
    original: Option<RawFd>,
    kind: FileKind,
}

impl std::fmt::Debug for FdStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FdStream")
            .field("fd", &self.original)
            .field("kind", &self.kind)
            .finish()
    }
}

impl FdStream {
    /// Takes over descriptor `original` (through a close-on-exec duplicate).
    pub fn open(original: RawFd) -> io::Result<FdStream> {
        FdStream::with_owned(fd::duplicate(original)?, Some(original))
    }

    /// Wraps a descriptor socketry created itself (a pipe end); shutting it down closes it.
    pub fn from_owned(owned: OwnedFd) -> io::Result<FdStream> {
        FdStream::with_owned(owned, None)
    }

    fn with_owned(owned: OwnedFd, original: Option<RawFd>) -> io::Result<FdStream> {
        let kind = fd::file_kind(owned.as_fd())?;
        let inner = if kind == FileKind::Regular {
            Inner::Blocking(tokio::fs::File::from_std(std::fs::File::from(owned)))
        } else {
            let flags = fd::set_nonblocking(owned.as_fd(), true)?;
            match crate::sys::try_register(owned) {
                Ok(fd) => Inner::Polled { fd, flags },
                // epoll refuses descriptors that cannot be polled, such as /dev/null.
                Err((e, owned)) if e.raw_os_error() == Some(nix::libc::EPERM) => {
                    fd::restore_nonblocking(owned.as_fd(), flags);
                    Inner::Blocking(tokio::fs::File::from_std(std::fs::File::from(owned)))
                }
                Err((e, _)) => return Err(e),
            }
        };
        Ok(FdStream {
            inner,
            original,
            kind,
        })
    }

    fn release(&mut self) {
        if let Inner::Polled { fd, flags } = std::mem::replace(&mut self.inner, Inner::Retired) {
            fd::restore_nonblocking(fd.get_ref().as_fd(), flags);
        }
    }
}

impl Drop for FdStream {
    fn drop(&mut self) {
        self.release();
    }
}

impl Descriptor for FdStream {
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Polled { fd, .. } if interest.is_writable() => {
                ready!(fd.poll_write_ready(cx))?.retain_ready();
                Poll::Ready(Ok(()))
            }
            Inner::Polled { fd, .. } => {
                ready!(fd.poll_read_ready(cx))?.retain_ready();
                Poll::Ready(Ok(()))
            }
            _ => Poll::Ready(Err(retired())),
        }
    }

    fn try_io(
        &self,
        interest: Interest,
        op: &mut dyn FnMut(std::os::fd::BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        match &self.inner {
            Inner::Polled { fd, .. } => fd.try_io(interest, |owned| op(owned.as_fd())),
            _ => Err(retired()),
        }
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.inner {
            Inner::Polled { fd, .. } => Some(fd.get_ref().as_fd()),
            _ => None,
        }
    }
}

impl FdStream {
    fn spliceable(&self) -> Option<&dyn Descriptor> {
        let polled = matches!(self.inner, Inner::Polled { .. });
        let kind = matches!(self.kind, FileKind::Socket | FileKind::Fifo);
        (polled && kind).then_some(self as &dyn Descriptor)
    }
}

impl ByteRead for FdStream {
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        self.spliceable()
    }
}

impl ByteWrite for FdStream {
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        self.spliceable()
    }
}

fn retired() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "descriptor already shut down")
}

impl AsyncRead for FdStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Polled { fd, .. } => loop {
                let mut guard = ready!(fd.poll_read_ready(cx))?;
                let unfilled = buf.initialize_unfilled();
                match guard.try_io(|fd| {
                    nix::unistd::read(fd.get_ref().as_raw_fd(), unfilled).map_err(io::Error::from)
                }) {
                    Ok(Ok(n)) => {
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    // A terminal whose other end is gone reads EIO: that is its EOF.
                    Ok(Err(e)) if e.raw_os_error() == Some(nix::libc::EIO) => {
                        return Poll::Ready(Ok(()))
                    }
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(Err(e)) => return Poll::Ready(Err(e)),
                    Err(_would_block) => continue,
                }
            },
            Inner::Blocking(file) => Pin::new(file).poll_read(cx, buf),
            Inner::Retired => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Polled { fd, .. } => loop {
                let mut guard = ready!(fd.poll_write_ready(cx))?;
                match guard
                    .try_io(|fd| nix::unistd::write(fd.get_ref(), data).map_err(io::Error::from))
                {
                    Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(result) => return Poll::Ready(result),
                    Err(_would_block) => continue,
                }
            },
            Inner::Blocking(file) => Pin::new(file).poll_write(cx, data),
            Inner::Retired => Poll::Ready(Err(retired())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Blocking(file) => Pin::new(file).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Inner::Blocking(file) = &mut self.inner {
            ready!(Pin::new(file).poll_flush(cx))?;
        }
        if matches!(self.inner, Inner::Retired) {
            return Poll::Ready(Ok(()));
        }
        if self.kind == FileKind::Socket {
            if let Inner::Polled { fd, .. } = &self.inner {
                let _ = nix::sys::socket::shutdown(
                    fd.get_ref().as_raw_fd(),
                    nix::sys::socket::Shutdown::Write,
                );
            }
            self.release();
            return Poll::Ready(Ok(()));
        }
        self.release();
        // Regular files keep their number: nothing reads EOF from them.
        if let (Some(original), false) = (self.original, self.kind == FileKind::Regular) {
            fd::retire(original)?;
        }
        Poll::Ready(Ok(()))
    }
}
