//! The layout of the shared memory and the single-producer single-consumer ring of bytes
//! that each direction is.
//!
//! The memory holds a header page, then the two rings' data areas. Each ring's control block
//! sits in the header, every field on its own cache line:
//!
//! - `head`: bytes ever written; only the producer stores it (Release), after copying the
//!   bytes in, so a consumer that loads it (Acquire) sees them.
//! - `tail`: bytes ever read; only the consumer stores it (Release), after copying the bytes
//!   out, so the producer that loads it (Acquire) never overwrites unread bytes.
//! - `producer_closed` / `consumer_closed`: EOF, and "nobody reads any more" (the writer's
//!   EPIPE), each stored with Release after the last head or tail.
//! - `consumer_waiting` / `producer_waiting`: set by a side that is about to sleep. A side
//!   stores its flag, then a SeqCst fence, then checks the ring again; the other side stores
//!   head or tail, then a SeqCst fence, then reads the flag and wakes the sleeper if it is
//!   set. The fences forbid both sides missing each other's store, so no wake-up is lost;
//!   a spurious one only costs a re-check.
//!
//! Positions are the counters modulo the capacity, so a write or read may wrap around the end
//! of the data area in two copies. `head - tail` never exceeds the capacity; a peer that
//! breaks that rule (or any other) is reported as corrupt, and nothing it writes can make us
//! touch memory outside the mapping.

use std::io;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use crate::sys::shm::SharedMemory;

pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"SKTRYSHM");
pub(crate) const VERSION: u32 = 1;
/// Header flag: the rings carry messages (a 4-byte little-endian length, then the bytes).
pub(crate) const FLAG_MESSAGES: u32 = 1;

const PAGE: usize = 4096;
const HEADER_LEN: usize = PAGE;
const MAGIC_AT: usize = 0;
const VERSION_AT: usize = 8;
const FLAGS_AT: usize = 12;
const CAPACITY_AT: usize = 16;
const CONTROL_AT: usize = 128;
const CONTROL_LEN: usize = 512;
const HEAD: usize = 0;
const TAIL: usize = 64;
const PRODUCER_CLOSED: usize = 128;
const CONSUMER_CLOSED: usize = 132;
const CONSUMER_WAITING: usize = 192;
const PRODUCER_WAITING: usize = 256;

/// The smallest and largest ring, in bytes.
pub(crate) const MIN_CAPACITY: u64 = PAGE as u64;
pub(crate) const MAX_CAPACITY: u64 = 1 << 30;

/// The length prefix of a message.
pub(crate) const MESSAGE_HEADER: u64 = 4;

/// Where everything is, given each ring's capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    capacity: usize,
}

impl Layout {
    /// A layout whose rings hold at least `requested` bytes (rounded up to a page).
    pub(crate) fn new(requested: u64) -> Option<Layout> {
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&requested) {
            return None;
        }
        let capacity = usize::try_from(requested.div_ceil(PAGE as u64) * PAGE as u64).ok()?;
        Some(Layout { capacity })
    }

    pub(crate) fn capacity(self) -> usize {
        self.capacity
    }

    /// The length of the whole shared memory.
    pub(crate) fn total_len(self) -> usize {
        HEADER_LEN + 2 * self.capacity
    }

    fn control(self, ring: usize) -> usize {
        CONTROL_AT + ring * CONTROL_LEN
    }

    fn data(self, ring: usize) -> usize {
        HEADER_LEN + ring * self.capacity
    }
}

/// Writes the header of fresh (zeroed) shared memory.
pub(crate) fn initialise(memory: &SharedMemory, layout: Layout, messages: bool) {
    memory
        .atomic_u32(VERSION_AT)
        .store(VERSION, Ordering::Relaxed);
    memory
        .atomic_u32(FLAGS_AT)
        .store(if messages { FLAG_MESSAGES } else { 0 }, Ordering::Relaxed);
    memory
        .atomic_u64(CAPACITY_AT)
        .store(layout.capacity as u64, Ordering::Relaxed);
    memory.atomic_u64(MAGIC_AT).store(MAGIC, Ordering::Release);
}

/// Checks the header of shared memory the peer created; returns whether it carries messages.
pub(crate) fn check_header(memory: &SharedMemory, layout: Layout) -> Result<bool, String> {
    if memory.atomic_u64(MAGIC_AT).load(Ordering::Acquire) != MAGIC {
        return Err("it is not socketry's shared memory (wrong magic number)".to_owned());
    }
    let version = memory.atomic_u32(VERSION_AT).load(Ordering::Relaxed);
    if version != VERSION {
        return Err(format!("layout version {version} (expected {VERSION})"));
    }
    let capacity = memory.atomic_u64(CAPACITY_AT).load(Ordering::Relaxed);
    if capacity != layout.capacity as u64 {
        return Err(format!(
            "rings of {capacity} bytes, but {} were announced",
            layout.capacity
        ));
    }
    Ok(memory.atomic_u32(FLAGS_AT).load(Ordering::Relaxed) & FLAG_MESSAGES != 0)
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("shared memory corrupt: {what}"),
    )
}

/// One ring, as one side sees it: either side may call any method, but a side only ever
/// uses the producer's or the consumer's half of a given ring.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    memory: Arc<SharedMemory>,
    control: usize,
    data: usize,
    capacity: u64,
}

impl Ring {
    /// Ring `index` (0 or 1) of `memory`.
    pub(crate) fn new(memory: Arc<SharedMemory>, layout: Layout, index: usize) -> Ring {
        Ring {
            control: layout.control(index),
            data: layout.data(index),
            capacity: layout.capacity as u64,
            memory,
        }
    }

    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    fn u64_at(&self, field: usize) -> &AtomicU64 {
        self.memory.atomic_u64(self.control + field)
    }

    fn u32_at(&self, field: usize) -> &AtomicU32 {
        self.memory.atomic_u32(self.control + field)
    }

    /// Bytes the producer at `head` may write now.
    pub(crate) fn free(&self, head: u64) -> io::Result<u64> {
        let tail = self.u64_at(TAIL).load(Ordering::Acquire);
        let used = head.wrapping_sub(tail);
        if used > self.capacity {
            return Err(corrupt("the reader is ahead of the writer"));
        }
        Ok(self.capacity - used)
    }

    /// Bytes the consumer at `tail` may read now.
    pub(crate) fn available(&self, tail: u64) -> io::Result<u64> {
        let head = self.u64_at(HEAD).load(Ordering::Acquire);
        let available = head.wrapping_sub(tail);
        if available > self.capacity {
            return Err(corrupt("more unread bytes than the ring holds"));
        }
        Ok(available)
    }

    /// The two pieces (offset in the mapping, length) of `len` bytes from `position`.
    fn pieces(&self, position: u64, len: usize) -> [(usize, usize); 2] {
        // `position % capacity` is below the capacity, a usize.
        let start = usize::try_from(position % self.capacity).unwrap_or(0);
        let capacity = usize::try_from(self.capacity).unwrap_or(0);
        let first = len.min(capacity - start);
        [(self.data + start, first), (self.data, len - first)]
    }

    /// Copies `data` in at `position` (the producer's head); the caller has checked that it
    /// fits.
    pub(crate) fn copy_in(&self, position: u64, data: &[u8]) {
        let [(at, first), (wrapped_at, _)] = self.pieces(position, data.len());
        self.memory.write_bytes(at, &data[..first]);
        self.memory.write_bytes(wrapped_at, &data[first..]);
    }

    /// Copies `out.len()` bytes out from `position` (the consumer's tail); the caller has
    /// checked that they are available.
    pub(crate) fn copy_out(&self, position: u64, out: &mut [u8]) {
        let [(at, first), (wrapped_at, _)] = self.pieces(position, out.len());
        let (out_first, out_wrapped) = out.split_at_mut(first);
        self.memory.read_bytes(at, out_first);
        self.memory.read_bytes(wrapped_at, out_wrapped);
    }

    /// Makes everything before `head` readable; true when the consumer asked to be woken.
    pub(crate) fn publish(&self, head: u64) -> bool {
        self.u64_at(HEAD).store(head, Ordering::Release);
        fence(Ordering::SeqCst);
        self.u32_at(CONSUMER_WAITING).load(Ordering::Relaxed) != 0
    }

    /// Frees everything before `tail` for writing; true when the producer asked to be woken.
    pub(crate) fn release(&self, tail: u64) -> bool {
        self.u64_at(TAIL).store(tail, Ordering::Release);
        fence(Ordering::SeqCst);
        self.u32_at(PRODUCER_WAITING).load(Ordering::Relaxed) != 0
    }

    /// The consumer is about to sleep (or has stopped): after this, check the ring again.
    pub(crate) fn set_consumer_waiting(&self, waiting: bool) {
        self.u32_at(CONSUMER_WAITING)
            .store(u32::from(waiting), Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// The producer is about to sleep (or has stopped): after this, check the ring again.
    pub(crate) fn set_producer_waiting(&self, waiting: bool) {
        self.u32_at(PRODUCER_WAITING)
            .store(u32::from(waiting), Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// EOF: nothing follows what has been published.
    pub(crate) fn close_producer(&self) {
        self.u32_at(PRODUCER_CLOSED).store(1, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    pub(crate) fn producer_closed(&self) -> bool {
        self.u32_at(PRODUCER_CLOSED).load(Ordering::Acquire) != 0
    }

    /// Nobody reads this ring any more: the producer's writes fail with EPIPE.
    pub(crate) fn close_consumer(&self) {
        self.u32_at(CONSUMER_CLOSED).store(1, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    pub(crate) fn consumer_closed(&self) -> bool {
        self.u32_at(CONSUMER_CLOSED).load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ring(capacity: u64) -> (Ring, Ring) {
        let layout = Layout::new(capacity).unwrap();
        let (_fd, memory) =
            SharedMemory::create(c"socketry-ring-test", layout.total_len()).unwrap();
        let memory = Arc::new(memory);
        initialise(&memory, layout, false);
        assert_eq!(check_header(&memory, layout), Ok(false));
        (
            Ring::new(memory.clone(), layout, 0),
            Ring::new(memory, layout, 1),
        )
    }

    #[test]
    fn sizes_round_up_to_a_page_and_stay_in_bounds() {
        assert_eq!(Layout::new(4096).map(Layout::capacity), Some(4096));
        assert_eq!(Layout::new(5000).map(Layout::capacity), Some(8192));
        assert_eq!(Layout::new(4095), None);
        assert_eq!(Layout::new(MAX_CAPACITY + 1), None);
    }

    #[test]
    fn bytes_wrap_around_the_end_and_the_two_rings_are_apart() {
        let (ring, other) = ring(4096);
        let mut head = 0;
        let mut tail = 0;
        let mut next = 0u8;
        for round in 0..100 {
            let len = 1000 + round * 7;
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            assert!(ring.free(head).unwrap() >= len as u64);
            ring.copy_in(head, &data);
            head += len as u64;
            ring.publish(head);
            assert_eq!(ring.available(tail).unwrap(), len as u64);
            let mut out = vec![0; len];
            ring.copy_out(tail, &mut out);
            tail += len as u64;
            ring.release(tail);
            assert_eq!(out, data);
        }
        assert_eq!(other.available(0).unwrap(), 0);
    }

    #[test]
    fn a_peer_that_breaks_the_counters_is_reported_not_followed() {
        let (ring, _) = ring(4096);
        ring.publish(10_000);
        assert_eq!(
            ring.available(0).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        ring.release(20_000);
        assert_eq!(ring.free(0).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    /// Two threads, one producer and one consumer, spinning (no sleeping): every byte arrives
    /// once and in order, through many wrap-arounds of a small ring, with chunk sizes that
    /// never line up with the capacity.
    #[test]
    fn two_threads_move_every_byte_in_order() {
        const TOTAL: u64 = 8 << 20;
        let (ring, _) = ring(4096);
        let producer = ring.clone();
        let writer = std::thread::spawn(move || {
            let mut head = 0u64;
            let mut chunk = vec![0u8; 3001];
            let mut spins = 0u64;
            while head < TOTAL {
                let free = producer.free(head).unwrap();
                if free == 0 {
                    spins += 1;
                    assert!(spins < 1 << 34, "the consumer stopped");
                    std::thread::yield_now();
                    continue;
                }
                let n = (free.min(TOTAL - head) as usize).min(chunk.len() - (head % 7) as usize);
                for (i, byte) in chunk[..n].iter_mut().enumerate() {
                    *byte = ((head + i as u64) % 251) as u8;
                }
                producer.copy_in(head, &chunk[..n]);
                head += n as u64;
                producer.publish(head);
            }
            producer.close_producer();
        });
        let mut tail = 0u64;
        let mut buf = vec![0u8; 2039];
        let mut spins = 0u64;
        loop {
            let available = ring.available(tail).unwrap();
            if available == 0 {
                if ring.producer_closed() && ring.available(tail).unwrap() == 0 {
                    break;
                }
                spins += 1;
                assert!(spins < 1 << 34, "the producer stopped");
                std::thread::yield_now();
                continue;
            }
            let n = (available as usize).min(buf.len());
            ring.copy_out(tail, &mut buf[..n]);
            for (i, byte) in buf[..n].iter().enumerate() {
                assert_eq!(
                    *byte,
                    ((tail + i as u64) % 251) as u8,
                    "byte {}",
                    tail + i as u64
                );
            }
            tail += n as u64;
            ring.release(tail);
        }
        writer.join().unwrap();
        assert_eq!(tail, TOTAL);
    }
}
