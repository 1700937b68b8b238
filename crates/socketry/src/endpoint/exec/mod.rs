//! EXEC, SYSTEM and SHELL: a program run as a child process, whose standard input and output
//! are the endpoint (a byte stream).
//!
//! The child talks to socketry over one socket pair (its descriptors 0 and 1), or two pipes
//! with `pipes`, or a pseudo-terminal with `pty`; `fdin`/`fdout` put the channel on other
//! numbers and `stderr` adds its standard error. It gets no other descriptor of socketry's.
//! It learns where the first address's peer is from `SOCAT_PEERADDR`, `SOCAT_PEERPORT`,
//! `SOCAT_SOCKADDR`, `SOCAT_SOCKPORT` and their `SOCKETRY_` twins, and who a Unix peer is
//! from `SOCKETRY_PEERUID`, `SOCKETRY_PEERGID` and `SOCKETRY_PEERPID`; peer data never
//! reaches its command line.
//!
//! The address's options are read once, when it is parsed, into a [`ProgramSpec`]
//! ([`spec`]): a combination that cannot work, or a user `su` names that does not exist, is
//! refused then, before anything listens. Opening makes the channel (`channel`) and the
//! command (`environment`), then starts the child.
//!
//! The child is a [`Process`] carried by the connection: when the relay is
//! over, socketry closes the channel, waits [`CLOSE_GRACE`] for the child to exit, then
//! sends SIGTERM, waits [`TERM_GRACE`], then SIGKILL, and always reaps it. With `nofork`
//! (`start_direct`) there is no channel: the program gets the first address's own
//! descriptors and socketry waits for it.

mod address_types;
mod channel;
mod environment;
pub mod spec;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;

use crate::address::{escape, join_command_line, AddressType, FamilySpec, ParseErrorKind};
use crate::address::{OptionId, Options};
use crate::endpoint::connection::{Connection, OpenContext};
use crate::endpoint::error::OpenError;
use crate::endpoint::opened::Opened;
use crate::sys::process::{self as child_setup, ChildSetup};

pub use crate::endpoint::peer::SocketAddresses;
pub use crate::endpoint::process::{Exit, Process, CLOSE_GRACE, TERM_GRACE};
pub use address_types::{Program, FAMILY};
pub use spec::{ProgramIo, ProgramPty, ProgramSpec, SocketType};

/// The options that ask for a pseudo-terminal, which `nofork` accepts as socat does and
/// logs that it has no terminal to give.
const PTY_CHOICES: [OptionId; 3] = [OptionId::Pty, OptionId::Openpty, OptionId::Ptmx];

/// Whether a program with these options takes the first address's descriptors (`nofork`).
pub fn is_nofork(options: &Options) -> bool {
    options.flag(OptionId::Nofork, false)
}

/// The program spec of a parsed address; one built by hand is checked as the parser would.
fn program_spec(program: &Program, options: &Options) -> Result<ProgramSpec, OpenError> {
    ProgramSpec::parse(program, options).map_err(super::combinations::refused)
}

/// Starts `program` (EXEC, SYSTEM or SHELL).
pub fn open(
    program: &Program,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let spec = program_spec(program, options)?;
    if spec.io == ProgramIo::FirstAddress {
        return Err(OpenError::Refused(
            "nofork: the program takes the first address's own descriptors, so it must be the \
             second address, whole (not half of A!!B), and the first one socket, standard \
             streams, FD:n or a file"
                .to_owned(),
        ));
    }
    let (fdin, fdout) = (spec.input_fd(), spec.output_fd());
    // Which directions the relay uses is known only now (`-u`, `-U`, half of A!!B).
    let unused = [
        (
            "fdout",
            spec.fdout.is_some(),
            !context.access.reads(),
            "only writes to",
        ),
        (
            "fdin",
            spec.fdin.is_some(),
            !context.access.writes(),
            "only reads from",
        ),
    ];
    if let Some((name, _, _, how)) = unused
        .iter()
        .find(|(_, given, unused, _)| *given && *unused)
    {
        return Err(OpenError::Refused(format!(
            "{name}: the relay {how} this program, so that channel is never opened"
        )));
    }

    let (mut command, description, credentials) = environment::command(&spec, context);
    let io_error = |action: &str| OpenError::io(format!("{action} for {description}"));
    let channel = channel::make(&spec, &description)?;
    let child_err = spec
        .stderr
        .then(|| channel.child_out.try_clone())
        .transpose()
        .map_err(io_error("duplicating the program's output"))?;
    // A program the relay only reads from keeps socketry's own standard input (socat's
    // `SYSTEM:'cmd >&6',fdout=6!!...` idiom relies on it), and one it only writes to keeps
    // socketry's standard output.
    let access = context.access;
    let mut given: Vec<(OwnedFd, RawFd)> = Vec::with_capacity(3);
    if access.writes() {
        given.push((channel.child_in, fdin));
    }
    if access.reads() {
        given.push((channel.child_out, fdout));
    }
    if let Some(err) = child_err {
        given.push((err, 2));
    }
    let terminal = channel.terminal;
    let reader = access.reads().then_some(channel.reader);
    let writer = access.writes().then_some(channel.writer);
    let on_terminal = matches!(spec.io, ProgramIo::Pty(_));
    let controlling_terminal = match &spec.io {
        ProgramIo::Pty(pty) => pty.controlling_terminal,
        _ => false,
    };
    let setup = ChildSetup {
        channels: given
            .iter()
            .map(|(fd, target)| (fd.as_raw_fd(), *target))
            .collect(),
        setsid: spec.setsid,
        setpgid: spec.setpgid,
        umask: spec.umask,
        // The terminal is the program's controlling terminal, as for a login session.
        controlling_terminal: controlling_terminal.then_some(if access.writes() {
            fdin
        } else {
            fdout
        }),
        credentials,
    };
    child_setup::prepare(&mut command, setup).map_err(io_error("preparing"))?;
    let child = command.spawn().map_err(|source| OpenError::Io {
        action: format!("starting {description}"),
        source,
    })?;
    // The child has its copies; ours must close so that it sees EOF when we are done.
    drop(given);
    let pid = child.id().unwrap_or(0);
    tracing::info!("started {description} as pid {pid}");
    let mut connection = Connection::new(reader, writer, format!("{description} (pid {pid})"));
    let mut process =
        Process::new(child, pid, description, on_terminal).forwarding(&spec.forwarded_signals);
    if let Some(terminal) = terminal {
        process.hold_terminal(terminal);
    }
    connection.processes.push(process);
    Ok(connection)
}

/// `nofork`: starts the program with `input` and `output`, descriptors of the first address,
/// as its own, so that no relay stands between them; `None` leaves it socketry's standard
/// input or output. The caller closes its copies once the program has started.
pub(crate) fn start_direct(
    program: &Program,
    options: &Options,
    context: &OpenContext,
    input: Option<RawFd>,
    output: Option<RawFd>,
) -> Result<Process, OpenError> {
    let spec = program_spec(program, options)?;
    let (mut command, description, credentials) = environment::command(&spec, context);
    if let Some(pty) = PTY_CHOICES.into_iter().find(|id| options.flag(*id, false)) {
        tracing::warn!(
            "{}: {description} runs on the first address's descriptors with nofork, not on a pseudo-terminal",
            pty.def().name
        );
    }
    let mut channels = Vec::with_capacity(3);
    if let Some(fd) = input {
        channels.push((fd, spec.input_fd()));
    }
    if let Some(fd) = output {
        channels.push((fd, spec.output_fd()));
        if spec.stderr {
            channels.push((fd, 2));
        }
    }
    for &(fd, _) in &channels {
        // A program expects blocking descriptors; socketry is done with these.
        if let Ok(flags) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFL) {
            let blocking = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
            let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFL(blocking));
        }
    }
    let setup = ChildSetup {
        channels,
        setsid: spec.setsid,
        setpgid: spec.setpgid,
        umask: spec.umask,
        controlling_terminal: None,
        credentials,
    };
    let io_error = |action: &str| OpenError::io(format!("{action} for {description}"));
    child_setup::prepare(&mut command, setup).map_err(io_error("preparing"))?;
    let child = command.spawn().map_err(|source| OpenError::Io {
        action: format!("starting {description}"),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    tracing::info!(
        "started {description} as pid {pid} on the first address's descriptors (nofork)"
    );
    Ok(Process::new(child, pid, description, false).forwarding(&spec.forwarded_signals))
}

impl FamilySpec for Program {
    fn address_type(&self) -> &'static AddressType {
        match self {
            Program::Exec(_) => &address_types::EXEC.ty,
            Program::System(_) => &address_types::SYSTEM.ty,
            Program::Shell(_) => &address_types::SHELL.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::Exec(argv) => write!(f, ":{}", escape(&join_command_line(argv))),
            Program::System(command) | Program::Shell(command) => {
                write!(f, ":{}", escape(command))
            }
        }
    }

    /// A program's options are read into its [`ProgramSpec`](ProgramSpec) now, so
    /// that what cannot run is refused before anything listens.
    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        ProgramSpec::parse(self, options).map(drop)
    }
}

impl Program {
    /// Starts the program, its channel connected as the options say.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        open(self, options, context).map(Opened::Connection)
    }
}
