//! Handing a connection's socket to another process (`UNIX-SENDFD`): the socket, and a flag
//! that keeps its writing half from shutting the socket down once it is someone else's. Part
//! of the connection core: it knows no family.

use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

/// What a connection made of one socket needs so that it can be handed to another process:
/// the socket, and a flag that stops its writing half from shutting the socket down when it
/// is dropped (tokio's halves do, and a shutdown would reach the process we handed it to).
#[derive(Debug, Clone)]
pub(crate) struct Handover {
    /// Open as long as the connection's halves, which own it.
    pub(crate) fd: RawFd,
    handed_over: Arc<AtomicBool>,
}

impl Handover {
    /// Wraps `writer`, the writing half of the stream socket `fd`.
    pub(crate) fn for_stream<W: ForgetOnDrop>(
        fd: RawFd,
        writer: W,
    ) -> (Handover, HandoverWriter<W>) {
        let handed_over = Arc::new(AtomicBool::new(false));
        (
            Handover {
                fd,
                handed_over: handed_over.clone(),
            },
            HandoverWriter {
                inner: Some(writer),
                handed_over,
            },
        )
    }

    /// For a socket whose writing half does not shut it down when dropped (seqpacket).
    pub(crate) fn for_socket(fd: RawFd) -> Handover {
        Handover {
            fd,
            handed_over: Arc::new(AtomicBool::new(false)),
        }
    }

    pub(crate) fn mark_handed_over(&self) {
        self.handed_over.store(true, Ordering::Release);
    }
}

/// The writing halves of tokio's streams, which can be dropped without a shutdown.
pub(crate) trait ForgetOnDrop: AsyncWrite + Unpin {
    fn forget(self);
}

impl ForgetOnDrop for tokio::net::tcp::OwnedWriteHalf {
    fn forget(self) {
        tokio::net::tcp::OwnedWriteHalf::forget(self);
    }
}

impl ForgetOnDrop for tokio::net::unix::OwnedWriteHalf {
    fn forget(self) {
        tokio::net::unix::OwnedWriteHalf::forget(self);
    }
}

/// A stream's writing half that is dropped without a shutdown once its connection has been
/// handed over.
#[derive(Debug)]
pub(crate) struct HandoverWriter<W: ForgetOnDrop> {
    inner: Option<W>,
    handed_over: Arc<AtomicBool>,
}

impl<W: ForgetOnDrop> HandoverWriter<W> {
    fn inner(&mut self) -> io::Result<Pin<&mut W>> {
        self.inner
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl<W: ForgetOnDrop> AsyncWrite for HandoverWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner()?.poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner()?.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.inner()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(W::is_write_vectored)
    }
}

/// Until the connection is handed over the stream is the relay's, spliced like any other.
impl<W: ForgetOnDrop + crate::channel::ByteWrite> crate::channel::ByteWrite for HandoverWriter<W> {
    fn descriptor(&self) -> Option<&dyn crate::channel::Descriptor> {
        self.inner.as_ref()?.descriptor()
    }
}

impl<W: ForgetOnDrop> Drop for HandoverWriter<W> {
    fn drop(&mut self) {
        if self.handed_over.load(Ordering::Acquire) {
            if let Some(inner) = self.inner.take() {
                inner.forget();
            }
        }
    }
}
