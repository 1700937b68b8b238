#![allow(clippy::unwrap_used)]
//! Help as a new user asks for it (`help`, `--help`, `-h`, after a subcommand too), and the
//! errors that point the way: a missing port, a near miss of a type, option or flag, and
//! socat's address types that socketry does not have yet.

mod common;

use socketry::registry::LATER_TYPES;

use common::run;

const HELP_START: &str =
    "socketry: relay data between two addresses, in socat's address language.\n";

#[test]
fn every_way_of_asking_for_help_prints_usage_and_exits_0() {
    let mut asks: Vec<Vec<&str>> = vec![vec!["help"], vec!["--help"], vec!["-h"], vec!["-?"]];
    // server, nc, scan, send and recv answer --help with their own flags (tests/generate.rs).
    for verb in ["client", "connect", "listen"] {
        asks.push(vec![verb, "--help"]);
        asks.push(vec![verb, "-h"]);
    }
    asks.push(vec!["client", "127.0.0.1", "--help"]);
    for args in asks {
        let out = run(&args, b"");
        assert_eq!(out.code(), Some(0), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}");
        let text = out.stdout_text();
        assert!(text.starts_with(HELP_START), "{args:?}: {text}");
        assert!(
            text.contains("\n       socketry connect ADDRESS | HOST PORT "),
            "{args:?}"
        );
    }
}

#[test]
fn a_host_without_its_port_says_the_port_is_missing() {
    let cases: &[(&[&str], &str)] = &[
        (&["connect", "127.0.0.1"], "connect 127.0.0.1: the port is missing (expected connect HOST PORT, or connect ADDRESS such as TCP:127.0.0.1:PORT)"),
        (&["client", "localhost"], "client localhost: the port is missing (expected client HOST PORT, or client ADDRESS such as TCP:localhost:PORT)"),
        (&["connect", "::1"], "connect ::1: the port is missing (expected connect HOST PORT, or connect ADDRESS such as TCP:[::1]:PORT)"),
    ];
    for (args, want) in cases {
        let out = run(args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert_eq!(out.errors(), [*want], "{args:?}");
    }
}

#[test]
fn near_misses_of_types_options_and_flags_are_suggested() {
    let cases: &[(&[&str], &str)] = &[
        (&["-", "TCP-LISTN:80"], "unknown device/address \"TCP-LISTN\" in \"TCP-LISTN:80\": did you mean TCP-LISTEN? (see socketry -h)"),
        (&["-", "tcp_listen:80"], "unknown device/address \"tcp_listen\" in \"tcp_listen:80\": did you mean TCP-LISTEN? (see socketry -h)"),
        (&["-", "UNIX-CONECT:/s"], "unknown device/address \"UNIX-CONECT\" in \"UNIX-CONECT:/s\": did you mean UNIX-CONNECT? (see socketry -h)"),
        (&["-", "TCP-L:80,forkk"], "unknown option \"forkk\" in \"TCP-L:80,forkk\": did you mean fork? (see socketry -hh for the options)"),
        (&["-", "TCP:h:1,conect-timeout=1"], "unknown option \"conect-timeout\" in \"TCP:h:1,conect-timeout=1\": did you mean connect-timeout? (see socketry -hh for the options)"),
        (&["--statistic", "-", "-"], "unknown option \"--statistic\": did you mean --statistics? (see socketry -h)"),
        (&["connect", "TCP-LISTN"], "unknown device/address \"TCP-LISTN\" in \"TCP-LISTN\": did you mean TCP-LISTEN? (see socketry -h)"),
    ];
    for (args, want) in cases {
        let out = run(args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}");
        assert_eq!(out.errors(), [*want], "{args:?}: {}", out.stderr);
    }
}

#[test]
fn socat_types_not_built_yet_say_so() {
    assert!(LATER_TYPES.len() > 30);
    for name in LATER_TYPES {
        let address = format!("{}:x:1", name.to_ascii_lowercase());
        let out = run(&["-", &address], b"");
        assert_eq!(out.code(), Some(1), "{address}");
        assert_eq!(
            out.errors(),
            [format!("socat's {name} is not built into socketry yet (unknown device/address \"{name}\" in \"{address}\": not supported yet)")],
        );
    }
}

#[test]
fn option_help_keeps_the_value_apart_from_the_description() {
    let hh = run(&["-hh"], b"").stdout_text();
    let lines: Vec<&str> = hh.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("   max-children "))
        .unwrap();
    assert_eq!(
        lines[at],
        "   max-children         with fork: at most this many peers served at once; others wait"
    );
    assert_eq!(
        lines[at + 1],
        "                          value: <a count from 1 to 2147483647> | groups: CONNECT,CHILD"
    );
    let at = lines
        .iter()
        .position(|l| l.starts_with("   fork "))
        .unwrap();
    assert_eq!(
        lines[at + 1],
        "                          value: none (1), or 0 or 1 (also no/yes, false/true, off/on) | groups: CONNECT,CHILD"
    );
    // Every option's description line is followed by its value line.
    let options = &lines[lines
        .iter()
        .position(|l| l.starts_with("address options"))
        .unwrap()
        + 1..];
    for pair in options
        .iter()
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .chunks(2)
    {
        assert!(pair[1].trim_start().starts_with("value: "), "{pair:?}");
    }
}

/// socat's test suite checks, before any test, that `-hhh` names an option's value type in
/// socat's words on the option's line.
#[test]
fn hhh_names_socat_s_value_types_on_the_option_s_line() {
    let hhh = run(&["-hhh"], b"").stdout_text();
    let line = hhh
        .lines()
        .find(|l| l.trim_start().starts_with("ip-add-source-membership "))
        .expect("ip-add-source-membership in -hhh");
    assert!(line.ends_with("\ttype=IP-MREQ-SOURCE"), "{line}");
    let fork = hhh
        .lines()
        .find(|l| l.trim_start().starts_with("fork "))
        .expect("fork in -hhh");
    assert!(fork.ends_with("\ttype=BOOL"), "{fork}");
}

/// socat's test suite, before any test, takes the lines of `-hhh` after the first one that
/// contains "opt:" (socat's own heading) and requires them sorted. socketry's option list is
/// in table order, not sorted, and has no such heading: a help text that says "opt:" (as
/// "setsockopt: ...") would start that check in the middle of the list and fail the whole
/// suite.
#[test]
fn hhh_has_no_line_that_socat_s_suite_takes_for_its_option_heading() {
    let hhh = run(&["-hhh"], b"").stdout_text();
    let found: Vec<&str> = hhh.lines().filter(|l| l.contains("opt:")).collect();
    assert!(found.is_empty(), "{found:?}");
}
