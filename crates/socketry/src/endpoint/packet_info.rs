//! What the kernel tells about each datagram an IP socket receives, when options ask for it
//! (`ip-pktinfo`, `ip-recvttl`, `so-timestamp`, `ipv6-recvpktinfo`, ...): the socket options
//! that ask, the control messages read back with each datagram, and the fields they carry
//! (`IP_TTL: ttl=53`), which are logged as socat logs them and given to a program run for
//! the other address as socat's variables (`SOCAT_IP_TTL=53`).
//!
//! The options are set before the socket binds; a socket with any of them reads each
//! datagram with `recvmsg` and its control messages (see [`MessageSocket`]). A datagram
//! receiver that makes a peer of each datagram (`UDP-RECVFROM`, `IP-RECVFROM`) puts the
//! first datagram's fields into its program's environment.
//!
//! [`MessageSocket`]: super::socket::MessageSocket

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use nix::libc;
use socket2::Socket;

use crate::address::{OptionId, Options};
use crate::sys::socket::{set_bytes_option, set_int_option, ControlMessage};

/// The options that make a socket report on each datagram, with the socket option each sets
/// (level, name, and its name for errors), and whether it is an IPv6 option.
const REQUESTS: &[(OptionId, libc::c_int, libc::c_int, &str, Version)] = &[
    (
        OptionId::IpPktinfo,
        libc::IPPROTO_IP,
        libc::IP_PKTINFO,
        "IP_PKTINFO",
        Version::V4,
    ),
    (
        OptionId::IpRecvTos,
        libc::IPPROTO_IP,
        libc::IP_RECVTOS,
        "IP_RECVTOS",
        Version::V4,
    ),
    (
        OptionId::IpRecvTtl,
        libc::IPPROTO_IP,
        libc::IP_RECVTTL,
        "IP_RECVTTL",
        Version::V4,
    ),
    (
        OptionId::IpRecvOpts,
        libc::IPPROTO_IP,
        libc::IP_RECVOPTS,
        "IP_RECVOPTS",
        Version::V4,
    ),
    (
        OptionId::Timestamp,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMP,
        "SO_TIMESTAMP",
        Version::Any,
    ),
    (
        OptionId::Ipv6RecvPktinfo,
        libc::IPPROTO_IPV6,
        libc::IPV6_RECVPKTINFO,
        "IPV6_RECVPKTINFO",
        Version::V6,
    ),
    (
        OptionId::Ipv6RecvHoplimit,
        libc::IPPROTO_IPV6,
        libc::IPV6_RECVHOPLIMIT,
        "IPV6_RECVHOPLIMIT",
        Version::V6,
    ),
    (
        OptionId::Ipv6RecvTclass,
        libc::IPPROTO_IPV6,
        libc::IPV6_RECVTCLASS,
        "IPV6_RECVTCLASS",
        Version::V6,
    ),
];

/// Which sockets an option applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    /// IPv4 sockets, and IPv6 sockets for the IPv4 packets they receive.
    V4,
    /// IPv6 sockets only.
    V6,
    /// Any socket.
    Any,
}

/// Every option that asks for reports on received datagrams.
pub(crate) const OPTIONS: &[OptionId] = &[
    OptionId::IpPktinfo,
    OptionId::IpRecvTos,
    OptionId::IpRecvTtl,
    OptionId::IpRecvOpts,
    OptionId::Timestamp,
    OptionId::Ipv6RecvPktinfo,
    OptionId::Ipv6RecvHoplimit,
    OptionId::Ipv6RecvTclass,
];

/// Whether `options` ask for any report on received datagrams (given as 1).
pub(crate) fn wanted(options: &Options) -> bool {
    OPTIONS.iter().any(|&id| options.flag(id, false))
}

/// Sets the socket options `options` ask for on `socket`, an IPv6 one when `ipv6`: the
/// reports on received datagrams, and `ip-options` for what it sends. An IPv6 option on an
/// IPv4 socket is refused with a message naming it.
pub(crate) fn apply(socket: &Socket, ipv6: bool, options: &Options) -> io::Result<()> {
    for &(id, level, name, what, version) in REQUESTS {
        if !options.has(id) {
            continue;
        }
        if version == Version::V6 && !ipv6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} applies to IPv6 sockets, and this one is IPv4",
                    id.def().name
                ),
            ));
        }
        let on = libc::c_int::from(options.flag(id, false));
        set_int_option(socket.as_fd(), level, name, on).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("setting {what}: {}", crate::sys::error_text(&e)),
            )
        })?;
    }
    if let Some(bytes) = options.bytes(OptionId::IpOptions) {
        if ipv6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ip-options applies to IPv4 sockets, and this one is IPv6",
            ));
        }
        set_bytes_option(socket.as_fd(), libc::IPPROTO_IP, libc::IP_OPTIONS, bytes).map_err(
            |e| {
                io::Error::new(
                    e.kind(),
                    format!("setting IP_OPTIONS: {}", crate::sys::error_text(&e)),
                )
            },
        )?;
    }
    Ok(())
}

/// One field of a control message: the message's name as socat logs it (`IP_PKTINFO`), the
/// field's (`dstaddr`), the variable it sets without socat's `SOCAT_` (`IP_DSTADDR`), and
/// its value as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The control message's name: `IP_PKTINFO`, `SCM_TIMESTAMP`, `IPV6_HOPLIMIT`, ...
    pub message: String,
    /// The field's name within it: `if`, `locaddr`, `ttl`, ...
    pub name: &'static str,
    /// The variable a program learns it from, without `SOCAT_`; none for a message socketry
    /// does not know, which is only logged.
    pub variable: Option<&'static str>,
    /// The value, as socat writes it.
    pub value: String,
}

impl Field {
    fn known(message: &str, name: &'static str, variable: &'static str, value: String) -> Field {
        Field {
            message: message.to_owned(),
            name,
            variable: Some(variable),
            value,
        }
    }
}

/// The fields of the control messages of one datagram, in the order the kernel gave them.
pub(crate) fn describe(messages: &[ControlMessage<'_>]) -> Vec<Field> {
    let mut fields = Vec::new();
    for message in messages {
        describe_one(message, &mut fields);
    }
    fields
}

/// `data`'s first `N` bytes, if it has them.
fn take<const N: usize>(data: &[u8], at: usize) -> Option<[u8; N]> {
    data.get(at..at + N)?.try_into().ok()
}

/// A native-endian `int` at the start of `data`.
fn int(data: &[u8]) -> Option<i32> {
    take::<4>(data, 0).map(i32::from_ne_bytes)
}

/// socat's dump of bytes: `x` and two hex digits each.
fn hex(data: &[u8]) -> String {
    let mut text = String::with_capacity(1 + 2 * data.len());
    text.push('x');
    for b in data {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// An interface's name by its index, or the index when it has none (it went away).
fn interface_name(index: u32) -> String {
    nix::net::if_::if_indextoname(index)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| index.to_string())
}

/// An IPv6 address as socat writes it: bracketed, every group in four digits.
fn ipv6_text(ip: Ipv6Addr) -> String {
    let groups: Vec<String> = ip.segments().iter().map(|g| format!("{g:04x}")).collect();
    format!("[{}]", groups.join(":"))
}

/// A `struct timeval` as socat writes a time stamp: `ctime`'s local time, then the
/// microseconds (`Tue Dec  1 17:08:31 2026, 012345 usecs`).
fn timestamp_text(data: &[u8]) -> Option<String> {
    let seconds = i64::from_ne_bytes(take::<8>(data, 0)?);
    let micros = i64::from_ne_bytes(take::<8>(data, 8)?);
    let when = crate::sys::socket::local_ctime(seconds)?;
    Some(format!("{when}, {micros:06} usecs"))
}

fn describe_one(message: &ControlMessage<'_>, fields: &mut Vec<Field>) {
    let data = message.data;
    let unknown = |message: String, name: &'static str| Field {
        message,
        name,
        variable: None,
        value: hex(data),
    };
    match (message.level, message.kind) {
        (libc::IPPROTO_IP, libc::IP_PKTINFO) if data.len() >= 12 => {
            let index = take::<4>(data, 0).map_or(0, i32::from_ne_bytes);
            let local = take::<4>(data, 4).map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from);
            let destination = take::<4>(data, 8).map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from);
            let interface = interface_name(u32::try_from(index).unwrap_or(0));
            tracing::info!(
                "Ancillary message: interface \"{interface}\", locaddr={local}, dstaddr={destination}"
            );
            fields.push(Field::known("IP_PKTINFO", "if", "IP_IF", interface));
            fields.push(Field::known(
                "IP_PKTINFO",
                "locaddr",
                "IP_LOCADDR",
                local.to_string(),
            ));
            fields.push(Field::known(
                "IP_PKTINFO",
                "dstaddr",
                "IP_DSTADDR",
                destination.to_string(),
            ));
        }
        (libc::IPPROTO_IP, libc::IP_TOS) if data.len() == 1 => {
            tracing::info!("Ancillary message: tos={}", data[0]);
            fields.push(Field::known("IP_TOS", "tos", "IP_TOS", data[0].to_string()));
        }
        (libc::IPPROTO_IP, libc::IP_TTL) if data.len() == 4 => {
            let ttl = int(data).unwrap_or(0);
            tracing::info!("Ancillary message: ttl={ttl}");
            fields.push(Field::known("IP_TTL", "ttl", "IP_TTL", ttl.to_string()));
        }
        (libc::IPPROTO_IP, libc::IP_OPTIONS | libc::IP_RECVOPTS | libc::IP_RETOPTS) => {
            fields.push(Field::known(
                "IP_OPTIONS",
                "options",
                "IP_OPTIONS",
                hex(data),
            ));
        }
        (libc::SOL_SOCKET, libc::SCM_TIMESTAMP) => match timestamp_text(data) {
            Some(when) => fields.push(Field::known(
                "SCM_TIMESTAMP",
                "timestamp",
                "TIMESTAMP",
                when,
            )),
            None => fields.push(unknown("SCM_TIMESTAMP".to_owned(), "data")),
        },
        (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) if data.len() >= 20 => {
            let destination = take::<16>(data, 0).map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from);
            let index = take::<4>(data, 16).map_or(0, u32::from_ne_bytes);
            fields.push(Field::known(
                "IPV6_PKTINFO",
                "dstaddr",
                "IPV6_DSTADDR",
                ipv6_text(destination),
            ));
            fields.push(Field::known(
                "IPV6_PKTINFO",
                "if",
                "IPV6_IF",
                interface_name(index),
            ));
        }
        (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) if data.len() == 4 => {
            let hops = int(data).unwrap_or(0);
            fields.push(Field::known(
                "IPV6_HOPLIMIT",
                "hoplimit",
                "IPV6_HOPLIMIT",
                hops.to_string(),
            ));
        }
        // socat dumps the class as the int's bytes in network order: 0xaa is x000000aa.
        (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) if data.len() == 4 => {
            let class = int(data).unwrap_or(0);
            fields.push(Field::known(
                "IPV6_TCLASS",
                "tclass",
                "IPV6_TCLASS",
                hex(&class.to_be_bytes()),
            ));
        }
        (libc::IPPROTO_IP, kind) => fields.push(unknown(format!("IP.{kind}"), "data")),
        (libc::IPPROTO_IPV6, kind) => fields.push(unknown(format!("IPV6.{kind}"), "data")),
        (libc::SOL_SOCKET, kind) => fields.push(unknown(format!("SOCKET.{kind}"), "data")),
        (level, kind) => fields.push(unknown(format!("LEVEL{level}.{kind}"), "data")),
    }
}

/// Logs each field as socat logs it at its info level (`-d -d -d`).
pub(crate) fn log(fields: &[Field]) {
    for field in fields {
        tracing::debug!(
            "ancillary message: {}: {}={}",
            field.message,
            field.name,
            field.value
        );
    }
}

/// The variables a program run for the other address learns the fields from, as socat
/// names them (`SOCAT_IP_TTL`); a field given twice counts as the last one.
pub(crate) fn environment(fields: &[Field]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|field| {
            let variable = field.variable?;
            Some((format!("SOCAT_{variable}"), field.value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn message(level: i32, kind: i32, data: &[u8]) -> ControlMessage<'_> {
        ControlMessage { level, kind, data }
    }

    fn one(level: i32, kind: i32, data: &[u8]) -> Vec<(String, &'static str, String)> {
        describe(&[message(level, kind, data)])
            .into_iter()
            .map(|f| (f.message, f.name, f.value))
            .collect()
    }

    fn owned(fields: &[(&str, &'static str, &str)]) -> Vec<(String, &'static str, String)> {
        fields
            .iter()
            .map(|&(m, n, v)| (m.to_owned(), n, v.to_owned()))
            .collect()
    }

    #[test]
    fn reads_each_message_as_socat_writes_it() {
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        let mut pktinfo = lo.to_ne_bytes().to_vec();
        pktinfo.extend([127, 0, 0, 1, 127, 0, 0, 2]);
        assert_eq!(
            one(libc::IPPROTO_IP, libc::IP_PKTINFO, &pktinfo),
            owned(&[
                ("IP_PKTINFO", "if", "lo"),
                ("IP_PKTINFO", "locaddr", "127.0.0.1"),
                ("IP_PKTINFO", "dstaddr", "127.0.0.2"),
            ])
        );
        assert_eq!(
            one(libc::IPPROTO_IP, libc::IP_TOS, &[7]),
            owned(&[("IP_TOS", "tos", "7")])
        );
        assert_eq!(
            one(libc::IPPROTO_IP, libc::IP_TTL, &53i32.to_ne_bytes()),
            owned(&[("IP_TTL", "ttl", "53")])
        );
        assert_eq!(
            one(libc::IPPROTO_IP, libc::IP_OPTIONS, &[1, 0, 0, 0]),
            owned(&[("IP_OPTIONS", "options", "x01000000")])
        );
        let mut v6 = Ipv6Addr::LOCALHOST.octets().to_vec();
        v6.extend(lo.to_ne_bytes());
        assert_eq!(
            one(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &v6),
            owned(&[
                (
                    "IPV6_PKTINFO",
                    "dstaddr",
                    "[0000:0000:0000:0000:0000:0000:0000:0001]"
                ),
                ("IPV6_PKTINFO", "if", "lo"),
            ])
        );
        assert_eq!(
            one(
                libc::IPPROTO_IPV6,
                libc::IPV6_HOPLIMIT,
                &35i32.to_ne_bytes()
            ),
            owned(&[("IPV6_HOPLIMIT", "hoplimit", "35")])
        );
        assert_eq!(
            one(
                libc::IPPROTO_IPV6,
                libc::IPV6_TCLASS,
                &0xaai32.to_ne_bytes()
            ),
            owned(&[("IPV6_TCLASS", "tclass", "x000000aa")])
        );
    }

    #[test]
    fn a_time_stamp_is_local_ctime_and_microseconds() {
        let mut timeval = 0i64.to_ne_bytes().to_vec();
        timeval.extend(42i64.to_ne_bytes());
        let fields = one(libc::SOL_SOCKET, libc::SCM_TIMESTAMP, &timeval);
        let expected = format!(
            "{}, 000042 usecs",
            crate::sys::socket::local_ctime(0).unwrap()
        );
        assert_eq!(
            fields,
            vec![("SCM_TIMESTAMP".to_owned(), "timestamp", expected)]
        );
        // In UTC the epoch is a Thursday.
        if std::env::var("TZ").is_ok_and(|tz| tz == "UTC") {
            assert_eq!(
                crate::sys::socket::local_ctime(0).unwrap(),
                "Thu Jan  1 00:00:00 1970"
            );
        }
    }

    #[test]
    fn unknown_or_short_messages_are_dumped_and_set_no_variable() {
        let fields = describe(&[
            message(libc::IPPROTO_IP, libc::IP_TTL, &[1, 2]),
            message(libc::IPPROTO_IPV6, 99, &[0xab]),
            message(libc::SOL_SOCKET, 77, &[]),
            message(1234, 5, &[1]),
        ]);
        let shown: Vec<(String, String)> = fields
            .iter()
            .map(|f| (format!("{}: {}", f.message, f.name), f.value.clone()))
            .collect();
        assert_eq!(
            shown,
            vec![
                (format!("IP.{}: data", libc::IP_TTL), "x0102".to_owned()),
                ("IPV6.99: data".to_owned(), "xab".to_owned()),
                ("SOCKET.77: data".to_owned(), "x".to_owned()),
                ("LEVEL1234.5: data".to_owned(), "x01".to_owned()),
            ]
        );
        assert!(environment(&fields).is_empty());
    }

    #[test]
    fn variables_are_socats_names() {
        let mut pktinfo = 1u32.to_ne_bytes().to_vec();
        pktinfo.extend([127, 0, 0, 1, 127, 0, 0, 1]);
        let fields = describe(&[
            message(libc::IPPROTO_IP, libc::IP_PKTINFO, &pktinfo),
            message(libc::IPPROTO_IP, libc::IP_TTL, &64i32.to_ne_bytes()),
        ]);
        let names: Vec<String> = environment(&fields).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "SOCAT_IP_IF",
                "SOCAT_IP_LOCADDR",
                "SOCAT_IP_DSTADDR",
                "SOCAT_IP_TTL"
            ]
        );
    }
}
