//! Passing connections between processes: `UNIX-RECVFD-LISTEN` serves every connection
//! another process passes to its socket (`SCM_RIGHTS`) as if it had accepted it, and
//! `UNIX-SENDFD` (as the second address) hands the first address's connection to such a
//! socket instead of relaying its bytes. Together they separate privileges (bind port 80 as
//! root, serve as a user) and let the serving process restart while the listening one keeps
//! the socket, so no connection is refused.
//!
//! The exchange: the sender connects (stream, or seqpacket with `socktype=5`), sends one byte
//! with the connection's descriptor attached, and waits for one byte back, which the receiver
//! writes once it has taken every descriptor of a message. A receiver that goes away before
//! that leaves the sender holding the connection, which it then offers again under `retry` or
//! `forever`. Other senders work too: any message with descriptors attached is taken, and
//! answered with one byte.

use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use socket2::{Domain, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::ancillary::{self, MAX_FDS_PER_MESSAGE};
use super::credentials::CredentialFilter;
use super::socket::{
    connect_socket, display_name, listening_socket, seqpacket_connection, socket_type, type_label,
};
use crate::address::{Options, UnixName};
use crate::endpoint::handover::Handover;
use crate::endpoint::listener::{
    Accept, AcceptFuture, AcceptPolicy, Accepting, Admission, Listener, Peer,
};
use crate::endpoint::socket::{connected_messages, describe_sockaddr, MessageSocket};
use crate::endpoint::stream::stream_connection;
use crate::endpoint::{Connection, OpenError};
use crate::sys;

/// How many passed connections wait for the relay to take them before senders are slowed
/// down (their acknowledgement waits).
const QUEUE: usize = 64;

/// The connections passed to a `UNIX-RECVFD-LISTEN` socket, received by a task of their own.
#[derive(Debug)]
pub(crate) struct PassedConnections {
    queue: mpsc::Receiver<OwnedFd>,
    receiving: JoinHandle<()>,
    /// The numbered options set on each connection passed (`setsockopt=`), as on one
    /// accepted.
    connected: crate::endpoint::setsockopt::WhenConnected,
}

impl PassedConnections {
    /// The next connection passed, or `None` when receiving has stopped (logged).
    pub(crate) async fn next(&mut self) -> Option<OwnedFd> {
        self.queue.recv().await
    }
}

impl Drop for PassedConnections {
    fn drop(&mut self) {
        self.receiving.abort();
    }
}

impl Accept for PassedConnections {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let Some(fd) = self.next().await else {
                    return Err(OpenError::Refused(format!(
                        "{} stopped receiving connections",
                        on.listener
                    ))
                    .into());
                };
                let set = self.connected.apply(&fd).map_err(|e| sys::error_text(&e));
                match set.and_then(|()| passed_connection(fd, on.listener)) {
                    Ok(connection) => return Ok(connection),
                    Err(why) => {
                        tracing::warn!("refusing a descriptor passed on {}: {why}", on.listener)
                    }
                }
            }
        })
    }
}

/// Listens on `name` for processes passing connections.
pub(crate) fn listen(
    name: &UnixName,
    options: &crate::address::Options,
) -> Result<Listener, OpenError> {
    let shown = display_name(name);
    let mut admission = Admission::default();
    admission.add(CredentialFilter::from_options(options)?);
    let (socket, ty, guard) = listening_socket(name, options, "UNIX-RECVFD-LISTEN")?;
    let socket = sys::register(socket).map_err(OpenError::io("registering the listener"))?;
    let description = format!("{} {shown} (passed connections)", type_label(ty));
    let (sink, queue) = mpsc::channel(QUEUE);
    let receiving = tokio::spawn(receive_passers(
        socket,
        admission,
        sink,
        description.clone(),
    ));
    Ok(Listener::new(
        PassedConnections {
            queue,
            receiving,
            connected: crate::endpoint::setsockopt::WhenConnected::from_options(options),
        },
        description,
        options,
    )
    .with_guard(guard))
}

/// Accepts every sender that `admission` admits and receives from each. The senders are
/// accepted here, not by the listener, so that they are served while the relay is busy; the
/// accept errors follow the listener's policy all the same.
async fn receive_passers(
    socket: AsyncFd<Socket>,
    admission: Admission,
    sink: mpsc::Sender<OwnedFd>,
    description: String,
) {
    let mut senders = JoinSet::new();
    let mut policy = AcceptPolicy::default();
    loop {
        let accepted = sys::ready::read(&socket, |s| s.accept().map(|(s, _)| s)).await;
        while senders.try_join_next().is_some() {}
        let sender = match accepted {
            Ok(sender) => sender,
            Err(e) => match policy.recover(e, &description).await {
                Ok(()) => continue,
                Err(e) => {
                    tracing::error!("{e}; no more connections will be received");
                    return;
                }
            },
        };
        let peer = Peer::Unix(ancillary::peer_credentials(&sender).ok());
        if !admission.admit(&peer, &description) {
            continue;
        }
        tracing::debug!("receiving passed connections from {peer} on {description}");
        let registered = sender
            .set_nonblocking(true)
            .and_then(|()| sys::register(sender));
        match registered {
            Ok(sender) => {
                senders.spawn(receive_from(sender, sink.clone(), peer.to_string()));
            }
            Err(e) => tracing::warn!("registering a sender on {description}: {e}"),
        }
    }
}

/// Receives the descriptors one sender passes until it closes, acknowledging each message
/// that carried any once they are all queued.
async fn receive_from(sender: AsyncFd<Socket>, sink: mpsc::Sender<OwnedFd>, who: String) {
    let mut buf = [0u8; 256];
    loop {
        let received = sys::ready::read(&sender, |s| {
            ancillary::recv_message(s, &mut buf, MAX_FDS_PER_MESSAGE)
        })
        .await;
        let received = match received {
            Ok(received) => received,
            Err(e) => {
                tracing::warn!("receiving from {who}: {}", sys::error_text(&e));
                return;
            }
        };
        if received.len == 0 && received.fds.is_empty() {
            return;
        }
        let count = received.fds.len();
        for fd in received.fds {
            if sink.send(fd).await.is_err() {
                return;
            }
        }
        if count > 0 {
            // The sender may already be gone; it then offers the connection again, if at all,
            // and the one we queued is served anyway.
            let _ = sys::ready::write(&sender, |s| s.send(b"\x01")).await;
        }
    }
}

/// Turns a passed descriptor into a connection, as if it had been accepted here. A listening
/// socket, an unconnected datagram socket or something that is no socket at all is refused.
pub(crate) fn passed_connection(fd: OwnedFd, via: &str) -> Result<Connection, String> {
    let socket = Socket::from(fd);
    let (domain, ty) = match (socket.domain(), socket.r#type()) {
        (Ok(domain), Ok(ty)) => (domain, ty),
        (Err(e), _) | (_, Err(e)) if e.raw_os_error() == Some(nix::libc::ENOTSOCK) => {
            return Err("it is not a socket".to_owned())
        }
        (Err(e), _) | (_, Err(e)) => return Err(sys::error_text(&e)),
    };
    if socket.is_listener().unwrap_or(false) {
        return Err("it is a listening socket (expected a connection)".to_owned());
    }
    let peer = socket
        .peer_addr()
        .map_err(|_| "it is not connected".to_owned())?;
    let shown_peer = describe_sockaddr(&peer);
    let failed = |e: io::Error| sys::error_text(&e);
    socket.set_nonblocking(true).map_err(failed)?;
    let connection = if ty == Type::STREAM && (domain == Domain::IPV4 || domain == Domain::IPV6) {
        let stream = tokio::net::TcpStream::from_std(socket.into()).map_err(failed)?;
        let local = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        stream_connection(
            stream,
            format!("TCP {local} <- {shown_peer} (passed on {via})"),
        )
    } else if ty == Type::STREAM && domain == Domain::UNIX {
        let credentials = ancillary::peer_credentials(&socket).ok();
        let stream = tokio::net::UnixStream::from_std(socket.into()).map_err(failed)?;
        let mut connection = stream_connection(
            stream,
            format!("UNIX stream <- {shown_peer} (passed on {via})"),
        );
        connection.peer_credentials = credentials;
        connection
    } else if ty == Type::SEQPACKET {
        let credentials = ancillary::peer_credentials(&socket).ok();
        let mut connection = seqpacket_connection(
            socket,
            format!("seqpacket <- {shown_peer} (passed on {via})"),
        )
        .map_err(failed)?;
        connection.peer_credentials = credentials;
        connection
    } else if ty == Type::DGRAM {
        let socket = std::sync::Arc::new(MessageSocket::new(socket).map_err(failed)?);
        connected_messages(
            socket.clone(),
            socket,
            false,
            format!("datagrams <-> {shown_peer} (passed on {via})"),
        )
    } else {
        return Err("it is a socket of a type socketry does not relay".to_owned());
    };
    tracing::info!("accepting {}", connection.description);
    Ok(connection)
}

/// Hands a connection's socket (`None` when it is not one socket) to the process receiving
/// at `name` (`UNIX-SENDFD`), offering it again under `retry`/`forever` until one takes it.
/// The caller keeps the connection, which owns the socket, open until this returns, and then
/// closes it without shutting the socket down.
pub(crate) async fn hand_over(
    handover: Option<Handover>,
    description: String,
    name: &UnixName,
    options: &Options,
    shown: &(dyn std::fmt::Display + Sync),
) -> Result<(), OpenError> {
    let Some(handover) = handover else {
        return Err(OpenError::Refused(format!(
            "{description} is not one socket that can be handed over (expected a TCP, Unix stream or seqpacket connection as the first address)"
        )));
    };
    let ty = socket_type(options);
    if ty == Type::DGRAM {
        return Err(OpenError::Refused(format!(
            "UNIX-SENDFD:{}: socktype=2 cannot hand over connections (expected socktype=1 or 5)",
            display_name(name)
        )));
    }
    let fd = handover.fd;
    crate::endpoint::retry::with_retries(options, shown, || hand_over_once(fd, name, ty, options))
        .await?;
    handover.mark_handed_over();
    tracing::info!("handed {description} over to {}", display_name(name));
    Ok(())
}

async fn hand_over_once(
    fd: RawFd,
    name: &UnixName,
    ty: Type,
    options: &crate::address::Options,
) -> Result<(), OpenError> {
    let action = format!("handing the connection over to {}", display_name(name));
    let (socket, _guard) = connect_socket(name, ty, options).await?;
    let socket = sys::register(socket).map_err(OpenError::io(action.clone()))?;
    let exchange = async {
        sys::ready::write(&socket, |s| {
            ancillary::send_raw_fds(s.as_fd(), b"\x01", &[fd])
        })
        .await?;
        let mut ack = [0u8; 1];
        match sys::ready::read(&socket, |s| sys::socket::recv(s, &mut ack)).await? {
            0 => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the receiver closed without taking it",
            )),
            _ => Ok(()),
        }
    };
    exchange.await.map_err(OpenError::io(action))
}
