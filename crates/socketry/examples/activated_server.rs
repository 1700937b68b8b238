//! A server whose listening socket is inherited, as systemd socket activation hands it over:
//! echo what each client sends, until it closes.
//!
//! `systemd-socket-activate -l /tmp/echo.sock cargo run --example activated_server` (or a
//! systemd `.socket` unit) passes the socket as descriptor 3 with `LISTEN_FDS=1`; the server
//! answers every client that connects to it until it is stopped.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    // SYSTEMD-LISTEN takes the first socket systemd passed; ACCEPT-FD:3 would too, without
    // checking LISTEN_PID and LISTEN_FDS.
    let mut listener = socketry::listen("SYSTEMD-LISTEN").await?;
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
