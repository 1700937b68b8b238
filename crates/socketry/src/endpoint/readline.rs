//! READLINE: standard input and output through a line editor (rustyline), with history, as
//! socat's READLINE does with GNU readline. A byte stream: each line entered goes to the
//! peer with a newline; what the peer sends is written to standard output.
//!
//! On a terminal the line is edited (cursor keys, the history with `history=FILE`, Ctrl-C to
//! drop a line, Ctrl-D on an empty line for EOF), and the prompt is the peer's last
//! unfinished line of output ("Password: "), held back so that the editor draws it; or the
//! fixed text of `prompt=`, or nothing with `noprompt`. Before it reads a line, the editor
//! waits a moment ([`SETTLE`], at most [`SETTLE_LIMIT`]) for the peer's answer to the last
//! line, so that the prompt it shows is the one that answer ends with. What the peer sends
//! while a line is being edited is printed over it, and the prompt after it. When standard input is not a terminal,
//! lines are read as they come and nothing is held back.
//!
//! The editor runs on a thread of its own (it blocks in reading the terminal); the terminal's
//! settings are put back when the connection ends, even while the editor is mid-line.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustyline::error::ReadlineError;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use crate::address::{OptionId, Options};
use crate::channel::{ByteRead, ByteWrite, Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::endpoint::terminal;

/// How long the peer's output must have been quiet before the editor takes its last
/// unfinished line as the prompt.
pub const SETTLE: Duration = Duration::from_millis(30);

/// How long the editor waits at most for the peer to answer before it reads the next line.
pub const SETTLE_LIMIT: Duration = Duration::from_millis(250);

/// The longest unfinished line held back as the prompt; a longer one is written out as it
/// comes.
const MAX_PROMPT: usize = 4096;

/// What the prompt is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PromptSource {
    /// The peer's last unfinished line of output (socat's default).
    Peer,
    /// This text (`prompt=`).
    Fixed(String),
    /// None (`noprompt`).
    None,
}

/// What the editor thread and the writer share.
struct Screen {
    /// Whether the editor is reading a line now (output goes through the printer then).
    reading: bool,
    /// The peer's unfinished line, held back to become the prompt.
    held: Vec<u8>,
    /// The prompt the line being read shows.
    shown: String,
    /// When the peer last sent something, and whether it has since the last line entered.
    last_output: Option<Instant>,
    answered: bool,
}

struct Shared {
    screen: Mutex<Screen>,
    changed: Condvar,
    prompt: PromptSource,
    /// Whether standard input is a terminal: otherwise there is no editing, and no prompt.
    interactive: bool,
}

impl Shared {
    fn screen(&self) -> MutexGuard<'_, Screen> {
        // A thread that panicked holding the lock left a screen that is still usable.
        self.screen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Opens READLINE on standard input and output.
pub fn open(options: &Options) -> Result<Connection, OpenError> {
    let prompt = match (
        options.text(OptionId::Prompt),
        options.flag(OptionId::NoPrompt, false),
    ) {
        (Some(text), _) => PromptSource::Fixed(text.to_owned()),
        (None, true) => PromptSource::None,
        (None, false) => PromptSource::Peer,
    };
    let history = options
        .text(OptionId::History)
        .map(std::path::PathBuf::from);
    let interactive = nix::unistd::isatty(0).unwrap_or(false);
    let config = rustyline::Config::builder().auto_add_history(false).build();
    let mut editor: rustyline::DefaultEditor = rustyline::Editor::with_config(config)
        .map_err(|e| OpenError::Refused(format!("READLINE: starting the line editor: {e}")))?;
    if let Some(path) = &history {
        match editor.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(OpenError::Refused(format!(
                    "history={}: {e}",
                    path.display()
                )))
            }
        }
    }
    // The terminal as it was, put back when the connection ends: the editor puts it in raw
    // mode while it reads a line, and may be mid-line then.
    let restore = if interactive {
        let terminal = crate::sys::fd::duplicate(0)
            .map_err(OpenError::io("opening standard input for READLINE"))?;
        Some(terminal::Restore::apply(
            terminal,
            &Options::default(),
            "READLINE's terminal",
        )?)
    } else {
        None
    };
    let shared = Arc::new(Shared {
        screen: Mutex::new(Screen {
            reading: false,
            held: Vec::new(),
            shown: String::new(),
            last_output: None,
            answered: false,
        }),
        changed: Condvar::new(),
        prompt,
        interactive,
    });
    let (lines, received) = mpsc::channel(16);
    let editing = shared.clone();
    std::thread::Builder::new()
        .name("readline".to_owned())
        .spawn(move || edit_lines(editor, &editing, history.as_deref(), &lines))
        .map_err(OpenError::io("starting READLINE's editor"))?;
    let mut connection = Connection::new(
        Some(Reader::Bytes(Box::new(Lines {
            received,
            pending: Vec::new(),
        }))),
        Some(Writer::Bytes(Box::new(Output { shared }))),
        "READLINE".to_owned(),
    );
    if let Some(restore) = restore {
        connection.keep_alive(restore);
    }
    Ok(connection)
}

/// The editor thread: reads lines until EOF (or the relay is gone), each sent with its
/// newline.
fn edit_lines(
    mut editor: rustyline::DefaultEditor,
    shared: &Shared,
    history: Option<&std::path::Path>,
    lines: &mpsc::Sender<io::Result<Vec<u8>>>,
) {
    loop {
        let prompt = next_prompt(shared);
        let read = editor.readline(&prompt);
        shared.screen().reading = false;
        let line = match read {
            Ok(line) => line,
            // Ctrl-C drops the line being edited, as a shell does.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return,
            Err(e) => {
                let _ = lines.blocking_send(Err(io::Error::other(format!("READLINE: {e}"))));
                return;
            }
        };
        if let Some(path) = history {
            if !line.trim().is_empty() {
                let _ = editor.add_history_entry(line.as_str());
                if let Err(e) = editor.append_history(path) {
                    tracing::warn!("history={}: {e}", path.display());
                }
            }
        }
        let mut bytes = line.into_bytes();
        bytes.push(b'\n');
        if lines.blocking_send(Ok(bytes)).is_err() {
            return;
        }
    }
}

/// Waits for the peer to answer the last line (briefly), then takes the prompt to show.
fn next_prompt(shared: &Shared) -> String {
    let start = Instant::now();
    let mut screen = shared.screen();
    if shared.interactive && shared.prompt == PromptSource::Peer {
        loop {
            let now = Instant::now();
            let quiet = screen
                .last_output
                .is_some_and(|at| screen.answered && now.duration_since(at) >= SETTLE);
            if quiet || now.duration_since(start) >= SETTLE_LIMIT {
                break;
            }
            let wait = SETTLE.min(SETTLE_LIMIT.saturating_sub(now.duration_since(start)));
            screen = shared
                .changed
                .wait_timeout(screen, wait)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }
    let prompt = match &shared.prompt {
        PromptSource::Fixed(text) => text.clone(),
        PromptSource::None => String::new(),
        PromptSource::Peer if shared.interactive => {
            String::from_utf8_lossy(&std::mem::take(&mut screen.held)).into_owned()
        }
        PromptSource::Peer => String::new(),
    };
    screen.answered = false;
    screen.reading = true;
    screen.shown = prompt.clone();
    prompt
}

/// The lines entered, as a byte stream.
struct Lines {
    received: mpsc::Receiver<io::Result<Vec<u8>>>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").finish_non_exhaustive()
    }
}

impl AsyncRead for Lines {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pending.is_empty() {
            match self.received.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(line))) => self.pending = line,
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl ByteRead for Lines {}

/// What the peer sends, to standard output: above the line being edited, or with its last
/// unfinished line held back as the next prompt.
struct Output {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output").finish_non_exhaustive()
    }
}

fn write_out(data: &[u8]) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(data)?;
    stdout.flush()
}

impl Output {
    fn show(&self, data: &[u8]) -> io::Result<()> {
        let shared = &self.shared;
        let mut screen = shared.screen();
        screen.last_output = Some(Instant::now());
        screen.answered = true;
        let holds = shared.interactive && shared.prompt == PromptSource::Peer;
        let result = if !holds {
            if screen.reading {
                print_above(&mut screen, data)
            } else {
                write_out(data)
            }
        } else {
            // Up to the last newline is output; after it, the unfinished line (the prompt).
            let cut = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let (finished, unfinished) = data.split_at(cut);
            let mut out = Vec::new();
            if !finished.is_empty() {
                out = std::mem::take(&mut screen.held);
                out.extend_from_slice(finished);
            }
            screen.held.extend_from_slice(unfinished);
            if screen.held.len() > MAX_PROMPT {
                out.append(&mut screen.held);
            }
            if screen.reading {
                // The editor shows its prompt already: a new unfinished line different
                // from it is printed too, and is the prompt of the next line.
                if !screen.held.is_empty() && screen.held != screen.shown.as_bytes() {
                    out.extend_from_slice(&screen.held);
                } else if screen.held == screen.shown.as_bytes() {
                    screen.held.clear();
                }
                if out.is_empty() {
                    Ok(())
                } else {
                    print_above(&mut screen, &out)
                }
            } else if out.is_empty() {
                Ok(())
            } else {
                write_out(&out)
            }
        };
        drop(screen);
        shared.changed.notify_all();
        result
    }
}

/// Prints `data` over the line being edited, and the prompt again after it when it ends a
/// line. (rustyline's own printer for this stalls keys typed ahead, so it is not used: the
/// line's text is kept, and drawn again at the next key that redraws it.)
fn print_above(screen: &mut Screen, data: &[u8]) -> io::Result<()> {
    let mut out = b"\r\x1b[K".to_vec();
    out.extend_from_slice(data);
    if data.ends_with(b"\n") {
        out.extend_from_slice(screen.shown.as_bytes());
    }
    write_out(&out)
}

impl AsyncWrite for Output {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.show(data).map(|()| data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing more comes: what was held back as a prompt is written out as it is.
        let held = std::mem::take(&mut self.shared.screen().held);
        Poll::Ready(if held.is_empty() {
            Ok(())
        } else {
            write_out(&held)
        })
    }
}

impl ByteWrite for Output {}

// ---- The family's address type: READLINE ----

use crate::address::{AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// Standard input and output through the line editor. It takes no parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReadlineSpec;

static READLINE: Definition<ReadlineSpec> = Definition {
    ty: AddressType::new(
        "READLINE",
        &[],
        &[],
        Groups::ALL.union(Groups::STREAM).union(Groups::READLINE),
        "standard input and output through a line editor, with history (rustyline)",
    ),
    parse: |_| Ok(ReadlineSpec),
};

/// The line editor's family: its address type and feature.
pub static FAMILY: FamilyTypes<ReadlineSpec> = FamilyTypes {
    features: &["READLINE"],
    types: &[&READLINE],
};

impl FamilySpec for ReadlineSpec {
    fn address_type(&self) -> &'static AddressType {
        &READLINE.ty
    }

    fn fmt_params(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl ReadlineSpec {
    /// Starts the editor on standard input and output.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(options).map(Opened::Connection)
    }
}
