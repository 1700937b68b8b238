#![allow(clippy::unwrap_used)]
//! The PROXY protocol on listeners (`proxy-protocol`, `proxy-protocol-from`): HAProxy in
//! front of socketry with `send-proxy` (v1) and `send-proxy-v2`, run from a configuration in
//! a temporary directory, in the foreground, on 127.0.0.1; and headers written by hand.
//! The program behind socketry prints the peer it was told of, which must be the client
//! HAProxy accepted, not HAProxy itself.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Proc, WAIT};

const PRINT_PEER: &str = "SYSTEM:echo \"$SOCAT_PEERADDR:$SOCAT_PEERPORT\"";

/// socketry serving every peer with `options` on its listener; its port.
fn socketry(options: &str) -> (Proc, u16) {
    let listen = format!("TCP-LISTEN:0,bind=127.0.0.1,fork{options}");
    let mut proc = Proc::spawn(&["-d", &listen, PRINT_PEER]);
    let port = proc.listening_port();
    (proc, port)
}

/// A port nobody listens on now, for HAProxy's configuration (it takes no port 0).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Haproxy {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// HAProxy in TCP mode: a frontend on 127.0.0.1 with `bind_options`, to a server at
/// `server` with `server_options`.
fn haproxy(bind_options: &str, server: u16, server_options: &str) -> Haproxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = format!(
        "global\n  maxconn 100\n\
         defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 15s\n  timeout server 15s\n\
         frontend front\n  bind 127.0.0.1:{port} {bind_options}\n  default_backend back\n\
         backend back\n  server socketry 127.0.0.1:{server} {server_options}\n"
    );
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("running haproxy (.ci/deps installs it)");
    let mut haproxy = Haproxy {
        child,
        port,
        _dir: dir,
    };
    // Ready once its frontend accepts.
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            haproxy.child.try_wait().unwrap().is_none(),
            "haproxy exited"
        );
        assert!(Instant::now() < deadline, "haproxy did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    haproxy
}

fn read_all(port: u16, send: &[u8]) -> (String, TcpStream) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(send).unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    (String::from_utf8(got).unwrap(), stream)
}

#[test]
fn haproxy_send_proxy_v2_and_v1_give_the_program_the_original_client() {
    let (_socketry, port) = socketry(",proxy-protocol");
    for option in ["send-proxy-v2", "send-proxy"] {
        let front = haproxy("", port, option);
        let (printed, client) = read_all(front.port, b"");
        let client = client.local_addr().unwrap();
        assert_eq!(
            printed,
            format!("{}:{}\n", client.ip(), client.port()),
            "{option}"
        );
    }
}

#[test]
fn a_peer_without_a_header_is_refused_and_the_listener_serves_on() {
    let (mut socketry, port) = socketry(",proxy-protocol");
    let (printed, _) = read_all(port, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(printed, "");
    socketry.wait_log("no PROXY protocol header: the connection starts with \"GET / HT\"");
    // A v1 header by hand, then data that looks like another header: it is the peer's.
    let (printed, _) = read_all(port, b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 80\r\n");
    assert_eq!(printed, "192.0.2.7:4711\n");
    let mut v2 = b"\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x24".to_vec();
    v2.extend_from_slice(
        &"2001:db8::9"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v2.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    v2.extend_from_slice(&[0x12, 0x34, 0, 80]);
    let (printed, _) = read_all(port, &v2);
    // SOCAT_PEERADDR spells IPv6 as socat does: bracketed, every group in full.
    assert_eq!(printed, "[2001:0db8:0000:0000:0000:0000:0000:0009]:4660\n");
}

#[test]
fn only_senders_in_proxy_protocol_from_send_a_header() {
    let (_socketry, port) = socketry(",proxy-protocol-from=127.0.0.2");
    // 127.0.0.1 is not a trusted proxy: its own address stands.
    let (printed, client) = read_all(port, b"");
    let client = client.local_addr().unwrap();
    assert_eq!(printed, format!("127.0.0.1:{}\n", client.port()));
    // From 127.0.0.2 a header is read.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &"127.0.0.2:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let mut stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"PROXY TCP4 198.51.100.1 127.0.0.1 1234 80\r\n")
        .unwrap();
    let mut printed = String::new();
    stream.read_to_string(&mut printed).unwrap();
    assert_eq!(printed, "198.51.100.1:1234\n");
}

#[test]
fn range_admits_by_the_client_the_header_names() {
    let (mut socketry, port) = socketry(",proxy-protocol,range=192.0.2.0/24");
    // The socket's own peer, 127.0.0.1, is outside the range; the client named is inside.
    let (printed, _) = read_all(port, b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 80\r\n");
    assert_eq!(printed, "192.0.2.7:4711\n");
    let (printed, _) = read_all(port, b"PROXY TCP4 198.51.100.1 127.0.0.1 4711 80\r\n");
    assert_eq!(printed, "");
    socketry.wait_log("refusing connection from 198.51.100.1:4711 on ");
    let (printed, _) = read_all(port, b"PROXY TCP4 192.0.2.8 127.0.0.1 1 80\r\n");
    assert_eq!(printed, "192.0.2.8:1\n");
}

#[test]
fn the_proxy_server_checks_and_logs_the_client_the_header_names() {
    let mut proxy = Proc::spawn(&[
        "proxy",
        "TCP-LISTEN:0,bind=127.0.0.1,proxy-protocol",
        "--deny",
        "192.0.2.0/24",
    ]);
    let port = proxy.listening_port();
    let mut request = b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 1080\r\n".to_vec();
    request.extend_from_slice(b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(&request).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, [0, 91, 0, 0, 0, 0, 0, 0]);
    proxy.wait_log(
        "refusing SOCKS4 request from 192.0.2.7:4711 for 127.0.0.1:80: client denied by --deny 192.0.2.0/24",
    );
}
