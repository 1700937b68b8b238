#![allow(clippy::unwrap_used)]
//! Input at its edges: a backslash with nothing after it, boolean options given a value,
//! arguments far too long or holding control characters, and paths that are not UTF-8.

mod common;

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::{bin, run, Proc};

/// A path in `dir` whose name has bytes that are not UTF-8 (and one that is).
fn non_utf8_path(dir: &std::path::Path, name: &[u8]) -> PathBuf {
    dir.join(std::ffi::OsStr::from_bytes(name))
}

/// `TYPE:` and then `path`'s bytes, as one argument.
fn address(kind: &str, path: &std::path::Path) -> OsString {
    let mut bytes = format!("{kind}:").into_bytes();
    bytes.extend_from_slice(path.as_os_str().as_bytes());
    OsString::from_vec(bytes)
}

#[test]
fn a_trailing_backslash_is_an_error_not_dropped() {
    let dir = common::tempdir();
    let file = dir.path().join("f");
    std::fs::write(&file, b"never read").unwrap();
    // Without the error the backslash would vanish and the file would be read.
    let given = format!("OPEN:{}\\", file.display());
    let out = run(&["-u", &given, "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.stdout, b"");
    assert_eq!(
        out.errors(),
        [format!("syntax error: a backslash ends address \"{given}\" (expected a character after it to protect; write \\\\ for a backslash)")]
    );
    assert_eq!(out.stderr.lines().count(), 1);
}

#[test]
fn a_boolean_option_given_a_value_takes_socats_values_and_refuses_others() {
    for (value, want) in [
        ("yes", &b"a\r\n"[..]),
        ("1", b"a\r\n"),
        ("on", b"a\r\n"),
        ("no", b"a\n"),
        ("0", b"a\n"),
        ("false", b"a\n"),
    ] {
        let out = run(&["-u", "STDIN", &format!("STDOUT,crnl={value}")], b"a\n");
        assert_eq!(out.code(), Some(0), "crnl={value}: {}", out.stderr);
        assert_eq!(out.stdout, want, "crnl={value}");
    }
    for value in ["maybe", "2", "", "yess"] {
        let given = format!("TCP-LISTEN:0,fork={value}");
        let out = run(&["-", &given], b"");
        assert_eq!(out.code(), Some(1), "{given}");
        assert_eq!(
            out.errors(),
            [format!(
                "invalid value \"{value}\" for option fork in \"{given}\" (expected 0 or 1)"
            )]
        );
    }
}

#[test]
fn an_overlong_argument_is_quoted_in_part_with_its_length() {
    let given = format!("TCP:{}:80", "h".repeat(5000));
    let out = run(&["-", &given], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(out.stderr.lines().count(), 1);
    let error = out.errors()[0].to_owned();
    let host = format!("\"{}...\" (5000 characters)", "h".repeat(200));
    let whole = format!("\"TCP:{}...\" (5007 characters)", "h".repeat(196));
    assert_eq!(
        error,
        format!("invalid host {host} in {whole} (expected an IPv4 address, [IPv6] address or host name)")
    );
    // An unknown flag as long is cut the same way.
    let flag = format!("-{}", "q".repeat(3000));
    let out = run(&[&flag, "-", "-"], b"");
    assert_eq!(
        out.errors(),
        [format!(
            "unknown option \"-{}...\" (3001 characters) (see socketry -h)",
            "q".repeat(199)
        )]
    );
}

#[test]
fn an_overlong_path_in_an_error_from_the_system_is_cut_too() {
    let name = "a".repeat(3000);
    let given = format!("OPEN:/nonexistent/{name}");
    let out = run(&["-u", &given, "-"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    let spec = format!("{given}:");
    let path = format!("/nonexistent/{name}:");
    assert_eq!(
        out.errors(),
        [format!(
            "{}... (3019 characters) opening {}... (3014 characters) No such file or directory",
            &spec[..200],
            &path[..200]
        )]
    );
}

#[test]
fn control_characters_in_arguments_are_escaped_never_printed() {
    let given = "FOO\u{1b}c\u{7}\n\r\t:x";
    let out = Command::new(bin())
        .args(["-", given])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = out.stderr;
    assert!(
        !stderr.iter().any(|&b| b < 0x20 && b != b'\n'),
        "{stderr:?}"
    );
    let text = String::from_utf8(stderr).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.ends_with(" E unknown device/address \"FOO\\x1bc\\x07\\n\\r\\t\" in \"FOO\\x1bc\\x07\\n\\r\\t:x\" (expected an address type such as TCP, TCP-LISTEN, UDP, UNIX-CONNECT, STDIO; see socketry -h)\n"),
        "{text}"
    );
    // In a flag's value, and in an error the system reports about an opened path, too.
    let out = run(&["-t", "1\u{1b}[2J", "-", "-"], b"");
    assert_eq!(out.errors(), ["invalid value \"1\\x1b[2J\" for -t (expected seconds from 0 to 3155760000 (a century), e.g. 0.5)"]);
    let out = run(&["-u", "OPEN:/nonexistent/a\u{1b}b", "-"], b"");
    assert_eq!(
        out.errors(),
        ["OPEN:/nonexistent/a\\x1bb: opening /nonexistent/a\\x1bb: No such file or directory"]
    );
}

#[test]
fn files_whose_names_are_not_utf8_are_written_and_read() {
    let dir = common::tempdir();
    let path = non_utf8_path(dir.path(), b"caf\xe9-\xff.txt");
    let mut create = Proc::spawn_with(
        Command::new(bin())
            .arg("-u")
            .arg("-")
            .arg(address("CREATE", &path)),
    );
    create.send_and_close(b"written through a latin-1 name");
    let out = create.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"written through a latin-1 name"
    );

    let read = Proc::spawn_with(
        Command::new(bin())
            .arg("-u")
            .arg(address("OPEN", &path))
            .arg("-"),
    );
    let out = read.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"written through a latin-1 name");

    // A bare path (GOPEN) too.
    let read = Proc::spawn_with(Command::new(bin()).arg("-u").arg(path.as_os_str()).arg("-"));
    assert_eq!(read.finish().stdout, b"written through a latin-1 name");
}

#[test]
fn a_unix_socket_whose_path_is_not_utf8_listens_and_is_reached() {
    let dir = common::tempdir();
    let path = non_utf8_path(dir.path(), b"s\xff\xfe");
    let mut relay = Proc::spawn_with(
        Command::new(bin())
            .arg("-d")
            .arg(address("UNIX-LISTEN", &path))
            .arg("PIPE"),
    );
    relay.wait_log("listening on");
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"echo me").unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"echo me");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // The log names the path with its bytes escaped.
    assert!(out.stderr.contains("s\\xff\\xfe"), "{}", out.stderr);
}

#[test]
fn text_that_must_be_utf8_says_so_when_it_is_not() {
    let out = Proc::spawn_with(
        Command::new(bin())
            .arg("-")
            .arg(OsString::from_vec(b"TCP:h\xff:80".to_vec())),
    )
    .finish();
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["invalid host \"h\\xff\" in \"TCP:h\\xff:80\": it is not UTF-8 (only paths may hold other bytes)"]
    );
    let out = Proc::spawn_with(
        Command::new(bin())
            .arg(OsString::from_vec(b"-\xff".to_vec()))
            .arg("-")
            .arg("-"),
    )
    .finish();
    assert_eq!(
        out.errors(),
        ["unknown option \"-\\xff\" (see socketry -h)"]
    );
}
