//! Which internet peers a server admits: `--allow` and `--deny` lists of address ranges.
//! A peer in any denied range is refused; when allowed ranges are given, a peer must be in one
//! of them; with neither list every peer is admitted. IPv4-mapped IPv6 peers match IPv4
//! ranges, as `range=` does.

use std::fmt;
use std::net::IpAddr;

use crate::address::IpRange;

/// The allow and deny lists of a server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessList {
    /// `--allow`: when not empty, a peer must be in one of these ranges.
    pub allow: Vec<IpRange>,
    /// `--deny`: a peer in any of these ranges is refused, whatever `allow` says.
    pub deny: Vec<IpRange>,
}

/// Why a peer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The peer is in this denied range.
    Denied(IpRange),
    /// Allowed ranges were given and the peer is in none of them.
    NotAllowed,
    /// The peer has no internet address to check (a Unix peer, or one the kernel did not
    /// name), and a list was given.
    Unknown,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Denied(range) => write!(f, "denied by --deny {range}"),
            Refusal::NotAllowed => f.write_str("not in any --allow range"),
            Refusal::Unknown => {
                f.write_str("its address is unknown, so --allow/--deny cannot admit it")
            }
        }
    }
}

impl AccessList {
    /// Whether no list was given: every peer is admitted.
    pub fn is_open(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// `None` admits `peer`; `Some` says why it is refused.
    pub fn refusal(&self, peer: Option<IpAddr>) -> Option<Refusal> {
        if self.is_open() {
            return None;
        }
        let Some(ip) = peer else {
            return Some(Refusal::Unknown);
        };
        if let Some(range) = self.deny.iter().find(|r| r.contains(ip)) {
            return Some(Refusal::Denied(*range));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.contains(ip)) {
            return Some(Refusal::NotAllowed);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn list(allow: &[&str], deny: &[&str]) -> AccessList {
        AccessList {
            allow: allow.iter().map(|r| r.parse().unwrap()).collect(),
            deny: deny.iter().map(|r| r.parse().unwrap()).collect(),
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn admits_by_allow_and_deny() {
        let cases: &[(&[&str], &[&str], &str, bool)] = &[
            (&[], &[], "192.0.2.1", true),
            (&["127.0.0.0/8"], &[], "127.0.0.1", true),
            (&["127.0.0.0/8"], &[], "10.0.0.1", false),
            (&[], &["127.0.0.1"], "127.0.0.1", false),
            (&[], &["127.0.0.1"], "127.0.0.2", true),
            (&["127.0.0.0/8"], &["127.0.0.2"], "127.0.0.2", false),
            (&["127.0.0.0/8"], &["127.0.0.2"], "127.0.0.3", true),
            (&["::1"], &[], "::1", true),
            (&["::1"], &[], "127.0.0.1", false),
            (&["[2001:db8::]/32"], &[], "2001:db8::7", true),
            (&["2001:db8::/32"], &[], "2001:db9::7", false),
            (&["10.0.0.0/8"], &[], "::ffff:10.1.2.3", true),
        ];
        for (allow, deny, peer, admitted) in cases {
            let got = list(allow, deny).refusal(ip(peer));
            assert_eq!(
                got.is_none(),
                *admitted,
                "{allow:?} {deny:?} {peer}: {got:?}"
            );
        }
    }

    #[test]
    fn a_peer_without_an_address_is_refused_once_a_list_is_given() {
        assert_eq!(list(&[], &[]).refusal(None), None);
        assert_eq!(
            list(&[], &["10.0.0.0/8"]).refusal(None),
            Some(Refusal::Unknown)
        );
    }

    #[test]
    fn says_which_range_denied() {
        let refusal = list(&[], &["10.0.0.0/8"]).refusal(ip("10.9.9.9")).unwrap();
        assert_eq!(refusal.to_string(), "denied by --deny 10.0.0.0/8");
        let bad = "10.0.0.0/33".parse::<IpRange>().unwrap_err();
        assert!(bad
            .to_string()
            .starts_with("\"10.0.0.0/33\" is not an address range"));
    }
}
