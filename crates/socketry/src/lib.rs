//! socketry: client/server communication over sockets, in socat's address language.
//!
//! An address such as `TCP:127.0.0.1:8080` or `UNIX-LISTEN:/run/app.sock,fork` names an
//! endpoint; socketry opens it and moves data between two of them, both ways, the way socat
//! does: EOF on one side half-closes the other, and the other direction keeps flowing.
//!
//! ```no_run
//! # async fn demo() -> Result<(), socketry::Error> {
//! // A client: connect, send, half-close, read the reply.
//! let mut connection = socketry::connect("TCP:127.0.0.1:8080").await?;
//! connection.write_all(b"hello\n").await?;
//! connection.shutdown_write().await?;
//! let reply = connection.read_to_end().await?;
//! # Ok(()) }
//! ```
//!
//! # Organization
//!
//! - [`address`]: the address language: the lexer, the option table and typed values, how an
//!   address type is described, and errors that quote the offending text. No I/O, and no
//!   concrete family.
//! - [`registry`]: the list of families, one line each; from it come [`Kind`], parsing
//!   ([`Address::parse`]), `Display`, the dispatch of opening, and every list of address types
//!   (help, `-V`, suggestions, README's reference).
//! - [`channel`]: the two data models, byte streams and message channels, and the only place
//!   where one is converted to the other.
//! - [`endpoint`]: opening each family of endpoint (standard streams, TCP, UDP, Unix domain,
//!   socket pairs, pipes, programs, files, POSIX message queues, TUN/TAP interfaces) into a
//!   [`Connection`], or a [`Listener`] that yields them.
//!   A program's child [`endpoint::Process`] rides on its connection and is reaped by
//!   [`serve`] when the relay is over.
//! - [`relay`]: the engine that moves data between two connections: the directions, splice,
//!   the ending rules and the dump.
//! - [`serve`]: the application: [`serve::run`] opens two addresses (serving every peer with
//!   `fork`, in child tasks, or handing connections over with `UNIX-SENDFD`) and relays
//!   between them.
//! - [`measure`]: `socketry bench`'s measurements of every local mechanism (pipes, FIFOs, Unix
//!   and loopback sockets, message queues, shared memory): round-trip latency and throughput.
//! - [`scan`]: which TCP ports of a host accept connections (`nc -z`).
//! - [`server`]: ready-made servers (echo, discard, chat, a program per connection, the
//!   tutorial server) with admission by address and count, idle timeouts and a graceful drain.
//! - [`tls`]: TLS over any byte stream, on rustls: settings by socat's option names,
//!   certificate verification and pinning, ephemeral server certificates.
//! - [`transfer`]: verified file transfers: length and SHA-256 travel with the data.
//! - [`users`]: the user and group names of options, resolved when the address is read.
//! - `sys`: the thin wrappers over system calls; the only module with `unsafe`.

#![warn(missing_docs)]

pub mod address;
pub mod channel;
mod clock;
pub mod dns;
pub mod endpoint;
#[doc(hidden)]
pub mod fuzzing;
pub mod layer;
pub mod measure;
pub mod protocols;
pub mod registry;
pub mod relay;
pub mod scan;
pub mod serve;
pub mod server;
pub mod services;
mod sys;
pub mod tls;
pub mod transfer;
pub mod users;

pub use address::ParseError;
pub use clock::timestamp;
pub use endpoint::{Connection, Listener, OpenContext, OpenError};
pub use registry::{Address, Kind, Spec};

/// Any error of the convenience functions at the crate root. Its `Debug` form is the same
/// sentence as its `Display` form, so that a `main` returning it prints a sentence.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address text is not a valid address.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The address parsed but could not be opened (connected, bound, listened on, run).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Reading or writing an open connection failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// [`listen`] was given an address that connects instead of waiting for peers.
    #[error(
        "\"{0}\" does not listen (expected an address such as TCP-LISTEN:port or UNIX-LISTEN:path)"
    )]
    NotAListener(String),
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// Opens `address` as one connection: connects, or for a listening address waits for the
/// first peer.
pub async fn connect(address: &str) -> Result<Connection, Error> {
    let address = Address::parse(address)?;
    Ok(registry::connect(&address, &OpenContext::default()).await?)
}

/// Opens a listening address; [`Listener::accept`] then yields a connection per peer.
pub async fn listen(address: &str) -> Result<Listener, Error> {
    let parsed = Address::parse(address)?;
    match &parsed {
        Address::Single(spec) => match registry::open_spec(spec, &OpenContext::default()).await? {
            endpoint::Opened::Listener(listener) => Ok(listener),
            endpoint::Opened::Connection(_) => Err(Error::NotAListener(address.to_owned())),
        },
        Address::Dual { .. } => Err(Error::NotAListener(address.to_owned())),
    }
}
