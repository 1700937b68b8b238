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

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::{UnixListener, UnixStream};

use super::listener::{Listener, ListenerKind};
use super::socket::{
    apply_common_options, MessageSocket, PeerFilter, ReceiveMode, Receiver, ReplyTo, Sender,
};
use crate::address::{BindAddr, OptionId, Options, UnixName, UnixRole};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Connection, Opened};
use crate::endpoint::error::OpenError;
use crate::sys;
pub use address_types::{UnixSpec, FAMILY};
use credentials::CredentialFilter;
use path::PathGuard;

/// The `sockaddr_un` for a name.
pub fn sockaddr(name: &UnixName) -> std::io::Result<SockAddr> {
    match name {
        UnixName::Path(path) => SockAddr::unix(path),
        UnixName::Abstract(text) => {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(text.as_bytes());
            SockAddr::unix(OsStr::from_bytes(&bytes))
        }
    }
}

/// How a name is written in logs: the path, or `@name` for the abstract namespace.
pub fn display_name(name: &UnixName) -> String {
    match name {
        UnixName::Path(_) => name.text(),
        UnixName::Abstract(a) => format!("@{a}"),
    }
}

pub(crate) fn socket_type(options: &Options) -> Type {
    match options.socktype() {
        Some(5) => Type::SEQPACKET,
        Some(2) => Type::DGRAM,
        _ => Type::STREAM,
    }
}

fn new_socket(ty: Type, options: &Options) -> Result<Socket, OpenError> {
    let socket =
        Socket::new(Domain::UNIX, ty, None).map_err(OpenError::io("creating a Unix socket"))?;
    apply_common_options(&socket, options).map_err(OpenError::io("setting socket options"))?;
    Ok(socket)
}

/// Binds `socket` to `name`, applying the socket-file rules to paths.
fn bind(
    socket: &Socket,
    name: &UnixName,
    options: &Options,
) -> Result<Option<PathGuard>, OpenError> {
    let shown = display_name(name);
    let addr = sockaddr(name).map_err(OpenError::io(format!("naming {shown}")))?;
    let UnixName::Path(path) = name else {
        socket
            .bind(&addr)
            .map_err(OpenError::io(format!("binding to {shown}")))?;
        return Ok(None);
    };
    let mode = options.mode();
    if let Some(mode) = mode.filter(|m| m & !0o777 != 0) {
        return Err(OpenError::Refused(format!(
            "mode={mode:o} on the Unix socket {shown}: a socket file takes permission bits only (expected a mode from 0 to 777)"
        )));
    }
    path::prepare(path, options.flag(OptionId::UnlinkEarly, false))?;
    match mode {
        Some(mode) => sys::socket::bind_with_mode(socket, &addr, mode),
        None => socket.bind(&addr),
    }
    .map_err(OpenError::io(format!("binding to {shown}")))?;
    Ok(Some(PathGuard::bound(
        path,
        mode,
        options.flag(OptionId::UnlinkClose, true),
    )?))
}

/// Binds to `bind=` if given, else to a kernel-chosen abstract name so datagram peers can reply.
fn bind_client(socket: &Socket, options: &Options) -> Result<Option<PathGuard>, OpenError> {
    match options.bind() {
        Some(BindAddr::Unix(name)) => bind(socket, name, options),
        _ => {
            sys::socket::autobind(socket)
                .map_err(OpenError::io("binding to an automatic abstract name"))?;
            Ok(None)
        }
    }
}

/// Refuses options that cannot work on a Unix address of this role: `bind` on a server,
/// whose own name is its address, and `socktype=2` on one that listens or hands over
/// connections, which a datagram socket has none of.
pub fn check(
    role: UnixRole,
    name: &UnixName,
    options: &Options,
) -> Result<(), crate::address::ParseErrorKind> {
    use super::combinations::conflict;
    let shown = display_name(name);
    let server = match role {
        UnixRole::Listen => Some("UNIX-LISTEN"),
        UnixRole::Recvfrom => Some("UNIX-RECVFROM"),
        UnixRole::Recv => Some("UNIX-RECV"),
        UnixRole::RecvFd => Some("UNIX-RECVFD"),
        _ => None,
    };
    if let Some(type_name) = server.filter(|_| options.bind().is_some()) {
        return Err(conflict(
            OptionId::Bind,
            type_name,
            format!(
                "bind does not apply to a Unix server socket: {shown} is its own address (expected no bind option)"
            ),
        ));
    }
    if socket_type(options) == Type::DGRAM {
        let (type_name, message) = match role {
            UnixRole::Listen => ("UNIX-LISTEN", datagrams_cannot_listen("UNIX-LISTEN", &shown)),
            UnixRole::RecvFd => (
                "UNIX-RECVFD",
                datagrams_cannot_listen("UNIX-RECVFD-LISTEN", &shown),
            ),
            UnixRole::SendFd => (
                "UNIX-SENDFD",
                format!(
                    "UNIX-SENDFD:{shown}: socktype=2 cannot hand over connections (expected socktype=1 or 5)"
                ),
            ),
            _ => return Ok(()),
        };
        return Err(conflict(OptionId::SockType, type_name, message));
    }
    Ok(())
}

fn datagrams_cannot_listen(type_name: &str, shown: &str) -> String {
    format!(
        "{type_name} on {shown}: socktype=2 (datagram) cannot listen (expected socktype=1 or 5; use UNIX-RECVFROM for datagrams)"
    )
}

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
            let guard = bind_client(&socket, options)?;
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
                let listener = Listener::new(
                    ListenerKind::Datagrams { socket, filter },
                    format!("UNIX-RECVFROM {shown}"),
                    options,
                );
                Opened::Listener(match guard {
                    Some(guard) => listener.with_guard(guard),
                    None => listener,
                })
            }
        }
    })
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

/// A socket of type `ty` connected to `name` (bound first to `bind=`, or for datagrams to an
/// automatic name), within `connect-timeout`; the guard removes a bound socket file.
pub(crate) async fn connect_socket(
    name: &UnixName,
    ty: Type,
    options: &Options,
) -> Result<(Socket, Option<PathGuard>), OpenError> {
    let shown = display_name(name);
    let action = format!("connecting to {shown}");
    let socket = new_socket(ty, options)?;
    let guard = match options.bind() {
        Some(BindAddr::Unix(local)) => bind(&socket, local, options)?,
        _ if ty == Type::DGRAM => bind_client(&socket, options)?,
        _ => None,
    };
    let addr = sockaddr(name).map_err(OpenError::io(action.clone()))?;
    let connecting = async {
        socket.set_nonblocking(true)?;
        match socket.connect(&addr) {
            Ok(()) => {}
            Err(e)
                if e.raw_os_error() == Some(nix::libc::EINPROGRESS)
                    || e.raw_os_error() == Some(nix::libc::EAGAIN) =>
            {
                let fd = crate::sys::register(socket.try_clone()?)?;
                let _ = fd.writable().await?;
                if let Some(e) = socket.take_error()? {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        Ok(())
    };
    crate::endpoint::error::within(
        options.seconds(OptionId::ConnectTimeout),
        &action,
        connecting,
    )
    .await?;
    tracing::info!("successfully connected to {shown}");
    Ok((socket, guard))
}

pub(crate) fn type_label(ty: Type) -> &'static str {
    if ty == Type::SEQPACKET {
        "UNIX seqpacket"
    } else if ty == Type::DGRAM {
        "UNIX datagram"
    } else {
        "UNIX stream"
    }
}

/// UNIX-CLIENT: whatever type the peer socket is.
async fn client(name: &UnixName, options: &Options) -> Result<Connection, OpenError> {
    if options.socktype().is_some() {
        return connect(name, socket_type(options), options).await;
    }
    let mut last = None;
    for ty in [Type::STREAM, Type::SEQPACKET, Type::DGRAM] {
        match connect(name, ty, options).await {
            Ok(connection) => return Ok(connection),
            Err(e)
                if e.os_error().and_then(|e| e.raw_os_error()) == Some(nix::libc::EPROTOTYPE) =>
            {
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
    let kind = if ty == Type::SEQPACKET {
        ListenerKind::Seqpacket {
            fd: crate::sys::register(socket).map_err(OpenError::io("registering the listener"))?,
            filter,
        }
    } else {
        let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(
            std::os::fd::OwnedFd::from(socket),
        ))
        .map_err(OpenError::io("registering the listener"))?;
        ListenerKind::UnixStream { listener, filter }
    };
    let listener = Listener::new(kind, format!("{} {shown}", type_label(ty)), options);
    Ok(match guard {
        Some(guard) => listener.with_guard(guard),
        None => listener,
    })
}

/// A non-blocking stream (or, with `socktype=5`, seqpacket) socket bound to `name` and
/// listening, with the guard of its socket file.
pub(crate) fn listening_socket(
    name: &UnixName,
    options: &Options,
    type_name: &str,
) -> Result<(Socket, Type, Option<PathGuard>), OpenError> {
    let shown = display_name(name);
    let ty = socket_type(options);
    if ty == Type::DGRAM {
        return Err(OpenError::Refused(datagrams_cannot_listen(
            type_name, &shown,
        )));
    }
    let socket = new_socket(ty, options)?;
    let guard = bind(&socket, name, options)?;
    let backlog = options
        .count(OptionId::Backlog)
        .map_or(super::tcp::DEFAULT_BACKLOG, |b| {
            u32::try_from(b).unwrap_or(u32::MAX)
        });
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(OpenError::io(format!("listening on {shown}")))?;
    socket
        .set_nonblocking(true)
        .map_err(OpenError::io("setting O_NONBLOCK"))?;
    tracing::info!("listening on {shown}");
    Ok((socket, ty, guard))
}

crate::channel::splittable_stream!(UnixStream, tokio::net::unix);

pub(crate) fn stream_connection(stream: UnixStream, description: String) -> Connection {
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let (read, write) = stream.into_split();
    let (handover, write) = fdpass::Handover::for_stream(fd, write);
    let connection = Connection::new(
        Some(Reader::Bytes(Box::new(read))),
        Some(Writer::Bytes(Box::new(write))),
        description,
    );
    Connection {
        report_on_demand: true,
        handover: Some(handover),
        ..connection
    }
}

pub(crate) fn seqpacket_connection(
    socket: Socket,
    description: String,
) -> std::io::Result<Connection> {
    let socket_report = Some(super::socket::report(socket2::SockRef::from(&socket)));
    let handover = Some(fdpass::Handover::for_socket(
        std::os::fd::AsRawFd::as_raw_fd(&socket),
    ));
    let socket = Arc::new(MessageSocket::new(socket)?);
    let connection = super::socket::connected_messages(socket.clone(), socket, true, description);
    Ok(Connection {
        socket_report,
        handover,
        ..connection
    })
}
