//! UDP-Lite's checksum coverage (RFC 3828): how many bytes of each datagram, counting the
//! 8-byte header, its checksum covers when sent, and the least coverage a received datagram
//! must have to be delivered. Neither socket2 nor nix offers these options.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;

/// `IPPROTO_UDPLITE`: the protocol number of UDP-Lite, and the level of its options.
pub const IPPROTO_UDPLITE: i32 = 136;
/// `UDPLITE_SEND_CSCOV`: the coverage of the checksum of what the socket sends.
pub const UDPLITE_SEND_CSCOV: i32 = 10;
/// `UDPLITE_RECV_CSCOV`: the least coverage the socket accepts on what it receives.
pub const UDPLITE_RECV_CSCOV: i32 = 11;

/// Sets one of the coverage options (`UDPLITE_SEND_CSCOV` or `UDPLITE_RECV_CSCOV`).
pub fn set_coverage(fd: BorrowedFd<'_>, option: i32, bytes: i32) -> io::Result<()> {
    // SAFETY: the pointer and length describe `bytes`, an int that lives across the call, as
    // setsockopt(2) expects for these options; the descriptor is borrowed, so it is open.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            IPPROTO_UDPLITE,
            option,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads one of the coverage options back.
pub fn coverage(fd: BorrowedFd<'_>, option: i32) -> io::Result<i32> {
    let mut bytes: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: the pointers describe `bytes` and `len`, which live across the call and have
    // the sizes getsockopt(2) writes for these options; the descriptor is borrowed.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            IPPROTO_UDPLITE,
            option,
            (&mut bytes as *mut i32).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(bytes)
    } else {
        Err(io::Error::last_os_error())
    }
}
