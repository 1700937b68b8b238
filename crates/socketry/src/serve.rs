//! The application: running two addresses against each other. Open the first, then the
//! second, then relay (with the engine in [`crate::relay`]).
//! A first address that listens with `fork` serves every peer concurrently, each in its own
//! task with its own second endpoint, at most `max-children` at once. A datagram receiver
//! without `max-children` keeps at most its default number of sessions, ending the oldest to
//! make room; a connection listener warns once as its connections near the descriptor limit.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::{AbortHandle, JoinSet};
use tracing::Instrument;

use crate::address::{OptionId, UnixRole};
use crate::endpoint::exec::Exit;
use crate::endpoint::shared::Shared;
use crate::endpoint::unix::UnixSpec;
use crate::endpoint::{self, Access, Connection, OpenContext, OpenError, Opened, Process};
use crate::registry::{self, Address, Kind, Spec};
use crate::relay::{self, relay, Directions, Ending, RelayConfig, RelayError, Stats};

/// Everything a run needs besides the two addresses.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// How each connection pair is relayed.
    pub relay: RelayConfig,
    /// How the addresses open (`-4`/`-6`, the listen family).
    pub open: OpenContext,
    /// `-s`: a forking server logs an accept error and keeps accepting instead of ending.
    pub sloppy: bool,
}

impl RunConfig {
    /// How the first address opens: for reading only under `-u`, writing only under `-U`.
    fn first_context(&self) -> OpenContext {
        let access = match self.relay.directions {
            Directions::Both => Access::ReadWrite,
            Directions::LeftToRight => Access::Read,
            Directions::RightToLeft => Access::Write,
        };
        OpenContext {
            access,
            ..self.open.clone()
        }
    }

    /// How the second address opens: the other way round.
    fn second_context(&self) -> OpenContext {
        let access = match self.relay.directions {
            Directions::Both => Access::ReadWrite,
            Directions::LeftToRight => Access::Write,
            Directions::RightToLeft => Access::Read,
        };
        OpenContext {
            access,
            ..self.open.clone()
        }
    }
}

/// Whether `spec` is a program that takes the first address's descriptors over (`nofork`).
fn is_nofork_program(spec: &Spec) -> bool {
    matches!(spec.kind, Kind::Exec(_)) && spec.options.flag(OptionId::Nofork, false)
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// An address could not be opened.
    #[error("{address}: {source}")]
    Open {
        /// The address, as written.
        address: String,
        /// Why it could not be opened.
        source: OpenError,
    },
    /// Relaying between the two connections failed.
    #[error(transparent)]
    Relay(#[from] RelayError),
    /// The two addresses cannot be run against each other as given.
    #[error("{0}")]
    Usage(String),
    /// A program run by EXEC, SYSTEM or SHELL failed.
    #[error("{program} {exit}")]
    Child {
        /// The program, for the message.
        program: String,
        /// How it ended.
        exit: Exit,
    },
}

impl RunError {
    /// The exit status a failed child asks socketry to exit with, if this is one.
    pub fn child_exit_code(&self) -> Option<u8> {
        match self {
            RunError::Child { exit, .. } => exit.failure_code(),
            _ => None,
        }
    }
}

/// What the second endpoint of each relayed connection is.
// A Peer is made once per run and borrowed by every connection: boxing the address would
// save nothing that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Peer {
    /// Open this address for each connection.
    Address(Address),
    /// Write back what the connection sends: an echo server.
    Echo,
}

/// How a run ended: the bytes moved (summed over every connection served).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// The bytes moved each way.
    pub stats: Stats,
    /// The connections relayed.
    pub connections: u64,
}

fn forking_listener(address: &Address) -> Option<&Spec> {
    match address {
        Address::Single(spec) if spec.options.flag(OptionId::Fork, false) => Some(spec),
        _ => None,
    }
}

/// Runs `first` against `peer`: a single relay, or with `fork` a server that never returns
/// unless accepting fails.
pub async fn run(first: &Address, peer: &Peer, config: &RunConfig) -> Result<Summary, RunError> {
    let open_error = |address: &Address| {
        let address = address.to_string();
        move |source| RunError::Open { address, source }
    };
    if let Peer::Address(second) = peer {
        if let Some(spec) = forking_listener(second) {
            if forking_listener(first).is_some() {
                return Err(RunError::Usage(format!(
                    "fork applies to one of the two addresses, but \"{first}\" and \"{second}\" both have it (expected it on one)"
                )));
            }
            return serve_second(first, second, spec, config).await;
        }
    }
    if let Some(spec) = forking_listener(first) {
        let stop = &config.relay.stop;
        let context = config.first_context();
        let opened = tokio::select! {
            opened = registry::open_spec(spec, &context) => opened,
            () = stop.requested() => return Ok(summary(config)),
        };
        return match opened.map_err(open_error(first))? {
            Opened::Listener(listener) => {
                serve_forever(listener, first, Serving::First(peer.clone()), config).await
            }
            Opened::Connection(connection) => {
                connect_forever(connection, first, spec, peer, config).await
            }
        };
    }
    let stop = &config.relay.stop;
    let context = config.first_context();
    let opened = tokio::select! {
        opened = registry::connect(first, &context) => opened,
        // A signal while waiting for the first peer: nothing was read, nothing is lost.
        () = stop.requested() => return Ok(summary(config)),
    };
    let left = match opened {
        Ok(left) => left,
        // As in socat, a listener nobody came to within accept-timeout ends quietly.
        Err(e @ OpenError::NoPeer { .. }) => {
            tracing::warn!("{first}: {e}");
            return Ok(summary(config));
        }
        Err(e) => return Err(open_error(first)(e)),
    };
    relay_with(Box::new(left), peer, config).await?;
    Ok(summary(config))
}

/// How long a connecting address with `fork` waits after starting a session before it
/// connects again, unless `interval` says.
const DEFAULT_FORK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// A connecting first address with `fork` (`TCP:host:port,fork,max-children=2 PROGRAM`):
/// each connection is relayed with its own second endpoint in a task of its own, and after
/// `interval` the address connects again, while fewer than `max-children` sessions run. It
/// runs until a stop, or until connecting fails (with `-s`, that is logged and it goes on).
async fn connect_forever(
    connection: Connection,
    first: &Address,
    spec: &Spec,
    peer: &Peer,
    config: &RunConfig,
) -> Result<Summary, RunError> {
    let slots = spec
        .options
        .count(OptionId::MaxChildren)
        .map(|n| Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(usize::MAX))));
    let interval = spec
        .options
        .seconds(OptionId::Interval)
        .unwrap_or(DEFAULT_FORK_INTERVAL);
    let stop = config.relay.stop.clone();
    let context = config.first_context();
    let mut tasks = JoinSet::new();
    let mut next = Some(connection);
    let result = loop {
        let permit = match &slots {
            Some(slots) => tokio::select! {
                permit = slots.clone().acquire_owned() => permit.ok(),
                () = stop.requested() => break Ok(()),
            },
            None => None,
        };
        let connection = match next.take() {
            Some(connection) => connection,
            None => {
                let opened = tokio::select! {
                    opened = registry::connect(first, &context) => opened,
                    () = stop.requested() => break Ok(()),
                };
                match opened {
                    Ok(connection) => connection,
                    Err(source) if config.sloppy => {
                        tracing::warn!("{first}: {source}; connecting on (-s)");
                        drop(permit);
                        tokio::select! {
                            () = tokio::time::sleep(interval) => continue,
                            () = stop.requested() => break Ok(()),
                        }
                    }
                    Err(source) => {
                        break Err(RunError::Open {
                            address: first.to_string(),
                            source,
                        })
                    }
                }
            }
        };
        let peer = peer.clone();
        let session_config = config.clone();
        let span = session_span(&spec.options);
        tasks.spawn(
            async move {
                let _permit = permit;
                let description = connection.description.clone();
                match relay_with(Box::new(connection), &peer, &session_config).await {
                    Ok((stats, _)) => tracing::info!(
                        "connection {description} done: {} bytes out, {} bytes in",
                        stats.left_to_right,
                        stats.right_to_left
                    ),
                    Err(e) => tracing::error!("connection {description}: {e}"),
                }
            }
            .instrument(span),
        );
        while tasks.try_join_next().is_some() {}
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = stop.requested() => break Ok(()),
        }
    };
    // The sessions under way finish (after a stop, writing out what they read).
    while tasks.join_next().await.is_some() {}
    result.map(|()| summary(config))
}

/// The field of a session's span that says how many levels lower its messages are logged
/// (`children-shutup`); the binary's logger reads it.
pub const SHUTUP_FIELD: &str = "children_shutup";

/// The span a forked session runs in: with `children-shutup=N` it carries N, so that what the
/// session logs is logged N levels lower (its errors as warnings), as socat logs its children.
fn session_span(options: &crate::address::Options) -> tracing::Span {
    match options.count(OptionId::ChildrenShutup) {
        // Always enabled, whatever the verbosity, so that the level is there to read.
        Some(levels) => tracing::error_span!("session", children_shutup = levels),
        None => tracing::Span::none(),
    }
}

/// A forking second address (`FILE:log TCP-LISTEN:8000,fork`): the first address opens
/// once, then every peer of the second is served with a lease of it, at most `max-children`
/// at once. Its programs are reaped when the server ends.
async fn serve_second(
    first: &Address,
    second: &Address,
    spec: &Spec,
    config: &RunConfig,
) -> Result<Summary, RunError> {
    let open_error = |address: &Address| {
        let address = address.to_string();
        move |source| RunError::Open { address, source }
    };
    let stop = &config.relay.stop;
    let context = config.first_context();
    let opened = tokio::select! {
        opened = registry::connect(first, &context) => opened,
        () = stop.requested() => return Ok(summary(config)),
    };
    let left = opened.map_err(open_error(first))?;
    let listener = match registry::open_spec(spec, &config.second_context())
        .await
        .map_err(open_error(second))?
    {
        Opened::Listener(listener) => listener,
        Opened::Connection(_) => {
            return Err(RunError::Usage(format!(
                "\"{second}\": fork on the second address needs one that accepts peers (a connecting address forks as the first)"
            )))
        }
    };
    let (shared, processes) = Shared::new(left);
    let served = serve_forever(listener, second, Serving::Second(Arc::new(shared)), config).await;
    let reaped = reap(processes, config).await;
    match (served, reaped) {
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
        (Ok(summary), Ok(())) => Ok(summary),
    }
}

/// Who each accepted peer of a forking server is relayed with.
// One value per server, cloned per peer: boxing the larger variant saves nothing worth an
// allocation per peer.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
enum Serving {
    /// The peer is the first connection; the second address opens for each.
    First(Peer),
    /// The peer is the second connection; it is relayed with a lease of the shared first.
    Second(Arc<Shared>),
}

/// What the run's relays have moved so far.
fn summary(config: &RunConfig) -> Summary {
    let totals = &config.relay.totals;
    Summary {
        stats: totals.stats(),
        connections: totals.connections(),
    }
}

/// Relays `left` with the peer, then reaps every child process either side started. A child
/// that failed makes the run fail with its status, which says more than the relay error it
/// may have caused (a write to a program that exited); that error is still logged.
///
/// Connections pass through the relay's async functions boxed: a future keeps room for its
/// arguments for as long as it runs, and each connection's future lives as long as it does.
async fn relay_with(
    left: Box<Connection>,
    peer: &Peer,
    config: &RunConfig,
) -> Result<(Stats, Ending), RunError> {
    config.relay.totals.count_connection();
    let mut processes = Vec::new();
    let result = relay_connections(left, peer, config, &mut processes).await;
    finish_relay(result, processes, config).await
}

/// Reaps the processes of a relay that ended with `result`. A child that failed makes the
/// run fail with its status, which says more than the relay error it may have caused (a
/// write to a program that exited); that error is still logged.
async fn finish_relay(
    result: Result<(Stats, Ending), RunError>,
    processes: Vec<Process>,
    config: &RunConfig,
) -> Result<(Stats, Ending), RunError> {
    let reaped = if processes.is_empty() {
        Ok(())
    } else {
        Box::pin(reap(processes, config)).await
    };
    match (result, reaped) {
        (Err(error), Err(failure)) => {
            tracing::error!("{error}");
            Err(failure)
        }
        (Ok(_), Err(failure)) => Err(failure),
        (result, Ok(())) => result,
    }
}

/// Waits for each process to end, logging how; the first that failed (not by the stop's
/// signal) is the error.
async fn reap(processes: Vec<Process>, config: &RunConfig) -> Result<(), RunError> {
    let mut failure = None;
    for process in processes {
        let program = process.description().to_owned();
        let pid = process.pid();
        match process.finish().await {
            Ok(exit) => {
                if exit.failure_code().is_some() {
                    tracing::warn!(
                        "waitpid(): child {pid} ({program}) {}",
                        exit.waitpid_words()
                    );
                } else {
                    tracing::info!("{program} (pid {pid}) {exit}");
                }
                // The signal that stops socketry (Ctrl-C reaches the whole process group)
                // ending its programs too is the stop, not their failure.
                let stopped = config.relay.stop.is_requested() && exit.by_terminating_signal();
                if exit.failure_code().is_some() && !stopped && failure.is_none() {
                    failure = Some(RunError::Child { program, exit });
                }
            }
            Err(e) => tracing::warn!("waiting for {program} (pid {pid}): {e}"),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Relays an accepted peer of a forking second address with a lease of the first.
async fn relay_leased(
    left: Box<Connection>,
    mut right: Box<Connection>,
    config: &RunConfig,
) -> Result<(Stats, Ending), RunError> {
    config.relay.totals.count_connection();
    let processes = right.take_processes();
    tracing::info!(
        "starting data transfer loop: {} <-> {}",
        left.description,
        right.description
    );
    let result = relay(*left, *right, &config.relay)
        .await
        .map_err(RunError::from);
    finish_relay(result, processes, config).await
}

/// Opens the second endpoint and relays; the connections are closed when this returns, and
/// their child processes are in `processes`.
///
/// The opening runs in a future of its own on the heap, freed before the relay starts: a
/// future's size is that of its largest state, and an idle relayed connection should not
/// keep the room every address family's open (and a TLS handshake) needed.
async fn relay_connections(
    left: Box<Connection>,
    peer: &Peer,
    config: &RunConfig,
    processes: &mut Vec<Process>,
) -> Result<(Stats, Ending), RunError> {
    match Box::pin(prepare_relay(left, peer, config, processes)).await? {
        Prepared::Done => Ok((Stats::default(), Ending::Eof)),
        Prepared::Echo(left) => Ok(relay::echo(*left, &config.relay).await?),
        Prepared::Relay(pair) => Ok(relay_pair(pair, &config.relay).await?),
    }
}

/// The relay of two connections, moved out of their box before it starts.
fn relay_pair(
    pair: Box<(Connection, Connection)>,
    config: &relay::RelayConfig,
) -> impl std::future::Future<Output = Result<(Stats, Ending), relay::RelayError>> + '_ {
    let (left, right) = *pair;
    relay(left, right, config)
}

/// What is left to do once the second address is open.
enum Prepared {
    /// Nothing: the peer was handed over (a descriptor passed, a program given it).
    Done,
    /// Echo the first connection back to itself.
    Echo(Box<Connection>),
    /// Relay the two.
    Relay(Box<(Connection, Connection)>),
}

/// Opens the second endpoint of a relay (or hands the first over), and says what is left.
async fn prepare_relay(
    mut left: Box<Connection>,
    peer: &Peer,
    config: &RunConfig,
    processes: &mut Vec<Process>,
) -> Result<Prepared, RunError> {
    processes.extend(left.take_processes());
    match peer {
        Peer::Echo => Ok(Prepared::Echo(left)),
        Peer::Address(Address::Single(spec))
            if matches!(
                &spec.kind,
                Kind::Unix(UnixSpec {
                    role: UnixRole::SendFd,
                    ..
                })
            ) =>
        {
            let Kind::Unix(UnixSpec { name, .. }) = &spec.kind else {
                return Ok(Prepared::Done);
            };
            let description = left.description.clone();
            crate::endpoint::unix::fdpass::hand_over(
                left.handover.clone(),
                description,
                name,
                &spec.options,
                spec,
            )
            .await
            .map_err(|source| RunError::Open {
                address: spec.to_string(),
                source,
            })?;
            Ok(Prepared::Done)
        }
        Peer::Address(Address::Single(spec)) if is_nofork_program(spec) => {
            let context = OpenContext {
                first_addresses: left.addresses,
                first_credentials: left.peer_credentials,
                first_environment: left.environment.clone(),
                ..config.second_context()
            };
            let open_failed = |source| RunError::Open {
                address: spec.to_string(),
                source,
            };
            let Some((read, write)) = left.direct_descriptors() else {
                return Err(open_failed(OpenError::Refused(format!(
                    "nofork: {} has no descriptors of its own for the program to take over",
                    left.description
                ))));
            };
            // The program reads what the relay would have written to it, and the other way.
            let input = read.filter(|_| context.access.writes());
            let output = write.filter(|_| context.access.reads());
            let Kind::Exec(program) = &spec.kind else {
                return Err(open_failed(OpenError::Refused(format!(
                    "nofork: {spec} is not a program"
                ))));
            };
            let mut process = crate::endpoint::exec::start_direct(
                program,
                &spec.options,
                &context,
                input,
                output,
            )
            .map_err(open_failed)?;
            left.release_to_program();
            let waited = process.wait().await;
            processes.push(process);
            waited.map_err(|source| {
                open_failed(OpenError::Io {
                    action: "waiting for the program".to_owned(),
                    source,
                })
            })?;
            Ok(Prepared::Done)
        }
        Peer::Address(second) => {
            let context = OpenContext {
                first_addresses: left.addresses,
                first_credentials: left.peer_credentials,
                first_environment: left.environment.clone(),
                ..config.second_context()
            };
            let mut right = match registry::connect(second, &context).await {
                Ok(right) => right,
                Err(source) => {
                    end_tls_cleanly(&mut left).await;
                    return Err(RunError::Open {
                        address: second.to_string(),
                        source,
                    });
                }
            };
            processes.extend(right.take_processes());
            if config.relay.log_endpoints {
                for (which, end) in [("first", &*left), ("second", &right)] {
                    match &end.report() {
                        Some(report) => {
                            tracing::info!("{which} address: {} [{report}]", end.description)
                        }
                        None => tracing::info!("{which} address: {}", end.description),
                    }
                }
            }
            tracing::info!(
                "starting data transfer loop: {} <-> {}",
                left.description,
                right.description
            );
            Ok(Prepared::Relay(Box::new((*left, right))))
        }
    }
}

/// How long a TLS peer is given to take the close_notify of a session that could not start.
const TLS_CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ends a TLS session whose second address could not be opened with a close_notify, as a
/// plain TCP connection ends with a FIN: the peer reads a clean end of the stream (and the
/// server logs why), not a connection cut that says the data may have been truncated.
async fn end_tls_cleanly(left: &mut Connection) {
    if left.tls.is_none() {
        return;
    }
    if let Some(writer) = left.writer.as_mut() {
        match tokio::time::timeout(TLS_CLOSE_GRACE, writer.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!("{}: sending close_notify: {e}", left.description),
            Err(_) => tracing::debug!(
                "{}: the peer took no close_notify within {}s",
                left.description,
                TLS_CLOSE_GRACE.as_secs_f64()
            ),
        }
    }
}

/// The running sessions of a forking server, oldest first, for a cap that ends the oldest.
struct Running {
    cap: usize,
    sessions: VecDeque<(AbortHandle, String)>,
}

impl Running {
    /// Makes room for one more session: ends the oldest ones while `cap` are running.
    fn make_room(&mut self, listener: &str) {
        self.sessions.retain(|(task, _)| !task.is_finished());
        while self.sessions.len() >= self.cap {
            let Some((task, description)) = self.sessions.pop_front() else {
                return;
            };
            task.abort();
            tracing::warn!(
                "ending the oldest session, {description}: {} sessions open on {listener}, the default cap (max-children sets another)",
                self.cap
            );
        }
    }
}

/// Warns once when a forking server's connections near the process's descriptor limit:
/// beyond it, accepting fails and peers wait in the backlog.
struct DescriptorWatch {
    /// The soft RLIMIT_NOFILE, if it could be read and is finite.
    limit: Option<u64>,
    /// The descriptors open before the first session: the runtime's, the listener's.
    base: u64,
    warned: bool,
}

impl DescriptorWatch {
    fn new() -> DescriptorWatch {
        use nix::sys::resource::{getrlimit, Resource, RLIM_INFINITY};
        let limit = getrlimit(Resource::RLIMIT_NOFILE)
            .ok()
            .map(|(soft, _)| soft)
            .filter(|soft| *soft != RLIM_INFINITY);
        // Counted once: reading the directory on every accept would cost more than the
        // accept itself when thousands of connections are open.
        let base = std::fs::read_dir("/proc/self/fd")
            .map(|entries| u64::try_from(entries.count()).unwrap_or(0))
            .unwrap_or(0);
        DescriptorWatch {
            limit,
            base,
            warned: false,
        }
    }

    /// Called with the number of sessions running; each holds at least two descriptors
    /// (the peer and the second endpoint).
    fn check(&mut self, running: usize, listener: &str) {
        let Some(limit) = self.limit else {
            return;
        };
        let used = u64::try_from(running)
            .unwrap_or(u64::MAX)
            .saturating_mul(2)
            .saturating_add(self.base);
        if used * 5 >= limit * 4 {
            if !self.warned {
                self.warned = true;
                tracing::warn!(
                    "{running} connections open on {listener}, with the process's own, use at least {used} of the {limit} descriptors this process may open (ulimit -n): beyond it new peers wait (max-children caps them)"
                );
            }
        } else if used * 2 < limit {
            // Well clear again: a later approach is news.
            self.warned = false;
        }
    }
}

/// Runs the accept loop as a task on a worker thread, not on the thread that waits for the
/// run: a session it wakes (the datagrams a UDP-LISTEN socket hands to a session, a connection
/// it has just accepted) then runs next on the same worker, instead of waking another thread
/// for each. The task ends with the run, or is aborted if the run is dropped.
async fn serve_forever(
    listener: endpoint::Listener,
    listening: &Address,
    serving: Serving,
    config: &RunConfig,
) -> Result<Summary, RunError> {
    struct AbortOnDrop(AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let (listening, config) = (listening.clone(), config.clone());
    let task =
        tokio::spawn(async move { accept_forever(listener, &listening, serving, &config).await });
    let _abort = AbortOnDrop(task.abort_handle());
    match task.await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(RunError::Usage(format!(
            "the accept loop was cancelled: {e}"
        ))),
    }
}

async fn accept_forever(
    mut listener: endpoint::Listener,
    first: &Address,
    serving: Serving,
    config: &RunConfig,
) -> Result<Summary, RunError> {
    let max_children = match first {
        Address::Single(spec) if !listener.caps_its_own_sessions() => {
            spec.options.count(OptionId::MaxChildren)
        }
        _ => None,
    };
    let slots =
        max_children.map(|n| Arc::new(Semaphore::new(usize::try_from(n).unwrap_or(usize::MAX))));
    let mut oldest_first = match (max_children, listener.default_session_cap()) {
        (None, Some(cap)) => Some(Running {
            cap,
            sessions: VecDeque::new(),
        }),
        _ => None,
    };
    listener.count_drops_in(config.relay.totals.drop_counter());
    // Shared by every session: cloning the settings and the second address (its options,
    // its texts) for each peer would cost a dozen allocations per connection.
    let shared = Arc::new((serving, config.clone()));
    let mut descriptors = DescriptorWatch::new();
    let mut tasks = JoinSet::new();
    let stop = config.relay.stop.clone();
    loop {
        let permit = match &slots {
            Some(slots) => tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_) => return Ok(summary(config)),
                },
                () = stop.requested() => None,
            },
            None => None,
        };
        let accepted = tokio::select! {
            accepted = listener.accept_pending(), if !stop.is_requested() => accepted,
            () = stop.requested() => {
                // Stop accepting at once; the relays under way write out what they read.
                drop(listener);
                while tasks.join_next().await.is_some() {}
                return Ok(summary(config));
            }
        };
        let connection = match accepted {
            Ok(connection) => connection,
            // No new peer within accept-timeout: stop accepting, let those being served finish.
            Err(e @ OpenError::NoPeer { .. }) => {
                tracing::warn!("{first}: {e}");
                while tasks.join_next().await.is_some() {}
                return Ok(summary(config));
            }
            Err(source) if config.sloppy => {
                tracing::warn!("{first}: {source}; accepting on (-s)");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
            Err(source) => {
                tasks.shutdown().await;
                return Err(RunError::Open {
                    address: first.to_string(),
                    source,
                });
            }
        };
        if let Some(running) = &mut oldest_first {
            running.make_room(listener.description());
        }
        let shared = shared.clone();
        let description = oldest_first
            .is_some()
            .then(|| connection.connection().description.clone());
        let span = match first {
            Address::Single(spec) => session_span(&spec.options),
            Address::Dual { .. } => tracing::Span::none(),
        };
        // The handshake's future is on the heap while it runs, and the session's future
        // holds the connection boxed: each is as big as its largest state for as long as
        // the session lasts.
        let ready = Box::pin(connection.ready());
        let task = tasks.spawn(
            async move {
                let (serving, config) = &*shared;
                let _permit = permit;
                // A peer that fails its handshake (TLS) is logged, and the server serves on.
                let connection = match ready.await {
                    Ok(connection) => Box::new(connection),
                    Err(e) => {
                        tracing::error!("{e}");
                        return;
                    }
                };
                let description = connection.description.clone();
                let result = match serving {
                    Serving::First(peer) => relay_with(connection, peer, config).await,
                    Serving::Second(shared) => {
                        relay_leased(Box::new(shared.lease()), connection, config).await
                    }
                };
                match &result {
                    Ok((stats, _)) => tracing::info!(
                        "connection {description} done: {} bytes in, {} bytes out",
                        stats.left_to_right,
                        stats.right_to_left
                    ),
                    Err(e) => tracing::error!("connection {description}: {e}"),
                }
            }
            .instrument(span),
        );
        if let (Some(running), Some(description)) = (&mut oldest_first, description) {
            running.sessions.push_back((task, description));
        }
        while tasks.try_join_next().is_some() {}
        if !listener.caps_its_own_sessions() {
            descriptors.check(tasks.len(), listener.description());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forking server's session holds this future for as long as its peer stays: opening
    /// the second address (whose futures are large) must not leave its room in it.
    #[tokio::test]
    async fn a_session_future_keeps_no_room_for_opening() {
        let (left, _peer) = crate::relay::tests::socket_connection();
        let config = RunConfig::default();
        let future = relay_with(Box::new(left), &Peer::Echo, &config);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 2560, "relaying one connection holds {size} bytes");
    }
}
