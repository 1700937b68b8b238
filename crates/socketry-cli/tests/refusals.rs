#![allow(clippy::unwrap_used)]
//! Addresses that cannot work are refused when the command line is read: a program given
//! both a pseudo-terminal and pipes, `nofork` with a channel option, a user `su` names that
//! does not exist. The refusal is one line naming what was wrong, exit status 1, and it comes
//! before anything listens, binds, connects or creates a file: a server whose second address
//! cannot work does not start, instead of failing every peer that connects.

mod common;

use std::net::TcpStream;

use common::{free_port, run, tempdir};

#[test]
fn a_program_gets_one_channel() {
    let cases = [
        (
            "EXEC:cat,pty,pipes",
            "EXEC:cat,pty,pipes: pty and pipes cannot be combined: the program gets one or the other (both say how its input and output are connected; give one)",
        ),
        (
            "SYSTEM:cat,nofork,ctty",
            "SYSTEM:cat,nofork,ctty: ctty: with nofork the program has the first address's descriptors, not a channel of socketry's",
        ),
        (
            "SYSTEM:cat,pipes,nofork",
            "SYSTEM:cat,pipes,nofork: pipes: with nofork the program has the first address's descriptors, not a channel of socketry's",
        ),
        (
            "EXEC:cat,ctty",
            "EXEC:cat,ctty: ctty: the program gets a controlling terminal only with pty",
        ),
        (
            "EXEC:cat,fdin=3,fdout=3",
            "EXEC:cat,fdin=3,fdout=3: fdin and fdout are both 3: the program's input and output need two descriptors",
        ),
    ];
    for (address, want) in cases {
        let out = run(&["-", address], b"");
        assert_eq!(out.code(), Some(1), "{address}: {}", out.stderr);
        assert_eq!(out.errors(), [want], "{address}");
    }
}

#[test]
fn an_unknown_user_is_refused_before_a_tcp_server_listens() {
    let port = free_port();
    let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
    // -d -d: a listener that opened would log "listening on".
    let out = run(&["-d", "-d", &listen, "SYSTEM:cat,su=no-such-user"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        ["SYSTEM:cat,su=no-such-user: su: no such user \"no-such-user\""]
    );
    assert!(!out.stderr.contains("listening"), "{}", out.stderr);
    let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn an_unknown_user_is_refused_before_a_unix_server_makes_its_socket() {
    let dir = tempdir();
    let path = dir.path().join("server.sock");
    let listen = format!("UNIX-LISTEN:{},fork", path.display());
    for (second, want) in [
        (
            "SYSTEM:cat,su=no-such-user",
            "SYSTEM:cat,su=no-such-user: su: no such user \"no-such-user\"",
        ),
        (
            "EXEC:cat,pty,pipes",
            "EXEC:cat,pty,pipes: pty and pipes cannot be combined: the program gets one or the other (both say how its input and output are connected; give one)",
        ),
    ] {
        let out = run(&["-d", "-d", &listen, second], b"");
        assert_eq!(out.code(), Some(1), "{second}: {}", out.stderr);
        assert_eq!(out.errors(), [want]);
        assert!(!path.exists(), "{second}: {} was made", path.display());
    }
    // The server's own peer filter, too.
    let filtered = format!("UNIX-LISTEN:{},fork,peer-gid=no-such-group", path.display());
    let out = run(&[&filtered, "SYSTEM:cat"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        [format!(
            "{filtered}: peer-gid: no such group \"no-such-group\" (expected a group name or a gid)"
        )]
    );
    assert!(!path.exists());
}

#[test]
fn an_unknown_owner_is_refused_before_the_file_is_created() {
    let dir = tempdir();
    let path = dir.path().join("made");
    let create = format!("CREATE:{},group=no-such-group", path.display());
    let out = run(&["-u", "-", &create], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        [format!("{create}: group: no such group \"no-such-group\"")]
    );
    assert!(!path.exists());
}

#[test]
fn a_second_address_that_cannot_open_stops_a_server_before_it_listens() {
    for second in [
        "PIPE,mode=600",
        "POSIXMQ-SEND:/socketry-refusals,creat=0,excl",
        "SYSTEM:cat,nofork!!STDOUT",
    ] {
        let port = free_port();
        let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
        let out = run(&["-d", "-d", &listen, second], b"");
        assert_eq!(out.code(), Some(1), "{second}: {}", out.stderr);
        assert_eq!(out.errors().len(), 1, "{}", out.stderr);
        assert!(
            out.errors()[0].starts_with(&format!("{second}: ")),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("listening"), "{}", out.stderr);
        let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
