//! TUN/TAP network interfaces: creating one on the clone device (`TUNSETIFF`), and setting
//! its IPv4 address, netmask, MTU and flags with the classic interface ioctls, which take a
//! `struct ifreq` naming the interface and are issued on any AF_INET socket.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::stat::Mode;

/// The longest interface name: `IFNAMSIZ` less its terminating NUL.
pub const MAX_NAME: usize = libc::IFNAMSIZ - 1;

/// What the interface carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterfaceType {
    /// IP packets (layer 3).
    Tun,
    /// Ethernet frames (layer 2).
    Tap,
}

/// A `struct ifreq` naming `name`, everything else zero.
fn request(name: &str) -> io::Result<libc::ifreq> {
    if name.len() > MAX_NAME || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interface name \"{name}\" is not 1 to {MAX_NAME} bytes without NUL"),
        ));
    }
    // SAFETY: ifreq is plain C data (a name array and a union of integers, sockaddrs, arrays
    // and a pointer), for all of which the all-zero bit pattern is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *slot = byte as libc::c_char;
    }
    Ok(req)
}

fn name_of(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Issues an interface ioctl that reads or writes `req`.
fn ioctl(fd: &impl AsRawFd, request: libc::Ioctl, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request passed here (TUNSETIFF and the SIOC[GS]IF* family) takes a pointer
    // to a struct ifreq, which `req` is, valid and exclusively borrowed for the whole call.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request, req as *mut libc::ifreq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Creates an interface on the clone device `device`: its descriptor (non-blocking,
/// close-on-exec) and the name the kernel gave it. The interface lives while the descriptor is
/// open. Without `packet_info` no 4-byte header precedes each packet (`IFF_NO_PI`).
pub fn create(
    device: &Path,
    name: Option<&str>,
    kind: InterfaceType,
    packet_info: bool,
) -> io::Result<(OwnedFd, String)> {
    let fd = nix::fcntl::open(
        device,
        OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    )
    .map(super::fd::own)?;
    let mut req = request(name.unwrap_or(""))?;
    let mut flags = match kind {
        InterfaceType::Tun => libc::IFF_TUN,
        InterfaceType::Tap => libc::IFF_TAP,
    };
    if !packet_info {
        flags |= libc::IFF_NO_PI;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    ioctl(&fd, libc::TUNSETIFF, &mut req)?;
    Ok((fd, name_of(&req)))
}

/// Settings of one network interface, by name.
#[derive(Debug)]
pub struct Interface {
    name: String,
    /// Any AF_INET socket: the interface ioctls need one to be issued on.
    control: socket2::Socket,
}

fn ipv4_sockaddr(addr: Ipv4Addr) -> libc::sockaddr {
    // sockaddr_in laid over sockaddr: family, then port (2 bytes), then the address.
    let mut data = [0 as libc::c_char; 14];
    for (slot, byte) in data[2..6].iter_mut().zip(addr.octets()) {
        *slot = byte as libc::c_char;
    }
    libc::sockaddr {
        sa_family: libc::AF_INET as libc::sa_family_t,
        sa_data: data,
    }
}

impl Interface {
    pub fn new(name: &str) -> io::Result<Interface> {
        request(name)?;
        Ok(Interface {
            name: name.to_owned(),
            control: socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?,
        })
    }

    pub fn set_address(&self, addr: Ipv4Addr) -> io::Result<()> {
        let mut req = request(&self.name)?;
        req.ifr_ifru.ifru_addr = ipv4_sockaddr(addr);
        ioctl(&self.control, libc::SIOCSIFADDR, &mut req)
    }

    pub fn set_netmask(&self, mask: Ipv4Addr) -> io::Result<()> {
        let mut req = request(&self.name)?;
        req.ifr_ifru.ifru_netmask = ipv4_sockaddr(mask);
        ioctl(&self.control, libc::SIOCSIFNETMASK, &mut req)
    }

    pub fn set_mtu(&self, mtu: i32) -> io::Result<()> {
        let mut req = request(&self.name)?;
        req.ifr_ifru.ifru_mtu = mtu;
        ioctl(&self.control, libc::SIOCSIFMTU, &mut req)
    }

    /// The interface flags (`IFF_UP`, `IFF_NOARP`, ...).
    pub fn flags(&self) -> io::Result<u16> {
        let mut req = request(&self.name)?;
        ioctl(&self.control, libc::SIOCGIFFLAGS, &mut req)?;
        // SAFETY: SIOCGIFFLAGS just filled in the union's `ifru_flags` member.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        Ok(flags as u16)
    }

    pub fn set_flags(&self, flags: u16) -> io::Result<()> {
        let mut req = request(&self.name)?;
        req.ifr_ifru.ifru_flags = flags as libc::c_short;
        ioctl(&self.control, libc::SIOCSIFFLAGS, &mut req)
    }
}
