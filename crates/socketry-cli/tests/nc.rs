#![allow(clippy::unwrap_used)]
//! `socketry nc`: netcat's shared flags with their meanings, against the standard library's
//! sockets on 127.0.0.1 and ::1 and Unix sockets in a temporary directory; and `socketry
//! listen -k` / `,fork`, which keep accepting.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};

use common::{run, Proc, WAIT};

/// Starts `socketry nc -v ARGS` (which must listen) and returns it with its port.
fn nc_listening(args: &[&str]) -> (Proc, u16) {
    // -d (before the subcommand) adds socketry's own log lines: who joined a chat, who was
    // refused.
    let mut all = vec!["-d", "nc", "-v"];
    all.extend_from_slice(args);
    let mut proc = Proc::spawn(&all);
    let line = proc.wait_log("Listening on");
    let port = line.rsplit(' ').next().and_then(|p| p.parse().ok());
    (proc, port.unwrap_or_else(|| panic!("no port in {line:?}")))
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

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

fn peer_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    (listener, port)
}

#[test]
fn bad_flag_values_are_one_line_saying_what_was_expected() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["-q", "x", "127.0.0.1", "1"],
            "nc: invalid value 'x' for '-q <SECONDS>': expected seconds from 0 to 3155760000 (a century), or a negative number to wait for ever, not \"x\" (see socketry nc --help)",
        ),
        (
            &["-w", "1e19", "127.0.0.1", "1"],
            "nc: invalid value '1e19' for '-w <SECONDS>': expected seconds from 0 to 3155760000 (a century), e.g. 0.5 or 10, not \"1e19\" (see socketry nc --help)",
        ),
        (
            &["-w", "\x01", "127.0.0.1", "1"],
            "nc: invalid value '\\x01' for '-w <SECONDS>': expected seconds from 0 to 3155760000 (a century), e.g. 0.5 or 10, not \"\\x01\" (see socketry nc --help)",
        ),
        (
            &["-p", "99999", "127.0.0.1", "1"],
            "nc: invalid value '99999' for '-p <PORT>': expected a whole number from 0 to 65535, not \"99999\" (see socketry nc --help)",
        ),
        (
            &["-l", "--broker", "--max-conns", "x", "0"],
            "nc: invalid value 'x' for '--max-conns <N>': expected a whole number from 1 to 18446744073709551615, not \"x\" (see socketry nc --help)",
        ),
        // The operands are quoted in the address only where the address language needs it,
        // so the error shows them as they were typed.
        (
            &["-l", "99999"],
            "invalid port \"99999\" in \"TCP-LISTEN:99999\" (expected a number from 0 to 65535)",
        ),
        (
            &["127.0.0.1", "99999"],
            "invalid port \"99999\" in \"TCP:127.0.0.1:99999\" (expected a number from 0 to 65535)",
        ),
    ];
    assert_nc_refuses(cases);
}

#[test]
fn listen_relays_stdio_with_one_peer_and_exits_when_it_closes() {
    let (mut nc, port) = nc_listening(&["-l", "127.0.0.1", "0"]);
    let mut peer = connect(port);
    let line = nc.wait_log("Connection received on");
    assert_eq!(
        line,
        format!(
            "Connection received on 127.0.0.1 {}",
            peer.local_addr().unwrap().port()
        )
    );
    nc.send_and_close(b"from stdin");
    let mut got = [0; 10];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from stdin");
    peer.write_all(b"from peer").unwrap();
    drop(peer);
    let out = nc.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from peer");
}

#[test]
fn listen_takes_its_port_from_p_too() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut nc, got) = nc_listening(&["-l", "-s", "127.0.0.1", "-p", &port.to_string()]);
    assert_eq!(got, port);
    nc.send_and_close(b"");
    let mut peer = connect(port);
    peer.write_all(b"p").unwrap();
    drop(peer);
    assert_eq!(nc.finish().stdout, b"p");
}

#[test]
fn n_shuts_the_connection_down_at_stdin_eof_and_waits_for_the_peer() {
    let (listener, port) = peer_listener();
    let nc = std::thread::spawn(move || run(&["nc", "-N", "127.0.0.1", &port], b"request"));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    // EOF arrives after the request: -N shut the sending side down.
    assert_eq!(read_until_closed(&mut peer), b"request");
    peer.write_all(b"response").unwrap();
    drop(peer);
    let out = nc.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"response");
}

#[test]
fn q_quits_after_stdin_eof_though_the_peer_stays() {
    let (listener, port) = peer_listener();
    let nc = std::thread::spawn(move || run(&["nc", "-q", "0", "127.0.0.1", &port], b"bye"));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let out = nc.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(read_until_closed(&mut peer), b"bye");
}

#[test]
fn w_ends_an_idle_connection() {
    let (listener, port) = peer_listener();
    let mut nc = Proc::spawn(&["nc", "-w", "0.2", "127.0.0.1", &port]);
    let _stdin = nc.stdin();
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    // Neither side sends: nc gives up and closes.
    assert_eq!(read_until_closed(&mut peer), b"");
    let out = nc.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn send_only_ignores_the_peer_and_quits_at_stdin_eof() {
    let (listener, port) = peer_listener();
    let nc = std::thread::spawn(move || run(&["nc", "--send-only", "127.0.0.1", &port], b"up"));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let _ = peer.write_all(b"ignored");
    assert_eq!(read_until_closed(&mut peer), b"up");
    let out = nc.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
}

#[test]
fn recv_only_does_not_read_stdin() {
    let (listener, port) = peer_listener();
    let nc =
        std::thread::spawn(move || run(&["nc", "--recv-only", "127.0.0.1", &port], b"not sent"));
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(b"down").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let out = nc.join().unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"down");
    assert_eq!(read_until_closed(&mut peer), b"");
}

#[test]
fn s_and_p_choose_the_source_address_and_port() {
    let (listener, port) = peer_listener();
    let source = TcpListener::bind("127.0.0.2:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source_text = source.to_string();
    let nc = std::thread::spawn(move || {
        run(
            &[
                "nc",
                "-N",
                "-s",
                "127.0.0.2",
                "-p",
                &source_text,
                "127.0.0.1",
                &port,
            ],
            b"",
        )
    });
    let (peer, from) = listener.accept().unwrap();
    assert_eq!(from, SocketAddr::from(([127, 0, 0, 2], source)));
    drop(peer);
    assert_eq!(nc.join().unwrap().code(), Some(0));
}

#[test]
fn u_sends_and_receives_datagrams() {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    let out = run(
        &["nc", "-u", "--send-only", "127.0.0.1", &port],
        b"datagram",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut buf = [0; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"datagram");

    // A UDP peer never ends its session: -w ends it once nothing came for a while.
    let (mut nc, port) = nc_listening(&["-u", "-l", "-w", "0.3", "--recv-only", "127.0.0.1", "0"]);
    socket
        .send_to(b"to the listener", ("127.0.0.1", port))
        .unwrap();
    let own = socket.local_addr().unwrap().port();
    // As OpenBSD nc says it: the sender's address and port.
    nc.wait_log(&format!("Connection received on 127.0.0.1 {own}"));
    let out = nc.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"to the listener");
}

#[test]
fn unix_sockets_with_capital_u() {
    let dir = common::tempdir();
    let path = dir.path().join("nc.sock");
    let path_text = path.to_str().unwrap().to_owned();
    let mut server = Proc::spawn(&["nc", "-v", "-l", "-U", &path_text]);
    server.wait_log("Listening on");
    server.send_and_close(b"");
    let out = run(&["nc", "-N", "-U", &path_text], b"over unix");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let served = server.finish();
    assert_eq!(served.code(), Some(0), "{}", served.stderr);
    assert_eq!(served.stdout, b"over unix");
    assert!(!path.exists());
}

#[test]
fn e_and_c_run_a_program_for_the_connection() {
    let (listener, port) = peer_listener();
    let nc = std::thread::spawn(move || {
        run(
            &["nc", "-c", "echo hello; exec cat", "127.0.0.1", &port],
            b"",
        )
    });
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(b"through cat").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_until_closed(&mut peer), b"hello\nthrough cat");
    assert_eq!(nc.join().unwrap().code(), Some(0));

    let (_nc, port) = nc_listening(&["-l", "-k", "-e", "cat", "127.0.0.1", "0"]);
    for text in [&b"first"[..], b"second"] {
        let mut peer = connect(port);
        peer.write_all(text).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_until_closed(&mut peer), text);
    }
}

#[test]
fn k_keeps_listening_for_one_peer_after_another() {
    let (mut nc, port) = nc_listening(&["-l", "-k", "127.0.0.1", "0"]);
    nc.send_and_close(b"");
    for text in [&b"one "[..], b"two"] {
        let mut peer = connect(port);
        peer.write_all(text).unwrap();
        drop(peer);
    }
    nc.wait_log_count("Connection received on", 2);
    // The second peer's connection ends too, after which nc listens on.
    let mut third = connect(port);
    third.write_all(b" three").unwrap();
    drop(third);
    nc.wait_log_count("Connection received on", 3);
    let out = nc.terminate();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("one two"), "{text}");
}

#[test]
fn broker_passes_messages_between_clients_and_max_conns_caps_them() {
    let (mut nc, port) = nc_listening(&["-l", "--broker", "--max-conns", "2", "127.0.0.1", "0"]);
    let mut a = connect(port);
    nc.wait_log("(1 in the chat)");
    let mut b = connect(port);
    nc.wait_log("(2 in the chat)");
    let mut c = connect(port);
    assert_eq!(read_until_closed(&mut c), b"");
    nc.wait_log("2 connection(s) already open (--max-conns)");
    a.write_all(b"to b").unwrap();
    let mut got = [0; 4];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"to b");
}

#[test]
fn allow_and_deny_filter_listening_peers() {
    let (mut nc, port) = nc_listening(&["-l", "--deny", "127.0.0.1", "127.0.0.1", "0"]);
    nc.send_and_close(b"");
    let mut denied = connect(port);
    assert_eq!(read_until_closed(&mut denied), b"");
    nc.wait_log("denied by --deny 127.0.0.1/32");
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 5], 0)).into())
        .unwrap();
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut admitted: TcpStream = socket.into();
    admitted.write_all(b"let in").unwrap();
    drop(admitted);
    let out = nc.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"let in");

    let (mut allowing, port) = nc_listening(&["-l", "--allow", "10.0.0.0/8", "127.0.0.1", "0"]);
    let mut refused = connect(port);
    assert_eq!(read_until_closed(&mut refused), b"");
    allowing.wait_log("not in any --allow range");
}

#[test]
fn six_listens_and_connects_over_ipv6() {
    let (mut nc, port) = nc_listening(&["-6", "-l", "::1", "0"]);
    nc.send_and_close(b"");
    let out = run(&["nc", "-6", "-N", "::1", &port.to_string()], b"v6");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(nc.finish().stdout, b"v6");
}

#[test]
fn z_reports_open_ports_and_exits_1_when_none() {
    let (_open, port) = peer_listener();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &["nc", "-z", "-v", "127.0.0.1", &format!("{closed},{port}")],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!("Connection to 127.0.0.1 {port} port [tcp/*] succeeded!")
    );
    let out = run(&["nc", "-z", "127.0.0.1", &closed.to_string()], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stderr, "");
}

#[test]
fn flags_that_need_l_or_operands_are_refused() {
    let cases: &[(&[&str], &str)] = &[
        (&["-k", "127.0.0.1", "80"], "nc: -k applies with -l"),
        (
            &["--broker", "127.0.0.1", "80"],
            "nc: --broker applies with -l",
        ),
        (
            &["127.0.0.1"],
            "nc expects HOST PORT to connect to, got \"127.0.0.1\" (or -l to listen)",
        ),
        (
            &["-l", "-e", "cat", "--max-conns", "2", "0"],
            "nc: --max-conns applies with --broker, or -k with -e/-c",
        ),
        (
            &["-x"],
            "nc: unexpected argument '-x' found (see socketry nc --help)",
        ),
    ];
    assert_nc_refuses(cases);
}

#[test]
fn listen_with_k_or_fork_keeps_accepting() {
    for args in [
        &["-dd", "listen", "-k", "TCP-LISTEN:0,bind=127.0.0.1"][..],
        &["-dd", "listen", "TCP-LISTEN:0,bind=127.0.0.1,fork"],
    ] {
        let mut listen = Proc::spawn(args);
        let port = listen.listening_port();
        listen.send_and_close(b"");
        for text in [&b"a"[..], b"b"] {
            let mut peer = connect(port);
            peer.write_all(text).unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            assert_eq!(read_until_closed(&mut peer), b"");
        }
        let mut third = connect(port);
        third.write_all(b"c").unwrap();
        third.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_until_closed(&mut third), b"");
        // The peer sees EOF as soon as stdin's EOF is passed on, which can be before its
        // own byte reaches stdout: the log line at each connection's end says it has.
        listen.wait_log_count(" done: 1 bytes in, 0 bytes out", 3);
        let out = listen.terminate();
        assert_eq!(out.stdout, b"abc", "{args:?}: {}", out.stderr);
    }
}

/// Runs `socketry nc ARGS` for each case and checks that it exits 1 with exactly that one
/// error line.
fn assert_nc_refuses(cases: &[(&[&str], &str)]) {
    for (args, want) in cases {
        let mut all = vec!["nc"];
        all.extend_from_slice(args);
        let out = run(&all, b"");
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(out.errors(), [*want], "{args:?}");
    }
}
