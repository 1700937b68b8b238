//! Memory shared between processes: a sealed `memfd` mapped `MAP_SHARED` by both sides, read
//! and written only through atomics at fixed offsets and bounds-checked byte copies, and the
//! `eventfd`s the two sides wake each other with.
//!
//! The other process can write anything into the shared pages at any time; nothing here ever
//! forms a Rust reference to the shared bytes (only to the atomics, which tolerate concurrent
//! access by definition), and every offset is checked against the mapping's length. The seals
//! keep the peer from shrinking the file under our mapping, which would turn an access into
//! SIGBUS.

use std::ffi::CStr;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64};

use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

/// A `MAP_SHARED` mapping of a whole memory file.
#[derive(Debug)]
pub struct SharedMemory {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory that stays mapped until drop; every access goes
// through atomics or raw-pointer copies, which are sound from any thread.
unsafe impl Send for SharedMemory {}
// SAFETY: as above: shared access is only through atomics and raw-pointer copies.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// Creates a memory file of `len` bytes (zeroed), sealed against any change of size, and
    /// maps it.
    pub fn create(name: &CStr, len: usize) -> io::Result<(OwnedFd, SharedMemory)> {
        let fd = memfd_create(
            name,
            MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
        )?;
        let size = i64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        nix::unistd::ftruncate(&fd, size)?;
        let seals = SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_SEAL;
        fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            FcntlArg::F_ADD_SEALS(seals),
        )?;
        let memory = SharedMemory::map(fd.as_fd(), len)?;
        Ok((fd, memory))
    }

    /// Maps a memory file another process created, after checking that it is exactly `len`
    /// bytes and sealed so that it can never shrink.
    pub fn map(fd: BorrowedFd<'_>, len: usize) -> io::Result<SharedMemory> {
        let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
        let seals = SealFlag::from_bits_truncate(fcntl(raw, FcntlArg::F_GET_SEALS)?);
        if !seals.contains(SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_SEAL) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the shared memory is not sealed against shrinking",
            ));
        }
        let size = nix::sys::stat::fstat(raw)?.st_size;
        if usize::try_from(size).ok() != Some(len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the shared memory is {size} bytes (expected {len})"),
            ));
        }
        let length =
            NonZeroUsize::new(len).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a new shared mapping chosen by the kernel (no address hint), of a file that is
        // `len` bytes long and can no longer shrink, so every byte of it stays backed.
        let base = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )?
        };
        Ok(SharedMemory {
            base: base.cast(),
            len,
        })
    }

    fn check(&self, offset: usize, len: usize, align: usize) {
        // Offsets come from socketry's own layout constants, never from the peer; a bad one
        // is a bug in socketry.
        assert!(
            offset % align == 0 && offset.checked_add(len).is_some_and(|end| end <= self.len),
            "shared memory access at {offset}+{len} outside a mapping of {}",
            self.len
        );
    }

    /// The 64-bit atomic at `offset` (8-aligned, inside the mapping).
    pub fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        self.check(offset, 8, 8);
        // SAFETY: in bounds and aligned (checked above); the page is mapped for as long as
        // `self`, which the reference cannot outlive; `AtomicU64` allows concurrent access from
        // anywhere, including the other process.
        unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(offset).cast()) }
    }

    /// The 32-bit atomic at `offset` (4-aligned, inside the mapping).
    pub fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.check(offset, 4, 4);
        // SAFETY: as in `atomic_u64`.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast()) }
    }

    /// Copies `out.len()` bytes from `offset` (inside the mapping) into `out`.
    pub fn read_bytes(&self, offset: usize, out: &mut [u8]) {
        self.check(offset, out.len(), 1);
        // SAFETY: the source range is inside the mapping (checked above) and cannot overlap
        // `out`, which is private memory. No reference to the shared bytes is formed.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.base.as_ptr().add(offset),
                out.as_mut_ptr(),
                out.len(),
            );
        }
    }

    /// Copies `data` into the mapping at `offset`.
    pub fn write_bytes(&self, offset: usize, data: &[u8]) {
        self.check(offset, data.len(), 1);
        // SAFETY: as in `read_bytes`, the other way round.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.base.as_ptr().add(offset),
                data.len(),
            );
        }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are exactly what mmap returned and was given; no reference
        // into the mapping outlives `self`.
        let _ = unsafe { munmap(self.base.cast(), self.len) };
    }
}

/// A non-blocking, close-on-exec eventfd: a kernel counter one side adds to and the other
/// waits on.
pub fn new_event() -> io::Result<OwnedFd> {
    let event = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
    Ok(OwnedFd::from(event))
}

/// Adds one to an eventfd, waking whoever waits on it.
pub fn signal_event(fd: BorrowedFd<'_>) -> io::Result<()> {
    match nix::unistd::write(fd, &1u64.to_ne_bytes()) {
        Ok(_) => Ok(()),
        // The counter is full: whoever waits has plenty of wake-ups pending already.
        Err(nix::errno::Errno::EAGAIN) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Resets an eventfd's counter; `WouldBlock` when it was zero.
pub fn drain_event(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut value = [0u8; 8];
    nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&fd), &mut value)?;
    Ok(())
}
