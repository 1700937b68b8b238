//! PIPE: a pipe whose read end gives back what its write end is given, socat's echo idiom.
//! Anonymous (`PIPE`), or a named pipe at a path (`PIPE:path`, `FIFO:path`), created with
//! `mode` (default 0600) when missing. Both are byte streams; closing the write end after
//! EOF lets the read end reach EOF once the pipe is drained. A named pipe the relay only
//! reads from is opened for reading alone, so that it reads EOF when its last writer leaves;
//! one it only writes to is opened for writing alone, which waits for a reader.
//! `f-setpipe-sz` sets the pipe's capacity.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::stdio::FdStream;
use crate::address::{OptionId, Options};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Access, Connection};
use crate::endpoint::error::OpenError;
use crate::endpoint::guard::FileGuard;
use crate::sys;

/// Refuses options of a named pipe on an anonymous one (`PIPE,mode=600`): only a pipe with
/// a path has a mode, a file to remove, or an open that could block.
pub fn check(path: Option<&Path>, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
    let named_only = [
        OptionId::Mode,
        OptionId::UnlinkClose,
        OptionId::Nonblock,
        OptionId::Umask,
        OptionId::User,
        OptionId::Group,
    ];
    match named_only.into_iter().find(|id| options.has(*id)) {
        Some(id) if path.is_none() => Err(super::combinations::conflict(
            id,
            "path",
            format!(
                "{}: applies to a named pipe (PIPE:path), not to an anonymous one",
                id.def().name
            ),
        )),
        _ => Ok(()),
    }
}

/// Opens PIPE: an anonymous pipe when `path` is `None`, else the named pipe at `path`
/// (created if missing), with only the ends `access` needs.
pub async fn open(
    path: Option<&Path>,
    options: &Options,
    access: Access,
) -> Result<Connection, OpenError> {
    let (read_end, write_end, description, removal) = match path {
        None => {
            check(None, options).map_err(super::combinations::refused)?;
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| OpenError::Io {
                action: "creating a pipe".to_owned(),
                source: e.into(),
            })?;
            (Some(r), Some(w), "PIPE".to_owned(), None)
        }
        Some(path) => {
            let created = create_named(path, options)?;
            if let Some((uid, gid)) = options.owner() {
                sys::fd::chown_path(path, uid, gid).map_err(|e| OpenError::Io {
                    action: format!("changing the owner of {}", path.display()),
                    source: e,
                })?;
            }
            // Removed on close if socketry made it, unless unlink-close says otherwise.
            let remove = options.flag(OptionId::UnlinkClose, created);
            let removal = remove.then(|| FileGuard::fifo(path));
            let (r, w) = open_named(path, access, options).await?;
            (r, w, format!("PIPE {}", path.display()), removal)
        }
    };
    if let Some(size) = options.count(OptionId::PipeSize) {
        // Both ends are of the one pipe: its capacity is set through either.
        if let Some(end) = read_end.as_ref().or(write_end.as_ref()) {
            super::descriptor::set_pipe_size(end.as_fd(), size, &description)?;
        }
    }
    let raw = (
        read_end.as_ref().map(AsRawFd::as_raw_fd),
        write_end.as_ref().map(AsRawFd::as_raw_fd),
    );
    let stream = |fd: OwnedFd| {
        FdStream::from_owned(fd).map_err(OpenError::io(format!("registering {description}")))
    };
    let mut connection = Connection::new(
        read_end
            .map(|fd| Ok::<_, OpenError>(Reader::Bytes(Box::new(stream(fd)?))))
            .transpose()?,
        write_end
            .map(|fd| Ok::<_, OpenError>(Writer::Bytes(Box::new(stream(fd)?))))
            .transpose()?,
        description,
    );
    // A `nofork` program takes the ends over: it reads back what it writes.
    connection.descriptors = Some(raw);
    if let Some(removal) = removal {
        connection.keep_alive(removal);
    }
    Ok(connection)
}

/// Creates the named pipe at `path` with `mode` (default 0600) if it is missing; whether it
/// did.
fn create_named(path: &Path, options: &Options) -> Result<bool, OpenError> {
    let made = match options.umask() {
        // Under its own umask, a named pipe gets what mkfifo(1) would give it: 0666 less it.
        Some(mask) => sys::fd::with_umask(mask, || {
            let mode = options.mode().unwrap_or(0o666);
            Ok(nix::unistd::mkfifo(path, Mode::from_bits_truncate(mode)))
        })
        .map_err(|e| OpenError::Io {
            action: format!("creating named pipe {}", path.display()),
            source: e,
        })?,
        None => nix::unistd::mkfifo(
            path,
            Mode::from_bits_truncate(options.mode().unwrap_or(0o600)),
        ),
    };
    match made {
        Ok(()) => {
            tracing::info!("created named pipe {}", path.display());
            Ok(true)
        }
        Err(nix::errno::Errno::EEXIST) => Ok(false),
        Err(e) => Err(OpenError::Io {
            action: format!("creating named pipe {}", path.display()),
            source: e.into(),
        }),
    }
}

/// Opens the named pipe at `path` for reading and for writing as `access` says (two
/// descriptors, so that closing the writing one lets the reading one see EOF).
async fn open_named(
    path: &Path,
    access: Access,
    options: &Options,
) -> Result<(Option<OwnedFd>, Option<OwnedFd>), OpenError> {
    let failed = |e: nix::errno::Errno| OpenError::Io {
        action: format!("opening {}", path.display()),
        source: e.into(),
    };
    let open = |flags: OFlag| {
        nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, Mode::empty())
            .map(sys::fd::own)
            .map_err(failed)
    };
    if access == Access::Write && options.flag(OptionId::Nonblock, false) {
        // nonblock: no reader yet is an error (ENXIO) rather than a wait.
        let write_end = open(OFlag::O_WRONLY | OFlag::O_NONBLOCK)?;
        return Ok((None, Some(write_end)));
    }
    if access == Access::Write {
        // Opening only for writing blocks until a reader comes, as with a shell's `>`.
        let owned = path.to_owned();
        let write_end = tokio::task::spawn_blocking(move || {
            nix::fcntl::open(&owned, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
                .map(sys::fd::own)
        })
        .await
        .map_err(|e| OpenError::Refused(format!("opening {}: {e}", path.display())))?
        .map_err(failed)?;
        tracing::debug!("opened {} as {}", path.display(), write_end.as_raw_fd());
        return Ok((None, Some(write_end)));
    }
    // Without blocking, a read end opens before any writer, which lets our own write end open
    // too; with no writer yet it waits for one rather than reading EOF.
    let read_end = open(OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    if access == Access::Read {
        tracing::debug!("opened {} as {}", path.display(), read_end.as_raw_fd());
        return Ok((Some(read_end), None));
    }
    let write_end = open(OFlag::O_WRONLY | OFlag::O_NONBLOCK)?;
    tracing::debug!(
        "opened {} as {} and {}",
        path.display(),
        read_end.as_raw_fd(),
        write_end.as_raw_fd()
    );
    Ok((Some(read_end), Some(write_end)))
}

// ---- The family's address type: PIPE ----

use crate::address::{fmt_path, AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// A pipe: anonymous, or a named pipe (FIFO) at a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PipeSpec(pub Option<std::path::PathBuf>);

static PIPE: Definition<PipeSpec> = Definition {
    ty: AddressType::new(
        "PIPE",
        &["FIFO", "ECHO"],
        &["path"],
        Groups::ALL.union(Groups::STREAM).union(Groups::NAMED_PIPE),
        "an anonymous pipe: what is written is read back (with a path: a named pipe, created if missing)",
    )
    .required(0),
    parse: |p| {
        Ok(PipeSpec(match p.is_empty() {
            true => None,
            false => Some(p.path(0)?.to_path_buf()),
        }))
    },
};

/// The pipe family: its address type and features.
pub static FAMILY: FamilyTypes<PipeSpec> = FamilyTypes {
    features: &["PIPE"],
    types: &[&PIPE],
};

impl FamilySpec for PipeSpec {
    fn address_type(&self) -> &'static AddressType {
        &PIPE.ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(path) => fmt_path(path, f),
            None => Ok(()),
        }
    }

    fn check(&self, options: &Options) -> Result<(), crate::address::ParseErrorKind> {
        check(self.0.as_deref(), options)
    }
}

impl PipeSpec {
    /// Opens the pipe, only the ways the relay uses it.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        open(self.0.as_deref(), options, context.access)
            .await
            .map(Opened::Connection)
    }
}
