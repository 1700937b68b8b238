//! A socket pair as an endpoint: each message written to one socket is read, whole, from the
//! other.
//!
//! `cargo run --example socketpair_echo -- one two three` prints each word on its own line:
//! the pair is datagram sockets, so every write comes back as the same one message.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let mut pair = socketry::connect("SOCKETPAIR").await?;
    let mut buf = vec![0; 64 * 1024];
    for word in std::env::args().skip(1) {
        pair.write_all(word.as_bytes()).await?;
        // One read is one message: the word, never part of it or two of them.
        if let Some(n) = pair.read(&mut buf).await? {
            println!("{}", String::from_utf8_lossy(&buf[..n]));
        }
    }
    Ok(())
}
