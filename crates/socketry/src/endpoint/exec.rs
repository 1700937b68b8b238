//! EXEC, SYSTEM and SHELL: a program run as a child process, whose standard input and output
//! are the endpoint (a byte stream).
//!
//! The child talks to socketry over one socket pair (its descriptors 0 and 1), or two pipes
//! with `pipes`; `fdin`/`fdout` put the channel on other numbers and `stderr` adds its
//! standard error. It gets no other descriptor of socketry's. It learns where the first
//! address's peer is from `SOCAT_PEERADDR`, `SOCAT_PEERPORT`, `SOCAT_SOCKADDR`,
//! `SOCAT_SOCKPORT` and their `SOCKETRY_` twins, and who a Unix peer is from
//! `SOCKETRY_PEERUID`, `SOCKETRY_PEERGID` and `SOCKETRY_PEERPID`; peer data never reaches its
//! command line.
//!
//! The child is a [`Process`] carried by the connection: when the relay is over, socketry
//! closes the channel, waits [`CLOSE_GRACE`] for the child to exit, then sends SIGTERM, waits
//! [`TERM_GRACE`], then SIGKILL, and always reaps it. With `nofork` (`start_direct`) there
//! is no channel: the program gets the first address's own descriptors and socketry waits
//! for it.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use nix::fcntl::OFlag;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use tokio::io::{AsyncRead, ReadBuf};

mod address_types;

pub use address_types::{Program, FAMILY};

use super::stdio::FdStream;
use super::{pty, terminal};
use crate::address::{OptionId, Options};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Connection, OpenContext};
use crate::endpoint::error::OpenError;
use crate::sys::process::{self as child_setup, ChildSetup, Credentials};

pub use crate::endpoint::peer::SocketAddresses;
pub use crate::endpoint::process::{Exit, Process, CLOSE_GRACE, TERM_GRACE};

/// Starts the program that `kind` names (EXEC, SYSTEM or SHELL).
pub fn open(
    kind: &Program,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    if options.flag(OptionId::Nofork, false) {
        return Err(OpenError::Refused(
            "nofork: the program takes the first address's own descriptors, so it must be the \
             second address, whole (not half of A!!B), and the first one socket, standard \
             streams, FD:n or a file"
                .to_owned(),
        ));
    }
    let (mut command, description, credentials) = prepare_command(kind, options, context)?;
    let fd_option = |id| options.count(id).and_then(|n| RawFd::try_from(n).ok());
    let fdin = fd_option(OptionId::FdIn).unwrap_or(0);
    let fdout = fd_option(OptionId::FdOut).unwrap_or(1);
    let unused = [
        (OptionId::FdOut, !context.access.reads(), "only writes to"),
        (OptionId::FdIn, !context.access.writes(), "only reads from"),
    ];
    if let Some((id, _, how)) = unused
        .iter()
        .find(|(id, unused, _)| *unused && options.has(*id))
    {
        return Err(OpenError::Refused(format!(
            "{}: the relay {how} this program, so that channel is never opened",
            id.def().name
        )));
    }
    if fdin == fdout {
        return Err(OpenError::Refused(format!(
            "fdin and fdout are both {fdin}: the program's input and output need two descriptors"
        )));
    }
    let with_stderr = options.flag(OptionId::Stderr, false);
    if with_stderr && (fdin == 2 || fdout == 2) {
        return Err(OpenError::Refused(
            "stderr cannot be combined with fdin=2 or fdout=2".to_owned(),
        ));
    }

    let with_pty = options.flag(OptionId::Pty, false)
        || options.flag(OptionId::Openpty, false)
        || options.flag(OptionId::Ptmx, false);
    if options.has(OptionId::Ctty) && !with_pty {
        return Err(OpenError::Refused(
            "ctty: the program gets a controlling terminal only with pty".to_owned(),
        ));
    }
    if let Some(named) = terminal::first(options).filter(|_| !with_pty) {
        return Err(OpenError::Refused(format!(
            "{}: terminal options apply to a program only with pty",
            named.def().name
        )));
    }
    if with_pty && options.flag(OptionId::Pipes, false) {
        return Err(OpenError::Refused(
            "pty and pipes cannot be combined: the program gets one or the other".to_owned(),
        ));
    }

    let io_error = |action: &str| OpenError::io(format!("{action} for {description}"));
    let (reader, writer, child_in, child_out) = if with_pty {
        let pair = pty::allocate(options)?;
        tracing::info!("{description}: pseudo-terminal {}", pair.name.display());
        let child_out = pair
            .slave
            .try_clone()
            .map_err(io_error("duplicating the pseudo-terminal"))?;
        let (reader, writer) = pty::master_streams(pair.master, &description)?;
        (reader, writer, pair.slave, child_out)
    } else if options.flag(OptionId::Pipes, false) {
        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| io_error("creating a pipe")(e.into()))
        };
        let (child_in, ours_w) = pipe()?;
        let (ours_r, child_out) = pipe()?;
        let stream = |fd| FdStream::from_owned(fd).map_err(io_error("registering a pipe"));
        (
            Reader::Bytes(Box::new(stream(ours_r)?)),
            Writer::Bytes(Box::new(stream(ours_w)?)),
            child_in,
            child_out,
        )
    } else {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| io_error("creating a socket pair")(e.into()))?;
        let theirs_out = theirs
            .try_clone()
            .map_err(io_error("duplicating the socket pair"))?;
        let ours = std::os::unix::net::UnixStream::from(ours);
        ours.set_nonblocking(true)
            .map_err(io_error("setting up the socket pair"))?;
        let ours = tokio::net::UnixStream::from_std(ours)
            .map_err(io_error("registering the socket pair"))?;
        let (read, write) = ours.into_split();
        (
            Reader::Bytes(Box::new(ResetIsEof(read))),
            Writer::Bytes(Box::new(write)),
            theirs,
            theirs_out,
        )
    };
    let child_err = with_stderr
        .then(|| child_out.try_clone())
        .transpose()
        .map_err(io_error("duplicating the program's output"))?;
    // A program the relay only reads from keeps socketry's own standard input (socat's
    // `SYSTEM:'cmd >&6',fdout=6!!...` idiom relies on it), and one it only writes to keeps
    // socketry's standard output.
    let access = context.access;
    let mut given: Vec<(OwnedFd, RawFd)> = Vec::with_capacity(3);
    if access.writes() {
        given.push((child_in, fdin));
    }
    if access.reads() {
        given.push((child_out, fdout));
    }
    if let Some(err) = child_err {
        given.push((err, 2));
    }
    let reader = access.reads().then_some(reader);
    let writer = access.writes().then_some(writer);
    let setup = ChildSetup {
        channels: given
            .iter()
            .map(|(fd, target)| (fd.as_raw_fd(), *target))
            .collect(),
        setsid: options.flag(OptionId::Setsid, false),
        setpgid: options.flag(OptionId::Setpgid, false),
        // The terminal is the program's controlling terminal, as for a login session.
        controlling_terminal: (with_pty && options.flag(OptionId::Ctty, true))
            .then_some(if access.writes() { fdin } else { fdout }),
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
    connection
        .processes
        .push(Process::new(child, pid, description, with_pty));
    Ok(connection)
}

/// `nofork`: starts the program with `input` and `output`, descriptors of the first address,
/// as its own, so that no relay stands between them; `None` leaves it socketry's standard
/// input or output. The caller closes its copies once the program has started.
pub(crate) fn start_direct(
    kind: &Program,
    options: &Options,
    context: &OpenContext,
    input: Option<RawFd>,
    output: Option<RawFd>,
) -> Result<Process, OpenError> {
    let channel_options = [
        OptionId::Pty,
        OptionId::Openpty,
        OptionId::Ptmx,
        OptionId::Ctty,
        OptionId::Pipes,
    ];
    if let Some(id) = channel_options
        .into_iter()
        .find(|id| options.has(*id))
        .or_else(|| terminal::first(options))
    {
        return Err(OpenError::Refused(format!(
            "{}: with nofork the program has the first address's descriptors, not a channel of socketry's",
            id.def().name
        )));
    }
    let (mut command, description, credentials) = prepare_command(kind, options, context)?;
    let fd_option = |id| options.count(id).and_then(|n| RawFd::try_from(n).ok());
    let mut channels = Vec::with_capacity(3);
    if let Some(fd) = input {
        channels.push((fd, fd_option(OptionId::FdIn).unwrap_or(0)));
    }
    if let Some(fd) = output {
        channels.push((fd, fd_option(OptionId::FdOut).unwrap_or(1)));
        if options.flag(OptionId::Stderr, false) {
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
        setsid: options.flag(OptionId::Setsid, false),
        setpgid: options.flag(OptionId::Setpgid, false),
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
    Ok(Process::new(child, pid, description, false))
}

/// The program `kind` names, with its arguments, environment, directory and user: everything
/// but its channel. Returns the command, its description for logs, and who it runs as.
fn prepare_command(
    kind: &Program,
    options: &Options,
    context: &OpenContext,
) -> Result<(tokio::process::Command, String, Option<Credentials>), OpenError> {
    let (program, args, description) = match kind {
        Program::Exec(argv) => {
            let (program, args) = argv
                .split_first()
                .ok_or_else(|| OpenError::Refused("EXEC needs a program".to_owned()))?;
            (
                program.clone(),
                args.to_vec(),
                format!("EXEC {}", crate::address::join_command_line(argv)),
            )
        }
        Program::System(command) => (
            "/bin/sh".to_owned(),
            vec!["-c".to_owned(), command.clone()],
            format!("SYSTEM {command}"),
        ),
        Program::Shell(command) => (
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".to_owned()),
            vec!["-c".to_owned(), command.clone()],
            format!("SHELL {command}"),
        ),
    };

    let mut command = tokio::process::Command::new(&program);
    command.args(&args);
    // As execvp in socat: a program named by a path sees only its file name as argv[0].
    if let Some((_, name)) = program.rsplit_once('/') {
        command.arg0(name);
    }
    if let Some(addresses) = context.first_addresses {
        let ports = [
            ("PEERPORT", addresses.peer.port()),
            ("SOCKPORT", addresses.local.port()),
        ];
        let ips = [
            ("PEERADDR", addresses.peer.ip()),
            ("SOCKADDR", addresses.local.ip()),
        ];
        for (name, port) in ports {
            command.env(format!("SOCAT_{name}"), port.to_string());
            command.env(format!("SOCKETRY_{name}"), port.to_string());
        }
        for (name, ip) in ips {
            command.env(format!("SOCAT_{name}"), socat_ip_text(ip));
            command.env(format!("SOCKETRY_{name}"), ip.to_string());
        }
    }
    if let Some(peer) = context.first_credentials {
        command
            .env("SOCKETRY_PEERUID", peer.uid.to_string())
            .env("SOCKETRY_PEERGID", peer.gid.to_string())
            .env("SOCKETRY_PEERPID", peer.pid.to_string());
    }
    for (name, value) in options.assignments() {
        command.env(name, value);
    }
    if let Some(dir) = options.text(OptionId::Chdir) {
        command.current_dir(dir);
    }
    let credentials = options
        .text(OptionId::Su)
        .map(|user| switch_user(&mut command, user))
        .transpose()?;

    Ok((command, description, credentials))
}

/// An address as socat writes it into a program's environment: IPv6 in brackets with every
/// group written out (`[0000:...:0001]`), so that scripts written for socat keep working.
fn socat_ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:04x}")).collect();
            format!("[{}]", groups.join(":"))
        }
    }
}

/// The reading half of the socket pair: a program that exits with data it has not read
/// makes our read fail with ECONNRESET, which for a program's output is its end, not an error.
struct ResetIsEof<R>(R);

/// A reset reads as EOF here but fails a splice, so this stream keeps to the copy path.
impl<R: AsyncRead + Send + Unpin> crate::channel::ByteRead for ResetIsEof<R> {}

impl<R: AsyncRead + Unpin> AsyncRead for ResetIsEof<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// Looks `user` up (a name or a uid) and arranges for the child to run as that user with its
/// groups, home and name in the environment, as socat's `su` does.
fn switch_user(
    command: &mut tokio::process::Command,
    user: &str,
) -> Result<Credentials, OpenError> {
    use nix::unistd::{Uid, User};
    let found = match user.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(user),
    }
    .map_err(|e| OpenError::Io {
        action: format!("looking up user \"{user}\""),
        source: e.into(),
    })?
    .ok_or_else(|| OpenError::Refused(format!("su: no such user \"{user}\"")))?;
    let name = std::ffi::CString::new(found.name.clone())
        .map_err(|_| OpenError::Refused(format!("su: user name \"{}\" has a NUL", found.name)))?;
    let groups = nix::unistd::getgrouplist(&name, found.gid)
        .map_err(|e| OpenError::Io {
            action: format!("looking up the groups of user \"{}\"", found.name),
            source: e.into(),
        })?
        .into_iter()
        .map(|g| g.as_raw())
        .collect();
    command
        .env("USER", &found.name)
        .env("LOGNAME", &found.name)
        .env("HOME", &found.dir)
        .env("SHELL", &found.shell);
    Ok(Credentials {
        uid: found.uid.as_raw(),
        gid: found.gid.as_raw(),
        groups,
    })
}
