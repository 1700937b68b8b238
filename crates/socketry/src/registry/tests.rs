use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::address::{
    options, ActivatedSocket, BindAddr, Family, Groups, Host, InterfaceAddr, IpRange, Local,
    MqRole, OptionId, QueueName, Remote, UnixName, UnixRole, Value, QUOTE_MAX,
};
use crate::endpoint::exec::Program;
use crate::endpoint::file::FileSpec;
use crate::endpoint::generic::{GenericSpec, Role as GenericRole};
use crate::endpoint::inherited::InheritedSpec;
use crate::endpoint::mqueue::MqSpec;
use crate::endpoint::pipe::PipeSpec;
use crate::endpoint::pty::PtySpec;
use crate::endpoint::rawip::{RawIpSpec, RawLocal, RawRemote};
use crate::endpoint::readline::ReadlineSpec;
use crate::endpoint::shm::ShmSpec;
use crate::endpoint::socketpair::SocketPairSpec;
use crate::endpoint::stdio::StdioSpec;
use crate::endpoint::tcp::TcpSpec;
use crate::endpoint::tun::TunSpec;
use crate::endpoint::udp::{UdpLiteSpec, UdpSpec};
use crate::endpoint::unix::UnixSpec;

// The kinds as the tests spell them: one constructor per address type's spec.
fn fd(n: i32) -> Kind {
    Kind::Stdio(StdioSpec::Fd(n))
}
fn tcp_connect(r: Remote) -> Kind {
    Kind::Tcp(TcpSpec::Connect(r))
}
fn tcp_listen(l: Local) -> Kind {
    Kind::Tcp(TcpSpec::Listen(l))
}
fn udp_connect(r: Remote) -> Kind {
    Kind::Udp(UdpSpec::Connect(r))
}
fn udp_listen(l: Local) -> Kind {
    Kind::Udp(UdpSpec::Listen(l))
}
fn udp_sendto(r: Remote) -> Kind {
    Kind::Udp(UdpSpec::Sendto(r))
}
fn udp_recvfrom(l: Local) -> Kind {
    Kind::Udp(UdpSpec::Recvfrom(l))
}
fn udp_recv(l: Local) -> Kind {
    Kind::Udp(UdpSpec::Recv(l))
}
fn udp_datagram(r: Remote) -> Kind {
    Kind::Udp(UdpSpec::Datagram(r))
}
fn udplite(spec: UdpSpec) -> Kind {
    Kind::UdpLite(UdpLiteSpec(spec))
}
fn unix(role: UnixRole, name: UnixName) -> Kind {
    Kind::Unix(UnixSpec { role, name })
}
fn generic(role: GenericRole, domain: u16, ty: i32, protocol: i32, address: &[u8]) -> Kind {
    Kind::Generic(GenericSpec {
        role,
        domain,
        ty,
        protocol,
        address: address.to_vec(),
    })
}
fn pipe(path: Option<PathBuf>) -> Kind {
    Kind::Pipe(PipeSpec(path))
}
fn exec(argv: Vec<String>) -> Kind {
    Kind::Exec(Program::Exec(argv))
}
fn system(command: String) -> Kind {
    Kind::Exec(Program::System(command))
}
fn shell(command: String) -> Kind {
    Kind::Exec(Program::Shell(command))
}
fn open(path: PathBuf) -> Kind {
    Kind::File(FileSpec::Open(path))
}
fn create(path: PathBuf) -> Kind {
    Kind::File(FileSpec::Create(path))
}
fn gopen(path: PathBuf) -> Kind {
    Kind::File(FileSpec::Gopen(path))
}
fn posixmq(role: MqRole, name: QueueName) -> Kind {
    Kind::PosixMq(MqSpec { role, name })
}
fn tun(addr: Option<InterfaceAddr>) -> Kind {
    Kind::Tun(TunSpec(addr))
}
fn accept_fd(n: i32) -> Kind {
    Kind::Inherited(InheritedSpec::AcceptFd(n))
}
fn systemd_listen(socket: ActivatedSocket) -> Kind {
    Kind::Inherited(InheritedSpec::SystemdListen(socket))
}
fn shm_listen(name: UnixName) -> Kind {
    Kind::Shm(ShmSpec::Listen(name))
}
fn websocket(secure: bool, host: Host, port: Option<u16>, target: &str) -> Kind {
    Kind::WebSocket(crate::endpoint::websocket::WebSocketSpec::Connect(
        crate::endpoint::websocket::WebSocketUrl {
            secure,
            host,
            port,
            target: target.to_owned(),
        },
    ))
}
fn shm_connect(name: UnixName) -> Kind {
    Kind::Shm(ShmSpec::Connect(name))
}

fn spec(text: &str) -> Spec {
    match Address::parse(text) {
        Ok(Address::Single(spec)) => spec,
        other => panic!("{text}: {other:?}"),
    }
}

fn kind_of(text: &str) -> Kind {
    spec(text).kind
}

fn mq(role: MqRole, name: &str) -> Kind {
    posixmq(role, QueueName::parse(name).unwrap())
}

fn remote(host: Host, port: u16, family: Family) -> Remote {
    Remote { host, port, family }
}

#[test]
fn parses_every_address_form() {
    let v4 = |a, b, c, d| Host::Ip(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    let cases: Vec<(&str, Kind)> = vec![
        ("-", Kind::Stdio(StdioSpec::Stdio)),
        ("STDIO", Kind::Stdio(StdioSpec::Stdio)),
        ("stdin", Kind::Stdio(StdioSpec::Stdin)),
        ("STDOUT", Kind::Stdio(StdioSpec::Stdout)),
        ("STDERR", Kind::Stdio(StdioSpec::Stderr)),
        ("3", fd(3)),
        ("FD:7", fd(7)),
        (
            "TCP:127.0.0.1:80",
            tcp_connect(remote(v4(127, 0, 0, 1), 80, Family::Any)),
        ),
        (
            "tcp-connect:localhost:80",
            tcp_connect(remote(Host::Name("localhost".into()), 80, Family::Any)),
        ),
        (
            "TCP4:localhost:1",
            tcp_connect(remote(Host::Name("localhost".into()), 1, Family::V4)),
        ),
        (
            "TCP6:[::1]:443",
            tcp_connect(remote(
                Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                443,
                Family::V6,
            )),
        ),
        (
            "TCP-LISTEN:8080",
            tcp_listen(Local {
                port: 8080,
                family: Family::Any,
            }),
        ),
        (
            "TCP6-L:0",
            tcp_listen(Local {
                port: 0,
                family: Family::V6,
            }),
        ),
        (
            "UDP:127.0.0.1:53",
            udp_connect(remote(v4(127, 0, 0, 1), 53, Family::Any)),
        ),
        (
            "UDP-LISTEN:5000",
            udp_listen(Local {
                port: 5000,
                family: Family::Any,
            }),
        ),
        (
            "UDP4-SENDTO:127.0.0.1:9",
            udp_sendto(remote(v4(127, 0, 0, 1), 9, Family::V4)),
        ),
        (
            "UDP-RECVFROM:9",
            udp_recvfrom(Local {
                port: 9,
                family: Family::Any,
            }),
        ),
        (
            "UDP6-RECV:9",
            udp_recv(Local {
                port: 9,
                family: Family::V6,
            }),
        ),
        (
            "UDP-DATAGRAM:127.0.0.1:9",
            udp_datagram(remote(v4(127, 0, 0, 1), 9, Family::Any)),
        ),
        (
            "UDPLITE:127.0.0.1:9",
            udplite(UdpSpec::Connect(remote(v4(127, 0, 0, 1), 9, Family::Any))),
        ),
        (
            "udplite6-listen:5000",
            udplite(UdpSpec::Listen(Local {
                port: 5000,
                family: Family::V6,
            })),
        ),
        (
            "UDPLITE4-SENDTO:127.0.0.1:9",
            udplite(UdpSpec::Sendto(remote(v4(127, 0, 0, 1), 9, Family::V4))),
        ),
        (
            "UDPLITE-RECVFROM:9",
            udplite(UdpSpec::Recvfrom(Local {
                port: 9,
                family: Family::Any,
            })),
        ),
        (
            "UDPLITE6-RECV:9",
            udplite(UdpSpec::Recv(Local {
                port: 9,
                family: Family::V6,
            })),
        ),
        (
            "UDPLITE-DATAGRAM:127.0.0.1:9",
            udplite(UdpSpec::Datagram(remote(v4(127, 0, 0, 1), 9, Family::Any))),
        ),
        (
            "IP4:127.0.0.1:253",
            Kind::RawIp(RawIpSpec::Sendto(RawRemote {
                host: v4(127, 0, 0, 1),
                protocol: 253,
                family: Family::V4,
            })),
        ),
        (
            "IP-SENDTO:localhost:gre",
            Kind::RawIp(RawIpSpec::Sendto(RawRemote {
                host: Host::Name("localhost".into()),
                protocol: 47,
                family: Family::Any,
            })),
        ),
        (
            "ip6-dgram:[::1]:0",
            Kind::RawIp(RawIpSpec::Datagram(RawRemote {
                host: Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                protocol: 0,
                family: Family::V6,
            })),
        ),
        (
            "IP-RECVFROM:icmp",
            Kind::RawIp(RawIpSpec::Recvfrom(RawLocal {
                protocol: 1,
                family: Family::Any,
            })),
        ),
        (
            "IP4-RECV:255",
            Kind::RawIp(RawIpSpec::Recv(RawLocal {
                protocol: 255,
                family: Family::V4,
            })),
        ),
        (
            "SOCKET-CONNECT:2:6:x1f907f000001",
            generic(GenericRole::Connect, 2, 1, 6, &[0x1f, 0x90, 127, 0, 0, 1]),
        ),
        (
            "socket-listen:0xa:0:x0050",
            generic(GenericRole::Listen, 10, 1, 0, &[0, 0x50]),
        ),
        (
            "SOCKET-SENDTO:2:2:17:x0035 x08080808",
            generic(GenericRole::Sendto, 2, 2, 17, &[0, 0x35, 8, 8, 8, 8]),
        ),
        (
            "SOCKET-DATAGRAM:1:2:0:\\\"/s\\\\0\\\"",
            generic(GenericRole::Datagram, 1, 2, 0, b"/s\0"),
        ),
        (
            "SOCKET-RECVFROM:2:2:17:x0035",
            generic(GenericRole::Recvfrom, 2, 2, 17, &[0, 0x35]),
        ),
        (
            "SOCKET-RECV:17:3:768:x",
            generic(GenericRole::Recv, 17, 3, 768, &[]),
        ),
        (
            "UNIX-CONNECT:/tmp/s",
            unix(UnixRole::Connect, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX-LISTEN:/tmp/s",
            unix(UnixRole::Listen, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX:/tmp/s",
            unix(UnixRole::Client, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX-SENDTO:/tmp/s",
            unix(UnixRole::Sendto, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX-RECVFROM:/tmp/s",
            unix(UnixRole::Recvfrom, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX-RECV:/tmp/s",
            unix(UnixRole::Recv, UnixName::Path(PathBuf::from("/tmp/s"))),
        ),
        (
            "UNIX-CLIENT:'/tmp/a:b'",
            unix(UnixRole::Client, UnixName::Path(PathBuf::from("/tmp/a:b"))),
        ),
        (
            "ABSTRACT-LISTEN:sock",
            unix(UnixRole::Listen, UnixName::Abstract("sock".into())),
        ),
        (
            "abstract-connect:sock",
            unix(UnixRole::Connect, UnixName::Abstract("sock".into())),
        ),
        ("SOCKETPAIR", Kind::SocketPair(SocketPairSpec)),
        ("PTY", Kind::Pty(PtySpec)),
        ("READLINE", Kind::Readline(ReadlineSpec)),
        (
            "readline,history=/tmp/h,prompt=x",
            Kind::Readline(ReadlineSpec),
        ),
        ("PIPE", pipe(None)),
        ("FIFO:/tmp/f", pipe(Some(PathBuf::from("/tmp/f")))),
        ("EXEC:cat", exec(vec!["cat".into()])),
        ("exec:'od  -c'", exec(vec!["od".into(), "-c".into()])),
        (
            r#"EXEC:'sh -c "echo a  b" x\ y'"#,
            exec(vec![
                "sh".into(),
                "-c".into(),
                "echo a  b".into(),
                "x y".into(),
            ]),
        ),
        ("SYSTEM:'echo $HOME'", system("echo $HOME".into())),
        ("SHELL:'tr a b'", shell("tr a b".into())),
        ("OPEN:/dev/null", open(PathBuf::from("/dev/null"))),
        ("creat:out.txt", create(PathBuf::from("out.txt"))),
        ("GOPEN:'a:b'", gopen(PathBuf::from("a:b"))),
        ("/tmp/file", gopen(PathBuf::from("/tmp/file"))),
        ("./file", gopen(PathBuf::from("./file"))),
        ("POSIXMQ-READ:/q", mq(MqRole::Read, "/q")),
        ("posixmq-recv:/q.1", mq(MqRole::Receive, "/q.1")),
        ("POSIXMQ-RECEIVE:/q", mq(MqRole::Receive, "/q")),
        ("POSIXMQ-WRITE:/q", mq(MqRole::Send, "/q")),
        ("POSIXMQ-SEND:/q", mq(MqRole::Send, "/q")),
        ("POSIXMQ:/q", mq(MqRole::Bidirectional, "/q")),
        ("POSIXMQ-BIDIRECTIONAL:/q", mq(MqRole::Bidirectional, "/q")),
        ("TUN", tun(None)),
        (
            "TUN:10.9.8.7/24",
            tun(Some(InterfaceAddr {
                addr: Ipv4Addr::new(10, 9, 8, 7),
                prefix: 24,
            })),
        ),
        ("ACCEPT-FD:3", accept_fd(3)),
        (
            "SHM-LISTEN:/tmp/r",
            shm_listen(UnixName::Path(PathBuf::from("/tmp/r"))),
        ),
        (
            "shm-connect:/tmp/r",
            shm_connect(UnixName::Path(PathBuf::from("/tmp/r"))),
        ),
        ("SYSTEMD-LISTEN", systemd_listen(ActivatedSocket::Index(0))),
        (
            "systemd-listen:2",
            systemd_listen(ActivatedSocket::Index(2)),
        ),
        (
            "SYSTEMD-LISTEN:web",
            systemd_listen(ActivatedSocket::Name("web".into())),
        ),
        (
            "UNIX-RECVFD-LISTEN:/run/pass",
            unix(UnixRole::RecvFd, UnixName::Path(PathBuf::from("/run/pass"))),
        ),
        (
            "ABSTRACT-SENDFD:pass",
            unix(UnixRole::SendFd, UnixName::Abstract("pass".into())),
        ),
        // The URL's `:`s do not split it: the last parameter takes the rest.
        (
            "WS-CONNECT:ws://127.0.0.1:8080/chat?room=1",
            websocket(false, v4(127, 0, 0, 1), Some(8080), "/chat?room=1"),
        ),
        (
            "ws-connect:wss://[::1]",
            websocket(true, Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)), None, "/"),
        ),
        (
            "WS-CONNECT:'ws://example.org/a,b'",
            websocket(false, Host::Name("example.org".into()), None, "/a,b"),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(kind_of(text), want, "{text}");
    }
}

#[test]
fn parses_options_with_typed_values() {
    let s = spec("TCP-LISTEN:80,fork,max-children=5,reuseaddr=0,backlog=7,accept-timeout=1.5,range=127.0.0.0/8");
    assert!(s.options.flag(OptionId::Fork, false));
    assert_eq!(s.options.count(OptionId::MaxChildren), Some(5));
    assert!(!s.options.flag(OptionId::ReuseAddr, true));
    assert_eq!(s.options.count(OptionId::Backlog), Some(7));
    assert_eq!(
        s.options.seconds(OptionId::AcceptTimeout),
        Some(Duration::from_millis(1500))
    );
    assert_eq!(s.options.ranges().count(), 1);
    let s = spec("UNIX-LISTEN:/tmp/x,mode=600,unlink-early,socktype=5");
    assert_eq!(s.options.mode(), Some(0o600));
    assert_eq!(s.options.socktype(), Some(5));
    // A server's own name is its address: bind is refused there (see combinations), so it
    // is read on a client.
    let s = spec("UNIX-CONNECT:/tmp/x,bind=/tmp/y");
    assert_eq!(
        s.options.bind(),
        Some(&BindAddr::Unix(UnixName::Path(PathBuf::from("/tmp/y"))))
    );
    // excl with creat=0 cannot work, and is refused (see combinations): read apart.
    let s = spec("POSIXMQ-SEND:/q,o-creat=0");
    assert!(!s.options.flag(OptionId::Creat, true));
    let s = spec("POSIXMQ-SEND:/q,mq-prio=7,mq-maxmsg=3,mq-msgsize=0x100,o-excl,perm=640,mq-flush,unlink-close");
    assert_eq!(s.options.count(OptionId::MqPriority), Some(7));
    assert_eq!(s.options.count(OptionId::MqMaxMsg), Some(3));
    assert_eq!(s.options.count(OptionId::MqMsgSize), Some(256));
    assert!(s.options.flag(OptionId::Excl, false));
    assert_eq!(s.options.mode(), Some(0o640));
    let s = spec("TUN:10.0.0.1/30,up,tun-type=TAP,no-pi,tun-name=t0,mtu=1400,noarp=0");
    assert!(s.options.flag(OptionId::IffUp, false));
    assert!(s.options.flag(OptionId::NoPi, false));
    assert!(!s.options.flag(OptionId::IffNoArp, true));
    assert_eq!(s.options.text(OptionId::TunType), Some("tap"));
    assert_eq!(s.options.text(OptionId::TunName), Some("t0"));
    assert_eq!(s.options.count(OptionId::Mtu), Some(1400));
    let s = spec("TCP:h:1,length-prefix=4");
    assert_eq!(s.options.count(OptionId::LengthPrefix), Some(4));
    let s = spec("TCP:localhost:80,bind=127.0.0.1:5555,SOURCEPORT=4,nodelay,pf=ip4");
    assert_eq!(s.options.port(OptionId::SourcePort), Some(4));
    assert_eq!(s.options.family(), Some(Family::V4));
}

#[test]
fn parses_dual_addresses() {
    match Address::parse("STDIN!!TCP:localhost:80").unwrap() {
        Address::Dual { read, write } => {
            assert_eq!(read.kind, Kind::Stdio(StdioSpec::Stdin));
            assert!(matches!(write.kind, Kind::Tcp(TcpSpec::Connect(_))));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rejects_bad_input_with_the_offending_text() {
    let long = format!("UNIX-LISTEN:/{}", "x".repeat(120));
    let cases: Vec<(&str, &str)> = vec![
        ("FOO:bar", "unknown device/address \"FOO\""),
        ("TCP:localhost:99999", "invalid port \"99999\""),
        // A service name is a port only for the protocol /etc/services lists it with.
        ("TCP:localhost:ntp", "invalid port \"ntp\""),
        ("UDP:localhost:http", "invalid port \"http\""),
        (
            "TCP:localhost:nosuchservice",
            "no tcp service of that name in /etc/services",
        ),
        (
            "OPEN:/tmp/x\\",
            "a backslash ends address \"OPEN:/tmp/x\\\"",
        ),
        (
            "TCP-LISTEN:80,fork=maybe",
            "invalid value \"maybe\" for option fork",
        ),
        ("TCP-LISTEN:-1", "invalid port \"-1\""),
        (
            "TCP:localhost",
            "missing parameter in \"TCP:localhost\": TCP expects TCP:<host>:<port>",
        ),
        ("TCP-LISTEN:80:90", "extra parameter \"90\""),
        ("STDIO:x", "extra parameter \"x\""),
        ("TCP:h:1,frobnicate", "unknown option \"frobnicate\""),
        (
            "TCP:h:1,backlog=5",
            "option \"backlog\" does not apply to TCP",
        ),
        (
            "STDIO,nodelay",
            "option \"nodelay\" does not apply to STDIO",
        ),
        (
            "ABSTRACT-LISTEN:x,mode=600",
            "option \"mode\" does not apply to ABSTRACT-LISTEN",
        ),
        (
            "TCP-LISTEN:1,backlog=x",
            "invalid value \"x\" for option backlog",
        ),
        (
            "TCP-LISTEN:1,backlog",
            "option backlog in \"TCP-LISTEN:1,backlog\" needs a value",
        ),
        (&long, "is 121 bytes long (expected at most 107)"),
        ("TCP:bad host:1", "invalid host \"bad host\""),
        ("TCP4:[::1]:1", "invalid host \"[::1]\""),
        ("UNIX-CONNECT:'/tmp", "unterminated ' quote"),
        (
            "CREATE:/tmp/f,rdonly",
            "option \"rdonly\" does not apply to CREATE",
        ),
        ("OPEN:/tmp/f,fork", "option \"fork\" does not apply to OPEN"),
        ("OPEN:", "invalid file name"),
        ("OPEN:/tmp/f,seek=x", "invalid value \"x\" for option seek"),
        ("PTY,fork", "option \"fork\" does not apply to PTY"),
        ("PTY,link", "option link in \"PTY,link\" needs a value"),
        ("READLINE,fork", "option \"fork\" does not apply to READLINE"),
        ("STDIO,prompt=x", "option \"prompt\" does not apply to STDIO"),
        ("PIPE,o-direct", "option \"o-direct\" does not apply to PIPE"),
        (
            "SOCKETPAIR,raw",
            "option \"raw\" does not apply to SOCKETPAIR",
        ),
        ("EXEC:' '", "invalid command line \" \""),
        ("EXEC:\"a 'b\"", "expected every quote closed"),
        ("SYSTEM:''", "invalid shell command"),
        ("EXEC", "EXEC expects EXEC:<command-line>"),
        (
            "EXEC:cat,fdin=70000",
            "invalid value \"70000\" for option fdin",
        ),
        (
            "EXEC:cat,setenv=novalue",
            "invalid value \"novalue\" for option setenv",
        ),
        (
            "EXEC:cat,nodelay",
            "option \"nodelay\" does not apply to EXEC",
        ),
        ("TCP:h:1,pipes", "option \"pipes\" does not apply to TCP"),
        ("", "empty address"),
        ("A!!B!!C", "at most one !!"),
        ("POSIXMQ-READ:q", "invalid message queue name \"q\""),
        ("POSIXMQ-READ:/a/b", "invalid message queue name \"/a/b\""),
        ("POSIXMQ-READ:/", "invalid message queue name \"/\""),
        ("POSIXMQ-READ", "POSIXMQ-READ expects POSIXMQ-READ:<mqueue>"),
        (
            "POSIXMQ-READ:/q,mq-prio=1",
            "option \"posixmq-priority\" does not apply to POSIXMQ-READ",
        ),
        (
            "POSIXMQ-READ:/q,fork",
            "option \"fork\" does not apply to POSIXMQ-READ",
        ),
        (
            "POSIXMQ-SEND:/q,mq-prio=32768",
            "invalid value \"32768\" for option posixmq-priority",
        ),
        (
            "POSIXMQ-SEND:/q,rdonly",
            "option \"rdonly\" does not apply to POSIXMQ-SEND",
        ),
        ("TUN:10.0.0.1", "invalid interface address \"10.0.0.1\""),
        (
            "TUN:10.0.0.1/33",
            "invalid interface address \"10.0.0.1/33\"",
        ),
        (
            "TUN:[fd00::1]/64",
            "expected an IPv4 address and prefix length",
        ),
        (
            "TUN,tun-type=eth",
            "invalid value \"eth\" for option tun-type",
        ),
        ("TUN,fork", "option \"fork\" does not apply to TUN"),
        ("TUN,iff-broadcast", "unknown option \"iff-broadcast\""),
        (
            "TCP:h:1,length-prefix=3",
            "invalid value \"3\" for option length-prefix",
        ),
        (
            "UDP:h:1,length-prefix=2",
            "option \"length-prefix\" does not apply to UDP",
        ),
        (
            "TUN,length-prefix=2",
            "option \"length-prefix\" does not apply to TUN",
        ),
        (
            "WS-CONNECT:http://h/",
            "invalid WebSocket URL \"http://h/\" in \"WS-CONNECT:http://h/\" (expected ws://host[:port]/path or wss://host[:port]/path, without user info or #fragment)",
        ),
        ("WS-CONNECT", "WS-CONNECT expects WS-CONNECT:<url>"),
        (
            "WS-CONNECT:ws://h/,cafile=/ca.pem",
            "cafile is a TLS option, and ws://h/ has no TLS (a wss:// URL has)",
        ),
        (
            "WS-CONNECT:ws://h/,length-prefix=2",
            "option \"length-prefix\" does not apply to WS-CONNECT",
        ),
        (
            "WS-CONNECT:ws://h/,ws-header=No Name:x",
            "invalid value \"No Name:x\" for option ws-header",
        ),
        (
            "WS-CONNECT:ws://h/,ws-header=X-Line:a\nb",
            "invalid value \"X-Line:a\\nb\" for option ws-header",
        ),
        (
            "WS-CONNECT:ws://h/,ws-protocol=a/b",
            "invalid value \"a/b\" for option ws-protocol",
        ),
        (
            "WS-CONNECT:ws://h/,ws-max-message=0",
            "invalid value \"0\" for option ws-max-message",
        ),
        ("TCP:h:1,ws-text", "option \"ws-text\" does not apply to TCP"),
    ];
    for (text, want) in cases {
        let err = Address::parse(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text}: {err}");
        assert!(!err.contains('\n'), "{text}: {err}");
    }
}

#[test]
fn paths_are_bytes_and_everything_else_is_text() {
    use std::os::unix::ffi::OsStrExt;
    let path = |bytes: &[u8]| PathBuf::from(std::ffi::OsStr::from_bytes(bytes));
    let cases: &[(&[u8], Kind)] = &[
        (b"OPEN:/tmp/\xffname", open(path(b"/tmp/\xffname"))),
        (b"/tmp/\xfe", gopen(path(b"/tmp/\xfe"))),
        (b"PIPE:/tmp/\xc3", pipe(Some(path(b"/tmp/\xc3")))),
        (b"CREATE:'/tmp/a:\x80'", create(path(b"/tmp/a:\x80"))),
        (
            b"UNIX-LISTEN:/tmp/\xff.sock",
            unix(UnixRole::Listen, UnixName::Path(path(b"/tmp/\xff.sock"))),
        ),
    ];
    for (input, want) in cases {
        let parsed = Address::parse_bytes(input).unwrap();
        let Address::Single(spec) = parsed else {
            panic!("{input:?}")
        };
        assert_eq!(&spec.kind, want, "{input:?}");
    }
    let s = match Address::parse_bytes(b"UNIX-CONNECT:/s,bind=/tmp/\xff").unwrap() {
        Address::Single(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        s.options.bind(),
        Some(&BindAddr::Unix(UnixName::Path(path(b"/tmp/\xff"))))
    );
    let refused: &[(&[u8], &str)] = &[
        (
            b"TCP:h\xff:80",
            "invalid host \"h\\xff\" in \"TCP:h\\xff:80\": it is not UTF-8",
        ),
        (
            b"EXEC:\xff",
            "invalid command-line \"\\xff\" in \"EXEC:\\xff\": it is not UTF-8",
        ),
        (
            b"EXEC:true,su=\xff",
            "invalid value \"\\xff\" for option su",
        ),
        (b"\xff:x", "unknown device/address \"\\xff\" in \"\\xff:x\""),
    ];
    for (input, want) in refused {
        let err = Address::parse_bytes(input)
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with(want), "{input:?}: {err}");
    }
}

#[test]
fn boolean_options_take_the_values_socat_takes() {
    for value in [
        "1", "0", "yes", "no", "true", "false", "on", "off", "YES", " 1",
    ] {
        let text = format!("TCP-LISTEN:80,fork={value}");
        assert!(Address::parse(&text).is_ok(), "{text}");
    }
    let spec = spec("TCP-LISTEN:80,fork=no");
    assert!(!spec.options.flag(OptionId::Fork, true));
    for value in ["2", "maybe", "", "-1", "y"] {
        let text = format!("TCP-LISTEN:80,fork={value}");
        let err = Address::parse(&text).expect_err(&text).to_string();
        assert_eq!(
            err,
            format!("invalid value \"{value}\" for option fork in \"{text}\" (expected 0 or 1)")
        );
    }
}

#[test]
fn errors_escape_control_characters_and_cut_long_arguments() {
    let err = Address::parse("OPEN\u{1b}c\u{7}\n:x")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "unknown device/address \"OPEN\\x1bc\\x07\\n\" in \"OPEN\\x1bc\\x07\\n:x\" (expected an address type such as TCP, TCP-LISTEN, UDP, UNIX-CONNECT, STDIO; see socketry -h)"
    );
    let long = format!("TCP:{}:80", "h".repeat(300));
    let err = Address::parse(&long).unwrap_err().to_string();
    assert!(err.contains("(307 characters)"), "{err}");
    assert!(err.len() < 700, "{err}");
    assert!(!err.contains(&"h".repeat(QUOTE_MAX + 1)), "{err}");
}

#[test]
fn ports_may_be_service_names_of_their_protocol() {
    // Needs /etc/services (Debian's netbase), which .ci/deps installs when it is missing.
    if !std::path::Path::new(crate::services::SERVICES_FILE).exists() {
        let deps = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/deps");
        let status = std::process::Command::new("bash")
            .arg(deps)
            .status()
            .unwrap();
        assert!(status.success(), "{deps} could not install netbase");
    }
    let cases: &[(&str, Kind)] = &[
        (
            "TCP:h:http",
            tcp_connect(remote(Host::Name("h".into()), 80, Family::Any)),
        ),
        (
            "TCP4-LISTEN:www",
            tcp_listen(Local {
                port: 80,
                family: Family::V4,
            }),
        ),
        (
            "UDP:h:domain",
            udp_connect(remote(Host::Name("h".into()), 53, Family::Any)),
        ),
        (
            "UDP-RECV:ntp",
            udp_recv(Local {
                port: 123,
                family: Family::Any,
            }),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&kind_of(text), want, "{text}");
    }
    assert_eq!(
        spec("TCP:h:1,sourceport=http")
            .options
            .port(OptionId::SourcePort),
        Some(80)
    );
    assert_eq!(
        spec("UDP:h:1,bind=:domain").options.bind(),
        Some(&BindAddr::Ip {
            host: None,
            port: Some(53)
        })
    );
    let err = Address::parse("UDP:h:1,sp=http").unwrap_err().to_string();
    assert!(
        err.starts_with("invalid value \"http\" for option sourceport"),
        "{err}"
    );
}

#[test]
fn an_unknown_type_is_never_parsed() {
    assert!(Address::parse("NOSUCHTYPE").is_err());
    assert!(Address::parse("NOSUCHTYPE:1:2").is_err());
}

#[test]
fn displays_canonical_text() {
    let cases = [
        ("-", "STDIO"),
        ("5", "FD:5"),
        (
            "tcp-l:80,FORK,so-reuseaddr=0",
            "TCP-LISTEN:80,fork,reuseaddr=0",
        ),
        ("TCP:[::1]:1", "TCP:[::1]:1"),
        ("UNIX:'/a:b'", "UNIX-CLIENT:/a\\:b"),
        ("STDIN!!STDOUT", "STDIN!!STDOUT"),
        (
            "posixmq-recv:/q,mq-flush",
            "POSIXMQ-RECEIVE:/q,posixmq-flush",
        ),
        ("POSIXMQ:/q", "POSIXMQ-BIDIRECTIONAL:/q"),
        ("tun:10.0.0.1/8,up", "TUN:10.0.0.1/8,iff-up"),
    ];
    for (text, want) in cases {
        assert_eq!(Address::parse(text).unwrap().to_string(), want);
    }
}

fn arb_host() -> impl Strategy<Value = Host> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| Host::Ip(IpAddr::from(b))),
        any::<[u8; 16]>().prop_map(|b| Host::Ip(IpAddr::from(b))),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,5}){0,2}".prop_map(Host::Name),
    ]
}

fn arb_family_for(host: &Host) -> BoxedStrategy<Family> {
    match host {
        Host::Ip(IpAddr::V4(_)) => prop_oneof![Just(Family::Any), Just(Family::V4)].boxed(),
        Host::Ip(IpAddr::V6(_)) => prop_oneof![Just(Family::Any), Just(Family::V6)].boxed(),
        Host::Name(_) => prop_oneof![Just(Family::Any), Just(Family::V4), Just(Family::V6)].boxed(),
    }
}

fn arb_remote() -> impl Strategy<Value = Remote> {
    (arb_host(), any::<u16>()).prop_flat_map(|(host, port)| {
        arb_family_for(&host).prop_map(move |family| remote(host.clone(), port, family))
    })
}

fn arb_local() -> impl Strategy<Value = Local> {
    (
        any::<u16>(),
        prop_oneof![Just(Family::Any), Just(Family::V4), Just(Family::V6)],
    )
        .prop_map(|(port, family)| Local { port, family })
}

fn arb_unix_name() -> impl Strategy<Value = UnixName> {
    prop_oneof![
        "/[ -~]{1,60}".prop_map(|p| UnixName::Path(PathBuf::from(p))),
        "[ -~]{0,60}".prop_map(UnixName::Abstract),
    ]
}

fn arb_role() -> impl Strategy<Value = UnixRole> {
    prop_oneof![
        Just(UnixRole::Connect),
        Just(UnixRole::Listen),
        Just(UnixRole::Sendto),
        Just(UnixRole::Recvfrom),
        Just(UnixRole::Recv),
        Just(UnixRole::Client),
        Just(UnixRole::RecvFd),
        Just(UnixRole::SendFd),
    ]
}

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Stdio(StdioSpec::Stdio)),
        Just(Kind::Stdio(StdioSpec::Stdin)),
        Just(Kind::Stdio(StdioSpec::Stdout)),
        Just(Kind::Stdio(StdioSpec::Stderr)),
        (0..1000i32).prop_map(fd),
        arb_remote().prop_map(tcp_connect),
        arb_local().prop_map(tcp_listen),
        // socat has no OPENSSL4/6 types: the family comes from pf= alone.
        arb_remote().prop_map(
            |r| Kind::Tls(crate::endpoint::tls::TlsSpec::Connect(Remote {
                family: Family::Any,
                ..r
            }))
        ),
        arb_local().prop_map(|l| Kind::Tls(crate::endpoint::tls::TlsSpec::Listen(Local {
            family: Family::Any,
            ..l
        }))),
        (
            any::<bool>(),
            arb_host(),
            proptest::option::of(1..=65535u16),
            "/[a-zA-Z0-9._~:@!$&'()*+,;=%/\\[\\]{}\"-]{0,20}(\\?[a-z0-9=&,:'\"!]{0,10})?",
        )
            .prop_map(|(secure, host, port, target)| Kind::WebSocket(
                crate::endpoint::websocket::WebSocketSpec::Connect(
                    crate::endpoint::websocket::WebSocketUrl {
                        secure,
                        host,
                        port,
                        target,
                    }
                )
            )),
        arb_remote().prop_map(udp_connect),
        arb_local().prop_map(udp_listen),
        arb_remote().prop_map(udp_sendto),
        arb_local().prop_map(udp_recvfrom),
        arb_local().prop_map(udp_recv),
        arb_remote().prop_map(udp_datagram),
        (arb_remote(), 0..3usize).prop_map(|(r, role)| udplite(match role {
            0 => UdpSpec::Connect(r),
            1 => UdpSpec::Sendto(r),
            _ => UdpSpec::Datagram(r),
        })),
        (arb_local(), 0..3usize).prop_map(|(l, role)| udplite(match role {
            0 => UdpSpec::Listen(l),
            1 => UdpSpec::Recvfrom(l),
            _ => UdpSpec::Recv(l),
        })),
        (arb_remote(), any::<u8>(), any::<bool>()).prop_map(|(r, protocol, datagram)| {
            let remote = RawRemote {
                host: r.host,
                protocol,
                family: r.family,
            };
            Kind::RawIp(if datagram {
                RawIpSpec::Datagram(remote)
            } else {
                RawIpSpec::Sendto(remote)
            })
        }),
        (arb_local(), any::<u8>(), any::<bool>()).prop_map(|(l, protocol, recv)| {
            let local = RawLocal {
                protocol,
                family: l.family,
            };
            Kind::RawIp(if recv {
                RawIpSpec::Recv(local)
            } else {
                RawIpSpec::Recvfrom(local)
            })
        }),
        (arb_role(), arb_unix_name()).prop_map(|(r, n)| unix(r, n)),
        (
            0..6usize,
            any::<u16>(),
            0..6i32,
            any::<i32>().prop_map(i32::abs),
            prop::collection::vec(any::<u8>(), 0..40),
        )
            .prop_map(|(role, domain, ty, protocol, address)| {
                let role = [
                    GenericRole::Connect,
                    GenericRole::Listen,
                    GenericRole::Sendto,
                    GenericRole::Datagram,
                    GenericRole::Recvfrom,
                    GenericRole::Recv,
                ][role];
                let ty = if matches!(role, GenericRole::Connect | GenericRole::Listen) {
                    1
                } else {
                    ty
                };
                generic(role, domain, ty, protocol.max(0), &address)
            }),
        Just(Kind::SocketPair(SocketPairSpec)),
        Just(Kind::Pty(PtySpec)),
        proptest::option::of("/[ -~]{1,60}".prop_map(PathBuf::from)).prop_map(pipe),
        prop::collection::vec("[ -~]{0,12}", 1..4).prop_map(exec),
        "[!-~][ -~]{0,40}".prop_map(system),
        "[!-~][ -~]{0,40}".prop_map(shell),
        "[ -~]{1,40}".prop_map(|p| open(PathBuf::from(p))),
        "[ -~]{1,40}".prop_map(|p| create(PathBuf::from(p))),
        "[ -~]{1,40}".prop_map(|p| gopen(PathBuf::from(p))),
        (
            prop_oneof![
                Just(MqRole::Read),
                Just(MqRole::Receive),
                Just(MqRole::Send),
                Just(MqRole::Bidirectional),
            ],
            "/[!-\\-0-~][ -.0-~]{0,30}",
        )
            .prop_map(|(role, name)| mq(role, &name)),
        proptest::option::of((any::<[u8; 4]>(), 0..=32u8).prop_map(|(a, prefix)| {
            InterfaceAddr {
                addr: Ipv4Addr::from(a),
                prefix,
            }
        }))
        .prop_map(tun),
        (0..1000i32).prop_map(accept_fd),
        "/[ -~]{1,60}".prop_map(|p| shm_listen(UnixName::Path(PathBuf::from(p)))),
        "/[ -~]{1,60}".prop_map(|p| shm_connect(UnixName::Path(PathBuf::from(p)))),
        any::<u32>().prop_map(|i| systemd_listen(ActivatedSocket::Index(i))),
        "[a-zA-Z][!-9;-~]{0,30}".prop_map(|n| systemd_listen(ActivatedSocket::Name(n))),
        (arb_remote(), arb_remote(), 0..5usize, any::<bool>()).prop_map(
            |(proxy, target, which, port_given)| {
                use crate::endpoint::proxy::{Protocol, ProxyLayer, ProxySpec};
                use crate::layer::{Socks4Version, Socks5Command};
                let protocol = match which {
                    0 => Protocol::Socks4(Socks4Version::Four),
                    1 => Protocol::Socks4(Socks4Version::FourA),
                    2 => Protocol::Socks5(Socks5Command::Connect),
                    3 => Protocol::Socks5(Socks5Command::Bind),
                    _ => Protocol::Http,
                };
                let host = match (protocol, target.host) {
                    (Protocol::Socks4(_), Host::Ip(IpAddr::V6(_))) => Host::Name("t".to_owned()),
                    (_, host) => host,
                };
                Kind::Proxy(ProxySpec {
                    proxy: proxy.host,
                    proxy_port: (port_given && matches!(protocol, Protocol::Socks5(_)))
                        .then_some(proxy.port),
                    target: ProxyLayer {
                        protocol,
                        host,
                        port: target.port,
                    },
                })
            }
        ),
    ]
}

/// Options valid for the kind, drawn from the option table with typed values.
fn arb_options(kind: &Kind) -> BoxedStrategy<Options> {
    let row = Spec {
        kind: kind.clone(),
        options: Options::default(),
        layers: Vec::new(),
    }
    .address_type();
    let applicable: Vec<&'static options::OptionDef> = options::OPTIONS
        .iter()
        .filter(|d| row.groups.intersects(d.group))
        .collect();
    if applicable.is_empty() {
        return Just(Options::default()).boxed();
    }
    let unix_bind = match kind {
        Kind::Unix(UnixSpec {
            name: UnixName::Path(_),
            ..
        })
        | Kind::Shm(_) => Some(false),
        Kind::Unix(UnixSpec {
            name: UnixName::Abstract(_),
            ..
        }) => Some(true),
        _ => None,
    };
    let generic = matches!(kind, Kind::Generic(_));
    prop::collection::vec((0..applicable.len(), any::<u32>(), any::<bool>()), 0..4)
        .prop_map(move |picks| {
            let mut options = Options::default();
            for (i, n, b) in picks {
                let def = applicable[i];
                let value = match def.kind {
                    options::ValueKind::Bool => Value::Bool(b),
                    options::ValueKind::Count(bounds) | options::ValueKind::Size(bounds) => {
                        Value::Count(u64::from(n).clamp(bounds.min, bounds.max))
                    }
                    options::ValueKind::Seconds => {
                        Value::Seconds(Duration::from_millis(u64::from(n % 100_000)))
                    }
                    options::ValueKind::Port => Value::Port(n as u16),
                    options::ValueKind::Mode => Value::Mode(n % 0o7777),
                    options::ValueKind::Family => {
                        Value::Family(if b { Family::V4 } else { Family::V6 })
                    }
                    options::ValueKind::SockType => Value::SockType([1, 2, 5][(n % 3) as usize]),
                    options::ValueKind::Bind if unix_bind == Some(false) => Value::Bind(
                        BindAddr::Unix(UnixName::Path(PathBuf::from(format!("/tmp/b{n}")))),
                    ),
                    options::ValueKind::Bind if unix_bind == Some(true) => {
                        Value::Bind(BindAddr::Unix(UnixName::Abstract(format!("b{n}"))))
                    }
                    options::ValueKind::Bind if generic => {
                        Value::Bind(BindAddr::Data(n.to_be_bytes().to_vec()))
                    }
                    options::ValueKind::Bind => Value::Bind(BindAddr::Ip {
                        host: b.then(|| Host::Ip(IpAddr::V4(Ipv4Addr::from(n)))),
                        port: Some(n as u16),
                    }),
                    options::ValueKind::Range if generic => {
                        Value::DataRange(crate::address::data::DataRange {
                            addr: n.to_be_bytes().to_vec(),
                            mask: n.to_le_bytes().to_vec(),
                        })
                    }
                    options::ValueKind::Range => Value::Range(IpRange {
                        addr: IpAddr::V4(Ipv4Addr::from(n)),
                        prefix: (n % 33) as u8,
                    }),
                    options::ValueKind::Text => Value::Text(format!("u:{n},x=y!")),
                    options::ValueKind::DaemonName => Value::Text(format!("daemon{n}")),
                    // Numbers are taken as they are; root (uid 0) exists everywhere.
                    options::ValueKind::User => Value::User(crate::users::UserId {
                        given: n.to_string(),
                        uid: n,
                    }),
                    options::ValueKind::Group => Value::Group(crate::users::GroupId {
                        given: n.to_string(),
                        gid: n,
                    }),
                    options::ValueKind::Account => {
                        Value::Account(Box::new(crate::users::account("0").expect("root exists")))
                    }
                    options::ValueKind::Assignment => {
                        Value::Assignment(format!("V{n}"), format!("a=b:{n}, c"))
                    }
                    options::ValueKind::Descriptor => Value::Count(u64::from(n % 65536)),
                    options::ValueKind::Priority => Value::Count(u64::from(n % 32768)),
                    options::ValueKind::TunType => {
                        Value::Text(if b { "tun" } else { "tap" }.to_owned())
                    }
                    options::ValueKind::PrefixWidth => Value::Count(if b { 2 } else { 4 }),
                    options::ValueKind::TlsVersion => {
                        Value::Text(if b { "TLS1.2" } else { "TLS1.3" }.to_owned())
                    }
                    options::ValueKind::Fingerprint => {
                        Value::Text(crate::tls::Fingerprint([n as u8; 32]).to_string())
                    }
                    options::ValueKind::Ciphers => Value::Text(
                        if b {
                            "ECDHE-ECDSA-AES128-GCM-SHA256"
                        } else {
                            "HIGH:!aNULL"
                        }
                        .to_owned(),
                    ),
                    options::ValueKind::Alpn => Value::Text(format!("h2:p{n}")),
                    options::ValueKind::Compress => Value::Text("none".to_owned()),
                    options::ValueKind::Membership(form) => {
                        let text = match form {
                            crate::address::MembershipForm::Ipv4 if b => {
                                format!("239.0.0.{}:lo", n % 256)
                            }
                            crate::address::MembershipForm::Ipv4 => {
                                format!("224.0.{}.1:{}", n % 256, Ipv4Addr::from(n))
                            }
                            crate::address::MembershipForm::Ipv4Source => {
                                format!("232.1.1.1:10.0.0.1:{}", Ipv4Addr::from(n))
                            }
                            crate::address::MembershipForm::Ipv6 => {
                                format!("[ff02::{:x}]:eth{}", n % 65536, n % 10)
                            }
                        };
                        Value::Membership(form.parse(&text).expect("a membership"))
                    }
                    options::ValueKind::Ipv4Address => {
                        Value::Address(IpAddr::V4(Ipv4Addr::from(n)))
                    }
                    options::ValueKind::HttpHeader => Value::Text(format!("X-H{n}:a b, c=d!")),
                    options::ValueKind::HttpToken => Value::Text(format!("p{n}.x")),
                    options::ValueKind::UrlPath => Value::Text(format!("/p/{n}")),
                    options::ValueKind::ProxyVersion => match n % 3 {
                        0 => Value::Bool(true),
                        version => Value::Count(u64::from(version)),
                    },
                    options::ValueKind::HexBytes => Value::Bytes(n.to_be_bytes().to_vec()),
                    options::ValueKind::SockOpt(form) => {
                        use crate::address::data::{SockOpt, SockOptForm};
                        let value = match form {
                            SockOptForm::Data => n.to_le_bytes()[..(n % 5) as usize].to_vec(),
                            SockOptForm::Int => (n as i32).to_ne_bytes().to_vec(),
                            SockOptForm::Text => format!("t:{n}\0").into_bytes(),
                        };
                        Value::SockOpt(SockOpt {
                            level: (n % 300) as i32,
                            name: (n / 300 % 100) as i32,
                            value,
                            form,
                        })
                    }
                    options::ValueKind::NamePattern => {
                        Value::NamePattern(b.then(|| format!("/tmp/s{n}.XXXXXX")))
                    }
                    options::ValueKind::Baud => Value::Count(u64::from(
                        options::BAUD_RATES[n as usize % options::BAUD_RATES.len()],
                    )),
                    options::ValueKind::Levels => Value::Count(u64::from(n % 4 + 1)),
                    options::ValueKind::NamespaceName => Value::Text(format!("ns-{n}")),
                    options::ValueKind::NameServer => Value::SocketAddr(std::net::SocketAddr::new(
                        IpAddr::V4(Ipv4Addr::from(n)),
                        (n % 65536) as u16,
                    )),
                    // Never part of a parsed address: it is refused.
                    options::ValueKind::Refused(_) => continue,
                };
                options.0.push((def.id, value));
            }
            options
        })
        .boxed()
}

/// A chain's layers, with options of their own.
fn arb_layers() -> impl Strategy<Value = Vec<layers::LayerSpec>> {
    use crate::endpoint::proxy::{Protocol, ProxyLayer};
    use crate::endpoint::tls::TlsLayer;
    use crate::layer::{PrefixWidth, Socks4Version, Socks5Command};
    let layer = prop_oneof![
        (arb_remote(), 0..4usize, "[a-z]{1,8}").prop_map(|(r, which, user)| {
            let protocol = match which {
                0 => Protocol::Socks4(Socks4Version::FourA),
                1 => Protocol::Socks5(Socks5Command::Connect),
                2 => Protocol::Http,
                _ => Protocol::Socks4(Socks4Version::Four),
            };
            let host = match (protocol, r.host) {
                (Protocol::Socks4(_), Host::Ip(IpAddr::V6(_))) => Host::Name("h".to_owned()),
                (_, host) => host,
            };
            let mut options = Options::default();
            let id = if protocol == Protocol::Http {
                OptionId::ProxyAuth
            } else {
                OptionId::SocksUser
            };
            options.push(id, Value::Text(user));
            layers::LayerSpec {
                kind: layers::LayerKind::Proxy(ProxyLayer {
                    protocol,
                    host,
                    port: r.port,
                }),
                options,
            }
        }),
        "[a-z]{1,10}".prop_map(|name| {
            let mut options = Options::default();
            options.push(OptionId::TlsCommonName, Value::Text(name));
            layers::LayerSpec {
                kind: layers::LayerKind::Tls(TlsLayer::Client),
                options,
            }
        }),
        Just(layers::LayerSpec {
            kind: layers::LayerKind::Tls(TlsLayer::Server),
            options: Options::default(),
        }),
        any::<bool>().prop_map(|two| layers::LayerSpec {
            kind: layers::LayerKind::LengthPrefix(if two {
                PrefixWidth::Two
            } else {
                PrefixWidth::Four
            }),
            options: Options::default(),
        }),
        any::<bool>().prop_map(|two| layers::LayerSpec {
            kind: layers::LayerKind::ProxyProtocol(if two {
                crate::layer::proxy_protocol::Version::V2
            } else {
                crate::layer::proxy_protocol::Version::V1
            }),
            options: Options::default(),
        }),
        (arb_remote(), any::<bool>(), "[a-z]{0,8}").prop_map(|(r, secure, path)| {
            let mut options = Options::default();
            if secure {
                options.push(OptionId::TlsCommonName, Value::Text(path.clone() + "x"));
            }
            layers::LayerSpec {
                kind: layers::LayerKind::WebSocket(crate::endpoint::websocket::WebSocketLayer(
                    crate::endpoint::websocket::WebSocketUrl {
                        secure,
                        host: r.host,
                        port: Some(r.port).filter(|p| *p != 0),
                        target: format!("/{path}"),
                    },
                )),
                options,
            }
        }),
        (arb_remote(), "[a-z]{1,8}").prop_map(|(r, user)| {
            let mut options = Options::default();
            options.push(OptionId::SocksUser, Value::Text(user));
            layers::LayerSpec {
                kind: layers::LayerKind::Proxy(ProxyLayer {
                    protocol: Protocol::Socks5(Socks5Command::Bind),
                    host: r.host,
                    port: r.port,
                }),
                options,
            }
        }),
    ];
    prop::collection::vec(layer, 0..3)
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    arb_kind()
        .prop_flat_map(|kind| {
            (arb_options(&kind), arb_layers()).prop_map(move |(options, layers)| Spec {
                kind: kind.clone(),
                options,
                layers,
            })
        })
        // Options that cannot work together (pty with pipes) do not parse at all.
        .prop_filter("a combination the parser refuses", |spec| {
            spec.kind.check(&spec.options).is_ok()
                && crate::endpoint::DataOptions::check(&spec.options).is_ok()
        })
}

proptest! {
    #[test]
    fn display_parses_back_to_the_same_value(spec in arb_spec()) {
        let text = spec.to_string();
        let parsed = Address::parse(&text);
        prop_assert_eq!(parsed, Ok(Address::Single(spec)), "{}", text);
    }

    #[test]
    fn dual_display_round_trips(read in arb_spec(), write in arb_spec()) {
        // A nofork program cannot be half of a dual address, and does not parse as one.
        prop_assume!(super::check_dual(&read, &write).is_ok());
        let address = Address::Dual { read, write };
        let text = address.to_string();
        prop_assert_eq!(Address::parse(&text), Ok(address), "{}", text);
    }

    #[test]
    fn parsing_never_panics(text in "[ -~]{0,80}") {
        let _ = Address::parse(&text);
    }

    #[test]
    fn parsing_any_bytes_never_panics_and_errors_stay_one_line(
        bytes in prop::collection::vec(any::<u8>(), 0..80)
    ) {
        if let Err(e) = Address::parse_bytes(&bytes) {
            let text = e.to_string();
            prop_assert!(!text.chars().any(char::is_control), "{text}");
        }
    }
}

#[test]
fn interface_takes_an_interface_name_and_only_data_options() {
    let parsed = Address::parse("INTERFACE:tun9,crnl").unwrap();
    assert_eq!(parsed.to_string(), "INTERFACE:tun9,crnl");
    for (text, want) in [
        (
            "INTERFACE:a/b",
            "invalid interface name \"a/b\" in \"INTERFACE:a/b\" (expected an interface name of at most 15 bytes, no '/', ':' or space)",
        ),
        (
            "INTERFACE:abcdefghijklmnop",
            "invalid interface name \"abcdefghijklmnop\" in \"INTERFACE:abcdefghijklmnop\" (expected an interface name of at most 15 bytes, no '/', ':' or space)",
        ),
        (
            "INTERFACE:eth0,netns=x",
            "option \"netns\" does not apply to INTERFACE in \"INTERFACE:eth0,netns=x\"",
        ),
    ] {
        assert_eq!(Address::parse(text).unwrap_err().to_string(), want, "{text}");
    }
}

#[test]
fn numeric_values_say_what_keeps_them_from_being_numbers() {
    for (text, want) in [
        (
            "PTY,ispeed=b19200",
            "invalid value \"b19200\" for option ispeed in \"PTY,ispeed=b19200\" (missing numerical value; expected a line speed in bits per second: 0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, ..., 4000000)",
        ),
        (
            "PTY,ispeed=19200B",
            "invalid value \"19200B\" for option ispeed in \"PTY,ispeed=19200B\" (trailing garbage; expected a line speed in bits per second: 0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, ..., 4000000)",
        ),
        (
            "PTY,ospeed=19201",
            "invalid value \"19201\" for option ospeed in \"PTY,ospeed=19201\" (expected a line speed in bits per second: 0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400, 57600, 115200, ..., 4000000)",
        ),
        (
            "TCP-LISTEN:0,backlog=0x1g",
            "invalid value \"0x1g\" for option backlog in \"TCP-LISTEN:0,backlog=0x1g\" (trailing garbage; expected an integer from 0 to 2147483647)",
        ),
        (
            "TCP-LISTEN:0,backlog=-1",
            "invalid value \"-1\" for option backlog in \"TCP-LISTEN:0,backlog=-1\" (expected an integer from 0 to 2147483647)",
        ),
    ] {
        assert_eq!(Address::parse(text).unwrap_err().to_string(), want, "{text}");
    }
    let parsed = Address::parse("PTY,ispeed=19200,ospeed=115200").unwrap();
    assert_eq!(parsed.to_string(), "PTY,ispeed=19200,ospeed=115200");
}

#[test]
fn resolver_namespace_and_shutup_options_parse_to_typed_values() {
    for (text, shown) in [
        (
            "TCP:h:1,res-nsaddr=127.0.0.1",
            "TCP:h:1,res-nsaddr=127.0.0.1:53",
        ),
        (
            "TCP:h:1,res-nsaddr=[::1]:5353",
            "TCP:h:1,res-nsaddr=[::1]:5353",
        ),
        (
            "TCP:h:1,res-nsaddr=localhost:99",
            "TCP:h:1,res-nsaddr=127.0.0.1:99",
        ),
        (
            "TCP-LISTEN:1,fork,children-shutup",
            "TCP-LISTEN:1,fork,children-shutup=1",
        ),
        ("TCP:h:1,netns=blue", "TCP:h:1,netns=blue"),
        ("EXEC:cat,netns=blue,sigint", "EXEC:cat,netns=blue,sigint"),
    ] {
        assert_eq!(Address::parse(text).unwrap().to_string(), shown, "{text}");
    }
    for (text, want) in [
        ("TCP:h:1,netns=a/b", "invalid value \"a/b\" for option netns in \"TCP:h:1,netns=a/b\" (expected the name of a network namespace in /run/netns (no '/'))"),
        ("TCP:h:1,res-nsaddr=1.2.3.4:x", "invalid value \"1.2.3.4:x\" for option res-nsaddr in \"TCP:h:1,res-nsaddr=1.2.3.4:x\" (expected a DNS server's IP address or host name (from /etc/hosts), with :port if not 53 (1.2.3.4:5353, [::1]:53, localhost:5353))"),
        ("TCP:h:1,res-dnsrch", "option res-dnsrch in \"TCP:h:1,res-dnsrch\" is not supported: socketry's own DNS query asks for the name as written, without resolv.conf's search domains; give the full name"),
        ("TCP-LISTEN:1,fork,children-shutup=5", "invalid value \"5\" for option children-shutup in \"TCP-LISTEN:1,fork,children-shutup=5\" (expected a number of levels from 1 to 4 (1 when written alone))"),
        ("PIPE,sigint", "option \"sigint\" does not apply to PIPE in \"PIPE,sigint\""),
    ] {
        assert_eq!(Address::parse(text).unwrap_err().to_string(), want, "{text}");
    }
}

/// A value for each parameter name the families use, so that every row can be parsed.
fn sample(param: &str) -> &'static str {
    match param {
        "host" => "localhost",
        "port" => "80",
        "path" | "filename" => "/tmp/x",
        "name" => "n",
        "fdnum" => "3",
        "index-or-name" => "web",
        "command-line" | "shell-command" => "cat",
        "mqueue" => "/q",
        "if-addr/bits" => "10.0.0.1/24",
        "protocol" => "253",
        "socks-server" | "proxy" | "listen-host" => "localhost",
        "socks-port" | "listen-port" => "1080",
        "width" => "4",
        "version" => "2",
        "url" => "ws://localhost:80/path",
        "domain" | "type" => "2",
        "remote-address" | "local-address" => "x00350a000001",
        "interface" => "tun9",
        other => panic!("no sample for parameter <{other}>: add one"),
    }
}

#[test]
fn names_are_unique() {
    let mut names: Vec<String> = names()
        .chain(LATER_TYPES.iter().copied())
        .map(str::to_ascii_uppercase)
        .collect();
    let total = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total);
}

#[test]
fn every_row_parses_to_a_spec_that_names_that_row() {
    for row in rows() {
        let ty = row.address_type();
        for given in ty.required..=ty.params.len() {
            let mut text = ty.name.to_owned();
            // SOCKS5's three-parameter form leaves out the second, the server's port.
            let short_socks5 = given == 3 && ty.params.get(1) == Some(&"socks-port");
            for (i, param) in ty
                .params
                .iter()
                .enumerate()
                .take(given + usize::from(short_socks5))
            {
                if short_socks5 && i == 1 {
                    continue;
                }
                text.push(':');
                text.push_str(sample(param));
            }
            let parsed = spec(&text);
            assert!(
                std::ptr::eq(parsed.address_type(), ty),
                "{text} parsed as {}",
                parsed.address_type().name
            );
            assert_eq!(spec(&parsed.to_string()), parsed, "{text}");
            for alias in ty.aliases {
                let aliased = text.replacen(ty.name, alias, 1);
                assert!(std::ptr::eq(spec(&aliased).address_type(), ty), "{aliased}");
            }
        }
    }
}

#[test]
fn every_layer_parses_in_a_chain_and_displays_back() {
    for ty in layers::layer_types() {
        let mut text = ty.name.to_owned();
        for param in ty.params {
            text.push(':');
            text.push_str(sample(param));
        }
        if ty.name == "OPENSSL" {
            text.push_str(",commonname=example.org");
        }
        let chain = format!("{text}|TCP:localhost:1080");
        let parsed = spec(&chain);
        assert_eq!(parsed.layers.len(), 1, "{chain}");
        assert!(
            std::ptr::eq(parsed.layers[0].kind.address_type(), ty),
            "{chain}"
        );
        assert_eq!(parsed.to_string(), chain);
        for alias in ty.aliases {
            let aliased = chain.replacen(ty.name, alias, 1);
            assert_eq!(spec(&aliased), parsed, "{aliased}");
        }
    }
}

#[test]
fn chains_apply_only_their_own_options_and_keep_a_program_s_pipes() {
    let parsed = spec("OPENSSL,commonname=a|SOCKS5-CONNECT:a:443,socksuser=u,sockspass=p|TCP:127.0.0.1:1080,retry=2");
    assert_eq!(parsed.layers.len(), 2);
    assert_eq!(parsed.address_type().name, "TCP");
    assert_eq!(parsed.options.count(OptionId::Retry), Some(2));
    assert_eq!(
        parsed.layers[1].options.text(OptionId::SocksPass),
        Some("p")
    );
    // A quoted or bracketed | is not a separator; a program's command line keeps its pipes.
    assert!(spec("SYSTEM:'cat|tr a b'").layers.is_empty());
    assert!(spec("SYSTEM:cat|tr a b").layers.is_empty());
    assert_eq!(
        spec("LENGTH-PREFIX:2|SYSTEM:cat | tr a b").to_string(),
        "LENGTH-PREFIX:2|SYSTEM:cat \\| tr a b"
    );
    assert!(spec("OPEN:'/tmp/a|b'").layers.is_empty());
    assert!(spec("OPEN:[/tmp/a|b]").layers.is_empty());
}

#[test]
fn chain_refusals_quote_the_address() {
    for (text, expected) in [
        ("FOO|TCP:h:1", "unknown layer \"FOO\" in \"FOO|TCP:h:1\" (a chain is LAYER|...|ADDRESS; see socketry -h for the layers)"),
        ("SOCKS4:h:1,crnl|TCP:h:1", "option \"crnl\" does not apply to SOCKS4 in \"SOCKS4:h:1,crnl|TCP:h:1\""),
        ("TCP:h:2|TCP:h:1", "\"TCP\" in \"TCP:h:2|TCP:h:1\" opens a connection of its own, so it cannot be a layer: only the rightmost address of a chain (LAYER|...|ADDRESS) opens one"),
        ("OPENSSL,commonname=a|OPENSSL-SERVER", "\"OPENSSL-SERVER\" in \"OPENSSL,commonname=a|OPENSSL-SERVER\" is a layer, which runs over a connection: a chain ends with an address that opens one (LAYER|...|ADDRESS)"),
        ("OPENSSL|TCP:h:1", "OPENSSL|TCP:h:1: OPENSSL as a layer has no host to check the server's certificate for: give commonname= (or fingerprint=, or verify=0)"),
        ("SOCKS4:[::1]:80|TCP:h:1", "invalid SOCKS4 target \"[::1]\" in \"SOCKS4:[::1]:80|TCP:h:1\" (expected an IPv4 address or a name: SOCKS4 cannot carry IPv6 (SOCKS5-CONNECT can))"),
        ("LENGTH-PREFIX:3|TCP:h:1", "invalid prefix width \"3\" in \"LENGTH-PREFIX:3|TCP:h:1\" (expected 2 or 4)"),
        ("SOCKS5-CONNECT:p:1080:h:1,socksport=1", "SOCKS5-CONNECT:p:1080:h:1,socksport=1: the SOCKS server's port is given twice: as a parameter and as socksport"),
        ("SOCKS5-CONNECT:p:h:1,sockspass=x", "SOCKS5-CONNECT:p:h:1,sockspass=x: sockspass needs socksuser: RFC 1929 sends both"),
        ("PROXY:p:h:1,http-version=2", "invalid value \"2\" for option http-version in \"PROXY:p:h:1,http-version=2\" (expected 1.0 or 1.1)"),
        ("PROXY:p:h:1,proxyauth=a:b,proxy-authorization-file=/f", "PROXY:p:h:1,proxyauth=a:b,proxy-authorization-file=/f: proxyauth and proxy-authorization-file both give the credentials"),
        ("SOCKS4:p:h:1,sockspass=x", "option \"sockspass\" does not apply to SOCKS4 in \"SOCKS4:p:h:1,sockspass=x\""),
        ("PROXY-PROTOCOL:3|TCP:h:1", "invalid PROXY protocol version \"3\" in \"PROXY-PROTOCOL:3|TCP:h:1\" (expected 1 or 2)"),
        ("TCP:h:1,proxy-protocol", "option proxy-protocol in \"TCP:h:1,proxy-protocol\" needs a value (expected proxy-protocol=<1 or 2>)"),
        ("SOCKS5:p:h:1,proxy-protocol", "option proxy-protocol in \"SOCKS5:p:h:1,proxy-protocol\" needs a value (expected proxy-protocol=<1 or 2>)"),
        ("TCP-LISTEN:1,proxy-protocol=3", "invalid value \"3\" for option proxy-protocol in \"TCP-LISTEN:1,proxy-protocol=3\" (expected 1 or 2 (the PROXY protocol's version; a listener given none reads either))"),
        ("UNIX-CONNECT:/s,proxy-protocol=1", "option \"proxy-protocol\" does not apply to UNIX-CONNECT in \"UNIX-CONNECT:/s,proxy-protocol=1\""),
        ("WS-CONNECT:ws://h/,cafile=/c|TCP:h:1", "WS-CONNECT:ws://h/,cafile=/c|TCP:h:1: cafile is a TLS option, and ws://h/ has no TLS (a wss:// URL has)"),
        ("WS-CONNECT:http://h/|TCP:h:1", "invalid WebSocket URL \"http://h/\" in \"WS-CONNECT:http://h/|TCP:h:1\" (expected ws://host[:port]/path or wss://host[:port]/path, without user info or #fragment)"),
    ] {
        assert_eq!(Address::parse(text).unwrap_err().to_string(), expected, "{text}");
    }
}

#[test]
fn every_shorthand_names_one_row() {
    for form in [Shorthand::Dash, Shorthand::Number, Shorthand::Path] {
        let named: Vec<_> = address_types()
            .filter(|ty| ty.shorthand == Some(form))
            .map(|ty| ty.name)
            .collect();
        assert_eq!(named.len(), 1, "{form:?}: {named:?}");
    }
}

#[test]
fn every_group_a_type_or_option_uses_has_a_name() {
    let named = Groups::NAMES
        .iter()
        .fold(Groups::NONE, |all, (g, _)| all.union(*g));
    let used = address_types()
        .map(|ty| ty.groups)
        .chain(options::OPTIONS.iter().map(|o| o.group))
        .fold(Groups::NONE, Groups::union);
    assert!(
        named.contains(used),
        "a group without a name in Groups::NAMES"
    );
}

#[test]
fn only_forking_udp_servers_ask_for_one_thread() {
    for (text, one) in [
        ("UDP-LISTEN:5000,fork", true),
        ("UDP6-RECVFROM:5000,fork", true),
        ("UDPLITE-LISTEN:5000,fork", true),
        ("UDP-LISTEN:5000", false),
        ("UDP:127.0.0.1:5000", false),
        ("TCP-LISTEN:5000,fork", false),
        ("UNIX-RECVFROM:/tmp/s,fork", false),
        ("UDP-LISTEN:5000,fork!!STDOUT", false),
    ] {
        let address = Address::parse(text).unwrap();
        assert_eq!(address.serves_best_on_one_thread(), one, "{text}");
    }
}
