//! Waiting for a registered descriptor to be ready and running one non-blocking call on it:
//! the loop every reader and writer over an [`AsyncFd`] needs. A call that would block
//! clears the readiness tokio reported, and the wait starts again; a call interrupted by a
//! signal is made again; any other outcome is the call's own.

use std::future::poll_fn;
use std::io;
use std::os::fd::AsRawFd;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;

/// Runs `op` once `fd` is readable, until it does not block.
pub fn poll_read<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let mut guard = ready!(fd.poll_read_ready(cx))?;
        match guard.try_io(|inner| op(inner.get_ref())) {
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(result) => return Poll::Ready(result),
            Err(_would_block) => continue,
        }
    }
}

/// Runs `op` once `fd` is writable, until it does not block.
pub fn poll_write<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    cx: &mut Context<'_>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> Poll<io::Result<R>> {
    loop {
        let mut guard = ready!(fd.poll_write_ready(cx))?;
        match guard.try_io(|inner| op(inner.get_ref())) {
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(result) => return Poll::Ready(result),
            Err(_would_block) => continue,
        }
    }
}

/// Waits until `fd` is readable and `op` does not block; its result.
pub async fn read<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> io::Result<R> {
    poll_fn(|cx| poll_read(fd, cx, &mut op)).await
}

/// Waits until `fd` is writable and `op` does not block; its result.
pub async fn write<T: AsRawFd, R>(
    fd: &AsyncFd<T>,
    mut op: impl FnMut(&T) -> io::Result<R>,
) -> io::Result<R> {
    poll_fn(|cx| poll_write(fd, cx, &mut op)).await
}
