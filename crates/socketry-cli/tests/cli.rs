#![allow(clippy::unwrap_used)]
//! The command line as a user meets it: help and version, standard streams and inherited
//! descriptors, dual addresses, and every kind of bad input, each with its exact message and
//! exit status.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{bin, run};

#[test]
fn version_lists_only_built_features_with_the_version_on_line_two() {
    let out = run(&["-V"], b"");
    assert_eq!(out.code(), Some(0));
    let text = out.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        format!(
            "socketry version {}, speaking the address language of socat 1.8.0.3",
            env!("CARGO_PKG_VERSION")
        )
    );
    for feature in [
        "STDIO",
        "TCP",
        "UDP",
        "UNIX",
        "ABSTRACT_UNIXSOCKET",
        "IP4",
        "IP6",
        "LISTEN",
        "EXEC",
        "SYSTEM",
        "SHELL",
        "PTY",
        "POSIXMQ",
        "TUN",
        "OPENSSL",
        "INTERFACE",
        "NAMESPACES",
    ] {
        assert!(
            lines.contains(&format!("  #define WITH_{feature} 1").as_str()),
            "{feature}"
        );
    }
    assert!(!text.contains("WITH_SCTP "), "SCTP");
}

#[test]
fn help_levels_grow_from_types_to_options_to_aliases() {
    let h = run(&["-h"], b"").stdout_text();
    let hh = run(&["-hh"], b"").stdout_text();
    let hhh = run(&["-hhh"], b"").stdout_text();
    assert!(
        h.contains("TCP-LISTEN:<port>")
            && h.contains("UNIX-CONNECT:<path>")
            && h.contains("SOCKETPAIR")
    );
    // -h lists no options, only the limits every server has.
    assert!(!h.contains("   max-children ") && !h.contains("   ipv6-v6only "));
    assert!(h.contains(
        "\nlimits (none for TCP or Unix connections unless given, as in socat):\n   max-children=N   a forking server serves at most N peers at once; the rest wait\n   1024 sessions    forking UDP-LISTEN/UDP-RECVFROM/UNIX-RECVFROM sessions at once without\n"
    ));
    assert!(h.contains(
        "\n   -T S             the relay ends after S seconds without data either way\n"
    ));
    assert!(hh.contains("   max-children ") && hh.contains("   ipv6-v6only "));
    assert!(!hh.contains("so-reuseaddr"));
    assert!(hhh.contains("   so-reuseaddr ") && hhh.contains("(also TCP-L)"));
}

#[test]
fn stdin_to_stdout_copies_exactly() {
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let out = run(&["-u", "STDIN", "STDOUT"], &data);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, data);
}

#[test]
fn a_bare_number_is_an_inherited_descriptor() {
    // fd 3 is a file the shell opens for writing; socketry writes stdin into it.
    let dir = common::tempdir();
    let file = dir.path().join("out");
    let script = format!("exec 3>'{}'; exec '{}' -u - 3", file.display(), bin());
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"to fd three")
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(&file).unwrap(), b"to fd three");
}

#[test]
fn dual_address_reads_one_endpoint_and_writes_another() {
    let dir = common::tempdir();
    let file = dir.path().join("out");
    let script = format!(
        "exec 3>'{}'; exec '{}' -u - 'STDERR!!FD:3'",
        file.display(),
        bin()
    );
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"dual").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(std::fs::read(&file).unwrap(), b"dual");
}

#[test]
fn crnl_converts_line_endings_both_ways() {
    let out = run(&["-u", "STDIN", "STDOUT,crnl"], b"a\nb\n");
    assert_eq!(out.stdout, b"a\r\nb\r\n");
    let out = run(&["-u", "STDIN,crnl", "STDOUT"], b"a\r\nb\r\n");
    assert_eq!(out.stdout, b"a\nb\n");
}

/// Every kind of bad input: exit status 1 and one line that quotes the offending text.
#[test]
fn bad_input_gets_one_line_quoting_it_and_exit_status_1() {
    let long = format!("UNIX-LISTEN:/tmp/{}", "p".repeat(110));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-", "FOO:bar"], "unknown device/address \"FOO\" in \"FOO:bar\"".into()),
        (vec!["-", "TCP:h:1,backlog=5"], "option \"backlog\" does not apply to TCP in \"TCP:h:1,backlog=5\"".into()),
        (vec!["-", "TCP:h:1,frobnicate=2"], "unknown option \"frobnicate\" in \"TCP:h:1,frobnicate=2\"".into()),
        (vec!["-", "TCP:localhost"], "missing parameter in \"TCP:localhost\": TCP expects TCP:<host>:<port>".into()),
        (vec!["-", "TCP-LISTEN:1:2"], "extra parameter \"2\" in \"TCP-LISTEN:1:2\": TCP-LISTEN expects TCP-LISTEN:<port>".into()),
        (vec!["-", "TCP:localhost:99999"], "invalid port \"99999\" in \"TCP:localhost:99999\" (expected a number from 0 to 65535)".into()),
        (vec!["-", "UDP:localhost:http"], "invalid port \"http\" in \"UDP:localhost:http\" (expected a number from 0 to 65535)".into()),
        (vec!["-", &long], format!("Unix socket path \"/tmp/{}\" in \"{long}\" is 115 bytes long (expected at most 107)", "p".repeat(110))),
        (vec!["-q", "-", "-"], "unknown option \"-q\" (see socketry -h)".into()),
        (vec!["-"], "two addresses expected, got one".into()),
        (vec!["-b", "0", "-", "-"], "invalid value \"0\" for -b (expected a positive byte count)".into()),
    ];
    for (args, want) in cases {
        let out = run(&args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
        let error = out.errors().first().copied().unwrap_or_default().to_owned();
        assert!(
            error.starts_with(&want),
            "{args:?}:\n got {error}\nwant {want}"
        );
    }
}

#[test]
fn a_host_that_does_not_resolve_is_named() {
    // In a new network namespace no name server can be reached, so resolution fails at once
    // and no packet leaves the machine.
    let out = Command::new("unshare")
        .args(["-n", bin(), "-", "TCP:nosuchhost.invalid:80"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("E TCP:nosuchhost.invalid:80: resolving \"nosuchhost.invalid\": "),
        "{stderr}"
    );
}

#[test]
fn permission_denied_on_bind_says_so() {
    // An unprivileged user cannot create a socket in a directory it may not write to.
    let dir = common::tempdir();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = locked.join("s");
    let address = format!("UNIX-LISTEN:{}", path.display());
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            bin(),
            &address,
            "-",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "E {address}: binding to {}: Permission denied",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_closed_stdout_for_help_is_not_an_error() {
    let mut child = Command::new(bin())
        .arg("-hhh")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn pipe_echoes_and_a_named_pipe_is_created_with_its_mode() {
    let out = run(&["-", "PIPE"], b"through a pipe");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"through a pipe");
    let out = run(&["-", "ECHO"], b"echo is socat's name for it");
    assert_eq!(out.stdout, b"echo is socat's name for it");

    let dir = common::tempdir();
    let fifo = dir.path().join("fifo");
    let address = format!("PIPE:{},mode=640,unlink-close=0", fifo.display());
    let out = run(&["-", &address], b"through a fifo");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"through a fifo");
    let metadata = std::fs::metadata(&fifo).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(metadata.file_type().is_fifo());
    assert_eq!(metadata.permissions().mode() & 0o777, 0o640);
}

#[test]
fn file_is_socats_name_for_open_and_pf_takes_address_family_numbers() {
    let dir = common::tempdir();
    let path = dir.path().join("f");
    std::fs::write(&path, b"from a file").unwrap();
    let out = run(&["-u", &format!("FILE:{}", path.display()), "STDOUT"], b"");
    assert_eq!(out.stdout, b"from a file");
    let out = run(&["-u", "-", "TCP-LISTEN:0,pf=999"], b"");
    assert_eq!(
        out.errors(),
        vec![
            "invalid value \"999\" for option pf in \"TCP-LISTEN:0,pf=999\" (expected ip4 or ip6)"
        ]
    );
}

#[test]
fn log_lines_carry_micros_hostname_and_program_name_when_asked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &[
            "-lu",
            "-lh",
            "-lp",
            "probe",
            "-",
            &format!("TCP:127.0.0.1:{port}"),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let line = out.stderr.lines().next().unwrap().to_owned();
    // 2026/11/21 16:30:00.123456 HOST probe[PID] E ...
    let (date, rest) = line.split_at(26);
    assert_eq!(date.as_bytes()[19], b'.', "{line}");
    assert!(date[20..].bytes().all(|b| b.is_ascii_digit()), "{line}");
    assert!(
        rest.starts_with(&format!(" {} probe[", host.trim())),
        "{line}"
    );
    assert!(rest.contains("] E TCP:127.0.0.1:"), "{line}");
}

#[test]
fn syslog_gets_the_messages_with_facility_and_severity() {
    // A private mount namespace whose /dev/log is a socket this test listens on.
    let dir = common::tempdir();
    let sock = dir.path().join("log");
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    listener.set_read_timeout(Some(common::WAIT)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = format!(
        "mount -t tmpfs none /dev && mknod -m 666 /dev/null c 1 3 && touch /dev/log && \
         mount --bind '{}' /dev/log && exec '{}' -lylocal0 -lp probe - TCP:127.0.0.1:{port} </dev/null",
        sock.display(),
        bin()
    );
    let status = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let mut buf = [0u8; 1024];
    let n = listener.recv(&mut buf).unwrap();
    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
    // local0 (16) * 8 + error (3) = 131
    assert!(message.starts_with("<131>probe["), "{message}");
    assert!(
        message.contains(&format!(
            "]: E TCP:127.0.0.1:{port}: connecting to 127.0.0.1:{port}: Connection refused"
        )),
        "{message}"
    );
}

also_on_the_copy_path!(
    stdin_to_stdout_copies_exactly,
    pipe_echoes_and_a_named_pipe_is_created_with_its_mode,
);
