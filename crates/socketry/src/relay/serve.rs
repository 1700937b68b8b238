//! Running two addresses against each other: open the first, then the second, then relay.
//! A first address that listens with `fork` serves every peer concurrently, each in its own
//! task with its own second endpoint, at most `max-children` at once.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{relay, Ending, RelayConfig, RelayError, Stats};
use crate::address::{Address, OptionId, Spec};
use crate::endpoint::{self, Connection, OpenContext, OpenError, Opened};

/// Everything a run needs besides the two addresses.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    pub relay: RelayConfig,
    pub open: OpenContext,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("{address}: {source}")]
    Open { address: String, source: OpenError },
    #[error(transparent)]
    Relay(#[from] RelayError),
    #[error("{0}")]
    Usage(String),
}

/// What the second endpoint of each relayed connection is.
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
    pub stats: Stats,
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
    if let Peer::Address(second) = peer {
        if forking_listener(second).is_some() {
            return Err(RunError::Usage(format!(
                "fork applies to the first address only; \"{second}\" is the second (swap the addresses)"
            )));
        }
    }
    let open_error = |address: &Address| {
        let address = address.to_string();
        move |source| RunError::Open { address, source }
    };
    if let Some(spec) = forking_listener(first) {
        let listener = match endpoint::open_spec(spec, &config.open)
            .await
            .map_err(open_error(first))?
        {
            Opened::Listener(listener) => listener,
            Opened::Connection(_) => {
                return Err(RunError::Usage(format!(
                    "\"{first}\": fork needs an address that accepts peers"
                )))
            }
        };
        return serve_forever(listener, first, peer, config).await;
    }
    let left = endpoint::connect(first, &config.open)
        .await
        .map_err(open_error(first))?;
    let (stats, _) = relay_with(left, peer, config).await?;
    Ok(Summary {
        stats,
        connections: 1,
    })
}

async fn relay_with(
    left: Connection,
    peer: &Peer,
    config: &RunConfig,
) -> Result<(Stats, Ending), RunError> {
    match peer {
        Peer::Echo => Ok(super::echo(left, &config.relay).await?),
        Peer::Address(second) => {
            let right = endpoint::connect(second, &config.open)
                .await
                .map_err(|source| RunError::Open {
                    address: second.to_string(),
                    source,
                })?;
            if config.relay.log_endpoints {
                for (which, end) in [("first", &left), ("second", &right)] {
                    match &end.socket_report {
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
            Ok(relay(left, right, &config.relay).await?)
        }
    }
}

async fn serve_forever(
    mut listener: endpoint::Listener,
    first: &Address,
    peer: &Peer,
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
    let mut tasks = JoinSet::new();
    let mut summary = Summary::default();
    loop {
        let permit = match &slots {
            Some(slots) => match slots.clone().acquire_owned().await {
                Ok(permit) => Some(permit),
                Err(_) => return Ok(summary),
            },
            None => None,
        };
        let connection = match listener.accept().await {
            Ok(connection) => connection,
            Err(source) => {
                tasks.shutdown().await;
                return Err(RunError::Open {
                    address: first.to_string(),
                    source,
                });
            }
        };
        let peer = peer.clone();
        let config = config.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let description = connection.description.clone();
            let result = relay_with(connection, &peer, &config).await;
            match &result {
                Ok((stats, _)) => tracing::info!(
                    "connection {description} done: {} bytes in, {} bytes out",
                    stats.left_to_right,
                    stats.right_to_left
                ),
                Err(e) => tracing::error!("connection {description}: {e}"),
            }
            result.map(|(stats, _)| stats).ok()
        });
        while let Some(done) = tasks.try_join_next() {
            summary.connections += 1;
            if let Ok(Some(stats)) = done {
                summary.stats.left_to_right += stats.left_to_right;
                summary.stats.right_to_left += stats.right_to_left;
            }
        }
    }
}
