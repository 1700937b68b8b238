//! How a relay runs: buffer and splice sizes, the linger and inactivity rules, which
//! directions move, the dump, and the stop that ends it early.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::dump::Dump;
use super::outcome::Totals;

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
    /// Both ways (the default).
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
    /// Which directions move data (`-u`, `-U`).
    pub directions: Directions,
    /// Dump transferred data (`-v`, `-x`).
    pub dump: Option<Arc<Dump>>,
    /// Copy each direction's raw bytes to a file of its own per relay (`-r`, `-R`).
    pub raw_dumps: super::raw_dump::RawDumps,
    /// Log both endpoints before the transfer starts (`-D`).
    pub log_endpoints: bool,
    /// Splice where possible, or always copy.
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
            raw_dumps: super::raw_dump::RawDumps::default(),
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
