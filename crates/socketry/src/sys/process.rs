//! What a child process does between `fork` and `exec`: join a new session or process group,
//! put its channel on the descriptor numbers it expects, make sure no other descriptor
//! survives `exec`, take a controlling terminal, and switch user. Everything here runs in the
//! forked child of a multi-threaded process, so it only makes system calls: no allocation, no
//! locks.

use std::io;
use std::os::fd::RawFd;

use nix::libc;

/// The most descriptors a child is given (input, output, error).
pub const MAX_CHANNELS: usize = 3;

/// Who the child runs as.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
}

/// How a child sets itself up before `exec`.
#[derive(Debug, Clone, Default)]
pub struct ChildSetup {
    /// `(source, target)`: the child gets a copy of the parent's `source` as `target`.
    pub channels: Vec<(RawFd, RawFd)>,
    pub setsid: bool,
    pub setpgid: bool,
    /// Make this target descriptor (a terminal) the controlling terminal; implies a new
    /// session.
    pub controlling_terminal: Option<RawFd>,
    pub credentials: Option<Credentials>,
    /// The file creation mask the program starts with, instead of the parent's.
    pub umask: Option<u32>,
}

/// Installs `setup` to run in the child of `command` between `fork` and `exec`.
pub fn prepare(command: &mut tokio::process::Command, setup: ChildSetup) -> io::Result<()> {
    if setup.channels.len() > MAX_CHANNELS {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for a child",
        ));
    }
    // SAFETY: the closure runs in the child after fork, where only async-signal-safe calls are
    // allowed: it makes plain system calls through libc, reads data that was allocated before
    // the fork, and neither allocates nor takes a lock.
    unsafe {
        command.pre_exec(move || set_up_child(&setup));
    }
    Ok(())
}

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn set_up_child(setup: &ChildSetup) -> io::Result<()> {
    // SAFETY (for every block below): each is a single system call on plain integers or on
    // pointers to memory that lives for the whole call (a zeroed sigset, the group slice).
    unsafe {
        // socketry ignores SIGPIPE; a program expects the default, so that `yes | head` ends.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
    if setup.setsid || setup.controlling_terminal.is_some() {
        // SAFETY: see above.
        check(unsafe { libc::setsid() })?;
    } else if setup.setpgid {
        // SAFETY: see above.
        check(unsafe { libc::setpgid(0, 0) })?;
    }

    // Move every source above every target first, so that placing one channel can never
    // overwrite another's source.
    let above = setup
        .channels
        .iter()
        .map(|&(_, target)| target)
        .max()
        .unwrap_or(0)
        .max(2)
        + 1;
    let mut moved: [RawFd; MAX_CHANNELS] = [-1; MAX_CHANNELS];
    for (slot, &(source, _)) in moved.iter_mut().zip(&setup.channels) {
        // SAFETY: see above.
        *slot = check(unsafe { libc::fcntl(source, libc::F_DUPFD_CLOEXEC, above) })?;
    }
    mark_all_close_on_exec();
    for (&copy, &(_, target)) in moved.iter().zip(&setup.channels) {
        // dup2 leaves the target without close-on-exec: it is the one meant for the child.
        // SAFETY: see above.
        check(unsafe { libc::dup2(copy, target) })?;
    }
    if let Some(terminal) = setup.controlling_terminal {
        // SAFETY: see above.
        check(unsafe { libc::ioctl(terminal, libc::TIOCSCTTY, 0) })?;
    }
    if let Some(mask) = setup.umask {
        // SAFETY: see above.
        unsafe {
            libc::umask(mask & 0o777);
        }
    }
    if let Some(credentials) = &setup.credentials {
        // SAFETY: see above; the group slice was allocated before the fork.
        unsafe {
            check(libc::setgroups(
                credentials.groups.len(),
                credentials.groups.as_ptr(),
            ))?;
            check(libc::setgid(credentials.gid))?;
            check(libc::setuid(credentials.uid))?;
        }
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec, including any socketry inherited without
/// the flag, so that a program gets only what it is given.
fn mark_all_close_on_exec() {
    // SAFETY: close_range only changes descriptor flags.
    let rc = unsafe { libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if rc == 0 {
        return;
    }
    // Kernels before 5.11: set the flag one by one, up to the descriptor limit.
    // SAFETY: sysconf and fcntl on integers.
    let limit = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    let limit = RawFd::try_from(limit)
        .unwrap_or(RawFd::MAX)
        .clamp(3, 65_536);
    for fd in 3..limit {
        // SAFETY: as above; an fd that is not open just fails with EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: u32, signal: nix::sys::signal::Signal) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal)?;
    Ok(())
}
