//! splice(2): moving bytes between a descriptor and a pipe inside the kernel, so that a relay
//! of two descriptors never copies them through user space. The pipe is the kernel's buffer
//! between the two splices; both calls are non-blocking and say `EAGAIN` when the descriptor
//! (or the pipe) is not ready.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, splice, FcntlArg, OFlag, SpliceFFlags};

/// A non-blocking, close-on-exec pipe that spliced bytes pass through.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

fn flags() -> SpliceFFlags {
    SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE
}

impl Pipe {
    /// A new pipe of the kernel's default size (64 KiB on Linux).
    pub fn new() -> io::Result<Pipe> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        let size = fcntl(write.as_raw_fd(), FcntlArg::F_GETPIPE_SZ)?;
        Ok(Pipe {
            read,
            write,
            capacity: usize::try_from(size).unwrap_or(0),
        })
    }

    /// Makes the pipe hold at least `capacity` bytes where the kernel allows that much (a
    /// pipe's size is rounded up to pages and capped by `/proc/sys/fs/pipe-max-size`);
    /// otherwise it keeps its size.
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity {
            return;
        }
        if let Ok(size) = i32::try_from(capacity) {
            if let Ok(size) = fcntl(self.write.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(size)) {
                self.capacity = usize::try_from(size).unwrap_or(self.capacity);
            }
        }
    }

    /// How many bytes the pipe holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Moves up to `len` bytes from `from` into the pipe. `Ok(0)` is EOF on `from`.
    pub fn fill_from(&self, from: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        retry(|| splice(from, None, self.write.as_fd(), None, len, flags()))
    }

    /// Moves up to `len` bytes from the pipe to `to`.
    pub fn drain_to(&self, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
        retry(|| splice(self.read.as_fd(), None, to, None, len, flags()))
    }

    /// Reads bytes out of the pipe into `buf`, for when they cannot be spliced onwards.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        retry(|| nix::unistd::read(self.read.as_raw_fd(), buf))
    }
}

fn retry(mut call: impl FnMut() -> nix::Result<usize>) -> io::Result<usize> {
    loop {
        match call() {
            Err(Errno::EINTR) => continue,
            result => return result.map_err(io::Error::from),
        }
    }
}

/// Whether a splice failed because the descriptor does not support it (rather than because
/// something went wrong with the data): the bytes can still be moved by copying them.
pub fn is_unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error().map(Errno::from_raw),
        Some(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_go_from_a_socket_through_the_pipe_to_another_socket() {
        let (mut writer, source) = UnixStream::pair().unwrap();
        let (sink, mut reader) = UnixStream::pair().unwrap();
        let mut pipe = Pipe::new().unwrap();
        assert!(pipe.capacity() >= 4096);
        pipe.grow(1 << 20);
        assert!(pipe.capacity() >= 1 << 20);
        writer.write_all(b"spliced").unwrap();
        assert_eq!(pipe.fill_from(source.as_fd(), 1024).unwrap(), 7);
        assert_eq!(pipe.drain_to(sink.as_fd(), 7).unwrap(), 7);
        let mut got = [0; 7];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"spliced");
        drop(writer);
        assert_eq!(pipe.fill_from(source.as_fd(), 1024).unwrap(), 0);
    }

    #[test]
    fn an_empty_source_would_block_and_only_unsupported_descriptors_fall_back() {
        let (_writer, source) = UnixStream::pair().unwrap();
        source.set_nonblocking(true).unwrap();
        let pipe = Pipe::new().unwrap();
        let e = pipe.fill_from(source.as_fd(), 1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let mut buf = [0; 8];
        let e = pipe.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(is_unsupported(&io::Error::from_raw_os_error(
            nix::libc::EINVAL
        )));
        assert!(!is_unsupported(&io::Error::from_raw_os_error(
            nix::libc::EPIPE
        )));
    }
}
