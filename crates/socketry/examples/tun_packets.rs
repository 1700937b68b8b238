//! A TUN interface as an endpoint: print the length and IP version of each packet the kernel
//! routes to it.
//!
//! `sudo cargo run --example tun_packets -- 10.99.0.1/24 5` creates an interface with that
//! address, brings it up, and prints the first 5 packets sent into its network (`ping
//! 10.99.0.2` in another terminal); it needs CAP_NET_ADMIN, and the interface goes away when
//! the example ends.

#[tokio::main]
async fn main() -> Result<(), socketry::Error> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "10.99.0.1/24".to_owned());
    let count: usize = std::env::args()
        .nth(2)
        .and_then(|c| c.parse().ok())
        .unwrap_or(5);
    // Without packet information each message is exactly one IP packet.
    let mut tun = socketry::connect(&format!("TUN:{address},up,iff-no-pi")).await?;
    let mut buf = vec![0; 64 * 1024];
    for _ in 0..count {
        let Some(n) = tun.read(&mut buf).await? else {
            break;
        };
        let version = buf.first().map_or(0, |b| b >> 4);
        println!("IPv{version} packet of {n} bytes");
    }
    Ok(())
}
