//! SOCKS5's UDP ASSOCIATE relay (RFC 1928 section 7): a UDP socket bound to the address the
//! client reached the proxy on (never the wildcard), datagrams from the client's address
//! unwrapped and sent on, answers from the destinations it sent to wrapped and sent back.
//! The association lasts as long as the client's TCP connection.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt as _;
use tokio::net::UdpSocket;

use super::request::{Destination, Host};
use super::rules::{admitted, DestinationRule};
use super::socks::{udp_datagram, udp_datagram_to_client};
use crate::channel::ByteReader;

/// How many distinct destinations one association remembers as allowed to answer; past it,
/// the oldest are not forgotten but new ones are refused, so memory stays bounded.
const MAX_DESTINATIONS: usize = 1024;

/// The largest datagram relayed.
const MAX_DATAGRAM: usize = 65535;

/// How long resolving one datagram's destination name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// What an association moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpTraffic {
    /// Datagrams from the client relayed on.
    pub datagrams_up: u64,
    /// Their payload bytes.
    pub bytes_up: u64,
    /// Datagrams relayed back to the client.
    pub datagrams_down: u64,
    /// Their payload bytes.
    pub bytes_down: u64,
    /// Datagrams dropped: from elsewhere, malformed, fragmented, or to a denied destination.
    pub dropped: u64,
}

/// Binds the client-facing socket on `local`, the address the client's TCP connection
/// reached.
pub async fn bind(local: IpAddr) -> io::Result<UdpSocket> {
    UdpSocket::bind(SocketAddr::new(local.to_canonical(), 0)).await
}

async fn receive_on(socket: &Option<UdpSocket>, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    match socket {
        Some(socket) => socket.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// Where the client said it would send from: a full address pins it, zeros leave it to the
/// first datagram.
fn announced(expected: &Destination) -> (Option<IpAddr>, Option<u16>) {
    let ip = match expected.host {
        Host::Ip(ip) if !ip.is_unspecified() => Some(ip.to_canonical()),
        _ => None,
    };
    let port = (expected.port != 0).then_some(expected.port);
    (ip, port)
}

/// Relays between the client and its destinations until the control connection ends.
pub async fn relay(
    facing: UdpSocket,
    control: &mut ByteReader,
    client_ip: IpAddr,
    expected: &Destination,
    rules: &[DestinationRule],
) -> io::Result<UdpTraffic> {
    let client_ip = client_ip.to_canonical();
    let (announced_ip, announced_port) = announced(expected);
    let mut client: Option<SocketAddr> = None;
    let mut v4: Option<UdpSocket> = None;
    let mut v6: Option<UdpSocket> = None;
    let mut answering: HashSet<SocketAddr> = HashSet::new();
    let mut traffic = UdpTraffic::default();
    let mut from_client = vec![0; MAX_DATAGRAM];
    let mut from_v4 = vec![0; MAX_DATAGRAM];
    let mut from_v6 = vec![0; MAX_DATAGRAM];
    let mut control_buf = [0; 512];
    loop {
        tokio::select! {
            read = control.read(&mut control_buf) => match read {
                // The association ends with its TCP connection; anything sent on it is not
                // part of the protocol and is ignored.
                Ok(0) | Err(_) => return Ok(traffic),
                Ok(_) => {}
            },
            received = facing.recv_from(&mut from_client) => {
                let (n, from) = received?;
                let from = canonical(from);
                let from_the_client = from.ip() == client_ip
                    && announced_ip.is_none_or(|ip| ip == from.ip())
                    && announced_port.is_none_or(|port| port == from.port())
                    && client.is_none_or(|c| c == from);
                if !from_the_client {
                    traffic.dropped += 1;
                    continue;
                }
                client = Some(from);
                let Some(target) = unwrap_datagram(&from_client[..n], rules, &mut traffic).await else {
                    continue;
                };
                let (header_len, to) = target;
                let socket = match to {
                    SocketAddr::V4(_) => &mut v4,
                    SocketAddr::V6(_) => &mut v6,
                };
                if socket.is_none() {
                    let unspecified: IpAddr = match to {
                        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
                    };
                    *socket = Some(UdpSocket::bind(SocketAddr::new(unspecified, 0)).await?);
                }
                let Some(socket) = socket.as_ref() else { continue };
                if !answering.contains(&to) {
                    if answering.len() >= MAX_DESTINATIONS {
                        traffic.dropped += 1;
                        continue;
                    }
                    answering.insert(to);
                }
                let payload = &from_client[header_len..n];
                match socket.send_to(payload, to).await {
                    Ok(_) => {
                        traffic.datagrams_up += 1;
                        traffic.bytes_up += payload.len() as u64;
                    }
                    Err(e) => {
                        tracing::debug!("UDP ASSOCIATE: sending to {to}: {e}");
                        traffic.dropped += 1;
                    }
                }
            },
            received = receive_on(&v4, &mut from_v4) => {
                let (n, from) = received?;
                answer(&facing, client, canonical(from), &from_v4[..n], &answering, &mut traffic).await;
            },
            received = receive_on(&v6, &mut from_v6) => {
                let (n, from) = received?;
                answer(&facing, client, canonical(from), &from_v6[..n], &answering, &mut traffic).await;
            },
        }
    }
}

/// Parses a client's datagram and finds where it goes: the header's length and the
/// destination's address, or `None` when it is dropped.
async fn unwrap_datagram(
    datagram: &[u8],
    rules: &[DestinationRule],
    traffic: &mut UdpTraffic,
) -> Option<(usize, SocketAddr)> {
    let (header, start) = match udp_datagram(datagram) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::debug!("UDP ASSOCIATE: dropping a datagram: {e}");
            traffic.dropped += 1;
            return None;
        }
    };
    // Reassembly is optional (RFC 1928): fragments are dropped.
    if header.fragment != 0 {
        traffic.dropped += 1;
        return None;
    }
    let port = header.destination.port;
    let candidates: Vec<SocketAddr> = match &header.destination.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, port)],
        Host::Name(name) => {
            match tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await
            {
                Ok(Ok(found)) => found.collect(),
                _ => Vec::new(),
            }
        }
    };
    let to = candidates
        .into_iter()
        .map(canonical)
        .find(|a| a.port() != 0 && admitted(rules, a.ip(), a.port()));
    match to {
        Some(to) => Some((start, to)),
        None => {
            tracing::debug!(
                "UDP ASSOCIATE: dropping a datagram to {}: not resolved, or not allowed by --to",
                header.destination
            );
            traffic.dropped += 1;
            None
        }
    }
}

async fn answer(
    facing: &UdpSocket,
    client: Option<SocketAddr>,
    from: SocketAddr,
    payload: &[u8],
    answering: &HashSet<SocketAddr>,
    traffic: &mut UdpTraffic,
) {
    let Some(client) = client.filter(|_| answering.contains(&from)) else {
        traffic.dropped += 1;
        return;
    };
    let datagram = udp_datagram_to_client(from, payload);
    match facing.send_to(&datagram, client).await {
        Ok(_) => {
            traffic.datagrams_down += 1;
            traffic.bytes_down += payload.len() as u64;
        }
        Err(e) => {
            tracing::debug!("UDP ASSOCIATE: sending to the client {client}: {e}");
            traffic.dropped += 1;
        }
    }
}
