//! How a transfer ends, as users of netcat and socat rely on it: `connect`, `client` and
//! `listen` keep stdin flowing after the peer half-closes, and wait for the peer after
//! stdin's EOF (32 MiB each way, both orders of EOF); `-t` is how long the relay waits with
//! no data after the first EOF, so a reply that is still flowing is never cut.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use common::Proc;

const BIG: usize = 32 << 20;

/// `len` bytes of a pattern that a shifted or truncated copy cannot match.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Reads until EOF, concurrently with whatever else the test does.
fn read_all_in_thread(mut from: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        from.read_to_end(&mut all).expect("reading to EOF");
        all
    })
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(got == want, "{what}: the bytes differ");
}

/// Which end reaches EOF first.
#[derive(Clone, Copy, Debug)]
enum FirstEof {
    /// The peer sends everything and shuts its sending side down, then reads.
    Peer,
    /// socketry's stdin ends first; the peer sends after it has read everything.
    Stdin,
}

/// The peer's half of a transfer on an accepted or connected stream: send `reply` and read
/// everything, in the order `first` says; then close.
fn peer_side(stream: TcpStream, reply: Vec<u8>, first: FirstEof) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut stream = stream;
        match first {
            FirstEof::Peer => {
                let reader = read_all_in_thread(stream.try_clone().expect("cloning the stream"));
                stream.write_all(&reply).expect("peer writing");
                stream.shutdown(Shutdown::Write).expect("peer half-closing");
                reader.join().expect("peer reader")
            }
            FirstEof::Stdin => {
                let mut got = Vec::new();
                stream.read_to_end(&mut got).expect("peer reading");
                stream.write_all(&reply).expect("peer writing after EOF");
                got
            }
        }
    })
}

fn run_both_orders(args: &[&str], peer_listens: bool) {
    let input = pattern(BIG, 1);
    let reply = pattern(BIG, 2);
    for first in [FirstEof::Peer, FirstEof::Stdin] {
        check_transfer(args, &input, &reply, first, peer_listens);
    }
}

/// Runs socketry with `args` against a peer (which listens, or connects to socketry's
/// listener); socketry's stdin is `input`, the peer answers `reply`. Everything must arrive
/// both ways and socketry exit 0.
fn check_transfer(args: &[&str], input: &[u8], reply: &[u8], first: FirstEof, peer_listens: bool) {
    let (mut proc, peer) = if peer_listens {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the peer");
        let port = listener
            .local_addr()
            .expect("peer address")
            .port()
            .to_string();
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["127.0.0.1", port.as_str()]);
        let proc = Proc::spawn(&full);
        let (stream, _) = listener.accept().expect("accepting socketry");
        (proc, peer_side(stream, reply.to_vec(), first))
    } else {
        let mut full: Vec<&str> = vec!["-d"];
        full.extend(args);
        full.push("TCP-LISTEN:0,bind=127.0.0.1");
        let mut proc = Proc::spawn(&full);
        let port = proc.listening_port();
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting to socketry");
        (proc, peer_side(stream, reply.to_vec(), first))
    };
    let mut stdin = proc.stdin();
    let sent = input.to_vec();
    let writer = thread::spawn(move || {
        stdin.write_all(&sent).expect("writing socketry's stdin");
    });
    let out = proc.finish();
    writer.join().expect("stdin writer");
    let got = peer.join().expect("peer");
    assert_eq!(out.code(), Some(0), "{args:?} {first:?}: {}", out.stderr);
    assert!(out.errors().is_empty(), "{}", out.stderr);
    assert_same(
        &got,
        input,
        &format!("{args:?} {first:?}: what the peer got"),
    );
    assert_same(&out.stdout, reply, &format!("{args:?} {first:?}: stdout"));
}

#[test]
fn connect_delivers_everything_whichever_side_ends_first() {
    run_both_orders(&["connect"], true);
}

#[test]
fn client_delivers_everything_whichever_side_ends_first() {
    run_both_orders(&["client"], true);
}

#[test]
fn listen_delivers_everything_whichever_side_ends_first() {
    run_both_orders(&["listen"], false);
}

/// A server that answers a request in `bursts` bursts of 1 MiB, `gap` apart, then closes.
fn bursty_server(bursts: usize, gap: Duration) -> (u16, thread::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the server");
    let port = listener.local_addr().expect("server address").port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accepting");
        let mut request = Vec::new();
        stream
            .read_to_end(&mut request)
            .expect("reading the request");
        let reply = pattern(bursts << 20, 3);
        for (i, burst) in reply.chunks(1 << 20).enumerate() {
            if i > 0 {
                thread::sleep(gap);
            }
            if stream.write_all(burst).is_err() {
                break;
            }
        }
        request
    });
    (port, server)
}

#[test]
fn linger_waits_while_the_reply_is_still_flowing() {
    // Eight bursts half a second apart take 3.5 s, well past -t 2; no gap comes near it.
    let (port, server) = bursty_server(8, Duration::from_millis(500));
    let target = format!("TCP:127.0.0.1:{port}");
    let out = common::run(&["-t", "2", "-", &target], b"GET everything\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(server.join().expect("server"), b"GET everything\n");
    assert_same(&out.stdout, &pattern(8 << 20, 3), "the reply");
}

#[test]
fn linger_cuts_a_reply_that_pauses_longer_and_says_so() {
    let (port, server) = bursty_server(3, Duration::from_millis(1500));
    let target = format!("TCP:127.0.0.1:{port}");
    let out = common::run(&["-d", "-t", "0.2", "-", &target], b"GET\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(server.join().expect("server"), b"GET\n");
    assert_same(
        &out.stdout,
        &pattern(3 << 20, 3)[..1 << 20],
        "the first burst",
    );
    assert!(
        out.stderr.contains(
            "second address to first: nothing for 0.2s after the other direction's EOF (-t): \
             ending the relay; what it sends from now on is not relayed"
        ),
        "{}",
        out.stderr
    );
}
