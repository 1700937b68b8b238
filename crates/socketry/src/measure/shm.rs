//! Shared memory as the benchmark drives it: the library's own rings ([`crate::endpoint::shm::ring`]),
//! one each way in one sealed memory file, used as a byte stream by two threads with blocking
//! calls. A side that finds its ring empty (or full) either spins on it, or sleeps on an
//! eventfd the other side writes when it sees the sleeper's waiting flag: the two ways a
//! shared-memory transport can wait, and the two figures `socketry bench` gives for it.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::mechanism::ByteStream;
use crate::endpoint::shm::ring::{self, Layout, Ring};
use crate::sys::shm::{self as sys_shm, SharedMemory};

/// Each ring's capacity: larger than the largest message measured, as a pipe's 64 KiB is not.
const CAPACITY: u64 = 1 << 20;

/// How a side waits for its ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Re-read the ring until it changes (yielding the CPU every few thousand looks, so that
    /// two spinners on one CPU still make progress).
    Spin,
    /// Sleep in poll(2) on an eventfd until the other side signals it.
    EventFd,
}

/// How many looks at the ring between yields when spinning.
const SPINS_BEFORE_YIELD: u32 = 4096;

/// One side: it produces into `send` and consumes from `receive`.
pub(crate) struct RingStream {
    send: Ring,
    receive: Ring,
    head: u64,
    tail: u64,
    wake: Wake,
    /// This side's eventfd (the other side signals it) and the other side's.
    mine: Arc<OwnedFd>,
    theirs: Arc<OwnedFd>,
}

/// Two connected sides over fresh shared memory.
pub(crate) fn pair(wake: Wake) -> io::Result<(RingStream, RingStream)> {
    let layout =
        Layout::new(CAPACITY).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let (_fd, memory) = SharedMemory::create(c"socketry-bench", layout.total_len())?;
    let memory = Arc::new(memory);
    ring::initialise(&memory, layout, false);
    let a_event = Arc::new(sys_shm::new_event()?);
    let b_event = Arc::new(sys_shm::new_event()?);
    let side = |send: usize, mine: &Arc<OwnedFd>, theirs: &Arc<OwnedFd>| RingStream {
        send: Ring::new(memory.clone(), layout, send),
        receive: Ring::new(memory.clone(), layout, 1 - send),
        head: 0,
        tail: 0,
        wake,
        mine: mine.clone(),
        theirs: theirs.clone(),
    };
    Ok((side(0, &a_event, &b_event), side(1, &b_event, &a_event)))
}

/// Which half of a ring a side waits as.
#[derive(Debug, Clone, Copy)]
enum Role {
    Producer,
    Consumer,
}

impl RingStream {
    fn signal(&self) -> io::Result<()> {
        sys_shm::signal_event(self.theirs.as_fd())
    }

    /// Waits until `ready` says so, by spinning or sleeping on this side's eventfd.
    fn wait(&self, role: Role, ready: impl Fn(&Self) -> io::Result<bool>) -> io::Result<()> {
        match self.wake {
            Wake::Spin => {
                let mut spins = 0u32;
                while !ready(self)? {
                    spins += 1;
                    if spins % SPINS_BEFORE_YIELD == 0 {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
                Ok(())
            }
            Wake::EventFd => loop {
                if ready(self)? {
                    return Ok(());
                }
                self.set_waiting(role, true);
                // The flag is visible before this check, so a change after it signals us.
                if ready(self)? {
                    self.set_waiting(role, false);
                    return Ok(());
                }
                let mut fds = [PollFd::new(self.mine.as_fd(), PollFlags::POLLIN)];
                let polled = nix::poll::poll(&mut fds, PollTimeout::from(1000u16));
                self.set_waiting(role, false);
                match polled {
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => return Err(e.into()),
                }
                match sys_shm::drain_event(self.mine.as_fd()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            },
        }
    }

    fn set_waiting(&self, role: Role, waiting: bool) {
        match role {
            Role::Producer => self.send.set_producer_waiting(waiting),
            Role::Consumer => self.receive.set_consumer_waiting(waiting),
        }
    }
}

impl Write for RingStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        self.wait(Role::Producer, |s| {
            Ok(s.send.consumer_closed() || s.send.free(s.head)? > 0)
        })?;
        if self.send.consumer_closed() {
            return Err(io::Error::from(io::ErrorKind::BrokenPipe));
        }
        let free = self.send.free(self.head)?;
        let n = data.len().min(usize::try_from(free).unwrap_or(usize::MAX));
        self.send.copy_in(self.head, &data[..n]);
        self.head += n as u64;
        if self.send.publish(self.head) && self.wake == Wake::EventFd {
            self.signal()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for RingStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        self.wait(Role::Consumer, |s| {
            Ok(s.receive.producer_closed() || s.receive.available(s.tail)? > 0)
        })?;
        // Closed is stored after the last head: read what is there before reporting the end.
        let available = self.receive.available(self.tail)?;
        if available == 0 {
            return Ok(0);
        }
        let n = out
            .len()
            .min(usize::try_from(available).unwrap_or(usize::MAX));
        self.receive.copy_out(self.tail, &mut out[..n]);
        self.tail += n as u64;
        if self.receive.release(self.tail) && self.wake == Wake::EventFd {
            self.signal()?;
        }
        Ok(n)
    }
}

impl ByteStream for RingStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.send.close_producer();
        if self.wake == Wake::EventFd {
            self.signal()?;
        }
        Ok(())
    }
}

impl Drop for RingStream {
    fn drop(&mut self) {
        // A side that stops (an error on its thread) must not leave the other waiting forever.
        self.send.close_producer();
        self.receive.close_consumer();
        let _ = self.signal();
    }
}

impl std::fmt::Debug for RingStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingStream")
            .field("head", &self.head)
            .field("tail", &self.tail)
            .field("wake", &self.wake)
            .finish_non_exhaustive()
    }
}
