//! The TLS engine against real peers: OpenSSL's `s_server` and `s_client`, plain TCP peers,
//! and itself, over 127.0.0.1, with certificates made in each test. Every error a user can
//! meet is shown with the line they read.

mod pki;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use pki::{Authority, Validity};
use socketry::tls::{
    CipherList, Fingerprint, ProtocolVersion, TlsClientConfig, TlsError, TlsServerConfig,
    TlsSettings,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// `openssl s_server` on an ephemeral port of 127.0.0.1, for one connection, reversing each
/// line it reads (`-rev`).
struct SServer {
    child: Child,
    port: u16,
}

impl SServer {
    fn start(cert: &Path, key: &Path, extra: &[&str]) -> SServer {
        let mut child = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
            ])
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("run openssl s_server (apt-get install openssl)");
        let mut stdout = BufReader::new(child.stdout.take().expect("s_server's stdout"));
        let mut line = String::new();
        let port = loop {
            line.clear();
            let n = stdout.read_line(&mut line).expect("read s_server's output");
            assert!(n > 0, "s_server exited before listening");
            if let Some(address) = line.trim().strip_prefix("ACCEPT ") {
                let port = address.rsplit(':').next().expect("a port");
                break port.parse().expect("a port number");
            }
        };
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        SServer { child, port }
    }
}

impl Drop for SServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(
    settings: &TlsSettings,
    port: u16,
) -> Result<socketry::tls::TlsStream<TcpStream>, TlsError> {
    let config = TlsClientConfig::new(settings, "localhost")?;
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to s_server");
    config.connect(tcp).await
}

fn trusting(ca: &Authority) -> TlsSettings {
    TlsSettings {
        cafile: Some(ca.pem.clone()),
        ..TlsSettings::default()
    }
}

#[tokio::test]
async fn a_client_verifies_s_server_exchanges_data_and_its_close_notify_is_eof() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "test-ca");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let s_server = SServer::start(&server.cert, &server.key, &[]);

    let mut stream = connect(&trusting(&ca), s_server.port).await.unwrap();
    assert_eq!(stream.peer().version, Some(ProtocolVersion::Tls13));
    let certificate = stream.peer().certificate.clone().unwrap();
    assert_eq!(certificate.subject, "/CN=localhost");
    assert_eq!(certificate.issuer, "/CN=test-ca");
    assert_eq!(
        certificate.fingerprint.to_string(),
        pki::fingerprint(&server.der)
    );

    stream.write_all(b"hello\n").await.unwrap();
    let mut reply = [0; 6];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"olleh\n");
    // Our EOF: close_notify, and the reading side stays open for the peer's answer, its own
    // close_notify, which is a clean EOF.
    stream.shutdown().await.unwrap();
    let mut rest = Vec::new();
    assert_eq!(stream.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn halves_relay_a_request_and_its_response_across_a_half_close() {
    let dir = tempfile::tempdir().unwrap();
    let server_settings = TlsSettings::default();
    let server = TlsServerConfig::new(&server_settings).unwrap();
    let pin = server.ephemeral_fingerprint().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serving = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut reader, mut writer) = server.accept(tcp).await.unwrap().split();
        let mut request = Vec::new();
        reader.read_to_end(&mut request).await.unwrap();
        writer.write_all(b"response to ").await.unwrap();
        writer.write_all(&request).await.unwrap();
        writer.shutdown().await.unwrap();
    });
    let client = TlsClientConfig::new(
        &TlsSettings {
            fingerprint: Some(pin),
            ..TlsSettings::default()
        },
        "127.0.0.1",
    )
    .unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut reader, mut writer) = client.connect(tcp).await.unwrap().split();
    writer.write_all(b"request").await.unwrap();
    writer.shutdown().await.unwrap();
    let mut response = Vec::new();
    reader.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"response to request");
    serving.await.unwrap();
    drop(dir);
}

#[tokio::test]
async fn an_unknown_ca_is_refused_naming_the_certificate_and_the_pin_that_would_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca-one");
    let other = Authority::new(dir.path(), "ca-two");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let error = connect(&trusting(&other), s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "certificate verify failed: unknown CA: the peer's certificate (subject \"/CN=localhost\", issuer \"/CN=ca-one\") is not signed by a trusted authority; trust it with cafile=, or pin it with fingerprint={}",
            pki::fingerprint(&server.der)
        )
    );
}

#[tokio::test]
async fn a_name_mismatch_names_the_expected_name_and_the_certificate_s() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let server = ca.issue(
        dir.path(),
        "server",
        &["localhost", "127.0.0.1"],
        Validity::Now,
    );
    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let settings = TlsSettings {
        common_name: Some("www.example.org".to_owned()),
        ..trusting(&ca)
    };
    let error = connect(&settings, s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "certificate verify failed: name mismatch: expected \"www.example.org\", the certificate is for \"localhost\", \"127.0.0.1\""
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused_with_their_dates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    for (validity, expected) in [
        (
            Validity::Expired,
            "certificate verify failed: the peer's certificate expired at 2002-01-01 00:00:00 UTC (it is now ",
        ),
        (
            Validity::NotYetValid,
            "certificate verify failed: the peer's certificate is not valid before 2098-01-01 00:00:00 UTC (it is now ",
        ),
    ] {
        let server = ca.issue(dir.path(), "server", &["localhost"], validity);
        let s_server = SServer::start(&server.cert, &server.key, &[]);
        let error = connect(&trusting(&ca), s_server.port).await.unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with(expected), "{text}");
        assert!(text.ends_with(" UTC)"), "{text}");
    }
}

#[tokio::test]
async fn a_pin_replaces_ca_verification_and_a_wrong_pin_prints_the_actual_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let server = pki::self_signed(dir.path(), "server", &["somewhere.else"]);
    let actual = pki::fingerprint(&server.der);

    // A pin alone: a self-signed certificate for another name is the one expected.
    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let pinned = TlsSettings {
        fingerprint: Some(actual.parse().unwrap()),
        ..TlsSettings::default()
    };
    let mut stream = connect(&pinned, s_server.port).await.unwrap();
    stream.write_all(b"pin\n").await.unwrap();
    let mut reply = [0; 4];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"nip\n");
    drop(stream);
    drop(s_server);

    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let wrong: Fingerprint = format!("sha256:{}", "00".repeat(32)).parse().unwrap();
    let settings = TlsSettings {
        fingerprint: Some(wrong),
        ..TlsSettings::default()
    };
    let error = connect(&settings, s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("certificate verify failed: fingerprint mismatch: the peer's certificate is {actual}, expected {wrong}")
    );
}

#[tokio::test]
async fn a_pin_on_top_of_a_cafile_needs_both_to_pass() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let other = Authority::new(dir.path(), "other");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let pin: Fingerprint = pki::fingerprint(&server.der).parse().unwrap();

    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let both = TlsSettings {
        fingerprint: Some(pin),
        ..trusting(&ca)
    };
    assert!(connect(&both, s_server.port).await.is_ok());
    drop(s_server);

    // The right pin does not make up for an authority that is not trusted.
    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let untrusted = TlsSettings {
        fingerprint: Some(pin),
        ..trusting(&other)
    };
    let error = connect(&untrusted, s_server.port).await.unwrap_err();
    assert!(matches!(error, TlsError::UnknownCa { .. }), "{error}");
}

#[tokio::test]
async fn a_server_that_requires_a_client_certificate_is_answered_with_cert_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let other = Authority::new(dir.path(), "other");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let good = ca.issue(dir.path(), "client", &["client.test"], Validity::Now);
    let bad = other.issue(dir.path(), "stranger", &["stranger.test"], Validity::Now);
    let require = [
        "-Verify",
        "1",
        "-verify_return_error",
        "-CAfile",
        ca.pem.to_str().unwrap(),
    ];

    // In TLS 1.3 the client learns that the server refused it at its first read.
    let (cert, key, required) = (&server.cert, &server.key, &require);
    let first_read_error = |settings: TlsSettings| async move {
        let s_server = SServer::start(cert, key, required);
        let mut stream = connect(&settings, s_server.port).await.unwrap();
        let _ = stream.write_all(b"x\n").await;
        stream.read(&mut [0; 16]).await.unwrap_err().to_string()
    };

    // Without a certificate.
    assert_eq!(
        first_read_error(trusting(&ca)).await,
        "the server requires a client certificate (give cert=)"
    );

    // A certificate the server does not trust.
    let settings = TlsSettings {
        cert: Some(bad.cert.clone()),
        key: Some(bad.key.clone()),
        ..trusting(&ca)
    };
    assert_eq!(
        first_read_error(settings).await,
        "the peer refused our certificate (alert: unknown CA)"
    );

    // The same in TLS 1.2, where the handshake itself fails.
    let s_server = SServer::start(&server.cert, &server.key, &require);
    let settings = TlsSettings {
        cert: Some(bad.cert.clone()),
        key: Some(bad.key.clone()),
        max_version: ProtocolVersion::Tls12,
        ..trusting(&ca)
    };
    let error = connect(&settings, s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the peer refused our certificate (alert: unknown CA)"
    );
    drop(s_server);

    // The right certificate, in a file with its key.
    let combined = dir.path().join("combined.pem");
    let mut pem = std::fs::read(&good.cert).unwrap();
    pem.extend(std::fs::read(&good.key).unwrap());
    std::fs::write(&combined, pem).unwrap();
    let s_server = SServer::start(&server.cert, &server.key, &require);
    let settings = TlsSettings {
        cert: Some(combined),
        ..trusting(&ca)
    };
    let mut stream = connect(&settings, s_server.port).await.unwrap();
    stream.write_all(b"ok\n").await.unwrap();
    let mut reply = [0; 3];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"ko\n");
}

/// [`s_client`] presenting `identity`'s certificate.
fn s_client_as(
    port: u16,
    identity: &pki::Identity,
    input: &[u8],
) -> std::thread::JoinHandle<Vec<u8>> {
    let cert = identity.cert.to_str().unwrap();
    let key = identity.key.to_str().unwrap();
    s_client(port, &["-cert", cert, "-key", key], input)
}

/// Runs `openssl s_client` against a server of ours, sending `input`; returns what it
/// printed.
fn s_client(port: u16, extra: &[&str], input: &[u8]) -> std::thread::JoinHandle<Vec<u8>> {
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run openssl s_client");
    let mut stdin = child.stdin.take().expect("s_client's stdin");
    stdin.write_all(input).expect("write to s_client");
    drop(stdin);
    std::thread::spawn(move || {
        child
            .wait_with_output()
            .map(|o| o.stdout)
            .unwrap_or_default()
    })
}

async fn serve_one(
    config: TlsServerConfig,
) -> (
    u16,
    tokio::task::JoinHandle<Result<socketry::tls::TlsStream<TcpStream>, TlsError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("the bound port").port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        config.accept(tcp).await
    });
    (port, task)
}

#[tokio::test]
async fn s_client_gets_our_server_s_data_and_sni_and_alpn_are_seen() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let config = TlsServerConfig::new(&TlsSettings {
        cert: Some(server.cert.clone()),
        key: Some(server.key.clone()),
        alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
        ..TlsSettings::default()
    })
    .unwrap();
    assert_eq!(config.ephemeral_fingerprint(), None);
    let (port, task) = serve_one(config).await;
    let client = s_client(
        port,
        &[
            "-servername",
            "localhost",
            "-alpn",
            "http/1.1",
            "-CAfile",
            ca.pem.to_str().unwrap(),
            "-verify_return_error",
        ],
        b"",
    );
    let mut stream = task.await.unwrap().unwrap();
    assert_eq!(stream.peer().sni.as_deref(), Some("localhost"));
    assert_eq!(stream.peer().alpn.as_deref(), Some("http/1.1"));
    assert_eq!(stream.peer().certificate, None);
    let env = stream.peer().environment();
    assert!(
        env.contains(&("SOCKETRY_TLS_VERSION".to_owned(), "TLS1.3".to_owned())),
        "{env:?}"
    );
    assert!(
        env.contains(&("SOCKETRY_TLS_SNI".to_owned(), "localhost".to_owned())),
        "{env:?}"
    );
    stream.write_all(b"served over TLS\n").await.unwrap();
    stream.shutdown().await.unwrap();
    drop(stream);
    assert_eq!(client.join().unwrap(), b"served over TLS\n");
}

#[tokio::test]
async fn a_server_with_a_cafile_refuses_clients_without_a_certificate_or_with_a_stranger_s() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let other = Authority::new(dir.path(), "other");
    let server = ca.issue(dir.path(), "server", &["localhost"], Validity::Now);
    let good = ca.issue(dir.path(), "client", &["client.test"], Validity::Now);
    let bad = other.issue(dir.path(), "stranger", &["stranger.test"], Validity::Now);
    let settings = TlsSettings {
        cert: Some(server.cert.clone()),
        key: Some(server.key.clone()),
        cafile: Some(ca.pem.clone()),
        ..TlsSettings::default()
    };

    let (port, task) = serve_one(TlsServerConfig::new(&settings).unwrap()).await;
    let client = s_client(port, &[], b"");
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "the client sent no certificate, and this server requires one (cafile=/capath=, or fingerprint=, with verify=1)"
    );
    client.join().unwrap();

    let (port, task) = serve_one(TlsServerConfig::new(&settings).unwrap()).await;
    let client = s_client_as(port, &bad, b"");
    let error = task.await.unwrap().unwrap_err();
    assert!(
        error.to_string().starts_with(
            "certificate verify failed: unknown CA: the peer's certificate (subject \"/CN=stranger.test\", issuer \"/CN=other\")"
        ),
        "{error}"
    );
    client.join().unwrap();

    // With commonname, a trusted client certificate must also carry that name.
    let named = TlsSettings {
        common_name: Some("client.test".to_owned()),
        ..settings.clone()
    };
    let (port, task) = serve_one(TlsServerConfig::new(&named).unwrap()).await;
    let client = s_client_as(port, &good, b"from a client\n");
    let mut stream = task.await.unwrap().unwrap();
    let subject = stream.peer().certificate.clone().unwrap().subject;
    assert_eq!(subject, "/CN=client.test");
    let mut got = [0; 14];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"from a client\n");
    drop(stream);
    client.join().unwrap();

    let misnamed = TlsSettings {
        common_name: Some("someone.else".to_owned()),
        ..settings
    };
    let (port, task) = serve_one(TlsServerConfig::new(&misnamed).unwrap()).await;
    let client = s_client_as(port, &good, b"");
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "certificate verify failed: name mismatch: expected \"someone.else\", the certificate is for \"client.test\""
    );
    client.join().unwrap();
}

#[tokio::test]
async fn plaintext_peers_are_told_apart_on_both_sides() {
    let config = TlsServerConfig::new(&TlsSettings::default()).unwrap();
    let (port, task) = serve_one(config).await;
    let mut plain = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    plain.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(
        error.to_string(),
        "the peer does not speak TLS (it sent plaintext, or another protocol)"
    );

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let _ = tcp.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n").await;
        let _ = tcp.read(&mut [0; 4096]).await;
    });
    let client = TlsClientConfig::new(&TlsSettings::default(), "localhost").unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let error = client.connect(tcp).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the peer does not speak TLS (it sent plaintext, or another protocol)"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn a_peer_that_closes_without_close_notify_is_a_possible_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let server = pki::self_signed(dir.path(), "server", &["localhost"]);
    let mut s_server = SServer::start(&server.cert, &server.key, &[]);
    let settings = TlsSettings {
        fingerprint: Some(pki::fingerprint(&server.der).parse().unwrap()),
        ..TlsSettings::default()
    };
    let mut stream = connect(&settings, s_server.port).await.unwrap();
    stream.write_all(b"ab\n").await.unwrap();
    let mut reply = [0; 3];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"ba\n");
    // Killed, s_server's socket is closed by the kernel: a FIN with no close_notify.
    s_server.child.kill().unwrap();
    s_server.child.wait().unwrap();
    let error = stream.read(&mut [0; 16]).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(
        error.to_string(),
        "the peer closed the connection without TLS close_notify: the data may be truncated"
    );
}

#[tokio::test]
async fn versions_and_cipher_suites_are_honoured_and_a_version_gap_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let server = pki::self_signed(dir.path(), "server", &["localhost"]);
    let pin: Fingerprint = pki::fingerprint(&server.der).parse().unwrap();

    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let settings = TlsSettings {
        fingerprint: Some(pin),
        min_version: ProtocolVersion::Tls12,
        max_version: ProtocolVersion::Tls12,
        ciphers: Some(CipherList::from_str_checked(
            "ECDHE-ECDSA-AES128-GCM-SHA256",
        )),
        ..TlsSettings::default()
    };
    let stream = connect(&settings, s_server.port).await.unwrap();
    assert_eq!(stream.peer().version, Some(ProtocolVersion::Tls12));
    assert_eq!(
        stream.peer().cipher.as_deref(),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    drop(stream);
    drop(s_server);

    let s_server = SServer::start(&server.cert, &server.key, &["-tls1_3"]);
    let settings = TlsSettings {
        fingerprint: Some(pin),
        max_version: ProtocolVersion::Tls12,
        ..TlsSettings::default()
    };
    let error = connect(&settings, s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the peer ended the TLS handshake: protocol version (no protocol version in common: see min-proto-version and max-proto-version)"
    );

    let reversed = TlsSettings {
        min_version: ProtocolVersion::Tls13,
        max_version: ProtocolVersion::Tls12,
        ..TlsSettings::default()
    };
    assert_eq!(
        TlsServerConfig::new(&reversed).unwrap_err().to_string(),
        "min-proto-version=TLS1.3 is above max-proto-version=TLS1.2 (expected min <= max)"
    );
}

trait Checked {
    fn from_str_checked(text: &str) -> Self;
}

impl Checked for CipherList {
    fn from_str_checked(text: &str) -> Self {
        text.parse().expect("a cipher list")
    }
}

#[test]
fn files_that_cannot_be_used_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new(dir.path(), "ca");
    let one = ca.issue(dir.path(), "one", &["localhost"], Validity::Now);
    let two = ca.issue(dir.path(), "two", &["localhost"], Validity::Now);
    let server = |cert: &Path, key: Option<&Path>| {
        TlsServerConfig::new(&TlsSettings {
            cert: Some(cert.to_owned()),
            key: key.map(Path::to_owned),
            ..TlsSettings::default()
        })
        .unwrap_err()
        .to_string()
    };

    assert_eq!(
        server(&one.cert, Some(&two.key)),
        format!(
            "the private key in {} does not match the certificate in {}",
            two.key.display(),
            one.cert.display()
        )
    );

    let missing = dir.path().join("missing.pem");
    assert_eq!(
        server(&missing, Some(&one.key)),
        format!(
            "cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n",
    )
    .unwrap();
    assert_eq!(
        server(&garbage, Some(&one.key)),
        format!(
            "{} is not a valid PEM file: a section has no \"-----END CERTIFICATE-----\" line",
            garbage.display()
        )
    );

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    assert_eq!(
        server(&empty, Some(&one.key)),
        format!(
            "{} holds no PEM certificate (expected a \"-----BEGIN CERTIFICATE-----\" section)",
            empty.display()
        )
    );

    // cert without key, in a file that holds no key.
    assert_eq!(
        server(&one.cert, None),
        format!(
            "{} holds no PEM private key (give the key in it, or in a file named by key=)",
            one.cert.display()
        )
    );

    let client = TlsClientConfig::new(
        &TlsSettings {
            cafile: Some(empty.clone()),
            ..TlsSettings::default()
        },
        "localhost",
    )
    .unwrap_err();
    assert_eq!(
        client.to_string(),
        format!(
            "{} holds no PEM certificate (expected a \"-----BEGIN CERTIFICATE-----\" section)",
            empty.display()
        )
    );
}

#[test]
fn a_capath_directory_of_authorities_is_read_and_an_empty_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let authorities = dir.path().join("authorities");
    std::fs::create_dir(&authorities).unwrap();
    let error = TlsClientConfig::new(
        &TlsSettings {
            capath: Some(authorities.clone()),
            ..TlsSettings::default()
        },
        "localhost",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} holds no PEM certificate (expected a \"-----BEGIN CERTIFICATE-----\" section)",
            authorities.display()
        )
    );
    Authority::new(&authorities, "ca");
    std::fs::write(authorities.join("README"), "not a certificate\n").unwrap();
    assert!(TlsClientConfig::new(
        &TlsSettings {
            capath: Some(authorities),
            ..TlsSettings::default()
        },
        "localhost",
    )
    .is_ok());
}

fn identity(id: &pki::Identity) -> TlsSettings {
    TlsSettings {
        cert: Some(id.cert.clone()),
        key: Some(id.key.clone()),
        ..TlsSettings::default()
    }
}

/// One handshake between a server and a client of ours, with a line each way; the server's
/// side (or its error) and the client's error.
async fn handshake(
    server: &TlsSettings,
    client: &TlsSettings,
) -> (
    Result<socketry::tls::PeerInfo, TlsError>,
    Result<(), TlsError>,
) {
    let (port, task) = serve_one(TlsServerConfig::new(server).unwrap()).await;
    let client = async {
        let config = TlsClientConfig::new(client, "localhost")?;
        let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let mut stream = config.connect(tcp).await?;
        stream.write_all(b"ping\n").await.map_err(TlsError::Io)?;
        let mut reply = [0; 5];
        stream.read_exact(&mut reply).await.map_err(TlsError::Io)?;
        assert_eq!(&reply, b"pong\n");
        Ok(())
    };
    let server = async {
        let mut stream = task.await.unwrap()?;
        let mut line = [0; 5];
        stream.read_exact(&mut line).await.map_err(TlsError::Io)?;
        assert_eq!(&line, b"ping\n");
        stream.write_all(b"pong\n").await.map_err(TlsError::Io)?;
        stream.shutdown().await.map_err(TlsError::Io)?;
        Ok(stream.peer().clone())
    };
    tokio::join!(server, client)
}

#[tokio::test]
async fn a_v1_certificate_given_as_the_cafile_is_trusted_in_tls12_and_tls13_for_rsa_and_ecdsa() {
    let dir = tempfile::tempdir().unwrap();
    for (key, file) in [(pki::Key::Rsa, "rsa"), (pki::Key::EcdsaP256, "ecdsa")] {
        let server = pki::v1(dir.path(), file, "localhost", key, None);
        for version in [ProtocolVersion::Tls12, ProtocolVersion::Tls13] {
            let client = TlsSettings {
                cafile: Some(server.cert.clone()),
                min_version: version,
                max_version: version,
                ..TlsSettings::default()
            };
            let (served, connected) = handshake(&identity(&server), &client).await;
            connected.unwrap();
            assert_eq!(served.unwrap().version, Some(version));
        }
    }
}

#[tokio::test]
async fn s_server_with_a_v1_certificate_signed_by_the_cafile_is_trusted_and_its_common_name_checked(
) {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::v1(dir.path(), "ca", "v1 test CA", pki::Key::Rsa, None);
    let server = pki::v1(dir.path(), "server", "localhost", pki::Key::Rsa, Some(&ca));
    let trusting_ca = TlsSettings {
        cafile: Some(ca.cert.clone()),
        ..TlsSettings::default()
    };
    for version in [ProtocolVersion::Tls12, ProtocolVersion::Tls13] {
        let s_server = SServer::start(&server.cert, &server.key, &[]);
        let settings = TlsSettings {
            max_version: version,
            ..trusting_ca.clone()
        };
        let mut stream = connect(&settings, s_server.port).await.unwrap();
        assert_eq!(
            stream.peer().certificate.as_ref().unwrap().subject,
            "/CN=localhost/O=socketry tests"
        );
        stream.write_all(b"v1\n").await.unwrap();
        let mut reply = [0; 3];
        stream.read_exact(&mut reply).await.unwrap();
        assert_eq!(&reply, b"1v\n");
    }

    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let settings = TlsSettings {
        common_name: Some("other.test".to_owned()),
        ..trusting_ca
    };
    let error = connect(&settings, s_server.port).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "certificate verify failed: name mismatch: expected \"other.test\", the certificate is for \"localhost\""
    );
}

#[tokio::test]
async fn a_v1_certificate_neither_in_the_trust_store_nor_signed_by_it_is_an_unknown_ca() {
    let dir = tempfile::tempdir().unwrap();
    let server = pki::v1(dir.path(), "server", "localhost", pki::Key::Rsa, None);
    let stranger = pki::v1(dir.path(), "stranger", "localhost", pki::Key::Rsa, None);
    let client = TlsSettings {
        cafile: Some(stranger.cert.clone()),
        ..TlsSettings::default()
    };
    let (_, connected) = handshake(&identity(&server), &client).await;
    assert_eq!(
        connected.unwrap_err().to_string(),
        format!(
            "certificate verify failed: unknown CA: the peer's certificate (self-signed, subject \"/CN=localhost/O=socketry tests\") is not signed by a trusted authority; trust it with cafile=, or pin it with fingerprint={}",
            pki::fingerprint(&server.der)
        )
    );
    // Without a cafile, the system's trust store, which holds no such certificate either.
    let s_server = SServer::start(&server.cert, &server.key, &[]);
    let error = connect(&TlsSettings::default(), s_server.port)
        .await
        .unwrap_err();
    assert!(matches!(error, TlsError::UnknownCa { .. }), "{error}");
}

#[tokio::test]
async fn a_server_with_a_cafile_verifies_v1_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let server = pki::v1(dir.path(), "server", "localhost", pki::Key::Rsa, None);
    let client = pki::v1(
        dir.path(),
        "client",
        "client.test",
        pki::Key::EcdsaP256,
        None,
    );
    let stranger = pki::v1(dir.path(), "stranger", "client.test", pki::Key::Rsa, None);
    let requiring = TlsSettings {
        cafile: Some(client.cert.clone()),
        ..identity(&server)
    };
    let presenting = |id: &pki::Identity| TlsSettings {
        cafile: Some(server.cert.clone()),
        ..identity(id)
    };
    for version in [ProtocolVersion::Tls12, ProtocolVersion::Tls13] {
        let settings = TlsSettings {
            max_version: version,
            ..presenting(&client)
        };
        let (served, connected) = handshake(&requiring, &settings).await;
        connected.unwrap();
        let peer = served.unwrap();
        assert_eq!(
            peer.certificate.unwrap().common_name.as_deref(),
            Some("client.test")
        );
    }

    // commonname on the server checks the client's common name.
    let named = |name: &str| TlsSettings {
        common_name: Some(name.to_owned()),
        ..requiring.clone()
    };
    let (served, _) = handshake(&named("client.test"), &presenting(&client)).await;
    served.unwrap();
    let (served, _) = handshake(&named("someone.else"), &presenting(&client)).await;
    assert_eq!(
        served.unwrap_err().to_string(),
        "certificate verify failed: name mismatch: expected \"someone.else\", the certificate is for \"client.test\""
    );

    let (served, _) = handshake(&requiring, &presenting(&stranger)).await;
    assert!(
        matches!(served, Err(TlsError::UnknownCa { .. })),
        "{served:?}"
    );
}

#[test]
fn a_v1_certificate_with_the_wrong_key_is_a_key_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let one = pki::v1(dir.path(), "one", "localhost", pki::Key::Rsa, None);
    let two = pki::v1(dir.path(), "two", "localhost", pki::Key::Rsa, None);
    let settings = TlsSettings {
        key: Some(two.key.clone()),
        ..identity(&one)
    };
    assert_eq!(
        TlsServerConfig::new(&settings).unwrap_err().to_string(),
        format!(
            "the private key in {} does not match the certificate in {}",
            two.key.display(),
            one.cert.display()
        )
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_gives_a_silent_client_ten_seconds_unless_told_otherwise() {
    let server = |timeout| {
        TlsServerConfig::new(&TlsSettings {
            handshake_timeout: timeout,
            ..TlsSettings::default()
        })
        .unwrap()
    };
    let (_client, io) = tokio::io::duplex(1024);
    let error = server(None).accept(io).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the TLS handshake did not finish within 10s (handshake-timeout=)"
    );
    assert_eq!(
        socketry::tls::DEFAULT_SERVER_HANDSHAKE_TIMEOUT.as_secs(),
        10
    );
    let (_client, io) = tokio::io::duplex(1024);
    let error = server(Some(std::time::Duration::from_millis(1500)))
        .accept(io)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the TLS handshake did not finish within 1.5s (handshake-timeout=)"
    );
    // Zero is no limit: only the test's own hour runs out.
    let (_client, io) = tokio::io::duplex(1024);
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(3600),
        server(Some(std::time::Duration::ZERO)).accept(io),
    )
    .await;
    assert!(waited.is_err());
}
