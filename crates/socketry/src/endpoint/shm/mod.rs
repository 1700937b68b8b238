//! Shared memory between two processes: `SHM-LISTEN:path` and `SHM-CONNECT:path`.
//!
//! The listener accepts on a Unix stream socket at `path` (the rendezvous). For each
//! connection it creates a sealed memory file holding two rings (see [`ring`]), one per
//! direction, and four eventfds, and sends them all over the socket (`SCM_RIGHTS`) with a
//! short hello naming the layout. Both sides map the memory; from then on data moves through
//! the rings only. The socket stays open as the peer's heartbeat: its end tells a side that
//! the peer is gone even if the peer died without closing its rings.
//!
//! A side that finds its ring empty (reading) or full (writing) publishes that it waits,
//! spins for `shm-spin` microseconds if asked, then sleeps on its eventfd, which the tokio
//! reactor polls; the other side signals the eventfd only when the flag says someone sleeps.
//!
//! The channel is a byte stream by default; with `shm-messages` each write is one message,
//! delivered whole (a 4-byte length, then the bytes; at most the ring's size). Closing the
//! writing half is EOF for the reader once it has read everything before it; a side whose
//! peer stopped reading gets EPIPE; a peer that vanishes without closing is a reset.

mod address_types;
mod channel;
mod halves;
mod handshake;
pub mod ring;
mod wake;

pub use address_types::{ShmSpec, FAMILY};

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use socket2::Type;
use tokio::net::UnixListener;

use super::connection::OpenContext;
use super::listener::{Accept, AcceptError, AcceptFuture, Accepting, Listener};
use super::opened::Opened;
use super::unix::ancillary;
use super::unix::credentials::CredentialFilter;
use super::unix::{admit, connect_socket, display_name, listening_socket};
use super::{Connection, OpenError};
use crate::address::{OptionId, Options, UnixName};
use crate::sys;
use crate::sys::shm::SharedMemory;
use channel::{channel, Sides};
pub use handshake::DEFAULT_RING_SIZE;
use handshake::{events_array, HELLO_FDS, HELLO_LEN};
pub(crate) use handshake::{parse_any_hello, Hello, Settings};

/// `SHM-LISTEN`: what a listener needs to set up each peer's channel.
#[derive(Debug)]
pub(crate) struct ShmListener {
    listener: UnixListener,
    settings: Settings,
}

/// Listens for shared-memory peers at `name`.
pub fn listen(name: &UnixName, options: &Options) -> Result<Listener, OpenError> {
    let settings = Settings::from_options(options)?;
    let filter = CredentialFilter::from_options(options)?;
    let (socket, _, guard) = listening_socket(name, options, "SHM-LISTEN")?;
    let listener = UnixListener::from_std(std::os::unix::net::UnixListener::from(OwnedFd::from(
        socket,
    )))
    .map_err(OpenError::io("registering the listener"))?;
    let description = format!("SHM {}", display_name(name));
    Ok(
        Listener::new(ShmListener { listener, settings }, description, options)
            .admitting(filter)
            .with_guard(guard),
    )
}

impl Accept for ShmListener {
    fn accept<'a>(&'a mut self, on: Accepting<'a>) -> AcceptFuture<'a> {
        Box::pin(async move {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(AcceptError::Accept)?;
                let Some(credentials) = admit(&stream, on) else {
                    continue;
                };
                match self.serve(stream, on.listener) {
                    Ok(mut connection) => {
                        connection.peer_credentials = credentials;
                        return Ok(connection);
                    }
                    Err(e) => tracing::warn!(
                        "setting up shared memory on {}: {}",
                        on.listener,
                        sys::error_text(&e)
                    ),
                }
            }
        })
    }
}

impl ShmListener {
    /// Sets up the channel with a peer that just connected to the rendezvous socket.
    fn serve(&self, control: tokio::net::UnixStream, description: &str) -> io::Result<Connection> {
        let settings = self.settings;
        let layout = settings.layout;
        let (memfd, memory) = SharedMemory::create(c"socketry-shm", layout.total_len())?;
        ring::initialise(&memory, layout, settings.messages);
        let events: Vec<OwnedFd> = (0..4)
            .map(|_| sys::shm::new_event())
            .collect::<io::Result<_>>()?;
        let hello = handshake::hello(settings);
        let fds: Vec<_> = std::iter::once(memfd.as_fd())
            .chain(events.iter().map(AsFd::as_fd))
            .collect();
        // A fresh socket's buffer always has room for the hello.
        let sent = ancillary::send_fds(&control, &hello, &fds)?;
        if sent != hello.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the hello was cut short",
            ));
        }
        let [r0_data, r0_space, r1_data, r1_space] = events_array(events)?;
        let control = OwnedFd::from(control.into_std()?);
        // The listener writes ring 0 and reads ring 1.
        channel(
            Arc::new(memory),
            settings,
            Sides {
                outgoing: 0,
                out_data: r0_data,
                out_space: r0_space,
                incoming: 1,
                in_data: r1_data,
                in_space: r1_space,
            },
            control,
            format!(
                "{description} ({}, rings of {} bytes)",
                settings.mode(),
                layout.capacity()
            ),
        )
    }
}

/// `SHM-CONNECT`: connects to the rendezvous socket and maps the memory the listener sends.
pub async fn connect(name: &UnixName, options: &Options) -> Result<Connection, OpenError> {
    let settings = Settings::from_options(options)?;
    let shown = display_name(name);
    let (socket, _) = connect_socket(name, Type::STREAM, options).await?;
    let action = format!("setting up shared memory with {shown}");
    let socket = sys::register(socket).map_err(OpenError::io(action.clone()))?;
    let receiving = async {
        let mut hello = [0u8; HELLO_LEN + 1];
        let received = sys::ready::read(&socket, |s| {
            ancillary::recv_message(s, &mut hello, HELLO_FDS)
        })
        .await?;
        Ok::<_, io::Error>((hello, received))
    };
    let (hello, received) = crate::endpoint::error::within(
        options.seconds(OptionId::ConnectTimeout),
        &action,
        receiving,
    )
    .await?;
    let refused = |why: String| OpenError::Refused(format!("{action}: {why}"));
    if received.len == 0 {
        return Err(refused(
            "the listener closed the connection (it may not admit us)".to_owned(),
        ));
    }
    let Hello {
        messages, layout, ..
    } = Hello::parse(&hello[..received.len.min(hello.len())], settings).map_err(refused)?;
    let mut fds = received.fds.into_iter();
    let (Some(memfd), Ok(events)) = (fds.next(), events_array(fds.collect())) else {
        return Err(refused(format!(
            "expected {HELLO_FDS} descriptors with the hello"
        )));
    };
    let memory = SharedMemory::map(memfd.as_fd(), layout.total_len())
        .map_err(|e| refused(sys::error_text(&e)))?;
    drop(memfd);
    match ring::check_header(&memory, layout) {
        Ok(m) if m == messages => {}
        Ok(_) => return Err(refused("the header contradicts the hello".to_owned())),
        Err(why) => return Err(refused(why)),
    }
    let [r0_data, r0_space, r1_data, r1_space] = events;
    let control = socket.into_inner();
    tracing::info!("sharing memory with {shown}");
    // The connector reads ring 0 and writes ring 1.
    channel(
        Arc::new(memory),
        settings,
        Sides {
            outgoing: 1,
            out_data: r1_data,
            out_space: r1_space,
            incoming: 0,
            in_data: r0_data,
            in_space: r0_space,
        },
        OwnedFd::from(control),
        format!(
            "SHM {shown} ({}, rings of {} bytes)",
            settings.mode(),
            layout.capacity()
        ),
    )
    .map_err(OpenError::io(action))
}

impl ShmSpec {
    /// Listens at, or connects to, the rendezvous socket.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        Ok(match self {
            ShmSpec::Listen(name) => Opened::Listener(listen(name, options)?),
            ShmSpec::Connect(name) => Opened::Connection(connect(name, options).await?),
        })
    }
}
