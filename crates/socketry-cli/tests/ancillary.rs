#![allow(clippy::unwrap_used)]
//! What the kernel tells about each datagram received (`ip-pktinfo`, `ip-recvttl`,
//! `so-timestamp`, `ipv6-recvpktinfo`, ...): a datagram sent over 127.0.0.1 or ::1 by a
//! standard-library socket (or by socketry, for what std cannot set) reaches a program run
//! by UDP-RECVFROM, which prints the SOCAT_* variable back to the sender; the fields are
//! logged at `-d -d -d`; raw IP receivers (in a network namespace of their own, as root)
//! report as UDP ones do; the socket addresses of UDP-LISTEN and UNIX-LISTEN peers reach the
//! program too; and the options are refused where they cannot work.

mod common;

use std::net::{SocketAddr, UdpSocket};

use common::{in_network_namespace, run, Proc, WAIT};
use socket2::{Domain, SockAddr, Socket, Type};

/// A UDP socket on `ip` with an ephemeral port, whose receives give up after [`WAIT`].
fn sender(ip: &str) -> UdpSocket {
    let socket = UdpSocket::bind(SocketAddr::new(ip.parse().unwrap(), 0)).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

/// The reply `socket` gets from `relay`'s program; then the relay is ended.
fn reply(socket: &UdpSocket, relay: Proc) -> String {
    let mut buf = vec![0; 65536];
    match socket.recv(&mut buf) {
        Ok(n) => {
            relay.terminate();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        }
        Err(e) => panic!(
            "no reply within {WAIT:?}: {e}; the relay logged:\n{}",
            relay.terminate().stderr
        ),
    }
}

/// Starts `UDP-RECVFROM` on `ip` with `options`, running a program that prints `variables`
/// (separated by spaces) back to the sender of the first datagram; gives the relay and its port.
fn recvfrom(ip: &str, options: &str, variables: &[&str]) -> (Proc, u16) {
    let bind = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    // Each variable quoted for the shell, in a quoted command line: `"echo \"$A\" \"$B\""`.
    let printed: Vec<String> = variables.iter().map(|v| format!("\\\"${v}\\\"")).collect();
    // The program reads the datagram first: one that exits before it is written to would
    // end the relay with a broken pipe, perhaps before its answer went back.
    let program = format!("SYSTEM:\"read line; echo {}\"", printed.join(" "));
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UDP-RECVFROM:0,bind={bind},{options}"),
        &program,
    ]);
    let port = relay.listening_port();
    (relay, port)
}

/// Sends a datagram from `from` to the relay's port on its address, and gives what the
/// relay's program printed.
fn exchange(from: &UdpSocket, (relay, port): (Proc, u16)) -> String {
    let mut to = from.local_addr().unwrap();
    to.set_port(port);
    from.send_to(b"XYZ\n", to).unwrap();
    reply(from, relay)
}

#[test]
fn ip_pktinfo_gives_the_interface_and_both_addresses() {
    let relay = recvfrom(
        "127.0.0.1",
        "ip-pktinfo",
        &["SOCAT_IP_IF", "SOCAT_IP_LOCADDR", "SOCAT_IP_DSTADDR"],
    );
    assert_eq!(
        exchange(&sender("127.0.0.1"), relay),
        "lo 127.0.0.1 127.0.0.1\n"
    );
}

#[test]
fn ip_recvttl_gives_the_time_to_live_sent_with() {
    let relay = recvfrom("127.0.0.1", "ip-recvttl", &["SOCAT_IP_TTL"]);
    let from = sender("127.0.0.1");
    from.set_ttl(53).unwrap();
    assert_eq!(exchange(&from, relay), "53\n");
}

#[test]
fn ip_recvtos_gives_the_type_of_service_sent_with() {
    let relay = recvfrom("127.0.0.1", "ip-recvtos", &["SOCAT_IP_TOS"]);
    let from = sender("127.0.0.1");
    socket2::SockRef::from(&from).set_tos(0x28).unwrap();
    assert_eq!(exchange(&from, relay), "40\n");
}

#[test]
fn ip_recvopts_gives_the_options_ip_options_sent() {
    let (relay, port) = recvfrom("127.0.0.1", "ip-recvopts", &["SOCAT_IP_OPTIONS"]);
    // std cannot set IP options: socketry's own ip-options sends them (a NOP, then the end),
    // and shows (-v) the reply it gets.
    let mut from = Proc::spawn(&[
        "-v",
        "-",
        &format!("UDP4-SENDTO:127.0.0.1:{port},ip-options=x01000000"),
    ]);
    let mut stdin = from.stdin();
    std::io::Write::write_all(&mut stdin, b"XYZ\n").unwrap();
    let line = from.wait_log("x01000000");
    assert_eq!(line, "x01000000", "{line}");
    drop(stdin);
    from.terminate();
    relay.terminate();
}

#[test]
fn ip_options_reach_a_receiver_as_socat_dumps_them() {
    let mut relay = Proc::spawn(&[
        "-d",
        "-d",
        "-d",
        "-u",
        "UDP4-RECV:0,bind=127.0.0.1,ip-recvopts",
        "-",
    ]);
    let port = relay.listening_port();
    let out = run(
        &[
            "-u",
            "-",
            &format!("UDP4-SENDTO:127.0.0.1:{port},ip-options=x01000000"),
        ],
        b"XYZ\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let line = relay.wait_log("ancillary message: IP_OPTIONS");
    assert!(
        line.ends_with(" I ancillary message: IP_OPTIONS: options=x01000000"),
        "{line}"
    );
    relay.terminate();
}

#[test]
fn so_timestamp_gives_the_arrival_in_ctime_form_and_microseconds() {
    let relay = recvfrom("127.0.0.1", "so-timestamp", &["SOCAT_TIMESTAMP"]);
    let got = exchange(&sender("127.0.0.1"), relay);
    // `Tue Dec  1 17:08:31 2026, 012345 usecs`
    let (when, micros) = got.trim_end().split_once(", ").unwrap();
    let words: Vec<&str> = when.split_whitespace().collect();
    assert_eq!(when.len(), 24, "{got:?}");
    assert_eq!(words.len(), 5, "{got:?}");
    assert!(
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&words[0]),
        "{got:?}"
    );
    assert_eq!(words[3].len(), 8, "{got:?}");
    let digits = micros.strip_suffix(" usecs").unwrap();
    assert_eq!(digits.len(), 6, "{got:?}");
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{got:?}");
}

#[test]
fn ipv6_recvpktinfo_gives_the_destination_and_interface() {
    let relay = recvfrom(
        "::1",
        "ipv6-recvpktinfo",
        &["SOCAT_IPV6_DSTADDR", "SOCAT_IPV6_IF"],
    );
    assert_eq!(
        exchange(&sender("::1"), relay),
        "[0000:0000:0000:0000:0000:0000:0000:0001] lo\n"
    );
}

#[test]
fn ipv6_recvhoplimit_and_recvtclass_give_what_was_sent_with() {
    let relay = recvfrom(
        "::1",
        "ipv6-recvhoplimit,ipv6-recvtclass",
        &["SOCAT_IPV6_HOPLIMIT", "SOCAT_IPV6_TCLASS"],
    );
    let from = sender("::1");
    let socket = socket2::SockRef::from(&from);
    socket.set_unicast_hops_v6(35).unwrap();
    socket.set_tclass_v6(0xaa).unwrap();
    assert_eq!(exchange(&from, relay), "35 x000000aa\n");
}

#[test]
fn every_field_is_logged_at_socats_info_level() {
    let (mut relay, port) = {
        let mut relay = Proc::spawn(&[
            "-d",
            "-d",
            "-d",
            "-u",
            "UDP4-RECV:0,bind=127.0.0.1,ip-pktinfo,ip-recvttl",
            "-",
        ]);
        let port = relay.listening_port();
        (relay, port)
    };
    let from = sender("127.0.0.1");
    from.set_ttl(7).unwrap();
    from.send_to(b"XYZ\n", ("127.0.0.1", port)).unwrap();
    for expected in [
        "I ancillary message: IP_PKTINFO: if=lo",
        "I ancillary message: IP_PKTINFO: locaddr=127.0.0.1",
        "I ancillary message: IP_PKTINFO: dstaddr=127.0.0.1",
        "I ancillary message: IP_TTL: ttl=7",
        "N Ancillary message: ttl=7",
    ] {
        let line = relay.wait_log(expected);
        assert!(line.ends_with(expected), "{line}");
    }
    let out = relay.terminate();
    assert_eq!(out.stdout, b"XYZ\n");
}

#[test]
fn udp6_listen_tells_its_program_both_socket_addresses() {
    let mut relay = Proc::spawn(&[
        "-d",
        "UDP6-LISTEN:0",
        "SYSTEM:read line; echo $SOCAT_SOCKADDR $SOCAT_SOCKPORT $SOCAT_PEERADDR $SOCAT_PEERPORT",
    ]);
    let port = relay.listening_port();
    let from = sender("::1");
    let own = from.local_addr().unwrap().port();
    from.send_to(b"XYZ\n", ("::1", port)).unwrap();
    let one = "[0000:0000:0000:0000:0000:0000:0000:0001]";
    assert_eq!(reply(&from, relay), format!("{one} {port} {one} {own}\n"));
}

#[test]
fn unix_listen_tells_its_program_both_socket_files() {
    let dir = common::tempdir();
    let server = dir.path().join("server");
    let client = dir.path().join("client");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{}", server.display()),
        "SYSTEM:echo $SOCAT_SOCKADDR $SOCAT_PEERADDR",
    ]);
    relay.wait_log("listening on");
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    socket.bind(&SockAddr::unix(&client).unwrap()).unwrap();
    socket.connect(&SockAddr::unix(&server).unwrap()).unwrap();
    let mut stream = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::from(socket));
    let mut got = String::new();
    std::io::Read::read_to_string(&mut stream, &mut got).unwrap();
    assert_eq!(got, format!("{} {}\n", server.display(), client.display()));
    relay.finish();
}

#[test]
fn the_options_are_refused_where_they_cannot_work() {
    let out = run(&["TCP-LISTEN:0,ip-pktinfo", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["option \"ip-pktinfo\" does not apply to TCP-LISTEN in \"TCP-LISTEN:0,ip-pktinfo\""]
    );
    for (address, error) in [
        (
            "UDP4-RECV:0,ip-options=x010",
            "invalid value \"x010\" for option ip-options in \"UDP4-RECV:0,ip-options=x010\" (expected x and 1 to 40 pairs of hex digits, e.g. x01000000)",
        ),
        (
            "UDP4-RECV:0,ip-recvttl=2",
            "invalid value \"2\" for option ip-recvttl in \"UDP4-RECV:0,ip-recvttl=2\" (expected 0 or 1)",
        ),
        (
            "UDP4-RECV:0,bind=127.0.0.1,ipv6-recvhoplimit",
            "UDP4-RECV:0,bind=127.0.0.1,ipv6-recvhoplimit: creating a UDP socket for 127.0.0.1:0: ipv6-recvhoplimit applies to IPv6 sockets, and this one is IPv4",
        ),
        (
            "UDP6-SENDTO:[::1]:9,ip-options=x01",
            "UDP6-SENDTO:[::1]:9,ip-options=x01: creating a UDP socket for [::1]: ip-options applies to IPv4 sockets, and this one is IPv6",
        ),
    ] {
        let out = run(&[address, "-"], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [error], "{address}");
    }
}

/// An experimental protocol number (RFC 3692), which nothing else on the loopback speaks.
const PROTOCOL: i32 = 253;

/// A raw socket of [`PROTOCOL`] on `ip`, whose receives give up after [`WAIT`].
fn raw_sender(ip: &str) -> UdpSocket {
    let addr = SocketAddr::new(ip.parse().unwrap(), 0);
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::RAW,
        Some(socket2::Protocol::from(PROTOCOL)),
    )
    .unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    UdpSocket::from(socket)
}

#[test]
fn raw_ip_receivers_report_on_each_packet() {
    in_network_namespace(|| {
        for (ip, options, variables, expected) in [
            (
                "127.0.0.1",
                "ip-recvttl,ip-pktinfo",
                "\\\"$SOCAT_IP_TTL\\\" \\\"$SOCAT_IP_DSTADDR\\\"",
                "53 127.0.0.1\n",
            ),
            (
                "::1",
                "ipv6-recvhoplimit",
                "\\\"$SOCAT_IPV6_HOPLIMIT\\\"",
                "53\n",
            ),
        ] {
            let bind = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.to_owned()
            };
            let mut relay = Proc::spawn(&[
                "-d",
                &format!("IP-RECVFROM:{PROTOCOL},bind={bind},{options}"),
                &format!("SYSTEM:\"read line; echo {variables}\""),
            ]);
            relay.wait_log(&format!("receiving IP protocol {PROTOCOL} on {ip}"));
            let from = raw_sender(ip);
            let socket = socket2::SockRef::from(&from);
            if ip.contains(':') {
                socket.set_unicast_hops_v6(53).unwrap();
            } else {
                socket.set_ttl(53).unwrap();
            }
            from.send_to(b"XYZ\n", SocketAddr::new(ip.parse().unwrap(), 0))
                .unwrap();
            // The raw socket sees its own packet on the loopback too: the reply is the next.
            let mut buf = vec![0; 65536];
            let got = loop {
                let n = from.recv(&mut buf).unwrap();
                // An IPv4 raw socket receives the header too: its length is in the first byte.
                let start = if ip.contains(':') {
                    0
                } else {
                    usize::from(buf[0] & 0x0f) * 4
                };
                if &buf[start..n] != b"XYZ\n" {
                    break String::from_utf8_lossy(&buf[start..n]).into_owned();
                }
            };
            assert_eq!(got, expected, "{ip}");
            relay.terminate();
        }
    });
}
