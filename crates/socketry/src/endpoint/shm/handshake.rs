//! The shared-memory handshake: the settings a side takes from its options, and the hello
//! the listener sends over the rendezvous socket with the memory file and the four eventfds,
//! which the connector checks against its own settings before mapping anything.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use super::ring::{self, Layout};
use crate::address::{OptionId, Options};
use crate::endpoint::OpenError;

/// Each ring's size when `shm-size` is not given.
pub const DEFAULT_RING_SIZE: u64 = 1 << 20;

/// The hello's first bytes; then version (u32), flags (u32) and ring capacity (u64), little
/// endian.
const HELLO_MAGIC: &[u8; 8] = b"SKTRYSHM";
pub(super) const HELLO_LEN: usize = 24;
/// The memory file and four eventfds: ring 0's data and space, ring 1's data and space.
pub(super) const HELLO_FDS: usize = 5;

/// How a side uses the channel, from its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Settings {
    /// Each ring's size (the listener's choice; the connector learns it).
    pub(super) layout: Layout,
    pub(super) messages: bool,
    pub(super) spin: Duration,
}

impl Settings {
    pub(crate) fn from_options(options: &Options) -> Result<Settings, OpenError> {
        let size = options
            .count(OptionId::ShmSize)
            .unwrap_or(DEFAULT_RING_SIZE);
        let layout = Layout::new(size).ok_or_else(|| {
            OpenError::Refused(format!(
                "shm-size={size} is out of range (expected {} to {} bytes)",
                ring::MIN_CAPACITY,
                ring::MAX_CAPACITY
            ))
        })?;
        let spin = options.count(OptionId::ShmSpin).unwrap_or(0);
        if spin > 1_000_000 {
            return Err(OpenError::Refused(format!(
                "shm-spin={spin} is too long (expected at most 1000000 microseconds)"
            )));
        }
        Ok(Settings {
            layout,
            messages: options.flag(OptionId::ShmMessages, false),
            spin: Duration::from_micros(spin),
        })
    }

    pub(super) fn mode(&self) -> &'static str {
        if self.messages {
            "messages"
        } else {
            "bytes"
        }
    }
}

/// The hello a listener sends with the memory and the eventfds: the magic, the layout
/// version, the flags (messages or bytes) and each ring's capacity.
pub(super) fn hello(settings: Settings) -> Vec<u8> {
    let mut hello = Vec::with_capacity(HELLO_LEN);
    hello.extend_from_slice(HELLO_MAGIC);
    hello.extend_from_slice(&ring::VERSION.to_le_bytes());
    let flags = if settings.messages {
        ring::FLAG_MESSAGES
    } else {
        0
    };
    hello.extend_from_slice(&flags.to_le_bytes());
    hello.extend_from_slice(&(settings.layout.capacity() as u64).to_le_bytes());
    hello
}

/// The four eventfds that come with the memory, in their order.
pub(super) fn events_array(events: Vec<OwnedFd>) -> io::Result<[OwnedFd; 4]> {
    events
        .try_into()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "expected four eventfds"))
}

/// What the listener's hello says, checked against our own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hello {
    pub version: u32,
    pub messages: bool,
    pub layout: Layout,
}

impl Hello {
    /// Parses the hello's bytes (as many as arrived), refusing anything this side cannot use:
    /// the wrong length or magic, another layout version, the other channel kind, or a ring
    /// size that is not one a listener could have made.
    pub(crate) fn parse(hello: &[u8], settings: Settings) -> Result<Hello, String> {
        let Some(hello) = hello
            .get(..HELLO_LEN)
            .filter(|h| hello.len() == HELLO_LEN && h.starts_with(HELLO_MAGIC))
        else {
            return Err(
                "the peer does not speak socketry's shared memory (expected SHM-LISTEN)".to_owned(),
            );
        };
        let word = |at: usize| [hello[at], hello[at + 1], hello[at + 2], hello[at + 3]];
        let version = u32::from_le_bytes(word(8));
        let flags = u32::from_le_bytes(word(12));
        let mut capacity = [0u8; 8];
        capacity.copy_from_slice(&hello[16..24]);
        let capacity = u64::from_le_bytes(capacity);
        if version != ring::VERSION {
            return Err(format!(
                "layout version {version} (expected {})",
                ring::VERSION
            ));
        }
        let messages = flags & ring::FLAG_MESSAGES != 0;
        if messages != settings.messages {
            let theirs = if messages { "messages" } else { "bytes" };
            return Err(format!(
                "the listener's channel carries {theirs} and ours {} (expected shm-messages on both sides or on neither)",
                settings.mode()
            ));
        }
        let layout = Layout::new(capacity)
            .filter(|l| l.capacity() as u64 == capacity)
            .ok_or_else(|| format!("a ring of {capacity} bytes is not a valid size"))?;
        Ok(Hello {
            version,
            messages,
            layout,
        })
    }
}

/// The fuzzing entry point: parses `data` as a hello for a connector of either channel kind
/// (the first byte chooses), checking that what is accepted is self-consistent.
pub(crate) fn parse_any_hello(data: &[u8]) -> Option<Hello> {
    let (&kind, hello) = data.split_first()?;
    let settings = Settings {
        layout: Layout::new(DEFAULT_RING_SIZE)?,
        messages: kind & 1 == 1,
        spin: Duration::ZERO,
    };
    let parsed = Hello::parse(hello, settings).ok()?;
    assert_eq!(parsed.messages, settings.messages);
    assert_eq!(parsed.version, ring::VERSION);
    Some(parsed)
}
