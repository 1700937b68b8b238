#![allow(clippy::unwrap_used)]
//! The `res-*` options: a host name asked of the DNS server `res-nsaddr` names, by socketry's
//! own query, with the server played by the test on 127.0.0.1; and `ai-addrconfig`, which
//! keeps only the families the host has addresses of.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};

use common::{in_network_namespace, run};

/// Answers one DNS query on `server` with `answer` as the A record, and returns the name
/// asked for (its labels joined by dots).
fn answer_one_query(server: &UdpSocket, answer: [u8; 4]) -> String {
    let mut buf = [0u8; 512];
    let (n, client) = server.recv_from(&mut buf).unwrap();
    let query = &buf[..n];
    let mut labels = Vec::new();
    let mut at = 12;
    while query[at] != 0 {
        let len = usize::from(query[at]);
        labels.push(String::from_utf8(query[at + 1..at + 1 + len].to_vec()).unwrap());
        at += 1 + len;
    }
    assert_eq!(
        &query[at + 1..at + 5],
        &[0, 1, 0, 1],
        "an A question of class IN"
    );
    let mut reply = query.to_vec();
    reply[2] |= 0x80;
    reply[7] = 1;
    reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
    reply.extend_from_slice(&answer);
    server.send_to(&reply, client).unwrap();
    labels.join(".")
}

#[test]
fn a_name_is_asked_of_the_server_res_nsaddr_names() {
    let dns = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns_port = dns.local_addr().unwrap().port();
    let target = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = target.local_addr().unwrap().port();
    let asked = std::thread::spawn(move || answer_one_query(&dns, [127, 0, 0, 1]));
    let served = std::thread::spawn(move || {
        let (mut peer, _) = target.accept().unwrap();
        peer.write_all(b"resolved\n").unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).unwrap();
    });
    let address = format!("TCP4:only-in-this-test.example:{port},res-nsaddr=127.0.0.1:{dns_port}");
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "resolved\n");
    assert_eq!(asked.join().unwrap(), "only-in-this-test.example");
    served.join().unwrap();
}

#[test]
fn a_server_that_never_answers_is_asked_res_retry_more_times_then_named() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let address =
        format!("TCP4:nowhere.example:1,res-nsaddr=127.0.0.1:{port},res-retry=1,res-retrans=1");
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!("{address}: resolving \"nowhere.example\": no answer from the DNS server 127.0.0.1:{port} after 2 queries of 1s each")]
    );
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    let mut queries = 0;
    while silent.recv_from(&mut buf).is_ok() {
        queries += 1;
    }
    assert_eq!(queries, 2);
}

#[test]
fn ai_addrconfig_keeps_only_the_families_the_host_has_addresses_of() {
    // A namespace holding only loopback has no address of either family to speak of.
    in_network_namespace(|| {
        let out = run(&["-", "TCP:localhost:1,ai-addrconfig"], b"");
        assert_eq!(out.code(), Some(1));
        assert_eq!(
            out.errors(),
            ["TCP:localhost:1,ai-addrconfig: resolving \"localhost\": no address of a family this host has configured (ai-addrconfig)"]
        );
        let out = run(&["-", "TCP:localhost:1,ai-addrconfig=0"], b"");
        assert_eq!(out.code(), Some(1));
        assert!(
            out.errors()[0].ends_with("Connection refused"),
            "{:?}",
            out.errors()
        );
    });
}
