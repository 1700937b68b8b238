//! The life cycle of a Unix socket file: before binding, a path held by a live socket is
//! refused, a stale socket file (nobody accepts on it) is replaced, and anything that is not a
//! socket is never removed. After binding, a [`FileGuard`] ([`bound`]) removes the file when socketry is done
//! with it, unless someone else has replaced it in the meantime.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::endpoint::error::OpenError;
use crate::endpoint::guard::FileGuard;

/// Makes `path` free to bind: refuses live sockets and non-sockets, removes stale sockets.
/// With `unlink_early`, a socket file there is removed even if something listens on it.
pub fn prepare(path: &Path, unlink_early: bool) -> Result<(), OpenError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(OpenError::Io {
                action: format!("inspecting {}", path.display()),
                source: e,
            })
        }
    };
    if !metadata.file_type().is_socket() {
        return Err(OpenError::Refused(format!(
            "\"{}\" exists and is not a socket; socketry will not remove it (expected a free path)",
            path.display()
        )));
    }
    if !unlink_early && is_live(path) {
        return Err(OpenError::Refused(format!(
            "\"{}\" is in use: a socket is already listening there (use another path, or stop that listener)",
            path.display()
        )));
    }
    tracing::info!(
        "removing {} socket file {}",
        if unlink_early { "existing" } else { "stale" },
        path.display()
    );
    std::fs::remove_file(path).map_err(OpenError::io(format!(
        "removing stale socket {}",
        path.display()
    )))
}

/// Whether a socket at `path` has someone behind it (stream, seqpacket or datagram).
fn is_live(path: &Path) -> bool {
    use socket2::{Domain, SockAddr, Socket, Type};
    let Ok(addr) = SockAddr::unix(path) else {
        return false;
    };
    for ty in [Type::STREAM, Type::SEQPACKET, Type::DGRAM] {
        let Ok(socket) = Socket::new(Domain::UNIX, ty, None) else {
            continue;
        };
        match socket.connect(&addr) {
            Ok(()) => return true,
            Err(e) if e.raw_os_error() == Some(nix::libc::EPROTOTYPE) => continue,
            // EAGAIN: a listener whose backlog is full is very much alive.
            Err(e) if e.raw_os_error() == Some(nix::libc::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// The guard of the socket file just bound at `path`, which the bind gave `mode` (if any)
/// itself: it removes the file when socketry is done with it (unless `remove` is false),
/// and only while it is still the same file. The file is only looked at, never changed:
/// if it is not a socket with that mode (a default ACL on the directory overrides the umask
/// the bind used, or something replaced the file), that is an error.
pub fn bound(path: &Path, mode: Option<u32>, remove: bool) -> Result<FileGuard, OpenError> {
    let metadata = std::fs::symlink_metadata(path).ok();
    if mode.is_some() && !metadata.as_ref().is_some_and(|m| m.file_type().is_socket()) {
        return Err(OpenError::Refused(format!(
            "the socket file {} was replaced right after it was bound",
            path.display()
        )));
    }
    // Dropped on the error below, the guard removes the socket file with the wrong mode.
    let guard = FileGuard::socket(path, remove);
    match (mode, metadata) {
        (Some(mode), Some(m)) if m.mode() & 0o7777 != mode => Err(OpenError::Refused(format!(
            "the socket file {} was created with mode {:o}, not the {mode:o} asked for (a default ACL on its directory?)",
            path.display(),
            m.mode() & 0o7777
        ))),
        _ => Ok(guard),
    }
}
