//! The tutorial's Unix stream server: echo each client's bytes back, upper-cased.
//!
//! `cargo run --example unix_server -- /tmp/echo.sock`; Ctrl-C ends it, and the socket file is
//! removed then, as the listener is dropped.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/socketry-example.sock".to_owned());
    let mut listener = socketry::listen(&format!("UNIX-LISTEN:'{path}'")).await?;
    // Registered before the line that tells a client it may connect, so that no Ctrl-C
    // from then on is missed.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    println!("listening on {path}");
    loop {
        let mut client = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = interrupt.recv() => break,
        };
        tokio::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(Some(n)) = client.read(&mut buf).await {
                buf[..n].make_ascii_uppercase();
                if client.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            let _ = client.shutdown_write().await;
        });
    }
    println!("removing {path}");
    Ok(())
}
