#![allow(clippy::unwrap_used)]
//! What scripts written for socat rely on beyond the data: the log lines they grep for
//! (a source's EOF at -dd, a program's `waitpid()` status), `children-shutup`, signals passed
//! to a program (`sigint`), lock files (`-L`), and a refused peer seeing a clean close.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use common::{free_port, run, tempdir, Proc};
use nix::sys::signal::Signal;

#[test]
fn a_sources_eof_is_noticed_once_with_its_socket_and_descriptor() {
    let dir = tempdir();
    let path = dir.path().join("eof.sock");
    let listen = format!("UNIX-LISTEN:{}", path.display());
    let mut server = Proc::spawn(&["-d", "-d", &listen, "/dev/null"]);
    server.wait_log("listening on");
    let out = run(
        &["-", &format!("UNIX-CONNECT:{}", path.display())],
        b"data\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = server.finish();
    let eofs: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(" N socket 2 (fd ") && l.ends_with(") is at EOF"))
        .collect();
    assert_eq!(eofs.len(), 1, "{}", out.stderr);
    let firsts = out.stderr.matches(" N socket 1 (fd ").count();
    assert_eq!(firsts, 1, "{}", out.stderr);
}

#[test]
fn children_shutup_logs_a_sessions_errors_as_warnings() {
    let port = free_port();
    for (option, letter) in [(",children-shutup", " W "), ("", " E ")] {
        let dir = tempdir();
        let path = dir.path().join("shutup.sock");
        let listen = format!("UNIX-LISTEN:{},fork{option}", path.display());
        let mut server = Proc::spawn(&["-d", &listen, &format!("TCP4:127.0.0.1:{port}")]);
        server.wait_log("listening on");
        let client = format!("UNIX-CONNECT:{}", path.display());
        let _ = run(&["-u", "/dev/null", &client], b"");
        let line = server.wait_log("Connection refused");
        assert!(
            line.contains(&format!("{letter}connection UNIX")),
            "{option}: {line}"
        );
        let out = server.terminate();
        assert_eq!(
            out.stderr.contains(" E "),
            letter == " E ",
            "{option}: {}",
            out.stderr
        );
    }
}

#[test]
fn sigint_is_passed_to_the_program_and_its_end_is_reported_as_socat_does() {
    let mut relay = Proc::spawn(&["-d", "SOCKETPAIR", "EXEC:cat,pty,setsid,sigint"]);
    let started = relay.wait_log("started EXEC cat as pid ");
    let pid = started.rsplit(' ').next().unwrap().to_owned();
    relay.signal(Signal::SIGINT);
    let out = relay.finish();
    assert_eq!(out.code(), Some(130), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!(" N passing signal 2 to child {pid}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            " W waitpid(): child {pid} (EXEC cat) exited on signal 2"
        )),
        "{}",
        out.stderr
    );
    // Without sigint the signal is socketry's: it stops, and the program is not signalled.
    let mut relay = Proc::spawn(&["-d", "SOCKETPAIR", "EXEC:cat,pty,setsid"]);
    relay.wait_log("started EXEC cat as pid ");
    relay.signal(Signal::SIGINT);
    let out = relay.finish();
    assert_eq!(out.code(), Some(130), "{}", out.stderr);
    assert!(out.stderr.contains("signal 2: stopping"), "{}", out.stderr);
    assert!(!out.stderr.contains("passing signal"), "{}", out.stderr);
}

#[test]
fn a_lock_file_holds_the_pid_while_socketry_runs_and_refuses_a_second() {
    let dir = tempdir();
    let lock = dir.path().join("socketry.lock");
    let lock_text = lock.to_str().unwrap();
    let mut first = Proc::spawn(&["-d", "-L", lock_text, "-u", "-", "/dev/null"]);
    first.wait_log("starting data transfer loop");
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        format!("{}\n", first.pid())
    );
    let second = run(&["-L", lock_text, "-u", "-", "/dev/null"], b"");
    assert_eq!(second.code(), Some(1));
    assert_eq!(
        second.errors(),
        [format!(
            "the lock file \"{lock_text}\" exists: another instance holds it (-L)"
        )]
    );
    let out = first.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(!lock.exists(), "the lock file outlived socketry");
}

#[test]
fn a_refused_peer_sees_the_end_of_the_stream_not_a_reset() {
    let mut server = Proc::spawn(&[
        "-d",
        "TCP4-LISTEN:0,bind=127.0.0.1,fork,range=10.0.0.0/8",
        "ECHO",
    ]);
    let port = server.listening_port();
    for _ in 0..3 {
        let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
        peer.write_all(b"let me in\n").unwrap();
        let mut answer = Vec::new();
        let read = peer.read_to_end(&mut answer);
        assert!(read.is_ok(), "{read:?}");
        assert_eq!(answer, b"");
        peer.shutdown(Shutdown::Write).unwrap();
    }
    server.wait_log_count("refusing connection from 127.0.0.1:", 3);
    server.terminate();
}

#[test]
fn a_tls_peer_that_closes_during_the_handshake_is_tried_again_with_retry() {
    // A relay in front of a TLS server that is not up yet accepts and closes: what socat's
    // gender-changer scripts meet until the far end is there.
    tls_peer_closes_during_the_handshake(false);
}

#[test]
fn a_tls_peer_that_resets_during_the_handshake_is_tried_again_with_retry() {
    // Closing with the client's hello unread resets the connection: the same close.
    tls_peer_closes_during_the_handshake(true);
}

/// Two connections to a peer that accepts and closes each (once the client's hello has
/// arrived, with `unread`: a reset), through `OPENSSL` with one retry.
fn tls_peer_closes_during_the_handshake(unread: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = std::thread::spawn(move || {
        for _ in 0..2 {
            let (peer, _) = listener.accept().unwrap();
            if unread {
                peer.peek(&mut [0; 1]).unwrap();
            }
            drop(peer);
        }
    });
    let address = format!("OPENSSL:127.0.0.1:{port},verify=0,retry=1,interval=0.1");
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(1));
    let retried = out
        .stderr
        .lines()
        .filter(|l| {
            l.contains(" W ") && l.ends_with("during the TLS handshake; trying again in 0.1s")
        })
        .count();
    assert_eq!(retried, 1, "{}", out.stderr);
    assert_eq!(out.errors().len(), 1, "{}", out.stderr);
    assert!(
        out.errors()[0].ends_with("the peer closed the connection during the TLS handshake"),
        "{}",
        out.stderr
    );
    // Joined last: without the retry the closer would wait for a second connection forever.
    closer.join().unwrap();
}
