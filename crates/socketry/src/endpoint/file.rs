//! OPEN, CREATE and GOPEN: files and devices named by path, as byte streams.
//!
//! `OPEN` opens what exists (with `creat`, creates it), read-write unless `rdonly` or `wronly`
//! says otherwise; `CREATE` creates or truncates a file for writing; `GOPEN` connects to a
//! Unix socket at the path, or else opens the file, creating it if missing and appending to
//! it, as socat does. A regular file is read and written on tokio's blocking pool (see
//! [`FdStream`]); a device or named pipe is polled. `lock` waits for an exclusive `flock`
//! (`flock-*` and `setlk*` take the other flock and fcntl locks), `seek` starts at an offset,
//! `ftruncate` cuts the file, and `user`, `group` and `mode` are applied to the open file.
//! `o-noatime` and `o-direct` are open flags (direct I/O goes through aligned buffers, see
//! [`direct`]), and `fs-noatime` sets the file's no-atime attribute.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

mod direct;

use super::descriptor;
use super::stdio::FdStream;
use super::terminal;
use crate::address::{OptionId, Options, UnixName, UnixRole};
use crate::channel::{Reader, Writer};
use crate::endpoint::connection::{Access, Connection};
use crate::endpoint::error::OpenError;
use crate::endpoint::opened::Opened;
use crate::sys;

fn open_flags(access: Access) -> OFlag {
    match access {
        Access::Read => OFlag::O_RDONLY,
        Access::Write => OFlag::O_WRONLY,
        Access::ReadWrite => OFlag::O_RDWR,
    }
}

/// Opens the file or socket that `kind` (OPEN, CREATE or GOPEN) names.
/// Without rdonly, wronly or rdwr, a file is opened the way the relay uses it (`used`).
pub async fn open(kind: &FileSpec, options: &Options, used: Access) -> Result<Opened, OpenError> {
    let (path, access, mut flags, name) = match kind {
        FileSpec::Open(path) => (
            from_chdir(path, options),
            access(options, used),
            OFlag::empty(),
            "OPEN",
        ),
        FileSpec::Create(path) => (
            from_chdir(path, options),
            Access::Write,
            OFlag::O_CREAT | OFlag::O_TRUNC,
            "CREATE",
        ),
        FileSpec::Gopen(path) => {
            let path = &from_chdir(path, options);
            if is_socket(path) {
                let name = UnixName::path(path).map_err(|too_long| {
                    OpenError::Refused(format!(
                        "{}: a socket path of {} bytes does not fit in sun_path",
                        path.display(),
                        too_long.len
                    ))
                })?;
                if let Some(named) = terminal::first(options) {
                    return Err(OpenError::Refused(format!(
                        "{}: {} is a socket, not a terminal",
                        named.def().name,
                        path.display()
                    )));
                }
                return super::unix::open(UnixRole::Client, &name, options).await;
            }
            (
                path.clone(),
                access(options, used),
                OFlag::O_CREAT | OFlag::O_APPEND,
                "GOPEN",
            )
        }
    };
    for (id, flag) in [
        (OptionId::Creat, OFlag::O_CREAT),
        (OptionId::Excl, OFlag::O_EXCL),
        (OptionId::Append, OFlag::O_APPEND),
        (OptionId::Trunc, OFlag::O_TRUNC),
        (OptionId::Nonblock, OFlag::O_NONBLOCK),
        (OptionId::NoAtime, OFlag::O_NOATIME),
        (OptionId::Direct, OFlag::O_DIRECT),
    ] {
        if let Some(on) = options.get(id).map(|_| options.flag(id, false)) {
            flags.set(flag, on);
        }
    }
    // CREATE truncates unless told to append; an explicit trunc still truncates first.
    if flags.contains(OFlag::O_APPEND) && !options.has(OptionId::Trunc) {
        flags.remove(OFlag::O_TRUNC);
    }
    let description = format!("{name} {}", path.display());
    let file = {
        let path = path.clone();
        let options = options.clone();
        let described = description.clone();
        tokio::task::spawn_blocking(move || {
            open_blocking(&path, open_flags(access) | flags, &options, &described)
        })
        .await
        .map_err(|e| OpenError::Refused(format!("opening {description}: {e}")))??
    };
    let file_fd = file.as_raw_fd();
    let restore = if terminal::any(options) {
        let terminal = sys::fd::duplicate(file.as_raw_fd())
            .map_err(OpenError::io(format!("duplicating {description}")))?;
        Some(terminal::Restore::apply(terminal, options, &description)?)
    } else {
        None
    };
    let direct = flags.contains(OFlag::O_DIRECT)
        && sys::fd::file_kind(file.as_fd()).is_ok_and(|kind| kind == sys::fd::FileKind::Regular);
    let stream = |fd: OwnedFd| {
        FdStream::from_owned(fd).map_err(OpenError::io(format!("registering {description}")))
    };
    let (reader, writer): (Option<Reader>, Option<Writer>) = if direct {
        let file = std::sync::Arc::new(file);
        let reader = access
            .reads()
            .then(|| direct::DirectReader::new(file.clone()))
            .transpose()
            .map_err(OpenError::io(format!(
                "finding the offset of {description}"
            )))?;
        (
            reader.map(|r| Reader::Bytes(Box::new(r))),
            access
                .writes()
                .then(|| Writer::Bytes(Box::new(direct::DirectWriter::new(file)))),
        )
    } else {
        let (reader, writer) = match access {
            Access::Read => (Some(stream(file)?), None),
            Access::Write => (None, Some(stream(file)?)),
            Access::ReadWrite => {
                let second = sys::fd::duplicate(file.as_raw_fd())
                    .map_err(OpenError::io(format!("duplicating {description}")))?;
                (Some(stream(file)?), Some(stream(second)?))
            }
        };
        (
            reader.map(|r| Reader::Bytes(Box::new(r))),
            writer.map(|w| Writer::Bytes(Box::new(w))),
        )
    };
    let raw = file_fd;
    let mut connection = Connection::new(reader, writer, description);
    connection.descriptors = Some((
        access.reads().then_some(raw),
        access.writes().then_some(raw),
    ));
    if let Some(restore) = restore {
        connection.keep_alive(restore);
    }
    if options.flag(OptionId::UnlinkClose, false) {
        connection.keep_alive(super::guard::FileGuard::file(&path));
    }
    Ok(Opened::Connection(connection))
}

/// `path`, taken from `chdir=` when it is relative: the directory socat changes into while
/// it opens the file, without changing socketry's own.
fn from_chdir(path: &Path, options: &Options) -> PathBuf {
    match options.get(OptionId::Chdir) {
        Some(crate::address::Value::Text(dir)) if path.is_relative() => Path::new(dir).join(path),
        _ => path.to_path_buf(),
    }
}

fn access(options: &Options, used: Access) -> Access {
    // The last of rdonly, wronly and rdwr given counts.
    let chosen: Vec<_> = options.iter().collect();
    let last = chosen.into_iter().rev().find_map(|(id, value)| {
        let on = matches!(value, crate::address::Value::Bool(true));
        match id {
            OptionId::ReadOnly if on => Some(Access::Read),
            OptionId::WriteOnly if on => Some(Access::Write),
            OptionId::ReadWrite if on => Some(Access::ReadWrite),
            _ => None,
        }
    });
    last.unwrap_or(used)
}

fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Opens, then applies ownership, mode, lock and offset: everything that may block (a named
/// pipe without a peer, a lock someone holds) runs here, off the reactor.
fn open_blocking(
    path: &PathBuf,
    flags: OFlag,
    options: &Options,
    description: &str,
) -> Result<OwnedFd, OpenError> {
    let io = |action: &str| {
        let action = format!("{action} {}", path.display());
        move |e: nix::errno::Errno| OpenError::Io {
            action,
            source: e.into(),
        }
    };
    let create_mode = Mode::from_bits_truncate(options.mode().unwrap_or(0o666));
    let open = || nix::fcntl::open(path, flags | OFlag::O_CLOEXEC, create_mode);
    let opened = match options.umask() {
        Some(mask) => sys::fd::with_umask(mask, || Ok(open())).map_err(|e| OpenError::Io {
            action: format!("opening {}", path.display()),
            source: e,
        })?,
        None => open(),
    };
    let fd = opened.map(sys::fd::own).map_err(io("opening"))?;
    // The user and group were resolved when the address was read.
    descriptor::set_owner_and_mode(fd.as_fd(), options, path)?;
    descriptor::take_locks(fd.as_fd(), options, description)?;
    if options.flag(OptionId::FsNoAtime, false) {
        sys::fd::set_no_atime_attribute(fd.as_fd()).map_err(|source| OpenError::Io {
            action: format!(
                "fs-noatime: setting the no-atime attribute of {}",
                path.display()
            ),
            source,
        })?;
    }
    if let Some(length) = options.count(OptionId::Ftruncate) {
        let length = i64::try_from(length)
            .map_err(|_| OpenError::Refused(format!("ftruncate={length} is too large")))?;
        nix::unistd::ftruncate(&fd, length).map_err(io("truncating"))?;
    }
    if let Some(offset) = options.count(OptionId::Seek) {
        let offset = i64::try_from(offset)
            .map_err(|_| OpenError::Refused(format!("seek={offset} is too far")))?;
        nix::unistd::lseek(fd.as_fd().as_raw_fd(), offset, nix::unistd::Whence::SeekSet)
            .map_err(io("seeking in"))?;
    }
    Ok(fd)
}

// ---- The family's address types: OPEN, CREATE, GOPEN ----

use crate::address::{
    fmt_path, AddressType, Definition, FamilySpec, FamilyTypes, Groups, Shorthand,
};
use crate::endpoint::connection::OpenContext;

/// A file an address names, and how it is opened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileSpec {
    /// An existing file or device, opened with open(2).
    Open(PathBuf),
    /// A file created (or truncated) for writing.
    Create(PathBuf),
    /// A file, opened or created, or a Unix socket at that path, connected to.
    Gopen(PathBuf),
}

const OPEN_GROUPS: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::FILE)
    .union(Groups::OPEN)
    .union(Groups::TERMINAL);

static OPEN: Definition<FileSpec> = Definition {
    ty: AddressType::new(
        "OPEN",
        &["FILE"],
        &["filename"],
        OPEN_GROUPS,
        "an existing file or device (with creat: created if missing)",
    ),
    parse: |p| Ok(FileSpec::Open(p.file_name(0)?.to_path_buf())),
};
static CREATE: Definition<FileSpec> = Definition {
    ty: AddressType::new(
        "CREATE",
        &["CREAT"],
        &["filename"],
        Groups::ALL.union(Groups::STREAM).union(Groups::FILE),
        "a file created or truncated, write only",
    ),
    parse: |p| Ok(FileSpec::Create(p.file_name(0)?.to_path_buf())),
};
static GOPEN: Definition<FileSpec> = Definition {
    ty: AddressType::new(
        "GOPEN",
        &[],
        &["filename"],
        OPEN_GROUPS,
        "a file, created if missing and appended to, or a Unix socket connected to (also a bare path)",
    )
    .shorthand(Shorthand::Path),
    parse: |p| Ok(FileSpec::Gopen(p.file_name(0)?.to_path_buf())),
};

/// The file family: its address types and features.
pub static FAMILY: FamilyTypes<FileSpec> = FamilyTypes {
    features: &["FILE", "GOPEN", "CREAT"],
    types: &[&OPEN, &CREATE, &GOPEN],
};

impl FamilySpec for FileSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            FileSpec::Open(_) => &OPEN.ty,
            FileSpec::Create(_) => &CREATE.ty,
            FileSpec::Gopen(_) => &GOPEN.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileSpec::Open(path) | FileSpec::Create(path) | FileSpec::Gopen(path) => {
                fmt_path(path, f)
            }
        }
    }
}

impl FileSpec {
    /// Opens the file (or, for GOPEN, connects to the socket) the way the relay uses it.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        open(self, options, context.access).await
    }
}
