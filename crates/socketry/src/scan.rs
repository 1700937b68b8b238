//! Which TCP ports of a host accept connections, as `nc -z` tells: a port list
//! (`1-1024,8080`) parsed once into [`Ports`], and [`scan`], which tries them concurrently with
//! a bound and a timeout per attempt, and reports each open port in ascending order.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// A set of ports, as given: single ports and inclusive ranges, in order, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ports(Vec<u16>);

/// A port list that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortsError {
    /// An item that is neither a port in 1-65535 nor a range of two.
    #[error(
        "{} is not a port or a range (expected 1-65535 or LOW-HIGH, e.g. 1-1024,8080)",
        in_list(item, list)
    )]
    Item {
        /// The whole list as given.
        list: String,
        /// The item that is wrong.
        item: String,
    },
    /// A range whose first port is above its last.
    #[error("range {} runs backwards (expected LOW-HIGH)", in_list(item, list))]
    Backwards {
        /// The whole list as given.
        list: String,
        /// The range that is wrong.
        item: String,
    },
}

/// `"ITEM" in "LIST"`, or only `"ITEM"` when the list is that one item.
fn in_list(item: &str, list: &str) -> String {
    if item == list {
        format!("\"{item}\"")
    } else {
        format!("\"{item}\" in \"{list}\"")
    }
}

impl FromStr for Ports {
    type Err = PortsError;

    fn from_str(list: &str) -> Result<Ports, PortsError> {
        let bad = |item: &str| PortsError::Item {
            list: list.to_owned(),
            item: item.to_owned(),
        };
        let port = |text: &str, item: &str| {
            text.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(item))
        };
        let mut seen = vec![false; usize::from(u16::MAX) + 1];
        let mut ports = Vec::new();
        for item in list.split(',') {
            let (low, high) = match item.split_once('-') {
                Some((low, high)) => (port(low, item)?, port(high, item)?),
                None => {
                    let p = port(item, item)?;
                    (p, p)
                }
            };
            if low > high {
                return Err(PortsError::Backwards {
                    list: list.to_owned(),
                    item: item.to_owned(),
                });
            }
            for p in low..=high {
                if !std::mem::replace(&mut seen[usize::from(p)], true) {
                    ports.push(p);
                }
            }
        }
        Ok(Ports(ports))
    }
}

impl Ports {
    /// The ports in the order the list gave them, each once.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().copied()
    }

    /// How many distinct ports the list names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the list names no port (never, for a list that parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How a scan runs.
#[derive(Debug, Clone, Copy)]
pub struct ScanConfig {
    /// At most this many connection attempts at once.
    pub concurrency: usize,
    /// How long one attempt may take before the port counts as closed.
    pub timeout: Duration,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            concurrency: 100,
            timeout: Duration::from_secs(1),
        }
    }
}

/// What one port said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// A TCP connection was established (and closed again at once).
    Open,
    /// Refused, unreachable, or no answer within the timeout.
    Closed,
}

/// One port's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The host's address and the port tried.
    pub address: SocketAddr,
    /// What the attempt found.
    pub state: PortState,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            PortState::Open => "open",
            PortState::Closed => "closed",
        };
        write!(f, "{} {state}", self.address)
    }
}

/// Tries every port of `ip`, at most `config.concurrency` at once; `report` is called for
/// each port in ascending order of the list as soon as it and all before it are known.
pub async fn scan(
    ip: std::net::IpAddr,
    ports: &Ports,
    config: ScanConfig,
    mut report: impl FnMut(Probe),
) -> Vec<Probe> {
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (index, port) in ports.iter().enumerate() {
        let slots = slots.clone();
        let address = SocketAddr::new(ip, port);
        tasks.spawn(async move {
            let _permit = slots.acquire_owned().await;
            let state =
                match tokio::time::timeout(config.timeout, TcpStream::connect(address)).await {
                    Ok(Ok(_)) => PortState::Open,
                    _ => PortState::Closed,
                };
            (index, Probe { address, state })
        });
    }
    let mut results: Vec<Option<Probe>> = vec![None; ports.len()];
    let mut next = 0;
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, probe)) = done {
            results[index] = Some(probe);
        }
        while let Some(Some(probe)) = results.get(next) {
            report(*probe);
            next += 1;
        }
    }
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let ports: Ports = "1-3,8080,2,10-10".parse().unwrap();
        assert_eq!(ports.iter().collect::<Vec<_>>(), vec![1, 2, 3, 8080, 10]);
        assert_eq!("65535".parse::<Ports>().unwrap().len(), 1);
        assert_eq!("1-65535".parse::<Ports>().unwrap().len(), 65535);
    }

    #[test]
    fn rejects_what_is_not_a_port() {
        let cases = [
            ("0", "\"0\" is not a port or a range"),
            ("70000", "\"70000\" is not a port or a range"),
            ("1,,2", "\"\" in \"1,,2\" is not a port or a range"),
            ("http", "\"http\" is not a port"),
            ("20-10", "range \"20-10\" runs backwards"),
            ("22,20-10", "range \"20-10\" in \"22,20-10\" runs backwards"),
            ("1-2-3", "\"1-2-3\" is not a port or a range"),
        ];
        for (text, want) in cases {
            let err = text.parse::<Ports>().unwrap_err().to_string();
            assert!(err.starts_with(want), "{text}: {err}");
        }
    }
}
