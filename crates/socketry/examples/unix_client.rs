//! The tutorial's Unix stream client: send a message, half-close, print the reply.
//!
//! `cargo run --example unix_client -- /tmp/echo.sock 'hello'`

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, message] = args.as_slice() else {
        eprintln!("usage: unix_client PATH MESSAGE");
        std::process::exit(2);
    };
    let mut server = socketry::connect(&format!("UNIX-CONNECT:'{path}'")).await?;
    server.write_all(message.as_bytes()).await?;
    server.shutdown_write().await?;
    println!("{}", String::from_utf8_lossy(&server.read_to_end().await?));
    Ok(())
}
