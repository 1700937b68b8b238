#![allow(clippy::unwrap_used)]
//! No value panics: every numeric flag, every numeric address option and every numeric
//! address parameter, given extreme values (0, negative, beyond every integer type, NaN,
//! infinities, each option's own bounds and one past them), ends in one error line and exit
//! status 1, or runs cleanly. The cases come from the flag, option and address tables, so a
//! new option is covered the day it is added.

mod common;

use std::collections::HashSet;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use socketry::address::options::{Groups, OptionDef, ValueKind, MAX_SECONDS, OPTIONS};
use socketry::address::AddressType;
use socketry::registry::address_types;

use common::{bin, run};

/// Values no parser may panic on.
const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "1",
    "2147483648",
    "4294967296",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e19",
    "1e400",
    "1e-400",
    "0x7fffffffffffffff",
    "NaN",
    "inf",
    "-inf",
];

/// How long a case that was accepted may run before it is ended with SIGTERM. A case that
/// parses and opens a listener waits for a peer that never comes; one that panics does so
/// when it parses or opens, which is well inside this.
const RUN_FOR: Duration = Duration::from_millis(1500);

/// How many cases run at once.
const SLOTS: usize = 24;

fn numeric(kind: ValueKind) -> bool {
    match kind {
        ValueKind::Count(_)
        | ValueKind::Size(_)
        | ValueKind::Seconds
        | ValueKind::Port
        | ValueKind::Mode
        | ValueKind::SockType
        | ValueKind::Descriptor
        | ValueKind::Priority
        | ValueKind::PrefixWidth
        | ValueKind::ProxyVersion
        | ValueKind::Baud
        | ValueKind::Levels => true,
        ValueKind::Bool
        | ValueKind::Family
        | ValueKind::Bind
        | ValueKind::Range
        | ValueKind::Text
        | ValueKind::User
        | ValueKind::Group
        | ValueKind::Account
        | ValueKind::Assignment
        | ValueKind::TunType
        | ValueKind::TlsVersion
        | ValueKind::Fingerprint
        | ValueKind::Ciphers
        | ValueKind::Alpn
        | ValueKind::Compress
        | ValueKind::Membership(_)
        | ValueKind::Ipv4Address
        | ValueKind::DaemonName
        | ValueKind::HttpHeader
        | ValueKind::HttpToken
        | ValueKind::UrlPath
        | ValueKind::HexBytes
        | ValueKind::SockOpt(_)
        | ValueKind::NamePattern
        | ValueKind::NamespaceName
        | ValueKind::NameServer
        | ValueKind::Refused(_) => false,
    }
}

/// The option's own bounds and one past them, where it has any.
fn edges(def: &OptionDef) -> Vec<String> {
    let (min, max) = match def.kind {
        ValueKind::Count(b) | ValueKind::Size(b) => (b.min, b.max),
        ValueKind::Seconds => (0, MAX_SECONDS),
        _ => return Vec::new(),
    };
    let mut values = vec![min.to_string(), max.to_string()];
    values.push((u128::from(max) + 1).to_string());
    if let Some(under) = min.checked_sub(1) {
        values.push(under.to_string());
    }
    values
}

/// A parameter value that opens without a peer or fails at once, by the parameter's name in
/// the table. A new parameter name fails here, so that it gets a sample.
fn sample(param: &str, unique: &str, dir: &std::path::Path) -> String {
    match param {
        "host" => "127.0.0.1".into(),
        "port" => "0".into(),
        "fdnum" => "0".into(),
        "path" | "filename" => dir.join(unique).display().to_string(),
        "name" => format!("socketry-limits-{}-{unique}", std::process::id()),
        "mqueue" => queue_name(unique),
        "command-line" | "shell-command" => "true".into(),
        // Port 1: nothing listens, so the connect fails at once.
        "url" => "ws://127.0.0.1:1/".into(),
        // A proxy on port 1: nothing listens, so the connect to it fails at once.
        "socks-server" | "proxy" | "listen-host" => "127.0.0.1".into(),
        "socks-port" | "listen-port" => "1".into(),
        // Generic sockets: UDP (or TCP) over IPv4, protocol 0 being the type's own; the
        // remote address is port 1 of 127.0.0.1, the local one a port of the kernel's.
        "domain" | "type" => "2".into(),
        "protocol" => "0".into(),
        "remote-address" => "x00017f000001x0000000000000000".into(),
        "local-address" => "x00007f000001x0000000000000000".into(),
        other => panic!("no sample value for the address parameter <{other}>"),
    }
}

fn queue_name(unique: &str) -> String {
    format!("/socketry-limits-{}-{unique}", std::process::id())
}

/// The message queue a case's address may create (queues outlive their process, and a
/// user's queues share one small limit), to be removed when the case ends.
fn queue_of(row: &AddressType, unique: &str) -> Option<String> {
    row.params.contains(&"mqueue").then(|| queue_name(unique))
}

/// `TYPE:param...`, with `fork` where the type serves many peers (the path options such as
/// idle-timeout and interval take only then).
fn address(row: &AddressType, unique: &str, dir: &std::path::Path, fork: bool) -> String {
    let mut text = row.name.to_owned();
    for param in &row.params[..row.required] {
        text.push(':');
        text.push_str(&sample(param, unique, dir));
    }
    if fork && row.groups.contains(Groups::CHILD) {
        text.push_str(",fork");
    }
    text
}

struct Case {
    args: Vec<String>,
    queue: Option<String>,
    /// TUN interfaces are made in a network namespace of their own, never the test's.
    own_netns: bool,
}

impl Case {
    fn spawn(&self) -> Child {
        let mut command = if self.own_netns {
            let mut c = Command::new("unshare");
            c.args(["-n", bin()]);
            c
        } else {
            Command::new(bin())
        };
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Runs the cases, [`SLOTS`] at a time; every one must end by itself with 0, or 1 and one
/// error line, or still be running cleanly when it is ended with SIGTERM.
fn check_all(cases: &[Case]) {
    let mut failures = Vec::new();
    let mut waiting = cases.iter();
    let mut running: Vec<(&Case, Child, Instant)> = Vec::new();
    loop {
        while running.len() < SLOTS {
            match waiting.next() {
                Some(case) => running.push((case, case.spawn(), Instant::now() + RUN_FOR)),
                None => break,
            }
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            let (_, child, deadline) = &mut running[i];
            let status = child.try_wait().unwrap();
            if status.is_none() && Instant::now() < *deadline {
                i += 1;
                continue;
            }
            let (case, mut child, _) = running.swap_remove(i);
            if let Some(failure) = judge(case, &mut child, status) {
                failures.push(failure);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        failures.is_empty(),
        "{} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Ends a case that is still running, and says what was wrong with how it ended, if anything.
fn judge(
    case: &Case,
    child: &mut Child,
    status: Option<std::process::ExitStatus>,
) -> Option<String> {
    let ended_by_us = status.is_none();
    let status = status.unwrap_or_else(|| {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        child.wait().unwrap()
    });
    let mut stderr = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
    let code = status.code();
    let errors = stderr.lines().filter(|l| l.contains("] E ")).count();
    let clean = if ended_by_us {
        // Exited by socketry's own handler (143), or ended before it was installed.
        code == Some(143) || code.is_none()
    } else {
        code == Some(0) || (code == Some(1) && errors == 1)
    };
    if let Some(queue) = &case.queue {
        let _ = nix::mqueue::mq_unlink(queue.as_str());
    }
    let panicked = stderr.contains("panicked") || stderr.contains("overflow");
    (!clean || panicked).then(|| format!("{:?}: {status}, stderr {stderr:?}", case.args))
}

#[test]
fn every_numeric_address_option_takes_extreme_values_without_panicking() {
    let dir = common::tempdir();
    let mut cases = Vec::new();
    let mut n = 0;
    for def in OPTIONS.iter().filter(|d| numeric(d.kind)) {
        let row = address_types()
            .find(|r| r.groups.intersects(def.group))
            .unwrap_or_else(|| panic!("no address type takes {}", def.name));
        let mut values: Vec<String> = EXTREMES.iter().map(|v| (*v).to_owned()).collect();
        values.extend(edges(def));
        for value in values {
            n += 1;
            let unique = format!("o{n}");
            let address = address(row, &unique, dir.path(), true);
            cases.push(Case {
                args: vec![
                    "-t0".into(),
                    format!("{address},{}={value}", def.name),
                    "-".into(),
                ],
                queue: queue_of(row, &unique),
                own_netns: row.groups.contains(Groups::TUN),
            });
        }
    }
    assert!(cases.len() > 300, "only {} cases", cases.len());
    check_all(&cases);
}

#[test]
fn every_numeric_address_parameter_takes_extreme_values_without_panicking() {
    let dir = common::tempdir();
    let numeric_params: HashSet<&str> = [
        "port",
        "fdnum",
        "index-or-name",
        "domain",
        "type",
        "protocol",
    ]
    .into();
    let mut cases = Vec::new();
    let mut n = 0;
    for row in address_types() {
        for (i, param) in row.params.iter().enumerate() {
            if !numeric_params.contains(param) {
                continue;
            }
            for value in EXTREMES {
                n += 1;
                let mut text = row.name.to_owned();
                for (j, p) in row.params.iter().enumerate().take(row.required.max(i + 1)) {
                    text.push(':');
                    if i == j {
                        text.push_str(value);
                    } else {
                        text.push_str(&sample(p, &format!("p{n}"), dir.path()));
                    }
                }
                // A descriptor or port that opens is used for a moment, then ended.
                cases.push(Case {
                    args: vec!["-t0".into(), text, "-".into()],
                    queue: queue_of(row, &format!("p{n}")),
                    own_netns: false,
                });
            }
        }
    }
    assert!(cases.len() > 200, "only {} cases", cases.len());
    check_all(&cases);
}

#[test]
fn every_numeric_flag_takes_extreme_values_without_panicking() {
    let mut cases = Vec::new();
    for flag in common_flags_with_numbers() {
        for value in
            EXTREMES
                .iter()
                .copied()
                .chain(["1073741824", "1073741825", "3155760000", "3155760001"])
        {
            // Both the separate and the glued form.
            for args in [
                vec![flag.to_owned(), value.to_owned()],
                vec![format!("{flag}{value}")],
            ] {
                let mut args = args;
                args.extend(["-u".to_owned(), "STDIN".to_owned(), "STDOUT".to_owned()]);
                cases.push(Case {
                    args,
                    queue: None,
                    own_netns: false,
                });
            }
        }
    }
    for digits in [
        "0",
        "5",
        "18446744073709551615",
        "100000000",
        "99999999999999999999999",
    ] {
        cases.push(Case {
            args: vec![
                format!("-d{digits}"),
                "-u".into(),
                "STDIN".into(),
                "STDOUT".into(),
            ],
            queue: None,
            own_netns: false,
        });
    }
    check_all(&cases);
}

/// The flags whose value is a number, as `-h` lists them (`<size>`, `<seconds>`).
fn common_flags_with_numbers() -> Vec<String> {
    let help = run(&["-h"], b"").stdout_text();
    let flags: Vec<String> = help
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let flag = words.next()?;
            let value = words.next()?;
            (flag.starts_with('-') && matches!(value, "<size>" | "<seconds>"))
                .then(|| flag.to_owned())
        })
        .collect();
    assert!(flags.len() >= 3, "numeric flags in -h: {flags:?}");
    flags
}

#[test]
fn the_largest_values_that_parse_are_named_in_their_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["-T", "1e19", "-", "-"], "invalid value \"1e19\" for -T (expected seconds from 0 to 3155760000 (a century), e.g. 0.5)"),
        (&["-t", "1e19", "-", "-"], "invalid value \"1e19\" for -t (expected seconds from 0 to 3155760000 (a century), e.g. 0.5)"),
        (&["-b", "1000000000000", "-", "-"], "invalid value \"1000000000000\" for -b (expected at most 1073741824 bytes, 1 GiB: each direction allocates a buffer this size; buffer size option (-b) to big, in the words scripts written for socat look for)"),
        (&["-b", "18446744073709551616", "-", "-"], "invalid value \"18446744073709551616\" for -b (expected at most 1073741824 bytes, 1 GiB: each direction allocates a buffer this size; buffer size option (-b) to big, in the words scripts written for socat look for)"),
        (&["UDP-LISTEN:0,fork,idle-timeout=1e19", "-"], "invalid value \"1e19\" for option idle-timeout in \"UDP-LISTEN:0,fork,idle-timeout=1e19\" (expected seconds from 0 to 3155760000 (a century), e.g. 1.5)"),
        (&["-u", "-", "POSIXMQ-SEND:/socketry-never,fork,interval=1e19"], "invalid value \"1e19\" for option interval in \"POSIXMQ-SEND:/socketry-never,fork,interval=1e19\" (expected seconds from 0 to 3155760000 (a century), e.g. 1.5)"),
        (&["-", "TCP-LISTEN:0,backlog=2147483648"], "invalid value \"2147483648\" for option backlog in \"TCP-LISTEN:0,backlog=2147483648\" (expected an integer from 0 to 2147483647)"),
        (&["-", "TCP-LISTEN:0,fork,max-children=0"], "invalid value \"0\" for option max-children in \"TCP-LISTEN:0,fork,max-children=0\" (expected a count from 1 to 2147483647)"),
    ];
    for (args, want) in cases {
        let out = run(args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(out.errors(), [*want], "{args:?}");
    }
}

#[test]
fn verbosity_saturates_without_allocating_for_its_count() {
    // -d with a count far beyond the highest level is the highest level (debug).
    let out = run(&["-d100000000", "-u", "STDIN", "STDOUT"], b"x");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"x");
    assert!(
        out.stderr.contains(" N starting data transfer loop"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_session_idle_for_a_century_still_relays_its_datagrams() {
    // idle-timeout at its largest: the per-peer deadline is computed for every datagram.
    let mut server = common::Proc::spawn(&[
        "-d",
        "UDP-LISTEN:0,bind=127.0.0.1,fork,idle-timeout=3155760000",
        "PIPE",
    ]);
    let port = server.listening_port();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(common::WAIT)).unwrap();
    let mut buf = [0u8; 64];
    for message in [&b"first"[..], b"second"] {
        socket.send_to(message, ("127.0.0.1", port)).unwrap();
        // The cases of the other tests start and stop processes around this one; a wait
        // they interrupt is simply waited again.
        let n = loop {
            match socket.recv(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                result => break result.unwrap(),
            }
        };
        assert_eq!(&buf[..n], message);
    }
    assert!(server.is_running());
    let out = server.terminate();
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
