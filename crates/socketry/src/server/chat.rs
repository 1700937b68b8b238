//! The chat broker (ncat's `--broker`, `--chat`): what one client sends goes to every other
//! client, never back to its sender. Each client has its own outgoing queue, bounded in bytes.
//! A client reading more slowly than another sends holds that sender back (only that one,
//! and only while it keeps reading); a client whose queue is full and that has taken nothing
//! from it for [`STALL`] has stopped reading, and is dropped. So one slow reader can hold the
//! others up for at most [`STALL`], once, and memory stays bounded.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::traffic::{Idle, Traffic};
use crate::endpoint::Connection;

/// The default bound of each client's outgoing queue.
pub const DEFAULT_QUEUE_BYTES: usize = 1024 * 1024;

/// How much one read from a client takes at most: also the largest message that is queued.
const READ_UNIT: usize = 16 * 1024;

/// How long a client with a full queue may take nothing from it before it is dropped.
pub const STALL: Duration = Duration::from_secs(1);

/// The clients of one chat server.
#[derive(Debug)]
pub struct Broker {
    clients: Mutex<Clients>,
    queue_bytes: usize,
}

#[derive(Debug, Default)]
struct Clients {
    next_id: u64,
    by_id: HashMap<u64, Member>,
}

#[derive(Debug)]
struct Member {
    description: String,
    outbox: Arc<Outbox>,
}

/// Messages waiting to be written to one client.
#[derive(Debug)]
struct Outbox {
    pending: Mutex<Pending>,
    /// A message was queued.
    ready: Notify,
    /// A message was taken, or the client left: there may be room.
    room: Notify,
    /// Turns true when the client is dropped for not reading.
    dropped: watch::Sender<bool>,
}

#[derive(Debug)]
struct Pending {
    messages: VecDeque<Arc<[u8]>>,
    bytes: usize,
    /// When the client last took a message, or was given one to an empty queue.
    progress: Instant,
    /// The client left; nothing more is queued for it.
    gone: bool,
}

/// What offering a message to a client's queue did.
enum Offer {
    Queued,
    /// No room; the client last took a message at this time.
    Full(Instant),
    Gone,
}

/// How a chat client's session ended.
#[derive(Debug)]
pub enum Departure {
    /// The client closed its side.
    Left,
    /// Its queue filled up: it stopped reading.
    Dropped,
    /// Nothing moved either way for the idle timeout.
    Idle,
    /// Reading from or writing to the client failed.
    Failed(io::Error),
}

impl Outbox {
    fn new(dropped: watch::Sender<bool>) -> Outbox {
        Outbox {
            pending: Mutex::new(Pending {
                messages: VecDeque::new(),
                bytes: 0,
                progress: Instant::now(),
                gone: false,
            }),
            ready: Notify::new(),
            room: Notify::new(),
            dropped,
        }
    }

    /// Queues `message` unless that would take the queue past `limit`.
    fn offer(&self, message: &Arc<[u8]>, limit: usize) -> Offer {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.gone {
            return Offer::Gone;
        }
        if pending.bytes + message.len() > limit {
            return Offer::Full(pending.progress);
        }
        // A client has nothing to take while its queue is empty: its clock starts now.
        if pending.messages.is_empty() {
            pending.progress = Instant::now();
        }
        pending.bytes += message.len();
        pending.messages.push_back(message.clone());
        drop(pending);
        self.ready.notify_one();
        Offer::Queued
    }

    /// The client is gone: what waits for it is thrown away, and senders stop waiting.
    fn close(&self) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.gone = true;
        pending.messages.clear();
        pending.bytes = 0;
        drop(pending);
        self.room.notify_waiters();
    }

    async fn pop(&self) -> Arc<[u8]> {
        loop {
            {
                let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(message) = pending.messages.pop_front() {
                    pending.bytes -= message.len();
                    pending.progress = Instant::now();
                    drop(pending);
                    self.room.notify_waiters();
                    return message;
                }
            }
            // A push between the check and here leaves a permit, so this cannot miss it.
            self.ready.notified().await;
        }
    }
}

impl Broker {
    /// A broker whose clients may each have up to `queue_bytes` waiting to be written.
    pub fn new(queue_bytes: usize) -> Broker {
        Broker {
            clients: Mutex::new(Clients::default()),
            queue_bytes: queue_bytes.max(READ_UNIT),
        }
    }

    fn join(&self, description: &str) -> (u64, Arc<Outbox>, watch::Receiver<bool>) {
        let (dropped, watching) = watch::channel(false);
        let outbox = Arc::new(Outbox::new(dropped));
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let id = clients.next_id;
        clients.next_id += 1;
        clients.by_id.insert(
            id,
            Member {
                description: description.to_owned(),
                outbox: outbox.clone(),
            },
        );
        tracing::info!(
            "chat client {description} joined ({} in the chat)",
            clients.by_id.len()
        );
        (id, outbox, watching)
    }

    fn leave(&self, id: u64) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(member) = clients.by_id.remove(&id) {
            member.outbox.close();
        }
    }

    /// Drops a client that stopped reading.
    fn drop_client(&self, id: u64) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(member) = clients.by_id.remove(&id) {
            tracing::warn!(
                "dropping chat client {}: {} bytes are queued for it and it took none for {}s (it stopped reading)",
                member.description,
                self.queue_bytes,
                STALL.as_secs_f64()
            );
            member.outbox.close();
            member.outbox.dropped.send_replace(true);
        }
    }

    /// Queues `message` for every client but `from`. A client without room holds this
    /// sender back while it keeps taking messages, and is dropped once it took none for
    /// [`STALL`].
    async fn broadcast(&self, from: u64, message: &[u8]) {
        let message: Arc<[u8]> = Arc::from(message);
        let recipients: Vec<(u64, Arc<Outbox>)> = {
            let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            clients
                .by_id
                .iter()
                .filter(|(id, _)| **id != from)
                .map(|(id, member)| (*id, member.outbox.clone()))
                .collect()
        };
        for (id, outbox) in recipients {
            loop {
                // Registered before looking, so that room made in between is not missed.
                let room = outbox.room.notified();
                tokio::pin!(room);
                room.as_mut().enable();
                let progress = match outbox.offer(&message, self.queue_bytes) {
                    Offer::Queued | Offer::Gone => break,
                    Offer::Full(progress) => progress,
                };
                let deadline = progress + STALL;
                if Instant::now() >= deadline {
                    self.drop_client(id);
                    break;
                }
                tokio::select! {
                    () = room => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
        }
    }

    /// Serves one client until it leaves, is dropped, or is idle for `idle`.
    pub async fn serve(
        &self,
        connection: Connection,
        idle: Option<Duration>,
        totals: &crate::relay::Totals,
    ) -> (Traffic, Departure) {
        let Connection {
            reader,
            writer,
            description,
            ..
        } = connection;
        let (Some(mut reader), Some(mut writer)) = (reader, writer) else {
            let error = io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{description} cannot be both read and written"),
            );
            return (Traffic::default(), Departure::Failed(error));
        };
        let (id, outbox, mut dropped) = self.join(&description);
        let idle = Idle::new(idle);
        let mut traffic = Traffic::default();
        let mut bytes_in = 0u64;
        let mut bytes_out = 0u64;
        let receiving = async {
            let mut buf = vec![0; READ_UNIT];
            loop {
                match reader.read_unit(&mut buf).await {
                    Ok(Some(n)) => {
                        bytes_in += n as u64;
                        totals.add(crate::relay::Direction::LeftToRight, n as u64);
                        idle.touch();
                        self.broadcast(id, &buf[..n]).await;
                    }
                    Ok(None) => return Departure::Left,
                    Err(e) => return Departure::Failed(e),
                }
            }
        };
        let sending = async {
            loop {
                let message = outbox.pop().await;
                if let Err(e) = writer.write_unit(&message).await {
                    return Departure::Failed(e);
                }
                bytes_out += message.len() as u64;
                totals.add(crate::relay::Direction::RightToLeft, message.len() as u64);
                idle.touch();
            }
        };
        let departure = tokio::select! {
            departure = receiving => departure,
            departure = sending => departure,
            _ = dropped.wait_for(|d| *d) => Departure::Dropped,
            () = idle.expired() => Departure::Idle,
        };
        self.leave(id);
        traffic.bytes_in = bytes_in;
        traffic.bytes_out = bytes_out;
        (traffic, departure)
    }
}
