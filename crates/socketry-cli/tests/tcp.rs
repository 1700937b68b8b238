#![allow(clippy::unwrap_used)]
//! TCP endpoints, the tutorial pair, and the relay's semantics, against the standard
//! library's sockets on 127.0.0.1 and ::1.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};

use common::{run, Proc};

#[test]
fn server_and_client_echo_and_exit_when_the_server_closes() {
    let mut server = Proc::spawn(&["server", "TCP-LISTEN:0,bind=127.0.0.1"]);
    let port = server.listening_port();
    let target = format!("{port}");
    let out = run(&["client", "127.0.0.1", &target], b"hello\nworld\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"hello\nworld\n");
    server.wait_log("done: 12 bytes in, 12 bytes out");
}

#[test]
fn tcp_listen_relays_both_ways_with_half_close() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1", "-"]);
    let port = relay.listening_port();
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    relay.send_and_close(b"from stdin");
    peer.write_all(b"from peer").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"from stdin");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from peer");
}

#[test]
fn tcp6_connects_over_ipv6_loopback() {
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let out = run(&["-u", "-", &format!("TCP6:[::1]:{port}")], b"six");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(server.join().unwrap(), b"six");
}

#[test]
fn connection_refused_says_refused_and_exits_1() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&["-", &format!("TCP:127.0.0.1:{port}")], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        vec![format!(
            "TCP:127.0.0.1:{port}: connecting to 127.0.0.1:{port}: Connection refused"
        )]
    );
}

#[test]
fn the_environment_can_make_listeners_default_to_ipv6() {
    common::in_network_namespace(|| {
        for name in ["SOCAT_DEFAULT_LISTEN_IP", "SOCKETRY_DEFAULT_LISTEN_IP"] {
            let mut command = std::process::Command::new(common::bin());
            command.env(name, "6").args(["-d", "TCP-LISTEN:0", "PIPE"]);
            let mut relay = Proc::spawn_with(&mut command);
            let line = relay.wait_log("listening on");
            assert!(line.contains("listening on [::]:"), "{name}: {line}");
            assert!(
                common::is_isolated(relay.pid()),
                "listening on the machine's [::]"
            );
            let port = relay.listening_port();
            let mut peer = TcpStream::connect(("::1", port)).unwrap();
            peer.write_all(b"v6").unwrap();
            peer.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"v6");
        }
    });
}

#[test]
fn retry_keeps_connecting_until_the_server_is_there() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("TCP:127.0.0.1:{port},retry=50,interval=0.1");
    let mut client = Proc::spawn(&["-u", "-", &address]);
    let line = client.wait_log("trying again in 0.1s");
    assert!(line.contains("Connection refused"), "{line}");
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    client.send_and_close(b"late");
    let (mut server, _) = listener.accept().unwrap();
    let mut got = Vec::new();
    server.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"late");
    assert_eq!(client.finish().code(), Some(0));
}

#[test]
fn without_retry_a_refused_connection_fails_at_once() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&["-", &format!("TCP:127.0.0.1:{port},retry=0")], b"");
    assert_eq!(out.code(), Some(1));
    assert!(!out.stderr.contains("trying again"), "{}", out.stderr);
}

#[test]
fn sourceport_on_a_listener_admits_only_peers_from_that_port() {
    let allowed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server_address = format!("TCP-LISTEN:0,bind=127.0.0.1,fork,sourceport={allowed}");
    let mut server = Proc::spawn(&["-d", &server_address, "PIPE"]);
    let port = server.listening_port();

    // A peer from another port is closed at once.
    let mut stranger = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let from = stranger.local_addr().unwrap();
    let mut got = Vec::new();
    let _ = stranger.read_to_end(&mut got);
    assert!(got.is_empty());
    server.wait_log(&format!("refusing connection from {from} on TCP-LISTEN 127.0.0.1:{port}: not from source port {allowed}"));

    // A peer sending from the allowed port is served.
    let client = format!("TCP:127.0.0.1:{port},sourceport={allowed}");
    let out = run(&["-", &client], b"from the right port");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"from the right port");
}

#[test]
fn sockets_are_spliced_unless_copying_is_asked_for() {
    for copy in [false, true] {
        let backend = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = backend.local_addr().unwrap().port();
        let mut command = std::process::Command::new(common::bin());
        if copy {
            command.env("SOCKETRY_COPY", "1");
        }
        command.args([
            "-d",
            "-d",
            "-t",
            "10",
            "TCP-LISTEN:0,bind=127.0.0.1",
            &format!("TCP:127.0.0.1:{port}"),
        ]);
        let mut relay = Proc::spawn_with(&mut command);
        let relay_port = relay.listening_port();
        let mut client = TcpStream::connect(("127.0.0.1", relay_port)).unwrap();
        let (mut server, _) = backend.accept().unwrap();
        // A short exchange is copied; bulk data, which fills the relay's buffer, is spliced.
        let ping = b"ping".to_vec();
        let bulk: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        for (mut from, mut to) in [(&client, &server), (&server, &client)] {
            from.write_all(&ping).unwrap();
            let mut got = vec![0; ping.len()];
            to.read_exact(&mut got).unwrap();
            assert_eq!(got, ping);
        }
        let sender = {
            let (mut client, bulk) = (client.try_clone().unwrap(), bulk.clone());
            std::thread::spawn(move || {
                client.write_all(&bulk).unwrap();
                client.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert!(got == bulk, "the bulk data to the server differs");
        sender.join().unwrap();
        server.write_all(&bulk).unwrap();
        drop(server);
        got.clear();
        client.read_to_end(&mut got).unwrap();
        assert!(got == bulk, "the bulk data to the client differs");
        let out = relay.finish();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let spliced: Vec<&str> = out
            .stderr
            .lines()
            .filter_map(|l| l.strip_suffix(": splicing"))
            .filter_map(|l| l.split_once("] I ").map(|(_, m)| m))
            .collect();
        let expected: &[&str] = if copy {
            &[]
        } else {
            &["first address to second", "second address to first"]
        };
        let mut spliced = spliced;
        spliced.sort_unstable();
        assert_eq!(spliced, expected, "{}", out.stderr);
    }
}

also_on_the_copy_path!(
    server_and_client_echo_and_exit_when_the_server_closes,
    tcp_listen_relays_both_ways_with_half_close,
    tcp6_connects_over_ipv6_loopback,
);

#[test]
fn a_forking_listener_out_of_descriptors_warns_once_backs_off_and_recovers() {
    // The echo server needs one descriptor per connection; twenty leave room for the
    // runtime, the listener and a few connections, and the rest wait in the backlog.
    let script = format!(
        "ulimit -n 20 && exec '{}' -d -d -d server TCP-LISTEN:0,bind=127.0.0.1",
        common::bin()
    );
    let mut server = Proc::spawn_with(std::process::Command::new("sh").args(["-c", &script]));
    let port = server.listening_port();
    let clients: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    let seen = server.wait_log_count("still Too many open files; retrying", 3);
    let warnings: Vec<&String> = seen
        .iter()
        .filter(|l| l.contains(" W accepting on"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", seen.join("\n"));
    assert!(
        warnings[0].ends_with(&format!(
            " W accepting on TCP-LISTEN 127.0.0.1:{port}: Too many open files; retrying as resources free up"
        )),
        "{}",
        warnings[0]
    );

    // Descriptors come free: the connections waiting in the backlog, and new ones, are served.
    drop(clients);
    let mut late = TcpStream::connect(("127.0.0.1", port)).unwrap();
    late.set_read_timeout(Some(common::WAIT)).unwrap();
    late.write_all(b"served after all").unwrap();
    late.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    late.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"served after all");
    // The server drains on SIGTERM; with nothing left open that is a clean exit.
    let out = server.terminate();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

/// `mptcp` on both ends: the relay runs over Multipath TCP sockets, as `-D` shows, and the
/// bytes arrive as over TCP.
#[test]
fn mptcp_makes_both_ends_multipath_sockets() {
    common::in_network_namespace(|| {
        let mut server = Proc::spawn(&["-D", "TCP-LISTEN:0,bind=127.0.0.1,mptcp", "PIPE"]);
        let port = server.listening_port();
        let client = run(
            &["-D", "-", &format!("TCP:127.0.0.1:{port},mptcp")],
            b"over several paths\n",
        );
        assert_eq!(client.stdout, b"over several paths\n", "{}", client.stderr);
        assert_eq!(client.code(), Some(0), "{}", client.stderr);
        assert!(client.stderr.contains(" MPTCP=1 "), "{}", client.stderr);
        let served = server.wait_log("first address: TCP");
        assert!(served.contains(" MPTCP=1 "), "{served}");
        server.terminate();
    });
}

/// Where the kernel refuses MPTCP (here: disabled in a namespace of the test's own), `mptcp`
/// falls back to plain TCP and says so, and the data still flows.
#[test]
fn mptcp_falls_back_to_tcp_where_the_kernel_refuses_it() {
    common::in_network_namespace(|| {
        std::fs::write("/proc/sys/net/mptcp/enabled", "0")
            .expect("net.mptcp.enabled in the test's namespace");
        let mut server = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,mptcp", "PIPE"]);
        let warning = server.wait_log("mptcp:");
        assert!(warning.ends_with("; using plain TCP"), "{warning}");
        let port = server.listening_port();
        let client = run(&["-", &format!("TCP:127.0.0.1:{port},mptcp")], b"plain\n");
        assert_eq!(client.stdout, b"plain\n", "{}", client.stderr);
        assert_eq!(client.code(), Some(0), "{}", client.stderr);
        assert!(
            client.stderr.contains(
                " W mptcp: the kernel refused a Multipath TCP socket (Protocol not available); using plain TCP"
            ),
            "{}",
            client.stderr
        );
        server.terminate();
    });
}
