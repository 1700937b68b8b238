#![allow(clippy::unwrap_used)]
//! The tutorial examples, run as users run them: each server with its client.

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
