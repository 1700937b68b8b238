#![allow(clippy::unwrap_used)]
//! Raw IP endpoints (IP-SENDTO, IP-DATAGRAM, IP-RECVFROM, IP-RECV) against raw sockets of
//! socket2, on the loopback of a network namespace each test creates for itself (a raw socket
//! takes every packet of its protocol, so tests sharing one loopback would see each other's):
//! payloads exact, the IPv4 header taken off, who is admitted, and the refusals of what needs
//! a port. Raw sockets need root, as CI runs these tests.

mod common;

use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use common::{in_network_namespace, Proc, WAIT};
use socket2::{Domain, Protocol, Socket, Type};

/// An experimental protocol number (RFC 3692), which nothing else on the loopback speaks.
const PROTOCOL: u8 = 253;
const TERMINATED: i32 = 143;

/// A raw socket of [`PROTOCOL`] bound to `ip`, whose receives give up after [`WAIT`] (std's
/// datagram calls work on any datagram-like socket).
fn peer(ip: &str) -> UdpSocket {
    let ip: IpAddr = ip.parse().unwrap();
    let addr = SocketAddr::new(ip, 0);
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::RAW,
        Some(Protocol::from(i32::from(PROTOCOL))),
    )
    .unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    UdpSocket::from(socket)
}

/// The next packet `socket` receives (with its IPv4 header, on an IPv4 socket) and its sender.
fn recv(socket: &UdpSocket) -> (Vec<u8>, IpAddr) {
    let mut buf = vec![0; 65536];
    let (n, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no packet within {WAIT:?}: {e}"));
    buf.truncate(n);
    (buf, from.ip())
}

/// An IPv4 packet's payload, checking that it carries [`PROTOCOL`].
fn ipv4_payload(packet: &[u8]) -> &[u8] {
    assert_eq!(packet[0] >> 4, 4, "not an IPv4 packet: {packet:?}");
    assert_eq!(packet[9], PROTOCOL, "the packet's protocol");
    &packet[usize::from(packet[0] & 0x0f) * 4..]
}

fn send(socket: &UdpSocket, data: &[u8], to: &str) {
    let to = SocketAddr::new(to.parse().unwrap(), 0);
    socket.send_to(data, to).unwrap();
}

#[test]
fn ip4_sendto_sends_the_payload_and_takes_only_its_hosts_answers() {
    in_network_namespace(|| {
        let target = peer("127.0.0.1");
        let intruder = peer("127.0.0.3");
        let mut relay = Proc::spawn(&[
            "-v",
            "-",
            &format!("IP4-SENDTO:127.0.0.1:{PROTOCOL},bind=127.0.0.2"),
        ]);
        let mut stdin = relay.stdin();
        stdin.write_all(b"ping\n").unwrap();
        let (packet, from) = recv(&target);
        assert_eq!(from, "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(ipv4_payload(&packet), b"ping\n");
        send(&intruder, b"intruder\n", "127.0.0.2");
        send(&target, b"pong!\n", "127.0.0.2");
        relay.wait_log("refusing datagram from 127.0.0.3:0: not from 127.0.0.1");
        relay.wait_log("length=6 from=0 to=5");
        drop(stdin);
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, b"pong!\n");
    });
}

#[test]
fn ip_sendto_picks_the_family_by_pf_and_protocols_by_name() {
    in_network_namespace(|| {
        // `gre` is 47 in /etc/protocols; a raw socket of it sees socketry's packet.
        let gre = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(47))).unwrap();
        gre.set_read_timeout(Some(WAIT)).unwrap();
        let gre = UdpSocket::from(gre);
        let out = common::run(&["-u", "-", "IP-SENDTO:localhost:gre,pf=ip4"], b"tunnel\n");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let (packet, from) = recv(&gre);
        assert_eq!(from, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(packet[9], 47);
        assert_eq!(&packet[usize::from(packet[0] & 0x0f) * 4..], b"tunnel\n");
    });
}

#[test]
fn ip6_sendto_to_itself_echoes_and_its_peer_gets_the_bare_payload() {
    in_network_namespace(|| {
        let target = peer("::1");
        let out = common::run(&["-", &format!("IP6:[::1]:{PROTOCOL}")], b"self\n");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        // IPv6 raw sockets carry no header: what was sent comes back as it was, to both.
        assert_eq!(out.stdout, b"self\n");
        assert_eq!(recv(&target), (b"self\n".to_vec(), "::1".parse().unwrap()));
    });
}

#[test]
fn ip4_recv_relays_every_senders_payload() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&["-d", "-v", "-u", &format!("IP4-RECV:{PROTOCOL}"), "-"]);
        relay.wait_log(&format!("receiving IP protocol {PROTOCOL} on 0.0.0.0"));
        send(&peer("127.0.0.1"), b"one,", "127.0.0.1");
        send(&peer("127.0.0.2"), b"two", "127.0.0.1");
        let out = wait_output(relay, b"one,two");
        assert_eq!(out, b"one,two");
    });
}

#[test]
fn ip6_recv_relays_payloads() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&["-d", "-v", "-u", &format!("IP6-RECV:{PROTOCOL}"), "-"]);
        relay.wait_log(&format!("receiving IP protocol {PROTOCOL} on ::"));
        send(&peer("::1"), b"six", "::1");
        assert_eq!(wait_output(relay, b"six"), b"six");
    });
}

/// Reads what `relay`'s `-v` dump says it wrote, until `want`'s length, then ends it and gives
/// its stdout.
fn wait_output(mut relay: Proc, want: &[u8]) -> Vec<u8> {
    let mut seen = 0;
    let mut lines = 0;
    while seen < want.len() {
        lines += 1;
        let line = relay
            .wait_log_count("length=", lines)
            .iter()
            .filter(|l| l.contains("length="))
            .nth(lines - 1)
            .cloned()
            .unwrap();
        let length = line
            .split("length=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap();
        seen += length;
    }
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    out.stdout
}

#[test]
fn ip4_recvfrom_replies_to_the_sender_and_refuses_those_out_of_range() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&[
            "-d",
            &format!("IP4-RECVFROM:{PROTOCOL},bind=127.0.0.1,range=127.0.0.3/32"),
            "PIPE",
        ]);
        relay.wait_log(&format!("receiving IP protocol {PROTOCOL} on 127.0.0.1"));
        let outsider = peer("127.0.0.2");
        let client = peer("127.0.0.3");
        send(&outsider, b"let me in", "127.0.0.1");
        relay.wait_log("refusing datagram from 127.0.0.2:0: not in range");
        send(&client, b"echo me", "127.0.0.1");
        let (packet, from) = recv(&client);
        assert_eq!(from, "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(ipv4_payload(&packet), b"echo me");
        // Without fork the session took that one packet: then its reading ended, and so,
        // once PIPE had given the echo back, did the relay.
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    });
}

#[test]
fn ip4_recvfrom_with_fork_answers_each_packet_in_its_own_session() {
    in_network_namespace(|| {
        let mut relay = Proc::spawn(&[
            "-d",
            &format!("IP4-RECVFROM:{PROTOCOL},bind=127.0.0.1,fork"),
            "SYSTEM:tr a-z A-Z",
        ]);
        relay.wait_log(&format!("receiving IP protocol {PROTOCOL} on 127.0.0.1"));
        for (ip, data, answer) in [
            ("127.0.0.2", &b"first"[..], &b"FIRST"[..]),
            ("127.0.0.3", b"second", b"SECOND"),
        ] {
            let client = peer(ip);
            send(&client, data, "127.0.0.1");
            let (packet, _) = recv(&client);
            assert_eq!(ipv4_payload(&packet), answer);
        }
        let out = relay.terminate();
        assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    });
}

#[test]
fn ip_datagram_takes_packets_from_anyone_in_range() {
    in_network_namespace(|| {
        let target = peer("127.0.0.1");
        let mut relay = Proc::spawn(&[
            "-v",
            "-",
            &format!("IP4-DATAGRAM:127.0.0.1:{PROTOCOL},bind=127.0.0.2,range=127.0.0.0/30"),
        ]);
        let mut stdin = relay.stdin();
        stdin.write_all(b"hello").unwrap();
        assert_eq!(ipv4_payload(&recv(&target).0), b"hello");
        // Not the target, but in range; then one out of range.
        send(&peer("127.0.0.5"), b"far away", "127.0.0.2");
        send(&peer("127.0.0.3"), b"neighbour", "127.0.0.2");
        relay.wait_log("refusing datagram from 127.0.0.5:0: not in range");
        relay.wait_log("length=9 from=0 to=8");
        drop(stdin);
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, b"neighbour");
    });
}

#[test]
fn what_raw_ip_cannot_take_is_refused_before_anything_opens() {
    let cases: &[(&str, &str)] = &[
        (
            "IP-SENDTO:127.0.0.1:nosuch",
            "invalid IP protocol \"nosuch\" in \"IP-SENDTO:127.0.0.1:nosuch\" (expected a number from 0 to 255 or a name in /etc/protocols)",
        ),
        (
            "IP4-RECV:256",
            "invalid IP protocol \"256\" in \"IP4-RECV:256\" (expected a number from 0 to 255 or a name in /etc/protocols)",
        ),
        (
            "IP4-SENDTO:[::1]:253",
            "invalid host \"[::1]\" in \"IP4-SENDTO:[::1]:253\" (expected an IPv4 address, [IPv6] address or host name)",
        ),
        (
            "IP-RECVFROM:253,sourceport=80",
            "IP-RECVFROM:253,sourceport=80: sourceport cannot be used with raw IP: its packets have no ports",
        ),
        (
            "IP-DATAGRAM:127.0.0.1:253,bind=127.0.0.1:80",
            "IP-DATAGRAM:127.0.0.1:253,bind=127.0.0.1:80: bind= gives a port, but raw IP packets have none: give only an address",
        ),
        (
            "IP-SENDTO:127.0.0.1:253,fork",
            "option \"fork\" does not apply to IP-SENDTO in \"IP-SENDTO:127.0.0.1:253,fork\"",
        ),
    ];
    for (address, error) in cases {
        let out = common::run(&["-u", "-", address], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        let errors = out.errors();
        assert_eq!(errors.len(), 1, "{address}: {}", out.stderr);
        assert_eq!(errors[0], *error, "{address}");
    }
}
