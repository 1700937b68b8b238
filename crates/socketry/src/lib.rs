//! socketry: client/server communication over sockets.
pub mod address;
pub mod channel;
mod clock;
pub mod endpoint;
pub mod relay;
mod sys;

pub use clock::timestamp;
