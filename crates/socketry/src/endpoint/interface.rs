//! INTERFACE: the frames of an existing network interface, through a packet socket bound to
//! it. A message channel: each message read is one frame that arrived on the interface (what
//! this host sends out of it is passed over, so that a relay never reads back what it
//! wrote), each message written is one frame sent out of it. On a TUN interface a frame is an
//! IP packet; on Ethernet it starts with the Ethernet header. Needs root (CAP_NET_RAW).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::unix::AsyncFd;

use crate::address::Options;
use crate::channel::{MessageRecv, MessageSend, Reader, Writer};
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;
use crate::sys;
use crate::sys::packet::Heading;

/// The packet socket, shared by the reading and the writing half.
#[derive(Debug)]
struct PacketSocket {
    fd: AsyncFd<OwnedFd>,
}

#[derive(Debug)]
struct FrameReader {
    socket: Arc<PacketSocket>,
}

impl MessageRecv for FrameReader {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        loop {
            let (n, heading) = ready!(sys::ready::poll_read(&self.socket.fd, cx, |fd| {
                sys::packet::receive(fd.as_fd(), buf)
            }))?;
            if heading == Heading::Incoming {
                return Poll::Ready(Ok(Some(n)));
            }
        }
    }
}

#[derive(Debug)]
struct FrameWriter {
    socket: Arc<PacketSocket>,
}

impl MessageSend for FrameWriter {
    fn poll_send(&mut self, cx: &mut Context<'_>, frame: &[u8]) -> Poll<io::Result<()>> {
        let sent = ready!(sys::ready::poll_write(&self.socket.fd, cx, |fd| {
            sys::packet::transmit(fd.as_fd(), frame)
        }))?;
        if sent == frame.len() {
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("frame of {} bytes sent as {sent}", frame.len()),
        )))
    }
}

/// Binds a packet socket to the interface `name`.
pub fn open(name: &str) -> Result<Connection, OpenError> {
    let fd = sys::packet::bind_interface(name).map_err(|source| OpenError::Io {
        action: format!("opening a packet socket on interface {name} (needs root)"),
        source,
    })?;
    let socket = Arc::new(PacketSocket {
        fd: sys::register(fd).map_err(OpenError::io(format!(
            "registering the packet socket on {name}"
        )))?,
    });
    let description = format!("INTERFACE {name}");
    tracing::info!("opened {description}");
    Ok(Connection::new(
        Some(Reader::Messages(Box::new(FrameReader {
            socket: socket.clone(),
        }))),
        Some(Writer::Messages(Box::new(FrameWriter { socket }))),
        description,
    ))
}

// ---- The family's address type: INTERFACE ----

use crate::address::{AddressType, Definition, FamilySpec, FamilyTypes, Groups, ParseErrorKind};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// The most bytes of an interface name (IFNAMSIZ less its terminating zero).
const MAX_NAME: usize = 15;

/// An existing network interface, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InterfaceSpec(pub String);

static INTERFACE: Definition<InterfaceSpec> = Definition {
    ty: AddressType::new(
        "INTERFACE",
        &[],
        &["interface"],
        Groups::ALL,
        "the frames of an existing network interface (a packet socket bound to it; root): one frame per message, what arrives read, what is written sent",
    ),
    parse: |p| {
        let name = p.text(0)?;
        if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', ' ', ':']) {
            return Err(ParseErrorKind::InvalidParameter {
                what: "interface name",
                text: name.to_owned(),
                expected: "an interface name of at most 15 bytes, no '/', ':' or space",
            });
        }
        Ok(InterfaceSpec(name.to_owned()))
    },
};

/// The INTERFACE family: its address type and feature.
pub static FAMILY: FamilyTypes<InterfaceSpec> = FamilyTypes {
    features: &["INTERFACE"],
    types: &[&INTERFACE],
};

impl FamilySpec for InterfaceSpec {
    fn address_type(&self) -> &'static AddressType {
        &INTERFACE.ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", crate::address::escape(&self.0))
    }
}

impl InterfaceSpec {
    /// Opens the packet socket. Its options are the data options every address has, which
    /// the caller applies to the connection.
    pub async fn open(&self, _: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(&self.0).map(Opened::Connection)
    }
}
