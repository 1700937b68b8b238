#![allow(clippy::unwrap_used)]
//! `socketry server`: its modes, limits, access lists and graceful shutdown, against the
//! standard library's sockets on 127.0.0.1, ::1 and Unix sockets in a temporary directory.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;
use std::thread;

use common::{Proc, WAIT};
use nix::sys::signal::Signal;

fn server(args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["server"];
    all.extend_from_slice(args);
    let mut proc = Proc::spawn(&all);
    let port = proc.listening_port();
    (proc, port)
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Connects from a chosen loopback source address.
fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    let domain = socket2::Domain::for_address(to);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None).unwrap();
    socket.bind(&source.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

fn read_exactly(stream: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

/// Reads until the server closes the connection (EOF or a reset both count).
fn read_until_closed(stream: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("reading: {e}"),
        }
    }
}

#[test]
fn echo_is_the_default_for_streams_and_datagrams() {
    let (_tcp, port) = server(&["TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut peer = connect(port);
    peer.write_all(b"echo me").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut peer), b"echo me");

    let (_udp, port) = server(&["UDP-LISTEN:0,bind=127.0.0.1"]);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket.connect(("127.0.0.1", port)).unwrap();
    for datagram in [&b"one"[..], b"two two"] {
        socket.send(datagram).unwrap();
        let mut buf = [0; 64];
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], datagram);
    }
}

#[test]
fn discard_reads_everything_and_answers_nothing() {
    let (mut server, port) = server(&["--discard", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut peer = connect(port);
    peer.write_all(&[7; 100_000]).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut peer), b"");
    server.wait_log("done: 100000 bytes in, 0 bytes out");
}

#[test]
fn print_logs_each_line_with_its_peer_and_acknowledges_it() {
    let (mut server, port) = server(&["--print", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut peer = connect(port);
    let local = peer.local_addr().unwrap();
    peer.write_all(b"hello\r\nworld!\nlast").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_until_closed(&mut peer),
        b"ack 5 bytes\nack 6 bytes\nack 4 bytes\n"
    );
    let line = server.wait_log("message from");
    assert!(
        line.ends_with(&format!(
            "message from TCP 127.0.0.1:{port} <- {local}: hello"
        )),
        "{line}"
    );
    server.wait_log(": world!");
    server.wait_log(": last");
}

#[test]
fn exec_runs_a_program_per_connection_with_the_peer_in_its_environment() {
    let (_server, port) = server(&[
        "--exec",
        "sh -c 'echo peer=$SOCAT_PEERADDR:$SOCAT_PEERPORT; exec cat'",
        "TCP-LISTEN:0,bind=127.0.0.1",
    ]);
    for _ in 0..2 {
        let mut peer = connect(port);
        let local = peer.local_addr().unwrap();
        peer.write_all(b"through cat\n").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let got = String::from_utf8(read_until_closed(&mut peer)).unwrap();
        assert_eq!(got, format!("peer={local}\nthrough cat\n"));
    }
}

#[test]
fn chat_passes_each_message_to_the_others_but_not_back() {
    let (mut server, port) = server(&["--chat", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut a = connect(port);
    server.wait_log("(1 in the chat)");
    let mut b = connect(port);
    server.wait_log("(2 in the chat)");
    let mut c = connect(port);
    server.wait_log("(3 in the chat)");
    a.write_all(b"from a\n").unwrap();
    assert_eq!(read_exactly(&mut b, 7), b"from a\n");
    assert_eq!(read_exactly(&mut c, 7), b"from a\n");
    b.write_all(b"from b\n").unwrap();
    // What a reads first is b's message: its own never came back.
    assert_eq!(read_exactly(&mut a, 7), b"from b\n");
    assert_eq!(read_exactly(&mut c, 7), b"from b\n");
}

#[test]
fn broker_is_the_same_as_chat() {
    let (mut server, port) = server(&["--broker", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut a = connect(port);
    server.wait_log("(1 in the chat)");
    let mut b = connect(port);
    server.wait_log("(2 in the chat)");
    a.write_all(b"hi").unwrap();
    assert_eq!(read_exactly(&mut b, 2), b"hi");
}

#[test]
fn a_chat_client_that_stops_reading_is_dropped_and_the_others_get_everything() {
    const TOTAL: usize = 24 * 1024 * 1024;
    let (mut server, port) = server(&["--chat", "TCP-LISTEN:0,bind=127.0.0.1"]);
    // The slow client never reads; a small receive buffer makes its backlog show sooner.
    let slow = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    slow.set_recv_buffer_size(4096).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    slow.connect(&to.into()).unwrap();
    let mut slow: TcpStream = slow.into();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    server.wait_log("(1 in the chat)");
    let mut fast = connect(port);
    server.wait_log("(2 in the chat)");
    let mut sender = connect(port);
    server.wait_log("(3 in the chat)");
    let reading = thread::spawn(move || {
        let mut got = vec![0; TOTAL];
        fast.read_exact(&mut got).map(|()| got)
    });
    let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
    let expected = data.clone();
    let writing = thread::spawn(move || {
        sender.write_all(&data).unwrap();
        sender
    });
    let got = match reading.join().unwrap() {
        Ok(got) => got,
        Err(e) => panic!(
            "the fast reader: {e}; server: {}",
            server.terminate().stderr
        ),
    };
    assert!(
        got == expected,
        "the fast reader got other bytes than were sent"
    );
    let line = server.wait_log("dropping chat client");
    let slow_local = slow.local_addr().unwrap();
    assert!(
        line.contains(&format!(
            "<- {slow_local}: 1048576 bytes are queued for it and it took none for 1s (it stopped reading)"
        )),
        "{line}"
    );
    // The slow client's connection was closed: what it can still read ends.
    let kept = read_until_closed(&mut slow);
    assert!(kept.len() < TOTAL, "the slow client was sent everything");
    assert!(expected.starts_with(&kept));
    drop(writing.join().unwrap());
}

#[test]
fn max_conns_closes_the_connection_beyond_the_cap_at_once() {
    let (mut server, port) = server(&["--max-conns", "1", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut first = connect(port);
    first.write_all(b"1").unwrap();
    assert_eq!(read_exactly(&mut first, 1), b"1");
    let mut second = connect(port);
    assert_eq!(read_until_closed(&mut second), b"");
    let line = server.wait_log("(--max-conns)");
    assert!(line.contains("refusing connection"), "{line}");
    assert!(
        line.ends_with("1 connection(s) already open (--max-conns)"),
        "{line}"
    );
    // The first is still served, and once it is gone there is room again.
    first.write_all(b"2").unwrap();
    assert_eq!(read_exactly(&mut first, 1), b"2");
    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut first), b"");
    server.wait_log("done: 2 bytes in, 2 bytes out");
    let mut third = connect(port);
    third.write_all(b"3").unwrap();
    assert_eq!(read_exactly(&mut third, 1), b"3");
}

#[test]
fn idle_timeout_closes_a_quiet_connection() {
    for mode in [None, Some("--chat"), Some("--discard"), Some("--print")] {
        let mut args = vec!["--idle-timeout", "0.2"];
        args.extend(mode);
        args.push("TCP-LISTEN:0,bind=127.0.0.1");
        let (mut server, port) = server(&args);
        let mut peer = connect(port);
        assert_eq!(read_until_closed(&mut peer), b"", "{mode:?}");
        let line = server.wait_log("idle (--idle-timeout)");
        assert!(line.contains("closed after 0.2s idle"), "{mode:?}: {line}");
    }
}

#[test]
fn allow_admits_only_the_ranges_given() {
    let (mut server, port) = server(&[
        "--allow",
        "127.0.0.2/32",
        "--allow",
        "10.0.0.0/8",
        "TCP-LISTEN:0,bind=127.0.0.1",
    ]);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut refused = connect_from("127.0.0.1", to);
    assert_eq!(read_until_closed(&mut refused), b"");
    let line = server.wait_log("refusing connection");
    assert!(line.ends_with(&format!(
        "<- {}: not in any --allow range",
        refused.local_addr().unwrap()
    )));
    let mut allowed = connect_from("127.0.0.2", to);
    allowed.write_all(b"in").unwrap();
    assert_eq!(read_exactly(&mut allowed, 2), b"in");
}

#[test]
fn deny_refuses_its_ranges_even_when_allowed() {
    let (mut server, port) = server(&[
        "--allow",
        "127.0.0.0/8",
        "--deny",
        "127.0.0.3",
        "TCP-LISTEN:0,bind=127.0.0.1",
    ]);
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut denied = connect_from("127.0.0.3", to);
    assert_eq!(read_until_closed(&mut denied), b"");
    server.wait_log("denied by --deny 127.0.0.3/32");
    let mut admitted = connect_from("127.0.0.4", to);
    admitted.write_all(b"ok").unwrap();
    assert_eq!(read_exactly(&mut admitted, 2), b"ok");
}

#[test]
fn allow_and_deny_read_ipv6_ranges() {
    let (mut denying, port) = server(&["--deny", "::1/128", "TCP6-LISTEN:0,bind=[::1]"]);
    let to: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let mut denied = connect_from("[::1]", to);
    assert_eq!(read_until_closed(&mut denied), b"");
    denying.wait_log("denied by --deny [::1]/128");

    let (_server, port) = server(&["--allow", "[::1]/128", "TCP6-LISTEN:0,bind=[::1]"]);
    let to: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let mut allowed = connect_from("[::1]", to);
    allowed.write_all(b"v6").unwrap();
    assert_eq!(read_exactly(&mut allowed, 2), b"v6");
}

#[test]
fn peer_uid_and_gid_admit_unix_peers_by_credentials() {
    let dir = common::tempdir();
    let path = dir.path().join("s");
    let address = format!("UNIX-LISTEN:{}", path.display());
    let uid = nix::unistd::getuid().as_raw();
    let other = (uid + 4242).to_string();
    let mut refusing = Proc::spawn(&["server", "--peer-uid", &other, &address]);
    refusing.wait_log("listening on");
    let mut peer = UnixStream::connect(&path).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_until_closed(&mut peer), b"");
    refusing.wait_log(&format!("uid {uid} is not admitted (peer-uid)"));
    drop(refusing.terminate());

    let gid = nix::unistd::getgid().as_raw().to_string();
    let uid = uid.to_string();
    let mut admitting = Proc::spawn(&["server", "--peer-uid", &uid, "--peer-gid", &gid, &address]);
    admitting.wait_log("listening on");
    let mut peer = UnixStream::connect(&path).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(b"me").unwrap();
    assert_eq!(read_exactly(&mut peer, 2), b"me");
}

#[test]
fn limits_that_do_not_apply_to_the_address_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--peer-uid", "0", "TCP-LISTEN:0"],
            "--peer-uid and --peer-gid apply to Unix servers (UNIX-LISTEN, ABSTRACT-LISTEN, ...), not \"TCP-LISTEN:0\"",
        ),
        (
            &["--deny", "10.0.0.0/8", "UNIX-LISTEN:/nonexistent/s"],
            "--allow and --deny apply to internet servers (TCP-LISTEN, UDP-LISTEN, ...), not \"UNIX-LISTEN:/nonexistent/s\"",
        ),
        (
            &["--allow", "10.0.0.0/33"],
            "server: invalid value '10.0.0.0/33' for '--allow <CIDR>': \"10.0.0.0/33\" is not an address range (expected an address, ADDR/BITS or ADDR:MASK, e.g. 10.0.0.0/8 or ::1) (see socketry server --help)",
        ),
        (
            &["--max-conns", "0"],
            "server: invalid value '0' for '--max-conns <N>': expected a whole number from 1 to ",
        ),
        (
            &["--max-conns", "abc"],
            "server: invalid value 'abc' for '--max-conns <N>': expected a whole number from 1 to 18446744073709551615, not \"abc\" (see socketry server --help)",
        ),
        (
            &["--chat-queue", "99999999999999999999999"],
            "server: invalid value '99999999999999999999999' for '--chat-queue <BYTES>': expected a whole number from 1 to 18446744073709551615, not \"99999999999999999999999\" (see socketry server --help)",
        ),
        (
            &["--idle-timeout", "1e19"],
            "server: invalid value '1e19' for '--idle-timeout <SECONDS>': expected seconds from 0 to 3155760000 (a century), e.g. 0.5 or 10, not \"1e19\" (see socketry server --help)",
        ),
        (
            &["--chat", "--exec", "cat"],
            "server: the argument '--chat' cannot be used with '--exec <CMD>' (see socketry server --help)",
        ),
        (
            &["TCP:127.0.0.1:1"],
            "server needs a listening address such as TCP-LISTEN:8080 or UNIX-LISTEN:/path, not \"TCP:127.0.0.1:1\"",
        ),
        (
            &["--exec", "'unclosed"],
            "\"'unclosed\" is not a command line (expected a program and its arguments, quotes closed)",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["server"];
        all.extend_from_slice(args);
        let out = common::run(&all, b"");
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        let errors = out.errors();
        assert_eq!(errors.len(), 1, "{args:?}: {}", out.stderr);
        assert!(errors[0].starts_with(want), "{args:?}: {}", errors[0]);
    }
}

#[test]
fn sigterm_drains_an_open_connection_and_refuses_new_ones() {
    let (mut server, port) = server(&["TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut open = connect(port);
    open.write_all(b"before ").unwrap();
    assert_eq!(read_exactly(&mut open, 7), b"before ");
    server.signal(Signal::SIGTERM);
    server.wait_log("no longer accepting on");
    let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    // The open connection goes on, and ends when its peer is done.
    open.write_all(b"after").unwrap();
    assert_eq!(read_exactly(&mut open, 5), b"after");
    assert!(server.is_running());
    open.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut open), b"");
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("done: 12 bytes in, 12 bytes out"),
        "{}",
        out.stderr
    );
}

#[test]
fn sigint_drains_a_unix_server_and_removes_its_socket_file() {
    let dir = common::tempdir();
    let path = dir.path().join("drain.sock");
    let mut server = Proc::spawn(&["server", &format!("UNIX-LISTEN:{}", path.display())]);
    server.wait_log("listening on");
    let mut open = UnixStream::connect(&path).unwrap();
    open.set_read_timeout(Some(WAIT)).unwrap();
    open.write_all(b"x").unwrap();
    assert_eq!(read_exactly(&mut open, 1), b"x");
    server.signal(Signal::SIGINT);
    server.wait_log("no longer accepting on");
    assert!(
        !path.exists(),
        "the socket file is still there while draining"
    );
    assert!(UnixStream::connect(&path).is_err());
    open.write_all(b"y").unwrap();
    assert_eq!(read_exactly(&mut open, 1), b"y");
    drop(open);
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn grace_ends_and_what_is_still_open_is_closed() {
    let (server, port) = server(&["--grace", "0.3", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut open = connect(port);
    open.write_all(b"z").unwrap();
    assert_eq!(read_exactly(&mut open, 1), b"z");
    server.signal(Signal::SIGTERM);
    assert_eq!(read_until_closed(&mut open), b"");
    let out = server.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("closing 1 connection(s) still open after the 0.3s grace time"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_second_signal_closes_everything_at_once() {
    let (mut server, port) = server(&["--grace", "600", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let mut open = connect(port);
    open.write_all(b"z").unwrap();
    assert_eq!(read_exactly(&mut open, 1), b"z");
    server.signal(Signal::SIGTERM);
    server.wait_log("no longer accepting on");
    server.signal(Signal::SIGINT);
    assert_eq!(read_until_closed(&mut open), b"");
    let out = server.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("signal 2 again: closing every connection now"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_idle_server_exits_at_once_on_sigterm() {
    // With nothing open there is nothing to wait for: a grace longer than the test's own
    // limit would fail it if the server waited.
    let (server, _port) = server(&["--grace", "600", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let out = server.terminate();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}
