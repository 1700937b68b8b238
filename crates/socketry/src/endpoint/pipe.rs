//! PIPE: a pipe whose read end gives back what its write end is given, socat's echo idiom.
//! Anonymous (`PIPE`), or a named pipe at a path (`PIPE:path`, `FIFO:path`), created with
//! `mode` (default 0600) when missing. Both are byte streams; closing the write end after
//! EOF lets the read end reach EOF once the pipe is drained.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::stdio::FdStream;
use super::{Connection, OpenError};
use crate::address::Options;
use crate::channel::{Reader, Writer};
use crate::sys;

pub fn open(path: Option<&Path>, options: &Options) -> Result<Connection, OpenError> {
    let (read_end, write_end, description) = match path {
        None => {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| OpenError::Io {
                action: "creating a pipe".to_owned(),
                source: e.into(),
            })?;
            (r, w, "PIPE".to_owned())
        }
        Some(path) => {
            let (r, w) = open_named(path, options)?;
            (r, w, format!("PIPE {}", path.display()))
        }
    };
    let stream = |fd: OwnedFd| {
        FdStream::from_owned(fd).map_err(OpenError::io(format!("registering {description}")))
    };
    Ok(Connection::new(
        Some(Reader::Bytes(Box::new(stream(read_end)?))),
        Some(Writer::Bytes(Box::new(stream(write_end)?))),
        description,
    ))
}

/// Opens a named pipe for reading and for writing (two descriptors, so that closing the
/// writing one lets the reading one see EOF), creating it first if missing.
fn open_named(path: &Path, options: &Options) -> Result<(OwnedFd, OwnedFd), OpenError> {
    let mode = options.mode().unwrap_or(0o600);
    match nix::unistd::mkfifo(path, Mode::from_bits_truncate(mode)) {
        Ok(()) => tracing::info!("created named pipe {}", path.display()),
        Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => {
            return Err(OpenError::Io {
                action: format!("creating named pipe {}", path.display()),
                source: e.into(),
            })
        }
    }
    let open = |flags: OFlag| {
        nix::fcntl::open(
            path,
            flags | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map(sys::fd::own)
        .map_err(|e| OpenError::Io {
            action: format!("opening {}", path.display()),
            source: e.into(),
        })
    };
    // Opening for reading first and without blocking lets the writing open succeed.
    let read_end = open(OFlag::O_RDONLY)?;
    let write_end = open(OFlag::O_WRONLY)?;
    tracing::debug!(
        "opened {} as {} and {}",
        path.display(),
        read_end.as_raw_fd(),
        write_end.as_raw_fd()
    );
    Ok((read_end, write_end))
}
