//! A child process behind a connection (a program an address runs): how it ended, and its
//! reaping, with the grace periods before SIGTERM and SIGKILL. Part of the connection core:
//! it knows no family.

use std::fmt;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::sys::process as child_setup;

/// How long a child may take to exit by itself after its channel is closed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// How long a child may take to exit after SIGTERM before it gets SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(1);

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status.
    Status(i32),
    /// A signal ended it; `sent_by_us` when that was socketry's SIGTERM or SIGKILL after the
    /// child outlived its grace period, or the SIGHUP a program on a pseudo-terminal gets when
    /// socketry closes the terminal.
    Signal {
        /// The signal's number.
        number: i32,
        /// Whether socketry sent it (or closed the terminal that sent it).
        sent_by_us: bool,
    },
}

impl Exit {
    fn from_status(status: ExitStatus, sent_by_us: bool) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Status(code),
            (None, Some(number)) => Exit::Signal { number, sent_by_us },
            (None, None) => Exit::Status(0),
        }
    }

    /// Whether the child failed in a way socketry reports as its own exit status: a non-zero
    /// exit, or a signal socketry did not send. Returns that status (128+N for signal N).
    /// SIGPIPE is not a failure: it is how a writer ends when its reader goes away, as in a
    /// shell pipeline, and the relay reports that itself.
    pub fn failure_code(self) -> Option<u8> {
        match self {
            Exit::Status(0)
            | Exit::Signal {
                sent_by_us: true, ..
            } => None,
            Exit::Signal { number, .. } if number == Signal::SIGPIPE as i32 => None,
            Exit::Status(code) => Some(u8::try_from(code & 0xff).unwrap_or(1)),
            Exit::Signal { number, .. } => Some(u8::try_from(128 + number).unwrap_or(255)),
        }
    }
}

impl Exit {
    /// Whether a terminating signal (SIGHUP, SIGINT, SIGTERM) ended the program: what a
    /// terminal's Ctrl-C or a service manager sends to socketry and its children together.
    pub fn by_terminating_signal(self) -> bool {
        let terminating = [Signal::SIGHUP, Signal::SIGINT, Signal::SIGTERM];
        matches!(self, Exit::Signal { number, .. } if terminating.iter().any(|s| *s as i32 == number))
    }
}

impl Exit {
    /// How the child ended in the words of socat's `waitpid()` warning, which scripts read:
    /// "exited with status 3", "exited on signal 2".
    pub fn waitpid_words(self) -> String {
        match self {
            Exit::Status(code) => format!("exited with status {code}"),
            Exit::Signal { number, .. } => format!("exited on signal {number}"),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Status(code) => write!(f, "exited with status {code}"),
            Exit::Signal {
                number,
                sent_by_us: true,
            } if *number == Signal::SIGHUP as i32 => {
                write!(f, "hung up (signal {number}) when its terminal closed")
            }
            Exit::Signal {
                number,
                sent_by_us: true,
            } => write!(f, "ended by signal {number} after its grace period"),
            Exit::Signal { number, .. } => write!(f, "ended by signal {number}"),
        }
    }
}

/// The children that take a signal socketry receives (`sighup`, `sigint`, `sigquit`): each
/// one's pid and the signal's number.
static FORWARDED: Mutex<Vec<(u32, i32)>> = Mutex::new(Vec::new());

/// Passes signal `number`, received by socketry, to every running child whose address asked
/// for it (`sigint`, ...). Returns whether any did: then the signal is theirs, and socketry
/// runs on until they end, as socat does.
pub fn forward_signal(number: i32) -> bool {
    let Ok(signal) = Signal::try_from(number) else {
        return false;
    };
    let Ok(forwarded) = FORWARDED.lock() else {
        return false;
    };
    let mut any = false;
    for (pid, _) in forwarded.iter().filter(|(_, n)| *n == number) {
        tracing::info!("passing signal {number} to child {pid}");
        let _ = child_setup::kill(*pid, signal);
        any = true;
    }
    any
}

fn stop_forwarding(pid: u32) {
    if let Ok(mut forwarded) = FORWARDED.lock() {
        forwarded.retain(|(p, _)| *p != pid);
    }
}

/// A running child process, reaped by [`Process::finish`] (or sent SIGTERM if dropped).
#[derive(Debug)]
pub struct Process {
    child: Option<tokio::process::Child>,
    pid: u32,
    description: String,
    /// The program's controlling terminal is socketry's pseudo-terminal, so closing it sends
    /// the program SIGHUP.
    on_terminal: bool,
    /// The master side of the program's pseudo-terminal, kept open after the relay so that
    /// the program may finish before it is hung up.
    terminal: Option<std::os::fd::OwnedFd>,
}

impl Process {
    /// A child that runs `description` as `pid`; `on_terminal` when its controlling terminal
    /// is socketry's pseudo-terminal.
    pub(crate) fn new(
        child: tokio::process::Child,
        pid: u32,
        description: String,
        on_terminal: bool,
    ) -> Process {
        Process {
            child: Some(child),
            pid,
            description,
            on_terminal,
            terminal: None,
        }
    }

    /// Keeps `master`, the master side of the program's pseudo-terminal, open until the
    /// program exits or its [`CLOSE_GRACE`] is over: closing the last master hangs the
    /// program up (SIGHUP), which must not cut short a program that is finishing (a shell
    /// putting its terminal's settings back, say).
    pub(crate) fn hold_terminal(&mut self, master: std::os::fd::OwnedFd) {
        self.terminal = Some(master);
    }

    /// Passes each of `signals` (their numbers) to the child when socketry receives it,
    /// until the child is reaped.
    pub(crate) fn forwarding(self, signals: &[i32]) -> Process {
        if let Ok(mut forwarded) = FORWARDED.lock() {
            forwarded.extend(signals.iter().map(|n| (self.pid, *n)));
        }
        self
    }

    /// What the child runs, for logs: `EXEC od -c`.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the child to exit by itself, however long that takes (a `nofork` program
    /// serving its connection).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        if let Some(child) = &mut self.child {
            child.wait().await?;
        }
        Ok(())
    }

    /// Waits for the child to exit, ending it with SIGTERM and then SIGKILL if it outlives
    /// the grace periods. The caller has closed the channel already.
    pub async fn finish(mut self) -> std::io::Result<Exit> {
        let _forwarding = ForwardingEnds(self.pid);
        let Some(mut child) = self.child.take() else {
            return Ok(Exit::Status(0));
        };
        if let Some(terminal) = self.terminal.take() {
            // The relay has sent its EOF; the program ends by itself, or is hung up.
            if let Ok(status) = tokio::time::timeout(CLOSE_GRACE, child.wait()).await {
                return Ok(Exit::from_status(status?, false));
            }
            tracing::debug!(
                "{} (pid {}) still running {}s after the relay: closing its terminal",
                self.description,
                self.pid,
                CLOSE_GRACE.as_secs_f64()
            );
            drop(terminal);
        }
        if let Ok(status) = tokio::time::timeout(CLOSE_GRACE, child.wait()).await {
            let exit = Exit::from_status(status?, false);
            let hangup = Signal::SIGHUP as i32;
            return Ok(match exit {
                // Closing its terminal hung the program up: it died of SIGHUP, or caught it
                // and exited with the conventional 128+SIGHUP.
                Exit::Signal { number, .. } if self.on_terminal && number == hangup => {
                    Exit::Signal {
                        number,
                        sent_by_us: true,
                    }
                }
                Exit::Status(code) if self.on_terminal && code == 128 + hangup => Exit::Signal {
                    number: hangup,
                    sent_by_us: true,
                },
                exit => exit,
            });
        }
        tracing::info!(
            "{} (pid {}) still running {}s after its channel closed: sending SIGTERM",
            self.description,
            self.pid,
            CLOSE_GRACE.as_secs_f64()
        );
        let _ = child_setup::kill(self.pid, Signal::SIGTERM);
        if let Ok(status) = tokio::time::timeout(TERM_GRACE, child.wait()).await {
            let term = Signal::SIGTERM as i32;
            return Ok(match Exit::from_status(status?, true) {
                // It caught our SIGTERM and exited with the conventional 128+SIGTERM.
                Exit::Status(code) if code == 128 + term => Exit::Signal {
                    number: term,
                    sent_by_us: true,
                },
                exit => exit,
            });
        }
        tracing::warn!(
            "{} (pid {}) ignored SIGTERM: sending SIGKILL",
            self.description,
            self.pid
        );
        let _ = child_setup::kill(self.pid, Signal::SIGKILL);
        Ok(Exit::from_status(child.wait().await?, true))
    }
}

/// Ends the passing of signals to a child once it has been reaped.
struct ForwardingEnds(u32);

impl Drop for ForwardingEnds {
    fn drop(&mut self) {
        stop_forwarding(self.0);
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        stop_forwarding(self.pid);
        // Dropped unfinished (socketry is exiting on a signal): the child must not outlive us
        // unnoticed. tokio reaps it if the runtime is still running.
        if let Some(child) = &self.child {
            if child.id().is_some() {
                let _ = child_setup::kill(self.pid, Signal::SIGTERM);
            }
        }
    }
}
