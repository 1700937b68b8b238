//! A layer over a stream: with `length-prefix`, messages cross a TCP connection whole, each
//! preceded by its length, instead of as bytes a read may split or join.
//!
//! `cargo run --example length_prefix -- one two three` sends the words to itself over a
//! loopback connection and prints each on its own line, as the messages they were sent as.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let mut listener = socketry::listen("TCP-LISTEN:0,bind=127.0.0.1,length-prefix=2").await?;
    let Some(local) = listener.local_addr() else {
        return Err(std::io::Error::other("the listener has no address").into());
    };
    let words: Vec<String> = std::env::args().skip(1).collect();
    let sending = tokio::spawn(async move {
        let mut peer = socketry::connect(&format!("TCP:{local},length-prefix=2")).await?;
        for word in &words {
            peer.write_all(word.as_bytes()).await?;
        }
        peer.shutdown_write().await?;
        Ok::<_, socketry::Error>(())
    });
    let mut peer = listener.accept().await?;
    let mut buf = vec![0; 64 * 1024];
    // Each read is one whole message, however TCP cut the bytes.
    while let Some(n) = peer.read(&mut buf).await? {
        println!("{}", String::from_utf8_lossy(&buf[..n]));
    }
    match sending.await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e).into()),
    }
}
