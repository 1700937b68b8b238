//! A TCP client written as a generic socket: SOCKET-CONNECT with domain 2 (`AF_INET`),
//! protocol 6 (TCP) and the `sockaddr_in` as bytes after its family, in socat's data form.
//! Send a message, half-close, print the reply.
//!
//! `cargo run --example generic_client -- 127.0.0.1 8080 'hello'`

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [ip, port, message] => ip
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .zip(port.parse::<u16>().ok())
            .map(|(ip, port)| (ip, port, message)),
        _ => None,
    };
    let Some((ip, port, message)) = parsed else {
        eprintln!("usage: generic_client IPV4-ADDRESS PORT MESSAGE");
        std::process::exit(2);
    };
    // Port and address in network order, then the eight bytes of sin_zero.
    let [a, b, c, d] = ip.octets();
    let address =
        format!("SOCKET-CONNECT:2:6:x{port:04x}{a:02x}{b:02x}{c:02x}{d:02x}x0000000000000000");
    let mut server = socketry::connect(&address).await?;
    server.write_all(message.as_bytes()).await?;
    server.shutdown_write().await?;
    println!("{}", String::from_utf8_lossy(&server.read_to_end().await?));
    Ok(())
}
