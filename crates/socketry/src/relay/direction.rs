//! One direction of a relay: read a unit, convert line endings if asked, dump it if asked,
//! write all of it, and at EOF shut the writing side down. An explicit state machine:
//! `Running -> ShuttingDown -> Done`.
//!
//! Between two descriptors that the kernel can splice (sockets, pipes), with no dump and no
//! line-ending conversion, the bytes go from one to the other through a pipe with splice(2)
//! and never enter user space. Where splice does not apply, or the kernel refuses it part
//! way (a descriptor type without splice support), the direction copies through a buffer
//! from then on. Either way, a buffer or pipe is borrowed from the relay's pool only
//! once the source has data, and given back when it has none: an idle direction holds
//! neither. (A message channel, or a stream without a descriptor, cannot be asked for
//! readiness without reading; it holds its buffer while it waits.)

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::Interest;
use tokio::time::Instant;

use super::config::{RelayConfig, Stop, Transfer};
use super::dump::Dump;
use super::outcome::{direction_name, Direction, RelayError, Totals};
use super::pool::{Buffer, LentPipe};
use crate::channel::{Descriptor, MessageBatch, Reader, Writer, MIN_MESSAGE_BUFFER};
use crate::endpoint::connection::ShutMode;
use crate::sys;

/// How often a reader with `ignoreeof` is read again after EOF.
const IGNORE_EOF_POLL: Duration = Duration::from_millis(50);

/// Line-ending conversion for one direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineEndings {
    /// Turn CR NL into NL (the source has `crnl`).
    pub strip_cr: bool,
    /// Turn NL into CR NL (the destination has `crnl`).
    pub add_cr: bool,
}

impl LineEndings {
    fn convert(self) -> bool {
        self.strip_cr || self.add_cr
    }
}

/// How one direction begins and ends, from the two sides' data options: the source's EOF
/// rules (`ignoreeof`, `escape`, `null-eof`) and how the destination's writing half ends
/// (`shut-*`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ends {
    /// Keep reading the source after its EOF.
    pub ignore_eof: bool,
    /// This byte in the source's data is its EOF: what comes before it is relayed, the
    /// rest is not, and `ignore_eof` does not apply.
    pub escape: Option<u8>,
    /// An empty message from the source is its EOF.
    pub null_eof: bool,
    /// How the destination's writing half ends at the source's EOF.
    pub shut: ShutMode,
    /// The destination has `cool-write`: its reader going away ends the direction.
    pub cool_write: bool,
}

impl Ends {
    /// Whether the direction must see each unit read (no splice, no batches).
    fn inspects(self) -> bool {
        self.escape.is_some() || self.null_eof
    }
}

/// When data last moved, shared by both directions.
#[derive(Debug)]
pub(crate) struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    pub fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    pub(super) fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    ShuttingDown,
    Done,
}

/// How a spliced direction stopped splicing.
enum Spliced {
    /// The source reached EOF and everything read was written.
    Eof,
    /// The kernel cannot splice one of the descriptors: copy from now on, starting with the
    /// bytes that were already in the pipe.
    Refused { why: io::Error, stranded: Vec<u8> },
}

/// Counts the bytes a direction writes: its own count, and the run's totals.
struct Counter {
    direction: Direction,
    bytes: Arc<AtomicU64>,
    totals: Arc<Totals>,
    /// An echo writes back what it reads: its bytes count both ways in the totals.
    echo: bool,
}

impl Counter {
    fn add(&self, n: usize) {
        let n = n as u64;
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.totals.add(self.direction, n);
        if self.echo {
            let back = match self.direction {
                Direction::LeftToRight => Direction::RightToLeft,
                Direction::RightToLeft => Direction::LeftToRight,
            };
            self.totals.add(back, n);
        }
    }
}

/// One direction's reader and writer.
pub(crate) struct Pump {
    pub direction: Direction,
    reader: Reader,
    writer: Writer,
    buffer_size: usize,
    splice_size: usize,
    transfer: Transfer,
    converted: Vec<u8>,
    endings: LineEndings,
    /// A CR held back because the byte after it has not been read yet.
    held_cr: bool,
    ends: Ends,
    /// `-r`/`-R`: the file this direction's bytes are copied to, and its name.
    raw: Option<(String, std::fs::File)>,
    pub bytes: Arc<AtomicU64>,
    counter: Counter,
    stop: Stop,
    /// Where the messages of the batch being relayed are (message to message only).
    batch: MessageBatch,
    /// The source's descriptor, for the notice of its EOF; `None` when it has none.
    source_fd: Option<RawFd>,
}

impl Pump {
    pub fn new(
        direction: Direction,
        reader: Reader,
        writer: Writer,
        endings: LineEndings,
        ends: Ends,
        config: &RelayConfig,
    ) -> Pump {
        // A message source needs room for its largest message, or it would be cut short. A
        // stream read must not be larger than what a message destination takes.
        let buffer_size = if reader.is_messages() {
            config.buffer_size.max(MIN_MESSAGE_BUFFER)
        } else {
            let limit = writer.max_message().unwrap_or(usize::MAX);
            config.buffer_size.min(limit).max(1)
        };
        // Only a direction from messages to messages moves batches; a stream's has no use for
        // the room.
        let batch = if reader.is_messages() && writer.is_messages() {
            MessageBatch::new()
        } else {
            MessageBatch::default()
        };
        let bytes = Arc::new(AtomicU64::new(0));
        Pump {
            direction,
            reader,
            writer,
            buffer_size,
            splice_size: config.splice_size.max(1),
            transfer: config.transfer,
            converted: Vec::new(),
            endings,
            held_cr: false,
            ends,
            raw: None,
            bytes: bytes.clone(),
            counter: Counter {
                direction,
                bytes,
                totals: config.totals.clone(),
                echo: false,
            },
            stop: config.stop.clone(),
            batch,
            source_fd: None,
        }
    }

    /// The descriptor the source reads from, named when its EOF is logged.
    pub fn source_descriptor(&mut self, fd: Option<RawFd>) {
        self.source_fd = fd;
    }

    /// Logs the source's EOF once, as socat does at `-d -d` (scripts look for "socket 2 (fd 6)
    /// is at EOF"): socket 1 is the first address, 2 the second.
    fn log_eof(&self) {
        let socket = match self.direction {
            Direction::LeftToRight => 1,
            Direction::RightToLeft => 2,
        };
        match self.source_fd {
            Some(fd) => tracing::info!("socket {socket} (fd {fd}) is at EOF"),
            None => tracing::info!("socket {socket} is at EOF"),
        }
    }

    /// Copies every byte this direction writes to `file` too (`-r`, `-R`).
    pub fn dump_raw(&mut self, file: Option<(String, std::fs::File)>) {
        self.raw = file;
    }

    /// This direction writes back what it reads (an echo server): the run's totals count
    /// its bytes both ways.
    pub fn echoes(&mut self) {
        self.counter.echo = true;
    }

    /// Moves data until EOF (then shuts the writer down) or an error. After a stop it reads
    /// no more, writes out what it has read, and shuts the writer down as at EOF. With
    /// `cool-write` on the destination, a write that finds its reader gone (EPIPE,
    /// ECONNRESET) ends the direction as done, logged at info level.
    pub async fn run(
        &mut self,
        activity: &Activity,
        dump: Option<&Dump>,
    ) -> Result<(), RelayError> {
        match self.move_data(activity, dump).await {
            Err(RelayError::Write { direction, source })
                if self.ends.cool_write && reader_gone(&source) =>
            {
                tracing::info!(
                    "writing ({}): {} (cool-write: the direction ends)",
                    direction_name(direction),
                    sys::error_text(&source)
                );
                Ok(())
            }
            result => result,
        }
    }

    async fn move_data(
        &mut self,
        activity: &Activity,
        dump: Option<&Dump>,
    ) -> Result<(), RelayError> {
        let mut state = State::Running;
        // A direction between two spliceable descriptors copies until a read fills its
        // buffer, and splices from then on: a short exchange (a request, a ping-pong) costs a
        // read and a write, where splicing it costs a splice in, a splice out and a third
        // that finds the socket empty (a short read tells the reactor as much, a splice into a
        // pipe cannot), and a pipe; bulk data fills the buffer at once and is spliced.
        let mut splices = self.transfer == Transfer::Splice
            && dump.is_none()
            && !self.endings.convert()
            && !self.ends.inspects()
            && self.raw.is_none()
            && self.reader.descriptor().is_some()
            && self.writer.descriptor().is_some();
        // Messages to messages, unchanged: moved in batches, as many as are waiting.
        let batches = self.reader.is_messages()
            && self.writer.is_messages()
            && dump.is_none()
            && !self.endings.convert()
            && !self.ends.inspects()
            && self.raw.is_none();
        while state != State::Done {
            state = match state {
                State::Running if self.stop.is_requested() => State::ShuttingDown,
                State::Running if batches => match self.relay_batch(activity).await? {
                    Some(()) => State::Running,
                    None if self.ends.ignore_eof => {
                        tokio::select! {
                            () = tokio::time::sleep(IGNORE_EOF_POLL) => {}
                            () = self.stop.requested() => {}
                        }
                        State::Running
                    }
                    None => {
                        if !self.stop.is_requested() {
                            self.log_eof();
                        }
                        State::ShuttingDown
                    }
                },
                State::Running => match self.read_or_stop().await {
                    Ok(Some((_, 0))) if self.ends.null_eof && self.reader.is_messages() => {
                        self.log_eof();
                        State::ShuttingDown
                    }
                    Ok(Some((buf, n))) => {
                        activity.touch();
                        let escaped = self
                            .ends
                            .escape
                            .and_then(|escape| buf[..n].iter().position(|b| *b == escape));
                        self.forward(&buf[..escaped.unwrap_or(n)], dump).await?;
                        let filled = n == buf.len();
                        drop(buf);
                        if escaped.is_some() {
                            tracing::debug!(
                                "{}: the escape byte ends the input",
                                direction_name(self.direction)
                            );
                            State::ShuttingDown
                        } else if splices && filled {
                            splices = false;
                            self.splice_from_now_on(activity).await?
                        } else {
                            State::Running
                        }
                    }
                    Ok(None) if self.ends.ignore_eof => {
                        tokio::select! {
                            () = tokio::time::sleep(IGNORE_EOF_POLL) => {}
                            () = self.stop.requested() => {}
                        }
                        State::Running
                    }
                    Ok(None) => {
                        if !self.stop.is_requested() {
                            self.log_eof();
                        }
                        State::ShuttingDown
                    }
                    Err(source) => {
                        return Err(RelayError::Read {
                            direction: self.direction,
                            source,
                        })
                    }
                },
                State::ShuttingDown => {
                    if self.held_cr {
                        self.held_cr = false;
                        self.write(b"\r", dump).await?;
                    }
                    match self.end_writing().await {
                        Ok(()) => State::Done,
                        Err(e) if e.kind() == std::io::ErrorKind::NotConnected => State::Done,
                        Err(source) => {
                            return Err(RelayError::Write {
                                direction: self.direction,
                                source,
                            })
                        }
                    }
                }
                State::Done => State::Done,
            };
        }
        Ok(())
    }

    /// Splices until EOF (then the direction shuts down), or until the kernel refuses to
    /// splice one of the descriptors (then it copies on, starting with what was stranded in
    /// the pipe).
    async fn splice_from_now_on(&mut self, activity: &Activity) -> Result<State, RelayError> {
        let (Some(source), Some(sink)) = (self.reader.descriptor(), self.writer.descriptor())
        else {
            return Ok(State::Running);
        };
        let direction = direction_name(self.direction);
        tracing::debug!("{direction}: splicing");
        let spliced = splice(
            source,
            sink,
            self.splice_size,
            self.ends.ignore_eof,
            &self.counter,
            &self.stop,
            activity,
        )
        .await?;
        match spliced {
            Spliced::Eof => {
                if !self.stop.is_requested() {
                    self.log_eof();
                }
                Ok(State::ShuttingDown)
            }
            Spliced::Refused { why, stranded } => {
                tracing::debug!(
                    "{direction}: splice refused ({}); copying",
                    sys::error_text(&why)
                );
                if !stranded.is_empty() {
                    self.write(&stranded, None).await?;
                }
                Ok(State::Running)
            }
        }
    }

    /// Ends the destination's writing half as its `shut-*` mode says.
    async fn end_writing(&mut self) -> io::Result<()> {
        match self.ends.shut {
            ShutMode::Down => self.writer.shutdown().await,
            ShutMode::None => Ok(()),
            ShutMode::Close => {
                self.writer.shutdown().await?;
                // Nothing is written after EOF: a closed stand-in takes the writer's place,
                // and the descriptor closes now instead of when the relay ends.
                drop(std::mem::replace(&mut self.writer, Writer::closed()));
                Ok(())
            }
            ShutMode::Null => self.writer.write_unit(&[]).await,
        }
    }

    /// Receives the messages waiting (at least one) and sends them on, in order; `None` at
    /// the reader's EOF, or once a stop is asked for while it waits.
    async fn relay_batch(&mut self, activity: &Activity) -> Result<Option<()>, RelayError> {
        let (Reader::Messages(recv), Writer::Messages(send)) = (&mut self.reader, &mut self.writer)
        else {
            return Ok(None);
        };
        let mut buf = Buffer::take(self.buffer_size);
        let batch = &mut self.batch;
        batch.clear();
        let received = tokio::select! {
            biased;
            () = self.stop.requested() => Ok(None),
            received = poll_fn(|cx| recv.poll_recv_batch(cx, &mut buf, batch)) => received,
        };
        match received {
            Ok(Some(())) => activity.touch(),
            Ok(None) => return Ok(None),
            Err(source) => {
                return Err(RelayError::Read {
                    direction: self.direction,
                    source,
                })
            }
        }
        let mut sent = 0;
        let result = poll_fn(|cx| send.poll_send_batch(cx, &buf, batch, &mut sent)).await;
        let bytes: usize = batch.messages()[..sent.min(batch.len())]
            .iter()
            .map(|(_, len)| len)
            .sum();
        self.counter.add(bytes);
        result.map_err(|source| RelayError::Write {
            direction: self.direction,
            source,
        })?;
        Ok(Some(()))
    }

    /// Reads one unit, or `None` (as at EOF) once a stop is asked for while it waits.
    async fn read_or_stop(&mut self) -> io::Result<Option<(Buffer, usize)>> {
        // Taken out for the wait, so that reading may borrow the pump: no clone per read.
        let stop = std::mem::take(&mut self.stop);
        let read = tokio::select! {
            biased;
            () = stop.requested() => Ok(None),
            read = self.read_unit() => read,
        };
        self.stop = stop;
        read
    }

    /// Reads one unit into a borrowed buffer. With a descriptor to wait on, the buffer is
    /// borrowed only once the source is readable, and given back if the read finds nothing.
    async fn read_unit(&mut self) -> io::Result<Option<(Buffer, usize)>> {
        loop {
            let waits = match self.reader.descriptor() {
                Some(source) => {
                    poll_fn(|cx| source.poll_ready(cx, Interest::READABLE)).await?;
                    true
                }
                None => false,
            };
            let mut buf = Buffer::take(self.buffer_size);
            let read = self.reader.read_unit(&mut buf);
            let result = if waits {
                poll_once(read).await
            } else {
                Some(read.await)
            };
            if let Some(result) = result {
                return result.map(|n| n.map(|n| (buf, n)));
            }
        }
    }

    async fn forward(&mut self, data: &[u8], dump: Option<&Dump>) -> Result<(), RelayError> {
        if !self.endings.convert() {
            return self.write(data, dump).await;
        }
        let mut out = std::mem::take(&mut self.converted);
        out.clear();
        convert(data, self.endings, &mut self.held_cr, &mut out);
        let result = self.write(&out, dump).await;
        self.converted = out;
        result
    }

    async fn write(&mut self, data: &[u8], dump: Option<&Dump>) -> Result<(), RelayError> {
        if let Some(dump) = dump {
            dump.record(self.direction, self.bytes.load(Ordering::Relaxed), data);
        }
        self.writer
            .write_unit(data)
            .await
            .map_err(|source| RelayError::Write {
                direction: self.direction,
                source,
            })?;
        self.counter.add(data.len());
        if let Some((path, file)) = &mut self.raw {
            use std::io::Write;
            file.write_all(data).map_err(|source| RelayError::RawDump {
                direction: self.direction,
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Whether a write failed because the reader went away: what `cool-write` takes easily.
fn reader_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// Polls `future` once: its output if it is ready at once, else `None` (and it is dropped,
/// which for a read means nothing was read).
async fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Runs `op` once `descriptor` is ready for `interest`, waiting again whenever `op` finds
/// that it was not.
fn poll_io(
    descriptor: &dyn Descriptor,
    cx: &mut Context<'_>,
    interest: Interest,
    op: &mut dyn FnMut(std::os::fd::BorrowedFd<'_>) -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        ready!(descriptor.poll_ready(cx, interest))?;
        match descriptor.try_io(interest, op) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            result => return Poll::Ready(result),
        }
    }
}

/// Moves bytes from `source` to `sink` through a pipe until EOF, at most `unit` bytes at a
/// time (the splice size: `-b` when given, as on the copy path). The pipe is filled only
/// when it is empty, so a `WouldBlock` from filling it means the source has nothing, and
/// one from draining it means the sink is full; the pipe goes back to the pool whenever the
/// source has nothing to give. After a stop it fills the pipe no more: what is in it is
/// written out, and the direction ends as at EOF.
#[allow(clippy::too_many_arguments)]
async fn splice(
    source: &dyn Descriptor,
    sink: &dyn Descriptor,
    unit: usize,
    ignore_eof: bool,
    counter: &Counter,
    stop: &Stop,
    activity: &Activity,
) -> Result<Spliced, RelayError> {
    let direction = counter.direction;
    let mut lent: Option<LentPipe> = None;
    loop {
        if stop.is_requested() {
            return Ok(Spliced::Eof);
        }
        let mut no_pipe = None;
        let fill = poll_fn(|cx| {
            let result = poll_io(source, cx, Interest::READABLE, &mut |fd| {
                let pipe = match &mut lent {
                    Some(pipe) => pipe,
                    None => match LentPipe::take(unit) {
                        Ok(pipe) => lent.insert(pipe),
                        Err(e) => {
                            let unsupported = io::Error::from_raw_os_error(nix::libc::EINVAL);
                            no_pipe = Some(e);
                            return Err(unsupported);
                        }
                    },
                };
                pipe.pipe().fill_from(fd, unit.min(pipe.capacity))
            });
            if result.is_pending() {
                // The pipe is empty: an idle direction holds none.
                lent = None;
            }
            result
        });
        // The pipe is empty while the fill waits, so a stop loses nothing.
        let filled = tokio::select! {
            biased;
            () = stop.requested() => return Ok(Spliced::Eof),
            filled = fill => filled,
        };
        if let Some(why) = no_pipe {
            // Out of descriptors for a pipe, say: the copy path needs none.
            return Ok(Spliced::Refused {
                why,
                stranded: Vec::new(),
            });
        }
        let n = match filled {
            Ok(0) => {
                lent = None;
                if ignore_eof {
                    tokio::select! {
                        () = tokio::time::sleep(IGNORE_EOF_POLL) => {}
                        () = stop.requested() => {}
                    }
                    continue;
                }
                return Ok(Spliced::Eof);
            }
            Ok(n) => n,
            Err(why) if sys::splice::is_unsupported(&why) => {
                return Ok(Spliced::Refused {
                    why,
                    stranded: Vec::new(),
                })
            }
            Err(source) => return Err(RelayError::Read { direction, source }),
        };
        activity.touch();
        let Some(pipe) = lent.as_mut() else {
            continue;
        };
        pipe.filled = n;
        while pipe.filled > 0 {
            let moved = poll_fn(|cx| {
                poll_io(sink, cx, Interest::WRITABLE, &mut |fd| {
                    pipe.pipe().drain_to(fd, pipe.filled)
                })
            })
            .await;
            match moved {
                Ok(0) => {
                    return Err(RelayError::Write {
                        direction,
                        source: io::ErrorKind::WriteZero.into(),
                    })
                }
                Ok(n) => {
                    pipe.filled = pipe.filled.saturating_sub(n);
                    counter.add(n);
                    activity.touch();
                }
                Err(why) if sys::splice::is_unsupported(&why) => {
                    let stranded =
                        empty(pipe).map_err(|source| RelayError::Read { direction, source })?;
                    return Ok(Spliced::Refused { why, stranded });
                }
                Err(source) => return Err(RelayError::Write { direction, source }),
            }
        }
    }
}

/// Reads what is left in a pipe, to write it by copying.
fn empty(pipe: &mut LentPipe) -> io::Result<Vec<u8>> {
    let mut stranded = vec![0; pipe.filled];
    let mut at = 0;
    while at < stranded.len() {
        match pipe.pipe().read(&mut stranded[at..])? {
            0 => break,
            n => at += n,
        }
    }
    stranded.truncate(at);
    pipe.filled = 0;
    Ok(stranded)
}

/// Converts line endings of `data` into `out`. A CR at the end of `data` is held back in
/// `held_cr` until the next byte shows whether it starts a CR NL.
fn convert(data: &[u8], endings: LineEndings, held_cr: &mut bool, out: &mut Vec<u8>) {
    for &byte in data {
        if endings.strip_cr {
            if std::mem::take(held_cr) && byte != b'\n' {
                out.push(b'\r');
            }
            if byte == b'\r' {
                *held_cr = true;
                continue;
            }
        }
        if endings.add_cr && byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::pin::Pin;
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tokio::net::UnixStream;

    /// A writer whose descriptor the kernel will not splice into (a /proc file has no
    /// splice support), and which collects what is written to it by copying.
    struct Unspliceable {
        file: std::fs::File,
        got: Arc<Mutex<Vec<u8>>>,
    }

    impl Descriptor for Unspliceable {
        fn poll_ready(&self, _: &mut Context<'_>, _: Interest) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn try_io(
            &self,
            _: Interest,
            op: &mut dyn FnMut(std::os::fd::BorrowedFd<'_>) -> io::Result<usize>,
        ) -> io::Result<usize> {
            op(self.file.as_fd())
        }

        fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
            Some(self.file.as_fd())
        }
    }

    impl AsyncWrite for Unspliceable {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.got.lock().unwrap().extend_from_slice(data);
            Poll::Ready(Ok(data.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl crate::channel::ByteWrite for Unspliceable {
        fn descriptor(&self) -> Option<&dyn Descriptor> {
            Some(self)
        }
    }

    fn stream_reader(stream: UnixStream) -> Reader {
        Reader::Bytes(Box::new(stream.into_split().0))
    }

    #[tokio::test]
    async fn a_spliced_direction_moves_every_byte_and_passes_eof_on() {
        let (mut input, source) = UnixStream::pair().unwrap();
        let (sink, mut output) = UnixStream::pair().unwrap();
        let config = RelayConfig {
            buffer_size: 1000,
            ..RelayConfig::default()
        };
        let writer = Writer::Bytes(Box::new(sink.into_split().1));
        let mut pump = Pump::new(
            Direction::LeftToRight,
            stream_reader(source),
            writer,
            LineEndings::default(),
            Ends::default(),
            &config,
        );
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let feeder = tokio::spawn(async move {
            input.write_all(&sent).await.unwrap();
            input.shutdown().await.unwrap();
            input
        });
        let activity = Activity::new();
        let (ran, got) = tokio::join!(pump.run(&activity, None), async {
            let mut got = Vec::new();
            output.read_to_end(&mut got).await.unwrap();
            got
        });
        ran.unwrap();
        feeder.await.unwrap();
        assert_eq!(got, data);
        assert_eq!(pump.bytes.load(Ordering::Relaxed), 100_000);
    }

    #[tokio::test]
    async fn a_sink_that_refuses_splice_gets_the_bytes_by_copying_in_order() {
        let (mut input, source) = UnixStream::pair().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let writer = Writer::Bytes(Box::new(Unspliceable {
            file: std::fs::OpenOptions::new()
                .write(true)
                .open("/proc/self/comm")
                .unwrap(),
            got: got.clone(),
        }));
        // A buffer the first write fills, so that the direction tries to splice from then on.
        let config = RelayConfig {
            buffer_size: 6,
            ..RelayConfig::default()
        };
        let mut pump = Pump::new(
            Direction::RightToLeft,
            stream_reader(source),
            writer,
            LineEndings::default(),
            Ends::default(),
            &config,
        );
        input.write_all(b"first ").await.unwrap();
        let activity = Activity::new();
        let (ran, ()) = tokio::join!(pump.run(&activity, None), async {
            // Written only once the first bytes were stranded in the pipe and copied.
            let copied = async {
                while got.lock().unwrap().is_empty() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            tokio::time::timeout(Duration::from_secs(15), copied)
                .await
                .unwrap();
            input.write_all(b"second").await.unwrap();
            input.shutdown().await.unwrap();
        });
        ran.unwrap();
        assert_eq!(*got.lock().unwrap(), b"first second");
        assert_eq!(pump.bytes.load(Ordering::Relaxed), 12);
    }

    fn run(chunks: &[&[u8]], endings: LineEndings) -> Vec<u8> {
        let mut held = false;
        let mut out = Vec::new();
        for chunk in chunks {
            convert(chunk, endings, &mut held, &mut out);
        }
        if held {
            out.push(b'\r');
        }
        out
    }

    #[test]
    fn converts_line_endings_across_chunk_boundaries() {
        let strip = LineEndings {
            strip_cr: true,
            add_cr: false,
        };
        let add = LineEndings {
            strip_cr: false,
            add_cr: true,
        };
        assert_eq!(run(&[b"a\r\nb\r\n"], strip), b"a\nb\n");
        assert_eq!(run(&[b"a\r", b"\nb"], strip), b"a\nb");
        assert_eq!(run(&[b"a\rb\r"], strip), b"a\rb\r");
        assert_eq!(run(&[b"a\nb\n"], add), b"a\r\nb\r\n");
        assert_eq!(run(&[b"x"], LineEndings::default()), b"x");
    }
}
