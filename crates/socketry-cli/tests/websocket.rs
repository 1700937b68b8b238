#![allow(clippy::unwrap_used)]
//! WS-CONNECT against the WebSocket peer users pair it with: Python's websockets (Debian's
//! python3-websockets, installed by .ci/deps), run by `websocket/peer.py` on 127.0.0.1 with
//! an ephemeral port it reports. Each test asserts what socketry wrote and logged, its exit
//! status, and what the Python peer saw (paths, headers, messages, close codes).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
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
fn ws_connect_as_a_layer_runs_over_what_is_on_its_right() {
    // Over plain TCP, and through socketry's HTTP CONNECT proxy: the URL gives the request,
    // the transport on the right where the bytes go.
    let mut proxy = Proc::spawn(&["proxy", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let proxy_port = proxy.listening_port();
    for through_proxy in [false, true] {
        let (peer, port) = Peer::serve(&["echo"]);
        let chain = if through_proxy {
            format!(
                "WS-CONNECT:ws://127.0.0.1:{port}/layered|PROXY:127.0.0.1:{port}|TCP:127.0.0.1:{proxy_port}"
            )
        } else {
            format!("WS-CONNECT:ws://127.0.0.1:{port}/layered|TCP:127.0.0.1:{port}")
        };
        let out = run(&["-d", "-", &chain], b"in a chain\n");
        assert_eq!(out.code(), Some(0), "{chain}: {}", out.stderr);
        assert_eq!(out.stdout_text(), "in a chain\n", "{chain}");
        assert_eq!(
            peer.finish(),
            ["PATH /layered", &binary(b"in a chain\n"), "CLOSED 1000 "],
            "{chain}"
        );
    }
    proxy.wait_log(" over HTTP CONNECT: ");

    // wss:// as a layer is TLS for the URL's host below the WebSocket.
    let dir = common::tempdir();
    let pem = certificate(dir.path());
    let pem_text = pem.to_str().unwrap();
    let (peer, port) = Peer::serve(&["echo", "--certificate", pem_text]);
    let chain =
        format!("WS-CONNECT:wss://localhost:{port}/secure,cafile={pem_text}|TCP:127.0.0.1:{port}");
    let out = run(&["-d", "-", &chain], b"tls below\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "tls below\n");
    assert!(out.stderr.contains("TLS established"), "{}", out.stderr);
    assert_eq!(
        peer.finish(),
        ["PATH /secure", &binary(b"tls below\n"), "CLOSED 1000 "]
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

// ---- WS-LISTEN and WSS-LISTEN, with Python's websockets as the client ----

/// A TCP service on 127.0.0.1, the kind websockify bridges browsers to: each connection is
/// served by `serve` on a thread of its own. Returns its port.
fn backend(serve: fn(TcpStream)) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

/// A backend that reads `N` bytes, answers them upper-cased, and closes.
fn shout<const N: usize>(mut stream: TcpStream) {
    let mut heard = [0; N];
    stream.read_exact(&mut heard).unwrap();
    stream.write_all(&heard.to_ascii_uppercase()).unwrap();
}

/// What a backend read until EOF, sent back to the test.
fn reading_backend() -> (u16, mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut all = Vec::new();
            let _ = stream.read_to_end(&mut all);
            let _ = tx.send(all);
        }
    });
    (port, rx)
}

/// Runs the Python client to its end and returns what it said.
fn client(url: &str, args: &[&str]) -> Vec<String> {
    Peer::start(&[&["connect", url], args].concat()).finish()
}

/// socketry serving `listen` (which binds 127.0.0.1 and port 0) for `other`, once it listens.
fn serving(listen: &str, other: &str) -> (Proc, u16) {
    let mut server = Proc::spawn(&["-d", listen, other]);
    let port = server.listening_port();
    (server, port)
}

#[test]
fn ws_listen_with_fork_bridges_each_client_to_a_tcp_service() {
    // websockify's job: `socketry WS-LISTEN:8080,fork TCP:127.0.0.1:5900`.
    let service = backend(shout::<5>);
    let (mut server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,fork",
        &format!("TCP:127.0.0.1:{service}"),
    );
    let url = format!("ws://127.0.0.1:{port}/");
    // The service's close is the WebSocket's normal close, each time.
    for _ in 0..2 {
        assert_eq!(
            client(&url, &["sendbinary", "hello"]),
            [binary(b"HELLO"), "CLOSED 1000 ".to_owned()]
        );
    }
    server.wait_log_count("WebSocket established for /", 2);
    server.wait_log_count(
        "the WebSocket peer closed with code 1000 (normal closure)",
        2,
    );
    let out = server.terminate();
    assert!(out.errors().is_empty(), "{}", out.stderr);
}

#[test]
fn ws_listen_relays_text_as_bytes_and_ws_text_answers_in_text() {
    let service = backend(|mut stream| {
        let mut heard = [0; 7];
        stream.read_exact(&mut heard).unwrap();
        stream.write_all(&heard).unwrap();
    });
    let (server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,ws-text",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["sendtext", "grüße"]),
        ["TEXT b'gr\\xc3\\xbc\\xc3\\x9fe'", "CLOSED 1000 "]
    );
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn ws_listen_takes_a_megabyte_message_whole() {
    let service = backend(|mut stream| {
        let mut heard = vec![0; 1 << 20];
        stream.read_exact(&mut heard).unwrap();
        let answer = if heard == counting(1 << 20) {
            "all there\n"
        } else {
            "garbled\n"
        };
        stream.write_all(answer.as_bytes()).unwrap();
    });
    let (server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["sendbig", "1048576"]),
        [binary(b"all there\n"), "CLOSED 1000 ".to_owned()]
    );
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn ws_listen_refuses_a_message_over_the_maximum_with_1009() {
    let (service, heard) = reading_backend();
    let (server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,ws-max-message=1000",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["sendbig", "2000"]),
        ["CLOSED 1009 message too big"]
    );
    let out = server.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert!(
        out.errors().last().is_some_and(|e| e.ends_with(
            "a WebSocket message of 2000 bytes is longer than the 1000-byte maximum (ws-max-message)"
        )),
        "{}",
        out.stderr
    );
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), b"");
}

#[test]
fn a_clients_close_is_eof_for_the_service_with_its_code_logged() {
    let (service, heard) = reading_backend();
    let (mut server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["close", "4002:done"]),
        ["CLOSED 4002 done"]
    );
    server.wait_log("the WebSocket peer closed with code 4002: \"done\"");
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), b"");
}

#[test]
fn ws_listen_answers_a_clients_ping() {
    let (service, heard) = reading_backend();
    let (server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["ping"]),
        ["PONG", "CLOSED 1000 "]
    );
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), b"after the ping\n");
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn a_request_for_another_path_gets_404_and_is_logged() {
    let service = backend(shout::<2>);
    let (mut server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,path=/ws,fork",
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/other?x=1"), &["echo"]),
        ["REFUSED 404"]
    );
    server.wait_log("refused a request for /other: path= is /ws");
    // The query is not part of the path compared; the server serves on.
    assert_eq!(
        client(
            &format!("ws://127.0.0.1:{port}/ws?x=1"),
            &["sendbinary", "ok"]
        ),
        [binary(b"OK"), "CLOSED 1000 ".to_owned()]
    );
    server.wait_log("WebSocket established for /ws?x=1");
    let out = server.terminate();
    assert_eq!(
        out.errors()
            .iter()
            .filter(|e| e.contains("refused a request"))
            .count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn a_plain_tcp_client_is_refused_and_logged() {
    let service = backend(shout::<2>);
    let (mut server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,fork",
        &format!("TCP:127.0.0.1:{service}"),
    );
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.write_all(b"hello\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    plain.read_to_end(&mut answer).unwrap();
    assert_eq!(
        answer, b"",
        "a plain client gets nothing, and the connection closed"
    );
    let line = server.wait_log("not a WebSocket opening request");
    assert!(
        line.contains("] E WebSocket handshake over TCP 127.0.0.1:"),
        "{line}"
    );
    // The service was never connected to for it; the next client is served.
    assert_eq!(
        client(&format!("ws://127.0.0.1:{port}/"), &["sendbinary", "ok"]),
        [binary(b"OK"), "CLOSED 1000 ".to_owned()]
    );
    server.terminate();
}

#[test]
fn ws_listen_chooses_a_subprotocol_and_adds_its_headers() {
    let service = backend(shout::<2>);
    let (mut server, port) = serving(
        "WS-LISTEN:0,bind=127.0.0.1,fork,ws-protocol=chat,ws-header=X-Served-By:socketry",
        &format!("TCP:127.0.0.1:{service}"),
    );
    let url = format!("ws://127.0.0.1:{port}/");
    assert_eq!(
        client(&url, &["sendbinary", "hi", "--protocol", "chat"]),
        [
            "HEADER x-served-by: socketry".to_owned(),
            "PROTOCOL chat".to_owned(),
            binary(b"HI"),
            "CLOSED 1000 ".to_owned()
        ]
    );
    // A client that offers none of ours is refused.
    assert_eq!(client(&url, &["echo"]), ["REFUSED 400"]);
    server.wait_log("refused a client offering subprotocols none: ws-protocol is chat");
    server.terminate();
}

#[test]
fn wss_listen_serves_websocket_over_tls() {
    let dir = common::tempdir();
    let pem = certificate(dir.path());
    let pem_text = pem.to_str().unwrap();
    let service = backend(shout::<6>);
    let (mut server, port) = serving(
        &format!("WSS-LISTEN:0,bind=127.0.0.1,cert={pem_text}"),
        &format!("TCP:127.0.0.1:{service}"),
    );
    assert_eq!(
        client(
            &format!("wss://localhost:{port}/tls"),
            &["sendbinary", "secret", "--certificate", pem_text]
        ),
        [binary(b"SECRET"), "CLOSED 1000 ".to_owned()]
    );
    server.wait_log("TLS established");
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("over TLS1.3 over WebSocket"),
        "{}",
        out.stderr
    );
}
