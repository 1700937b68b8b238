//! Listening sockets socketry inherits instead of opening: `ACCEPT-FD:n` (descriptor `n`, as
//! an inetd-style supervisor or a shell leaves it) and `SYSTEMD-LISTEN` (systemd's socket
//! activation: descriptors from 3 on, counted by `LISTEN_FDS`, named by `LISTEN_FDNAMES`,
//! and meant for us only when `LISTEN_PID` is our process id).
//!
//! The socket may be TCP (then `range` applies) or Unix stream or seqpacket (then `peer-uid`
//! and its kin apply); socketry serves it as TCP-LISTEN or UNIX-LISTEN would, through a
//! close-on-exec duplicate, and never removes a Unix socket's file, which is not its own.

use std::os::fd::OwnedFd;

use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;

use super::listener::Listener;
use super::socket::PeerFilter;
use super::tcp::TcpAccept;
use super::unix::credentials::CredentialFilter;
use crate::address::{ActivatedSocket, OptionId, Options};
use crate::endpoint::error::OpenError;
use crate::sys;

/// The first descriptor systemd passes.
const SD_LISTEN_FDS_START: i32 = 3;

/// Serves the listening socket inherited as descriptor `fd`.
pub fn accept_fd(fd: i32, options: &Options) -> Result<Listener, OpenError> {
    let owned = sys::fd::duplicate(fd).map_err(OpenError::io(format!("taking descriptor {fd}")))?;
    listener_from(owned, &format!("descriptor {fd}"), options)
}

/// Serves a socket passed by systemd's socket activation.
pub fn systemd_listen(which: &ActivatedSocket, options: &Options) -> Result<Listener, OpenError> {
    let var = |name: &str| std::env::var(name).ok();
    let fd = activated_descriptor(
        which,
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        var("LISTEN_FDNAMES").as_deref(),
        std::process::id(),
    )?;
    let owned = sys::fd::duplicate(fd).map_err(OpenError::io(format!(
        "taking descriptor {fd} from socket activation"
    )))?;
    listener_from(
        owned,
        &format!("descriptor {fd} from socket activation"),
        options,
    )
}

/// Which descriptor `which` names, from the activation variables, checked as
/// `sd_listen_fds(3)` does.
fn activated_descriptor(
    which: &ActivatedSocket,
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    listen_fdnames: Option<&str>,
    our_pid: u32,
) -> Result<i32, OpenError> {
    let (Some(pid), Some(count)) = (listen_pid, listen_fds) else {
        return Err(OpenError::Refused(
            "SYSTEMD-LISTEN: LISTEN_PID and LISTEN_FDS are not set: socketry was not started by socket activation (expected a systemd .socket unit, or ACCEPT-FD:n for another supervisor)"
                .to_owned(),
        ));
    };
    if pid.trim().parse::<u32>().ok() != Some(our_pid) {
        return Err(OpenError::Refused(format!(
            "SYSTEMD-LISTEN: LISTEN_PID is {pid}, not our process id {our_pid}: the sockets were meant for another process"
        )));
    }
    let count = count.trim().parse::<u32>().map_err(|_| {
        OpenError::Refused(format!(
            "SYSTEMD-LISTEN: LISTEN_FDS is \"{count}\" (expected a number of descriptors)"
        ))
    })?;
    let index = match which {
        ActivatedSocket::Index(index) => *index,
        ActivatedSocket::Name(name) => {
            let names = listen_fdnames.unwrap_or_default();
            let found = names.split(':').position(|n| n == name);
            let found = found.and_then(|i| u32::try_from(i).ok());
            found.ok_or_else(|| {
                OpenError::Refused(format!(
                    "SYSTEMD-LISTEN: no socket named \"{name}\" in LISTEN_FDNAMES \"{names}\""
                ))
            })?
        }
    };
    if index >= count {
        return Err(OpenError::Refused(format!(
            "SYSTEMD-LISTEN: socket {index} asked for, but LISTEN_FDS is {count} (expected an index below it)"
        )));
    }
    i32::try_from(index)
        .ok()
        .and_then(|i| i.checked_add(SD_LISTEN_FDS_START))
        .ok_or_else(|| {
            OpenError::Refused(format!("SYSTEMD-LISTEN: socket {index} is out of range"))
        })
}

fn has_credential_options(options: &Options) -> bool {
    [OptionId::PeerUid, OptionId::PeerGid, OptionId::PeerPid]
        .into_iter()
        .any(|id| options.has(id))
}

/// A listener over an inherited listening socket.
fn listener_from(owned: OwnedFd, what: &str, options: &Options) -> Result<Listener, OpenError> {
    let socket = Socket::from(owned);
    let (domain, ty) = match (socket.domain(), socket.r#type()) {
        (Ok(domain), Ok(ty)) => (domain, ty),
        (Err(e), _) | (_, Err(e)) if e.raw_os_error() == Some(nix::libc::ENOTSOCK) => {
            return Err(OpenError::Refused(format!(
                "{what} is not a socket (expected a listening TCP or Unix socket)"
            )))
        }
        (Err(source), _) | (_, Err(source)) => {
            return Err(OpenError::Io {
                action: format!("inspecting {what}"),
                source,
            })
        }
    };
    if !socket.is_listener().unwrap_or(false) {
        return Err(OpenError::Refused(format!(
            "{what} is a socket nobody called listen(2) on (expected a listening socket)"
        )));
    }
    if let Some(backlog) = options.count(OptionId::Backlog) {
        socket
            .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
            .map_err(OpenError::io(format!("setting the backlog of {what}")))?;
    }
    socket
        .set_nonblocking(true)
        .map_err(OpenError::io("setting O_NONBLOCK"))?;
    let register = OpenError::io("registering the listener");
    let internet = domain == Domain::IPV4 || domain == Domain::IPV6;
    if internet && ty == Type::STREAM {
        if has_credential_options(options) {
            return Err(OpenError::Refused(format!(
                "peer-uid, peer-gid and peer-pid apply to Unix sockets, and {what} is a TCP socket (expected range= to filter TCP peers)"
            )));
        }
        let listener = TcpListener::from_std(socket.into()).map_err(register)?;
        let local = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!("listening on {local}");
        return Ok(Listener::new(
            TcpAccept::new(listener, None),
            format!("TCP-LISTEN {local} ({what})"),
            options,
        )
        .admitting(PeerFilter::for_server(options)));
    }
    if domain == Domain::UNIX && (ty == Type::STREAM || ty == Type::SEQPACKET) {
        if options.ranges().next().is_some() {
            return Err(OpenError::Refused(format!(
                "range applies to internet sockets, and {what} is a Unix socket (expected peer-uid, peer-gid or peer-pid)"
            )));
        }
        let filter = CredentialFilter::from_options(options)?;
        let name = socket
            .local_addr()
            .map(|a| super::socket::describe_sockaddr(&a))
            .unwrap_or_default();
        tracing::info!("listening on {name}");
        let description = format!("{} {name} ({what})", super::unix::type_label(ty));
        return Ok(super::unix::accepting(socket, ty, description, options)?.admitting(filter));
    }
    Err(OpenError::Refused(format!(
        "{what} is a listening socket socketry cannot serve (expected TCP, or Unix stream or seqpacket)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activated(
        which: ActivatedSocket,
        pid: Option<&str>,
        fds: Option<&str>,
        names: Option<&str>,
    ) -> Result<i32, String> {
        activated_descriptor(&which, pid, fds, names, 42).map_err(|e| e.to_string())
    }

    #[test]
    fn finds_the_activated_descriptor_by_index_or_name_for_our_pid_only() {
        use ActivatedSocket::{Index, Name};
        let web = || Name("web".to_owned());
        assert_eq!(activated(Index(0), Some("42"), Some("1"), None), Ok(3));
        assert_eq!(
            activated(Index(1), Some("42"), Some("2"), Some("a:b")),
            Ok(4)
        );
        assert_eq!(
            activated(web(), Some("42"), Some("2"), Some("admin:web")),
            Ok(4)
        );
        assert_eq!(
            activated(web(), Some("42"), Some("2"), Some("admin:api")),
            Err(
                "SYSTEMD-LISTEN: no socket named \"web\" in LISTEN_FDNAMES \"admin:api\""
                    .to_owned()
            )
        );
        assert_eq!(
            activated(Index(0), Some("41"), Some("1"), None),
            Err("SYSTEMD-LISTEN: LISTEN_PID is 41, not our process id 42: the sockets were meant for another process".to_owned())
        );
        assert_eq!(
            activated(Index(1), Some("42"), Some("1"), None),
            Err("SYSTEMD-LISTEN: socket 1 asked for, but LISTEN_FDS is 1 (expected an index below it)".to_owned())
        );
        assert!(activated(Index(0), None, Some("1"), None)
            .is_err_and(|e| e.contains("not started by socket activation")));
        assert!(activated(Index(0), Some("42"), Some("x"), None)
            .is_err_and(|e| e.contains("LISTEN_FDS is \"x\"")));
    }
}

// ---- The family's address types: ACCEPT-FD, SYSTEMD-LISTEN ----

use crate::address::ParseErrorKind;
use crate::address::{escape, AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// Which inherited listening socket an address serves.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum InheritedSpec {
    /// An inherited listening socket, by descriptor number.
    AcceptFd(i32),
    /// A listening socket passed by systemd's socket activation.
    SystemdListen(ActivatedSocket),
}

// An inherited listening socket is already bound: only what accepting needs applies. Ranges
// apply to internet sockets and credentials to Unix ones, which is checked when it is opened.
const INHERITED_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE)
    .union(Groups::PEERCRED);

static ACCEPT_FD: Definition<InheritedSpec> = Definition {
    ty: AddressType::new(
        "ACCEPT-FD",
        &[],
        &["fdnum"],
        INHERITED_LISTEN,
        "accept on an inherited listening TCP or Unix socket (with fork: every connection)",
    ),
    parse: |p| Ok(InheritedSpec::AcceptFd(p.descriptor(0)?)),
};
static SYSTEMD_LISTEN: Definition<InheritedSpec> = Definition {
    ty: AddressType::new(
        "SYSTEMD-LISTEN",
        &[],
        &["index-or-name"],
        INHERITED_LISTEN,
        "accept on a socket from systemd socket activation (LISTEN_FDS; by default the first)",
    )
    .required(0),
    parse: |p| {
        if p.is_empty() {
            return Ok(InheritedSpec::SystemdListen(ActivatedSocket::Index(0)));
        }
        let given = p.text(0)?;
        ActivatedSocket::parse(given)
            .map(InheritedSpec::SystemdListen)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "activated socket",
                text: given.to_owned(),
                expected: "an index from 0 or a FileDescriptorName (printable, no ':')",
            })
    },
};

/// The inherited-socket family: its address types and features.
pub static FAMILY: FamilyTypes<InheritedSpec> = FamilyTypes {
    features: &["LISTEN"],
    types: &[&ACCEPT_FD, &SYSTEMD_LISTEN],
};

impl FamilySpec for InheritedSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            InheritedSpec::AcceptFd(_) => &ACCEPT_FD.ty,
            InheritedSpec::SystemdListen(_) => &SYSTEMD_LISTEN.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InheritedSpec::AcceptFd(n) => write!(f, ":{n}"),
            InheritedSpec::SystemdListen(socket) => write!(f, ":{}", escape(&socket.to_string())),
        }
    }
}

impl InheritedSpec {
    /// Takes the inherited socket over as a listener.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        Ok(Opened::Listener(match self {
            InheritedSpec::AcceptFd(fd) => accept_fd(*fd, options)?,
            InheritedSpec::SystemdListen(socket) => systemd_listen(socket, options)?,
        }))
    }
}
