//! The channel between socketry and a program: one socket pair, two pipes, or a
//! pseudo-terminal, as the program's [`ProgramIo`] says. socketry keeps one end as the
//! endpoint's reader and writer; the child gets the other as its input and output. A socket
//! pair of datagrams or seqpackets (`socktype`) is a message channel on socketry's side.

use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};

use nix::fcntl::OFlag;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use tokio::io::{AsyncRead, ReadBuf};

use super::spec::{ProgramIo, ProgramSpec, SocketType};
use crate::channel::{Reader, Writer};
use crate::endpoint::descriptor;
use crate::endpoint::error::OpenError;
use crate::endpoint::pty;
use crate::endpoint::socket::{connected_messages, MessageSocket};
use crate::endpoint::stdio::FdStream;
use std::os::fd::AsFd;

/// Both ends of a program's channel.
pub(super) struct Channel {
    /// What socketry reads the program's output from.
    pub reader: Reader,
    /// What socketry writes the program's input to.
    pub writer: Writer,
    /// The program's input.
    pub child_in: OwnedFd,
    /// The program's output.
    pub child_out: OwnedFd,
    /// A pseudo-terminal's master side, which the program's `Process` holds on to after
    /// the relay (`Process::hold_terminal`).
    pub terminal: Option<OwnedFd>,
}

/// Makes the channel `io` asks for; `description` names the program in errors and logs.
/// `FirstAddress` has no channel of socketry's and is not made here.
pub(super) fn make(spec: &ProgramSpec, description: &str) -> Result<Channel, OpenError> {
    let io_error = |action: &str| OpenError::io(format!("{action} for {description}"));
    match &spec.io {
        ProgramIo::Pty(spec) => {
            let pair = pty::allocate_with(spec.allocation, &spec.settings)?;
            tracing::info!("{description}: pseudo-terminal {}", pair.name.display());
            let child_out = pair
                .slave
                .try_clone()
                .map_err(io_error("duplicating the pseudo-terminal"))?;
            let terminal = pair
                .master
                .try_clone()
                .map_err(io_error("duplicating the pseudo-terminal"))?;
            let (reader, writer) = pty::master_streams(pair.master, description)?;
            Ok(Channel {
                reader,
                writer,
                child_in: pair.slave,
                child_out,
                terminal: Some(terminal),
            })
        }
        ProgramIo::Pipes => {
            let pipe = || {
                nix::unistd::pipe2(OFlag::O_CLOEXEC)
                    .map_err(|e| io_error("creating a pipe")(e.into()))
            };
            let (child_in, ours_w) = pipe()?;
            let (ours_r, child_out) = pipe()?;
            if let Some(size) = spec.pipe_size {
                for (end, which) in [(&child_in, "input"), (&child_out, "output")] {
                    descriptor::set_pipe_size(
                        end.as_fd(),
                        size,
                        &format!("the pipe of {description}'s {which}"),
                    )?;
                }
            }
            let stream = |fd| FdStream::from_owned(fd).map_err(io_error("registering a pipe"));
            Ok(Channel {
                reader: Reader::Bytes(Box::new(stream(ours_r)?)),
                writer: Writer::Bytes(Box::new(stream(ours_w)?)),
                child_in,
                child_out,
                terminal: None,
            })
        }
        ProgramIo::SocketPair if spec.socket_type != SocketType::Stream => {
            message_pair(spec.socket_type, description)
        }
        ProgramIo::SocketPair => {
            let (ours, theirs) = socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| io_error("creating a socket pair")(e.into()))?;
            let theirs_out = theirs
                .try_clone()
                .map_err(io_error("duplicating the socket pair"))?;
            let ours = std::os::unix::net::UnixStream::from(ours);
            ours.set_nonblocking(true)
                .map_err(io_error("setting up the socket pair"))?;
            let ours = tokio::net::UnixStream::from_std(ours)
                .map_err(io_error("registering the socket pair"))?;
            let (read, write) = ours.into_split();
            Ok(Channel {
                reader: Reader::Bytes(Box::new(ResetIsEof(read))),
                writer: Writer::Bytes(Box::new(write)),
                child_in: theirs,
                child_out: theirs_out,
                terminal: None,
            })
        }
        ProgramIo::FirstAddress => Err(OpenError::Refused(format!(
            "{description}: with nofork the program has the first address's descriptors, not a channel of socketry's"
        ))),
    }
}

/// A datagram or seqpacket socket pair: the program's writes reach the peer as messages,
/// whole, and the peer's messages reach the program one read each.
fn message_pair(socket_type: SocketType, description: &str) -> Result<Channel, OpenError> {
    use socket2::{Domain, Socket, Type};
    use std::sync::Arc;
    let io_error = |action: &str| OpenError::io(format!("{action} for {description}"));
    let (ty, carries_eof) = match socket_type {
        SocketType::SeqPacket => (Type::SEQPACKET, true),
        SocketType::Datagram | SocketType::Stream => (Type::DGRAM, false),
    };
    let (ours, theirs) = Socket::pair(Domain::UNIX, ty.cloexec(), None)
        .map_err(io_error("creating a socket pair"))?;
    let theirs = OwnedFd::from(theirs);
    let theirs_out = theirs
        .try_clone()
        .map_err(io_error("duplicating the socket pair"))?;
    let ours = MessageSocket::new(ours)
        .map(Arc::new)
        .map_err(io_error("registering the socket pair"))?;
    let connection = connected_messages(ours.clone(), ours, carries_eof, description.to_owned());
    let (Some(reader), Some(writer)) = (connection.reader, connection.writer) else {
        return Err(OpenError::Refused(format!(
            "{description}: a socket pair without both halves"
        )));
    };
    Ok(Channel {
        reader,
        writer,
        child_in: theirs,
        child_out: theirs_out,
        terminal: None,
    })
}

/// The reading half of the socket pair: a program that exits with data it has not read
/// makes our read fail with ECONNRESET, which for a program's output is its end, not an error.
struct ResetIsEof<R>(R);

/// A reset reads as EOF here but fails a splice, so this stream keeps to the copy path.
impl<R: AsyncRead + Send + Unpin> crate::channel::ByteRead for ResetIsEof<R> {}

impl<R: AsyncRead + Unpin> AsyncRead for ResetIsEof<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}
