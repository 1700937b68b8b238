#![allow(clippy::unwrap_used)]
//! How a side's input and output end, by its data options: `escape` (a byte that is EOF),
//! `null-eof` and `shut-null` (an empty datagram carries EOF), `shut-none`, `shut-down`,
//! `shut-close`, and `end-close`; and the one-line refusals of contradicting ones.

mod common;

use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use common::{run, Proc, WAIT};

#[test]
fn the_escape_byte_ends_the_input_and_what_follows_it_is_not_relayed() {
    let out = run(&["-,escape=27", "PIPE"], b"first line\n\x1bXYZ\n");
    assert_eq!(out.stdout, b"first line\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // In hexadecimal too, and on the first byte read.
    let out = run(&["-,escape=0x03", "PIPE"], b"\x03nothing");
    assert_eq!(out.stdout, b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn the_escape_byte_ends_a_reader_that_ignores_eof() {
    let dir = common::tempdir();
    let file = dir.path().join("grows");
    std::fs::write(&file, b"").unwrap();
    let read = format!("FILE:{},ignoreeof,escape=27!!-", file.display());
    let mut proc = Proc::spawn(&["-d", "-d", &read, "PIPE"]);
    proc.wait_log("starting data transfer loop");
    std::fs::write(&file, b"kept\n\x1bdropped\n").unwrap();
    let out = proc.finish();
    assert_eq!(out.stdout, b"kept\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn shut_null_sends_an_empty_datagram_that_null_eof_takes_as_the_end() {
    let dir = common::tempdir();
    let file = dir.path().join("received");
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = receiver.local_addr().unwrap().port();
    drop(receiver);
    let listen = format!("UDP4-RECV:{port},null-eof");
    let create = format!("CREATE:{}", file.display());
    let mut server = Proc::spawn(&["-d", "-d", "-u", &listen, &create]);
    server.wait_log("listening on");
    let send = format!("UDP4-SENDTO:127.0.0.1:{port},shut-null");
    let out = run(&["-u", "-", &send], b"one datagram\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // The receiver ended at the empty datagram, having written the first one.
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"one datagram\n");
}

#[test]
fn without_null_eof_an_empty_datagram_is_relayed_as_one() {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    sink.set_read_timeout(Some(WAIT)).unwrap();
    // UDP4-SEND is socat 1.8's other name for UDP4-SENDTO.
    let to = format!("UDP4-SEND:{},shut-null", sink.local_addr().unwrap());
    let out = run(&["-u", "-", &to], b"data");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mut buf = [0u8; 64];
    assert_eq!(sink.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"data");
    assert_eq!(sink.recv(&mut buf).unwrap(), 0, "the empty datagram");
}

/// A TCP peer that reads what socketry sends: with `shut-none` the connection is not shut
/// down at stdin's EOF, so the peer sees EOF only once the relay ends (-t after the EOF).
#[test]
fn shut_none_leaves_the_writing_half_open_until_the_relay_ends() {
    for (option, eof_at_once) in [("shut-down", true), ("shut-none", false)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let to = format!("TCP:{},{option}", listener.local_addr().unwrap());
        let mut proc = Proc::spawn(&["-t", "30", "-", &to]);
        let (mut peer, _) = listener.accept().unwrap();
        proc.send_and_close(b"bytes");
        peer.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut got = [0u8; 5];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"bytes");
        let mut rest = [0u8; 1];
        match peer.read(&mut rest) {
            Ok(0) => assert!(eof_at_once, "{option}: EOF came at once"),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(!eof_at_once, "{option}: no EOF within 0.5 s")
            }
            other => panic!("{option}: {other:?}"),
        }
        // The peer closing ends the relay either way.
        drop(peer);
        let out = proc.finish();
        assert_eq!(out.code(), Some(0), "{option}: {}", out.stderr);
    }
}

#[test]
fn shut_close_shuts_down_and_closes_at_the_eof() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let to = format!("TCP:{},shut-close", listener.local_addr().unwrap());
    let mut proc = Proc::spawn(&["-t", "30", "-", &to]);
    let (mut peer, _) = listener.accept().unwrap();
    proc.send_and_close(b"bytes");
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"bytes");
    drop(peer);
    let out = proc.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn end_close_applies_to_any_address() {
    let out = run(&["-t", "0.1", "/dev/null", "PTY,end-close"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn contradicting_shutdown_options_are_refused_in_one_line() {
    let cases = [
        (
            "TCP:127.0.0.1:1,shut-none,shut-close",
            "TCP:127.0.0.1:1,shut-none,shut-close: shut-none and shut-close each choose how the writing half ends (expected one shut- option)",
        ),
        (
            "EXEC:cat,shut-null,end-close",
            "EXEC:cat,shut-null,end-close: shut-null: end-close never shuts the writing half down (expected one of the two)",
        ),
        (
            "-,escape=256",
            "invalid value \"256\" for option escape in \"-,escape=256\" (expected a byte value from 0 to 255 (or 0x00 to 0xff))",
        ),
    ];
    for (address, want) in cases {
        let out = run(&[address, "PIPE"], b"");
        assert_eq!(out.code(), Some(1), "{address}");
        assert_eq!(out.errors(), [want], "{address}");
    }
}
