//! Opening endpoints: one module per family, each owning its address types' definitions and
//! their open. Opening gives either a ready [`Connection`] (a reader and a writer, each a byte
//! stream or a message channel) or a [`Listener`] that yields connections; the registry
//! (the `registry` module) dispatches a parsed spec to its family.

pub mod combinations;
pub mod connection;
pub mod datagrams;
pub mod descriptor;
pub mod error;
pub mod exec;
pub mod file;
pub mod generic;
pub mod guard;
pub mod handover;
pub mod inherited;
pub mod interface;
pub mod listener;
pub mod mqueue;
pub mod netns;
pub mod opened;
pub mod packet_info;
pub mod peer;
pub mod pipe;
pub mod process;
pub mod proxy;
pub mod proxy_header;
pub mod pty;
pub mod rawip;
pub mod readline;
pub mod report;
pub mod retry;
pub mod setsockopt;
pub mod shared;
pub mod shm;
pub mod socket;
pub mod socketpair;
pub mod stdio;
pub mod stream;
pub mod tcp;
pub mod tcpwrap;
pub mod terminal;
pub mod tls;
pub mod tun;
pub mod udp;
pub mod unix;
pub mod websocket;

pub use connection::{Access, Connection, DataOptions, OpenContext};
pub use error::OpenError;
pub use listener::{Accepted, Listener};
pub use opened::Opened;
pub use peer::{PeerCredentials, SocketAddresses};
pub use process::{Exit, Process};
