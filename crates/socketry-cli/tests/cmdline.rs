#![allow(clippy::unwrap_used)]
//! socat's command-line flags that scripts rely on: `--statistics`' two STATISTICS lines,
//! `-S` (which signals are caught, and the "exiting on signal N" line and 128+N status of
//! those that are not stops), and `-0` (listeners serve IPv4 and IPv6).

mod common;

use std::io::Read;
use std::net::TcpStream;

use common::{run, Proc};
use nix::sys::signal::Signal;

/// The messages of the lines that contain `needle`.
fn lines_with<'a>(stderr: &'a str, needle: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, m)| &m[2..]))
        .filter(|m| m.contains(needle))
        .collect()
}

#[test]
fn statistics_give_writes_and_bytes_each_way_in_two_lines() {
    // PIPE echoes: 12 bytes each way; the widths line up.
    let out = run(&["--statistics", "-", "PIPE"], b"twelve bytes");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        lines_with(&out.stderr, "STATISTICS"),
        [
            "STATISTICS: left to right: 1 packets(s), 12 byte(s)",
            "STATISTICS: right to left: 1 packets(s), 12 byte(s)",
        ]
    );
    // One direction only: one line.
    let out = run(&["--statistics", "-u", "-", "/dev/null"], b"abc");
    assert_eq!(
        lines_with(&out.stderr, "STATISTICS"),
        ["STATISTICS: left to right: 1 packets(s), 3 byte(s)"]
    );
}

#[test]
fn a_caught_signal_that_is_not_a_stop_is_logged_and_exits_128_plus_n() {
    // Bit 31 is SIGSYS, not caught by default.
    let mut proc = Proc::spawn(&["-d", "-d", "-S", "0x80000000", "PIPE", "PIPE"]);
    proc.wait_log("starting data transfer loop");
    proc.signal(Signal::SIGSYS);
    let out = proc.finish();
    assert_eq!(out.code(), Some(128 + 31), "{}", out.stderr);
    assert_eq!(out.errors(), ["exiting on signal 31"]);
}

#[test]
fn the_default_set_catches_sigquit_and_a_mask_without_term_leaves_it_alone() {
    use std::os::unix::process::ExitStatusExt;
    let mut proc = Proc::spawn(&["-d", "-d", "PIPE", "PIPE"]);
    proc.wait_log("starting data transfer loop");
    proc.signal(Signal::SIGQUIT);
    let out = proc.finish();
    assert_eq!(out.code(), Some(128 + 3), "{}", out.stderr);
    assert_eq!(out.errors(), ["exiting on signal 3"]);
    // -S 0: SIGTERM keeps its default action, death by the signal.
    let mut proc = Proc::spawn(&["-d", "-d", "-S", "0", "PIPE", "PIPE"]);
    proc.wait_log("starting data transfer loop");
    proc.signal(Signal::SIGTERM);
    let out = proc.finish();
    assert_eq!(out.status.signal(), Some(15), "{}", out.stderr);
}

#[test]
fn a_bad_signal_mask_is_refused_in_one_line() {
    let out = run(&["-S", "0x1z", "-", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["invalid value \"0x1z\" for -S (expected a bitmap of signals below 32, e.g. 0x89de or 35294)"]
    );
}

#[test]
fn dash_zero_listens_for_ipv4_and_ipv6_alike() {
    for peer in ["127.0.0.1", "::1"] {
        let mut server = Proc::spawn(&["-d", "-0", "TCP-LISTEN:0", "PIPE"]);
        let port = server.listening_port();
        let mut client = TcpStream::connect((peer, port)).unwrap();
        std::io::Write::write_all(&mut client, b"both\n").unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"both\n", "{peer}");
        let out = server.finish();
        assert_eq!(out.code(), Some(0), "{peer}: {}", out.stderr);
    }
}
