//! The proxy clients and chains against the real proxies users pair them with: Dante
//! (`danted`) for SOCKS4 and SOCKS5 (CONNECT and BIND), microsocks for SOCKS5 with a
//! password, tinyproxy for HTTP CONNECT with and without Basic credentials, and chains of
//! TLS and proxies over them. Each test runs in a network namespace of its own, where the
//! daemons listen on fixed ports of that namespace's loopback without meeting anything else.
//! A daemon is ready when its port accepts a connection.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use common::{bin, in_network_namespace, tempdir, Output, Proc, WAIT};

/// The echo service the proxies connect to.
const ECHO: u16 = 5000;
const DANTE: u16 = 1080;
const MICROSOCKS: u16 = 1081;
const TINYPROXY: u16 = 8888;
const TINYPROXY_AUTH: u16 = 8889;

/// A daemon the test started, killed when the test ends.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits until `port` on 127.0.0.1 accepts a connection.
fn start(command: &mut Command, port: u16) -> Daemon {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?} (see .ci/deps): {e}"));
    let daemon = Daemon(child);
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{command:?} never listened on {port}"
        );
        thread::sleep(std::time::Duration::from_millis(10));
    }
    daemon
}

/// An echo server on 127.0.0.1:`port`, every connection served in its own thread.
fn echo(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// Dante on 127.0.0.1:1080, no authentication, CONNECT and BIND to the loopback only.
fn dante(dir: &Path) -> Daemon {
    let config = dir.join("danted.conf");
    std::fs::write(
        &config,
        format!(
            "logoutput: stderr\n\
             internal: 127.0.0.1 port = {DANTE}\n\
             external: 127.0.0.1\n\
             socksmethod: none\n\
             clientmethod: none\n\
             user.privileged: root\n\
             user.unprivileged: nobody\n\
             client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
             socks pass {{ from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect bind bindreply }}\n\
             socks block {{ from: 0.0.0.0/0 to: 0.0.0.0/0 }}\n"
        ),
    )
    .unwrap();
    start(
        Command::new("danted")
            .arg("-f")
            .arg(&config)
            .arg("-p")
            .arg(dir.join("danted.pid"))
            .args(["-N", "1"]),
        DANTE,
    )
}

/// microsocks on 127.0.0.1:1081, requiring the user ann with password s3cret.
fn microsocks() -> Daemon {
    start(
        Command::new("microsocks").args([
            "-i",
            "127.0.0.1",
            "-p",
            &MICROSOCKS.to_string(),
            "-u",
            "ann",
            "-P",
            "s3cret",
        ]),
        MICROSOCKS,
    )
}

/// tinyproxy on `port`, tunnelling to the echo port and Dante's, with Basic credentials
/// required when `credentials` says.
fn tinyproxy(dir: &Path, port: u16, credentials: bool) -> Daemon {
    let config = dir.join(format!("tinyproxy-{port}.conf"));
    let auth = if credentials {
        "BasicAuth ann s3cret\n"
    } else {
        ""
    };
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 60\nAllow 127.0.0.1\nConnectPort {ECHO}\nConnectPort {DANTE}\n{auth}"
        ),
    )
    .unwrap();
    start(
        Command::new("tinyproxy").arg("-d").arg("-c").arg(&config),
        port,
    )
}

/// Runs socketry with `args` (the first being `-`), writes `send`, reads back exactly as many
/// bytes, and only then closes its input: proxies that do not pass a half-close on would
/// otherwise end the tunnel before the answer came. Returns what came back and how it ended.
fn exchange(args: &[&str], send: &[u8]) -> (Vec<u8>, Output) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning socketry");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    stdin.write_all(send).unwrap();
    let expected = send.len();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0; 4096];
        while got.len() < expected {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tx.send(got);
    });
    let got = rx.recv_timeout(WAIT).unwrap_or_default();
    drop(stdin);
    let mut errors = String::new();
    let _ = stderr.read_to_string(&mut errors);
    let status = child.wait().unwrap();
    (
        got,
        Output {
            status,
            stdout: Vec::new(),
            stderr: errors,
        },
    )
}

/// Runs socketry with `args` to its end with empty input; for refusals.
fn refused(args: &[&str]) -> Output {
    common::run(args, b"")
}

#[test]
fn dante_carries_socks4_and_socks5_connects_and_its_refusals_name_the_code() {
    in_network_namespace(|| {
        let dir = tempdir();
        let _dante = dante(dir.path());
        echo(ECHO);
        let target = format!("127.0.0.1:{ECHO}");
        for address in [
            format!("SOCKS4:127.0.0.1:{target},socksuser=nobody"),
            format!("SOCKS:127.0.0.1:{target},socksport={DANTE}"),
            format!("SOCKS5-CONNECT:127.0.0.1:{DANTE}:{target}"),
            format!("SOCKS5-CONNECT:127.0.0.1:localhost:{ECHO},socksport={DANTE}"),
        ] {
            let (got, out) = exchange(&["-", &address], b"through dante\n");
            assert_eq!(got, b"through dante\n", "{address}: {}", out.stderr);
            assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        }

        let out = refused(&["-", "SOCKS4:127.0.0.1:10.1.2.3:80"]);
        assert_eq!(out.code(), Some(1));
        let errors = out.errors();
        assert_eq!(errors.len(), 1, "{}", out.stderr);
        assert!(
            errors[0].starts_with("SOCKS4:127.0.0.1:10.1.2.3:80: SOCKS4 handshake over TCP 127.0.0.1:")
                && errors[0].ends_with(
                    " -> 127.0.0.1:1080: the proxy refused: reply code 91 (request rejected or failed)"
                ),
            "{}",
            errors[0]
        );

        let out = refused(&["-", "SOCKS5-CONNECT:127.0.0.1:1080:127.0.0.1:5999"]);
        assert_eq!(out.code(), Some(1));
        assert!(
            out.errors()[0].ends_with(
                " -> 127.0.0.1:1080: the proxy refused: reply code 5 (connection refused)"
            ),
            "{}",
            out.stderr
        );
    });
}

/// Runs `listen`, a SOCKS5 listener that Dante binds for, with an upper-casing program
/// behind it; a peer connects to the address it reports and sends `data`. What came back,
/// once the server has logged the peer and ended with status 0.
fn answer_through_a_dante_binding(listen: &str, data: &[u8]) -> Vec<u8> {
    let dir = tempdir();
    let _dante = dante(dir.path());
    let mut server = Proc::spawn(&["-d", "-d", listen, "SYSTEM:tr a-z A-Z"]);
    let line = server.wait_log("listening on ");
    let bound = line.rsplit(' ').next().unwrap().to_owned();
    let mut peer = TcpStream::connect(&bound).unwrap();
    peer.write_all(data).unwrap();
    peer.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    peer.read_to_end(&mut answer).unwrap();
    server.wait_log("accepted a connection from 127.0.0.1:");
    assert_eq!(server.finish().code(), Some(0));
    answer
}

#[test]
fn socks5_listen_takes_the_connection_dante_accepts_for_it() {
    in_network_namespace(|| {
        let answer = answer_through_a_dante_binding(
            "SOCKS5-LISTEN:127.0.0.1:1080:127.0.0.1:0",
            b"bound through dante\n",
        );
        assert_eq!(answer, b"BOUND THROUGH DANTE\n");
    });
}

#[test]
fn socks5_listen_as_a_layer_binds_through_the_socks_server_on_its_right() {
    in_network_namespace(|| {
        let answer = answer_through_a_dante_binding(
            &format!("SOCKS5-LISTEN:127.0.0.1:0|TCP:127.0.0.1:{DANTE}"),
            b"bound by a layer\n",
        );
        assert_eq!(answer, b"BOUND BY A LAYER\n");
    });
}

#[test]
fn microsocks_takes_a_password_from_options_or_a_file_and_refuses_a_wrong_one() {
    in_network_namespace(|| {
        let dir = tempdir();
        let _microsocks = microsocks();
        echo(ECHO);
        let auth_file = dir.path().join("socks-auth");
        std::fs::write(&auth_file, "ann:s3cret\n").unwrap();
        for address in [
            format!("SOCKS5-CONNECT:127.0.0.1:{MICROSOCKS}:127.0.0.1:{ECHO},socksuser=ann,sockspass=s3cret"),
            format!(
                "SOCKS5:127.0.0.1:localhost:{ECHO},socksport={MICROSOCKS},socks-auth-file={}",
                auth_file.display()
            ),
        ] {
            let (got, out) = exchange(&["-", &address], b"through microsocks\n");
            assert_eq!(got, b"through microsocks\n", "{address}: {}", out.stderr);
            assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        }
        for (address, reason) in [
            (
                format!("SOCKS5-CONNECT:127.0.0.1:{MICROSOCKS}:127.0.0.1:{ECHO},socksuser=ann,sockspass=wrong"),
                "the proxy refused: reply code 2 (username and password not accepted)",
            ),
            (
                format!("SOCKS5-CONNECT:127.0.0.1:{MICROSOCKS}:127.0.0.1:{ECHO}"),
                "the proxy refused: reply code 255 (no acceptable authentication method)",
            ),
        ] {
            let out = refused(&["-", &address]);
            assert_eq!(out.code(), Some(1), "{address}");
            let errors = out.errors();
            assert_eq!(errors.len(), 1, "{}", out.stderr);
            assert!(errors[0].starts_with(&format!("{address}: SOCKS5-CONNECT handshake over TCP 127.0.0.1:")), "{}", errors[0]);
            assert!(errors[0].ends_with(&format!(" -> 127.0.0.1:{MICROSOCKS}: {reason}")), "{}", errors[0]);
        }
    });
}

#[test]
fn tinyproxy_tunnels_with_and_without_basic_credentials() {
    in_network_namespace(|| {
        let dir = tempdir();
        let _open = tinyproxy(dir.path(), TINYPROXY, false);
        let _guarded = tinyproxy(dir.path(), TINYPROXY_AUTH, true);
        echo(ECHO);
        // As socat does, the file's bytes are sent as they are: written without a newline.
        let auth_file = dir.path().join("proxy-auth");
        std::fs::write(&auth_file, "ann:s3cret").unwrap();
        for address in [
            format!("PROXY:127.0.0.1:127.0.0.1:{ECHO},proxyport={TINYPROXY}"),
            format!("PROXY:127.0.0.1:localhost:{ECHO},proxyport={TINYPROXY},http-version=1.1"),
            format!("PROXY:127.0.0.1:localhost:{ECHO},proxyport={TINYPROXY},resolve"),
            format!("PROXY-CONNECT:127.0.0.1:127.0.0.1:{ECHO},proxyport={TINYPROXY_AUTH},proxyauth=ann:s3cret"),
            format!(
                "PROXY:127.0.0.1:127.0.0.1:{ECHO},proxyport={TINYPROXY_AUTH},proxy-authorization-file={}",
                auth_file.display()
            ),
        ] {
            let (got, out) = exchange(&["-", &address], b"through tinyproxy\n");
            assert_eq!(got, b"through tinyproxy\n", "{address}: {}", out.stderr);
            assert_eq!(out.code(), Some(0), "{address}: {}", out.stderr);
        }
        for (address, reason) in [
            (
                format!("PROXY:127.0.0.1:127.0.0.1:{ECHO},proxyport={TINYPROXY_AUTH}"),
                "reply code 407 (Proxy Authentication Required)",
            ),
            (
                format!("PROXY:127.0.0.1:127.0.0.1:{ECHO},proxyport={TINYPROXY_AUTH},proxyauth=ann:wrong"),
                "reply code 401 (Unauthorized)",
            ),
            (
                format!("PROXY:127.0.0.1:127.0.0.1:22,proxyport={TINYPROXY}"),
                "reply code 403 (Access violation)",
            ),
        ] {
            let out = refused(&["-", &address]);
            assert_eq!(out.code(), Some(1), "{address}");
            let errors = out.errors();
            assert_eq!(errors.len(), 1, "{}", out.stderr);
            assert!(errors[0].starts_with("PROXY:127.0.0.1:127.0.0.1:"), "{}", errors[0]);
            assert!(
                errors[0].ends_with(&format!(" -> 127.0.0.1:{}: the proxy refused: {reason}", if address.contains("8889") { TINYPROXY_AUTH } else { TINYPROXY })),
                "{}",
                errors[0]
            );
        }
    });
}

#[test]
fn chains_stack_socks_over_http_connect_and_tls_over_socks() {
    in_network_namespace(|| {
        let dir = tempdir();
        let _dante = dante(dir.path());
        let _tinyproxy = tinyproxy(dir.path(), TINYPROXY_AUTH, true);
        echo(ECHO);
        // SOCKS5 to the echo service, through Dante, reached through tinyproxy's tunnel.
        let chain = format!(
            "SOCKS5-CONNECT:127.0.0.1:{ECHO}|PROXY:127.0.0.1:{DANTE},proxyauth=ann:s3cret|TCP:127.0.0.1:{TINYPROXY_AUTH}"
        );
        let (got, out) = exchange(&["-", &chain], b"socks in http\n");
        assert_eq!(got, b"socks in http\n", "{}", out.stderr);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);

        // A TLS server as a listening chain, and a TLS client over SOCKS4 through Dante.
        let mut server = Proc::spawn(&[
            "-d",
            "-d",
            "OPENSSL-SERVER|TCP-LISTEN:7000,bind=127.0.0.1,fork",
            "SYSTEM:tr a-z A-Z",
        ]);
        let line = server.wait_log("fingerprint=");
        let fingerprint = line.rsplit("fingerprint=").next().unwrap().to_owned();
        server.wait_log("listening on");
        let client = format!(
            "OPENSSL,fingerprint={fingerprint}|SOCKS4:127.0.0.1:7000|TCP:127.0.0.1:{DANTE}"
        );
        let out = common::run(&["-", &client], b"tls in socks\n");
        assert_eq!(out.stdout_text(), "TLS IN SOCKS\n", "{}", out.stderr);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let wrong =
            format!("OPENSSL,commonname=example.org|SOCKS4:127.0.0.1:7000|TCP:127.0.0.1:{DANTE}");
        let out = refused(&["-", &wrong]);
        assert_eq!(out.code(), Some(1));
        assert!(
            out.errors()[0].starts_with(&format!("{wrong}: SOCKS4 over TCP 127.0.0.1:"))
                && out.errors()[0].contains("certificate verify failed: unknown CA: "),
            "{}",
            out.stderr
        );
        drop(server);
    });
}

#[test]
fn socks4a_sends_the_name_for_the_server_to_resolve() {
    // A SOCKS4a server of the test's own: it checks the request byte for byte.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let expected = b"\x04\x01\x7d\x6d\0\0\0\x01nobody\0example.org\0";
        let mut request = vec![0; expected.len()];
        stream.read_exact(&mut request).unwrap();
        assert_eq!(request, expected);
        stream.write_all(b"\0\x5a\0\0\0\0\0\0granted\n").unwrap();
    });
    let out = common::run(
        &[
            "-",
            &format!("SOCKS4A:127.0.0.1:example.org:32109,socksport={port},socksuser=nobody"),
        ],
        b"",
    );
    server.join().unwrap();
    assert_eq!(out.stdout_text(), "granted\n", "{}", out.stderr);
    assert_eq!(out.code(), Some(0));
}

#[test]
fn a_truncated_or_oversized_reply_is_one_line_never_a_hang() {
    for (reply, reason) in [
        (
            &b"\0\x5a\0"[..],
            "the proxy closed the connection after 3 of the 8 bytes of its SOCKS4 reply",
        ),
        (
            &b"\x05\x5a\0\0\0\0\0\0"[..],
            "the proxy's SOCKS4 reply has version 5, not 0",
        ),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0; 10];
            stream.read_exact(&mut request).unwrap();
            stream.write_all(reply).unwrap();
        });
        let address = format!("SOCKS4:127.0.0.1:10.0.0.1:80,socksport={port},socksuser=u");
        let out = refused(&["-", &address]);
        server.join().unwrap();
        assert_eq!(out.code(), Some(1));
        assert_eq!(out.errors().len(), 1, "{}", out.stderr);
        assert!(
            out.errors()[0].ends_with(&format!(":{port}: {reason}")),
            "{}",
            out.stderr
        );
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // Read the whole request first, and keep the socket until the client has gone: data
        // left unread at close would make the kernel reset the connection, and the client
        // would report that instead of the oversized answer.
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            request.push(byte[0]);
        }
        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n");
        let header = [b'x'; 1024];
        for _ in 0..32 {
            if stream.write_all(&header).is_err() {
                break;
            }
        }
        let _ = stream.read_to_end(&mut request);
    });
    let out = refused(&["-", &format!("PROXY:127.0.0.1:h:80,proxyport={port}")]);
    server.join().unwrap();
    assert_eq!(out.code(), Some(1));
    assert!(
        out.errors()[0].ends_with(&format!(
            ":{port}: the proxy's HTTP answer is longer than 16384 bytes"
        )),
        "{}",
        out.stderr
    );
}
