//! A first address shared by the sessions of a forking second address
//! (`FILE:log TCP-LISTEN:8000,fork`): the first connection opens once, and each session
//! relays with a lease of it, as socat's children each hold a copy of its descriptors.
//!
//! A lease reads and writes the shared halves one unit at a time, so sessions that run at
//! once interleave whole reads and writes. A lease's EOF ends only that session's use of
//! the halves, except where socat's would end them for everyone: shutting a socket down
//! (`shutdown(2)` reaches every holder of the socket; `end-close` is how to avoid it). A
//! lease never splices: the shared halves are reached through a lock.

use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connection::{Connection, DataOptions};
use super::peer::{PeerCredentials, SocketAddresses};
use super::process::Process;
use crate::channel::{ByteRead, ByteWrite, MessageRecv, MessageSend, Reader, Writer};

/// The first connection, opened once, lent to each session.
pub struct Shared {
    reader: Option<Arc<Mutex<Reader>>>,
    writer: Option<Arc<Mutex<Writer>>>,
    data: DataOptions,
    description: String,
    addresses: Option<SocketAddresses>,
    peer_credentials: Option<PeerCredentials>,
    /// Whether a lease's shutdown shuts the shared writer down: a socket's, unless
    /// `end-close`.
    shutdown_reaches_all: bool,
    /// What the connection owns besides its halves (a socket file, terminal modes), kept
    /// until the last session is over.
    _owner: Mutex<Connection>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("description", &self.description)
            .field("shutdown_reaches_all", &self.shutdown_reaches_all)
            .finish()
    }
}

impl Shared {
    /// Shares `connection`; its child processes are given back, for the caller to reap when
    /// the sessions are over.
    pub fn new(mut connection: Connection) -> (Shared, Vec<Process>) {
        let processes = connection.take_processes();
        let writer = connection.writer.take();
        let is_socket = writer
            .as_ref()
            .and_then(Writer::descriptor)
            .and_then(|d| d.fd())
            .and_then(|fd| nix::sys::stat::fstat(fd.as_raw_fd()).ok())
            .is_some_and(|stat| {
                nix::sys::stat::SFlag::from_bits_truncate(stat.st_mode)
                    .contains(nix::sys::stat::SFlag::S_IFSOCK)
            });
        let shared = Shared {
            reader: connection.reader.take().map(|r| Arc::new(Mutex::new(r))),
            writer: writer.map(|w| Arc::new(Mutex::new(w))),
            data: connection.data,
            description: connection.description.clone(),
            addresses: connection.addresses,
            peer_credentials: connection.peer_credentials,
            shutdown_reaches_all: is_socket && !connection.data.end_close,
            _owner: Mutex::new(connection),
        };
        (shared, processes)
    }

    /// A connection for one session: the shared halves, one unit at a time.
    pub fn lease(&self) -> Connection {
        let reader = self.reader.as_ref().map(|shared| {
            let is_messages = lock(shared).map(|r| r.is_messages()).unwrap_or(false);
            let lease = Lease {
                shared: shared.clone(),
                shutdown_reaches_all: false,
            };
            if is_messages {
                Reader::Messages(Box::new(lease))
            } else {
                Reader::Bytes(Box::new(lease))
            }
        });
        let writer = self.writer.as_ref().map(|shared| {
            let is_messages = lock(shared).map(|w| w.is_messages()).unwrap_or(false);
            let lease = Lease {
                shared: shared.clone(),
                shutdown_reaches_all: self.shutdown_reaches_all,
            };
            if is_messages {
                Writer::Messages(Box::new(lease))
            } else {
                Writer::Bytes(Box::new(lease))
            }
        });
        let mut connection = Connection::new(reader, writer, self.description.clone());
        connection.data = self.data;
        connection.addresses = self.addresses;
        connection.peer_credentials = self.peer_credentials;
        connection
    }
}

/// One session's hold on a shared half.
struct Lease<T> {
    shared: Arc<Mutex<T>>,
    shutdown_reaches_all: bool,
}

fn lock<T>(shared: &Mutex<T>) -> io::Result<MutexGuard<'_, T>> {
    shared
        .lock()
        .map_err(|_| io::Error::other("a session sharing the first address failed"))
}

fn not_a(model: &str) -> io::Error {
    io::Error::other(format!("the shared first address is not a {model}"))
}

impl AsyncRead for Lease<Reader> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut *lock(&self.shared)? {
            Reader::Bytes(reader) => Pin::new(reader).poll_read(cx, buf),
            Reader::Messages(_) => Poll::Ready(Err(not_a("byte stream"))),
        }
    }
}

impl ByteRead for Lease<Reader> {}

impl MessageRecv for Lease<Reader> {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        match &mut *lock(&self.shared)? {
            Reader::Messages(recv) => recv.poll_recv(cx, buf),
            Reader::Bytes(_) => Poll::Ready(Err(not_a("message channel"))),
        }
    }
}

impl AsyncWrite for Lease<Writer> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut *lock(&self.shared)? {
            Writer::Bytes(writer) => Pin::new(writer).poll_write(cx, data),
            Writer::Messages(_) => Poll::Ready(Err(not_a("byte stream"))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *lock(&self.shared)? {
            Writer::Bytes(writer) => Pin::new(writer).poll_flush(cx),
            Writer::Messages(_) => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut *lock(&self.shared)? {
            Writer::Bytes(writer) if self.shutdown_reaches_all => {
                Pin::new(writer).poll_shutdown(cx)
            }
            // A file, pipe or terminal closed by one child stays open in the others.
            Writer::Bytes(writer) => Pin::new(writer).poll_flush(cx),
            Writer::Messages(_) => Poll::Ready(Ok(())),
        }
    }
}

impl ByteWrite for Lease<Writer> {}

impl MessageSend for Lease<Writer> {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        match &mut *lock(&self.shared)? {
            Writer::Messages(send) => send.poll_send(cx, msg),
            Writer::Bytes(_) => Poll::Ready(Err(not_a("message channel"))),
        }
    }

    fn max_message(&self) -> Option<usize> {
        match &*lock(&self.shared).ok()? {
            Writer::Messages(send) => send.max_message(),
            Writer::Bytes(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::UnixStream;

    fn connection_over(stream: UnixStream) -> Connection {
        let (read, write) = stream.into_split();
        Connection::new(
            Some(Reader::Bytes(Box::new(read))),
            Some(Writer::Bytes(Box::new(write))),
            "shared".to_owned(),
        )
    }

    #[tokio::test]
    async fn leases_take_turns_on_the_shared_halves() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let (shared, processes) = Shared::new(connection_over(ours));
        assert!(processes.is_empty());
        for text in [b"one\n", b"two\n"] {
            let mut lease = shared.lease();
            lease.write_all(text).await.unwrap();
            let mut got = [0u8; 4];
            theirs.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, text);
            theirs.write_all(b"back").await.unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(lease.read(&mut buf).await.unwrap(), Some(4));
            assert_eq!(&buf[..4], b"back");
        }
    }

    #[tokio::test]
    async fn a_leases_shutdown_of_a_socket_reaches_the_peer_unless_end_close() {
        for (end_close, reaches) in [(false, true), (true, false)] {
            let (ours, mut theirs) = UnixStream::pair().unwrap();
            let mut connection = connection_over(ours);
            connection.data.end_close = end_close;
            let (shared, _) = Shared::new(connection);
            let mut lease = shared.lease();
            lease.write_all(b"x").await.unwrap();
            lease.shutdown_write().await.unwrap();
            drop(lease);
            let mut got = Vec::new();
            let read = tokio::time::timeout(
                std::time::Duration::from_millis(200),
                theirs.read_to_end(&mut got),
            )
            .await;
            assert_eq!(read.is_ok(), reaches, "end-close {end_close}");
            assert_eq!(got, b"x");
        }
    }
}
