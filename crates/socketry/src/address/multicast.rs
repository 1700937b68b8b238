//! The values of the multicast options: which group a socket joins, on which interface, and
//! for source-specific membership from which source (`ip-add-membership=224.1.2.3:eth0`,
//! `ip-add-source-membership=232.1.2.3:10.0.0.1:10.0.0.9`, `ipv6-join-group=[ff02::2]:lo`).
//! Interface names are kept as names: the interface they name is looked up when the socket
//! joins, since it may come and go.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The longest interface name Linux takes (`IFNAMSIZ` less its terminating NUL).
const IFNAME_MAX: usize = 15;

/// The interface a group is joined on: by its address, its name, or both (IPv4), or by
/// name alone (IPv6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupInterface {
    /// One of the interface's IPv4 addresses.
    pub address: Option<Ipv4Addr>,
    /// The interface's name.
    pub name: Option<String>,
}

/// A multicast group to join.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Membership {
    /// The group's address: IPv4 for `ip-add-membership`, IPv6 for `ipv6-join-group`.
    pub group: IpAddr,
    /// Where to join it.
    pub interface: GroupInterface,
    /// For source-specific membership, the only sender whose packets are taken.
    pub source: Option<Ipv4Addr>,
}

/// Which multicast option's form a value is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipForm {
    /// `group:if-address`, `group:if-name` or `group:if-address:if-name`, IPv4.
    Ipv4,
    /// `group:if-address:source`, IPv4.
    Ipv4Source,
    /// `[group]:if-name` (or `group:if-name`), IPv6.
    Ipv6,
}

impl MembershipForm {
    /// The form in words, for help and errors.
    pub fn expected(self) -> &'static str {
        match self {
            MembershipForm::Ipv4 => {
                "an IPv4 multicast group and an interface: group:if-address, group:if-name or group:if-address:if-name"
            }
            MembershipForm::Ipv4Source => {
                "an IPv4 multicast group, an interface address and a source: group:if-address:source"
            }
            MembershipForm::Ipv6 => "an IPv6 multicast group and an interface name: [group]:if-name",
        }
    }

    /// Reads `text` in this form; `None` if it is not one.
    pub fn parse(self, text: &str) -> Option<Membership> {
        match self {
            MembershipForm::Ipv4 => {
                let mut parts = text.split(':');
                let group = ipv4_group(parts.next()?)?;
                let second = parts.next()?;
                let third = parts.next();
                if parts.next().is_some() {
                    return None;
                }
                let interface = match (second.parse::<Ipv4Addr>(), third) {
                    (Ok(address), None) => GroupInterface {
                        address: Some(address),
                        name: None,
                    },
                    (Ok(address), Some(name)) => GroupInterface {
                        address: Some(address),
                        name: Some(interface_name(name)?),
                    },
                    (Err(_), None) => GroupInterface {
                        address: None,
                        name: Some(interface_name(second)?),
                    },
                    (Err(_), Some(_)) => return None,
                };
                Some(Membership {
                    group: IpAddr::V4(group),
                    interface,
                    source: None,
                })
            }
            MembershipForm::Ipv4Source => {
                let mut parts = text.split(':');
                let group = ipv4_group(parts.next()?)?;
                let address = parts.next()?.parse().ok()?;
                let source = parts.next()?.parse().ok()?;
                if parts.next().is_some() {
                    return None;
                }
                Some(Membership {
                    group: IpAddr::V4(group),
                    interface: GroupInterface {
                        address: Some(address),
                        name: None,
                    },
                    source: Some(source),
                })
            }
            MembershipForm::Ipv6 => {
                let (group, name) = match text.strip_prefix('[') {
                    Some(rest) => rest.split_once("]:")?,
                    None => text.rsplit_once(':')?,
                };
                let group: Ipv6Addr = group.parse().ok().filter(Ipv6Addr::is_multicast)?;
                Some(Membership {
                    group: IpAddr::V6(group),
                    interface: GroupInterface {
                        address: None,
                        name: Some(interface_name(name)?),
                    },
                    source: None,
                })
            }
        }
    }
}

fn ipv4_group(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok().filter(Ipv4Addr::is_multicast)
}

/// An interface name: 1 to 15 bytes (Linux's limit) of letters, digits and `-_.@+`, which
/// is what interfaces are named with and what an address's text carries unescaped.
fn interface_name(text: &str) -> Option<String> {
    let fits = !text.is_empty()
        && text.len() <= IFNAME_MAX
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@' | b'+'));
    fits.then(|| text.to_owned())
}

impl fmt::Display for Membership {
    /// The form it was read in, so that it reads back the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group {
            IpAddr::V4(group) => write!(f, "{group}")?,
            IpAddr::V6(group) => write!(f, "[{group}]")?,
        }
        if let Some(address) = self.interface.address {
            write!(f, ":{address}")?;
        }
        if let Some(name) = &self.interface.name {
            write!(f, ":{name}")?;
        }
        if let Some(source) = self.source {
            write!(f, ":{source}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_form_and_writes_it_back() {
        let cases: &[(MembershipForm, &str)] = &[
            (MembershipForm::Ipv4, "224.255.255.254:127.1.0.1"),
            (MembershipForm::Ipv4, "239.1.2.3:eth0"),
            (MembershipForm::Ipv4, "239.1.2.3:10.0.0.1:eth0"),
            (MembershipForm::Ipv4Source, "232.1.2.3:10.0.0.1:10.0.0.9"),
            (MembershipForm::Ipv6, "[ff02::2]:lo"),
        ];
        for (form, text) in cases {
            let membership = form.parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(membership.to_string(), *text);
            assert_eq!(form.parse(&membership.to_string()), Some(membership));
        }
        assert_eq!(
            MembershipForm::Ipv6
                .parse("ff02::2:lo")
                .map(|m| m.to_string()),
            Some("[ff02::2]:lo".to_owned())
        );
    }

    #[test]
    fn refuses_what_is_not_a_group_and_an_interface() {
        let cases: &[(MembershipForm, &str)] = &[
            (MembershipForm::Ipv4, "10.0.0.1:127.0.0.1"),
            (MembershipForm::Ipv4, "224.1.1.1"),
            (MembershipForm::Ipv4, "224.1.1.1:"),
            (MembershipForm::Ipv4, "224.1.1.1:eth0:eth1"),
            (MembershipForm::Ipv4, "224.1.1.1:a-name-far-too-long"),
            (MembershipForm::Ipv4, "224.1.1.1:eth,0"),
            (MembershipForm::Ipv4, "224.1.1.1:1.2.3.4:lo:x"),
            (MembershipForm::Ipv4Source, "224.1.1.1:1.2.3.4"),
            (MembershipForm::Ipv4Source, "224.1.1.1:lo:1.2.3.4"),
            (MembershipForm::Ipv6, "[fe80::1]:lo"),
            (MembershipForm::Ipv6, "[ff02::2]"),
            (MembershipForm::Ipv6, "224.1.1.1:lo"),
        ];
        for (form, text) in cases {
            assert_eq!(form.parse(text), None, "{text}");
        }
    }
}
