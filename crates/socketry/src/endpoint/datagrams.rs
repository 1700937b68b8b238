//! Datagram receivers as listeners (UDP-RECVFROM, UNIX-RECVFROM): each datagram from an
//! admitted sender is a peer, whose session gets that datagram and sends its replies back
//! to the sender. Shared by the internet and Unix families.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use socket2::SockAddr;

use super::connection::Connection;
use super::error::OpenError;
use super::listener::{Accept, AcceptFuture, Accepting};
use super::packet_info;
use super::socket::{
    describe_sockaddr, MessageSocket, PeerFilter, Prefixed, ReceiveMode, Receiver, ReplyTo, Sender,
};
use super::unix::ancillary::PeerCredentials;
use crate::channel::{Reader, Writer};

/// How many UDP-LISTEN (and UDP-RECVFROM) sessions with `fork` may be open at once when
/// `max-children` is not given: enough for any ordinary service, and a bound on what a flood
/// of source addresses can make socketry open (each session has its own second endpoint).
pub const DEFAULT_SESSION_CAP: usize = 1024;

/// A datagram socket whose senders are its peers. Senders are admitted by `filter` as each
/// datagram is received, so that a refused sender's datagrams are dropped unread whether
/// they open a session or belong to one.
#[derive(Debug)]
pub(crate) struct DatagramPeers {
    socket: Arc<MessageSocket>,
    filter: PeerFilter,
    without_fork: Session,
}

/// What the one session of a receiver without `fork` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    /// Every datagram from an admitted sender, replying to whoever sent last.
    Every,
    /// The first datagram only, then EOF; replies go to its sender.
    First,
}

impl DatagramPeers {
    /// The peers of `socket` that `filter` admits.
    pub(crate) fn new(socket: Arc<MessageSocket>, filter: PeerFilter) -> DatagramPeers {
        DatagramPeers {
            socket,
            filter,
            without_fork: Session::Every,
        }
    }

    /// As [`DatagramPeers::new`], but without `fork` the session takes only the first
    /// datagram (then EOF), as with `fork`: for raw IP, where nothing tells a peer's later
    /// packets from the session's own replies to a sender of the same address.
    pub(crate) fn first_only(socket: Arc<MessageSocket>, filter: PeerFilter) -> DatagramPeers {
        DatagramPeers {
            without_fork: Session::First,
            ..DatagramPeers::new(socket, filter)
        }
    }

    /// Receives the next datagram from an admitted peer.
    async fn receive(&self) -> Result<Received, OpenError> {
        let mut buf = vec![0; crate::channel::MIN_MESSAGE_BUFFER];
        let admitted =
            std::future::poll_fn(|cx| self.socket.poll_recv_admitted(cx, &mut buf, &self.filter))
                .await
                .map_err(OpenError::io("receiving a datagram"))?;
        tracing::info!(
            "receiving datagram from {}",
            describe_sockaddr(&admitted.from)
        );
        Ok(Received {
            first: buf[..admitted.len].to_vec(),
            environment: packet_info::environment(&admitted.fields),
            peer: admitted.from,
            credentials: admitted.credentials,
        })
    }
}

impl Accept for DatagramPeers {
    /// With fork: a session per datagram, replying to its sender.
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            let Received {
                first,
                peer,
                credentials,
                environment,
            } = self.receive().await?;
            let mut connection = Connection::new(
                Some(Reader::Messages(Box::new(Prefixed::new(first, None)))),
                Some(Writer::Messages(Box::new(Sender {
                    socket: self.socket.clone(),
                    to: Some(ReplyTo::Fixed(peer.clone())),
                    shutdown_on_close: false,
                }))),
                format!("{} <- {}", on.listener, describe_sockaddr(&peer)),
            );
            connection.peer_credentials = credentials;
            connection.environment = environment;
            Ok(connection)
        })
    }

    /// Without fork: one session that goes on receiving from every admitted sender, and
    /// replies to whoever sent last.
    fn accept_first<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        if self.without_fork == Session::First {
            return self.accept(on);
        }
        Box::pin(async move {
            let Received {
                first,
                peer,
                credentials,
                environment,
            } = self.receive().await?;
            let latest = Arc::new(Mutex::new(Some(peer.clone())));
            let rest = Receiver {
                socket: self.socket.clone(),
                mode: ReceiveMode::From {
                    filter: self.filter.clone(),
                    latest: Some(latest.clone()),
                },
            };
            let mut connection = Connection::new(
                Some(Reader::Messages(Box::new(Prefixed::new(
                    first,
                    Some(Box::new(rest)),
                )))),
                Some(Writer::Messages(Box::new(Sender {
                    socket: self.socket.clone(),
                    to: Some(ReplyTo::Latest(latest)),
                    shutdown_on_close: false,
                }))),
                format!("{} <- {}", on.listener, describe_sockaddr(&peer)),
            );
            connection.peer_credentials = credentials;
            connection.environment = environment;
            Ok(connection)
        })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.socket().local_addr().ok()?.as_socket()
    }

    fn default_session_cap(&self) -> Option<usize> {
        Some(DEFAULT_SESSION_CAP)
    }
}

/// The first datagram of a peer, who sent it, the credentials it came with, and the
/// variables a program learns what the kernel reported on it from (`SOCAT_IP_TTL`, ...).
struct Received {
    first: Vec<u8>,
    peer: SockAddr,
    credentials: Option<PeerCredentials>,
    environment: Vec<(String, String)>,
}
