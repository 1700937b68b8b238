#![allow(clippy::unwrap_used)]
//! `socketry proxy`: curl through it by SOCKS4a, SOCKS5 with names and HTTP CONNECT, with
//! and without credentials, to an HTTP server the test runs on 127.0.0.1; the refusals, each
//! with its protocol's reply byte for byte and a log line; SOCKS5 UDP ASSOCIATE; the tunnel
//! log line in JSON.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::thread;

use common::{run, Proc, WAIT};
use serde_json::Value;

const BODY: &str = "hello through the proxy\n";

/// Reads a request's head byte by byte, up to and with its blank line, and no further (a
/// body stays in `stream`); `None` if the connection ends before it.
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// An HTTP server on 127.0.0.1 answering every request with `BODY`; its port.
fn origin() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                if read_head(&mut stream).is_none() {
                    return;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = stream.write_all(response.as_bytes());
            });
        }
    });
    port
}

fn proxy(args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["proxy", "TCP-LISTEN:0,bind=127.0.0.1"];
    all.extend_from_slice(args);
    let mut proc = Proc::spawn(&all);
    let port = proc.listening_port();
    (proc, port)
}

/// curl with `args`: its exit status, stdout and stderr.
fn curl(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "15"])
        .args(args)
        .output()
        .expect("running curl (.ci/deps installs it)");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Sends `request` and reads everything until the proxy closes the connection.
fn exchange(port: u16, request: &[u8]) -> Vec<u8> {
    let mut stream = connect(port);
    stream.write_all(request).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    reply
}

fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

#[test]
fn curl_goes_through_by_socks4a_socks5_and_http_connect() {
    let web = origin();
    let (mut proxy, port) = proxy(&[]);
    let url = format!("http://localhost:{web}/index.html");
    let via = format!("127.0.0.1:{port}");
    let http = format!("http://127.0.0.1:{port}");
    for (args, protocol) in [
        (vec!["--socks4a", via.as_str()], "SOCKS4a"),
        (vec!["--socks5-hostname", via.as_str()], "SOCKS5"),
        (vec!["-x", http.as_str(), "--proxytunnel"], "HTTP CONNECT"),
    ] {
        let mut all = args.clone();
        all.push(&url);
        let (status, stdout, stderr) = curl(&all);
        assert_eq!(
            (status, stdout.as_str()),
            (Some(0), BODY),
            "{protocol}: {stderr}"
        );
        let line = proxy.wait_log(&format!("over {protocol}:"));
        assert!(
            line.contains(&format!(
                "-> localhost:{web} (127.0.0.1:{web}) over {protocol}: "
            )),
            "{line}"
        );
        assert!(line.contains(" bytes down, "), "{line}");
    }
}

#[test]
fn credentials_are_required_when_users_are_given() {
    let web = origin();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "# who may use the proxy\nbob:b0b\n").unwrap();
    let (mut proxy, port) = proxy(&["--user", "alice:s3cret", "--users", file.to_str().unwrap()]);
    let url = format!("http://127.0.0.1:{web}/");
    let socks = |who: &str| format!("{who}@127.0.0.1:{port}");
    let http = |who: &str| format!("http://{who}@127.0.0.1:{port}");

    let (status, stdout, _) = curl(&["--socks5-hostname", &socks("alice:s3cret"), &url]);
    assert_eq!((status, stdout.as_str()), (Some(0), BODY));
    let (status, stdout, _) = curl(&["-x", &http("bob:b0b"), "--proxytunnel", &url]);
    assert_eq!((status, stdout.as_str()), (Some(0), BODY));
    assert!(proxy.wait_log("over HTTP CONNECT:").contains("127.0.0.1:"));

    // A wrong password: RFC 1929's failure, and 407 asking for Basic credentials.
    let (status, _, stderr) = curl(&["--socks5-hostname", &socks("alice:wrong"), &url]);
    assert_eq!(status, Some(97), "{stderr}");
    proxy.wait_log("refusing SOCKS5 request from 127.0.0.1:");
    proxy.wait_log("wrong name or password for user \"alice\"");
    let (status, _, stderr) = curl(&["-x", &http("bob:wrong"), "--proxytunnel", &url]);
    assert_eq!(status, Some(56), "{stderr}");
    assert!(stderr.contains("407"), "{stderr}");
    proxy.wait_log("wrong name or password for user \"bob\"");

    // No credentials at all.
    let (status, _, _) = curl(&["--socks5-hostname", &format!("127.0.0.1:{port}"), &url]);
    assert_eq!(status, Some(97));
    proxy.wait_log("the client offers no username/password method (RFC 1929)");
    let reply = exchange(port, b"CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"socketry\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("no Proxy-Authorization: Basic credentials");

    // SOCKS4a has no password field.
    let named = format!("http://localhost:{web}/");
    let (status, _, _) = curl(&["--socks4a", &format!("127.0.0.1:{port}"), &named]);
    assert_eq!(status, Some(97));
    proxy.wait_log("SOCKS4a carries no password, and this proxy requires one");
}

#[test]
fn a_denied_destination_is_refused_in_each_protocol() {
    let web = origin();
    let (mut proxy, port) = proxy(&["--to", "127.0.0.1:1-9"]);
    let request = |version: u8| {
        let mut r = vec![version, 1, 0, 1, 127, 0, 0, 1];
        r.extend_from_slice(&web.to_be_bytes());
        r
    };
    // SOCKS5: no authentication, then "not allowed by ruleset".
    let mut socks5 = b"\x05\x01\x00".to_vec();
    socks5.extend_from_slice(&request(5));
    assert_eq!(
        exchange(port, &socks5),
        b"\x05\x00\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00"
    );
    proxy.wait_log("refusing SOCKS5 request from 127.0.0.1:");
    proxy.wait_log(&format!(
        "for 127.0.0.1:{web}: destination not allowed by --to"
    ));
    // SOCKS4: rejected (91).
    let mut socks4 = vec![4, 1];
    socks4.extend_from_slice(&web.to_be_bytes());
    socks4.extend_from_slice(&[127, 0, 0, 1, 0]);
    assert_eq!(exchange(port, &socks4), [0, 91, 0, 0, 0, 0, 0, 0]);
    proxy.wait_log("refusing SOCKS4 request from");
    // HTTP: 403.
    let connect = format!("CONNECT 127.0.0.1:{web} HTTP/1.1\r\n\r\n");
    assert_eq!(
        String::from_utf8(exchange(port, connect.as_bytes())).unwrap(),
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("refusing HTTP CONNECT request from");
    // curl sees the refusal too.
    let (status, _, _) = curl(&[
        "--socks5-hostname",
        &format!("127.0.0.1:{port}"),
        &format!("http://localhost:{web}/"),
    ]);
    assert_eq!(status, Some(97));
    proxy.wait_log(&format!(
        "for localhost:{web}: destination not allowed by --to"
    ));
}

#[test]
fn a_denied_client_is_refused_in_its_protocol() {
    let web = origin();
    let (mut proxy, port) = proxy(&["--deny", "127.0.0.1"]);
    let mut socks4 = vec![4, 1];
    socks4.extend_from_slice(&web.to_be_bytes());
    socks4.extend_from_slice(&[127, 0, 0, 1, b'u', 0]);
    assert_eq!(exchange(port, &socks4), [0, 91, 0, 0, 0, 0, 0, 0]);
    proxy.wait_log("refusing SOCKS4 request from 127.0.0.1:");
    proxy.wait_log("client denied by --deny 127.0.0.1/32");
    let connect = format!("CONNECT 127.0.0.1:{web} HTTP/1.1\r\n\r\n");
    assert!(String::from_utf8(exchange(port, connect.as_bytes()))
        .unwrap()
        .starts_with("HTTP/1.1 403 Forbidden\r\n"));
    let (status, _, _) = curl(&[
        "-x",
        &format!("http://127.0.0.1:{port}"),
        "--proxytunnel",
        &format!("http://127.0.0.1:{web}/"),
    ]);
    assert_eq!(status, Some(56));
}

#[test]
fn unsupported_commands_and_bad_requests_get_their_protocols_error() {
    let (mut proxy, port) = proxy(&[]);
    // SOCKS5 BIND: "command not supported".
    assert_eq!(
        exchange(
            port,
            b"\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50"
        ),
        b"\x05\x00\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00"
    );
    proxy.wait_log("for 127.0.0.1:80: BIND is not supported");
    // SOCKS5 with an unknown address type.
    assert_eq!(
        exchange(port, b"\x05\x01\x00\x05\x01\x00\x07"),
        b"\x05\x00\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00"
    );
    proxy.wait_log("SOCKS5 address type 0x07 is not IPv4 (1), a name (3) or IPv6 (4)");
    // SOCKS4 BIND.
    assert_eq!(
        exchange(port, b"\x04\x02\x00\x50\x7f\x00\x00\x01\x00"),
        [0, 91, 0, 0, 0, 0, 0, 0]
    );
    // HTTP: a request that is not for an absolute http:// URI is not forwarded.
    assert_eq!(
        String::from_utf8(exchange(port, b"GET /index.html HTTP/1.1\r\n\r\n")).unwrap(),
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("refusing HTTP request from 127.0.0.1:");
    proxy.wait_log("\"/index.html\" is not an absolute http:// URI");
    assert_eq!(
        String::from_utf8(exchange(port, b"GET https://127.0.0.1/ HTTP/1.1\r\n\r\n")).unwrap(),
        "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("https:// URIs are not forwarded (only http://; https:// goes through CONNECT)");
    assert_eq!(
        String::from_utf8(exchange(port, b"CONNECT nowhere HTTP/1.1\r\n\r\n")).unwrap(),
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("malformed HTTP request: \"nowhere\" is not HOST:PORT");
    // An oversized head is cut off at 8 KiB.
    let mut long = b"CONNECT a:1 HTTP/1.1\r\nX: ".to_vec();
    long.extend(std::iter::repeat_n(b'y', 9000));
    let mut stream = connect(port);
    let _ = stream.write_all(&long);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert!(reply.starts_with(b"HTTP/1.1 431 "), "{reply:?}");
    proxy.wait_log("HTTP request longer than 8192 bytes");
    // Something else entirely.
    assert_eq!(exchange(port, b"\x16\x03\x01"), b"");
    proxy
        .wait_log("the first byte 0x16 is neither SOCKS4 (0x04), SOCKS5 (0x05) nor an HTTP method");
}

/// An origin server on 127.0.0.1 that hands over each request it gets (head and body, by
/// Content-Length) and answers with the body it was sent, or `BODY`; it closes the
/// connection after its answer only when the request said `Connection: close` and
/// `honours_close` says it listens to that, and keeps it open otherwise, as a keep-alive
/// server does. Its port.
fn recording_origin(honours_close: bool) -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let tx = tx.clone();
            thread::spawn(move || {
                let Some(head) = read_head(&mut stream) else {
                    return;
                };
                let head = String::from_utf8(head).unwrap();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |n| n.parse().unwrap());
                let body = read_exactly(&mut stream, length);
                let answer = if body.is_empty() {
                    BODY.as_bytes().to_vec()
                } else {
                    body.clone()
                };
                let _ = tx.send(format!("{head}{}", String::from_utf8(body).unwrap()));
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive\r\n\r\n",
                    answer.len()
                );
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.write_all(&answer);
                if !honours_close || !head.contains("\r\nConnection: close\r\n") {
                    let _ = stream.read(&mut [0]);
                }
            });
        }
    });
    (port, rx)
}

#[test]
fn plain_http_requests_are_forwarded_in_origin_form_one_per_connection() {
    let (web, requests) = recording_origin(true);
    let (mut proxy, port) = proxy(&[]);
    let http = format!("http://127.0.0.1:{port}");
    let url = format!("http://127.0.0.1:{web}/some/path?q=1");
    let (status, stdout, stderr) = curl(&["-x", &http, "-A", "test-agent", &url]);
    assert_eq!((status, stdout.as_str()), (Some(0), BODY), "{stderr}");
    // curl's Proxy-Connection is gone, and the origin is asked to close.
    assert_eq!(
        requests.recv_timeout(WAIT).unwrap(),
        format!(
            "GET /some/path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{web}\r\nUser-Agent: test-agent\r\nAccept: */*\r\nVia: 1.1 socketry\r\nConnection: close\r\n\r\n"
        )
    );
    let line = proxy.wait_log("over HTTP (");
    assert!(
        line.contains(&format!(
            "-> 127.0.0.1:{web} (127.0.0.1:{web}) over HTTP (GET {url}): "
        )),
        "{line}"
    );

    // A body goes to the origin; the answer's keep-alive fields are replaced by close.
    let request = format!(
        "POST http://127.0.0.1:{web}/form HTTP/1.1\r\nHost: 127.0.0.1:{web}\r\nContent-Length: 9\r\nProxy-Connection: keep-alive\r\n\r\nfield=one"
    );
    let reply = exchange(port, request.as_bytes());
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfield=one"
    );
    assert_eq!(
        requests.recv_timeout(WAIT).unwrap(),
        format!(
            "POST /form HTTP/1.1\r\nHost: 127.0.0.1:{web}\r\nContent-Length: 9\r\nVia: 1.1 socketry\r\nConnection: close\r\n\r\nfield=one"
        )
    );
    // A larger body goes through whole, and comes back.
    let big = "x".repeat(100_000);
    let (status, stdout, stderr) = curl(&["-x", &http, "--data-binary", &big, &url]);
    assert_eq!((status, stdout.len()), (Some(0), big.len()), "{stderr}");
    assert!(requests.recv_timeout(WAIT).unwrap().ends_with(&big));

    // An origin that keeps its connection open all the same: the answer ends at its
    // Content-Length, and so does the client's connection.
    let (stubborn, requests) = recording_origin(false);
    let request = format!("GET http://127.0.0.1:{stubborn}/ HTTP/1.1\r\n\r\n");
    let reply = exchange(port, request.as_bytes());
    assert_eq!(
        String::from_utf8(reply).unwrap(),
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
            BODY.len()
        )
    );
    assert!(requests
        .recv_timeout(WAIT)
        .unwrap()
        .starts_with("GET / HTTP/1.1\r\n"));
}

#[test]
fn forwarding_checks_credentials_and_rules_as_connect_does() {
    let (web, requests) = recording_origin(true);
    let (mut proxy, port) = proxy(&["--user", "ann:s3cret", "--to", "127.0.0.1"]);
    let url = format!("http://127.0.0.1:{web}/");
    let (status, stdout, stderr) =
        curl(&["-x", &format!("http://ann:s3cret@127.0.0.1:{port}"), &url]);
    assert_eq!((status, stdout.as_str()), (Some(0), BODY), "{stderr}");
    // The credentials are for the proxy: the origin never sees them.
    let seen = requests.recv_timeout(WAIT).unwrap();
    assert!(
        !seen.to_ascii_lowercase().contains("authorization"),
        "{seen}"
    );
    assert!(proxy.wait_log("over HTTP (").contains("127.0.0.1:"));

    let (status, stdout, _) = curl(&[
        "-x",
        &format!("http://127.0.0.1:{port}"),
        "-w",
        "%{http_code}",
        &url,
    ]);
    assert_eq!((status, stdout.as_str()), (Some(0), "407"));
    proxy.wait_log("refusing HTTP request from 127.0.0.1:");
    proxy.wait_log("no Proxy-Authorization: Basic credentials");

    let denied = exchange(
        port,
        b"GET http://127.0.0.2:80/ HTTP/1.1\r\nProxy-Authorization: Basic YW5uOnMzY3JldA==\r\n\r\n",
    );
    assert_eq!(
        String::from_utf8(denied).unwrap(),
        "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    proxy.wait_log("for 127.0.0.2:80: destination not allowed by --to");
}

#[test]
fn data_sent_with_the_request_reaches_the_destination_first() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let web = target.local_addr().unwrap().port();
    let (_proxy, port) = proxy(&[]);
    let mut stream = connect(port);
    let mut request = format!("CONNECT 127.0.0.1:{web} HTTP/1.1\r\n\r\n").into_bytes();
    request.extend_from_slice(b"early bytes");
    stream.write_all(&request).unwrap();
    let (mut peer, _) = target.accept().unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_exactly(&mut peer, 11), b"early bytes");
    let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
    assert_eq!(read_exactly(&mut stream, established.len()), established);
    peer.write_all(b"and back").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_exactly(&mut stream, 8), b"and back");
}

#[test]
fn udp_associate_relays_datagrams_through_the_client_facing_address() {
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let echo_address = echo.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let mut answer = b"echo: ".to_vec();
            answer.extend_from_slice(&buf[..n]);
            let _ = echo.send_to(&answer, from);
        }
    });
    let (mut proxy, port) = proxy(&[]);
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let mut control = connect(port);
    control.write_all(b"\x05\x01\x00").unwrap();
    assert_eq!(read_exactly(&mut control, 2), [5, 0]);
    let mut request = b"\x05\x03\x00\x01\x7f\x00\x00\x01".to_vec();
    request.extend_from_slice(&client.local_addr().unwrap().port().to_be_bytes());
    control.write_all(&request).unwrap();
    let reply = read_exactly(&mut control, 10);
    // Bound where the client reached the proxy, not 0.0.0.0.
    assert_eq!(reply[..8], [5, 0, 0, 1, 127, 0, 0, 1]);
    let relay_port = u16::from_be_bytes([reply[8], reply[9]]);
    assert_ne!(relay_port, 0);

    let mut datagram = b"\x00\x00\x00\x01\x7f\x00\x00\x01".to_vec();
    datagram.extend_from_slice(&echo_address.port().to_be_bytes());
    datagram.extend_from_slice(b"ping");
    client
        .send_to(&datagram, ("127.0.0.1", relay_port))
        .unwrap();
    let mut buf = [0; 2048];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(from.port(), relay_port);
    let mut expected = b"\x00\x00\x00\x01\x7f\x00\x00\x01".to_vec();
    expected.extend_from_slice(&echo_address.port().to_be_bytes());
    expected.extend_from_slice(b"echo: ping");
    assert_eq!(&buf[..n], expected.as_slice());
    // A fragment is dropped; the association goes on.
    let mut fragment = datagram.clone();
    fragment[2] = 1;
    client
        .send_to(&fragment, ("127.0.0.1", relay_port))
        .unwrap();
    client
        .send_to(&datagram, ("127.0.0.1", relay_port))
        .unwrap();
    let (n, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], expected.as_slice());
    drop(control);
    let line = proxy.wait_log("UDP association 127.0.0.1:");
    assert!(
        line.contains(&format!(
            "via 127.0.0.1:{relay_port}: 2 datagrams (8 bytes) up, 2 datagrams (20 bytes) down, 1 dropped"
        )),
        "{line}"
    );
}

#[test]
fn tunnels_are_logged_as_json_with_client_destination_and_bytes() {
    let web = origin();
    let mut proc = Proc::spawn(&[
        "--log-format",
        "json",
        "proxy",
        "TCP-LISTEN:0,bind=127.0.0.1",
        "--user",
        "alice:pw",
    ]);
    let line = proc.wait_log("\"listening on ");
    let json: Value = serde_json::from_str(&line).unwrap();
    let message = json["message"].as_str().unwrap();
    let port = message.rsplit(':').next().unwrap();
    let (status, stdout, _) = curl(&[
        "--socks5-hostname",
        &format!("alice:pw@127.0.0.1:{port}"),
        &format!("http://localhost:{web}/"),
    ]);
    assert_eq!((status, stdout.as_str()), (Some(0), BODY));
    let tunnel: Value = serde_json::from_str(&proc.wait_log("\"tunnel\"")).unwrap();
    assert_eq!(tunnel["protocol"], "SOCKS5");
    assert_eq!(tunnel["destination"], format!("localhost:{web}").as_str());
    assert_eq!(tunnel["address"], format!("127.0.0.1:{web}").as_str());
    assert_eq!(tunnel["user"], "alice");
    assert!(tunnel["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    let response_length = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    )
    .len();
    assert_eq!(tunnel["bytes_down"], response_length as u64);
    assert!(tunnel["bytes_up"].as_u64().unwrap() > 0);
    assert!(tunnel["duration_s"].as_f64().unwrap() >= 0.0);
    let _ = curl(&[
        "--socks5-hostname",
        &format!("alice:nope@127.0.0.1:{port}"),
        &format!("http://localhost:{web}/"),
    ]);
    let refused: Value = serde_json::from_str(&proc.wait_log("\"tunnel_refused\"")).unwrap();
    assert_eq!(refused["protocol"], "SOCKS5");
    assert_eq!(
        refused["reason"],
        "wrong name or password for user \"alice\""
    );
}

#[test]
fn max_conns_caps_open_tunnels() {
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let web = target.local_addr().unwrap().port();
    let (mut proxy, port) = proxy(&["--max-conns", "1"]);
    let mut first = connect(port);
    first
        .write_all(format!("CONNECT 127.0.0.1:{web} HTTP/1.1\r\n\r\n").as_bytes())
        .unwrap();
    let (_peer, _) = target.accept().unwrap();
    let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
    assert_eq!(read_exactly(&mut first, established.len()), established);
    let mut second = connect(port);
    let mut got = Vec::new();
    let _ = second.read_to_end(&mut got);
    assert_eq!(got, b"");
    proxy.wait_log("1 connection(s) already open (--max-conns)");
}

#[test]
fn bad_flags_are_refused_naming_what_was_wrong() {
    let out = run(&["proxy", "--to", "example.org:80"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("\"example.org:80\" is not a destination rule (expected CIDR or CIDR:PORT"),
        "{}",
        out.stderr
    );
    let out = run(&["proxy", "--user", "nocolon"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("--user: \"nocolon\" is not NAME:PASS"),
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users");
    std::fs::write(&file, "ok:1\nbroken\n").unwrap();
    let out = run(&["proxy", "--users", file.to_str().unwrap()], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("line 2: \"broken\" is not NAME:PASS"),
        "{}",
        out.stderr
    );
    let out = run(&["proxy", "UDP-LISTEN:0"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("proxy needs a stream listening address such as TCP-LISTEN:1080"),
        "{}",
        out.stderr
    );
}

/// A stand-in for sshd on 127.0.0.1: it sends its version line, hands over the client's, and
/// closes. Its port.
fn fake_sshd() -> (u16, std::sync::mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let _ = stream.write_all(b"SSH-2.0-FakeServer_1.0\r\n");
            let mut line = Vec::new();
            let mut byte = [0];
            while !line.ends_with(b"\n") {
                match stream.read(&mut byte) {
                    Ok(1) => line.push(byte[0]),
                    _ => break,
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
        }
    });
    (port, rx)
}

#[test]
fn ssh_goes_through_with_socketry_as_its_proxy_command() {
    let (sshd, banners) = fake_sshd();
    let (mut proxy, port) = proxy(&[]);
    // What ssh runs as its ProxyCommand, each a stdio tunnel: SOCKS5 and HTTP CONNECT.
    for command in [
        format!("{} - SOCKS5-CONNECT:127.0.0.1:{port}:%h:%p", common::bin()),
        format!("{} - PROXY:127.0.0.1:%h:%p,proxyport={port}", common::bin()),
    ] {
        let out = Command::new("ssh")
            .args(["-F", "/dev/null", "-o", "BatchMode=yes"])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", &format!("ProxyCommand={command}")])
            .args(["-p", &sshd.to_string(), "127.0.0.1", "true"])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running ssh (openssh-client, see .ci/deps)");
        // The fake server ends the session after the version exchange: ssh fails then, but
        // its version line crossed the proxy, and the server's came back to it.
        let banner = banners.recv_timeout(WAIT).unwrap();
        assert!(
            banner.starts_with("SSH-2.0-OpenSSH"),
            "{command}: {banner:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(255), "{command}: {stderr}");
        assert!(
            !stderr.contains("kex_exchange_identification"),
            "{command}: {stderr}"
        );
    }
    proxy.wait_log(&format!(
        "-> 127.0.0.1:{sshd} (127.0.0.1:{sshd}) over SOCKS5: "
    ));
    proxy.wait_log(&format!(
        "-> 127.0.0.1:{sshd} (127.0.0.1:{sshd}) over HTTP CONNECT: "
    ));

    // The same tunnel without ssh: the server's version line arrives on stdout.
    let out = run(
        &[
            "-",
            &format!("SOCKS5-CONNECT:127.0.0.1:{port}:127.0.0.1:{sshd}"),
        ],
        b"SSH-2.0-socketry-test\r\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "SSH-2.0-FakeServer_1.0\r\n");
    assert_eq!(
        banners.recv_timeout(WAIT).unwrap(),
        "SSH-2.0-socketry-test\r\n"
    );
}
