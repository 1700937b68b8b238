//! Unix sockets themselves, below the addresses that use them (UNIX-*, the descriptor
//! passing of UNIX-RECVFD-LISTEN and UNIX-SENDFD, shared memory's rendezvous): names, the
//! socket type `socktype` picks, binding under the socket-file rules, connecting within
//! `connect-timeout`, listening, and seqpacket connections.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket, Type};

use super::path;
use crate::address::{BindAddr, Namespace, OptionId, Options, UnixName};
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
    let mode = file_mode(options, &shown)?;
    path::prepare(path, options.flag(OptionId::UnlinkEarly, false))?;
    bind_file(socket, &addr, path, &shown, mode, options).map(Some)
}

/// The permission bits a socket file gets: `mode=`, or without it the bits bind(2) would
/// give under `umask=`; `None` for the process's umask.
fn file_mode(options: &Options, shown: &str) -> Result<Option<u32>, OpenError> {
    let mode = options
        .mode()
        .or_else(|| options.umask().map(|mask| 0o777 & !mask));
    if let Some(mode) = mode.filter(|m| m & !0o777 != 0) {
        return Err(OpenError::Refused(format!(
            "mode={mode:o} on the Unix socket {shown}: a socket file takes permission bits only (expected a mode from 0 to 777)"
        )));
    }
    Ok(mode)
}

/// Binds `socket` to `addr`, the file `path`, with `mode` and the owner the options give;
/// the guard removes the file on close unless `unlink-close=0`.
fn bind_file(
    socket: &Socket,
    addr: &SockAddr,
    path: &std::path::Path,
    shown: &str,
    mode: Option<u32>,
    options: &Options,
) -> Result<FileGuard, OpenError> {
    match mode {
        Some(mode) => sys::socket::bind_with_mode(socket, addr, mode),
        None => socket.bind(addr),
    }
    .map_err(OpenError::io(format!("binding to {shown}")))?;
    // Removes the file if what follows fails.
    let guard = path::bound(path, mode, options.flag(OptionId::UnlinkClose, true))?;
    if let Some((uid, gid)) = options.owner() {
        sys::fd::chown_path(path, uid, gid)
            .map_err(OpenError::io(format!("changing the owner of {shown}")))?;
    }
    Ok(guard)
}

/// The pattern `bind-tempname` fills when it is given none.
pub const DEFAULT_TEMPNAME: &str = "/tmp/socketry-bind.XXXXXX";

/// How many names `bind-tempname` tries before it gives up: each is one of 62^6.
const TEMPNAME_TRIES: usize = 100;

/// Binds `socket` to a new name: `pattern` (or [`DEFAULT_TEMPNAME`]) with its first
/// `XXXXXX` replaced by random letters and digits, in `namespace`, trying another name while
/// the one drawn is taken. Nothing in the way is removed: a file there only means another
/// name. The guard removes the socket file on close.
pub(crate) fn bind_tempname(
    socket: &Socket,
    pattern: Option<&str>,
    namespace: Namespace,
    options: &Options,
) -> Result<Option<FileGuard>, OpenError> {
    let pattern = pattern.unwrap_or(DEFAULT_TEMPNAME);
    let refused = |why: &str| {
        OpenError::Refused(format!(
            "bind-tempname={pattern}: {why} (expected a pattern containing XXXXXX that fits a Unix socket name)"
        ))
    };
    for _ in 0..TEMPNAME_TRIES {
        let candidate = fill_pattern(pattern).ok_or_else(|| refused("no XXXXXX to replace"))?;
        let name = match namespace {
            Namespace::Path => UnixName::path(&candidate),
            Namespace::Abstract => UnixName::abstract_name(&candidate),
        }
        .map_err(|_| refused("the name is too long"))?;
        let shown = display_name(&name);
        let addr = sockaddr(&name).map_err(OpenError::io(format!("naming {shown}")))?;
        let bound = match &name {
            UnixName::Path(path) => file_mode(options, &shown)
                .and_then(|mode| bind_file(socket, &addr, path, &shown, mode, options))
                .map(Some),
            UnixName::Abstract(_) => socket
                .bind(&addr)
                .map(|()| None)
                .map_err(OpenError::io(format!("binding to {shown}"))),
        };
        match bound {
            Err(e)
                if e.os_error().map(std::io::Error::kind)
                    == Some(std::io::ErrorKind::AddrInUse) =>
            {
                tracing::debug!("{shown} is taken; drawing another name");
            }
            Ok(guard) => {
                tracing::info!("bound to {shown} (bind-tempname)");
                return Ok(guard);
            }
            Err(e) => return Err(e),
        }
    }
    Err(refused(&format!(
        "every one of {TEMPNAME_TRIES} names drawn is taken"
    )))
}

/// `pattern` with its first `XXXXXX` replaced by six random letters and digits.
fn fill_pattern(pattern: &str) -> Option<String> {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let at = pattern.find("XXXXXX")?;
    let mut random = random_u64();
    let filled: String = (0..6)
        .map(|_| {
            let i = usize::try_from(random % CHARS.len() as u64).unwrap_or(0);
            random /= CHARS.len() as u64;
            char::from(CHARS[i])
        })
        .collect();
    Some(format!("{}{filled}{}", &pattern[..at], &pattern[at + 6..]))
}

/// A random number for a name: the standard library's randomly keyed hasher over a counter
/// and the time, different at every call. Not a secret: a taken name only means another try.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    hasher.finish()
}

/// Binds a client socket to what its options choose: `bind=`, or a name `bind-tempname`
/// draws in the namespace of `peer`. `None` when they choose nothing.
fn bind_chosen(
    socket: &Socket,
    peer: &UnixName,
    options: &Options,
) -> Result<Option<Option<FileGuard>>, OpenError> {
    if let Some(BindAddr::Unix(name)) = options.bind() {
        return bind(socket, name, options).map(Some);
    }
    let namespace = match peer {
        UnixName::Path(_) => Namespace::Path,
        UnixName::Abstract(_) => Namespace::Abstract,
    };
    options
        .name_pattern(OptionId::BindTempname)
        .map(|pattern| bind_tempname(socket, pattern, namespace, options))
        .transpose()
}

/// Binds a datagram client that sends to `peer` to `bind=` or a `bind-tempname` name if
/// given, else to a kernel-chosen abstract name, so that its peers can reply.
pub(crate) fn bind_client(
    socket: &Socket,
    peer: &UnixName,
    options: &Options,
) -> Result<Option<FileGuard>, OpenError> {
    match bind_chosen(socket, peer, options)? {
        Some(guard) => Ok(guard),
        None => {
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
    let guard = if ty == Type::DGRAM {
        bind_client(&socket, name, options)?
    } else {
        bind_chosen(&socket, name, options)?.flatten()
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
    crate::endpoint::setsockopt::apply(
        &socket,
        options,
        crate::endpoint::setsockopt::Phase::Connected,
    )
    .map_err(OpenError::io(action))?;
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
    crate::endpoint::listener::listen(&socket, options, &shown)?;
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
