//! Thin wrappers over system calls: the only module with `unsafe`. Everything here is
//! Linux-specific and says in a `// SAFETY:` comment why each block is sound.

pub mod datagram;
pub mod fd;
pub mod generic;
pub mod mqueue;
pub mod packet;
pub mod process;
pub mod ready;
pub mod shm;
pub mod socket;
pub mod splice;
pub mod tun;
pub mod udplite;

/// The text of an OS error without Rust's " (os error N)" suffix: "Connection refused".
pub fn error_text(error: &std::io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_owned(),
        None => error.to_string(),
    }
}

/// Types that own their descriptor: it stays open, and `as_raw_fd` returns the same number,
/// until the value is dropped.
pub trait OwnsFd: std::os::fd::AsRawFd {}

impl OwnsFd for std::os::fd::OwnedFd {}
impl OwnsFd for socket2::Socket {}

/// Registers a descriptor-owning value with tokio's reactor.
pub fn register<T: OwnsFd>(inner: T) -> std::io::Result<tokio::io::unix::AsyncFd<T>> {
    // SAFETY: `OwnsFd` types own their descriptor, which therefore stays open and refers to
    // the same open file description for as long as the `AsyncFd` holds the value.
    let registered = unsafe { tokio::io::unix::AsyncFd::register(inner) };
    registered.map_err(std::io::Error::from)
}

/// Like [`register`], but hands the value back when the reactor refuses it (epoll refuses
/// regular files and some devices such as `/dev/null`).
pub fn try_register<T: OwnsFd>(
    inner: T,
) -> Result<tokio::io::unix::AsyncFd<T>, (std::io::Error, T)> {
    // SAFETY: as in `register`: `OwnsFd` types own their descriptor.
    let registered = unsafe { tokio::io::unix::AsyncFd::register(inner) };
    registered.map_err(|e| {
        let (inner, error) = e.into_parts();
        (error, inner)
    })
}
