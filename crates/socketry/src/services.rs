//! Service names for ports, as getservbyname(3) finds them: `http` is 80 over TCP, `domain`
//! 53 over TCP and UDP. The database is /etc/services (Debian's netbase); a name counts only
//! for the protocol it is listed with.

use std::sync::OnceLock;

/// Where the services database lives.
pub const SERVICES_FILE: &str = "/etc/services";

/// The transport a service name is looked up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Names listed with `/tcp`, for TCP ports.
    Tcp,
    /// Names listed with `/udp`, for UDP ports.
    Udp,
}

impl Protocol {
    /// The protocol's name as /etc/services writes it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// Whether `text` can be a service name at all: what /etc/services names look like (letters,
/// digits, `-`, `_`, `.`, `+`, `/`-free, not only digits).
pub fn is_service_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'+'))
        && !text.bytes().all(|b| b.is_ascii_digit())
}

/// The port of service `name` over `protocol`, by name or alias (case-sensitively, as
/// getservbyname does); `None` if the database has no such service or cannot be read.
pub fn port_of(name: &str, protocol: Protocol) -> Option<u16> {
    static DATABASE: OnceLock<String> = OnceLock::new();
    let text = DATABASE.get_or_init(|| std::fs::read_to_string(SERVICES_FILE).unwrap_or_default());
    lookup(text, name, protocol)
}

/// Finds `name` over `protocol` in the text of a services database.
fn lookup(database: &str, name: &str, protocol: Protocol) -> Option<u16> {
    database.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let service = words.next()?;
        let (port, proto) = words.next()?.split_once('/')?;
        let named = service == name || words.any(|alias| alias == name);
        (named && proto == protocol.name())
            .then(|| port.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE: &str = "\
# comment line
tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
domain\t\t53/tcp\t\t\t\t# Domain Name Server
domain\t\t53/udp
ntp\t\t123/udp\t\t\t\t# Network Time Protocol
broken\t\tx/tcp
";

    #[test]
    fn finds_names_and_aliases_by_protocol() {
        let cases: &[(&str, Protocol, Option<u16>)] = &[
            ("http", Protocol::Tcp, Some(80)),
            ("www", Protocol::Tcp, Some(80)),
            ("http", Protocol::Udp, None),
            ("domain", Protocol::Udp, Some(53)),
            ("ntp", Protocol::Tcp, None),
            ("ntp", Protocol::Udp, Some(123)),
            ("HTTP", Protocol::Tcp, None),
            ("broken", Protocol::Tcp, None),
            ("comment", Protocol::Tcp, None),
            ("Server", Protocol::Tcp, None),
            ("nosuch", Protocol::Tcp, None),
        ];
        for (name, protocol, want) in cases {
            assert_eq!(
                lookup(DATABASE, name, *protocol),
                *want,
                "{name} {protocol:?}"
            );
        }
    }

    #[test]
    fn tells_names_from_numbers_and_junk() {
        for name in ["http", "x11-ssh", "h323hostcall", "kerberos_master", "sd.x"] {
            assert!(is_service_name(name), "{name}");
        }
        for text in ["", "80", "a b", "a:b", "a/b", "ä"] {
            assert!(!is_service_name(text), "{text}");
        }
    }
}
