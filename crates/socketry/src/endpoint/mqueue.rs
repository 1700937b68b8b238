//! POSIX message queues: POSIXMQ-READ, POSIXMQ-RECEIVE, POSIXMQ-SEND and
//! POSIXMQ-BIDIRECTIONAL. A queue is a message channel: each message is received whole, in
//! priority order (the oldest of the highest priority first), and a message larger than the
//! queue's message size is an error, never cut. A queue has no EOF: POSIXMQ-READ reads until
//! the relay ends, and sending EOF to a queue sends nothing. POSIXMQ-RECEIVE takes one message
//! and then reports EOF; with `fork`, each message is a session of its own. POSIXMQ-SEND with
//! `fork` starts a session every `interval` while the queue has room.

use std::io;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

use super::listener::{Accept, AcceptFuture, Accepting, Listener};
use crate::address::{MqRole, OptionId, Options, QueueName};
use crate::channel::{MessageRecv, MessageSend, Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::endpoint::opened::Opened;
use crate::sys;
use crate::sys::mqueue::{Access, Attributes, Create, MessageQueue};

/// Where Linux keeps the defaults for a new queue's limits, read when only one is given.
const DEFAULT_MAX_MESSAGES: &str = "/proc/sys/fs/mqueue/msg_default";
const DEFAULT_MESSAGE_SIZE: &str = "/proc/sys/fs/mqueue/msgsize_default";

/// An open queue registered with the reactor, shared by the halves and sessions that use it.
#[derive(Debug)]
pub(crate) struct Queue {
    fd: AsyncFd<MessageQueue>,
    name: QueueName,
    /// The largest message the queue takes, fixed when it was created.
    message_size: usize,
    /// Remove the queue's name when the last user is done with it (`unlink-close`).
    unlink_on_close: bool,
}

impl Drop for Queue {
    fn drop(&mut self) {
        if !self.unlink_on_close {
            return;
        }
        match sys::mqueue::unlink(self.name.as_str()) {
            Ok(()) => tracing::info!("removed message queue {}", self.name),
            Err(e) => tracing::warn!(
                "removing message queue {}: {}",
                self.name,
                sys::error_text(&e)
            ),
        }
    }
}

impl Queue {
    fn poll_receive(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<(usize, u32)>> {
        sys::ready::poll_read(&self.fd, cx, |queue| queue.receive(buf))
    }

    fn poll_send(&self, cx: &mut Context<'_>, msg: &[u8], priority: u32) -> Poll<io::Result<()>> {
        if msg.len() > self.message_size {
            return Poll::Ready(Err(self.too_large(msg.len())));
        }
        match ready!(sys::ready::poll_write(&self.fd, cx, |queue| queue.send(msg, priority))) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EMSGSIZE) => {
                Poll::Ready(Err(self.too_large(msg.len())))
            }
            result => Poll::Ready(result),
        }
    }

    fn too_large(&self, len: usize) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a message of {len} bytes is larger than message queue {}'s message size of {} bytes",
                self.name, self.message_size
            ),
        )
    }

    /// Waits until the queue has room for a message.
    async fn room(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            // Readiness can be stale; the queue's own count is not.
            let attributes = guard.get_inner().attributes()?;
            if attributes.current_messages < attributes.max_messages {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// Receives the next message into a buffer of its own.
    async fn receive_one(&self) -> io::Result<(Vec<u8>, u32)> {
        let mut buf = vec![0; self.message_size];
        let (n, priority) = std::future::poll_fn(|cx| self.poll_receive(cx, &mut buf)).await?;
        buf.truncate(n);
        Ok((buf, priority))
    }
}

/// Receives messages from a queue; the channel never ends by itself.
#[derive(Debug)]
struct QueueReader {
    queue: Arc<Queue>,
    /// Room for a whole message when the caller's buffer is smaller than the queue's message
    /// size (mq_receive refuses such a buffer even for a short message).
    spare: Vec<u8>,
}

impl MessageRecv for QueueReader {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        let queue = &self.queue;
        let (n, priority) = if buf.len() >= queue.message_size {
            ready!(queue.poll_receive(cx, buf))?
        } else {
            self.spare.resize(queue.message_size, 0);
            let (n, priority) = ready!(queue.poll_receive(cx, &mut self.spare))?;
            if n > buf.len() {
                return Poll::Ready(Err(message_too_large_for_buffer(n, buf.len())));
            }
            buf[..n].copy_from_slice(&self.spare[..n]);
            (n, priority)
        };
        tracing::debug!(
            "received {n} bytes with priority {priority} from message queue {}",
            queue.name
        );
        Poll::Ready(Ok(Some(n)))
    }
}

/// One message already taken from the queue, then EOF: a POSIXMQ-RECEIVE session.
#[derive(Debug)]
struct OneMessage(Option<Vec<u8>>);

impl MessageRecv for OneMessage {
    fn poll_recv(
        &mut self,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        Poll::Ready(match self.0.take() {
            Some(message) if message.len() > buf.len() => {
                Err(message_too_large_for_buffer(message.len(), buf.len()))
            }
            Some(message) => {
                buf[..message.len()].copy_from_slice(&message);
                Ok(Some(message.len()))
            }
            None => Ok(None),
        })
    }
}

fn message_too_large_for_buffer(len: usize, room: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("a message of {len} bytes does not fit the {room}-byte relay buffer (raise -b)"),
    )
}

/// Sends each message to a queue with one priority.
#[derive(Debug)]
struct QueueWriter {
    queue: Arc<Queue>,
    priority: u32,
}

impl MessageSend for QueueWriter {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        self.queue.poll_send(cx, msg, self.priority)
    }

    fn max_message(&self) -> Option<usize> {
        Some(self.queue.message_size)
    }
}

/// A queue that yields a session per message (POSIXMQ-RECEIVE) or per interval while it has
/// room (POSIXMQ-SEND with `fork`).
#[derive(Debug)]
pub(crate) struct QueueListener {
    queue: Arc<Queue>,
    sessions: Sessions,
}

#[derive(Debug)]
enum Sessions {
    /// Each message received is one session's only message.
    PerMessage,
    /// A writing session at most every `interval`, when the queue has room.
    Sending {
        priority: u32,
        interval: Duration,
        next: Option<Instant>,
    },
}

impl Accept for QueueListener {
    fn accept<'a>(&'a mut self, _on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move { Ok(self.next_session().await?) })
    }
}

impl QueueListener {
    /// The next session: a message received, or room to send one.
    async fn next_session(&mut self) -> Result<Connection, OpenError> {
        match &mut self.sessions {
            Sessions::PerMessage => {
                let (message, priority) =
                    self.queue
                        .receive_one()
                        .await
                        .map_err(|source| OpenError::Io {
                            action: format!("receiving from message queue {}", self.queue.name),
                            source,
                        })?;
                tracing::info!(
                    "received a message of {} bytes with priority {priority} from message queue {}",
                    message.len(),
                    self.queue.name
                );
                Ok(Connection::new(
                    Some(Reader::Messages(Box::new(OneMessage(Some(message))))),
                    None,
                    format!("POSIXMQ-RECEIVE {} (priority {priority})", self.queue.name),
                ))
            }
            Sessions::Sending {
                priority,
                interval,
                next,
            } => {
                if let Some(at) = next {
                    tokio::time::sleep_until(*at).await;
                }
                self.queue.room().await.map_err(|source| OpenError::Io {
                    action: format!("waiting for room in message queue {}", self.queue.name),
                    source,
                })?;
                *next = Some(crate::clock::deadline_after(Instant::now(), *interval));
                Ok(Connection::new(
                    None,
                    Some(Writer::Messages(Box::new(QueueWriter {
                        queue: self.queue.clone(),
                        priority: *priority,
                    }))),
                    format!("POSIXMQ-SEND {}", self.queue.name),
                ))
            }
        }
    }
}

/// Opens a queue address. A bidirectional queue is opened only the ways the relay uses it
/// (`access`), so that `-u` needs only the permission it uses, as in socat.
pub(crate) fn open(
    role: MqRole,
    name: &QueueName,
    options: &Options,
    access: crate::endpoint::connection::Access,
) -> Result<Opened, OpenError> {
    check(name, options).map_err(super::combinations::refused)?;
    if options.flag(OptionId::UnlinkEarly, false) {
        match sys::mqueue::unlink(name.as_str()) {
            Ok(()) => tracing::info!("removed message queue {name} (unlink-early)"),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => {}
            Err(source) => {
                return Err(OpenError::Io {
                    action: format!("removing message queue {name}"),
                    source,
                })
            }
        }
    }
    if options.flag(OptionId::MqFlush, false) {
        flush(name)?;
    }
    let create = if options.flag(OptionId::Creat, true) {
        Some(Create {
            exclusive: options.flag(OptionId::Excl, false),
            mode: options.mode().unwrap_or(0o600),
            limits: limits(options)?,
        })
    } else {
        None
    };
    let role = match (role, access) {
        (MqRole::Bidirectional, crate::endpoint::connection::Access::Read) => MqRole::Read,
        (MqRole::Bidirectional, crate::endpoint::connection::Access::Write) => MqRole::Send,
        (role, _) => role,
    };
    let queue_access = match role {
        MqRole::Read | MqRole::Receive => Access::Receive,
        MqRole::Send => Access::Send,
        MqRole::Bidirectional => Access::Both,
    };
    let action = match create.and_then(|c| c.limits) {
        Some((max, size)) => format!(
            "opening message queue {name} (creating it with maxmsg {max} and msgsize {size})"
        ),
        None => format!("opening message queue {name}"),
    };
    let queue =
        sys::mqueue::open(name.as_str(), queue_access, create).map_err(OpenError::io(action))?;
    let attributes = queue.attributes().map_err(OpenError::io(format!(
        "reading the attributes of message queue {name}"
    )))?;
    tracing::info!(
        "message queue {name}: maxmsg {}, msgsize {}, {} message(s) waiting",
        attributes.max_messages,
        attributes.message_size,
        attributes.current_messages
    );
    warn_unapplied_limits(name, options, attributes);
    let queue = Arc::new(Queue {
        fd: sys::register(queue)
            .map_err(OpenError::io(format!("registering message queue {name}")))?,
        name: name.clone(),
        message_size: attributes.message_size,
        unlink_on_close: options.flag(OptionId::UnlinkClose, false),
    });
    let priority = options
        .count(OptionId::MqPriority)
        .and_then(|p| u32::try_from(p).ok())
        .unwrap_or(0);
    let reader = || {
        Reader::Messages(Box::new(QueueReader {
            queue: queue.clone(),
            spare: Vec::new(),
        }))
    };
    let writer = || {
        Writer::Messages(Box::new(QueueWriter {
            queue: queue.clone(),
            priority,
        }))
    };
    let fork = options.flag(OptionId::Fork, false);
    let listener = |sessions: Sessions, description: String| {
        Opened::Listener(Listener::new(
            QueueListener {
                queue: queue.clone(),
                sessions,
            },
            description,
            options,
        ))
    };
    let connection = match role {
        MqRole::Read => Connection::new(Some(reader()), None, format!("POSIXMQ-READ {name}")),
        MqRole::Send if !fork => {
            Connection::new(None, Some(writer()), format!("POSIXMQ-SEND {name}"))
        }
        MqRole::Bidirectional => Connection::new(
            Some(reader()),
            Some(writer()),
            format!("POSIXMQ-BIDIRECTIONAL {name}"),
        ),
        MqRole::Receive => {
            tracing::info!("waiting for messages on message queue {name}");
            let description = format!("POSIXMQ-RECEIVE {name}");
            return Ok(listener(Sessions::PerMessage, description));
        }
        MqRole::Send => {
            let sending = Sessions::Sending {
                priority,
                interval: options
                    .seconds(OptionId::Interval)
                    .unwrap_or(Duration::from_secs(1)),
                next: None,
            };
            return Ok(listener(sending, format!("POSIXMQ-SEND {name}")));
        }
    };
    Ok(Opened::Connection(connection))
}

/// The `(maxmsg, msgsize)` to create the queue with, if either was given; the other is the
/// system's default.
fn limits(options: &Options) -> Result<Option<(i64, i64)>, OpenError> {
    let max = options.count(OptionId::MqMaxMsg);
    let size = options.count(OptionId::MqMsgSize);
    if max.is_none() && size.is_none() {
        return Ok(None);
    }
    let value = |given: Option<u64>, default_file: &str| -> Result<i64, OpenError> {
        match given {
            Some(n) => i64::try_from(n)
                .map_err(|_| OpenError::Refused(format!("message queue limit {n} is too large"))),
            None => std::fs::read_to_string(default_file)
                .map_err(OpenError::io(format!("reading {default_file}")))?
                .trim()
                .parse()
                .map_err(|_| OpenError::Refused(format!("{default_file} does not hold a number"))),
        }
    };
    Ok(Some((
        value(max, DEFAULT_MAX_MESSAGES)?,
        value(size, DEFAULT_MESSAGE_SIZE)?,
    )))
}

/// A queue that existed keeps the limits it was created with; say so when they differ.
fn warn_unapplied_limits(name: &QueueName, options: &Options, attributes: Attributes) {
    let pairs = [
        (OptionId::MqMaxMsg, attributes.max_messages, "maxmsg"),
        (OptionId::MqMsgSize, attributes.message_size, "msgsize"),
    ];
    for (id, actual, what) in pairs {
        if let Some(wanted) = options.count(id) {
            if usize::try_from(wanted).ok() != Some(actual) {
                tracing::warn!(
                    "message queue {name} has {what} {actual}, not {wanted}: {} applies only when creating a queue",
                    id.def().name
                );
            }
        }
    }
}

/// Drops every message waiting in the queue (`posixmq-flush`); a missing queue has none.
fn flush(name: &QueueName) -> Result<(), OpenError> {
    let queue = match sys::mqueue::open(name.as_str(), Access::Receive, None) {
        Ok(queue) => queue,
        Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => return Ok(()),
        Err(source) => {
            return Err(OpenError::Io {
                action: format!("opening message queue {name} to flush it"),
                source,
            })
        }
    };
    let attributes = queue.attributes().map_err(OpenError::io(format!(
        "reading the attributes of message queue {name}"
    )))?;
    let mut buf = vec![0; attributes.message_size];
    let (mut messages, mut bytes) = (0usize, 0usize);
    loop {
        match queue.receive(&mut buf) {
            Ok((n, _)) => {
                messages += 1;
                bytes += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(OpenError::Io {
                    action: format!("flushing message queue {name}"),
                    source,
                })
            }
        }
    }
    tracing::info!("flushed {messages} message(s), {bytes} bytes, from message queue {name}");
    Ok(())
}

// ---- The family's address types: POSIXMQ-READ, -RECEIVE, -SEND, -BIDIRECTIONAL ----

use crate::address::{escape, AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::address::{Params, ParseErrorKind};
use crate::endpoint::connection::OpenContext;

/// A POSIX message queue address: what it does with the queue, and the queue's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MqSpec {
    /// Read, receive one, send, or both ways.
    pub role: MqRole,
    /// The queue's name, `/name`.
    pub name: QueueName,
}

const READ: Groups = Groups::ALL.union(Groups::POSIXMQ);
const RECEIVE: Groups = READ.union(Groups::CHILD);
const SEND: Groups = RECEIVE.union(Groups::POSIXMQ_SEND);
const BIDIRECTIONAL: Groups = READ.union(Groups::POSIXMQ_SEND);

fn queue(params: &Params<'_>, role: MqRole) -> Result<MqSpec, ParseErrorKind> {
    let given = params.text(0)?;
    match QueueName::parse(given) {
        Some(name) => Ok(MqSpec { role, name }),
        None => Err(ParseErrorKind::InvalidParameter {
            what: "message queue name",
            text: given.to_owned(),
            expected: "/name: a slash, then 1 to 255 bytes with no other slash",
        }),
    }
}

static POSIXMQ_READ: Definition<MqSpec> = Definition {
    ty: AddressType::new(
        "POSIXMQ-READ",
        &[],
        &["mqueue"],
        READ,
        "read every message of a POSIX message queue (/name, created if missing); never EOF",
    ),
    parse: |p| queue(p, MqRole::Read),
};
static POSIXMQ_RECEIVE: Definition<MqSpec> = Definition {
    ty: AddressType::new(
        "POSIXMQ-RECEIVE",
        &["POSIXMQ-RECV"],
        &["mqueue"],
        RECEIVE,
        "receive one message, then EOF (with fork: a session per message)",
    ),
    parse: |p| queue(p, MqRole::Receive),
};
static POSIXMQ_SEND: Definition<MqSpec> = Definition {
    ty: AddressType::new(
        "POSIXMQ-SEND",
        &["POSIXMQ-WRITE"],
        &["mqueue"],
        SEND,
        "send each message to a POSIX message queue (with fork: a session every interval while it has room)",
    ),
    parse: |p| queue(p, MqRole::Send),
};
static POSIXMQ_BIDIRECTIONAL: Definition<MqSpec> = Definition {
    ty: AddressType::new(
        "POSIXMQ-BIDIRECTIONAL",
        &["POSIXMQ"],
        &["mqueue"],
        BIDIRECTIONAL,
        "read and write one POSIX message queue: what is sent comes back",
    ),
    parse: |p| queue(p, MqRole::Bidirectional),
};

/// The POSIX message queue family: its address types and features.
pub static FAMILY: FamilyTypes<MqSpec> = FamilyTypes {
    features: &["POSIXMQ"],
    types: &[
        &POSIXMQ_READ,
        &POSIXMQ_RECEIVE,
        &POSIXMQ_SEND,
        &POSIXMQ_BIDIRECTIONAL,
    ],
};

impl FamilySpec for MqSpec {
    fn address_type(&self) -> &'static AddressType {
        match self.role {
            MqRole::Read => &POSIXMQ_READ.ty,
            MqRole::Receive => &POSIXMQ_RECEIVE.ty,
            MqRole::Send => &POSIXMQ_SEND.ty,
            MqRole::Bidirectional => &POSIXMQ_BIDIRECTIONAL.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", escape(self.name.as_str()))
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        check(&self.name, options)
    }
}

impl MqSpec {
    /// Opens (or creates) the queue, only the ways the relay uses it.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        open(self.role, &self.name, options, context.access)
    }
}

/// Refuses the options of a message queue address that cannot work together: `excl` asks
/// for a queue that is created, and `creat=0` for one that is not.
pub fn check(name: &QueueName, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
    if !options.flag(OptionId::Creat, true) && options.flag(OptionId::Excl, false) {
        return Err(super::combinations::conflict(
            OptionId::Excl,
            "creat",
            format!(
                "excl applies only when creating message queue {name} (it was given with creat=0)"
            ),
        ));
    }
    Ok(())
}
