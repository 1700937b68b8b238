//! Ready-made servers on any listening address: echo (RFC 862), discard (RFC 863), a chat
//! broker, a program per connection (inetd style), and the tutorial server that logs each
//! message and acknowledges it. [`serve`] admits peers by [`AccessList`] and a connection
//! cap, ends idle connections, and shuts down gracefully: told to drain (see [`Phase`]), it
//! stops accepting at once (closing the listener, which removes a Unix socket's file), lets
//! open connections finish for up to the grace time, then closes whatever is left.

pub mod access;
pub mod chat;
pub mod proxy;
mod traffic;

use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

pub use access::{AccessList, Refusal};
pub use chat::Broker;
pub use traffic::Traffic;

use crate::endpoint::{self, Accepted, Connection, Listener, OpenContext, OpenError};
use crate::registry::{Address, Spec};
use crate::relay::{self, Linger, RelayConfig};

/// The default time open connections get to finish once a server is told to stop.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// What a server does with each connection.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Write back what is read (RFC 862).
    Echo,
    /// Read and throw away (RFC 863).
    Discard,
    /// Pass what each client sends to every other client, each with an outgoing queue of
    /// at most `queue_bytes`.
    Chat {
        /// How many bytes may wait for one client before it counts as not reading.
        queue_bytes: usize,
    },
    /// Run this program (an EXEC, SYSTEM or SHELL address) for each connection, relaying
    /// between the two; it sees the peer in its environment.
    Exec(Spec),
    /// Log each message (a line of a byte stream, or one datagram) with its peer, and answer
    /// `ack N bytes`.
    Print,
    /// A SOCKS4/4a/5 and HTTP proxy ([`proxy`]); `Config::access` then applies to the
    /// client once its request is read, so that a refused client is answered in its protocol.
    Proxy(Arc<proxy::Settings>),
}

/// How a server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// What each connection gets.
    pub mode: Mode,
    /// At most this many connections at once; one more is closed as soon as it is accepted.
    pub max_conns: Option<usize>,
    /// Close a connection after this long with no data either way.
    pub idle_timeout: Option<Duration>,
    /// Which internet peers are admitted (`--allow`, `--deny`).
    pub access: AccessList,
    /// How long open connections may go on once the server is told to drain.
    pub grace: Duration,
    /// How `Mode::Exec` programs open.
    pub open: OpenContext,
    /// Buffer size for the echo and exec relays.
    pub buffer_size: usize,
    /// Where the server keeps its live counters.
    pub registry: Arc<Registry>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Echo,
            max_conns: None,
            idle_timeout: None,
            access: AccessList::default(),
            grace: DEFAULT_GRACE,
            open: OpenContext::default(),
            buffer_size: relay::DEFAULT_BUFFER_SIZE,
            registry: Arc::default(),
        }
    }
}

/// Where a server is in its life; the caller moves it forward (on signals, typically).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Serving,
    /// Stop accepting; open connections have the grace time to finish.
    Draining,
    /// Close every connection now.
    Closing,
}

/// What a server did, when it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Connections served to their end.
    pub served: u64,
    /// Connections closed at once: refused by the access lists or over the cap.
    pub refused: u64,
    /// Connections still open when the grace time ran out (or a second signal came), and
    /// closed then.
    pub cut: u64,
    /// Bytes to and from every peer, all connections together.
    pub traffic: Traffic,
}

impl Report {
    /// Whether every connection ended by itself.
    pub fn drained_cleanly(&self) -> bool {
        self.cut == 0
    }
}

/// One connection being served, as [`Registry::snapshot`] shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenConnection {
    /// What the connection is: `TCP 127.0.0.1:8080 <- 127.0.0.1:40000`.
    pub connection: String,
    /// Who the peer is: its address, or a Unix peer's credentials.
    pub peer: String,
    /// Bytes moved so far.
    pub traffic: Traffic,
    /// How long it has been open.
    pub duration: Duration,
}

/// What a server has done so far, and what it is doing: for statistics on demand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The totals so far, as the final report will count them.
    pub report: Report,
    /// The connections open now, oldest first.
    pub open: Vec<OpenConnection>,
}

struct Entry {
    connection: String,
    peer: String,
    started: Instant,
    totals: Arc<relay::Totals>,
    /// Echo counts what it reads; every byte is also written back.
    echo: bool,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("connection", &self.connection)
            .finish()
    }
}

/// The live counters of a server, shared with whoever wants statistics while it runs.
#[derive(Debug, Default)]
pub struct Registry {
    open: std::sync::Mutex<std::collections::BTreeMap<u64, Entry>>,
    report: std::sync::Mutex<Report>,
    next: AtomicU64,
}

impl Registry {
    fn lock_open(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, Entry>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_report(&self) -> std::sync::MutexGuard<'_, Report> {
        self.report
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The totals so far and every connection open now, in the order they came.
    pub fn snapshot(&self) -> Snapshot {
        let open = self
            .lock_open()
            .values()
            .map(|entry| {
                let stats = entry.totals.stats();
                OpenConnection {
                    connection: entry.connection.clone(),
                    peer: entry.peer.clone(),
                    traffic: Traffic {
                        bytes_in: stats.left_to_right,
                        bytes_out: if entry.echo {
                            stats.left_to_right
                        } else {
                            stats.right_to_left
                        },
                    },
                    duration: entry.started.elapsed(),
                }
            })
            .collect();
        Snapshot {
            report: *self.lock_report(),
            open,
        }
    }
}

/// Why a server stopped before it was told to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Accepting failed in a way that waiting does not mend (a shortage of descriptors is
    /// waited out, not reported).
    #[error("{listener}: {source}")]
    Accept {
        /// What the listener listens on.
        listener: String,
        /// Why accepting failed.
        source: OpenError,
    },
}

/// Who the peer is, for logs: its socket address, a Unix peer's credentials, or what the
/// connection is.
fn peer_text(connection: &Connection) -> String {
    match (connection.addresses, connection.peer_credentials) {
        (Some(addresses), _) => addresses.peer.to_string(),
        (None, Some(credentials)) => credentials.to_string(),
        (None, None) => connection.description.clone(),
    }
}

/// The peer's internet address, if the connection has one.
fn peer_ip(connection: &Connection) -> Option<IpAddr> {
    connection.addresses.map(|a| a.peer.ip())
}

/// Serves `listener` in `config.mode` until accepting fails or `phase` says to stop.
pub async fn serve(
    mut listener: Listener,
    config: Config,
    mut phase: watch::Receiver<Phase>,
) -> Result<Report, ServeError> {
    let description = listener.description().to_owned();
    let config = Arc::new(config);
    let broker = match config.mode {
        Mode::Chat { queue_bytes } => Some(Arc::new(Broker::new(queue_bytes))),
        _ => None,
    };
    let slots = config.max_conns.map(|n| Arc::new(Semaphore::new(n)));
    // Accepting runs on its own, so that stopping it (and closing the listener) is one abort,
    // and no accept in progress is ever cancelled half way by the loop below.
    let (accepted, mut incoming) = mpsc::channel(1);
    let accepting = tokio::spawn(async move {
        loop {
            let result = listener.accept_pending().await;
            let failed = result.is_err();
            if accepted.send(result).await.is_err() || failed {
                return;
            }
        }
    });
    let mut tasks: JoinSet<Traffic> = JoinSet::new();
    let mut report = Report::default();
    let mut failure = None;
    loop {
        tokio::select! {
            result = incoming.recv() => match result {
                Some(Ok(connection)) => {
                    admit(connection, &config, &slots, &broker, &mut tasks, &mut report);
                }
                // No peer within accept-timeout: nothing is wrong, just stop accepting.
                Some(Err(e @ OpenError::NoPeer { .. })) => {
                    tracing::warn!("{e}");
                    break;
                }
                Some(Err(source)) => {
                    failure = Some(ServeError::Accept { listener: description.clone(), source });
                    break;
                }
                None => break,
            },
            Some(done) = tasks.join_next(), if !tasks.is_empty() => record(done, &mut report, &config.registry),
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow() != Phase::Serving {
                    break;
                }
            }
        }
    }
    accepting.abort();
    // Once the task is gone, so is the listener (and a Unix socket's file).
    let _ = accepting.await;
    drop(incoming);
    if let Some(failure) = failure {
        tasks.shutdown().await;
        return Err(failure);
    }
    if !tasks.is_empty() {
        tracing::info!(
            "no longer accepting on {description}; waiting up to {}s for {} open connection(s)",
            config.grace.as_secs_f64(),
            tasks.len()
        );
    }
    let deadline = Instant::now() + config.grace;
    let mut phase_open = true;
    while !tasks.is_empty() {
        if *phase.borrow() == Phase::Closing {
            tracing::warn!("closing {} open connection(s) now", tasks.len());
            break;
        }
        tokio::select! {
            Some(done) = tasks.join_next() => record(done, &mut report, &config.registry),
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(
                    "closing {} connection(s) still open after the {}s grace time",
                    tasks.len(),
                    config.grace.as_secs_f64()
                );
                break;
            }
            changed = phase.changed(), if phase_open => {
                phase_open = changed.is_ok();
            }
        }
    }
    report.cut += tasks.len() as u64;
    tasks.shutdown().await;
    config.registry.lock_open().clear();
    *config.registry.lock_report() = report;
    Ok(report)
}

fn record(done: Result<Traffic, tokio::task::JoinError>, report: &mut Report, registry: &Registry) {
    report.served += 1;
    if let Ok(traffic) = done {
        report.traffic.bytes_in += traffic.bytes_in;
        report.traffic.bytes_out += traffic.bytes_out;
    }
    *registry.lock_report() = *report;
}

/// Checks a new connection against the access lists and the cap, and serves it if admitted.
fn admit(
    accepted: Accepted,
    config: &Arc<Config>,
    slots: &Option<Arc<Semaphore>>,
    broker: &Option<Arc<Broker>>,
    tasks: &mut JoinSet<Traffic>,
    report: &mut Report,
) {
    let description = accepted.connection().description.clone();
    let peer = peer_text(accepted.connection());
    let refuse = |why: &str, report: &mut Report| {
        tracing::warn!(
            event = "connection_refused",
            connection = description.as_str(),
            peer = peer.as_str(),
            reason = why,
            "refusing connection {description}: {why}"
        );
        report.refused += 1;
        *config.registry.lock_report() = *report;
    };
    // A proxy checks its clients itself, to refuse them in their own protocol; a peer named
    // by a PROXY protocol header is checked once the header is read.
    let proxy = matches!(config.mode, Mode::Proxy(_));
    let check_later = accepted.peer_from_layers();
    if let Some(why) = config
        .access
        .refusal(peer_ip(accepted.connection()))
        .filter(|_| !proxy && !check_later)
    {
        refuse(&why.to_string(), report);
        return;
    }
    let permit = match slots {
        Some(slots) => match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                let why = format!(
                    "{} connection(s) already open (--max-conns)",
                    config.max_conns.unwrap_or_default()
                );
                refuse(&why, report);
                return;
            }
        },
        None => None,
    };
    let config = config.clone();
    let broker = broker.clone();
    let totals = Arc::new(relay::Totals::default());
    let id = config.registry.next.fetch_add(1, Ordering::Relaxed);
    config.registry.lock_open().insert(
        id,
        Entry {
            connection: description.clone(),
            peer: peer.clone(),
            started: Instant::now(),
            totals: totals.clone(),
            echo: matches!(config.mode, Mode::Echo),
        },
    );
    // The handshake's future is on the heap only while it runs.
    let ready = Box::pin(accepted.ready());
    tasks.spawn(async move {
        let _permit = permit;
        let started = Instant::now();
        tracing::info!(
            event = "connection_opened",
            connection = description.as_str(),
            peer = peer.as_str(),
            "connection {description} opened"
        );
        // A peer that fails its handshake (TLS) is logged, and the server serves on.
        let connection = match ready.await {
            Ok(connection) => connection,
            Err(e) => {
                config.registry.lock_open().remove(&id);
                tracing::warn!(
                    event = "connection_closed",
                    connection = description.as_str(),
                    peer = peer.as_str(),
                    "{e}"
                );
                return Traffic::default();
            }
        };
        if check_later && !proxy {
            if let Some(why) = config.access.refusal(peer_ip(&connection)) {
                config.registry.lock_open().remove(&id);
                let peer = peer_text(&connection);
                tracing::warn!(
                    event = "connection_refused",
                    connection = description.as_str(),
                    peer = peer.as_str(),
                    reason = %why,
                    "refusing connection {description} from {peer}: {why}"
                );
                return Traffic::default();
            }
        }
        let (traffic, outcome) = handle(connection, &config, broker.as_deref(), totals).await;
        config.registry.lock_open().remove(&id);
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(()) => tracing::info!(
                event = "connection_closed",
                connection = description.as_str(),
                peer = peer.as_str(),
                bytes_in = traffic.bytes_in,
                bytes_out = traffic.bytes_out,
                duration_s = seconds,
                "connection {description} done: {} bytes in, {} bytes out, {seconds:.3}s",
                traffic.bytes_in,
                traffic.bytes_out
            ),
            Err(e) => tracing::warn!(
                event = "connection_closed",
                connection = description.as_str(),
                peer = peer.as_str(),
                bytes_in = traffic.bytes_in,
                bytes_out = traffic.bytes_out,
                duration_s = seconds,
                error = %e,
                error_kind = e.kind(),
                "connection {description} failed after {} bytes in, {} bytes out, {seconds:.3}s: {e}",
                traffic.bytes_in,
                traffic.bytes_out
            ),
        }
        traffic
    });
}

/// Why one connection ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// Relaying between the peer and its program failed.
    #[error(transparent)]
    Relay(#[from] relay::RelayError),
    /// Reading from or writing to the peer failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The program for this connection (`--exec`) could not be started.
    #[error("{address}: {source}")]
    Open {
        /// The program's address, as `--exec` gave it.
        address: String,
        /// Why it did not open.
        source: OpenError,
    },
    /// A chat client that stopped reading: its queue filled, and it took nothing for a while.
    #[error("dropped: it stopped reading and its queue filled")]
    Dropped,
    /// Nothing moved either way for `--idle-timeout` (the duration).
    #[error("closed after {}s idle (--idle-timeout)", .0.as_secs_f64())]
    Idle(Duration),
    /// The connection's program exited with a failure.
    #[error("{program} {exit}")]
    Program {
        /// The program, as its process is described.
        program: String,
        /// How it exited.
        exit: endpoint::exec::Exit,
    },
    /// A proxy request that was refused or failed, or its tunnel.
    #[error(transparent)]
    Proxy(#[from] proxy::ProxyError),
}

/// Serves one connection the caller accepted itself, in `config.mode`; a chat needs the
/// other clients of [`serve`], so alone it ends at once.
pub async fn serve_connection(
    connection: Connection,
    config: &Config,
) -> (Traffic, Result<(), ConnectionError>) {
    handle(connection, config, None, Arc::default()).await
}

impl ConnectionError {
    /// What kind of failure this is, for programs reading the logs: `idle`, `dropped`,
    /// `open`, `program`, `no_direction`, or the OS error's kind (`ConnectionReset`, ...).
    pub fn kind(&self) -> String {
        let os = |e: &io::Error| format!("{:?}", e.kind());
        match self {
            ConnectionError::Relay(relay::RelayError::Read { source, .. })
            | ConnectionError::Relay(relay::RelayError::Write { source, .. }) => os(source),
            ConnectionError::Relay(_) => "no_direction".to_owned(),
            ConnectionError::Io(e) => os(e),
            ConnectionError::Open { .. } => "open".to_owned(),
            ConnectionError::Dropped => "dropped".to_owned(),
            ConnectionError::Idle(_) => "idle".to_owned(),
            ConnectionError::Program { .. } => "program".to_owned(),
            ConnectionError::Proxy(e) => e.kind(),
        }
    }
}

async fn handle(
    connection: Connection,
    config: &Config,
    broker: Option<&Broker>,
    totals: Arc<relay::Totals>,
) -> (Traffic, Result<(), ConnectionError>) {
    let relay_config = RelayConfig {
        buffer_size: config.buffer_size,
        inactivity: config.idle_timeout,
        totals: totals.clone(),
        ..RelayConfig::default()
    };
    let idle_error = || ConnectionError::Idle(config.idle_timeout.unwrap_or_default());
    match &config.mode {
        Mode::Echo => match relay::echo(connection, &relay_config).await {
            Ok((stats, ending)) => {
                let traffic = Traffic {
                    bytes_in: stats.left_to_right,
                    bytes_out: stats.right_to_left,
                };
                let result = match ending {
                    relay::Ending::Inactive => Err(idle_error()),
                    _ => Ok(()),
                };
                (traffic, result)
            }
            Err(e) => (Traffic::default(), Err(e.into())),
        },
        Mode::Discard => discard(connection, config.idle_timeout, &totals).await,
        Mode::Print => print(connection, config.idle_timeout, &totals).await,
        Mode::Chat { .. } => {
            let Some(broker) = broker else {
                return (Traffic::default(), Ok(()));
            };
            let (traffic, departure) = broker.serve(connection, config.idle_timeout, &totals).await;
            let result = match departure {
                chat::Departure::Left => Ok(()),
                chat::Departure::Dropped => Err(ConnectionError::Dropped),
                chat::Departure::Idle => Err(idle_error()),
                chat::Departure::Failed(e) => Err(e.into()),
            };
            (traffic, result)
        }
        // The modes with the largest futures run in their own, so that a session of another
        // mode does not keep their room for as long as it lasts.
        Mode::Exec(spec) => Box::pin(exec(connection, spec, config, relay_config)).await,
        Mode::Proxy(settings) => {
            let (traffic, result) = Box::pin(proxy::serve_client(
                connection,
                settings,
                &config.access,
                relay_config,
            ))
            .await;
            (traffic, result.map_err(ConnectionError::from))
        }
    }
}

async fn discard(
    mut connection: Connection,
    idle: Option<Duration>,
    totals: &relay::Totals,
) -> (Traffic, Result<(), ConnectionError>) {
    let mut traffic = Traffic::default();
    let mut buf = vec![0; crate::channel::MIN_MESSAGE_BUFFER];
    loop {
        let read = connection.read(&mut buf);
        let read = match idle {
            Some(limit) => match tokio::time::timeout(limit, read).await {
                Ok(read) => read,
                Err(_) => return (traffic, Err(ConnectionError::Idle(limit))),
            },
            None => read.await,
        };
        match read {
            Ok(Some(n)) => {
                traffic.bytes_in += n as u64;
                totals.add(relay::Direction::LeftToRight, n as u64);
            }
            Ok(None) => return (traffic, Ok(())),
            Err(e) => return (traffic, Err(e.into())),
        }
    }
}

/// Text for a log line: invalid UTF-8 and control characters escaped.
fn printable(message: &[u8]) -> String {
    String::from_utf8_lossy(message).escape_debug().to_string()
}

async fn print(
    mut connection: Connection,
    idle: Option<Duration>,
    totals: &relay::Totals,
) -> (Traffic, Result<(), ConnectionError>) {
    let messages = connection.reader.as_ref().is_some_and(|r| r.is_messages());
    let peer = connection.description.clone();
    let mut traffic = Traffic::default();
    let mut buf = vec![0; crate::channel::MIN_MESSAGE_BUFFER];
    // A byte stream's messages are its lines; what is left at EOF is one more.
    let mut line = Vec::new();
    loop {
        let read = connection.read(&mut buf);
        let read = match idle {
            Some(limit) => match tokio::time::timeout(limit, read).await {
                Ok(read) => read,
                Err(_) => return (traffic, Err(ConnectionError::Idle(limit))),
            },
            None => read.await,
        };
        let mut complete = Vec::new();
        match read {
            Ok(Some(n)) => {
                traffic.bytes_in += n as u64;
                totals.add(relay::Direction::LeftToRight, n as u64);
                if messages {
                    complete.push(buf[..n].to_vec());
                } else {
                    line.extend_from_slice(&buf[..n]);
                    while let Some(end) = line.iter().position(|b| *b == b'\n') {
                        let mut message: Vec<u8> = line.drain(..=end).collect();
                        message.pop();
                        if message.last() == Some(&b'\r') {
                            message.pop();
                        }
                        complete.push(message);
                    }
                }
            }
            Ok(None) => {
                if !line.is_empty() {
                    let last = std::mem::take(&mut line);
                    if let Err(e) =
                        acknowledge(&mut connection, &peer, &last, &mut traffic, totals).await
                    {
                        return (traffic, Err(e.into()));
                    }
                }
                return (traffic, Ok(()));
            }
            Err(e) => return (traffic, Err(e.into())),
        }
        for message in complete {
            if let Err(e) =
                acknowledge(&mut connection, &peer, &message, &mut traffic, totals).await
            {
                return (traffic, Err(e.into()));
            }
        }
    }
}

async fn acknowledge(
    connection: &mut Connection,
    peer: &str,
    message: &[u8],
    traffic: &mut Traffic,
    totals: &relay::Totals,
) -> io::Result<()> {
    tracing::info!("message from {peer}: {}", printable(message));
    let ack = format!("ack {} bytes\n", message.len());
    connection.write_all(ack.as_bytes()).await?;
    traffic.bytes_out += ack.len() as u64;
    totals.add(relay::Direction::RightToLeft, ack.len() as u64);
    Ok(())
}

/// Runs the program for one connection and relays between them; the program's failure is
/// the connection's.
async fn exec(
    mut connection: Connection,
    spec: &Spec,
    config: &Config,
    mut relay_config: RelayConfig,
) -> (Traffic, Result<(), ConnectionError>) {
    let context = OpenContext {
        first_addresses: connection.addresses,
        first_credentials: connection.peer_credentials,
        first_environment: connection.environment.clone(),
        ..config.open
    };
    let address = Address::Single(spec.clone());
    let mut processes = connection.take_processes();
    let mut program = match crate::registry::connect(&address, &context).await {
        Ok(program) => program,
        Err(source) => {
            let error = ConnectionError::Open {
                address: spec.to_string(),
                source,
            };
            return (Traffic::default(), Err(error));
        }
    };
    processes.extend(program.take_processes());
    // After the first EOF either way, the other direction goes on while data moves (socat's
    // -t): a program may go on answering after the peer's EOF, and once the program has
    // exited the connection closes instead of waiting for a peer that waits for it.
    relay_config.linger = Linger::For(relay::DEFAULT_LINGER);
    let relayed = relay::relay(connection, program, &relay_config).await;
    let (traffic, mut result) = match relayed {
        Ok((stats, ending)) => (
            Traffic {
                bytes_in: stats.left_to_right,
                bytes_out: stats.right_to_left,
            },
            match ending {
                relay::Ending::Inactive => Err(ConnectionError::Idle(
                    config.idle_timeout.unwrap_or_default(),
                )),
                _ => Ok(()),
            },
        ),
        Err(e) => (Traffic::default(), Err(e.into())),
    };
    for process in processes {
        let program = process.description().to_owned();
        match process.finish().await {
            Ok(exit) if exit.failure_code().is_some() => {
                if result.is_ok() {
                    result = Err(ConnectionError::Program { program, exit });
                }
            }
            Ok(exit) => tracing::debug!("{program} {exit}"),
            Err(e) => tracing::warn!("waiting for {program}: {e}"),
        }
    }
    (traffic, result)
}
