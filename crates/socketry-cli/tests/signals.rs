//! Signals: a terminating signal stops reading and writes out what socketry had already
//! read before it exits with 128+N; `--statistics` reports the totals at that exit, on
//! SIGUSR1 (and runs on), and after an accept-timeout; the programs socketry stops are not
//! reported as failures.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{bin, Proc, WAIT};
use nix::sys::signal::Signal;

const TERMINATED: i32 = 143;

fn echo_once(port: u16, data: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream.write_all(data).expect("writing");
    stream.shutdown(Shutdown::Write).expect("half-closing");
    let mut back = Vec::new();
    stream.read_to_end(&mut back).expect("reading the echo");
    assert_eq!(back, data);
}

fn statistics_line(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("] N statistics: ").map(|(_, m)| m))
        .collect()
}

/// A forking echo server (each connection to a socket pair) with `--statistics`.
fn echo_server(listen: &str) -> Proc {
    Proc::spawn(&["-d", "--statistics", listen, "SOCKETPAIR"])
}

#[test]
fn a_forking_server_reports_its_totals_when_terminated() {
    let mut server = echo_server("TCP-LISTEN:0,bind=127.0.0.1,fork");
    let port = server.listening_port();
    echo_once(port, b"hello");
    echo_once(port, b"world!");
    server.wait_log_count("done:", 2);
    let out = server.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    assert_eq!(
        statistics_line(&out.stderr),
        ["11 bytes from the first address to the second, 11 bytes back, 2 connection(s)"],
        "{}",
        out.stderr
    );
}

#[test]
fn sigusr1_reports_the_totals_and_the_server_runs_on() {
    let mut server = echo_server("TCP-LISTEN:0,bind=127.0.0.1,fork");
    let port = server.listening_port();
    echo_once(port, b"one");
    server.wait_log("done:");
    server.signal(Signal::SIGUSR1);
    server.wait_log("statistics: 3 bytes from the first address to the second");
    assert!(server.is_running());
    echo_once(port, b"two!");
    server.wait_log_count("done:", 2);
    let out = server.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    assert_eq!(
        statistics_line(&out.stderr),
        [
            "3 bytes from the first address to the second, 3 bytes back, 1 connection(s)",
            "7 bytes from the first address to the second, 7 bytes back, 2 connection(s)"
        ],
        "{}",
        out.stderr
    );
}

#[test]
fn a_run_ended_by_accept_timeout_reports_the_bytes_that_moved() {
    let mut server = echo_server("TCP-LISTEN:0,bind=127.0.0.1,fork,accept-timeout=1");
    let port = server.listening_port();
    echo_once(port, b"12345");
    let out = server.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        statistics_line(&out.stderr),
        ["5 bytes from the first address to the second, 5 bytes back, 1 connection(s)"],
        "{}",
        out.stderr
    );
}

#[test]
fn a_program_that_exits_143_on_our_sigterm_is_not_a_failure() {
    // The program outlives its channel; socketry's SIGTERM makes it exit 128+15 by itself.
    let mut server = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork",
        "SYSTEM:'trap \"exit 143\" TERM; sleep 30 & wait'",
    ]);
    let port = server.listening_port();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream.write_all(b"bye").expect("writing");
    drop(stream);
    server.wait_log("done:");
    let out = server.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    assert!(out.errors().is_empty(), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ended by signal 15 after its grace period"),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_to_the_process_group_stops_programs_without_reporting_them_failed() {
    let mut command = Command::new(bin());
    command
        .args([
            "-d",
            "TCP-LISTEN:0,bind=127.0.0.1,fork",
            "SYSTEM:exec sleep 30",
        ])
        .process_group(0);
    let mut server = Proc::spawn_with(&mut command);
    let port = server.listening_port();
    let _held = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    server.wait_log("starting data transfer loop");
    // A terminal's Ctrl-C: SIGINT to socketry and its program together.
    let group = nix::unistd::Pid::from_raw(i32::try_from(server.pid()).expect("pid"));
    nix::sys::signal::killpg(group, Signal::SIGINT).expect("signalling the group");
    let out = server.finish();
    assert_eq!(out.code(), Some(130), "{}", out.stderr);
    assert!(out.errors().is_empty(), "{}", out.stderr);
}

/// socketry relays stdin (a pipe) to a TCP peer that stops reading. Once socketry holds data
/// it cannot write, SIGTERM arrives; the peer then reads everything. What the peer got and
/// what socketry never took from the pipe must add up to what was sent, in order.
fn a_signal_loses_nothing_that_was_read(copy: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding the peer");
    let port = listener.local_addr().expect("address").port();
    let (read_end, write_end) = nix::unistd::pipe().expect("a pipe");
    let leftover_end = read_end.try_clone().expect("duplicating the read end");
    let target = format!("TCP:127.0.0.1:{port},sndbuf=16384");
    let mut command = Command::new(bin());
    command.args(["-d", "-u", "-", &target]);
    if copy {
        command.env("SOCKETRY_COPY", "1");
    }
    let mut relay = command
        .stdin(Stdio::from(read_end))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning socketry");
    let (mut peer, _) = listener.accept().expect("accepting socketry");

    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let data = data.clone();
        let written = written.clone();
        thread::spawn(move || {
            let mut pipe = std::fs::File::from(write_end);
            for chunk in data.chunks(4096) {
                if pipe.write_all(chunk).is_err() {
                    break;
                }
                written.fetch_add(chunk.len(), Ordering::Relaxed);
            }
        })
    };
    // socketry stops taking from the pipe once its own writes block: the writer stalls.
    let deadline = Instant::now() + WAIT;
    let mut last = usize::MAX;
    let mut still_for = 0;
    while still_for < 5 {
        assert!(Instant::now() < deadline, "the writer never stalled");
        thread::sleep(Duration::from_millis(50));
        let now = written.load(Ordering::Relaxed);
        still_for = if now == last { still_for + 1 } else { 0 };
        last = now;
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(relay.id()).expect("pid"));
    nix::sys::signal::kill(pid, Signal::SIGTERM).expect("signalling socketry");

    let mut got = Vec::new();
    peer.read_to_end(&mut got).expect("peer reading to EOF");
    let status = relay.wait().expect("waiting for socketry");
    let mut stderr = String::new();
    if let Some(mut err) = relay.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(TERMINATED), "{stderr}");
    // Drain what socketry never read, so that the writer finishes and closes the pipe.
    let mut leftover = std::fs::File::from(leftover_end);
    let reader = thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = leftover.read_to_end(&mut rest);
        rest
    });
    writer.join().expect("pipe writer");
    let rest = reader.join().expect("leftover reader");
    assert!(!got.is_empty(), "the peer got nothing: {stderr}");
    assert_eq!(got.len() + rest.len(), data.len(), "bytes lost: {stderr}");
    assert!(
        got == data[..got.len()],
        "the peer's bytes are not a prefix"
    );
    assert!(rest == data[got.len()..], "the leftover does not follow on");
}

#[test]
fn a_signal_loses_nothing_that_was_read_when_splicing() {
    a_signal_loses_nothing_that_was_read(false);
}

#[test]
fn a_signal_loses_nothing_that_was_read_when_copying() {
    a_signal_loses_nothing_that_was_read(true);
}
