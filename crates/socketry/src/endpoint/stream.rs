//! Connected stream sockets (TCP, Unix stream) as connections: the two halves, each able to
//! be handed to another process whole (`UNIX-SENDFD`). Shared by the families whose
//! connections are streams.

use std::os::fd::AsRawFd;

use super::connection::Connection;
use super::handover::{ForgetOnDrop, Handover};
use super::peer::SocketAddresses;
use crate::channel::{ByteRead, ByteWrite, Reader, Writer};

/// A connected stream socket of tokio's that splits into owned halves.
pub(crate) trait SplitStream: AsRawFd {
    /// The reading half.
    type Read: ByteRead + 'static;
    /// The writing half.
    type Write: ForgetOnDrop + ByteWrite + 'static;

    /// The local and peer address, for an internet socket.
    fn addresses(&self) -> Option<SocketAddresses>;

    /// The two halves.
    fn into_halves(self) -> (Self::Read, Self::Write);
}

impl SplitStream for tokio::net::TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;

    fn addresses(&self) -> Option<SocketAddresses> {
        match (self.local_addr(), self.peer_addr()) {
            (Ok(local), Ok(peer)) => Some(SocketAddresses { local, peer }),
            _ => None,
        }
    }

    fn into_halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

impl SplitStream for tokio::net::UnixStream {
    type Read = tokio::net::unix::OwnedReadHalf;
    type Write = tokio::net::unix::OwnedWriteHalf;

    fn addresses(&self) -> Option<SocketAddresses> {
        None
    }

    fn into_halves(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

/// Splits a connected stream into the two halves of a connection, which can be handed over
/// and whose socket options are read only when a report is asked for.
pub(crate) fn stream_connection<S: SplitStream>(stream: S, description: String) -> Connection {
    let addresses = stream.addresses();
    stream_connection_at(stream, addresses, description)
}

/// [`stream_connection`] for a socket whose addresses the caller knows already (an accepted
/// peer's, a connect's): asking the kernel again would cost two system calls per connection.
pub(crate) fn stream_connection_at<S: SplitStream>(
    stream: S,
    addresses: Option<SocketAddresses>,
    description: String,
) -> Connection {
    let fd = stream.as_raw_fd();
    let (read, write) = stream.into_halves();
    let (handover, write) = Handover::for_stream(fd, write);
    let connection = Connection::new(
        Some(Reader::Bytes(Box::new(read))),
        Some(Writer::Bytes(Box::new(write))),
        description,
    );
    Connection {
        report_on_demand: true,
        addresses,
        handover: Some(handover),
        ..connection
    }
}
