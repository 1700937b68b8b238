#![allow(clippy::unwrap_used)]
//! Unix domain sockets (paths and the abstract namespace, stream, datagram and seqpacket) and
//! the socket-file rules, against the standard library's sockets. Every path lives in a
//! per-test temporary directory and every abstract name carries the test process's id.
//!
//! Tests that rely on one direction flowing after the other one's EOF pass `-t 10`, so that
//! the default half-second linger cannot end the relay on a slow machine.

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::Path;

use common::{run, tempdir, Proc, WAIT};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use socket2::{Domain, SockAddr, SockRef, Socket, Type};

/// An abstract name no other test process can be using.
fn abstract_name(test: &str) -> String {
    format!("socketry-test-{}-{test}", std::process::id())
}

fn abstract_addr(name: &str) -> SocketAddr {
    SocketAddr::from_abstract_name(name).unwrap()
}

/// A stream client whose reads fail the test instead of hanging.
fn connect(path: &Path) -> UnixStream {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Accepts one connection, failing the test after [`WAIT`] (`accept` honours SO_RCVTIMEO).
fn accept(listener: &UnixListener) -> UnixStream {
    SockRef::from(listener)
        .set_read_timeout(Some(WAIT))
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// A datagram socket bound at `path` whose receives fail the test instead of hanging.
fn bind_datagram(path: &Path) -> UnixDatagram {
    let socket = UnixDatagram::bind(path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn receive(socket: &UnixDatagram) -> Vec<u8> {
    let mut buf = [0u8; 65536];
    let n = socket.recv(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn seqpacket_socket() -> Socket {
    let socket = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn receive_message(socket: &Socket) -> Vec<u8> {
    let mut buf = [0u8; 65536];
    let mut reader = socket;
    let n = reader.read(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Checks that the peer has shut down: unlike an empty message, EOF reads as empty every time.
fn assert_eof(socket: &Socket, which: &str) {
    for _ in 0..2 {
        assert_eq!(receive_message(socket), b"", "{which} reads EOF");
    }
}

// UNIX-LISTEN, UNIX-CONNECT, UNIX-CLIENT: streams.

#[test]
fn unix_listen_shuts_down_its_write_on_stdin_eof_and_the_client_keeps_sending() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&[
        "-d",
        "-t",
        "10",
        &format!("UNIX-LISTEN:{}", path.display()),
        "-",
    ]);
    relay.wait_log("listening on");
    let mut client = connect(&path);
    relay.send_and_close(b"from stdin");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from stdin");
    client.write_all(b"after stdin's eof").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"after stdin's eof");
}

#[test]
fn unix_listen_passes_the_clients_eof_on_and_the_reply_keeps_flowing() {
    let dir = tempdir();
    let front = dir.path().join("front");
    let back = dir.path().join("back");
    let server = UnixListener::bind(&back).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        "-t",
        "10",
        &format!("UNIX-LISTEN:{}", front.display()),
        &format!("UNIX-CONNECT:{}", back.display()),
    ]);
    relay.wait_log("listening on");
    let mut client = connect(&front);
    let mut served = accept(&server);
    client.write_all(b"request").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut request = Vec::new();
    served.read_to_end(&mut request).unwrap();
    assert_eq!(request, b"request");
    served.write_all(b"reply after the request's eof").unwrap();
    drop(served);
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"reply after the request's eof");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.errors(), Vec::<&str>::new());
}

/// Runs socketry with `ADDRESS` against a std stream listener at `path` that answers "pong"
/// and returns what the listener read.
fn exchange_with_stream_listener(path: &Path, address: &str) -> Vec<u8> {
    let listener = UnixListener::bind(path).unwrap();
    let server = std::thread::spawn(move || {
        let mut stream = accept(&listener);
        stream.write_all(b"pong").unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        got
    });
    let out = run(&["-t", "10", "-", address], b"ping");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"pong");
    server.join().unwrap()
}

#[test]
fn unix_connect_talks_to_a_stream_listener() {
    let dir = tempdir();
    let path = dir.path().join("server");
    let got = exchange_with_stream_listener(&path, &format!("UNIX-CONNECT:{}", path.display()));
    assert_eq!(got, b"ping");
}

#[test]
fn unix_client_talks_to_a_stream_listener() {
    let dir = tempdir();
    let path = dir.path().join("server");
    let got = exchange_with_stream_listener(&path, &format!("UNIX-CLIENT:{}", path.display()));
    assert_eq!(got, b"ping");
}

#[test]
fn unix_client_falls_back_to_a_datagram_socket() {
    let dir = tempdir();
    let path = dir.path().join("dgram");
    let peer = bind_datagram(&path);
    let out = run(
        &["-u", "-", &format!("UNIX-CLIENT:{}", path.display())],
        b"to a datagram socket",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(receive(&peer), b"to a datagram socket");
}

// UNIX-SENDTO, UNIX-RECVFROM, UNIX-RECV: datagrams.

#[test]
fn unix_sendto_sends_from_an_automatic_name_and_receives_the_reply() {
    let dir = tempdir();
    let path = dir.path().join("dgram");
    let peer = bind_datagram(&path);
    let mut relay = Proc::spawn(&["-", &format!("UNIX-SENDTO:{}", path.display())]);
    let mut stdin = relay.stdin();
    stdin.write_all(b"ping").unwrap();
    let mut buf = [0u8; 64];
    let (n, sender) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
    assert!(
        sender.as_abstract_name().is_some(),
        "socketry sent from {sender:?}, not an automatic abstract name"
    );
    peer.send_to_addr(b"pong", &sender).unwrap();
    drop(stdin);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"pong");
}

#[test]
fn unix_recvfrom_replies_to_the_bound_sender() {
    let dir = tempdir();
    let path = dir.path().join("server");
    let client_path = dir.path().join("client");
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-RECVFROM:{}", path.display()), "-"]);
    relay.wait_log("receiving on");
    let client = bind_datagram(&client_path);
    client.send_to(b"ping", &path).unwrap();
    relay.send_and_close(b"pong");
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from.as_pathname(), Some(path.as_path()));
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"ping");
    assert!(!path.exists(), "{} is left behind", path.display());
}

/// Sends `datagrams` to whatever `send` reaches while socketry relays them from `receiver`
/// (a receive-only address) to a std stream listener; checks the stream gets their bytes in
/// order and nothing else.
fn relay_datagrams_to_a_stream(receiver: &str, send: impl Fn(&UnixDatagram, &[u8])) {
    let dir = tempdir();
    let back = dir.path().join("stream");
    let server = UnixListener::bind(&back).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        receiver,
        &format!("UNIX-CONNECT:{}", back.display()),
    ]);
    relay.wait_log("receiving on");
    let mut stream = accept(&server);
    let sender = UnixDatagram::unbound().unwrap();
    for datagram in [&b"one"[..], b"two", b"three"] {
        send(&sender, datagram);
    }
    let mut got = [0u8; 11];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"onetwothree");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    assert_eq!(out.errors(), Vec::<&str>::new());
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert_eq!(rest, b"");
}

#[test]
fn unix_recv_writes_each_datagram_in_order_to_a_stream() {
    let dir = tempdir();
    let path = dir.path().join("recv");
    relay_datagrams_to_a_stream(&format!("UNIX-RECV:{}", path.display()), |s, d| {
        s.send_to(d, &path).unwrap();
    });
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn each_stream_read_becomes_one_datagram() {
    let dir = tempdir();
    let front = dir.path().join("stream");
    let back = dir.path().join("dgram");
    let peer = bind_datagram(&back);
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        &format!("UNIX-LISTEN:{}", front.display()),
        &format!("UNIX-SENDTO:{}", back.display()),
    ]);
    relay.wait_log("listening on");
    let mut client = connect(&front);
    client.write_all(b"abc").unwrap();
    assert_eq!(receive(&peer), b"abc");
    client.write_all(b"defgh").unwrap();
    assert_eq!(receive(&peer), b"defgh");
    client.shutdown(Shutdown::Write).unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
}

// The abstract namespace.

#[test]
fn abstract_listen_relays_both_ways() {
    let name = abstract_name("abstract-listen");
    let mut relay = Proc::spawn(&["-d", "-t", "10", &format!("ABSTRACT-LISTEN:{name}"), "-"]);
    relay.wait_log(&format!("listening on @{name}"));
    let mut client = UnixStream::connect_addr(&abstract_addr(&name)).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    relay.send_and_close(b"from stdin");
    client.write_all(b"from peer").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from stdin");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from peer");
}

#[test]
fn abstract_connect_talks_to_an_abstract_listener() {
    let name = abstract_name("abstract-connect");
    let listener = UnixListener::bind_addr(&abstract_addr(&name)).unwrap();
    let server = std::thread::spawn(move || {
        let mut stream = accept(&listener);
        stream.write_all(b"pong").unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        got
    });
    let out = run(
        &["-t", "10", "-", &format!("ABSTRACT-CONNECT:{name}")],
        b"ping",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"pong");
    assert_eq!(server.join().unwrap(), b"ping");
}

#[test]
fn abstract_sendto_sends_to_an_abstract_datagram_socket() {
    let name = abstract_name("abstract-sendto");
    let peer = UnixDatagram::bind_addr(&abstract_addr(&name)).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let out = run(&["-u", "-", &format!("ABSTRACT-SENDTO:{name}")], b"hello");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(receive(&peer), b"hello");
}

#[test]
fn abstract_recv_writes_each_datagram_in_order_to_a_stream() {
    let name = abstract_name("abstract-recv");
    let addr = abstract_addr(&name);
    relay_datagrams_to_a_stream(&format!("ABSTRACT-RECV:{name}"), |s, d| {
        s.send_to_addr(d, &addr).unwrap();
    });
}

// SOCKETPAIR.

#[test]
fn socketpair_echoes_its_input() {
    let out = run(&["-", "SOCKETPAIR"], b"data\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"data\n");
}

// Seqpacket.

#[test]
fn seqpacket_keeps_message_boundaries_and_carries_eof() {
    let dir = tempdir();
    let front = dir.path().join("front");
    let back = dir.path().join("back");
    let server = seqpacket_socket();
    server.bind(&SockAddr::unix(&back).unwrap()).unwrap();
    server.listen(8).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        "-t",
        "10",
        &format!("UNIX-LISTEN:{},socktype=5", front.display()),
        &format!("UNIX-CONNECT:{},socktype=5", back.display()),
    ]);
    relay.wait_log("listening on");
    let client = seqpacket_socket();
    client.connect(&SockAddr::unix(&front).unwrap()).unwrap();
    let (served, _) = server.accept().unwrap();
    served.set_read_timeout(Some(WAIT)).unwrap();

    for message in [&b"a"[..], b"bb", b"ccc"] {
        client.send(message).unwrap();
    }
    for message in [&b"a"[..], b"bb", b"ccc"] {
        assert_eq!(receive_message(&served), message);
    }
    for message in [&b"xy"[..], b"z"] {
        served.send(message).unwrap();
    }
    for message in [&b"xy"[..], b"z"] {
        assert_eq!(receive_message(&client), message);
    }

    client.shutdown(Shutdown::Write).unwrap();
    assert_eof(&served, "the server");
    served.shutdown(Shutdown::Write).unwrap();
    assert_eof(&client, "the client");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.errors(), Vec::<&str>::new());
}

// fork.

#[test]
fn unix_listen_with_fork_serves_two_clients_at_once() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},fork", path.display()),
        "SOCKETPAIR",
    ]);
    relay.wait_log("listening on");
    let mut first = connect(&path);
    let mut second = connect(&path);
    // The second client is answered while the first, accepted before it, is still open.
    second.write_all(b"second").unwrap();
    let mut got = [0u8; 6];
    second.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"second");
    first.write_all(b"first").unwrap();
    let mut got = [0u8; 5];
    first.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"first");
    drop((first, second));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    assert_eq!(out.errors(), Vec::<&str>::new());
}

// The socket file's life cycle.

#[test]
fn unix_listen_refuses_a_path_where_a_socket_listens() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let _live = UnixListener::bind(&path).unwrap();
    let shown = path.display();
    let out = run(&[&format!("UNIX-LISTEN:{shown}"), "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "UNIX-LISTEN:{shown}: \"{shown}\" is in use: a socket is already listening there (use another path, or stop that listener)"
        )]
    );
    assert!(path.exists());
}

#[test]
fn unix_listen_replaces_a_stale_socket_file() {
    let dir = tempdir();
    let path = dir.path().join("s");
    drop(UnixListener::bind(&path).unwrap());
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket());
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-LISTEN:{}", path.display()), "-"]);
    relay.wait_log(&format!("removing stale socket file {}", path.display()));
    relay.wait_log("listening on");
    let mut client = connect(&path);
    relay.send_and_close(b"fresh");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"fresh");
    drop(client);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn unix_listen_never_removes_a_regular_file() {
    let dir = tempdir();
    let path = dir.path().join("notes");
    std::fs::write(&path, b"keep me").unwrap();
    let shown = path.display();
    let out = run(&[&format!("UNIX-LISTEN:{shown}"), "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "UNIX-LISTEN:{shown}: \"{shown}\" exists and is not a socket; socketry will not remove it (expected a free path)"
        )]
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn unix_listen_removes_its_socket_file_when_the_relay_ends() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-LISTEN:{}", path.display()), "-"]);
    relay.wait_log("listening on");
    let mut client = connect(&path);
    relay.send_and_close(b"bye");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bye");
    drop(client);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn unix_listen_removes_its_socket_file_on_sigterm() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-LISTEN:{}", path.display()), "-"]);
    relay.wait_log("listening on");
    assert!(path.exists());
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    assert!(!path.exists(), "{} is left behind", path.display());
}

#[test]
fn unix_listen_leaves_a_socket_file_someone_else_replaced() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-LISTEN:{}", path.display()), "-"]);
    relay.wait_log("listening on");
    std::fs::remove_file(&path).unwrap();
    let replacement = UnixListener::bind(&path).unwrap();
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    let _client = connect(&path);
    accept(&replacement);
}

#[test]
fn unix_listen_with_unlink_close_0_keeps_its_socket_file() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},unlink-close=0", path.display()),
        "-",
    ]);
    relay.wait_log("listening on");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket());
}

#[test]
fn unix_listen_with_unlink_early_takes_over_a_live_sockets_path() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let previous = UnixListener::bind(&path).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},unlink-early", path.display()),
        "-",
    ]);
    relay.wait_log("listening on");
    let mut client = connect(&path);
    relay.send_and_close(b"from socketry");
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from socketry");
    drop(client);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    previous.set_nonblocking(true).unwrap();
    assert_eq!(
        previous.accept().unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the client reached the previous listener"
    );
}

#[test]
fn unix_listen_with_mode_sets_the_socket_files_permissions() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},mode=600", path.display()),
        "-",
    ]);
    relay.wait_log("listening on");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o600, "mode is {mode:o}");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
}

/// The events inotify reported in `dir` so far, as (name, what happened) pairs.
fn directory_events(inotify: &Inotify) -> Vec<(String, AddWatchFlags)> {
    let mut events = Vec::new();
    loop {
        match inotify.read_events() {
            Ok(batch) => events.extend(batch.into_iter().map(|e| {
                let name = e.name.map(|n| n.to_string_lossy().into_owned());
                (name.unwrap_or_default(), e.mask)
            })),
            Err(nix::errno::Errno::EAGAIN) => return events,
            Err(e) => panic!("reading inotify events: {e}"),
        }
    }
}

/// The socket file has its mode from the moment the kernel creates it: nothing changes the
/// attributes of the path afterwards (a chmod by path, which would follow a file swapped in
/// after bind, shows up as IN_ATTRIB), and nothing else appears in the directory (no
/// temporary file or directory left behind).
#[test]
fn unix_listen_mode_is_the_sockets_from_creation_and_nothing_chmods_the_path() {
    for (mode, address) in [
        (0o600, "UNIX-LISTEN"),
        // Looser than the test's own umask (022): the mode is not the umask's leftovers.
        (0o666, "UNIX-LISTEN"),
        (0o640, "UNIX-RECVFROM"),
    ] {
        let dir = tempdir();
        let path = dir.path().join("s");
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK).unwrap();
        inotify
            .add_watch(
                dir.path(),
                AddWatchFlags::IN_CREATE | AddWatchFlags::IN_ATTRIB | AddWatchFlags::IN_MOVED_TO,
            )
            .unwrap();
        let mut relay = Proc::spawn(&[
            "-d",
            &format!("{address}:{},mode={mode:o}", path.display()),
            "-",
        ]);
        relay.wait_log(if address == "UNIX-LISTEN" {
            "listening on"
        } else {
            "receiving on"
        });
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert!(metadata.file_type().is_socket());
        assert_eq!(metadata.permissions().mode() & 0o7777, mode, "{address}");
        assert_eq!(
            directory_events(&inotify),
            vec![("s".to_owned(), AddWatchFlags::IN_CREATE)],
            "{address} mode={mode:o}"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["s"]);
        let out = relay.terminate();
        assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
    }
}

#[test]
fn unix_listen_with_mode_never_follows_a_symlink_at_its_path() {
    let dir = tempdir();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let path = dir.path().join("s");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let address = format!("UNIX-LISTEN:{},mode=666", path.display());
    let out = run(&[&address, "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "UNIX-LISTEN:{},mode=0666: \"{}\" exists and is not a socket; socketry will not remove it (expected a free path)",
            path.display(),
            path.display()
        )]
    );
    let mode = std::fs::metadata(&victim).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o644);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A datagram server bound with a mode replies from its path: the socket keeps the address
/// it was bound to (it was not bound elsewhere and renamed into place).
#[test]
fn unix_recvfrom_with_a_mode_replies_from_its_path() {
    let dir = tempdir();
    let path = dir.path().join("server");
    let client_path = dir.path().join("client");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-RECVFROM:{},mode=620", path.display()),
        "-",
    ]);
    relay.wait_log("receiving on");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o620);
    let client = bind_datagram(&client_path);
    client.send_to(b"ping", &path).unwrap();
    relay.send_and_close(b"pong");
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from.as_pathname(), Some(path.as_path()));
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"ping");
}

#[test]
fn unix_socket_mode_with_bits_beyond_permissions_is_refused() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let address = format!("UNIX-LISTEN:{},mode=1777", path.display());
    let out = run(&[&address, "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "UNIX-LISTEN:{},mode=1777: mode=1777 on the Unix socket {}: a socket file takes permission bits only (expected a mode from 0 to 777)",
            path.display(),
            path.display()
        )]
    );
    assert!(!path.exists());
}

// Addresses refused before anything is opened.

/// A path of exactly `len` bytes inside `dir`.
fn path_of_length(dir: &Path, len: usize) -> String {
    let base = dir.to_str().unwrap();
    let path = format!("{base}/{}", "a".repeat(len - base.len() - 1));
    assert_eq!(path.len(), len);
    path
}

#[test]
fn unix_path_of_108_bytes_is_refused() {
    let dir = tempdir();
    let path = path_of_length(dir.path(), 108);
    let out = run(&[&format!("UNIX-LISTEN:{path}"), "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "Unix socket path \"{path}\" in \"UNIX-LISTEN:{path}\" is 108 bytes long (expected at most 107)"
        )]
    );
    assert!(!Path::new(&path).exists());
}

#[test]
fn unix_path_of_107_bytes_is_listened_on() {
    let dir = tempdir();
    let path = path_of_length(dir.path(), 107);
    let mut relay = Proc::spawn(&["-d", &format!("UNIX-LISTEN:{path}"), "-"]);
    relay.wait_log(&format!("listening on {path}"));
    let _client = connect(Path::new(&path));
    let out = relay.terminate();
    assert_eq!(out.code(), Some(128 + 15), "{}", out.stderr);
}

#[test]
fn options_that_do_not_apply_are_refused_by_name() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let shown = path.display();
    let name = abstract_name("options");
    let cases = [
        (
            format!("ABSTRACT-LISTEN:{name},mode=600"),
            "mode",
            "ABSTRACT-LISTEN",
        ),
        (
            format!("UNIX-CONNECT:{shown},backlog=5"),
            "backlog",
            "UNIX-CONNECT",
        ),
        (format!("UNIX-RECV:{shown},fork"), "fork", "UNIX-RECV"),
        (
            format!("UNIX-SENDTO:{shown},backlog=5"),
            "backlog",
            "UNIX-SENDTO",
        ),
    ];
    for (address, option, kind) in cases {
        let out = run(&[&address, "-"], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(
            out.errors(),
            vec![format!(
                "option \"{option}\" does not apply to {kind} in \"{address}\""
            )]
        );
    }
    assert!(!path.exists());
}

#[test]
fn unix_listen_refuses_socktype_2() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let shown = path.display();
    let out = run(&[&format!("UNIX-LISTEN:{shown},socktype=2"), "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "UNIX-LISTEN:{shown},socktype=2: UNIX-LISTEN on {shown}: socktype=2 (datagram) cannot listen (expected socktype=1 or 5; use UNIX-RECVFROM for datagrams)"
        )]
    );
    assert!(!path.exists());
}

#[test]
fn bind_on_a_unix_server_is_refused_rather_than_ignored() {
    let dir = tempdir();
    let socket = dir.path().join("s");
    let address = format!(
        "UNIX-LISTEN:{},bind={}",
        socket.display(),
        dir.path().join("b").display()
    );
    let out = run(&[&address, "PIPE"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        vec![format!(
            "{address}: bind does not apply to a Unix server socket: {} is its own address (expected no bind option)",
            socket.display()
        )]
    );
}

also_on_the_copy_path!(
    unix_listen_shuts_down_its_write_on_stdin_eof_and_the_client_keeps_sending,
    unix_listen_passes_the_clients_eof_on_and_the_reply_keeps_flowing,
    unix_connect_talks_to_a_stream_listener,
    unix_client_talks_to_a_stream_listener,
    abstract_listen_relays_both_ways,
    unix_listen_with_fork_serves_two_clients_at_once,
);
