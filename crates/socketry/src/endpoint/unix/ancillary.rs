//! What Unix domain sockets carry besides bytes: file descriptors (`SCM_RIGHTS`) and the
//! sender's credentials (`SO_PEERCRED` for a connected peer, `SCM_CREDENTIALS` per message).
//!
//! The functions take any Unix socket by [`AsFd`] (the standard library's, tokio's, socket2's)
//! and do one non-blocking-agnostic system call; the `_async` forms wait for readiness on a
//! tokio [`UnixStream`]. Descriptors received are close-on-exec and owned by the caller.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use std::io::{Read, Write};
//! use std::os::fd::AsFd;
//! use socketry::endpoint::unix::ancillary;
//!
//! // Hand one end of a second connection to the other end of a socket pair.
//! let (left, right) = tokio::net::UnixStream::pair()?;
//! let (mut near, far) = std::os::unix::net::UnixStream::pair()?;
//! ancillary::send_fds_async(&left, b"x", &[far.as_fd()]).await?;
//! drop(far);
//!
//! let mut buf = [0u8; 16];
//! let (n, fds) = ancillary::recv_fds_async(&right, &mut buf, 4).await?;
//! assert_eq!(&buf[..n], b"x");
//! let mut received = std::os::unix::net::UnixStream::from(fds.into_iter().next().unwrap());
//! near.write_all(b"through the passed socket")?;
//! drop(near);
//! let mut text = String::new();
//! received.read_to_string(&mut text)?;
//! assert_eq!(text, "through the passed socket");
//!
//! // Who is at the other end of a connected socket.
//! let peer = ancillary::peer_credentials(&right)?;
//! assert_eq!(peer.pid, std::process::id() as i32);
//! # Ok(()) }
//! ```

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::sys::socket::{
    getsockopt, sendmsg, setsockopt, sockopt, ControlMessage, MsgFlags, UnixAddr, UnixCredentials,
};
use tokio::io::Interest;
use tokio::net::UnixStream;

use crate::sys;

/// The most descriptors one message may carry (the kernel's own limit, `SCM_MAX_FD`).
pub const MAX_FDS_PER_MESSAGE: usize = 253;

pub use crate::endpoint::peer::PeerCredentials;

impl From<UnixCredentials> for PeerCredentials {
    fn from(c: UnixCredentials) -> PeerCredentials {
        PeerCredentials {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        }
    }
}

/// The credentials of the peer of a connected stream or seqpacket socket, as they were when
/// it connected (`SO_PEERCRED`).
pub fn peer_credentials(socket: impl AsFd) -> io::Result<PeerCredentials> {
    Ok(getsockopt(&socket, sockopt::PeerCredentials)?.into())
}

/// Asks the kernel to attach the sender's credentials to every message this socket receives
/// (`SO_PASSCRED`); [`recv_with_credentials`] then reports them.
pub fn set_pass_credentials(socket: impl AsFd, on: bool) -> io::Result<()> {
    setsockopt(&socket, sockopt::PassCred, &on)?;
    Ok(())
}

/// Sends `data` with the descriptors `fds` attached (`SCM_RIGHTS`). `data` must not be empty:
/// a stream socket cannot carry descriptors without at least one byte.
pub fn send_fds(socket: impl AsFd, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<usize> {
    if data.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "descriptors travel with at least one byte of data",
        ));
    }
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("at most {MAX_FDS_PER_MESSAGE} descriptors per message"),
        ));
    }
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    send_raw_fds(socket, data, &raw)
}

/// [`send_fds`] for descriptors that the caller keeps open for the duration of the call by
/// other means (a connection's halves own the socket it hands over).
pub(crate) fn send_raw_fds(socket: impl AsFd, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let control = [ControlMessage::ScmRights(fds)];
    let control: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &control };
    Ok(sendmsg::<UnixAddr>(
        socket.as_fd().as_raw_fd(),
        &[IoSlice::new(data)],
        control,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?)
}

/// Sends `data` with this process's own credentials attached (`SCM_CREDENTIALS`), which a
/// receiver with [`set_pass_credentials`] would otherwise get filled in by the kernel anyway.
pub fn send_credentials(socket: impl AsFd, data: &[u8]) -> io::Result<usize> {
    let mine = UnixCredentials::new();
    Ok(sendmsg::<UnixAddr>(
        socket.as_fd().as_raw_fd(),
        &[IoSlice::new(data)],
        &[ControlMessage::ScmCredentials(&mine)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?)
}

/// What one `recvmsg` gave: the bytes, the descriptors and credentials that came with them,
/// and the sender's address (for unconnected datagram sockets; empty for a sender without a
/// name).
#[derive(Debug)]
pub struct Received {
    /// How many bytes of the buffer the message filled.
    pub len: usize,
    /// The descriptors that came with it, now owned by the receiver (close-on-exec).
    pub fds: Vec<OwnedFd>,
    /// The sender's credentials, when the socket asked for them (`SO_PASSCRED`).
    pub credentials: Option<PeerCredentials>,
    /// The sender's address.
    pub from: socket2::SockAddr,
}

/// Receives into `buf`, with room for up to `max_fds` descriptors (more are closed by the
/// kernel) and for credentials. A zero `len` on a stream socket is EOF.
pub fn recv_message(socket: impl AsFd, buf: &mut [u8], max_fds: usize) -> io::Result<Received> {
    let received =
        sys::socket::recv_with_control(socket.as_fd(), buf, max_fds.min(MAX_FDS_PER_MESSAGE))?;
    Ok(Received {
        len: received.len,
        fds: received.fds,
        credentials: received.credentials.map(|c| PeerCredentials {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }),
        from: received.from,
    })
}

/// Receives into `buf` and the descriptors that came with it (at most `max_fds`).
pub fn recv_fds(
    socket: impl AsFd,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    let received = recv_message(socket, buf, max_fds)?;
    Ok((received.len, received.fds))
}

/// Receives into `buf` with the sender's credentials, which the kernel attaches when
/// [`set_pass_credentials`] is on.
pub fn recv_with_credentials(
    socket: impl AsFd,
    buf: &mut [u8],
) -> io::Result<(usize, Option<PeerCredentials>)> {
    let received = recv_message(socket, buf, 0)?;
    Ok((received.len, received.credentials))
}

/// [`send_fds`] on a tokio stream, waiting until the socket can take it.
pub async fn send_fds_async(
    stream: &UnixStream,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    stream
        .async_io(Interest::WRITABLE, || send_fds(stream, data, fds))
        .await
}

/// [`recv_fds`] on a tokio stream, waiting until something arrives.
pub async fn recv_fds_async(
    stream: &UnixStream,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<(usize, Vec<OwnedFd>)> {
    stream
        .async_io(Interest::READABLE, || recv_fds(stream, &mut *buf, max_fds))
        .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::net::{UnixDatagram, UnixStream as StdStream};

    #[test]
    fn credentials_of_a_peer_and_of_each_datagram_are_this_process() {
        let me = PeerCredentials {
            pid: i32::try_from(std::process::id()).unwrap(),
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
        };
        let (a, _b) = StdStream::pair().unwrap();
        assert_eq!(peer_credentials(&a).unwrap(), me);

        let (sender, receiver) = UnixDatagram::pair().unwrap();
        set_pass_credentials(&receiver, true).unwrap();
        sender.send(b"one").unwrap();
        send_credentials(&sender, b"two").unwrap();
        for want in [&b"one"[..], b"two"] {
            let mut buf = [0u8; 8];
            let (n, credentials) = recv_with_credentials(&receiver, &mut buf).unwrap();
            assert_eq!(&buf[..n], want);
            assert_eq!(credentials, Some(me));
        }
    }

    #[test]
    fn descriptors_arrive_close_on_exec_and_an_empty_payload_is_refused() {
        let (a, b) = StdStream::pair().unwrap();
        let (r, _w) = StdStream::pair().unwrap();
        assert!(send_fds(&a, b"", &[r.as_fd()]).is_err());
        send_fds(&a, b"ab", &[r.as_fd(), r.as_fd()]).unwrap();
        let mut buf = [0u8; 8];
        let (n, fds) = recv_fds(&b, &mut buf, 4).unwrap();
        assert_eq!((&buf[..n], fds.len()), (&b"ab"[..], 2));
        for fd in &fds {
            let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert_ne!(flags & nix::libc::FD_CLOEXEC, 0);
        }
    }
}
