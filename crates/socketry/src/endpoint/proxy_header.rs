//! Sending a PROXY protocol header ([`crate::layer::proxy_protocol`]) from a connecting
//! address: `proxy-protocol=1|2` on TCP, OPENSSL, WS-CONNECT and the proxy clients, and the
//! `PROXY-PROTOCOL:1|2` layer of a chain. The header names the original client: the first
//! address's peer and the address it reached, as the second address is opened for it
//! ([`OpenContext::first_addresses`]). Without one (the first address is not an internet
//! socket, or this is the first address) it says so: v1's `UNKNOWN`, v2's `LOCAL`.
//!
//! Where the header goes is the destination's first byte: straight over TCP, before a TLS
//! or WebSocket handshake (HAProxy's `accept-proxy` reads it there), and through a proxy's
//! tunnel once it is open (the target, not the proxy, wants to know the client).

use std::sync::Arc;

use super::connection::{Connection, OpenContext};
use super::error::OpenError;
use crate::address::{
    AddressType, Definition, FamilySpec, FamilyTypes, Groups, OptionId, Options, ParseErrorKind,
    Value,
};
use crate::layer::proxy_protocol::{version_of, Version};
use crate::layer::{Layer, ProxyProtocolWriter, Stack};

/// Refuses `proxy-protocol` without a version on a connecting address: a listener reads
/// either version, but a client must say which one it sends (`proxy-protocol=1` or `=2`).
pub(crate) fn check_sending(options: &Options) -> Result<(), ParseErrorKind> {
    match options.get(OptionId::ProxyProtocol) {
        Some(Value::Bool(true)) => Err(ParseErrorKind::MissingOptionValue {
            name: "proxy-protocol".to_owned(),
            expected: "1 or 2",
        }),
        _ => Ok(()),
    }
}

/// The header's layer for `version`, naming the client `context` knows of.
pub(crate) fn writer(version: Version, context: &OpenContext) -> Arc<dyn Layer> {
    Arc::new(ProxyProtocolWriter {
        version,
        addresses: context
            .first_addresses
            .map(|addresses| (addresses.peer, addresses.local)),
    })
}

/// Sends the header `proxy-protocol=1|2` asks for on `connection`, first; a connection
/// without the option is given back as it came.
pub(crate) async fn send(
    connection: Connection,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    match version_of(options) {
        Some(version) => {
            connection
                .stack(&Stack::new(vec![writer(version, context)]))
                .await
        }
        None => Ok(connection),
    }
}

// ---- The PROXY-PROTOCOL layer of a chain ----

static PROXY_PROTOCOL_LAYER: Definition<Version> = Definition {
    ty: AddressType::new(
        "PROXY-PROTOCOL",
        &[],
        &["version"],
        Groups::NONE,
        "send a PROXY protocol header (1: v1's text line, 2: v2's binary) naming the first address's peer, before any data, over what is on the right",
    ),
    parse: |p| match p.text(0)? {
        "1" => Ok(Version::V1),
        "2" => Ok(Version::V2),
        other => Err(ParseErrorKind::InvalidParameter {
            what: "PROXY protocol version",
            text: other.to_owned(),
            expected: "1 or 2",
        }),
    },
};

/// The PROXY protocol's layer, for the registry of layers.
pub static LAYERS: FamilyTypes<Version> = FamilyTypes {
    features: &[],
    types: &[&PROXY_PROTOCOL_LAYER],
};

impl FamilySpec for Version {
    fn address_type(&self) -> &'static AddressType {
        &PROXY_PROTOCOL_LAYER.ty
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, ":{}", self.number())
    }
}
