//! Socket calls that the socket2 crate offers only on uninitialised buffers, and Unix
//! autobinding.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

use socket2::{SockAddr, Socket};

fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the same layout as `u8`, and every initialised byte is a
    // valid `MaybeUninit<u8>`. The callee (recv) only ever writes initialised bytes into it,
    // so the slice stays initialised when the caller reads it back as `[u8]`.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// `recv(2)` into an ordinary buffer.
pub fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    socket.recv(as_uninit(buf))
}

/// `recvfrom(2)` into an ordinary buffer.
pub fn recv_from(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    socket.recv_from(as_uninit(buf))
}

/// Binds a Unix socket to an address the kernel picks in the abstract namespace, so that a
/// datagram peer can reply to it.
pub fn autobind(socket: &Socket) -> io::Result<()> {
    let addr = nix::sys::socket::UnixAddr::new_unnamed();
    nix::sys::socket::bind(socket.as_raw_fd(), &addr)?;
    Ok(())
}
