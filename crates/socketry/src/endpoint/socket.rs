//! Message sockets (UDP, Unix datagram, seqpacket) driven by the reactor, the message-channel
//! halves built on them, the peer filter, and the socket options every socket family shares.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use std::os::fd::AsFd;

use socket2::{SockAddr, Socket};
use tokio::io::unix::AsyncFd;

use super::packet_info;
use super::tcpwrap::TcpWrap;
use super::unix::ancillary::{self, PeerCredentials};
use super::unix::credentials::CredentialFilter;
use crate::address::{IpRange, OptionId, Options};
use crate::channel::{MessageBatch, MessageRecv, MessageSend, MIN_MESSAGE_BUFFER};
use crate::sys;
use crate::sys::datagram::{BatchInfo, Outgoing, Received};

/// A batch of at least this many datagrams sent at once is a burst: the sender is under
/// load, and gives up its core after sending it (see [`MessageSocket::poll_send_batch`]).
const YIELD_AFTER_BURST: usize = 8;

/// A non-blocking socket that moves whole messages.
#[derive(Debug)]
pub struct MessageSocket {
    fd: AsyncFd<Socket>,
    /// Whether a run of equal datagrams may go in one send the kernel cuts up
    /// (`UDP_SEGMENT`): UDP sockets only, until the kernel refuses it once.
    segments: AtomicBool,
    /// What comes before each received message's data: nothing, or (raw IPv4) its IP header.
    framing: Framing,
    /// Whether the socket's options ask the kernel to report on each datagram (`ip-pktinfo`,
    /// `so-timestamp`, ...): then every datagram is read with its control messages, whose
    /// fields are logged (see [`packet_info`]).
    packet_info: bool,
}

/// One datagram from an admitted peer: its length, who sent it, the credentials it came with
/// (a Unix peer, when asked for) and what the kernel reported on it (an IP socket, when asked).
#[derive(Debug)]
pub struct Admitted {
    /// The datagram's length at the start of the buffer.
    pub len: usize,
    /// Who sent it.
    pub from: SockAddr,
    /// The sender's credentials, for a receiver that admits by them.
    pub credentials: Option<PeerCredentials>,
    /// The fields of its control messages, for a socket with [`packet_info`] options.
    pub fields: Vec<packet_info::Field>,
}

/// What the kernel puts before the data of each message a socket receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// Nothing: the message is the data.
    Bare,
    /// The packet's IPv4 header, which a raw IPv4 socket gives with every packet it receives
    /// (IPv6 raw sockets give the payload only); receivers take it off.
    Ipv4Header,
}

/// Where the payload of IPv4 packet `packet` lies in it: after the header, whose length (in
/// 32-bit words) is the low half of its first byte. A packet too short for the header it
/// claims has no payload.
fn ipv4_payload(packet: &[u8]) -> std::ops::Range<usize> {
    let header = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    header.min(packet.len())..packet.len()
}

impl MessageSocket {
    /// Makes `socket` non-blocking and registers it with the reactor.
    pub fn new(socket: Socket) -> io::Result<MessageSocket> {
        socket.set_nonblocking(true)?;
        Ok(MessageSocket {
            fd: sys::register(socket)?,
            segments: AtomicBool::new(false),
            framing: Framing::Bare,
            packet_info: false,
        })
    }

    /// As it is, and reading every datagram with its control messages when `on` (the socket's
    /// options asked for reports on received datagrams: [`packet_info::wanted`]).
    pub fn with_packet_info(mut self, on: bool) -> MessageSocket {
        self.packet_info = on;
        self
    }

    /// Receives one datagram with its control messages, takes its framing off, and logs
    /// what the kernel reported on it.
    fn poll_recv_reported(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SockAddr, Vec<packet_info::Field>)>> {
        let received = ready!(sys::ready::poll_read(&self.fd, cx, |socket| {
            sys::socket::recv_with_ancillary(socket.as_fd(), &mut *buf)
        }))?;
        let (messages, malformed) = sys::socket::control_messages(&received.control);
        if malformed || received.truncated {
            tracing::debug!("a datagram's control messages did not fit or were cut short");
        }
        for message in &messages {
            tracing::trace!(
                "ancillary message: len={}, level={}, type={}",
                message.data.len(),
                message.level,
                message.kind
            );
        }
        let fields = packet_info::describe(&messages);
        packet_info::log(&fields);
        Poll::Ready(Ok((self.unframe(buf, received.len), received.from, fields)))
    }

    /// A raw IPv4 socket: as [`MessageSocket::new`], and every message received gives only
    /// the packet's payload, its IP header taken off.
    pub fn new_raw_ipv4(socket: Socket) -> io::Result<MessageSocket> {
        let mut socket = MessageSocket::new(socket)?;
        socket.framing = Framing::Ipv4Header;
        Ok(socket)
    }

    /// Moves a received message of `n` bytes at the start of `buf` down over its framing, and
    /// gives its data's length.
    fn unframe(&self, buf: &mut [u8], n: usize) -> usize {
        match self.framing {
            Framing::Bare => n,
            Framing::Ipv4Header => {
                let payload = ipv4_payload(&buf[..n]);
                let len = payload.len();
                buf.copy_within(payload, 0);
                len
            }
        }
    }

    /// A UDP socket: as [`MessageSocket::new`], and runs of datagrams of one size are sent
    /// with segmentation offload, which keeps every datagram's boundaries (a Unix socket
    /// would ignore the request and merge them, so only UDP gets it).
    pub fn new_udp(socket: Socket) -> io::Result<MessageSocket> {
        let socket = MessageSocket::new(socket)?;
        socket.segments.store(true, Ordering::Relaxed);
        Ok(socket)
    }

    /// Receives the datagrams waiting, at least one, into slots of `slot` bytes of `buf`
    /// (`recvmmsg`), appending them to `out`.
    pub fn poll_recv_batch(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        slot: usize,
        out: &mut Vec<Received>,
    ) -> Poll<io::Result<BatchInfo>> {
        if self.packet_info {
            // One datagram at a time: each comes with its own control messages.
            let slot = slot.min(buf.len());
            let (len, from, _) = ready!(self.poll_recv_reported(cx, &mut buf[..slot]))?;
            out.push(Received {
                start: 0,
                len,
                from,
            });
            return Poll::Ready(Ok(BatchInfo::default()));
        }
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let first = out.len();
            match guard.try_io(|fd| sys::datagram::recv_batch(fd.as_fd(), buf, slot, out)) {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(result) => {
                    if self.framing == Framing::Ipv4Header {
                        for datagram in &mut out[first..] {
                            let packet = &buf[datagram.start..datagram.start + datagram.len];
                            let payload = ipv4_payload(packet);
                            datagram.start += payload.start;
                            datagram.len = payload.len();
                        }
                    }
                    return Poll::Ready(result);
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends the messages of `batch` from the `*sent`-th on (`sendmmsg`), to `to` or the
    /// connected peer, counting each sent in `*sent`. Messages of one size that lie one
    /// after the other in `buf` go as one segmented send where the socket allows it.
    pub fn poll_send_batch(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        batch: &MessageBatch,
        sent: &mut usize,
        to: Option<&SockAddr>,
    ) -> Poll<io::Result<()>> {
        let mut outgoing = Vec::with_capacity(sys::datagram::BATCH);
        let mut covers = Vec::with_capacity(sys::datagram::BATCH);
        let burst = batch.len() - *sent >= YIELD_AFTER_BURST;
        while *sent < batch.len() {
            let segments = self.segments.load(Ordering::Relaxed);
            outgoing.clear();
            covers.clear();
            plan_sends(
                buf,
                &batch.messages()[*sent..],
                segments,
                &mut outgoing,
                &mut covers,
            );
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| sys::datagram::send_batch(fd.as_fd(), &outgoing, to)) {
                Ok(Ok(n)) => *sent += covers[..n.min(covers.len())].iter().sum::<usize>(),
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // EINVAL: a segment longer than the path's MTU allows; EIO: a device without
                // checksum offload. Either way, datagrams one at a time from now on.
                Ok(Err(e))
                    if segments
                        && covers.iter().any(|&n| n > 1)
                        && matches!(
                            e.raw_os_error(),
                            Some(nix::libc::EINVAL | nix::libc::EIO | nix::libc::ENOPROTOOPT)
                        ) =>
                {
                    tracing::debug!(
                        "UDP segmentation offload refused ({}); sending datagrams one by one",
                        sys::error_text(&e)
                    );
                    self.segments.store(false, Ordering::Relaxed);
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {}
            }
        }
        if burst {
            // A receiver on this machine that the burst woke may share this core: it runs now
            // and takes the burst, instead of its queue overflowing while this thread goes on
            // receiving and forwarding more (work lost when the receiver then drops it).
            // Where nothing else waits for the core, this is one cheap system call.
            std::thread::yield_now();
        }
        Poll::Ready(Ok(()))
    }

    /// The socket itself, for options and addresses.
    pub fn socket(&self) -> &Socket {
        self.fd.get_ref()
    }

    /// Receives the next message on a connected socket, `Ok(len)` of it in `buf`.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.packet_info {
            let (n, _, _) = ready!(self.poll_recv_reported(cx, buf))?;
            return Poll::Ready(Ok(n));
        }
        let n = ready!(sys::ready::poll_read(&self.fd, cx, |socket| {
            sys::socket::recv(socket, &mut *buf)
        }))?;
        Poll::Ready(Ok(self.unframe(buf, n)))
    }

    /// Receives the next message and who sent it, on an unconnected socket.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SockAddr)>> {
        if self.packet_info {
            let (n, from, _) = ready!(self.poll_recv_reported(cx, buf))?;
            return Poll::Ready(Ok((n, from)));
        }
        let (n, from) = ready!(sys::ready::poll_read(&self.fd, cx, |socket| {
            sys::socket::recv_from(socket, &mut *buf)
        }))?;
        Poll::Ready(Ok((self.unframe(buf, n), from)))
    }

    /// Waits for the next message and who sent it.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
        std::future::poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// Receives a datagram with the credentials the kernel attached to it (`SO_PASSCRED`).
    pub fn poll_recv_from_credentials(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SockAddr, Option<PeerCredentials>)>> {
        let received = ready!(sys::ready::poll_read(&self.fd, cx, |socket| {
            ancillary::recv_message(socket, &mut *buf, 0)
        }))?;
        Poll::Ready(Ok((received.len, received.from, received.credentials)))
    }

    /// Receives the next datagram from a peer `filter` admits; others are dropped and logged.
    pub fn poll_recv_admitted(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        filter: &PeerFilter,
    ) -> Poll<io::Result<Admitted>> {
        loop {
            let (len, from, credentials, fields) = if filter.wants_credentials() {
                let (n, from, credentials) = ready!(self.poll_recv_from_credentials(cx, buf))?;
                (n, from, credentials, Vec::new())
            } else if self.packet_info {
                let (n, from, fields) = ready!(self.poll_recv_reported(cx, buf))?;
                (n, from, None, fields)
            } else {
                let (n, from) = ready!(self.poll_recv_from(cx, buf))?;
                (n, from, None, Vec::new())
            };
            match filter.refusal_sockaddr(&from, credentials.as_ref()) {
                None => {
                    return Poll::Ready(Ok(Admitted {
                        len,
                        from,
                        credentials,
                        fields,
                    }))
                }
                Some(why) => {
                    let who = match credentials {
                        Some(c) => format!("{} ({c})", describe_sockaddr(&from)),
                        None => describe_sockaddr(&from),
                    };
                    tracing::warn!("refusing datagram from {who}: {why}");
                }
            }
        }
    }

    /// Sends `msg` whole, to `to` or (when `None`) to the connected peer; a message the
    /// kernel would cut is an error.
    pub fn poll_send(
        &self,
        cx: &mut Context<'_>,
        msg: &[u8],
        to: Option<&SockAddr>,
    ) -> Poll<io::Result<()>> {
        let sent = ready!(sys::ready::poll_write(&self.fd, cx, |socket| match to {
            Some(addr) => socket.send_to(msg, addr),
            None => socket.send(msg),
        }))?;
        if sent == msg.len() {
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("message of {} bytes sent as {sent}", msg.len()),
        )))
    }
}

/// Groups `messages` (starts and lengths in `buf`) into the sends of one `sendmmsg`, at most
/// [`sys::datagram::BATCH`]: with `segments`, a run of messages of one size that follow each
/// other in `buf`, and at most one shorter one after them, is one send cut at that size (the
/// kernel delivers each piece as a datagram of its own); any other message is a send of its
/// own. `covers` says how many messages each send carries.
fn plan_sends<'b>(
    buf: &'b [u8],
    messages: &[(usize, usize)],
    segments: bool,
    outgoing: &mut Vec<Outgoing<'b>>,
    covers: &mut Vec<usize>,
) {
    use sys::datagram::{MAX_SEGMENTED_BYTES, MAX_SEGMENTS};
    let mut i = 0;
    while i < messages.len() && outgoing.len() < sys::datagram::BATCH {
        let (start, size) = messages[i];
        let mut end = start + size;
        let mut j = i + 1;
        if let Some(segment) = u16::try_from(size).ok().filter(|s| segments && *s > 0) {
            while let Some(&(next, len)) = messages.get(j) {
                let fits = next == end
                    && len > 0
                    && len <= size
                    && j - i < MAX_SEGMENTS
                    && end + len - start <= MAX_SEGMENTED_BYTES;
                if !fits {
                    break;
                }
                end += len;
                j += 1;
                if len < size {
                    // A shorter one ends the run: the kernel cuts at `size` from the start.
                    break;
                }
            }
            if j - i > 1 {
                if let Some(data) = buf.get(start..end) {
                    outgoing.push(Outgoing {
                        data,
                        segment: Some(segment),
                    });
                    covers.push(j - i);
                    i = j;
                    continue;
                }
            }
        }
        outgoing.push(Outgoing {
            data: buf.get(start..start + size).unwrap_or_default(),
            segment: None,
        });
        covers.push(1);
        i += 1;
    }
}

/// Which peers a receiving socket admits (`range=`, or `peer-uid=` and its kin on Unix).
/// Empty admits everyone.
#[derive(Debug, Clone, Default)]
pub struct PeerFilter {
    ranges: Vec<IpRange>,
    /// A server's `sourceport`: peers must send from this port.
    source_port: Option<u16>,
    /// A raw IP sender's peer: only what this host sends is taken (there is no port to tell
    /// its answers from other traffic of the protocol).
    host: Option<std::net::IpAddr>,
    /// A server's `lowport`: peers must send from a reserved port, below 1024.
    low_port: bool,
    /// TCP wrappers' tables (`tcpwrap` and its kin), checked after the rest.
    tcpwrap: Option<TcpWrap>,
    /// Unix receivers: every datagram is received with its sender's credentials (the socket
    /// has `SO_PASSCRED`), and these decide who is admitted.
    credentials: Option<CredentialFilter>,
    /// Generic sockets (SOCKET-*): peers checked by the bytes of their address (boxed: most
    /// filters have none).
    raw: Option<Box<RawPeers>>,
}

/// Which peers a generic socket (SOCKET-*) admits, by the bytes of their socket address,
/// whatever its family.
#[derive(Debug, Clone, Default)]
pub struct RawPeers {
    /// `range=`: a peer must be in one of them, when any is given.
    pub ranges: Vec<crate::address::data::DataRange>,
    /// SOCKET-SENDTO: only its peer's datagrams, by family and address bytes; where one
    /// address is shorter (Unix names vary in length), its bytes must begin the other.
    pub only: Option<(u16, Vec<u8>)>,
}

impl RawPeers {
    /// Why a peer of address `peer` is refused, or `None`.
    fn refusal(&self, peer: &SockAddr) -> Option<String> {
        let data = sys::generic::address_data(peer);
        if !self.ranges.is_empty() && !self.ranges.iter().any(|r| r.contains(&data)) {
            return Some("not in range".to_owned());
        }
        match &self.only {
            Some((family, only)) => {
                let common = only.len().min(data.len());
                (peer.family() != *family || only[..common] != data[..common])
                    .then(|| "not the peer this socket sends to".to_owned())
            }
            None => None,
        }
    }
}

impl PeerFilter {
    /// A client's filter of who may answer: `range` and `tcpwrap` (its `sourceport` and
    /// `lowport` are its own port's).
    pub fn from_options(options: &Options) -> PeerFilter {
        PeerFilter {
            ranges: options.ranges().copied().collect(),
            source_port: None,
            host: None,
            low_port: false,
            tcpwrap: TcpWrap::from_options(options),
            credentials: None,
            raw: None,
        }
    }

    /// This filter, checking peers by their address's bytes too (generic sockets).
    pub fn with_raw(self, raw: RawPeers) -> PeerFilter {
        PeerFilter {
            raw: Some(Box::new(raw)),
            ..self
        }
    }

    /// Why a peer of a generic socket is refused by its address's bytes (`range=` of a
    /// SOCKET-* address), or `None`.
    pub fn raw_refusal(&self, peer: &SockAddr) -> Option<String> {
        self.raw.as_ref().and_then(|raw| raw.refusal(peer))
    }

    /// This filter, admitting only what `host` sends.
    pub fn only_from(self, host: std::net::IpAddr) -> PeerFilter {
        PeerFilter {
            host: Some(host),
            ..self
        }
    }

    /// A Unix receiver's filter: by credentials, which every datagram then carries.
    pub fn for_unix(credentials: CredentialFilter) -> PeerFilter {
        PeerFilter {
            credentials: Some(credentials),
            ..PeerFilter::default()
        }
    }

    /// Whether datagrams must be received with their sender's credentials.
    pub fn wants_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// A server's filter of who may come in: `range`, `sourceport` as the port peers must
    /// send from, and `lowport`.
    pub fn for_server(options: &Options) -> PeerFilter {
        PeerFilter {
            ranges: options.ranges().copied().collect(),
            source_port: options.port(OptionId::SourcePort),
            host: None,
            low_port: options.flag(OptionId::LowPort, false),
            tcpwrap: TcpWrap::from_options(options),
            credentials: None,
            raw: None,
        }
    }

    /// Why `peer` is refused, or `None` when it is admitted.
    pub fn refusal(&self, peer: &SocketAddr) -> Option<String> {
        if !self.ranges.is_empty() && !self.ranges.iter().any(|r| r.contains(peer.ip())) {
            return Some("not in range".to_owned());
        }
        if let Some(host) = self.host.filter(|host| *host != peer.ip()) {
            return Some(format!("not from {host}"));
        }
        match self.source_port {
            Some(port) if peer.port() != port => {
                return Some(format!("not from source port {port}"))
            }
            _ => {}
        }
        if self.low_port && peer.port() >= 1024 {
            return Some(format!("port {} is not below 1024 (lowport)", peer.port()));
        }
        self.tcpwrap.as_ref().and_then(|wrap| wrap.refusal(peer))
    }

    /// Whether `peer` may come in.
    pub fn admits(&self, peer: &SocketAddr) -> bool {
        self.refusal(peer).is_none()
    }

    /// As [`PeerFilter::refusal`], for any socket address: an internet peer is checked by its
    /// address, a Unix peer by its credentials.
    pub fn refusal_sockaddr(
        &self,
        peer: &SockAddr,
        credentials: Option<&PeerCredentials>,
    ) -> Option<String> {
        if let Some(filter) = &self.credentials {
            return filter.refusal(credentials);
        }
        if let Some(why) = self.raw_refusal(peer) {
            return Some(why);
        }
        peer.as_socket().and_then(|addr| self.refusal(&addr))
    }
}

/// The peer replies go to: fixed, or whoever sent the latest admitted message.
#[derive(Debug, Clone)]
pub enum ReplyTo {
    /// Always this peer (`UDP-SENDTO`'s address).
    Fixed(SockAddr),
    /// The sender of the latest message the paired [`ReceiveMode::From`] admitted; nothing
    /// is sent until one has come.
    Latest(Arc<Mutex<Option<SockAddr>>>),
}

/// Receives on a connected socket, or from any admitted peer of an unconnected one.
#[derive(Debug)]
pub struct Receiver {
    /// The socket received on, shared with the connection's [`Sender`].
    pub socket: Arc<MessageSocket>,
    /// Whose messages count, and what a zero-length one means.
    pub mode: ReceiveMode,
}

/// How a [`Receiver`] takes its messages.
// A mode is made once per connection, inside a Receiver that is boxed as a channel: the
// connected variant's unused room costs nothing that boxing the filter would save.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ReceiveMode {
    /// A connected socket: the kernel filters peers. A zero-length read is EOF when
    /// `zero_is_eof` (seqpacket), an empty datagram otherwise.
    Connected {
        /// Whether a zero-length message ends the channel (seqpacket's EOF).
        zero_is_eof: bool,
    },
    /// An unconnected socket: messages from peers outside the filter are dropped and logged;
    /// the sender of each admitted message becomes the reply target when one is shared.
    From {
        /// Who may send.
        filter: PeerFilter,
        /// Where the sender of each admitted message is recorded for replies.
        latest: Option<Arc<Mutex<Option<SockAddr>>>>,
    },
}

impl MessageRecv for Receiver {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        match &self.mode {
            ReceiveMode::Connected { zero_is_eof } => {
                let n = ready!(self.socket.poll_recv(cx, buf))?;
                Poll::Ready(Ok(if n == 0 && *zero_is_eof {
                    None
                } else {
                    Some(n)
                }))
            }
            ReceiveMode::From { filter, latest } => {
                let admitted = ready!(self.socket.poll_recv_admitted(cx, buf, filter))?;
                if let Some(latest) = latest {
                    if let Ok(mut slot) = latest.lock() {
                        *slot = Some(admitted.from);
                    }
                }
                Poll::Ready(Ok(Some(admitted.len)))
            }
        }
    }

    /// As many datagrams as are waiting in one `recvmmsg`, each in a slot long enough for
    /// any datagram (so a buffer of the default size holds one). Seqpacket (whose empty
    /// message is EOF) and receivers that check credentials take one message at a time.
    fn poll_recv_batch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        batch: &mut MessageBatch,
    ) -> Poll<io::Result<Option<()>>> {
        let filter = match &self.mode {
            ReceiveMode::Connected { zero_is_eof: false } => None,
            ReceiveMode::From { filter, .. } if !filter.wants_credentials() => Some(filter),
            _ => {
                let n = ready!(self.poll_recv(cx, buf))?;
                return Poll::Ready(Ok(n.map(|n| batch.push(0, n))));
            }
        };
        let mut received = Vec::with_capacity(sys::datagram::BATCH);
        loop {
            received.clear();
            ready!(self
                .socket
                .poll_recv_batch(cx, buf, MIN_MESSAGE_BUFFER, &mut received))?;
            let mut last = None;
            for datagram in received.drain(..) {
                if let Some(why) = filter.and_then(|f| f.refusal_sockaddr(&datagram.from, None)) {
                    let who = describe_sockaddr(&datagram.from);
                    tracing::warn!("refusing datagram from {who}: {why}");
                    continue;
                }
                batch.push(datagram.start, datagram.len);
                last = Some(datagram.from);
            }
            if let (
                Some(from),
                ReceiveMode::From {
                    latest: Some(latest),
                    ..
                },
            ) = (last, &self.mode)
            {
                if let Ok(mut slot) = latest.lock() {
                    *slot = Some(from);
                }
            }
            if !batch.is_empty() {
                return Poll::Ready(Ok(Some(())));
            }
        }
    }
}

/// Sends on a connected socket, or to a reply target.
#[derive(Debug)]
pub struct Sender {
    /// The socket sent on, shared with the connection's [`Receiver`].
    pub socket: Arc<MessageSocket>,
    /// `None` for a connected socket.
    pub to: Option<ReplyTo>,
    /// Shut the socket down for writing on close (seqpacket carries EOF; datagrams cannot).
    pub shutdown_on_close: bool,
}

impl MessageSend for Sender {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        match &self.to {
            None => self.socket.poll_send(cx, msg, None),
            Some(ReplyTo::Fixed(addr)) => self.socket.poll_send(cx, msg, Some(addr)),
            Some(ReplyTo::Latest(latest)) => {
                let target = latest.lock().ok().and_then(|slot| slot.clone());
                match target {
                    Some(addr) => self.socket.poll_send(cx, msg, Some(&addr)),
                    None => {
                        tracing::warn!(
                            "dropping {} bytes: no peer has sent anything yet",
                            msg.len()
                        );
                        Poll::Ready(Ok(()))
                    }
                }
            }
        }
    }

    fn poll_send_batch(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
        batch: &MessageBatch,
        sent: &mut usize,
    ) -> Poll<io::Result<()>> {
        match &self.to {
            None => self.socket.poll_send_batch(cx, buf, batch, sent, None),
            Some(ReplyTo::Fixed(addr)) => {
                self.socket
                    .poll_send_batch(cx, buf, batch, sent, Some(addr))
            }
            Some(ReplyTo::Latest(_)) => {
                while let Some(msg) = batch.get(buf, *sent) {
                    ready!(self.poll_send(cx, msg))?;
                    *sent += 1;
                }
                Poll::Ready(Ok(()))
            }
        }
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.shutdown_on_close {
            match self.socket.socket().shutdown(std::net::Shutdown::Write) {
                Err(e) if e.kind() != io::ErrorKind::NotConnected => return Poll::Ready(Err(e)),
                _ => {}
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Applies the options every socket family shares, before bind/connect/listen. Accepted
/// sockets inherit them from their listener (the kernel copies them at accept). Numbered
/// options (`setsockopt-socket` first, `setsockopt-listen` last) are set here too; those of
/// the connected phase are the family's to set ([`super::setsockopt`]).
pub fn apply_common_options(socket: &Socket, options: &Options) -> io::Result<()> {
    super::setsockopt::apply(socket, options, super::setsockopt::Phase::Created)?;
    if let Some(on) = options
        .get(OptionId::ReuseAddr)
        .map(|_| options.flag(OptionId::ReuseAddr, false))
    {
        socket.set_reuse_address(on)?;
    }
    if options.flag(OptionId::ReusePort, false) {
        socket.set_reuse_port(true)?;
    }
    if options.has(OptionId::KeepAlive) {
        socket.set_keepalive(options.flag(OptionId::KeepAlive, false))?;
    }
    if let Some(size) = options.count(OptionId::RcvBuf) {
        socket.set_recv_buffer_size(usize::try_from(size).unwrap_or(usize::MAX))?;
    }
    if let Some(size) = options.count(OptionId::SndBuf) {
        socket.set_send_buffer_size(usize::try_from(size).unwrap_or(usize::MAX))?;
    }
    if let Some(timeout) = options.seconds(OptionId::RcvTimeo) {
        socket
            .set_read_timeout(Some(timeout).filter(|t| !t.is_zero()))
            .map_err(setting("SO_RCVTIMEO"))?;
    }
    if let Some(timeout) = options.seconds(OptionId::SndTimeo) {
        socket
            .set_write_timeout(Some(timeout).filter(|t| !t.is_zero()))
            .map_err(setting("SO_SNDTIMEO"))?;
    }
    if let Some(secs) = options.count(OptionId::Linger) {
        socket
            .set_linger(Some(std::time::Duration::from_secs(secs)))
            .map_err(setting("SO_LINGER"))?;
    }
    set_priority(socket, options)?;
    if let Some(mark) = options.count(OptionId::Mark) {
        socket
            .set_mark(u32::try_from(mark).unwrap_or(u32::MAX))
            .map_err(setting("SO_MARK"))?;
    }
    if let Some(crate::address::Value::Text(device)) = options.get(OptionId::BindToDevice) {
        socket
            .bind_device(Some(device.as_bytes()))
            .map_err(setting(&format!("SO_BINDTODEVICE to {device}")))?;
    }
    super::setsockopt::apply(socket, options, super::setsockopt::Phase::BeforeBind)
}

/// Applies the broadcast and multicast options to an internet socket, before it binds:
/// `so-broadcast`, the groups to join, and how multicast is sent. An error names the option.
pub fn apply_multicast_options(socket: &Socket, options: &Options) -> io::Result<()> {
    use socket2::{Domain, InterfaceIndexOrAddress};
    use std::net::{IpAddr, Ipv4Addr};
    let failed = |what: String| {
        move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {}", sys::error_text(&e)))
    };
    // Asked of the kernel only when an option depends on it: most sockets have none of these.
    let depends_on_family = options.memberships().next().is_some()
        || options.has(OptionId::IpMulticastLoop)
        || options.has(OptionId::IpMulticastTtl);
    let ipv6 = depends_on_family && socket.domain()? == Domain::IPV6;
    if options.has(OptionId::Broadcast) {
        socket
            .set_broadcast(options.flag(OptionId::Broadcast, false))
            .map_err(failed("setting SO_BROADCAST".to_owned()))?;
    }
    for membership in options.memberships() {
        let what = format!("joining multicast group {membership}");
        let index = match &membership.interface.name {
            Some(name) => Some(nix::net::if_::if_nametoindex(name.as_str()).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{what}: no interface {name}: {}", e.desc()),
                )
            })?),
            None => None,
        };
        match (membership.group, membership.source) {
            (IpAddr::V4(group), Some(source)) => {
                let interface = membership
                    .interface
                    .address
                    .unwrap_or(Ipv4Addr::UNSPECIFIED);
                socket.join_ssm_v4(&source, &group, &interface)
            }
            (IpAddr::V4(group), None) => match index {
                Some(index) => {
                    socket.join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))
                }
                None => socket.join_multicast_v4(
                    &group,
                    &membership
                        .interface
                        .address
                        .unwrap_or(Ipv4Addr::UNSPECIFIED),
                ),
            },
            (IpAddr::V6(_), _) if !ipv6 => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an IPv6 group needs an IPv6 socket (ipv6-join-group on an IPv4 address)",
            )),
            (IpAddr::V6(group), _) => socket.join_multicast_v6(&group, index.unwrap_or(0)),
        }
        .map_err(failed(what))?;
    }
    if let Some(IpAddr::V4(interface)) = options.address(OptionId::IpMulticastIf) {
        socket
            .set_multicast_if_v4(&interface)
            .map_err(failed(format!("setting IP_MULTICAST_IF to {interface}")))?;
    }
    if options.has(OptionId::IpMulticastLoop) {
        let on = options.flag(OptionId::IpMulticastLoop, true);
        if ipv6 {
            socket.set_multicast_loop_v6(on)
        } else {
            socket.set_multicast_loop_v4(on)
        }
        .map_err(failed(
            "setting multicast loopback (ip-multicast-loop)".to_owned(),
        ))?;
    }
    if let Some(ttl) = options.count(OptionId::IpMulticastTtl) {
        // Bounded to 255 by the option's table row.
        let ttl = u32::try_from(ttl).unwrap_or(255);
        if ipv6 {
            socket.set_multicast_hops_v6(ttl)
        } else {
            socket.set_multicast_ttl_v4(ttl)
        }
        .map_err(failed(format!("setting the multicast TTL to {ttl}")))?;
    }
    Ok(())
}

/// `so-priority`, if given. Setting `IP_TOS` resets the priority, so an internet socket sets
/// it again after its type of service.
pub(crate) fn set_priority(socket: &impl AsFd, options: &Options) -> io::Result<()> {
    if let Some(priority) = options.count(OptionId::Priority) {
        let priority = i32::try_from(priority).unwrap_or(i32::MAX);
        nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::Priority, &priority)
            .map_err(|e| setting("SO_PRIORITY")(e.into()))?;
    }
    Ok(())
}

/// Names the socket option that failed in the error, so that "Operation not permitted"
/// says what was not permitted.
pub(crate) fn setting(what: &str) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| {
        io::Error::new(
            e.kind(),
            format!("setting {what}: {}", crate::sys::error_text(&e)),
        )
    }
}

pub use super::report::describe_sockaddr;

/// A message already received, followed by whatever `rest` receives (or EOF without it).
pub struct Prefixed {
    first: Option<Vec<u8>>,
    rest: Option<Box<dyn MessageRecv>>,
}

impl std::fmt::Debug for Prefixed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefixed")
            .field("first", &self.first.as_ref().map(Vec::len))
            .finish()
    }
}

impl Prefixed {
    /// A channel that gives `first`, then what `rest` gives (or EOF, when `None`).
    pub fn new(first: Vec<u8>, rest: Option<Box<dyn MessageRecv>>) -> Prefixed {
        Prefixed {
            first: Some(first),
            rest,
        }
    }
}

impl MessageRecv for Prefixed {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        if let Some(first) = self.first.take() {
            let n = first.len().min(buf.len());
            buf[..n].copy_from_slice(&first[..n]);
            return Poll::Ready(Ok(Some(n)));
        }
        match &mut self.rest {
            Some(rest) => rest.poll_recv(cx, buf),
            None => Poll::Ready(Ok(None)),
        }
    }
}

/// A connection over connected message sockets: `reading` receives, `writing` sends (the same
/// socket, or the two ends of a pair). `carries_eof` is true for types whose zero-length read is
/// EOF and whose write side can be shut down (seqpacket, stream pairs), false for datagrams.
pub fn connected_messages(
    reading: Arc<MessageSocket>,
    writing: Arc<MessageSocket>,
    carries_eof: bool,
    description: String,
) -> crate::endpoint::connection::Connection {
    crate::endpoint::connection::Connection::new(
        Some(crate::channel::Reader::Messages(Box::new(Receiver {
            socket: reading,
            mode: ReceiveMode::Connected {
                zero_is_eof: carries_eof,
            },
        }))),
        Some(crate::channel::Writer::Messages(Box::new(Sender {
            socket: writing,
            to: None,
            shutdown_on_close: carries_eof,
        }))),
        description,
    )
}
