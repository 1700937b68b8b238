//! SOCKETPAIR: two connected Unix sockets, one written and the other read, so that what the
//! relay writes comes back to it (an echo). Datagrams by default; `socktype` picks another type.

use std::sync::Arc;

use socket2::{Domain, Socket, Type};

use super::socket::{connected_messages, MessageSocket};
use crate::address::Options;
use crate::endpoint::connection::Connection;
use crate::endpoint::error::OpenError;

/// Opens SOCKETPAIR: the relay's writes to one socket come back as reads from the other.
pub fn open(options: &Options) -> Result<Connection, OpenError> {
    let (ty, zero_is_eof) = match options.socktype() {
        Some(1) => (Type::STREAM, true),
        Some(5) => (Type::SEQPACKET, true),
        _ => (Type::DGRAM, false),
    };
    let (write_end, read_end) =
        Socket::pair(Domain::UNIX, ty, None).map_err(OpenError::io("creating a socket pair"))?;
    let register = |s: Socket| {
        MessageSocket::new(s)
            .map(Arc::new)
            .map_err(OpenError::io("registering a socket pair"))
    };
    let (write_end, read_end) = (register(write_end)?, register(read_end)?);
    Ok(connected_messages(
        read_end,
        write_end,
        zero_is_eof,
        "SOCKETPAIR".to_owned(),
    ))
}

// ---- The family's address type: SOCKETPAIR ----

use crate::address::{AddressType, Definition, FamilySpec, FamilyTypes, Groups};
use crate::endpoint::connection::OpenContext;
use crate::endpoint::opened::Opened;

/// A connected socket pair: what is written is read back. It takes no parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SocketPairSpec;

static SOCKETPAIR: Definition<SocketPairSpec> = Definition {
    ty: AddressType::new(
        "SOCKETPAIR",
        &[],
        &[],
        Groups::ALL.union(Groups::STREAM).union(Groups::SOCKTYPE),
        "a connected socket pair: what is written is read back (datagrams by default)",
    ),
    parse: |_| Ok(SocketPairSpec),
};

/// The socket pair family: its address type and features.
pub static FAMILY: FamilyTypes<SocketPairSpec> = FamilyTypes {
    features: &["SOCKETPAIR"],
    types: &[&SOCKETPAIR],
};

impl FamilySpec for SocketPairSpec {
    fn address_type(&self) -> &'static AddressType {
        &SOCKETPAIR.ty
    }

    fn fmt_params(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ok(())
    }
}

impl SocketPairSpec {
    /// Makes the pair.
    pub async fn open(&self, options: &Options, _: &OpenContext) -> Result<Opened, OpenError> {
        open(options).map(Opened::Connection)
    }
}
