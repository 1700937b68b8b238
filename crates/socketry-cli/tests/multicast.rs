#![allow(clippy::unwrap_used)]
//! Broadcast and multicast options on UDP and raw IP sockets, each test on the loopback of a
//! network namespace of its own (groups joined there are that namespace's): the groups the
//! kernel says were joined, datagrams to a group or a broadcast address arriving, the TTL and
//! loopback of what is sent, and the errors of what cannot work. Needs root, as CI runs it.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use common::{in_network_namespace, Proc, WAIT};
use socket2::{Domain, Protocol, Socket, Type};

const TERMINATED: i32 = 143;

/// The groups this thread's network namespace has joined, as /proc lists them for
/// IPv4 (`igmp`) or IPv6 (`igmp6`).
fn joined(table: &str) -> String {
    std::fs::read_to_string(format!("/proc/thread-self/net/{table}")).unwrap()
}

/// A UDP socket on 127.0.0.1 with an ephemeral port.
fn sender() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

#[test]
fn ip_add_membership_joins_the_group_and_its_datagrams_arrive() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&[
            "-d",
            "-v",
            "-u",
            "UDP4-RECV:0,ip-add-membership=224.255.255.254:127.0.0.1",
            "-",
        ]);
        let port = relay.listening_port();
        // /proc/net/igmp writes each group as the hex of its address in memory order.
        assert!(
            joined("igmp").contains("FEFFFFE0"),
            "224.255.255.254 not joined:\n{}",
            joined("igmp")
        );
        // From 127.0.0.1 the kernel sends multicast out of lo, where the group was joined.
        sender()
            .send_to(b"to the group", ("224.255.255.254", port))
            .unwrap();
        relay.wait_log("length=12 from=0 to=11");
        let out = relay.terminate();
        assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
        assert_eq!(out.stdout, b"to the group");
    });
}

#[test]
fn ipv6_join_group_joins_on_the_named_interface() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&[
            "-d",
            "-u",
            "UDP6-RECV:0,ipv6-join-group=[ff02::abcd]:lo",
            "-",
        ]);
        relay.listening_port();
        let groups = joined("igmp6");
        assert!(
            groups
                .lines()
                .any(|l| l.contains(" lo ") && l.contains("ff02000000000000000000000000abcd")),
            "ff02::abcd not joined on lo:\n{groups}"
        );
        let out = relay.terminate();
        assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    });
}

/// A raw socket that sees every UDP packet the namespace delivers, IP header included.
fn udp_sniffer() -> UdpSocket {
    let socket = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    UdpSocket::from(socket)
}

/// The next UDP packet to `port` that `sniffer` sees: its TTL and its payload.
fn sniff(sniffer: &UdpSocket, port: u16) -> (u8, Vec<u8>) {
    let mut buf = vec![0; 65536];
    loop {
        let n = sniffer.recv(&mut buf).unwrap();
        let header = usize::from(buf[0] & 0x0f) * 4;
        let to = u16::from_be_bytes([buf[header + 2], buf[header + 3]]);
        if to == port {
            return (buf[8], buf[header + 8..n].to_vec());
        }
    }
}

#[test]
fn ip_multicast_ttl_and_if_shape_what_is_sent() {
    in_network_namespace(|| {
        let member = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        member
            .bind(&"0.0.0.0:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        member
            .join_multicast_v4(&Ipv4Addr::new(239, 1, 2, 3), &Ipv4Addr::LOCALHOST)
            .unwrap();
        let member = UdpSocket::from(member);
        member.set_read_timeout(Some(WAIT)).unwrap();
        let port = member.local_addr().unwrap().port();
        let sniffer = udp_sniffer();
        // No bind: ip-multicast-if alone sends it out of lo.
        let out = common::run(
            &[
                "-u",
                "-",
                &format!(
                    "UDP4-SENDTO:239.1.2.3:{port},ip-multicast-if=127.0.0.1,ip-multicast-ttl=7"
                ),
            ],
            b"hops",
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(sniff(&sniffer, port), (7, b"hops".to_vec()));
        let mut buf = [0; 16];
        let n = member.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hops");
    });
}

/// Runs `ip` with `args` in this thread's network namespace.
fn ip(args: &[&str]) {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "ip {args:?}: {status}");
}

#[test]
fn ip_multicast_loop_off_keeps_this_hosts_members_from_hearing() {
    in_network_namespace(|| {
        // Not lo, which loops everything sent back anyway: a TUN interface nobody reads,
        // so that what this host hears of its own multicast is only the kernel's loopback.
        ip(&["tuntap", "add", "mode", "tun", "name", "mc0"]);
        ip(&["addr", "add", "10.9.0.1/24", "dev", "mc0"]);
        ip(&["link", "set", "mc0", "multicast", "on", "up"]);
        let member = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        member
            .bind(&"0.0.0.0:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        member
            .join_multicast_v4(&Ipv4Addr::new(239, 1, 2, 4), &Ipv4Addr::new(10, 9, 0, 1))
            .unwrap();
        let member = UdpSocket::from(member);
        member.set_read_timeout(Some(WAIT)).unwrap();
        let port = member.local_addr().unwrap().port();
        for (looped, data) in [("0", "not looped"), ("1", "looped")] {
            let address =
                format!("UDP4-SENDTO:239.1.2.4:{port},bind=10.9.0.1,ip-multicast-loop={looped}");
            let out = common::run(&["-u", "-", &address], data.as_bytes());
            assert_eq!(out.code(), Some(0), "{}", out.stderr);
        }
        // The first datagram never arrived: the first one to arrive is the second.
        let mut buf = [0; 16];
        let n = member.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"looped");
    });
}

#[test]
fn so_broadcast_lets_a_datagram_go_to_the_broadcast_address() {
    in_network_namespace(|| {
        let receiver = UdpSocket::bind("0.0.0.0:0").unwrap();
        receiver.set_read_timeout(Some(WAIT)).unwrap();
        let port = receiver.local_addr().unwrap().port();
        let target = format!("UDP4-DATAGRAM:127.255.255.255:{port}");
        let refused = common::run(&["-u", "-", &target], b"no");
        assert_eq!(refused.code(), Some(1), "{}", refused.stderr);
        assert_eq!(
            refused.errors(),
            ["writing (first address to second): Permission denied"]
        );
        let out = common::run(&["-u", "-", &format!("{target},broadcast")], b"to all");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let mut buf = [0; 16];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"to all");
    });
}

#[test]
fn raw_ip_joins_groups_too() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&[
            "-d",
            "-u",
            "IP4-RECV:253,ip-add-membership=224.255.255.253:lo",
            "-",
        ]);
        relay.wait_log("receiving IP protocol 253");
        assert!(
            joined("igmp").contains("FDFFFFE0"),
            "224.255.255.253 not joined:\n{}",
            joined("igmp")
        );
        let out = relay.terminate();
        assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    });
}

#[test]
fn multicast_options_that_cannot_work_are_clear_errors() {
    in_network_namespace(|| {
        let cases: &[(&str, &str)] = &[
            (
                "UDP4-RECV:0,ip-add-membership=10.1.1.1:lo",
                "invalid value \"10.1.1.1:lo\" for option ip-add-membership in \"UDP4-RECV:0,ip-add-membership=10.1.1.1:lo\" (expected an IPv4 multicast group and an interface: group:if-address, group:if-name or group:if-address:if-name)",
            ),
            (
                "UDP6-RECV:0,ipv6-join-group=ff02::2",
                "invalid value \"ff02::2\" for option ipv6-join-group in \"UDP6-RECV:0,ipv6-join-group=ff02::2\" (expected an IPv6 multicast group and an interface name: [group]:if-name)",
            ),
            (
                "UDP4-RECV:0,ip-multicast-ttl=256",
                "invalid value \"256\" for option ip-multicast-ttl in \"UDP4-RECV:0,ip-multicast-ttl=256\" (expected an integer from 0 to 255)",
            ),
            (
                "UDP4-RECV:0,ip-add-membership=224.1.1.1:nosuch",
                "UDP4-RECV:0,ip-add-membership=224.1.1.1:nosuch: creating a UDP socket for 0.0.0.0:0: joining multicast group 224.1.1.1:nosuch: no interface nosuch: No such device",
            ),
            (
                "UDP4-RECV:0,ipv6-join-group=[ff02::5]:lo",
                "UDP4-RECV:0,ipv6-join-group=[ff02::5]:lo: creating a UDP socket for 0.0.0.0:0: joining multicast group [ff02::5]:lo: an IPv6 group needs an IPv6 socket (ipv6-join-group on an IPv4 address)",
            ),
            (
                "UNIX-RECV:/nonexistent/x,broadcast",
                "option \"so-broadcast\" does not apply to UNIX-RECV in \"UNIX-RECV:/nonexistent/x,broadcast\"",
            ),
        ];
        for (address, error) in cases {
            let out = common::run(&["-u", address, "-"], b"");
            assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
            assert_eq!(out.errors(), [*error], "{address}");
        }
    });
}
