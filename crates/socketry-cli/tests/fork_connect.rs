#![allow(clippy::unwrap_used)]
//! `fork` on a connecting first address (socat 1.8): each connection is relayed with its own
//! second endpoint, and the address connects again every `interval`, while fewer than
//! `max-children` sessions run.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::{Proc, WAIT};

#[test]
fn a_connecting_address_with_fork_connects_again_for_every_session() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let first = format!("TCP:{},fork,interval=0.05", listener.local_addr().unwrap());
    let server = Proc::spawn(&["-d", "-d", &first, "SYSTEM:echo session"]);
    for _ in 0..3 {
        let (mut peer, _) = listener.accept().unwrap();
        peer.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"session\n");
    }
    let out = server.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
}

#[test]
fn max_children_holds_the_next_connection_until_a_session_ends() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let first = format!(
        "TCP:{},fork,max-children=2,interval=0.02",
        listener.local_addr().unwrap()
    );
    // Each session runs until its peer closes.
    let server = Proc::spawn(&["-d", "-d", &first, "SYSTEM:cat"]);
    let (one, _) = listener.accept().unwrap();
    let (mut two, _) = listener.accept().unwrap();
    two.write_all(b"echo\n").unwrap();
    let mut back = [0u8; 5];
    two.set_read_timeout(Some(WAIT)).unwrap();
    two.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"echo\n");
    // Twenty intervals pass: no third connection while two sessions run.
    listener.set_nonblocking(true).unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    listener.set_nonblocking(false).unwrap();
    drop(one);
    let (_three, _) = listener.accept().unwrap();
    let out = server.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
}

#[test]
fn a_connecting_address_with_fork_ends_when_connecting_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // The next connect comes an interval after the first: the listener is gone by then.
    let first = format!("TCP:{address},fork,interval=0.3");
    let server = Proc::spawn(&["-d", "-d", &first, "SYSTEM:true"]);
    let (peer, _) = listener.accept().unwrap();
    drop(listener);
    drop(peer);
    let out = server.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let want =
        format!("TCP:{address},fork,interval=0.3: connecting to {address}: Connection refused");
    assert_eq!(out.errors(), [want.as_str()], "{}", out.stderr);
}
