//! One direction of a relay: read a unit, convert line endings if asked, dump it if asked,
//! write all of it, and at EOF shut the writing side down. An explicit state machine:
//! `Running -> ShuttingDown -> Done`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::dump::Dump;
use super::{Activity, RelayError};
use crate::channel::{Reader, Writer, MIN_MESSAGE_BUFFER};

/// How often a reader with `ignoreeof` is read again after EOF.
const IGNORE_EOF_POLL: Duration = Duration::from_millis(50);

/// Which way data moves, from the first address's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the first address to the second.
    LeftToRight,
    /// From the second address to the first.
    RightToLeft,
}

impl Direction {
    /// The marker socat's dumps use: `>` for left to right, `<` for right to left.
    pub fn arrow(self) -> char {
        match self {
            Direction::LeftToRight => '>',
            Direction::RightToLeft => '<',
        }
    }
}

/// Line-ending conversion for one direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct LineEndings {
    /// Turn CR NL into NL (the source has `crnl`).
    pub strip_cr: bool,
    /// Turn NL into CR NL (the destination has `crnl`).
    pub add_cr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    ShuttingDown,
    Done,
}

/// One direction's reader, writer and buffer.
pub(crate) struct Pump {
    pub direction: Direction,
    reader: Reader,
    writer: Writer,
    buf: Vec<u8>,
    converted: Vec<u8>,
    endings: LineEndings,
    /// A CR held back because the byte after it has not been read yet.
    held_cr: bool,
    ignore_eof: bool,
    pub bytes: Arc<AtomicU64>,
}

impl Pump {
    pub fn new(
        direction: Direction,
        reader: Reader,
        writer: Writer,
        buffer_size: usize,
        endings: LineEndings,
        ignore_eof: bool,
    ) -> Pump {
        // A message source needs room for its largest message, or it would be cut short. A
        // stream read must not be larger than what a message destination takes.
        let size = if reader.is_messages() {
            buffer_size.max(MIN_MESSAGE_BUFFER)
        } else {
            let limit = writer.max_message().unwrap_or(usize::MAX);
            buffer_size.min(limit).max(1)
        };
        Pump {
            direction,
            reader,
            writer,
            buf: vec![0; size],
            converted: Vec::new(),
            endings,
            held_cr: false,
            ignore_eof,
            bytes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Moves data until EOF (then shuts the writer down) or an error.
    pub async fn run(
        &mut self,
        activity: &Activity,
        dump: Option<&Dump>,
    ) -> Result<(), RelayError> {
        let mut state = State::Running;
        while state != State::Done {
            state = match state {
                State::Running => match self.reader.read_unit(&mut self.buf).await {
                    Ok(Some(n)) => {
                        activity.touch();
                        self.forward(n, dump).await?;
                        State::Running
                    }
                    Ok(None) if self.ignore_eof => {
                        tokio::time::sleep(IGNORE_EOF_POLL).await;
                        State::Running
                    }
                    Ok(None) => State::ShuttingDown,
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
                    match self.writer.shutdown().await {
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

    async fn forward(&mut self, n: usize, dump: Option<&Dump>) -> Result<(), RelayError> {
        if !self.endings.strip_cr && !self.endings.add_cr {
            let data = std::mem::take(&mut self.buf);
            let result = self.write(&data[..n], dump).await;
            self.buf = data;
            return result;
        }
        let mut out = std::mem::take(&mut self.converted);
        out.clear();
        convert(&self.buf[..n], self.endings, &mut self.held_cr, &mut out);
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
        self.bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }
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
