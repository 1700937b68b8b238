#![allow(clippy::unwrap_used)]
//! TUN/TAP interfaces in network namespaces the tests create themselves (and remove): a TUN
//! device's packets read whole, with and without packet information, and the classic tunnel,
//! two namespaces joined by a veth pair with a socketry in each relaying its TUN (or TAP)
//! device to the other over UDP, or over TCP with a length prefix, while `ping` crosses it.
//!
//! These tests need root (CI runs as root) and `ip` and `ping`: when either is missing they
//! run the project's `.ci/deps` first, which installs them. Without them they fail, loudly:
//! they never pass without having tested anything.

mod common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output};

use common::{bin, run, tempdir, Proc, WAIT};

/// Installs `ip` and `ping` through `.ci/deps` if either is missing, once per test binary.
fn install_tools() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let present = |tool: &str| {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if present("ip") && present("ping") {
            return;
        }
        let deps = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/deps");
        let status = Command::new("bash").arg(deps).status().unwrap();
        assert!(status.success(), "{deps} could not install ip and ping");
    });
}

/// Runs `ip` with `args` and returns what it printed, failing the test if it fails.
fn ip(args: &[&str]) -> String {
    install_tools();
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("running ip (iproute2; .ci/deps installs it)");
    assert!(
        out.status.success(),
        "ip {}: {} (these tests create network namespaces and need root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace made for one test, with its loopback up; removed when dropped.
struct Namespace(String);

impl Namespace {
    fn new(tag: &str) -> Namespace {
        let name = format!("socketry-{tag}-{}", std::process::id());
        // A namespace left by an earlier run that was killed would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        let namespace = Namespace(name);
        namespace.ip(&["link", "set", "lo", "up"]);
        namespace
    }

    fn name(&self) -> &str {
        &self.0
    }

    /// `ip` inside this namespace.
    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// A command that runs `program` inside this namespace.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", self.name(), program])
            .args(args);
        command
    }

    /// socketry inside this namespace.
    fn socketry(&self, args: &[&str]) -> Proc {
        Proc::spawn_with(&mut self.command(bin(), args))
    }

    /// Pings `target` from this namespace.
    fn ping(&self, target: &str) -> Output {
        install_tools();
        self.command("ping", &["-c", "3", "-W", "2", target])
            .output()
            .expect("running ping (iputils-ping; .ci/deps installs it)")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Two namespaces joined by a veth pair: 10.200.0.1/24 in the first, 10.200.0.2/24 in the
/// second. The addresses exist only inside these namespaces.
fn joined(tag: &str) -> (Namespace, Namespace) {
    let a = Namespace::new(&format!("{tag}A"));
    let b = Namespace::new(&format!("{tag}B"));
    a.ip(&[
        "link",
        "add",
        "veth0",
        "type",
        "veth",
        "peer",
        "name",
        "veth1",
        "netns",
        b.name(),
    ]);
    a.ip(&["addr", "add", "10.200.0.1/24", "dev", "veth0"]);
    a.ip(&["link", "set", "veth0", "up"]);
    b.ip(&["addr", "add", "10.200.0.2/24", "dev", "veth1"]);
    b.ip(&["link", "set", "veth1", "up"]);
    (a, b)
}

/// Starts the far end (a server in `b` relaying its listening address to its TUN device),
/// then the near end (in `a`, its TUN device to the server), and pings the far TUN address
/// from `a` through the tunnel.
fn ping_through_tunnel(tag: &str, server: &str, client: &str, tun_options: &str) {
    let (a, b) = joined(tag);
    let mut far = b.socketry(&["-d", server, &format!("TUN:10.201.0.2/24,{tun_options}")]);
    let port = far.listening_port();
    let client = client.replace("PORT", &port.to_string());
    let mut near = a.socketry(&["-d", &format!("TUN:10.201.0.1/24,{tun_options}"), &client]);
    near.wait_log("starting data transfer loop");

    let ping = a.ping("10.201.0.2");
    let text = String::from_utf8_lossy(&ping.stdout).into_owned();
    assert!(
        ping.status.success() && text.contains("bytes from 10.201.0.2"),
        "ping through the tunnel failed: {text}{}",
        String::from_utf8_lossy(&ping.stderr)
    );
    // The tunnel carried the pings both ways, and neither end failed doing so.
    let near = near.terminate();
    let far = far.terminate();
    for out in [&near, &far] {
        assert!(out.errors().is_empty(), "{}", out.stderr);
    }
}

#[test]
fn ping_crosses_a_tun_tunnel_over_udp() {
    ping_through_tunnel(
        "tunudp",
        "UDP-LISTEN:0,bind=10.200.0.2",
        "UDP:10.200.0.2:PORT",
        "up",
    );
}

#[test]
fn ping_crosses_a_tun_tunnel_over_tcp_with_a_length_prefix() {
    ping_through_tunnel(
        "tuntcp",
        "TCP-LISTEN:0,bind=10.200.0.2,length-prefix=2",
        "TCP:10.200.0.2:PORT,length-prefix=2",
        "iff-up,iff-no-pi",
    );
}

#[test]
fn ping_crosses_a_tap_tunnel_over_udp() {
    ping_through_tunnel(
        "tapudp",
        "UDP-LISTEN:0,bind=10.200.0.2",
        "UDP:10.200.0.2:PORT",
        "up,tun-type=tap,no-pi",
    );
}

/// Reads packets of `relay` (a TUN device relayed to `socket`) until an IPv4 UDP packet
/// whose payload is `payload` arrives, and returns it whole. Other packets the kernel sends
/// on a new interface (IPv6 router solicitations, say) are skipped.
fn udp_packet_with(socket: &UnixDatagram, payload: &[u8], header: usize) -> Vec<u8> {
    let mut buf = vec![0; 65536];
    for _ in 0..100 {
        let n = socket.recv(&mut buf).unwrap_or_else(|e| {
            panic!("no packet from the TUN device within {WAIT:?}: {e}");
        });
        let packet = &buf[..n];
        let ip = &packet[header.min(n)..];
        if ip.first().is_some_and(|b| b >> 4 == 4)
            && ip.get(9) == Some(&17)
            && ip.ends_with(payload)
        {
            return packet.to_vec();
        }
    }
    panic!("no UDP packet carrying {payload:?} among 100 packets");
}

#[test]
fn a_tun_device_delivers_each_packet_whole_with_its_settings_applied() {
    let ns = Namespace::new("tunread");
    let dir = tempdir();
    let path = dir.path().join("packets.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut relay = ns.socketry(&[
        "-d",
        "-u",
        "TUN:10.203.0.1/24,iff-up,iff-no-pi,tun-name=sktun0,mtu=1400,iff-promisc",
        &format!("UNIX-SENDTO:{}", path.display()),
    ]);
    relay.wait_log("created interface TUN sktun0 10.203.0.1/24");

    let link = ns.ip(&["link", "show", "sktun0"]);
    assert!(link.contains("mtu 1400"), "{link}");
    assert!(link.contains(",UP") && link.contains("PROMISC"), "{link}");
    let addr = ns.ip(&["-o", "-4", "addr", "show", "dev", "sktun0"]);
    assert!(addr.contains("inet 10.203.0.1/24"), "{addr}");

    let payload = b"through the tun device\n";
    let sender = ns
        .command(bin(), &["-u", "-", "UDP-SENDTO:10.203.0.2:9"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut sender = sender;
        sender.stdin.take().unwrap().write_all(payload).unwrap();
        assert!(sender.wait().unwrap().success());
    }
    // No packet information: the datagram is the IPv4 packet, its length field its size.
    let packet = udp_packet_with(&socket, payload, 0);
    assert_eq!(packet[0], 0x45);
    assert_eq!(
        usize::from(u16::from_be_bytes([packet[2], packet[3]])),
        packet.len()
    );
    assert_eq!(packet.len(), 20 + 8 + payload.len());
    assert_eq!(&packet[16..20], &[10, 203, 0, 2]);
    let out = relay.terminate();
    assert!(out.errors().is_empty(), "{}", out.stderr);
}

#[test]
fn packet_information_precedes_each_packet_unless_no_pi() {
    let ns = Namespace::new("tunpi");
    let dir = tempdir();
    let path = dir.path().join("packets.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut relay = ns.socketry(&[
        "-d",
        "-u",
        "TUN:10.204.0.1/24,up",
        &format!("UNIX-SENDTO:{}", path.display()),
    ]);
    relay.wait_log("created interface TUN");
    let payload = b"with packet information";
    let mut sender = ns
        .command(bin(), &["-u", "-", "UDP-SENDTO:10.204.0.2:9"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        sender.stdin.take().unwrap().write_all(payload).unwrap();
    }
    assert!(sender.wait().unwrap().success());
    let packet = udp_packet_with(&socket, payload, 4);
    // Flags 0, then the protocol: 0x0800, IPv4.
    assert_eq!(&packet[..4], &[0, 0, 0x08, 0x00]);
    assert_eq!(packet.len(), 4 + 20 + 8 + payload.len());
    relay.terminate();
}

#[test]
fn bad_tun_settings_are_clear_errors() {
    let out = run(&["-u", "TUN,tun-name=much-too-long-a-name", "STDOUT"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["TUN,tun-name=much-too-long-a-name: tun-name \"much-too-long-a-name\" is not an interface name (expected at most 15 bytes, no '/', ':' or space)"]
    );
    let dir = tempdir();
    let device = dir.path().join("no-such-device");
    let address = format!("TUN,tun-device={}", device.display());
    let out = run(&["-u", &address, "STDOUT"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: creating a TUN interface on {}: No such file or directory",
            device.display()
        )]
    );
}

// ---- netns=NAME: an address opened in another network namespace ----

#[test]
fn a_listener_and_a_client_with_netns_meet_in_that_namespace_only() {
    let namespace = Namespace::new("netns-tcp");
    let listen = format!("TCP4-LISTEN:0,bind=127.0.0.1,netns={}", namespace.name());
    let mut server = Proc::spawn(&["-d", "-d", &listen, "EXEC:od -c"]);
    let port = server.listening_port().to_string();
    // The listener is the namespace's: socketry's own namespace has nothing on that port.
    let own = run(&["-", &format!("TCP4:127.0.0.1:{port}")], b"x");
    assert_eq!(own.code(), Some(1));
    assert_eq!(
        own.errors(),
        [format!(
            "TCP4:127.0.0.1:{port}: connecting to 127.0.0.1:{port}: Connection refused"
        )]
    );
    let client = format!("TCP4:127.0.0.1:{port},netns={}", namespace.name());
    let out = run(&["-", &client], b"ns\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0000000   n   s  \\n\n0000003\n");
    server.terminate();
}

#[test]
fn a_program_with_netns_runs_in_that_namespace_and_socketry_stays_in_its_own() {
    let namespace = Namespace::new("netns-exec");
    let theirs = namespace
        .command("readlink", &["/proc/self/ns/net"])
        .output()
        .unwrap();
    let theirs = String::from_utf8(theirs.stdout).unwrap();
    let program = format!("EXEC:readlink /proc/self/ns/net,netns={}", namespace.name());
    let mut relay = Proc::spawn(&["-d", "-u", &program, "-"]);
    let pid = relay.wait_log("started EXEC readlink");
    assert!(pid.contains(" as pid "), "{pid}");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), theirs);
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(out.stdout_text().trim(), ours.to_string_lossy());
}

#[test]
fn a_missing_namespace_is_a_clear_error() {
    let out = run(
        &["-", "TCP4:127.0.0.1:1,netns=socketry-no-such-namespace"],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["TCP4:127.0.0.1:1,netns=socketry-no-such-namespace: opening the network namespace socketry-no-such-namespace (/run/netns/socketry-no-such-namespace): No such file or directory"]
    );
}

// ---- INTERFACE: the frames of an existing interface ----

/// A TUN interface named `name` with address 10.77.0.1/24 in `namespace`, its other side
/// `tun_side` (PIPE echoes every packet back in), ready when this returns.
fn tun_in(namespace: &Namespace, name: &str, tun_side: &[&str]) -> Proc {
    let tun = format!("TUN:10.77.0.1/24,iff-up,tun-type=tun,tun-name={name},iff-no-pi");
    let mut args = vec!["-d"];
    args.extend_from_slice(tun_side);
    args.insert(args.len() - 1, &tun);
    let mut relay = namespace.socketry(&args);
    relay.wait_log("created interface TUN");
    relay
}

#[test]
fn interface_sends_frames_out_and_reads_what_arrives() {
    let namespace = Namespace::new("iface-echo");
    let tun = tun_in(&namespace, "sktun0", &["PIPE"]);
    // What INTERFACE sends leaves through sktun0; the TUN side writes it back in, and it
    // arrives on sktun0, where INTERFACE reads it.
    let mut client = namespace.socketry(&["-d", "-T", "1", "-", "INTERFACE:sktun0"]);
    client.wait_log("opened INTERFACE sktun0");
    client.stdin().write_all(b"a frame\n").unwrap();
    let out = client.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "a frame\n");
    tun.terminate();
}

#[test]
fn interface_passes_over_what_this_host_sends_out() {
    let namespace = Namespace::new("iface-out");
    // The TUN side only reads: nothing comes back in.
    let tun = tun_in(&namespace, "sktun1", &["-u", "/dev/null"]);
    let mut watcher = namespace.socketry(&["-d", "-u", "-T", "2", "INTERFACE:sktun1", "-"]);
    watcher.wait_log("opened INTERFACE sktun1");
    let sent = namespace
        .command("ping", &["-c", "1", "-W", "1", "10.77.0.2"])
        .output()
        .unwrap();
    assert!(!sent.status.success(), "nobody answers 10.77.0.2");
    let out = watcher.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"", "INTERFACE showed an outgoing packet");
    tun.terminate();
}
