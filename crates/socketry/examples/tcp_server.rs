//! The tutorial's TCP server: accept clients and echo what each one sends, many at once.
//!
//! `cargo run --example tcp_server -- 127.0.0.1:8080` (port 0 picks a free port).

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let at = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let (host, port) = at.rsplit_once(':').unwrap_or(("127.0.0.1", at.as_str()));
    let mut listener = socketry::listen(&format!("TCP-LISTEN:{port},bind={host}")).await?;
    if let Some(local) = listener.local_addr() {
        println!("listening on {local}");
    }
    loop {
        let mut client = listener.accept().await?;
        tokio::spawn(async move {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(Some(n)) = client.read(&mut buf).await {
                if client.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            let _ = client.shutdown_write().await;
        });
    }
}
