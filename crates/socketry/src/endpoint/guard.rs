//! What a connection or a listener owns besides its data, released when it ends
//! ([`Guard`]): files socketry made for the endpoint, terminal settings to put back, a
//! descriptor kept open.

use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::terminal::Restore;

/// A resource an endpoint owns, released when the guard is dropped.
#[derive(Debug)]
#[non_exhaustive]
pub enum Guard {
    /// A file socketry made (a socket file, a named pipe, a `link=` to a pty), removed at
    /// the end.
    File(FileGuard),
    /// A terminal's settings, put back at the end.
    Terminal(Restore),
    /// A descriptor kept open as long as the endpoint (a pty's slave side, so that its
    /// master sees no hang-up before a program opens it).
    Descriptor(OwnedFd),
}

impl From<FileGuard> for Guard {
    fn from(file: FileGuard) -> Guard {
        Guard::File(file)
    }
}

impl From<Restore> for Guard {
    fn from(restore: Restore) -> Guard {
        Guard::Terminal(restore)
    }
}

impl From<OwnedFd> for Guard {
    fn from(fd: OwnedFd) -> Guard {
        Guard::Descriptor(fd)
    }
}

/// A file socketry made for an endpoint, removed when the guard is dropped, and only while
/// it is still the file socketry made: never one that someone put in its place since.
#[derive(Debug)]
pub struct FileGuard {
    path: PathBuf,
    made: Made,
}

/// What the file was made as, which says how to tell it is still ours.
#[derive(Debug)]
enum Made {
    /// A socket file bound here: still the same inode (`None`: it could not be looked at, so
    /// it is left alone). `remove: false` keeps it (socat's `unlink-close=0`).
    Socket {
        identity: Option<(u64, u64)>,
        remove: bool,
    },
    /// A named pipe: still a named pipe.
    Fifo,
    /// A file opened with `unlink-close`: still the same inode.
    File { identity: Option<(u64, u64)> },
    /// A symbolic link: still pointing at `target`.
    Symlink { target: PathBuf },
}

impl FileGuard {
    /// The socket file just bound at `path`, as it is now; `remove: false` leaves it in place.
    pub fn socket(path: &Path, remove: bool) -> FileGuard {
        let identity = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        FileGuard {
            path: path.to_owned(),
            made: Made::Socket { identity, remove },
        }
    }

    /// The named pipe socketry created at `path`.
    pub fn fifo(path: &Path) -> FileGuard {
        FileGuard {
            path: path.to_owned(),
            made: Made::Fifo,
        }
    }

    /// The file just opened at `path` with `unlink-close`, as it is now.
    pub fn file(path: &Path) -> FileGuard {
        let identity = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        FileGuard {
            path: path.to_owned(),
            made: Made::File { identity },
        }
    }

    /// The symbolic link socketry made at `path`, pointing at `target`.
    pub fn symlink(path: &Path, target: &Path) -> FileGuard {
        FileGuard {
            path: path.to_owned(),
            made: Made::Symlink {
                target: target.to_owned(),
            },
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at the path is still the one socketry made.
    fn still_ours(&self) -> bool {
        match &self.made {
            Made::Socket { identity, remove } => {
                let current = std::fs::symlink_metadata(&self.path)
                    .ok()
                    .map(|m| (m.dev(), m.ino()));
                *remove && current.is_some() && current == *identity
            }
            Made::File { identity } => {
                identity.is_some()
                    && std::fs::metadata(&self.path)
                        .ok()
                        .map(|m| (m.dev(), m.ino()))
                        == *identity
            }
            Made::Fifo => {
                std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.file_type().is_fifo())
            }
            Made::Symlink { target } => std::fs::read_link(&self.path).is_ok_and(|t| t == *target),
        }
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        if self.still_ours() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_put_in_the_place_of_ours_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let guard = FileGuard::socket(&path, true);
        drop(listener);
        // Moved aside rather than removed, so that the new file cannot reuse its inode.
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        drop(guard);
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    }

    #[test]
    fn each_kind_removes_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("s");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let fifo = dir.path().join("f");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let kept = dir.path().join("k");
        let _kept_listener = std::os::unix::net::UnixListener::bind(&kept).unwrap();
        drop(FileGuard::socket(&socket, true));
        drop(FileGuard::fifo(&fifo));
        drop(FileGuard::symlink(&link, Path::new("/dev/null")));
        drop(FileGuard::socket(&kept, false));
        assert!(!socket.exists() && !fifo.exists());
        assert!(std::fs::symlink_metadata(&link).is_err());
        assert!(kept.exists());
    }
}
