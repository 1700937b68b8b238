//! The wake-up protocol: a side that finds its ring empty (reading) or full (writing)
//! publishes that it waits, spins for `shm-spin` if asked, then sleeps on its eventfd; the
//! other side signals the eventfd only when the flag says someone sleeps. The rendezvous
//! socket is the heartbeat: its end wakes a sleeper whose peer is gone.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;

use crate::sys;

/// Sleeping until the peer signals: its eventfd, the rendezvous socket whose end says the
/// peer is gone, and the optional spin before sleeping.
#[derive(Debug)]
pub(super) struct Waiter {
    event: AsyncFd<OwnedFd>,
    peer: AsyncFd<OwnedFd>,
    pub(super) peer_gone: bool,
    spin: Duration,
}

impl Waiter {
    pub(super) fn new(event: OwnedFd, peer: OwnedFd, spin: Duration) -> io::Result<Waiter> {
        sys::fd::set_nonblocking(peer.as_fd(), true)?;
        Ok(Waiter {
            event: sys::register(event)?,
            peer: sys::register(peer)?,
            peer_gone: false,
            spin,
        })
    }

    /// Called with the waiting flag published and the condition still false: ready when it
    /// is worth checking again (signalled, the spin saw it come true, or the peer is gone),
    /// pending (with a wake-up registered) otherwise.
    pub(super) fn poll_wake(
        &mut self,
        cx: &mut Context<'_>,
        ready_now: &dyn Fn() -> bool,
    ) -> Poll<()> {
        if !self.spin.is_zero() {
            let deadline = crate::clock::std_deadline_after(Instant::now(), self.spin);
            while Instant::now() < deadline {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if ready_now() {
                    return Poll::Ready(());
                }
            }
        }
        loop {
            match self.event.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    if guard
                        .try_io(|fd| sys::shm::drain_event(fd.get_ref().as_fd()))
                        .is_ok()
                    {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(_)) => {
                    self.peer_gone = true;
                    return Poll::Ready(());
                }
                Poll::Pending => break,
            }
        }
        loop {
            match self.peer.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // Nothing is sent after the hello: readable means the end, or a peer
                    // breaking the protocol, which ends the channel just the same.
                    let mut byte = [0u8; 1];
                    let peeked = guard.try_io(|fd| {
                        match nix::sys::socket::recv(
                            std::os::fd::AsRawFd::as_raw_fd(fd.get_ref()),
                            &mut byte,
                            nix::sys::socket::MsgFlags::MSG_PEEK
                                | nix::sys::socket::MsgFlags::MSG_DONTWAIT,
                        ) {
                            Err(nix::errno::Errno::EAGAIN) => {
                                Err(io::Error::from(io::ErrorKind::WouldBlock))
                            }
                            _ => Ok(()),
                        }
                    });
                    if peeked.is_ok() {
                        self.peer_gone = true;
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(_)) => {
                    self.peer_gone = true;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Wakes the peer sleeping on `fd`.
pub(super) fn signal(fd: &OwnedFd) {
    // An eventfd write fails only if the counter would overflow, which the drain prevents.
    let _ = sys::shm::signal_event(fd.as_fd());
}
