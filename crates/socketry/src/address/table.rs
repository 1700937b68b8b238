//! The table of address types: names, aliases, parameters and the option groups that apply.
//! It drives parsing, `-h` help, error messages and `Display`.

use super::options::Groups;
use super::types::{Family, MqRole, Tag, UnixRole};

/// One row of the address table.
#[derive(Debug)]
pub struct AddressType {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// The parameters' names, for usage text: `TCP:<host>:<port>`.
    pub params: &'static [&'static str],
    /// How many of `params` must be given; the rest may be left out (`PIPE` or `PIPE:path`).
    pub required: usize,
    pub groups: Groups,
    pub help: &'static str,
    pub(crate) tag: Tag,
    pub(crate) family: Family,
}

impl AddressType {
    /// `NAME:<param>:<param>`, as shown in help and errors.
    pub fn usage(&self) -> String {
        let mut usage = self.name.to_owned();
        for (i, param) in self.params.iter().enumerate() {
            let optional = i >= self.required;
            usage.push_str(if optional { "[:<" } else { ":<" });
            usage.push_str(param);
            usage.push_str(if optional { ">]" } else { ">" });
        }
        usage
    }
}

const STREAM_FD: Groups = Groups::ALL.union(Groups::STREAM).union(Groups::TERMINAL);
const TCP_CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::CONNECT);
const TCP_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE);
const UDP_PEER: Groups = Groups::ALL.union(Groups::SOCKET).union(Groups::IP);
const UDP_SERVER: Groups = UDP_PEER
    .union(Groups::CHILD)
    .union(Groups::RANGE)
    .union(Groups::SESSION);
const UDP_RECV: Groups = UDP_PEER.union(Groups::RANGE);
const UNIX_CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::SOCKTYPE)
    .union(Groups::CONNECT);
const UNIX_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::SOCKTYPE)
    .union(Groups::NAMED)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::PEERCRED);
const UNIX_SENDTO: Groups = Groups::ALL.union(Groups::SOCKET);
const UNIX_RECVFROM: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::NAMED)
    .union(Groups::CHILD)
    .union(Groups::SESSION)
    .union(Groups::PEERCRED);
const UNIX_RECV: Groups = Groups::ALL
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
const EXEC: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::EXEC)
    .union(Groups::TERMINAL);
const OPEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::FILE)
    .union(Groups::OPEN)
    .union(Groups::TERMINAL);
const POSIXMQ_READ: Groups = Groups::ALL.union(Groups::POSIXMQ);
const POSIXMQ_RECEIVE: Groups = POSIXMQ_READ.union(Groups::CHILD);
const POSIXMQ_SEND: Groups = POSIXMQ_RECEIVE.union(Groups::POSIXMQ_SEND);
const POSIXMQ_BIDIRECTIONAL: Groups = POSIXMQ_READ.union(Groups::POSIXMQ_SEND);
// Handing a connection over moves no data, so the data options (ALL) do not apply.
const UNIX_SENDFD: Groups = Groups::SOCKET
    .union(Groups::SOCKTYPE)
    .union(Groups::CONNECT);
// An inherited listening socket is already bound: only what accepting needs applies. Ranges
// apply to internet sockets and credentials to Unix ones, which is checked when it is opened.
const SHM_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::NAMED)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::PEERCRED)
    .union(Groups::SHM)
    .union(Groups::SHM_LISTEN);
const SHM_CONNECT: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::SOCKET)
    .union(Groups::CONNECT)
    .union(Groups::SHM);
const INHERITED_LISTEN: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE)
    .union(Groups::PEERCRED);
const ABSTRACT_RECV: Groups = Groups::ALL.union(Groups::SOCKET).union(Groups::PEERCRED);

macro_rules! row {
    ($name:literal, [$($alias:literal),*], [$($param:literal),*], $groups:expr, $tag:expr, $family:expr, $help:literal) => {
        AddressType {
            name: $name,
            aliases: &[$($alias),*],
            params: &[$($param),*],
            required: <[&str]>::len(&[$($param),*]),
            groups: $groups,
            help: $help,
            tag: $tag,
            family: $family,
        }
    };
}

use Family::{Any, V4, V6};
use UnixRole::*;

/// Every address type socketry parses.
pub static ADDRESS_TYPES: &[AddressType] = &[
    row!(
        "STDIO",
        [],
        [],
        STREAM_FD,
        Tag::Stdio,
        Any,
        "standard input and output (also written -)"
    ),
    row!(
        "STDIN",
        [],
        [],
        STREAM_FD,
        Tag::Stdin,
        Any,
        "standard input, read only"
    ),
    row!(
        "STDOUT",
        [],
        [],
        STREAM_FD,
        Tag::Stdout,
        Any,
        "standard output, write only"
    ),
    row!(
        "STDERR",
        [],
        [],
        STREAM_FD,
        Tag::Stderr,
        Any,
        "standard error, write only"
    ),
    row!(
        "FD",
        [],
        ["fdnum"],
        STREAM_FD,
        Tag::Fd,
        Any,
        "an inherited file descriptor (also written as the bare number)"
    ),
    row!(
        "TCP",
        ["TCP-CONNECT"],
        ["host", "port"],
        TCP_CONNECT,
        Tag::TcpConnect,
        Any,
        "connect to host:port, trying every resolved address in turn"
    ),
    row!(
        "TCP4",
        ["TCP4-CONNECT"],
        ["host", "port"],
        TCP_CONNECT,
        Tag::TcpConnect,
        V4,
        "TCP over IPv4"
    ),
    row!(
        "TCP6",
        ["TCP6-CONNECT"],
        ["host", "port"],
        TCP_CONNECT,
        Tag::TcpConnect,
        V6,
        "TCP over IPv6"
    ),
    row!(
        "TCP-LISTEN",
        ["TCP-L"],
        ["port"],
        TCP_LISTEN,
        Tag::TcpListen,
        Any,
        "accept a TCP connection (with fork: every connection)"
    ),
    row!(
        "TCP4-LISTEN",
        ["TCP4-L"],
        ["port"],
        TCP_LISTEN,
        Tag::TcpListen,
        V4,
        "TCP-LISTEN over IPv4"
    ),
    row!(
        "TCP6-LISTEN",
        ["TCP6-L"],
        ["port"],
        TCP_LISTEN,
        Tag::TcpListen,
        V6,
        "TCP-LISTEN over IPv6"
    ),
    row!(
        "UDP",
        ["UDP-CONNECT"],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpConnect,
        Any,
        "a UDP socket connected to host:port"
    ),
    row!(
        "UDP4",
        ["UDP4-CONNECT"],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpConnect,
        V4,
        "UDP over IPv4"
    ),
    row!(
        "UDP6",
        ["UDP6-CONNECT"],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpConnect,
        V6,
        "UDP over IPv6"
    ),
    row!(
        "UDP-LISTEN",
        ["UDP-L"],
        ["port"],
        UDP_SERVER,
        Tag::UdpListen,
        Any,
        "wait for a datagram, then talk to its sender (with fork: a session per peer)"
    ),
    row!(
        "UDP4-LISTEN",
        ["UDP4-L"],
        ["port"],
        UDP_SERVER,
        Tag::UdpListen,
        V4,
        "UDP-LISTEN over IPv4"
    ),
    row!(
        "UDP6-LISTEN",
        ["UDP6-L"],
        ["port"],
        UDP_SERVER,
        Tag::UdpListen,
        V6,
        "UDP-LISTEN over IPv6"
    ),
    row!(
        "UDP-SENDTO",
        [],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpSendto,
        Any,
        "send datagrams to host:port, receive replies"
    ),
    row!(
        "UDP4-SENDTO",
        [],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpSendto,
        V4,
        "UDP-SENDTO over IPv4"
    ),
    row!(
        "UDP6-SENDTO",
        [],
        ["host", "port"],
        UDP_PEER,
        Tag::UdpSendto,
        V6,
        "UDP-SENDTO over IPv6"
    ),
    row!(
        "UDP-RECVFROM",
        [],
        ["port"],
        UDP_SERVER,
        Tag::UdpRecvfrom,
        Any,
        "receive datagrams and reply to their sender (with fork: a session per datagram)"
    ),
    row!(
        "UDP4-RECVFROM",
        [],
        ["port"],
        UDP_SERVER,
        Tag::UdpRecvfrom,
        V4,
        "UDP-RECVFROM over IPv4"
    ),
    row!(
        "UDP6-RECVFROM",
        [],
        ["port"],
        UDP_SERVER,
        Tag::UdpRecvfrom,
        V6,
        "UDP-RECVFROM over IPv6"
    ),
    row!(
        "UDP-RECV",
        [],
        ["port"],
        UDP_RECV,
        Tag::UdpRecv,
        Any,
        "only receive datagrams"
    ),
    row!(
        "UDP4-RECV",
        [],
        ["port"],
        UDP_RECV,
        Tag::UdpRecv,
        V4,
        "UDP-RECV over IPv4"
    ),
    row!(
        "UDP6-RECV",
        [],
        ["port"],
        UDP_RECV,
        Tag::UdpRecv,
        V6,
        "UDP-RECV over IPv6"
    ),
    row!(
        "UDP-DATAGRAM",
        [],
        ["host", "port"],
        UDP_RECV,
        Tag::UdpDatagram,
        Any,
        "send datagrams to host:port, receive from any peer in range"
    ),
    row!(
        "UDP4-DATAGRAM",
        [],
        ["host", "port"],
        UDP_RECV,
        Tag::UdpDatagram,
        V4,
        "UDP-DATAGRAM over IPv4"
    ),
    row!(
        "UDP6-DATAGRAM",
        [],
        ["host", "port"],
        UDP_RECV,
        Tag::UdpDatagram,
        V6,
        "UDP-DATAGRAM over IPv6"
    ),
    row!(
        "UNIX-CONNECT",
        [],
        ["path"],
        UNIX_CONNECT,
        Tag::Unix(Connect),
        Any,
        "connect to a Unix stream (or, with socktype=5, seqpacket) socket"
    ),
    row!(
        "UNIX-LISTEN",
        ["UNIX-L"],
        ["path"],
        UNIX_LISTEN,
        Tag::Unix(Listen),
        Any,
        "accept a Unix stream (or seqpacket) connection"
    ),
    row!(
        "UNIX-SENDTO",
        [],
        ["path"],
        UNIX_SENDTO,
        Tag::Unix(Sendto),
        Any,
        "send datagrams to a Unix datagram socket"
    ),
    row!(
        "UNIX-RECVFROM",
        [],
        ["path"],
        UNIX_RECVFROM,
        Tag::Unix(Recvfrom),
        Any,
        "receive Unix datagrams and reply to their sender"
    ),
    row!(
        "UNIX-RECV",
        [],
        ["path"],
        UNIX_RECV,
        Tag::Unix(Recv),
        Any,
        "only receive Unix datagrams"
    ),
    row!(
        "UNIX-CLIENT",
        ["UNIX"],
        ["path"],
        UNIX_CONNECT,
        Tag::Unix(Client),
        Any,
        "connect to a Unix stream, seqpacket or datagram socket, whichever it is"
    ),
    row!(
        "UNIX-RECVFD-LISTEN",
        [],
        ["path"],
        UNIX_LISTEN,
        Tag::Unix(RecvFd),
        Any,
        "serve every connection another process passes to this socket (SCM_RIGHTS) as if accepted here"
    ),
    row!(
        "UNIX-SENDFD",
        [],
        ["path"],
        UNIX_SENDFD,
        Tag::Unix(SendFd),
        Any,
        "second address only: hand the first address's connection to the process at this socket instead of relaying"
    ),
    row!(
        "ABSTRACT-CONNECT",
        [],
        ["name"],
        UNIX_CONNECT,
        Tag::Abstract(Connect),
        Any,
        "UNIX-CONNECT in the abstract namespace"
    ),
    row!(
        "ABSTRACT-LISTEN",
        ["ABSTRACT-L"],
        ["name"],
        ABSTRACT_LISTEN,
        Tag::Abstract(Listen),
        Any,
        "UNIX-LISTEN in the abstract namespace"
    ),
    row!(
        "ABSTRACT-SENDTO",
        [],
        ["name"],
        UNIX_SENDTO,
        Tag::Abstract(Sendto),
        Any,
        "UNIX-SENDTO in the abstract namespace"
    ),
    row!(
        "ABSTRACT-RECVFROM",
        [],
        ["name"],
        ABSTRACT_RECVFROM,
        Tag::Abstract(Recvfrom),
        Any,
        "UNIX-RECVFROM in the abstract namespace"
    ),
    row!(
        "ABSTRACT-RECV",
        [],
        ["name"],
        ABSTRACT_RECV,
        Tag::Abstract(Recv),
        Any,
        "UNIX-RECV in the abstract namespace"
    ),
    row!(
        "ABSTRACT-CLIENT",
        ["ABSTRACT"],
        ["name"],
        UNIX_CONNECT,
        Tag::Abstract(Client),
        Any,
        "UNIX-CLIENT in the abstract namespace"
    ),
    row!(
        "ABSTRACT-RECVFD-LISTEN",
        [],
        ["name"],
        ABSTRACT_LISTEN,
        Tag::Abstract(RecvFd),
        Any,
        "UNIX-RECVFD-LISTEN in the abstract namespace"
    ),
    row!(
        "ABSTRACT-SENDFD",
        [],
        ["name"],
        UNIX_SENDFD,
        Tag::Abstract(SendFd),
        Any,
        "UNIX-SENDFD in the abstract namespace"
    ),
    row!(
        "ACCEPT-FD",
        [],
        ["fdnum"],
        INHERITED_LISTEN,
        Tag::AcceptFd,
        Any,
        "accept on an inherited listening TCP or Unix socket (with fork: every connection)"
    ),
    AddressType {
        name: "SYSTEMD-LISTEN",
        aliases: &[],
        params: &["index-or-name"],
        required: 0,
        groups: INHERITED_LISTEN,
        help: "accept on a socket from systemd socket activation (LISTEN_FDS; by default the first)",
        tag: Tag::SystemdListen,
        family: Any,
    },
    row!(
        "SHM-LISTEN",
        [],
        ["path"],
        SHM_LISTEN,
        Tag::ShmListen,
        Any,
        "shared memory with each peer that meets us at this Unix socket (with fork: every peer)"
    ),
    row!(
        "SHM-CONNECT",
        [],
        ["path"],
        SHM_CONNECT,
        Tag::ShmConnect,
        Any,
        "shared memory with the SHM-LISTEN at this Unix socket"
    ),
    AddressType {
        name: "PIPE",
        aliases: &["FIFO", "ECHO"],
        params: &["path"],
        required: 0,
        groups: Groups::ALL.union(Groups::STREAM).union(Groups::NAMED_PIPE),
        help: "an anonymous pipe: what is written is read back (with a path: a named pipe, created if missing)",
        tag: Tag::Pipe,
        family: Any,
    },
    row!(
        "SOCKETPAIR",
        [],
        [],
        Groups::ALL.union(Groups::STREAM).union(Groups::SOCKTYPE),
        Tag::SocketPair,
        Any,
        "a connected socket pair: what is written is read back (datagrams by default)"
    ),
    row!(
        "PTY",
        [],
        [],
        Groups::ALL
            .union(Groups::STREAM)
            .union(Groups::TERMINAL)
            .union(Groups::PTY),
        Tag::Pty,
        Any,
        "a new pseudo-terminal; another program opens its slave side (logged, or link=path)"
    ),
    row!(
        "EXEC",
        [],
        ["command-line"],
        EXEC,
        Tag::Exec,
        Any,
        "run a program (no shell; the line is split into words, honouring quotes)"
    ),
    row!(
        "SYSTEM",
        [],
        ["shell-command"],
        EXEC,
        Tag::System,
        Any,
        "run a command through /bin/sh -c"
    ),
    row!(
        "SHELL",
        [],
        ["shell-command"],
        EXEC,
        Tag::Shell,
        Any,
        "run a command through $SHELL -c (/bin/sh if SHELL is unset)"
    ),
    row!(
        "OPEN",
        ["FILE"],
        ["filename"],
        OPEN,
        Tag::Open,
        Any,
        "an existing file or device (with creat: created if missing)"
    ),
    row!(
        "CREATE",
        ["CREAT"],
        ["filename"],
        Groups::ALL.union(Groups::STREAM).union(Groups::FILE),
        Tag::Create,
        Any,
        "a file created or truncated, write only"
    ),
    row!(
        "GOPEN",
        [],
        ["filename"],
        OPEN,
        Tag::Gopen,
        Any,
        "a file, created if missing and appended to, or a Unix socket connected to (also a bare path)"
    ),
    row!(
        "POSIXMQ-READ",
        [],
        ["mqueue"],
        POSIXMQ_READ,
        Tag::PosixMq(MqRole::Read),
        Any,
        "read every message of a POSIX message queue (/name, created if missing); never EOF"
    ),
    row!(
        "POSIXMQ-RECEIVE",
        ["POSIXMQ-RECV"],
        ["mqueue"],
        POSIXMQ_RECEIVE,
        Tag::PosixMq(MqRole::Receive),
        Any,
        "receive one message, then EOF (with fork: a session per message)"
    ),
    row!(
        "POSIXMQ-SEND",
        ["POSIXMQ-WRITE"],
        ["mqueue"],
        POSIXMQ_SEND,
        Tag::PosixMq(MqRole::Send),
        Any,
        "send each message to a POSIX message queue (with fork: a session every interval while it has room)"
    ),
    row!(
        "POSIXMQ-BIDIRECTIONAL",
        ["POSIXMQ"],
        ["mqueue"],
        POSIXMQ_BIDIRECTIONAL,
        Tag::PosixMq(MqRole::Bidirectional),
        Any,
        "read and write one POSIX message queue: what is sent comes back"
    ),
    AddressType {
        name: "TUN",
        aliases: &[],
        params: &["if-addr/bits"],
        required: 0,
        groups: Groups::ALL.union(Groups::TUN),
        help: "a new TUN (or TAP) network interface: one packet (frame) per message, optionally given an IPv4 address",
        tag: Tag::Tun,
        family: Any,
    },
];

/// socat's address types (and their aliases) that socketry does not build yet; naming one is
/// a clear error rather than "unknown".
#[rustfmt::skip]
pub static LATER_TYPES: &[&str] = &[
    "OPENSSL", "OPENSSL-CONNECT", "SSL", "OPENSSL-LISTEN", "SSL-L",
    "OPENSSL-DTLS-CLIENT", "DTLS", "OPENSSL-DTLS-SERVER", "DTLS-L",
    "SOCKS4", "SOCKS", "SOCKS4A", "SOCKS5-CONNECT", "SOCKS5", "SOCKS5-LISTEN",
    "PROXY", "PROXY-CONNECT",
    "IP-SENDTO", "IP4-SENDTO", "IP6-SENDTO", "IP-DATAGRAM", "IP4-DATAGRAM", "IP6-DATAGRAM",
    "IP-RECVFROM", "IP4-RECVFROM", "IP6-RECVFROM", "IP-RECV", "IP4-RECV", "IP6-RECV",
    "INTERFACE", "READLINE",
    "SCTP-CONNECT", "SCTP", "SCTP4-CONNECT", "SCTP4", "SCTP6-CONNECT", "SCTP6",
    "SCTP-LISTEN", "SCTP-L", "SCTP4-LISTEN", "SCTP4-L", "SCTP6-LISTEN", "SCTP6-L",
    "DCCP-CONNECT", "DCCP", "DCCP4-CONNECT", "DCCP4", "DCCP6-CONNECT", "DCCP6",
    "DCCP-LISTEN", "DCCP-L", "DCCP4-LISTEN", "DCCP4-L", "DCCP6-LISTEN", "DCCP6-L",
    "UDPLITE-CONNECT", "UDPLITE", "UDPLITE4-CONNECT", "UDPLITE4", "UDPLITE6-CONNECT", "UDPLITE6",
    "UDPLITE-LISTEN", "UDPLITE-L", "UDPLITE4-LISTEN", "UDPLITE4-L", "UDPLITE6-LISTEN", "UDPLITE6-L",
    "UDPLITE-SENDTO", "UDPLITE4-SENDTO", "UDPLITE6-SENDTO",
    "UDPLITE-RECVFROM", "UDPLITE4-RECVFROM", "UDPLITE6-RECVFROM",
    "UDPLITE-RECV", "UDPLITE4-RECV", "UDPLITE6-RECV",
    "UDPLITE-DATAGRAM", "UDPLITE4-DATAGRAM", "UDPLITE6-DATAGRAM",
    "VSOCK-CONNECT", "VSOCK", "VSOCK-LISTEN", "VSOCK-L",
    "SOCKET-CONNECT", "SOCKET-LISTEN", "SOCKET-SENDTO", "SOCKET-RECVFROM", "SOCKET-RECV",
    "SOCKET-DATAGRAM",
];

/// Every address type's name and aliases, for suggestions.
pub fn names() -> impl Iterator<Item = &'static str> {
    ADDRESS_TYPES
        .iter()
        .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
}

/// Looks an address type up by name or alias, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static AddressType> {
    ADDRESS_TYPES.iter().find(|t| {
        t.name.eq_ignore_ascii_case(name) || t.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    })
}

/// The row that `Display` names a kind by.
pub(crate) fn row_for(tag: Tag, family: Family) -> Option<&'static AddressType> {
    ADDRESS_TYPES
        .iter()
        .find(|t| t.tag == tag && t.family == family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<String> = ADDRESS_TYPES
            .iter()
            .flat_map(|t| std::iter::once(t.name).chain(t.aliases.iter().copied()))
            .chain(LATER_TYPES.iter().copied())
            .map(str::to_ascii_uppercase)
            .collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total);
    }

    #[test]
    fn every_tag_and_family_has_one_display_row() {
        for row in ADDRESS_TYPES {
            assert_eq!(row_for(row.tag, row.family).map(|r| r.name), Some(row.name));
        }
    }
}
