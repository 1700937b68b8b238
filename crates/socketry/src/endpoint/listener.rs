//! Servers: addresses that wait for peers. A listener yields one [`Connection`] per peer
//! ([`Listener::accept`], used with `fork`) or hands over its first peer and stops listening
//! ([`Listener::accept_once`]).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::SockAddr;
use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, UnixListener};

use super::mqueue::QueueListener;
use super::shm::ShmListener;
use super::socket::{
    describe_sockaddr, MessageSocket, PeerFilter, Prefixed, ReceiveMode, Receiver, ReplyTo, Sender,
};
use super::udp::Sessions;
use super::unix::ancillary::PeerCredentials;
use super::unix::credentials::CredentialFilter;
use super::unix::fdpass::{passed_connection, PassedConnections};
use super::unix::path::PathGuard;
use crate::address::{OptionId, Options};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Connection, DataOptions};
use crate::endpoint::error::OpenError;
use crate::layer::Stack;

/// What a listener listens with.
#[derive(Debug)]
pub(crate) enum ListenerKind {
    Tcp {
        listener: TcpListener,
        filter: PeerFilter,
        nodelay: Option<bool>,
    },
    UnixStream {
        listener: UnixListener,
        filter: CredentialFilter,
    },
    Seqpacket {
        fd: AsyncFd<socket2::Socket>,
        filter: CredentialFilter,
    },
    /// UDP-LISTEN: a session per peer.
    Sessions(Sessions),
    /// UDP-RECVFROM and UNIX-RECVFROM: each datagram is a peer.
    Datagrams {
        socket: Arc<MessageSocket>,
        filter: PeerFilter,
    },
    /// POSIXMQ-RECEIVE (each message is a session) and POSIXMQ-SEND with `fork`.
    Queue(QueueListener),
    /// UNIX-RECVFD-LISTEN: connections other processes pass.
    Passed(PassedConnections),
    /// SHM-LISTEN: shared memory with each peer that connects.
    Shm(ShmListener),
}

/// An address waiting for peers.
#[derive(Debug)]
pub struct Listener {
    kind: ListenerKind,
    description: String,
    data: DataOptions,
    /// The layers each accepted connection gets (`length-prefix`).
    layers: Stack,
    accept_timeout: Option<Duration>,
    guard: Option<PathGuard>,
    /// When accepting last failed for want of descriptors or memory.
    last_shortage: Option<Instant>,
    /// The TLS server each accepted connection owes a handshake to (OPENSSL-LISTEN).
    tls: Option<Arc<crate::tls::TlsServerConfig>>,
}

/// A shortage that recurs after this long without one is a new shortage, and is logged again.
const SHORTAGE_QUIET: Duration = Duration::from_secs(1);

/// How long the accept loop waits before trying again in a shortage.
const SHORTAGE_BACKOFF: Duration = Duration::from_millis(100);

impl Listener {
    pub(crate) fn new(kind: ListenerKind, description: String, options: &Options) -> Listener {
        Listener {
            kind,
            description,
            data: DataOptions::default(),
            layers: Stack::default(),
            accept_timeout: options.seconds(OptionId::AcceptTimeout),
            guard: None,
            last_shortage: None,
            tls: None,
        }
    }

    pub(crate) fn with_tls(mut self, config: Arc<crate::tls::TlsServerConfig>) -> Listener {
        self.tls = Some(config);
        self
    }

    pub(crate) fn with_guard(mut self, guard: PathGuard) -> Listener {
        self.guard = Some(guard);
        self
    }

    pub(crate) fn with_data_options(mut self, data: DataOptions) -> Listener {
        self.data = data;
        self
    }

    pub(crate) fn with_layers(mut self, layers: Stack) -> Listener {
        self.layers = layers;
        self
    }

    /// What this listener listens on, for logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The local internet address, for TCP and UDP listeners (the port the kernel chose for
    /// port 0).
    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.kind {
            ListenerKind::Tcp { listener, .. } => listener.local_addr().ok(),
            ListenerKind::Sessions(sessions) => sessions.local_addr(),
            ListenerKind::Datagrams { socket, .. } => {
                socket.socket().local_addr().ok()?.as_socket()
            }
            ListenerKind::UnixStream { .. }
            | ListenerKind::Seqpacket { .. }
            | ListenerKind::Queue(_)
            | ListenerKind::Passed(_)
            | ListenerKind::Shm(_) => None,
        }
    }

    /// Counts the datagrams the listener drops (UDP-LISTEN with fork) into `total` as well.
    pub(crate) fn count_drops_in(&mut self, total: super::udp::DroppedDatagrams) {
        if let ListenerKind::Sessions(sessions) = &mut self.kind {
            sessions.count_drops_in(total);
        }
    }

    /// Whether the listener limits its own sessions (UDP-LISTEN counts peers itself, since it
    /// must keep receiving for the sessions it has while at its limit).
    pub fn caps_its_own_sessions(&self) -> bool {
        matches!(self.kind, ListenerKind::Sessions(_))
    }

    /// How many sessions a forking server keeps open at once when `max-children` is not
    /// given, ending the oldest to make room: datagram receivers (UDP-RECVFROM,
    /// UNIX-RECVFROM), where every datagram from a new source would otherwise open one.
    /// Connection listeners have no default cap, as in socat: the kernel's backlog holds
    /// what cannot be accepted.
    pub fn default_session_cap(&self) -> Option<usize> {
        match self.kind {
            ListenerKind::Datagrams { .. } => Some(super::udp::DEFAULT_SESSION_CAP),
            _ => None,
        }
    }

    /// Waits for the next peer (bounded by `accept-timeout`).
    pub async fn accept(&mut self) -> Result<Connection, OpenError> {
        let timeout = self.accept_timeout;
        let description = self.description.clone();
        let accepting = self.accept_next();
        let mut connection =
            match timeout {
                Some(after) => tokio::time::timeout(after, accepting).await.map_err(|_| {
                    OpenError::NoPeer {
                        listener: description,
                        after,
                    }
                })??,
                None => accepting.await?,
            };
        connection.data = self.data;
        connection.tls_pending = self.tls.clone();
        connection.stack(&self.layers).await
    }

    /// Waits for the first peer, then stops listening; the listener's socket file stays until
    /// the connection ends.
    pub async fn accept_once(mut self) -> Result<Connection, OpenError> {
        let mut connection = match &mut self.kind {
            ListenerKind::Sessions(sessions) => {
                let timeout = self.accept_timeout;
                let first = sessions.accept_first();
                match timeout {
                    Some(after) => tokio::time::timeout(after, first).await.map_err(|_| {
                        OpenError::NoPeer {
                            listener: self.description.clone(),
                            after,
                        }
                    })??,
                    None => first.await?,
                }
            }
            ListenerKind::Datagrams { socket, filter } => {
                let Received {
                    first,
                    peer,
                    credentials,
                } = receive_admitted(socket, filter).await?;
                let latest = Arc::new(Mutex::new(Some(peer.clone())));
                let rest = Receiver {
                    socket: socket.clone(),
                    mode: ReceiveMode::From {
                        filter: filter.clone(),
                        latest: Some(latest.clone()),
                    },
                };
                let mut connection = Connection::new(
                    Some(Reader::Messages(Box::new(Prefixed::new(
                        first,
                        Some(Box::new(rest)),
                    )))),
                    Some(Writer::Messages(Box::new(Sender {
                        socket: socket.clone(),
                        to: Some(ReplyTo::Latest(latest)),
                        shutdown_on_close: false,
                    }))),
                    format!("{} <- {}", self.description, describe_sockaddr(&peer)),
                );
                connection.peer_credentials = credentials;
                connection
            }
            _ => self.accept().await?,
        };
        connection.data = self.data;
        if let Some(guard) = self.guard.take() {
            connection.keep_alive(guard);
        }
        // Stream listeners came through `accept`, which stacked the layers already.
        Ok(connection)
    }

    async fn accept_next(&mut self) -> Result<Connection, OpenError> {
        loop {
            let accepted = match &mut self.kind {
                ListenerKind::Tcp {
                    listener,
                    filter,
                    nodelay,
                } => match listener.accept().await {
                    Ok((stream, peer)) if filter.refusal(&peer).is_none() => {
                        let local = stream
                            .local_addr()
                            .map(|a| a.to_string())
                            .unwrap_or_default();
                        tracing::info!("accepting connection from {peer} on {local}");
                        if let Some(on) = nodelay {
                            stream
                                .set_nodelay(*on)
                                .map_err(OpenError::io("setting TCP_NODELAY"))?;
                        }
                        Ok(super::tcp::stream_connection(
                            stream,
                            format!("TCP {local} <- {peer}"),
                        ))
                    }
                    Ok((_, peer)) => {
                        let why = filter.refusal(&peer).unwrap_or_default();
                        tracing::warn!(
                            "refusing connection from {peer} on {}: {why}",
                            self.description
                        );
                        continue;
                    }
                    Err(e) => Err(e),
                },
                ListenerKind::UnixStream { listener, filter } => match listener.accept().await {
                    Ok((stream, _)) => match admit(&stream, filter, &self.description) {
                        Some(credentials) => {
                            let mut connection =
                                super::unix::stream_connection(stream, self.description.clone());
                            connection.peer_credentials = credentials;
                            Ok(connection)
                        }
                        None => continue,
                    },
                    Err(e) => Err(e),
                },
                ListenerKind::Seqpacket { fd, filter } => match accept_seqpacket(fd).await {
                    Ok(socket) => match admit(&socket, filter, &self.description) {
                        Some(credentials) => {
                            super::unix::seqpacket_connection(socket, self.description.clone()).map(
                                |mut connection| {
                                    connection.peer_credentials = credentials;
                                    connection
                                },
                            )
                        }
                        None => continue,
                    },
                    Err(e) => Err(e),
                },
                ListenerKind::Sessions(sessions) => return sessions.accept().await,
                ListenerKind::Queue(queue) => return queue.accept().await,
                ListenerKind::Shm(shm) => match shm.listener.accept().await {
                    Ok((stream, _)) => match admit(&stream, &shm.filter, &self.description) {
                        Some(credentials) => match shm.serve(stream, &self.description) {
                            Ok(mut connection) => {
                                connection.peer_credentials = credentials;
                                Ok(connection)
                            }
                            Err(e) => {
                                tracing::warn!(
                                    "setting up shared memory on {}: {}",
                                    self.description,
                                    crate::sys::error_text(&e)
                                );
                                continue;
                            }
                        },
                        None => continue,
                    },
                    Err(e) => Err(e),
                },
                ListenerKind::Passed(passed) => match passed.next().await {
                    Some(fd) => match passed_connection(fd, &self.description) {
                        Ok(connection) => Ok(connection),
                        Err(why) => {
                            tracing::warn!(
                                "refusing a descriptor passed on {}: {why}",
                                self.description
                            );
                            continue;
                        }
                    },
                    None => {
                        return Err(OpenError::Refused(format!(
                            "{} stopped receiving connections",
                            self.description
                        )))
                    }
                },
                ListenerKind::Datagrams { socket, filter } => {
                    let Received {
                        first,
                        peer,
                        credentials,
                    } = receive_admitted(socket, filter).await?;
                    let description =
                        format!("{} <- {}", self.description, describe_sockaddr(&peer));
                    let mut connection = Connection::new(
                        Some(Reader::Messages(Box::new(Prefixed::new(first, None)))),
                        Some(Writer::Messages(Box::new(Sender {
                            socket: socket.clone(),
                            to: Some(ReplyTo::Fixed(peer)),
                            shutdown_on_close: false,
                        }))),
                        description,
                    );
                    connection.peer_credentials = credentials;
                    return Ok(connection);
                }
            };
            match accepted {
                Ok(connection) => return Ok(connection),
                Err(e) => self.recover(e).await?,
            }
        }
    }

    /// Decides whether an accept error is passing (out of descriptors, an aborted handshake)
    /// and waits a little before the next try, or ends the listener.
    async fn recover(&mut self, error: io::Error) -> Result<(), OpenError> {
        use nix::libc::{ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM, EPROTO};
        match error.raw_os_error() {
            Some(ECONNABORTED | EPROTO) => Ok(()),
            Some(EMFILE | ENFILE | ENOBUFS | ENOMEM) => {
                // Said once per shortage, not once per retry; the backoff keeps the loop from
                // spinning on a backlog it cannot take from.
                let ongoing = self
                    .last_shortage
                    .is_some_and(|at| at.elapsed() < SHORTAGE_QUIET);
                if ongoing {
                    tracing::trace!(
                        "accepting on {}: still {}; retrying",
                        self.description,
                        crate::sys::error_text(&error)
                    );
                } else {
                    tracing::warn!(
                        "accepting on {}: {}; retrying as resources free up",
                        self.description,
                        crate::sys::error_text(&error)
                    );
                }
                tokio::time::sleep(SHORTAGE_BACKOFF).await;
                self.last_shortage = Some(Instant::now());
                Ok(())
            }
            _ => Err(OpenError::Io {
                action: format!("accepting on {}", self.description),
                source: error,
            }),
        }
    }
}

/// Checks a Unix connection's peer against `filter` before reading anything from it:
/// `Some(credentials)` admits it (with its credentials, if the kernel gave them), `None`
/// refuses it, which is logged; the caller then closes it.
fn admit(
    socket: &impl std::os::fd::AsFd,
    filter: &CredentialFilter,
    listener: &str,
) -> Option<Option<PeerCredentials>> {
    let credentials = super::unix::ancillary::peer_credentials(socket).ok();
    let who = credentials.map_or_else(|| "an unknown peer".to_owned(), |c| c.to_string());
    match filter.refusal(credentials.as_ref()) {
        None => {
            tracing::info!("accepting connection from {who} on {listener}");
            Some(credentials)
        }
        Some(why) => {
            tracing::warn!("refusing connection from {who} on {listener}: {why}");
            None
        }
    }
}

async fn accept_seqpacket(fd: &AsyncFd<socket2::Socket>) -> io::Result<socket2::Socket> {
    loop {
        let mut guard = fd.readable().await?;
        if let Ok(result) = guard.try_io(|fd| fd.get_ref().accept().map(|(s, _)| s)) {
            return result;
        }
    }
}

/// Receives the next datagram from an admitted peer.
async fn receive_admitted(
    socket: &MessageSocket,
    filter: &PeerFilter,
) -> Result<Received, OpenError> {
    let mut buf = vec![0; crate::channel::MIN_MESSAGE_BUFFER];
    let (n, peer, credentials) =
        std::future::poll_fn(|cx| socket.poll_recv_admitted(cx, &mut buf, filter))
            .await
            .map_err(OpenError::io("receiving a datagram"))?;
    tracing::info!("receiving datagram from {}", describe_sockaddr(&peer));
    Ok(Received {
        first: buf[..n].to_vec(),
        peer,
        credentials,
    })
}

/// The first datagram of a peer, who sent it, and the credentials it came with.
struct Received {
    first: Vec<u8>,
    peer: SockAddr,
    credentials: Option<PeerCredentials>,
}
