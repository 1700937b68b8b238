#![allow(clippy::unwrap_used)]
//! `socketry send` and `socketry recv`: verified transfers where either side listens, through
//! a proxy in the test that corrupts or cuts the stream, and the progress bar that shows only
//! on a terminal (run under `script`, which gives it a pseudo-terminal).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;

use common::{run, Proc};

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The digest each side reported.
fn digest(stderr: &str) -> String {
    let at = stderr.find("sha256 ").expect("a sha256 in the log") + 7;
    stderr[at..at + 64].to_owned()
}

fn receiver(dir: &Path, name: &str) -> (Proc, u16) {
    let out = dir.join(name);
    let mut recv = Proc::spawn(&["recv", "TCP-LISTEN:0,bind=127.0.0.1", out.to_str().unwrap()]);
    let port = recv.listening_port();
    (recv, port)
}

#[test]
fn a_file_arrives_intact_when_the_receiver_listens() {
    let dir = common::tempdir();
    let source = dir.path().join("source");
    let content = data(3 * 1024 * 1024 + 17);
    std::fs::write(&source, &content).unwrap();
    let (recv, port) = receiver(dir.path(), "copy");
    let sent = run(
        &[
            "send",
            source.to_str().unwrap(),
            &format!("TCP:127.0.0.1:{port}"),
        ],
        b"",
    );
    assert_eq!(sent.code(), Some(0), "{}", sent.stderr);
    let received = recv.finish();
    assert_eq!(received.code(), Some(0), "{}", received.stderr);
    assert_eq!(std::fs::read(dir.path().join("copy")).unwrap(), content);
    assert_eq!(entries(dir.path()), ["copy", "source"]);
    assert!(
        sent.stderr.contains("sent 3145745 bytes, sha256 "),
        "{}",
        sent.stderr
    );
    assert!(received.stderr.contains("received 3145745 bytes, sha256 "));
    assert_eq!(digest(&sent.stderr), digest(&received.stderr));
    // Not a terminal: no progress bar.
    assert!(
        !sent.stderr.contains('%') && !sent.stderr.contains('\r'),
        "{}",
        sent.stderr
    );
    assert!(!received.stderr.contains('%') && !received.stderr.contains('\r'));
}

#[test]
fn the_sender_may_listen_and_stdin_and_stdout_work() {
    let content = data(200_000);
    let mut send = Proc::spawn(&["send", "-", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let port = send.listening_port();
    let mut stdin = send.stdin();
    let written = content.clone();
    thread::spawn(move || stdin.write_all(&written).unwrap());
    let received = run(&["recv", &format!("TCP:127.0.0.1:{port}"), "-"], b"");
    assert_eq!(received.code(), Some(0), "{}", received.stderr);
    assert!(
        received.stdout == content,
        "stdout differs from what was sent"
    );
    let sent = send.finish();
    assert_eq!(sent.code(), Some(0), "{}", sent.stderr);
}

/// Relays one connection from a sender to `port`, passing what the sender sends through
/// `alter` (its offset in the stream, the bytes); `None` cuts the stream there.
fn proxy(port: u16, alter: fn(usize, &mut Vec<u8>) -> Option<()>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let own = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut from, _) = listener.accept().unwrap();
        let mut to = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut back_from = to.try_clone().unwrap();
        let mut back_to = from.try_clone().unwrap();
        thread::spawn(move || {
            let mut buf = [0; 64];
            while let Ok(n) = back_from.read(&mut buf) {
                if n == 0 || back_to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = back_to.shutdown(Shutdown::Write);
        });
        let mut offset = 0;
        let mut buf = vec![0; 8192];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut piece = buf[..n].to_vec();
            let cut = alter(offset, &mut piece).is_none();
            offset += n;
            let _ = to.write_all(&piece);
            if cut {
                let _ = to.shutdown(Shutdown::Both);
                let _ = from.shutdown(Shutdown::Both);
                return;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    own
}

fn failed_transfer(alter: fn(usize, &mut Vec<u8>) -> Option<()>) -> (String, String, Vec<String>) {
    let dir = common::tempdir();
    let source = dir.path().join("source");
    std::fs::write(&source, data(1024 * 1024)).unwrap();
    let (recv, port) = receiver(dir.path(), "copy");
    let via = proxy(port, alter);
    let sent = run(
        &[
            "send",
            source.to_str().unwrap(),
            &format!("TCP:127.0.0.1:{via}"),
        ],
        b"",
    );
    let received = recv.finish();
    assert_eq!(received.code(), Some(1), "{}", received.stderr);
    assert_eq!(sent.code(), Some(1), "{}", sent.stderr);
    let error = |out: &common::Output| out.errors().join("\n");
    (error(&sent), error(&received), entries(dir.path()))
}

#[test]
fn a_corrupted_transfer_is_detected_and_leaves_no_file() {
    let (sent, received, left) = failed_transfer(|offset, piece| {
        // One byte flipped well inside the data.
        if (offset..offset + piece.len()).contains(&500_000) {
            piece[500_000 - offset] ^= 0x40;
        }
        Some(())
    });
    assert!(
        received.contains("the data is corrupt: SHA-256 ")
            && received.contains(" does not match the sender's "),
        "{received}"
    );
    assert!(received.starts_with("recv \""), "{received}");
    assert!(
        sent.ends_with("the receiver reported that the data did not arrive intact"),
        "{sent}"
    );
    assert_eq!(left, ["source"]);
}

#[test]
fn a_truncated_transfer_is_detected_and_leaves_no_file() {
    let (_sent, received, left) = failed_transfer(|offset, piece| {
        let end = 300_000;
        if offset + piece.len() >= end {
            piece.truncate(end.saturating_sub(offset));
            return None;
        }
        Some(())
    });
    assert!(
        received.contains("the transfer ended early, after ")
            && received.ends_with(" of 1048576 bytes"),
        "{received}"
    );
    assert_eq!(left, ["source"]);
}

#[test]
fn a_peer_that_is_not_a_sender_is_refused() {
    let dir = common::tempdir();
    let (recv, port) = receiver(dir.path(), "copy");
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    peer.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let out = recv.finish();
    assert_eq!(out.code(), Some(1));
    let copy = dir.path().join("copy");
    assert_eq!(
        out.errors(),
        [format!(
            "recv \"{}\": the peer is not a socketry sender (its first bytes are not a transfer header)",
            copy.display()
        )]
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn progress_shows_on_a_terminal() {
    let dir = common::tempdir();
    let source = dir.path().join("source");
    std::fs::write(&source, data(2 * 1024 * 1024)).unwrap();
    let (recv, port) = receiver(dir.path(), "copy");
    let line = format!(
        "{} send {} TCP:127.0.0.1:{port}",
        common::bin(),
        source.display()
    );
    // script runs the command on a new pseudo-terminal and copies what it shows to stdout.
    let shown = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("100% 2.00 MiB/2.00 MiB"), "{text}");
    assert!(text.contains("sent 2097152 bytes"), "{text}");
    assert_eq!(recv.finish().code(), Some(0));
}

#[test]
fn bad_arguments_are_one_line() {
    let out = run(&["send", "/nonexistent/file", "TCP:127.0.0.1:1"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["opening \"/nonexistent/file\": No such file or directory"]
    );
    let out = run(&["recv", "TCP:127.0.0.1:1"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["recv: the following required arguments were not provided: <FILE> (see socketry recv --help)"]
    );
}

#[test]
fn a_refused_connection_is_said_once() {
    let dir = common::tempdir();
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = dir.path().join("out");
    let address = format!("TCP:127.0.0.1:{port}");
    let out = run(&["recv", &address, file.to_str().unwrap()], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: connecting to 127.0.0.1:{port}: Connection refused"
        )]
    );
    assert!(entries(dir.path()).is_empty());
}
