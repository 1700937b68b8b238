//! What a connection knows about the other end: the socket addresses of an internet
//! connection and the credentials of a Unix peer. A program run for the second address learns
//! both from its environment.

/// The addresses of a socket connection, which a program learns from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketAddresses {
    /// This end's address.
    pub local: std::net::SocketAddr,
    /// The peer's address.
    pub peer: std::net::SocketAddr,
}

/// Who a Unix socket peer is, as the kernel vouches for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's user id.
    pub uid: u32,
    /// The peer's group id.
    pub gid: u32,
}

impl std::fmt::Display for PeerCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "uid {} gid {} pid {}", self.uid, self.gid, self.pid)
    }
}
