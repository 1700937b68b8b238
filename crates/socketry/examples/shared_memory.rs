//! Shared memory as an endpoint: a listener and a client in one process exchange a message
//! through socketry's shared-memory rings, met at a Unix socket path.
//!
//! `cargo run --example shared_memory -- /tmp/shm.sock 'hello'` prints `hello`, after the
//! client sent it to the listener, which sent it back.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, message] = args.as_slice() else {
        eprintln!("usage: shared_memory PATH MESSAGE");
        std::process::exit(2);
    };
    let mut listener = socketry::listen(&format!("SHM-LISTEN:'{path}'")).await?;
    // The listener's side: echo what comes until the client's EOF.
    let echo = tokio::spawn(async move {
        let mut peer = listener.accept().await?;
        let mut buf = vec![0; 64 * 1024];
        while let Some(n) = peer.read(&mut buf).await? {
            peer.write_all(&buf[..n]).await?;
        }
        peer.shutdown_write().await?;
        Ok::<_, socketry::Error>(())
    });
    let mut client = socketry::connect(&format!("SHM-CONNECT:'{path}'")).await?;
    client.write_all(message.as_bytes()).await?;
    client.shutdown_write().await?;
    println!("{}", String::from_utf8_lossy(&client.read_to_end().await?));
    match echo.await {
        Ok(result) => result,
        Err(e) => Err(std::io::Error::other(e).into()),
    }
}
