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
