//! The tutorial's UDP receiver: print each datagram on its own line, COUNT of them.
//!
//! `cargo run --example udp_receiver -- 127.0.0.1:9999 3` (port 0 picks a free port).

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let at = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9999".to_owned());
    let count: usize = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let (host, port) = at.rsplit_once(':').unwrap_or(("127.0.0.1", at.as_str()));
    // UDP-RECVFROM answers its senders; each datagram is one peer.
    let mut socket = socketry::listen(&format!("UDP-RECVFROM:{port},bind={host},fork")).await?;
    if let Some(local) = socket.local_addr() {
        println!("listening on {local}");
    }
    let mut buf = vec![0; 64 * 1024];
    for _ in 0..count {
        let mut datagram = socket.accept().await?;
        if let Some(n) = datagram.read(&mut buf).await? {
            println!("{}", String::from_utf8_lossy(&buf[..n]));
        }
    }
    Ok(())
}
