//! Shared memory between two processes: `SHM-LISTEN:path` and `SHM-CONNECT:path`.
//!
//! The listener accepts on a Unix stream socket at `path` (the rendezvous). For each
//! connection it creates a sealed memory file holding two rings (see [`ring`]), one per
//! direction, and four eventfds, and sends them all over the socket (`SCM_RIGHTS`) with a
//! short hello naming the layout. Both sides map the memory; from then on data moves through
//! the rings only. The socket stays open as the peer's heartbeat: its end tells a side that
//! the peer is gone even if the peer died without closing its rings.
//!
//! A side that finds its ring empty (reading) or full (writing) publishes that it waits,
//! spins for `shm-spin` microseconds if asked, then sleeps on its eventfd, which the tokio
//! reactor polls; the other side signals the eventfd only when the flag says someone sleeps.
//!
//! The channel is a byte stream by default; with `shm-messages` each write is one message,
//! delivered whole (a 4-byte length, then the bytes; at most the ring's size). Closing the
//! writing half is EOF for the reader once it has read everything before it; a side whose
//! peer stopped reading gets EPIPE; a peer that vanishes without closing is a reset.

mod address_types;
pub mod ring;

pub use address_types::{ShmSpec, FAMILY};

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use socket2::Type;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixListener;

use super::listener::{Listener, ListenerKind};
use super::unix::ancillary;
use super::unix::credentials::CredentialFilter;
use super::unix::{connect_socket, display_name, listening_socket};
use crate::address::{OptionId, Options, UnixName};
use crate::channel::{MessageRecv, MessageSend, Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::sys;
use crate::sys::shm::SharedMemory;
use ring::{Layout, Ring, MESSAGE_HEADER};

/// Each ring's size when `shm-size` is not given.
pub const DEFAULT_RING_SIZE: u64 = 1 << 20;

/// The hello's first bytes; then version (u32), flags (u32) and ring capacity (u64), little
/// endian.
const HELLO_MAGIC: &[u8; 8] = b"SKTRYSHM";
const HELLO_LEN: usize = 24;
/// The memory file and four eventfds: ring 0's data and space, ring 1's data and space.
const HELLO_FDS: usize = 5;

/// How a side uses the channel, from its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Each ring's size (the listener's choice; the connector learns it).
    layout: Layout,
    messages: bool,
    spin: Duration,
}

impl Settings {
    pub(crate) fn from_options(options: &Options) -> Result<Settings, OpenError> {
        let size = options
            .count(OptionId::ShmSize)
            .unwrap_or(DEFAULT_RING_SIZE);
        let layout = Layout::new(size).ok_or_else(|| {
            OpenError::Refused(format!(
                "shm-size={size} is out of range (expected {} to {} bytes)",
                ring::MIN_CAPACITY,
                ring::MAX_CAPACITY
            ))
        })?;
        let spin = options.count(OptionId::ShmSpin).unwrap_or(0);
        if spin > 1_000_000 {
            return Err(OpenError::Refused(format!(
                "shm-spin={spin} is too long (expected at most 1000000 microseconds)"
            )));
        }
        Ok(Settings {
            layout,
            messages: options.flag(OptionId::ShmMessages, false),
            spin: Duration::from_micros(spin),
        })
    }

    fn mode(&self) -> &'static str {
        if self.messages {
            "messages"
        } else {
            "bytes"
        }
    }
}

/// `SHM-LISTEN`: what a listener needs to set up each peer's channel.
#[derive(Debug)]
pub(crate) struct ShmListener {
    pub(crate) listener: UnixListener,
    pub(crate) filter: CredentialFilter,
    settings: Settings,
}

/// Listens for shared-memory peers at `name`.
pub fn listen(name: &UnixName, options: &Options) -> Result<Listener, OpenError> {
    let settings = Settings::from_options(options)?;
    let filter = CredentialFilter::from_options(options)?;
    let (socket, _, guard) = listening_socket(name, options, "SHM-LISTEN")?;
    let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(OwnedFd::from(
        socket,
    )))
    .map_err(OpenError::io("registering the listener"))?;
    let description = format!("SHM {}", display_name(name));
    let listener = Listener::new(
        ListenerKind::Shm(ShmListener {
            listener,
            filter,
            settings,
        }),
        description,
        options,
    );
    Ok(match guard {
        Some(guard) => listener.with_guard(guard),
        None => listener,
    })
}

impl ShmListener {
    /// Sets up the channel with a peer that just connected to the rendezvous socket.
    pub(crate) fn serve(
        &self,
        control: tokio::net::UnixStream,
        description: &str,
    ) -> io::Result<Connection> {
        let settings = self.settings;
        let layout = settings.layout;
        let (memfd, memory) = SharedMemory::create(c"socketry-shm", layout.total_len())?;
        ring::initialise(&memory, layout, settings.messages);
        let events: Vec<OwnedFd> = (0..4)
            .map(|_| sys::shm::new_event())
            .collect::<io::Result<_>>()?;
        let mut hello = Vec::with_capacity(HELLO_LEN);
        hello.extend_from_slice(HELLO_MAGIC);
        hello.extend_from_slice(&ring::VERSION.to_le_bytes());
        let flags = if settings.messages {
            ring::FLAG_MESSAGES
        } else {
            0
        };
        hello.extend_from_slice(&flags.to_le_bytes());
        hello.extend_from_slice(&(layout.capacity() as u64).to_le_bytes());
        let fds: Vec<_> = std::iter::once(memfd.as_fd())
            .chain(events.iter().map(AsFd::as_fd))
            .collect();
        // A fresh socket's buffer always has room for the hello.
        let sent = ancillary::send_fds(&control, &hello, &fds)?;
        if sent != hello.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the hello was cut short",
            ));
        }
        let [r0_data, r0_space, r1_data, r1_space] = events_array(events)?;
        let control = OwnedFd::from(control.into_std()?);
        // The listener writes ring 0 and reads ring 1.
        channel(
            Arc::new(memory),
            settings,
            Sides {
                outgoing: 0,
                out_data: r0_data,
                out_space: r0_space,
                incoming: 1,
                in_data: r1_data,
                in_space: r1_space,
            },
            control,
            format!(
                "{description} ({}, rings of {} bytes)",
                settings.mode(),
                layout.capacity()
            ),
        )
    }
}

fn events_array(events: Vec<OwnedFd>) -> io::Result<[OwnedFd; 4]> {
    events
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "expected four eventfds"))
}

/// What the listener's hello says, checked against our own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hello {
    pub version: u32,
    pub messages: bool,
    pub layout: Layout,
}

impl Hello {
    /// Parses the hello's bytes (as many as arrived), refusing anything this side cannot use:
    /// the wrong length or magic, another layout version, the other channel kind, or a ring
    /// size that is not one a listener could have made.
    pub(crate) fn parse(hello: &[u8], settings: Settings) -> Result<Hello, String> {
        let Some(hello) = hello
            .get(..HELLO_LEN)
            .filter(|h| hello.len() == HELLO_LEN && h.starts_with(HELLO_MAGIC))
        else {
            return Err(
                "the peer does not speak socketry's shared memory (expected SHM-LISTEN)".to_owned(),
            );
        };
        let word = |at: usize| [hello[at], hello[at + 1], hello[at + 2], hello[at + 3]];
        let version = u32::from_le_bytes(word(8));
        let flags = u32::from_le_bytes(word(12));
        let mut capacity = [0u8; 8];
        capacity.copy_from_slice(&hello[16..24]);
        let capacity = u64::from_le_bytes(capacity);
        if version != ring::VERSION {
            return Err(format!(
                "layout version {version} (expected {})",
                ring::VERSION
            ));
        }
        let messages = flags & ring::FLAG_MESSAGES != 0;
        if messages != settings.messages {
            let theirs = if messages { "messages" } else { "bytes" };
            return Err(format!(
                "the listener's channel carries {theirs} and ours {} (expected shm-messages on both sides or on neither)",
                settings.mode()
            ));
        }
        let layout = Layout::new(capacity)
            .filter(|l| l.capacity() as u64 == capacity)
            .ok_or_else(|| format!("a ring of {capacity} bytes is not a valid size"))?;
        Ok(Hello {
            version,
            messages,
            layout,
        })
    }
}

/// The fuzzing entry point: parses `data` as a hello for a connector of either channel kind
/// (the first byte chooses), checking that what is accepted is self-consistent.
pub(crate) fn parse_any_hello(data: &[u8]) -> Option<Hello> {
    let (&kind, hello) = data.split_first()?;
    let settings = Settings {
        layout: Layout::new(DEFAULT_RING_SIZE)?,
        messages: kind & 1 == 1,
        spin: Duration::ZERO,
    };
    let parsed = Hello::parse(hello, settings).ok()?;
    assert_eq!(parsed.messages, settings.messages);
    assert_eq!(parsed.version, ring::VERSION);
    Some(parsed)
}

/// `SHM-CONNECT`: connects to the rendezvous socket and maps the memory the listener sends.
pub async fn connect(name: &UnixName, options: &Options) -> Result<Connection, OpenError> {
    let settings = Settings::from_options(options)?;
    let shown = display_name(name);
    let (socket, _) = connect_socket(name, Type::STREAM, options).await?;
    let action = format!("setting up shared memory with {shown}");
    let socket = sys::register(socket).map_err(OpenError::io(action.clone()))?;
    let receiving = async {
        let mut hello = [0u8; HELLO_LEN + 1];
        loop {
            let mut guard = socket.readable().await?;
            if let Ok(result) =
                guard.try_io(|s| ancillary::recv_message(s.get_ref(), &mut hello, HELLO_FDS))
            {
                let received = result?;
                return Ok::<_, io::Error>((hello, received));
            }
        }
    };
    let (hello, received) = crate::endpoint::error::within(
        options.seconds(OptionId::ConnectTimeout),
        &action,
        receiving,
    )
    .await?;
    let refused = |why: String| OpenError::Refused(format!("{action}: {why}"));
    if received.len == 0 {
        return Err(refused(
            "the listener closed the connection (it may not admit us)".to_owned(),
        ));
    }
    let Hello {
        messages, layout, ..
    } = Hello::parse(&hello[..received.len.min(hello.len())], settings).map_err(refused)?;
    let mut fds = received.fds.into_iter();
    let (Some(memfd), Ok(events)) = (fds.next(), events_array(fds.collect())) else {
        return Err(refused(format!(
            "expected {HELLO_FDS} descriptors with the hello"
        )));
    };
    let memory = SharedMemory::map(memfd.as_fd(), layout.total_len())
        .map_err(|e| refused(sys::error_text(&e)))?;
    drop(memfd);
    match ring::check_header(&memory, layout) {
        Ok(m) if m == messages => {}
        Ok(_) => return Err(refused("the header contradicts the hello".to_owned())),
        Err(why) => return Err(refused(why)),
    }
    let [r0_data, r0_space, r1_data, r1_space] = events;
    let control = socket.into_inner();
    tracing::info!("sharing memory with {shown}");
    // The connector reads ring 0 and writes ring 1.
    channel(
        Arc::new(memory),
        settings,
        Sides {
            outgoing: 1,
            out_data: r1_data,
            out_space: r1_space,
            incoming: 0,
            in_data: r0_data,
            in_space: r0_space,
        },
        OwnedFd::from(control),
        format!(
            "SHM {shown} ({}, rings of {} bytes)",
            settings.mode(),
            layout.capacity()
        ),
    )
    .map_err(OpenError::io(action))
}

/// Which ring a side writes and which it reads, and their eventfds.
struct Sides {
    outgoing: usize,
    /// Signalled by us when the outgoing ring has data for a sleeping peer.
    out_data: OwnedFd,
    /// Signalled by the peer when the outgoing ring has room for us.
    out_space: OwnedFd,
    incoming: usize,
    /// Signalled by the peer when the incoming ring has data for us.
    in_data: OwnedFd,
    /// Signalled by us when the incoming ring has room for a sleeping peer.
    in_space: OwnedFd,
}

/// The connection over the two rings.
fn channel(
    memory: Arc<SharedMemory>,
    settings: Settings,
    sides: Sides,
    control: OwnedFd,
    description: String,
) -> io::Result<Connection> {
    let layout = settings.layout;
    let control_for_writer = control.try_clone()?;
    let producer = Producer {
        ring: Ring::new(memory.clone(), layout, sides.outgoing),
        head: 0,
        waiting: false,
        closed: false,
        signal: sides.out_data,
        waiter: Waiter::new(sides.out_space, control_for_writer, settings.spin)?,
    };
    let consumer = Consumer {
        ring: Ring::new(memory, layout, sides.incoming),
        tail: 0,
        waiting: false,
        signal: sides.in_space,
        waiter: Waiter::new(sides.in_data, control, settings.spin)?,
    };
    let (reader, writer) = if settings.messages {
        (
            Reader::Messages(Box::new(MessageReader(consumer))),
            Writer::Messages(Box::new(MessageWriter(producer))),
        )
    } else {
        (
            Reader::Bytes(Box::new(ByteReader(consumer))),
            Writer::Bytes(Box::new(ByteWriter(producer))),
        )
    };
    Ok(Connection::new(Some(reader), Some(writer), description))
}

/// Sleeping until the peer signals: its eventfd, the rendezvous socket whose end says the
/// peer is gone, and the optional spin before sleeping.
#[derive(Debug)]
struct Waiter {
    event: AsyncFd<OwnedFd>,
    peer: AsyncFd<OwnedFd>,
    peer_gone: bool,
    spin: Duration,
}

impl Waiter {
    fn new(event: OwnedFd, peer: OwnedFd, spin: Duration) -> io::Result<Waiter> {
        sys::fd::set_nonblocking(peer.as_fd(), true)?;
        Ok(Waiter {
            event: sys::register(event)?,
            peer: sys::register(peer)?,
            peer_gone: false,
            spin,
        })
    }

    /// Called with the waiting flag published and the condition still false: ready when it
    /// is worth checking again (signalled, the spin saw it come true, or the peer is gone),
    /// pending (with a wake-up registered) otherwise.
    fn poll_wake(&mut self, cx: &mut Context<'_>, ready_now: &dyn Fn() -> bool) -> Poll<()> {
        if !self.spin.is_zero() {
            let deadline = crate::clock::std_deadline_after(Instant::now(), self.spin);
            while Instant::now() < deadline {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if ready_now() {
                    return Poll::Ready(());
                }
            }
        }
        loop {
            match self.event.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    if guard
                        .try_io(|fd| sys::shm::drain_event(fd.get_ref().as_fd()))
                        .is_ok()
                    {
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(_)) => {
                    self.peer_gone = true;
                    return Poll::Ready(());
                }
                Poll::Pending => break,
            }
        }
        loop {
            match self.peer.poll_read_ready(cx) {
                Poll::Ready(Ok(mut guard)) => {
                    // Nothing is sent after the hello: readable means the end, or a peer
                    // breaking the protocol, which ends the channel just the same.
                    let mut byte = [0u8; 1];
                    let peeked = guard.try_io(|fd| {
                        match nix::sys::socket::recv(
                            std::os::fd::AsRawFd::as_raw_fd(fd.get_ref()),
                            &mut byte,
                            nix::sys::socket::MsgFlags::MSG_PEEK
                                | nix::sys::socket::MsgFlags::MSG_DONTWAIT,
                        ) {
                            Err(nix::errno::Errno::EAGAIN) => {
                                Err(io::Error::from(io::ErrorKind::WouldBlock))
                            }
                            _ => Ok(()),
                        }
                    });
                    if peeked.is_ok() {
                        self.peer_gone = true;
                        return Poll::Ready(());
                    }
                }
                Poll::Ready(Err(_)) => {
                    self.peer_gone = true;
                    return Poll::Ready(());
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

fn signal(fd: &OwnedFd) {
    // An eventfd write fails only if the counter would overflow, which the drain prevents.
    let _ = sys::shm::signal_event(fd.as_fd());
}

/// Our half of the ring we write.
#[derive(Debug)]
struct Producer {
    ring: Ring,
    head: u64,
    waiting: bool,
    closed: bool,
    signal: OwnedFd,
    waiter: Waiter,
}

impl Producer {
    /// Waits until `need` bytes fit; returns how many do.
    fn poll_space(&mut self, cx: &mut Context<'_>, need: u64) -> Poll<io::Result<u64>> {
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the shared memory channel was shut down for writing",
            )));
        }
        if need > self.ring.capacity() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a message of {} bytes does not fit in a ring of {} (expected a larger shm-size)",
                    need - MESSAGE_HEADER,
                    self.ring.capacity()
                ),
            )));
        }
        loop {
            if self.ring.consumer_closed() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the peer no longer reads the shared memory",
                )));
            }
            let free = self.ring.free(self.head)?;
            if free >= need {
                if self.waiting {
                    self.ring.set_producer_waiting(false);
                    self.waiting = false;
                }
                return Poll::Ready(Ok(free));
            }
            if self.waiter.peer_gone {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the peer went away",
                )));
            }
            if !self.waiting {
                self.ring.set_producer_waiting(true);
                self.waiting = true;
                continue;
            }
            let (ring, head) = (&self.ring, self.head);
            let ready_now =
                || ring.free(head).map_or(true, |f| f >= need) || ring.consumer_closed();
            ready!(self.waiter.poll_wake(cx, &ready_now));
        }
    }

    fn put(&mut self, data: &[u8]) {
        self.ring.copy_in(self.head, data);
        self.head += data.len() as u64;
    }

    fn publish(&mut self) {
        if self.ring.publish(self.head) {
            signal(&self.signal);
        }
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.ring.close_producer();
            // Always: the peer may have gone to sleep just before the flag.
            signal(&self.signal);
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        self.close();
    }
}

/// Our half of the ring we read.
#[derive(Debug)]
struct Consumer {
    ring: Ring,
    tail: u64,
    waiting: bool,
    signal: OwnedFd,
    waiter: Waiter,
}

impl Consumer {
    /// Waits until `need` bytes are readable: `Some(available)`, or `None` at EOF.
    fn poll_data(&mut self, cx: &mut Context<'_>, need: u64) -> Poll<io::Result<Option<u64>>> {
        loop {
            let available = self.ring.available(self.tail)?;
            if available >= need {
                if self.waiting {
                    self.ring.set_consumer_waiting(false);
                    self.waiting = false;
                }
                return Poll::Ready(Ok(Some(available)));
            }
            if self.ring.producer_closed() {
                // Everything published before the close is visible now.
                let last = self.ring.available(self.tail)?;
                if last >= need {
                    continue;
                }
                return Poll::Ready(match last {
                    0 => Ok(None),
                    _ => Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the peer closed in the middle of a message",
                    )),
                });
            }
            if self.waiter.peer_gone {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the peer went away without closing the shared memory channel",
                )));
            }
            if !self.waiting {
                self.ring.set_consumer_waiting(true);
                self.waiting = true;
                continue;
            }
            let (ring, tail) = (&self.ring, self.tail);
            let ready_now =
                || ring.available(tail).map_or(true, |a| a >= need) || ring.producer_closed();
            ready!(self.waiter.poll_wake(cx, &ready_now));
        }
    }

    fn take(&mut self, out: &mut [u8]) {
        self.ring.copy_out(self.tail, out);
        self.tail += out.len() as u64;
    }

    fn skip(&mut self, len: u64) {
        self.tail += len;
    }

    fn release(&mut self) {
        if self.ring.release(self.tail) {
            signal(&self.signal);
        }
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.ring.close_consumer();
        signal(&self.signal);
    }
}

/// The reading half in byte-stream mode.
#[derive(Debug)]
struct ByteReader(Consumer);

/// Shared memory has no descriptor to splice: its bytes are copied.
impl crate::channel::ByteRead for ByteReader {}

impl AsyncRead for ByteReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let consumer = &mut self.get_mut().0;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let Some(available) = ready!(consumer.poll_data(cx, 1))? else {
            return Poll::Ready(Ok(()));
        };
        let n = usize::try_from(available)
            .unwrap_or(usize::MAX)
            .min(buf.remaining());
        consumer.take(buf.initialize_unfilled_to(n));
        buf.advance(n);
        consumer.release();
        Poll::Ready(Ok(()))
    }
}

/// The writing half in byte-stream mode.
#[derive(Debug)]
struct ByteWriter(Producer);

impl crate::channel::ByteWrite for ByteWriter {}

impl AsyncWrite for ByteWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let producer = &mut self.get_mut().0;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let free = ready!(producer.poll_space(cx, 1))?;
        let n = usize::try_from(free).unwrap_or(usize::MAX).min(data.len());
        producer.put(&data[..n]);
        producer.publish();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().0.close();
        Poll::Ready(Ok(()))
    }
}

/// The receiving half in message mode.
#[derive(Debug)]
struct MessageReader(Consumer);

impl MessageRecv for MessageReader {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        let consumer = &mut self.0;
        let Some(available) = ready!(consumer.poll_data(cx, MESSAGE_HEADER))? else {
            return Poll::Ready(Ok(None));
        };
        let mut header = [0u8; 4];
        consumer.take(&mut header);
        let len = u64::from(u32::from_le_bytes(header));
        // The producer publishes a message whole, so all of it is there.
        if len > available - MESSAGE_HEADER {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shared memory corrupt: a message of {len} bytes, {available} published"),
            )));
        }
        let kept = usize::try_from(len).unwrap_or(usize::MAX).min(buf.len());
        consumer.take(&mut buf[..kept]);
        if (kept as u64) < len {
            tracing::warn!(
                "a message of {len} bytes was cut to the {kept} bytes of the receiving buffer"
            );
            consumer.skip(len - kept as u64);
        }
        consumer.release();
        Poll::Ready(Ok(Some(kept)))
    }
}

/// The sending half in message mode.
#[derive(Debug)]
struct MessageWriter(Producer);

impl MessageSend for MessageWriter {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        let producer = &mut self.0;
        let len = u32::try_from(msg.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "a message of 4 GiB or more")
        })?;
        ready!(producer.poll_space(cx, MESSAGE_HEADER + u64::from(len)))?;
        producer.put(&len.to_le_bytes());
        producer.put(msg);
        producer.publish();
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::channel::MIN_MESSAGE_BUFFER;

    /// One end of a channel, not yet registered with a runtime: each end is opened on the
    /// runtime (the thread) that drives it.
    struct End {
        memory: Arc<SharedMemory>,
        settings: Settings,
        sides: Sides,
        control: OwnedFd,
    }

    impl End {
        fn open(self) -> Connection {
            let name = format!("ring {}", self.sides.outgoing);
            channel(self.memory, self.settings, self.sides, self.control, name).unwrap()
        }
    }

    /// Both ends of a channel in this process, as the listener and the connector would set
    /// them up, with a socket pair as the heartbeat; and a handle on the connector's end of
    /// the heartbeat, to make it look dead.
    fn pair(capacity: u64, messages: bool) -> (End, End, std::os::unix::net::UnixStream) {
        let settings = Settings {
            layout: Layout::new(capacity).unwrap(),
            messages,
            spin: Duration::ZERO,
        };
        let layout = settings.layout;
        let (_memfd, memory) = SharedMemory::create(c"socketry-test", layout.total_len()).unwrap();
        ring::initialise(&memory, layout, messages);
        let memory = Arc::new(memory);
        let events: Vec<OwnedFd> = (0..4).map(|_| sys::shm::new_event().unwrap()).collect();
        let twin: Vec<OwnedFd> = events.iter().map(|e| e.try_clone().unwrap()).collect();
        let [r0_data, r0_space, r1_data, r1_space] = events_array(events).unwrap();
        let [t0_data, t0_space, t1_data, t1_space] = events_array(twin).unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let heartbeat = b.try_clone().unwrap();
        let listener_end = End {
            memory: memory.clone(),
            settings,
            sides: Sides {
                outgoing: 0,
                out_data: r0_data,
                out_space: r0_space,
                incoming: 1,
                in_data: r1_data,
                in_space: r1_space,
            },
            control: OwnedFd::from(a),
        };
        let connector_end = End {
            memory,
            settings,
            sides: Sides {
                outgoing: 1,
                out_data: t1_data,
                out_space: t1_space,
                incoming: 0,
                in_data: t0_data,
                in_space: t0_space,
            },
            control: OwnedFd::from(b),
        };
        (listener_end, connector_end, heartbeat)
    }

    /// Runs `work` on a fresh single-threaded runtime of its own, so that each side sleeps
    /// and wakes on its own thread, bounded by a minute.
    fn on_own_runtime<F>(work: F) -> std::thread::JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(60), work)
                    .await
                    .expect("a side waited for a wake-up that never came");
            });
        })
    }

    fn message(sequence: u32) -> Vec<u8> {
        // Lengths from 0 to 3000, none lining up with the 4096-byte ring.
        let len = (sequence.wrapping_mul(7919) % 3001) as usize;
        (0..len)
            .map(|i| (sequence as usize * 31 + i) as u8)
            .collect()
    }

    const MESSAGES: u32 = 20_000;

    /// Sends `MESSAGES` messages and checks the `MESSAGES` that come back the other way:
    /// none torn, none lost, none out of order.
    async fn talk(end: End) {
        let mut side = end.open();
        let mut reader = side.reader.take().unwrap();
        let mut writer = side.writer.take().unwrap();
        let sending = async move {
            for sequence in 0..MESSAGES {
                writer.write_unit(&message(sequence)).await.unwrap();
            }
            writer.shutdown().await.unwrap();
        };
        let receiving = async move {
            let mut buf = vec![0; MIN_MESSAGE_BUFFER];
            for sequence in 0..MESSAGES {
                let n = reader.read_unit(&mut buf).await.unwrap().unwrap();
                assert_eq!(&buf[..n], &message(sequence)[..], "message {sequence}");
            }
            assert_eq!(reader.read_unit(&mut buf).await.unwrap(), None);
        };
        tokio::join!(sending, receiving);
    }

    #[test]
    fn messages_cross_both_ways_whole_and_in_order_through_a_small_ring() {
        let (listener_end, connector_end, _) = pair(4096, true);
        let a = on_own_runtime(talk(listener_end));
        let b = on_own_runtime(talk(connector_end));
        a.join().unwrap();
        b.join().unwrap();
    }

    #[test]
    fn bytes_cross_both_ways_in_order_through_a_small_ring() {
        const TOTAL: usize = 16 << 20;
        let pattern = |i: usize| (i % 253) as u8;
        let (listener_end, connector_end, _) = pair(4096, false);
        let run = |end: End| async move {
            let mut side = end.open();
            let mut reader = side.reader.take().unwrap();
            let mut writer = side.writer.take().unwrap();
            let sending = async move {
                let mut sent = 0;
                let mut size = 1;
                while sent < TOTAL {
                    size = (size * 3 + 1) % 9000 + 1;
                    let chunk: Vec<u8> = (sent..TOTAL.min(sent + size)).map(pattern).collect();
                    writer.write_unit(&chunk).await.unwrap();
                    sent += chunk.len();
                }
                writer.shutdown().await.unwrap();
            };
            let receiving = async move {
                let mut buf = vec![0; 5000];
                let mut received = 0;
                while let Some(n) = reader.read_unit(&mut buf).await.unwrap() {
                    for (i, byte) in buf[..n].iter().enumerate() {
                        assert_eq!(*byte, pattern(received + i), "byte {}", received + i);
                    }
                    received += n;
                }
                assert_eq!(received, TOTAL);
            };
            tokio::join!(sending, receiving);
        };
        let a = on_own_runtime(run(listener_end));
        let b = on_own_runtime(run(connector_end));
        a.join().unwrap();
        b.join().unwrap();
    }

    #[test]
    fn a_vanished_peer_is_a_reset_and_a_closed_reader_is_a_broken_pipe() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (ours, theirs, _) = pair(4096, false);
            let (mut ours, mut theirs) = (ours.open(), theirs.open());
            // The peer stops reading: our writes fail instead of blocking forever.
            drop(theirs.reader.take());
            let mut writer = ours.writer.take().unwrap();
            let error = writer.write_unit(b"nobody listens").await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);

            // The peer process "dies": its halves never close the rings, and only the end of
            // the heartbeat socket tells.
            let (ours, theirs, heartbeat) = pair(4096, false);
            let (mut ours, mut theirs) = (ours.open(), theirs.open());
            let mut reader = ours.reader.take().unwrap();
            std::mem::forget(theirs.writer.take());
            std::mem::forget(theirs.reader.take());
            heartbeat.shutdown(std::net::Shutdown::Both).unwrap();
            let mut buf = [0u8; 16];
            let waited = tokio::time::timeout(Duration::from_secs(30), reader.read_unit(&mut buf));
            let error = waited.await.unwrap().unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        });
    }

    #[test]
    fn a_message_larger_than_the_ring_is_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (ours, _theirs, _) = pair(4096, true);
            let mut ours = ours.open();
            let mut writer = ours.writer.take().unwrap();
            let error = writer.write_unit(&[0u8; 4093]).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            writer.write_unit(&[0u8; 4092]).await.unwrap();
        });
    }
}
