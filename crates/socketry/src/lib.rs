//! socketry: client/server communication over sockets.
pub mod address;
