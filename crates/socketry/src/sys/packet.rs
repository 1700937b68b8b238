//! Packet sockets (AF_PACKET) on one network interface: what the INTERFACE address reads and
//! writes, whole link-level frames (IP packets on a TUN interface, which has no link header).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::libc;
use nix::sys::socket::{recvfrom, send, LinkAddr, MsgFlags};

/// `ETH_P_ALL` in network byte order: every protocol.
fn all_protocols() -> u16 {
    (libc::ETH_P_ALL as u16).to_be()
}

/// A non-blocking, close-on-exec packet socket bound to the interface `name`, receiving
/// frames of every protocol.
pub fn bind_interface(name: &str) -> io::Result<OwnedFd> {
    let index = nix::net::if_::if_nametoindex(name)?;
    let index = i32::try_from(index).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: socket(2) with constant arguments; it returns a new descriptor or -1.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            i32::from(all_protocols()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: all-zero bytes are a valid sockaddr_ll (a plain C struct of integers).
    let mut address: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    address.sll_family = libc::AF_PACKET as u16;
    address.sll_protocol = all_protocols();
    address.sll_ifindex = index;
    // SAFETY: `address` is a valid sockaddr_ll that outlives the call, and the length given
    // is its size.
    let rc = unsafe {
        libc::bind(
            socket.as_raw_fd(),
            std::ptr::addr_of!(address).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Which way a received frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    /// It arrived on the interface.
    Incoming,
    /// This host sent it out of the interface (a packet socket sees those too).
    Outgoing,
}

/// Receives one frame into `buf`: its length, and which way it went.
pub fn receive(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<(usize, Heading)> {
    let (n, from) = recvfrom::<LinkAddr>(fd.as_raw_fd(), buf)?;
    let outgoing = from.is_some_and(|a| a.pkttype() == libc::PACKET_OUTGOING);
    let heading = if outgoing {
        Heading::Outgoing
    } else {
        Heading::Incoming
    };
    Ok((n, heading))
}

/// Sends `frame` out of the interface the socket is bound to.
pub fn transmit(fd: BorrowedFd<'_>, frame: &[u8]) -> io::Result<usize> {
    Ok(send(fd.as_raw_fd(), frame, MsgFlags::empty())?)
}
