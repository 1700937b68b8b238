//! A TUN interface as an endpoint: print the IPv4 packets the kernel routes to it, one line
//! each, with their protocol, source, destination and length.
//!
//! `sudo cargo run --example tun_packets -- 10.99.0.1/24 5` creates an interface with that
//! address, brings it up, says so on its first line, and prints the first 5 IPv4 packets sent
//! into its network (`ping 10.99.0.2` in another terminal prints `ICMP 10.99.0.1 -> 10.99.0.2,
//! 84 bytes`). It needs CAP_NET_ADMIN; the interface goes away when the example ends. Packets
//! of other kinds (the IPv6 the kernel may send on its own) are counted, not printed.

use std::net::Ipv4Addr;

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
    println!("{} is up", tun.description);
    let mut buf = vec![0; 64 * 1024];
    let (mut printed, mut others) = (0, 0);
    while printed < count {
        let Some(n) = tun.read(&mut buf).await? else {
            break;
        };
        let packet = &buf[..n];
        // An IPv4 header is at least 20 bytes, its version the high nibble of the first.
        if n < 20 || packet[0] >> 4 != 4 {
            others += 1;
            continue;
        }
        let protocol = match packet[9] {
            1 => "ICMP".to_owned(),
            6 => "TCP".to_owned(),
            17 => "UDP".to_owned(),
            other => format!("protocol {other}"),
        };
        let source = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
        let destination = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
        println!("{protocol} {source} -> {destination}, {n} bytes");
        printed += 1;
    }
    if others > 0 {
        println!("({others} packets of other kinds)");
    }
    Ok(())
}
