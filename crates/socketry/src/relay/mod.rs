//! The engine that moves data between two endpoints, socat's way.
//!
//! Each direction is a pump (see [`direction`]). When one direction reaches EOF it shuts down
//! the other side's writing half, and the other direction keeps flowing; the relay ends when
//! both are done, or once the other has moved nothing for `linger` after the first one
//! finished (`-t`), or after `inactivity` with no data either way (`-T`), or when a [`Stop`]
//! has been asked for and what was read has been written out. These rules are a state machine
//! of their own, with no I/O. Each direction moves one unit at a time (a buffer of
//! `buffer_size` bytes, or up to `splice_size` through a pipe when splicing) and writes all of
//! it before reading the next, so memory is bounded and a slow writer slows the reader. A
//! direction borrows its buffer or pipe only while data moves, so idle connections are cheap.
//! [`serve`] opens the addresses, including listeners that serve every peer with `fork`.

pub mod direction;
pub mod dump;
mod ending;
mod pool;
pub mod serve;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use direction::{Direction, LineEndings};
pub use dump::{Dump, DumpFormat};

use crate::endpoint::Connection;
use crate::sys;
use direction::Pump;

/// The default size of each direction's buffer, chosen by measurement: 2 GiB through two
/// relays over loopback TCP (stdin -> TCP -> stdout) took 3.42 s with 8 KiB, 2.86 s with
/// 16 KiB, 2.95-3.39 s with 32 KiB, 2.32-2.96 s with 64 KiB, 2.70-4.27 s with 128 KiB and
/// 3.55 s with 256 KiB on a 2-core machine. Past 64 KiB the buffer no longer fits the cache.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024;

/// The default most bytes a spliced direction moves per splice(2), and the pipe size it asks
/// for: the most `/proc/sys/fs/pipe-max-size` allows by default. Through one relay of iperf3
/// on loopback (2-core machine), 1 MiB moved 13.9-14.1 Gbit/s where 64 KiB moved 9.4-12.8:
/// fewer system calls and wake-ups per byte. The pipe's pages are the kernel's, taken only
/// while bytes wait in it.
pub const DEFAULT_SPLICE_SIZE: usize = 1 << 20;

/// The default linger after the first EOF (`-t`).
pub const DEFAULT_LINGER: Duration = Duration::from_millis(500);

/// How a direction between two byte streams moves its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transfer {
    /// With splice(2) through a pipe where both streams are descriptors that allow it and
    /// nothing needs to see the bytes (no dump, no line-ending conversion); else by copying.
    #[default]
    Splice,
    /// Always by copying through a buffer in user space.
    Copy,
}

/// How long a relay stopped by [`Stopper::stop`] may take to write out what it had already
/// read, unless `-t` says otherwise.
pub const DEFAULT_DRAIN_GRACE: Duration = Duration::from_secs(1);

/// What happens after the first direction reaches EOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linger {
    /// The other direction goes on while data moves; once it has moved nothing for this long
    /// (`-t`, socat's meaning), the relay ends.
    For(Duration),
    /// netcat's way: no limit after the first EOF; each direction goes on until its own EOF,
    /// and the relay ends when both have.
    UntilBothEnd,
}

impl Default for Linger {
    fn default() -> Self {
        Linger::For(DEFAULT_LINGER)
    }
}

/// Which directions a relay moves data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directions {
    /// Both ways, as socat relays by default.
    Both,
    /// `-u`: from the first address to the second only.
    LeftToRight,
    /// `-U`: from the second address to the first only.
    RightToLeft,
}

/// How a relay runs.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Bytes per direction's buffer (`-b`).
    pub buffer_size: usize,
    /// The most bytes one splice(2) moves between two descriptors (`-b` when given).
    pub splice_size: usize,
    /// After one direction's EOF, how long the other may go on (`-t`).
    pub linger: Linger,
    /// End the relay after this long with no data either way (`-T`).
    pub inactivity: Option<Duration>,
    /// Which ways data moves (`-u`, `-U`).
    pub directions: Directions,
    /// Dump transferred data (`-v`, `-x`).
    pub dump: Option<Arc<Dump>>,
    /// Log both endpoints before the transfer starts (`-D`).
    pub log_endpoints: bool,
    /// Whether byte streams may be spliced, or are always copied.
    pub transfer: Transfer,
    /// Asks the relay to stop early: stop reading, write out what was read, then end.
    pub stop: Stop,
    /// How long a stopped relay may take to write out what it had read.
    pub drain_grace: Duration,
    /// Bytes moved by every relay that shares this configuration, as they move.
    pub totals: Arc<Totals>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            buffer_size: DEFAULT_BUFFER_SIZE,
            splice_size: DEFAULT_SPLICE_SIZE,
            linger: Linger::default(),
            inactivity: None,
            directions: Directions::Both,
            dump: None,
            log_endpoints: false,
            transfer: Transfer::default(),
            stop: Stop::default(),
            drain_grace: DEFAULT_DRAIN_GRACE,
            totals: Arc::default(),
        }
    }
}

/// The sending half of a [`Stop`]: a terminating signal's handler holds it.
#[derive(Debug)]
pub struct Stopper(watch::Sender<bool>);

impl Stopper {
    /// A new stopper and the [`Stop`] its relays watch.
    pub fn new() -> (Stopper, Stop) {
        let (tx, rx) = watch::channel(false);
        (Stopper(tx), Stop(Some(rx)))
    }

    /// Asks every relay watching this stopper's [`Stop`] to stop reading, write out what it
    /// has read, and end; and a forking server to stop accepting.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// A request to stop, watched by relays and servers; the default one never comes.
#[derive(Debug, Clone, Default)]
pub struct Stop(Option<watch::Receiver<bool>>);

impl Stop {
    /// Whether the stop has been asked for.
    pub fn is_requested(&self) -> bool {
        self.0.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Waits until the stop is asked for (forever, if its [`Stopper`] is dropped unused).
    pub async fn requested(&self) {
        let Some(rx) = &self.0 else {
            return std::future::pending().await;
        };
        let mut rx = rx.clone();
        if rx.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Bytes and connections counted across every relay of a run, updated as data moves, so
/// that they can be read at any time (`--statistics` on SIGUSR1, or at a signal's exit).
#[derive(Debug, Default)]
pub struct Totals {
    left_to_right: AtomicU64,
    right_to_left: AtomicU64,
    connections: AtomicU64,
    dropped: crate::endpoint::udp::DroppedDatagrams,
}

impl Totals {
    pub(crate) fn add(&self, direction: Direction, bytes: u64) {
        let counter = match direction {
            Direction::LeftToRight => &self.left_to_right,
            Direction::RightToLeft => &self.right_to_left,
        };
        counter.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// The bytes moved each way so far.
    pub fn stats(&self) -> Stats {
        Stats {
            left_to_right: self.left_to_right.load(Ordering::Relaxed),
            right_to_left: self.right_to_left.load(Ordering::Relaxed),
        }
    }

    /// The connections relayed so far, finished or not.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// The datagrams dropped so far by the run's datagram servers (sessions too far behind,
    /// peers over the cap, a full receive queue).
    pub fn dropped_datagrams(&self) -> u64 {
        self.dropped.count()
    }

    pub(crate) fn drop_counter(&self) -> crate::endpoint::udp::DroppedDatagrams {
        self.dropped.clone()
    }
}

/// Why a relay failed: data may have been lost.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// Reading one side failed.
    #[error("reading ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Read {
        /// The direction whose source failed.
        direction: Direction,
        /// What the read gave.
        source: io::Error,
    },
    /// Writing one side failed: what had been read for it is lost.
    #[error("writing ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Write {
        /// The direction whose sink failed.
        direction: Direction,
        /// What the write gave.
        source: io::Error,
    },
    /// No direction can move data: a side cannot be read or written the way the relay
    /// needs (why is the text).
    #[error("nothing to relay: {0}")]
    NoDirection(String),
}

pub(crate) fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::LeftToRight => "first address to second",
        Direction::RightToLeft => "second address to first",
    }
}

/// Bytes moved, per direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes from the first address to the second.
    pub left_to_right: u64,
    /// Bytes from the second address to the first.
    pub right_to_left: u64,
}

/// How the relay ended when nothing went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Both directions reached EOF.
    Eof,
    /// One direction reached EOF and the other was cut off after the linger time.
    Linger,
    /// No data moved for the inactivity timeout.
    Inactive,
    /// A [`Stop`] was asked for: reading stopped, and what had been read was written out
    /// (or the drain grace ran out).
    Stopped,
}

/// When data last moved, shared by both directions.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Relays between two connections until both directions end, or the linger or inactivity
/// timeout ends it. Returns the bytes moved each way, or the first error.
pub async fn relay(
    left: Connection,
    right: Connection,
    config: &RelayConfig,
) -> Result<(Stats, Ending), RelayError> {
    let Connection {
        reader: left_reader,
        writer: left_writer,
        data: left_data,
        ..
    } = left;
    let Connection {
        reader: right_reader,
        writer: right_writer,
        data: right_data,
        ..
    } = right;
    let mut pumps = Vec::with_capacity(2);
    if config.directions != Directions::RightToLeft {
        if let (Some(reader), Some(writer)) = (left_reader, right_writer) {
            let endings = LineEndings {
                strip_cr: left_data.read_crnl,
                add_cr: right_data.write_crnl,
            };
            let pump = Pump::new(
                Direction::LeftToRight,
                reader,
                writer,
                endings,
                left_data.ignore_eof,
                config,
            );
            pumps.push(pump);
        }
    }
    if config.directions != Directions::LeftToRight {
        if let (Some(reader), Some(writer)) = (right_reader, left_writer) {
            let endings = LineEndings {
                strip_cr: right_data.read_crnl,
                add_cr: left_data.write_crnl,
            };
            let pump = Pump::new(
                Direction::RightToLeft,
                reader,
                writer,
                endings,
                right_data.ignore_eof,
                config,
            );
            pumps.push(pump);
        }
    }
    run_pumps(pumps, config).await
}

/// Serves a connection by writing back everything it reads: the echo server's endpoint.
pub async fn echo(
    connection: Connection,
    config: &RelayConfig,
) -> Result<(Stats, Ending), RelayError> {
    let (Some(reader), Some(writer)) = (connection.reader, connection.writer) else {
        return Err(RelayError::NoDirection(format!(
            "{} cannot be both read and written",
            connection.description
        )));
    };
    let mut pump = Pump::new(
        Direction::LeftToRight,
        reader,
        writer,
        LineEndings::default(),
        false,
        config,
    );
    pump.echoes();
    let (mut stats, ending) = run_pumps(vec![pump], config).await?;
    // Every byte read was written back.
    stats.right_to_left = stats.left_to_right;
    Ok((stats, ending))
}

async fn run_pumps(
    mut pumps: Vec<Pump>,
    config: &RelayConfig,
) -> Result<(Stats, Ending), RelayError> {
    if pumps.is_empty() {
        return Err(RelayError::NoDirection(
            "neither address can be read while the other is written (check -u/-U and read-only or write-only addresses)"
                .to_owned(),
        ));
    }
    let counters: Vec<(Direction, Arc<AtomicU64>)> = pumps
        .iter()
        .map(|p| (p.direction, p.bytes.clone()))
        .collect();
    let activity = Activity::new();
    let dump = config.dump.as_deref();
    let directions: Vec<Direction> = pumps.iter().map(|p| p.direction).collect();
    let mut rules = ending::Rules::new(config.linger, config.inactivity, &directions);
    let ending = {
        let mut second = None;
        let mut iter = pumps.iter_mut();
        let mut first = iter.next().map(|p| Box::pin(p.run(&activity, dump)));
        if let Some(p) = iter.next() {
            second = Some(Box::pin(p.run(&activity, dump)));
        }
        loop {
            let wake = rules.deadline(activity.last());
            let finished = tokio::select! {
                result = poll_some(&mut first), if first.is_some() => {
                    result?;
                    first = None;
                    Some(directions[0])
                }
                result = poll_some(&mut second), if second.is_some() => {
                    result?;
                    second = None;
                    Some(directions[1])
                }
                () = config.stop.requested(), if !rules.is_stopping() => {
                    // Each direction sees the stop itself and ends once it has written out
                    // what it read; the drain grace bounds how long that may take.
                    rules.stop(Instant::now(), config.drain_grace);
                    None
                }
                () = sleep_until_or_forever(wake) => None,
            };
            let now = Instant::now();
            if let Some(direction) = finished {
                if let Some(ending) = rules.finished(direction, now) {
                    break ending;
                }
            }
            if let Some(ending) = rules.check(now, activity.last()) {
                log_cut(ending, &rules, config);
                break ending;
            }
        }
    };
    let mut stats = Stats::default();
    for (direction, bytes) in counters {
        match direction {
            Direction::LeftToRight => stats.left_to_right = bytes.load(Ordering::Relaxed),
            Direction::RightToLeft => stats.right_to_left = bytes.load(Ordering::Relaxed),
        }
    }
    Ok((stats, ending))
}

/// Says why the relay ends while a direction still runs: after `-t` its data may have been
/// still to come, and after a stop its writes may not have finished.
fn log_cut(ending: Ending, rules: &ending::Rules, config: &RelayConfig) {
    let running = rules
        .running()
        .iter()
        .map(|d| direction_name(*d))
        .collect::<Vec<_>>()
        .join(" and ");
    match (ending, config.linger) {
        (Ending::Linger, Linger::For(linger)) => tracing::info!(
            "{running}: nothing for {}s after the other direction's EOF (-t): ending the relay; \
             what it sends from now on is not relayed",
            linger.as_secs_f64()
        ),
        (Ending::Inactive, _) => tracing::info!(
            "no data for {}s: ending the relay",
            config.inactivity.unwrap_or_default().as_secs_f64()
        ),
        (Ending::Stopped, _) => tracing::warn!(
            "{running}: still writing {}s after the stop: what it had read and not written is lost",
            config.drain_grace.as_secs_f64()
        ),
        _ => {}
    }
}

/// Awaits the future in `slot`; the caller only polls this while the slot is full.
async fn poll_some<F: std::future::Future + Unpin>(slot: &mut Option<F>) -> F::Output {
    match slot.as_mut() {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
