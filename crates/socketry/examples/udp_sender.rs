//! The tutorial's UDP sender: send each argument after HOST PORT as one datagram.
//!
//! `cargo run --example udp_sender -- 127.0.0.1 9999 one two three`

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, messages @ ..] = args.as_slice() else {
        eprintln!("usage: udp_sender HOST PORT MESSAGE...");
        std::process::exit(2);
    };
    let mut peer = socketry::connect(&format!("UDP:{host}:{port}")).await?;
    for message in messages {
        peer.write_all(message.as_bytes()).await?;
    }
    Ok(())
}
