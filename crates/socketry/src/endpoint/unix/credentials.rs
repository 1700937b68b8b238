//! Admitting Unix peers by who they are: `peer-uid`, `peer-gid` and `peer-pid` on a Unix
//! server. A connection's credentials come from `SO_PEERCRED` right after `accept`, a
//! datagram's from `SCM_CREDENTIALS`; both are checked before a byte of the peer's is read,
//! and a refused peer is closed (its datagram dropped) and logged.
//!
//! Each option may be given several times; a peer is admitted when its uid is among the
//! `peer-uid` values (if any were given), and likewise for gid and pid.

use super::ancillary::PeerCredentials;
use crate::address::{OptionId, Options, Value};
use crate::endpoint::error::OpenError;

/// Which peers a Unix server admits by their credentials. Empty admits everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialFilter {
    uids: Vec<u32>,
    gids: Vec<u32>,
    pids: Vec<i32>,
}

impl CredentialFilter {
    /// The filter the options describe (their user and group names were resolved when the
    /// address was read).
    pub fn from_options(options: &Options) -> Result<CredentialFilter, OpenError> {
        let mut filter = CredentialFilter::default();
        for (id, value) in options.iter() {
            match (id, value) {
                (OptionId::PeerUid, Value::User(user)) => filter.uids.push(user.uid),
                (OptionId::PeerGid, Value::Group(group)) => filter.gids.push(group.gid),
                (OptionId::PeerPid, Value::Count(pid)) => {
                    filter.pids.push(i32::try_from(*pid).map_err(|_| {
                        OpenError::Refused(format!(
                            "peer-pid={pid} is not a process id (expected at most {})",
                            i32::MAX
                        ))
                    })?)
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// Whether the filter names nobody, and so admits every peer.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty() && self.pids.is_empty()
    }

    /// Why a peer with these credentials is refused, or `None` when it is admitted.
    pub fn refusal(&self, peer: Option<&PeerCredentials>) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let Some(peer) = peer else {
            return Some("the kernel reported no credentials".to_owned());
        };
        if !self.uids.is_empty() && !self.uids.contains(&peer.uid) {
            return Some(format!("uid {} is not admitted (peer-uid)", peer.uid));
        }
        if !self.gids.is_empty() && !self.gids.contains(&peer.gid) {
            return Some(format!("gid {} is not admitted (peer-gid)", peer.gid));
        }
        if !self.pids.is_empty() && !self.pids.contains(&peer.pid) {
            return Some(format!("pid {} is not admitted (peer-pid)", peer.pid));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn filter(address: &str) -> CredentialFilter {
        let parsed = crate::registry::Address::parse(address).unwrap();
        let spec = parsed.specs().next().unwrap();
        CredentialFilter::from_options(&spec.options).unwrap()
    }

    #[test]
    fn admits_by_every_given_dimension() {
        // Every system has a user and a group named root with id 0.
        let root = PeerCredentials {
            pid: 42,
            uid: 0,
            gid: 0,
        };
        assert_eq!(filter("UNIX-LISTEN:/s").refusal(None), None);
        assert_eq!(
            filter("UNIX-LISTEN:/s,peer-uid=root").refusal(Some(&root)),
            None
        );
        assert_eq!(
            filter("UNIX-LISTEN:/s,peer-uid=65534").refusal(Some(&root)),
            Some("uid 0 is not admitted (peer-uid)".to_owned())
        );
        assert_eq!(
            filter("UNIX-LISTEN:/s,peer-uid=65534,peer-uid=0").refusal(Some(&root)),
            None
        );
        assert_eq!(
            filter("UNIX-LISTEN:/s,peer-uid=0,peer-gid=7").refusal(Some(&root)),
            Some("gid 0 is not admitted (peer-gid)".to_owned())
        );
        assert_eq!(
            filter("UNIX-LISTEN:/s,peer-pid=41").refusal(Some(&root)),
            Some("pid 42 is not admitted (peer-pid)".to_owned())
        );
        assert!(filter("UNIX-LISTEN:/s,peer-pid=42").refusal(None).is_some());
    }

    /// Names are resolved when the address is read, so an unknown one never reaches a filter.
    #[test]
    fn unknown_names_are_errors_that_quote_them() {
        let error =
            crate::registry::Address::parse("UNIX-LISTEN:/s,peer-uid=no-such-user-socketry")
                .unwrap_err();
        assert!(
            error.to_string().ends_with(
                "peer-uid: no such user \"no-such-user-socketry\" (expected a user name or a uid)"
            ),
            "{error}"
        );
    }
}
