//! The TLS part's own clients, which speak TLS straight to the server under test: full
//! handshakes (a shared client configuration, session resumption off, so that every
//! connection is a full handshake whichever server it meets), and one bulk stream into a
//! counting sink behind the server. Nothing else stands between the load and the server, so
//! what is measured is the server, and the clients' own cost (one ECDHE and one signature
//! check per handshake, one encryption per byte) is the same for every subject.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use crate::load::REQUEST;

/// A client that trusts exactly the benchmark's certificate, and never resumes a session.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl Client {
    /// A client of servers that serve the first certificate of `pem`.
    pub fn new(pem: &Path) -> anyhow::Result<Client> {
        let certificate = CertificateDer::pem_file_iter(pem)
            .with_context(|| format!("reading {}", pem.display()))?
            .next()
            .with_context(|| format!("no certificate in {}", pem.display()))?
            .with_context(|| format!("reading the certificate of {}", pem.display()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                certificate,
                provider,
            }))
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        Ok(Client {
            config: Arc::new(config),
            name: ServerName::try_from("localhost")?,
        })
    }

    async fn connect(
        &self,
        port: u16,
    ) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let connector = TlsConnector::from(self.config.clone());
        Ok(connector.connect(self.name.clone(), tcp).await?)
    }
}

/// Trusts the one certificate it was given, after checking the handshake's signature with
/// its key as any client does.
#[derive(Debug)]
struct Pinned {
    certificate: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.certificate.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::CertificateError::UnknownIssuer.into())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// How many short TLS connections (a full handshake, one request, its echo from the backend
/// behind the server, close_notify) `concurrency` clients complete against `port` in
/// `duration`, and how many failed.
pub fn handshakes(
    client: &Client,
    port: u16,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(u64, u64)> {
    let client = client.clone();
    crate::load::repeat(concurrency, duration, move || {
        let client = client.clone();
        async move {
            let mut stream = client.connect(port).await?;
            stream.write_all(REQUEST).await?;
            let mut reply = [0; REQUEST.len()];
            stream.read_exact(&mut reply).await?;
            anyhow::ensure!(&reply == REQUEST, "the reply differs from the request");
            stream.shutdown().await?;
            Ok(())
        }
    })
}

/// A listener on 127.0.0.1 that reads and counts what its one connection sends, for the
/// server under test to relay into.
#[derive(Debug)]
pub struct Sink {
    listener: std::net::TcpListener,
}

impl Sink {
    pub fn bind() -> anyhow::Result<Sink> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the sink")?;
        listener.set_nonblocking(true)?;
        Ok(Sink { listener })
    }

    pub fn port(&self) -> anyhow::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }
}

/// One TLS stream sending 64 KiB writes to `port` for `duration`, relayed by the server into
/// `sink`: the bytes the sink received per second, once the server has relayed the end.
pub fn throughput(
    client: &Client,
    port: u16,
    sink: Sink,
    duration: Duration,
) -> anyhow::Result<(f64, f64)> {
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::from_std(sink.listener)?;
        let started = tokio::time::Instant::now();
        let counting = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await?;
            let mut buf = vec![0; 256 * 1024];
            let mut total = 0u64;
            loop {
                match stream.read(&mut buf).await? {
                    0 => break,
                    n => total += n as u64,
                }
            }
            anyhow::Ok(total)
        });
        let mut stream = client.connect(port).await?;
        let block = vec![0x5a; 64 * 1024];
        while started.elapsed() < duration {
            stream.write_all(&block).await?;
        }
        stream.shutdown().await?;
        let received = tokio::time::timeout(Duration::from_secs(10), counting)
            .await
            .context("the sink saw no end within 10 s of the last write")???;
        let seconds = started.elapsed().as_secs_f64();
        Ok((received as f64 * 8.0 / seconds, received as f64))
    })
}
