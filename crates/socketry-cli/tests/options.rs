#![allow(clippy::unwrap_used)]
//! TCP address options (fork, max-children, range, socket options as the kernel reports them
//! with -D, bind, timeouts) and the relay's flags (-u, -U, -t, -T, -v, -x, -b, crnl,
//! ignoreeof, statistics, log file, dual addresses), against the standard library's sockets
//! on 127.0.0.1 and ::1.

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::thread;

use common::{bin, run, tempdir, Output, Proc, WAIT};

/// Exit status of socketry ended by SIGTERM (128 + 15).
const TERMINATED: i32 = 143;

/// A std listener on 127.0.0.1 with an ephemeral port.
fn listen_on_loopback() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Accepts one connection, failing the test after [`WAIT`].
fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let listener = listener.try_clone().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(listener.accept());
    });
    let (stream, peer) = rx
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no connection within {WAIT:?}"))
        .unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    (stream, peer)
}

/// Accepts one connection in a thread and hands it to `serve`.
fn serve_one<T: Send + 'static>(
    listener: TcpListener,
    serve: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    thread::spawn(move || serve(accept(&listener).0))
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    got
}

fn read_exactly(stream: &mut TcpStream, len: usize) -> Vec<u8> {
    let mut got = vec![0; len];
    stream.read_exact(&mut got).unwrap();
    got
}

/// A free ephemeral port: bound by a std socket, read, and released.
fn free_port() -> u16 {
    listen_on_loopback().1
}

/// The messages of the notice lines (`... N message`).
fn notices(out: &Output) -> Vec<&str> {
    out.stderr
        .lines()
        .filter_map(|l| l.split_once("] N ").map(|(_, m)| m))
        .collect()
}

/// The `KEY=value` pairs of a `-D` line's bracketed socket report.
fn socket_report(line: &str) -> HashMap<String, String> {
    let inside = line
        .split_once("[SO_")
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .map(|rest| format!("SO_{rest}"))
        .unwrap_or_else(|| panic!("no socket report in {line:?}"));
    inside
        .split(' ')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The socket report of the connection a `TCP-LISTEN` address (run with -D) accepts from a
/// client connecting to `ip`.
fn listen_report(address: &str, ip: &str) -> HashMap<String, String> {
    let mut relay = Proc::spawn(&["-D", address, "SOCKETPAIR"]);
    let port = relay.listening_port();
    let client = TcpStream::connect((ip, port)).unwrap();
    let line = relay.wait_log("first address: TCP");
    drop(client);
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    socket_report(&line)
}

/// The socket report of a `TCP:` connect address (run with -D) to a std listener.
fn connect_report(options: &str) -> HashMap<String, String> {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| read_all(&mut s));
    let mut relay = Proc::spawn(&["-D", "-", &format!("TCP:127.0.0.1:{port}{options}")]);
    let line = relay.wait_log("second address: TCP");
    relay.send_and_close(b"");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"");
    socket_report(&line)
}

fn value<'a>(report: &'a HashMap<String, String>, key: &str) -> &'a str {
    report
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {report:?}"))
}

#[test]
fn fork_serves_several_clients_at_once() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork", "SOCKETPAIR"]);
    let port = relay.listening_port();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| connect(port)).collect();
    // The last to connect is served first: none waits for another to finish.
    for (i, client) in clients.iter_mut().enumerate().rev() {
        let message = format!("client {i}");
        client.write_all(message.as_bytes()).unwrap();
        assert_eq!(read_exactly(client, message.len()), message.as_bytes());
    }
    for client in &mut clients {
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(client), b"");
    }
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn max_children_makes_the_next_client_wait_for_the_first_to_finish() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork,max-children=1",
        "SOCKETPAIR",
    ]);
    let port = relay.listening_port();
    let mut first = connect(port);
    first.write_all(b"one").unwrap();
    assert_eq!(read_exactly(&mut first, 3), b"one");
    let mut second = connect(port);
    second.write_all(b"two").unwrap();

    first.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut first), b"");
    assert_eq!(read_exactly(&mut second, 3), b"two");

    let (first, second) = (first.local_addr().unwrap(), second.local_addr().unwrap());
    let first_done = relay.wait_log(&format!(
        "connection TCP 127.0.0.1:{port} <- {first} done: 3 bytes in, 3 bytes out"
    ));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
    assert!(
        at(&first_done) < at(&format!("accepting connection from {second}")),
        "the second client was accepted before the first finished:\n{}",
        out.stderr
    );
}

#[test]
fn range_admits_a_client_inside_it() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,range=127.0.0.1/32",
        "SOCKETPAIR",
    ]);
    let port = relay.listening_port();
    let mut client = connect(port);
    client.write_all(b"let me in").unwrap();
    assert_eq!(read_exactly(&mut client, 9), b"let me in");
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut client), b"");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn range_closes_a_client_outside_it_at_once() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,range=10.0.0.0/8",
        "SOCKETPAIR",
    ]);
    let port = relay.listening_port();
    let mut client = connect(port);
    let mut buf = [0; 16];
    match client.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection to be closed, got {other:?}"),
    }
    let client = client.local_addr().unwrap();
    relay.wait_log(&format!(
        "refusing connection from {client} on TCP-LISTEN 127.0.0.1:{port}: not in range"
    ));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    assert!(!out.stderr.contains("accepting"), "{}", out.stderr);
}

#[test]
fn reuseaddr_is_on_for_listeners_unless_turned_off() {
    let on = listen_report("TCP-LISTEN:0,bind=127.0.0.1", "127.0.0.1");
    assert_eq!(value(&on, "SO_REUSEADDR"), "1");
    let off = listen_report("TCP-LISTEN:0,bind=127.0.0.1,reuseaddr=0", "127.0.0.1");
    assert_eq!(value(&off, "SO_REUSEADDR"), "0");
}

#[test]
fn so_reuseport_is_set_and_lets_two_listeners_share_a_port() {
    let report = listen_report("TCP-LISTEN:0,bind=127.0.0.1,so-reuseport", "127.0.0.1");
    assert_eq!(value(&report, "SO_REUSEPORT"), "1");
    let report = listen_report("TCP-LISTEN:0,bind=127.0.0.1", "127.0.0.1");
    assert_eq!(value(&report, "SO_REUSEPORT"), "0");

    let mut first = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,so-reuseport", "-"]);
    let port = first.listening_port();
    let mut second = Proc::spawn(&[
        "-d",
        &format!("TCP-LISTEN:{port},bind=127.0.0.1,so-reuseport"),
        "-",
    ]);
    assert_eq!(second.listening_port(), port);

    let alone = format!("TCP-LISTEN:{port},bind=127.0.0.1");
    let out = run(&[&alone, "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "{alone}: binding to 127.0.0.1:{port}: Address already in use"
        )]
    );
    for proc in [first, second] {
        assert_eq!(proc.terminate().code(), Some(TERMINATED));
    }
}

#[test]
fn nodelay_is_set_on_both_the_connect_and_the_listen_side() {
    let connected = connect_report(",nodelay");
    assert_eq!(value(&connected, "TCP_NODELAY"), "1");
    let accepted = listen_report("TCP-LISTEN:0,bind=127.0.0.1,nodelay", "127.0.0.1");
    assert_eq!(value(&accepted, "TCP_NODELAY"), "1");
    let plain = listen_report("TCP-LISTEN:0,bind=127.0.0.1", "127.0.0.1");
    assert_eq!(value(&plain, "TCP_NODELAY"), "0");
}

#[test]
fn keepalive_is_set() {
    let connected = connect_report(",keepalive");
    assert_eq!(value(&connected, "SO_KEEPALIVE"), "1");
    let accepted = listen_report("TCP-LISTEN:0,bind=127.0.0.1,keepalive", "127.0.0.1");
    assert_eq!(value(&accepted, "SO_KEEPALIVE"), "1");
    let plain = connect_report("");
    assert_eq!(value(&plain, "SO_KEEPALIVE"), "0");
}

#[test]
fn rcvbuf_and_sndbuf_are_set_and_doubled_by_the_kernel() {
    let connected = connect_report(",rcvbuf=100000,sndbuf=60000");
    assert_eq!(value(&connected, "SO_RCVBUF"), "200000");
    assert_eq!(value(&connected, "SO_SNDBUF"), "120000");
    let accepted = listen_report(
        "TCP-LISTEN:0,bind=127.0.0.1,rcvbuf=100000,sndbuf=60000",
        "127.0.0.1",
    );
    assert_eq!(value(&accepted, "SO_RCVBUF"), "200000");
    assert_eq!(value(&accepted, "SO_SNDBUF"), "120000");
}

#[test]
fn ipv6_v6only_is_set_on_tcp6_listen() {
    common::in_network_namespace(|| {
        // Binding to ::1 would set IPV6_V6ONLY by itself, so these listen on [::].
        let on = listen_report("TCP6-LISTEN:0,ipv6-v6only", "::1");
        assert_eq!(value(&on, "IPV6_V6ONLY"), "1");
        let off = listen_report("TCP6-LISTEN:0,ipv6-v6only=0", "127.0.0.1");
        assert_eq!(value(&off, "IPV6_V6ONLY"), "0");
        // An IPv4 client reaches the dual-stack listener as a mapped address.
        assert!(
            value(&off, "peer").starts_with("[::ffff:127.0.0.1]:"),
            "{off:?}"
        );

        let mut v6only = Proc::spawn(&["-d", "TCP6-LISTEN:0,ipv6-v6only", "SOCKETPAIR"]);
        let port = v6only.listening_port();
        let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
        assert_eq!(v6only.terminate().code(), Some(TERMINATED));
    });
}

#[test]
fn pf_ip6_and_the_family_flags_choose_what_tcp_listen_binds() {
    common::in_network_namespace(|| {
        for args in [&["TCP-LISTEN:0,pf=ip6"][..], &["-6", "TCP-LISTEN:0"]] {
            let mut relay = Proc::spawn(&[&["-d"], args, &["SOCKETPAIR"]].concat());
            let line = relay.wait_log("listening on");
            let port = relay.listening_port();
            assert!(
                line.ends_with(&format!("listening on [::]:{port}")),
                "{line}"
            );
            let mut client = TcpStream::connect(("::1", port)).unwrap();
            client.set_read_timeout(Some(WAIT)).unwrap();
            client.write_all(b"six").unwrap();
            assert_eq!(read_exactly(&mut client, 3), b"six");
            assert_eq!(relay.terminate().code(), Some(TERMINATED));
        }

        let mut relay = Proc::spawn(&["-d", "-4", "TCP-LISTEN:0", "SOCKETPAIR"]);
        assert!(
            common::is_isolated(relay.pid()),
            "listening on the machine's 0.0.0.0"
        );
        let port = relay.listening_port();
        relay.wait_log(&format!("listening on 0.0.0.0:{port}"));
        let refused = TcpStream::connect(("::1", port)).unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
        let mut client = connect(port);
        client.write_all(b"four").unwrap();
        assert_eq!(read_exactly(&mut client, 4), b"four");
        assert_eq!(relay.terminate().code(), Some(TERMINATED));
    });
}

#[test]
fn sourceport_and_bind_choose_the_local_port_of_a_connection() {
    for option in ["sourceport=", "bind=127.0.0.1:", "bind=localhost:"] {
        let (listener, port) = listen_on_loopback();
        let source = free_port();
        let peer = thread::spawn(move || {
            let (mut stream, from) = accept(&listener);
            (from, read_all(&mut stream))
        });
        let out = run(
            &["-", &format!("TCP:127.0.0.1:{port},{option}{source}")],
            b"from a chosen port",
        );
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let (from, got) = peer.join().unwrap();
        assert_eq!(from, SocketAddr::from(([127, 0, 0, 1], source)), "{option}");
        assert_eq!(got, b"from a chosen port");
    }
}

#[test]
fn bind_resolves_a_local_host_name() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=localhost", "-"]);
    let line = relay.wait_log("listening on");
    assert!(
        line.ends_with(&format!("127.0.0.1:{}", relay.listening_port())),
        "{line}"
    );
    relay.terminate();

    let out = run(&["-", "TCP-LISTEN:0,bind=no-such-host.invalid"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.errors()[0].contains("resolving \"no-such-host.invalid\""),
        "{}",
        out.stderr
    );
}

#[test]
fn connect_timeout_allows_a_quick_connection() {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| read_all(&mut s));
    let out = run(
        &["-", &format!("TCP:127.0.0.1:{port},connect-timeout=5")],
        b"in time",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"in time");
}

#[test]
fn connect_timeout_gives_up_on_a_listener_whose_queue_is_full() {
    // A listener with backlog=0 that serves one client at a time queues one more connection
    // and drops the SYNs of any further one, so that connect hangs.
    let mut server = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork,max-children=1,backlog=0",
        "SOCKETPAIR",
    ]);
    let port = server.listening_port();
    let mut served = connect(port);
    served.write_all(b"served").unwrap();
    assert_eq!(read_exactly(&mut served, 6), b"served");
    let _queued = connect(port);

    let address = format!("TCP:127.0.0.1:{port},connect-timeout=0.3");
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "{address}: connecting to 127.0.0.1:{port}: timed out after 0.3s"
        )]
    );
    assert_eq!(server.terminate().code(), Some(TERMINATED));
}

#[test]
fn accept_timeout_ends_a_listener_without_clients() {
    // As in socat: nobody came, nothing failed; a warning and exit status 0.
    let address = "TCP-LISTEN:0,bind=127.0.0.1,accept-timeout=0.3";
    let mut relay = Proc::spawn(&["-d", address, "-"]);
    let port = relay.listening_port();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.errors().is_empty(), "{}", out.stderr);
    let warning =
        format!("W {address}: no peer on TCP-LISTEN 127.0.0.1:{port} within 0.3s (accept-timeout)");
    assert!(out.stderr.contains(&warning), "{}", out.stderr);
}

#[test]
fn backlog_is_accepted_by_a_working_listener() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,backlog=5", "-"]);
    let port = relay.listening_port();
    let mut client = connect(port);
    relay.send_and_close(b"backlog");
    client.write_all(b"works").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_all(&mut client), b"backlog");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"works");
}

#[test]
fn unidirectional_u_moves_data_from_the_first_address_only() {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| {
        s.write_all(b"not delivered").unwrap();
        read_exactly(&mut s, 7)
    });
    let out = run(&["-u", "-", &format!("TCP:127.0.0.1:{port}")], b"to peer");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"to peer");
    assert_eq!(out.stdout, b"");
}

#[test]
fn unidirectional_capital_u_moves_data_from_the_second_address_only() {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| {
        s.write_all(b"from peer").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_all(&mut s)
    });
    let out = run(&["-U", "-", &format!("TCP:127.0.0.1:{port}")], b"not sent");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from peer");
    assert_eq!(peer.join().unwrap(), b"");
}

#[test]
fn linger_t_cuts_off_a_silent_peer_after_stdin_ends() {
    // `connect` waits for the peer to close unless -t says how long to wait.
    let (listener, port) = listen_on_loopback();
    let (tx, rx) = mpsc::channel();
    let peer = serve_one(listener, move |mut s| {
        let got = read_all(&mut s);
        // Stays open and silent until the test is done.
        let _ = rx.recv_timeout(WAIT);
        got
    });
    let out = run(
        &["-t", "0.3", "connect", "127.0.0.1", &port.to_string()],
        b"bye",
    );
    tx.send(()).unwrap();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
    assert_eq!(peer.join().unwrap(), b"bye");
}

#[test]
fn inactivity_capital_t_ends_a_quiet_relay() {
    let (listener, port) = listen_on_loopback();
    let mut relay = Proc::spawn(&["-d", "-T", "0.5", "-", &format!("TCP:127.0.0.1:{port}")]);
    let (mut peer, _) = accept(&listener);
    let _stdin_kept_open = relay.stdin();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        notices(&out).contains(&"no data for 0.5s: ending the relay"),
        "{}",
        out.stderr
    );
    assert_eq!(read_all(&mut peer), b"");
}

/// Checks that `line` is a dump header, `> 2026/11/21 16:30:00.123456  length=6 from=0 to=5`,
/// and returns its arrow and the part after the timestamp.
fn dump_header(line: &str) -> (char, &str) {
    const SHAPE: &str = "# dddd/dd/dd dd:dd:dd.dddddd  ";
    assert!(line.len() > SHAPE.len(), "not a dump header: {line:?}");
    let (stamp, rest) = line.split_at(SHAPE.len());
    let fits = stamp.chars().zip(SHAPE.chars()).all(|(c, s)| match s {
        '#' => c == '>' || c == '<',
        'd' => c.is_ascii_digit(),
        s => c == s,
    });
    assert!(fits, "not a dump header: {line:?}");
    (line.chars().next().unwrap(), rest)
}

/// A peer that reads until EOF, then sends `reply` and closes; returns what it read.
fn reply_after_eof(listener: TcpListener, reply: &'static [u8]) -> thread::JoinHandle<Vec<u8>> {
    serve_one(listener, move |mut s| {
        let got = read_all(&mut s);
        s.write_all(reply).unwrap();
        got
    })
}

#[test]
fn verbose_v_dumps_both_directions_as_text() {
    let (listener, port) = listen_on_loopback();
    let peer = reply_after_eof(listener, b"hi\r\n");
    let out = run(
        &["-v", "-t", "5", "-", &format!("TCP:127.0.0.1:{port}")],
        b"hello\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"hello\n");
    assert_eq!(out.stdout, b"hi\r\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 4, "{}", out.stderr);
    assert_eq!(dump_header(lines[0]), ('>', "length=6 from=0 to=5"));
    assert_eq!(lines[1], "hello");
    assert_eq!(dump_header(lines[2]), ('<', "length=4 from=0 to=3"));
    assert_eq!(lines[3], "hi\\r");
}

#[test]
fn hex_x_dumps_bytes_and_their_printable_characters() {
    let (listener, port) = listen_on_loopback();
    let peer = reply_after_eof(listener, b"");
    let out = run(
        &["-x", "-t", "5", "-", &format!("TCP:127.0.0.1:{port}")],
        b"AB\x00\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"AB\x00\n");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stderr);
    assert_eq!(dump_header(lines[0]), ('>', "length=4 from=0 to=3"));
    assert_eq!(lines[1], format!(" {:<48}  AB..", "41 42 00 0a"));
    assert_eq!(lines[2], "--");
}

#[test]
fn crnl_converts_line_endings_both_ways() {
    let (listener, port) = listen_on_loopback();
    let peer = reply_after_eof(listener, b"c\r\nd\r\n");
    let out = run(
        &["-t", "5", "-", &format!("TCP:127.0.0.1:{port},crnl")],
        b"a\nb\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"a\r\nb\r\n");
    assert_eq!(out.stdout, b"c\nd\n");
}

#[test]
fn ignoreeof_keeps_reading_a_file_that_grows() {
    let dir = tempdir();
    let path = dir.path().join("input");
    std::fs::write(&path, b"first\n").unwrap();
    let (listener, port) = listen_on_loopback();
    // The shell only redirects standard input from the file, then becomes socketry.
    let relay = Proc::spawn_with(
        Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" -u STDIN,ignoreeof "$1" < "$2""#)
            .arg(bin())
            .arg(format!("TCP:127.0.0.1:{port}"))
            .arg(&path),
    );
    let (mut peer, _) = accept(&listener);
    assert_eq!(read_exactly(&mut peer, 6), b"first\n");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"second\n")
        .unwrap();
    assert_eq!(read_exactly(&mut peer, 7), b"second\n");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn statistics_reports_the_bytes_moved_each_way() {
    let (listener, port) = listen_on_loopback();
    let peer = reply_after_eof(listener, b"12345");
    let out = run(
        &[
            "--statistics",
            "-t",
            "5",
            "-",
            &format!("TCP:127.0.0.1:{port}"),
        ],
        b"abc",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"abc");
    assert_eq!(
        notices(&out),
        vec![
            "STATISTICS: left to right: 1 packets(s), 3 byte(s)",
            "STATISTICS: right to left: 1 packets(s), 5 byte(s)",
            "statistics: 3 bytes from the first address to the second, 5 bytes back, 1 connection(s)"
        ]
    );
}

#[test]
fn log_file_lf_receives_the_log_instead_of_stderr() {
    let dir = tempdir();
    let log = dir.path().join("socketry.log");
    let port = free_port();
    let address = format!("TCP:127.0.0.1:{port}");
    let out = run(&["-lf", log.to_str().unwrap(), "-", &address], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(out.stderr, "");
    let logged = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = logged.lines().collect();
    assert_eq!(lines.len(), 1, "{logged}");
    assert!(
        lines[0].ends_with(&format!(
            " E {address}: connecting to 127.0.0.1:{port}: Connection refused"
        )),
        "{logged}"
    );
}

#[test]
fn a_one_byte_buffer_still_relays_every_byte() {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| {
        let mut back = s.try_clone().unwrap();
        std::io::copy(&mut s, &mut back).unwrap();
    });
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let out = run(
        &["-b", "1", "-t", "10", "-", &format!("TCP:127.0.0.1:{port}")],
        &data,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    peer.join().unwrap();
    assert_eq!(out.stdout.len(), data.len());
    assert_eq!(out.stdout, data);

    // Each read moves one byte: the dump shows one transfer per byte.
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| read_all(&mut s));
    let out = run(
        &["-b", "1", "-u", "-v", "-", &format!("TCP:127.0.0.1:{port}")],
        b"abc",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(peer.join().unwrap(), b"abc");
    let headers: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with('>'))
        .map(|l| dump_header(l).1)
        .collect();
    assert_eq!(
        headers,
        [
            "length=1 from=0 to=0",
            "length=1 from=1 to=1",
            "length=1 from=2 to=2"
        ]
    );
}

#[test]
fn a_dual_address_reads_from_one_peer_and_writes_to_another() {
    let (read_listener, read_port) = listen_on_loopback();
    let (write_listener, write_port) = listen_on_loopback();
    let read_peer = serve_one(read_listener, |mut s| {
        s.write_all(b"from the read peer").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_all(&mut s)
    });
    let write_peer = serve_one(write_listener, |mut s| read_all(&mut s));
    let dual = format!("TCP:127.0.0.1:{read_port}!!TCP:127.0.0.1:{write_port}");
    let out = run(&[&dual, "-"], b"to the write peer");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from the read peer");
    assert_eq!(write_peer.join().unwrap(), b"to the write peer");
    assert_eq!(read_peer.join().unwrap(), b"");
}

#[test]
fn a_peer_reset_while_writing_is_an_error() {
    let (listener, port) = listen_on_loopback();
    let peer = serve_one(listener, |mut s| {
        let got = read_exactly(&mut s, 1000);
        let linger = nix::libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::Linger, &linger).unwrap();
        got
    });
    let data = vec![b'x'; 32 << 20];
    let out = run(&["-u", "-", &format!("TCP:127.0.0.1:{port}")], &data);
    assert_eq!(peer.join().unwrap(), vec![b'x'; 1000]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let errors = out.errors();
    assert!(
        errors == ["writing (first address to second): Connection reset by peer"]
            || errors == ["writing (first address to second): Broken pipe"],
        "{}",
        out.stderr
    );
}

also_on_the_copy_path!(
    fork_serves_several_clients_at_once,
    max_children_makes_the_next_client_wait_for_the_first_to_finish,
    unidirectional_u_moves_data_from_the_first_address_only,
    unidirectional_capital_u_moves_data_from_the_second_address_only,
    linger_t_cuts_off_a_silent_peer_after_stdin_ends,
    inactivity_capital_t_ends_a_quiet_relay,
    statistics_reports_the_bytes_moved_each_way,
    a_one_byte_buffer_still_relays_every_byte,
    a_dual_address_reads_from_one_peer_and_writes_to_another,
    a_peer_reset_while_writing_is_an_error,
);
