//! The connection core (layer 3): what opening an endpoint gives ([`Connection`], or a
//! listener, in [`Opened`](super::Opened)), the settings opening takes ([`OpenContext`], [`Access`]) and
//! the data options every endpoint shares. It imports no family: families build connections
//! from it, and the registry dispatches to them.

use std::fmt;
use std::io;
use std::os::fd::RawFd;

use super::error::OpenError;
use super::guard::Guard;
use super::handover::Handover;
use super::peer::{PeerCredentials, SocketAddresses};
use super::process::Process;
use crate::address::{Family, OptionId, Options};
use crate::channel::{Reader, Writer};
use crate::layer::{Data, Stack};

/// How a side's writing half is ended when the other side reaches EOF (`shut-none`,
/// `shut-down`, `shut-close`, `shut-null`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ShutMode {
    /// The half is shut down (`shutdown(SHUT_WR)` for a socket): the default.
    #[default]
    Down,
    /// Nothing is done: the half stays open until the connection ends.
    None,
    /// The half is shut down and closed at once, not when the connection ends.
    Close,
    /// An empty message is sent to carry the EOF (datagrams; nothing on a byte stream), and
    /// the half stays open.
    Null,
}

/// Per-side settings of the data itself, from the address's options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataOptions {
    /// Convert CR NL to NL when reading from this side.
    pub read_crnl: bool,
    /// Convert NL to CR NL when writing to this side.
    pub write_crnl: bool,
    /// Keep reading after EOF on this side.
    pub ignore_eof: bool,
    /// A byte that, read from this side, ends its input as EOF does (`escape`).
    pub escape: Option<u8>,
    /// An empty message read from this side is its EOF (`null-eof`).
    pub null_eof: bool,
    /// How this side's writing half ends at the other side's EOF.
    pub shut: ShutMode,
    /// `cool-write`: a write to this side that fails because its reader went away (EPIPE,
    /// ECONNRESET) ends that direction quietly instead of failing the relay.
    pub cool_write: bool,
    /// `end-close`: this side is never shut down; its descriptors are just closed when the
    /// connection ends, so that what shares them (the children of a forking second
    /// address) keeps them working.
    pub end_close: bool,
}

/// The `shut-*` options, each with the mode it selects.
const SHUT_OPTIONS: [(OptionId, ShutMode); 4] = [
    (OptionId::ShutNone, ShutMode::None),
    (OptionId::ShutDown, ShutMode::Down),
    (OptionId::ShutClose, ShutMode::Close),
    (OptionId::ShutNull, ShutMode::Null),
];

impl DataOptions {
    /// The data options an address's options give.
    pub fn from_options(options: &Options) -> DataOptions {
        let crnl = options.flag(OptionId::Crnl, false);
        let end_close = options.flag(OptionId::EndClose, false);
        let shut = SHUT_OPTIONS
            .iter()
            .find(|(id, _)| options.flag(*id, false))
            .map_or(ShutMode::Down, |(_, mode)| *mode);
        DataOptions {
            read_crnl: crnl,
            write_crnl: crnl,
            ignore_eof: options.flag(OptionId::IgnoreEof, false),
            cool_write: options.flag(OptionId::CoolWrite, false),
            escape: options
                .count(OptionId::Escape)
                .and_then(|byte| u8::try_from(byte).ok()),
            null_eof: options.flag(OptionId::NullEof, false),
            shut: if end_close { ShutMode::None } else { shut },
            end_close,
        }
    }

    /// Refuses data options that contradict each other: two `shut-*` modes, or one with
    /// `end-close` (which never shuts down).
    pub fn check(options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        let given: Vec<OptionId> = SHUT_OPTIONS
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| options.flag(*id, false))
            .collect();
        if let [first, second, ..] = given.as_slice() {
            return Err(super::combinations::conflict(
                *first,
                second.def().name,
                format!(
                    "{} and {} each choose how the writing half ends (expected one shut- option)",
                    first.def().name,
                    second.def().name
                ),
            ));
        }
        if let (Some(shut), true) = (given.first(), options.flag(OptionId::EndClose, false)) {
            return Err(super::combinations::conflict(
                *shut,
                OptionId::EndClose.def().name,
                format!(
                    "{}: end-close never shuts the writing half down (expected one of the two)",
                    shut.def().name
                ),
            ));
        }
        Ok(())
    }
}

/// An open endpoint: where to read from and where to write to. A read-only endpoint (STDIN,
/// UDP-RECV) has no writer, a write-only one (STDOUT) no reader.
pub struct Connection {
    /// Where the relay reads from: a byte stream or a message channel.
    pub reader: Option<Reader>,
    /// Where the relay writes to.
    pub writer: Option<Writer>,
    /// Line endings, EOF handling and framing of this side's data.
    pub data: DataOptions,
    /// What this endpoint is, for logs: `TCP 127.0.0.1:40000 -> 127.0.0.1:8080`.
    pub description: String,
    /// The socket's options as the kernel reported them when it was opened (for `-D`), for
    /// a socket whose halves have no descriptor to ask later; see [`Connection::report`].
    pub socket_report: Option<String>,
    /// The reader's (or writer's) descriptor is a socket whose options [`Connection::report`]
    /// reads when asked, so that a connection nobody asks about pays no system calls.
    pub(crate) report_on_demand: bool,
    /// The local and peer address of a connected internet socket, which the second
    /// address's program learns from its environment.
    pub addresses: Option<SocketAddresses>,
    /// Who the peer of a Unix socket is, when the kernel said (a program run by EXEC for the
    /// second address sees it in its environment).
    pub peer_credentials: Option<PeerCredentials>,
    /// The one socket behind both halves (a TCP, Unix stream or seqpacket connection), which
    /// can be handed to another process (`UNIX-SENDFD`).
    pub(crate) handover: Option<Handover>,
    /// The descriptors behind the reader and the writer, when they are not one socket
    /// (standard streams, `FD:n`, a file): a `nofork` program takes them over.
    pub(crate) descriptors: Option<(Option<RawFd>, Option<RawFd>)>,
    /// Child processes behind this endpoint (EXEC), to be reaped when the relay is over.
    pub(crate) processes: Vec<Process>,
    /// What the TLS handshake established, for a TLS connection (boxed: it is large, and
    /// every connection, TLS or not, is moved through the relay's futures).
    pub tls: Option<Box<crate::tls::PeerInfo>>,
    /// Variables its layers give a program run as the other address (`SOCAT_OPENSSL_...`).
    pub environment: Vec<(String, String)>,
    /// What the connection owns besides its data: files socketry made for it (a listener's
    /// socket file, a named pipe), terminal settings to put back, descriptors kept open.
    pub(crate) guards: Vec<Guard>,
    /// The connections a dual address (`READ!!WRITE`) was joined from, which own what is
    /// behind its halves.
    pub(crate) halves: Vec<Connection>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("reader", &self.reader)
            .field("writer", &self.writer)
            .field("description", &self.description)
            .finish()
    }
}

impl Connection {
    /// A connection of `reader` and `writer`, described as `description` in logs.
    pub fn new(reader: Option<Reader>, writer: Option<Writer>, description: String) -> Connection {
        Connection {
            reader,
            writer,
            data: DataOptions::default(),
            description,
            socket_report: None,
            report_on_demand: false,
            addresses: None,
            peer_credentials: None,
            handover: None,
            descriptors: None,
            processes: Vec::new(),
            tls: None,
            environment: Vec::new(),
            guards: Vec::new(),
            halves: Vec::new(),
        }
    }

    /// The socket's options as the kernel reports them (`-D`), if this is a socket.
    pub fn report(&self) -> Option<String> {
        if !self.report_on_demand {
            return self.socket_report.clone();
        }
        let descriptor = match (&self.reader, &self.writer) {
            (Some(reader), _) if reader.descriptor().is_some() => reader.descriptor(),
            (_, Some(writer)) => writer.descriptor(),
            _ => None,
        };
        let fd = descriptor.and_then(|d| d.fd())?;
        Some(super::report::report(socket2::SockRef::from(&fd)))
    }

    /// Reads what is available (one message, for a message channel). `None` is EOF.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match &mut self.reader {
            Some(reader) => reader.read_unit(buf).await,
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} cannot be read", self.description),
            )),
        }
    }

    /// Reads until EOF.
    pub async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        let mut buf = vec![0; crate::channel::MIN_MESSAGE_BUFFER];
        while let Some(n) = self.read(&mut buf).await? {
            all.extend_from_slice(&buf[..n]);
        }
        Ok(all)
    }

    /// Writes all of `data` (as one message, for a message channel).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.write_unit(data).await,
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{} cannot be written", self.description),
            )),
        }
    }

    /// Tells the peer nothing more will be written (EOF), where the channel can carry it.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.shutdown().await,
            None => Ok(()),
        }
    }

    /// Takes the child processes behind this endpoint: the caller must
    /// [`finish`](Process::finish) them once the connection's channels are closed.
    pub fn take_processes(&mut self) -> Vec<Process> {
        std::mem::take(&mut self.processes)
    }

    /// The descriptors a `nofork` program takes over: what the first address reads from and
    /// writes to. `None` when the connection is not backed by descriptors of its own.
    pub(crate) fn direct_descriptors(&self) -> Option<(Option<RawFd>, Option<RawFd>)> {
        match (&self.handover, self.descriptors) {
            (Some(handover), _) => Some((Some(handover.fd), Some(handover.fd))),
            (None, descriptors) => descriptors,
        }
    }

    /// Closes this connection after a program took its descriptors over: a socket is not
    /// shut down (the program still uses it), standard streams get their modes back.
    pub(crate) fn release_to_program(self) {
        if let Some(handover) = &self.handover {
            handover.mark_handed_over();
        }
        drop(self);
    }

    /// Keeps `guard` as long as this connection: what it guards is released when the
    /// connection is dropped.
    pub fn keep_alive(&mut self, guard: impl Into<Guard>) {
        self.guards.push(guard.into());
    }

    /// The connection of a dual address: the reader of `reading` and the writer of `writing`,
    /// each with its own data options; both halves live as long as the joined connection.
    pub(crate) fn join(mut reading: Connection, mut writing: Connection) -> Connection {
        let mut joined = Connection::new(
            reading.reader.take(),
            writing.writer.take(),
            format!("{} !! {}", reading.description, writing.description),
        );
        joined.data = DataOptions {
            read_crnl: reading.data.read_crnl,
            write_crnl: writing.data.write_crnl,
            ignore_eof: reading.data.ignore_eof,
            escape: reading.data.escape,
            null_eof: reading.data.null_eof,
            shut: writing.data.shut,
            end_close: writing.data.end_close,
            cool_write: writing.data.cool_write,
        };
        joined.addresses = reading.addresses;
        joined.peer_credentials = reading.peer_credentials;
        joined.descriptors = Some((
            reading.direct_descriptors().and_then(|(read, _)| read),
            writing.direct_descriptors().and_then(|(_, write)| write),
        ));
        joined.processes = reading.take_processes();
        joined.processes.extend(writing.take_processes());
        joined.halves = vec![reading, writing];
        joined
    }

    /// Stacks `layers` over this connection's data (the `length-prefix` framing an address
    /// asks for, TLS, the protocols to come), running their handshakes, and keeps what they
    /// learned about the peer. Opening an address stacks the layers it asks for already; this
    /// is for layers of one's own.
    ///
    /// A layer that changes the bytes hides the socket below it: once a half reports no
    /// descriptor, the connection can no longer be handed over or given to a `nofork`
    /// program, and its `-D` report is the one read before the layers ran.
    pub async fn stack(mut self, layers: &Stack) -> Result<Connection, OpenError> {
        if layers.is_empty() {
            return Ok(self);
        }
        if self.report_on_demand {
            self.socket_report = self.report();
            self.report_on_demand = false;
        }
        let below = Data::new(self.reader.take(), self.writer.take());
        let layered = layers.apply(below, &self.description).await?;
        self.reader = layered.reader;
        self.writer = layered.writer;
        let hidden = |d: Option<&dyn crate::channel::Descriptor>| d.is_none();
        let reader_hidden = self.reader.as_ref().is_some_and(|r| hidden(r.descriptor()));
        let writer_hidden = self.writer.as_ref().is_some_and(|w| hidden(w.descriptor()));
        if reader_hidden || writer_hidden {
            self.handover = None;
            self.descriptors = None;
        }
        let learned = layered.learned;
        if learned.tls.is_some() {
            self.tls = learned.tls;
        }
        if let Some(peer) = learned.peer_address {
            if let Some(addresses) = &mut self.addresses {
                addresses.peer = peer;
            }
        }
        self.environment.extend(learned.environment);
        for what in learned.over {
            self.description = format!("{} over {what}", self.description);
        }
        Ok(self)
    }
}

/// Which ways data moves through an endpoint as the relay uses it. An address used only for
/// reading (the first address under `-u`, the reading half of `A!!B`) is opened that way: a
/// file read-only, a named pipe without a write end of socketry's own (so that it reads EOF
/// when its writers leave), a program with only its output connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Access {
    /// Both ways.
    #[default]
    ReadWrite,
    /// Only read from.
    Read,
    /// Only written to.
    Write,
}

impl Access {
    /// Whether the relay reads from the endpoint.
    pub fn reads(self) -> bool {
        self != Access::Write
    }

    /// Whether the relay writes to the endpoint.
    pub fn writes(self) -> bool {
        self != Access::Read
    }
}

/// Settings from the command line that change how addresses open.
#[derive(Debug, Clone)]
pub struct OpenContext {
    /// The protocol family for addresses that name none (`-4`, `-6`).
    pub family: Family,
    /// The family listeners use when nothing else says: IPv4 unless set to IPv6
    /// (socat's `SOCAT_DEFAULT_LISTEN_IP`).
    pub listen_family: Family,
    /// When opening the second address: the first connection's socket addresses, if it is
    /// an internet socket (a program run by EXEC sees them in its environment).
    pub first_addresses: Option<SocketAddresses>,
    /// Which ways the relay will move data through the address being opened.
    pub access: Access,
    /// When opening the second address: the credentials of the first connection's Unix peer.
    pub first_credentials: Option<PeerCredentials>,
    /// When opening the second address: what the first connection's layers learned for a
    /// program's environment (`SOCAT_OPENSSL_X509_SUBJECT`, `SOCKETRY_TLS_VERSION`, ...).
    pub first_environment: Vec<(String, String)>,
}

impl Default for OpenContext {
    fn default() -> Self {
        OpenContext {
            family: Family::Any,
            listen_family: Family::V4,
            first_addresses: None,
            access: Access::ReadWrite,
            first_credentials: None,
            first_environment: Vec::new(),
        }
    }
}
