//! Fault injection: the real relay engine ([`socketry::relay::relay`]) between endpoints
//! whose readers and writers misbehave on a schedule drawn from a seed: short reads and
//! writes, storms of `Pending` (EAGAIN: woken at once, nothing done), resets before the
//! first byte, mid-stream, after the other direction's EOF and in the shutdown, and early
//! EOF. Everything runs in memory on tokio's paused clock, so timeouts are exact and the
//! test takes no real time waiting.
//!
//! What must hold, whatever the schedule: each side receives a prefix of what the other
//! sent, in order; a relay that ends cleanly delivered every byte it read and shut each
//! writer down; a relay that fails names a fault that really happened, and had written
//! every byte it read on the direction whose read failed; no injected error goes
//! unreported; and the relay ends at its timeouts, not later.

#![allow(clippy::unwrap_used)]

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use socketry::channel::{ByteRead, ByteWrite, MessageRecv, MessageSend, Reader, Writer};
use socketry::relay::{relay, Ending, Linger, RelayConfig, RelayError};
use socketry::Connection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// xorshift64*, so that a failing seed can be run again.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// How one side's reader or writer misbehaves.
#[derive(Debug, Clone, Default)]
struct Faults {
    /// Percent of calls that return Pending (and wake at once) before doing anything.
    pending: usize,
    /// At most this many bytes per read or write (0: as many as fit).
    chunk: usize,
    /// Fail with ECONNRESET once this many bytes have passed.
    reset_at: Option<usize>,
    /// Reading: EOF once this many bytes have passed (before the end of the data).
    eof_at: Option<usize>,
    /// Writing: the shutdown fails with ECONNRESET.
    shutdown_fails: bool,
}

/// What happened at one reader or writer, for the assertions.
#[derive(Debug, Default)]
struct Record {
    /// Reader: bytes handed to the relay. Writer: bytes taken from it, in order.
    passed: usize,
    written: Vec<u8>,
    reset: bool,
    eof: bool,
    shut_down: bool,
}

type Shared = Arc<Mutex<Record>>;

struct FaultyRead {
    data: Vec<u8>,
    faults: Faults,
    rng: Rng,
    record: Shared,
}

impl AsyncRead for FaultyRead {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.rng.chance(this.faults.pending) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut record = this.record.lock().unwrap();
        let passed = record.passed;
        if this.faults.reset_at == Some(passed) {
            record.reset = true;
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let end = [this.faults.reset_at, this.faults.eof_at]
            .into_iter()
            .flatten()
            .fold(this.data.len(), usize::min);
        let mut n = (end - passed).min(buf.remaining());
        if this.faults.chunk > 0 {
            n = n.min(1 + this.rng.below(this.faults.chunk));
        }
        if n == 0 {
            record.eof = true;
        }
        buf.put_slice(&this.data[passed..passed + n]);
        record.passed += n;
        Poll::Ready(Ok(()))
    }
}

impl ByteRead for FaultyRead {}

struct FaultyWrite {
    faults: Faults,
    rng: Rng,
    record: Shared,
}

impl FaultyWrite {
    fn storm(&mut self, cx: &mut Context<'_>) -> bool {
        if self.rng.chance(self.faults.pending) {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl AsyncWrite for FaultyWrite {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.storm(cx) {
            return Poll::Pending;
        }
        let this = &mut *self;
        let mut record = this.record.lock().unwrap();
        let passed = record.written.len();
        if this.faults.reset_at == Some(passed) {
            record.reset = true;
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let mut n = data.len();
        if let Some(at) = this.faults.reset_at {
            n = n.min(at - passed);
        }
        if this.faults.chunk > 0 {
            n = n.min(1 + this.rng.below(this.faults.chunk));
        }
        record.written.extend_from_slice(&data[..n]);
        record.passed += n;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.storm(cx) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.storm(cx) {
            return Poll::Pending;
        }
        let mut record = self.record.lock().unwrap();
        if self.faults.shutdown_fails {
            record.reset = true;
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        record.shut_down = true;
        Poll::Ready(Ok(()))
    }
}

impl ByteWrite for FaultyWrite {}

/// One side of the relay: what it sends, and the records of its reader and writer.
struct Side {
    sends: Vec<u8>,
    read: Shared,
    write: Shared,
}

fn side(
    name: &str,
    sends: Vec<u8>,
    read: Faults,
    write: Faults,
    rng: &mut Rng,
) -> (Side, Connection) {
    let side = Side {
        sends: sends.clone(),
        read: Shared::default(),
        write: Shared::default(),
    };
    let reader = FaultyRead {
        data: sends,
        faults: read,
        rng: Rng::new(rng.next()),
        record: side.read.clone(),
    };
    let writer = FaultyWrite {
        faults: write,
        rng: Rng::new(rng.next()),
        record: side.write.clone(),
    };
    let connection = Connection::new(
        Some(Reader::Bytes(Box::new(reader))),
        Some(Writer::Bytes(Box::new(writer))),
        name.to_owned(),
    );
    (side, connection)
}

fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ salt).collect()
}

/// A random schedule for one reader or writer, with a fault somewhere in `len` bytes
/// (or past the end, where it never comes) now and then.
fn faults(rng: &mut Rng, len: usize, reading: bool) -> Faults {
    let mut faults = Faults {
        pending: [0, 10, 50, 90][rng.below(4)],
        chunk: [0, 3, 61, 4096][rng.below(4)],
        ..Faults::default()
    };
    match rng.below(8) {
        0 => faults.reset_at = Some(0),
        1 => faults.reset_at = Some(rng.below(len + 1)),
        2 if reading => faults.eof_at = Some(rng.below(len + 1)),
        3 if !reading => faults.shutdown_fails = true,
        _ => {}
    }
    faults
}

/// Runs one schedule and checks every promise; returns how the relay ended, for counting.
async fn run_schedule(seed: u64) -> &'static str {
    let mut rng = Rng::new(seed);
    let (left_len, right_len) = (rng.below(20_000), rng.below(20_000));
    let (left, left_connection) = side(
        "left",
        pattern(left_len, 0x55),
        faults(&mut rng, left_len, true),
        faults(&mut rng, right_len, false),
        &mut rng,
    );
    let (right, right_connection) = side(
        "right",
        pattern(right_len, 0xAA),
        faults(&mut rng, right_len, true),
        faults(&mut rng, left_len, false),
        &mut rng,
    );
    let config = RelayConfig {
        buffer_size: [7, 100, 8192, 65536][rng.below(4)],
        ..RelayConfig::default()
    };
    let result = relay(left_connection, right_connection, &config).await;

    // Each side received, in order, a prefix of what the other sent.
    let directions = [
        ("left to right", &left, &right),
        ("right to left", &right, &left),
    ];
    for (name, from, to) in directions {
        let written = &to.write.lock().unwrap().written;
        assert_eq!(
            written[..],
            from.sends[..written.len()],
            "seed {seed}: {name} corrupted"
        );
    }
    let any_fault = [&left, &right]
        .iter()
        .any(|s| s.read.lock().unwrap().reset || s.write.lock().unwrap().reset);
    match result {
        Ok((stats, ending)) => {
            assert!(!any_fault, "seed {seed}: an injected error went unreported");
            assert_eq!(ending, Ending::Eof, "seed {seed}");
            for (name, from, to) in directions {
                let (read, write) = (from.read.lock().unwrap(), to.write.lock().unwrap());
                assert!(
                    read.eof,
                    "seed {seed}: {name} ended before its reader's EOF"
                );
                assert_eq!(
                    write.written.len(),
                    read.passed,
                    "seed {seed}: {name} lost bytes it had read"
                );
                assert!(write.shut_down, "seed {seed}: {name} never shut down");
            }
            assert_eq!(
                stats.left_to_right as usize,
                right.write.lock().unwrap().written.len()
            );
            assert_eq!(
                stats.right_to_left as usize,
                left.write.lock().unwrap().written.len()
            );
            "ok"
        }
        Err(RelayError::Read { direction, .. }) => {
            let (from, to) = match direction {
                socketry::relay::Direction::LeftToRight => (&left, &right),
                socketry::relay::Direction::RightToLeft => (&right, &left),
            };
            let read = from.read.lock().unwrap();
            assert!(read.reset, "seed {seed}: a read error nobody injected");
            assert_eq!(
                to.write.lock().unwrap().written.len(),
                read.passed,
                "seed {seed}: bytes read before the reset were not all written"
            );
            "read error"
        }
        Err(RelayError::Write { direction, .. }) => {
            let to = match direction {
                socketry::relay::Direction::LeftToRight => &right,
                socketry::relay::Direction::RightToLeft => &left,
            };
            assert!(
                to.write.lock().unwrap().reset,
                "seed {seed}: a write error nobody injected"
            );
            "write error"
        }
        Err(e) => panic!("seed {seed}: unexpected {e}"),
    }
}

/// 300 schedules; every kind of ending must come up, or the test would prove little.
#[tokio::test(start_paused = true)]
async fn the_relay_loses_nothing_it_read_and_reports_every_injected_error() {
    let mut endings = std::collections::BTreeMap::new();
    for seed in 0..300 {
        let ending = tokio::time::timeout(Duration::from_secs(3600), run_schedule(seed))
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: the relay hung"));
        *endings.entry(ending).or_insert(0) += 1;
    }
    assert_eq!(
        endings.keys().copied().collect::<Vec<_>>(),
        vec!["ok", "read error", "write error"],
        "{endings:?}"
    );
}

/// A reader that never has anything (a peer that went silent).
struct Silent;

impl AsyncRead for Silent {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl ByteRead for Silent {}

/// A writer that never takes anything (a peer that stopped reading).
struct Stuck;

impl AsyncWrite for Stuck {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }
}

impl ByteWrite for Stuck {}

fn bytes_reader(data: &[u8], record: &Shared) -> Reader {
    Reader::Bytes(Box::new(FaultyRead {
        data: data.to_vec(),
        faults: Faults::default(),
        rng: Rng::new(1),
        record: record.clone(),
    }))
}

fn bytes_writer(record: &Shared) -> Writer {
    Writer::Bytes(Box::new(FaultyWrite {
        faults: Faults::default(),
        rng: Rng::new(2),
        record: record.clone(),
    }))
}

#[tokio::test(start_paused = true)]
async fn inactivity_ends_a_relay_whose_peers_went_silent_exactly_on_time() {
    let (read, written) = (Shared::default(), Shared::default());
    // The left reader ends (EOF) after its 5 bytes; the right one never says anything.
    let left = Connection::new(
        Some(bytes_reader(b"hello", &read)),
        Some(bytes_writer(&Shared::default())),
        "left".into(),
    );
    let right = Connection::new(
        Some(Reader::Bytes(Box::new(Silent))),
        Some(bytes_writer(&written)),
        "right".into(),
    );
    let config = RelayConfig {
        inactivity: Some(Duration::from_secs(5)),
        linger: Linger::For(Duration::from_secs(3600)),
        ..RelayConfig::default()
    };
    let start = Instant::now();
    let (stats, ending) = relay(left, right, &config).await.unwrap();
    assert_eq!(ending, Ending::Inactive);
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(stats.left_to_right, 5);
    assert_eq!(written.lock().unwrap().written, b"hello");
}

#[tokio::test(start_paused = true)]
async fn inactivity_ends_a_relay_whose_writer_stopped_taking_data() {
    let read = Shared::default();
    let left = Connection::new(
        Some(bytes_reader(&pattern(100_000, 1), &read)),
        None,
        "left".into(),
    );
    let right = Connection::new(None, Some(Writer::Bytes(Box::new(Stuck))), "right".into());
    let config = RelayConfig {
        inactivity: Some(Duration::from_secs(2)),
        ..RelayConfig::default()
    };
    let start = Instant::now();
    let (stats, ending) = relay(left, right, &config).await.unwrap();
    assert_eq!((ending, stats.left_to_right), (Ending::Inactive, 0));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

/// After one direction's EOF the other, silent, is given `-t` and no more, whichever way
/// `-t` is counted (from the EOF, or as idleness after it).
#[tokio::test(start_paused = true)]
async fn linger_ends_a_relay_after_the_first_eof_when_the_other_side_is_silent() {
    for linger in [Duration::from_millis(500), Duration::from_secs(7)] {
        let (read, written) = (Shared::default(), Shared::default());
        let left = Connection::new(
            Some(bytes_reader(b"", &read)),
            Some(bytes_writer(&Shared::default())),
            "left".into(),
        );
        let right = Connection::new(
            Some(Reader::Bytes(Box::new(Silent))),
            Some(bytes_writer(&written)),
            "right".into(),
        );
        let config = RelayConfig {
            linger: Linger::For(linger),
            ..RelayConfig::default()
        };
        let start = Instant::now();
        let (_, ending) = relay(left, right, &config).await.unwrap();
        assert_eq!(ending, Ending::Linger);
        assert_eq!(start.elapsed(), linger);
        assert!(written.lock().unwrap().shut_down, "EOF was not passed on");
    }
}

/// Messages whose channel answers Pending in storms keep their boundaries, and a send that
/// fails is an error.
struct Messages {
    queue: Vec<Vec<u8>>,
    rng: Rng,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
    fail_at: Option<usize>,
}

impl MessageRecv for Messages {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        if self.rng.chance(60) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.queue.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let msg = self.queue.remove(0);
        buf[..msg.len()].copy_from_slice(&msg);
        Poll::Ready(Ok(Some(msg.len())))
    }
}

impl MessageSend for Messages {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        if self.rng.chance(60) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let mut sent = self.sent.lock().unwrap();
        if self.fail_at == Some(sent.len()) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionRefused.into()));
        }
        sent.push(msg.to_vec());
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(start_paused = true)]
async fn messages_keep_their_boundaries_through_storms_and_a_failed_send_is_an_error() {
    let messages: Vec<Vec<u8>> = (0..500).map(|i| pattern(i * 37 % 3000, i as u8)).collect();
    for fail_at in [None, Some(0), Some(250)] {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let source = Messages {
            queue: messages.clone(),
            rng: Rng::new(7),
            sent: Arc::default(),
            fail_at: None,
        };
        let sink = Messages {
            queue: Vec::new(),
            rng: Rng::new(8),
            sent: sent.clone(),
            fail_at,
        };
        let left = Connection::new(Some(Reader::Messages(Box::new(source))), None, "l".into());
        let right = Connection::new(None, Some(Writer::Messages(Box::new(sink))), "r".into());
        let result = relay(left, right, &RelayConfig::default()).await;
        let sent = sent.lock().unwrap();
        match fail_at {
            None => {
                let (stats, ending) = result.unwrap();
                assert_eq!(ending, Ending::Eof);
                assert_eq!(*sent, messages);
                let total: usize = messages.iter().map(Vec::len).sum();
                assert_eq!(stats.left_to_right as usize, total);
            }
            Some(at) => {
                assert!(
                    matches!(result, Err(RelayError::Write { .. })),
                    "{result:?}"
                );
                assert_eq!(sent[..], messages[..at]);
            }
        }
    }
}

/// Messages framed with a length prefix over a stream that takes a few bytes at a time,
/// with Pending storms on both ends, come back whole and in order; a stream cut inside a
/// message is an error, not a short message.
#[tokio::test(start_paused = true)]
async fn length_prefixed_messages_survive_a_misbehaving_stream() {
    use socketry::layer::{LengthPrefix, PrefixWidth};
    let messages: Vec<Vec<u8>> = (0..200).map(|i| pattern(i * 53 % 2000, i as u8)).collect();
    for width in [PrefixWidth::Two, PrefixWidth::Four] {
        // Write the framed stream through a writer that takes 1 to 5 bytes per call.
        let framed = Shared::default();
        let stream = FaultyWrite {
            faults: Faults {
                pending: 50,
                chunk: 5,
                ..Faults::default()
            },
            rng: Rng::new(3),
            record: framed.clone(),
        };
        let source = Messages {
            queue: messages.clone(),
            rng: Rng::new(4),
            sent: Arc::default(),
            fail_at: None,
        };
        let left = Connection::new(Some(Reader::Messages(Box::new(source))), None, "l".into());
        let right = Connection::new(
            None,
            Some(Writer::Messages(
                LengthPrefix(width).writer(Box::new(stream)),
            )),
            "r".into(),
        );
        relay(left, right, &RelayConfig::default()).await.unwrap();
        let bytes = framed.lock().unwrap().written.clone();

        // Read it back through a reader that gives 1 to 3 bytes per call, whole and cut.
        for cut in [None, Some(bytes.len() - 1)] {
            let received = Arc::new(Mutex::new(Vec::new()));
            let stream = FaultyRead {
                data: bytes.clone(),
                faults: Faults {
                    pending: 50,
                    chunk: 3,
                    eof_at: cut,
                    ..Faults::default()
                },
                rng: Rng::new(5),
                record: Shared::default(),
            };
            let sink = Messages {
                queue: Vec::new(),
                rng: Rng::new(6),
                sent: received.clone(),
                fail_at: None,
            };
            let left = Connection::new(
                Some(Reader::Messages(
                    LengthPrefix(width).reader(Box::new(stream)),
                )),
                None,
                "l".into(),
            );
            let right = Connection::new(None, Some(Writer::Messages(Box::new(sink))), "r".into());
            let result = relay(left, right, &RelayConfig::default()).await;
            let received = received.lock().unwrap();
            match cut {
                None => {
                    result.unwrap();
                    assert_eq!(*received, messages, "{width:?}");
                }
                Some(_) => {
                    let err = result.unwrap_err();
                    assert!(
                        err.to_string().contains("into a message of"),
                        "{width:?}: {err}"
                    );
                    assert_eq!(received[..], messages[..messages.len() - 1]);
                }
            }
        }
    }
}
