#![allow(clippy::unwrap_used)]
//! The examples, run as users run them: each tutorial server with its client, and the example
//! of each endpoint family with the arguments its comment shows. `tun_packets` runs in a
//! network namespace the test creates (it needs root, as the TUN integration tests do).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// `cargo test` builds the examples next to the test binaries' directory.
fn example(name: &str) -> Command {
    let deps = std::env::current_exe().unwrap();
    let dir: PathBuf = deps.parent().unwrap().parent().unwrap().join("examples");
    Command::new(dir.join(name))
}

/// A running example server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a server example and returns it with the first line it prints.
fn start(command: &mut Command) -> (Server, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Server(child), line.trim().to_owned())
}

fn port_of(line: &str) -> String {
    line.rsplit(':').next().unwrap().to_owned()
}

#[test]
fn tcp_client_gets_its_message_echoed() {
    let (_server, line) = start(example("tcp_server").arg("127.0.0.1:0"));
    let out = example("tcp_client")
        .args(["127.0.0.1", &port_of(&line), "hello"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
}

#[test]
fn generic_client_reaches_the_tcp_server_by_the_bytes_of_its_address() {
    let (_server, line) = start(example("tcp_server").arg("127.0.0.1:0"));
    let out = example("generic_client")
        .args(["127.0.0.1", &port_of(&line), "generic"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "generic\n");
}

#[test]
fn unix_client_gets_its_message_upper_cased() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let path = path.to_str().unwrap();
    let (_server, line) = start(example("unix_server").arg(path));
    assert_eq!(line, format!("listening on {path}"));
    let out = example("unix_client")
        .args([path, "hello"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\n");
}

#[test]
fn udp_receiver_prints_each_datagram() {
    let mut receiver = example("udp_receiver")
        .args(["127.0.0.1:0", "3"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(receiver.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let sent = example("udp_sender")
        .args(["127.0.0.1", &port_of(&first), "one", "two", "three"])
        .status()
        .unwrap();
    assert!(sent.success());
    let got: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(got, ["one", "two", "three"]);
    assert!(receiver.wait().unwrap().success());
}

#[test]
fn unix_server_removes_its_socket_file_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let (mut server, line) = start(example("unix_server").arg(&path));
    assert_eq!(line, format!("listening on {}", path.display()));
    assert!(path.exists());
    let pid = nix::unistd::Pid::from_raw(i32::try_from(server.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    assert!(server.0.wait().unwrap().success());
    assert!(!path.exists(), "the socket file is still there");
}

#[test]
fn a_failing_example_prints_a_sentence_not_a_debug_dump() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let out = example("tcp_client")
        .args(["127.0.0.1", &port, "hello"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("Error: "), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("Open(") && !stderr.contains("Io {"),
        "{stderr}"
    );
}

/// Runs an example to its end with `args` (and `input` on its standard input) and returns
/// what it printed, after checking that it succeeded.
fn output(name: &str, args: &[&str], input: &[u8]) -> String {
    use std::io::Write;
    let mut child = example(name)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn program_output_and_exit_come_back() {
    assert_eq!(
        output("program", &["hello world"], b""),
        "HELLO WORLD\nEXEC tr a-z A-Z exited with status 0\n"
    );
}

#[test]
fn file_lines_written_are_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "old contents that CREATE replaces\n").unwrap();
    let path = path.to_str().unwrap();
    assert_eq!(output("file", &[path, "one", "two"], b""), "one\ntwo\n");
    assert_eq!(std::fs::read_to_string(path).unwrap(), "one\ntwo\n");
}

#[test]
fn pipes_anonymous_and_named_give_back_what_they_are_given() {
    assert_eq!(output("pipe_echo", &["hello"], b""), "hello\n");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("echo.fifo");
    assert_eq!(
        output("pipe_echo", &["hello", fifo.to_str().unwrap()], b""),
        "hello\n"
    );
    assert!(
        !fifo.exists(),
        "the named pipe socketry made is still there"
    );
}

#[test]
fn socketpair_gives_each_message_back_whole() {
    assert_eq!(
        output("socketpair_echo", &["one", "two", "three"], b""),
        "one\ntwo\nthree\n"
    );
}

#[test]
fn message_queue_gives_messages_back_whole_and_is_removed() {
    let name = format!("/socketry-example-{}", std::process::id());
    assert_eq!(
        output("message_queue", &[&name, "one", "two"], b""),
        "one\ntwo\n"
    );
    let gone = nix::mqueue::mq_open(
        name.as_str(),
        nix::mqueue::MQ_OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
        None,
    );
    assert_eq!(gone.err(), Some(nix::errno::Errno::ENOENT));
}

#[test]
fn shared_memory_carries_a_message_there_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shm.sock");
    assert_eq!(
        output("shared_memory", &[path.to_str().unwrap(), "hello"], b""),
        "hello\n"
    );
}

#[test]
fn stdio_filter_upper_cases_its_input() {
    assert_eq!(
        output("stdio_upper", &[], b"hello\nworld\n"),
        "HELLO\nWORLD\n"
    );
}

#[test]
fn length_prefix_keeps_each_message_whole_over_tcp() {
    assert_eq!(
        output("length_prefix", &["one", "two", "three"], b""),
        "one\ntwo\nthree\n"
    );
}

#[test]
fn activated_server_echoes_on_the_socket_systemd_passes() {
    use std::io::{Read, Write};
    install_missing(&["systemd-socket-activate"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let deps = std::env::current_exe().unwrap();
    let server = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/activated_server");
    let mut child = Command::new("systemd-socket-activate")
        .arg("-l")
        .arg(&path)
        .arg(&server)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Listening on"), "{line}");
    let server = Server(child);
    for message in ["hello", "again"] {
        let mut client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        client.write_all(message.as_bytes()).unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, message);
    }
    drop(server);
}

/// Runs `.ci/deps` once if any of `tools` is missing: it installs what the tests need.
fn install_missing(tools: &[&str]) {
    let present = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !tools.iter().all(|tool| present(tool)) {
        let deps = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.ci/deps");
        let status = Command::new("bash").arg(deps).status().unwrap();
        assert!(status.success(), "{deps} could not install {tools:?}");
    }
}

/// Runs `tool` with `args`, failing the test if it fails.
fn run_tool(tool: &str, args: &[&str]) {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {}: {} (this test creates a network namespace and needs root)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace for one test, removed when dropped.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

#[test]
fn tun_packets_prints_the_ping_routed_into_its_network() {
    install_missing(&["ip", "ping"]);
    let name = format!("socketry-example-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &name]).output();
    run_tool("ip", &["netns", "add", &name]);
    let namespace = Namespace(name);
    let deps = std::env::current_exe().unwrap();
    let tun_packets = deps
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/tun_packets");
    let (server, line) = start(
        Command::new("ip")
            .args(["netns", "exec", &namespace.0])
            .arg(&tun_packets)
            .args(["10.99.0.1/24", "1"]),
    );
    assert!(
        line.starts_with("TUN ") && line.ends_with(" 10.99.0.1/24 is up"),
        "{line}"
    );
    // Nobody answers at 10.99.0.2: ping fails, but its request goes into the interface.
    let _ = Command::new("ip")
        .args(["netns", "exec", &namespace.0])
        .args(["ping", "-c", "1", "-W", "1", "10.99.0.2"])
        .output()
        .unwrap();
    let mut server = server;
    let mut rest = String::new();
    std::io::Read::read_to_string(server.0.stdout.as_mut().unwrap(), &mut rest).unwrap();
    assert!(server.0.wait().unwrap().success());
    let first = rest.lines().next().unwrap_or_default();
    assert_eq!(first, "ICMP 10.99.0.1 -> 10.99.0.2, 84 bytes", "{rest}");
}
