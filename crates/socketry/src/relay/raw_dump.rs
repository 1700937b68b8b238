//! `-r FILE` and `-R FILE`: the raw bytes of one direction, as written to its destination,
//! copied to a file of their own for every relay. The file name is a template, as socat's:
//! `$$` is socketry's process id, `$PROGNAME` the program name (`-lp`), `$TIMESTAMP` the
//! relay's start (`%Y%m%dT%H%M%S`, UTC), `$MICROS` its microseconds, `$<PROGNAME>_PEERADDR`,
//! `_PEERPORT`, `_SOCKADDR` and `_SOCKPORT` the first connection's socket addresses (the
//! program name upper-cased, as socat names the variables it sets for a program), and any
//! other `$NAME` or `${NAME}` the environment variable (empty when unset). A forking server
//! thus writes one file per peer when the name says which.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::outcome::Direction;
use crate::endpoint::SocketAddresses;

/// The raw dumps asked for, per direction.
#[derive(Debug, Clone, Default)]
pub struct RawDumps {
    /// `-r`: what moves from the first address to the second.
    pub left_to_right: Option<PathTemplate>,
    /// `-R`: what moves from the second address to the first.
    pub right_to_left: Option<PathTemplate>,
    /// The program name `$PROGNAME` stands for.
    pub program_name: String,
}

/// What the variables of one relay's file names stand for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Session<'a> {
    pub started: SystemTime,
    pub addresses: Option<SocketAddresses>,
    pub program_name: &'a str,
}

impl RawDumps {
    /// Opens (creating or truncating) the file of `direction` for a relay, if one is asked
    /// for.
    pub(crate) fn open(
        &self,
        direction: Direction,
        session: &Session<'_>,
    ) -> Result<Option<(PathBuf, std::fs::File)>, (PathBuf, io::Error)> {
        let template = match direction {
            Direction::LeftToRight => &self.left_to_right,
            Direction::RightToLeft => &self.right_to_left,
        };
        let Some(template) = template else {
            return Ok(None);
        };
        let path = template.expand(session, &|name| std::env::var_os(name));
        match std::fs::File::create(&path) {
            Ok(file) => Ok(Some((path, file))),
            Err(e) => Err((path, e)),
        }
    }
}

/// A file name with socat's `$VARIABLE` references, expanded for each relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate(OsString);

impl PathTemplate {
    /// The template as given on the command line.
    pub fn new(text: impl Into<OsString>) -> PathTemplate {
        PathTemplate(text.into())
    }

    /// The file name for `session`; `environment` looks up other variables.
    pub(crate) fn expand(
        &self,
        session: &Session<'_>,
        environment: &dyn Fn(&str) -> Option<OsString>,
    ) -> PathBuf {
        let text = self.0.as_bytes();
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if text[i] != b'$' {
                out.push(text[i]);
                i += 1;
                continue;
            }
            if text.get(i + 1) == Some(&b'$') {
                out.extend_from_slice(std::process::id().to_string().as_bytes());
                i += 2;
                continue;
            }
            let (name, next) = match text.get(i + 1) {
                Some(b'{') => match text[i + 2..].iter().position(|b| *b == b'}') {
                    Some(end) => (&text[i + 2..i + 2 + end], i + 3 + end),
                    None => (&text[i + 1..i + 1], i + 1),
                },
                _ => {
                    let len = text[i + 1..]
                        .iter()
                        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                        .count();
                    (&text[i + 1..i + 1 + len], i + 1 + len)
                }
            };
            match std::str::from_utf8(name) {
                // A lone `$` (or one before what cannot be a name) is itself.
                Ok("") => {
                    out.push(b'$');
                    i += 1;
                    continue;
                }
                Ok(name) => {
                    if let Some(value) = session.variable(name).or_else(|| environment(name)) {
                        out.extend_from_slice(value.as_bytes());
                    }
                }
                Err(_) => out.extend_from_slice(&text[i..next]),
            }
            i = next;
        }
        PathBuf::from(OsString::from_vec(out))
    }
}

impl Session<'_> {
    /// The value of one of the relay's own variables.
    fn variable(&self, name: &str) -> Option<OsString> {
        let since = self.started.duration_since(UNIX_EPOCH).unwrap_or_default();
        match name {
            "PROGNAME" => return Some(self.program_name.into()),
            "TIMESTAMP" => {
                // 2026/12/01 14:30:05 becomes 20261201T143005.
                let stamp: String = crate::clock::timestamp(self.started, false)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                let (date, time) = stamp.split_at(stamp.len().min(8));
                return Some(format!("{date}T{time}").into());
            }
            "MICROS" => return Some(format!("{:06}", since.subsec_micros()).into()),
            _ => {}
        }
        let prefix: String = self
            .program_name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let suffix = name.strip_prefix(prefix.as_str())?.strip_prefix('_')?;
        let addresses = self.addresses?;
        let value = match suffix {
            "PEERADDR" => addresses.peer.ip().to_string(),
            "PEERPORT" => addresses.peer.port().to_string(),
            "SOCKADDR" => addresses.local.ip().to_string(),
            "SOCKPORT" => addresses.local.port().to_string(),
            _ => return None,
        };
        Some(value.into())
    }
}

/// For messages: the path as text.
pub(crate) fn shown(path: &std::path::Path) -> String {
    crate::address::display_bytes(OsStr::as_bytes(path.as_os_str()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    #[test]
    fn expands_socats_variables_and_the_environment() {
        let session = Session {
            // 2026-12-01 14:30:05.000042 UTC
            started: UNIX_EPOCH + Duration::new(1_796_135_405, 42_000),
            addresses: Some(SocketAddresses {
                local: "127.0.0.1:8000".parse().unwrap(),
                peer: "127.0.0.2:40000".parse().unwrap(),
            }),
            program_name: "server0",
        };
        let env = |name: &str| (name == "HOME").then(|| OsString::from("/root"));
        let cases = [
            ("plain", "plain".to_owned()),
            (
                "$PROGNAME-$TIMESTAMP.$MICROS",
                "server0-20261201T143005.000042".to_owned(),
            ),
            (
                "$SERVER0_PEERADDR:$SERVER0_PEERPORT-$SERVER0_SOCKADDR:$SERVER0_SOCKPORT",
                "127.0.0.2:40000-127.0.0.1:8000".to_owned(),
            ),
            ("${HOME}/x.$$", format!("/root/x.{}", std::process::id())),
            ("$HOME$UNSET.", "/root.".to_owned()),
            ("a$ b$", "a$ b$".to_owned()),
            ("${HOME", "${HOME".to_owned()),
        ];
        for (template, want) in cases {
            let got = PathTemplate::new(template).expand(&session, &env);
            assert_eq!(got, PathBuf::from(&want), "{template}");
        }
    }
}
