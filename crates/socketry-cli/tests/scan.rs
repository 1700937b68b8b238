#![allow(clippy::unwrap_used)]
//! `socketry scan HOST PORTS` against listeners of the standard library on 127.0.0.1 and ::1.

mod common;

use std::net::TcpListener;

use common::run;

/// A port nothing listens on: bound, then closed.
fn closed_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn lists_each_open_port_in_the_order_given() {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    let (a, b) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    let closed = closed_port("127.0.0.1");
    let list = format!("{b},{closed},{a}");
    let out = run(&["scan", "127.0.0.1", &list], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout_text(),
        format!("127.0.0.1:{b} open\n127.0.0.1:{a} open\n")
    );
    assert_eq!(out.stderr, "");
}

#[test]
fn reads_ranges_and_can_show_closed_ports() {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = open.local_addr().unwrap().port();
    let closed = closed_port("127.0.0.1");
    let list = format!("{port}-{port},{closed}");
    let out = run(
        &["scan", "--all", "-c", "1", "-t", "2", "127.0.0.1", &list],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout_text(),
        format!("127.0.0.1:{port} open\n127.0.0.1:{closed} closed\n")
    );
}

#[test]
fn exits_1_when_no_port_is_open() {
    let closed = closed_port("127.0.0.1").to_string();
    let out = run(&["scan", "localhost", &closed], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "");
}

#[test]
fn scans_ipv6() {
    let open = TcpListener::bind("[::1]:0").unwrap();
    let port = open.local_addr().unwrap().port().to_string();
    let out = run(&["scan", "::1", &port], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), format!("[::1]:{port} open\n"));
}

#[test]
fn refuses_a_concurrency_that_is_not_a_number_saying_what_is() {
    let out = run(&["scan", "-c", "x", "127.0.0.1", "1"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["scan: invalid value 'x' for '--concurrency <N>': expected a whole number from 1 to 10000, not \"x\" (see socketry scan --help)"]
    );
}

#[test]
fn refuses_a_bad_port_list() {
    let out = run(&["scan", "127.0.0.1", "20-10"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["scan: invalid value '20-10' for '<PORTS>': range \"20-10\" runs backwards (expected LOW-HIGH) (see socketry scan --help)"]
    );
}
