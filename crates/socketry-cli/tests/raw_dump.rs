#![allow(clippy::unwrap_used)]
//! `-r FILE` and `-R FILE`: each direction's raw bytes copied to a file of its own per relay,
//! with socat's `$VARIABLE`s expanded in the name.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{run, Proc, WAIT};

#[test]
fn each_direction_is_dumped_to_its_own_file_and_only_that_direction() {
    let dir = common::tempdir();
    let left = dir.path().join("left");
    let right = dir.path().join("right");
    let (l, r) = (left.to_str().unwrap(), right.to_str().unwrap());
    // PIPE echoes: what goes right comes back left.
    let out = run(&["-r", l, "-R", r, "-", "PIPE"], b"\x00binary\xff\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"\x00binary\xff\n");
    assert_eq!(std::fs::read(&left).unwrap(), b"\x00binary\xff\n");
    assert_eq!(std::fs::read(&right).unwrap(), b"\x00binary\xff\n");
    // -R alone: the other direction is not in it.
    let out = run(&["-R", r, "-", "/dev/null"], b"not dumped\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&right).unwrap(), b"");
}

#[test]
fn a_forking_server_writes_one_file_per_peer_named_by_its_variables() {
    let dir = common::tempdir();
    let template = format!(
        "{}/$PROGNAME-$SERVER0_PEERADDR-$MICROS-$$.in",
        dir.path().display()
    );
    let mut server = Proc::spawn(&[
        "-d",
        "-lp",
        "server0",
        "-r",
        &template,
        "TCP4-LISTEN:0,bind=127.0.0.1,fork",
        "PIPE",
    ]);
    let port = server.listening_port();
    for text in [&b"first\n"[..], b"second\n"] {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.set_read_timeout(Some(WAIT)).unwrap();
        client.write_all(text).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).unwrap();
        assert_eq!(back, text);
    }
    let out = server.terminate();
    let mut dumps: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    dumps.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(dumps.len(), 2, "{dumps:?} {}", out.stderr);
    let prefix = "server0-127.0.0.1-";
    let suffix = format!("-{}.in", server_pid(&out.stderr));
    for ((name, _), text) in dumps.iter().zip([&b"first\n"[..], b"second\n"]) {
        assert!(
            name.starts_with(prefix) && name.ends_with(&suffix),
            "{name}"
        );
        let micros = &name[prefix.len()..name.len() - suffix.len()];
        assert!(
            micros.len() == 6 && micros.bytes().all(|b| b.is_ascii_digit()),
            "{name}"
        );
        assert!(dumps.iter().any(|(_, got)| got == text));
    }
}

/// The pid in socketry's log lines: `... server0[1234] N ...`.
fn server_pid(stderr: &str) -> String {
    let line = stderr.lines().next().unwrap_or_default();
    let start = line.find('[').map_or(0, |i| i + 1);
    let end = line.find(']').unwrap_or(start);
    line[start..end].to_owned()
}

#[test]
fn a_dump_file_that_cannot_be_created_ends_the_relay_with_one_line() {
    let out = run(&["-r", "/nonexistent/dir/dump", "-", "PIPE"], b"x");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["raw dump /nonexistent/dir/dump (first address to second): No such file or directory"]
    );
}
