//! `-h`, `-hh`, `-hhh` and `-V`, written from the address, option and flag tables so that
//! help says exactly what is implemented.

use std::fmt::Write as _;

use socketry::address::options::{Groups, ValueKind, OPTIONS};

use crate::flags::FLAGS;

/// The socat release whose address language and test suite socketry follows.
pub const SOCAT_LANGUAGE: &str = "1.8.0.3";

/// The `-V` text. socat's test suite reads the `#define WITH_*` lines to decide which tests
/// apply, so only features that work are listed.
pub fn version() -> String {
    // socat's test suite reads the version from the second line, its last version number:
    // the socat release whose address language socketry speaks, so that the suite runs the
    // tests it gates on a version.
    let mut text = format!(
        "socketry - client/server communication over sockets, in socat's address language\nsocketry version {}, speaking the address language of socat {SOCAT_LANGUAGE}\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Ok(uname) = nix::sys::utsname::uname() {
        let _ = writeln!(
            text,
            "   running on {} version {}, release {}, machine {}",
            uname.sysname().to_string_lossy(),
            uname.version().to_string_lossy(),
            uname.release().to_string_lossy(),
            uname.machine().to_string_lossy()
        );
    }
    text.push_str("features:\n");
    // The families' features come from the registry; the rest are the relay's own.
    // NAMESPACES: netns= on socket and program addresses.
    let own = ["HELP", "STATS", "NAMESPACES"];
    for feature in socketry::registry::features().into_iter().chain(own) {
        let _ = writeln!(text, "  #define WITH_{feature} 1");
    }
    text
}

fn group_names(groups: Groups) -> String {
    groups.names().join(",")
}

/// socat's name for the type of an option's value, where socat names it the same way.
fn socat_type(kind: ValueKind) -> Option<&'static str> {
    use socketry::address::MembershipForm;
    match kind {
        ValueKind::Bool => Some("BOOL"),
        ValueKind::Count(_) => Some("INT"),
        ValueKind::Text => Some("STRING"),
        ValueKind::HexBytes => Some("BIN"),
        ValueKind::Membership(MembershipForm::Ipv4) => Some("IP-MREQN"),
        ValueKind::Membership(MembershipForm::Ipv4Source) => Some("IP-MREQ-SOURCE"),
        _ => None,
    }
}

/// The help text at `level` (1 for -h, 2 for -hh, 3 for -hhh).
pub fn help(level: usize) -> String {
    let mut text = String::from(
        "socketry: relay data between two addresses, in socat's address language.\n\n\
         usage: socketry [options] ADDRESS ADDRESS\n       \
         socketry server [flags] [PORT|ADDRESS]  echo, discard, chat, exec or print server (default port 8080)\n       \
         socketry proxy [flags] [PORT|ADDRESS]   SOCKS4/4a/5 and HTTP proxy (default port 1080)\n       \
         socketry client HOST PORT | ADDRESS   stdin/stdout to a server until it closes\n       \
         socketry connect ADDRESS | HOST PORT  stdin/stdout to an endpoint\n       \
         socketry listen [-k] PORT | ADDRESS  stdin/stdout to the first peer (-k or fork: one after another)\n       \
         socketry nc [flags] [HOST] PORT   netcat, with the flags OpenBSD nc and ncat share\n       \
         socketry scan HOST PORTS          which TCP ports accept connections (1-1024,8080)\n       \
         socketry send FILE ADDRESS | recv ADDRESS FILE  a file transfer verified by SHA-256\n       \
         socketry completions bash|zsh|fish | manpage   shell completions, the man page\n       \
         socketry bench [--quick] [--json] [--plot FILE.svg]   measure this machine's IPC mechanisms\n       \
         socketry help                     this text (also -h, --help, and SUBCOMMAND --help)\n\n\
         options:\n",
    );
    for flag in FLAGS {
        let name = match flag.value {
            Some(value) => format!("{} <{}>", flag.name, value.to_lowercase()),
            None => flag.name.to_owned(),
        };
        let _ = writeln!(text, "   {name:<18} {}", flag.help);
    }
    text.push_str(
        "\naddress syntax: TYPE:param:param,option=value,...   - is STDIO, a number N is FD:N,\n\
         READ!!WRITE reads from one address and writes to another; quote with '...', \"...\" or \\.\n\
         A port is a number or a service name from /etc/services for the type's protocol (http, www).\n\
         Seconds go up to a century (3155760000); counts and sizes up to what the system takes (-hh).\n\
         \naddress types:\n",
    );
    for row in socketry::registry::address_types() {
        let aliases = if row.aliases.is_empty() || level < 3 {
            String::new()
        } else {
            format!(" (also {})", row.aliases.join(", "))
        };
        let _ = writeln!(text, "   {:<32} {}{aliases}", row.usage(), row.help);
        if level >= 2 {
            let _ = writeln!(text, "   {:<32}   groups: {}", "", group_names(row.groups));
        }
    }
    text.push_str(
        "\nlayers (LAYER|...|ADDRESS: the rightmost address opens the connection, each layer runs\n\
         over what is on its right with its own options only; left of a listener, over each\n\
         connection it accepts):\n",
    );
    for row in socketry::registry::layers::layer_types() {
        let aliases = if row.aliases.is_empty() || level < 3 {
            String::new()
        } else {
            format!(" (also {})", row.aliases.join(", "))
        };
        let _ = writeln!(text, "   {:<32} {}{aliases}", row.usage(), row.help);
        if level >= 2 {
            let _ = writeln!(text, "   {:<32}   groups: {}", "", group_names(row.groups));
        }
    }
    if level >= 2 {
        text.push_str(
            "\naddress options (each described, then its value and the groups of types it applies to):\n",
        );
        for option in OPTIONS {
            let value = match option.kind {
                ValueKind::Bool => {
                    "none (1), or 0 or 1 (also no/yes, false/true, off/on)".to_owned()
                }
                kind => format!("<{}>", kind.expected()),
            };
            // -hhh also writes the groups (and, where socat has a name for it, the value's
            // type) on the option's own line in socat's `groups=` and `type=` form, which
            // socat's test suite reads back.
            let machine = match (level >= 3, socat_type(option.kind)) {
                (true, Some(ty)) => format!("\tgroups={}\ttype={ty}", group_names(option.group)),
                (true, None) => format!("\tgroups={}", group_names(option.group)),
                (false, _) => String::new(),
            };
            let _ = writeln!(text, "   {:<20} {}{machine}", option.name, option.help);
            let _ = writeln!(
                text,
                "   {:<20}   value: {value} | groups: {}",
                "",
                group_names(option.group)
            );
            if level >= 3 {
                for alias in option.aliases {
                    let _ = writeln!(text, "   {alias:<20} same as {}", option.name);
                }
            }
        }
    }
    let _ = write!(
        text,
        "\nlimits (none for TCP or Unix connections unless given, as in socat):\n   \
         max-children=N   a forking server serves at most N peers at once; the rest wait\n   \
         {:<16} forking UDP-LISTEN/UDP-RECVFROM/UNIX-RECVFROM sessions at once without\n   \
         {:<16} max-children; a new peer ends the idlest (*-RECVFROM: the oldest), logged\n   \
         idle-timeout=S   a UDP-LISTEN session ends after S seconds without a datagram (default {})\n   \
         -T S             the relay ends after S seconds without data either way\n   \
         -t S             after the first EOF, the relay ends once the other side is idle S s\n   \
         range=, sourceport=, peer-uid=, peer-gid=, peer-pid=   which peers are admitted\n   \
         backlog=N        connections the kernel queues before accepting (default {})\n\
         a forking listener warns once when its connections near the descriptor limit (ulimit -n).\n",
        format!("{} sessions", socketry::endpoint::udp::DEFAULT_SESSION_CAP),
        "",
        socketry::endpoint::udp::DEFAULT_IDLE_TIMEOUT.as_secs(),
        socketry::endpoint::tcp::DEFAULT_BACKLOG,
    );
    text.push_str(
        "\nmessage endpoints (datagrams, seqpacket, POSIX message queues, TUN packets) relayed to\n\
         streams: each message's bytes are written in order; each stream read becomes one message\n\
         (at most one buffer, 64 KiB or more, and no more than the destination takes). To keep\n\
         messages whole across a stream, give both of its ends length-prefix=2 (or 4).\n",
    );
    text
}
