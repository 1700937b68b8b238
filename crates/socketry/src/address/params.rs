//! An address's parameters, as a family's parse function reads them: each one as text, a
//! path, a port, a host and port, a Unix socket name or a descriptor number, with errors that
//! name what was expected.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::error::display_bytes;
use super::error::ParseErrorKind;
use super::lexer::Piece;
use super::options::BindDomain;
use super::table::AddressType;
use super::types::{Family, Host, Local, Remote, UnixName, UNIX_PATH_MAX};
use crate::services;

/// The parameters given to one address type, already counted against its usage (at least
/// `required`, at most `params.len()`).
#[derive(Debug)]
pub struct Params<'a> {
    ty: &'static AddressType,
    pieces: &'a [Piece],
}

impl<'a> Params<'a> {
    pub(crate) fn new(ty: &'static AddressType, pieces: &'a [Piece]) -> Params<'a> {
        Params { ty, pieces }
    }

    /// How many parameters were given.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    /// Whether no parameter was given.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    fn what(&self, i: usize) -> &'static str {
        self.ty.params.get(i).copied().unwrap_or("parameter")
    }

    fn piece(&self, i: usize) -> Result<&'a Piece, ParseErrorKind> {
        self.pieces
            .get(i)
            .ok_or_else(|| ParseErrorKind::MissingParameter {
                type_name: self.ty.name,
                usage: self.ty.usage(),
            })
    }

    /// Parameter `i` as text (everything but paths must be UTF-8).
    pub fn text(&self, i: usize) -> Result<&'a str, ParseErrorKind> {
        let piece = self.piece(i)?;
        std::str::from_utf8(&piece.text).map_err(|_| ParseErrorKind::NotUtf8 {
            what: self.what(i),
            text: display_bytes(&piece.text),
        })
    }

    /// Parameter `i` as bytes in socat's data form (`x7f000001`, `"text\0"`).
    pub fn data(&self, i: usize) -> Result<Vec<u8>, ParseErrorKind> {
        let piece = self.piece(i)?;
        super::data::parse(&piece.text).map_err(|e| ParseErrorKind::InvalidData {
            what: self.what(i),
            text: display_bytes(&piece.text),
            reason: e.to_string(),
        })
    }

    /// Parameter `i` as a path: bytes, as the file system takes them.
    pub fn path(&self, i: usize) -> Result<&'a Path, ParseErrorKind> {
        Ok(Path::new(OsStr::from_bytes(&self.piece(i)?.text)))
    }

    /// Parameter `i` as a path that must not be empty (a file name).
    pub fn file_name(&self, i: usize) -> Result<&'a Path, ParseErrorKind> {
        let path = self.path(i)?;
        if path.as_os_str().is_empty() {
            return Err(ParseErrorKind::InvalidParameter {
                what: "file name",
                text: String::new(),
                expected: "a non-empty path",
            });
        }
        Ok(path)
    }

    /// Parameters 0 and 1 as a host and a port, the host checked against `family`.
    pub fn remote(&self, family: Family) -> Result<Remote, ParseErrorKind> {
        Ok(Remote {
            host: self.host(0, family)?,
            port: self.port(1)?,
            family,
        })
    }

    /// Parameter `i` as a host: an IP address (of `family`, if it is not `Any`) or a name.
    pub fn host(&self, i: usize, family: Family) -> Result<Host, ParseErrorKind> {
        let host_text = self.text(i)?;
        let host = Host::parse(host_text).ok_or_else(|| ParseErrorKind::InvalidHost {
            text: host_text.to_owned(),
        })?;
        if let (Host::Ip(ip), Family::V4 | Family::V6) = (&host, family) {
            if ip.is_ipv4() != (family == Family::V4) {
                return Err(ParseErrorKind::InvalidHost {
                    text: host_text.to_owned(),
                });
            }
        }
        Ok(host)
    }

    /// Parameter `i` as an IP protocol: a number from 0 to 255, or a name of /etc/protocols.
    pub fn protocol(&self, i: usize) -> Result<u8, ParseErrorKind> {
        let given = self.text(i)?;
        crate::protocols::parse(given).ok_or_else(|| ParseErrorKind::InvalidParameter {
            what: "IP protocol",
            text: given.to_owned(),
            expected: "a number from 0 to 255 or a name in /etc/protocols",
        })
    }

    /// Parameter 0 as the port to bind, for a server of `family`.
    pub fn local(&self, family: Family) -> Result<Local, ParseErrorKind> {
        Ok(Local {
            port: self.port(0)?,
            family,
        })
    }

    /// Parameter `i` as a port: a number, or a service name of the type's protocol.
    pub fn port(&self, i: usize) -> Result<u16, ParseErrorKind> {
        let protocol = match self.ty.bind {
            BindDomain::Ip(protocol) => protocol,
            BindDomain::UnixPath | BindDomain::UnixAbstract | BindDomain::Data => None,
        };
        parse_port(self.text(i)?, protocol)
    }

    /// Parameter `i` as a file descriptor number.
    pub fn descriptor(&self, i: usize) -> Result<i32, ParseErrorKind> {
        let given = self.text(i)?;
        given
            .parse::<i32>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "file descriptor",
                text: given.to_owned(),
                expected: "a non-negative number",
            })
    }

    /// Parameter `i` as a Unix socket name: a path, or a name in the abstract namespace.
    pub fn unix_name(&self, i: usize, namespace: Namespace) -> Result<UnixName, ParseErrorKind> {
        let name = match namespace {
            Namespace::Abstract => UnixName::abstract_name(self.text(i)?),
            Namespace::Path => UnixName::path(self.path(i)?),
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
                path: display_bytes(&self.piece(i)?.text),
                len: too_long.len,
                max: UNIX_PATH_MAX,
            }),
        }
    }
}

/// Where a Unix socket name lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// The file system: the name is a path.
    Path,
    /// Linux's abstract namespace: no file.
    Abstract,
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
