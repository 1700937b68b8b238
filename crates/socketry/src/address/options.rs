//! Address options: the table of every option socketry knows (name, aliases, the group of
//! addresses it applies to, the kind of value it takes), their typed values, and the ordered
//! set of options an address carries.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use std::os::unix::ffi::OsStrExt;

use super::data::{DataRange, SockOpt, SockOptForm};
use super::multicast::{Membership, MembershipForm};
use super::types::{Family, Host, UnixName};
use crate::services::{self, Protocol};
use crate::users::{self, Account, GroupId, LookupError, UserId};

/// Groups of addresses an option can apply to. An address type lists the groups it belongs
/// to; an option applies when its group is among them. A bit per group: 64 fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Groups(u64);

impl Groups {
    /// No group: the empty set, to build unions from.
    pub const NONE: Groups = Groups(0);
    /// Every address: options of the data channel itself (line endings, EOF handling).
    pub const ALL: Groups = Groups(1);
    /// Any socket.
    pub const SOCKET: Groups = Groups(1 << 1);
    /// Internet sockets (TCP and UDP).
    pub const IP: Groups = Groups(1 << 2);
    /// TCP sockets.
    pub const TCP: Groups = Groups(1 << 3);
    /// Unix domain sockets bound to a filesystem path (the file's life cycle and mode).
    pub const NAMED: Groups = Groups(1 << 4);
    /// Addresses that listen for connections.
    pub const LISTEN: Groups = Groups(1 << 5);
    /// Addresses that connect to a peer.
    pub const CONNECT: Groups = Groups(1 << 6);
    /// Addresses that can serve many peers (`fork`).
    pub const CHILD: Groups = Groups(1 << 7);
    /// Internet addresses that accept peers and can filter them by address.
    pub const RANGE: Groups = Groups(1 << 8);
    /// Unix domain sockets and socket pairs, whose socket type can be chosen.
    pub const SOCKTYPE: Groups = Groups(1 << 9);
    /// Datagram servers that keep one session per peer.
    pub const SESSION: Groups = Groups(1 << 10);
    /// Named pipes: created with a mode when missing.
    pub const NAMED_PIPE: Groups = Groups(1 << 11);
    /// Programs run as a child process (EXEC, SYSTEM, SHELL).
    pub const EXEC: Groups = Groups(1 << 12);
    /// Files opened by path: ownership, mode, locks, position.
    pub const FILE: Groups = Groups(1 << 13);
    /// Files opened with open(2) flags chosen by options (OPEN, GOPEN).
    pub const OPEN: Groups = Groups(1 << 14);
    /// Anything that may be a terminal: its termios settings.
    pub const TERMINAL: Groups = Groups(1 << 15);
    /// Pseudo-terminals that socketry allocates (PTY).
    pub const PTY: Groups = Groups(1 << 16);
    /// POSIX message queues: how the queue is opened, created and removed.
    pub const POSIXMQ: Groups = Groups(1 << 17);
    /// POSIX message queue addresses that send (the priority of what they send).
    pub const POSIXMQ_SEND: Groups = Groups(1 << 18);
    /// TUN/TAP network interfaces.
    pub const TUN: Groups = Groups(1 << 19);
    /// Addresses that are, or can be, byte streams (which `length-prefix` frames).
    pub const STREAM: Groups = Groups(1 << 20);
    /// Unix servers and receivers, which can admit peers by their credentials.
    pub const PEERCRED: Groups = Groups(1 << 21);
    /// Both ends of a shared-memory channel.
    pub const SHM: Groups = Groups(1 << 22);
    /// The end of a shared-memory channel that creates the memory (SHM-LISTEN).
    pub const SHM_LISTEN: Groups = Groups(1 << 23);
    /// UDP-Lite sockets: their checksum coverage.
    pub const UDPLITE: Groups = Groups(1 << 24);
    /// TLS endpoints, client and server (OPENSSL, OPENSSL-LISTEN).
    pub const TLS: Groups = Groups(1 << 25);
    /// TLS clients (OPENSSL): what the client sends as server name.
    pub const TLS_CLIENT: Groups = Groups(1 << 26);
    /// SOCKS clients, version 4, 4a and 5: the proxy's port and the user sent.
    pub const SOCKS: Groups = Groups(1 << 27);
    /// SOCKS5 clients: username and password authentication.
    pub const SOCKS5: Groups = Groups(1 << 28);
    /// HTTP CONNECT clients (PROXY): the proxy's port, credentials and answer.
    pub const HTTP: Groups = Groups(1 << 29);
    /// WebSocket endpoints, client and server (WS-CONNECT, WS-LISTEN).
    pub const WEBSOCKET: Groups = Groups(1 << 30);
    /// WebSocket servers (WS-LISTEN): which path they serve.
    pub const WEBSOCKET_LISTEN: Groups = Groups(1 << 31);
    /// Internet sockets that receive datagrams (UDP, UDP-Lite, raw IP): what the kernel can
    /// report on each one received (`ip-pktinfo`, `so-timestamp`, ...). A bit apart from the
    /// others' run, so that groups added meanwhile on other branches cannot take it.
    pub const IP_DATAGRAM: Groups = Groups(1 << 40);
    /// Unix clients that bind their own socket (UNIX-CONNECT, -CLIENT, -SENDTO and their
    /// ABSTRACT forms): `bind-tempname`.
    pub const UNIX_CLIENT: Groups = Groups(1 << 32);
    /// Inherited descriptors (STDIO, STDIN, STDOUT, STDERR, FD:n): the open file behind them
    /// (its flags, locks, a pipe's size) and socketry's own process (`setsid`).
    pub const DESCRIPTOR: Groups = Groups(1 << 48);
    /// READLINE: line editing, history and prompts on the terminal.
    pub const READLINE: Groups = Groups(1 << 49);

    /// Every group with the name help shows it by, in help's order.
    pub const NAMES: &'static [(Groups, &'static str)] = &[
        (Groups::ALL, "ALL"),
        (Groups::SOCKET, "SOCKET"),
        (Groups::IP, "IP"),
        (Groups::TCP, "TCP"),
        (Groups::NAMED, "NAMED"),
        (Groups::LISTEN, "LISTEN"),
        (Groups::CONNECT, "CONNECT"),
        (Groups::CHILD, "CHILD"),
        (Groups::RANGE, "RANGE"),
        (Groups::SOCKTYPE, "SOCKTYPE"),
        (Groups::SESSION, "SESSION"),
        (Groups::NAMED_PIPE, "NAMED_PIPE"),
        (Groups::EXEC, "EXEC"),
        (Groups::FILE, "FILE"),
        (Groups::OPEN, "OPEN"),
        (Groups::TERMINAL, "TERMINAL"),
        (Groups::PTY, "PTY"),
        (Groups::POSIXMQ, "POSIXMQ"),
        (Groups::POSIXMQ_SEND, "POSIXMQ_SEND"),
        (Groups::TUN, "TUN"),
        (Groups::STREAM, "STREAM"),
        (Groups::PEERCRED, "PEERCRED"),
        (Groups::SHM, "SHM"),
        (Groups::SHM_LISTEN, "SHM_LISTEN"),
        (Groups::UDPLITE, "UDPLITE"),
        (Groups::TLS, "OPENSSL"),
        (Groups::TLS_CLIENT, "OPENSSL-CLIENT"),
        (Groups::SOCKS, "SOCKS"),
        (Groups::SOCKS5, "SOCKS5"),
        (Groups::HTTP, "HTTP"),
        (Groups::WEBSOCKET, "WEBSOCKET"),
        (Groups::WEBSOCKET_LISTEN, "WEBSOCKET-LISTEN"),
        (Groups::IP_DATAGRAM, "DATAGRAM"),
        (Groups::UNIX_CLIENT, "UNIX-CLIENT"),
        (Groups::DESCRIPTOR, "DESCRIPTOR"),
        (Groups::READLINE, "READLINE"),
    ];

    /// The names of the groups in `self`, in help's order.
    pub fn names(self) -> Vec<&'static str> {
        Groups::NAMES
            .iter()
            .filter(|(g, _)| self.contains(*g))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The union of two sets of groups.
    pub const fn union(self, other: Groups) -> Groups {
        Groups(self.0 | other.0)
    }

    /// Whether the two share any group: an option applies to an address when they do.
    pub const fn intersects(self, other: Groups) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every group of `other` is in `self` (never for an empty `other`).
    pub const fn contains(self, other: Groups) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }
}

impl std::ops::BitOr for Groups {
    type Output = Groups;
    fn bitor(self, other: Groups) -> Groups {
        self.union(other)
    }
}

/// The kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `opt`, `opt=1`, `opt=0` (also yes/no, true/false, on/off).
    Bool,
    /// An integer within its bounds.
    Count(Bounds),
    /// A byte count within its bounds.
    Size(Bounds),
    /// Seconds, possibly fractional, from 0 to [`MAX_SECONDS`].
    Seconds,
    /// A port number 0-65535.
    Port,
    /// An octal permission mode.
    Mode,
    /// ip4 or ip6.
    Family,
    /// A socket type number: 1 stream, 2 datagram, 5 seqpacket.
    SockType,
    /// A local address: `host`, `host:port` or `:port` for internet sockets, a path for Unix.
    Bind,
    /// An address range: `addr/bits` or `addr:mask`.
    Range,
    /// Free text: a directory, an interface name.
    Text,
    /// A user name or uid, resolved when the address is read; a number is taken as it is.
    User,
    /// A group name or gid, resolved when the address is read; a number is taken as it is.
    Group,
    /// A user that exists (name or uid), with its groups, home and shell: who a program runs
    /// as. Resolved when the address is read.
    Account,
    /// An environment variable assignment, `NAME=VALUE`.
    Assignment,
    /// A file descriptor number 0-65535.
    Descriptor,
    /// A POSIX message priority, 0 to 32767 (Linux's `MQ_PRIO_MAX` - 1).
    Priority,
    /// `tun` or `tap`.
    TunType,
    /// The width of a length prefix in bytes: 2 or 4.
    PrefixWidth,
    /// A TLS protocol version: TLS1.2 or TLS1.3.
    TlsVersion,
    /// A certificate fingerprint: `sha256:` and 64 hex digits.
    Fingerprint,
    /// A list of TLS cipher suites, separated by `:`.
    Ciphers,
    /// A list of ALPN protocol names, separated by `:`.
    Alpn,
    /// TLS compression: `none`, or `auto` (which is none with rustls).
    Compress,
    /// An option of socat's that rustls cannot honour: refused with this reason.
    Refused(&'static str),
    /// A multicast group to join, in one option's form.
    Membership(MembershipForm),
    /// An IPv4 address (an interface's, for `ip-multicast-if`).
    Ipv4Address,
    /// The daemon name TCP wrappers' rules are matched against; written without a value,
    /// the program's name.
    DaemonName,
    /// An HTTP header field, `Name:Value`.
    HttpHeader,
    /// Raw bytes written as socat writes them: `x` and an even number of hex digits.
    HexBytes,
    /// An HTTP token (a WebSocket subprotocol's name).
    HttpToken,
    /// An absolute URL path, `/` and what follows, without a query.
    UrlPath,
    /// A PROXY protocol version: `1` or `2`, or no value (a listener reads either).
    ProxyVersion,
    /// A socket option by number, `LEVEL:NAME:VALUE`, the value in this form.
    SockOpt(SockOptForm),
    /// A name pattern whose `XXXXXX` is replaced by random characters (`bind-tempname`);
    /// written without a value, a default pattern.
    NamePattern,
    /// A terminal line speed in bits per second, one of [`BAUD_RATES`].
    Baud,
    /// A count of levels; written without a value, 1.
    Levels,
    /// The name of a network namespace under /run/netns.
    NamespaceName,
    /// A DNS server: an IPv4 address or a bracketed IPv6 one, with `:port` (53 without).
    NameServer,
}

/// The line speeds a terminal can be set to (termios' `B*` rates on Linux).
pub const BAUD_RATES: &[u32] = &[
    0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600,
    115_200, 230_400, 460_800, 500_000, 576_000, 921_600, 1_000_000, 1_152_000, 1_500_000,
    2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000,
];

impl ValueKind {
    /// How this kind of value is described in the errors of an address whose `bind=` is of
    /// `domain`: as [`ValueKind::expected`], but a generic socket's range is data.
    pub fn expected_in(self, domain: BindDomain) -> &'static str {
        match (self, domain) {
            (ValueKind::Range, BindDomain::Data) => {
                "ADDR:MASK, two socket addresses' bytes after the family of one length in socat's data form, e.g. x0000x7f000000:x0000xff000000"
            }
            (ValueKind::Bind, BindDomain::Data) => {
                "a socket address's bytes after the family in socat's data form, e.g. x0000x7f000001x0000000000000000"
            }
            _ => self.expected(),
        }
    }

    /// How this kind of value is described in help and error messages.
    pub fn expected(self) -> &'static str {
        match self {
            ValueKind::Bool => "0 or 1",
            ValueKind::Count(bounds) | ValueKind::Size(bounds) => bounds.expected,
            ValueKind::Seconds => "seconds from 0 to 3155760000 (a century), e.g. 1.5",
            ValueKind::Port => {
                "a port number from 0 to 65535, or a service name from /etc/services"
            }
            ValueKind::Mode => "an octal mode such as 0600",
            ValueKind::Family => "ip4 or ip6",
            ValueKind::SockType => "1 (stream), 2 (datagram) or 5 (seqpacket)",
            ValueKind::Bind => "a local address: host, host:port, :port, or a socket path",
            ValueKind::Range => {
                "addr/bits or addr:mask (addr may be a host name), e.g. 127.0.0.0/8 or [::1]/128"
            }
            ValueKind::Text => "text",
            ValueKind::User => "a user name or a uid",
            ValueKind::Group => "a group name or a gid",
            ValueKind::Account => "the name or uid of an existing user",
            ValueKind::Assignment => "NAME=VALUE",
            ValueKind::Descriptor => "a file descriptor number from 0 to 65535",
            ValueKind::Priority => "a priority from 0 to 32767",
            ValueKind::TunType => "tun or tap",
            ValueKind::PrefixWidth => "2 or 4 (bytes of big-endian length before each message)",
            ValueKind::TlsVersion => "TLS1.2 or TLS1.3 (rustls speaks no older version)",
            ValueKind::Fingerprint => "sha256: followed by 64 hex digits",
            ValueKind::Ciphers => {
                "cipher suite names separated by ':', such as ECDHE-ECDSA-AES128-GCM-SHA256 or TLS_AES_128_GCM_SHA256, or HIGH (see socketry -hh)"
            }
            ValueKind::Alpn => "protocol names separated by ':', such as h2:http/1.1",
            ValueKind::Compress => "none or auto (TLS compression is unsafe, and rustls never compresses)",
            ValueKind::Refused(reason) => reason,
            ValueKind::Membership(form) => form.expected(),
            ValueKind::Ipv4Address => "an IPv4 address, e.g. 192.168.1.10",
            ValueKind::DaemonName => "a daemon name for hosts.allow and hosts.deny (default: the program's name)",
            ValueKind::HttpHeader => {
                "Name:Value, an HTTP header field (the name a token, the value without line breaks)"
            }
            ValueKind::HttpToken => "an HTTP token: letters, digits and !#$%&'*+-.^_`|~",
            ValueKind::UrlPath => "a path starting with /, without spaces, ? or #",
            ValueKind::ProxyVersion => {
                "1 or 2 (the PROXY protocol's version; a listener given none reads either)"
            }
            ValueKind::HexBytes => "x and 1 to 40 pairs of hex digits, e.g. x01000000",
            ValueKind::SockOpt(form) => form.expected(),
            ValueKind::NamePattern => {
                "nothing (a generated name), or a path or name containing XXXXXX, e.g. /tmp/sock.XXXXXX"
            }
            ValueKind::Levels => "a number of levels from 1 to 4 (1 when written alone)",
            ValueKind::NamespaceName => "the name of a network namespace in /run/netns (no '/')",
            ValueKind::NameServer => "a DNS server's IP address or host name (from /etc/hosts), with :port if not 53 (1.2.3.4:5353, [::1]:53, localhost:5353)",
            ValueKind::Baud => "a line speed in bits per second: 0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, ..., 4000000",
        }
    }
}

/// The longest duration any option or flag takes: a century, in seconds. Beyond it a
/// deadline is no longer a deadline, and the clock's arithmetic would overflow.
pub const MAX_SECONDS: u64 = 3_155_760_000;

/// Reads seconds as socat writes them (`1.5`, `0.001`, `2e3`): a number from 0 to
/// [`MAX_SECONDS`]; NaN, infinities and negative numbers are refused.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let secs: f64 = text.parse().ok()?;
    // MAX_SECONDS is exact as an f64.
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_SECONDS as f64;
    if !(0.0..=max).contains(&secs) {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// The range a numeric option's value must lie in, checked when the address is parsed so
/// that nothing later has to convert it with a loss or overflow a computation with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// The range in words, for help and error messages.
    pub expected: &'static str,
}

impl Bounds {
    /// An IP hop limit or time to live: a byte.
    pub const HOPS: Bounds = Bounds {
        min: 0,
        max: 255,
        expected: "an integer from 0 to 255",
    };
    /// What a C `int` holds from 0 (listen backlogs, retry counts).
    pub const INT: Bounds = Bounds {
        min: 0,
        max: i32::MAX as u64,
        expected: "an integer from 0 to 2147483647",
    };
    /// What a C `int` holds from 1.
    pub const POSITIVE_INT: Bounds = Bounds {
        min: 1,
        max: i32::MAX as u64,
        expected: "an integer from 1 to 2147483647",
    };
    /// Peers served at once: at least one, or none would ever be served.
    pub const CHILDREN: Bounds = Bounds {
        min: 1,
        max: i32::MAX as u64,
        expected: "a count from 1 to 2147483647",
    };
    /// UDP-Lite's checksum coverage: up to a whole datagram's 65535 bytes.
    pub const COVERAGE: Bounds = Bounds {
        min: 0,
        max: 65535,
        expected: "a byte count from 0 to 65535",
    };
    /// What a C `unsigned int` holds (`so-mark`).
    pub const UINT: Bounds = Bounds {
        min: 0,
        max: u32::MAX as u64,
        expected: "an integer from 0 to 4294967295",
    };
    /// One byte of a header (`ip-tos`, `ipv6-tclass`).
    pub const BYTE: Bounds = Bounds {
        min: 0,
        max: 255,
        expected: "an integer from 0 to 255",
    };
    /// A time to live or hop limit.
    pub const TTL: Bounds = Bounds {
        min: 1,
        max: 255,
        expected: "a hop count from 1 to 255",
    };
    /// TCP keepalive's idle time and interval, as Linux bounds them.
    pub const KEEPALIVE_SECONDS: Bounds = Bounds {
        min: 1,
        max: 32767,
        expected: "seconds from 1 to 32767",
    };
    /// TCP keepalive's probe count, as Linux bounds it.
    pub const KEEPALIVE_PROBES: Bounds = Bounds {
        min: 1,
        max: 127,
        expected: "a count from 1 to 127",
    };
    /// TCP's maximum segment size, as Linux bounds it.
    pub const SEGMENT: Bounds = Bounds {
        min: 88,
        max: 32767,
        expected: "a byte count from 88 to 32767",
    };
    /// Byte counts the kernel takes as an `int` (socket buffers, MTU).
    pub const INT_BYTES: Bounds = Bounds {
        min: 0,
        max: i32::MAX as u64,
        expected: "a byte count from 0 to 2147483647",
    };
    /// Byte counts the kernel takes as an `int`, from 1 (message sizes).
    pub const POSITIVE_INT_BYTES: Bounds = Bounds {
        min: 1,
        max: i32::MAX as u64,
        expected: "a byte count from 1 to 2147483647",
    };
    /// File offsets and lengths: what `off_t` holds.
    pub const OFFSET: Bounds = Bounds {
        min: 0,
        max: i64::MAX as u64,
        expected: "a byte count from 0 to 9223372036854775807",
    };
    /// Any byte count; the endpoint checks its own range when it opens.
    pub const ANY_BYTES: Bounds = Bounds {
        min: 0,
        max: u64::MAX,
        expected: "a byte count",
    };
    /// A process id (`pid_t`).
    pub const PID: Bounds = Bounds {
        min: 1,
        max: i32::MAX as u64,
        expected: "a process id from 1 to 2147483647",
    };
    /// One byte's value, such as a character's (`escape`).
    pub const BYTE_VALUE: Bounds = Bounds {
        min: 0,
        max: 255,
        expected: "a byte value from 0 to 255 (or 0x00 to 0xff)",
    };
    /// Microseconds of spinning: a second at most, it burns a CPU the whole time.
    pub const SPIN: Bounds = Bounds {
        min: 0,
        max: 1_000_000,
        expected: "microseconds from 0 to 1000000",
    };

    /// Whether `n` lies within the bounds, both ends included.
    pub fn contains(self, n: u64) -> bool {
        (self.min..=self.max).contains(&n)
    }
}

/// One row of the option table.
#[derive(Debug)]
pub struct OptionDef {
    /// The option this row describes.
    pub id: OptionId,
    /// The name help shows and `Display` writes.
    pub name: &'static str,
    /// Other names accepted for it (socat's spellings among them).
    pub aliases: &'static [&'static str],
    /// The addresses it applies to.
    pub group: Groups,
    /// The value it takes, and how that value is checked.
    pub kind: ValueKind,
    /// One line for `-hh` help.
    pub help: &'static str,
}

/// Defines [`OptionId`] and [`OPTIONS`] from one list of rows, so that every option has exactly
/// one row and its variant is documented by the row's help text.
macro_rules! option_table {
    ($(
        OptionDef {
            id: OptionId::$id:ident,
            name: $name:expr,
            aliases: $aliases:expr,
            group: $group:expr,
            kind: $kind:expr,
            help: $help:expr $(,)?
        },
    )*) => {
        /// Every option socketry knows; each variant's row in [`OPTIONS`] gives its name,
        /// aliases, group and value.
        // Each variant's doc is its help line, written for a terminal: `[group]:if-name` is a
        // value's form there, not a link.
        #[allow(rustdoc::broken_intra_doc_links)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum OptionId {
            $(
                #[doc = $help]
                $id,
            )*
        }

        /// The option table: it drives option parsing, `-hh` help and error messages.
        pub static OPTIONS: &[OptionDef] = &[
            $(
                OptionDef {
                    id: OptionId::$id,
                    name: $name,
                    aliases: $aliases,
                    group: $group,
                    kind: $kind,
                    help: $help,
                },
            )*
        ];
    };
}

option_table! {
    OptionDef { id: OptionId::Fork, name: "fork", aliases: &[], group: Groups::CHILD.union(Groups::CONNECT), kind: ValueKind::Bool,
        help: "serve every peer (every message of POSIXMQ-RECEIVE) concurrently instead of only the first; on a connecting address, connect again every interval" },
    OptionDef { id: OptionId::MaxChildren, name: "max-children", aliases: &[], group: Groups::CHILD.union(Groups::CONNECT), kind: ValueKind::Count(Bounds::CHILDREN),
        help: "with fork: at most this many peers served at once; others wait" },
    OptionDef { id: OptionId::ReuseAddr, name: "reuseaddr", aliases: &["so-reuseaddr"], group: Groups::SOCKET, kind: ValueKind::Bool,
        help: "set SO_REUSEADDR (on by default for TCP listeners)" },
    OptionDef { id: OptionId::ReusePort, name: "so-reuseport", aliases: &["reuseport"], group: Groups::IP, kind: ValueKind::Bool,
        help: "set SO_REUSEPORT" },
    OptionDef { id: OptionId::Bind, name: "bind", aliases: &[], group: Groups::SOCKET, kind: ValueKind::Bind,
        help: "bind the socket to this local address before use" },
    OptionDef { id: OptionId::SourcePort, name: "sourceport", aliases: &["sp"], group: Groups::IP, kind: ValueKind::Port,
        help: "connect or send from this local port" },
    OptionDef { id: OptionId::LowPort, name: "lowport", aliases: &[], group: Groups::IP, kind: ValueKind::Bool,
        help: "a client sends from a free port from 640 to 1023 (needs root); a server admits only peers on ports below 1024" },
    OptionDef { id: OptionId::ConnectTimeout, name: "connect-timeout", aliases: &[], group: Groups::CONNECT, kind: ValueKind::Seconds,
        help: "give up connecting after this many seconds" },
    OptionDef { id: OptionId::AcceptTimeout, name: "accept-timeout", aliases: &["listen-timeout"], group: Groups::LISTEN, kind: ValueKind::Seconds,
        help: "give up waiting for a peer after this many seconds" },
    OptionDef { id: OptionId::Backlog, name: "backlog", aliases: &[], group: Groups::LISTEN, kind: ValueKind::Count(Bounds::INT),
        help: "listen(2) backlog" },
    OptionDef { id: OptionId::ProtocolFamily, name: "pf", aliases: &["protocol-family"], group: Groups::IP, kind: ValueKind::Family,
        help: "use IPv4 or IPv6" },
    OptionDef { id: OptionId::V6Only, name: "ipv6-v6only", aliases: &["ipv6only", "v6only"], group: Groups::IP, kind: ValueKind::Bool,
        help: "set IPV6_V6ONLY on an IPv6 socket" },
    OptionDef { id: OptionId::Range, name: "range", aliases: &[], group: Groups::RANGE, kind: ValueKind::Range,
        help: "admit only peers in this address range; others are closed at once and logged" },
    OptionDef { id: OptionId::TcpWrap, name: "tcpwrap", aliases: &["tcpwrapper", "tcpwrappers", "libwrap"], group: Groups::RANGE, kind: ValueKind::DaemonName,
        help: "admit peers as TCP wrappers would (hosts_access(5), read by socketry), by this daemon name (default: the program's name)" },
    OptionDef { id: OptionId::TcpWrapEtc, name: "tcpwrap-etc", aliases: &["tcpwrap-dir"], group: Groups::RANGE, kind: ValueKind::Text,
        help: "tcpwrap: the directory of hosts.allow and hosts.deny (default /etc); turns tcpwrap on" },
    OptionDef { id: OptionId::HostsAllow, name: "hosts-allow", aliases: &["allow-table", "tcpwrap-hosts-allow-table"], group: Groups::RANGE, kind: ValueKind::Text,
        help: "tcpwrap: the allow table, instead of hosts.allow; turns tcpwrap on" },
    OptionDef { id: OptionId::HostsDeny, name: "hosts-deny", aliases: &["deny-table", "tcpwrap-hosts-deny-table"], group: Groups::RANGE, kind: ValueKind::Text,
        help: "tcpwrap: the deny table, instead of hosts.deny; turns tcpwrap on" },
    OptionDef { id: OptionId::NoDelay, name: "nodelay", aliases: &["tcp-nodelay"], group: Groups::TCP, kind: ValueKind::Bool,
        help: "set TCP_NODELAY" },
    OptionDef { id: OptionId::Mptcp, name: "mptcp", aliases: &[], group: Groups::TCP, kind: ValueKind::Bool,
        help: "use Multipath TCP (IPPROTO_MPTCP); where the kernel refuses it, plain TCP, logged" },
    OptionDef { id: OptionId::KeepAlive, name: "keepalive", aliases: &["so-keepalive"], group: Groups::SOCKET, kind: ValueKind::Bool,
        help: "set SO_KEEPALIVE" },
    OptionDef { id: OptionId::TcpKeepIdle, name: "tcp-keepidle", aliases: &["keepidle"], group: Groups::TCP, kind: ValueKind::Count(Bounds::KEEPALIVE_SECONDS),
        help: "with keepalive: seconds idle before the first probe (TCP_KEEPIDLE; turns keepalive on)" },
    OptionDef { id: OptionId::TcpKeepIntvl, name: "tcp-keepintvl", aliases: &["keepintvl"], group: Groups::TCP, kind: ValueKind::Count(Bounds::KEEPALIVE_SECONDS),
        help: "with keepalive: seconds between probes (TCP_KEEPINTVL; turns keepalive on)" },
    OptionDef { id: OptionId::TcpKeepCnt, name: "tcp-keepcnt", aliases: &["keepcnt"], group: Groups::TCP, kind: ValueKind::Count(Bounds::KEEPALIVE_PROBES),
        help: "with keepalive: unanswered probes before the connection is dropped (TCP_KEEPCNT; turns keepalive on)" },
    OptionDef { id: OptionId::TcpUserTimeout, name: "tcp-user-timeout", aliases: &["user-timeout"], group: Groups::TCP, kind: ValueKind::Count(Bounds::INT),
        help: "milliseconds sent data may stay unacknowledged before the connection is dropped (TCP_USER_TIMEOUT; 0: the system's)" },
    OptionDef { id: OptionId::TcpMaxSeg, name: "tcp-maxseg", aliases: &["mss"], group: Groups::TCP, kind: ValueKind::Size(Bounds::SEGMENT),
        help: "the largest segment sent, in bytes (TCP_MAXSEG)" },
    OptionDef { id: OptionId::TcpQuickAck, name: "tcp-quickack", aliases: &["quickack"], group: Groups::TCP, kind: ValueKind::Bool,
        help: "acknowledge at once instead of delaying ACKs (TCP_QUICKACK)" },
    OptionDef { id: OptionId::RcvTimeo, name: "so-rcvtimeo", aliases: &["rcvtimeo"], group: Groups::SOCKET, kind: ValueKind::Seconds,
        help: "set SO_RCVTIMEO (0: none): a blocking read of a program that takes the socket over (nofork) times out; socketry's own reads never block" },
    OptionDef { id: OptionId::SndTimeo, name: "so-sndtimeo", aliases: &["sndtimeo"], group: Groups::SOCKET, kind: ValueKind::Seconds,
        help: "set SO_SNDTIMEO (0: none), as so-rcvtimeo for writes" },
    OptionDef { id: OptionId::Linger, name: "so-linger", aliases: &["linger"], group: Groups::SOCKET, kind: ValueKind::Count(Bounds::INT),
        help: "set SO_LINGER: closing waits up to this many seconds for unsent data (0: reset the connection)" },
    OptionDef { id: OptionId::Priority, name: "so-priority", aliases: &["priority"], group: Groups::SOCKET, kind: ValueKind::Count(Bounds::INT),
        help: "set SO_PRIORITY, the queueing priority of what is sent (above 6 needs CAP_NET_ADMIN)" },
    OptionDef { id: OptionId::Mark, name: "so-mark", aliases: &["mark"], group: Groups::SOCKET, kind: ValueKind::Count(Bounds::UINT),
        help: "set SO_MARK, the firewall mark of what is sent (needs CAP_NET_ADMIN)" },
    OptionDef { id: OptionId::BindToDevice, name: "so-bindtodevice", aliases: &["bindtodevice", "interface", "if"], group: Groups::SOCKET, kind: ValueKind::Text,
        help: "set SO_BINDTODEVICE: send and receive only through this network interface" },
    OptionDef { id: OptionId::IpTos, name: "ip-tos", aliases: &["tos"], group: Groups::IP, kind: ValueKind::Count(Bounds::BYTE),
        help: "set IP_TOS, the type of service byte of what is sent" },
    OptionDef { id: OptionId::IpTtl, name: "ip-ttl", aliases: &["ttl", "ipv6-unicast-hops", "unicast-hops"], group: Groups::IP, kind: ValueKind::Count(Bounds::TTL),
        help: "set IP_TTL (IPV6_UNICAST_HOPS on IPv6): the hops what is sent may take" },
    OptionDef { id: OptionId::Ipv6Tclass, name: "ipv6-tclass", aliases: &["tclass"], group: Groups::IP, kind: ValueKind::Count(Bounds::BYTE),
        help: "set IPV6_TCLASS, the traffic class of what an IPv6 socket sends" },
    OptionDef { id: OptionId::RcvBuf, name: "rcvbuf", aliases: &["so-rcvbuf"], group: Groups::SOCKET, kind: ValueKind::Size(Bounds::INT_BYTES),
        help: "set SO_RCVBUF" },
    OptionDef { id: OptionId::SndBuf, name: "sndbuf", aliases: &["so-sndbuf"], group: Groups::SOCKET, kind: ValueKind::Size(Bounds::INT_BYTES),
        help: "set SO_SNDBUF" },
    OptionDef { id: OptionId::SockType, name: "socktype", aliases: &["so-type"], group: Groups::SOCKTYPE.union(Groups::EXEC), kind: ValueKind::SockType,
        help: "Unix socket type: 1 stream, 2 datagram, 5 seqpacket (also of a program's socket pair)" },
    OptionDef { id: OptionId::UnlinkEarly, name: "unlink-early", aliases: &[], group: Groups::NAMED.union(Groups::POSIXMQ), kind: ValueKind::Bool,
        help: "remove a socket file left at the path before binding (never a file that is not a socket), or the message queue before opening it" },
    OptionDef { id: OptionId::UnlinkClose, name: "unlink-close", aliases: &[], group: Groups::NAMED.union(Groups::POSIXMQ).union(Groups::NAMED_PIPE).union(Groups::FILE), kind: ValueKind::Bool,
        help: "remove the socket file (default 1), the named pipe (default 1 if socketry made it), the file (default 0) or the message queue (default 0) on exit" },
    OptionDef { id: OptionId::Mode, name: "mode", aliases: &["perm"], group: Groups::NAMED.union(Groups::NAMED_PIPE).union(Groups::FILE).union(Groups::POSIXMQ).union(Groups::PTY), kind: ValueKind::Mode,
        help: "permissions of the socket file, named pipe, file, new message queue or PTY's slave side" },
    OptionDef { id: OptionId::Umask, name: "umask", aliases: &[], group: Groups::NAMED.union(Groups::NAMED_PIPE).union(Groups::FILE).union(Groups::EXEC), kind: ValueKind::Mode,
        help: "the file creation mask for the socket file, named pipe or file the address creates, or the program it runs, instead of socketry's (mode= still wins)" },
    OptionDef { id: OptionId::Crnl, name: "crnl", aliases: &["crlf"], group: Groups::ALL, kind: ValueKind::Bool,
        help: "convert NL to CR NL when writing, CR NL to NL when reading" },
    OptionDef { id: OptionId::IgnoreEof, name: "ignoreeof", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "on EOF keep reading, like tail -f" },
    OptionDef { id: OptionId::Escape, name: "escape", aliases: &[], group: Groups::ALL, kind: ValueKind::Count(Bounds::BYTE_VALUE),
        help: "this byte (a number: 27 or 0x1b for ESC), read from the address, ends its input as EOF does" },
    OptionDef { id: OptionId::NullEof, name: "null-eof", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "an empty datagram read from the address is its EOF (see shut-null)" },
    OptionDef { id: OptionId::ShutNone, name: "shut-none", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "at the other address's EOF, leave this one's writing half open" },
    OptionDef { id: OptionId::ShutDown, name: "shut-down", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "at the other address's EOF, shut this one's writing half down (the default)" },
    OptionDef { id: OptionId::ShutClose, name: "shut-close", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "at the other address's EOF, shut this one's writing half down and close it at once" },
    OptionDef { id: OptionId::ShutNull, name: "shut-null", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "at the other address's EOF, send an empty datagram to carry it (see null-eof)" },
    OptionDef { id: OptionId::EndClose, name: "end-close", aliases: &[], group: Groups::ALL, kind: ValueKind::Bool,
        help: "never shut the address down: just close its descriptors at the end, so that the children of a forking second address share it" },
    OptionDef { id: OptionId::IdleTimeout, name: "idle-timeout", aliases: &[], group: Groups::SESSION, kind: ValueKind::Seconds,
        help: "with fork: end a peer's session after this many idle seconds (default 60)" },
    OptionDef { id: OptionId::Retry, name: "retry", aliases: &[], group: Groups::SOCKET.union(Groups::POSIXMQ), kind: ValueKind::Count(Bounds::INT),
        help: "if opening the address fails, try again this many times" },
    OptionDef { id: OptionId::Interval, name: "interval", aliases: &[], group: Groups::SOCKET.union(Groups::POSIXMQ), kind: ValueKind::Seconds,
        help: "with retry or forever: seconds between attempts; with POSIXMQ-SEND or a connecting address and fork: between sessions (default 1)" },
    OptionDef { id: OptionId::Forever, name: "forever", aliases: &[], group: Groups::SOCKET.union(Groups::POSIXMQ), kind: ValueKind::Bool,
        help: "if opening the address fails, try again until it works" },
    OptionDef { id: OptionId::Pipes, name: "pipes", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "talk to the program over two pipes instead of one socket pair" },
    OptionDef { id: OptionId::Stderr, name: "stderr", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "send the program's standard error to the peer too" },
    OptionDef { id: OptionId::Setsid, name: "setsid", aliases: &["sid"], group: Groups::EXEC.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "run the program in a new session; on STDIO, FD and the like, socketry itself starts a new session" },
    OptionDef { id: OptionId::Setpgid, name: "setpgid", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "run the program in a new process group" },
    OptionDef { id: OptionId::Nofork, name: "nofork", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "the program takes the first address's own descriptors: no relay between it and its peer" },
    OptionDef { id: OptionId::Su, name: "su", aliases: &["substuser"], group: Groups::EXEC, kind: ValueKind::Account,
        help: "run the program as this user (name or uid), with its groups" },
    OptionDef { id: OptionId::Chdir, name: "chdir", aliases: &["cd"], group: Groups::EXEC.union(Groups::FILE), kind: ValueKind::Text,
        help: "run the program in this directory; a file's relative path is taken from it (socketry's own directory does not change)" },
    OptionDef { id: OptionId::Setenv, name: "setenv", aliases: &[], group: Groups::EXEC, kind: ValueKind::Assignment,
        help: "set an environment variable for the program (repeatable)" },
    OptionDef { id: OptionId::FdIn, name: "fdin", aliases: &[], group: Groups::EXEC, kind: ValueKind::Descriptor,
        help: "the program reads from this descriptor instead of 0" },
    OptionDef { id: OptionId::FdOut, name: "fdout", aliases: &[], group: Groups::EXEC, kind: ValueKind::Descriptor,
        help: "the program writes to this descriptor instead of 1" },
    OptionDef { id: OptionId::ReadOnly, name: "rdonly", aliases: &["o-rdonly"], group: Groups::OPEN, kind: ValueKind::Bool,
        help: "open for reading only" },
    OptionDef { id: OptionId::WriteOnly, name: "wronly", aliases: &["o-wronly"], group: Groups::OPEN, kind: ValueKind::Bool,
        help: "open for writing only" },
    OptionDef { id: OptionId::ReadWrite, name: "rdwr", aliases: &["o-rdwr"], group: Groups::OPEN, kind: ValueKind::Bool,
        help: "open for reading and writing (the default)" },
    OptionDef { id: OptionId::Creat, name: "creat", aliases: &["create", "o-creat", "o-create"], group: Groups::OPEN.union(Groups::POSIXMQ), kind: ValueKind::Bool,
        help: "create the file if missing (a message queue: by default; creat=0 requires it to exist)" },
    OptionDef { id: OptionId::Excl, name: "excl", aliases: &["o-excl"], group: Groups::OPEN.union(Groups::POSIXMQ), kind: ValueKind::Bool,
        help: "with creat: fail if the file or message queue exists" },
    OptionDef { id: OptionId::Append, name: "append", aliases: &["o-append"], group: Groups::FILE, kind: ValueKind::Bool,
        help: "write at the end of the file" },
    OptionDef { id: OptionId::Trunc, name: "trunc", aliases: &["o-trunc"], group: Groups::OPEN, kind: ValueKind::Bool,
        help: "truncate the file to size 0 when opening it" },
    OptionDef { id: OptionId::Nonblock, name: "nonblock", aliases: &["o-nonblock"], group: Groups::OPEN.union(Groups::NAMED_PIPE), kind: ValueKind::Bool,
        help: "open without blocking: a named pipe opened for writing with no reader is an error" },
    OptionDef { id: OptionId::User, name: "user", aliases: &["owner"], group: Groups::FILE.union(Groups::NAMED).union(Groups::NAMED_PIPE).union(Groups::PTY), kind: ValueKind::User,
        help: "give the file, socket file or named pipe to this user (name or uid)" },
    OptionDef { id: OptionId::Group, name: "group", aliases: &[], group: Groups::FILE.union(Groups::NAMED).union(Groups::NAMED_PIPE).union(Groups::PTY), kind: ValueKind::Group,
        help: "give the file, socket file or named pipe to this group (name or gid)" },
    OptionDef { id: OptionId::Lock, name: "lock", aliases: &["flock", "flock-ex"], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an exclusive flock on the file, waiting for it if someone holds it" },
    OptionDef { id: OptionId::FlockExNb, name: "flock-ex-nb", aliases: &["flock-nb"], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an exclusive flock on the file; fail if someone holds it" },
    OptionDef { id: OptionId::FlockSh, name: "flock-sh", aliases: &[], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take a shared flock on the file, waiting for an exclusive holder" },
    OptionDef { id: OptionId::FlockShNb, name: "flock-sh-nb", aliases: &[], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take a shared flock on the file; fail if someone holds it exclusively" },
    OptionDef { id: OptionId::SetLk, name: "setlk", aliases: &["setlk-wr"], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an fcntl write lock on the whole file; fail if someone holds one" },
    OptionDef { id: OptionId::SetLkw, name: "setlkw", aliases: &["setlkw-wr"], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an fcntl write lock on the whole file, waiting for it" },
    OptionDef { id: OptionId::SetLkRd, name: "setlk-rd", aliases: &[], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an fcntl read lock on the whole file; fail if someone holds a write lock" },
    OptionDef { id: OptionId::SetLkwRd, name: "setlkw-rd", aliases: &[], group: Groups::FILE.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "take an fcntl read lock on the whole file, waiting for it" },
    OptionDef { id: OptionId::Ftruncate, name: "ftruncate", aliases: &["truncate"], group: Groups::FILE, kind: ValueKind::Size(Bounds::OFFSET),
        help: "cut the file to this many bytes after opening it" },
    OptionDef { id: OptionId::ReadBytes, name: "readbytes", aliases: &["bytes"], group: Groups::ALL, kind: ValueKind::Size(Bounds::OFFSET),
        help: "read at most this many bytes from the address, then EOF (byte streams)" },
    OptionDef { id: OptionId::Seek, name: "seek", aliases: &["seek-set", "lseek"], group: Groups::FILE, kind: ValueKind::Size(Bounds::OFFSET),
        help: "start at this byte offset" },
    OptionDef { id: OptionId::Pty, name: "pty", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "give the program a pseudo-terminal as its controlling terminal instead of a socket pair" },
    OptionDef { id: OptionId::Ctty, name: "ctty", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "with pty: the pty is the program's controlling terminal (default 1; ctty=0: it is not)" },
    OptionDef { id: OptionId::Openpty, name: "openpty", aliases: &[], group: Groups::PTY.union(Groups::EXEC), kind: ValueKind::Bool,
        help: "allocate the pseudo-terminal with openpty(3) (the default; on EXEC it implies pty)" },
    OptionDef { id: OptionId::Ptmx, name: "ptmx", aliases: &[], group: Groups::PTY.union(Groups::EXEC), kind: ValueKind::Bool,
        help: "allocate the pseudo-terminal by opening /dev/ptmx (on EXEC it implies pty)" },
    OptionDef { id: OptionId::Link, name: "link", aliases: &["symbolic-link"], group: Groups::PTY, kind: ValueKind::Text,
        help: "make a symbolic link at this path to the pty's slave side (removed on close)" },
    OptionDef { id: OptionId::WaitSlave, name: "wait-slave", aliases: &["waitslave", "pty-wait-slave"], group: Groups::PTY, kind: ValueKind::Bool,
        help: "wait until a program opens the slave side; EOF when the last one closes it" },
    OptionDef { id: OptionId::PtyInterval, name: "pty-interval", aliases: &[], group: Groups::PTY, kind: ValueKind::Seconds,
        help: "with wait-slave: seconds between looks for the slave (default 1)" },
    OptionDef { id: OptionId::Raw, name: "raw", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: no line editing, signals or CR/NL translation (echo unchanged: add echo=0)" },
    OptionDef { id: OptionId::Rawer, name: "rawer", aliases: &["cfmakeraw"], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: raw and no echo: every byte passes unchanged" },
    OptionDef { id: OptionId::Sane, name: "sane", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: the usual interactive settings (as stty sane)" },
    OptionDef { id: OptionId::Echo, name: "echo", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: echo what is typed" },
    OptionDef { id: OptionId::EchoE, name: "echoe", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: erase shows as backspace-space-backspace" },
    OptionDef { id: OptionId::EchoK, name: "echok", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: echo NL after the kill character" },
    OptionDef { id: OptionId::EchoCtl, name: "echoctl", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: echo control characters as ^X" },
    OptionDef { id: OptionId::Icanon, name: "icanon", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: canonical mode: input by lines, with editing and EOF character" },
    OptionDef { id: OptionId::Isig, name: "isig", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: INTR, QUIT and SUSP characters raise signals" },
    OptionDef { id: OptionId::Iexten, name: "iexten", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: extended input processing" },
    OptionDef { id: OptionId::Icrnl, name: "icrnl", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: input: CR becomes NL" },
    OptionDef { id: OptionId::Inlcr, name: "inlcr", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: input: NL becomes CR" },
    OptionDef { id: OptionId::Igncr, name: "igncr", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: input: CR is dropped" },
    OptionDef { id: OptionId::Istrip, name: "istrip", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: input: strip the eighth bit" },
    OptionDef { id: OptionId::Ixon, name: "ixon", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: XON/XOFF flow control on output" },
    OptionDef { id: OptionId::Ixoff, name: "ixoff", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: XON/XOFF flow control on input" },
    OptionDef { id: OptionId::Ixany, name: "ixany", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: any character restarts stopped output" },
    OptionDef { id: OptionId::Opost, name: "opost", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: output processing" },
    OptionDef { id: OptionId::Onlcr, name: "onlcr", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: output: NL becomes CR NL" },
    OptionDef { id: OptionId::Ocrnl, name: "ocrnl", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: output: CR becomes NL" },
    OptionDef { id: OptionId::Onlret, name: "onlret", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Bool,
        help: "terminal: output: NL also returns the carriage" },
    OptionDef { id: OptionId::MqPriority, name: "posixmq-priority", aliases: &["mq-prio"], group: Groups::POSIXMQ_SEND, kind: ValueKind::Priority,
        help: "send messages with this priority (default 0); receivers get higher priorities first" },
    OptionDef { id: OptionId::MqFlush, name: "posixmq-flush", aliases: &["mq-flush"], group: Groups::POSIXMQ, kind: ValueKind::Bool,
        help: "drop the messages already in the queue before starting" },
    OptionDef { id: OptionId::MqMaxMsg, name: "posixmq-maxmsg", aliases: &["mq-maxmsg"], group: Groups::POSIXMQ, kind: ValueKind::Count(Bounds::POSITIVE_INT),
        help: "when creating the queue: how many messages it holds (default: the system's)" },
    OptionDef { id: OptionId::MqMsgSize, name: "posixmq-msgsize", aliases: &["mq-msgsize"], group: Groups::POSIXMQ, kind: ValueKind::Size(Bounds::POSITIVE_INT_BYTES),
        help: "when creating the queue: the largest message it takes (default: the system's); larger messages are an error" },
    OptionDef { id: OptionId::TunDevice, name: "tun-device", aliases: &[], group: Groups::TUN, kind: ValueKind::Text,
        help: "the clone device to open (default /dev/net/tun)" },
    OptionDef { id: OptionId::TunName, name: "tun-name", aliases: &[], group: Groups::TUN, kind: ValueKind::Text,
        help: "the interface's name (default: the kernel picks tunN or tapN)" },
    OptionDef { id: OptionId::TunType, name: "tun-type", aliases: &[], group: Groups::TUN, kind: ValueKind::TunType,
        help: "tun (IP packets, the default) or tap (Ethernet frames)" },
    OptionDef { id: OptionId::NoPi, name: "iff-no-pi", aliases: &["no-pi", "tun-no-pi"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "no 4-byte packet information header before each packet" },
    OptionDef { id: OptionId::Mtu, name: "mtu", aliases: &["iff-mtu"], group: Groups::TUN, kind: ValueKind::Size(Bounds::INT_BYTES),
        help: "the interface's MTU" },
    OptionDef { id: OptionId::IffUp, name: "iff-up", aliases: &["up"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "bring the interface up (without it, nothing is routed to it)" },
    OptionDef { id: OptionId::IffNoArp, name: "iff-noarp", aliases: &["noarp"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set (=1) or clear (=0) the interface's NOARP flag" },
    OptionDef { id: OptionId::IffPromisc, name: "iff-promisc", aliases: &["promisc"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's PROMISC flag" },
    OptionDef { id: OptionId::IffAllMulti, name: "iff-allmulti", aliases: &["allmulti"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's ALLMULTI flag" },
    OptionDef { id: OptionId::IffMulticast, name: "iff-multicast", aliases: &["multicast"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's MULTICAST flag" },
    OptionDef { id: OptionId::IffDebug, name: "iff-debug", aliases: &[], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's DEBUG flag" },
    OptionDef { id: OptionId::IffNoTrailers, name: "iff-notrailers", aliases: &["notrailers"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's NOTRAILERS flag" },
    OptionDef { id: OptionId::IffPortSel, name: "iff-portsel", aliases: &["portsel"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's PORTSEL flag" },
    OptionDef { id: OptionId::IffAutoMedia, name: "iff-automedia", aliases: &["automedia"], group: Groups::TUN, kind: ValueKind::Bool,
        help: "set or clear the interface's AUTOMEDIA flag" },
    OptionDef { id: OptionId::UdpliteSendCscov, name: "udplite-send-cscov", aliases: &[], group: Groups::UDPLITE, kind: ValueKind::Count(Bounds::COVERAGE),
        help: "how many bytes of each datagram sent, header included, the checksum covers (0: all; 1 to 7 count as 8)" },
    OptionDef { id: OptionId::UdpliteRecvCscov, name: "udplite-recv-cscov", aliases: &[], group: Groups::UDPLITE, kind: ValueKind::Count(Bounds::COVERAGE),
        help: "the least checksum coverage a received datagram must have; the kernel drops the rest (0: full coverage)" },
    OptionDef { id: OptionId::ProxyProtocol, name: "proxy-protocol", aliases: &[], group: Groups::LISTEN.union(Groups::TCP), kind: ValueKind::ProxyVersion,
        help: "socketry's own. On a listener: read a PROXY protocol header (HAProxy's; v1 or v2, or only the version given) before each peer's data and take the client it names as the peer; a peer without one is refused. On a TCP client (=1 or =2): send a header of that version first, naming the first address's peer (UNKNOWN/LOCAL when it has none)" },
    OptionDef { id: OptionId::ProxyProtocolFrom, name: "proxy-protocol-from", aliases: &[], group: Groups::LISTEN, kind: ValueKind::Range,
        help: "only peers in this range send a PROXY protocol header (repeatable; implies proxy-protocol); any other peer is taken as it is, its data untouched" },
    OptionDef { id: OptionId::LengthPrefix, name: "length-prefix", aliases: &[], group: Groups::STREAM, kind: ValueKind::PrefixWidth,
        help: "socketry's own: carry messages over this byte stream, each as its big-endian length in 2 or 4 bytes and then its bytes" },
    OptionDef { id: OptionId::PeerUid, name: "peer-uid", aliases: &[], group: Groups::PEERCRED, kind: ValueKind::User,
        help: "admit only peers running as this user (name or uid; repeatable); others are closed and logged" },
    OptionDef { id: OptionId::PeerGid, name: "peer-gid", aliases: &[], group: Groups::PEERCRED, kind: ValueKind::Group,
        help: "admit only peers whose group is this one (name or gid; repeatable)" },
    OptionDef { id: OptionId::PeerPid, name: "peer-pid", aliases: &[], group: Groups::PEERCRED, kind: ValueKind::Count(Bounds::PID),
        help: "admit only the peer with this process id (repeatable)" },
    OptionDef { id: OptionId::ShmSize, name: "shm-size", aliases: &[], group: Groups::SHM_LISTEN, kind: ValueKind::Size(Bounds::ANY_BYTES),
        help: "bytes in each direction's ring, rounded up to a page (default 1048576, 4096 to 1073741824)" },
    OptionDef { id: OptionId::ShmSpin, name: "shm-spin", aliases: &[], group: Groups::SHM, kind: ValueKind::Count(Bounds::SPIN),
        help: "microseconds to spin before sleeping when the ring is empty or full (default 0)" },
    OptionDef { id: OptionId::ShmMessages, name: "shm-messages", aliases: &[], group: Groups::SHM, kind: ValueKind::Bool,
        help: "carry messages, boundaries kept, instead of a byte stream (both ends must agree)" },
    OptionDef { id: OptionId::TlsCert, name: "cert", aliases: &["certificate", "openssl-certificate"], group: Groups::TLS, kind: ValueKind::Text,
        help: "PEM file with this side's certificate chain, and its key unless key= is given (a server without it makes an ephemeral self-signed one)" },
    OptionDef { id: OptionId::TlsKey, name: "key", aliases: &["openssl-key"], group: Groups::TLS, kind: ValueKind::Text,
        help: "PEM file with the private key of cert=" },
    OptionDef { id: OptionId::TlsCafile, name: "cafile", aliases: &["openssl-cafile"], group: Groups::TLS, kind: ValueKind::Text,
        help: "PEM file of the authorities to trust (default: the system's); on a server, clients must present a certificate signed by one" },
    OptionDef { id: OptionId::TlsCapath, name: "capath", aliases: &["openssl-capath"], group: Groups::TLS, kind: ValueKind::Text,
        help: "directory of PEM files of the authorities to trust" },
    OptionDef { id: OptionId::TlsVerify, name: "verify", aliases: &["openssl-verify"], group: Groups::TLS, kind: ValueKind::Bool,
        help: "check the peer's certificate (default 1; verify=0 accepts any peer)" },
    OptionDef { id: OptionId::TlsCommonName, name: "commonname", aliases: &["cn", "openssl-commonname"], group: Groups::TLS, kind: ValueKind::Text,
        help: "the name the peer's certificate must be valid for (a client's default: the host)" },
    OptionDef { id: OptionId::TlsSniHost, name: "snihost", aliases: &["openssl-snihost"], group: Groups::TLS_CLIENT, kind: ValueKind::Text,
        help: "the server name sent as SNI (default: commonname, else the host)" },
    OptionDef { id: OptionId::TlsNoSni, name: "no-sni", aliases: &["nosni", "openssl-no-sni"], group: Groups::TLS_CLIENT, kind: ValueKind::Bool,
        help: "send no server name (SNI)" },
    OptionDef { id: OptionId::TlsMinVersion, name: "min-proto-version", aliases: &["min-version", "openssl-min-proto-version"], group: Groups::TLS, kind: ValueKind::TlsVersion,
        help: "the oldest protocol version spoken: TLS1.2 (default) or TLS1.3" },
    OptionDef { id: OptionId::TlsMaxVersion, name: "max-proto-version", aliases: &["max-version", "openssl-max-proto-version"], group: Groups::TLS, kind: ValueKind::TlsVersion,
        help: "the newest protocol version spoken: TLS1.3 (default) or TLS1.2" },
    OptionDef { id: OptionId::TlsCipher, name: "cipher", aliases: &["ciphers", "openssl-ciphers"], group: Groups::TLS, kind: ValueKind::Ciphers,
        help: "the cipher suites allowed, ':'-separated (a list that names no TLS1.3 suite leaves those as they are)" },
    OptionDef { id: OptionId::TlsCompress, name: "compress", aliases: &["openssl-compress"], group: Groups::TLS, kind: ValueKind::Compress,
        help: "only compress=none: TLS compression is unsafe and rustls never compresses" },
    OptionDef { id: OptionId::TlsAlpn, name: "alpn", aliases: &[], group: Groups::TLS, kind: ValueKind::Alpn,
        help: "application protocols offered or accepted, ':'-separated (h2:http/1.1)" },
    OptionDef { id: OptionId::TlsFingerprint, name: "fingerprint", aliases: &[], group: Groups::TLS, kind: ValueKind::Fingerprint,
        help: "pin the peer's certificate by its SHA-256 (sha256:HEX); without cafile/capath it replaces CA and name checks" },
    OptionDef { id: OptionId::TlsHandshakeTimeout, name: "handshake-timeout", aliases: &[], group: Groups::TLS, kind: ValueKind::Seconds,
        help: "how long the TLS handshake may take; a server's default is 10 (a silent client must not hold a fork slot), 0 is no limit; a client's default is no limit" },
    OptionDef { id: OptionId::TlsMethod, name: "method", aliases: &["openssl-method"], group: Groups::TLS, kind: ValueKind::Refused("the protocol version is chosen with min-proto-version and max-proto-version (TLS1.2, TLS1.3)"),
        help: "refused: use min-proto-version and max-proto-version" },
    OptionDef { id: OptionId::TlsEgd, name: "egd", aliases: &["openssl-egd"], group: Groups::TLS, kind: ValueKind::Refused("rustls takes its randomness from the operating system; there is no entropy daemon to ask"),
        help: "refused: rustls uses the operating system's randomness" },
    OptionDef { id: OptionId::TlsDhparams, name: "dhparams", aliases: &["dhparam", "openssl-dhparams", "openssl-dhparam"], group: Groups::TLS, kind: ValueKind::Refused("rustls uses only ECDHE key exchange, which has no Diffie-Hellman parameters to load"),
        help: "refused: rustls has no finite-field Diffie-Hellman" },
    OptionDef { id: OptionId::TlsFips, name: "fips", aliases: &["openssl-fips"], group: Groups::TLS, kind: ValueKind::Refused("rustls with the ring provider has no FIPS mode"),
        help: "refused: no FIPS mode" },
    OptionDef { id: OptionId::TlsPseudo, name: "pseudo", aliases: &["openssl-pseudo"], group: Groups::TLS, kind: ValueKind::Refused("rustls never falls back to a pseudo-random source: the operating system's is always there"),
        help: "refused: no pseudo-random fallback" },
    OptionDef { id: OptionId::Broadcast, name: "so-broadcast", aliases: &["broadcast"], group: Groups::IP, kind: ValueKind::Bool,
        help: "set SO_BROADCAST: send to (and take from) broadcast addresses" },
    OptionDef { id: OptionId::IpAddMembership, name: "ip-add-membership", aliases: &["add-membership"], group: Groups::IP, kind: ValueKind::Membership(MembershipForm::Ipv4),
        help: "join an IPv4 multicast group on an interface (group:if-address, group:if-name); may be given more than once" },
    OptionDef { id: OptionId::IpAddSourceMembership, name: "ip-add-source-membership", aliases: &["source-membership"], group: Groups::IP, kind: ValueKind::Membership(MembershipForm::Ipv4Source),
        help: "join an IPv4 multicast group for one source only (group:if-address:source)" },
    OptionDef { id: OptionId::IpMulticastIf, name: "ip-multicast-if", aliases: &["multicast-if"], group: Groups::IP, kind: ValueKind::Ipv4Address,
        help: "send IPv4 multicast out of the interface with this address" },
    OptionDef { id: OptionId::IpMulticastLoop, name: "ip-multicast-loop", aliases: &["multicast-loop"], group: Groups::IP, kind: ValueKind::Bool,
        help: "whether multicast sent is looped back to this host's own members (IPv4 and IPv6)" },
    OptionDef { id: OptionId::IpMulticastTtl, name: "ip-multicast-ttl", aliases: &["multicast-ttl"], group: Groups::IP, kind: ValueKind::Count(Bounds::HOPS),
        help: "the time to live (IPv6: hop limit) of multicast sent" },
    OptionDef { id: OptionId::Ipv6JoinGroup, name: "ipv6-join-group", aliases: &["join-group"], group: Groups::IP, kind: ValueKind::Membership(MembershipForm::Ipv6),
        help: "join an IPv6 multicast group on an interface ([group]:if-name); may be given more than once" },
    OptionDef { id: OptionId::SocksPort, name: "socksport", aliases: &[], group: Groups::SOCKS, kind: ValueKind::Port,
        help: "the SOCKS server's port (default 1080)" },
    OptionDef { id: OptionId::SocksUser, name: "socksuser", aliases: &[], group: Groups::SOCKS, kind: ValueKind::Text,
        help: "SOCKS4: the user id sent (default $LOGNAME, else $USER); SOCKS5: the username, with sockspass" },
    OptionDef { id: OptionId::SocksPass, name: "sockspass", aliases: &[], group: Groups::SOCKS5, kind: ValueKind::Text,
        help: "socketry's own: the SOCKS5 password (RFC 1929), with socksuser" },
    OptionDef { id: OptionId::SocksAuthFile, name: "socks-auth-file", aliases: &[], group: Groups::SOCKS5, kind: ValueKind::Text,
        help: "socketry's own: a file whose first line is the SOCKS5 user:password, kept off the command line" },
    OptionDef { id: OptionId::ProxyPort, name: "proxyport", aliases: &[], group: Groups::HTTP, kind: ValueKind::Port,
        help: "the HTTP proxy's port (default 8080)" },
    OptionDef { id: OptionId::ProxyAuth, name: "proxyauth", aliases: &["proxy-authorization", "proxy-auth"], group: Groups::HTTP, kind: ValueKind::Text,
        help: "user:password sent to the proxy as Proxy-Authorization: Basic" },
    OptionDef { id: OptionId::ProxyAuthFile, name: "proxy-authorization-file", aliases: &["proxy-auth-file"], group: Groups::HTTP, kind: ValueKind::Text,
        help: "like proxyauth, the credentials read from this file, every byte as it is (as socat does: write it without a newline)" },
    OptionDef { id: OptionId::IgnoreCr, name: "ignorecr", aliases: &[], group: Groups::HTTP, kind: ValueKind::Bool,
        help: "read the proxy's answer with LF as line end, dropping CRs (default: CR LF required)" },
    OptionDef { id: OptionId::ProxyResolve, name: "resolve", aliases: &["proxy-resolve"], group: Groups::HTTP, kind: ValueKind::Bool,
        help: "resolve the target name here and send the proxy its IPv4 address" },
    OptionDef { id: OptionId::HttpVersion, name: "http-version", aliases: &[], group: Groups::HTTP, kind: ValueKind::Text,
        help: "the version in the CONNECT request: 1.0 (default) or 1.1 (which adds a Host header)" },
    OptionDef { id: OptionId::WsText, name: "ws-text", aliases: &[], group: Groups::WEBSOCKET, kind: ValueKind::Bool,
        help: "send what is read as text frames (it must be UTF-8) instead of binary ones" },
    OptionDef { id: OptionId::WsHeader, name: "ws-header", aliases: &[], group: Groups::WEBSOCKET, kind: ValueKind::HttpHeader,
        help: "add this header field (Name:Value) to the opening request, or to a server's answer (repeatable)" },
    OptionDef { id: OptionId::WsProtocol, name: "ws-protocol", aliases: &[], group: Groups::WEBSOCKET, kind: ValueKind::HttpToken,
        help: "a subprotocol a client offers, or a server accepts (repeatable; a server refuses clients that offer none of them)" },
    OptionDef { id: OptionId::WsMaxMessage, name: "ws-max-message", aliases: &[], group: Groups::WEBSOCKET, kind: ValueKind::Size(Bounds::POSITIVE_INT_BYTES),
        help: "the longest message taken, in bytes; a longer one is an error (default 16777216)" },
    OptionDef { id: OptionId::WsPath, name: "path", aliases: &[], group: Groups::WEBSOCKET_LISTEN, kind: ValueKind::UrlPath,
        help: "serve only requests for this path; a request for another gets 404 and is logged" },
    OptionDef { id: OptionId::IpOptions, name: "ip-options", aliases: &["ipoptions"], group: Groups::IP, kind: ValueKind::HexBytes,
        help: "set IP_OPTIONS: these bytes (x and hex digits, as socat writes them) go as options in the header of every IPv4 packet sent" },
    OptionDef { id: OptionId::IpPktinfo, name: "ip-pktinfo", aliases: &["pktinfo"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IP_PKTINFO: each datagram received tells its interface, local and destination address (logged; SOCAT_IP_IF, SOCAT_IP_LOCADDR, SOCAT_IP_DSTADDR)" },
    OptionDef { id: OptionId::IpRecvTos, name: "ip-recvtos", aliases: &["recvtos"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IP_RECVTOS: each datagram received tells its type of service byte (logged; SOCAT_IP_TOS)" },
    OptionDef { id: OptionId::IpRecvTtl, name: "ip-recvttl", aliases: &["recvttl"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IP_RECVTTL: each datagram received tells its time to live (logged; SOCAT_IP_TTL)" },
    OptionDef { id: OptionId::IpRecvOpts, name: "ip-recvopts", aliases: &["recvopts"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IP_RECVOPTS: each datagram received tells its IP options, in hex (logged; SOCAT_IP_OPTIONS)" },
    OptionDef { id: OptionId::Timestamp, name: "so-timestamp", aliases: &["timestamp"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set SO_TIMESTAMP: each datagram received tells when it arrived (logged; SOCAT_TIMESTAMP)" },
    OptionDef { id: OptionId::Ipv6RecvPktinfo, name: "ipv6-recvpktinfo", aliases: &["ipv6-pktinfo"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IPV6_RECVPKTINFO: each datagram received tells its destination address and interface (logged; SOCAT_IPV6_DSTADDR, SOCAT_IPV6_IF)" },
    OptionDef { id: OptionId::Ipv6RecvHoplimit, name: "ipv6-recvhoplimit", aliases: &["ipv6-hoplimit"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IPV6_RECVHOPLIMIT: each datagram received tells its hop limit (logged; SOCAT_IPV6_HOPLIMIT)" },
    OptionDef { id: OptionId::Ipv6RecvTclass, name: "ipv6-recvtclass", aliases: &["ipv6-tclass-recv"], group: Groups::IP_DATAGRAM, kind: ValueKind::Bool,
        help: "set IPV6_RECVTCLASS: each datagram received tells its traffic class (logged; SOCAT_IPV6_TCLASS)" },
    OptionDef { id: OptionId::SetSockOpt, name: "setsockopt", aliases: &["sockopt"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Data),
        help: "setsockopt(2) by number once the socket is connected (accepted, for a listener; bound, for datagrams): LEVEL:NAME:VALUE, the value in socat's data form (512 is an int, x0102 two bytes)" },
    OptionDef { id: OptionId::SetSockOptInt, name: "setsockopt-int", aliases: &["sockopt-int"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Int),
        help: "as setsockopt, the value an int" },
    OptionDef { id: OptionId::SetSockOptBin, name: "setsockopt-bin", aliases: &["sockopt-bin"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Data),
        help: "as setsockopt (the value in socat's data form)" },
    OptionDef { id: OptionId::SetSockOptString, name: "setsockopt-string", aliases: &["sockopt-string"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Text),
        help: "as setsockopt, the value text, passed with a NUL after it" },
    OptionDef { id: OptionId::SetSockOptListen, name: "setsockopt-listen", aliases: &["sockopt-listen"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Data),
        help: "as setsockopt, set before the socket binds: on a listener, the listening socket (SO_REUSEADDR is 1:2:1)" },
    OptionDef { id: OptionId::SetSockOptConnected, name: "setsockopt-connected", aliases: &["sockopt-conn"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Data),
        help: "as setsockopt, once the socket is connected or accepted" },
    OptionDef { id: OptionId::SetSockOptSocket, name: "setsockopt-socket", aliases: &["sockopt-sock"], group: Groups::SOCKET, kind: ValueKind::SockOpt(SockOptForm::Data),
        help: "as setsockopt, set as soon as the socket exists, before any other option" },
    OptionDef { id: OptionId::BindTempname, name: "unix-bind-tempname", aliases: &["bind-tempname"], group: Groups::UNIX_CLIENT, kind: ValueKind::NamePattern,
        help: "bind the client socket to a new random name: the pattern's XXXXXX replaced (default /tmp/socketry-bind.XXXXXX; for ABSTRACT-*, in the abstract namespace); its file is removed on close" },
    OptionDef { id: OptionId::NoAtime, name: "o-noatime", aliases: &["noatime"], group: Groups::OPEN.union(Groups::DESCRIPTOR), kind: ValueKind::Bool,
        help: "reading does not update the file's access time (O_NOATIME: opened with it, or set on an inherited descriptor; the file's owner or root only)" },
    OptionDef { id: OptionId::Direct, name: "o-direct", aliases: &["direct"], group: Groups::OPEN, kind: ValueKind::Bool,
        help: "open with O_DIRECT: reads and writes bypass the page cache, through block-aligned buffers" },
    OptionDef { id: OptionId::FsNoAtime, name: "fs-noatime", aliases: &[], group: Groups::FILE, kind: ValueKind::Bool,
        help: "set the file's no-atime attribute (chattr +A, FS_NOATIME_FL): no reader updates its access time from then on" },
    OptionDef { id: OptionId::CoolWrite, name: "cool-write", aliases: &["coolwrite"], group: Groups::ALL, kind: ValueKind::Bool,
        help: "a write that fails because the reader went away (EPIPE, ECONNRESET) ends that direction quietly, logged at info level, instead of failing the run" },
    OptionDef { id: OptionId::PipeSize, name: "f-setpipe-sz", aliases: &["setpipe-sz", "pipesz"], group: Groups::DESCRIPTOR.union(Groups::NAMED_PIPE).union(Groups::EXEC), kind: ValueKind::Size(Bounds::POSITIVE_INT_BYTES),
        help: "the capacity of the pipe (F_SETPIPE_SZ; the kernel rounds it up to pages): of an inherited pipe, PIPE's, or a program's pipes (with pipes)" },
    OptionDef { id: OptionId::History, name: "history", aliases: &["history-file"], group: Groups::READLINE, kind: ValueKind::Text,
        help: "read the line history from this file, and add every line entered to it" },
    OptionDef { id: OptionId::Prompt, name: "prompt", aliases: &[], group: Groups::READLINE, kind: ValueKind::Text,
        help: "show this prompt before every line, instead of the peer's last unfinished line" },
    OptionDef { id: OptionId::NoPrompt, name: "noprompt", aliases: &[], group: Groups::READLINE, kind: ValueKind::Bool,
        help: "show no prompt: the peer's last unfinished line is printed as it is, not taken as the prompt" },
    OptionDef { id: OptionId::Ispeed, name: "ispeed", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Baud,
        help: "the terminal's input line speed, in bits per second (cfsetispeed)" },
    OptionDef { id: OptionId::Ospeed, name: "ospeed", aliases: &[], group: Groups::TERMINAL, kind: ValueKind::Baud,
        help: "the terminal's output line speed, in bits per second (cfsetospeed)" },
    OptionDef { id: OptionId::ChildrenShutup, name: "children-shutup", aliases: &[], group: Groups::CHILD.union(Groups::CONNECT), kind: ValueKind::Levels,
        help: "with fork: log what each peer's session logs this many levels lower (default 1: its errors as warnings, its notices as info); they still end the session" },
    OptionDef { id: OptionId::SigHup, name: "sighup", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "pass SIGHUP that socketry receives to the program instead of stopping on it" },
    OptionDef { id: OptionId::SigInt, name: "sigint", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "pass SIGINT that socketry receives to the program instead of stopping on it" },
    OptionDef { id: OptionId::SigQuit, name: "sigquit", aliases: &[], group: Groups::EXEC, kind: ValueKind::Bool,
        help: "pass SIGQUIT that socketry receives to the program instead of exiting on it" },
    OptionDef { id: OptionId::Netns, name: "netns", aliases: &[], group: Groups::SOCKET.union(Groups::EXEC).union(Groups::TUN), kind: ValueKind::NamespaceName,
        help: "open the address in this network namespace (/run/netns/NAME, as ip netns makes them; needs root): its sockets, the program it runs, or the TUN interface it creates; socketry itself stays in its own" },
    OptionDef { id: OptionId::AiAddrconfig, name: "ai-addrconfig", aliases: &["addrconfig"], group: Groups::IP, kind: ValueKind::Bool,
        help: "resolve a host name only to the families this host has a (non-loopback) address of, as getaddrinfo's AI_ADDRCONFIG (default 0)" },
    OptionDef { id: OptionId::ResNsaddr, name: "res-nsaddr", aliases: &[], group: Groups::IP, kind: ValueKind::NameServer,
        help: "resolve host names by asking this DNS server (ip[:port] or host[:port], port 53 by default) instead of the system's resolver; /etc/hosts is read first" },
    OptionDef { id: OptionId::ResRetry, name: "res-retry", aliases: &[], group: Groups::IP, kind: ValueKind::Count(Bounds::INT),
        help: "socketry's own DNS query (any res- option): how many times an unanswered query is sent again (default 2)" },
    OptionDef { id: OptionId::ResRetrans, name: "res-retrans", aliases: &[], group: Groups::IP, kind: ValueKind::Count(Bounds::POSITIVE_INT),
        help: "socketry's own DNS query: seconds to wait for each answer (default 5)" },
    OptionDef { id: OptionId::ResRecurse, name: "res-recurse", aliases: &[], group: Groups::IP, kind: ValueKind::Bool,
        help: "socketry's own DNS query: ask the server to recurse (default 1; res-recurse=0 asks only for what it knows)" },
    OptionDef { id: OptionId::ResUsevc, name: "res-usevc", aliases: &[], group: Groups::IP, kind: ValueKind::Bool,
        help: "socketry's own DNS query: ask over TCP instead of UDP" },
    OptionDef { id: OptionId::ResIgntc, name: "res-igntc", aliases: &[], group: Groups::IP, kind: ValueKind::Bool,
        help: "socketry's own DNS query: take a truncated UDP answer as it is instead of asking again over TCP" },
    OptionDef { id: OptionId::ResDebug, name: "res-debug", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("socketry's DNS queries are logged at -dd (the server asked) and -ddd (the answers), with no resolver debug switch"),
        help: "refused: socketry logs its DNS queries at -dd" },
    OptionDef { id: OptionId::ResAaonly, name: "res-aaonly", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("RES_AAONLY was never implemented by resolvers (glibc ignores it); there is nothing to honour"),
        help: "refused: an obsolete resolver flag" },
    OptionDef { id: OptionId::ResPrimary, name: "res-primary", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("RES_PRIMARY was never implemented by resolvers (glibc ignores it); there is nothing to honour"),
        help: "refused: an obsolete resolver flag" },
    OptionDef { id: OptionId::ResDefnames, name: "res-defnames", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("socketry's own DNS query asks for the name as written, without resolv.conf's search domains; give the full name"),
        help: "refused: socketry's DNS query does not append search domains" },
    OptionDef { id: OptionId::ResDnsrch, name: "res-dnsrch", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("socketry's own DNS query asks for the name as written, without resolv.conf's search domains; give the full name"),
        help: "refused: socketry's DNS query does not append search domains" },
    OptionDef { id: OptionId::ResStayopen, name: "res-stayopen", aliases: &[], group: Groups::IP, kind: ValueKind::Refused("socketry's DNS query over TCP (res-usevc) opens one connection per query and closes it; there is nothing to keep open"),
        help: "refused: no resolver connection outlives its query" },
}

impl OptionId {
    /// This option's row in [`OPTIONS`].
    pub fn def(self) -> &'static OptionDef {
        OPTIONS.iter().find(|d| d.id == self).unwrap_or(&OPTIONS[0])
    }
}

/// Looks an option up by name or alias, case-insensitively (`_` and `-` are the same).
pub fn lookup(name: &str) -> Option<&'static OptionDef> {
    let wanted = name.replace('_', "-");
    OPTIONS.iter().find(|d| {
        d.name.eq_ignore_ascii_case(&wanted)
            || d.aliases.iter().any(|a| a.eq_ignore_ascii_case(&wanted))
    })
}

/// Every name and alias of `defs`, for suggestions.
pub fn names<'a>(
    defs: impl Iterator<Item = &'a OptionDef> + 'a,
) -> impl Iterator<Item = &'static str> + 'a {
    defs.flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
}

/// An internet address range, as given to `range=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    /// The network's address.
    pub addr: IpAddr,
    /// How many leading bits of a peer's address must match `addr`.
    pub prefix: u8,
}

impl IpRange {
    /// Whether `ip` lies in this range. IPv4-mapped IPv6 peers match IPv4 ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn parse(text: &str) -> Option<IpRange> {
        let (addr, rest) = if let Some(inner) = text.strip_prefix('[') {
            let (addr, rest) = inner.split_once(']')?;
            (addr, rest)
        } else {
            match text.find(['/', ':']) {
                Some(i) => (&text[..i], &text[i..]),
                None => (text, ""),
            }
        };
        let addr: IpAddr = match addr.parse() {
            Ok(ip) => ip,
            Err(_) => resolve_range_host(addr, rest)?,
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = if let Some(bits) = rest.strip_prefix('/') {
            bits.parse::<u8>().ok().filter(|b| *b <= max)?
        } else if let Some(mask) = rest.strip_prefix(':') {
            let mask = mask.trim_start_matches('[').trim_end_matches(']');
            let bits = match (addr, mask.parse::<IpAddr>().ok()?) {
                (IpAddr::V4(_), IpAddr::V4(m)) => u128::from(u32::from(m)) << 96,
                (IpAddr::V6(_), IpAddr::V6(m)) => u128::from(m),
                _ => return None,
            };
            let ones = bits.leading_ones();
            // a mask must be contiguous ones followed by zeros
            if bits.checked_shl(ones).unwrap_or(0) != 0 {
                return None;
            }
            u8::try_from(ones).ok()?
        } else if rest.is_empty() {
            max
        } else {
            return None;
        };
        Some(IpRange { addr, prefix })
    }
}

/// A host name in a range (`range=localhost:255.255.255.255`), resolved when the address is
/// read, as users and service names are: its first address of the mask's family (an IPv6
/// mask, or more than 32 bits, asks for IPv6), or its first address at all.
fn resolve_range_host(name: &str, rest: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        return None;
    }
    let wants_v6 = match rest.strip_prefix(':') {
        Some(mask) => Some(mask.contains(':') || mask.starts_with('[')),
        None => rest
            .strip_prefix('/')
            .and_then(|bits| bits.parse::<u8>().ok())
            .map(|bits| bits > 32),
    };
    let found: Vec<IpAddr> = (name, 0).to_socket_addrs().ok()?.map(|a| a.ip()).collect();
    match wants_v6 {
        Some(v6) => found.into_iter().find(|ip| ip.is_ipv6() == v6),
        None => found.into_iter().next(),
    }
}

/// `addr`, `addr/bits` or `addr:mask`, IPv4 or IPv6 (in brackets or not): the text `range=`
/// takes, also read by servers' allow and deny lists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not an address range (expected an address, ADDR/BITS or ADDR:MASK, e.g. 10.0.0.0/8 or ::1)")]
pub struct IpRangeError(
    /// The text that was refused.
    pub String,
);

impl std::str::FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(text: &str) -> Result<IpRange, IpRangeError> {
        // An IPv6 address without brackets (`::1/128`): its colons are not a mask's.
        let bracketed = match text.split_once('/') {
            _ if text.starts_with('[') || text.matches(':').count() < 2 => None,
            Some((addr, bits)) => Some(format!("[{addr}]/{bits}")),
            None => Some(format!("[{text}]")),
        };
        bracketed
            .as_deref()
            .and_then(IpRange::parse)
            .or_else(|| IpRange::parse(text))
            .ok_or_else(|| IpRangeError(text.to_owned()))
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}/{}", self.prefix),
            IpAddr::V6(a) => write!(f, "[{a}]/{}", self.prefix),
        }
    }
}

/// A local address given to `bind=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    /// An internet address: host, port, or both.
    Ip {
        /// The local host to bind; none leaves it to the kernel.
        host: Option<Host>,
        /// The local port to bind; none leaves it to the kernel.
        port: Option<u16>,
    },
    /// A Unix socket name.
    Unix(UnixName),
    /// A generic socket's address: the bytes after the address family, in socat's data
    /// form (`x...`).
    Data(Vec<u8>),
}

/// The value of one option, typed by its [`ValueKind`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A flag's value ([`ValueKind::Bool`]).
    Bool(bool),
    /// An integer or byte count, within its option's [`Bounds`].
    Count(u64),
    /// A duration ([`ValueKind::Seconds`]).
    Seconds(Duration),
    /// A port number, service names already resolved.
    Port(u16),
    /// Permission bits, read as octal.
    Mode(u32),
    /// An address family (`pf=`).
    Family(Family),
    /// A socket type number (`socktype=`).
    SockType(i32),
    /// A local address (`bind=`).
    Bind(BindAddr),
    /// An address range (`range=`).
    Range(IpRange),
    /// Free text, taken as given.
    Text(String),
    /// A user, resolved when the address was read.
    User(UserId),
    /// A group, resolved when the address was read.
    Group(GroupId),
    /// The user a program runs as, resolved when the address was read.
    Account(Box<Account>),
    /// An environment variable's name and value.
    Assignment(String, String),
    /// A multicast group to join.
    Membership(Membership),
    /// An IP address.
    Address(IpAddr),
    /// Raw bytes ([`ValueKind::HexBytes`]).
    Bytes(Vec<u8>),
    /// A socket option by number (`setsockopt=` and its kin).
    SockOpt(SockOpt),
    /// A generic socket's address range (`range=` of a SOCKET-* address).
    DataRange(DataRange),
    /// A name pattern (`bind-tempname`); `None` for the default one.
    NamePattern(Option<String>),
    /// An IP address and port (`res-nsaddr`).
    SocketAddr(std::net::SocketAddr),
}

/// Which kind of socket name a `bind=` value is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindDomain {
    /// An internet socket; ports may be service names of the protocol, if it has one.
    Ip(Option<Protocol>),
    /// A Unix socket bound to a filesystem path.
    UnixPath,
    /// A Unix socket in Linux's abstract namespace.
    UnixAbstract,
    /// A generic socket (SOCKET-*): socket addresses, and address ranges, are bytes in
    /// socat's data form.
    Data,
}

/// Why an option value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ValueError {
    /// It is not a value of its kind.
    Malformed,
    /// It names a user or group the system does not know, or could not be asked about.
    Lookup(LookupError),
}

/// Parses an option value from the address's bytes: a Unix socket path (`bind=` of a Unix
/// address) may be any bytes the file system takes; every other value is UTF-8 text. Users
/// and groups are looked up now.
pub(crate) fn parse_value_bytes(
    kind: ValueKind,
    bytes: Option<&[u8]>,
    domain: BindDomain,
) -> Result<Value, ValueError> {
    if let (ValueKind::User | ValueKind::Group | ValueKind::Account, Some(bytes)) = (kind, bytes) {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| ValueError::Malformed)?
            .trim();
        if text.is_empty() || text.contains('\0') {
            return Err(ValueError::Malformed);
        }
        return resolve(kind, text).map_err(ValueError::Lookup);
    }
    plain_value_bytes(kind, bytes, domain).map_err(|()| ValueError::Malformed)
}

/// What an unknown name's error adds about the option: the peer filters have always said
/// that a number is taken too.
pub(crate) fn name_hint(id: OptionId) -> Option<&'static str> {
    match id {
        OptionId::PeerUid => Some(ValueKind::User.expected()),
        OptionId::PeerGid => Some(ValueKind::Group.expected()),
        _ => None,
    }
}

/// A user or group value, looked up.
fn resolve(kind: ValueKind, text: &str) -> Result<Value, LookupError> {
    match kind {
        ValueKind::Group => users::group(text).map(Value::Group),
        ValueKind::Account => users::account(text).map(|a| Value::Account(Box::new(a))),
        _ => users::user(text).map(Value::User),
    }
}

fn plain_value_bytes(
    kind: ValueKind,
    bytes: Option<&[u8]>,
    domain: BindDomain,
) -> Result<Value, ()> {
    match (kind, domain, bytes) {
        (ValueKind::Bind, BindDomain::UnixPath, Some(bytes)) => {
            let path = std::path::Path::new(std::ffi::OsStr::from_bytes(bytes.trim_ascii()));
            UnixName::path(path)
                .map(|n| Value::Bind(BindAddr::Unix(n)))
                .map_err(|_| ())
        }
        (_, _, Some(bytes)) => parse_value(
            kind,
            Some(std::str::from_utf8(bytes).map_err(|_| ())?),
            domain,
        ),
        (_, _, None) => parse_value(kind, None, domain),
    }
}

/// Parses an option value of `kind`; `None` is the option written without `=`.
pub(crate) fn parse_value(
    kind: ValueKind,
    text: Option<&str>,
    domain: BindDomain,
) -> Result<Value, ()> {
    let Some(text) = text else {
        return match kind {
            ValueKind::Bool => Ok(Value::Bool(true)),
            ValueKind::DaemonName => Ok(Value::Text(program_name())),
            ValueKind::ProxyVersion => Ok(Value::Bool(true)),
            ValueKind::NamePattern => Ok(Value::NamePattern(None)),
            ValueKind::Levels => Ok(Value::Count(1)),
            _ => Err(()),
        };
    };
    let text = text.trim();
    match kind {
        ValueKind::Bool => match text.to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Ok(Value::Bool(true)),
            "0" | "no" | "false" | "off" => Ok(Value::Bool(false)),
            _ => Err(()),
        },
        ValueKind::Count(bounds) | ValueKind::Size(bounds) => parse_count(text)
            .ok()
            .filter(|n| bounds.contains(*n))
            .map(Value::Count)
            .ok_or(()),
        ValueKind::Seconds => parse_seconds(text).map(Value::Seconds).ok_or(()),
        ValueKind::Port => parse_port(text, domain).map(Value::Port),
        ValueKind::Mode => u32::from_str_radix(text, 8)
            .ok()
            .filter(|m| *m <= 0o7777)
            .map(Value::Mode)
            .ok_or(()),
        ValueKind::Family => Family::parse_pf(text).map(Value::Family).ok_or(()),
        ValueKind::SockType => match text.parse::<i32>() {
            Ok(t @ (1 | 2 | 5)) => Ok(Value::SockType(t)),
            _ => Err(()),
        },
        ValueKind::Bind => match domain {
            BindDomain::Ip(_) => parse_ip_bind(text, domain).map(Value::Bind),
            BindDomain::UnixPath => UnixName::path(text)
                .map(|n| Value::Bind(BindAddr::Unix(n)))
                .map_err(|_| ()),
            BindDomain::UnixAbstract => UnixName::abstract_name(text)
                .map(|n| Value::Bind(BindAddr::Unix(n)))
                .map_err(|_| ()),
            BindDomain::Data => super::data::parse(text.as_bytes())
                .map(|bytes| Value::Bind(BindAddr::Data(bytes)))
                .map_err(|_| ()),
        },
        ValueKind::Range if domain == BindDomain::Data => {
            DataRange::parse(text).map(Value::DataRange).ok_or(())
        }
        ValueKind::Range => IpRange::parse(text).map(Value::Range).ok_or(()),
        ValueKind::Membership(form) => form.parse(text).map(Value::Membership).ok_or(()),
        ValueKind::Ipv4Address => text
            .parse::<std::net::Ipv4Addr>()
            .map(|ip| Value::Address(IpAddr::V4(ip)))
            .map_err(|_| ()),
        ValueKind::Text | ValueKind::DaemonName if text.is_empty() => Err(()),
        ValueKind::Text | ValueKind::DaemonName => Ok(Value::Text(text.to_owned())),
        ValueKind::User | ValueKind::Group | ValueKind::Account if text.contains('\0') => Err(()),
        ValueKind::User | ValueKind::Group | ValueKind::Account => {
            resolve(kind, text).map_err(|_| ())
        }
        ValueKind::Assignment => match text.split_once('=') {
            Some((name, value)) if !name.is_empty() && !name.contains('\0') => {
                Ok(Value::Assignment(name.to_owned(), value.to_owned()))
            }
            _ => Err(()),
        },
        ValueKind::Descriptor => text
            .parse::<u16>()
            .map(|n| Value::Count(u64::from(n)))
            .map_err(|_| ()),
        ValueKind::Priority => match text.parse::<u16>() {
            Ok(p) if p < 32768 => Ok(Value::Count(u64::from(p))),
            _ => Err(()),
        },
        ValueKind::Levels => match text.parse::<u64>() {
            Ok(n @ 1..=4) if !text.starts_with('+') => Ok(Value::Count(n)),
            _ => Err(()),
        },
        ValueKind::NamespaceName => {
            let plain = !text.is_empty()
                && text != "."
                && text != ".."
                && !text.contains('/')
                && !text.contains('\0');
            if plain {
                Ok(Value::Text(text.to_owned()))
            } else {
                Err(())
            }
        }
        ValueKind::NameServer => parse_name_server(text).map(Value::SocketAddr),
        ValueKind::Baud => match text.parse::<u32>() {
            Ok(rate) if BAUD_RATES.contains(&rate) && !text.starts_with('+') => {
                Ok(Value::Count(u64::from(rate)))
            }
            _ => Err(()),
        },
        ValueKind::TunType => match text.to_ascii_lowercase().as_str() {
            kind @ ("tun" | "tap") => Ok(Value::Text(kind.to_owned())),
            _ => Err(()),
        },
        ValueKind::PrefixWidth => match text {
            "2" => Ok(Value::Count(2)),
            "4" => Ok(Value::Count(4)),
            _ => Err(()),
        },
        // Checked now, kept as text: the TLS settings are built from it when the address
        // opens, by the same parsers.
        ValueKind::TlsVersion => text
            .parse::<crate::tls::ProtocolVersion>()
            .map(|v| Value::Text(v.to_string()))
            .map_err(|_| ()),
        ValueKind::Fingerprint => text
            .parse::<crate::tls::Fingerprint>()
            .map(|f| Value::Text(f.to_string()))
            .map_err(|_| ()),
        ValueKind::Ciphers => text
            .parse::<crate::tls::CipherList>()
            .map(|_| Value::Text(text.to_owned()))
            .map_err(|_| ()),
        ValueKind::Alpn => crate::tls::parse_alpn(text)
            .map(|_| Value::Text(text.to_owned()))
            .map_err(|_| ()),
        ValueKind::Compress => crate::tls::parse_compress(text)
            .map(|()| Value::Text(text.to_owned()))
            .map_err(|_| ()),
        ValueKind::Refused(_) => Err(()),
        ValueKind::HttpHeader => match text.split_once(':') {
            Some((name, value)) if is_http_token(name) && is_header_value(value.trim()) => {
                Ok(Value::Text(format!("{name}:{}", value.trim())))
            }
            _ => Err(()),
        },
        ValueKind::HttpToken if is_http_token(text) => Ok(Value::Text(text.to_owned())),
        ValueKind::UrlPath if is_url_path(text) => Ok(Value::Text(text.to_owned())),
        ValueKind::HttpToken | ValueKind::UrlPath => Err(()),
        ValueKind::ProxyVersion => match text {
            "1" => Ok(Value::Count(1)),
            "2" => Ok(Value::Count(2)),
            _ => Err(()),
        },
        ValueKind::HexBytes => parse_hex_bytes(text).map(Value::Bytes),
        ValueKind::SockOpt(form) => SockOpt::parse(text, form).map(Value::SockOpt).ok_or(()),
        ValueKind::NamePattern => match domain {
            // The name must fit a socket address, whatever replaces the Xs.
            BindDomain::UnixPath if text.contains("XXXXXX") && UnixName::path(text).is_ok() => {
                Ok(Value::NamePattern(Some(text.to_owned())))
            }
            BindDomain::UnixAbstract
                if text.contains("XXXXXX") && UnixName::abstract_name(text).is_ok() =>
            {
                Ok(Value::NamePattern(Some(text.to_owned())))
            }
            _ => Err(()),
        },
    }
}

/// The most bytes of IP options a header holds (its 60 bytes less the 20 it always has).
const MAX_IP_OPTION_BYTES: usize = 40;

/// `x` and pairs of hex digits (`x01000000`), as socat writes binary values: at least one
/// byte, at most what an IP header has room for.
fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, ()> {
    let digits = text.strip_prefix(['x', 'X']).ok_or(())?;
    if digits.is_empty()
        || digits.len() % 2 != 0
        || digits.len() / 2 > MAX_IP_OPTION_BYTES
        || !digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(())
        })
        .collect()
}

/// The program's name, as TCP wrappers know a daemon by: the base name it was run by.
pub(crate) fn program_name() -> String {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "socketry".to_owned())
}

/// RFC 9110's token: what a header field's name and a WebSocket subprotocol are made of.
pub fn is_http_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A header field's value: visible characters, spaces and tabs, nothing that would end the
/// line.
fn is_header_value(text: &str) -> bool {
    text.bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// A request's path as `path=` compares it: absolute, nothing a request line cannot hold.
fn is_url_path(text: &str) -> bool {
    text.starts_with('/')
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#')
}

fn parse_count(text: &str) -> Result<u64, ()> {
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).map_err(|_| ())
    } else {
        text.parse().map_err(|_| ())
    }
}

/// What keeps `value` of a numeric option from being a number at all: no digit where it
/// starts ("missing numerical value"), or text after the digits ("trailing garbage"). `None`
/// for a number (perhaps out of range) and for options that are not numeric.
pub(crate) fn numeric_flaw(kind: ValueKind, value: &[u8]) -> Option<&'static str> {
    let numeric = matches!(
        kind,
        ValueKind::Count(_)
            | ValueKind::Size(_)
            | ValueKind::Descriptor
            | ValueKind::Priority
            | ValueKind::Baud
            | ValueKind::Levels
    );
    if !numeric {
        return None;
    }
    // A sign makes a number out of range, not a non-number.
    let text = value.trim_ascii();
    let text = text
        .strip_prefix(b"-")
        .or_else(|| text.strip_prefix(b"+"))
        .unwrap_or(text);
    let digits = match text
        .strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
    {
        Some(hex) if !hex.is_empty() => {
            hex.iter().take_while(|b| b.is_ascii_hexdigit()).count() + 2
        }
        _ => text.iter().take_while(|b| b.is_ascii_digit()).count(),
    };
    if digits == 0 {
        Some("missing numerical value")
    } else if digits < text.len() {
        Some("trailing garbage")
    } else {
        None
    }
}

/// A DNS server: `1.2.3.4`, `1.2.3.4:5353`, `[::1]` or `[::1]:53`.
fn parse_name_server(text: &str) -> Result<std::net::SocketAddr, ()> {
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Ok(addr);
    }
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    // A host name (`localhost:5353`), looked up now as range= looks its names up: the
    // server's own address cannot be asked of the server. IPv4 first, as socat takes it.
    let (name, port) = match text.rsplit_once(':') {
        Some((name, port)) => (name, port.parse::<u16>().map_err(|_| ())?),
        None => (text, 53),
    };
    let plain_name = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
    if !plain_name {
        return Err(());
    }
    use std::net::ToSocketAddrs;
    let found: Vec<std::net::SocketAddr> =
        (name, port).to_socket_addrs().map_err(|_| ())?.collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| found.first())
        .copied()
        .ok_or(())
}

/// A port number, or a service name of the address's protocol.
fn parse_port(text: &str, domain: BindDomain) -> Result<u16, ()> {
    if let Ok(port) = text.parse::<u16>() {
        return if text.starts_with('+') {
            Err(())
        } else {
            Ok(port)
        };
    }
    match domain {
        BindDomain::Ip(Some(protocol)) if services::is_service_name(text) => {
            services::port_of(text, protocol).ok_or(())
        }
        _ => Err(()),
    }
}

fn parse_ip_bind(text: &str, domain: BindDomain) -> Result<BindAddr, ()> {
    let (host, port) = if let Some(port) = text.strip_prefix(':') {
        (None, Some(port))
    } else if text.starts_with('[') {
        match text.rfind("]:") {
            Some(i) => (Some(&text[..=i]), Some(&text[i + 2..])),
            None => (Some(text), None),
        }
    } else if text.matches(':').count() == 1 {
        let (h, p) = text.split_once(':').ok_or(())?;
        (Some(h), Some(p))
    } else {
        (Some(text), None)
    };
    let host = host.map(|h| Host::parse(h).ok_or(())).transpose()?;
    let port = port.map(|p| parse_port(p, domain)).transpose()?;
    Ok(BindAddr::Ip { host, port })
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{}", u8::from(*b)),
            Value::Count(n) => write!(f, "{n}"),
            Value::Seconds(d) => write!(f, "{}", d.as_secs_f64()),
            Value::Port(p) => write!(f, "{p}"),
            Value::Mode(m) => write!(f, "{m:04o}"),
            Value::Family(family) => f.write_str(family.pf_name()),
            Value::SockType(t) => write!(f, "{t}"),
            Value::Bind(BindAddr::Ip { host, port }) => {
                if let Some(host) = host {
                    write!(f, "{host}")?;
                }
                if let Some(port) = port {
                    write!(f, ":{port}")?;
                }
                Ok(())
            }
            Value::Bind(BindAddr::Unix(name)) => f.write_str(&name.escaped()),
            Value::Bind(BindAddr::Data(bytes)) => f.write_str(&super::data::to_hex(bytes)),
            Value::Range(r) => write!(f, "{r}"),
            Value::Text(text) => f.write_str(&super::lexer::escape(text)),
            Value::User(user) => f.write_str(&super::lexer::escape(&user.given)),
            Value::Group(group) => f.write_str(&super::lexer::escape(&group.given)),
            Value::Account(account) => f.write_str(&super::lexer::escape(&account.given)),
            Value::Assignment(name, value) => {
                let escape = super::lexer::escape;
                write!(f, "{}={}", escape(name), escape(value))
            }
            // Addresses and interface names only: nothing the lexer reads specially.
            Value::Membership(m) => write!(f, "{m}"),
            Value::Address(ip) => write!(f, "{ip}"),
            Value::Bytes(bytes) => {
                f.write_str("x")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Value::SockOpt(option) => write!(f, "{option}"),
            Value::DataRange(range) => write!(f, "{range}"),
            Value::NamePattern(Some(pattern)) => f.write_str(&super::lexer::escape(pattern)),
            Value::NamePattern(None) => Ok(()),
            Value::SocketAddr(addr) => write!(f, "{addr}"),
        }
    }
}

/// The options an address carries, in the order given. Where an option is given twice the
/// last one counts, except `range`, where a peer in any of the ranges is admitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options(pub(crate) Vec<(OptionId, Value)>);

impl Options {
    /// The last value given for `id`.
    pub fn get(&self, id: OptionId) -> Option<&Value> {
        self.0.iter().rev().find(|(i, _)| *i == id).map(|(_, v)| v)
    }

    /// Whether `id` was given at all.
    pub fn has(&self, id: OptionId) -> bool {
        self.get(id).is_some()
    }

    /// A boolean option: its value, or `default` if not given.
    pub fn flag(&self, id: OptionId, default: bool) -> bool {
        match self.get(id) {
            Some(Value::Bool(b)) => *b,
            _ => default,
        }
    }

    /// An integer or byte-count option's value, if given.
    pub fn count(&self, id: OptionId) -> Option<u64> {
        match self.get(id) {
            Some(Value::Count(n)) => Some(*n),
            _ => None,
        }
    }

    /// A duration option's value, if given.
    pub fn seconds(&self, id: OptionId) -> Option<Duration> {
        match self.get(id) {
            Some(Value::Seconds(d)) => Some(*d),
            _ => None,
        }
    }

    /// A port option's value, if given.
    pub fn port(&self, id: OptionId) -> Option<u16> {
        match self.get(id) {
            Some(Value::Port(p)) => Some(*p),
            _ => None,
        }
    }

    /// The permission bits given to `mode=`.
    pub fn mode(&self) -> Option<u32> {
        match self.get(OptionId::Mode) {
            Some(Value::Mode(m)) => Some(*m),
            _ => None,
        }
    }

    /// The owner `user=` and `group=` give a file, if either is given: uid and gid, `None`
    /// for the one that stays.
    pub fn owner(&self) -> Option<(Option<u32>, Option<u32>)> {
        let uid = self.user(OptionId::User).map(|u| u.uid);
        let gid = self.group(OptionId::Group).map(|g| g.gid);
        (uid.is_some() || gid.is_some()).then_some((uid, gid))
    }

    /// The file creation mask given to `umask=`.
    pub fn umask(&self) -> Option<u32> {
        match self.get(OptionId::Umask) {
            Some(Value::Mode(m)) => Some(*m),
            _ => None,
        }
    }

    /// The address family given to `pf=`.
    pub fn family(&self) -> Option<Family> {
        match self.get(OptionId::ProtocolFamily) {
            Some(Value::Family(f)) => Some(*f),
            _ => None,
        }
    }

    /// The socket type number given to `socktype=`.
    pub fn socktype(&self) -> Option<i32> {
        match self.get(OptionId::SockType) {
            Some(Value::SockType(t)) => Some(*t),
            _ => None,
        }
    }

    /// The local address given to `bind=`.
    pub fn bind(&self) -> Option<&BindAddr> {
        match self.get(OptionId::Bind) {
            Some(Value::Bind(b)) => Some(b),
            _ => None,
        }
    }

    /// Every multicast group to join, of `ip-add-membership`, `ip-add-source-membership` and
    /// `ipv6-join-group`, in the order given.
    pub fn memberships(&self) -> impl Iterator<Item = &Membership> {
        self.0.iter().filter_map(|(_, v)| match v {
            Value::Membership(m) => Some(m),
            _ => None,
        })
    }

    /// A bytes option's value (`ip-options`).
    pub fn bytes(&self, id: OptionId) -> Option<&[u8]> {
        match self.get(id) {
            Some(Value::Bytes(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// An address option's value (`ip-multicast-if`).
    pub fn address(&self, id: OptionId) -> Option<IpAddr> {
        match self.get(id) {
            Some(Value::Address(ip)) => Some(*ip),
            _ => None,
        }
    }

    /// Every `range=` given; empty means every peer is admitted.
    pub fn ranges(&self) -> impl Iterator<Item = &IpRange> {
        self.ranges_of(OptionId::Range)
    }

    /// Every range given to `id` (`range=`, `proxy-protocol-from=`), in order.
    pub fn ranges_of(&self, id: OptionId) -> impl Iterator<Item = &IpRange> {
        self.0.iter().filter_map(move |(i, v)| match v {
            Value::Range(r) if *i == id => Some(r),
            _ => None,
        })
    }

    /// Every socket option given by number (`setsockopt=` and its kin), with the option
    /// that gave it (which says when it is set), in the order given.
    pub fn sockopts(&self) -> impl Iterator<Item = (OptionId, &SockOpt)> {
        self.0.iter().filter_map(|(id, v)| match v {
            Value::SockOpt(option) => Some((*id, option)),
            _ => None,
        })
    }

    /// Every `range=` of a generic socket (SOCKET-*), in order.
    pub fn data_ranges(&self) -> impl Iterator<Item = &DataRange> {
        self.0.iter().filter_map(|(_, v)| match v {
            Value::DataRange(r) => Some(r),
            _ => None,
        })
    }

    /// The pattern `bind-tempname` gives: `Some(None)` for the default one.
    pub fn name_pattern(&self, id: OptionId) -> Option<Option<&str>> {
        match self.get(id) {
            Some(Value::NamePattern(pattern)) => Some(pattern.as_deref()),
            _ => None,
        }
    }

    /// A text option's value.
    pub fn text(&self, id: OptionId) -> Option<&str> {
        match self.get(id) {
            Some(Value::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// A user option's value (`user`), resolved when the address was read.
    pub fn user(&self, id: OptionId) -> Option<&UserId> {
        match self.get(id) {
            Some(Value::User(user)) => Some(user),
            _ => None,
        }
    }

    /// A group option's value (`group`), resolved when the address was read.
    pub fn group(&self, id: OptionId) -> Option<&GroupId> {
        match self.get(id) {
            Some(Value::Group(group)) => Some(group),
            _ => None,
        }
    }

    /// The user a program runs as (`su`), resolved when the address was read.
    pub fn account(&self, id: OptionId) -> Option<&Account> {
        match self.get(id) {
            Some(Value::Account(account)) => Some(account),
            _ => None,
        }
    }

    /// Every `setenv=` given, in order.
    pub fn assignments(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().filter_map(|(_, v)| match v {
            Value::Assignment(name, value) => Some((name.as_str(), value.as_str())),
            _ => None,
        })
    }

    /// Adds an option after those given (so it wins over an earlier one).
    pub fn push(&mut self, id: OptionId, value: Value) {
        self.0.push((id, value));
    }

    /// Every option given, with its value, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (OptionId, &Value)> {
        self.0.iter().map(|(i, v)| (*i, v))
    }

    /// Whether no option was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_a_unique_name() {
        let mut names: Vec<&str> = OPTIONS
            .iter()
            .flat_map(|d| std::iter::once(d.name).chain(d.aliases.iter().copied()))
            .collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total);
    }

    #[test]
    fn looks_up_names_and_aliases_case_insensitively() {
        assert_eq!(lookup("FORK").map(|d| d.id), Some(OptionId::Fork));
        assert_eq!(
            lookup("so_reuseaddr").map(|d| d.id),
            Some(OptionId::ReuseAddr)
        );
        assert_eq!(lookup("perm").map(|d| d.id), Some(OptionId::Mode));
        assert!(lookup("frobnicate").is_none());
    }

    #[test]
    fn parses_values_by_kind() {
        let ip = BindDomain::Ip(None);
        let cases: &[(ValueKind, Option<&str>, Result<Value, ()>)] = &[
            (ValueKind::Bool, None, Ok(Value::Bool(true))),
            (ValueKind::Bool, Some("0"), Ok(Value::Bool(false))),
            (ValueKind::Bool, Some("maybe"), Err(())),
            (
                ValueKind::Count(Bounds::INT),
                Some("12"),
                Ok(Value::Count(12)),
            ),
            (ValueKind::Count(Bounds::INT), Some("-1"), Err(())),
            (ValueKind::Count(Bounds::INT), None, Err(())),
            (
                ValueKind::Seconds,
                Some("1.5"),
                Ok(Value::Seconds(Duration::from_millis(1500))),
            ),
            (ValueKind::Seconds, Some("-1"), Err(())),
            (ValueKind::Port, Some("65536"), Err(())),
            (ValueKind::Mode, Some("0600"), Ok(Value::Mode(0o600))),
            (ValueKind::Mode, Some("9"), Err(())),
            (ValueKind::SockType, Some("5"), Ok(Value::SockType(5))),
            (ValueKind::SockType, Some("3"), Err(())),
            (
                ValueKind::Family,
                Some("ip6"),
                Ok(Value::Family(Family::V6)),
            ),
            (
                ValueKind::Bind,
                Some(":5000"),
                Ok(Value::Bind(BindAddr::Ip {
                    host: None,
                    port: Some(5000),
                })),
            ),
            (
                ValueKind::Bind,
                Some("[::1]:80"),
                Ok(Value::Bind(BindAddr::Ip {
                    host: Some(Host::Ip("::1".parse().unwrap())),
                    port: Some(80),
                })),
            ),
        ];
        for (kind, text, want) in cases {
            assert_eq!(&parse_value(*kind, *text, ip), want, "{kind:?} {text:?}");
        }
    }

    /// Every numeric option, whatever its bounds, refuses what no bound admits, and takes
    /// its own bounds' ends.
    #[test]
    fn numeric_values_are_bounded() {
        let ip = BindDomain::Ip(None);
        for def in OPTIONS {
            let (min, max) = match def.kind {
                ValueKind::Count(b) | ValueKind::Size(b) => (b.min, b.max),
                ValueKind::Seconds => (0, MAX_SECONDS),
                _ => continue,
            };
            for text in [
                "-1",
                "18446744073709551616",
                "1e400",
                "NaN",
                "inf",
                "-inf",
                "",
                "x",
            ] {
                assert_eq!(
                    parse_value(def.kind, Some(text), ip),
                    Err(()),
                    "{}={text}",
                    def.name
                );
            }
            for n in [min, max] {
                assert!(
                    parse_value(def.kind, Some(&n.to_string()), ip).is_ok(),
                    "{}={n}",
                    def.name
                );
            }
            if max < u64::MAX {
                let over = (u128::from(max) + 1).to_string();
                assert_eq!(
                    parse_value(def.kind, Some(&over), ip),
                    Err(()),
                    "{}={over}",
                    def.name
                );
            }
            if min > 0 {
                let under = (min - 1).to_string();
                assert_eq!(
                    parse_value(def.kind, Some(&under), ip),
                    Err(()),
                    "{}={under}",
                    def.name
                );
            }
        }
    }

    #[test]
    fn seconds_stop_at_a_century() {
        let cases: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("1e-400", Some(Duration::ZERO)),
            ("0.25", Some(Duration::from_millis(250))),
            ("3155760000", Some(Duration::from_secs(MAX_SECONDS))),
            ("3155760000.5", None),
            ("1e19", None),
            ("-0.5", None),
            ("NaN", None),
            ("inf", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_seconds(text), *want, "{text}");
        }
    }

    #[test]
    fn ranges_match_by_prefix() {
        let r = IpRange::parse("127.0.0.0/8").unwrap();
        assert!(r.contains("127.1.2.3".parse().unwrap()));
        assert!(r.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!r.contains("10.0.0.1".parse().unwrap()));
        let r = IpRange::parse("10.0.0.0:255.255.0.0").unwrap();
        assert_eq!(r.prefix, 16);
        assert!(IpRange::parse("10.0.0.0:255.0.255.0").is_none());
        let r = IpRange::parse("[::1]/128").unwrap();
        assert!(r.contains("::1".parse().unwrap()));
        assert!(!r.contains("::2".parse().unwrap()));
        assert!(IpRange::parse("1.2.3.4/33").is_none());
        let r = IpRange::parse("localhost:255.255.255.255").unwrap();
        assert_eq!(r.to_string(), "127.0.0.1/32");
        assert!(IpRange::parse("no host name here:255.0.0.0").is_none());
        assert_eq!(
            IpRange::parse("0.0.0.0/0").map(|r| r.contains("8.8.8.8".parse().unwrap())),
            Some(true)
        );
    }
}
