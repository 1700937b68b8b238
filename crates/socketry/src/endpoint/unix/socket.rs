//! Unix sockets themselves, below the addresses that use them (UNIX-*, the descriptor
//! passing of UNIX-RECVFD-LISTEN and UNIX-SENDFD, shared memory's rendezvous): names, the
//! socket type `socktype` picks, binding under the socket-file rules, connecting within
//! `connect-timeout`, listening, and seqpacket connections.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::path;
use crate::address::{BindAddr, OptionId, Options, UnixName};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::endpoint::guard::FileGuard;
use crate::endpoint::handover::Handover;
use crate::endpoint::report::report;
use crate::endpoint::socket::{apply_common_options, connected_messages, MessageSocket};
use crate::sys;

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

pub(crate) fn new_socket(ty: Type, options: &Options) -> Result<Socket, OpenError> {
    let socket =
        Socket::new(Domain::UNIX, ty, None).map_err(OpenError::io("creating a Unix socket"))?;
    apply_common_options(&socket, options).map_err(OpenError::io("setting socket options"))?;
    Ok(socket)
}

/// Binds `socket` to `name`, applying the socket-file rules to paths.
pub(crate) fn bind(
    socket: &Socket,
    name: &UnixName,
    options: &Options,
) -> Result<Option<FileGuard>, OpenError> {
    let shown = display_name(name);
    let addr = sockaddr(name).map_err(OpenError::io(format!("naming {shown}")))?;
    let UnixName::Path(path) = name else {
        socket
            .bind(&addr)
            .map_err(OpenError::io(format!("binding to {shown}")))?;
        return Ok(None);
    };
    // Without mode=, a umask= gives the bits bind(2) would under it.
    let mode = options
        .mode()
        .or_else(|| options.umask().map(|mask| 0o777 & !mask));
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
    if let Some((uid, gid)) = options.owner() {
        sys::fd::chown_path(path, uid, gid)
            .map_err(OpenError::io(format!("changing the owner of {shown}")))?;
    }
    Ok(Some(path::bound(
        path,
        mode,
        options.flag(OptionId::UnlinkClose, true),
    )?))
}

/// Binds to `bind=` if given, else to a kernel-chosen abstract name so datagram peers can reply.
pub(crate) fn bind_client(
    socket: &Socket,
    options: &Options,
) -> Result<Option<FileGuard>, OpenError> {
    match options.bind() {
        Some(BindAddr::Unix(name)) => bind(socket, name, options),
        _ => {
            sys::socket::autobind(socket)
                .map_err(OpenError::io("binding to an automatic abstract name"))?;
            Ok(None)
        }
    }
}

/// A socket of type `ty` connected to `name` (bound first to `bind=`, or for datagrams to an
/// automatic name), within `connect-timeout`; the guard removes a bound socket file.
pub(crate) async fn connect_socket(
    name: &UnixName,
    ty: Type,
    options: &Options,
) -> Result<(Socket, Option<FileGuard>), OpenError> {
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

/// A non-blocking stream (or, with `socktype=5`, seqpacket) socket bound to `name` and
/// listening, with the guard of its socket file.
pub(crate) fn listening_socket(
    name: &UnixName,
    options: &Options,
    type_name: &str,
) -> Result<(Socket, Type, Option<FileGuard>), OpenError> {
    let shown = display_name(name);
    let ty = socket_type(options);
    if ty == Type::DGRAM {
        return Err(OpenError::Refused(format!(
            "{type_name} on {shown}: socktype=2 (datagram) cannot listen (expected socktype=1 or 5; use UNIX-RECVFROM for datagrams)"
        )));
    }
    let socket = new_socket(ty, options)?;
    let guard = bind(&socket, name, options)?;
    let backlog = options
        .count(OptionId::Backlog)
        .map_or(crate::endpoint::listener::DEFAULT_BACKLOG, |b| {
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

/// A connected seqpacket socket as a connection of messages, which can be handed over.
pub(crate) fn seqpacket_connection(
    socket: Socket,
    description: String,
) -> std::io::Result<Connection> {
    let socket_report = Some(report(socket2::SockRef::from(&socket)));
    let handover = Some(Handover::for_socket(std::os::fd::AsRawFd::as_raw_fd(
        &socket,
    )));
    let socket = Arc::new(MessageSocket::new(socket)?);
    let connection = connected_messages(socket.clone(), socket, true, description);
    Ok(Connection {
        socket_report,
        handover,
        ..connection
    })
}
