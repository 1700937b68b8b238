//! The Unix domain family's address types: `UNIX-*` on filesystem paths and `ABSTRACT-*` in
//! Linux's abstract namespace, each with its role.

use super::socket::{display_name, socket_type};
use crate::address::OptionId;
use crate::address::{
    AddressType, BindDomain, Definition, FamilySpec, FamilyTypes, Groups, Namespace, Options,
    UnixName, UnixRole,
};
use crate::endpoint::combinations::conflict;
use socket2::Type;

/// A Unix domain address: what it does with its socket, and the socket's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UnixSpec {
    /// Connect, listen, send, receive, or pass connections.
    pub role: UnixRole,
    /// A path, or a name in the abstract namespace.
    pub name: UnixName,
}

const CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::SOCKTYPE)
    .union(Groups::CONNECT)
    .union(Groups::UNIX_CLIENT);
const LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::SOCKTYPE)
    .union(Groups::NAMED)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::PEERCRED);
const SENDTO: Groups = Groups::ALL.union(Groups::SOCKET).union(Groups::UNIX_CLIENT);
const RECVFROM: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::NAMED)
    .union(Groups::CHILD)
    .union(Groups::SESSION)
    .union(Groups::PEERCRED);
const RECV: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::NAMED)
    .union(Groups::PEERCRED);
// Abstract names have no file, so the file's options (mode, unlink-*) do not apply.
const ABSTRACT_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::SOCKTYPE)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::PEERCRED);
const ABSTRACT_RECVFROM: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::CHILD)
    .union(Groups::SESSION)
    .union(Groups::PEERCRED);
const ABSTRACT_RECV: Groups = Groups::ALL.union(Groups::SOCKET).union(Groups::PEERCRED);
// Handing a connection over moves no data, so the data options (ALL) do not apply.
const SENDFD: Groups = Groups::SOCKET
    .union(Groups::SOCKTYPE)
    .union(Groups::CONNECT);

/// Defines one Unix address type: its role, namespace, names, option groups and help.
macro_rules! unix_type {
    ($id:ident, $role:ident, $namespace:ident, $name:literal, $aliases:expr, $groups:expr, $help:literal) => {
        static $id: Definition<UnixSpec> = Definition {
            ty: AddressType::new(
                $name,
                $aliases,
                match Namespace::$namespace {
                    Namespace::Path => &["path"],
                    Namespace::Abstract => &["name"],
                },
                $groups,
                $help,
            )
            .bind(match Namespace::$namespace {
                Namespace::Path => BindDomain::UnixPath,
                Namespace::Abstract => BindDomain::UnixAbstract,
            }),
            parse: |p| {
                Ok(UnixSpec {
                    role: UnixRole::$role,
                    name: p.unix_name(0, Namespace::$namespace)?,
                })
            },
        };
    };
}

unix_type!(
    UNIX_CONNECT,
    Connect,
    Path,
    "UNIX-CONNECT",
    &[],
    CONNECT,
    "connect to a Unix stream (or, with socktype=5, seqpacket) socket"
);
unix_type!(
    UNIX_LISTEN,
    Listen,
    Path,
    "UNIX-LISTEN",
    &["UNIX-L"],
    LISTEN,
    "accept a Unix stream (or seqpacket) connection"
);
unix_type!(
    UNIX_SENDTO,
    Sendto,
    Path,
    "UNIX-SENDTO",
    &[],
    SENDTO,
    "send datagrams to a Unix datagram socket"
);
unix_type!(
    UNIX_RECVFROM,
    Recvfrom,
    Path,
    "UNIX-RECVFROM",
    &[],
    RECVFROM,
    "receive Unix datagrams and reply to their sender"
);
unix_type!(
    UNIX_RECV,
    Recv,
    Path,
    "UNIX-RECV",
    &[],
    RECV,
    "only receive Unix datagrams"
);
unix_type!(
    UNIX_CLIENT,
    Client,
    Path,
    "UNIX-CLIENT",
    &["UNIX"],
    CONNECT,
    "connect to a Unix stream, seqpacket or datagram socket, whichever it is"
);
unix_type!(
    UNIX_RECVFD_LISTEN,
    RecvFd,
    Path,
    "UNIX-RECVFD-LISTEN",
    &[],
    LISTEN,
    "serve every connection another process passes to this socket (SCM_RIGHTS) as if accepted here"
);
unix_type!(UNIX_SENDFD, SendFd, Path, "UNIX-SENDFD", &[], SENDFD,
    "second address only: hand the first address's connection to the process at this socket instead of relaying");
unix_type!(
    ABSTRACT_CONNECT,
    Connect,
    Abstract,
    "ABSTRACT-CONNECT",
    &[],
    CONNECT,
    "UNIX-CONNECT in the abstract namespace"
);
unix_type!(
    ABSTRACT_LISTEN_TYPE,
    Listen,
    Abstract,
    "ABSTRACT-LISTEN",
    &["ABSTRACT-L"],
    ABSTRACT_LISTEN,
    "UNIX-LISTEN in the abstract namespace"
);
unix_type!(
    ABSTRACT_SENDTO,
    Sendto,
    Abstract,
    "ABSTRACT-SENDTO",
    &[],
    SENDTO,
    "UNIX-SENDTO in the abstract namespace"
);
unix_type!(
    ABSTRACT_RECVFROM_TYPE,
    Recvfrom,
    Abstract,
    "ABSTRACT-RECVFROM",
    &[],
    ABSTRACT_RECVFROM,
    "UNIX-RECVFROM in the abstract namespace"
);
unix_type!(
    ABSTRACT_RECV_TYPE,
    Recv,
    Abstract,
    "ABSTRACT-RECV",
    &[],
    ABSTRACT_RECV,
    "UNIX-RECV in the abstract namespace"
);
unix_type!(
    ABSTRACT_CLIENT,
    Client,
    Abstract,
    "ABSTRACT-CLIENT",
    &["ABSTRACT"],
    CONNECT,
    "UNIX-CLIENT in the abstract namespace"
);
unix_type!(
    ABSTRACT_RECVFD_LISTEN,
    RecvFd,
    Abstract,
    "ABSTRACT-RECVFD-LISTEN",
    &[],
    ABSTRACT_LISTEN,
    "UNIX-RECVFD-LISTEN in the abstract namespace"
);
unix_type!(
    ABSTRACT_SENDFD,
    SendFd,
    Abstract,
    "ABSTRACT-SENDFD",
    &[],
    SENDFD,
    "UNIX-SENDFD in the abstract namespace"
);

/// The Unix domain family: its address types and features.
pub static FAMILY: FamilyTypes<UnixSpec> = FamilyTypes {
    features: &["UNIX", "ABSTRACT_UNIXSOCKET", "LISTEN"],
    types: &[
        &UNIX_CONNECT,
        &UNIX_LISTEN,
        &UNIX_SENDTO,
        &UNIX_RECVFROM,
        &UNIX_RECV,
        &UNIX_CLIENT,
        &UNIX_RECVFD_LISTEN,
        &UNIX_SENDFD,
        &ABSTRACT_CONNECT,
        &ABSTRACT_LISTEN_TYPE,
        &ABSTRACT_SENDTO,
        &ABSTRACT_RECVFROM_TYPE,
        &ABSTRACT_RECV_TYPE,
        &ABSTRACT_CLIENT,
        &ABSTRACT_RECVFD_LISTEN,
        &ABSTRACT_SENDFD,
    ],
};

impl FamilySpec for UnixSpec {
    fn address_type(&self) -> &'static AddressType {
        let [path, abstract_name] = match self.role {
            UnixRole::Connect => [&UNIX_CONNECT, &ABSTRACT_CONNECT],
            UnixRole::Listen => [&UNIX_LISTEN, &ABSTRACT_LISTEN_TYPE],
            UnixRole::Sendto => [&UNIX_SENDTO, &ABSTRACT_SENDTO],
            UnixRole::Recvfrom => [&UNIX_RECVFROM, &ABSTRACT_RECVFROM_TYPE],
            UnixRole::Recv => [&UNIX_RECV, &ABSTRACT_RECV_TYPE],
            UnixRole::Client => [&UNIX_CLIENT, &ABSTRACT_CLIENT],
            UnixRole::RecvFd => [&UNIX_RECVFD_LISTEN, &ABSTRACT_RECVFD_LISTEN],
            UnixRole::SendFd => [&UNIX_SENDFD, &ABSTRACT_SENDFD],
        };
        match self.name {
            UnixName::Path(_) => &path.ty,
            UnixName::Abstract(_) => &abstract_name.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", self.name.escaped())
    }

    fn check(&self, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        check(self.role, &self.name, options)
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
    if options.bind().is_some() && options.has(OptionId::BindTempname) {
        return Err(conflict(
            OptionId::Bind,
            OptionId::BindTempname.def().name,
            format!(
                "bind and unix-bind-tempname both name the local socket of {shown} (expected one of them)"
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
