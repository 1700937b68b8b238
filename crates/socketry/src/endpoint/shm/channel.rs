//! The connection over the two rings: which ring each side writes, and the adapters that
//! make our halves a byte stream, or with `shm-messages` a message channel.

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::halves::{Consumer, Producer};
use super::handshake::Settings;
use super::ring::{Ring, MESSAGE_HEADER};
use super::wake::Waiter;
use crate::channel::{MessageRecv, MessageSend, Reader, Writer};
use crate::endpoint::Connection;
use crate::sys::shm::SharedMemory;

/// Which ring a side writes and which it reads, and their eventfds.
pub(super) struct Sides {
    pub(super) outgoing: usize,
    /// Signalled by us when the outgoing ring has data for a sleeping peer.
    pub(super) out_data: OwnedFd,
    /// Signalled by the peer when the outgoing ring has room for us.
    pub(super) out_space: OwnedFd,
    pub(super) incoming: usize,
    /// Signalled by the peer when the incoming ring has data for us.
    pub(super) in_data: OwnedFd,
    /// Signalled by us when the incoming ring has room for a sleeping peer.
    pub(super) in_space: OwnedFd,
}

/// The connection over the two rings.
pub(super) fn channel(
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
    use crate::endpoint::shm::handshake::events_array;
    use crate::endpoint::shm::ring;
    use crate::sys;
    use crate::sys::shm::SharedMemory;
    use ring::Layout;
    use std::time::Duration;

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
