//! What socat applies to any open descriptor, whichever address opened it: a lock on the
//! file (`lock`, `flock-*`, `setlk*`), `O_NOATIME` on the open file (`o-noatime`), a pipe's
//! capacity (`f-setpipe-sz`). Files take them when they open; inherited descriptors
//! (`STDIO`, `FD:n`) and socketry's own pipes take them here, on the descriptors the relay
//! uses, never on one it does not (`-u /dev/null -,setlk` locks standard output alone).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

use nix::fcntl::{FcntlArg, FlockArg, OFlag};
use nix::libc;

use crate::address::{OptionId, Options};
use crate::endpoint::error::OpenError;
use crate::sys::fd::{self, FileKind};

/// Applies `o-noatime` and the locks among `options` to `fd`, an inherited descriptor the
/// relay uses (`what` names it in errors). A pipe's size is the caller's: it applies only to
/// the descriptors that are pipes ([`set_pipe_size`]).
pub fn apply_inherited(fd: BorrowedFd<'_>, options: &Options, what: &str) -> Result<(), OpenError> {
    if options.flag(OptionId::NoAtime, false) {
        set_no_atime(fd, what)?;
    }
    take_locks(fd, options, what)
}

/// Gives the file behind `fd`, opened at `path`, the owner (`user`, `group`) and the mode
/// (`mode`) among `options`, where they are given: whoever opens it next finds it as asked.
pub fn set_owner_and_mode(
    fd: BorrowedFd<'_>,
    options: &Options,
    path: &Path,
) -> Result<(), OpenError> {
    let failed = |action: &str| {
        let action = format!("{action} {}", path.display());
        move |e: nix::errno::Errno| OpenError::Io {
            action,
            source: e.into(),
        }
    };
    if let Some((uid, gid)) = options.owner() {
        nix::unistd::fchown(
            fd.as_raw_fd(),
            uid.map(nix::unistd::Uid::from_raw),
            gid.map(nix::unistd::Gid::from_raw),
        )
        .map_err(failed("changing the owner of"))?;
    }
    if let Some(mode) = options.mode() {
        nix::sys::stat::fchmod(
            fd.as_raw_fd(),
            nix::sys::stat::Mode::from_bits_truncate(mode),
        )
        .map_err(failed("changing the mode of"))?;
    }
    Ok(())
}

/// Sets `O_NOATIME` on the open file behind `fd`: reading through it no longer updates the
/// file's access time.
pub fn set_no_atime(fd: BorrowedFd<'_>, what: &str) -> Result<(), OpenError> {
    let flags = fd::status_flags(fd).map_err(OpenError::io(format!(
        "o-noatime: reading the flags of {what}"
    )))?;
    nix::fcntl::fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NOATIME)).map_err(|e| {
        if e == nix::errno::Errno::EPERM {
            OpenError::Refused(format!(
                "o-noatime: {what} belongs to another user (only its owner or root may read without updating its access time)"
            ))
        } else {
            OpenError::Io {
                action: format!("o-noatime: setting O_NOATIME on {what}"),
                source: e.into(),
            }
        }
    })?;
    Ok(())
}

/// Sets the capacity of the pipe `fd` is an end of to `size` bytes (`f-setpipe-sz`).
pub fn set_pipe_size(fd: BorrowedFd<'_>, size: u64, what: &str) -> Result<(), OpenError> {
    let kind =
        fd::file_kind(fd).map_err(OpenError::io(format!("f-setpipe-sz: looking at {what}")))?;
    if kind != FileKind::Fifo {
        return Err(OpenError::Refused(format!(
            "f-setpipe-sz: {what} is not a pipe"
        )));
    }
    let wanted = libc::c_int::try_from(size)
        .map_err(|_| OpenError::Refused(format!("f-setpipe-sz={size} is too large")))?;
    match nix::fcntl::fcntl(fd.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(wanted)) {
        Ok(got) => {
            tracing::debug!("{what}: pipe capacity {got} bytes (f-setpipe-sz={size})");
            Ok(())
        }
        Err(nix::errno::Errno::EPERM) => Err(OpenError::Refused(format!(
            "f-setpipe-sz={size}: more than /proc/sys/fs/pipe-max-size allows without CAP_SYS_RESOURCE"
        ))),
        Err(nix::errno::Errno::EBUSY) => Err(OpenError::Refused(format!(
            "f-setpipe-sz={size}: {what} holds more data than that"
        ))),
        Err(e) => Err(OpenError::Io {
            action: format!("f-setpipe-sz: resizing {what}"),
            source: e.into(),
        }),
    }
}

/// Whether `options` ask for any lock.
pub fn locks(options: &Options) -> bool {
    LOCKS.iter().any(|(id, _)| options.flag(*id, false))
}

/// Takes the locks `options` ask for on `fd`, in the table's order.
pub fn take_locks(fd: BorrowedFd<'_>, options: &Options, what: &str) -> Result<(), OpenError> {
    for (id, lock) in LOCKS {
        if options.flag(*id, false) {
            take_lock(fd, *lock, id.def().name, what)?;
        }
    }
    Ok(())
}

/// A lock taken on a file once it is open.
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// flock(2), shared or exclusive; `wait` for a holder to let go, or fail at once.
    Flock { exclusive: bool, wait: bool },
    /// An fcntl(2) record lock on the whole file, for writing or reading.
    Record { write: bool, wait: bool },
}

const LOCKS: &[(OptionId, Lock)] = &[
    (
        OptionId::Lock,
        Lock::Flock {
            exclusive: true,
            wait: true,
        },
    ),
    (
        OptionId::FlockExNb,
        Lock::Flock {
            exclusive: true,
            wait: false,
        },
    ),
    (
        OptionId::FlockSh,
        Lock::Flock {
            exclusive: false,
            wait: true,
        },
    ),
    (
        OptionId::FlockShNb,
        Lock::Flock {
            exclusive: false,
            wait: false,
        },
    ),
    (
        OptionId::SetLk,
        Lock::Record {
            write: true,
            wait: false,
        },
    ),
    (
        OptionId::SetLkw,
        Lock::Record {
            write: true,
            wait: true,
        },
    ),
    (
        OptionId::SetLkRd,
        Lock::Record {
            write: false,
            wait: false,
        },
    ),
    (
        OptionId::SetLkwRd,
        Lock::Record {
            write: false,
            wait: true,
        },
    ),
];

/// Takes `lock` on `fd`. A lock that would wait is logged first; one that must not wait
/// fails, naming the option.
fn take_lock(
    fd: BorrowedFd<'_>,
    lock: Lock,
    option: &str,
    description: &str,
) -> Result<(), OpenError> {
    use nix::errno::Errno;
    let attempt = |wait: bool| -> Result<(), Errno> {
        match lock {
            Lock::Flock { exclusive, .. } => {
                let arg = match (exclusive, wait) {
                    (true, true) => FlockArg::LockExclusive,
                    (true, false) => FlockArg::LockExclusiveNonblock,
                    (false, true) => FlockArg::LockShared,
                    (false, false) => FlockArg::LockSharedNonblock,
                };
                #[allow(deprecated)] // nix 0.29's Flock type owns the file; we keep ours.
                nix::fcntl::flock(fd.as_raw_fd(), arg)
            }
            Lock::Record { write, .. } => {
                let whole_file = libc::flock {
                    l_type: if write { libc::F_WRLCK } else { libc::F_RDLCK } as libc::c_short,
                    l_whence: libc::SEEK_SET as libc::c_short,
                    l_start: 0,
                    l_len: 0,
                    l_pid: 0,
                };
                let arg = if wait {
                    FcntlArg::F_SETLKW(&whole_file)
                } else {
                    FcntlArg::F_SETLK(&whole_file)
                };
                nix::fcntl::fcntl(fd.as_raw_fd(), arg).map(drop)
            }
        }
    };
    let wait = match lock {
        Lock::Flock { wait, .. } | Lock::Record { wait, .. } => wait,
    };
    let failed = |e: Errno| OpenError::Io {
        action: format!("{option}: locking {description}"),
        source: e.into(),
    };
    match attempt(false) {
        Ok(()) => Ok(()),
        Err(Errno::EWOULDBLOCK | Errno::EACCES) if wait => {
            tracing::info!("{description} is locked by another process: waiting ({option})");
            attempt(true).map_err(failed)
        }
        Err(Errno::EWOULDBLOCK | Errno::EACCES) => Err(OpenError::Refused(format!(
            "{option}: {description} is locked by another process"
        ))),
        Err(e) => Err(failed(e)),
    }
}
