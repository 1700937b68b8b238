#![allow(clippy::unwrap_used)]
//! A forking second address: the first opens once and every peer of the second is relayed
//! with it, at most `max-children` at once (`FILE:log UNIX-LISTEN:s,fork`); with
//! `end-close`, a session's end does not shut a shared socket down for the next ones.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{run, Proc, WAIT};

fn send(socket: &std::path::Path, data: &[u8]) {
    let mut client = UnixStream::connect(socket).unwrap();
    client.write_all(data).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    // The session is over when socketry closes its end.
    client.set_read_timeout(Some(WAIT)).unwrap();
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
}

#[test]
fn every_peer_of_a_forking_second_address_writes_to_the_one_first() {
    let dir = common::tempdir();
    let log = dir.path().join("log");
    let socket = dir.path().join("s");
    let first = format!("CREATE:{}", log.display());
    let second = format!("UNIX-LISTEN:{},fork,max-children=1", socket.display());
    let mut server = Proc::spawn(&["-d", "-d", "-U", &first, &second]);
    server.wait_log("listening on");
    send(&socket, b"one\n");
    send(&socket, b"two\n");
    server.wait_log_count("starting data transfer loop", 2);
    let out = server.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert_eq!(std::fs::read(&log).unwrap(), b"one\ntwo\n");
}

#[test]
fn end_close_keeps_a_shared_socket_open_for_the_next_session() {
    for (end_close, both) in [(",end-close", true), ("", false)] {
        let dir = common::tempdir();
        let socket = dir.path().join("s");
        let collector = TcpListener::bind("127.0.0.1:0").unwrap();
        let first = format!("TCP:{}{end_close}", collector.local_addr().unwrap());
        let second = format!("UNIX-LISTEN:{},fork", socket.display());
        let mut server = Proc::spawn(&["-d", "-d", "-U", &first, &second]);
        let (mut peer, _) = collector.accept().unwrap();
        server.wait_log("listening on");
        send(&socket, b"one\n");
        server.wait_log("connection UNIX");
        send(&socket, b"two\n");
        server.wait_log_count("connection UNIX", 2);
        peer.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut got = Vec::new();
        let ended = peer.read_to_end(&mut got).is_ok();
        let out = server.terminate();
        if both {
            assert_eq!(got, b"one\ntwo\n", "{}", out.stderr);
            assert!(!ended, "the shared connection stays open");
        } else {
            // The first session's EOF shut the socket down, for every session.
            assert_eq!(got, b"one\n", "{}", out.stderr);
            assert!(ended);
        }
    }
}

#[test]
fn fork_on_both_addresses_is_refused() {
    let out = run(
        &["TCP-LISTEN:0,fork", "UNIX-LISTEN:/nonexistent/s,fork"],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["fork applies to one of the two addresses, but \"TCP-LISTEN:0,fork\" and \"UNIX-LISTEN:/nonexistent/s,fork\" both have it (expected it on one)"]
    );
}
