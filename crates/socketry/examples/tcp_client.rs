//! The tutorial's TCP client: send a message, half-close, print the reply.
//!
//! `cargo run --example tcp_client -- 127.0.0.1 8080 'hello'`

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, message] = args.as_slice() else {
        eprintln!("usage: tcp_client HOST PORT MESSAGE");
        std::process::exit(2);
    };
    let mut server = socketry::connect(&format!("TCP:{host}:{port}")).await?;
    server.write_all(message.as_bytes()).await?;
    server.shutdown_write().await?;
    let reply = server.read_to_end().await?;
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}
