#![allow(clippy::unwrap_used)]
//! UDP-Lite (RFC 3828) endpoints on 127.0.0.1 and ::1, against UDP-Lite sockets (socket2's
//! `SOCK_DGRAM` with protocol 136, used through std's `UdpSocket`) and against socketry
//! itself: every role, datagram boundaries, and the checksum coverage options taking effect in
//! the kernel.

mod common;

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};

use common::{Proc, WAIT};
use socket2::{Domain, Protocol, Socket, Type};

const IPPROTO_UDPLITE: i32 = 136;

/// A UDP-Lite socket on `ip` with an ephemeral port whose receives give up after [`WAIT`].
fn peer(ip: &str) -> UdpSocket {
    let addr = SocketAddr::new(ip.parse().unwrap(), 0);
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(Protocol::from(IPPROTO_UDPLITE)),
    )
    .unwrap();
    socket.bind(&addr.into()).unwrap();
    let socket = UdpSocket::from(socket);
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65536];
    let (n, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no datagram within {WAIT:?}: {e}"));
    buf.truncate(n);
    (buf, from)
}

fn local(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().unwrap()
}

#[test]
fn udplite_connect_sends_each_write_as_a_datagram_and_prints_replies() {
    for (ip, address) in [
        ("127.0.0.1", "UDPLITE-CONNECT:127.0.0.1"),
        ("::1", "UDPLITE6:[::1]"),
    ] {
        let target = peer(ip);
        let port = local(&target).port();
        let mut relay = Proc::spawn(&["-v", "-", &format!("{address}:{port}")]);
        let mut stdin = relay.stdin();
        stdin.write_all(b"one\n").unwrap();
        let (got, from) = recv(&target);
        assert_eq!(got, b"one\n");
        target.send_to(b"reply\n", from).unwrap();
        relay.wait_log("length=6 from=0 to=5");
        drop(stdin);
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        assert_eq!(out.stdout, b"reply\n", "{address}");
    }
}

#[test]
fn udplite_listen_talks_to_its_first_sender() {
    for (ip, address) in [
        ("127.0.0.1", "UDPLITE-LISTEN:0,bind=127.0.0.1"),
        ("::1", "UDPLITE6-LISTEN:0,bind=[::1]"),
    ] {
        let mut relay = Proc::spawn(&["-d", "-v", address, "-"]);
        let line = relay.wait_log("listening on UDPLITE");
        assert!(
            line.contains(&format!(
                "listening on UDPLITE {}",
                if ip == "::1" { "[::1]:" } else { "127.0.0.1:" }
            )),
            "{line}"
        );
        let port = relay.listening_port();
        let client = peer(ip);
        client.send_to(b"hello", (ip, port)).unwrap();
        relay.wait_log(&format!("receiving datagram from {}", local(&client)));
        let mut stdin = relay.stdin();
        stdin.write_all(b"back").unwrap();
        let (got, from) = recv(&client);
        assert_eq!((got.as_slice(), from.port()), (&b"back"[..], port));
        drop(stdin);
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        assert_eq!(out.stdout, b"hello", "{address}");
    }
}

#[test]
fn udplite_recvfrom_with_fork_echoes_each_datagram_whole() {
    let mut relay = Proc::spawn(&[
        "-d",
        "UDPLITE4-RECVFROM:0,bind=127.0.0.1,fork",
        "SOCKETPAIR",
    ]);
    let port = relay.listening_port();
    let client = peer("127.0.0.1");
    for datagram in [&b"first"[..], b"second, longer", b"3"] {
        client.send_to(datagram, ("127.0.0.1", port)).unwrap();
        let (got, from) = recv(&client);
        assert_eq!(got, datagram);
        assert_eq!(from.port(), port);
    }
    drop(relay);
}

#[test]
fn udplite_sendto_and_datagram_send_to_their_peer_and_take_replies() {
    for (ip, address) in [
        ("127.0.0.1", "UDPLITE-SENDTO:127.0.0.1"),
        ("::1", "UDPLITE6-DATAGRAM:[::1]"),
    ] {
        let target = peer(ip);
        let port = local(&target).port();
        let mut relay = Proc::spawn(&["-v", "-", &format!("{address}:{port}")]);
        let mut stdin = relay.stdin();
        stdin.write_all(b"ping").unwrap();
        let (got, from) = recv(&target);
        assert_eq!(got, b"ping", "{address}");
        target.send_to(b"pong", from).unwrap();
        relay.wait_log("length=4 from=0 to=3");
        drop(stdin);
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        assert_eq!(out.stdout, b"pong", "{address}");
    }
}

/// socketry sends to socketry: the receiver's `udplite-recv-cscov=20` makes the kernel drop
/// a datagram whose checksum covers only its 8-byte header (`udplite-send-cscov=8`), and
/// deliver one that is covered whole (`udplite-send-cscov=0`).
#[test]
fn udplite_checksum_coverage_options_take_effect() {
    let mut receiver = Proc::spawn(&[
        "-d",
        "-v",
        "-u",
        "UDPLITE4-RECV:0,bind=127.0.0.1,udplite-recv-cscov=20",
        "STDOUT",
    ]);
    let port = receiver.listening_port();
    let payload = b"a datagram of forty bytes, give or take!";
    for (coverage, text) in [(8, "header only\n"), (0, "covered whole\n")] {
        let mut message = text.as_bytes().to_vec();
        message.extend_from_slice(payload);
        let out = common::run(
            &[
                "-u",
                "-",
                &format!("UDPLITE4-SENDTO:127.0.0.1:{port},udplite-send-cscov={coverage}"),
            ],
            &message,
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }
    receiver.wait_log("length=");
    let out = receiver.terminate();
    let mut expected = b"covered whole\n".to_vec();
    expected.extend_from_slice(payload);
    assert_eq!(out.stdout, expected, "{}", out.stderr);
}

#[test]
fn udplite_recv_on_ipv6_only_receives() {
    let mut relay = Proc::spawn(&["-d", "-v", "-u", "UDPLITE6-RECV:0,bind=[::1]", "STDOUT"]);
    let port = relay.listening_port();
    let client = peer("::1");
    client.send_to(b"six", ("::1", port)).unwrap();
    relay.wait_log("length=3");
    let out = relay.terminate();
    assert_eq!(out.stdout, b"six", "{}", out.stderr);
}

#[test]
fn udplite_options_are_refused_where_they_do_not_apply() {
    let cases = [
        (
            "UDP:127.0.0.1:9,udplite-send-cscov=8",
            "option \"udplite-send-cscov\" does not apply to UDP in \"UDP:127.0.0.1:9,udplite-send-cscov=8\"",
        ),
        (
            "UDPLITE:127.0.0.1:9,udplite-recv-cscov=70000",
            "invalid value \"70000\" for option udplite-recv-cscov in \"UDPLITE:127.0.0.1:9,udplite-recv-cscov=70000\" (expected a byte count from 0 to 65535)",
        ),
        (
            "UDPLITE-LISTN:9",
            "unknown device/address \"UDPLITE-LISTN\" in \"UDPLITE-LISTN:9\": did you mean UDPLITE-LISTEN? (see socketry -h)",
        ),
    ];
    for (address, error) in cases {
        let out = common::run(&["-", address], b"");
        assert_eq!(out.code(), Some(1), "{address}");
        assert_eq!(out.errors(), [error], "{address}");
    }
}

#[test]
fn version_lists_udplite() {
    let out = common::run(&["-V"], b"");
    assert_eq!(out.code(), Some(0));
    assert!(
        out.stdout_text().contains("\n  #define WITH_UDPLITE 1\n"),
        "{}",
        out.stdout_text()
    );
}

/// socat's test suite reads an option's groups back from `-hhh` (`groups=UDPLITE` on the
/// option's own line) and stops altogether when they are not there.
#[test]
fn hhh_shows_the_coverage_options_group_on_their_line() {
    let out = common::run(&["-hhh"], b"");
    assert_eq!(out.code(), Some(0));
    let text = out.stdout_text();
    for name in ["udplite-send-cscov", "udplite-recv-cscov"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}"));
        assert!(line.ends_with("\tgroups=UDPLITE\ttype=INT"), "{line:?}");
    }
}
