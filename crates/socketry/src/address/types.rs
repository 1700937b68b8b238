//! The typed values an address parses into.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use super::lexer::{escape, escape_bytes};

/// The most bytes a Unix socket path may have on Linux: `sun_path` is 108 bytes and a path
/// needs its terminating NUL. An abstract name has the same room after its leading NUL.
pub const UNIX_PATH_MAX: usize = 107;

/// Which internet protocol family an address uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Whatever the host resolves to (IPv4 for listeners unless told otherwise).
    Any,
    /// IPv4 only.
    V4,
    /// IPv6 only.
    V6,
}

impl Family {
    pub(crate) fn parse_pf(text: &str) -> Option<Family> {
        match text.to_ascii_lowercase().as_str() {
            // 2 and 10 are AF_INET and AF_INET6, which socat also accepts.
            "ip4" | "ipv4" | "inet" | "inet4" | "4" | "2" => Some(Family::V4),
            "ip6" | "ipv6" | "inet6" | "6" | "10" => Some(Family::V6),
            _ => None,
        }
    }

    pub(crate) fn pf_name(self) -> &'static str {
        match self {
            Family::Any => "any",
            Family::V4 => "ip4",
            Family::V6 => "ip6",
        }
    }
}

/// A host to connect or send to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A literal address, used as is.
    Ip(IpAddr),
    /// A name to resolve when the address is opened.
    Name(String),
}

impl Host {
    /// Parses `1.2.3.4`, `[::1]`, `::1` or a host name.
    pub fn parse(text: &str) -> Option<Host> {
        if let Some(inner) = text.strip_prefix('[') {
            return inner.strip_suffix(']')?.parse().ok().map(Host::Ip);
        }
        if let Ok(ip) = text.parse() {
            return Some(Host::Ip(ip));
        }
        let valid = !text.is_empty()
            && text.len() <= 253
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            && !text.starts_with(['-', '.']);
        valid.then(|| Host::Name(text.to_owned()))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// The name of a Unix domain socket: a filesystem path, or a name in Linux's abstract namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// A socket file at this path.
    Path(PathBuf),
    /// A name in the abstract namespace (no file; gone when the last socket closes).
    Abstract(String),
}

/// A Unix socket name that does not fit in `sun_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTooLong {
    pub len: usize,
}

impl UnixName {
    /// A filesystem path (any bytes but NUL, as the system takes them), refused when it does
    /// not fit (it is never truncated).
    pub fn path(path: impl AsRef<std::path::Path>) -> Result<UnixName, NameTooLong> {
        let path = path.as_ref();
        match path.as_os_str().len() {
            0..=UNIX_PATH_MAX => Ok(UnixName::Path(path.to_path_buf())),
            len => Err(NameTooLong { len }),
        }
    }

    /// A name in the abstract namespace, refused when it does not fit.
    pub fn abstract_name(text: &str) -> Result<UnixName, NameTooLong> {
        match text.len() {
            0..=UNIX_PATH_MAX => Ok(UnixName::Abstract(text.to_owned())),
            len => Err(NameTooLong { len }),
        }
    }

    /// The name as an address writes it, escaped.
    pub(crate) fn escaped(&self) -> String {
        use std::os::unix::ffi::OsStrExt;
        match self {
            UnixName::Path(p) => escape_bytes(p.as_os_str().as_bytes()),
            UnixName::Abstract(name) => escape(name),
        }
    }

    /// The name as text (the path, or the abstract name without its leading NUL); a byte of a
    /// path that is not UTF-8 shows as `\xNN`.
    pub fn text(&self) -> String {
        use std::os::unix::ffi::OsStrExt;
        match self {
            UnixName::Path(p) => super::error::display_bytes(p.as_os_str().as_bytes()),
            UnixName::Abstract(name) => name.clone(),
        }
    }
}

/// What a Unix domain address does with its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnixRole {
    /// Connect to a listening stream (or seqpacket) socket.
    Connect,
    /// Listen and accept connections.
    Listen,
    /// Send datagrams to a socket; replies come back to our own (bound or autobound) socket.
    Sendto,
    /// Bind, receive datagrams and reply to their sender.
    Recvfrom,
    /// Bind and only receive datagrams.
    Recv,
    /// Connect as a stream client, or as a datagram client if the peer is a datagram socket.
    Client,
    /// Listen for processes that pass connections (`SCM_RIGHTS`), and serve each connection
    /// passed as if it had been accepted here.
    RecvFd,
    /// Hand the first address's connection to the process listening at the socket, instead
    /// of relaying its bytes.
    SendFd,
}

/// Which socket of systemd's socket activation (`LISTEN_FDS`) to serve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActivatedSocket {
    /// The n-th socket passed, counting from 0 (descriptor 3 + n).
    Index(u32),
    /// The socket whose `FileDescriptorName=` is this (`LISTEN_FDNAMES`).
    Name(String),
}

impl ActivatedSocket {
    /// A number is an index, anything else a name; `None` for text that cannot be a name.
    pub fn parse(text: &str) -> Option<ActivatedSocket> {
        if let Ok(index) = text.parse::<u32>() {
            return Some(ActivatedSocket::Index(index));
        }
        // systemd's rule for names: at most 255 printable ASCII characters other than ':'.
        let valid = !text.is_empty()
            && text.len() <= 255
            && text.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        valid.then(|| ActivatedSocket::Name(text.to_owned()))
    }
}

impl fmt::Display for ActivatedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActivatedSocket::Index(i) => write!(f, "{i}"),
            ActivatedSocket::Name(name) => f.write_str(name),
        }
    }
}

/// What a POSIX message queue address does with its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MqRole {
    /// Read every message, never reaching EOF (POSIXMQ-READ).
    Read,
    /// Receive one message, then EOF; with `fork`, a session per message (POSIXMQ-RECEIVE).
    Receive,
    /// Send each message, write only (POSIXMQ-SEND).
    Send,
    /// Read and write the same queue (POSIXMQ-BIDIRECTIONAL).
    Bidirectional,
}

/// The longest queue name Linux accepts after the leading slash (`NAME_MAX`).
pub const MQ_NAME_MAX: usize = 255;

/// A POSIX message queue's name: `/name`, one slash, at most [`MQ_NAME_MAX`] bytes after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueName(String);

impl QueueName {
    /// Checks the form Linux requires; `None` if `text` does not have it.
    pub fn parse(text: &str) -> Option<QueueName> {
        let rest = text.strip_prefix('/')?;
        let valid = !rest.is_empty()
            && rest.len() <= MQ_NAME_MAX
            && !rest.contains(['/', '\0'])
            && rest != "."
            && rest != "..";
        valid.then(|| QueueName(text.to_owned()))
    }

    /// The name with its leading slash, as `mq_open` takes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The IPv4 address and prefix length a TUN interface is given (`TUN:10.0.0.1/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InterfaceAddr {
    /// The interface's own address.
    pub addr: Ipv4Addr,
    /// The length of its network's prefix, in bits.
    pub prefix: u8,
}

impl InterfaceAddr {
    /// Parses `a.b.c.d/bits` with bits from 0 to 32.
    pub fn parse(text: &str) -> Option<InterfaceAddr> {
        let (addr, bits) = text.split_once('/')?;
        let prefix = bits
            .parse::<u8>()
            .ok()
            .filter(|b| *b <= 32 && !bits.starts_with('+'))?;
        Some(InterfaceAddr {
            addr: addr.parse().ok()?,
            prefix,
        })
    }

    /// The netmask of the prefix: 255.255.255.0 for /24.
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(
            u32::MAX
                .checked_shl(32 - u32::from(self.prefix))
                .unwrap_or(0),
        )
    }
}

impl fmt::Display for InterfaceAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The remote end of an internet address: where to connect or send.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Remote {
    /// The peer's host, a literal address or a name to resolve.
    pub host: Host,
    /// The peer's port.
    pub port: u16,
    /// Which address family the host may resolve to.
    pub family: Family,
}

/// The local end of an internet server address: the port to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Local {
    /// The port to bind (0 for one the kernel picks).
    pub port: u16,
    /// Which address family to listen on.
    pub family: Family,
}

impl Remote {
    /// Writes `:host:port` as an address gives it.
    pub fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match &self.host {
            Host::Name(name) => escape(name),
            ip => ip.to_string(),
        };
        write!(f, ":{host}:{}", self.port)
    }
}

impl Local {
    /// Writes `:port` as an address gives it.
    pub fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.port)
    }
}

/// Writes `:path` as an address gives it, escaped.
pub fn fmt_path(path: &std::path::Path, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    use std::os::unix::ffi::OsStrExt;
    write!(f, ":{}", escape_bytes(path.as_os_str().as_bytes()))
}

/// Splits an EXEC command line into words, as a shell would but without any expansion:
/// whitespace separates words, `'...'` protects everything, `"..."` protects everything but
/// backslash escapes, and a backslash outside quotes protects the next character. `None` if a
/// quote is left open.
pub fn split_command_line(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        q => word.push(q),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                let escaped = chars.next()?;
                word.get_or_insert_with(String::new).push(escaped);
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// The command line that [`split_command_line`] splits back into `argv`.
pub fn join_command_line(argv: &[String]) -> String {
    let quote = |word: &String| {
        let plain = !word.is_empty()
            && !word
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '\\'));
        if plain {
            word.clone()
        } else {
            format!("'{}'", word.replace('\'', "'\\''"))
        }
    };
    argv.iter().map(quote).collect::<Vec<_>>().join(" ")
}
