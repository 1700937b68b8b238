//! Servers: addresses that wait for peers. A listener yields one [`Connection`] per peer
//! ([`Listener::accept`], used with `fork`) or hands over its first peer and stops listening
//! ([`Listener::accept_once`]).
//!
//! Each family accepts its own peers: it implements [`Accept`] in its own module (TCP's
//! `nodelay`, the shared-memory hello, a queue's sessions) and wraps it in the one
//! [`Listener`] every server shares. The listener holds what all of them have in common, so
//! that it exists once: the `accept-timeout`, the policy for accept errors (a passing error
//! is retried, a shortage of descriptors or memory is waited out with a backoff and logged
//! once, anything else ends the listener), the [`Admission`] of peers (`range`, `sourceport`,
//! `peer-uid` and its kin: rules a family adds, checked before anything is read from a peer),
//! and the socket file's guard. This module knows no family.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::unix::ancillary::PeerCredentials;
use crate::address::{OptionId, Options};
use crate::endpoint::connection::{Connection, DataOptions};
use crate::endpoint::error::OpenError;
use crate::endpoint::guard::Guard;
use crate::layer::Stack;

/// What [`Accept::accept`] returns: a boxed future, so that listeners of every family fit
/// behind one `Box<dyn Accept>`.
pub type AcceptFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Connection, AcceptError>> + Send + 'a>>;

/// Why a family could not give the listener its next connection.
#[derive(Debug)]
pub enum AcceptError {
    /// Accepting itself failed (`accept(2)` or what stands for it): the listener's accept
    /// error policy decides whether to try again.
    Accept(io::Error),
    /// Anything else, which ends the listener.
    Open(OpenError),
}

impl From<OpenError> for AcceptError {
    fn from(error: OpenError) -> AcceptError {
        AcceptError::Open(error)
    }
}

/// What a family's accepting is given by the listener around it.
#[derive(Debug, Clone, Copy)]
pub struct Accepting<'a> {
    /// What the listener listens on, for logs and connection descriptions.
    pub listener: &'a str,
    /// Who may come in: a family checks each peer with [`Admission::admit`] before reading
    /// from it or setting anything up for it.
    pub admission: &'a Admission,
}

/// A family's way of taking in peers, wrapped by a [`Listener`]. A refused peer, or one whose
/// setup failed (logged), is not an error: the family waits for the next one.
pub trait Accept: fmt::Debug + Send {
    /// Waits for the next admitted peer and makes its connection (used with `fork`).
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a>;

    /// Waits for the first admitted peer, after which the listener serves nobody else
    /// (without `fork`). Most families accept it as any other.
    fn accept_first<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        self.accept(on)
    }

    /// The local internet address, for TCP and UDP listeners.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }

    /// Counts the datagrams this listener drops into `total` as well (UDP-LISTEN with fork).
    fn count_drops_in(&mut self, _total: DroppedDatagrams) {}

    /// Whether this listener limits its own sessions; see [`Listener::caps_its_own_sessions`].
    fn caps_its_own_sessions(&self) -> bool {
        false
    }

    /// The session cap without `max-children`; see [`Listener::default_session_cap`].
    fn default_session_cap(&self) -> Option<usize> {
        None
    }
}

/// Who a peer is, as far as the kernel tells before anything is read from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// An internet peer's address and port.
    Internet(SocketAddr),
    /// A Unix peer's credentials, when the kernel gave them.
    Unix(Option<PeerCredentials>),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Internet(addr) => write!(f, "{addr}"),
            Peer::Unix(Some(credentials)) => write!(f, "{credentials}"),
            Peer::Unix(None) => f.write_str("an unknown peer"),
        }
    }
}

/// One rule of an [`Admission`]: `range`, `peer-uid`, and later allow and deny lists.
pub trait Admit: fmt::Debug + Send + Sync {
    /// Why `peer` is refused, or `None` when this rule admits it. A rule that does not apply
    /// to this kind of peer admits it.
    fn refusal(&self, peer: &Peer) -> Option<String>;
}

/// The rules a listener's peers must pass; with none, everyone is admitted.
#[derive(Debug, Default)]
pub struct Admission {
    rules: Vec<Box<dyn Admit>>,
}

impl Admission {
    /// Adds a rule, checked after those added before it.
    pub fn add(&mut self, rule: impl Admit + 'static) {
        self.rules.push(Box::new(rule));
    }

    /// Why `peer` is refused, by the first rule that refuses it.
    pub fn refusal(&self, peer: &Peer) -> Option<String> {
        self.rules.iter().find_map(|rule| rule.refusal(peer))
    }

    /// Whether `peer` may come in on `listener`; a refusal is logged, and the caller then
    /// closes the peer's connection without reading from it.
    pub fn admit(&self, peer: &Peer, listener: &str) -> bool {
        match self.refusal(peer) {
            None => true,
            Some(why) => {
                tracing::warn!("refusing connection from {peer} on {listener}: {why}");
                false
            }
        }
    }
}

/// The listen(2) backlog when none is given: room for bursts of connections.
pub const DEFAULT_BACKLOG: u32 = 1024;

/// Listens on a bound `socket` with the backlog `backlog=` gives ([`DEFAULT_BACKLOG`]
/// without it) and makes it non-blocking for the reactor; `shown` names it in an error.
pub(crate) fn listen(
    socket: &socket2::Socket,
    options: &Options,
    shown: impl fmt::Display,
) -> Result<(), OpenError> {
    let backlog = options
        .count(OptionId::Backlog)
        .map_or(DEFAULT_BACKLOG, |b| u32::try_from(b).unwrap_or(u32::MAX));
    socket
        .listen(i32::try_from(backlog).unwrap_or(i32::MAX))
        .map_err(OpenError::io(format!("listening on {shown}")))?;
    socket
        .set_nonblocking(true)
        .map_err(OpenError::io("setting O_NONBLOCK"))
}

/// A shortage that recurs after this long without one is a new shortage, and is logged again.
const SHORTAGE_QUIET: Duration = Duration::from_secs(1);

/// How long the accept loop waits before trying again in a shortage.
const SHORTAGE_BACKOFF: Duration = Duration::from_millis(100);

/// The accept error policy every accept loop follows: a connection aborted before it was
/// taken is passed over, a shortage of descriptors or memory is waited out (logged once per
/// shortage), anything else ends the loop.
#[derive(Debug, Default)]
pub struct AcceptPolicy {
    /// When accepting last failed for want of descriptors or memory.
    last_shortage: Option<Instant>,
}

impl AcceptPolicy {
    /// Decides whether an accept error on `listener` is passing, and waits a little before
    /// the next try where that helps, or ends the loop with the error.
    pub async fn recover(&mut self, error: io::Error, listener: &str) -> Result<(), OpenError> {
        use nix::libc::{ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM, EPROTO};
        match error.raw_os_error() {
            Some(ECONNABORTED | EPROTO) => Ok(()),
            Some(EMFILE | ENFILE | ENOBUFS | ENOMEM) => {
                // Said once per shortage, not once per retry; the backoff keeps the loop from
                // spinning on a backlog it cannot take from.
                let ongoing = self
                    .last_shortage
                    .is_some_and(|at| at.elapsed() < SHORTAGE_QUIET);
                if ongoing {
                    tracing::trace!(
                        "accepting on {listener}: still {}; retrying",
                        crate::sys::error_text(&error)
                    );
                } else {
                    tracing::warn!(
                        "accepting on {listener}: {}; retrying as resources free up",
                        crate::sys::error_text(&error)
                    );
                }
                tokio::time::sleep(SHORTAGE_BACKOFF).await;
                self.last_shortage = Some(Instant::now());
                Ok(())
            }
            _ => Err(OpenError::Io {
                action: format!("accepting on {listener}"),
                source: error,
            }),
        }
    }
}

/// An address waiting for peers.
pub struct Listener {
    accept: Box<dyn Accept>,
    description: String,
    admission: Admission,
    data: DataOptions,
    /// The layers each accepted connection gets (a TLS server's handshake, `length-prefix`),
    /// in the task that serves it.
    layers: Stack,
    /// When a layer tells who the peer is (the PROXY protocol), the admission rules, to be
    /// checked once the layers ran, against that peer instead of the socket's.
    admission_after_layers: Option<std::sync::Arc<Admission>>,
    accept_timeout: Option<Duration>,
    /// The socket file's guard: it lives as long as the listener, or without `fork` as long
    /// as its one connection.
    guard: Option<Guard>,
    policy: AcceptPolicy,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("accept", &self.accept)
            .field("description", &self.description)
            .field("admission", &self.admission)
            .field("accept_timeout", &self.accept_timeout)
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// A listener over a family's `accept`, described as `description` in logs, with the
    /// shared options (`accept-timeout`) from `options`.
    pub fn new(accept: impl Accept + 'static, description: String, options: &Options) -> Listener {
        Listener {
            accept: Box::new(accept),
            description,
            admission: Admission::default(),
            data: DataOptions::default(),
            layers: Stack::default(),
            admission_after_layers: None,
            accept_timeout: options.seconds(OptionId::AcceptTimeout),
            guard: None,
            policy: AcceptPolicy::default(),
        }
    }

    /// Adds an admission rule that every peer must pass.
    pub fn admitting(mut self, rule: impl Admit + 'static) -> Listener {
        self.admission.add(rule);
        self
    }

    /// Keeps `guard` (a socket file's) alive as long as the listener, or without `fork` as
    /// long as its one connection. `None` keeps nothing.
    pub fn with_guard(mut self, guard: Option<impl Into<Guard>>) -> Listener {
        self.guard = guard.map(Into::into);
        self
    }

    pub(crate) fn with_data_options(mut self, data: DataOptions) -> Listener {
        self.data = data;
        self
    }

    /// Stacks `layers` over each accepted connection, above the layers it has already (a
    /// TLS server's handshake runs first, then the `length-prefix` its options ask for).
    pub fn with_layers(mut self, layers: Stack) -> Listener {
        self.layers = layers.over(&self.layers);
        self
    }

    /// Stacks `layers`, which tell who the peer is (a PROXY protocol header), straight over
    /// each accepted connection, below the layers it has already (the header comes before a
    /// TLS handshake). The admission rules (`range`, ...) are then checked once the layers
    /// ran, against the peer they name.
    pub fn with_peer_layers(mut self, layers: Stack) -> Listener {
        if layers.is_empty() {
            return self;
        }
        self.layers = self.layers.over(&layers);
        let admission = std::mem::take(&mut self.admission);
        self.admission_after_layers = Some(std::sync::Arc::new(admission));
        self
    }

    /// What this listener listens on, for logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The local internet address, for TCP and UDP listeners (the port the kernel chose for
    /// port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.accept.local_addr()
    }

    /// Counts the datagrams the listener drops (UDP-LISTEN with fork) into `total` as well.
    pub(crate) fn count_drops_in(&mut self, total: DroppedDatagrams) {
        self.accept.count_drops_in(total);
    }

    /// Whether the listener limits its own sessions (UDP-LISTEN counts peers itself, since it
    /// must keep receiving for the sessions it has while at its limit).
    pub fn caps_its_own_sessions(&self) -> bool {
        self.accept.caps_its_own_sessions()
    }

    /// How many sessions a forking server keeps open at once when `max-children` is not
    /// given, ending the oldest to make room: datagram receivers (UDP-RECVFROM,
    /// UNIX-RECVFROM), where every datagram from a new source would otherwise open one.
    /// Connection listeners have no default cap, as in socat: the kernel's backlog holds
    /// what cannot be accepted.
    pub fn default_session_cap(&self) -> Option<usize> {
        self.accept.default_session_cap()
    }

    /// Waits for the next peer (bounded by `accept-timeout`), and stacks the listener's layers
    /// over its connection. A server that serves peers side by side takes
    /// [`accept_pending`](Listener::accept_pending) instead, so that one peer's handshake
    /// never holds up accepting the next.
    pub async fn accept(&mut self) -> Result<Connection, OpenError> {
        self.accept_pending().await?.ready().await
    }

    /// Waits for the next peer (bounded by `accept-timeout`); its layers' handshakes are still
    /// to run ([`Accepted::ready`]), in the task that serves it.
    pub async fn accept_pending(&mut self) -> Result<Accepted, OpenError> {
        let mut connection = self.next(Which::Next).await?;
        connection.data = self.data;
        Ok(Accepted {
            connection,
            layers: self.layers.clone(),
            admission: self.admission_after_layers.clone(),
            listener: self.description.clone(),
        })
    }

    /// Waits for the first peer, then stops listening, and stacks the listener's layers over
    /// its connection; the listener's socket file stays until the connection ends.
    pub async fn accept_once(mut self) -> Result<Connection, OpenError> {
        let mut connection = self.next(Which::First).await?;
        connection.data = self.data;
        if let Some(guard) = self.guard.take() {
            connection.keep_alive(guard);
        }
        Accepted {
            connection,
            layers: self.layers,
            admission: self.admission_after_layers,
            listener: self.description,
        }
        .ready()
        .await
    }

    /// The family's next connection within `accept-timeout`, through the accept error policy.
    async fn next(&mut self, which: Which) -> Result<Connection, OpenError> {
        let Listener {
            accept,
            description,
            admission,
            accept_timeout,
            policy,
            ..
        } = self;
        let accepting = async {
            loop {
                let on = Accepting {
                    listener: description,
                    admission,
                };
                let accepted = match which {
                    Which::Next => accept.accept(on).await,
                    Which::First => accept.accept_first(on).await,
                };
                match accepted {
                    Ok(connection) => return Ok(connection),
                    Err(AcceptError::Accept(error)) => policy.recover(error, description).await?,
                    Err(AcceptError::Open(error)) => return Err(error),
                }
            }
        };
        match *accept_timeout {
            Some(after) => {
                tokio::time::timeout(after, accepting)
                    .await
                    .map_err(|_| OpenError::NoPeer {
                        listener: description.clone(),
                        after,
                    })?
            }
            None => accepting.await,
        }
    }
}

/// A peer accepted whose layers' handshakes (a TLS server's, `length-prefix`) are still to
/// run: [`ready`](Accepted::ready) runs them, in the task that serves the peer. Until then it
/// is only the connection the family accepted, which admission and logs may look at.
#[must_use = "an accepted peer is served only once its layers are ready"]
#[derive(Debug)]
pub struct Accepted {
    connection: Connection,
    layers: Stack,
    /// The admission still to check, against the peer the layers name.
    admission: Option<std::sync::Arc<Admission>>,
    listener: String,
}

impl Accepted {
    /// The connection as accepted, before its layers ran.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Whether a layer (the PROXY protocol's) will say who the peer is, so that checks of
    /// the peer belong after [`ready`](Accepted::ready).
    pub fn peer_from_layers(&self) -> bool {
        self.admission.is_some()
    }

    /// Runs the listener's layers over the connection: the connection to serve, or why the
    /// peer failed its handshake or, named by a layer, is not admitted.
    pub async fn ready(self) -> Result<Connection, OpenError> {
        let connection = self.connection.stack(&self.layers).await?;
        if let Some(admission) = &self.admission {
            let peer = match connection.addresses {
                Some(addresses) => Peer::Internet(addresses.peer),
                None => Peer::Unix(connection.peer_credentials),
            };
            if let Some(why) = admission.refusal(&peer) {
                return Err(OpenError::Refused(format!(
                    "refusing connection from {peer} on {}: {why}",
                    self.listener
                )));
            }
        }
        Ok(connection)
    }
}

/// Which peer [`Listener::next`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    /// Any peer, with more to come (`fork`).
    Next,
    /// The only peer this listener will serve.
    First,
}

/// How many datagrams were dropped in a run, whatever dropped them: shared by a run's
/// listeners and its `--statistics`.
#[derive(Debug, Clone, Default)]
pub struct DroppedDatagrams(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl DroppedDatagrams {
    /// Counts `n` more dropped datagrams.
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The datagrams dropped so far.
    pub fn count(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::VecDeque;

    /// A family whose accepting follows a script, and then waits forever.
    #[derive(Debug)]
    struct Scripted(VecDeque<Result<&'static str, i32>>);

    impl Accept for Scripted {
        fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
            Box::pin(async move {
                match self.0.pop_front() {
                    Some(Ok(peer)) => Ok(Connection::new(
                        None,
                        None,
                        format!("{peer} on {}", on.listener),
                    )),
                    Some(Err(errno)) => {
                        Err(AcceptError::Accept(io::Error::from_raw_os_error(errno)))
                    }
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn listener(script: Vec<Result<&'static str, i32>>) -> Listener {
        Listener::new(
            Scripted(script.into()),
            "SCRIPT".to_owned(),
            &Options::default(),
        )
    }

    #[tokio::test(start_paused = true)]
    async fn passing_errors_and_shortages_are_retried_and_any_other_ends_the_listener() {
        use nix::libc::{EBADF, ECONNABORTED, EMFILE};
        let mut listener = listener(vec![
            Err(EMFILE),
            Err(ECONNABORTED),
            Err(EMFILE),
            Ok("peer"),
            Err(EBADF),
        ]);
        let started = tokio::time::Instant::now();
        let connection = listener.accept().await.unwrap();
        assert_eq!(connection.description, "peer on SCRIPT");
        // Each shortage waits the backoff before the next try; an aborted handshake does not.
        assert_eq!(started.elapsed(), SHORTAGE_BACKOFF * 2);
        let error = listener.accept().await.unwrap_err();
        assert_eq!(error.to_string(), "accepting on SCRIPT: Bad file number");
    }

    #[tokio::test(start_paused = true)]
    async fn no_peer_within_the_accept_timeout_is_its_own_error() {
        let mut listener = listener(Vec::new());
        listener.accept_timeout = Some(Duration::from_secs(3));
        let error = listener.accept_once().await.unwrap_err();
        assert!(
            matches!(error, OpenError::NoPeer { after, .. } if after == Duration::from_secs(3))
        );
        assert_eq!(
            error.to_string(),
            "no peer on SCRIPT within 3s (accept-timeout)"
        );
    }

    /// Refuses one port, and says which rule it is.
    #[derive(Debug)]
    struct NotPort(u16, &'static str);

    impl Admit for NotPort {
        fn refusal(&self, peer: &Peer) -> Option<String> {
            match peer {
                Peer::Internet(addr) if addr.port() == self.0 => Some(self.1.to_owned()),
                _ => None,
            }
        }
    }

    #[test]
    fn admission_refuses_by_the_first_rule_that_refuses_and_admits_what_none_refuses() {
        let mut admission = Admission::default();
        let peer = |port| Peer::Internet(SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(admission.refusal(&peer(1)), None);
        admission.add(NotPort(1, "first"));
        admission.add(NotPort(1, "second"));
        admission.add(NotPort(2, "third"));
        assert_eq!(admission.refusal(&peer(1)).as_deref(), Some("first"));
        assert_eq!(admission.refusal(&peer(2)).as_deref(), Some("third"));
        assert!(admission.admit(&peer(3), "SCRIPT"));
        assert!(!admission.admit(&peer(2), "SCRIPT"));
        assert_eq!(admission.refusal(&Peer::Unix(None)), None);
        assert_eq!(Peer::Unix(None).to_string(), "an unknown peer");
    }
}
