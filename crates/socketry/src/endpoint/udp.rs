//! UDP: a connected socket, send-to and receive-from sockets, and servers. UDP-LISTEN with
//! `fork` keeps a session per peer address: datagrams from a known peer go to its session, a
//! new peer opens one, and a session ends after `idle-timeout` seconds without a datagram
//! from its peer. At most [`DEFAULT_SESSION_CAP`] sessions are open at once unless
//! `max-children` says otherwise: at the default cap a new peer ends the session idle the
//! longest (logged); at a cap set with `max-children` a new peer's datagrams are dropped
//! (logged) until a session ends.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::{Protocol, SockAddr, Type};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::listener::{Listener, ListenerKind};
use super::socket::{MessageSocket, PeerFilter, Prefixed, ReceiveMode, Receiver, ReplyTo, Sender};
use super::tcp::{effective_family, listen_address, new_socket, resolve, source_address};
use super::{Connection, OpenContext, OpenError};
use crate::address::{Local, OptionId, Options, Remote};
use crate::channel::{MessageRecv, Reader, Writer, MIN_MESSAGE_BUFFER};

/// How long a UDP-LISTEN session lives without a datagram from its peer, unless told.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many UDP-LISTEN (and UDP-RECVFROM) sessions with `fork` may be open at once when
/// `max-children` is not given: enough for any ordinary service, and a bound on what a flood
/// of source addresses can make socketry open (each session has its own second endpoint).
pub const DEFAULT_SESSION_CAP: usize = 1024;

/// Datagrams queued for one session before further ones from that peer are dropped.
const SESSION_QUEUE: usize = 256;

/// A UDP socket bound to `addr`, and the address it got (the port when `addr`'s is 0).
fn bound_socket(
    addr: SocketAddr,
    options: &Options,
) -> Result<(MessageSocket, SocketAddr), OpenError> {
    let socket = new_socket(&addr, Type::DGRAM, Protocol::UDP, options)
        .map_err(OpenError::io(format!("creating a UDP socket for {addr}")))?;
    socket
        .bind(&addr.into())
        .map_err(OpenError::io(format!("binding to {addr}")))?;
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(addr);
    tracing::info!("listening on UDP {bound}");
    let socket = MessageSocket::new(socket).map_err(OpenError::io("registering a UDP socket"))?;
    Ok((socket, bound))
}

fn client_socket(
    remote: &Remote,
    options: &Options,
    target: &SocketAddr,
) -> Result<MessageSocket, OpenError> {
    let local = source_address(options, target)?.unwrap_or_else(|| {
        SocketAddr::new(
            if target.is_ipv4() {
                [0u8; 4].into()
            } else {
                [0u16; 8].into()
            },
            0,
        )
    });
    let socket = new_socket(target, Type::DGRAM, Protocol::UDP, options).map_err(OpenError::io(
        format!("creating a UDP socket for {}", remote.host),
    ))?;
    socket
        .bind(&local.into())
        .map_err(OpenError::io(format!("binding to {local}")))?;
    MessageSocket::new(socket).map_err(OpenError::io("registering a UDP socket"))
}

/// UDP:host:port: a socket connected to one peer.
pub async fn connect(
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let target = resolve(&remote.host, remote.port, family).await?[0];
    let socket = client_socket(remote, options, &target)?;
    socket
        .socket()
        .connect(&target.into())
        .map_err(OpenError::io(format!("connecting to {target}")))?;
    let report = super::socket::report(socket2::SockRef::from(socket.socket()));
    let socket = Arc::new(socket);
    let connection = super::socket::connected_messages(
        socket.clone(),
        socket,
        false,
        format!("UDP -> {target}"),
    );
    Ok(Connection {
        socket_report: Some(report),
        ..connection
    })
}

/// UDP-SENDTO and UDP-DATAGRAM: send to one peer, receive from any admitted peer.
pub async fn sendto(
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let target = resolve(&remote.host, remote.port, family).await?[0];
    let socket = client_socket(remote, options, &target)?;
    if target.ip().is_multicast() || target.ip() == std::net::Ipv4Addr::BROADCAST {
        socket
            .socket()
            .set_broadcast(true)
            .map_err(OpenError::io("setting SO_BROADCAST"))?;
    }
    let socket = Arc::new(socket);
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(Receiver {
            socket: socket.clone(),
            mode: ReceiveMode::From {
                filter: PeerFilter::from_options(options),
                latest: None,
            },
        }))),
        Some(Writer::Messages(Box::new(Sender {
            socket,
            to: Some(ReplyTo::Fixed(SockAddr::from(target))),
            shutdown_on_close: false,
        }))),
        format!("UDP -> {target}"),
    ))
}

/// UDP-RECV: only receive.
pub fn recv(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let (socket, addr) = bound_socket(listen_address(local, options, context)?, options)?;
    let socket = Arc::new(socket);
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(Receiver {
            socket,
            mode: ReceiveMode::From {
                filter: PeerFilter::for_server(options),
                latest: None,
            },
        }))),
        None,
        format!("UDP-RECV {addr}"),
    ))
}

/// UDP-RECVFROM: each datagram is a peer to reply to.
pub fn recvfrom(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let (socket, addr) = bound_socket(listen_address(local, options, context)?, options)?;
    let socket = Arc::new(socket);
    Ok(Listener::new(
        ListenerKind::Datagrams {
            socket,
            filter: PeerFilter::for_server(options),
        },
        format!("UDP-RECVFROM {addr}"),
        options,
    ))
}

/// UDP-LISTEN: the first datagram's sender becomes the peer (with fork: every sender).
pub fn listen(
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let (socket, addr) = bound_socket(listen_address(local, options, context)?, options)?;
    let socket = Arc::new(socket);
    let sessions = Sessions {
        socket,
        filter: PeerFilter::for_server(options),
        peers: HashMap::new(),
        idle: options
            .seconds(OptionId::IdleTimeout)
            .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        cap: match options.count(OptionId::MaxChildren) {
            Some(max) => SessionCap::Refuse(usize::try_from(max).unwrap_or(usize::MAX)),
            None => SessionCap::EvictIdlest(DEFAULT_SESSION_CAP),
        },
        buf: vec![0; MIN_MESSAGE_BUFFER],
    };
    Ok(Listener::new(
        ListenerKind::Sessions(sessions),
        format!("UDP-LISTEN {addr}"),
        options,
    ))
}

/// What a UDP-LISTEN socket with fork does for a new peer when its sessions are at the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SessionCap {
    /// `max-children=N`: drop the new peer's datagrams until a session ends.
    Refuse(usize),
    /// The default cap: end the session whose peer has been quiet the longest.
    EvictIdlest(usize),
}

/// A session's queue and when its peer last sent.
#[derive(Debug)]
struct Session {
    queue: mpsc::Sender<Vec<u8>>,
    last_heard: Instant,
}

/// The peers of a UDP-LISTEN socket and the queues feeding their sessions.
#[derive(Debug)]
pub struct Sessions {
    socket: Arc<MessageSocket>,
    filter: PeerFilter,
    peers: HashMap<SocketAddr, Session>,
    idle: Duration,
    cap: SessionCap,
    buf: Vec<u8>,
}

impl Sessions {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.socket().local_addr().ok()?.as_socket()
    }

    async fn receive(&mut self) -> Result<(Vec<u8>, SocketAddr), OpenError> {
        loop {
            let (n, from) = self
                .socket
                .recv_from(&mut self.buf)
                .await
                .map_err(OpenError::io("receiving a datagram"))?;
            let Some(peer) = from.as_socket() else {
                continue;
            };
            match self.filter.refusal(&peer) {
                None => return Ok((self.buf[..n].to_vec(), peer)),
                Some(why) => tracing::warn!("refusing datagram from {peer}: {why}"),
            }
        }
    }

    /// Without fork: the first admitted sender becomes the socket's only peer.
    pub(crate) async fn accept_first(&mut self) -> Result<Connection, OpenError> {
        let (first, peer) = self.receive().await?;
        tracing::info!("receiving datagram from {peer}; talking to it only");
        self.socket
            .socket()
            .connect(&peer.into())
            .map_err(OpenError::io(format!("connecting to {peer}")))?;
        let rest = FirstPeerRecv {
            socket: self.socket.clone(),
            peer,
        };
        Ok(Connection::new(
            Some(Reader::Messages(Box::new(Prefixed::new(
                first,
                Some(Box::new(rest)),
            )))),
            Some(Writer::Messages(Box::new(Sender {
                socket: self.socket.clone(),
                to: None,
                shutdown_on_close: false,
            }))),
            format!("UDP session with {peer}"),
        ))
    }

    /// With fork: routes datagrams to their sessions until a new peer arrives, and returns
    /// that peer's session.
    pub(crate) async fn accept(&mut self) -> Result<Connection, OpenError> {
        loop {
            let (mut msg, peer) = self.receive().await?;
            if let Some(session) = self.peers.get_mut(&peer) {
                session.last_heard = Instant::now();
                match session.queue.try_send(msg) {
                    Ok(()) => continue,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!("dropping a datagram from {peer}: its session is {SESSION_QUEUE} behind");
                        continue;
                    }
                    Err(mpsc::error::TrySendError::Closed(returned)) => {
                        self.peers.remove(&peer);
                        msg = returned;
                    }
                }
            }
            self.peers.retain(|_, session| !session.queue.is_closed());
            match self.cap {
                SessionCap::Refuse(max) if self.peers.len() >= max => {
                    tracing::warn!(
                        "dropping a datagram from new peer {peer}: {} sessions open",
                        self.peers.len()
                    );
                    continue;
                }
                SessionCap::EvictIdlest(max) if self.peers.len() >= max => self.evict_idlest(max),
                _ => {}
            }
            let (queue, incoming) = mpsc::channel(SESSION_QUEUE);
            // A new channel has room for its first message.
            let _ = queue.try_send(msg);
            self.peers.insert(
                peer,
                Session {
                    queue,
                    last_heard: Instant::now(),
                },
            );
            tracing::info!("new UDP session with {peer}");
            return Ok(Connection::new(
                Some(Reader::Messages(Box::new(SessionRecv {
                    incoming,
                    idle: self.idle,
                    deadline: Box::pin(tokio::time::sleep(self.idle)),
                    peer,
                }))),
                Some(Writer::Messages(Box::new(Sender {
                    socket: self.socket.clone(),
                    to: Some(ReplyTo::Fixed(peer.into())),
                    shutdown_on_close: false,
                }))),
                format!("UDP session with {peer}"),
            ));
        }
    }
}

impl Sessions {
    /// Ends the session whose peer has been quiet the longest, to make room at the default
    /// cap: its reader sees EOF, so it ends as any session does at its peer's EOF.
    fn evict_idlest(&mut self, cap: usize) {
        let idlest = self
            .peers
            .iter()
            .min_by_key(|(_, session)| session.last_heard)
            .map(|(peer, session)| (*peer, session.last_heard.elapsed()));
        if let Some((peer, quiet)) = idlest {
            self.peers.remove(&peer);
            tracing::warn!(
                "ending UDP session with {peer}, quiet for {:.1}s: {cap} sessions open, the default cap (max-children sets another)",
                quiet.as_secs_f64()
            );
        }
    }
}

/// The datagrams of the peer a UDP-LISTEN socket without fork connected to. Connecting
/// filters what arrives later, but datagrams other senders got queued before the connect are
/// still in the socket's queue: they are dropped here.
struct FirstPeerRecv {
    socket: Arc<MessageSocket>,
    peer: SocketAddr,
}

impl MessageRecv for FirstPeerRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        loop {
            let (n, from) = ready!(self.socket.poll_recv_from(cx, buf))?;
            match from.as_socket() {
                Some(from) if from == self.peer => return Poll::Ready(Ok(Some(n))),
                _ => tracing::warn!(
                    "dropping a datagram from {}: talking to {} only",
                    super::socket::describe_sockaddr(&from),
                    self.peer
                ),
            }
        }
    }
}

/// The datagrams of one UDP-LISTEN session; it ends when its peer has been idle too long.
struct SessionRecv {
    incoming: mpsc::Receiver<Vec<u8>>,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    peer: SocketAddr,
}

impl MessageRecv for SessionRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        match self.incoming.poll_recv(cx) {
            Poll::Ready(Some(msg)) => {
                let n = msg.len().min(buf.len());
                buf[..n].copy_from_slice(&msg[..n]);
                let next = crate::clock::deadline_after(Instant::now(), self.idle);
                self.deadline.as_mut().reset(next);
                Poll::Ready(Ok(Some(n)))
            }
            Poll::Ready(None) => Poll::Ready(Ok(None)),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::info!(
                        "UDP session with {} idle for {}s: ending it",
                        self.peer,
                        self.idle.as_secs_f64()
                    );
                    Poll::Ready(Ok(None))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}
