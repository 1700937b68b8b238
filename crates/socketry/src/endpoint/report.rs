//! A socket's `-D` report: its options as the kernel reports them, read only when asked.

use std::io;

use socket2::SockAddr;

/// The socket options in effect on a socket, read back from the kernel, for `-D`:
/// `SO_RCVBUF=212992 SO_SNDBUF=212992 SO_KEEPALIVE=0 SO_REUSEADDR=1 TCP_NODELAY=1`.
pub fn report(socket: socket2::SockRef<'_>) -> String {
    let flag = |v: io::Result<bool>| v.map_or("?".to_owned(), |b| u8::from(b).to_string());
    let size = |v: io::Result<usize>| v.map_or("?".to_owned(), |n| n.to_string());
    let mut text = format!(
        "SO_RCVBUF={} SO_SNDBUF={} SO_KEEPALIVE={} SO_REUSEADDR={} SO_REUSEPORT={}",
        size(socket.recv_buffer_size()),
        size(socket.send_buffer_size()),
        flag(socket.keepalive()),
        flag(socket.reuse_address()),
        flag(socket.reuse_port()),
    );
    if socket.r#type().is_ok_and(|t| t == socket2::Type::STREAM)
        && socket
            .domain()
            .is_ok_and(|d| d == socket2::Domain::IPV4 || d == socket2::Domain::IPV6)
    {
        text.push_str(&format!(" TCP_NODELAY={}", flag(socket.nodelay())));
        // IPPROTO_MPTCP: the socket is Multipath TCP (`mptcp`).
        if socket
            .protocol()
            .is_ok_and(|p| p == Some(socket2::Protocol::from(262)))
        {
            text.push_str(" MPTCP=1");
        }
    }
    if socket.domain().is_ok_and(|d| d == socket2::Domain::IPV6) {
        text.push_str(&format!(" IPV6_V6ONLY={}", flag(socket.only_v6())));
    }
    if let Ok(local) = socket.local_addr() {
        text.push_str(&format!(" local={}", describe_sockaddr(&local)));
    }
    if let Ok(peer) = socket.peer_addr() {
        text.push_str(&format!(" peer={}", describe_sockaddr(&peer)));
    }
    text
}

/// A socket address as text for logs: `1.2.3.4:5`, `[::1]:5`, a path, `@abstract`.
pub fn describe_sockaddr(addr: &SockAddr) -> String {
    if let Some(sa) = addr.as_socket() {
        return sa.to_string();
    }
    // A path or name that is not UTF-8 shows its other bytes as \xNN.
    if let Some(path) = addr.as_pathname() {
        use std::os::unix::ffi::OsStrExt;
        return crate::address::display_bytes(path.as_os_str().as_bytes());
    }
    if let Some(name) = addr.as_abstract_namespace() {
        return format!("@{}", crate::address::display_bytes(name));
    }
    "(unnamed)".to_owned()
}
