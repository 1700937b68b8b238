#![allow(clippy::unwrap_used)]
//! Ports by service name, as socat, nc and ncat take them: `TCP:host:http`, `TCP4-LISTEN:www`,
//! `UDP4-RECV:domain`, `sourceport=`, looked up in /etc/services for the address's own
//! protocol. Well-known ports are bound only in a network namespace the test makes itself.

mod common;

use std::process::{Command, Stdio};
use std::sync::Once;

use common::{bin, output, run, Proc};

/// /etc/services comes from Debian's netbase and `ip` from iproute2, which .ci/deps installs
/// when they are missing (and is quick when they are not).
fn services() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let deps = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/deps");
        let status = Command::new("bash").arg(deps).status().unwrap();
        assert!(
            status.success(),
            "{deps} could not install netbase and iproute2"
        );
    });
}

/// socketry in a network namespace of its own (needs root, as CI has): ports below 1024 are
/// free there, and its loopback is down, so a connection is refused at once and goes nowhere.
fn in_own_netns(args: &[&str]) -> Proc {
    let mut command = Command::new("unshare");
    command.args(["-n", bin()]).args(args);
    Proc::spawn_with(&mut command)
}

#[test]
fn listeners_take_a_service_name_for_their_protocol() {
    services();
    for (address, listening) in [
        ("TCP4-LISTEN:www", "listening on 0.0.0.0:80"),
        (
            "TCP-LISTEN:http,bind=127.0.0.1",
            "listening on 127.0.0.1:80",
        ),
        ("UDP4-RECV:domain", "listening on UDP 0.0.0.0:53"),
        ("UDP4-RECVFROM:ntp", "listening on UDP 0.0.0.0:123"),
    ] {
        let mut relay = in_own_netns(&["-d", address, "-"]);
        relay.wait_log(listening);
        let out = relay.terminate();
        assert!(!out.stderr.contains(" E "), "{address}: {}", out.stderr);
    }
}

#[test]
fn connecting_addresses_and_sourceport_resolve_service_names() {
    services();
    let cases: &[(&[&str], &str)] = &[
        (
            &["-", "TCP:127.0.0.1:http"],
            "TCP:127.0.0.1:80: connecting to 127.0.0.1:80: Network is unreachable",
        ),
        (
            &["client", "127.0.0.1", "www"],
            "TCP:127.0.0.1:80: connecting to 127.0.0.1:80: Network is unreachable",
        ),
        (
            &["-", "TCP4:127.0.0.1:1,sourceport=http"],
            "TCP4:127.0.0.1:1,sourceport=80: connecting to 127.0.0.1:1: Network is unreachable",
        ),
    ];
    for (args, want) in cases {
        let out = in_own_netns(args).finish();
        assert_eq!(out.code(), Some(1), "{args:?}: {}", out.stderr);
        assert_eq!(out.errors(), [*want], "{args:?}");
    }
}

#[test]
fn a_service_name_reaches_a_real_server_through_the_relay() {
    services();
    // Inside one namespace with its loopback up: an echo server on the http port, and a
    // client that names the port only by service. The client starts once the server's log
    // says it listens.
    let script = format!(
        "ip link set lo up && timeout 15 {bin} -d TCP4-LISTEN:http,bind=127.0.0.1 PIPE 2>server.log & \
         for i in $(seq 1 500); do grep -q 'listening on' server.log 2>/dev/null && break; sleep 0.01; done; \
         printf 'by name' | {bin} - TCP4:127.0.0.1:www",
        bin = bin()
    );
    let dir = common::tempdir();
    let out = output(
        Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .current_dir(dir.path())
            .stdin(Stdio::null()),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"by name");
}

#[test]
fn an_unknown_service_is_an_error_that_names_it_and_its_protocol() {
    services();
    let cases: &[(&[&str], &str)] = &[
        (&["-", "TCP:localhost:nosuchservice"], "invalid port \"nosuchservice\" in \"TCP:localhost:nosuchservice\" (expected a number from 0 to 65535): no tcp service of that name in /etc/services"),
        // ntp is a UDP service only, http a TCP one only.
        (&["-", "TCP-LISTEN:ntp"], "invalid port \"ntp\" in \"TCP-LISTEN:ntp\" (expected a number from 0 to 65535): no tcp service of that name in /etc/services"),
        (&["-", "UDP-LISTEN:http"], "invalid port \"http\" in \"UDP-LISTEN:http\" (expected a number from 0 to 65535): no udp service of that name in /etc/services"),
        (&["-", "UDP:h:1,sourceport=http"], "invalid value \"http\" for option sourceport in \"UDP:h:1,sourceport=http\" (expected a port number from 0 to 65535, or a service name from /etc/services)"),
        (&["client", "localhost", "nosuchservice"], "invalid port \"nosuchservice\" in \"TCP:localhost:nosuchservice\" (expected a number from 0 to 65535): no tcp service of that name in /etc/services"),
    ];
    for (args, want) in cases {
        let out = run(args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}");
        assert_eq!(out.errors(), [*want], "{args:?}");
    }
}
