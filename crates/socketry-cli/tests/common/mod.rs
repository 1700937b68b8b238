//! Running the real `socketry` binary in tests: spawn it, wait for its readiness lines on
//! stderr (never a sleep), feed stdin, and collect exactly what a user would see.
//!
//! The relay moves bytes between two descriptors with splice(2), and otherwise by copying.
//! [`also_on_the_copy_path!`] runs named tests a second time with `SOCKETRY_COPY=1`, so that
//! the relay's behaviour is checked on both paths.

#![allow(dead_code, clippy::unwrap_used)]

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_socketry")
}

thread_local! {
    /// Whether the socketry processes this test thread starts must copy (`SOCKETRY_COPY=1`).
    static COPY_PATH: Cell<bool> = const { Cell::new(false) };
}

/// Runs `test` with every socketry it starts (from this thread) on the relay's copy path.
pub fn on_copy_path(test: fn()) {
    COPY_PATH.with(|copy| copy.set(true));
    test();
    COPY_PATH.with(|copy| copy.set(false));
}

/// Declares a module `copy_path` with a test for each named test that runs it again on the
/// relay's copy path.
#[macro_export]
macro_rules! also_on_the_copy_path {
    ($($test:ident),+ $(,)?) => {
        mod copy_path {
            $(
                #[test]
                fn $test() {
                    $crate::common::on_copy_path(super::$test);
                }
            )+
        }
    };
}

/// What a finished run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The error lines (socat format `... E message`), messages only.
    pub fn errors(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once("] E ").map(|(_, m)| m))
            .collect()
    }
}

impl From<std::process::Output> for Output {
    /// What a program run with [`Command::output`] gave, its stderr as text.
    fn from(out: std::process::Output) -> Output {
        Output {
            status: out.status,
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `command` to completion as [`Command::output`] does (standard input as the test set
/// it, else none), for a run that [`run`] cannot set up: an inherited descriptor, a process
/// group, a program that starts socketry.
pub fn output(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"))
        .into()
}

/// A running socketry whose stderr is read line by line as it comes.
pub struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Proc {
    /// Starts socketry with `args`; stdin, stdout and stderr are pipes.
    pub fn spawn(args: &[&str]) -> Proc {
        Proc::spawn_with(Command::new(bin()).args(args))
    }

    pub fn spawn_with(command: &mut Command) -> Proc {
        if COPY_PATH.with(Cell::get) {
            command.env("SOCKETRY_COPY", "1");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning socketry");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stdout = child.stdout.take().expect("stdout is piped");
        let stdout = thread::spawn(move || {
            let mut all = Vec::new();
            let _ = stdout.read_to_end(&mut all);
            all
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
            stdout: Some(stdout),
        }
    }

    /// Waits for a stderr line containing `needle` and returns it.
    pub fn wait_log(&mut self, needle: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {needle:?} within {WAIT:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits until `count` stderr lines contain `needle`, and returns every line seen so far.
    pub fn wait_log_count(&mut self, needle: &str, count: usize) -> &[String] {
        let deadline = Instant::now() + WAIT;
        // Counted as lines come, so that waiting for the n-th of thousands stays linear.
        let mut found = self.seen.iter().filter(|l| l.contains(needle)).count();
        while found < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    found += usize::from(line.contains(needle));
                    self.seen.push(line);
                }
                Err(_) => panic!(
                    "fewer than {count} log lines with {needle:?} within {WAIT:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
        &self.seen
    }

    /// Waits for "listening on ADDR:PORT" (run with -d) and returns the port.
    pub fn listening_port(&mut self) -> u16 {
        let line = self.wait_log("listening on");
        let port = line.rsplit(':').next().and_then(|p| p.trim().parse().ok());
        port.unwrap_or_else(|| panic!("no port in {line:?}"))
    }

    pub fn stdin(&mut self) -> ChildStdin {
        self.child
            .stdin
            .take()
            .expect("stdin is piped and taken once")
    }

    /// Writes `data` to stdin and closes it.
    pub fn send_and_close(&mut self, data: &[u8]) {
        let mut stdin = self.stdin();
        stdin.write_all(data).expect("writing to socketry's stdin");
    }

    /// Whether socketry has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits i32"));
        let _ = nix::sys::signal::kill(pid, signal);
    }

    /// Waits for the process to exit by itself (failing the test after [`WAIT`]).
    pub fn finish(mut self) -> Output {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for socketry") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "socketry did not exit within {WAIT:?}; stderr:\n{}",
                    self.seen.join("\n")
                );
            }
            thread::sleep(Duration::from_millis(10));
        };
        self.collect(status)
    }

    /// Ends the process with SIGTERM and collects its output.
    pub fn terminate(self) -> Output {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.finish()
    }

    fn collect(mut self, status: ExitStatus) -> Output {
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(2);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        Output {
            status,
            stdout,
            stderr: self.seen.join("\n"),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs socketry to completion with `stdin` as its input.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut proc = Proc::spawn(args);
    let mut input = proc.stdin();
    let data = stdin.to_vec();
    // Written from a thread so that a socketry that does not read cannot block the test.
    thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    proc.finish()
}

/// Serves one connection on `listen` (a listening address) to `program`, Python source run
/// with `args` on the accepted socket itself (`nofork`), connects to the server's port at
/// `host`, and gives what the program printed: a report on the socket as the kernel holds it.
pub fn accepted_report(program: &str, listen: &str, host: &str, args: &str) -> String {
    let dir = tempdir();
    let path = dir.path().join("report.py");
    std::fs::write(&path, program).unwrap();
    let exec = format!("EXEC:python3 {} {args},nofork", path.display());
    let mut server = Proc::spawn(&["-d", listen, &exec]);
    let port = server.listening_port();
    let out = run(&["-", &format!("TCP:{host}:{port}")], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let server = server.finish();
    assert_eq!(server.code(), Some(0), "{}", server.stderr);
    out.stdout_text()
}

/// Runs `test` on a thread of its own that has entered a new network namespace holding only
/// `lo`, brought up: a wildcard listener (0.0.0.0, [::]) that the test starts there listens
/// on that namespace's loopback and on none of the machine's interfaces. A network namespace
/// belongs to the thread (and to the processes and threads it starts), so the rest of the
/// test process stays where it was. Needs root, as creating a namespace does.
pub fn in_network_namespace(test: impl FnOnce() + Send + 'static) {
    let isolated = thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET): the wildcard listener tests need root");
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("running ip (iproute2, see .ci/deps)");
        assert!(up.success(), "ip link set lo up: {up}");
        test();
    });
    if let Err(panic) = isolated.join() {
        std::panic::resume_unwind(panic);
    }
}

/// Whether process `pid` is in another network namespace than this test process's main
/// thread, the machine's.
pub fn is_isolated(pid: u32) -> bool {
    let ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).expect("reading ns/net");
    ns(pid) != ns(std::process::id())
}

/// A TCP port on 127.0.0.1 that nothing listens on: the kernel picks a free one, and it is let
/// go at once.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh temporary directory for Unix socket paths, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sk")
        .tempdir()
        .expect("creating a temporary directory")
}
