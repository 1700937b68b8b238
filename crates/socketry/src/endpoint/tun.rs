//! TUN: a new TUN or TAP network interface whose "wire side" socketry serves. It is a message
//! channel: each read is one IP packet (one Ethernet frame for tap), each message written is
//! one packet handed to the kernel as if it had arrived on the interface. Unless `iff-no-pi` is
//! given, each packet starts with the 4-byte packet information header (flags and protocol).
//! The interface exists while socketry holds it open; it has no EOF, so it ends with the relay.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use nix::libc;
use tokio::io::unix::AsyncFd;

use crate::address::{InterfaceAddr, OptionId, Options};
use crate::channel::{MessageRecv, MessageSend, Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::sys;
use crate::sys::tun::{Interface, InterfaceType};

/// The clone device socat and the kernel documentation name.
const DEFAULT_DEVICE: &str = "/dev/net/tun";

/// The largest packet a read can return: the largest MTU (65535), a packet information
/// header (4) and an Ethernet header with a VLAN tag (18). A read into less would cut the
/// packet silently, so reads always have this much room.
const MAX_PACKET: usize = 65535 + 4 + 18;

/// The interface flags an option sets or clears. The kernel ignores requests to change the
/// others (BROADCAST, LOOPBACK, POINTOPOINT, RUNNING, MASTER, SLAVE), so they are not options.
const FLAG_OPTIONS: &[(OptionId, libc::c_int, &str)] = &[
    (OptionId::IffUp, libc::IFF_UP, "UP"),
    (OptionId::IffNoArp, libc::IFF_NOARP, "NOARP"),
    (OptionId::IffPromisc, libc::IFF_PROMISC, "PROMISC"),
    (OptionId::IffAllMulti, libc::IFF_ALLMULTI, "ALLMULTI"),
    (OptionId::IffMulticast, libc::IFF_MULTICAST, "MULTICAST"),
    (OptionId::IffDebug, libc::IFF_DEBUG, "DEBUG"),
    (OptionId::IffNoTrailers, libc::IFF_NOTRAILERS, "NOTRAILERS"),
    (OptionId::IffPortSel, libc::IFF_PORTSEL, "PORTSEL"),
    (OptionId::IffAutoMedia, libc::IFF_AUTOMEDIA, "AUTOMEDIA"),
];

/// The interface's descriptor, shared by the reading and the writing half.
#[derive(Debug)]
struct Device {
    fd: AsyncFd<OwnedFd>,
}

impl Device {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        sys::ready::poll_read(&self.fd, cx, |fd| {
            nix::unistd::read(fd.as_raw_fd(), buf).map_err(io::Error::from)
        })
    }

    fn poll_write(&self, cx: &mut Context<'_>, packet: &[u8]) -> Poll<io::Result<()>> {
        let written = ready!(sys::ready::poll_write(&self.fd, cx, |fd| {
            nix::unistd::write(fd, packet).map_err(io::Error::from)
        }))?;
        if written == packet.len() {
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("packet of {} bytes written as {written}", packet.len()),
        )))
    }
}

#[derive(Debug)]
struct PacketReader {
    device: Arc<Device>,
    /// Room for the largest packet when the caller's buffer is smaller.
    spare: Vec<u8>,
}

impl MessageRecv for PacketReader {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        if buf.len() >= MAX_PACKET {
            return self.device.poll_read(cx, buf).map_ok(Some);
        }
        self.spare.resize(MAX_PACKET, 0);
        let n = ready!(self.device.poll_read(cx, &mut self.spare))?;
        if n > buf.len() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a packet of {n} bytes does not fit the {}-byte relay buffer (raise -b)",
                    buf.len()
                ),
            )));
        }
        buf[..n].copy_from_slice(&self.spare[..n]);
        Poll::Ready(Ok(Some(n)))
    }
}

#[derive(Debug)]
struct PacketWriter {
    device: Arc<Device>,
}

impl MessageSend for PacketWriter {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        self.device.poll_write(cx, msg)
    }
}

/// Creates and configures the interface.
pub fn open(addr: Option<&InterfaceAddr>, options: &Options) -> Result<Connection, OpenError> {
    let device = Path::new(options.text(OptionId::TunDevice).unwrap_or(DEFAULT_DEVICE));
    let kind = match options.text(OptionId::TunType) {
        Some("tap") => InterfaceType::Tap,
        _ => InterfaceType::Tun,
    };
    let wanted_name = options.text(OptionId::TunName);
    if let Some(name) = wanted_name {
        if name.len() > sys::tun::MAX_NAME || name.contains(['/', ' ', ':']) {
            return Err(OpenError::Refused(format!(
                "tun-name \"{name}\" is not an interface name (expected at most {} bytes, no '/', ':' or space)",
                sys::tun::MAX_NAME
            )));
        }
    }
    let packet_info = !options.flag(OptionId::NoPi, false);
    let (fd, name) = sys::tun::create(device, wanted_name, kind, packet_info).map_err(
        OpenError::io(format!(
            "creating a {} interface on {}",
            match kind {
                InterfaceType::Tun => "TUN",
                InterfaceType::Tap => "TAP",
            },
            device.display()
        )),
    )?;
    configure(&name, addr, options)?;
    let device = Arc::new(Device {
        fd: sys::register(fd).map_err(OpenError::io(format!("registering interface {name}")))?,
    });
    let mut description = format!("TUN {name}");
    if let Some(addr) = addr {
        description.push_str(&format!(" {addr}"));
    }
    tracing::info!("created interface {description}");
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(PacketReader {
            device: device.clone(),
            spare: Vec::new(),
        }))),
        Some(Writer::Messages(Box::new(PacketWriter { device }))),
        description,
    ))
}

/// Gives the interface its address, netmask, MTU and flags, then reads the flags back: a flag
/// asked for that did not take is an error rather than a silent difference.
fn configure(name: &str, addr: Option<&InterfaceAddr>, options: &Options) -> Result<(), OpenError> {
    let interface = Interface::new(name).map_err(OpenError::io(format!(
        "opening a control socket for interface {name}"
    )))?;
    if let Some(addr) = addr {
        interface
            .set_address(addr.addr)
            .map_err(OpenError::io(format!(
                "setting address {} on {name}",
                addr.addr
            )))?;
        interface
            .set_netmask(addr.netmask())
            .map_err(OpenError::io(format!(
                "setting netmask {} on {name}",
                addr.netmask()
            )))?;
    }
    if let Some(mtu) = options.count(OptionId::Mtu) {
        let value = i32::try_from(mtu)
            .map_err(|_| OpenError::Refused(format!("mtu {mtu} is too large")))?;
        interface
            .set_mtu(value)
            .map_err(OpenError::io(format!("setting MTU {mtu} on {name}")))?;
    }
    let asked: Vec<(libc::c_int, bool, &str)> = FLAG_OPTIONS
        .iter()
        .filter(|(id, _, _)| options.has(*id))
        .map(|(id, bit, label)| (*bit, options.flag(*id, false), *label))
        .collect();
    if asked.is_empty() {
        return Ok(());
    }
    let read_flags = || {
        interface
            .flags()
            .map_err(OpenError::io(format!("reading the flags of {name}")))
    };
    let mut flags = read_flags()?;
    for (bit, on, _) in &asked {
        // Every flag an option names fits in the 16 bits of ifr_flags.
        let bit = *bit as u16;
        if *on {
            flags |= bit;
        } else {
            flags &= !bit;
        }
    }
    interface
        .set_flags(flags)
        .map_err(OpenError::io(format!("setting the flags of {name}")))?;
    let now = read_flags()?;
    for (bit, on, label) in asked {
        if (now & bit as u16 != 0) != on {
            return Err(OpenError::Refused(format!(
                "interface {name} did not take {} {label}",
                if on { "flag" } else { "the clearing of flag" }
            )));
        }
    }
    Ok(())
}

// ---- The family's address type: TUN ----

use crate::address::{AddressType, Definition, FamilySpec, FamilyTypes, Groups, ParseErrorKind};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// A new TUN or TAP network interface, optionally given an IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TunSpec(pub Option<InterfaceAddr>);

static TUN: Definition<TunSpec> = Definition {
    ty: AddressType::new(
        "TUN",
        &[],
        &["if-addr/bits"],
        Groups::ALL.union(Groups::TUN),
        "a new TUN (or TAP) network interface: one packet (frame) per message, optionally given an IPv4 address",
    )
    .required(0),
    parse: |p| {
        if p.is_empty() {
            return Ok(TunSpec(None));
        }
        let given = p.text(0)?;
        InterfaceAddr::parse(given)
            .map(|addr| TunSpec(Some(addr)))
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "interface address",
                text: given.to_owned(),
                expected: "an IPv4 address and prefix length such as 10.0.0.1/24",
            })
    },
};

/// The TUN/TAP family: its address type and features.
pub static FAMILY: FamilyTypes<TunSpec> = FamilyTypes {
    features: &["TUN"],
    types: &[&TUN],
};

impl FamilySpec for TunSpec {
    fn address_type(&self) -> &'static AddressType {
        &TUN.ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(addr) => write!(f, ":{addr}"),
            None => Ok(()),
        }
    }
}

impl TunSpec {
    /// Creates the interface.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(self.0.as_ref(), options).map(Opened::Connection)
    }
}
