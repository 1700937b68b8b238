//! Datagrams in batches: `recvmmsg(2)` and `sendmmsg(2)`, UDP segmentation offload
//! (`UDP_SEGMENT`: one send the kernel cuts into datagrams of a given size, each delivered as
//! a datagram of its own), and the kernel's count of datagrams it dropped for want of room in
//! a socket's receive queue (`SO_RXQ_OVFL`).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc;
use socket2::SockAddr;

/// The most datagrams one call receives or sends.
pub const BATCH: usize = 32;

/// The most datagrams one `UDP_SEGMENT` send may be cut into (the kernel's
/// `UDP_MAX_SEGMENTS`).
pub const MAX_SEGMENTS: usize = 64;

/// The most bytes one `UDP_SEGMENT` send may carry: a UDP payload in one IPv4 packet.
pub const MAX_SEGMENTED_BYTES: usize = 65507;

// Not in the libc crate for glibc targets; the values are the kernel's (linux/udp.h).
const SOL_UDP: libc::c_int = 17;
const UDP_SEGMENT: libc::c_int = 103;

/// A datagram [`recv_batch`] received: where in the buffer it starts, how long it is, and
/// who sent it (empty for a connected socket's peer).
#[derive(Debug, Clone)]
pub struct Received {
    pub start: usize,
    pub len: usize,
    pub from: SockAddr,
}

/// What one [`recv_batch`] call gave besides the datagrams: the kernel's running count of
/// datagrams it dropped on this socket (with `SO_RXQ_OVFL` on), if it said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchInfo {
    pub kernel_drops: Option<u32>,
}

/// Control-message room for one `SO_RXQ_OVFL` count, in u64 words (aligned for `cmsghdr`).
const OVERFLOW_CONTROL_WORDS: usize = 4;

/// `recvmmsg(2)`: receives up to [`BATCH`] datagrams at once, the first into `buf[..slot]`,
/// the next into `buf[slot..2 * slot]`, and so on for as many slots as `buf` holds, and
/// appends them to `out`. Fails with `WouldBlock` when no datagram is waiting. A datagram
/// longer than `slot` would be cut short: callers give slots as long as the longest datagram
/// the socket can receive.
pub fn recv_batch(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    slot: usize,
    out: &mut Vec<Received>,
) -> io::Result<BatchInfo> {
    let slot = slot.max(1);
    let count = (buf.len() / slot).clamp(0, BATCH);
    if count == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no room for a datagram",
        ));
    }
    let base = buf.as_mut_ptr();
    // SAFETY: zeroed sockaddr_storage, iovec, msghdr and mmsghdr are valid values of these
    // plain C structs.
    let mut names: [libc::sockaddr_storage; BATCH] = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut control = [[0u64; OVERFLOW_CONTROL_WORDS]; BATCH];
    // SAFETY: as above.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for i in 0..count {
        iovecs[i] = libc::iovec {
            // SAFETY: i * slot + slot <= count * slot <= buf.len(): the pointer stays inside
            // `buf`.
            iov_base: unsafe { base.add(i * slot) }.cast(),
            iov_len: slot,
        };
        let header = &mut headers[i].msg_hdr;
        header.msg_name = (&raw mut names[i]).cast();
        header.msg_namelen = socklen(std::mem::size_of::<libc::sockaddr_storage>());
        header.msg_iov = &raw mut iovecs[i];
        header.msg_iovlen = 1;
        header.msg_control = control[i].as_mut_ptr().cast();
        header.msg_controllen = OVERFLOW_CONTROL_WORDS * 8;
    }
    let vlen = libc::c_uint::try_from(count).unwrap_or(1);
    // SAFETY: each of the first `count` headers points to its own name, iovec (into a
    // distinct slot of `buf`) and control buffer, all of which outlive the call and are as
    // long as the lengths stored beside them; a null timeout makes the call return what is
    // waiting on this non-blocking socket.
    let received = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            vlen,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let received = usize::try_from(received).map_err(|_| io::Error::last_os_error())?;
    let mut info = BatchInfo::default();
    for (i, header) in headers.iter().enumerate().take(received.min(count)) {
        let len = usize::try_from(header.msg_len).unwrap_or(0).min(slot);
        let hdr = &header.msg_hdr;
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes into `names[i]`
        // (none for a connected socket, which leaves an empty, unnamed address).
        let from = unsafe { SockAddr::new(names[i], hdr.msg_namelen) };
        let filled = hdr.msg_controllen.min(OVERFLOW_CONTROL_WORDS * 8);
        if filled > 0 {
            let bytes: Vec<u8> = control[i].iter().flat_map(|w| w.to_ne_bytes()).collect();
            if let Some(drops) = overflow_count(&bytes[..filled]) {
                info.kernel_drops = Some(drops);
            }
        }
        out.push(Received {
            start: i * slot,
            len,
            from,
        });
    }
    Ok(info)
}

/// The `SO_RXQ_OVFL` count in a control buffer as `recvmsg` filled it, if it has one.
fn overflow_count(control: &[u8]) -> Option<u32> {
    let header_len = std::mem::size_of::<libc::cmsghdr>();
    let bytes = control.get(..header_len)?;
    // SAFETY: `bytes` is exactly as long as a cmsghdr, a plain C struct of integers for which
    // any bit pattern is valid; read_unaligned copies it without assuming alignment.
    let header: libc::cmsghdr = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
    if header.cmsg_level != libc::SOL_SOCKET || header.cmsg_type != libc::SO_RXQ_OVFL {
        return None;
    }
    let start =
        (header_len + std::mem::size_of::<usize>() - 1) & !(std::mem::size_of::<usize>() - 1);
    let word = control.get(start..start + 4)?;
    Some(u32::from_ne_bytes([word[0], word[1], word[2], word[3]]))
}

/// One send of a batch: `data` as one datagram, or with `segment` as datagrams of that many
/// bytes each (the last may be shorter), cut by the kernel (`UDP_SEGMENT`, UDP sockets only).
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub data: &'a [u8],
    pub segment: Option<u16>,
}

/// Control-message room for one `UDP_SEGMENT` size, in u64 words.
const SEGMENT_CONTROL_WORDS: usize = 3;

/// `sendmmsg(2)`: sends up to [`BATCH`] of `messages` to `to` (`None`: the connected peer).
/// Returns how many were sent, at least one; fails with `WouldBlock` when the socket has no
/// room for the first.
pub fn send_batch(
    socket: BorrowedFd<'_>,
    messages: &[Outgoing<'_>],
    to: Option<&SockAddr>,
) -> io::Result<usize> {
    let count = messages.len().min(BATCH);
    if count == 0 {
        return Ok(0);
    }
    // SAFETY: zeroed iovec and mmsghdr are valid values of these plain C structs.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
    let mut control = [[0u64; SEGMENT_CONTROL_WORDS]; BATCH];
    // SAFETY: as above.
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (i, message) in messages.iter().take(count).enumerate() {
        iovecs[i] = libc::iovec {
            // sendmmsg only reads through this pointer.
            iov_base: message.data.as_ptr().cast_mut().cast(),
            iov_len: message.data.len(),
        };
        let header = &mut headers[i].msg_hdr;
        if let Some(to) = to {
            header.msg_name = to.as_ptr().cast_mut().cast();
            header.msg_namelen = to.len();
        }
        header.msg_iov = &raw mut iovecs[i];
        header.msg_iovlen = 1;
        if let Some(size) = message.segment {
            let room = segment_control(&mut control[i], size);
            header.msg_control = control[i].as_mut_ptr().cast();
            header.msg_controllen = room;
        }
    }
    let vlen = libc::c_uint::try_from(count).unwrap_or(1);
    // SAFETY: each of the first `count` headers points to memory that outlives the call and
    // is as long as the length stored beside it: the destination address, an iovec over the
    // message's bytes (only read), and its control buffer.
    let sent = unsafe {
        libc::sendmmsg(
            socket.as_raw_fd(),
            headers.as_mut_ptr(),
            vlen,
            libc::MSG_DONTWAIT,
        )
    };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// Writes a `UDP_SEGMENT` control message of `size` into `control`; returns its length.
fn segment_control(control: &mut [u64; SEGMENT_CONTROL_WORDS], size: u16) -> usize {
    let header_len = std::mem::size_of::<libc::cmsghdr>();
    let data =
        (header_len + std::mem::size_of::<usize>() - 1) & !(std::mem::size_of::<usize>() - 1);
    let len = data + std::mem::size_of::<u16>();
    let space = (len + 7) & !7;
    // SAFETY: an all-zero cmsghdr is a valid value of this plain C struct.
    let mut header: libc::cmsghdr = unsafe { std::mem::zeroed() };
    header.cmsg_level = SOL_UDP;
    header.cmsg_type = UDP_SEGMENT;
    // size_t on glibc, a 32-bit field on musl.
    #[allow(clippy::useless_conversion)]
    {
        header.cmsg_len = len.try_into().unwrap_or_default();
    }
    let bytes: &mut [u8] = bytemuck_words(control);
    bytes.fill(0);
    // SAFETY: `bytes` has room for a cmsghdr at its start (24 bytes, more than the 16 of a
    // cmsghdr); write_unaligned makes no assumption about alignment.
    unsafe { std::ptr::write_unaligned(bytes.as_mut_ptr().cast(), header) };
    bytes[data..data + 2].copy_from_slice(&size.to_ne_bytes());
    space.min(bytes.len())
}

/// The bytes of `words`.
fn bytemuck_words(words: &mut [u64; SEGMENT_CONTROL_WORDS]) -> &mut [u8] {
    // SAFETY: u64s are plain bytes with no padding, and u8 has no alignment requirement; the
    // slice covers exactly the array's memory and borrows it mutably for as long.
    unsafe {
        std::slice::from_raw_parts_mut(
            words.as_mut_ptr().cast::<u8>(),
            std::mem::size_of_val(words),
        )
    }
}

/// Asks the kernel to attach its count of datagrams dropped on `socket` to each datagram it
/// delivers (`SO_RXQ_OVFL`).
pub fn count_kernel_drops(socket: BorrowedFd<'_>) -> io::Result<()> {
    nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RxqOvfl, &1)?;
    Ok(())
}

fn socklen(len: usize) -> libc::socklen_t {
    libc::socklen_t::try_from(len).unwrap_or(libc::socklen_t::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.set_nonblocking(true).unwrap();
        (a, b)
    }

    #[test]
    fn a_batch_receives_every_waiting_datagram_whole_and_says_who_sent_it() {
        let (a, b) = pair();
        for n in 1..=5u8 {
            a.send(&vec![n; usize::from(n) * 100]).unwrap();
        }
        let mut buf = vec![0; 8 * 1000];
        let mut out = Vec::new();
        recv_batch(b.as_fd(), &mut buf, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 5);
        for (i, got) in out.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap();
            assert_eq!(got.start, i * 1000);
            assert_eq!(
                &buf[got.start..got.start + got.len],
                &vec![n; usize::from(n) * 100][..]
            );
            assert_eq!(got.from.as_socket(), Some(a.local_addr().unwrap()));
        }
        let again = recv_batch(b.as_fd(), &mut buf, 1000, &mut out).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_segmented_send_arrives_as_separate_datagrams_of_the_segment_size() {
        let (a, b) = pair();
        let data: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
        let plain = [7u8; 10];
        let sent = send_batch(
            a.as_fd(),
            &[
                Outgoing {
                    data: &data,
                    segment: Some(1000),
                },
                Outgoing {
                    data: &plain,
                    segment: None,
                },
            ],
            None,
        )
        .unwrap();
        assert_eq!(sent, 2);
        let mut buf = vec![0; 8 * 2000];
        let mut out = Vec::new();
        while out.len() < 5 {
            let _ = recv_batch(b.as_fd(), &mut buf, 2000, &mut out);
        }
        let lens: Vec<usize> = out.iter().map(|r| r.len).collect();
        assert_eq!(lens, [1000, 1000, 1000, 500, 10]);
        let joined: Vec<u8> = out[..4]
            .iter()
            .flat_map(|r| buf[r.start..r.start + r.len].to_vec())
            .collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn the_kernel_says_how_many_datagrams_it_dropped() {
        let (a, b) = pair();
        socket2::SockRef::from(&b)
            .set_recv_buffer_size(4096)
            .unwrap();
        count_kernel_drops(b.as_fd()).unwrap();
        for _ in 0..200 {
            a.send(&[1; 1000]).unwrap();
        }
        let mut buf = vec![0; 32 * 1000];
        let mut out = Vec::new();
        while recv_batch(b.as_fd(), &mut buf, 1000, &mut out).is_ok() {}
        let delivered = u32::try_from(out.len()).unwrap();
        // Each datagram carries the count as it was when the datagram was queued: the next
        // one to arrive tells of every drop before it.
        a.send(&[2; 10]).unwrap();
        out.clear();
        let info = recv_batch(b.as_fd(), &mut buf, 1000, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(info.kernel_drops, Some(200 - delivered));
    }
}
