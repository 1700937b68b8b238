#![allow(clippy::unwrap_used)]
//! The default session limits: the session cap of forking datagram servers (UDP-LISTEN ends the
//! session idle the longest, UDP-RECVFROM the oldest, both logged; `max-children` sets
//! another cap), and the warning a forking connection listener gives once as its
//! connections near the descriptor limit.
//!
//! Each socketry runs under `prlimit`, so its descriptor limit is the test's choice and not
//! the machine's.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::net::UnixListener;
use std::process::Command;

use common::{bin, tempdir, Proc, WAIT};

/// The cap socketry documents for forking datagram servers without max-children.
const DEFAULT_SESSION_CAP: usize = 1024;

/// socketry with `args`, allowed `files` open descriptors.
fn spawn_limited(files: u32, args: &[&str]) -> Proc {
    Proc::spawn_with(
        Command::new("prlimit")
            .arg(format!("--nofile={files}"))
            .arg("--")
            .arg(bin())
            .args(args),
    )
}

fn peer() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn echo(socket: &UdpSocket, to: SocketAddr, msg: &[u8]) {
    socket.send_to(msg, to).unwrap();
    let mut buf = [0; 64];
    let (n, from) = socket
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no echo of {msg:?} within {WAIT:?}: {e}"));
    assert_eq!((&buf[..n], from), (msg, to));
}

#[test]
fn udp_listen_at_the_default_cap_ends_the_session_idle_the_longest() {
    let mut relay = spawn_limited(
        4096,
        &["-d", "UDP-LISTEN:0,bind=127.0.0.1,fork", "SOCKETPAIR"],
    );
    let port = relay.listening_port();
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let first = peer();
    echo(&first, server, b"first");
    let mut others = Vec::new();
    for _ in 1..DEFAULT_SESSION_CAP {
        let other = peer();
        echo(&other, server, b"other");
        others.push(other);
    }
    // The first peer speaks again: the second is now the one idle the longest.
    echo(&first, server, b"again");
    let late = peer();
    echo(&late, server, b"late");
    let idlest = others[0].local_addr().unwrap();
    let line = relay.wait_log(&format!("ending UDP session with {idlest}, quiet for "));
    assert!(
        line.ends_with(&format!(
            "s: {DEFAULT_SESSION_CAP} sessions open, the default cap (max-children sets another)"
        )),
        "{line}"
    );
    relay.wait_log(&format!("connection UDP session with {idlest} done"));
    assert_eq!(
        relay
            .wait_log_count("ending UDP session with", 1)
            .iter()
            .filter(|l| l.contains("ending UDP session with"))
            .count(),
        1
    );
    // The rest keep their sessions: one still echoes, and so does the first.
    echo(&others[1], server, b"still here");
    echo(&first, server, b"and me");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
}

#[test]
fn udp_listen_with_max_children_refuses_instead_of_evicting() {
    let mut relay = spawn_limited(
        64,
        &[
            "-d",
            "UDP-LISTEN:0,bind=127.0.0.1,fork,max-children=2",
            "SOCKETPAIR",
        ],
    );
    let port = relay.listening_port();
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let (a, b, c) = (peer(), peer(), peer());
    echo(&a, server, b"a");
    echo(&b, server, b"b");
    c.send_to(b"c", server).unwrap();
    relay.wait_log(&format!(
        ": dropped 1 datagrams: 1 from new peers, 2 sessions open (max-children), the last from {}",
        c.local_addr().unwrap()
    ));
    echo(&a, server, b"a again");
    echo(&b, server, b"b again");
    let out = relay.terminate();
    assert!(!out.stderr.contains("ending UDP session"), "{}", out.stderr);
}

/// Every UDP-RECVFROM datagram is a session; held open by a second address nobody answers
/// (a Unix listener that never accepts), they reach the cap, and the next ends the oldest.
#[test]
fn udp_recvfrom_at_the_default_cap_ends_the_oldest_session() {
    let dir = tempdir();
    let path = dir.path().join("held");
    let held = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    held.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    held.listen(4096).unwrap();
    let held = UnixListener::from(std::os::fd::OwnedFd::from(held));
    let mut relay = spawn_limited(
        4096,
        &[
            "-d",
            "-t",
            "60",
            "UDP-RECVFROM:0,bind=127.0.0.1,fork",
            &format!("UNIX-CONNECT:{}", path.display()),
        ],
    );
    let port = relay.listening_port();
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let oldest = peer();
    let rest = peer();
    oldest.send_to(b"oldest", server).unwrap();
    relay.wait_log("starting data transfer loop");
    // One at a time: a burst would overflow the socket's receive queue.
    for started in 2..=DEFAULT_SESSION_CAP {
        rest.send_to(b"rest", server).unwrap();
        relay.wait_log_count("starting data transfer loop", started);
    }
    rest.send_to(b"one more", server).unwrap();
    let line = relay.wait_log("ending the oldest session");
    assert_eq!(
        line.split_once("] W ").map(|(_, m)| m),
        Some(
            format!(
                "ending the oldest session, UDP-RECVFROM 127.0.0.1:{port} <- {}: {DEFAULT_SESSION_CAP} sessions open on UDP-RECVFROM 127.0.0.1:{port}, the default cap (max-children sets another)",
                oldest.local_addr().unwrap()
            )
            .as_str()
        )
    );
    relay.wait_log_count("starting data transfer loop", DEFAULT_SESSION_CAP + 1);
    let out = relay.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("ending the oldest session").count(),
        1,
        "{}",
        out.stderr
    );
    drop(held);
}

/// With 64 descriptors allowed, a few dozen connections (each with its second endpoint, and
/// the runtime's own descriptors besides) come past four fifths of the limit, which is said
/// once, before accepting runs out.
#[test]
fn tcp_listen_fork_warns_once_near_the_descriptor_limit() {
    let dir = tempdir();
    let path = dir.path().join("held");
    let held = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None).unwrap();
    held.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    held.listen(4096).unwrap();
    let mut relay = spawn_limited(
        64,
        &[
            "-d",
            "TCP-LISTEN:0,bind=127.0.0.1,fork",
            &format!("UNIX-CONNECT:{}", path.display()),
        ],
    );
    let port = relay.listening_port();
    let mut clients = Vec::new();
    let warning = loop {
        clients.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        let seen = relay.wait_log_count("starting data transfer loop", clients.len());
        assert!(
            !seen.iter().any(|l| l.contains("Too many open files")),
            "ran out of descriptors before any warning:\n{}",
            seen.join("\n")
        );
        if let Some(line) = seen
            .iter()
            .find(|l| l.contains("descriptors this process may open"))
        {
            break line.clone();
        }
    };
    let (_, message) = warning.split_once("] W ").unwrap();
    let (count, rest) = message.split_once(" connections open on ").unwrap();
    let open = count.parse::<usize>().unwrap();
    // The warning follows the accept, and may come out after that session's own line: the
    // test may have connected one more by the time it sees it.
    assert!(
        open == clients.len() || open + 1 == clients.len(),
        "{} connected: {warning}",
        clients.len()
    );
    let used: u64 = rest
        .strip_prefix(&format!(
            "TCP-LISTEN 127.0.0.1:{port}, with the process's own, use at least "
        ))
        .and_then(|r| r.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{warning}"));
    assert!(
        (52..64).contains(&used) && used >= 2 * open as u64,
        "{warning}"
    );
    assert!(
        rest.ends_with(
            " of the 64 descriptors this process may open (ulimit -n): beyond it new peers wait (max-children caps them)"
        ),
        "{warning}"
    );
    // Two more connections: no second warning.
    for _ in 0..2 {
        clients.push(std::net::TcpStream::connect(("127.0.0.1", port)).unwrap());
        relay.wait_log_count("starting data transfer loop", clients.len());
    }
    drop(clients);
    let out = relay.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert_eq!(
        out.stderr
            .matches("descriptors this process may open")
            .count(),
        1,
        "{}",
        out.stderr
    );
}
