//! Unix domain sockets on filesystem paths and in Linux's abstract namespace: stream
//! (tokio's types), seqpacket and datagram (message channels over [`MessageSocket`]).
//!
//! `socktype` picks the type for the connecting and listening forms: 1 stream (default),
//! 5 seqpacket (message boundaries kept, EOF carried), 2 datagram (connect form only).

mod address_types;
pub mod ancillary;
pub mod credentials;
pub mod fdpass;
pub mod path;
pub mod socket;

use std::sync::Arc;

use socket2::{Socket, Type};
use tokio::net::{UnixListener, UnixStream};

use super::datagrams::DatagramPeers;
use super::listener::{Accept, AcceptError, AcceptFuture, Accepting, Admit, Listener, Peer};
use super::setsockopt::WhenConnected;
use super::socket::{MessageSocket, PeerFilter, ReceiveMode, Receiver, ReplyTo, Sender};
use super::stream::stream_connection;
use crate::address::{Options, UnixName, UnixRole};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Connection, OpenContext};
use crate::endpoint::error::OpenError;
use crate::endpoint::opened::Opened;
use crate::sys;
pub use address_types::{check, UnixSpec, FAMILY};
use credentials::CredentialFilter;
pub(crate) use socket::{
    bind, bind_client, connect_socket, listening_socket, new_socket, seqpacket_connection,
    socket_type, type_label,
};
pub use socket::{display_name, sockaddr};

/// Opens a Unix domain address of `role` at `name`.
pub async fn open(role: UnixRole, name: &UnixName, options: &Options) -> Result<Opened, OpenError> {
    let shown = display_name(name);
    check(role, name, options).map_err(super::combinations::refused)?;
    Ok(match role {
        UnixRole::Connect => {
            Opened::Connection(connect(name, socket_type(options), options).await?)
        }
        UnixRole::Client => Opened::Connection(client(name, options).await?),
        UnixRole::Listen => Opened::Listener(listen(name, options)?),
        UnixRole::RecvFd => Opened::Listener(fdpass::listen(name, options)?),
        UnixRole::SendFd => {
            return Err(OpenError::Refused(format!(
                "UNIX-SENDFD:{shown} hands over the first address's connection, so it can only be the second address of a relay (expected e.g. TCP-LISTEN:80,fork UNIX-SENDFD:{shown})"
            )))
        }
        UnixRole::Sendto => {
            let socket = new_socket(Type::DGRAM, options)?;
            let guard = bind_client(&socket, name, options)?;
            connected_options(&socket, options, &shown)?;
            let target = sockaddr(name).map_err(OpenError::io(format!("naming {shown}")))?;
            let socket = Arc::new(
                MessageSocket::new(socket).map_err(OpenError::io("registering a socket"))?,
            );
            let mut connection = Connection::new(
                Some(Reader::Messages(Box::new(Receiver {
                    socket: socket.clone(),
                    mode: ReceiveMode::From {
                        filter: PeerFilter::default(),
                        latest: None,
                    },
                }))),
                Some(Writer::Messages(Box::new(Sender {
                    socket,
                    to: Some(ReplyTo::Fixed(target)),
                    shutdown_on_close: false,
                }))),
                format!("UNIX-SENDTO {shown}"),
            );
            if let Some(guard) = guard {
                connection.keep_alive(guard);
            }
            Opened::Connection(connection)
        }
        UnixRole::Recvfrom | UnixRole::Recv => {
            let credentials = CredentialFilter::from_options(options)?;
            let socket = new_socket(Type::DGRAM, options)?;
            // UNIX-RECVFROM always learns who each peer is, for the program it may start;
            // UNIX-RECV only when it must check.
            let filter = (role == UnixRole::Recvfrom || !credentials.is_empty())
                .then(|| PeerFilter::for_unix(credentials));
            if filter.is_some() {
                ancillary::set_pass_credentials(&socket, true)
                    .map_err(OpenError::io("setting SO_PASSCRED"))?;
            }
            let filter = filter.unwrap_or_default();
            let guard = bind(&socket, name, options)?;
            connected_options(&socket, options, &shown)?;
            let socket = Arc::new(
                MessageSocket::new(socket).map_err(OpenError::io("registering a socket"))?,
            );
            tracing::info!("receiving on {shown}");
            if role == UnixRole::Recv {
                let mut connection = Connection::new(
                    Some(Reader::Messages(Box::new(Receiver {
                        socket,
                        mode: ReceiveMode::From {
                            filter,
                            latest: None,
                        },
                    }))),
                    None,
                    format!("UNIX-RECV {shown}"),
                );
                if let Some(guard) = guard {
                    connection.keep_alive(guard);
                }
                Opened::Connection(connection)
            } else {
                Opened::Listener(
                    Listener::new(
                        DatagramPeers::new(socket, filter),
                        format!("UNIX-RECVFROM {shown}"),
                        options,
                    )
                    .with_guard(guard),
                )
            }
        }
    })
}

/// Sets the connected phase's numbered options (`setsockopt=`) on a datagram socket that
/// connects to nobody, once it is bound.
fn connected_options(socket: &Socket, options: &Options, shown: &str) -> Result<(), OpenError> {
    super::setsockopt::apply(socket, options, super::setsockopt::Phase::Connected)
        .map_err(OpenError::io(format!("binding to {shown}")))
}

async fn connect(name: &UnixName, ty: Type, options: &Options) -> Result<Connection, OpenError> {
    let shown = display_name(name);
    let action = format!("connecting to {shown}");
    let (socket, guard) = connect_socket(name, ty, options).await?;
    let description = format!("{} {shown}", type_label(ty));
    let mut connection = if ty == Type::STREAM {
        let stream = UnixStream::from_std(std::os::unix::net::UnixStream::from(
            std::os::fd::OwnedFd::from(socket),
        ))
        .map_err(OpenError::io(action))?;
        stream_connection(stream, description)
    } else if ty == Type::SEQPACKET {
        seqpacket_connection(socket, description).map_err(OpenError::io(action))?
    } else {
        let socket = Arc::new(MessageSocket::new(socket).map_err(OpenError::io(action))?);
        super::socket::connected_messages(socket.clone(), socket, false, description)
    };
    if let Some(guard) = guard {
        connection.keep_alive(guard);
    }
    Ok(connection)
}

/// UNIX-CLIENT: whatever type the peer socket is.
async fn client(name: &UnixName, options: &Options) -> Result<Connection, OpenError> {
    if options.socktype().is_some() {
        return connect(name, socket_type(options), options).await;
    }
    // A socket of another type says EPROTOTYPE; in the abstract namespace it says
    // ECONNREFUSED, as a name nobody has does.
    let other_type = |errno| {
        errno == Some(nix::libc::EPROTOTYPE)
            || (matches!(name, UnixName::Abstract(_)) && errno == Some(nix::libc::ECONNREFUSED))
    };
    let mut last = None;
    for ty in [Type::STREAM, Type::SEQPACKET, Type::DGRAM] {
        match connect(name, ty, options).await {
            Ok(connection) => return Ok(connection),
            Err(e) if other_type(e.os_error().and_then(std::io::Error::raw_os_error)) => {
                last = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        OpenError::Refused(format!("no socket type fits {}", display_name(name)))
    }))
}

fn listen(name: &UnixName, options: &Options) -> Result<Listener, OpenError> {
    let shown = display_name(name);
    let filter = CredentialFilter::from_options(options)?;
    let (socket, ty, guard) = listening_socket(name, options, "UNIX-LISTEN")?;
    let description = format!("{} {shown}", type_label(ty));
    Ok(accepting(socket, ty, description, options)?
        .admitting(filter)
        .with_guard(guard))
}

/// A listener over the listening Unix `socket` of type `ty` (stream or seqpacket).
pub(crate) fn accepting(
    socket: Socket,
    ty: Type,
    description: String,
    options: &Options,
) -> Result<Listener, OpenError> {
    let register = OpenError::io("registering the listener");
    let connected = WhenConnected::from_options(options);
    Ok(if ty == Type::SEQPACKET {
        Listener::new(
            SeqpacketAccept {
                fd: sys::register(socket).map_err(register)?,
                connected,
            },
            description,
            options,
        )
    } else {
        let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(
            std::os::fd::OwnedFd::from(socket),
        ))
        .map_err(register)?;
        Listener::new(
            StreamAccept {
                listener,
                connected,
            },
            description,
            options,
        )
    })
}

/// Whether the Unix peer on `socket` may come in: its credentials (if the kernel gave them)
/// when it may, `None` (logged) when it is refused and is to be closed unread.
pub(crate) fn admit(
    socket: &impl std::os::fd::AsFd,
    on: Accepting<'_>,
) -> Option<Option<ancillary::PeerCredentials>> {
    let credentials = ancillary::peer_credentials(socket).ok();
    let peer = Peer::Unix(credentials);
    if !on.admission.admit(&peer, on.listener) {
        return None;
    }
    tracing::info!("accepting connection from {peer} on {}", on.listener);
    Some(credentials)
}

/// The socket files of an accepted Unix connection as a program learns them from its
/// environment, as socat names them: `SOCAT_SOCKADDR` the listener's path, `SOCAT_PEERADDR`
/// the peer's (when it bound one), and their `SOCKETRY_` twins. Abstract and unnamed
/// sockets have no path and set nothing.
pub(crate) fn path_environment(socket: &impl std::os::fd::AsFd) -> Vec<(String, String)> {
    let socket = socket2::SockRef::from(socket);
    let mut environment = Vec::new();
    for (name, addr) in [
        ("SOCKADDR", socket.local_addr()),
        ("PEERADDR", socket.peer_addr()),
    ] {
        let Some(path) = addr
            .ok()
            .and_then(|a| a.as_pathname().map(|p| p.to_owned()))
        else {
            continue;
        };
        let path = path.to_string_lossy().into_owned();
        environment.push((format!("SOCAT_{name}"), path.clone()));
        environment.push((format!("SOCKETRY_{name}"), path));
    }
    environment
}

/// UNIX-LISTEN's accepting, for stream sockets.
#[derive(Debug)]
struct StreamAccept {
    listener: UnixListener,
    /// The numbered options set on each accepted connection (`setsockopt=`).
    connected: WhenConnected,
}

impl Accept for StreamAccept {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(AcceptError::Accept)?;
                let Some(credentials) = admit(&stream, on) else {
                    continue;
                };
                let environment = path_environment(&stream);
                self.connected
                    .apply(&stream)
                    .map_err(OpenError::io(format!("accepting on {}", on.listener)))?;
                let mut connection = stream_connection(stream, on.listener.to_owned());
                connection.peer_credentials = credentials;
                connection.environment.extend(environment);
                return Ok(connection);
            }
        })
    }
}

/// UNIX-LISTEN's accepting, for seqpacket sockets (`socktype=5`).
#[derive(Debug)]
struct SeqpacketAccept {
    fd: tokio::io::unix::AsyncFd<Socket>,
    /// The numbered options set on each accepted connection (`setsockopt=`).
    connected: WhenConnected,
}

impl Accept for SeqpacketAccept {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let socket = sys::ready::read(&self.fd, |s| s.accept().map(|(s, _)| s))
                    .await
                    .map_err(AcceptError::Accept)?;
                let Some(credentials) = admit(&socket, on) else {
                    continue;
                };
                let environment = path_environment(&socket);
                self.connected
                    .apply(&socket)
                    .map_err(OpenError::io(format!("accepting on {}", on.listener)))?;
                let mut connection = seqpacket_connection(socket, on.listener.to_owned())
                    .map_err(AcceptError::Accept)?;
                connection.peer_credentials = credentials;
                connection.environment.extend(environment);
                return Ok(connection);
            }
        })
    }
}

/// `peer-uid`, `peer-gid` and `peer-pid`, for Unix peers.
impl Admit for CredentialFilter {
    fn refusal(&self, peer: &Peer) -> Option<String> {
        match peer {
            Peer::Unix(credentials) => CredentialFilter::refusal(self, credentials.as_ref()),
            Peer::Internet(_) => None,
        }
    }
}

crate::channel::splittable_stream!(UnixStream, tokio::net::unix);

impl UnixSpec {
    /// Opens the socket for its role.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(self.role, &self.name, options).await
    }
}
