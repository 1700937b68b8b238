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

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use error::{ParseError, ParseErrorKind};
pub use options::{BindAddr, IpRange, OptionId, Options, Value};
pub use table::AddressType;
pub use types::{
    join_command_line, split_command_line, ActivatedSocket, Family, Host, InterfaceAddr, Kind,
    Local, MqRole, QueueName, Remote, UnixName, UnixRole, MQ_NAME_MAX, UNIX_PATH_MAX,
};

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
        let parts = lexer::split_dual(input)?;
        match parts.as_slice() {
            [(base, text)] => parse_spec(input, *base, text).map(Address::Single),
            [(rbase, rtext), (wbase, wtext)] => Ok(Address::Dual {
                read: parse_spec(input, *rbase, rtext)?,
                write: parse_spec(input, *wbase, wtext)?,
            }),
            _ => Err(ParseError {
                input: input.to_owned(),
                position: parts.get(2).map_or(0, |p| p.0),
                kind: ParseErrorKind::InvalidParameter {
                    what: "dual address",
                    text: input.to_owned(),
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

fn parse_spec(whole: &str, base: usize, text: &str) -> Result<Spec, ParseError> {
    let error = |position: usize, kind| ParseError {
        input: whole.to_owned(),
        position,
        kind,
    };
    let pieces = lexer::split(whole, base, text)?;
    let first = &pieces.head[0];
    if first.text.is_empty() && pieces.head.len() == 1 && pieces.options.is_empty() {
        return Err(error(base, ParseErrorKind::Empty));
    }

    let (row, params): (&AddressType, &[Piece]) =
        if !first.quoted && first.text == "-" && pieces.head.len() == 1 {
            (
                table::row_for(Tag::Stdio, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &[],
            )
        } else if !first.text.is_empty()
            && first.text.bytes().all(|b| b.is_ascii_digit())
            && pieces.head.len() == 1
        {
            (
                table::row_for(Tag::Fd, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &pieces.head[..],
            )
        } else if let Some(row) = table::lookup(&first.text) {
            (row, &pieces.head[1..])
        } else if pieces.head.len() == 1 && first.text.contains('/') {
            // A bare path is GOPEN, as in socat.
            (
                table::row_for(Tag::Gopen, Family::Any).unwrap_or(&table::ADDRESS_TYPES[0]),
                &pieces.head[..],
            )
        } else if table::LATER_TYPES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&first.text))
        {
            return Err(error(
                first.start,
                ParseErrorKind::NotSupportedYet {
                    name: first.text.to_ascii_uppercase(),
                },
            ));
        } else {
            return Err(error(
                first.start,
                ParseErrorKind::UnknownType {
                    name: first.text.clone(),
                    suggestion: suggest::nearest(&first.text, table::names()),
                },
            ));
        };

    if params.len() < row.required {
        let position = base + text.find(',').unwrap_or(text.len());
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
                extra: extra.text.clone(),
            },
        ));
    }
    let kind = build_kind(row, params)
        .map_err(|kind| error(params.first().map_or(base, |p| p.start), kind))?;

    let domain = match row.tag {
        Tag::Unix(_) | Tag::ShmListen | Tag::ShmConnect => BindDomain::UnixPath,
        Tag::Abstract(_) => BindDomain::UnixAbstract,
        _ => BindDomain::Ip,
    };
    let mut options = Options::default();
    for piece in pieces.options.iter().filter(|p| !p.text.is_empty()) {
        let (name, value) = match piece.text.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (piece.text.as_str(), None),
        };
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
        let value = options::parse_value(def.kind, value, domain).map_err(|()| {
            let kind = match value {
                None => ParseErrorKind::MissingOptionValue {
                    name: def.name.to_owned(),
                    expected: def.kind.expected(),
                },
                Some(v) => ParseErrorKind::InvalidOptionValue {
                    name: def.name.to_owned(),
                    value: v.to_owned(),
                    expected: def.kind.expected(),
                },
            };
            error(piece.start, kind)
        })?;
        options.0.push((def.id, value));
    }
    Ok(Spec { kind, options })
}

fn build_kind(row: &AddressType, params: &[Piece]) -> Result<Kind, ParseErrorKind> {
    let text = |i: usize| params[i].text.as_str();
    let remote = || -> Result<Remote, ParseErrorKind> {
        let host = Host::parse(text(0)).ok_or_else(|| ParseErrorKind::InvalidHost {
            text: text(0).to_owned(),
        })?;
        if let (Host::Ip(ip), Family::V4 | Family::V6) = (&host, row.family) {
            if ip.is_ipv4() != (row.family == Family::V4) {
                return Err(ParseErrorKind::InvalidHost {
                    text: text(0).to_owned(),
                });
            }
        }
        Ok(Remote {
            host,
            port: parse_port(text(1))?,
            family: row.family,
        })
    };
    let local = || -> Result<Local, ParseErrorKind> {
        Ok(Local {
            port: parse_port(text(0))?,
            family: row.family,
        })
    };
    let descriptor = || -> Result<i32, ParseErrorKind> {
        text(0)
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "file descriptor",
                text: text(0).to_owned(),
                expected: "a non-negative number",
            })
    };
    let unix_name = |abstract_ns: bool| -> Result<UnixName, ParseErrorKind> {
        let name = if abstract_ns {
            UnixName::abstract_name(text(0))
        } else {
            UnixName::path(text(0))
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
                path: text(0).to_owned(),
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
            Some(param) => ActivatedSocket::parse(&param.text).ok_or_else(|| {
                ParseErrorKind::InvalidParameter {
                    what: "activated socket",
                    text: param.text.clone(),
                    expected: "an index from 0 or a FileDescriptorName (printable, no ':')",
                }
            })?,
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
        Tag::Pipe => Kind::Pipe(params.first().map(|p| PathBuf::from(&p.text))),
        Tag::Exec => match types::split_command_line(text(0)) {
            Some(argv) if !argv.is_empty() => Kind::Exec(argv),
            Some(_) => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "command line",
                    text: text(0).to_owned(),
                    expected: "a program and its arguments",
                })
            }
            None => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "command line",
                    text: text(0).to_owned(),
                    expected: "every quote closed",
                })
            }
        },
        Tag::System | Tag::Shell if text(0).trim().is_empty() => {
            return Err(ParseErrorKind::InvalidParameter {
                what: "shell command",
                text: text(0).to_owned(),
                expected: "a command",
            })
        }
        Tag::System => Kind::System(text(0).to_owned()),
        Tag::Open | Tag::Create | Tag::Gopen if text(0).is_empty() => {
            return Err(ParseErrorKind::InvalidParameter {
                what: "file name",
                text: String::new(),
                expected: "a non-empty path",
            })
        }
        Tag::Open => Kind::Open(PathBuf::from(text(0))),
        Tag::Create => Kind::Create(PathBuf::from(text(0))),
        Tag::Gopen => Kind::Gopen(PathBuf::from(text(0))),
        Tag::Shell => Kind::Shell(text(0).to_owned()),
        Tag::PosixMq(role) => match QueueName::parse(text(0)) {
            Some(name) => Kind::PosixMq(role, name),
            None => {
                return Err(ParseErrorKind::InvalidParameter {
                    what: "message queue name",
                    text: text(0).to_owned(),
                    expected: "/name: a slash, then 1 to 255 bytes with no other slash",
                })
            }
        },
        Tag::Tun => match params.first() {
            None => Kind::Tun(None),
            Some(param) => match InterfaceAddr::parse(&param.text) {
                Some(addr) => Kind::Tun(Some(addr)),
                None => {
                    return Err(ParseErrorKind::InvalidParameter {
                        what: "interface address",
                        text: param.text.clone(),
                        expected: "an IPv4 address and prefix length such as 10.0.0.1/24",
                    })
                }
            },
        },
    })
}

fn parse_port(text: &str) -> Result<u16, ParseErrorKind> {
    match text.parse::<u16>() {
        Ok(port) if !text.starts_with('+') => Ok(port),
        _ => Err(ParseErrorKind::InvalidPort {
            text: text.to_owned(),
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
