//! WS-CONNECT against the WebSocket peer users pair it with: Python's websockets (Debian's
//! python3-websockets, installed by .ci/deps), run by `websocket/peer.py` on 127.0.0.1 with
//! an ephemeral port it reports. Each test asserts what socketry wrote and logged, its exit
//! status, and what the Python peer saw (paths, headers, messages, close codes).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use common::{run, Proc, WAIT};
use sha2::{Digest, Sha256};

const PEER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/websocket/peer.py");

/// Debian's Python, which has python3-websockets (another python3 on PATH may not).
const PYTHON: &str = "/usr/bin/python3";

/// The Python peer: its output, a line at a time, as it comes.
struct Peer {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Peer {
    fn start(args: &[&str]) -> Peer {
        let mut child = Command::new(PYTHON)
            .arg(PEER)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("running /usr/bin/python3 (python3-websockets, see .ci/deps)");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// A server in `mode`; returns it once it said its port.
    fn serve(args: &[&str]) -> (Peer, u16) {
        let mut peer = Peer::start(&[&["serve"], args].concat());
        let line = peer.next_line();
        let port = line
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the peer said {line:?}, not its port"));
        peer.seen.clear();
        (peer, port)
    }

    fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(_) => panic!("the peer said nothing more; so far: {:?}", self.seen),
        }
    }

    /// Waits for the peer to exit, and returns every line it printed after its port.
    fn finish(mut self) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        let status = self.child.wait().expect("waiting for the peer");
        assert!(
            status.success(),
            "the peer failed: {status}; said {:?}",
            self.seen
        );
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the peer reports a binary message.
fn binary(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("BINARY {} {hex}", data.len())
}

/// The peer's "big" message of `size` bytes.
fn counting(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

fn url(port: u16, path: &str) -> String {
    format!("WS-CONNECT:ws://127.0.0.1:{port}{path}")
}

#[test]
fn binary_messages_go_both_ways_and_our_eof_is_a_normal_close() {
    let (peer, port) = Peer::serve(&["echo"]);
    let out = run(&["-d", "-", &url(port, "/echo")], b"hello\n");
    assert_eq!(out.stdout_text(), "hello\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "WebSocket established with ws://127.0.0.1:{port}/echo"
        )),
        "{}",
        out.stderr
    );
    // Our close frame went first; the peer's echo, sent after it, still came through, and
    // its answer to our close is the EOF, logged with its code.
    assert!(
        out.stderr
            .contains("the WebSocket peer closed with code 1000 (normal closure)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        peer.finish(),
        ["PATH /echo", &binary(b"hello\n"), "CLOSED 1000 "]
    );
}

#[test]
fn ws_text_sends_text_frames_and_text_messages_are_written_as_their_bytes() {
    let (peer, port) = Peer::serve(&["echo"]);
    let out = run(
        &["-", &format!("{},ws-text", url(port, "/"))],
        "grüße\n".as_bytes(),
    );
    assert_eq!(out.stdout_text(), "grüße\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        peer.finish(),
        [
            "PATH /",
            "TEXT b'gr\\xc3\\xbc\\xc3\\x9fe\\n'",
            "CLOSED 1000 "
        ]
    );
}

#[test]
fn ws_text_refuses_what_is_not_utf8() {
    let (_peer, port) = Peer::serve(&["receive"]);
    let out = run(&["-", &format!("{},ws-text", url(port, "/"))], b"ok\xff\n");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors().last().map(
            |e| e.ends_with("ws-text sends text frames, and the data is not UTF-8 (byte 0xff)")
        ),
        Some(true),
        "{}",
        out.stderr
    );
}

#[test]
fn a_megabyte_goes_through_whole_both_ways() {
    // Written to the WebSocket a read at a time, each read one message, and echoed back.
    // Our stdin stays open: closing it would send our close frame, after which the peer
    // would send no more echoes (a WebSocket has no half-close). The peer closes instead.
    let data = counting(1 << 20);
    let (peer, port) = Peer::serve(&["echo-upto", "1048576"]);
    let mut socketry = Proc::spawn(&["-", &url(port, "/")]);
    let mut stdin = socketry.stdin();
    stdin.write_all(&data).unwrap();
    let out = socketry.finish();
    drop(stdin);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout == data, "{} bytes came back", out.stdout.len());
    let seen = peer.finish();
    let total: usize = seen
        .iter()
        .filter_map(|l| l.strip_prefix("BINARY "))
        .map(|l| l.split(' ').next().unwrap().parse::<usize>().unwrap())
        .sum();
    assert_eq!(total, data.len(), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("CLOSED 1000 "));

    // One message of a megabyte, more than a relay buffer, is written whole and in order.
    let (peer, port) = Peer::serve(&["big", "1048576"]);
    let mut socketry = Proc::spawn(&["-", &url(port, "/")]);
    let _stdin = socketry.stdin();
    let out = socketry.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout == data, "{} bytes came", out.stdout.len());
    assert_eq!(peer.finish(), ["PATH /", "CLOSED 1000 "]);
}

#[test]
fn a_message_over_the_maximum_is_an_error_naming_its_size_and_the_peer_gets_1009() {
    let (peer, port) = Peer::serve(&["big", "2000"]);
    let mut socketry = Proc::spawn(&["-", &format!("{},ws-max-message=1000", url(port, "/"))]);
    let _stdin = socketry.stdin();
    let out = socketry.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
    assert_eq!(
        out.errors().last().map(|e| e.ends_with(
            "a WebSocket message of 2000 bytes is longer than the 1000-byte maximum (ws-max-message)"
        )),
        Some(true),
        "{}",
        out.stderr
    );
    assert_eq!(peer.finish(), ["PATH /", "CLOSED 1009 message too big"]);
}

#[test]
fn the_peers_close_is_eof_with_its_code_logged() {
    let (peer, port) = Peer::serve(&["close", "4001:bye now"]);
    let mut socketry = Proc::spawn(&["-d", "-", &url(port, "/")]);
    // Our side has more to say (stdin stays open), but the peer's close ends the WebSocket.
    let _stdin = socketry.stdin();
    socketry.wait_log("the WebSocket peer closed with code 4001: \"bye now\"");
    let out = socketry.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
    // The close was answered with the peer's own code, as RFC 6455 asks.
    assert_eq!(peer.finish(), ["PATH /", "CLOSED 4001 bye now"]);
}

#[test]
fn a_ping_is_answered_with_a_pong() {
    let (peer, port) = Peer::serve(&["ping"]);
    let mut socketry = Proc::spawn(&["-", &url(port, "/")]);
    let _stdin = socketry.stdin();
    let out = socketry.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "after the ping\n");
    assert_eq!(peer.finish(), ["PATH /", "PONG", "CLOSED 1000 "]);
}

#[test]
fn headers_and_subprotocols_are_sent_and_the_servers_choice_checked() {
    let (peer, port) = Peer::serve(&["echo", "--protocol", "chat"]);
    let address = format!(
        "{},ws-header=X-Token:abc: def,ws-header=X-Second:2,ws-protocol=other,ws-protocol=chat",
        url(port, "/room?id=7")
    );
    let out = run(&["-d", "-", &address], b"hi");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "hi");
    assert!(out.stderr.contains(", subprotocol chat"), "{}", out.stderr);
    // Header names go out in HTTP's lower case (they are case-insensitive), in no set order.
    let mut seen = peer.finish();
    seen[1..3].sort();
    assert_eq!(
        seen,
        [
            "PATH /room?id=7",
            "HEADER x-second: 2",
            "HEADER x-token: abc: def",
            "PROTOCOL chat",
            &binary(b"hi"),
            "CLOSED 1000 "
        ]
    );

    // A server that chooses none of ours fails the connection.
    let (_peer, port) = Peer::serve(&["echo", "--protocol", "chat"]);
    let out = run(
        &["-", &format!("{},ws-protocol=other", url(port, "/"))],
        b"",
    );
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors()
            .last()
            .map(|e| e
                .ends_with(": the server chose none of the subprotocols offered (ws-protocol)")),
        Some(true),
        "{}",
        out.stderr
    );
}

#[test]
fn a_refused_request_names_the_servers_answer() {
    let (_peer, port) = Peer::serve(&["echo", "--path", "/here"]);
    let out = run(&["-", &url(port, "/elsewhere")], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    let error = out
        .errors()
        .last()
        .map(|e| e.to_owned())
        .unwrap_or_default();
    let address = url(port, "/elsewhere");
    assert!(
        error.starts_with(&format!(
            "{address}: WebSocket handshake over TCP 127.0.0.1:"
        )) && error.ends_with(&format!(
            "-> 127.0.0.1:{port}: the server answered 404 Not Found"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_url_port_with_nothing_listening_is_a_connect_error() {
    // A port of our own that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&["-", &url(port, "/")], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.errors()
            .last()
            .is_some_and(|e| e.contains("Connection refused")),
        "{}",
        out.stderr
    );
}

/// A self-signed certificate for `localhost`, key included, as `openssl req -x509` makes it.
fn certificate(dir: &Path) -> std::path::PathBuf {
    let cert = dir.join("c.crt");
    let key = dir.join("c.key");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("run openssl req (see .ci/deps)");
    assert!(status.success());
    let both = dir.join("c.pem");
    let mut pem = std::fs::read(&cert).unwrap();
    pem.extend(std::fs::read(&key).unwrap());
    std::fs::write(&both, pem).unwrap();
    both
}

#[test]
fn wss_runs_over_socketrys_tls_with_its_options() {
    let dir = common::tempdir();
    let pem = certificate(dir.path());
    let pem_text = pem.to_str().unwrap();
    let (peer, port) = Peer::serve(&["echo", "--certificate", pem_text]);
    let address = format!("WS-CONNECT:wss://localhost:{port}/secure,cafile={pem_text}");
    let out = run(&["-d", "-", &address], b"over TLS\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "over TLS\n");
    assert!(out.stderr.contains("TLS established"), "{}", out.stderr);
    assert_eq!(
        peer.finish(),
        ["PATH /secure", &binary(b"over TLS\n"), "CLOSED 1000 "]
    );

    // Without the authority, the server's certificate is not trusted.
    let (_peer, port) = Peer::serve(&["echo", "--certificate", pem_text]);
    let out = run(&["-", &format!("WS-CONNECT:wss://localhost:{port}/")], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.errors()
            .last()
            .is_some_and(|e| e.contains("certificate")),
        "{}",
        out.stderr
    );
}

#[test]
fn tls_options_on_a_ws_url_are_refused_before_connecting() {
    let out = run(&["-", "WS-CONNECT:ws://127.0.0.1:1/,verify=0"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["WS-CONNECT:ws://127.0.0.1:1/,verify=0: verify is a TLS option, and ws://127.0.0.1:1/ has no TLS (a wss:// URL has)"]
    );
}
