//! UDP: a connected socket, send-to and receive-from sockets, and servers. UDP-LISTEN with
//! `fork` keeps a session per peer address: datagrams from a known peer go to its session, a
//! new peer opens one, and a session ends after `idle-timeout` seconds without a datagram
//! from its peer. At most [`DEFAULT_SESSION_CAP`] sessions are open at once unless
//! `max-children` says otherwise: at the default cap a new peer ends the session idle the
//! longest (logged); at a cap set with `max-children` a new peer's datagrams are dropped
//! (logged) until a session ends.
//!
//! A UDP-LISTEN socket receives in batches (`recvmmsg`: one wake-up takes every datagram
//! waiting, up to `BATCH`) and hands each to its peer's
//! session through a bounded queue; sessions send in batches too (`sendmmsg`, and a run of
//! datagrams of one size as one segmented send). A datagram is never merged with another or
//! split. Every datagram dropped, for a session too far behind, a peer over `max-children`, or
//! by the kernel for a full receive queue (`SO_RXQ_OVFL`), is counted: a warning at most once
//! a second says how many and why, and `--statistics` gives the total.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::{Protocol, SockAddr, Type};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::datagrams::DatagramPeers;
pub use super::datagrams::DEFAULT_SESSION_CAP;
pub use super::listener::DroppedDatagrams;
use super::listener::{Accept, AcceptFuture, Accepting, Listener};
use super::socket::{MessageSocket, PeerFilter, ReceiveMode, Receiver, ReplyTo, Sender};
use super::tcp::{effective_family, listen_address, new_socket, resolve_with, source_address};
use crate::address::{Local, OptionId, Options, Remote};
use crate::channel::{MessageBatch, MessageRecv, Reader, Writer, MIN_MESSAGE_BUFFER};
use crate::endpoint::connection::{Connection, OpenContext};
use crate::endpoint::error::OpenError;
use crate::endpoint::peer::SocketAddresses;
use crate::sys::datagram::{Received, BATCH};

/// How long a UDP-LISTEN session lives without a datagram from its peer, unless told.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Datagrams queued for one session before further ones from that peer are dropped.
const SESSION_QUEUE: usize = 256;

/// Which protocol a socket of the UDP family speaks: UDP, or UDP-Lite (RFC 3828), which is
/// UDP with a checksum that may cover only the start of each datagram. Everything else (roles,
/// sessions, peers) is the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP (`IPPROTO_UDP`).
    Udp,
    /// UDP-Lite (`IPPROTO_UDPLITE`, 136).
    UdpLite,
}

impl Transport {
    /// The protocol a socket of this transport is created with.
    fn protocol(self) -> Protocol {
        match self {
            Transport::Udp => Protocol::UDP,
            Transport::UdpLite => Protocol::from(crate::sys::udplite::IPPROTO_UDPLITE),
        }
    }

    /// The name logs and descriptions use: `UDP`, `UDPLITE`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::UdpLite => "UDPLITE",
        }
    }

    /// A bound socket of this transport, registered with the reactor. Only UDP sends runs of
    /// datagrams as one segmented send: the kernel refuses segmentation for UDP-Lite.
    fn register(self, socket: socket2::Socket, options: &Options) -> io::Result<MessageSocket> {
        let socket = match self {
            Transport::Udp => MessageSocket::new_udp(socket),
            Transport::UdpLite => MessageSocket::new(socket),
        }?;
        Ok(socket.with_packet_info(super::packet_info::wanted(options)))
    }

    /// The transport's own socket options: UDP-Lite's checksum coverage.
    fn apply_options(self, socket: &socket2::Socket, options: &Options) -> Result<(), OpenError> {
        use crate::sys::udplite::{coverage, set_coverage, UDPLITE_RECV_CSCOV, UDPLITE_SEND_CSCOV};
        use std::os::fd::AsFd;
        if self != Transport::UdpLite {
            return Ok(());
        }
        for (id, option, name) in [
            (
                OptionId::UdpliteSendCscov,
                UDPLITE_SEND_CSCOV,
                "UDPLITE_SEND_CSCOV",
            ),
            (
                OptionId::UdpliteRecvCscov,
                UDPLITE_RECV_CSCOV,
                "UDPLITE_RECV_CSCOV",
            ),
        ] {
            if let Some(bytes) = options.count(id) {
                // The option's bounds (0 to 65535) fit an int.
                let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
                set_coverage(socket.as_fd(), option, bytes)
                    .map_err(OpenError::io(format!("setting {name} to {bytes}")))?;
                // The kernel rounds 1 to 7 up to 8: say what it kept.
                if let Ok(kept) = coverage(socket.as_fd(), option) {
                    tracing::debug!("{name} is {kept}");
                }
            }
        }
        Ok(())
    }
}

/// The receive queue a UDP-LISTEN socket asks for when `rcvbuf` does not say: room for a
/// burst of a few thousand full-size datagrams while sessions catch up (the kernel grants at
/// most `net.core.rmem_max`).
const LISTEN_RCVBUF: usize = 4 << 20;

/// At most one warning about dropped datagrams per this long.
const DROP_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// A UDP socket bound to `addr`, and the address it got (the port when `addr`'s is 0).
fn bound_socket(
    transport: Transport,
    addr: SocketAddr,
    options: &Options,
) -> Result<(MessageSocket, SocketAddr), OpenError> {
    let name = transport.name();
    let socket = new_socket(&addr, Type::DGRAM, transport.protocol(), options).map_err(
        OpenError::io(format!("creating a {name} socket for {addr}")),
    )?;
    transport.apply_options(&socket, options)?;
    socket
        .bind(&addr.into())
        .map_err(OpenError::io(format!("binding to {addr}")))?;
    // A datagram socket is as connected as it gets once it is bound (`setsockopt=`).
    super::setsockopt::apply(&socket, options, super::setsockopt::Phase::Connected)
        .map_err(OpenError::io(format!("binding to {addr}")))?;
    let bound = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .unwrap_or(addr);
    tracing::info!("listening on {name} {bound}");
    let socket = transport
        .register(socket, options)
        .map_err(OpenError::io(format!("registering a {name} socket")))?;
    Ok((socket, bound))
}

fn client_socket(
    transport: Transport,
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
    let name = transport.name();
    let socket = new_socket(target, Type::DGRAM, transport.protocol(), options).map_err(
        OpenError::io(format!("creating a {name} socket for {}", remote.host)),
    )?;
    transport.apply_options(&socket, options)?;
    super::tcp::bind_source(&socket, local, options)?;
    super::setsockopt::apply(&socket, options, super::setsockopt::Phase::Connected).map_err(
        OpenError::io(format!("creating a {name} socket for {}", remote.host)),
    )?;
    transport
        .register(socket, options)
        .map_err(OpenError::io(format!("registering a {name} socket")))
}

/// UDP:host:port: a socket connected to one peer.
pub async fn connect(
    transport: Transport,
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let target = resolve_with(&remote.host, remote.port, family, options).await?[0];
    let socket = client_socket(transport, remote, options, &target)?;
    socket
        .socket()
        .connect(&target.into())
        .map_err(OpenError::io(format!("connecting to {target}")))?;
    let report = super::report::report(socket2::SockRef::from(socket.socket()));
    let socket = Arc::new(socket);
    let connection = super::socket::connected_messages(
        socket.clone(),
        socket,
        false,
        format!("{} -> {target}", transport.name()),
    );
    Ok(Connection {
        socket_report: Some(report),
        ..connection
    })
}

/// UDP-SENDTO and UDP-DATAGRAM: send to one peer, receive from any admitted peer.
pub async fn sendto(
    transport: Transport,
    remote: &Remote,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let family = effective_family(remote.family, options, context);
    let target = resolve_with(&remote.host, remote.port, family, options).await?[0];
    let socket = client_socket(transport, remote, options, &target)?;
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
        format!("{} -> {target}", transport.name()),
    ))
}

/// UDP-RECV: only receive.
pub fn recv(
    transport: Transport,
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let (socket, addr) =
        bound_socket(transport, listen_address(local, options, context)?, options)?;
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
        format!("{}-RECV {addr}", transport.name()),
    ))
}

/// UDP-RECVFROM: each datagram is a peer to reply to.
pub fn recvfrom(
    transport: Transport,
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let (socket, addr) =
        bound_socket(transport, listen_address(local, options, context)?, options)?;
    let socket = Arc::new(socket);
    Ok(Listener::new(
        DatagramPeers::new(socket, PeerFilter::for_server(options)),
        format!("{}-RECVFROM {addr}", transport.name()),
        options,
    ))
}

/// UDP-LISTEN: the first datagram's sender becomes the peer (with fork: every sender).
pub fn listen(
    transport: Transport,
    local: &Local,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let (socket, addr) =
        bound_socket(transport, listen_address(local, options, context)?, options)?;
    if !options.has(OptionId::RcvBuf) {
        // Best effort: the kernel's default queue still works, it just drops sooner.
        let _ = socket.socket().set_recv_buffer_size(LISTEN_RCVBUF);
    }
    if let Err(e) = crate::sys::datagram::count_kernel_drops(socket.socket().as_fd()) {
        tracing::debug!(
            "{}-LISTEN {addr}: the kernel will not count its drops (SO_RXQ_OVFL): {}",
            transport.name(),
            crate::sys::error_text(&e)
        );
    }
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
        buf: vec![0; BATCH * MIN_MESSAGE_BUFFER],
        pending: Vec::with_capacity(BATCH),
        next: 0,
        drops: Box::new(Drops {
            listener: format!("{}-LISTEN {addr}", transport.name()),
            ..Drops::default()
        }),
    };
    Ok(Listener::new(
        sessions,
        format!("{}-LISTEN {addr}", transport.name()),
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

/// The datagrams a UDP-LISTEN socket dropped since its last warning about them, by why.
#[derive(Debug, Default)]
struct Drops {
    /// For a session [`SESSION_QUEUE`] behind, and the last such peer.
    behind: u64,
    behind_peer: Option<SocketAddr>,
    /// From new peers while `max-children` sessions were open, and the last such peer.
    refused: u64,
    refused_peer: Option<(SocketAddr, usize)>,
    /// By the kernel, its receive queue full.
    kernel: u64,
    /// The kernel's running count as last seen.
    kernel_seen: u32,
    /// When the last warning was given.
    warned: Option<Instant>,
    /// The run's total, if it keeps one.
    total: Option<DroppedDatagrams>,
    /// What listens (`UDP-LISTEN 127.0.0.1:5000`), for the warning.
    listener: String,
}

impl Drops {
    fn behind(&mut self, peer: SocketAddr) {
        self.behind += 1;
        self.behind_peer = Some(peer);
        self.count(1);
    }

    fn refused(&mut self, peer: SocketAddr, open: usize) {
        self.refused += 1;
        self.refused_peer = Some((peer, open));
        self.count(1);
    }

    /// The kernel's running count, as the latest datagram carried it.
    fn kernel_count(&mut self, seen: u32) {
        let new = seen.wrapping_sub(self.kernel_seen);
        self.kernel_seen = seen;
        if new > 0 {
            self.kernel += u64::from(new);
            self.count(u64::from(new));
        }
    }

    fn count(&self, n: u64) {
        if let Some(total) = &self.total {
            total.add(n);
        }
    }

    /// When the drops not yet warned of are to be: `None` if there are none.
    fn warning_due(&self) -> Option<Instant> {
        if self.behind + self.refused + self.kernel == 0 {
            return None;
        }
        Some(
            self.warned
                .map_or_else(Instant::now, |at| at + DROP_LOG_INTERVAL),
        )
    }

    /// Warns of the drops since the last warning, unless that was less than
    /// [`DROP_LOG_INTERVAL`] ago.
    fn warn_if_due(&mut self) {
        if self.behind + self.refused + self.kernel == 0
            || self
                .warned
                .is_some_and(|at| at.elapsed() < DROP_LOG_INTERVAL)
        {
            return;
        }
        let mut why = Vec::new();
        if self.behind > 0 {
            let peer = self
                .behind_peer
                .map_or_else(String::new, |p| format!(", the last from {p}"));
            why.push(format!(
                "{} for sessions {SESSION_QUEUE} datagrams behind{peer}",
                self.behind
            ));
        }
        if self.refused > 0 {
            let (peer, open) = self
                .refused_peer
                .unwrap_or((SocketAddr::from(([0, 0, 0, 0], 0)), 0));
            why.push(format!(
                "{} from new peers, {open} sessions open (max-children), the last from {peer}",
                self.refused
            ));
        }
        if self.kernel > 0 {
            why.push(format!(
                "{} by the kernel, the socket's receive queue full (rcvbuf sizes it)",
                self.kernel
            ));
        }
        let since = match self.warned {
            Some(at) => format!(" in the last {:.1}s", at.elapsed().as_secs_f64()),
            None => String::new(),
        };
        tracing::warn!(
            "{}: dropped {} datagrams{since}: {}",
            self.listener,
            self.behind + self.refused + self.kernel,
            why.join("; ")
        );
        self.behind = 0;
        self.behind_peer = None;
        self.refused = 0;
        self.refused_peer = None;
        self.kernel = 0;
        self.warned = Some(Instant::now());
    }
}

/// The peers of a UDP-LISTEN socket and the queues feeding their sessions.
#[derive(Debug)]
pub struct Sessions {
    socket: Arc<MessageSocket>,
    filter: PeerFilter,
    peers: HashMap<SocketAddr, Session>,
    idle: Duration,
    cap: SessionCap,
    /// Slots for one batch of datagrams, each long enough for any datagram.
    buf: Vec<u8>,
    /// The datagrams of the last batch, and the next one to hand out.
    pending: Vec<Received>,
    next: usize,
    /// Boxed: the listener types share one enum, and this is the largest part of any.
    drops: Box<Drops>,
}

impl Sessions {
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.socket().local_addr().ok()?.as_socket()
    }

    /// Counts the datagrams this socket drops into `total` as well.
    pub(crate) fn count_drops_in(&mut self, total: DroppedDatagrams) {
        self.drops.total = Some(total);
    }

    /// The next datagram from an admitted peer: from the batch at hand, or from a new one.
    async fn receive(&mut self) -> Result<(Vec<u8>, SocketAddr), OpenError> {
        loop {
            while let Some(datagram) = self.pending.get(self.next) {
                self.next += 1;
                let Some(peer) = datagram.from.as_socket() else {
                    continue;
                };
                match self.filter.refusal(&peer) {
                    None => {
                        let start = datagram.start;
                        return Ok((self.buf[start..start + datagram.len].to_vec(), peer));
                    }
                    Some(why) => tracing::warn!("refusing datagram from {peer}: {why}"),
                }
            }
            self.drops.warn_if_due();
            let handed_out = !self.pending.is_empty();
            self.pending.clear();
            self.next = 0;
            if handed_out {
                // The sessions the last batch fed send it on before the next batch comes in:
                // a socket that always has datagrams waiting would otherwise keep this task
                // receiving (for the runtime's whole budget, thousands of datagrams) while
                // their queues overflow.
                tokio::task::yield_now().await;
            }
            let (socket, buf, pending) = (&self.socket, &mut self.buf, &mut self.pending);
            let receiving =
                poll_fn(|cx| socket.poll_recv_batch(cx, buf, MIN_MESSAGE_BUFFER, pending));
            // Drops not yet warned of are warned of when due even if no datagram comes.
            let received = match self.drops.warning_due() {
                Some(at) => tokio::select! {
                    received = receiving => Some(received),
                    () = tokio::time::sleep_until(at) => None,
                },
                None => Some(receiving.await),
            };
            let Some(received) = received else {
                continue;
            };
            let info = received.map_err(OpenError::io("receiving a datagram"))?;
            if let Some(seen) = info.kernel_drops {
                self.drops.kernel_count(seen);
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
        // The rest of the batch: the peer's datagrams are its session's; others are dropped,
        // as the connect now drops them in the kernel.
        let mut queued = VecDeque::from([first]);
        for datagram in self.pending.drain(self.next..) {
            if datagram.from.as_socket() == Some(peer) {
                let start = datagram.start;
                queued.push_back(self.buf[start..start + datagram.len].to_vec());
            } else {
                tracing::warn!(
                    "dropping a datagram from {}: talking to {peer} only",
                    super::socket::describe_sockaddr(&datagram.from)
                );
            }
        }
        let rest = FirstPeerRecv {
            socket: self.socket.clone(),
            peer,
            queued,
        };
        // Connected, the socket's own address is the one it talks to the peer from.
        let addresses = session_addresses(&self.socket, peer);
        let connection = Connection::new(
            Some(Reader::Messages(Box::new(rest))),
            Some(Writer::Messages(Box::new(Sender {
                socket: self.socket.clone(),
                to: None,
                shutdown_on_close: false,
            }))),
            format!("UDP session with {peer}"),
        );
        Ok(Connection {
            addresses,
            ..connection
        })
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
                        self.drops.behind(peer);
                        continue;
                    }
                    Err(mpsc::error::TrySendError::Closed(returned)) => {
                        self.peers.remove(&peer);
                        msg = returned;
                    }
                }
            }
            let at_cap = |peers: &HashMap<SocketAddr, Session>| match self.cap {
                SessionCap::Refuse(max) | SessionCap::EvictIdlest(max) => peers.len() >= max,
            };
            if at_cap(&self.peers) {
                // Sessions that ended are only noticed here, where their room is needed,
                // so that a new peer costs no walk over every peer.
                self.peers.retain(|_, session| !session.queue.is_closed());
            }
            match self.cap {
                SessionCap::Refuse(max) if self.peers.len() >= max => {
                    self.drops.refused(peer, self.peers.len());
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
            let addresses = session_addresses(&self.socket, peer);
            let connection = Connection::new(
                Some(Reader::Messages(Box::new(SessionRecv {
                    incoming,
                    idle: self.idle,
                    deadline: Box::pin(tokio::time::sleep(self.idle)),
                    peer,
                    held: None,
                }))),
                Some(Writer::Messages(Box::new(Sender {
                    socket: self.socket.clone(),
                    to: Some(ReplyTo::Fixed(peer.into())),
                    shutdown_on_close: false,
                }))),
                format!("UDP session with {peer}"),
            );
            return Ok(Connection {
                addresses,
                ..connection
            });
        }
    }
}

/// The addresses of a session with `peer` on `socket`, which its program learns from its
/// environment (`SOCAT_SOCKADDR`, `SOCAT_PEERADDR`, ...). A socket bound to the wildcard
/// address has no address of its own for the peer: the one the kernel would send from is
/// found by connecting a socket of its own to the peer (no datagram is sent).
fn session_addresses(socket: &MessageSocket, peer: SocketAddr) -> Option<SocketAddresses> {
    let mut local = socket.socket().local_addr().ok()?.as_socket()?;
    if local.ip().is_unspecified() {
        let any = SocketAddr::new(local.ip(), 0);
        let probe = std::net::UdpSocket::bind(any).ok()?;
        probe.connect(peer).ok()?;
        local.set_ip(probe.local_addr().ok()?.ip());
    }
    Some(SocketAddresses { local, peer })
}

/// UDP-LISTEN admits each datagram's sender itself, as it routes datagrams to sessions.
impl Accept for Sessions {
    fn accept<'a>(&'a mut self, _on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move { Ok(Sessions::accept(self).await?) })
    }

    fn accept_first<'a>(&'a mut self, _on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move { Ok(Sessions::accept_first(self).await?) })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Sessions::local_addr(self)
    }

    fn caps_its_own_sessions(&self) -> bool {
        true
    }

    fn count_drops_in(&mut self, total: DroppedDatagrams) {
        Sessions::count_drops_in(self, total);
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

/// The datagrams of the peer a UDP-LISTEN socket without fork connected to: those already
/// received with its first, then the socket's. Connecting filters what arrives later, but
/// datagrams other senders got queued before the connect are still in the socket's queue:
/// they are dropped here.
struct FirstPeerRecv {
    socket: Arc<MessageSocket>,
    peer: SocketAddr,
    queued: VecDeque<Vec<u8>>,
}

impl MessageRecv for FirstPeerRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        if let Some(msg) = self.queued.pop_front() {
            let n = msg.len().min(buf.len());
            buf[..n].copy_from_slice(&msg[..n]);
            return Poll::Ready(Ok(Some(n)));
        }
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
    /// A datagram taken from the queue that did not fit in the last batch's buffer.
    held: Option<Vec<u8>>,
}

impl SessionRecv {
    /// The next datagram, or `None` when the session has ended (its listener dropped it, or
    /// its peer has been idle too long).
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        if let Some(msg) = self.held.take() {
            return Poll::Ready(Some(msg));
        }
        match self.incoming.poll_recv(cx) {
            Poll::Ready(Some(msg)) => {
                let next = crate::clock::deadline_after(Instant::now(), self.idle);
                self.deadline.as_mut().reset(next);
                Poll::Ready(Some(msg))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    tracing::info!(
                        "UDP session with {} idle for {}s: ending it",
                        self.peer,
                        self.idle.as_secs_f64()
                    );
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl MessageRecv for SessionRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        Poll::Ready(Ok(ready!(self.poll_next(cx)).map(|msg| {
            let n = msg.len().min(buf.len());
            buf[..n].copy_from_slice(&msg[..n]);
            n
        })))
    }

    /// Every datagram queued, one after the other in `buf`, as many as fit.
    fn poll_recv_batch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        batch: &mut MessageBatch,
    ) -> Poll<io::Result<Option<()>>> {
        let Some(first) = ready!(self.poll_next(cx)) else {
            return Poll::Ready(Ok(None));
        };
        let n = first.len().min(buf.len());
        buf[..n].copy_from_slice(&first[..n]);
        batch.push(0, n);
        while !batch.is_full() {
            let Ok(msg) = self.incoming.try_recv() else {
                break;
            };
            let start = batch.end();
            match buf.get_mut(start..start + msg.len()) {
                Some(room) => {
                    room.copy_from_slice(&msg);
                    batch.push(start, msg.len());
                }
                None => {
                    self.held = Some(msg);
                    break;
                }
            }
        }
        Poll::Ready(Ok(Some(())))
    }
}

// ---- The family's address types: UDP-CONNECT, -LISTEN, -SENDTO, -RECVFROM, -RECV, -DATAGRAM ----

use crate::address::{
    AddressType, BindDomain, Definition, Family, FamilySpec, FamilyTypes, Groups,
};
use crate::endpoint::opened::Opened;

/// What a UDP address does with its socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UdpSpec {
    /// A socket connected to one peer.
    Connect(Remote),
    /// Wait for the first datagram, then talk to its sender.
    Listen(Local),
    /// Send datagrams to a peer, receive replies from anyone.
    Sendto(Remote),
    /// Receive datagrams and reply to their sender.
    Recvfrom(Local),
    /// Only receive datagrams.
    Recv(Local),
    /// Send to a peer, receive from anyone (broadcast-capable).
    Datagram(Remote),
}

const PEER: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::IP_DATAGRAM);
const SERVER: Groups = PEER
    .union(Groups::CHILD)
    .union(Groups::RANGE)
    .union(Groups::SESSION);
const RECEIVER: Groups = PEER.union(Groups::RANGE);
const HOST_PORT: &[&str] = &["host", "port"];
const PORT: &[&str] = &["port"];

/// Defines the three address types (any family, IPv4, IPv6) of one role of a UDP-like
/// protocol: `$wrap` turns the role's [`UdpSpec`] into the family's spec.
macro_rules! role_types {
    ($spec:ty, $wrap:expr, $bind:expr, $extra:expr, $role:ident, $parse:ident, $params:expr, $groups:expr,
     [$any:ident $name:literal $aliases:expr, $v4:ident $name4:literal $aliases4:expr, $v6:ident $name6:literal $aliases6:expr],
     $help:literal) => {
        static $any: Definition<$spec> = Definition {
            ty: AddressType::new($name, $aliases, $params, $groups.union($extra), $help)
                .bind($bind),
            parse: |p| Ok($wrap(UdpSpec::$role(p.$parse(Family::Any)?))),
        };
        static $v4: Definition<$spec> = Definition {
            ty: AddressType::new(
                $name4,
                $aliases4,
                $params,
                $groups.union($extra),
                concat!($name, " over IPv4"),
            )
            .bind($bind),
            parse: |p| Ok($wrap(UdpSpec::$role(p.$parse(Family::V4)?))),
        };
        static $v6: Definition<$spec> = Definition {
            ty: AddressType::new(
                $name6,
                $aliases6,
                $params,
                $groups.union($extra),
                concat!($name, " over IPv6"),
            )
            .bind($bind),
            parse: |p| Ok($wrap(UdpSpec::$role(p.$parse(Family::V6)?))),
        };
    };
}

const UDP_BIND: BindDomain = BindDomain::Ip(Some(crate::services::Protocol::Udp));

role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Connect, remote, HOST_PORT, PEER,
    [UDP "UDP" &["UDP-CONNECT"], UDP4 "UDP4" &["UDP4-CONNECT"], UDP6 "UDP6" &["UDP6-CONNECT"]],
    "a UDP socket connected to host:port");
role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Listen, local, PORT, SERVER,
    [UDP_LISTEN "UDP-LISTEN" &["UDP-L"], UDP4_LISTEN "UDP4-LISTEN" &["UDP4-L"],
     UDP6_LISTEN "UDP6-LISTEN" &["UDP6-L"]],
    "wait for a datagram, then talk to its sender (with fork: a session per peer)");
role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Sendto, remote, HOST_PORT, PEER,
    [UDP_SENDTO "UDP-SENDTO" &["UDP-SEND"], UDP4_SENDTO "UDP4-SENDTO" &["UDP4-SEND"], UDP6_SENDTO "UDP6-SENDTO" &["UDP6-SEND"]],
    "send datagrams to host:port, receive replies");
role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Recvfrom, local, PORT, SERVER,
    [UDP_RECVFROM "UDP-RECVFROM" &[], UDP4_RECVFROM "UDP4-RECVFROM" &[],
     UDP6_RECVFROM "UDP6-RECVFROM" &[]],
    "receive datagrams and reply to their sender (with fork: a session per datagram)");
role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Recv, local, PORT, RECEIVER,
    [UDP_RECV "UDP-RECV" &[], UDP4_RECV "UDP4-RECV" &[], UDP6_RECV "UDP6-RECV" &[]],
    "only receive datagrams");
role_types!(UdpSpec, std::convert::identity, UDP_BIND, Groups::NONE, Datagram, remote, HOST_PORT, RECEIVER,
    [UDP_DATAGRAM "UDP-DATAGRAM" &[], UDP4_DATAGRAM "UDP4-DATAGRAM" &[],
     UDP6_DATAGRAM "UDP6-DATAGRAM" &[]],
    "send datagrams to host:port, receive from any peer in range");

/// The UDP family's types by role (in [`UdpSpec`]'s order) and family (any, IPv4, IPv6).
static UDP_ROWS: [[&Definition<UdpSpec>; 3]; 6] = [
    [&UDP, &UDP4, &UDP6],
    [&UDP_LISTEN, &UDP4_LISTEN, &UDP6_LISTEN],
    [&UDP_SENDTO, &UDP4_SENDTO, &UDP6_SENDTO],
    [&UDP_RECVFROM, &UDP4_RECVFROM, &UDP6_RECVFROM],
    [&UDP_RECV, &UDP4_RECV, &UDP6_RECV],
    [&UDP_DATAGRAM, &UDP4_DATAGRAM, &UDP6_DATAGRAM],
];

/// The UDP family: its address types and features.
pub static FAMILY: FamilyTypes<UdpSpec> = FamilyTypes {
    features: &["IP4", "IP6", "UDP"],
    types: &[
        &UDP,
        &UDP4,
        &UDP6,
        &UDP_LISTEN,
        &UDP4_LISTEN,
        &UDP6_LISTEN,
        &UDP_SENDTO,
        &UDP4_SENDTO,
        &UDP6_SENDTO,
        &UDP_RECVFROM,
        &UDP4_RECVFROM,
        &UDP6_RECVFROM,
        &UDP_RECV,
        &UDP4_RECV,
        &UDP6_RECV,
        &UDP_DATAGRAM,
        &UDP4_DATAGRAM,
        &UDP6_DATAGRAM,
    ],
};

impl UdpSpec {
    /// This spec's entry in a protocol's table of rows: by role, then family.
    fn row<S>(&self, rows: &'static [[&'static Definition<S>; 3]; 6]) -> &'static AddressType {
        let (role, family) = match self {
            UdpSpec::Connect(r) => (0, r.family),
            UdpSpec::Listen(l) => (1, l.family),
            UdpSpec::Sendto(r) => (2, r.family),
            UdpSpec::Recvfrom(l) => (3, l.family),
            UdpSpec::Recv(l) => (4, l.family),
            UdpSpec::Datagram(r) => (5, r.family),
        };
        let family = match family {
            Family::Any => 0,
            Family::V4 => 1,
            Family::V6 => 2,
        };
        &rows[role][family].ty
    }

    fn write_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UdpSpec::Connect(r) | UdpSpec::Sendto(r) | UdpSpec::Datagram(r) => r.fmt_params(f),
            UdpSpec::Listen(l) | UdpSpec::Recvfrom(l) | UdpSpec::Recv(l) => l.fmt_params(f),
        }
    }

    /// Opens a UDP socket for its role.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        self.open_over(Transport::Udp, options, context).await
    }

    /// Opens a socket of `transport` for its role.
    async fn open_over(
        &self,
        transport: Transport,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        let t = transport;
        Ok(match self {
            UdpSpec::Connect(remote) => {
                Opened::Connection(connect(t, remote, options, context).await?)
            }
            UdpSpec::Sendto(remote) | UdpSpec::Datagram(remote) => {
                Opened::Connection(sendto(t, remote, options, context).await?)
            }
            UdpSpec::Recv(local) => Opened::Connection(recv(t, local, options, context)?),
            UdpSpec::Listen(local) => Opened::Listener(listen(t, local, options, context)?),
            UdpSpec::Recvfrom(local) => Opened::Listener(recvfrom(t, local, options, context)?),
        })
    }
}

impl FamilySpec for UdpSpec {
    fn address_type(&self) -> &'static AddressType {
        self.row(&UDP_ROWS)
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.write_params(f)
    }
}

// ---- UDP-Lite (RFC 3828): the same six roles over IPPROTO_UDPLITE ----

/// A UDP-Lite address: one of UDP's roles, over UDP-Lite.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpLiteSpec(pub UdpSpec);

const LITE: Groups = Groups::UDPLITE;
// No service names: /etc/services lists none for UDP-Lite.
const LITE_BIND: BindDomain = BindDomain::Ip(None);

role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Connect, remote, HOST_PORT, PEER,
    [UDPLITE "UDPLITE-CONNECT" &["UDPLITE"], UDPLITE4 "UDPLITE4-CONNECT" &["UDPLITE4"],
     UDPLITE6 "UDPLITE6-CONNECT" &["UDPLITE6"]],
    "a UDP-Lite socket connected to host:port");
role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Listen, local, PORT, SERVER,
    [UDPLITE_LISTEN "UDPLITE-LISTEN" &["UDPLITE-L"], UDPLITE4_LISTEN "UDPLITE4-LISTEN" &["UDPLITE4-L"],
     UDPLITE6_LISTEN "UDPLITE6-LISTEN" &["UDPLITE6-L"]],
    "UDP-LISTEN over UDP-Lite");
role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Sendto, remote, HOST_PORT, PEER,
    [UDPLITE_SENDTO "UDPLITE-SENDTO" &[], UDPLITE4_SENDTO "UDPLITE4-SENDTO" &[],
     UDPLITE6_SENDTO "UDPLITE6-SENDTO" &[]],
    "UDP-SENDTO over UDP-Lite");
role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Recvfrom, local, PORT, SERVER,
    [UDPLITE_RECVFROM "UDPLITE-RECVFROM" &[], UDPLITE4_RECVFROM "UDPLITE4-RECVFROM" &[],
     UDPLITE6_RECVFROM "UDPLITE6-RECVFROM" &[]],
    "UDP-RECVFROM over UDP-Lite");
role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Recv, local, PORT, RECEIVER,
    [UDPLITE_RECV "UDPLITE-RECV" &[], UDPLITE4_RECV "UDPLITE4-RECV" &[],
     UDPLITE6_RECV "UDPLITE6-RECV" &[]],
    "UDP-RECV over UDP-Lite");
role_types!(UdpLiteSpec, UdpLiteSpec, LITE_BIND, LITE, Datagram, remote, HOST_PORT, RECEIVER,
    [UDPLITE_DATAGRAM "UDPLITE-DATAGRAM" &[], UDPLITE4_DATAGRAM "UDPLITE4-DATAGRAM" &[],
     UDPLITE6_DATAGRAM "UDPLITE6-DATAGRAM" &[]],
    "UDP-DATAGRAM over UDP-Lite");

/// The UDP-Lite types by role (in [`UdpSpec`]'s order) and family (any, IPv4, IPv6).
static UDPLITE_ROWS: [[&Definition<UdpLiteSpec>; 3]; 6] = [
    [&UDPLITE, &UDPLITE4, &UDPLITE6],
    [&UDPLITE_LISTEN, &UDPLITE4_LISTEN, &UDPLITE6_LISTEN],
    [&UDPLITE_SENDTO, &UDPLITE4_SENDTO, &UDPLITE6_SENDTO],
    [&UDPLITE_RECVFROM, &UDPLITE4_RECVFROM, &UDPLITE6_RECVFROM],
    [&UDPLITE_RECV, &UDPLITE4_RECV, &UDPLITE6_RECV],
    [&UDPLITE_DATAGRAM, &UDPLITE4_DATAGRAM, &UDPLITE6_DATAGRAM],
];

/// The UDP-Lite family: its address types and features.
pub static UDPLITE_FAMILY: FamilyTypes<UdpLiteSpec> = FamilyTypes {
    features: &["IP4", "IP6", "UDPLITE"],
    types: &[
        &UDPLITE,
        &UDPLITE4,
        &UDPLITE6,
        &UDPLITE_LISTEN,
        &UDPLITE4_LISTEN,
        &UDPLITE6_LISTEN,
        &UDPLITE_SENDTO,
        &UDPLITE4_SENDTO,
        &UDPLITE6_SENDTO,
        &UDPLITE_RECVFROM,
        &UDPLITE4_RECVFROM,
        &UDPLITE6_RECVFROM,
        &UDPLITE_RECV,
        &UDPLITE4_RECV,
        &UDPLITE6_RECV,
        &UDPLITE_DATAGRAM,
        &UDPLITE4_DATAGRAM,
        &UDPLITE6_DATAGRAM,
    ],
};

impl FamilySpec for UdpLiteSpec {
    fn address_type(&self) -> &'static AddressType {
        self.0.row(&UDPLITE_ROWS)
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.write_params(f)
    }
}

impl UdpLiteSpec {
    /// Opens a UDP-Lite socket for its role.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        self.0.open_over(Transport::UdpLite, options, context).await
    }
}

#[cfg(test)]
mod udplite_tests;
