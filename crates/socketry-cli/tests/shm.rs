#![allow(clippy::unwrap_used)]
//! Shared memory between two socketry processes (`SHM-LISTEN`, `SHM-CONNECT`): 256 MiB each
//! way at once with identical SHA-256 sums, EOF in both directions, message boundaries,
//! several peers with fork, and the errors a user can meet.

mod common;

use std::fs::File;
use std::io::Read;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::Command;

use common::{run, tempdir, Proc, WAIT};

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().next().unwrap().to_owned()
}

fn random_file(path: &Path, len: u64) {
    let mut source = File::open("/dev/urandom").unwrap().take(len);
    let mut file = File::create(path).unwrap();
    assert_eq!(std::io::copy(&mut source, &mut file).unwrap(), len);
}

#[test]
fn shm_carries_256_mib_each_way_at_once_with_identical_sha256() {
    const LEN: u64 = 256 << 20;
    let dir = tempdir();
    let path = |name: &str| dir.path().join(name);
    random_file(&path("to-connector"), LEN);
    random_file(&path("to-listener"), LEN);
    let rendezvous = path("rendezvous");
    let mut listener = Proc::spawn(&[
        "-d",
        "-t",
        "60",
        &format!("SHM-LISTEN:{}", rendezvous.display()),
        &format!(
            "OPEN:{},rdonly!!CREATE:{}",
            path("to-connector").display(),
            path("got-by-listener").display()
        ),
    ]);
    listener.wait_log("listening on");
    let connector = Proc::spawn(&[
        "-t",
        "60",
        &format!("SHM-CONNECT:{}", rendezvous.display()),
        &format!(
            "OPEN:{},rdonly!!CREATE:{}",
            path("to-listener").display(),
            path("got-by-connector").display()
        ),
    ]);
    let out = connector.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = listener.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::metadata(path("got-by-connector")).unwrap().len(),
        LEN
    );
    assert_eq!(
        sha256(&path("to-connector")),
        sha256(&path("got-by-connector"))
    );
    assert_eq!(
        sha256(&path("to-listener")),
        sha256(&path("got-by-listener"))
    );
}

#[test]
fn each_peer_of_a_forking_listener_gets_its_own_channel_and_eof_crosses_it() {
    let dir = tempdir();
    let rendezvous = dir.path().join("r");
    let mut listener = Proc::spawn(&[
        "-d",
        &format!("SHM-LISTEN:{},fork", rendezvous.display()),
        "SYSTEM:'tr a-z A-Z; echo after eof'",
    ]);
    listener.wait_log("listening on");
    let connect = format!("SHM-CONNECT:{}", rendezvous.display());
    let clients: Vec<(String, Proc)> = ["first", "second", "third"]
        .iter()
        .map(|word| {
            let mut client = Proc::spawn(&["-t", "10", "-", &connect]);
            client.send_and_close(word.as_bytes());
            (word.to_uppercase(), client)
        })
        .collect();
    for (want, client) in clients {
        let out = client.finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        assert_eq!(out.stdout_text(), format!("{want}after eof\n"));
    }
    listener.terminate();
}

#[test]
fn message_mode_keeps_boundaries() {
    let dir = tempdir();
    let rendezvous = dir.path().join("r");
    let entry = dir.path().join("entry");
    let mut listener = Proc::spawn(&[
        "-d",
        &format!(
            "SHM-LISTEN:{},shm-messages,shm-spin=20",
            rendezvous.display()
        ),
        "SOCKETPAIR",
    ]);
    listener.wait_log("listening on");
    let mut connector = Proc::spawn(&[
        "-d",
        &format!("UNIX-RECVFROM:{}", entry.display()),
        &format!("SHM-CONNECT:{},shm-messages", rendezvous.display()),
    ]);
    connector.wait_log("receiving on");
    let client = UnixDatagram::bind(dir.path().join("client")).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let messages: [&[u8]; 3] = [b"one", b"two, and more", b"3"];
    for message in messages {
        client.send_to(message, &entry).unwrap();
    }
    let mut buf = [0u8; 256];
    for message in messages {
        let n = client.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], message);
    }
    connector.terminate();
    listener.terminate();
}

#[test]
fn both_ends_must_agree_on_message_mode() {
    let dir = tempdir();
    let rendezvous = dir.path().join("r");
    let mut listener = Proc::spawn(&[
        "-d",
        &format!("SHM-LISTEN:{},fork", rendezvous.display()),
        "PIPE",
    ]);
    listener.wait_log("listening on");
    let address = format!("SHM-CONNECT:{},shm-messages", rendezvous.display());
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: setting up shared memory with {}: the listener's channel carries bytes and ours messages (expected shm-messages on both sides or on neither)",
            rendezvous.display()
        )]
    );
    listener.terminate();
}

#[test]
fn shm_options_are_checked() {
    let out = run(&["SHM-LISTEN:/tmp/never,shm-size=100", "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["SHM-LISTEN:/tmp/never,shm-size=100: shm-size=100 is out of range (expected 4096 to 1073741824 bytes)"]
    );
    let out = run(&["-", "SHM-CONNECT:/tmp/never,shm-size=8192"], b"");
    assert_eq!(
        out.errors(),
        ["option \"shm-size\" does not apply to SHM-CONNECT in \"SHM-CONNECT:/tmp/never,shm-size=8192\""]
    );
}
