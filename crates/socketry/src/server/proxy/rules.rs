//! What the proxy server lets through: the users who may use it (`--user`, `--users`) and the
//! destinations it connects to (`--to`). Both are parsed once, when the server starts, and
//! refuse bad text with the text quoted.

use std::fmt;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::address::IpRange;

/// The names and passwords a proxy accepts. Empty: no authentication is asked for.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Users {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the passwords, not even in a debug log.
        f.debug_struct("Users")
            .field("count", &self.entries.len())
            .finish()
    }
}

/// Why a `NAME:PASS` entry or a users file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// An entry without a colon, or with an empty name.
    #[error("{where_}\"{text}\" is not NAME:PASS (a name of 1 to 255 bytes, a colon, a password of 1 to 255 bytes)")]
    Entry {
        /// Where the entry was (`line 3: `), or nothing for `--user`.
        where_: String,
        /// The entry, with its password hidden.
        text: String,
    },
}

impl Users {
    /// Whether any user is configured, so that clients must authenticate.
    pub fn required(&self) -> bool {
        !self.entries.is_empty()
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one `NAME:PASS` (the name may not contain a colon; the password may).
    pub fn add(&mut self, entry: &str) -> Result<(), UsersError> {
        self.add_entry(entry, String::new())
    }

    /// Adds every `NAME:PASS` line of a users file; empty lines and lines starting with `#`
    /// are skipped.
    pub fn add_file(&mut self, text: &str) -> Result<(), UsersError> {
        for (number, line) in text.lines().enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            self.add_entry(line, format!("line {}: ", number + 1))?;
        }
        Ok(())
    }

    fn add_entry(&mut self, entry: &str, where_: String) -> Result<(), UsersError> {
        let refuse = || UsersError::Entry {
            where_: where_.clone(),
            text: match entry.split_once(':') {
                Some((name, _)) => format!("{name}:..."),
                None => entry.to_owned(),
            },
        };
        let (name, password) = entry.split_once(':').ok_or_else(refuse)?;
        // RFC 1929 carries each in one length byte, and gives no way to send an empty one.
        let fits = |s: &str| (1..=255).contains(&s.len());
        if !fits(name) || !fits(password) {
            return Err(refuse());
        }
        self.entries
            .push((name.as_bytes().to_vec(), password.as_bytes().to_vec()));
        Ok(())
    }

    /// Whether `name` and `password` are one of the users.
    pub fn check(&self, name: &[u8], password: &[u8]) -> bool {
        // Every entry is compared, whole, so that the time taken says nothing of which byte
        // differed.
        self.entries.iter().fold(false, |found, (n, p)| {
            found | (equal_in_constant_time(n, name) & equal_in_constant_time(p, password))
        })
    }
}

fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One `--to` rule: an address range and, optionally, the ports in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationRule {
    /// The addresses the rule admits.
    pub range: IpRange,
    /// The ports it admits; every port when `None`.
    pub ports: Option<RangeInclusive<u16>>,
}

/// A `--to` rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a destination rule (expected CIDR or CIDR:PORT or CIDR:LOW-HIGH, e.g. 10.0.0.0/8:443, 127.0.0.1, [::1]/128:22)")]
pub struct DestinationRuleError(pub String);

impl std::str::FromStr for DestinationRule {
    type Err = DestinationRuleError;

    fn from_str(text: &str) -> Result<DestinationRule, DestinationRuleError> {
        let refuse = || DestinationRuleError(text.to_owned());
        // `[v6]/bits:port`, `v4/bits:port`; a bare IPv6 range (`::1/128`) takes no port, as
        // its colons could not be told from the port's.
        let (range, ports) = if text.starts_with('[') {
            let close = text.find(']').ok_or_else(refuse)?;
            let rest = &text[close + 1..];
            match rest.find(':') {
                Some(colon) => (&text[..close + 1 + colon], Some(&rest[colon + 1..])),
                None => (text, None),
            }
        } else if text.matches(':').count() == 1 {
            let (range, ports) = text.split_once(':').ok_or_else(refuse)?;
            (range, Some(ports))
        } else {
            (text, None)
        };
        let range: IpRange = range.parse().map_err(|_| refuse())?;
        let ports = match ports {
            None => None,
            Some(ports) => Some(port_range(ports).ok_or_else(refuse)?),
        };
        Ok(DestinationRule { range, ports })
    }
}

fn port_range(text: &str) -> Option<RangeInclusive<u16>> {
    let number = |s: &str| {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u16>().ok().filter(|p| *p != 0)
    };
    match text.split_once('-') {
        Some((low, high)) => {
            let (low, high) = (number(low)?, number(high)?);
            (low <= high).then_some(low..=high)
        }
        None => number(text).map(|p| p..=p),
    }
}

impl fmt::Display for DestinationRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.range)?;
        match &self.ports {
            Some(ports) if ports.start() == ports.end() => write!(f, ":{}", ports.start()),
            Some(ports) => write!(f, ":{}-{}", ports.start(), ports.end()),
            None => Ok(()),
        }
    }
}

impl DestinationRule {
    /// Whether the rule admits `ip` port `port`.
    pub fn admits(&self, ip: IpAddr, port: u16) -> bool {
        self.range.contains(ip) && self.ports.as_ref().is_none_or(|p| p.contains(&port))
    }
}

/// Whether `rules` admit a connection to `ip` port `port`: every destination when there is
/// no rule, otherwise one of them must admit it.
pub fn admitted(rules: &[DestinationRule], ip: IpAddr, port: u16) -> bool {
    rules.is_empty() || rules.iter().any(|rule| rule.admits(ip, port))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn destination_rules_parse_and_display_back() {
        let cases = [
            ("127.0.0.1", "127.0.0.1/32"),
            ("10.0.0.0/8:443", "10.0.0.0/8:443"),
            ("10.0.0.0/8:1-1023", "10.0.0.0/8:1-1023"),
            ("[::1]:22", "[::1]/128:22"),
            ("[2001:db8::]/32:80-81", "[2001:db8::]/32:80-81"),
            ("::1/128", "[::1]/128"),
            ("0.0.0.0/0", "0.0.0.0/0"),
        ];
        for (text, shown) in cases {
            let rule: DestinationRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), shown, "{text}");
            assert_eq!(shown.parse::<DestinationRule>().unwrap(), rule, "{shown}");
        }
        for bad in [
            "",
            "10.0.0.0/8:",
            "10.0.0.0/8:0",
            "10.0.0.0/8:65536",
            "10.0.0.0/8:9-1",
            "10.0.0.0/33",
            "[::1:22",
            "example.org:80",
            "10.0.0.1:+80",
        ] {
            let err = bad.parse::<DestinationRule>().unwrap_err();
            assert!(
                err.to_string()
                    .starts_with(&format!("\"{bad}\" is not a destination rule")),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn destination_rules_admit_by_range_and_port() {
        let rules: Vec<DestinationRule> = ["127.0.0.0/8:80", "[::1]:1000-2000"]
            .iter()
            .map(|r| r.parse().unwrap())
            .collect();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(admitted(&rules, ip("127.0.0.9"), 80));
        assert!(!admitted(&rules, ip("127.0.0.9"), 81));
        assert!(!admitted(&rules, ip("10.0.0.1"), 80));
        assert!(admitted(&rules, ip("::1"), 1500));
        assert!(!admitted(&rules, ip("::1"), 999));
        assert!(admitted(&rules, ip("::ffff:127.0.0.1"), 80));
        assert!(admitted(&[], ip("192.0.2.1"), 1));
    }

    #[test]
    fn users_check_name_and_password_and_hide_passwords_in_errors() {
        let mut users = Users::default();
        assert!(!users.required());
        users.add("alice:s3cret:with:colons").unwrap();
        users
            .add_file("# comment\n\nbob:hunter2\r\ncarol:x\n")
            .unwrap();
        assert_eq!(users.len(), 3);
        assert!(users.check(b"alice", b"s3cret:with:colons"));
        assert!(users.check(b"bob", b"hunter2"));
        assert!(!users.check(b"bob", b"hunter3"));
        assert!(!users.check(b"bob", b"x"));
        assert!(!users.check(b"carol", b""));
        assert_eq!(
            users.add("nocolon").unwrap_err().to_string(),
            "\"nocolon\" is not NAME:PASS (a name of 1 to 255 bytes, a colon, a password of 1 to 255 bytes)"
        );
        assert_eq!(
            users.add_file("ok:1\n:secret\n").unwrap_err().to_string(),
            "line 2: \":...\" is not NAME:PASS (a name of 1 to 255 bytes, a colon, a password of 1 to 255 bytes)"
        );
        assert!(users.add("empty:").is_err());
        assert!(!format!("{users:?}").contains("hunter2"));
    }
}
