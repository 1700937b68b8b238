#![allow(clippy::unwrap_used)]
//! Soak: thousands of forked sessions through one socketry, with TCP and with EXEC as the
//! second address, bounded in count and time, then a look at the process: every socket it
//! opened is closed again, no descriptor of another kind is left over (pipes: at most what
//! the relay's per-thread pool keeps for reuse), and no child is left a zombie. And a
//! listener out of descriptors (EMFILE) waits without spinning and serves again once they
//! come free.
//!
//! The counts reached are printed (`cargo test --test soak -- --nocapture`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Proc, WAIT};

/// Sessions per soak, unless its time runs out first.
const SESSIONS: usize = 10_000;
/// The most a soak may take.
const BUDGET: Duration = Duration::from_secs(20);
/// Clients at once.
const CLIENTS: usize = 4;
/// Pipes the relay keeps per thread for reuse (relay/pool.rs), each two descriptors.
const PIPES_KEPT_PER_THREAD: usize = 16;

/// A process's open descriptors by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Descriptors {
    sockets: usize,
    pipes: usize,
    others: usize,
}

fn descriptors(pid: u32) -> Descriptors {
    let mut counts = Descriptors {
        sockets: 0,
        pipes: 0,
        others: 0,
    };
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let Ok(target) = std::fs::read_link(entry.unwrap().path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if target.starts_with("socket:") {
            counts.sockets += 1;
        } else if target.starts_with("pipe:") {
            counts.pipes += 1;
        } else {
            counts.others += 1;
        }
    }
    counts
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

/// The children of `pid` that are zombies, and how many children it has at all.
fn children(pid: u32) -> (usize, usize) {
    let (mut zombies, mut all) = (0, 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let mut fields = rest.split(' ');
        let state = fields.next().unwrap_or("");
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            all += 1;
            if state == "Z" {
                zombies += 1;
            }
        }
    }
    (zombies, all)
}

/// CPU time the process has used, user and system, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(") ").unwrap();
    let fields: Vec<&str> = rest.split(' ').collect();
    // After the state (field 3): utime is field 14, stime 15, counted from 1.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// One session: send, half-close, expect the echo and EOF.
fn exchange(port: u16, n: usize) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let msg = format!("session {n}\n");
    stream.write_all(msg.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, msg.as_bytes(), "session {n}");
}

/// A TCP echo server in the test: one thread per connection.
fn echo_backend() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Runs up to [`SESSIONS`] sessions through a forking socketry whose second address is
/// `second`, within [`BUDGET`], then checks the process. Returns the sessions run.
fn soak(second: &str) -> usize {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork", second]);
    let port = relay.listening_port();
    let pid = relay.pid();
    // A first session warms up what the runtime creates once (threads, its own pipes).
    exchange(port, 0);
    relay.wait_log_count("done:", 1);
    let before = descriptors(pid);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(1));
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            let next = next.clone();
            scope.spawn(move || loop {
                if started.elapsed() > BUDGET {
                    return;
                }
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= SESSIONS {
                    return;
                }
                exchange(port, n);
            });
        }
    });
    let sessions = next.load(Ordering::Relaxed).min(SESSIONS);
    // Every session is over once its "done" line is out (the clients saw EOF before it).
    relay.wait_log_count("done:", sessions);
    let took = started.elapsed();
    let after = descriptors(pid);
    let pipe_pool = 2 * PIPES_KEPT_PER_THREAD * threads(pid);
    let (zombies, children) = children(pid);
    eprintln!(
        "soak with {second}: {sessions} sessions in {took:.1?}; descriptors before {before:?}, after {after:?}; {children} children, {zombies} zombies"
    );
    assert_eq!(after.sockets, before.sockets, "sockets leaked");
    assert_eq!(after.others, before.others, "descriptors leaked");
    assert!(
        after.pipes <= before.pipes + pipe_pool,
        "pipes leaked: {after:?} against {before:?}"
    );
    assert_eq!((zombies, children), (0, 0), "children left behind");
    let out = relay.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    sessions
}

#[test]
fn soak_forked_tcp_sessions_leak_nothing() {
    let backend = echo_backend();
    let sessions = soak(&format!("TCP:127.0.0.1:{backend}"));
    assert!(
        sessions >= 1000,
        "only {sessions} sessions within {BUDGET:?}"
    );
}

#[test]
fn soak_forked_exec_sessions_leak_nothing_and_reap_every_child() {
    let sessions = soak("EXEC:cat");
    assert!(
        sessions >= 1000,
        "only {sessions} sessions within {BUDGET:?}"
    );
}

/// Out of descriptors, the listener says so once, uses next to no CPU while the peers wait
/// in its backlog, and serves them once descriptors come free.
#[test]
fn emfile_is_survived_without_spinning() {
    const HELD: usize = 8;
    let backend = echo_backend();
    let second = format!("TCP:127.0.0.1:{backend}");
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork", &second]);
    let port = relay.listening_port();
    let pid = relay.pid();
    let held: Vec<TcpStream> = (1..=HELD)
        .map(|n| {
            let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            relay.wait_log_count("starting data transfer loop", n);
            stream
        })
        .collect();
    // No descriptor to spare: the next accept fails.
    let open = descriptors(pid);
    let limit = open.sockets + open.pipes + open.others;
    let set = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={limit}")])
        .status()
        .unwrap();
    assert!(set.success());
    // These wait in the backlog.
    let waiting: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Accepting fails (the warning), or, if a descriptor was spare after all, the second
    // address cannot be opened for the accepted peer (an error, and that peer is closed).
    relay.wait_log("Too many open files");
    let ticks = cpu_ticks(pid);
    let hold = Duration::from_secs(2);
    std::thread::sleep(hold);
    let used = cpu_ticks(pid) - ticks;
    // Spinning would be about 200 ticks (100 a second); a retry every 100 ms is a few.
    assert!(
        used <= 20,
        "{used} ticks of CPU in {hold:?} while out of descriptors"
    );
    drop(held);
    // Each waiting peer is served or closed; none is left hanging.
    for (n, mut stream) in waiting.into_iter().enumerate() {
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let msg = format!("waited {n}\n");
        let _ = stream.write_all(msg.as_bytes());
        let _ = stream.shutdown(Shutdown::Write);
        let mut got = Vec::new();
        match stream.read_to_end(&mut got) {
            Ok(_) => assert!(got.is_empty() || got == msg.as_bytes(), "{got:?}"),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "peer {n} hangs"),
        }
    }
    // And the listener serves again, once the held connections' relays have given their
    // descriptors back (on a busy machine that can take a moment after they are dropped):
    // a session needs two, the accepted peer and the connection to the backend. Trying
    // before then would only make a second shortage.
    let deadline = Instant::now() + WAIT;
    loop {
        let now = descriptors(pid);
        if now.sockets + now.pipes + now.others + 2 <= limit {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the held connections' descriptors are not given back"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    exchange(port, 1);
    let out = relay.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    assert!(
        out.stderr.matches("Too many open files; retrying").count() <= 1,
        "said once per shortage:\n{}",
        out.stderr
    );
}
