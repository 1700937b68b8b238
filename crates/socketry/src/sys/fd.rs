//! File descriptors socketry inherits (standard streams, `FD:n`): taking a close-on-exec
//! duplicate, switching to non-blocking mode and back, and retiring a descriptor once its
//! stream is done.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};

/// A close-on-exec duplicate of an inherited descriptor, which socketry then owns.
pub fn duplicate(fd: RawFd) -> io::Result<OwnedFd> {
    // F_DUPFD_CLOEXEC fails with EBADF if `fd` is not open, so an invalid number is an error.
    let new = fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(3))?;
    // SAFETY: fcntl just returned `new` as a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The status flags of a descriptor's open file description.
pub fn status_flags(fd: BorrowedFd<'_>) -> io::Result<OFlag> {
    Ok(OFlag::from_bits_truncate(fcntl(
        fd.as_raw_fd(),
        FcntlArg::F_GETFL,
    )?))
}

/// Sets or clears `O_NONBLOCK`, returning the flags as they were.
pub fn set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> io::Result<OFlag> {
    let old = status_flags(fd)?;
    let mut new = old;
    new.set(OFlag::O_NONBLOCK, nonblocking);
    if new != old {
        fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(new))?;
    }
    Ok(old)
}

/// Restores `O_NONBLOCK` to what `flags` says (shared descriptions such as a terminal must be
/// left as socketry found them).
pub fn restore_nonblocking(fd: BorrowedFd<'_>, flags: OFlag) {
    let _ = set_nonblocking(fd, flags.contains(OFlag::O_NONBLOCK));
}

/// Replaces descriptor `target` with `/dev/null`, which closes what it referred to without
/// freeing the number (so that a later `open` cannot land on a standard stream).
pub fn retire(target: RawFd) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    // SAFETY: dup2 onto a descriptor number we were given; both descriptors are open and the
    // old one is closed atomically by the kernel.
    let rc = unsafe { nix::libc::dup2(null.as_fd().as_raw_fd(), target) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What kind of file a descriptor refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Regular,
    Socket,
    /// A pipe or named pipe.
    Fifo,
    Other,
}

pub fn file_kind(fd: BorrowedFd<'_>) -> io::Result<FileKind> {
    let stat = nix::sys::stat::fstat(fd.as_raw_fd())?;
    let format =
        nix::sys::stat::SFlag::from_bits_truncate(stat.st_mode) & nix::sys::stat::SFlag::S_IFMT;
    Ok(
        if format == nix::sys::stat::SFlag::S_IFREG || format == nix::sys::stat::SFlag::S_IFDIR {
            FileKind::Regular
        } else if format == nix::sys::stat::SFlag::S_IFSOCK {
            FileKind::Socket
        } else if format == nix::sys::stat::SFlag::S_IFIFO {
            FileKind::Fifo
        } else {
            FileKind::Other
        },
    )
}

/// Takes ownership of a descriptor that an `open(2)`-style call just returned.
pub fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller passes a descriptor freshly returned by the kernel that nothing else
    // owns or will close.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Runs `create` under the file creation mask `mask`, whatever the process's is: on a thread
/// of its own that has unshared its filesystem attributes (`CLONE_FS`) and set its umask.
/// The umask is process-wide only for threads that share it, so no other thread's files are
/// affected, and nothing has to be put back.
pub fn with_umask<T: Send>(
    mask: u32,
    create: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    let mask = nix::sys::stat::Mode::from_bits_truncate(mask & 0o777);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
                nix::sys::stat::umask(mask);
                create()
            })
            .join()
    })
    .unwrap_or_else(|_| Err(io::Error::other("the thread creating the file panicked")))
}

/// Gives the file at `path` (not a symbolic link's target) to `uid` and `gid`; `None` leaves
/// that one as it is. For socket files and named pipes, which have no descriptor to fchown.
pub fn chown_path(path: &std::path::Path, uid: Option<u32>, gid: Option<u32>) -> io::Result<()> {
    nix::unistd::fchownat(
        None,
        path,
        uid.map(nix::unistd::Uid::from_raw),
        gid.map(nix::unistd::Gid::from_raw),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// `FS_NOATIME_FL` of `linux/fs.h`: the inode attribute `chattr +A` sets.
const FS_NOATIME_FL: nix::libc::c_long = 0x0000_0080;

/// Sets the no-atime attribute of the file behind `fd` (`chattr +A`): no read of it updates
/// its access time from then on. Fails where the file system keeps no such attribute.
pub fn set_no_atime_attribute(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut flags: nix::libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one long through the pointer, which points at `flags`,
    // alive for the call; the descriptor is borrowed, so open.
    let rc = unsafe {
        nix::libc::ioctl(
            fd.as_raw_fd(),
            nix::libc::FS_IOC_GETFLAGS,
            &mut flags as *mut nix::libc::c_long,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    flags |= FS_NOATIME_FL;
    // SAFETY: FS_IOC_SETFLAGS reads one long through the pointer, which points at `flags`.
    let rc = unsafe {
        nix::libc::ioctl(
            fd.as_raw_fd(),
            nix::libc::FS_IOC_SETFLAGS,
            &flags as *const nix::libc::c_long,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
