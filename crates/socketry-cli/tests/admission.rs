#![allow(clippy::unwrap_used)]
//! Who a server admits and where a client sends from: `lowport`, TCP wrappers' tables read by
//! socketry itself (`tcpwrap`, `hosts-allow`, `hosts-deny`, `tcpwrap-etc`) and host names in
//! `range`, on 127.0.0.1, ::1 and the standard library's sockets.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};

use common::{run, tempdir, Proc, WAIT};

/// Exit status of socketry ended by SIGTERM (128 + 15).
const TERMINATED: i32 = 143;

/// Connects to the relay's port and says whether it echoed `hello` (admitted) or closed the
/// connection without a byte (refused).
fn echoed(port: u16, host: &str) -> bool {
    let mut client = TcpStream::connect((host, port)).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    // A refused peer may be closed before it has written or shut down: that is a refusal too.
    let gone = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::NotConnected | ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
        )
    };
    match client.write_all(b"hello") {
        Err(e) if gone(&e) => return false,
        other => other.unwrap(),
    }
    match client.shutdown(Shutdown::Write) {
        Err(e) if gone(&e) => return false,
        other => other.unwrap(),
    }
    let mut got = Vec::new();
    match client.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("reading from the relay: {e}"),
    }
    match got.as_slice() {
        b"hello" => true,
        b"" => false,
        other => panic!("unexpected reply {other:?}"),
    }
}

#[test]
fn lowport_refuses_a_peer_on_an_unprivileged_port() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork,lowport", "PIPE"]);
    let port = relay.listening_port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let from = client.local_addr().unwrap();
    assert!(from.port() >= 1024, "the kernel gave an ephemeral port");
    let mut buf = [0; 8];
    match client.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection to be closed, got {other:?}"),
    }
    relay.wait_log(&format!(
        "refusing connection from {from} on TCP-LISTEN 127.0.0.1:{port}: port {} is not below 1024 (lowport)",
        from.port()
    ));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn lowport_client_sends_from_a_reserved_port_and_is_admitted() {
    // Binding a port below 1024 needs root, which these tests have (see .ci/deps).
    let mut server = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,lowport", "PIPE"]);
    let port = server.listening_port();
    let out = run(&["-", &format!("TCP:127.0.0.1:{port},lowport")], b"low\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"low\n");
    let accepted = server.wait_log("accepting connection from 127.0.0.1:");
    let peer_port: u16 = accepted
        .split("accepting connection from 127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    assert!((640..=1023).contains(&peer_port), "{accepted}");
    assert_eq!(server.finish().code(), Some(0));
}

#[test]
fn lowport_udp_sender_binds_a_port_from_640_to_1023() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let port = receiver.local_addr().unwrap().port();
    let out = run(
        &["-u", "-", &format!("UDP4-SENDTO:127.0.0.1:{port},lowport")],
        b"dgram",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut buf = [0; 16];
    let (n, from) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"dgram");
    assert!((640..=1023).contains(&from.port()), "sent from {from}");
}

#[test]
fn tcpwrap_admits_by_the_allow_table_and_refuses_by_the_deny_table() {
    let dir = tempdir();
    let allow = dir.path().join("allow");
    let deny = dir.path().join("deny");
    std::fs::write(&allow, "# the test's own rules\nrelay: [::1]\n").unwrap();
    std::fs::write(&deny, "ALL: ALL\n").unwrap();
    let address = format!(
        "TCP6-LISTEN:0,bind=[::1],fork,tcpwrap=relay,hosts-allow={},hosts-deny={}",
        allow.display(),
        deny.display()
    );
    let mut relay = Proc::spawn(&["-d", &address, "PIPE"]);
    let port = relay.listening_port();
    assert!(echoed(port, "::1"), "::1 is in the allow table");

    // The tables are read for every peer: a rule edited in takes effect at the next one.
    std::fs::write(&allow, "relay: [::1] : deny\n").unwrap();
    assert!(!echoed(port, "::1"), "the rule's deny option refuses");
    relay.wait_log(&format!("denied by a rule of {}", allow.display()));

    std::fs::write(&allow, "other: ALL\n").unwrap();
    assert!(!echoed(port, "::1"), "the allow rule names another daemon");
    relay.wait_log(&format!("denied by {}", deny.display()));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn tcpwrap_etc_reads_the_tables_of_a_directory_and_except_lists() {
    let dir = tempdir();
    std::fs::write(dir.path().join("hosts.allow"), "").unwrap();
    std::fs::write(
        dir.path().join("hosts.deny"),
        "socketry, relay : 127. EXCEPT 127.0.0.1\n",
    )
    .unwrap();
    let address = format!(
        "TCP4-LISTEN:0,bind=0.0.0.0,fork,tcpwrap-etc={},tcpwrap=relay",
        dir.path().display()
    );
    common::in_network_namespace(move || {
        let mut relay = Proc::spawn(&["-d", &address, "PIPE"]);
        let port = relay.listening_port();
        assert!(echoed(port, "127.0.0.1"), "the exception");
        // From 127.0.0.2: in 127. and not the exception, so closed without a byte.
        let out = run(
            &["-", &format!("TCP4:127.0.0.1:{port},bind=127.0.0.2")],
            b"",
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, b"");
        relay.wait_log("refusing connection from 127.0.0.2:");
        relay.terminate();
    });
}

#[test]
fn tcpwrap_drops_datagrams_the_tables_refuse() {
    let dir = tempdir();
    let deny = dir.path().join("deny");
    std::fs::write(&deny, "ALL: 127.0.0.1\n").unwrap();
    let address = format!(
        "UDP4-RECV:0,bind=127.0.0.1,hosts-deny={},hosts-allow={}",
        deny.display(),
        dir.path().join("absent").display()
    );
    let mut relay = Proc::spawn(&["-d", "-u", &address, "-"]);
    let port = relay.wait_log("listening on UDP 127.0.0.1:");
    let port: u16 = port.rsplit(':').next().unwrap().trim().parse().unwrap();
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    sender.send_to(b"refused", ("127.0.0.1", port)).unwrap();
    relay.wait_log(&format!(
        "refusing datagram from {}: denied by {}",
        sender.local_addr().unwrap(),
        deny.display()
    ));
    let out = relay.terminate();
    assert_eq!(out.stdout, b"");
}

#[test]
fn range_takes_a_host_name() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,range=localhost:255.255.255.255",
        "PIPE",
    ]);
    let port = relay.listening_port();
    assert!(echoed(port, "127.0.0.1"));
    assert_eq!(relay.finish().code(), Some(0));
}

#[test]
fn admission_options_refuse_bad_values_in_one_line() {
    let cases = [
        (
            "TCP-LISTEN:0,range=no.such.host.invalid:255.0.0.0",
            "invalid value \"no.such.host.invalid:255.0.0.0\" for option range in \"TCP-LISTEN:0,range=no.such.host.invalid:255.0.0.0\" (expected addr/bits or addr:mask (addr may be a host name), e.g. 127.0.0.0/8 or [::1]/128)",
        ),
        (
            "TCP:127.0.0.1:1,tcpwrap",
            "option \"tcpwrap\" does not apply to TCP in \"TCP:127.0.0.1:1,tcpwrap\"",
        ),
        (
            "TCP-LISTEN:0,hosts-allow=",
            "invalid value \"\" for option hosts-allow in \"TCP-LISTEN:0,hosts-allow=\" (expected text)",
        ),
        (
            "TCP-LISTEN:0,lowport=2",
            "invalid value \"2\" for option lowport in \"TCP-LISTEN:0,lowport=2\" (expected 0 or 1)",
        ),
    ];
    for (address, error) in cases {
        let out = run(&[address, "-"], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [error], "{address}");
    }
}
