//! What one connection of a server did: the bytes it moved each way, and when data last
//! moved (its idle deadline). Below the servers that count them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Bytes moved through one connection, as its peer sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes received from the peer.
    pub bytes_in: u64,
    /// Bytes sent to the peer.
    pub bytes_out: u64,
}

/// One connection's view of when data last moved, and the idle deadline that follows.
#[derive(Debug)]
pub(crate) struct Idle {
    limit: Option<Duration>,
    start: Instant,
    last_ms: AtomicU64,
}

impl Idle {
    pub(crate) fn new(limit: Option<Duration>) -> Idle {
        Idle {
            limit,
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing moved for the limit; never, without one.
    pub(crate) async fn expired(&self) {
        let Some(limit) = self.limit else {
            return std::future::pending().await;
        };
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let deadline = last + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}
