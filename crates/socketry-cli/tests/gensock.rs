#![allow(clippy::unwrap_used)]
//! Generic sockets (SOCKET-CONNECT, -LISTEN, -SENDTO, -DATAGRAM, -RECVFROM, -RECV) against
//! the standard library's sockets, their addresses written as bytes in socat's data form;
//! `setsockopt` and its kin, read back with getsockopt by a program that takes the socket
//! over (`nofork`), so that what is checked is the kernel's value; and `bind-tempname` on
//! Unix clients. On 127.0.0.1 and Unix sockets in a per-test directory.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener};

use common::{accepted_report, run, tempdir, Proc, WAIT};

/// A `sockaddr_in`'s bytes after the family, in socat's data form: port and address in
/// network order, then the eight bytes of padding.
fn inet(port: u16, ip: [u8; 4]) -> String {
    let [a, b, c, d] = ip;
    format!("x{port:04x}{a:02x}{b:02x}{c:02x}{d:02x}x0000000000000000")
}

/// A Unix path as a generic socket address: the text and its NUL, quoted for the address
/// (the backslash before the quote and the one before 0 are the address's own escapes).
fn unix_path(path: &std::path::Path) -> String {
    format!("\\\"{}\\\\0\\\"", path.display())
}

/// Echoes one connection of `listener` back to it, and gives the peer's address.
fn echo_once(listener: TcpListener) -> std::thread::JoinHandle<std::net::SocketAddr> {
    std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().unwrap();
        let mut data = Vec::new();
        stream.read_to_end(&mut data).unwrap();
        stream.write_all(&data).unwrap();
        peer
    })
}

#[test]
fn socket_connect_reaches_a_tcp_server_from_the_address_bind_names() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = echo_once(listener);
    let address = format!(
        "SOCKET-CONNECT:2:6:{},bind={}",
        inet(port, [127, 0, 0, 1]),
        inet(0, [127, 0, 0, 2])
    );
    let out = run(&["-", &address], b"generic\x00bytes\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"generic\x00bytes\n");
    assert_eq!(server.join().unwrap().ip().to_string(), "127.0.0.2");
}

#[test]
fn socket_connect_reaches_a_unix_server_by_its_path_and_nul() {
    let dir = tempdir();
    let path = dir.path().join("server");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut data = Vec::new();
        stream.read_to_end(&mut data).unwrap();
        stream.write_all(b"got ").unwrap();
        stream.write_all(&data).unwrap();
    });
    let out = run(
        &["-", &format!("SOCKET-CONNECT:1:0:{}", unix_path(&path))],
        b"unix\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"got unix\n");
    server.join().unwrap();
}

#[test]
fn socket_listen_serves_tcp_peers_and_refuses_those_out_of_range() {
    let mut server = Proc::spawn(&[
        "-d",
        &format!("SOCKET-LISTEN:2:6:{},fork", inet(0, [127, 0, 0, 1])),
        "PIPE",
    ]);
    let port = server.listening_port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"echo me\n").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"echo me\n");
    drop(server.terminate());

    // Only 127.0.0.2 is in range: a peer from 127.0.0.1 is closed unread.
    let mut server = Proc::spawn(&[
        "-d",
        &format!(
            "SOCKET-LISTEN:2:6:{},range=x0000x7f000002:x0000xffffffff",
            inet(0, [127, 0, 0, 1])
        ),
        "PIPE",
    ]);
    let port = server.listening_port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let _ = stream.write_all(b"refused\n");
    let mut back = Vec::new();
    let _ = stream.read_to_end(&mut back);
    assert_eq!(back, b"");
    let line = server.wait_log("refusing connection from 127.0.0.1:");
    assert!(line.ends_with(": not in range"), "{line}");
    drop(server.terminate());
}

#[test]
fn socket_sendto_sends_to_its_peer_and_takes_only_its_answers() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let intruder = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let mut relay = Proc::spawn(&[
        "-v",
        "-",
        &format!("SOCKET-SENDTO:2:2:17:{}", inet(port, [127, 0, 0, 1])),
    ]);
    let mut stdin = relay.stdin();
    stdin.write_all(b"ping\n").unwrap();
    let mut buf = [0; 100];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping\n");
    intruder.send_to(b"intruder\n", from).unwrap();
    relay.wait_log("refusing datagram from 127.0.0.1:");
    peer.send_to(b"pong!\n", from).unwrap();
    relay.wait_log("length=6 from=0 to=5");
    drop(stdin);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"pong!\n");
}

#[test]
fn socket_recvfrom_replies_to_each_sender_and_socket_recv_only_receives() {
    let mut server = Proc::spawn(&[
        "-d",
        &format!("SOCKET-RECVFROM:2:2:17:{}", inet(0, [127, 0, 0, 1])),
        "PIPE",
    ]);
    let port = server.wait_log("receiving on 127.0.0.1:");
    let port: u16 = port.rsplit(':').next().unwrap().parse().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client
        .send_to(b"one datagram", ("127.0.0.1", port))
        .unwrap();
    let mut buf = [0; 100];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"one datagram");
    drop(server.terminate());

    let mut receiver = Proc::spawn(&[
        "-d",
        "-v",
        "-u",
        &format!("SOCKET-RECV:2:2:17:{}", inet(0, [127, 0, 0, 1])),
        "-",
    ]);
    let port = receiver.wait_log("receiving on 127.0.0.1:");
    let port: u16 = port.rsplit(':').next().unwrap().parse().unwrap();
    client.send_to(b"first\n", ("127.0.0.1", port)).unwrap();
    client.send_to(b"second\n", ("127.0.0.1", port)).unwrap();
    receiver.wait_log("length=7 from=6 to=12");
    let out = receiver.terminate();
    assert_eq!(out.stdout, b"first\nsecond\n");
}

#[test]
fn socket_datagram_takes_replies_from_any_peer_in_range() {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.2:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let port = peer.local_addr().unwrap().port();
    let mut relay = Proc::spawn(&[
        "-v",
        "-",
        &format!(
            "SOCKET-DATAGRAM:2:2:17:{},range=x0000x7f000002:x0000xffffffff",
            inet(port, [127, 0, 0, 1])
        ),
    ]);
    let mut stdin = relay.stdin();
    stdin.write_all(b"hello\n").unwrap();
    let mut buf = [0; 100];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello\n");
    // The peer it sends to is not in range; another peer is.
    peer.send_to(b"from peer\n", from).unwrap();
    relay.wait_log(&format!(
        "refusing datagram from {}: not in range",
        peer.local_addr().unwrap()
    ));
    other.send_to(b"from other\n", from).unwrap();
    relay.wait_log("length=11 from=0 to=10");
    drop(stdin);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from other\n");
}

#[test]
fn generic_addresses_refuse_bad_data_unknown_domains_and_wrong_lengths_in_one_line() {
    let cases: &[(&str, &str)] = &[
        (
            "SOCKET-CONNECT:2:6:x1f9",
            "invalid remote-address \"x1f9\" in \"SOCKET-CONNECT:2:6:x1f9\": odd number of hex digits (3): each byte takes two at offset 0 (expected socat's data form: x and hex digits (x7f000001), \"text\", 'c', or i, I, l, L, s, S, b, B and a number)",
        ),
        (
            "SOCKET-SENDTO:2:2:17:x0035q",
            "invalid remote-address \"x0035q\" in \"SOCKET-SENDTO:2:2:17:x0035q\": \"q\" starts no item (an item starts with x, \", ', i, I, l, L, s, S, b or B) at offset 5 (expected socat's data form: x and hex digits (x7f000001), \"text\", 'c', or i, I, l, L, s, S, b, B and a number)",
        ),
        (
            "SOCKET-CONNECT:inet:6:x00",
            "invalid socket domain \"inet\" in \"SOCKET-CONNECT:inet:6:x00\" (expected an address family number from 0 to 65535, e.g. 1 (AF_UNIX), 2 (AF_INET) or 10 (AF_INET6))",
        ),
        (
            "SOCKET-CONNECT:99:0:x00",
            "SOCKET-CONNECT:99:0:x00: creating a socket of domain 99, type 1, protocol 0: Address family not supported by protocol",
        ),
        (
            "SOCKET-CONNECT:2:6:x1f90",
            "SOCKET-CONNECT:2:6:x1f90: connecting to domain 2 address x1f90: Invalid argument",
        ),
        (
            "SOCKET-RECV:2:2:17:x0035,range=x00:x0000",
            "invalid value \"x00:x0000\" for option range in \"SOCKET-RECV:2:2:17:x0035,range=x00:x0000\" (expected ADDR:MASK, two socket addresses' bytes after the family of one length in socat's data form, e.g. x0000x7f000000:x0000xff000000)",
        ),
        (
            "SOCKET-CONNECT:2:6:x0035,bind=x0",
            "invalid value \"x0\" for option bind in \"SOCKET-CONNECT:2:6:x0035,bind=x0\" (expected a socket address's bytes after the family in socat's data form, e.g. x0000x7f000001x0000000000000000)",
        ),
    ];
    for (address, error) in cases {
        let out = run(&["-", address], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [*error], "{address}");
    }
}

/// A Python program that prints, to its standard output (the socket it took over), the
/// named options of its standard input's socket: `name=value` each.
const REPORT: &str = r#"
import socket, sys
s = socket.socket(fileno=0)
SOL = socket.SOL_SOCKET
values = {
    "keepalive": lambda: s.getsockopt(SOL, socket.SO_KEEPALIVE),
    "priority": lambda: s.getsockopt(SOL, socket.SO_PRIORITY),
    "device": lambda: s.getsockopt(SOL, socket.SO_BINDTODEVICE, 16).rstrip(b"\0").decode(),
    "rcvlowat": lambda: s.getsockopt(SOL, socket.SO_RCVLOWAT),
}
print(" ".join("%s=%s" % (n, values[n]()) for n in sys.argv[1:]), flush=True)
"#;

#[test]
fn setsockopt_applies_to_the_accepted_socket_and_setsockopt_listen_to_the_listening_one() {
    // SO_PRIORITY (1:12) is not passed on to accepted sockets; SO_KEEPALIVE (1:9) is.
    assert_eq!(
        accepted_report(
            REPORT,
            "TCP-LISTEN:0,bind=127.0.0.1,setsockopt=1:12:6",
            "127.0.0.1",
            "priority"
        ),
        "priority=6\n"
    );
    assert_eq!(
        accepted_report(
            REPORT,
            "TCP-LISTEN:0,bind=127.0.0.1,setsockopt-listen=1:12:6,setsockopt-listen=1:9:1",
            "127.0.0.1",
            "priority keepalive"
        ),
        "priority=0 keepalive=1\n"
    );
    assert_eq!(
        accepted_report(
            REPORT,
            &format!(
                "SOCKET-LISTEN:2:6:{},setsockopt-int=1:12:5,setsockopt-bin=1:9:x01000000",
                inet(0, [127, 0, 0, 1])
            ),
            "127.0.0.1",
            "priority keepalive"
        ),
        "priority=5 keepalive=1\n"
    );
}

#[test]
fn setsockopt_forms_apply_to_a_connecting_socket() {
    let dir = tempdir();
    let program = dir.path().join("report.py");
    std::fs::write(&program, REPORT).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut report = String::new();
        stream.read_to_string(&mut report).unwrap();
        report
    });
    let out = run(
        &[
            &format!(
                "TCP:127.0.0.1:{port},setsockopt-string=1:25:lo,setsockopt-connected=1:18:7,sockopt-sock=1:12:3"
            ),
            &format!("EXEC:python3 {} device rcvlowat priority,nofork", program.display()),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(reader.join().unwrap(), "device=lo rcvlowat=7 priority=3\n");
}

#[test]
fn a_socket_option_the_kernel_refuses_fails_the_open_naming_it() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // TCP_MAXSEG of 1 is below what Linux takes, once connected.
    let address = format!("TCP:127.0.0.1:{port},setsockopt=6:2:1");
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: connecting to 127.0.0.1:{port}: setting setsockopt=6:2:1: Invalid argument"
        )]
    );
    let bad = run(&["-", "TCP:127.0.0.1:1,setsockopt-int=1:2:one"], b"");
    assert_eq!(bad.code(), Some(1));
    assert_eq!(
        bad.errors(),
        ["invalid value \"1:2:one\" for option setsockopt-int in \"TCP:127.0.0.1:1,setsockopt-int=1:2:one\" (expected LEVEL:NAME:VALUE, three integers, e.g. 1:2:1)"]
    );
}

/// Whether `name` is `prefix` and six letters or digits.
fn is_drawn_from(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[test]
fn bind_tempname_binds_a_connecting_client_to_a_new_name_and_removes_it_on_close() {
    let dir = tempdir();
    let server = dir.path().join("server");
    let listener = UnixListener::bind(&server).unwrap();
    let pattern = format!("{}/client.XXXXXX", dir.path().display());
    // The pattern itself is in the way: a file there only means another name.
    std::fs::write(&pattern, b"").unwrap();
    let accepting = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().unwrap();
        let path = peer.as_pathname().unwrap().to_owned();
        assert!(path.exists(), "{}", path.display());
        stream.write_all(b"hi\n").unwrap();
        drop(stream);
        path
    });
    let address = format!("UNIX-CONNECT:{},bind-tempname={pattern}", server.display());
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"hi\n");
    let bound = accepting.join().unwrap();
    let name = bound.to_str().unwrap();
    assert!(
        is_drawn_from(name, &pattern.replace("XXXXXX", "")),
        "{name}"
    );
    assert!(!bound.exists(), "{name} was not removed");
    assert!(std::path::Path::new(&pattern).exists());
}

#[test]
fn bind_tempname_names_datagram_senders_and_removes_their_file_on_close() {
    let dir = tempdir();
    let server = dir.path().join("server");
    let receiver = UnixDatagram::bind(&server).unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let pattern = format!("{}/XXXXXX.s", dir.path().display());
    let address = format!(
        "UNIX-SENDTO:{},unix-bind-tempname={pattern}",
        server.display()
    );
    let out = run(&["-u", "-", &address], b"datagram");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut buf = [0; 64];
    let (n, from) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram");
    let sender = from.as_pathname().unwrap().to_owned();
    let name = sender.file_name().unwrap().to_str().unwrap();
    assert!(name.len() == 8 && name.ends_with(".s"), "{name}");
    assert!(!sender.exists(), "{} was not removed", sender.display());
}

#[test]
fn bind_tempname_draws_abstract_names_for_abstract_clients() {
    use std::os::linux::net::SocketAddrExt;
    let dir = tempdir();
    let unique = dir.path().file_name().unwrap().to_str().unwrap().to_owned();
    let addr =
        std::os::unix::net::SocketAddr::from_abstract_name(format!("{unique}.server")).unwrap();
    let receiver = UnixDatagram::bind_addr(&addr).unwrap();
    receiver.set_read_timeout(Some(WAIT)).unwrap();
    let address = format!("ABSTRACT-SENDTO:{unique}.server,bind-tempname={unique}.XXXXXX");
    let out = run(&["-u", "-", &address], b"abstract");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut buf = [0; 64];
    let (n, from) = receiver.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"abstract");
    let name = String::from_utf8(from.as_abstract_name().unwrap().to_vec()).unwrap();
    assert!(is_drawn_from(&name, &format!("{unique}.")), "{name}");
}

#[test]
fn bind_tempname_refusals_quote_the_option() {
    let cases: &[(&str, &str)] = &[
        (
            "UNIX-CONNECT:/nonexistent/s,bind-tempname=/tmp/no-pattern",
            "invalid value \"/tmp/no-pattern\" for option unix-bind-tempname in \"UNIX-CONNECT:/nonexistent/s,bind-tempname=/tmp/no-pattern\" (expected nothing (a generated name), or a path or name containing XXXXXX, e.g. /tmp/sock.XXXXXX)",
        ),
        (
            "UNIX-CONNECT:/nonexistent/s,bind-tempname,bind=/tmp/b",
            "UNIX-CONNECT:/nonexistent/s,bind-tempname,bind=/tmp/b: bind and unix-bind-tempname both name the local socket of /nonexistent/s (expected one of them)",
        ),
        (
            "UNIX-LISTEN:/nonexistent/s,bind-tempname",
            "option \"unix-bind-tempname\" does not apply to UNIX-LISTEN in \"UNIX-LISTEN:/nonexistent/s,bind-tempname\"",
        ),
    ];
    for (address, error) in cases {
        let out = run(&["-", address], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [*error], "{address}");
    }
}
