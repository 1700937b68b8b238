//! PTY: a pseudo-terminal whose master side is the endpoint (a byte stream) and whose slave
//! side (`/dev/pts/N`, logged, and reachable through `link=path`) is for another program to
//! open, like a serial line. `user`, `group` and `mode` apply to the slave side.
//!
//! socketry holds the slave open itself, so programs may open and close it in turn without
//! ending the relay. With `wait-slave` it does not: opening waits until a program has the
//! slave open, and when the last one closes it the master reads EOF.
//!
//! Writing EOF to a terminal is only possible in canonical mode, by sending its end-of-file
//! character; the terminal's writer does that on shutdown. A raw terminal has no EOF but a
//! hang-up, which happens when socketry closes the master.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use tokio::io::AsyncWrite;

use super::stdio::FdStream;
use super::terminal;
use crate::address::{OptionId, Options};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::endpoint::guard::FileGuard;

/// How often `wait-slave` looks for a program on the slave side, unless `pty-interval` says.
const DEFAULT_WAIT_INTERVAL: Duration = Duration::from_secs(1);

/// A new pseudo-terminal: both sides close-on-exec, and the slave's path.
#[derive(Debug)]
pub struct Pair {
    /// The side socketry reads and writes: what a program writes to its terminal.
    pub master: OwnedFd,
    /// The side a program gets as its terminal (its standard streams).
    pub slave: OwnedFd,
    /// The slave's device path (`/dev/pts/N`), for `link=` and logs.
    pub name: PathBuf,
}

/// How a pseudo-terminal is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// openpty(3), the default.
    Openpty,
    /// Opening /dev/ptmx (`ptmx`).
    Ptmx,
}

impl Allocation {
    /// The allocation `options` ask for.
    pub fn from_options(options: &Options) -> Allocation {
        if options.flag(OptionId::Ptmx, false) {
            Allocation::Ptmx
        } else {
            Allocation::Openpty
        }
    }
}

/// Allocates a pseudo-terminal and applies `options`' terminal settings to it.
pub fn allocate(options: &Options) -> Result<Pair, OpenError> {
    allocate_with(Allocation::from_options(options), options)
}

/// Allocates a pseudo-terminal as `allocation` says and applies the terminal settings among
/// `settings` to it.
pub fn allocate_with(allocation: Allocation, settings: &Options) -> Result<Pair, OpenError> {
    let failed = |action: &str| {
        let action = action.to_owned();
        move |e: nix::errno::Errno| OpenError::Io {
            action,
            source: e.into(),
        }
    };
    let pair = if allocation == Allocation::Ptmx {
        open_ptmx().map_err(failed("allocating a pseudo-terminal through /dev/ptmx"))?
    } else {
        nix::pty::openpty(None, None).map_err(failed("allocating a pseudo-terminal"))?
    };
    for fd in [&pair.master, &pair.slave] {
        nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(failed("setting up a pseudo-terminal"))?;
    }
    let name = nix::unistd::ttyname(pair.slave.as_fd())
        .map_err(failed("naming the pseudo-terminal's slave side"))?;
    terminal::apply(pair.slave.as_fd(), settings, &name.display().to_string())?;
    Ok(Pair {
        master: pair.master,
        slave: pair.slave,
        name,
    })
}

/// The POSIX way to a pseudo-terminal: open /dev/ptmx, unlock its slave, open that.
fn open_ptmx() -> nix::Result<nix::pty::OpenptyResult> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let name = nix::pty::ptsname_r(&master)?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(crate::sys::fd::own)?;
    Ok(nix::pty::OpenptyResult {
        // into_raw_fd gives up PtyMaster's ownership: the descriptor is ours alone.
        master: crate::sys::fd::own(std::os::fd::IntoRawFd::into_raw_fd(master)),
        slave,
    })
}

/// Opens the PTY address.
pub async fn open(options: &Options) -> Result<Connection, OpenError> {
    let pair = allocate(options)?;
    // `user`, `group` and `mode` on the slave side, before its name is logged or linked.
    super::descriptor::set_owner_and_mode(pair.slave.as_fd(), options, &pair.name)?;
    let link = options
        .text(OptionId::Link)
        .map(|path| create_link(&pair.name, Path::new(path)))
        .transpose()?;
    // Logged once the link exists: whoever waits for this line may open the link at once.
    tracing::info!("PTY is {}", pair.name.display());
    let description = format!("PTY {}", pair.name.display());
    let slave = if options.flag(OptionId::WaitSlave, false) {
        drop(pair.slave);
        let interval = options
            .seconds(OptionId::PtyInterval)
            .unwrap_or(DEFAULT_WAIT_INTERVAL);
        wait_for_slave(&pair.master, interval).await?;
        tracing::info!("{} opened by a program", pair.name.display());
        None
    } else {
        Some(pair.slave)
    };
    let (reader, writer) = master_streams(pair.master, &description)?;
    let mut connection = Connection::new(Some(reader), Some(writer), description);
    if let Some(slave) = slave {
        connection.keep_alive(slave);
    }
    if let Some(link) = link {
        connection.keep_alive(link);
    }
    Ok(connection)
}

/// The master side as the endpoint's reader and writer.
pub fn master_streams(master: OwnedFd, description: &str) -> Result<(Reader, Writer), OpenError> {
    let failed = |action: &str| OpenError::io(format!("{action} {description}"));
    let writing = master
        .try_clone()
        .map_err(failed("duplicating the master side of"))?;
    let control = master
        .try_clone()
        .map_err(failed("duplicating the master side of"))?;
    let reader = FdStream::from_owned(master).map_err(failed("registering"))?;
    let writer = FdStream::from_owned(writing).map_err(failed("registering"))?;
    Ok((
        Reader::Bytes(Box::new(reader)),
        Writer::Bytes(Box::new(TerminalWriter {
            stream: writer,
            control,
            at_line_start: true,
            eof_pending: None,
        })),
    ))
}

/// Polls until a program has opened the slave side: until then the master reports a hang-up.
async fn wait_for_slave(master: &OwnedFd, interval: Duration) -> Result<(), OpenError> {
    loop {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => {
                let events = fds[0].revents().unwrap_or(PollFlags::empty());
                // Data waiting means a program came, even one that has already gone again
                // (`echo hi > link` between two looks).
                if !events.contains(PollFlags::POLLHUP) || events.contains(PollFlags::POLLIN) {
                    return Ok(());
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                return Err(OpenError::Io {
                    action: "waiting for a program on the pseudo-terminal".to_owned(),
                    source: e.into(),
                })
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// The master side's writing half. Its shutdown sends the terminal's end-of-file character
/// when the terminal is in canonical mode (twice after a partial line: the first only ends
/// the line), so that the program on the slave side reads EOF.
struct TerminalWriter {
    stream: FdStream,
    /// Another descriptor of the master, for reading the terminal's settings.
    control: OwnedFd,
    at_line_start: bool,
    /// The end-of-file character and how many are still to be written.
    eof_pending: Option<(u8, u8)>,
}

/// Written by copying: it turns the relay's EOF into the terminal's EOF character.
impl crate::channel::ByteWrite for TerminalWriter {}

impl AsyncWrite for TerminalWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.stream).poll_write(cx, data))?;
        if let Some(&last) = data[..n].last() {
            self.at_line_start = last == b'\n';
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.eof_pending.is_none() {
            let count = if self.at_line_start { 1 } else { 2 };
            self.eof_pending =
                Some(terminal::eof_character(self.control.as_fd()).map_or((0, 0), |c| (c, count)));
        }
        while let Some((character, left @ 1..)) = self.eof_pending {
            match ready!(Pin::new(&mut self.stream).poll_write(cx, &[character])) {
                Ok(_) => self.eof_pending = Some((character, left - 1)),
                // Nobody has the slave open any more: there is nobody to tell.
                Err(_) => self.eof_pending = Some((character, 0)),
            }
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Makes the `link=path` symbolic link to the slave side, replacing one left at `path` by an
/// earlier run (never a file that is not a symbolic link); its guard removes it when the
/// endpoint closes.
fn create_link(target: &Path, path: &Path) -> Result<FileGuard, OpenError> {
    let failed = |e: io::Error| OpenError::Io {
        action: format!("linking {} to {}", path.display(), target.display()),
        source: e,
    };
    match std::os::unix::fs::symlink(target, path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let existing = std::fs::symlink_metadata(path).map_err(failed)?;
            if !existing.file_type().is_symlink() {
                return Err(OpenError::Refused(format!(
                    "link={}: the path exists and is not a symbolic link",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(failed)?;
            std::os::unix::fs::symlink(target, path).map_err(failed)?;
        }
        Err(e) => return Err(failed(e)),
    }
    Ok(FileGuard::symlink(path, target))
}

// ---- The family's address type: PTY ----

use crate::address::{AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// A new pseudo-terminal. It takes no parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PtySpec;

static PTY: Definition<PtySpec> = Definition {
    ty: AddressType::new(
        "PTY",
        &[],
        &[],
        Groups::ALL
            .union(Groups::STREAM)
            .union(Groups::TERMINAL)
            .union(Groups::PTY),
        "a new pseudo-terminal; another program opens its slave side (logged, or link=path)",
    ),
    parse: |_| Ok(PtySpec),
};

/// The pseudo-terminal family: its address type and features.
pub static FAMILY: FamilyTypes<PtySpec> = FamilyTypes {
    features: &["PTY", "TERMIOS"],
    types: &[&PTY],
};

impl FamilySpec for PtySpec {
    fn address_type(&self) -> &'static AddressType {
        &PTY.ty
    }

    fn fmt_params(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl PtySpec {
    /// Allocates the pseudo-terminal.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(options).await.map(Opened::Connection)
    }
}
