#![allow(clippy::unwrap_used)]
//! Passing connections between processes (`UNIX-SENDFD`, `UNIX-RECVFD-LISTEN`), serving an
//! inherited listening socket (`ACCEPT-FD`) and systemd's socket activation
//! (`SYSTEMD-LISTEN`), against the standard library's sockets.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::Command;

use common::{bin, run, tempdir, Proc, WAIT};
use socket2::SockRef;

/// Tells the client who serves it: the TCP peer the program sees, and the socketry process
/// that started the program.
const TELL_SERVER: &str = "SYSTEM:'echo peer=$SOCKETRY_PEERPORT server=$PPID'";

fn tcp_exchange(port: u16) -> (u16, String) {
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let local = client.local_addr().unwrap().port();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = String::new();
    client.read_to_string(&mut got).unwrap();
    (local, got)
}

#[test]
fn a_tcp_connection_accepted_by_one_process_is_served_by_another() {
    let dir = tempdir();
    let rendezvous = dir.path().join("pass");
    let mut server = Proc::spawn(&[
        "-d",
        &format!("UNIX-RECVFD-LISTEN:{},fork", rendezvous.display()),
        TELL_SERVER,
    ]);
    server.wait_log("listening on");
    let mut front = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork",
        &format!("UNIX-SENDFD:{}", rendezvous.display()),
    ]);
    let port = front.listening_port();
    for _ in 0..3 {
        let (local, got) = tcp_exchange(port);
        assert_eq!(got, format!("peer={local} server={}\n", server.pid()));
    }
    front.wait_log("handed TCP");
    server.wait_log("accepting TCP");
    front.terminate();
    server.terminate();
}

#[test]
fn the_serving_process_restarts_and_no_connection_is_refused() {
    let dir = tempdir();
    let rendezvous = dir.path().join("pass");
    let serve = || {
        let mut server = Proc::spawn(&[
            "-d",
            &format!("UNIX-RECVFD-LISTEN:{},fork", rendezvous.display()),
            TELL_SERVER,
        ]);
        server.wait_log("listening on");
        server
    };
    let first = serve();
    let mut front = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork",
        &format!("UNIX-SENDFD:{},forever,interval=0.05", rendezvous.display()),
    ]);
    let port = front.listening_port();
    let (local, got) = tcp_exchange(port);
    assert_eq!(got, format!("peer={local} server={}\n", first.pid()));
    let out = first.terminate();
    assert!(out.status.code().is_some(), "{}", out.stderr);

    // With no server at all, a client is accepted and waits: connect never fails.
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).unwrap();
    waiting.set_read_timeout(Some(WAIT)).unwrap();
    let local = waiting.local_addr().unwrap().port();
    waiting.shutdown(std::net::Shutdown::Write).unwrap();
    front.wait_log("trying again");

    let second = serve();
    let mut got = String::new();
    waiting.read_to_string(&mut got).unwrap();
    assert_eq!(got, format!("peer={local} server={}\n", second.pid()));
    let (local, got) = tcp_exchange(port);
    assert_eq!(got, format!("peer={local} server={}\n", second.pid()));
    front.terminate();
    second.terminate();
}

#[test]
fn a_receiver_admits_only_senders_with_the_given_uid() {
    let dir = tempdir();
    let rendezvous = dir.path().join("pass");
    let other = if nix::unistd::getuid().as_raw() == 65534 {
        65533
    } else {
        65534
    };
    let mut server = Proc::spawn(&[
        "-d",
        &format!(
            "UNIX-RECVFD-LISTEN:{},fork,peer-uid={other}",
            rendezvous.display()
        ),
        "PIPE",
    ]);
    server.wait_log("listening on");
    let sender = UnixStream::connect(&rendezvous).unwrap();
    sender.set_read_timeout(Some(WAIT)).unwrap();
    let (near, far) = UnixStream::pair().unwrap();
    // The receiver closes a refused sender unread, before or after our message arrives: the
    // send fails, or the read sees EOF or a reset; never an acknowledgement.
    let gone = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        )
    };
    let sent = socketry::endpoint::unix::ancillary::send_fds(
        &sender,
        b"\x01",
        &[std::os::fd::AsFd::as_fd(&far)],
    );
    match sent {
        Ok(_) => {
            let mut ack = [0u8; 1];
            match (&sender).read(&mut ack) {
                Ok(0) => {}
                Err(e) if gone(&e) => {}
                other => panic!("a refused sender got {other:?}"),
            }
        }
        Err(e) => assert!(gone(&e), "{e}"),
    }
    server.wait_log("is not admitted (peer-uid)");
    drop((near, far));
    server.terminate();
}

#[test]
fn any_sender_may_pass_a_unix_connection_and_it_is_acknowledged() {
    let dir = tempdir();
    let rendezvous = dir.path().join("pass");
    let mut server = Proc::spawn(&[
        "-d",
        &format!("UNIX-RECVFD-LISTEN:{},fork", rendezvous.display()),
        "SYSTEM:'tr a-z A-Z; echo pid=$SOCKETRY_PEERPID'",
    ]);
    server.wait_log("listening on");
    let sender = UnixStream::connect(&rendezvous).unwrap();
    sender.set_read_timeout(Some(WAIT)).unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    near.set_read_timeout(Some(WAIT)).unwrap();
    socketry::endpoint::unix::ancillary::send_fds(
        &sender,
        b"take this",
        &[std::os::fd::AsFd::as_fd(&far)],
    )
    .unwrap();
    let mut ack = [0u8; 1];
    (&sender).read_exact(&mut ack).unwrap();
    drop(far);
    near.write_all(b"shout").unwrap();
    near.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = String::new();
    near.read_to_string(&mut got).unwrap();
    assert_eq!(got, format!("SHOUTpid={}\n", std::process::id()));
    server.terminate();
}

#[test]
fn sendfd_needs_a_connection_made_of_one_socket_and_must_come_second() {
    let out = run(&["-", "UNIX-SENDFD:/tmp/nowhere"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["UNIX-SENDFD:/tmp/nowhere: STDIO is not one socket that can be handed over (expected a TCP, Unix stream or seqpacket connection as the first address)"]
    );
    let out = run(&["UNIX-SENDFD:/tmp/nowhere", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["UNIX-SENDFD:/tmp/nowhere: UNIX-SENDFD:/tmp/nowhere hands over the first address's connection, so it can only be the second address of a relay (expected e.g. TCP-LISTEN:80,fork UNIX-SENDFD:/tmp/nowhere)"]
    );
    let out = run(&["-", "UNIX-SENDFD:/tmp/nowhere,crnl"], b"");
    assert_eq!(
        out.errors(),
        ["option \"crnl\" does not apply to UNIX-SENDFD in \"UNIX-SENDFD:/tmp/nowhere,crnl\""]
    );
}

/// A listening socket the child inherits: close-on-exec cleared for as long as it takes to
/// start the child. Other tests' children may inherit it meanwhile; a listening socket they
/// never use changes nothing for them.
fn spawn_inheriting(socket: SockRef<'_>, command: &mut Command) -> Proc {
    socket.set_cloexec(false).unwrap();
    let proc = Proc::spawn_with(command);
    socket.set_cloexec(true).unwrap();
    proc
}

#[test]
fn accept_fd_serves_an_inherited_tcp_listener_with_fork() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fd = listener.as_raw_fd();
    let mut relay = spawn_inheriting(
        SockRef::from(&listener),
        Command::new(bin()).args(["-d", &format!("ACCEPT-FD:{fd},fork"), TELL_SERVER]),
    );
    relay.wait_log("listening on");
    for _ in 0..2 {
        let (local, got) = tcp_exchange(port);
        assert_eq!(got, format!("peer={local} server={}\n", relay.pid()));
    }
    relay.terminate();
}

#[test]
fn accept_fd_serves_an_inherited_unix_listener_and_checks_credentials() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fd = listener.as_raw_fd();
    let me = nix::unistd::getuid().as_raw();
    let mut relay = spawn_inheriting(
        SockRef::from(&listener),
        Command::new(bin()).args([
            "-d",
            &format!("ACCEPT-FD:{fd},peer-uid={me}"),
            "SYSTEM:'echo uid=$SOCKETRY_PEERUID'",
        ]),
    );
    relay.wait_log("listening on");
    let mut client = UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = String::new();
    client.read_to_string(&mut got).unwrap();
    assert_eq!(got, format!("uid={me}\n"));
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        path.exists(),
        "the inherited socket's file is not ours to remove"
    );
}

#[test]
fn accept_fd_refuses_what_is_not_a_listening_socket() {
    let out = run(&["ACCEPT-FD:0", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["ACCEPT-FD:0: descriptor 0 is not a socket (expected a listening TCP or Unix socket)"]
    );
    let out = run(&["ACCEPT-FD:999", "-"], b"");
    assert_eq!(
        out.errors(),
        ["ACCEPT-FD:999: taking descriptor 999: Bad file number"]
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let proc = spawn_inheriting(
        SockRef::from(&listener),
        Command::new(bin()).args([&format!("ACCEPT-FD:{fd},peer-uid=0"), "-"]),
    );
    let out = proc.finish();
    assert_eq!(
        out.errors(),
        [format!("ACCEPT-FD:{fd},peer-uid=0: peer-uid, peer-gid and peer-pid apply to Unix sockets, and descriptor {fd} is a TCP socket (expected range= to filter TCP peers)")]
    );
}

/// Starts socketry as systemd would: the listener on descriptor 3, `LISTEN_FDS=1`, and
/// `LISTEN_PID` set to the process that runs socketry (the shell, which then `exec`s it).
fn activate(listener: SockRef<'_>, fd: i32, pid_offset: &str, args: &[&str]) -> Proc {
    let script = format!(
        "LISTEN_PID=$(($$ {pid_offset})) LISTEN_FDS=1 LISTEN_FDNAMES=web exec \"$0\" \"$@\" 3<&{fd}"
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(bin()).args(args);
    spawn_inheriting(listener, &mut command)
}

#[test]
fn systemd_listen_serves_the_activated_socket_by_index_or_name() {
    for which in ["SYSTEMD-LISTEN", "SYSTEMD-LISTEN:web"] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let fd = listener.as_raw_fd();
        let mut relay = activate(
            SockRef::from(&listener),
            fd,
            "+ 0",
            &["-d", &format!("{which},fork"), TELL_SERVER],
        );
        relay.wait_log("listening on");
        drop(listener);
        let (local, got) = tcp_exchange(port);
        assert_eq!(got, format!("peer={local} server={}\n", relay.pid()));
        relay.terminate();
    }
}

#[test]
fn systemd_listen_refuses_sockets_meant_for_another_process() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let fd = listener.as_raw_fd();
    let proc = activate(
        SockRef::from(&listener),
        fd,
        "+ 1",
        &["SYSTEMD-LISTEN", "-"],
    );
    let pid = proc.pid();
    let out = proc.finish();
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!("SYSTEMD-LISTEN:0: SYSTEMD-LISTEN: LISTEN_PID is {}, not our process id {pid}: the sockets were meant for another process", pid + 1)]
    );
}
