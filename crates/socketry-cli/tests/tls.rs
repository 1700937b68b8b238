//! OPENSSL and OPENSSL-LISTEN against the real peers users pair them with: OpenSSL's
//! s_server and s_client, and socat's own OPENSSL addresses, both ways, over 127.0.0.1 with
//! certificates that `openssl req -x509` makes in each test, as socat's users make them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{run, Proc};

/// A self-signed certificate for `localhost` and 127.0.0.1, and its key, as
/// `openssl req -x509` makes them (a CA certificate used as the server's own).
struct Certificate {
    cert: PathBuf,
    key: PathBuf,
    /// Certificate and key in one file, as socat's `cert=` takes them.
    both: PathBuf,
}

fn certificate(dir: &Path, name: &str) -> Certificate {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
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
        .expect("run openssl req (apt-get install openssl)");
    assert!(status.success());
    let both = dir.join(format!("{name}.pem"));
    let mut pem = std::fs::read(&cert).expect("read the certificate");
    pem.extend(std::fs::read(&key).expect("read the key"));
    std::fs::write(&both, pem).expect("write cert and key");
    Certificate { cert, key, both }
}

/// `openssl s_server` serving `cert` to one client, to which it sends each line back
/// reversed.
fn reversing_s_server(cert: &Certificate) -> Peer {
    Peer::start(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
            ])
            .arg("-cert")
            .arg(&cert.cert)
            .arg("-key")
            .arg(&cert.key),
        false,
        "ACCEPT",
    )
}

/// `socketry - OPENSSL:localhost:PORT,cafile=CERT` with `sent` on its input, verifying the
/// server with its certificate as the authority: it prints `expected` (the server's answer)
/// and exits 0.
fn verified_client_gets(port: u16, cert: &Certificate, sent: &[u8], expected: &[u8]) {
    let out = run(
        &[
            "-",
            &format!("OPENSSL:localhost:{port},cafile={}", cert.cert.display()),
        ],
        sent,
    );
    assert_eq!(out.stdout, expected, "{}", out.stderr);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

/// The fingerprint an ephemeral-certificate server logs (what a client pins with
/// `fingerprint=`), and the port it listens on.
fn pin_and_port(server: &mut Proc) -> (String, u16) {
    let line = server.wait_log("fingerprint=");
    let pin = line
        .rsplit("fingerprint=")
        .next()
        .expect("a fingerprint after fingerprint=")
        .to_owned();
    (pin, server.listening_port())
}

/// The SHA-256 fingerprint OpenSSL computes for a certificate, in `fingerprint=`'s form.
fn openssl_fingerprint(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("run openssl x509");
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text.trim().rsplit('=').next().expect("a fingerprint");
    format!("sha256:{}", hex.replace(':', "").to_ascii_lowercase())
}

/// A peer program that listens on an ephemeral port and says which on a line of its
/// output (`ACCEPT 127.0.0.1:PORT` for s_server, `listening on ...:PORT` for socat).
struct Peer {
    child: Child,
    port: u16,
}

impl Peer {
    fn start(command: &mut Command, stderr_says: bool, marker: &str) -> Peer {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(if stderr_says {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stderr(if stderr_says {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start the peer");
        let stream: Box<dyn Read + Send> = if stderr_says {
            Box::new(child.stderr.take().expect("stderr"))
        } else {
            Box::new(child.stdout.take().expect("stdout"))
        };
        let mut lines = BufReader::new(stream);
        let mut line = String::new();
        let port = loop {
            line.clear();
            let n = lines.read_line(&mut line).expect("read the peer's output");
            assert!(n > 0, "the peer exited before listening");
            if line.contains(marker) {
                let port = line.trim().rsplit(':').next().expect("a port");
                break port.parse().expect("a port number");
            }
        };
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink);
        });
        Peer { child, port }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_ephemeral_server_logs_the_fingerprint_a_client_pins() {
    let mut server = Proc::spawn(&["-d", "OPENSSL-LISTEN:0,bind=127.0.0.1", "PIPE"]);
    let line = server.wait_log("fingerprint=");
    assert!(
        line.ends_with(
            " W no cert= given: serving an ephemeral self-signed certificate, fingerprint=sha256:"
        ) || line.contains(
            " W no cert= given: serving an ephemeral self-signed certificate, fingerprint=sha256:"
        ),
        "{line}"
    );
    let pin = line.rsplit("fingerprint=").next().unwrap().to_owned();
    assert_eq!(pin.len(), "sha256:".len() + 64, "{pin}");
    let port = server.listening_port();
    let client = run(
        &["-", &format!("OPENSSL:127.0.0.1:{port},fingerprint={pin}")],
        b"echoed over TLS\n",
    );
    assert_eq!(client.stdout, b"echoed over TLS\n", "{}", client.stderr);
    assert_eq!(client.code(), Some(0), "{}", client.stderr);
    assert_eq!(server.finish().code(), Some(0));
}

#[test]
fn a_client_verifies_s_server_with_cafile_and_half_closes() {
    let dir = common::tempdir();
    let cert = certificate(dir.path(), "server");
    let server = reversing_s_server(&cert);
    verified_client_gets(server.port, &cert, b"hello\n", b"olleh\n");
}

#[test]
fn an_unknown_ca_is_one_line_exit_1_and_names_the_pin() {
    let dir = common::tempdir();
    let cert = certificate(dir.path(), "server");
    let other = certificate(dir.path(), "other");
    let server = reversing_s_server(&cert);
    let address = format!(
        "OPENSSL:localhost:{},cafile={}",
        server.port,
        other.cert.display()
    );
    let out = run(&["-", &address], b"secret\n");
    assert_eq!(out.code(), Some(1));
    assert_eq!(out.stdout, b"");
    let errors = out.errors();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    let fingerprint = openssl_fingerprint(&cert.cert);
    assert!(
        errors[0].starts_with(&format!("{address}: TCP 127.0.0.1:")),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].ends_with(&format!(
            ": certificate verify failed: unknown CA: the peer's certificate (self-signed, subject \"/CN=localhost\") is not signed by a trusted authority; trust it with cafile=, or pin it with fingerprint={fingerprint}"
        )),
        "{}",
        errors[0]
    );
}

#[test]
fn s_client_verifies_our_server_and_gets_a_program_s_output() {
    let dir = common::tempdir();
    let cert = certificate(dir.path(), "server");
    let mut server = Proc::spawn(&[
        "-d",
        &format!(
            "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={},key={}",
            cert.cert.display(),
            cert.key.display()
        ),
        "SYSTEM:echo from the server; cat",
    ]);
    let port = server.listening_port();
    let mut client = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-servername",
            "localhost",
        ])
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(&cert.cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl s_client");
    client
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"and back\n")
        .expect("write to s_client");
    let mut got = Vec::new();
    let mut stdout = client.stdout.take().expect("stdout");
    let mut buf = [0; 256];
    while !got.ends_with(b"and back\n") {
        let n = stdout.read(&mut buf).expect("read s_client's output");
        assert!(
            n > 0,
            "s_client ended with {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"from the server\nand back\n");
    let _ = client.kill();
    let _ = client.wait();
    server.wait_log("TLS established: TLS1.3");
}

#[test]
fn socat_and_socketry_talk_tls_both_ways() {
    let dir = common::tempdir();
    let cert = certificate(dir.path(), "server");

    // socat serves, socketry connects.
    let socat_server = Peer::start(
        Command::new("socat")
            .args(["-d", "-d"])
            .arg(format!(
                "OPENSSL-LISTEN:0,bind=127.0.0.1,reuseaddr,cert={},verify=0",
                cert.both.display()
            ))
            .arg("SYSTEM:rev"),
        true,
        "listening on",
    );
    verified_client_gets(
        socat_server.port,
        &cert,
        b"socketry to socat\n",
        b"tacos ot yrtekcos\n",
    );

    // socketry serves, socat connects and verifies.
    let mut server = Proc::spawn(&[
        "-d",
        &format!(
            "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={}",
            cert.both.display()
        ),
        "SYSTEM:rev",
    ]);
    let port = server.listening_port();
    let mut socat = Command::new("socat")
        .arg("-")
        .arg(format!(
            "OPENSSL:localhost:{port},cafile={}",
            cert.cert.display()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run socat");
    socat
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"socat to socketry\n")
        .expect("write to socat");
    let out = socat.wait_with_output().expect("wait for socat");
    assert_eq!(
        out.stdout,
        b"yrtekcos ot tacos\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    assert_eq!(server.finish().code(), Some(0));
}

#[test]
fn a_plaintext_client_is_logged_and_a_forking_server_serves_on() {
    let mut server = Proc::spawn(&["-d", "OPENSSL-LISTEN:0,bind=127.0.0.1,fork", "PIPE"]);
    let (pin, port) = pin_and_port(&mut server);
    let plain = run(
        &["-", &format!("TCP:127.0.0.1:{port}")],
        b"GET / HTTP/1.0\r\n\r\n",
    );
    assert_eq!(plain.code(), Some(0), "{}", plain.stderr);
    let refused = server.wait_log("does not speak TLS");
    assert!(
        refused.ends_with(": the peer does not speak TLS (it sent plaintext, or another protocol)"),
        "{refused}"
    );
    let client = run(
        &["-", &format!("OPENSSL:127.0.0.1:{port},fingerprint={pin}")],
        b"still serving\n",
    );
    assert_eq!(client.stdout, b"still serving\n", "{}", client.stderr);
    assert_eq!(client.code(), Some(0));
    server.terminate();
}

#[test]
fn a_session_whose_second_address_fails_ends_with_close_notify() {
    let refused = format!("TCP:127.0.0.1:{}", common::free_port());
    let mut server = Proc::spawn(&["-d", "OPENSSL-LISTEN:0,bind=127.0.0.1,fork", &refused]);
    let (pin, port) = pin_and_port(&mut server);
    // -U: the client only reads, so nothing it sends can cross the server's close.
    let client = run(
        &[
            "-U",
            "-",
            &format!("OPENSSL:127.0.0.1:{port},fingerprint={pin}"),
        ],
        b"",
    );
    assert_eq!(client.code(), Some(0), "{}", client.stderr);
    assert!(client.stdout.is_empty());
    server.wait_log("Connection refused");
    server.terminate();
}

#[test]
fn what_rustls_cannot_honour_is_refused_before_anything_listens() {
    for (option, reason) in [
        (
            "method=TLS1.2",
            "option method in \"OPENSSL-LISTEN:0,method=TLS1.2\" is not supported: the protocol version is chosen with min-proto-version and max-proto-version (TLS1.2, TLS1.3)",
        ),
        (
            "dhparams=dh.pem",
            "option dhparams in \"OPENSSL-LISTEN:0,dhparams=dh.pem\" is not supported: rustls uses only ECDHE key exchange, which has no Diffie-Hellman parameters to load",
        ),
        (
            "egd=/dev/egd-pool",
            "option egd in \"OPENSSL-LISTEN:0,egd=/dev/egd-pool\" is not supported: rustls takes its randomness from the operating system; there is no entropy daemon to ask",
        ),
        (
            "compress=zlib",
            "invalid value \"zlib\" for option compress in \"OPENSSL-LISTEN:0,compress=zlib\" (expected none or auto (TLS compression is unsafe, and rustls never compresses))",
        ),
        (
            "min-proto-version=TLS1.1",
            "invalid value \"TLS1.1\" for option min-proto-version in \"OPENSSL-LISTEN:0,min-proto-version=TLS1.1\" (expected TLS1.2 or TLS1.3 (rustls speaks no older version))",
        ),
        (
            "fingerprint=sha1:00",
            "invalid value \"sha1:00\" for option fingerprint in \"OPENSSL-LISTEN:0,fingerprint=sha1:00\" (expected sha256: followed by 64 hex digits)",
        ),
    ] {
        let address = format!("OPENSSL-LISTEN:0,{option}");
        let out = run(&[&address, "PIPE"], b"");
        assert_eq!(out.code(), Some(1), "{option}: {}", out.stderr);
        assert_eq!(out.errors(), vec![reason], "{option}");
    }
}

#[test]
fn a_certificate_that_cannot_be_read_is_named_before_anything_listens() {
    let dir = common::tempdir();
    let missing = dir.path().join("missing.pem");
    let address = format!("OPENSSL-LISTEN:0,bind=127.0.0.1,cert={}", missing.display());
    let out = run(&["-d", &address, "PIPE"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        vec![format!(
            "{address}: cannot read {}: No such file or directory",
            missing.display()
        )]
    );
    assert!(!out.stderr.contains("listening on"), "{}", out.stderr);
}

#[test]
fn the_echo_server_runs_the_handshake_of_each_peer_in_its_own_task() {
    // The server subcommand serves TLS the way the relay does: every accepted peer gets the
    // server's handshake before it is echoed to, and a peer that fails it is logged while the
    // others are served.
    let mut server = Proc::spawn(&["server", "OPENSSL-LISTEN:0,bind=127.0.0.1"]);
    let (pin, port) = pin_and_port(&mut server);
    let mut plaintext = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    plaintext.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let client = run(
        &["-", &format!("OPENSSL:127.0.0.1:{port},fingerprint={pin}")],
        b"echoed by the server over TLS\n",
    );
    assert_eq!(
        client.stdout, b"echoed by the server over TLS\n",
        "{}",
        client.stderr
    );
    assert_eq!(client.code(), Some(0), "{}", client.stderr);
    let refused = server.wait_log("the peer does not speak TLS");
    assert!(
        refused.ends_with(": the peer does not speak TLS (it sent plaintext, or another protocol)"),
        "{refused}"
    );
    drop(plaintext);
    server.terminate();
}

/// An X.509 version 1 certificate, as `openssl req -x509` makes it from a configuration that
/// names no extensions (socat's test certificates are made so), with the subject
/// `C=XY, CN=<cn>, O=<o>, OU=socat, L=Lunar Base`.
fn v1_certificate(dir: &Path, name: &str, cn: &str, o: &str) -> Certificate {
    let config = dir.join(format!("{name}.conf"));
    std::fs::write(
        &config,
        format!("prompt=no\n[ req ]\ndistinguished_name=dn\n[ dn ]\ncountryName=XY\ncommonName={cn}\nO={o}\nOU=socat\nL=Lunar Base\n"),
    )
    .expect("write the openssl configuration");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args([
            "req", "-new", "-x509", "-nodes", "-newkey", "rsa:2048", "-days", "2",
        ])
        .arg("-config")
        .arg(&config)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("run openssl req (apt-get install openssl)");
    assert!(status.success());
    let text = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .expect("run openssl x509");
    assert!(String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"));
    let both = dir.join(format!("{name}.pem"));
    let mut pem = std::fs::read(&key).expect("read the key");
    pem.extend(std::fs::read(&cert).expect("read the certificate"));
    std::fs::write(&both, pem).expect("write key and cert");
    Certificate { cert, key, both }
}

#[test]
fn a_program_behind_a_tls_server_sees_the_client_certificate_in_socat_s_variables() {
    let dir = common::tempdir();
    let server_cert = v1_certificate(dir.path(), "server", "127.0.0.1", "dest-unreach");
    let client_cert = v1_certificate(dir.path(), "client", "client.test", "Example, Inc.");
    let mut server = Proc::spawn(&[
        "-d",
        &format!(
            "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={},cafile={}",
            server_cert.both.display(),
            client_cert.cert.display()
        ),
        "SYSTEM:env | grep -e ^SOCAT_OPENSSL_ -e ^SOCKETRY_TLS_ | sort",
    ]);
    let port = server.listening_port();
    let client = run(
        &[
            "-",
            &format!(
                "OPENSSL:127.0.0.1:{port},cert={},cafile={}",
                client_cert.both.display(),
                server_cert.cert.display()
            ),
        ],
        b"",
    );
    assert_eq!(client.code(), Some(0), "{}", client.stderr);
    let subject = "C = XY, CN = client.test, O = \"Example, Inc.\", OU = socat, L = Lunar Base";
    let fingerprint = openssl_fingerprint(&client_cert.cert);
    let expected = [
        "SOCAT_OPENSSL_X509_COMMONNAME=client.test".to_owned(),
        "SOCAT_OPENSSL_X509_COUNTRYNAME=XY".to_owned(),
        format!("SOCAT_OPENSSL_X509_ISSUER={subject}"),
        "SOCAT_OPENSSL_X509_LOCALITYNAME=Lunar Base".to_owned(),
        "SOCAT_OPENSSL_X509_ORGANIZATIONALUNITNAME=socat".to_owned(),
        "SOCAT_OPENSSL_X509_ORGANIZATIONNAME=Example, Inc.".to_owned(),
        format!("SOCAT_OPENSSL_X509_SUBJECT={subject}"),
    ];
    let slash = "/C=XY/CN=client.test/O=Example, Inc./OU=socat/L=Lunar Base";
    let socketry = [
        "SOCKETRY_TLS_CIPHER=TLS13_AES_256_GCM_SHA384".to_owned(),
        format!("SOCKETRY_TLS_FINGERPRINT={fingerprint}"),
        format!("SOCKETRY_TLS_ISSUER={slash}"),
        format!("SOCKETRY_TLS_SUBJECT={slash}"),
        "SOCKETRY_TLS_VERSION=TLS1.3".to_owned(),
    ];
    let out = client.stdout_text();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, [&expected[..], &socketry[..]].concat(), "{out}");
    assert_eq!(server.finish().code(), Some(0));
}

#[test]
fn a_silent_client_is_dropped_after_the_handshake_timeout_and_the_server_serves_on() {
    let mut server = Proc::spawn(&[
        "-d",
        "OPENSSL-LISTEN:0,bind=127.0.0.1,fork,max-children=1,handshake-timeout=0.2",
        "PIPE",
    ]);
    let (pin, port) = pin_and_port(&mut server);
    // Connects and says nothing, holding the only child slot until the server gives up.
    let silent = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let dropped = server.wait_log("did not finish");
    assert!(
        dropped.ends_with(": the TLS handshake did not finish within 0.2s (handshake-timeout=)"),
        "{dropped}"
    );
    let client = run(
        &["-", &format!("OPENSSL:127.0.0.1:{port},fingerprint={pin}")],
        b"served after the silent one\n",
    );
    assert_eq!(
        client.stdout, b"served after the silent one\n",
        "{}",
        client.stderr
    );
    assert_eq!(client.code(), Some(0));
    drop(silent);
    server.terminate();
}

/// Python's ssl module as a server for one connection: it answers a line with the line
/// reversed, then closes with close_notify.
const PYTHON_SERVER: &str = r#"
import socket, ssl, sys
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
with socket.create_server(("127.0.0.1", 0)) as server:
    print("ACCEPT 127.0.0.1:%d" % server.getsockname()[1], flush=True)
    connection, _ = server.accept()
    with context.wrap_socket(connection, server_side=True) as tls:
        line = b""
        while not line.endswith(b"\n"):
            chunk = tls.recv(1024)
            if not chunk:
                break
            line += chunk
        tls.sendall(line[:-1][::-1] + b"\n")
        tls.unwrap()
"#;

/// Python's ssl module as a client that verifies the server for `localhost` against a CA
/// file, presents a certificate, speaks at most the version given, and prints what it read
/// until close_notify, then the version negotiated; it answers with its own close_notify.
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
port, cafile, identity, version = sys.argv[1:5]
context = ssl.create_default_context(cafile=cafile)
context.load_cert_chain(identity)
context.maximum_version = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}[version]
with socket.create_connection(("127.0.0.1", int(port))) as connection:
    with context.wrap_socket(connection, server_hostname="localhost") as tls:
        read = b""
        while True:
            chunk = tls.recv(1024)
            if not chunk:
                break
            read += chunk
        sys.stdout.write(read.decode() + tls.version() + "\n")
        tls.unwrap()
"#;

#[test]
fn a_client_verifies_python_s_ssl_server_and_half_closes() {
    let dir = common::tempdir();
    let cert = certificate(dir.path(), "server");
    let server = Peer::start(
        Command::new("python3")
            .args(["-c", PYTHON_SERVER])
            .arg(&cert.cert)
            .arg(&cert.key),
        false,
        "ACCEPT",
    );
    verified_client_gets(server.port, &cert, b"hello python\n", b"nohtyp olleh\n");
}

#[test]
fn python_s_ssl_client_verifies_our_server_which_verifies_its_v1_certificate() {
    let dir = common::tempdir();
    let server_cert = certificate(dir.path(), "server");
    let client_cert = v1_certificate(dir.path(), "client", "client.test", "Python");
    for version in ["1.2", "1.3"] {
        let mut server = Proc::spawn(&[
            "-d",
            &format!(
                "OPENSSL-LISTEN:0,bind=127.0.0.1,cert={},cafile={}",
                server_cert.both.display(),
                client_cert.cert.display()
            ),
            "SYSTEM:echo hello $SOCAT_OPENSSL_X509_COMMONNAME",
        ]);
        let port = server.listening_port();
        let client = Command::new("python3")
            .args(["-c", PYTHON_CLIENT, &port.to_string()])
            .arg(&server_cert.cert)
            .arg(&client_cert.both)
            .arg(version)
            .output()
            .expect("run python3 (apt-get install python3)");
        assert_eq!(
            String::from_utf8_lossy(&client.stdout),
            format!("hello client.test\nTLSv{version}\n"),
            "{}",
            String::from_utf8_lossy(&client.stderr)
        );
        assert!(client.status.success());
        assert_eq!(server.finish().code(), Some(0));
    }
}
