#![allow(clippy::unwrap_used)]
//! The EOF matrix: socketry's first address is always its standard streams (`-`, "ours"),
//! the second one address family ("theirs"), and each cell orders the two sides' EOF and
//! close (ours first, theirs first, both at once, a reset, a side that goes silent) under
//! the relay's options (none, `-t`, `-T`, `-u`, `-U`). Each cell states what each side
//! receives, the exit status, and how long the run may take; the cells run a few at a time
//! and every failure is reported together.
//!
//! Ours sends `ping`, theirs `pong`. `-t N` is socat's: after the first EOF the relay ends
//! once the other direction has been idle N seconds; the cells are chosen so that counting
//! N from the EOF itself gives the same result.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Proc, WAIT};
use socket2::{Domain, SockAddr, Socket, Type};

/// How a cell orders the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// We send and close stdin; they read to EOF, then reply and close.
    OursFirst,
    /// They reply and close; we then send and close stdin.
    TheirsFirst,
    /// Both send and close at once.
    Both,
    /// They read our ping and reset the connection (close with unread data, or an RST).
    Reset,
    /// We send and keep stdin open; they read and go silent.
    Silent,
    /// We send and close; they read, then go silent.
    OursThenSilent,
    /// They reply and close; we stay silent, stdin open.
    TheirsThenSilent,
    /// We send and close; their reply trickles in for longer than `-t`, never pausing as
    /// long: socat's `-t` counts idleness, so none of it is cut.
    OursThenTrickle,
}

/// Their trickled reply: `pong` a byte at a time, 0.3 s apart.
const TRICKLE_GAP: Duration = Duration::from_millis(300);

/// What a cell expects.
#[derive(Debug, Clone)]
struct Expect {
    /// What socketry wrote to stdout.
    stdout: &'static [u8],
    /// What their side received (None: not checked, their side is socketry's own).
    theirs: Option<&'static [u8]>,
    code: i32,
    /// An error line socketry must print.
    error: Option<&'static str>,
    /// The run takes at least this long (a timeout ends it) and at most `within`.
    at_least: Duration,
    within: Duration,
}

const FAST: Duration = Duration::from_secs(5);

fn clean(stdout: &'static [u8], theirs: &'static [u8]) -> Expect {
    Expect {
        stdout,
        theirs: Some(theirs),
        code: 0,
        error: None,
        at_least: Duration::ZERO,
        within: FAST,
    }
}

fn timed(stdout: &'static [u8], theirs: Option<&'static [u8]>, seconds: u64) -> Expect {
    Expect {
        stdout,
        theirs,
        code: 0,
        error: None,
        at_least: Duration::from_secs(seconds),
        within: Duration::from_secs(seconds) + FAST,
    }
}

/// A connected peer socket of a stream or seqpacket family.
trait PeerSocket: Send {
    /// Reads to EOF (for seqpacket: messages until the zero-length one).
    fn read_to_end(&mut self) -> Vec<u8>;
    fn read_exact_len(&mut self, len: usize) -> Vec<u8>;
    /// What `read_exact_len` would read, left unread: a reset with it still queued.
    fn peek(&mut self, len: usize) -> Vec<u8>;
    fn send(&mut self, data: &[u8]);
    fn shutdown_write(&mut self);
    /// Ends the connection so that socketry's next read fails.
    fn reset(self: Box<Self>);
}

fn read_all(read: &mut dyn Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match read.read(&mut buf) {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn read_len(read: &mut dyn Read, len: usize) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    while all.len() < len {
        match read.read(&mut buf[..len - all.len()]) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
    all
}

impl PeerSocket for TcpStream {
    fn read_to_end(&mut self) -> Vec<u8> {
        read_all(self)
    }
    fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        read_len(self, len)
    }
    fn send(&mut self, data: &[u8]) {
        let _ = self.write_all(data);
    }
    fn shutdown_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn peek(&mut self, len: usize) -> Vec<u8> {
        peek(self, len)
    }
    fn reset(self: Box<Self>) {
        // SO_LINGER 0: close sends an RST.
        socket2::SockRef::from(&*self)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
}

impl PeerSocket for UnixStream {
    fn read_to_end(&mut self) -> Vec<u8> {
        read_all(self)
    }
    fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        read_len(self, len)
    }
    fn send(&mut self, data: &[u8]) {
        let _ = self.write_all(data);
    }
    fn shutdown_write(&mut self) {
        let _ = self.shutdown(Shutdown::Write);
    }
    fn reset(self: Box<Self>) {
        // Closed with data unread in it: the kernel tells the peer ECONNRESET.
    }

    fn peek(&mut self, len: usize) -> Vec<u8> {
        peek(self, len)
    }
}

/// Waits for data on `socket` and returns it, leaving it unread (ours is one write, so it
/// arrives whole).
fn peek(socket: &impl std::os::fd::AsRawFd, len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    let flags = nix::sys::socket::MsgFlags::MSG_PEEK | nix::sys::socket::MsgFlags::MSG_WAITALL;
    let n = nix::sys::socket::recv(socket.as_raw_fd(), &mut buf, flags).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// A seqpacket socket: each read is one message.
struct Seqpacket(Socket);

impl PeerSocket for Seqpacket {
    fn read_to_end(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = (&self.0).read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        all
    }
    fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; 4096];
        let n = (&self.0).read(&mut buf).unwrap_or(0);
        buf.truncate(n.min(len.max(n)));
        buf
    }
    fn send(&mut self, data: &[u8]) {
        let _ = (&self.0).write_all(data);
    }
    fn shutdown_write(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
    fn peek(&mut self, len: usize) -> Vec<u8> {
        peek(&self.0, len)
    }
    fn reset(self: Box<Self>) {
        // Closed with our message unread in it: ECONNRESET for the peer.
    }
}

/// A stream family: the address socketry connects to, and how the test accepts.
type Accept = Box<dyn FnOnce() -> Box<dyn PeerSocket> + Send>;

struct Family {
    name: &'static str,
    /// Makes a fresh listener: the address to give socketry and the accepting function.
    listen: fn(&std::path::Path) -> (String, Accept),
    /// Whether their reset makes socketry's read fail (TCP's RST, or a Unix socket closed
    /// with data we sent still unread in it).
    reset_error: &'static str,
}

fn tcp(_: &std::path::Path) -> (String, Accept) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (
        format!("TCP:127.0.0.1:{port}"),
        Box::new(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            Box::new(stream)
        }),
    )
}

fn unix_stream(dir: &std::path::Path) -> (String, Accept) {
    let path = dir.join("stream");
    let listener = UnixListener::bind(&path).unwrap();
    (
        format!("UNIX-CONNECT:{}", path.display()),
        Box::new(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            Box::new(stream)
        }),
    )
}

fn seqpacket(dir: &std::path::Path) -> (String, Accept) {
    let path = dir.join("seqpacket");
    let socket = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    socket.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    socket.listen(8).unwrap();
    (
        format!("UNIX-CONNECT:{},socktype=5", path.display()),
        Box::new(move || {
            let (conn, _) = socket.accept().unwrap();
            conn.set_read_timeout(Some(WAIT)).unwrap();
            Box::new(Seqpacket(conn))
        }),
    )
}

/// Their side of a stream cell, in `order`; returns what they received.
fn play_theirs(
    family_reads_before_reset: bool,
    order: Order,
    accept: Accept,
    closed: mpsc::Sender<()>,
    done: mpsc::Receiver<()>,
) -> Vec<u8> {
    let mut peer = accept();
    match order {
        Order::OursFirst => {
            let got = peer.read_to_end();
            peer.send(b"pong");
            peer.shutdown_write();
            got
        }
        Order::TheirsFirst | Order::Both | Order::TheirsThenSilent => {
            peer.send(b"pong");
            peer.shutdown_write();
            let _ = closed.send(());
            peer.read_to_end()
        }
        Order::Reset if family_reads_before_reset => {
            let got = peer.read_exact_len(4);
            peer.reset();
            got
        }
        Order::Reset => {
            let got = peer.peek(4);
            peer.reset();
            got
        }
        Order::OursThenTrickle => {
            let got = peer.read_to_end();
            for byte in b"pong" {
                std::thread::sleep(TRICKLE_GAP);
                peer.send(&[*byte]);
            }
            std::thread::sleep(TRICKLE_GAP);
            peer.shutdown_write();
            got
        }
        Order::Silent | Order::OursThenSilent => {
            let got = peer.read_exact_len(4);
            // Silent until socketry is gone.
            let _ = done.recv_timeout(WAIT * 2);
            got
        }
    }
}

/// Our side: stdin as the order says. Returns when it is done with stdin.
fn play_ours(order: Order, mut stdin: std::process::ChildStdin, closed: mpsc::Receiver<()>) {
    match order {
        Order::OursFirst | Order::Both | Order::OursThenSilent | Order::OursThenTrickle => {
            stdin.write_all(b"ping").unwrap();
        }
        Order::TheirsFirst => {
            closed.recv_timeout(WAIT).unwrap();
            stdin.write_all(b"ping").unwrap();
        }
        Order::Reset => {
            stdin.write_all(b"ping").unwrap();
            // Kept open: the reset, not our EOF, ends the relay.
            std::mem::forget(stdin);
        }
        Order::Silent => {
            stdin.write_all(b"ping").unwrap();
            std::mem::forget(stdin);
        }
        Order::TheirsThenSilent => std::mem::forget(stdin),
    }
}

/// One cell of the matrix.
struct Cell {
    name: String,
    run: Box<dyn FnOnce() -> Result<(), String> + Send>,
}

fn check(
    name: &str,
    out: &common::Output,
    theirs: Option<Vec<u8>>,
    took: Duration,
    expect: &Expect,
) -> Result<(), String> {
    let mut wrong = Vec::new();
    if out.code() != Some(expect.code) {
        wrong.push(format!("exit {:?}, expected {}", out.code(), expect.code));
    }
    if out.stdout != expect.stdout {
        wrong.push(format!(
            "stdout {:?}, expected {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(expect.stdout)
        ));
    }
    if let (Some(want), Some(got)) = (expect.theirs, &theirs) {
        if got != want {
            wrong.push(format!(
                "their side got {:?}, expected {:?}",
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(want)
            ));
        }
    }
    match expect.error {
        Some(error) if !out.errors().iter().any(|e| e.contains(error)) => {
            wrong.push(format!("no error containing {error:?}"))
        }
        None if !out.errors().is_empty() => wrong.push("errors where none were expected".into()),
        _ => {}
    }
    if took < expect.at_least || took > expect.within {
        wrong.push(format!(
            "took {took:?}, expected {:?} to {:?}",
            expect.at_least, expect.within
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{name}: {}\n  stderr:\n{}",
            wrong.join("; "),
            out.stderr
        ))
    }
}

fn stream_cell(
    family: &'static Family,
    flags: &'static [&'static str],
    order: Order,
    expect: Expect,
) -> Cell {
    let name = format!("{} {flags:?} {order:?}", family.name);
    Cell {
        name: name.clone(),
        run: Box::new(move || {
            let dir = common::tempdir();
            let (address, accept) = (family.listen)(dir.path());
            let (closed_tx, closed_rx) = mpsc::channel();
            let (done_tx, done_rx) = mpsc::channel();
            let theirs = std::thread::spawn(move || {
                play_theirs(family.name == "TCP", order, accept, closed_tx, done_rx)
            });
            let started = Instant::now();
            let mut args: Vec<&str> = flags.to_vec();
            args.extend(["-", &address]);
            let mut relay = Proc::spawn(&args);
            let stdin = relay.stdin();
            let ours = std::thread::spawn(move || play_ours(order, stdin, closed_rx));
            let out = relay.finish();
            let took = started.elapsed();
            let _ = done_tx.send(());
            let _ = ours.join();
            let theirs = theirs.join().ok();
            check(&name, &out, theirs, took, &expect)
        }),
    }
}

static TCP: Family = Family {
    name: "TCP",
    listen: tcp,
    reset_error: "Connection reset by peer",
};
static UNIX: Family = Family {
    name: "UNIX stream",
    listen: unix_stream,
    reset_error: "Connection reset by peer",
};
static SEQPACKET: Family = Family {
    name: "UNIX seqpacket",
    listen: seqpacket,
    reset_error: "Connection reset by peer",
};

/// The cells every stream family has.
fn stream_cells(family: &'static Family) -> Vec<Cell> {
    use Order::*;
    let mut cells = Vec::new();
    for flags in [&[][..], &["-t", "10"][..]] {
        for order in [OursFirst, TheirsFirst, Both] {
            cells.push(stream_cell(family, flags, order, clean(b"pong", b"ping")));
        }
    }
    if !family.reset_error.is_empty() {
        cells.push(stream_cell(
            family,
            &[],
            Reset,
            Expect {
                stdout: b"",
                theirs: Some(b"ping"),
                code: 1,
                error: Some(family.reset_error),
                at_least: Duration::ZERO,
                within: FAST,
            },
        ));
    }
    cells.extend([
        // Nobody closes: -T ends it.
        stream_cell(family, &["-T", "1"], Silent, timed(b"", Some(b"ping"), 1)),
        // Our EOF, then they are silent: -t ends it.
        stream_cell(
            family,
            &["-t", "1"],
            OursThenSilent,
            timed(b"", Some(b"ping"), 1),
        ),
        // Their EOF, and we are silent: -t ends it; we sent nothing.
        stream_cell(
            family,
            &["-t", "1"],
            TheirsThenSilent,
            timed(b"pong", Some(b""), 1),
        ),
        // Their reply outlasts -t but never pauses as long: all of it arrives.
        stream_cell(
            family,
            &["-t", "1"],
            OursThenTrickle,
            Expect {
                at_least: TRICKLE_GAP * 5,
                ..clean(b"pong", b"ping")
            },
        ),
        // -u: ours only; their reply is never read, our EOF ends it.
        stream_cell(family, &["-u"], OursFirst, clean(b"", b"ping")),
        // -U: theirs only; our stdin is never read, their EOF ends it.
        stream_cell(family, &["-U"], TheirsFirst, clean(b"pong", b"")),
        stream_cell(family, &["-U"], Both, clean(b"pong", b"")),
    ]);
    cells
}

/// A cell whose other side is a fixed program of socketry's own (a pipe, a file, a program,
/// a queue): what we feed, whether we then close stdin, and what comes out.
fn fixed_cell(
    name: String,
    args: Vec<String>,
    input: &'static [u8],
    close_stdin: bool,
    expect: Expect,
    after: Option<Box<dyn FnOnce() -> Result<(), String> + Send>>,
) -> Cell {
    Cell {
        name: name.clone(),
        run: Box::new(move || {
            let started = Instant::now();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut relay = Proc::spawn(&args);
            let mut stdin = relay.stdin();
            // A relay that fails at once (a refused connect) may be gone before it reads.
            let _ = stdin.write_all(input);
            if !close_stdin {
                std::mem::forget(stdin);
            } else {
                drop(stdin);
            }
            let out = relay.finish();
            let took = started.elapsed();
            check(&name, &out, None, took, &expect)?;
            match after {
                Some(after) => after(),
                None => Ok(()),
            }
        }),
    }
}

/// Datagram cells: socketry sends our ping to a datagram peer that answers pong. A
/// datagram carries no EOF, so only -t (after our EOF) or -T ends the relay.
fn datagram_cells() -> Vec<Cell> {
    let mut cells = Vec::new();
    for family in ["UDP", "UNIX datagram"] {
        for (flags, close, expect) in [
            (&["-t", "1"][..], true, timed(b"pong", Some(b"ping"), 1)),
            (&["-T", "1"][..], false, timed(b"pong", Some(b"ping"), 1)),
            (&["-u"][..], true, clean(b"", b"ping")),
        ] {
            let name = format!(
                "{family} {flags:?} {}",
                if close { "OursFirst" } else { "Silent" }
            );
            cells.push(Cell {
                name: name.clone(),
                run: Box::new(move || {
                    let dir = common::tempdir();
                    let path = dir.path().join("dgram");
                    enum Peer {
                        Udp(UdpSocket),
                        Unix(UnixDatagram),
                    }
                    let (address, peer) = if family == "UDP" {
                        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                        let port = socket.local_addr().unwrap().port();
                        (format!("UDP:127.0.0.1:{port}"), Peer::Udp(socket))
                    } else {
                        let socket = UnixDatagram::bind(&path).unwrap();
                        (
                            format!("UNIX-SENDTO:{}", path.display()),
                            Peer::Unix(socket),
                        )
                    };
                    let answers = !flags.contains(&"-u");
                    let theirs = std::thread::spawn(move || {
                        let mut buf = [0u8; 64];
                        match peer {
                            Peer::Udp(s) => {
                                s.set_read_timeout(Some(WAIT)).unwrap();
                                let (n, from) = s.recv_from(&mut buf).unwrap();
                                if answers {
                                    s.send_to(b"pong", from).unwrap();
                                }
                                buf[..n].to_vec()
                            }
                            Peer::Unix(s) => {
                                s.set_read_timeout(Some(WAIT)).unwrap();
                                let (n, from) = s.recv_from(&mut buf).unwrap();
                                if answers {
                                    s.send_to_addr(b"pong", &from).unwrap();
                                }
                                buf[..n].to_vec()
                            }
                        }
                    });
                    let started = Instant::now();
                    let mut args: Vec<&str> = flags.to_vec();
                    args.extend(["-", &address]);
                    let mut relay = Proc::spawn(&args);
                    let mut stdin = relay.stdin();
                    stdin.write_all(b"ping").unwrap();
                    // Our EOF waits for their answer: a datagram after it could come after
                    // -t, and the cell would be a race.
                    let got = theirs.join().ok();
                    if close {
                        drop(stdin);
                    } else {
                        std::mem::forget(stdin);
                    }
                    let out = relay.finish();
                    check(&name, &out, got, started.elapsed(), &expect)
                }),
            });
        }
    }
    cells
}

static PIDS: Mutex<u32> = Mutex::new(0);

fn unique(prefix: &str) -> String {
    let mut n = PIDS.lock().unwrap();
    *n += 1;
    format!("{prefix}-{}-{}", std::process::id(), *n)
}

fn program_and_local_cells() -> Vec<Cell> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mut cells = vec![
        // Pipes: socketry holds both ends; our EOF closes the write end, the read end drains.
        fixed_cell(
            "PIPE OursFirst".into(),
            s(&["-", "PIPE"]),
            b"ping",
            true,
            clean(b"ping", b""),
            None,
        ),
        fixed_cell(
            "PIPE -T Silent".into(),
            s(&["-T", "1", "-", "PIPE"]),
            b"ping",
            false,
            timed(b"ping", None, 1),
            None,
        ),
        // Programs: our EOF closes cat's input, cat's exit is their EOF.
        fixed_cell(
            "EXEC OursFirst".into(),
            s(&["-", "EXEC:cat"]),
            b"ping",
            true,
            clean(b"ping", b""),
            None,
        ),
        // Their EOF first: the program closes its output and still reads ours.
        fixed_cell(
            "SYSTEM pipes TheirsFirst".into(),
            s(&["-", "SYSTEM:printf pong; exec 1>&-; cat >/dev/null,pipes"]),
            b"ping",
            true,
            clean(b"pong", b""),
            None,
        ),
        // A program that fails: its status is socketry's.
        fixed_cell(
            "SYSTEM exit 3 OursFirst".into(),
            s(&["-", "SYSTEM:cat; exit 3"]),
            b"ping",
            true,
            Expect {
                stdout: b"ping",
                theirs: None,
                code: 3,
                error: Some("exited with status 3"),
                at_least: Duration::ZERO,
                within: FAST,
            },
            None,
        ),
        // A program that never ends nor speaks: -T ends the relay, the program is stopped.
        fixed_cell(
            "SYSTEM sleep -T Silent".into(),
            s(&["-T", "1", "-", "SYSTEM:sleep 30"]),
            b"",
            false,
            timed(b"", None, 1),
            None,
        ),
        // A pty: the program's exit is the slave's last close, their EOF.
        fixed_cell(
            "EXEC pty TheirsFirst".into(),
            s(&["-", "EXEC:echo pong,pty"]),
            b"",
            false,
            clean(b"pong\r\n", b""),
            None,
        ),
    ];
    // A queue never ends: -t after our EOF, or -T.
    let queue = unique("/socketry-eof");
    cells.push(fixed_cell(
        "POSIXMQ -t OursFirst".into(),
        s(&[
            "-t",
            "1",
            "-",
            &format!("POSIXMQ-BIDIRECTIONAL:{queue},unlink-close"),
        ]),
        b"ping",
        true,
        timed(b"ping", None, 1),
        None,
    ));
    let queue = unique("/socketry-eof");
    cells.push(fixed_cell(
        "POSIXMQ -T Silent".into(),
        s(&[
            "-T",
            "1",
            "-",
            &format!("POSIXMQ-BIDIRECTIONAL:{queue},unlink-close"),
        ]),
        b"ping",
        false,
        timed(b"ping", None, 1),
        None,
    ));
    // Files: writing ends at our EOF; reading ends at the end of the file (theirs), or
    // with ignoreeof never, so -T.
    let dir = Box::leak(Box::new(common::tempdir()));
    let written: PathBuf = dir.path().join("written");
    let check_written = written.clone();
    cells.push(fixed_cell(
        "CREATE -u OursFirst".into(),
        s(&["-u", "-", &format!("CREATE:{}", written.display())]),
        b"ping",
        true,
        clean(b"", b""),
        Some(Box::new(move || match std::fs::read(&check_written) {
            Ok(got) if got == b"ping" => Ok(()),
            other => Err(format!("CREATE -u OursFirst: the file holds {other:?}")),
        })),
    ));
    let source = dir.path().join("source");
    std::fs::write(&source, b"pong").unwrap();
    cells.push(fixed_cell(
        "OPEN -U TheirsFirst".into(),
        s(&["-U", "-", &format!("OPEN:{},rdonly", source.display())]),
        b"",
        false,
        clean(b"pong", b""),
        None,
    ));
    cells.push(fixed_cell(
        "OPEN ignoreeof -T Silent".into(),
        s(&[
            "-U",
            "-T",
            "1",
            "-",
            &format!("OPEN:{},rdonly,ignoreeof", source.display()),
        ]),
        b"",
        false,
        timed(b"pong", None, 1),
        None,
    ));
    // A FIFO read and written by socketry: its own write end counts as a writer until our
    // EOF closes it.
    let fifo = dir.path().join("fifo");
    cells.push(fixed_cell(
        "FIFO OursFirst".into(),
        s(&["-", &format!("PIPE:{}", fifo.display())]),
        b"ping",
        true,
        clean(b"ping", b""),
        None,
    ));
    // A FIFO only read (-U): EOF when its last writer, theirs, closes.
    let read_fifo = dir.path().join("read-fifo");
    nix::unistd::mkfifo(&read_fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let writer_path = read_fifo.clone();
    cells.push(Cell {
        name: "FIFO -U TheirsFirst".into(),
        run: Box::new(move || {
            let started = Instant::now();
            let address = format!("PIPE:{}", writer_path.display());
            let mut relay = Proc::spawn(&["-U", "-", &address]);
            let stdin = relay.stdin();
            // Opening for writing waits for socketry to open it for reading.
            let mut writer = std::fs::OpenOptions::new()
                .write(true)
                .open(&writer_path)
                .unwrap();
            writer.write_all(b"pong").unwrap();
            drop(writer);
            let out = relay.finish();
            drop(stdin);
            check(
                "FIFO -U TheirsFirst",
                &out,
                None,
                started.elapsed(),
                &clean(b"pong", b""),
            )
        }),
    });
    // Shared memory with a socketry that echoes through a pipe: our EOF travels through it
    // and comes back as theirs.
    let shm = dir.path().join("shm");
    cells.push(Cell {
        name: "SHM OursFirst".into(),
        run: Box::new(move || {
            let mut listener =
                Proc::spawn(&["-d", &format!("SHM-LISTEN:{}", shm.display()), "PIPE"]);
            listener.wait_log("listening on");
            let started = Instant::now();
            let mut relay = Proc::spawn(&["-", &format!("SHM-CONNECT:{}", shm.display())]);
            relay.send_and_close(b"ping");
            let out = relay.finish();
            let took = started.elapsed();
            let theirs = listener.finish();
            if theirs.code() != Some(0) {
                return Err(format!(
                    "SHM OursFirst: the listener exited {:?}: {}",
                    theirs.code(),
                    theirs.stderr
                ));
            }
            check("SHM OursFirst", &out, None, took, &clean(b"ping", b""))
        }),
    });
    cells
}

/// Ends before any data: the connect refused, the shared-memory handshake cut or garbled,
/// the shared-memory peer killed mid-relay (a reset: it never closed its side).
fn handshake_cells() -> Vec<Cell> {
    let failure = |error: &'static str| Expect {
        stdout: b"",
        theirs: None,
        code: 1,
        error: Some(error),
        at_least: Duration::ZERO,
        within: FAST,
    };
    let mut cells = Vec::new();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cells.push(fixed_cell(
        "TCP refused during connect".into(),
        vec!["-".into(), format!("TCP:127.0.0.1:{port}")],
        b"ping",
        false,
        failure("Connection refused"),
        None,
    ));
    for (name, hello, error) in [
        (
            "SHM closed during the handshake",
            &b""[..],
            "the listener closed the connection (it may not admit us)",
        ),
        (
            "SHM garbage during the handshake",
            &b"hello, not shared memory"[..],
            "the peer does not speak socketry's shared memory (expected SHM-LISTEN)",
        ),
    ] {
        cells.push(Cell {
            name: name.into(),
            run: Box::new(move || {
                let dir = common::tempdir();
                let path = dir.path().join("shm");
                let listener = UnixListener::bind(&path).unwrap();
                let theirs = std::thread::spawn(move || {
                    let (mut conn, _) = listener.accept().unwrap();
                    let _ = conn.write_all(hello);
                });
                let started = Instant::now();
                let mut relay = Proc::spawn(&["-", &format!("SHM-CONNECT:{}", path.display())]);
                let stdin = relay.stdin();
                let out = relay.finish();
                drop(stdin);
                let _ = theirs.join();
                check(name, &out, None, started.elapsed(), &failure(error))
            }),
        });
    }
    cells.push(Cell {
        name: "SHM Reset (peer killed)".into(),
        run: Box::new(move || {
            let dir = common::tempdir();
            let path = dir.path().join("shm");
            let mut listener = Proc::spawn(&[
                "-d",
                &format!("SHM-LISTEN:{}", path.display()),
                "SYSTEM:sleep 30",
            ]);
            listener.wait_log("listening on");
            let started = Instant::now();
            let mut relay = Proc::spawn(&["-d", "-", &format!("SHM-CONNECT:{}", path.display())]);
            let stdin = relay.stdin();
            relay.wait_log("starting data transfer loop");
            listener.signal(nix::sys::signal::Signal::SIGKILL);
            let out = relay.finish();
            drop(stdin);
            check(
                "SHM Reset (peer killed)",
                &out,
                None,
                started.elapsed(),
                &failure("the peer went away without closing the shared memory channel"),
            )
        }),
    });
    cells
}

#[test]
fn eof_matrix() {
    let mut cells = Vec::new();
    for family in [&TCP, &UNIX, &SEQPACKET] {
        cells.extend(stream_cells(family));
    }
    cells.extend(datagram_cells());
    cells.extend(program_and_local_cells());
    cells.extend(handshake_cells());
    let total = cells.len();
    let queue = Mutex::new(cells);
    let failures = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| loop {
                let Some(cell) = queue.lock().unwrap().pop() else {
                    return;
                };
                let name = cell.name.clone();
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(cell.run)) {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => failures.lock().unwrap().push(why),
                    Err(_) => failures.lock().unwrap().push(format!("{name}: panicked")),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!("EOF matrix: {total} cells in {:?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} of {total} cells failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
