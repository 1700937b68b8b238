//! The engine that moves data between two endpoints, socat's way.
//!
//! Each direction is a [`direction::Pump`]. When one direction reaches EOF it shuts down the
//! other side's writing half, and the other direction keeps flowing; the relay ends when both
//! are done, or `linger` after the first one finished (`-t`), or after `inactivity` with no
//! data either way (`-T`). Each direction moves one unit at a time (a buffer of
//! `buffer_size` bytes, or a pipe's worth when splicing) and writes all of it before reading
//! the next, so memory is bounded and a slow writer slows the reader. A direction borrows its
//! buffer or pipe only while data moves (see [`direction`]), so idle connections are cheap.
//! [`serve`] opens the addresses, including listeners that serve every peer with `fork`.

pub mod direction;
pub mod dump;
mod pool;
pub mod serve;

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// What happens after the first direction reaches EOF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linger {
    /// The other direction may go on this long (`-t`), then the relay ends.
    For(Duration),
    /// netcat's way: after the first address's EOF, wait as long as the second keeps sending;
    /// when the second address closes, end at once.
    UntilSecondCloses,
}

impl Default for Linger {
    fn default() -> Self {
        Linger::For(DEFAULT_LINGER)
    }
}

/// Which directions a relay moves data in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directions {
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
    /// After one direction's EOF, how long the other may go on (`-t`).
    pub linger: Linger,
    /// End the relay after this long with no data either way (`-T`).
    pub inactivity: Option<Duration>,
    pub directions: Directions,
    /// Dump transferred data (`-v`, `-x`).
    pub dump: Option<Arc<Dump>>,
    /// Log both endpoints before the transfer starts (`-D`).
    pub log_endpoints: bool,
    pub transfer: Transfer,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            buffer_size: DEFAULT_BUFFER_SIZE,
            linger: Linger::default(),
            inactivity: None,
            directions: Directions::Both,
            dump: None,
            log_endpoints: false,
            transfer: Transfer::default(),
        }
    }
}

/// Why a relay failed: data may have been lost.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    #[error("reading ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Read {
        direction: Direction,
        source: io::Error,
    },
    #[error("writing ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Write {
        direction: Direction,
        source: io::Error,
    },
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
    pub left_to_right: u64,
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
    let pump = Pump::new(
        Direction::LeftToRight,
        reader,
        writer,
        LineEndings::default(),
        false,
        config,
    );
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
    let started = pumps.len();
    let directions: Vec<Direction> = pumps.iter().map(|p| p.direction).collect();
    let ending = {
        let mut second = None;
        let mut iter = pumps.iter_mut();
        let first = iter.next().map(|p| Box::pin(p.run(&activity, dump)));
        if let Some(p) = iter.next() {
            second = Some(Box::pin(p.run(&activity, dump)));
        }
        let mut first = first;
        let mut linger_deadline: Option<Instant> = None;
        let mut finished_first: Option<Direction> = None;
        loop {
            let idle_deadline = config.inactivity.map(|t| activity.last() + t);
            let wake = match (linger_deadline, idle_deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                result = poll_some(&mut first), if first.is_some() => {
                    result?;
                    first = None;
                    finished_first.get_or_insert(directions[0]);
                }
                result = poll_some(&mut second), if second.is_some() => {
                    result?;
                    second = None;
                    finished_first.get_or_insert(directions[1]);
                }
                () = sleep_until_or_forever(wake) => {
                    let now = Instant::now();
                    if linger_deadline.is_some_and(|d| now >= d) {
                        break Ending::Linger;
                    }
                    if idle_deadline.is_some_and(|d| now >= d) && config.inactivity.is_some_and(|t| activity.last() + t <= now) {
                        tracing::info!("no data for {}s: ending the relay", config.inactivity.unwrap_or_default().as_secs_f64());
                        break Ending::Inactive;
                    }
                }
            }
            let running = usize::from(first.is_some()) + usize::from(second.is_some());
            if running == 0 {
                break Ending::Eof;
            }
            if running < started && linger_deadline.is_none() {
                match (config.linger, finished_first) {
                    (Linger::For(t), _) => linger_deadline = Some(Instant::now() + t),
                    (Linger::UntilSecondCloses, Some(Direction::RightToLeft)) => {
                        break Ending::Linger
                    }
                    (Linger::UntilSecondCloses, _) => {}
                }
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
