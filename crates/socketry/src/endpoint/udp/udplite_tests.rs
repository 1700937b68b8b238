//! UDP-Lite's coverage options reach the kernel: a socket given an address's options reports,
//! through getsockopt, the coverage they asked for.

use std::os::fd::AsFd;

use socket2::{Domain, Protocol, Socket, Type};

use super::Transport;
use crate::registry::Address;
use crate::sys::udplite::{coverage, IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV, UDPLITE_SEND_CSCOV};

fn coverages_after(address: &str, domain: Domain) -> (i32, i32) {
    let Ok(Address::Single(spec)) = Address::parse(address) else {
        panic!("{address} does not parse as one endpoint");
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::from(IPPROTO_UDPLITE)))
        .unwrap_or_else(|e| panic!("a UDP-Lite socket: {e}"));
    Transport::UdpLite
        .apply_options(&socket, &spec.options)
        .unwrap_or_else(|e| panic!("{address}: {e}"));
    let fd = socket.as_fd();
    (
        coverage(fd, UDPLITE_SEND_CSCOV).unwrap_or(-1),
        coverage(fd, UDPLITE_RECV_CSCOV).unwrap_or(-1),
    )
}

#[test]
fn coverage_options_are_set_on_the_socket() {
    let cases = [
        (
            "UDPLITE-CONNECT:127.0.0.1:9,udplite-send-cscov=20,udplite-recv-cscov=12",
            Domain::IPV4,
            (20, 12),
        ),
        // The kernel rounds a coverage of 1 to 7 up to the header's 8 bytes.
        (
            "UDPLITE6-SENDTO:[::1]:9,udplite-send-cscov=3",
            Domain::IPV6,
            (8, 0),
        ),
        (
            "UDPLITE6-RECV:0,udplite-recv-cscov=30",
            Domain::IPV6,
            (0, 30),
        ),
        ("UDPLITE4-DATAGRAM:127.0.0.1:9", Domain::IPV4, (0, 0)),
    ];
    for (address, domain, want) in cases {
        assert_eq!(coverages_after(address, domain), want, "{address}");
    }
}
