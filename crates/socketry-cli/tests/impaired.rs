#![allow(clippy::unwrap_used)]
//! The message path behind an impaired hop: a small UDP proxy in the test drops, duplicates,
//! delays and reorders datagrams on their way to socketry (this machine has no netem). What
//! the hop lost must show up in socketry's counts, never be made up or hidden: socketry
//! delivers exactly the datagrams that reached it, in the order they arrived, and its dump
//! counts exactly those.

mod common;

use std::net::UdpSocket;
use std::sync::mpsc;

use common::{Proc, WAIT};

/// What the hop does to datagram `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impairment {
    Pass,
    Drop,
    Duplicate,
    /// Held back and sent after the next datagram that passes.
    Delay,
}

fn impairment(seq: usize) -> Impairment {
    match seq % 11 {
        3 | 9 => Impairment::Drop,
        5 => Impairment::Duplicate,
        7 => Impairment::Delay,
        _ => Impairment::Pass,
    }
}

#[test]
fn loss_delay_and_reordering_on_the_way_show_in_counts_and_nothing_else_is_lost() {
    const SENT: usize = 200;
    let mut relay = Proc::spawn(&[
        "-u",
        "-d",
        "-v",
        "-T",
        "1",
        "UDP-LISTEN:0,bind=127.0.0.1",
        "STDOUT",
    ]);
    let port = relay.listening_port();
    let hop = UdpSocket::bind("127.0.0.1:0").unwrap();
    hop.set_read_timeout(Some(WAIT)).unwrap();
    let hop_addr = hop.local_addr().unwrap();
    let (handled, each) = mpsc::channel();
    let proxy = std::thread::spawn(move || {
        let out = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut forwarded: Vec<Vec<u8>> = Vec::new();
        let mut held: Option<Vec<u8>> = None;
        let mut buf = [0u8; 64];
        for seq in 0..SENT {
            let n = hop.recv(&mut buf).unwrap();
            let datagram = buf[..n].to_vec();
            let mut send = |d: &[u8]| {
                out.send_to(d, ("127.0.0.1", port)).unwrap();
                forwarded.push(d.to_vec());
            };
            match impairment(seq) {
                Impairment::Drop => {}
                Impairment::Delay => held = Some(datagram),
                Impairment::Duplicate => {
                    send(&datagram);
                    send(&datagram);
                }
                Impairment::Pass => {
                    send(&datagram);
                    if let Some(late) = held.take() {
                        send(&late);
                    }
                }
            }
            handled.send(()).unwrap();
        }
        if let Some(late) = held.take() {
            out.send_to(&late, ("127.0.0.1", port)).unwrap();
            forwarded.push(late);
        }
        forwarded
    });
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for seq in 0..SENT {
        client
            .send_to(format!("seq={seq:04}\n").as_bytes(), hop_addr)
            .unwrap();
        // One at a time through the hop, so that no socket queue overflows on the way.
        each.recv_timeout(WAIT).unwrap();
    }
    let forwarded = proxy.join().unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);

    let dropped = (0..SENT)
        .filter(|&s| impairment(s) == Impairment::Drop)
        .count();
    let duplicated = (0..SENT)
        .filter(|&s| impairment(s) == Impairment::Duplicate)
        .count();
    assert_eq!(forwarded.len(), SENT - dropped + duplicated);
    // Exactly what reached socketry, in the order it arrived: delayed datagrams late,
    // duplicates twice, the dropped ones missing.
    assert_eq!(out.stdout, forwarded.concat());
    assert_ne!(
        forwarded,
        {
            let mut sorted = forwarded.clone();
            sorted.sort();
            sorted
        },
        "the hop reordered nothing"
    );
    // socketry's own count is of what it received: the hop's loss is visible as the gap.
    let dumped = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("> ") && l.contains(" length=9 from="))
        .count();
    assert_eq!(dumped, forwarded.len(), "{}", out.stderr);
    assert!(
        out.stderr.contains("no data for 1s: ending the relay"),
        "{}",
        out.stderr
    );
}
