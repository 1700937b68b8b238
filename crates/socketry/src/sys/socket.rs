//! Socket calls that the socket2 crate offers only on uninitialised buffers, Unix
//! autobinding, `recvmsg` with its control messages (descriptors and credentials, or the
//! packet information IP sockets attach), raw `setsockopt`, and `ctime` for time stamps.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::libc;

use socket2::{SockAddr, Socket};

fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the same layout as `u8`, and every initialised byte is a
    // valid `MaybeUninit<u8>`. The callee (recv) only ever writes initialised bytes into it,
    // so the slice stays initialised when the caller reads it back as `[u8]`.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// `recv(2)` into an ordinary buffer.
pub fn recv(socket: &Socket, buf: &mut [u8]) -> io::Result<usize> {
    socket.recv(as_uninit(buf))
}

/// `recvfrom(2)` into an ordinary buffer.
pub fn recv_from(socket: &Socket, buf: &mut [u8]) -> io::Result<(usize, SockAddr)> {
    socket.recv_from(as_uninit(buf))
}

/// Binds a Unix socket to an address the kernel picks in the abstract namespace, so that a
/// datagram peer can reply to it.
pub fn autobind(socket: &Socket) -> io::Result<()> {
    let addr = nix::sys::socket::UnixAddr::new_unnamed();
    nix::sys::socket::bind(socket.as_raw_fd(), &addr)?;
    Ok(())
}

/// Binds `socket` to the path in `addr` so that the socket file the kernel creates has the
/// permission bits `mode` from its first moment. A socket's file cannot be fchmod-ed, and
/// chmod by path after bind would follow whatever was swapped in meanwhile; instead the bind
/// runs under the umask that is the complement of `mode` ([`super::fd::with_umask`]).
pub fn bind_with_mode(socket: &Socket, addr: &SockAddr, mode: u32) -> io::Result<()> {
    super::fd::with_umask(!mode & 0o777, || socket.bind(addr))
}

/// The room a control-message buffer needs for `count` descriptors (`CMSG_SPACE`).
pub fn control_space_for_fds(count: usize) -> usize {
    match count {
        0 => 0,
        n => control_space(n.saturating_mul(std::mem::size_of::<libc::c_int>())),
    }
}

/// What [`recv_with_control`] received: the data's length, the sender's address (empty for an
/// unbound or connected sender), every descriptor that came along (owned, close-on-exec),
/// and the sender's credentials if the kernel attached them.
#[derive(Debug)]
pub struct ControlledMessage {
    pub len: usize,
    pub from: SockAddr,
    pub fds: Vec<OwnedFd>,
    pub credentials: Option<libc::ucred>,
}

/// `recvmsg(2)` into `buf` with room for `max_fds` descriptors and one set of credentials.
pub fn recv_with_control(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
) -> io::Result<ControlledMessage> {
    let room = control_space_for_fds(max_fds) + control_space(std::mem::size_of::<libc::ucred>());
    let received = recvmsg_with_control(socket, buf, room.div_ceil(8))?;
    let (len, bytes) = (received.len, received.control);
    let parsed = parse_control(&bytes);
    let fds = parsed
        .fds
        .into_iter()
        // SAFETY: descriptors in SCM_RIGHTS are new ones the kernel installed for us in this
        // call, so we own them and nothing else closes them.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    let credentials = parsed.credentials;
    Ok(ControlledMessage {
        len,
        from: received.from,
        fds,
        credentials,
    })
}

/// What the control messages of one `recvmsg` carried: descriptor numbers (not yet owned:
/// only the caller knows whether the kernel installed them) and credentials.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ControlMessages {
    pub fds: Vec<libc::c_int>,
    pub credentials: Option<libc::ucred>,
    /// The bytes ended inside a message, or a message's length was impossible: the walk
    /// stopped there. The kernel never writes such a buffer.
    pub malformed: bool,
}

/// Rounds `len` up to the alignment of control messages (`CMSG_ALIGN`).
fn cmsg_align(len: usize) -> usize {
    let align = std::mem::size_of::<usize>();
    len.saturating_add(align - 1) & !(align - 1)
}

/// Walks the control messages in `control` (as `recvmsg` filled `msg_control`), with every
/// length checked against the buffer: no pointer arithmetic, so bytes from anywhere (a fuzzer)
/// are as safe to parse as the kernel's.
pub fn parse_control(control: &[u8]) -> ControlMessages {
    let (messages, malformed) = control_messages(control);
    let mut parsed = ControlMessages {
        malformed,
        ..ControlMessages::default()
    };
    for ControlMessage { level, kind, data } in messages {
        match (level, kind) {
            (libc::SOL_SOCKET, libc::SCM_RIGHTS) => parsed.fds.extend(
                data.chunks_exact(4)
                    .map(|fd| libc::c_int::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]])),
            ),
            (libc::SOL_SOCKET, libc::SCM_CREDENTIALS) if data.len() >= 12 => {
                let word = |at: usize| [data[at], data[at + 1], data[at + 2], data[at + 3]];
                parsed.credentials = Some(libc::ucred {
                    pid: libc::pid_t::from_ne_bytes(word(0)),
                    uid: libc::uid_t::from_ne_bytes(word(4)),
                    gid: libc::gid_t::from_ne_bytes(word(8)),
                });
            }
            _ => {}
        }
    }
    parsed
}

/// One control message: its level (`SOL_SOCKET`, `IPPROTO_IP`, ...), its type, and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlMessage<'a> {
    pub level: libc::c_int,
    pub kind: libc::c_int,
    pub data: &'a [u8],
}

/// The control messages in `control`, in order, and whether the walk stopped at bytes that
/// are no control message (a length past the end or shorter than a header). Every length
/// is checked against the buffer, so any bytes are safe to walk.
pub fn control_messages(control: &[u8]) -> (Vec<ControlMessage<'_>>, bool) {
    let header_len = std::mem::size_of::<libc::cmsghdr>();
    let data_start = cmsg_align(header_len);
    let mut messages = Vec::new();
    let mut offset = 0;
    while offset < control.len() {
        let Some(bytes) = control.get(offset..offset + header_len) else {
            return (messages, true);
        };
        // SAFETY: `bytes` is exactly as long as a cmsghdr, a plain C struct of integers for
        // which any bit pattern is valid; read_unaligned copies it without assuming alignment.
        let header: libc::cmsghdr = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        // size_t on glibc, a 32-bit field on musl.
        #[allow(clippy::useless_conversion)]
        let len = usize::try_from(header.cmsg_len).unwrap_or(usize::MAX);
        let Some(data) = (len >= data_start)
            .then(|| control.get(offset + data_start..offset.checked_add(len)?))
            .flatten()
        else {
            return (messages, true);
        };
        messages.push(ControlMessage {
            level: header.cmsg_level,
            kind: header.cmsg_type,
            data,
        });
        offset = offset.saturating_add(cmsg_align(len));
    }
    (messages, false)
}

/// What [`recv_with_ancillary`] received: the data's length, the sender, and the control
/// messages' bytes as the kernel wrote them (walk them with [`control_messages`]).
#[derive(Debug)]
pub struct AncillaryMessage {
    pub len: usize,
    pub from: SockAddr,
    pub control: Vec<u8>,
    /// The kernel had more control data than the buffer held (`MSG_CTRUNC`).
    pub truncated: bool,
}

/// Room for the control messages of one datagram: IP options (40 bytes), packet info, a
/// time stamp and a few integers fit many times over.
const ANCILLARY_SPACE: usize = 1024;

/// `recvmsg(2)` into `buf`, keeping the control messages the socket's options asked for
/// (`IP_PKTINFO`, `SO_TIMESTAMP`, ...).
pub fn recv_with_ancillary(socket: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<AncillaryMessage> {
    let received = recvmsg_with_control(socket, buf, ANCILLARY_SPACE / 8)?;
    Ok(AncillaryMessage {
        len: received.len,
        from: received.from,
        control: received.control,
        truncated: received.truncated,
    })
}

/// What one `recvmsg(2)` gave: the data's length, the sender, the control messages' bytes as
/// the kernel filled them, and whether they were cut short.
struct Received {
    len: usize,
    from: SockAddr,
    control: Vec<u8>,
    truncated: bool,
}

/// One `recvmsg(2)` into `buf`, with room for `words` u64s of control messages.
fn recvmsg_with_control(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    words: usize,
) -> io::Result<Received> {
    // u64 elements: the buffer must be aligned for `cmsghdr`.
    let mut control = vec![0u64; words];
    // SAFETY: an all-zero sockaddr_storage and msghdr are valid values of these plain C
    // structs.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: as above.
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_name = (&raw mut storage).cast();
    header.msg_namelen = socklen(std::mem::size_of::<libc::sockaddr_storage>());
    header.msg_iov = &raw mut iov;
    header.msg_iovlen = 1;
    header.msg_control = control.as_mut_ptr().cast();
    header.msg_controllen = control.len() * 8;
    // SAFETY: every pointer in `header` points to memory that lives across the call and is
    // as long as the length stored beside it: `storage`, `iov` over `buf`, and `control`.
    let received =
        unsafe { libc::recvmsg(socket.as_raw_fd(), &mut header, libc::MSG_CMSG_CLOEXEC) };
    let len = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
    let filled = header.msg_controllen.min(control.len() * 8);
    let mut bytes: Vec<u8> = control.iter().flat_map(|word| word.to_ne_bytes()).collect();
    bytes.truncate(filled);
    // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into `storage` (zero
    // bytes for a sender without a name, which leaves an empty, unnamed address).
    let from = unsafe { SockAddr::new(storage, header.msg_namelen) };
    Ok(Received {
        len,
        from,
        control: bytes,
        truncated: header.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// `setsockopt(2)` of an `int` option that socket2 has no method for.
pub fn set_int_option(
    socket: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_bytes_option(socket, level, name, &value.to_ne_bytes())
}

/// `setsockopt(2)` of an option whose value is `value`'s bytes as they are (`IP_OPTIONS`).
pub fn set_bytes_option(
    socket: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: `value` points at `value.len()` readable bytes for the length of the call; the
    // kernel copies them and keeps no pointer.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            socklen(value.len()),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `seconds` since the epoch as `ctime(3)` writes it in the local time zone, without its
/// newline: `Tue Dec  1 17:08:31 2026`. `None` for a time the C library cannot convert.
pub fn local_ctime(seconds: i64) -> Option<String> {
    let time = libc::time_t::try_from(seconds).ok()?;
    let mut text = [0 as libc::c_char; 64];
    // SAFETY: ctime_r reads `time` and writes at most 26 bytes (with its NUL) into `text`,
    // which holds 64; it reads the time zone from the environment as localtime_r does.
    let written = unsafe { libc::ctime_r(&time, text.as_mut_ptr()) };
    if written.is_null() {
        return None;
    }
    // SAFETY: ctime_r succeeded, so `text` holds a NUL-terminated string.
    let text = unsafe { std::ffi::CStr::from_ptr(text.as_ptr()) };
    Some(text.to_string_lossy().trim_end().to_owned())
}

fn socklen(len: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(len).unwrap_or(libc::socklen_t::MAX)
}

fn control_space(bytes: usize) -> usize {
    let bytes = libc::c_uint::try_from(bytes).unwrap_or(libc::c_uint::MAX / 2);
    // SAFETY: CMSG_SPACE is arithmetic on its argument; it touches no memory.
    let space = unsafe { libc::CMSG_SPACE(bytes) };
    usize::try_from(space).unwrap_or(usize::MAX)
}

/// The host name the resolver gives for `addr` (`getnameinfo` with `NI_NAMEREQD`): the
/// reverse lookup that hosts_access(5) name patterns are matched against. `None` when no
/// name is known.
pub fn host_name_of(addr: &std::net::SocketAddr) -> Option<String> {
    let addr = SockAddr::from(*addr);
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `addr.as_ptr()` points at a valid socket address of `addr.len()` bytes, which
    // outlives the call; `host` is a writable buffer of the length passed, into which
    // getnameinfo writes a NUL-terminated string; no service buffer is passed (null, 0).
    let rc = unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            libc::socklen_t::try_from(host.len()).unwrap_or(0),
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
    name.to_str().ok().map(str::to_owned)
}
