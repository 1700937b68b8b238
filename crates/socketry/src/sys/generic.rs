//! Sockets described by numbers and bytes, as the generic socket addresses (SOCKET-*) and
//! `setsockopt=` give them: a socket address built from its family and raw bytes, the bytes
//! of any socket address, and `setsockopt(2)` with a value of any length.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use nix::libc;
use socket2::SockAddr;

/// The most bytes a socket address holds after its family (`sockaddr_storage` less the
/// two-byte `sa_family`).
pub const MAX_ADDRESS_DATA: usize =
    std::mem::size_of::<libc::sockaddr_storage>() - std::mem::size_of::<libc::sa_family_t>();

/// The socket address of family `family` whose bytes after the family are `data`; `None`
/// when `data` is longer than [`MAX_ADDRESS_DATA`]. The kernel checks the rest when the
/// address is used (a length its family does not take is `EINVAL` then).
pub fn sockaddr(family: libc::sa_family_t, data: &[u8]) -> Option<SockAddr> {
    if data.len() > MAX_ADDRESS_DATA {
        return None;
    }
    // SAFETY: an all-zero sockaddr_storage is a valid value of this plain C struct.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    storage.ss_family = family;
    let offset = std::mem::size_of::<libc::sa_family_t>();
    // SAFETY: `storage` is `size_of::<sockaddr_storage>()` bytes of plain data; the family
    // comes first, and `offset + data.len()` is at most its size (checked above), so the
    // copy stays inside it and cannot overlap `data`.
    unsafe {
        let base = (&raw mut storage).cast::<u8>();
        std::ptr::copy_nonoverlapping(data.as_ptr(), base.add(offset), data.len());
    }
    let len = libc::socklen_t::try_from(offset + data.len()).ok()?;
    // SAFETY: `storage` holds a socket address of `len` bytes (family and data), and `len`
    // is at most the size of the storage.
    Some(unsafe { SockAddr::new(storage, len) })
}

/// The bytes of `addr` after its family: what a generic address range is matched against.
pub fn address_data(addr: &SockAddr) -> Vec<u8> {
    let offset = std::mem::size_of::<libc::sa_family_t>();
    let len = usize::try_from(addr.len()).unwrap_or(0);
    if len <= offset {
        return Vec::new();
    }
    let len = len.min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: `as_ptr` points into the `sockaddr_storage` that `addr` holds, which is valid
    // to read as `len` bytes, `len` being at most its size, while `addr` is borrowed.
    let bytes = unsafe { std::slice::from_raw_parts(addr.as_ptr().cast::<u8>(), len) };
    bytes[offset..].to_vec()
}

/// `setsockopt(fd, level, name, value, value.len())`.
pub fn setsockopt(fd: &impl AsFd, level: i32, name: i32, value: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(value.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `value` is `len` readable bytes for the length of the call, and the
    // descriptor is borrowed, so it stays open across it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_addresses_from_bytes_and_reads_them_back() {
        let data = [0x1f, 0x90, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        let addr = sockaddr(2, &data).unwrap();
        assert_eq!(addr.as_socket(), Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(address_data(&addr), data);
        assert!(sockaddr(2, &[0; MAX_ADDRESS_DATA + 1]).is_none());
        assert_eq!(address_data(&sockaddr(1, &[]).unwrap()), Vec::<u8>::new());
    }

    #[test]
    fn sets_options_of_any_length() {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        setsockopt(
            &socket,
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            &1i32.to_ne_bytes(),
        )
        .unwrap();
        assert!(socket.keepalive().unwrap());
        let error = setsockopt(&socket, libc::SOL_SOCKET, libc::SO_KEEPALIVE, &[1]).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EINVAL));
    }
}
