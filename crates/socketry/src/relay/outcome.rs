//! What a relay reports: which way data moved, how many bytes, how the relay ended, and why
//! it failed. The lowest layer of the relay: the pumps, the dump and the ending rules all
//! speak of these.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sys;

/// Which way data moves, from the first address's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the first address to the second.
    LeftToRight,
    /// From the second address to the first.
    RightToLeft,
}

impl Direction {
    /// The marker socat's dumps use: `>` for left to right, `<` for right to left.
    pub fn arrow(self) -> char {
        match self {
            Direction::LeftToRight => '>',
            Direction::RightToLeft => '<',
        }
    }
}

/// Bytes and connections counted across every relay of a run, updated as data moves, so
/// that they can be read at any time (`--statistics` on SIGUSR1, or at a signal's exit).
#[derive(Debug, Default)]
pub struct Totals {
    left_to_right: AtomicU64,
    right_to_left: AtomicU64,
    /// The writes (units) each way: socat's "packets".
    writes_left_to_right: AtomicU64,
    writes_right_to_left: AtomicU64,
    connections: AtomicU64,
    dropped: crate::endpoint::udp::DroppedDatagrams,
}

impl Totals {
    pub(crate) fn add(&self, direction: Direction, bytes: u64) {
        let (counter, writes) = match direction {
            Direction::LeftToRight => (&self.left_to_right, &self.writes_left_to_right),
            Direction::RightToLeft => (&self.right_to_left, &self.writes_right_to_left),
        };
        counter.fetch_add(bytes, Ordering::Relaxed);
        writes.fetch_add(1, Ordering::Relaxed);
    }

    /// The writes made each way so far (one per unit relayed, or per splice).
    pub fn writes(&self) -> Stats {
        Stats {
            left_to_right: self.writes_left_to_right.load(Ordering::Relaxed),
            right_to_left: self.writes_right_to_left.load(Ordering::Relaxed),
        }
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
    /// Reading the source of `direction` failed.
    #[error("reading ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Read {
        /// The direction whose source failed.
        direction: Direction,
        /// What the system said.
        source: io::Error,
    },
    /// Writing the destination of `direction` failed.
    #[error("writing ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    Write {
        /// The direction whose destination failed.
        direction: Direction,
        /// What the system said.
        source: io::Error,
    },
    /// The raw dump file of a direction (`-r`, `-R`) could not be created or written.
    #[error("raw dump {path} ({}): {}", direction_name(*.direction), sys::error_text(.source))]
    RawDump {
        /// The direction dumped.
        direction: Direction,
        /// The file, as its name was expanded.
        path: String,
        /// What the system said.
        source: io::Error,
    },
    /// Neither address can be read while the other is written.
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
    /// From the first address to the second.
    pub left_to_right: u64,
    /// From the second address to the first.
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
    /// A [`Stop`](super::Stop) was asked for: reading stopped, and what had been read was
    /// written out (or the drain grace ran out).
    Stopped,
}
