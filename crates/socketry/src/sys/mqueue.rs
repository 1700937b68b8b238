//! POSIX message queues. On Linux a queue descriptor is a file descriptor that poll and epoll
//! understand (readable while messages wait, writable while there is room), so a queue opened
//! non-blocking is driven by tokio's reactor like a socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::mqueue::{MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;

/// Which way a queue is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Receive,
    Send,
    Both,
}

/// How to create a queue that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Create {
    /// Fail if the queue exists already.
    pub exclusive: bool,
    pub mode: u32,
    /// `(maxmsg, msgsize)`, or the system's defaults when `None`.
    pub limits: Option<(i64, i64)>,
}

/// A queue's attributes, as `mq_getattr` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attributes {
    pub max_messages: usize,
    pub message_size: usize,
    pub current_messages: usize,
}

/// An open queue descriptor, closed when dropped. It is always non-blocking and close-on-exec.
#[derive(Debug)]
pub struct MessageQueue {
    mqd: MqdT,
}

impl Drop for MessageQueue {
    fn drop(&mut self) {
        // SAFETY: `mqd` is a descriptor this value owns and nothing else closes; on Linux
        // mq_close(3) is close(2), which OwnedFd performs when dropped here.
        drop(unsafe { OwnedFd::from_raw_fd(self.mqd.as_raw_fd()) });
    }
}

impl AsRawFd for MessageQueue {
    fn as_raw_fd(&self) -> RawFd {
        self.mqd.as_raw_fd()
    }
}

impl super::OwnsFd for MessageQueue {}

/// Opens the queue `name` (`/name`), creating it first when `create` says how.
pub fn open(name: &str, access: Access, create: Option<Create>) -> io::Result<MessageQueue> {
    let mut flags = MQ_OFlag::O_NONBLOCK | MQ_OFlag::O_CLOEXEC;
    flags |= match access {
        Access::Receive => MQ_OFlag::O_RDONLY,
        Access::Send => MQ_OFlag::O_WRONLY,
        Access::Both => MQ_OFlag::O_RDWR,
    };
    let Some(create) = create else {
        return Ok(MessageQueue {
            mqd: nix::mqueue::mq_open(name, flags, Mode::empty(), None)?,
        });
    };
    flags |= MQ_OFlag::O_CREAT;
    if create.exclusive {
        flags |= MQ_OFlag::O_EXCL;
    }
    let attr = create
        .limits
        .map(|(max, size)| MqAttr::new(0, max as _, size as _, 0));
    let mode = Mode::from_bits_truncate(create.mode);
    let Some(attr) = attr else {
        // nix passes no mode and attributes when it is given none, but with O_CREAT the
        // kernel reads both: a null attribute pointer asks for the system's defaults.
        let name = std::ffi::CString::new(name)
            .map_err(|_| io::Error::from_raw_os_error(nix::libc::EINVAL))?;
        // SAFETY: `name` is a NUL-terminated string that outlives the call; with O_CREAT,
        // mq_open takes a mode and an attribute pointer, and a null pointer is allowed there.
        let mqd = unsafe {
            nix::libc::mq_open(
                name.as_ptr(),
                flags.bits(),
                mode.bits() as nix::libc::mode_t,
                std::ptr::null_mut::<nix::libc::mq_attr>(),
            )
        };
        if mqd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: mq_open just returned `mqd` as a new descriptor that nothing else owns.
        return Ok(MessageQueue {
            mqd: unsafe { MqdT::from_raw_fd(mqd) },
        });
    };
    let mqd = nix::mqueue::mq_open(name, flags, mode, Some(&attr))?;
    Ok(MessageQueue { mqd })
}

/// Removes the queue's name; those who have it open keep using it.
pub fn unlink(name: &str) -> io::Result<()> {
    Ok(nix::mqueue::mq_unlink(name)?)
}

impl MessageQueue {
    pub fn attributes(&self) -> io::Result<Attributes> {
        let attr = nix::mqueue::mq_getattr(&self.mqd)?;
        let count = |n: nix::mqueue::mq_attr_member_t| usize::try_from(n).unwrap_or(0);
        Ok(Attributes {
            max_messages: count(attr.maxmsg()),
            message_size: count(attr.msgsize()),
            current_messages: count(attr.curmsgs()),
        })
    }

    /// Takes the oldest message of the highest priority: its length and priority. `buf` must
    /// hold the queue's message size (EMSGSIZE otherwise); EAGAIN when the queue is empty.
    pub fn receive(&self, buf: &mut [u8]) -> io::Result<(usize, u32)> {
        let mut priority = 0;
        let n = nix::mqueue::mq_receive(&self.mqd, buf, &mut priority)?;
        Ok((n, priority))
    }

    /// Makes sends and receives wait (for room, or for a message) instead of failing with
    /// EAGAIN: for callers on a thread of their own rather than tokio's reactor.
    pub fn set_blocking(&self) -> io::Result<()> {
        nix::mqueue::mq_remove_nonblock(&self.mqd)?;
        Ok(())
    }

    /// Adds `message` with `priority`; EAGAIN when the queue is full, EMSGSIZE when the message
    /// is larger than the queue's message size.
    pub fn send(&self, message: &[u8], priority: u32) -> io::Result<()> {
        Ok(nix::mqueue::mq_send(&self.mqd, message, priority)?)
    }
}
