//! Standard streams and inherited descriptors (`STDIO`, `STDIN`, `STDOUT`, `STDERR`, `FD:n`)
//! as byte streams.
//!
//! A pollable descriptor (pipe, socket, terminal) is switched to non-blocking mode and driven
//! by the reactor; its original mode is restored when socketry is done with it. A regular file
//! or `/dev/null` cannot be polled, so it is read and written on tokio's blocking pool.
//! Shutting down the writing half retires the descriptor (a socket is shut down for writing,
//! anything else is replaced by `/dev/null`), so the reader on the other end sees EOF even
//! though the process keeps the descriptor number.
//!
//! A polled socket or pipe offers its descriptor to the relay, which splices it; a terminal
//! or other device does not (a terminal's EIO is its EOF, which a splice would not know).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use nix::fcntl::OFlag;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use crate::channel::{ByteRead, ByteWrite, Descriptor};
use crate::sys;
use crate::sys::fd::{self, FileKind};

/// A descriptor socketry reads from or writes to, pollable or not.
enum Inner {
    Polled { fd: AsyncFd<OwnedFd>, flags: OFlag },
    Blocking(tokio::fs::File),
    Retired,
}

/// One direction of an inherited descriptor.
pub struct FdStream {
    inner: Inner,
    /// The number the descriptor was inherited as, retired on shutdown; `None` when socketry
    /// created the descriptor, which shutdown simply closes.
    original: Option<RawFd>,
    kind: FileKind,
}

impl std::fmt::Debug for FdStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FdStream")
            .field("fd", &self.original)
            .field("kind", &self.kind)
            .finish()
    }
}

impl FdStream {
    /// Takes over descriptor `original` (through a close-on-exec duplicate).
    pub fn open(original: RawFd) -> io::Result<FdStream> {
        FdStream::with_owned(fd::duplicate(original)?, Some(original))
    }

    /// Wraps a descriptor socketry created itself (a pipe end); shutting it down closes it.
    pub fn from_owned(owned: OwnedFd) -> io::Result<FdStream> {
        FdStream::with_owned(owned, None)
    }

    fn with_owned(owned: OwnedFd, original: Option<RawFd>) -> io::Result<FdStream> {
        let kind = fd::file_kind(owned.as_fd())?;
        let inner = if kind == FileKind::Regular {
            Inner::Blocking(tokio::fs::File::from_std(std::fs::File::from(owned)))
        } else {
            let flags = fd::set_nonblocking(owned.as_fd(), true)?;
            match crate::sys::try_register(owned) {
                Ok(fd) => Inner::Polled { fd, flags },
                // epoll refuses descriptors that cannot be polled, such as /dev/null.
                Err((e, owned)) if e.raw_os_error() == Some(nix::libc::EPERM) => {
                    fd::restore_nonblocking(owned.as_fd(), flags);
                    Inner::Blocking(tokio::fs::File::from_std(std::fs::File::from(owned)))
                }
                Err((e, _)) => return Err(e),
            }
        };
        Ok(FdStream {
            inner,
            original,
            kind,
        })
    }

    fn release(&mut self) {
        if let Inner::Polled { fd, flags } = std::mem::replace(&mut self.inner, Inner::Retired) {
            fd::restore_nonblocking(fd.get_ref().as_fd(), flags);
        }
    }
}

impl Drop for FdStream {
    fn drop(&mut self) {
        self.release();
    }
}

impl Descriptor for FdStream {
    fn poll_ready(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<()>> {
        match &self.inner {
            Inner::Polled { fd, .. } if interest.is_writable() => {
                ready!(fd.poll_write_ready(cx))?.retain_ready();
                Poll::Ready(Ok(()))
            }
            Inner::Polled { fd, .. } => {
                ready!(fd.poll_read_ready(cx))?.retain_ready();
                Poll::Ready(Ok(()))
            }
            _ => Poll::Ready(Err(retired())),
        }
    }

    fn try_io(
        &self,
        interest: Interest,
        op: &mut dyn FnMut(std::os::fd::BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        match &self.inner {
            Inner::Polled { fd, .. } => fd.try_io(interest, |owned| op(owned.as_fd())),
            _ => Err(retired()),
        }
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match &self.inner {
            Inner::Polled { fd, .. } => Some(fd.get_ref().as_fd()),
            _ => None,
        }
    }
}

impl FdStream {
    fn spliceable(&self) -> Option<&dyn Descriptor> {
        let polled = matches!(self.inner, Inner::Polled { .. });
        let kind = matches!(self.kind, FileKind::Socket | FileKind::Fifo);
        (polled && kind).then_some(self as &dyn Descriptor)
    }
}

impl ByteRead for FdStream {
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        self.spliceable()
    }
}

impl ByteWrite for FdStream {
    fn descriptor(&self) -> Option<&dyn Descriptor> {
        self.spliceable()
    }
}

fn retired() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "descriptor already shut down")
}

impl AsyncRead for FdStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Polled { fd, .. } => {
                let unfilled = buf.initialize_unfilled();
                let read = ready!(sys::ready::poll_read(fd, cx, |fd| {
                    nix::unistd::read(fd.as_raw_fd(), unfilled).map_err(io::Error::from)
                }));
                match read {
                    Ok(n) => {
                        buf.advance(n);
                        Poll::Ready(Ok(()))
                    }
                    // A terminal whose other end is gone reads EIO: that is its EOF.
                    Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => Poll::Ready(Ok(())),
                    Err(e) => Poll::Ready(Err(e)),
                }
            }
            Inner::Blocking(file) => Pin::new(file).poll_read(cx, buf),
            Inner::Retired => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.inner {
            Inner::Polled { fd, .. } => sys::ready::poll_write(fd, cx, |fd| {
                nix::unistd::write(fd, data).map_err(io::Error::from)
            }),
            Inner::Blocking(file) => Pin::new(file).poll_write(cx, data),
            Inner::Retired => Poll::Ready(Err(retired())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.inner {
            Inner::Blocking(file) => Pin::new(file).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Inner::Blocking(file) = &mut self.inner {
            ready!(Pin::new(file).poll_flush(cx))?;
        }
        if matches!(self.inner, Inner::Retired) {
            return Poll::Ready(Ok(()));
        }
        if self.kind == FileKind::Socket {
            if let Inner::Polled { fd, .. } = &self.inner {
                let _ = nix::sys::socket::shutdown(
                    fd.get_ref().as_raw_fd(),
                    nix::sys::socket::Shutdown::Write,
                );
            }
            self.release();
            return Poll::Ready(Ok(()));
        }
        self.release();
        // Regular files keep their number: nothing reads EOF from them.
        if let (Some(original), false) = (self.original, self.kind == FileKind::Regular) {
            fd::retire(original)?;
        }
        Poll::Ready(Ok(()))
    }
}

// ---- The family's address types: STDIO, STDIN, STDOUT, STDERR, FD ----

use crate::address::OptionId;
use crate::address::{
    AddressType, Definition, FamilySpec, FamilyTypes, Groups, Options, Shorthand,
};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Connection, OpenContext};
use crate::endpoint::descriptor;
use crate::endpoint::error::OpenError;
use crate::endpoint::opened::Opened;
use crate::endpoint::terminal;

/// Which standard stream, or which inherited descriptor, an address names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StdioSpec {
    /// Standard input and output (`STDIO`, `-`).
    Stdio,
    /// Standard input, read only.
    Stdin,
    /// Standard output, write only.
    Stdout,
    /// Standard error, write only.
    Stderr,
    /// An inherited file descriptor (`FD:n`, or the bare number).
    Fd(i32),
}

const STREAM_FD: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::TERMINAL)
    .union(Groups::DESCRIPTOR);

static STDIO: Definition<StdioSpec> = Definition {
    ty: AddressType::new(
        "STDIO",
        &[],
        &[],
        STREAM_FD,
        "standard input and output (also written -)",
    )
    .shorthand(Shorthand::Dash),
    parse: |_| Ok(StdioSpec::Stdio),
};
static STDIN: Definition<StdioSpec> = Definition {
    ty: AddressType::new("STDIN", &[], &[], STREAM_FD, "standard input, read only"),
    parse: |_| Ok(StdioSpec::Stdin),
};
static STDOUT: Definition<StdioSpec> = Definition {
    ty: AddressType::new("STDOUT", &[], &[], STREAM_FD, "standard output, write only"),
    parse: |_| Ok(StdioSpec::Stdout),
};
static STDERR: Definition<StdioSpec> = Definition {
    ty: AddressType::new("STDERR", &[], &[], STREAM_FD, "standard error, write only"),
    parse: |_| Ok(StdioSpec::Stderr),
};
static FD: Definition<StdioSpec> = Definition {
    ty: AddressType::new(
        "FD",
        &[],
        &["fdnum"],
        STREAM_FD,
        "an inherited file descriptor (also written as the bare number)",
    )
    .shorthand(Shorthand::Number),
    parse: |p| Ok(StdioSpec::Fd(p.descriptor(0)?)),
};

/// The standard streams' family: its address types and features.
pub static FAMILY: FamilyTypes<StdioSpec> = FamilyTypes {
    features: &["STDIO", "FDNUM"],
    types: &[&STDIO, &STDIN, &STDOUT, &STDERR, &FD],
};

impl FamilySpec for StdioSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            StdioSpec::Stdio => &STDIO.ty,
            StdioSpec::Stdin => &STDIN.ty,
            StdioSpec::Stdout => &STDOUT.ty,
            StdioSpec::Stderr => &STDERR.ty,
            StdioSpec::Fd(_) => &FD.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StdioSpec::Fd(n) => write!(f, ":{n}"),
            StdioSpec::Stdio | StdioSpec::Stdin | StdioSpec::Stdout | StdioSpec::Stderr => Ok(()),
        }
    }
}

impl StdioSpec {
    /// Opens the streams, only the ways `context.access` uses for `STDIO` and `FD`.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        let access = context.access;
        let connection = match self {
            StdioSpec::Stdio => stdio_connection(
                access.reads().then_some(0),
                access.writes().then_some(1),
                "STDIO",
                options,
            )?,
            StdioSpec::Stdin => stdio_connection(Some(0), None, "STDIN", options)?,
            StdioSpec::Stdout => stdio_connection(None, Some(1), "STDOUT", options)?,
            StdioSpec::Stderr => stdio_connection(None, Some(2), "STDERR", options)?,
            StdioSpec::Fd(n) => stdio_connection(
                access.reads().then_some(*n),
                access.writes().then_some(*n),
                &format!("FD:{n}"),
                options,
            )?,
        };
        Ok(Opened::Connection(connection))
    }
}

/// Standard streams or an inherited descriptor; terminal options change the terminal behind
/// them until the connection is dropped.
fn stdio_connection(
    read: Option<i32>,
    write: Option<i32>,
    name: &str,
    options: &Options,
) -> Result<Connection, OpenError> {
    let restore = if terminal::any(options) {
        // The first of the descriptors that is a terminal (both usually are the same one).
        let fd = [read, write]
            .into_iter()
            .flatten()
            .find(|fd| nix::unistd::isatty(*fd).unwrap_or(false))
            .or(read.or(write))
            .unwrap_or(0);
        let terminal = crate::sys::fd::duplicate(fd).map_err(OpenError::io(format!(
            "opening {name} (file descriptor {fd})"
        )))?;
        Some(terminal::Restore::apply(
            terminal,
            options,
            &format!("{name} (file descriptor {fd})"),
        )?)
    } else {
        None
    };
    if options.flag(OptionId::Setsid, false) {
        start_session()?;
    }
    let held = apply_descriptor_options(read, write, name, options)?;
    let open = |fd: i32| {
        FdStream::open(fd).map_err(OpenError::io(format!(
            "opening {name} (file descriptor {fd})"
        )))
    };
    let reader = read
        .map(open)
        .transpose()?
        .map(|s| Reader::Bytes(Box::new(s)));
    let writer = write
        .map(open)
        .transpose()?
        .map(|s| Writer::Bytes(Box::new(s)));
    let mut connection = Connection::new(reader, writer, name.to_owned());
    connection.descriptors = Some((read, write));
    if let Some(restore) = restore {
        connection.keep_alive(restore);
    }
    for fd in held {
        connection.keep_alive(fd);
    }
    Ok(connection)
}

/// `setsid` on a standard stream: socketry itself leaves its session and process group and
/// leads a new session, as a daemon does, so that programs it starts are in it too.
fn start_session() -> Result<(), OpenError> {
    match nix::unistd::setsid() {
        Ok(session) => {
            tracing::debug!("setsid: socketry leads session {session}");
            Ok(())
        }
        Err(nix::errno::Errno::EPERM) => Err(OpenError::Refused(
            "setsid: socketry leads its process group already (a shell's job), and a group leader cannot start a new session".to_owned(),
        )),
        Err(e) => Err(OpenError::Io {
            action: "setsid: starting a new session".to_owned(),
            source: e.into(),
        }),
    }
}

/// The descriptor options (`o-noatime`, `f-setpipe-sz`, locks) on the descriptors the relay
/// uses, and only those. A pipe size applies to those that are pipes (standard input and
/// output are often one pipe and one terminal), and is refused when none is. Gives back the
/// descriptors a lock was taken through, which the connection keeps: closing any descriptor
/// of a file lets go of the process's fcntl locks on it.
fn apply_descriptor_options(
    read: Option<i32>,
    write: Option<i32>,
    name: &str,
    options: &Options,
) -> Result<Vec<OwnedFd>, OpenError> {
    let mut used: Vec<i32> = [read, write].into_iter().flatten().collect();
    used.dedup();
    let pipe_size = options.count(OptionId::PipeSize);
    let mut pipes = 0;
    let mut held = Vec::new();
    for fd in used {
        let what = format!("{name} (file descriptor {fd})");
        let own =
            crate::sys::fd::duplicate(fd).map_err(OpenError::io(format!("opening {what}")))?;
        descriptor::apply_inherited(own.as_fd(), options, &what)?;
        if let Some(size) = pipe_size {
            if fd::file_kind(own.as_fd()).is_ok_and(|kind| kind == FileKind::Fifo) {
                descriptor::set_pipe_size(own.as_fd(), size, &what)?;
                pipes += 1;
            }
        }
        if descriptor::locks(options) {
            held.push(own);
        }
    }
    if pipe_size.is_some() && pipes == 0 {
        return Err(OpenError::Refused(format!(
            "f-setpipe-sz: {name} is not a pipe"
        )));
    }
    Ok(held)
}
