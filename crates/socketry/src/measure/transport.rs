//! Each mechanism [`Mechanism`] names, opened as a pair of connected endpoints that two
//! threads drive with blocking calls: a byte stream (pipes, FIFOs, Unix and TCP streams,
//! shared memory) or a message channel (Unix datagram and seqpacket sockets, UDP, POSIX
//! message queues), the two models kept apart as in [`crate::channel`].
//!
//! A measurement sends messages of one size. On a stream a message is that many bytes read in
//! full; on a message channel it is one message, and one of any other length is an error. The
//! sender ends with [`Endpoint::finish`]: on a stream that is EOF, on a message channel a
//! one-byte end marker, which no measured message can be mistaken for (they are at least two
//! bytes long).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use socket2::{Domain, Socket, Type};

use super::mechanism::{ByteStream, Mechanism, MessageChannel};
use super::shm::{self, Wake};
use crate::sys::mqueue::{self, Access, Create, MessageQueue};

/// How long a blocked receive waits before the measurement gives up on its peer.
const STALL: Duration = Duration::from_secs(5);

/// The largest UDP payload over IPv4: 65,535 less the IP and UDP headers.
pub(crate) const UDP_MAX_PAYLOAD: usize = 65_507;

/// Ends a message channel's sending: shorter than any measured message.
const END_MARKER: &[u8] = &[0xE0];

/// One end of an opened mechanism.
pub(crate) enum Endpoint {
    Stream(Box<dyn ByteStream>),
    Messages(Box<dyn MessageChannel>),
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Endpoint::Stream(_) => "Endpoint::Stream",
            Endpoint::Messages(_) => "Endpoint::Messages",
        })
    }
}

/// What [`Endpoint::recv`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    Message,
    /// The sender's [`Endpoint::finish`].
    End,
}

impl Endpoint {
    /// Sends one message: all of `message`.
    pub(crate) fn send(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            Endpoint::Stream(stream) => stream.write_all(message),
            Endpoint::Messages(channel) => channel.send(message),
        }
    }

    /// Receives one message of exactly `buf.len()` bytes, or the end.
    pub(crate) fn recv(&mut self, buf: &mut [u8]) -> io::Result<Received> {
        match self {
            Endpoint::Stream(stream) => read_message(stream.as_mut(), buf),
            Endpoint::Messages(channel) => {
                let n = channel.recv(buf)?;
                if n == buf.len() {
                    Ok(Received::Message)
                } else if n == END_MARKER.len() {
                    Ok(Received::End)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "a message of {n} bytes arrived where {} were sent",
                            buf.len()
                        ),
                    ))
                }
            }
        }
    }

    /// Tells the peer that nothing more follows.
    pub(crate) fn finish(&mut self) -> io::Result<()> {
        match self {
            Endpoint::Stream(stream) => stream.close_write(),
            Endpoint::Messages(channel) => channel.send(END_MARKER),
        }
    }

    /// Whether messages (and so the end marker) can be lost on the way.
    pub(crate) fn lossy(&self) -> bool {
        match self {
            Endpoint::Stream(_) => false,
            Endpoint::Messages(channel) => channel.lossy(),
        }
    }
}

fn read_message(stream: &mut dyn ByteStream, buf: &mut [u8]) -> io::Result<Received> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(Received::End),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended inside a message",
                ))
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Received::Message)
}

/// A mechanism that was opened, or the reason it cannot carry messages of the size asked.
#[derive(Debug)]
pub(crate) enum Opened {
    Pair(Endpoint, Endpoint),
    Unsupported(String),
}

/// Opens `mechanism` for messages of `size` bytes.
pub(crate) fn open(mechanism: Mechanism, size: usize) -> io::Result<Opened> {
    let (a, b) = match mechanism {
        Mechanism::Pipe => {
            let (a, b) = pipes()?;
            (stream(a), stream(b))
        }
        Mechanism::Fifo => {
            let (a, b) = fifos()?;
            (stream(a), stream(b))
        }
        Mechanism::UnixStream => {
            let (a, b) = UnixStream::pair()?;
            for end in [&a, &b] {
                end.set_read_timeout(Some(STALL))?;
            }
            (stream(a), stream(b))
        }
        Mechanism::UnixDatagram => {
            let (a, b) = UnixDatagram::pair()?;
            for end in [&a, &b] {
                end.set_read_timeout(Some(STALL))?;
            }
            (messages(a), messages(b))
        }
        Mechanism::UnixSeqpacket => {
            let (a, b) = Socket::pair(Domain::UNIX, Type::SEQPACKET.cloexec(), None)?;
            for end in [&a, &b] {
                end.set_read_timeout(Some(STALL))?;
            }
            (messages(Seqpacket(a)), messages(Seqpacket(b)))
        }
        Mechanism::Tcp => {
            let (a, b) = tcp_pair()?;
            (stream(a), stream(b))
        }
        Mechanism::Udp => {
            if size > UDP_MAX_PAYLOAD {
                return Ok(Opened::Unsupported(format!(
                    "a UDP datagram over IPv4 carries at most {UDP_MAX_PAYLOAD} bytes"
                )));
            }
            let (a, b) = udp_pair()?;
            (messages(Udp(a)), messages(Udp(b)))
        }
        Mechanism::MessageQueue => match queue_pair(size)? {
            QueuePair::Opened(a, b) => (messages(a), messages(b)),
            QueuePair::TooLarge(why) => return Ok(Opened::Unsupported(why)),
        },
        Mechanism::SharedMemorySpin => {
            let (a, b) = shm::pair(Wake::Spin)?;
            (stream(a), stream(b))
        }
        Mechanism::SharedMemoryEvent => {
            let (a, b) = shm::pair(Wake::EventFd)?;
            (stream(a), stream(b))
        }
    };
    Ok(Opened::Pair(a, b))
}

fn stream(s: impl ByteStream + 'static) -> Endpoint {
    Endpoint::Stream(Box::new(s))
}

fn messages(m: impl MessageChannel + 'static) -> Endpoint {
    Endpoint::Messages(Box::new(m))
}

/// One side's two one-way channels: what it reads, and what it writes (until closed).
struct OneWayPair {
    read: File,
    write: Option<File>,
}

impl Read for OneWayPair {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read.read(buf)
    }
}

impl Write for OneWayPair {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.write {
            Some(write) => write.write(buf),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ByteStream for OneWayPair {
    fn close_write(&mut self) -> io::Result<()> {
        self.write = None;
        Ok(())
    }
}

/// Two anonymous pipes, one each way.
fn pipes() -> io::Result<(OneWayPair, OneWayPair)> {
    let (a_read, b_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (b_read, a_write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let side = |read: OwnedFd, write: OwnedFd| OneWayPair {
        read: File::from(read),
        write: Some(File::from(write)),
    };
    Ok((side(a_read, a_write), side(b_read, b_write)))
}

/// A private directory that is removed, with what is in it, when dropped.
struct PrivateDir(PathBuf);

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two FIFOs, one each way, in a private temporary directory that is gone once both are open.
fn fifos() -> io::Result<(OneWayPair, OneWayPair)> {
    let template = std::env::temp_dir().join("socketry-bench-XXXXXX");
    let dir = PrivateDir(nix::unistd::mkdtemp(&template)?);
    let to_a = dir.0.join("to-a");
    let to_b = dir.0.join("to-b");
    for path in [&to_a, &to_b] {
        nix::unistd::mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)?;
    }
    // Opening a FIFO's reading end without O_NONBLOCK waits for a writer, and the writing end
    // fails without a reader: open the reader non-blocking, then the writer, then make the
    // reader block again.
    let open_pair = |path: &PathBuf| -> io::Result<(File, File)> {
        let read = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(path)?;
        let write = std::fs::OpenOptions::new().write(true).open(path)?;
        let flags = OFlag::from_bits_truncate(fcntl(read.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            read.as_raw_fd(),
            FcntlArg::F_SETFL(flags.difference(OFlag::O_NONBLOCK)),
        )?;
        Ok((read, write))
    };
    let (a_read, b_write) = open_pair(&to_a)?;
    let (b_read, a_write) = open_pair(&to_b)?;
    drop(dir);
    Ok((
        OneWayPair {
            read: a_read,
            write: Some(a_write),
        },
        OneWayPair {
            read: b_read,
            write: Some(b_write),
        },
    ))
}

impl ByteStream for UnixStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl ByteStream for TcpStream {
    fn close_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

/// A TCP connection over 127.0.0.1, with `TCP_NODELAY` on both ends (a ping-pong of small
/// messages would otherwise wait on delayed acknowledgements).
fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let a = TcpStream::connect(listener.local_addr()?)?;
    let (b, _) = listener.accept()?;
    for end in [&a, &b] {
        end.set_nodelay(true)?;
        end.set_read_timeout(Some(STALL))?;
    }
    Ok((a, b))
}

/// Checks that a datagram went out whole.
fn sent_whole(sent: usize, message: &[u8]) -> io::Result<()> {
    if sent == message.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("{sent} of a {}-byte message sent", message.len()),
        ))
    }
}

impl MessageChannel for UnixDatagram {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        sent_whole(UnixDatagram::send(self, message)?, message)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        UnixDatagram::recv(self, buf)
    }
}

/// A `SOCK_SEQPACKET` Unix socket.
struct Seqpacket(Socket);

impl MessageChannel for Seqpacket {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        sent_whole(self.0.send(message)?, message)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.0).read(buf)
    }
}

/// A UDP socket connected to its peer on 127.0.0.1.
struct Udp(UdpSocket);

/// The receive buffer asked for UDP (the kernel caps it at `net.core.rmem_max`), so that a
/// receiver that falls behind for a moment loses less.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

fn udp_pair() -> io::Result<(UdpSocket, UdpSocket)> {
    let a = UdpSocket::bind(("127.0.0.1", 0))?;
    let b = UdpSocket::bind(("127.0.0.1", 0))?;
    a.connect(b.local_addr()?)?;
    b.connect(a.local_addr()?)?;
    for end in [&a, &b] {
        end.set_read_timeout(Some(STALL))?;
        socket2::SockRef::from(end).set_recv_buffer_size(UDP_RECEIVE_BUFFER)?;
    }
    Ok((a, b))
}

impl MessageChannel for Udp {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        sent_whole(self.0.send(message)?, message)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.recv(buf)
    }

    fn lossy(&self) -> bool {
        true
    }
}

/// One side's two queues: it receives on one and sends on the other.
struct QueueSide {
    receive: MessageQueue,
    send: MessageQueue,
}

impl MessageChannel for QueueSide {
    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        self.send.send(message, 0)
    }

    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.receive.receive(buf)?.0)
    }
}

enum QueuePair {
    Opened(QueueSide, QueueSide),
    TooLarge(String),
}

/// Tells queue names apart within one process.
static QUEUES_OPENED: AtomicU64 = AtomicU64::new(0);

/// How many messages each queue holds, in the order tried: the per-user limit on queue
/// memory (`RLIMIT_MSGQUEUE`, 800 KiB by default) fits two queues of ten 64 KiB messages
/// only with fewer.
const QUEUE_DEPTHS: [i64; 4] = [10, 4, 2, 1];

/// Two new queues with messages of `size` bytes, their names unlinked once both are open.
fn queue_pair(size: usize) -> io::Result<QueuePair> {
    let message_size =
        i64::try_from(size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut last_error = None;
    for depth in QUEUE_DEPTHS {
        match open_queues(message_size, depth) {
            Ok((a, b)) => return Ok(QueuePair::Opened(a, b)),
            // EINVAL: a message size or depth above what this user may ask for; EMFILE: the
            // per-user memory limit. A shallower queue may fit either.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(nix::libc::EINVAL | nix::libc::EMFILE)
                ) =>
            {
                last_error = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    let largest = std::fs::read_to_string("/proc/sys/fs/mqueue/msgsize_max")
        .ok()
        .and_then(|text| text.trim().parse::<usize>().ok());
    match (largest, last_error) {
        (Some(largest), _) if size > largest => Ok(QueuePair::TooLarge(format!(
            "POSIX message queues here carry at most {largest} bytes (fs.mqueue.msgsize_max)"
        ))),
        (_, Some(e)) => Ok(QueuePair::TooLarge(format!(
            "no queue for {size}-byte messages could be created: {e}"
        ))),
        (_, None) => Err(io::Error::other("no queue depth was tried")),
    }
}

fn open_queues(message_size: i64, depth: i64) -> io::Result<(QueueSide, QueueSide)> {
    let serial = QUEUES_OPENED.fetch_add(1, Ordering::Relaxed);
    let base = format!("/socketry-bench-{}-{serial}", std::process::id());
    let create = Create {
        exclusive: true,
        mode: 0o600,
        limits: Some((depth, message_size)),
    };
    // Each queue is opened twice, by its receiving side and its sending side, then unlinked at
    // once: the descriptors keep it, and nothing is left behind.
    let open = |name: &str| -> io::Result<(MessageQueue, MessageQueue)> {
        let receive = mqueue::open(name, Access::Receive, Some(create))?;
        let send = mqueue::open(name, Access::Send, None);
        let unlinked = mqueue::unlink(name);
        let send = send?;
        unlinked?;
        receive.set_blocking()?;
        send.set_blocking()?;
        Ok((receive, send))
    };
    let (a_receive, b_send) = open(&format!("{base}-a"))?;
    let (b_receive, a_send) = open(&format!("{base}-b"))?;
    Ok((
        QueueSide {
            receive: a_receive,
            send: a_send,
        },
        QueueSide {
            receive: b_receive,
            send: b_send,
        },
    ))
}
