//! Buffers and pipes lent to a relay direction only while data is moving through it, so that
//! an idle connection holds neither. Each thread keeps a few returned ones for the next
//! borrower (taking one is then a pop from a vector, not an allocation); the rest are freed.

use std::cell::RefCell;
use std::io;
use std::ops::{Deref, DerefMut};

use crate::sys::splice::Pipe;

/// How many buffers, and how many pipes, each thread keeps for reuse.
const KEPT_PER_THREAD: usize = 16;

thread_local! {
    static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static PIPES: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of a fixed size, returned to its thread's pool when dropped.
#[derive(Debug)]
pub(crate) struct Buffer(Vec<u8>);

impl Buffer {
    pub fn take(size: usize) -> Buffer {
        let reused = BUFFERS
            .try_with(|pool| {
                let mut pool = pool.borrow_mut();
                let at = pool.iter().position(|b| b.len() == size)?;
                Some(pool.swap_remove(at))
            })
            .ok()
            .flatten();
        Buffer(reused.unwrap_or_else(|| vec![0; size]))
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        let _ = BUFFERS.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < KEPT_PER_THREAD {
                pool.push(buf);
            }
        });
    }
}

/// A pipe lent to one direction. It goes back to the pool only if it is empty when dropped;
/// a pipe with bytes still in it (a relay cut off by its linger time) is closed.
#[derive(Debug)]
pub(crate) struct LentPipe {
    pipe: Option<Pipe>,
    /// Bytes spliced in and not yet out.
    pub filled: usize,
    pub capacity: usize,
}

impl LentPipe {
    /// A pipe that holds `capacity` bytes if the kernel allows, else as many as it does.
    pub fn take(capacity: usize) -> io::Result<LentPipe> {
        let reused = PIPES
            .try_with(|pool| pool.borrow_mut().pop())
            .ok()
            .flatten();
        let mut pipe = match reused {
            Some(pipe) => pipe,
            None => Pipe::new()?,
        };
        pipe.grow(capacity);
        let capacity = pipe.capacity();
        Ok(LentPipe {
            pipe: Some(pipe),
            filled: 0,
            capacity,
        })
    }

    pub fn pipe(&self) -> &Pipe {
        // Only `drop` takes the pipe out.
        self.pipe.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for LentPipe {
    fn drop(&mut self) {
        let Some(pipe) = self.pipe.take() else {
            return;
        };
        if self.filled == 0 {
            let _ = PIPES.try_with(|pool| {
                let mut pool = pool.borrow_mut();
                if pool.len() < KEPT_PER_THREAD {
                    pool.push(pipe);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_and_empty_pipes_are_reused_and_full_pipes_are_not() {
        let first = Buffer::take(1000);
        let address = first.as_ptr();
        drop(first);
        assert_eq!(Buffer::take(1000).as_ptr(), address);
        assert_eq!(Buffer::take(10).len(), 10);

        let pooled = || PIPES.with(|pool| pool.borrow().len());
        let pipe = LentPipe::take(4096).unwrap();
        assert!(pipe.capacity >= 4096);
        assert_eq!(pooled(), 0);
        drop(pipe);
        assert_eq!(pooled(), 1);
        let mut again = LentPipe::take(4096).unwrap();
        assert_eq!(pooled(), 0);
        again.filled = 1;
        drop(again);
        assert_eq!(pooled(), 0);
    }
}
