//! Our two halves of a channel: the producer of the ring we write and the consumer of the
//! ring we read, each publishing its position and sleeping through the wake-up protocol
//! when the ring is full or empty.

use std::io;
use std::os::fd::OwnedFd;
use std::task::{ready, Context, Poll};

use super::ring::{Ring, MESSAGE_HEADER};
use super::wake::{signal, Waiter};

/// Our half of the ring we write.
#[derive(Debug)]
pub(super) struct Producer {
    pub(super) ring: Ring,
    pub(super) head: u64,
    pub(super) waiting: bool,
    pub(super) closed: bool,
    pub(super) signal: OwnedFd,
    pub(super) waiter: Waiter,
}

impl Producer {
    /// Waits until `need` bytes fit; returns how many do.
    pub(super) fn poll_space(&mut self, cx: &mut Context<'_>, need: u64) -> Poll<io::Result<u64>> {
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the shared memory channel was shut down for writing",
            )));
        }
        if need > self.ring.capacity() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a message of {} bytes does not fit in a ring of {} (expected a larger shm-size)",
                    need - MESSAGE_HEADER,
                    self.ring.capacity()
                ),
            )));
        }
        loop {
            if self.ring.consumer_closed() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the peer no longer reads the shared memory",
                )));
            }
            let free = self.ring.free(self.head)?;
            if free >= need {
                if self.waiting {
                    self.ring.set_producer_waiting(false);
                    self.waiting = false;
                }
                return Poll::Ready(Ok(free));
            }
            if self.waiter.peer_gone {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the peer went away",
                )));
            }
            if !self.waiting {
                self.ring.set_producer_waiting(true);
                self.waiting = true;
                continue;
            }
            let (ring, head) = (&self.ring, self.head);
            let ready_now =
                || ring.free(head).map_or(true, |f| f >= need) || ring.consumer_closed();
            ready!(self.waiter.poll_wake(cx, &ready_now));
        }
    }

    pub(super) fn put(&mut self, data: &[u8]) {
        self.ring.copy_in(self.head, data);
        self.head += data.len() as u64;
    }

    pub(super) fn publish(&mut self) {
        if self.ring.publish(self.head) {
            signal(&self.signal);
        }
    }

    pub(super) fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.ring.close_producer();
            // Always: the peer may have gone to sleep just before the flag.
            signal(&self.signal);
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Our half of the ring we read.
#[derive(Debug)]
pub(super) struct Consumer {
    pub(super) ring: Ring,
    pub(super) tail: u64,
    pub(super) waiting: bool,
    pub(super) signal: OwnedFd,
    pub(super) waiter: Waiter,
}

impl Consumer {
    /// Waits until `need` bytes are readable: `Some(available)`, or `None` at EOF.
    pub(super) fn poll_data(
        &mut self,
        cx: &mut Context<'_>,
        need: u64,
    ) -> Poll<io::Result<Option<u64>>> {
        loop {
            let available = self.ring.available(self.tail)?;
            if available >= need {
                if self.waiting {
                    self.ring.set_consumer_waiting(false);
                    self.waiting = false;
                }
                return Poll::Ready(Ok(Some(available)));
            }
            if self.ring.producer_closed() {
                // Everything published before the close is visible now.
                let last = self.ring.available(self.tail)?;
                if last >= need {
                    continue;
                }
                return Poll::Ready(match last {
                    0 => Ok(None),
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the peer closed in the middle of a message",
                    )),
                });
            }
            if self.waiter.peer_gone {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the peer went away without closing the shared memory channel",
                )));
            }
            if !self.waiting {
                self.ring.set_consumer_waiting(true);
                self.waiting = true;
                continue;
            }
            let (ring, tail) = (&self.ring, self.tail);
            let ready_now =
                || ring.available(tail).map_or(true, |a| a >= need) || ring.producer_closed();
            ready!(self.waiter.poll_wake(cx, &ready_now));
        }
    }

    pub(super) fn take(&mut self, out: &mut [u8]) {
        self.ring.copy_out(self.tail, out);
        self.tail += out.len() as u64;
    }

    pub(super) fn skip(&mut self, len: u64) {
        self.tail += len;
    }

    pub(super) fn release(&mut self) {
        if self.ring.release(self.tail) {
            signal(&self.signal);
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.ring.close_consumer();
        signal(&self.signal);
    }
}
