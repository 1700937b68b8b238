#![allow(clippy::unwrap_used)]
//! Admitting Unix peers by their credentials (`peer-uid`, `peer-gid`, `peer-pid`) on stream
//! listeners and datagram receivers, and the `SOCKETRY_PEER*` environment of the program
//! that serves an admitted peer. The tests that need a second user run only as root, where
//! the client is started as `nobody` (uid 65534).

mod common;

use std::io::{Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, tempdir, Proc, WAIT};

const NOBODY: u32 = 65534;

fn my_ids() -> (u32, u32) {
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}

/// A uid that is not ours.
fn other_uid() -> u32 {
    if my_ids().0 == NOBODY {
        NOBODY - 1
    } else {
        NOBODY
    }
}

/// Connects, sends nothing, and reads to EOF.
fn read_all_from(path: &Path) -> Vec<u8> {
    let mut client = UnixStream::connect(path).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    got
}

const TELL_PEER: &str =
    "SYSTEM:'echo uid=$SOCKETRY_PEERUID gid=$SOCKETRY_PEERGID pid=$SOCKETRY_PEERPID'";

#[test]
fn a_listener_refuses_a_uid_it_does_not_admit_and_logs_it() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let (me, _) = my_ids();
    let other = other_uid();
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},fork,peer-uid={other}", path.display()),
        TELL_PEER,
    ]);
    relay.wait_log("listening on");
    // Refused before anything is read or run: the connection is closed with no data.
    assert_eq!(read_all_from(&path), b"");
    let line = relay.wait_log("refusing connection");
    assert!(
        line.contains(&format!("uid {me} is not admitted (peer-uid)")),
        "{line}"
    );
    assert!(
        line.contains(&format!("pid {}", std::process::id())),
        "{line}"
    );
    let out = relay.terminate();
    assert!(!out.stderr.contains("started SYSTEM"), "{}", out.stderr);
}

#[test]
fn an_admitted_peer_is_served_and_its_program_learns_who_it_is() {
    let dir = tempdir();
    let path = dir.path().join("s");
    let (uid, gid) = my_ids();
    let mut relay = Proc::spawn(&[
        "-d",
        &format!(
            "UNIX-LISTEN:{},fork,peer-uid={other},peer-uid={uid},peer-gid={gid},peer-pid={pid}",
            path.display(),
            other = other_uid(),
            pid = std::process::id()
        ),
        TELL_PEER,
    ]);
    relay.wait_log("listening on");
    let got = String::from_utf8(read_all_from(&path)).unwrap();
    assert_eq!(
        got,
        format!("uid={uid} gid={gid} pid={}\n", std::process::id())
    );
    relay.terminate();
}

#[test]
fn a_pid_filter_refuses_every_other_process() {
    let mut relay = Proc::spawn(&[
        "-d",
        &format!(
            "ABSTRACT-LISTEN:socketry-test-{}-pid,peer-pid=1",
            std::process::id()
        ),
        "PIPE",
    ]);
    relay.wait_log("listening on");
    let mut client = UnixStream::connect_addr(
        &std::os::unix::net::SocketAddr::from_abstract_name(format!(
            "socketry-test-{}-pid",
            std::process::id()
        ))
        .unwrap(),
    )
    .unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    let _ = client.write_all(b"never echoed");
    let mut got = Vec::new();
    let _ = client.read_to_end(&mut got);
    assert_eq!(got, b"");
    let line = relay.wait_log("refusing connection");
    assert!(
        line.contains(&format!(
            "pid {} is not admitted (peer-pid)",
            std::process::id()
        )),
        "{line}"
    );
    relay.terminate();
}

/// A copy of the socketry binary that any user can run (the build directory may not be
/// reachable by `nobody`).
fn binary_for_everyone(dir: &Path) -> PathBuf {
    let copy = dir.join("socketry");
    std::fs::copy(bin(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[test]
fn as_root_a_listener_admitting_only_nobody_refuses_root_and_serves_nobody() {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: starting a client as another user needs root");
        return;
    }
    let dir = tempdir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("s");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!(
            "UNIX-LISTEN:{},fork,mode=666,peer-uid=nobody",
            path.display()
        ),
        TELL_PEER,
    ]);
    relay.wait_log("listening on");

    assert_eq!(read_all_from(&path), b"");
    relay.wait_log("uid 0 is not admitted (peer-uid)");

    let program = binary_for_everyone(dir.path());
    let mut command = Command::new(program);
    command
        .args(["-", &format!("UNIX-CONNECT:{}", path.display())])
        .uid(NOBODY)
        .gid(NOBODY);
    let client = Proc::spawn_with(&mut command);
    let pid = client.pid();
    let out = client.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout_text(),
        format!("uid={NOBODY} gid={NOBODY} pid={pid}\n")
    );
    relay.terminate();
}

#[test]
fn a_datagram_receiver_drops_datagrams_from_peers_it_does_not_admit() {
    let dir = tempdir();
    let path = dir.path().join("r");
    let (me, _) = my_ids();
    let mut refusing = Proc::spawn(&[
        "-d",
        "-u",
        &format!("UNIX-RECV:{},peer-uid={}", path.display(), other_uid()),
        "STDOUT",
    ]);
    refusing.wait_log("receiving on");
    let sender = UnixDatagram::unbound().unwrap();
    sender.send_to(b"dropped", &path).unwrap();
    let line = refusing.wait_log("refusing datagram");
    assert!(
        line.contains(&format!("uid {me} is not admitted (peer-uid)")),
        "{line}"
    );
    let out = refusing.terminate();
    assert_eq!(out.stdout, b"");

    let path = dir.path().join("r2");
    // The program reads its datagram before it answers: one that exited first would make
    // writing the datagram to it fail.
    let mut admitting = Proc::spawn(&[
        "-d",
        &format!("UNIX-RECVFROM:{},fork,peer-uid={me}", path.display()),
        "SYSTEM:'cat >/dev/null; echo uid=$SOCKETRY_PEERUID gid=$SOCKETRY_PEERGID pid=$SOCKETRY_PEERPID'",
    ]);
    admitting.wait_log("receiving on");
    let reply_path = dir.path().join("client");
    let client = UnixDatagram::bind(&reply_path).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.send_to(b"who am I", &path).unwrap();
    let mut buf = [0u8; 256];
    let n = client.recv(&mut buf).unwrap();
    let (uid, gid) = my_ids();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        format!("uid={uid} gid={gid} pid={}\n", std::process::id())
    );
    admitting.terminate();
}

#[test]
fn credential_options_apply_only_to_unix_servers() {
    let out = common::run(&["-", "UNIX-CONNECT:/tmp/x,peer-uid=0"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["option \"peer-uid\" does not apply to UNIX-CONNECT in \"UNIX-CONNECT:/tmp/x,peer-uid=0\""]
    );
    let out = common::run(&["-", "TCP-LISTEN:0,peer-gid=0"], b"");
    assert_eq!(
        out.errors(),
        ["option \"peer-gid\" does not apply to TCP-LISTEN in \"TCP-LISTEN:0,peer-gid=0\""]
    );
    let out = common::run(
        &["UNIX-LISTEN:/tmp/never,peer-uid=no-such-user-socketry", "-"],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["UNIX-LISTEN:/tmp/never,peer-uid=no-such-user-socketry: peer-uid: no such user \"no-such-user-socketry\" (expected a user name or a uid)"]
    );
}
