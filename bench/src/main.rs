//! socketry-bench: socketry's relay side by side with socat (and with no relay at all), on
//! loopback, in one run with the rounds of every measure interleaved:
//!
//! 1. throughput of iperf3 through a `TCP-LISTEN,fork` to `TCP` relay, and through a pair of
//!    relays that meet on a Unix socket (`TCP-LISTEN` to `UNIX-CONNECT`, `UNIX-LISTEN` to `TCP`);
//! 2. CPU seconds the relays spend per GB relayed, in the same runs;
//! 3. round-trip latency of a TCP ping-pong (64 bytes) through a relay, p50 and p99: one flow
//!    (sockperf), and 64 concurrent flows (socketry-bench's own load, against its echo backend);
//! 4. short connections per second (connect, one 32-byte request and its echo, close) through
//!    a forking relay, from 32 concurrent clients;
//! 5. the relay's memory (PSS, summed over socat's forked children) holding 1,000 and 9,000
//!    idle relayed connections;
//! 6. UDP datagrams per second delivered by iperf3 (`-u -b 0 -l 1400`) through a
//!    `UDP-LISTEN,fork` to `UDP` relay, and the share lost;
//! 7. TLS termination (`--only tls`): socketry's and socat's `OPENSSL-LISTEN,fork` to `TCP`,
//!    and stunnel4, each serving the same certificate: throughput of one TLS stream through
//!    it into a counting sink, with the server's CPU per GB, and full handshakes per second
//!    (32 concurrent clients, each connection a handshake, a 32-byte request and its echo),
//!    with an ECDSA P-256 certificate and with an RSA 2048 one. The clients are the
//!    harness's own (`tls.rs`), speaking TLS straight to the server, with session
//!    resumption off.
//!
//! Beside socat and no relay, a reference relay (bench/reference/splice-relay.c: each
//! direction spliced in a blocking thread of its own through a 1 MiB pipe) is the ceiling for
//! TCP throughput, latency and connection rate.
//!
//! `bench/run` installs the peers, builds socketry and the reference relay, raises the
//! descriptor limit and runs `socketry-bench run`; `socketry-bench backend PORT` is the echo
//! server it starts.

mod load;
mod procs;
mod report;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use procs::Group;
use report::{Measure, Target, DIRECT, REFERENCE, SOCAT, SOCAT_BIG, SOCKETRY, STUNNEL};

/// Concurrent ping-pong flows for the second latency figure.
const FLOWS: usize = 64;

/// A relay under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relay {
    Socketry,
    Socat,
    /// socat with a 128 KiB buffer instead of its default 8 KiB.
    SocatBig,
    /// bench/reference/splice-relay.c: TCP to TCP on 127.0.0.1 only.
    Reference,
}

impl Relay {
    fn subject(self) -> &'static str {
        match self {
            Relay::Socketry => SOCKETRY,
            Relay::Socat => SOCAT,
            Relay::SocatBig => SOCAT_BIG,
            Relay::Reference => REFERENCE,
        }
    }

    /// A listening address for this relay. socat gets socketry's default backlog (its own is
    /// 5, which would drop connections under load and measure the backlog, not the relay).
    fn listen(self, address: String) -> String {
        match self {
            Relay::Socketry | Relay::Reference => format!("{address},fork"),
            Relay::Socat | Relay::SocatBig => format!("{address},fork,reuseaddr,backlog=1024"),
        }
    }

    /// A `TCP-LISTEN` relay on 127.0.0.1:`port` to 127.0.0.1:`backend`, listening once this
    /// returns.
    fn spawn_tcp(self, bench: &Bench, port: u16, backend: u16) -> anyhow::Result<Group> {
        let group = match self {
            Relay::Reference => Group::spawn(
                self.subject(),
                &bench.reference,
                &[port.to_string(), backend.to_string()],
                &[],
            )?,
            _ => self.spawn(
                bench,
                format!("TCP-LISTEN:{port},bind=127.0.0.1"),
                format!("TCP:127.0.0.1:{backend}"),
            )?,
        };
        procs::wait_for_listener(port)?;
        Ok(group)
    }

    /// A relay from any address socketry and socat both speak (the reference relay speaks
    /// only TCP: see [`Relay::spawn_tcp`]).
    fn spawn(self, bench: &Bench, first: String, second: String) -> anyhow::Result<Group> {
        let first = match (self, first.starts_with("UDP")) {
            // Datagrams have no backlog, and socketry's UDP-LISTEN has no reuseaddr to give.
            (Relay::Socat | Relay::SocatBig, true) => format!("{first},fork,reuseaddr"),
            (_, true) => format!("{first},fork"),
            (_, false) => self.listen(first),
        };
        match self {
            Relay::Reference => bail!("the reference relay relays TCP to TCP only"),
            Relay::Socketry => Group::spawn(self.subject(), &bench.socketry, &[first, second], &[]),
            Relay::Socat => Group::spawn(self.subject(), "socat", &[first, second], &[]),
            Relay::SocatBig => Group::spawn(
                self.subject(),
                "socat",
                &["-b131072".to_owned(), first, second],
                &[],
            ),
        }
    }
}

/// The parts of the benchmark, each a few measures, that `--only` chooses among.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Throughput,
    Latency,
    Flows,
    ConnRate,
    Udp,
    Memory,
    Tls,
}

impl Part {
    const ALL: [(Part, &'static str); 7] = [
        (Part::Throughput, "throughput"),
        (Part::Latency, "latency"),
        (Part::Flows, "flows"),
        (Part::ConnRate, "connrate"),
        (Part::Udp, "udp"),
        (Part::Memory, "memory"),
        (Part::Tls, "tls"),
    ];
}

/// Which parts run: all of them, or those `--only a,b` names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Only(Vec<Part>);

impl Only {
    fn all() -> Only {
        Only(Part::ALL.iter().map(|(part, _)| *part).collect())
    }

    fn parse(text: &str) -> anyhow::Result<Only> {
        let names = || {
            Part::ALL
                .iter()
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let parts = text
            .split(',')
            .map(|name| {
                Part::ALL
                    .iter()
                    .find(|(_, known)| *known == name.trim())
                    .map(|(part, _)| *part)
                    .with_context(|| {
                        format!(
                            "--only: unknown part {name:?} (expected some of {})",
                            names()
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Only(parts))
    }

    fn includes(&self, part: Part) -> bool {
        self.0.contains(&part)
    }

    /// The rounds `part` runs: all of them, or none when it is left out.
    fn rounds(&self, part: Part, rounds: usize) -> usize {
        if self.includes(part) {
            rounds
        } else {
            0
        }
    }
}

struct Bench {
    socketry: String,
    reference: String,
    rounds: usize,
    seconds: u64,
    /// Idle connections for the largest memory figure.
    most_idle: usize,
    dir: PathBuf,
    iperf_port: u16,
    sockperf_port: u16,
    echo_port: u16,
}

/// The relays for one throughput figure: one relay, or a pair that meets on a Unix socket.
fn relays_for_throughput(
    bench: &Bench,
    relay: Relay,
    pair: bool,
    round: usize,
) -> anyhow::Result<(Vec<Group>, u16)> {
    let port = procs::free_port()?;
    if !pair {
        return Ok((vec![relay.spawn_tcp(bench, port, bench.iperf_port)?], port));
    }
    let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1");
    let backend = format!("TCP:127.0.0.1:{}", bench.iperf_port);
    let path = bench
        .dir
        .join(format!("{}-{round}.sock", relay.subject().replace(' ', "")));
    let _ = std::fs::remove_file(&path);
    let inner = relay.spawn(bench, format!("UNIX-LISTEN:{}", path.display()), backend)?;
    procs::wait_for_path(&path)?;
    let outer = relay.spawn(bench, listen, format!("UNIX-CONNECT:{}", path.display()))?;
    procs::wait_for_listener(port)?;
    Ok((vec![outer, inner], port))
}

/// Finds `"key": number` after `section` in iperf3's JSON.
fn json_field(text: &str, section: &str, key: &str) -> Option<f64> {
    let rest = &text[text.find(section)?..];
    let rest = &rest[rest.find(&format!("\"{key}\":"))? + key.len() + 3..];
    let end = rest.find([',', '}', '\n'])?;
    rest[..end].trim().parse().ok()
}

/// A TLS server under test: it terminates TLS and relays to a TCP backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsServer {
    Socketry,
    Socat,
    Stunnel,
}

impl TlsServer {
    const ALL: [TlsServer; 3] = [TlsServer::Socketry, TlsServer::Socat, TlsServer::Stunnel];

    fn subject(self) -> &'static str {
        match self {
            TlsServer::Socketry => SOCKETRY,
            TlsServer::Socat => SOCAT,
            TlsServer::Stunnel => STUNNEL,
        }
    }

    /// The server on a free port of 127.0.0.1, serving `certificate` and relaying to
    /// 127.0.0.1:`backend`; returns it and its port once it listens.
    fn spawn(
        self,
        bench: &Bench,
        certificate: Certificate,
        backend: u16,
    ) -> anyhow::Result<(Group, u16)> {
        let port = procs::free_port()?;
        let pem = certificate.path(&bench.dir);
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,fork,verify=0,cert={}",
            pem.display()
        );
        let to = format!("TCP:127.0.0.1:{backend}");
        let server = match self {
            TlsServer::Socketry => Group::spawn(SOCKETRY, &bench.socketry, &[listen, to], &[])?,
            TlsServer::Socat => Group::spawn(
                SOCAT,
                "socat",
                &[format!("{listen},reuseaddr,backlog=1024"), to],
                &[],
            )?,
            TlsServer::Stunnel => {
                let config = bench.dir.join(format!("stunnel-{port}.conf"));
                std::fs::write(
                    &config,
                    format!(
                        "foreground = yes\npid =\n[bench]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{backend}\ncert = {}\n",
                        pem.display()
                    ),
                )?;
                Group::spawn(STUNNEL, "stunnel4", &[config.display().to_string()], &[])?
            }
        };
        procs::wait_for_listener(port)?;
        Ok((server, port))
    }
}

/// The certificates the TLS servers serve, each self-signed, key and certificate in one PEM
/// file: ECDSA P-256, what a deployment uses today, and RSA 2048, whose signature costs a
/// server about a millisecond per handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Certificate {
    EcdsaP256,
    Rsa2048,
}

impl Certificate {
    fn path(self, dir: &std::path::Path) -> PathBuf {
        dir.join(match self {
            Certificate::EcdsaP256 => "tls-ecdsa.pem",
            Certificate::Rsa2048 => "tls-rsa.pem",
        })
    }

    fn make(self, dir: &std::path::Path) -> anyhow::Result<()> {
        let key = dir.join("tls.key");
        let cert = dir.join("tls.crt");
        let algorithm: &[&str] = match self {
            Certificate::EcdsaP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Certificate::Rsa2048 => &["-newkey", "rsa:2048"],
        };
        let status = std::process::Command::new("openssl")
            .args(["req", "-x509"])
            .args(algorithm)
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status()
            .context("running openssl req")?;
        if !status.success() {
            bail!("openssl req could not make the {self:?} certificate");
        }
        let mut pem = std::fs::read(&key)?;
        pem.extend(std::fs::read(&cert)?);
        std::fs::write(self.path(dir), pem)?;
        Ok(())
    }
}

/// One iperf3 TCP run to `port`: bits per second and bytes received.
fn iperf3_tcp(bench: &Bench, port: u16) -> anyhow::Result<(f64, f64)> {
    let args: Vec<String> = [
        "-c",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-t",
        &bench.seconds.to_string(),
        "-J",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let report = procs::output("iperf3", &args)?;
    let bits = json_field(&report, "\"sum_received\"", "bits_per_second")
        .context("no sum_received.bits_per_second in iperf3's report")?;
    let bytes = json_field(&report, "\"sum_received\"", "bytes")
        .context("no sum_received.bytes in iperf3's report")?;
    Ok((bits, bytes))
}

/// Throughput of one TLS stream through a server into a sink (Gbit/s), and the server's CPU
/// seconds per GB.
fn tls_throughput(bench: &Bench, server: TlsServer) -> anyhow::Result<(f64, f64)> {
    let certificate = Certificate::EcdsaP256;
    let client = tls::Client::new(&certificate.path(&bench.dir))?;
    let sink = tls::Sink::bind()?;
    let (group, port) = server.spawn(bench, certificate, sink.port()?)?;
    let before = group.cpu_seconds();
    let (bits, bytes) = tls::throughput(&client, port, sink, Duration::from_secs(bench.seconds))?;
    group.settle(Duration::from_secs(5));
    let after = group.cpu_seconds();
    Ok((bits / 1e9, (after - before) / (bytes / 1e9)))
}

/// Full TLS handshakes per second through a server serving `certificate`, from 32
/// concurrent clients, each connection a 32-byte request echoed by the backend; and the
/// server's CPU milliseconds per handshake.
fn tls_handshakes(
    bench: &Bench,
    server: TlsServer,
    certificate: Certificate,
) -> anyhow::Result<(f64, f64)> {
    let client = tls::Client::new(&certificate.path(&bench.dir))?;
    let (group, port) = server.spawn(bench, certificate, bench.echo_port)?;
    let seconds = Duration::from_secs(bench.seconds);
    let before = group.cpu_seconds();
    let (done, failed) = tls::handshakes(&client, port, 32, seconds)?;
    group.settle(Duration::from_secs(5));
    let after = group.cpu_seconds();
    if failed * 100 > done {
        eprintln!(
            "  warning: {failed} of {} connections failed",
            done + failed
        );
    }
    let per_handshake = (after - before) * 1e3 / (done.max(1) as f64);
    Ok((done as f64 / seconds.as_secs_f64(), per_handshake))
}

/// One iperf3 run: Gbit/s received, and the relays' CPU seconds per GB.
fn throughput(
    bench: &Bench,
    relay: Option<Relay>,
    pair: bool,
    round: usize,
) -> anyhow::Result<(f64, Option<f64>)> {
    let (groups, port) = match relay {
        Some(relay) => relays_for_throughput(bench, relay, pair, round)?,
        None => (Vec::new(), bench.iperf_port),
    };
    let cpu = |groups: &[Group]| groups.iter().map(Group::cpu_seconds).sum::<f64>();
    let before = cpu(&groups);
    let (bits, bytes) = iperf3_tcp(bench, port)?;
    for group in &groups {
        group.settle(Duration::from_secs(5));
    }
    let after = cpu(&groups);
    let per_gb = relay.map(|_| (after - before) / (bytes / 1e9));
    Ok((bits / 1e9, per_gb))
}

/// One sockperf ping-pong run: p50 and p99 round trip in microseconds.
fn latency(bench: &Bench, relay: Option<Relay>) -> anyhow::Result<(f64, f64)> {
    let (_group, port) = match relay {
        Some(relay) => {
            let port = procs::free_port()?;
            (
                Some(relay.spawn_tcp(bench, port, bench.sockperf_port)?),
                port,
            )
        }
        None => (None, bench.sockperf_port),
    };
    let out = std::process::Command::new("sockperf")
        .args([
            "ping-pong",
            "--tcp",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-m", "64", "-t", &bench.seconds.to_string(), "--full-rtt"])
        .output()
        .context("running sockperf")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let percentile = |which: &str| -> anyhow::Result<f64> {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("percentile {which} =")))
            .with_context(|| format!("no percentile {which} in sockperf's output:\n{text}"))?;
        let value = line.rsplit('=').next().unwrap_or_default().trim();
        Ok(value.parse()?)
    };
    Ok((percentile("50.000")?, percentile("99.000")?))
}

/// One connection-rate run: completed short connections per second.
fn rate(bench: &Bench, relay: Option<Relay>) -> anyhow::Result<f64> {
    let (_group, port) = match relay {
        Some(relay) => {
            let port = procs::free_port()?;
            (Some(relay.spawn_tcp(bench, port, bench.echo_port)?), port)
        }
        None => (None, bench.echo_port),
    };
    let seconds = Duration::from_secs(bench.seconds);
    let (done, failed) = load::connection_rate(port, 32, seconds)?;
    if failed * 100 > done {
        eprintln!(
            "  warning: {failed} of {} connections failed",
            done + failed
        );
    }
    // Let TIME_WAIT sockets and socat's children from this run go before the next.
    std::thread::sleep(Duration::from_millis(500));
    Ok(done as f64 / seconds.as_secs_f64())
}

/// [`FLOWS`] concurrent ping-pongs through a relay to the echo backend: p50 and p99 round trip
/// in microseconds.
fn latency_under_load(bench: &Bench, relay: Option<Relay>) -> anyhow::Result<(f64, f64)> {
    let (_group, port) = match relay {
        Some(relay) => {
            let port = procs::free_port()?;
            (Some(relay.spawn_tcp(bench, port, bench.echo_port)?), port)
        }
        None => (None, bench.echo_port),
    };
    let (mut samples, failed) =
        load::ping_pong_flows(port, FLOWS, Duration::from_secs(bench.seconds))?;
    if failed > 0 {
        bail!("{failed} of {FLOWS} ping-pong flows failed");
    }
    let p50 = load::percentile(&mut samples, 0.50).context("no round trips measured")?;
    let p99 = load::percentile(&mut samples, 0.99).context("no round trips measured")?;
    Ok((p50, p99))
}

/// One iperf3 UDP run (`-u -b 0 -l 1400`) through a `UDP-LISTEN,fork` relay (its control
/// connection through a TCP relay of the same kind on the same port number): datagrams
/// delivered per second, and the percentage lost.
fn udp(bench: &Bench, relay: Option<Relay>) -> anyhow::Result<(f64, f64)> {
    let (_groups, port) = match relay {
        Some(relay) => {
            let port = procs::free_tcp_and_udp_port()?;
            let control = relay.spawn_tcp(bench, port, bench.iperf_port)?;
            let data = relay.spawn(
                bench,
                format!("UDP-LISTEN:{port},bind=127.0.0.1"),
                format!("UDP:127.0.0.1:{}", bench.iperf_port),
            )?;
            procs::wait_for_udp(port)?;
            (vec![control, data], port)
        }
        None => (Vec::new(), bench.iperf_port),
    };
    let args: Vec<String> = [
        "-c",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-u",
        "-b",
        "0",
        "-l",
        "1400",
        "-t",
        &bench.seconds.to_string(),
        "-J",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let report = procs::output("iperf3", &args)?;
    let field = |key: &str| {
        json_field(&report, "\"sum_received\"", key)
            .with_context(|| format!("no sum_received.{key} in iperf3's report"))
    };
    let (packets, lost, seconds) = (field("packets")?, field("lost_packets")?, field("seconds")?);
    anyhow::ensure!(seconds > 0.0, "iperf3 reports a run of {seconds} s");
    let lost_share = if packets > 0.0 {
        lost / packets * 100.0
    } else {
        0.0
    };
    Ok(((packets - lost).max(0.0) / seconds, lost_share))
}

/// The relay's PSS holding `count` idle relayed connections: total KiB, and KiB per
/// connection over the relay at rest.
fn memory(bench: &Bench, relay: Relay, count: usize) -> anyhow::Result<(f64, f64)> {
    let port = procs::free_port()?;
    let group = relay.spawn(
        bench,
        format!("TCP-LISTEN:{port},bind=127.0.0.1"),
        format!("TCP:127.0.0.1:{}", bench.echo_port),
    )?;
    procs::wait_for_listener(port)?;
    let at_rest = group.pss_kib();
    let held = load::hold(port, count)?;
    std::thread::sleep(Duration::from_secs(1));
    let total = group.pss_kib();
    let processes = group.members().len();
    eprintln!(
        "  {}: {count} idle connections, {processes} process(es), PSS {at_rest} KiB at rest, {total} KiB holding them",
        group.name()
    );
    drop(held);
    drop(group);
    std::thread::sleep(Duration::from_millis(500));
    Ok((
        total as f64,
        (total.saturating_sub(at_rest)) as f64 / count as f64,
    ))
}

fn machine() -> Vec<(String, String)> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or("unknown".to_owned(), |kib| {
            format!("{} GiB", kib / (1024 * 1024))
        });
    let version = |package: &str| {
        procs::output(
            "dpkg-query",
            &[
                "-W".to_owned(),
                "-f=${Version}".to_owned(),
                package.to_owned(),
            ],
        )
        .unwrap_or_else(|_| "unknown".to_owned())
    };
    vec![
        ("cpu".to_owned(), model),
        ("cores".to_owned(), cores.to_string()),
        ("memory".to_owned(), memory),
        (
            "kernel".to_owned(),
            read("/proc/sys/kernel/osrelease").trim().to_owned(),
        ),
        (
            "load average at start".to_owned(),
            read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("socat".to_owned(), version("socat")),
        ("iperf3".to_owned(), version("iperf3")),
        ("sockperf".to_owned(), version("sockperf")),
        ("stunnel4".to_owned(), version("stunnel4")),
    ]
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let mut socketry = "target/profiling/socketry".to_owned();
    let mut reference = "target/profiling/splice-relay".to_owned();
    let mut json_path = PathBuf::from("bench/results/last.json");
    let mut rounds = 5;
    let mut seconds = 3;
    let mut most_idle = 9000;
    let mut only = Only::all();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--socketry" => socketry = value()?.clone(),
            "--reference" => reference = value()?.clone(),
            "--json" => json_path = PathBuf::from(value()?),
            "--rounds" => rounds = value()?.parse()?,
            "--seconds" => seconds = value()?.parse()?,
            "--idle" => most_idle = value()?.parse()?,
            "--only" => only = Only::parse(value()?)?,
            other => bail!("unknown argument {other:?} (expected --socketry, --reference, --json, --rounds, --seconds, --idle or --only)"),
        }
    }
    let socketry = std::fs::canonicalize(&socketry)
        .with_context(|| format!("no socketry binary at {socketry}"))?
        .display()
        .to_string();
    let reference = std::fs::canonicalize(&reference)
        .with_context(|| format!("no reference relay at {reference} (bench/run builds it)"))?
        .display()
        .to_string();
    let dir = std::env::temp_dir().join(format!("socketry-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let machine = machine();
    let me = std::env::current_exe()?.display().to_string();

    let iperf_port = procs::free_port()?;
    let _iperf = Group::spawn(
        "iperf3 server",
        "iperf3",
        &[
            "-s".into(),
            "-B".into(),
            "127.0.0.1".into(),
            "-p".into(),
            iperf_port.to_string(),
        ],
        &[],
    )?;
    let sockperf_port = procs::free_port()?;
    let _sockperf = Group::spawn(
        "sockperf server",
        "sockperf",
        &[
            "server".into(),
            "--tcp".into(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            sockperf_port.to_string(),
        ],
        &[],
    )?;
    let echo_port = procs::free_port()?;
    let _echo = Group::spawn_until(
        "echo backend",
        &me,
        &["backend".into(), echo_port.to_string()],
        "ready",
    )?;
    procs::wait_for_listener(iperf_port)?;
    procs::wait_for_listener(sockperf_port)?;
    let bench = Bench {
        socketry,
        reference,
        rounds,
        seconds,
        most_idle,
        dir: dir.clone(),
        iperf_port,
        sockperf_port,
        echo_port,
    };

    let mut tcp = Measure::new(
        "throughput, TCP relay",
        "Gbit/s",
        Target::AtLeast {
            socat: None,
            reference: Some(0.95),
            direct: None,
        },
    );
    // The reference relay speaks TCP only: the pair has no ceiling to be held to.
    let mut unix = Measure::new(
        "throughput, TCP-UNIX-TCP relay pair",
        "Gbit/s",
        Target::None,
    );
    let mut tcp_cpu = Measure::new(
        "CPU per GB, TCP relay",
        "s/GB",
        Target::AtMost { socat: 0.5 },
    );
    let mut unix_cpu = Measure::new(
        "CPU per GB, relay pair",
        "s/GB",
        Target::AtMost { socat: 0.5 },
    );
    let relays = [Relay::Socketry, Relay::Socat, Relay::SocatBig];
    let with_reference = [
        Relay::Socketry,
        Relay::Socat,
        Relay::SocatBig,
        Relay::Reference,
    ];
    for round in 0..only.rounds(Part::Throughput, bench.rounds) {
        eprintln!("throughput, round {}/{}", round + 1, bench.rounds);
        for pair in [false, true] {
            let (gbps, _) = throughput(&bench, None, pair, round)?;
            let (figure, cpu) = if pair {
                (&mut unix, &mut unix_cpu)
            } else {
                (&mut tcp, &mut tcp_cpu)
            };
            figure.add(DIRECT, gbps);
            for relay in if pair {
                &relays[..]
            } else {
                &with_reference[..]
            } {
                let relay = *relay;
                let (gbps, per_gb) = throughput(&bench, Some(relay), pair, round)?;
                eprintln!(
                    "  {}{}: {gbps:.2} Gbit/s, {:.3} CPU s/GB",
                    relay.subject(),
                    if pair { " (pair)" } else { "" },
                    per_gb.unwrap_or(f64::NAN)
                );
                figure.add(relay.subject(), gbps);
                if let Some(per_gb) = per_gb {
                    cpu.add(relay.subject(), per_gb);
                }
            }
        }
    }

    let mut p50 = Measure::new("latency p50 (round trip)", "µs", Target::None);
    let mut p99 = Measure::new("latency p99 (round trip)", "µs", Target::None);
    for round in 0..only.rounds(Part::Latency, bench.rounds) {
        eprintln!("latency, round {}/{}", round + 1, bench.rounds);
        let (a, b) = latency(&bench, None)?;
        p50.add(DIRECT, a);
        p99.add(DIRECT, b);
        for relay in with_reference {
            let (a, b) = latency(&bench, Some(relay))?;
            eprintln!("  {}: p50 {a:.1} µs, p99 {b:.1} µs", relay.subject());
            p50.add(relay.subject(), a);
            p99.add(relay.subject(), b);
        }
    }
    let mut p50_flows = Measure::new(
        &format!("latency p50 (round trip), {FLOWS} flows"),
        "µs",
        Target::None,
    );
    let mut p99_flows = Measure::new(
        &format!("latency p99 (round trip), {FLOWS} flows"),
        "µs",
        Target::None,
    );
    for round in 0..only.rounds(Part::Flows, bench.rounds) {
        eprintln!(
            "latency at {FLOWS} flows, round {}/{}",
            round + 1,
            bench.rounds
        );
        let (a, b) = latency_under_load(&bench, None)?;
        p50_flows.add(DIRECT, a);
        p99_flows.add(DIRECT, b);
        for relay in with_reference {
            let (a, b) = latency_under_load(&bench, Some(relay))?;
            eprintln!("  {}: p50 {a:.1} µs, p99 {b:.1} µs", relay.subject());
            p50_flows.add(relay.subject(), a);
            p99_flows.add(relay.subject(), b);
        }
    }
    let added = |m: &Measure, name: &str, target: Target| {
        let mut added = Measure::new(name, "µs", target);
        if let Some(direct) = m.value(DIRECT) {
            for relay in with_reference {
                if let Some(v) = m.value(relay.subject()) {
                    added.add(relay.subject(), v - direct);
                }
            }
        }
        added
    };
    let p50_target = Target::AtMost { socat: 0.85 };
    let p99_target = Target::AtMost { socat: 1.0 };
    let added_p50 = added(&p50, "latency added by the relay, p50, 1 flow", p50_target);
    let added_p99 = added(&p99, "latency added by the relay, p99, 1 flow", p99_target);
    let added_p50_flows = added(
        &p50_flows,
        &format!("latency added by the relay, p50, {FLOWS} flows"),
        p50_target,
    );
    let added_p99_flows = added(
        &p99_flows,
        &format!("latency added by the relay, p99, {FLOWS} flows"),
        p99_target,
    );

    let mut conns = Measure::new(
        "connection rate through a fork relay",
        "conn/s",
        Target::AtLeast {
            socat: Some(5.0),
            reference: None,
            direct: None,
        },
    );
    for round in 0..only.rounds(Part::ConnRate, bench.rounds) {
        eprintln!("connection rate, round {}/{}", round + 1, bench.rounds);
        conns.add(DIRECT, rate(&bench, None)?);
        for relay in [Relay::Socketry, Relay::Socat, Relay::Reference] {
            let per_second = rate(&bench, Some(relay))?;
            eprintln!("  {}: {per_second:.0} connections/s", relay.subject());
            conns.add(relay.subject(), per_second);
        }
    }

    let mut udp_rate = Measure::new(
        "UDP relay, datagrams delivered (1400 bytes)",
        "datagrams/s",
        Target::AtLeast {
            socat: Some(2.0),
            reference: None,
            direct: Some(0.6),
        },
    );
    let mut udp_loss = Measure::new("UDP relay, datagrams lost", "%", Target::None);
    for round in 0..only.rounds(Part::Udp, bench.rounds) {
        eprintln!("UDP, round {}/{}", round + 1, bench.rounds);
        let (delivered, lost) = udp(&bench, None)?;
        udp_rate.add(DIRECT, delivered);
        udp_loss.add(DIRECT, lost);
        for relay in [Relay::Socketry, Relay::Socat] {
            let (delivered, lost) = udp(&bench, Some(relay))?;
            eprintln!(
                "  {}: {delivered:.0} datagrams/s delivered, {lost:.1}% lost",
                relay.subject()
            );
            udp_rate.add(relay.subject(), delivered);
            udp_loss.add(relay.subject(), lost);
        }
    }

    let mut tls_rate = Measure::new(
        "throughput, TLS server to TCP",
        "Gbit/s",
        Target::AtLeast {
            socat: Some(1.5),
            reference: None,
            direct: None,
        },
    );
    let mut tls_cpu = Measure::new("CPU per GB, TLS server", "s/GB", Target::None);
    let mut tls_handshake_rate = Measure::new(
        "TLS handshakes through a fork server, ECDSA P-256",
        "handshakes/s",
        Target::AtLeast {
            socat: Some(3.0),
            reference: None,
            direct: None,
        },
    );
    let mut tls_handshake_cpu =
        Measure::new("CPU per TLS handshake, ECDSA P-256", "ms", Target::None);
    let mut tls_handshake_rate_rsa = Measure::new(
        "TLS handshakes through a fork server, RSA 2048",
        "handshakes/s",
        Target::None,
    );
    let mut tls_handshake_cpu_rsa =
        Measure::new("CPU per TLS handshake, RSA 2048", "ms", Target::None);
    if only.includes(Part::Tls) {
        Certificate::EcdsaP256.make(&bench.dir)?;
        Certificate::Rsa2048.make(&bench.dir)?;
    }
    for round in 0..only.rounds(Part::Tls, bench.rounds) {
        eprintln!("TLS, round {}/{}", round + 1, bench.rounds);
        for server in TlsServer::ALL {
            let (gbps, per_gb) = tls_throughput(&bench, server)?;
            let (handshakes, per_handshake) =
                tls_handshakes(&bench, server, Certificate::EcdsaP256)?;
            let (handshakes_rsa, per_handshake_rsa) =
                tls_handshakes(&bench, server, Certificate::Rsa2048)?;
            eprintln!(
                "  {}: {gbps:.2} Gbit/s, {per_gb:.3} CPU s/GB; handshakes/s {handshakes:.0} ECDSA ({per_handshake:.2} CPU ms each), {handshakes_rsa:.0} RSA ({per_handshake_rsa:.2} ms)",
                server.subject()
            );
            tls_rate.add(server.subject(), gbps);
            tls_cpu.add(server.subject(), per_gb);
            tls_handshake_rate.add(server.subject(), handshakes);
            tls_handshake_cpu.add(server.subject(), per_handshake);
            tls_handshake_rate_rsa.add(server.subject(), handshakes_rsa);
            tls_handshake_cpu_rsa.add(server.subject(), per_handshake_rsa);
        }
    }
    for measure in [
        &mut tls_rate,
        &mut tls_cpu,
        &mut tls_handshake_rate,
        &mut tls_handshake_cpu,
        &mut tls_handshake_rate_rsa,
        &mut tls_handshake_cpu_rsa,
    ] {
        if let Some(ratio) = measure.ratio(STUNNEL) {
            measure.note = Some(format!(
                "socketry / stunnel4: {ratio:.2}x; the harness's own TLS clients (session resumption off) on the same two cores are in every figure"
            ));
        }
    }

    let mut per_1000 = Measure::new(
        "PSS per idle relayed connection, 1,000 held",
        "KiB",
        Target::AtMost { socat: 0.25 },
    );
    let mut per_most = Measure::new(
        &format!("PSS per idle relayed connection, {} held", bench.most_idle),
        "KiB",
        Target::AtMost { socat: 0.25 },
    );
    let mut total_most = Measure::new(
        &format!("PSS holding {} idle connections", bench.most_idle),
        "MiB",
        Target::None,
    );
    if only.includes(Part::Memory) {
        eprintln!("memory");
        let (_, socketry_1000) = memory(&bench, Relay::Socketry, 1000)?;
        per_1000.add(SOCKETRY, socketry_1000);
        let (socat_total_1000, socat_1000) = memory(&bench, Relay::Socat, 1000)?;
        per_1000.add(SOCAT, socat_1000);
        let (socketry_total, socketry_most) = memory(&bench, Relay::Socketry, bench.most_idle)?;
        per_most.add(SOCKETRY, socketry_most);
        total_most.add(SOCKETRY, socketry_total / 1024.0);
        // socat at 9,000 would be 9,000 processes: its figure is extrapolated from 1,000.
        per_most.add(SOCAT, socat_1000);
        total_most.add(
            SOCAT,
            (socat_total_1000 + socat_1000 * (bench.most_idle as f64 - 1000.0)) / 1024.0,
        );
        let extrapolated = format!(
            "socat's figure is extrapolated from 1,000 connections (one process each), not measured at {}",
            bench.most_idle
        );
        per_most.note = Some(extrapolated.clone());
        total_most.note = Some(extrapolated);
    }

    let measures = vec![
        tcp,
        unix,
        tcp_cpu,
        unix_cpu,
        p50,
        p99,
        added_p50,
        added_p99,
        p50_flows,
        p99_flows,
        added_p50_flows,
        added_p99_flows,
        conns,
        udp_rate,
        udp_loss,
        per_1000,
        per_most,
        total_most,
        tls_rate,
        tls_cpu,
        tls_handshake_rate,
        tls_handshake_cpu,
        tls_handshake_rate_rsa,
        tls_handshake_cpu_rsa,
    ];
    // Measures of parts left out by --only have no samples, and no row.
    let measures: Vec<Measure> = measures
        .into_iter()
        .filter(|m| !m.samples.is_empty())
        .collect();
    let mut description = String::new();
    for (key, value) in &machine {
        description.push_str(&format!("- {key}: {value}\n"));
    }
    let settings = [
        ("rounds", bench.rounds.to_string()),
        ("seconds per run", bench.seconds.to_string()),
        ("connection-rate clients", "32".to_owned()),
        ("latency flows", format!("1 (sockperf) and {FLOWS}")),
        ("UDP", "iperf3 -u -b 0 -l 1400".to_owned()),
    ];
    println!("{description}- rounds: {rounds} x {seconds} s per run, interleaved; medians shown\n");
    println!("{}", report::table(&measures));
    if let Some(parent) = json_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&json_path, report::json(&machine, &settings, &measures))
        .with_context(|| format!("writing {}", json_path.display()))?;
    eprintln!("results written to {}", json_path.display());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `connrate PORT SECONDS`: the connection-rate load alone, against a relay (to the echo
/// backend) started by hand, for profiling one relay: prints how many connections completed
/// and how many failed.
fn connrate(args: &[String]) -> anyhow::Result<()> {
    let [port, seconds] = args else {
        bail!("connrate needs a port and a number of seconds");
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("connrate: {port:?} is not a port number"))?;
    let seconds: u64 = seconds
        .parse()
        .with_context(|| format!("connrate: {seconds:?} is not a number of seconds"))?;
    let (done, failed) = load::connection_rate(port, 32, Duration::from_secs(seconds))?;
    println!("{done} connections, {failed} failed");
    Ok(())
}

/// `handshakes PORT CERT SECONDS`: the TLS handshake load alone against a server already
/// running, for profiling it (`perf record -p`).
fn handshakes_alone(args: &[String]) -> anyhow::Result<()> {
    let [port, pem, seconds] = args else {
        bail!("handshakes needs a port, the server's certificate (PEM) and a number of seconds");
    };
    let port: u16 = port
        .parse()
        .with_context(|| format!("\"{port}\" is not a port number"))?;
    let seconds: u64 = seconds
        .parse()
        .with_context(|| format!("\"{seconds}\" is not a number of seconds"))?;
    let client = tls::Client::new(std::path::Path::new(pem))?;
    let (done, failed) = tls::handshakes(&client, port, 32, Duration::from_secs(seconds))?;
    println!(
        "{done} handshakes in {seconds} s ({:.0}/s), {failed} failed",
        done as f64 / seconds as f64
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("backend") => match args.get(1).map(|p| p.parse::<u16>()) {
            Some(Ok(port)) => load::backend(port),
            _ => Err(anyhow::anyhow!("backend needs a port number")),
        },
        Some("connrate") => connrate(&args[1..]),
        Some("handshakes") => handshakes_alone(&args[1..]),
        _ => Err(anyhow::anyhow!(
            "usage: socketry-bench run [--socketry PATH] [--reference PATH] [--json PATH] [--rounds N] [--seconds S] [--idle N] [--only PARTS]\n       socketry-bench backend PORT\n       socketry-bench connrate PORT SECONDS\n       socketry-bench handshakes PORT CERT.pem SECONDS"
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("socketry-bench: {e:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_parts_and_refuses_others() {
        let only = Only::parse("udp,connrate").unwrap();
        assert!(only.includes(Part::Udp) && only.includes(Part::ConnRate));
        assert!(!only.includes(Part::Throughput));
        assert_eq!(only.rounds(Part::Memory, 3), 0);
        let error = Only::parse("udp,speed").unwrap_err().to_string();
        assert_eq!(
            error,
            "--only: unknown part \"speed\" (expected some of throughput, latency, flows, connrate, udp, memory, tls)"
        );
    }

    #[test]
    fn reads_iperf3_figures() {
        let report = r#"{"end": {"sum_sent": {"bytes": 1, "bits_per_second": 2},
            "sum_received": {"start": 0, "bytes": 3000000000, "bits_per_second": 8.5e9, "sender": true}}}"#;
        assert_eq!(json_field(report, "\"sum_received\"", "bytes"), Some(3e9));
        assert_eq!(
            json_field(report, "\"sum_received\"", "bits_per_second"),
            Some(8.5e9)
        );
        assert_eq!(json_field(report, "\"sum_received\"", "missing"), None);
    }

    #[test]
    fn listen_addresses_fork_and_give_socat_a_real_backlog() {
        assert_eq!(
            Relay::Socketry.listen("TCP-LISTEN:1".into()),
            "TCP-LISTEN:1,fork"
        );
        assert_eq!(
            Relay::Socat.listen("TCP-LISTEN:1".into()),
            "TCP-LISTEN:1,fork,reuseaddr,backlog=1024"
        );
    }
}
