#![allow(clippy::unwrap_used)]
//! `--log-format json` (one object per line on stderr, with typed fields) and `--stats`
//! (counters at exit and on SIGUSR1), on servers over 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use common::{run, Proc, WAIT};
use nix::sys::signal::Signal;
use serde_json::Value;

fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// A JSON-logging server and its port, from its "listening on" object.
fn json_server(args: &[&str]) -> (Proc, u16) {
    let mut all = vec!["--log-format", "json"];
    all.extend_from_slice(args);
    let mut proc = Proc::spawn(&all);
    let line = proc.wait_log("\"listening on ");
    let message = json(&line)["message"].as_str().unwrap().to_owned();
    let port = message.rsplit(':').next().unwrap().parse().unwrap();
    (proc, port)
}

fn echo_once(port: u16, data: &[u8]) -> TcpStream {
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(data).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, data);
    peer
}

#[test]
fn connections_are_logged_as_json_with_peer_and_byte_counts() {
    let (mut server, port) = json_server(&["server", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let peer = echo_once(port, b"hello");
    let local = peer.local_addr().unwrap().to_string();
    let opened = json(&server.wait_log("\"connection_opened\""));
    assert_eq!(opened["peer"], local.as_str());
    assert_eq!(opened["level"], "notice");
    assert_eq!(opened["program"], "socketry");
    assert_eq!(opened["pid"], server.pid());
    let closed = json(&server.wait_log("\"connection_closed\""));
    assert_eq!(closed["peer"], local.as_str());
    assert_eq!(
        closed["connection"],
        format!("TCP 127.0.0.1:{port} <- {local}").as_str()
    );
    assert_eq!(closed["bytes_in"], 5);
    assert_eq!(closed["bytes_out"], 5);
    assert!(closed["duration_s"].as_f64().unwrap() >= 0.0, "{closed}");
    assert!(closed["time"].as_str().unwrap().ends_with('Z'), "{closed}");
    let out = server.terminate();
    for line in out.stderr.lines() {
        json(line);
    }
}

#[test]
fn errors_carry_their_kind() {
    let (mut server, port) = json_server(&[
        "server",
        "--idle-timeout",
        "0.1",
        "TCP-LISTEN:0,bind=127.0.0.1",
    ]);
    let _quiet = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let closed = json(&server.wait_log("\"connection_closed\""));
    assert_eq!(closed["error_kind"], "idle");
    assert_eq!(closed["level"], "warning");
    assert_eq!(closed["error"], "closed after 0.1s idle (--idle-timeout)");

    let refused = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = run(
        &["--log-format", "json", &format!("TCP:{refused}"), "-"],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    let line = json(out.stderr.lines().last().unwrap());
    assert_eq!(line["level"], "error");
    assert_eq!(line["error_kind"], "ConnectionRefused");
}

#[test]
fn a_refused_connection_is_an_event_too() {
    let (mut server, port) = json_server(&[
        "server",
        "--deny",
        "127.0.0.1",
        "TCP-LISTEN:0,bind=127.0.0.1",
    ]);
    let peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let refused = json(&server.wait_log("\"connection_refused\""));
    assert_eq!(
        refused["peer"],
        peer.local_addr().unwrap().to_string().as_str()
    );
    assert_eq!(refused["reason"], "denied by --deny 127.0.0.1/32");
}

#[test]
fn stats_on_sigusr1_and_at_exit() {
    let mut server = Proc::spawn(&["--stats", "server", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let port = server.listening_port();
    let mut open = TcpStream::connect(("127.0.0.1", port)).unwrap();
    open.set_read_timeout(Some(WAIT)).unwrap();
    open.write_all(b"abc").unwrap();
    let mut got = [0; 3];
    open.read_exact(&mut got).unwrap();
    server.signal(Signal::SIGUSR1);
    let line = server.wait_log("statistics: connection");
    assert!(
        line.ends_with(": 3 bytes in, 3 bytes out")
            && line.contains(&format!("<- {} open for ", open.local_addr().unwrap())),
        "{line}"
    );
    let line = server.wait_log("statistics: 0 connection(s) served");
    assert!(line.ends_with("statistics: 0 connection(s) served, 1 open, 0 refused, 0 closed at shutdown; 0 bytes in, 0 bytes out"), "{line}");
    assert!(server.is_running());
    drop(open);
    server.wait_log("done: 3 bytes in, 3 bytes out");
    let out = server.terminate();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("statistics: 1 connection(s) served, 0 open, 0 refused, 0 closed at shutdown; 3 bytes in, 3 bytes out"), "{}", out.stderr);
}

#[test]
fn stats_are_json_under_log_format_json() {
    let (mut server, port) = json_server(&["--stats", "server", "TCP-LISTEN:0,bind=127.0.0.1"]);
    echo_once(port, b"12345678");
    server.wait_log("\"connection_closed\"");
    let out = server.terminate();
    let last = json(out.stderr.lines().last().unwrap());
    assert_eq!(last["event"], "statistics");
    assert_eq!(last["served"], 1);
    assert_eq!(last["open"], 0);
    assert_eq!(last["bytes_in"], 8);
    assert_eq!(last["bytes_out"], 8);
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = run(&["--log-format", "xml", "-", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["invalid value \"xml\" for --log-format (expected text or json)"]
    );
}

#[test]
fn a_log_file_that_cannot_be_opened_is_one_error_line() {
    let dir = common::tempdir();
    let path = dir.path().join("absent").join("log");
    let out = run(&["-lf", path.to_str().unwrap(), "-", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "opening log file \"{}\": No such file or directory",
            path.display()
        )],
        "{}",
        out.stderr
    );
}
