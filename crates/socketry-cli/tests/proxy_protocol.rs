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

use common::{free_port, Proc, WAIT};

const PRINT_PEER: &str = "SYSTEM:echo \"$SOCAT_PEERADDR:$SOCAT_PEERPORT\"";

/// socketry serving every peer with `options` on its listener; its port.
fn socketry(options: &str) -> (Proc, u16) {
    let listen = format!("TCP-LISTEN:0,bind=127.0.0.1,fork{options}");
    let mut proc = Proc::spawn(&["-d", &listen, PRINT_PEER]);
    let port = proc.listening_port();
    (proc, port)
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
    // HAProxy's configuration takes no port 0: a port nobody listens on now.
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

// ---- Sending: proxy-protocol=1|2 on connecting addresses, and the PROXY-PROTOCOL layer ----

/// A listener on 127.0.0.1 that reads its first connection until EOF (or `limit` bytes) and
/// hands over what came; its port.
fn capture(limit: usize) -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut got = Vec::new();
        let _ = stream.take(limit as u64).read_to_end(&mut got);
        let _ = tx.send(got);
    });
    (port, rx)
}

/// socketry relaying each client of a TCP listener to `second`; its port.
fn forwarding(second: &str) -> (Proc, u16) {
    let mut proc = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork", second]);
    let port = proc.listening_port();
    (proc, port)
}

/// v2's header for a TCP connection over IPv4 from `source` to `destination`.
fn v2_inet(source: std::net::SocketAddr, destination: std::net::SocketAddr) -> Vec<u8> {
    let (std::net::SocketAddr::V4(source), std::net::SocketAddr::V4(destination)) =
        (source, destination)
    else {
        panic!("IPv4 only");
    };
    let mut header = b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    header.extend_from_slice(&source.ip().octets());
    header.extend_from_slice(&destination.ip().octets());
    header.extend_from_slice(&source.port().to_be_bytes());
    header.extend_from_slice(&destination.port().to_be_bytes());
    header
}

#[test]
fn a_client_sends_the_header_first_naming_the_first_addresss_peer() {
    for version in [1, 2] {
        let (backend, got) = capture(4096);
        let (_socketry, port) =
            forwarding(&format!("TCP:127.0.0.1:{backend},proxy-protocol={version}"));
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"data").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let source = client.local_addr().unwrap();
        let destination = client.peer_addr().unwrap();
        let mut expected = if version == 1 {
            format!(
                "PROXY TCP4 127.0.0.1 127.0.0.1 {} {}\r\n",
                source.port(),
                destination.port()
            )
            .into_bytes()
        } else {
            v2_inet(source, destination)
        };
        expected.extend_from_slice(b"data");
        assert_eq!(got.recv_timeout(WAIT).unwrap(), expected, "v{version}");
    }
}

#[test]
fn without_a_socket_peer_the_header_is_unknown_or_local() {
    for (version, header) in [
        (1, b"PROXY UNKNOWN\r\n".to_vec()),
        (2, b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00".to_vec()),
    ] {
        let (backend, got) = capture(4096);
        let address = format!("TCP:127.0.0.1:{backend},proxy-protocol={version}");
        let out = common::run(&["-", &address], b"from stdin");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let mut expected = header;
        expected.extend_from_slice(b"from stdin");
        assert_eq!(got.recv_timeout(WAIT).unwrap(), expected, "v{version}");
    }
}

#[test]
fn socketrys_own_listener_and_haproxy_behind_a_sending_client_see_the_original_client() {
    let (_reader, reader_port) = socketry(",proxy-protocol");
    for version in [1, 2] {
        // Straight to socketry's proxy-protocol listener.
        let (_sender, port) = forwarding(&format!(
            "TCP:127.0.0.1:{reader_port},proxy-protocol={version}"
        ));
        let (printed, client) = read_all(port, b"");
        let client = client.local_addr().unwrap();
        assert_eq!(
            printed,
            format!("127.0.0.1:{}\n", client.port()),
            "v{version}"
        );

        // Through HAProxy, which accepts the header and passes the client on in its own.
        let front = haproxy("accept-proxy", reader_port, "send-proxy-v2");
        let (_sender, port) = forwarding(&format!(
            "TCP:127.0.0.1:{},proxy-protocol={version}",
            front.port
        ));
        let (printed, client) = read_all(port, b"");
        let client = client.local_addr().unwrap();
        assert_eq!(
            printed,
            format!("127.0.0.1:{}\n", client.port()),
            "v{version} through haproxy"
        );
    }
}

#[test]
fn a_listener_given_a_version_refuses_the_other() {
    let (mut socketry, port) = socketry(",proxy-protocol=1");
    let header = v2_inet(
        "192.0.2.7:4711".parse().unwrap(),
        "127.0.0.1:80".parse().unwrap(),
    );
    let (printed, _) = read_all(port, &header);
    assert_eq!(printed, "");
    socketry.wait_log("a PROXY v2 header, and proxy-protocol=1 reads only v1");
    let (printed, _) = read_all(port, b"PROXY TCP4 192.0.2.7 127.0.0.1 4711 80\r\n");
    assert_eq!(printed, "192.0.2.7:4711\n");
}

#[test]
fn the_header_goes_through_a_proxys_tunnel_and_before_tls() {
    let mut proxy = Proc::spawn(&["proxy", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let proxy_port = proxy.listening_port();
    // As a chain layer over SOCKS5, and as the option of a SOCKS5-CONNECT address: the
    // target reads the header, after the proxy's handshake.
    for second in [
        "PROXY-PROTOCOL:2|SOCKS5-CONNECT:127.0.0.1:{backend}|TCP:127.0.0.1:{proxy}",
        "SOCKS5-CONNECT:127.0.0.1:{proxy}:127.0.0.1:{backend},proxy-protocol=2",
    ] {
        let (backend, got) = capture(4096);
        let second = second
            .replace("{backend}", &backend.to_string())
            .replace("{proxy}", &proxy_port.to_string());
        let (_sender, port) = forwarding(&second);
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(b"tunnelled").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut expected = v2_inet(client.local_addr().unwrap(), client.peer_addr().unwrap());
        expected.extend_from_slice(b"tunnelled");
        assert_eq!(got.recv_timeout(WAIT).unwrap(), expected, "{second}");
    }
    proxy.wait_log(" over SOCKS5: ");

    // OPENSSL: the header, then the TLS ClientHello (a handshake record, 0x16).
    let (backend, got) = capture(16);
    let address = format!("OPENSSL:127.0.0.1:{backend},verify=0,proxy-protocol=1");
    let _sender = Proc::spawn(&["-", &address]);
    let mut expected = b"PROXY UNKNOWN\r\n".to_vec();
    expected.push(0x16);
    assert_eq!(got.recv_timeout(WAIT).unwrap(), expected);
}
