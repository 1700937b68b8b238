//! socat's address language: `TYPE:param:param,option=value,...`, `-` for standard I/O, a bare
//! number for an inherited descriptor, and `READ!!WRITE` for a dual address. Parsing turns the
//! text into a typed [`Address`] once; nothing here does I/O.
//!
//! The tables in [`table`] and [`options`] drive parsing, help and error messages, so an
//! address type or option is described in exactly one place.

mod error;
mod lexer;
pub mod options;
pub mod suggest;
pub mod table;
mod types;

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::str::FromStr;

pub use error::{display_bytes, escape_controls, ParseError, ParseErrorKind, Quoted, QUOTE_MAX};
pub use options::{BindAddr, IpRange, IpRangeError, OptionId, Options, Value};
pub use table::AddressType;
pub use types::{
    join_command_line, split_command_line, ActivatedSocket, Family, Host, InterfaceAddr, Kind,
    Local, MqRole, QueueName, Remote, UnixName, UnixRole, MQ_NAME_MAX, UNIX_PATH_MAX,
};

use crate::services;
use lexer::Piece;
use options::{BindDomain, Groups};
use types::Tag;

/// One endpoint: what it is, and the options it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub kind: Kind,
    pub options: Options,
}

/// A parsed address: one endpoint, or a dual address that reads from one endpoint and writes to
/// another.
#[derive(Debug, Clone, PartialEq)]
pub enum Address {
    Single(Spec),
    Dual { read: Spec, write: Spec },
}

impl Address {
    /// Parses an address in socat's syntax.
    pub fn parse(input: &str) -> Result<Address, ParseError> {
        Address::parse_bytes(input.as_bytes())
    }

    /// Parses an address as the command line gives it: bytes, which in a path parameter need
    /// not be UTF-8 (`OPEN:/tmp/\xff`), as the file system allows.
    pub fn parse_os(input: &OsStr) -> Result<Address, ParseError> {
        Address::parse_bytes(input.as_bytes())
    }

    /// Parses an address from its bytes; see [`Address::parse_os`].
    pub fn parse_bytes(input: &[u8]) -> Result<Address, ParseError> {
        let parts = lexer::split_dual(input)?;
        match parts.as_slice() {
            [(base, text)] => parse_spec(input, *base, text).map(Address::Single),
            [(rbase, rtext), (wbase, wtext)] => Ok(Address::Dual {
                read: parse_spec(input, *rbase, rtext)?,
                write: parse_spec(input, *wbase, wtext)?,
            }),
            _ => Err(ParseError {
                input: error::display_bytes(input),
                position: parts.get(2).map_or(0, |p| p.0),
                kind: ParseErrorKind::InvalidParameter {
                    what: "dual address",
                    text: error::display_bytes(input),
                    expected: "at most one !! separating a read address from a write address",
                },
            }),
        }
    }

    /// The endpoints this address opens, the reading one first.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        let (first, second) = match self {
            Address::Single(spec) => (spec, None),
            Address::Dual { read, write } => (read, Some(write)),
        };
        std::iter::once(first).chain(second)
    }
}

impl FromStr for Address {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl Spec {
    /// The table row this endpoint's type is displayed by.
    pub fn address_type(&self) -> &'static AddressType {
        let (tag, family) = self.kind.tag();
        table::row_for(tag, family).unwrap_or(&table::ADDRESS_TYPES[0])
    }
}

/// A piece's bytes as text, for everything but paths.
fn utf8<'a>(piece: &'a Piece, what: &'static str) -> Result<&'a str, ParseErrorKind> {
    std::str::from_utf8(&piece.text).map_err(|_| ParseErrorKind::NotUtf8 {
        what,
        text: display_bytes(&piece.text),
    })
}

fn parse_spec(whole: &[u8], base: usize, text: &[u8]) -> Result<Spec, ParseError> {
    let error = |position: usize, kind| ParseError {
        input: display_bytes(whole),
        position,
        kind,
    };
    let pieces = lexer::split(whole, base, text)?;
    let first = &pieces.head[0];
    if first.text.is_empty() && pieces.head.len() == 1 && pieces.options.is_empty() {
        return Err(error(base, ParseErrorKind::Empty));
    }
    // A type name is ASCII; bytes that are not UTF-8 can only be a bare path.
    let first_text = std::str::from_utf8(&first.text).ok();

    let (row, params): (&AddressType, &[Piece]) =
        if !first.quoted && first.text == b"-" && pieces.head.len() == 1 {
            (
                table::row_for(Tag::Stdio, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &[],
            )
        } else if !first.text.is_empty()
            && first.text.iter().all(|b| b.is_ascii_digit())
            && pieces.head.len() == 1
        {
            (
                table::row_for(Tag::Fd, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &pieces.head[..],
            )
        } else if let Some(row) = first_text.and_then(table::lookup) {
            (row, &pieces.head[1..])
        } else if pieces.head.len() == 1 && first.text.contains(&b'/') {
            // A bare path is GOPEN, as in socat.
            (
                table::row_for(Tag::Gopen, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &pieces.head[..],
            )
        } else if let Some(name) = first_text.filter(|name| {
            table::LATER_TYPES
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name))
        }) {
            return Err(error(
                first.start,
                ParseErrorKind::NotSupportedYet {
                    name: name.to_ascii_uppercase(),
                },
            ));
        } else {
            return Err(error(
                first.start,
                ParseErrorKind::UnknownType {
                    name: display_bytes(&first.text),
                    suggestion: first_text.and_then(|name| suggest::nearest(name, table::names())),
                },
            ));
        };

    if params.len() < row.required {
        let position = base + text.iter().position(|&b| b == b',').unwrap_or(text.len());
        return Err(error(
            position,
            ParseErrorKind::MissingParameter {
                type_name: row.name,
                usage: row.usage(),
            },
        ));
    }
    if let Some(extra) = params.get(row.params.len()) {
        return Err(error(
            extra.start,
            ParseErrorKind::ExtraParameter {
                type_name: row.name,
                usage: row.usage(),
                extra: display_bytes(&extra.text),
            },
        ));
    }
    let kind = build_kind(row, params)
        .map_err(|kind| error(params.first().map_or(base, |p| p.start), kind))?;

    let domain = match row.tag {
        Tag::Unix(_) | Tag::ShmListen | Tag::ShmConnect => BindDomain::UnixPath,
        Tag::Abstract(_) => BindDomain::UnixAbstract,
        _ => BindDomain::Ip(protocol(row.tag)),
    };
    let mut options = Options::default();
    for piece in pieces.options.iter().filter(|p| !p.text.is_empty()) {
        let (name, value) = match piece.text.iter().position(|&b| b == b'=') {
            Some(i) => (&piece.text[..i], Some(&piece.text[i + 1..])),
            None => (&piece.text[..], None),
        };
        let name = std::str::from_utf8(name).map_err(|_| {
            error(
                piece.start,
                ParseErrorKind::UnknownOption {
                    name: display_bytes(name),
                    suggestion: None,
                },
            )
        })?;
        let def = options::lookup(name).ok_or_else(|| {
            // A near miss of an option this type takes first, then of any option.
            let applicable = options::OPTIONS
                .iter()
                .filter(|d| row.groups.intersects(d.group));
            let suggestion = suggest::nearest(name, options::names(applicable))
                .or_else(|| suggest::nearest(name, options::names(options::OPTIONS.iter())));
            error(
                piece.start,
                ParseErrorKind::UnknownOption {
                    name: name.to_owned(),
                    suggestion,
                },
            )
        })?;
        if !row.groups.intersects(def.group) {
            return Err(error(
                piece.start,
                ParseErrorKind::OptionNotApplicable {
                    name: def.name.to_owned(),
                    type_name: row.name,
                },
            ));
        }
        let value = options::parse_value_bytes(def.kind, value, domain).map_err(|()| {
            let kind = match value {
                None => ParseErrorKind::MissingOptionValue {
                    name: def.name.to_owned(),
                    expected: def.kind.expected(),
                },
                Some(v) => ParseErrorKind::InvalidOptionValue {
                    name: def.name.to_owned(),
                    value: display_bytes(v),
                    expected: def.kind.expected(),
                },
            };
            error(piece.start, kind)
        })?;
        options.0.push((def.id, value));
    }
    Ok(Spec { kind, options })
}

/// Which protocol's service names a port of this type is looked up by.
fn protocol(tag: Tag) -> Option<services::Protocol> {
    match tag {
        Tag::TcpConnect | Tag::TcpListen => Some(services::Protocol::Tcp),
        Tag::UdpConnect
        | Tag::UdpListen
        | Tag::UdpSendto
        | Tag::UdpRecvfrom
        | Tag::UdpRecv
        | Tag::UdpDatagram => Some(services::Protocol::Udp),
        _ => None,
    }
}

fn build_kind(row: &AddressType, params: &[Piece]) -> Result<Kind, ParseErrorKind> {
    let what = |i: usize| row.params.get(i).copied().unwrap_or("parameter");
    let text = |i: usize| utf8(&params[i], what(i));
    // Paths are bytes, as the file system takes them.
    let path = |i: usize| Path::new(OsStr::from_bytes(&params[i].text));
    let protocol = protocol(row.tag);
    let remote = || -> Result<Remote, ParseErrorKind> {
        let host_text = text(0)?;
        let host = Host::parse(host_text).ok_or_else(|| ParseErrorKind::InvalidHost {
            text: host_text.to_owned(),
        })?;
        if let (Host::Ip(ip), Family::V4 | Family::V6) = (&host, row.family) {
            if ip.is_ipv4() != (row.family == Family::V4) {
                return Err(ParseErrorKind::InvalidHost {
                    text: host_text.to_owned(),
                });
            }
        }
        Ok(Remote {
            host,
            port: parse_port(text(1)?, protocol)?,
            family: row.family,
        })
    };
    let local = || -> Result<Local, ParseErrorKind> {
        Ok(Local {
            port: parse_port(text(0)?, protocol)?,
            family: row.family,
        })
    };
    let descriptor = || -> Result<i32, ParseErrorKind> {
        let given = text(0)?;
        given
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "file descriptor",
                text: given.to_owned(),
                expected: "a non-negative number",
            })
    };
    let unix_name = |abstract_ns: bool| -> Result<UnixName, ParseErrorKind> {
        let name = if abstract_ns {
            UnixName::abstract_name(text(0)?)
        } else {
            UnixName::path(path(0))
        };
        match name {
            Ok(UnixName::Path(p)) if p.as_os_str().is_empty() => {
                Err(ParseErrorKind::InvalidParameter {
                    what: "Unix socket path",
                    text: String::new(),
                    expected: "a non-empty path",
                })
            }
            Ok(name) => Ok(name),
            Err(too_long) => Err(ParseErrorKind::PathTooLong {
                path: display_bytes(&params[0].text),
                len: too_long.len,
                max: UNIX_PATH_MAX,
            }),
        }
    };
    Ok(match row.tag {
        Tag::Stdio => Kind::Stdio,
        Tag::Stdin => Kind::Stdin,
        Tag::Stdout => Kind::Stdout,
        Tag::Stderr => Kind::Stderr,
        Tag::Fd => Kind::Fd(descriptor()?),
        Tag::AcceptFd => Kind::AcceptFd(descriptor()?),
        Tag::SystemdListen => Kind::SystemdListen(match params.first() {
            None => ActivatedSocket::Index(0),
            Some(_) => {
                let given = text(0)?;
                ActivatedSocket::parse(given).ok_or_else(|| ParseErrorKind::InvalidParameter {
                    what: "activated socket",
                    text: given.to_owned(),
                    expected: "an index from 0 or a FileDescriptorName (printable, no ':')",
                })?
            }
        }),
        Tag::TcpConnect => Kind::TcpConnect(remote()?),
        Tag::TcpListen => Kind::TcpListen(local()?),
        Tag::UdpConnect => Kind::UdpConnect(remote()?),
        Tag::UdpListen => Kind::UdpListen(local()?),
        Tag::UdpSendto => Kind::UdpSendto(remote()?),
        Tag::UdpRecvfrom => Kind::UdpRecvfrom(local()?),
        Tag::UdpRecv => Kind::UdpRecv(local()?),
        Tag::UdpDatagram => Kind::UdpDatagram(remote()?),
        Tag::Unix(role) => Kind::Unix(role, unix_name(false)?),
        Tag::ShmListen => Kind::ShmListen(unix_name(false)?),
        Tag::ShmConnect => Kind::ShmConnect(unix_name(false)?),
        Tag::Abstract(role) => Kind::Unix(role, unix_name(true)?),
        Tag::SocketPair => Kind::SocketPair,
        Tag::Pty => Kind::Pty,
        Tag::Pipe => Kind::Pipe(params.first().map(|_| path(0).to_path_buf())),
        Tag::Exec => match types::split_command_line(text(0)?) {
            Some(argv) if !argv.is_empty() => Kind::Exec(argv),
            Some(_) => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "command line",
                    text: text(0)?.to_owned(),
                    expected: "a program and its arguments",
                })
            }
            None => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "command line",
                    text: text(0)?.to_owned(),
                    expected: "every quote closed",
                })
            }
        },
        Tag::System | Tag::Shell if text(0)?.trim().is_empty() => {
            return Err(ParseErrorKind::InvalidParameter {
                what: "shell command",
                text: text(0)?.to_owned(),
                expected: "a command",
            })
        }
        Tag::System => Kind::System(text(0)?.to_owned()),
        Tag::Open | Tag::Create | Tag::Gopen if params[0].text.is_empty() => {
            return Err(ParseErrorKind::InvalidParameter {
                what: "file name",
                text: String::new(),
                expected: "a non-empty path",
            })
        }
        Tag::Open => Kind::Open(path(0).to_path_buf()),
        Tag::Create => Kind::Create(path(0).to_path_buf()),
        Tag::Gopen => Kind::Gopen(path(0).to_path_buf()),
        Tag::Shell => Kind::Shell(text(0)?.to_owned()),
        Tag::PosixMq(role) => match QueueName::parse(text(0)?) {
            Some(name) => Kind::PosixMq(role, name),
            None => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "message queue name",
                    text: text(0)?.to_owned(),
                    expected: "/name: a slash, then 1 to 255 bytes with no other slash",
                })
            }
        },
        Tag::Tun => match params.first() {
            None => Kind::Tun(None),
            Some(_) => match InterfaceAddr::parse(text(0)?) {
                Some(addr) => Kind::Tun(Some(addr)),
                None => {
                    return Err(ParseErrorKind::InvalidParameter {
                        what: "interface address",
                        text: text(0)?.to_owned(),
                        expected: "an IPv4 address and prefix length such as 10.0.0.1/24",
                    })
                }
            },
        },
    })
}

/// A port: a number, or for TCP and UDP a service name from /etc/services (`http`, `domain`).
fn parse_port(text: &str, protocol: Option<services::Protocol>) -> Result<u16, ParseErrorKind> {
    if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() {
        return text
            .parse::<u16>()
            .map_err(|_| ParseErrorKind::InvalidPort {
                text: text.to_owned(),
                protocol: None,
            });
    }
    let service = protocol.filter(|_| services::is_service_name(text));
    match service {
        Some(protocol) => {
            services::port_of(text, protocol).ok_or_else(|| ParseErrorKind::InvalidPort {
                text: text.to_owned(),
                protocol: Some(protocol.name()),
            })
        }
        None => Err(ParseErrorKind::InvalidPort {
            text: text.to_owned(),
            protocol: None,
        }),
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.address_type().name)?;
        self.kind.fmt_params(f)?;
        for (id, value) in self.options.iter() {
            match value {
                Value::Bool(true) => write!(f, ",{}", id.def().name)?,
                value => write!(f, ",{}={value}", id.def().name)?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Single(spec) => write!(f, "{spec}"),
            Address::Dual { read, write } => write!(f, "{read}!!{write}"),
        }
    }
}

/// Whether an option group applies to a spec's type (used by the endpoints to reject
/// combinations the table cannot express, such as `socktype=2` on a listener).
pub fn type_has_group(spec: &Spec, group: Groups) -> bool {
    spec.address_type().groups.contains(group)
}

#[cfg(test)]
mod tests;
