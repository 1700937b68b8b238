//! What is measured: the mechanisms, and the two kinds of endpoint a mechanism opens as (a
//! byte stream or a message channel), below the code that opens and drives them.

use std::io::{self, Read, Write};

/// What is measured: each local mechanism socketry relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// Two anonymous pipes, one each way.
    Pipe,
    /// Two named pipes (FIFOs), one each way.
    Fifo,
    /// A Unix stream socket pair.
    UnixStream,
    /// A Unix datagram socket pair.
    UnixDatagram,
    /// A Unix seqpacket socket pair.
    UnixSeqpacket,
    /// A TCP connection over 127.0.0.1.
    Tcp,
    /// Two UDP sockets on 127.0.0.1, connected to each other.
    Udp,
    /// Two POSIX message queues, one each way.
    MessageQueue,
    /// socketry's shared-memory rings, waiting by spinning.
    SharedMemorySpin,
    /// socketry's shared-memory rings, waiting on an eventfd.
    SharedMemoryEvent,
}

impl Mechanism {
    /// Every mechanism, in the order reports list them.
    pub const ALL: [Mechanism; 10] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::UnixStream,
        Mechanism::UnixDatagram,
        Mechanism::UnixSeqpacket,
        Mechanism::Tcp,
        Mechanism::Udp,
        Mechanism::MessageQueue,
        Mechanism::SharedMemorySpin,
        Mechanism::SharedMemoryEvent,
    ];

    /// A short name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::UnixStream => "unix-stream",
            Mechanism::UnixDatagram => "unix-dgram",
            Mechanism::UnixSeqpacket => "unix-seqpacket",
            Mechanism::Tcp => "tcp",
            Mechanism::Udp => "udp",
            Mechanism::MessageQueue => "posix-mq",
            Mechanism::SharedMemorySpin => "shm-spin",
            Mechanism::SharedMemoryEvent => "shm-eventfd",
        }
    }

    /// What exactly is measured.
    pub fn description(self) -> &'static str {
        match self {
            Mechanism::Pipe => "two anonymous pipes, one each way",
            Mechanism::Fifo => "two named pipes in a private temporary directory",
            Mechanism::UnixStream => "a Unix stream socket pair",
            Mechanism::UnixDatagram => "a Unix datagram socket pair",
            Mechanism::UnixSeqpacket => "a Unix seqpacket socket pair",
            Mechanism::Tcp => "a TCP connection over 127.0.0.1, TCP_NODELAY",
            Mechanism::Udp => "two UDP sockets on 127.0.0.1, connected to each other",
            Mechanism::MessageQueue => "two POSIX message queues, unlinked once open",
            Mechanism::SharedMemorySpin => {
                "socketry's shared-memory rings (a sealed memfd), waiting by spinning"
            }
            Mechanism::SharedMemoryEvent => {
                "socketry's shared-memory rings (a sealed memfd), waiting on an eventfd"
            }
        }
    }

    /// Whether it carries messages (else a byte stream).
    pub fn carries_messages(self) -> bool {
        matches!(
            self,
            Mechanism::UnixDatagram
                | Mechanism::UnixSeqpacket
                | Mechanism::Udp
                | Mechanism::MessageQueue
        )
    }
}

/// The byte streams: a stream ends when its writing half is closed.
pub(crate) trait ByteStream: Read + Write + Send {
    /// EOF for the peer: it reads what was written, then the end.
    fn close_write(&mut self) -> io::Result<()>;
}

/// The message channels: each send is one message, each receive takes one whole.
pub(crate) trait MessageChannel: Send {
    fn send(&mut self, message: &[u8]) -> io::Result<()>;
    /// Takes one message into `buf` (which holds the largest expected) and returns its length.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Whether a message can be dropped on the way (UDP, when the receiver falls behind).
    fn lossy(&self) -> bool {
        false
    }
}
