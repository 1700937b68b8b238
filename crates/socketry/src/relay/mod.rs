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
//! [`crate::serve`] opens the addresses, including listeners that serve every peer with
//! `fork`, and relays with this engine.

mod config;
pub mod direction;
pub mod dump;
mod ending;
mod outcome;
mod pool;
pub mod raw_dump;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::time::Instant;

pub use config::{
    Directions, Linger, RelayConfig, Stop, Stopper, Transfer, DEFAULT_BUFFER_SIZE,
    DEFAULT_DRAIN_GRACE, DEFAULT_LINGER, DEFAULT_SPLICE_SIZE,
};
pub use direction::{Ends, LineEndings};
pub use dump::{Dump, DumpFormat};
pub use outcome::{Direction, Ending, RelayError, Stats, Totals};
pub use raw_dump::{PathTemplate, RawDumps};

use crate::endpoint::{Connection, DataOptions};
use direction::{Activity, Pump};
use outcome::direction_name;

/// Relays between two connections until both directions end, or the linger or inactivity
/// timeout ends it. Returns the bytes moved each way, or the first error.
///
/// The directions are set up before the returned future first runs, and the future holds
/// the connections once: every relayed connection keeps this future for its lifetime, so
/// its size is what an idle connection costs.
pub fn relay<'a>(
    mut left: Connection,
    mut right: Connection,
    config: &'a RelayConfig,
) -> impl std::future::Future<Output = Result<(Stats, Ending), RelayError>> + 'a {
    let pumps = pumps(&mut left, &mut right, config);
    async move {
        let result = run_pumps(pumps?, config).await;
        // What else the connections own (files, programs, terminal settings) lives until
        // the relay is over.
        drop((left, right));
        result
    }
}

/// The pumps of a relay between `left` and `right`, which keep what else they own.
fn pumps(
    left: &mut Connection,
    right: &mut Connection,
    config: &RelayConfig,
) -> Result<Vec<Pump>, RelayError> {
    let session = raw_dump::Session {
        started: std::time::SystemTime::now(),
        addresses: left.addresses,
        program_name: &config.raw_dumps.program_name,
    };
    let left_fds = source_descriptors(left);
    let right_fds = source_descriptors(right);
    let (left_data, right_data) = (left.data, right.data);
    let mut pumps = Vec::with_capacity(2);
    if config.directions != Directions::RightToLeft {
        if let (Some(reader), Some(writer)) = (left.reader.take(), right.writer.take()) {
            let endings = LineEndings {
                strip_cr: left_data.read_crnl,
                add_cr: right_data.write_crnl,
            };
            let mut pump = Pump::new(
                Direction::LeftToRight,
                reader,
                writer,
                endings,
                ends(left_data, right_data),
                config,
            );
            pump.source_descriptor(left_fds);
            pump.dump_raw(open_raw_dump(config, Direction::LeftToRight, &session)?);
            pumps.push(pump);
        }
    }
    if config.directions != Directions::LeftToRight {
        if let (Some(reader), Some(writer)) = (right.reader.take(), left.writer.take()) {
            let endings = LineEndings {
                strip_cr: right_data.read_crnl,
                add_cr: left_data.write_crnl,
            };
            let mut pump = Pump::new(
                Direction::RightToLeft,
                reader,
                writer,
                endings,
                ends(right_data, left_data),
                config,
            );
            pump.source_descriptor(right_fds);
            pump.dump_raw(open_raw_dump(config, Direction::RightToLeft, &session)?);
            pumps.push(pump);
        }
    }
    Ok(pumps)
}

/// The descriptor a connection is read from, if it has one of its own.
fn source_descriptors(connection: &Connection) -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    let from_reader = connection
        .reader
        .as_ref()
        .and_then(|reader| reader.descriptor())
        .and_then(|descriptor| descriptor.fd())
        .map(|fd| fd.as_raw_fd());
    from_reader.or_else(|| connection.direct_descriptors().and_then(|(read, _)| read))
}

/// The raw dump file of `direction` for this relay, if `-r` or `-R` asks for one.
fn open_raw_dump(
    config: &RelayConfig,
    direction: Direction,
    session: &raw_dump::Session<'_>,
) -> Result<Option<(String, std::fs::File)>, RelayError> {
    match config.raw_dumps.open(direction, session) {
        Ok(opened) => Ok(opened.map(|(path, file)| (raw_dump::shown(&path), file))),
        Err((path, source)) => Err(RelayError::RawDump {
            direction,
            path: raw_dump::shown(&path),
            source,
        }),
    }
}

/// The ends of the direction that reads `source` and writes `destination`.
fn ends(source: DataOptions, destination: DataOptions) -> Ends {
    Ends {
        ignore_eof: source.ignore_eof,
        escape: source.escape,
        null_eof: source.null_eof,
        shut: destination.shut,
        cool_write: destination.cool_write,
    }
}

/// Serves a connection by writing back everything it reads: the echo server's endpoint.
/// Set up before the future first runs, like [`relay`].
pub fn echo<'a>(
    mut connection: Connection,
    config: &'a RelayConfig,
) -> impl std::future::Future<Output = Result<(Stats, Ending), RelayError>> + 'a {
    let fd = source_descriptors(&connection);
    let pump = match (connection.reader.take(), connection.writer.take()) {
        (Some(reader), Some(writer)) => {
            let mut pump = Pump::new(
                Direction::LeftToRight,
                reader,
                writer,
                LineEndings::default(),
                Ends::default(),
                config,
            );
            pump.echoes();
            pump.source_descriptor(fd);
            Ok(pump)
        }
        _ => Err(RelayError::NoDirection(format!(
            "{} cannot be both read and written",
            connection.description
        ))),
    };
    async move {
        let (mut stats, ending) = run_pumps(vec![pump?], config).await?;
        drop(connection);
        // Every byte read was written back.
        stats.right_to_left = stats.left_to_right;
        Ok((stats, ending))
    }
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A connection over one end of a Unix socket pair, and the other end.
    pub(crate) fn socket_connection() -> (Connection, tokio::net::UnixStream) {
        let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
        let connection = crate::endpoint::stream::stream_connection(ours, "test".to_owned());
        (connection, theirs)
    }

    /// Every relayed connection holds its relay's future for as long as it lasts: its size
    /// is most of what an idle connection costs (5 KiB in all in bench/run), so it must not
    /// grow back to the 35 KiB it once reached by holding each caller's copy of both
    /// connections and the room of every address family's open.
    #[tokio::test]
    async fn a_relay_future_holds_its_connections_once() {
        let ((left, _a), (right, _b)) = (socket_connection(), socket_connection());
        let connection_size = std::mem::size_of::<Connection>();
        assert!(
            connection_size <= 384,
            "a Connection is {connection_size} bytes"
        );
        let config = RelayConfig::default();
        let future = relay(left, right, &config);
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= 2 * connection_size + 1024,
            "the relay's future is {size} bytes"
        );
    }
}
