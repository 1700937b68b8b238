#![allow(clippy::unwrap_used)]
//! Socket options as the kernel holds them on the socket a connection runs over: a program
//! that takes the accepted (or connected) socket over (`nofork`) reads them back with
//! getsockopt, in Python, so that what is checked is the kernel's value, not socketry's
//! idea of it. On 127.0.0.1 and ::1.

mod common;

use std::io::Read;
use std::net::TcpListener;

use common::{accepted_report, run, tempdir};

/// A Python program that prints the named options of its standard input's socket, one
/// `name=value` per line.
const REPORT: &str = r#"
import socket, struct, sys
s = socket.socket(fileno=0)
SOL, TCP, IP, IP6 = socket.SOL_SOCKET, socket.IPPROTO_TCP, socket.IPPROTO_IP, socket.IPPROTO_IPV6
def timeval(opt):
    sec, usec = struct.unpack("qq", s.getsockopt(SOL, opt, 16))
    return "%d.%06d" % (sec, usec)
values = {
    "keepalive": lambda: s.getsockopt(SOL, socket.SO_KEEPALIVE),
    "keepidle": lambda: s.getsockopt(TCP, socket.TCP_KEEPIDLE),
    "keepintvl": lambda: s.getsockopt(TCP, socket.TCP_KEEPINTVL),
    "keepcnt": lambda: s.getsockopt(TCP, socket.TCP_KEEPCNT),
    "user-timeout": lambda: s.getsockopt(TCP, 18),
    "rcvtimeo": lambda: timeval(socket.SO_RCVTIMEO),
    "sndtimeo": lambda: timeval(socket.SO_SNDTIMEO),
    "linger": lambda: "%d,%d" % struct.unpack("ii", s.getsockopt(SOL, socket.SO_LINGER, 8)),
    "priority": lambda: s.getsockopt(SOL, socket.SO_PRIORITY),
    "mark": lambda: s.getsockopt(SOL, 36),
    "tos": lambda: s.getsockopt(IP, socket.IP_TOS),
    "ttl": lambda: s.getsockopt(IP, socket.IP_TTL),
    "hops": lambda: s.getsockopt(IP6, socket.IPV6_UNICAST_HOPS),
    "tclass": lambda: s.getsockopt(IP6, 67),
    "device": lambda: s.getsockopt(SOL, socket.SO_BINDTODEVICE, 16).rstrip(b"\0").decode(),
}
for name in sys.argv[1:]:
    print("%s=%s" % (name, values[name]()))
"#;

#[test]
fn listener_options_reach_the_accepted_connection() {
    let report = accepted_report(
        REPORT,
        "TCP-LISTEN:0,bind=127.0.0.1,so-keepalive,tcp-keepidle=7,tcp-keepintvl=3,tcp-keepcnt=4,tcp-user-timeout=2500,so-rcvtimeo=1.5,so-sndtimeo=2,so-linger=2,ip-tos=16,so-priority=5,so-mark=9,ip-ttl=9",
        "127.0.0.1",
        "keepalive keepidle keepintvl keepcnt user-timeout rcvtimeo sndtimeo linger tos priority mark ttl",
    );
    assert_eq!(
        report,
        "keepalive=1\nkeepidle=7\nkeepintvl=3\nkeepcnt=4\nuser-timeout=2500\nrcvtimeo=1.500000\nsndtimeo=2.000000\nlinger=1,2\ntos=16\npriority=5\nmark=9\nttl=9\n"
    );
}

#[test]
fn without_the_options_the_kernel_defaults_stay() {
    let report = accepted_report(
        REPORT,
        "TCP-LISTEN:0,bind=127.0.0.1",
        "127.0.0.1",
        "keepalive rcvtimeo linger tos priority mark",
    );
    assert_eq!(
        report,
        "keepalive=0\nrcvtimeo=0.000000\nlinger=0,0\ntos=0\npriority=0\nmark=0\n"
    );
}

#[test]
fn ipv6_sockets_take_hops_and_traffic_class() {
    let report = accepted_report(
        REPORT,
        "TCP6-LISTEN:0,bind=[::1],ip-ttl=7,ipv6-tclass=32",
        "[::1]",
        "hops tclass",
    );
    assert_eq!(report, "hops=7\ntclass=32\n");
}

#[test]
fn keepalive_timing_turns_keepalive_on_unless_it_is_turned_off() {
    let on = accepted_report(
        REPORT,
        "TCP-LISTEN:0,bind=127.0.0.1,tcp-keepidle=9",
        "127.0.0.1",
        "keepalive keepidle",
    );
    assert_eq!(on, "keepalive=1\nkeepidle=9\n");
    let off = accepted_report(
        REPORT,
        "TCP-LISTEN:0,bind=127.0.0.1,tcp-keepidle=9,keepalive=0",
        "127.0.0.1",
        "keepalive keepidle",
    );
    assert_eq!(off, "keepalive=0\nkeepidle=9\n");
}

#[test]
fn a_client_socket_takes_them_too_and_binds_to_its_device() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempdir();
    let program = dir.path().join("report.py");
    std::fs::write(&program, REPORT).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
    });
    let out = run(
        &[
            "-u",
            &format!("TCP:127.0.0.1:{port},so-bindtodevice=lo,ip-tos=8,tcp-quickack"),
            &format!("EXEC:python3 {} device tos,nofork", program.display()),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    peer.join().unwrap();
    assert_eq!(out.stdout_text(), "device=lo\ntos=8\n");
}

#[test]
fn refusals_name_the_option_and_what_it_takes() {
    let cases = [
        (
            "TCP-LISTEN:0,ip-ttl=0",
            "invalid value \"0\" for option ip-ttl in \"TCP-LISTEN:0,ip-ttl=0\" (expected a hop count from 1 to 255)",
        ),
        (
            "TCP-LISTEN:0,tcp-keepcnt=128",
            "invalid value \"128\" for option tcp-keepcnt in \"TCP-LISTEN:0,tcp-keepcnt=128\" (expected a count from 1 to 127)",
        ),
        (
            "UNIX-LISTEN:/nonexistent/s,tcp-quickack",
            "option \"tcp-quickack\" does not apply to UNIX-LISTEN in \"UNIX-LISTEN:/nonexistent/s,tcp-quickack\"",
        ),
    ];
    for (address, error) in cases {
        let out = run(&[address, "-"], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [error], "{address}");
    }
    let out = run(&["TCP4-LISTEN:0,ipv6-tclass=4", "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        ["TCP4-LISTEN:0,ipv6-tclass=4: creating a socket for 0.0.0.0:0: ipv6-tclass applies to IPv6 sockets, and 0.0.0.0:0 is IPv4"]
    );
    let out = run(&["TCP4-LISTEN:0,so-bindtodevice=nosuchdev0", "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        ["TCP4-LISTEN:0,so-bindtodevice=nosuchdev0: creating a socket for 0.0.0.0:0: setting SO_BINDTODEVICE to nosuchdev0: No such device"]
    );
}
