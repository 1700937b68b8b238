//! Entry points for the fuzz targets in `fuzz/` and for the smoke test that runs them under
//! `cargo test`: every parser of input socketry does not control, each taking arbitrary
//! bytes. None of them may panic, loop without end, or allocate by what the input claims;
//! each also asserts what must hold of what it accepts. Not a stable API.

use std::pin::Pin;
use std::task::{Context, Poll};

use std::future::Future as _;

use tokio::io::{AsyncRead, ReadBuf};

use crate::channel::ByteRead;
use crate::layer::{LengthPrefix, PrefixWidth};

/// The address language: anything that parses must display as text that parses back to the
/// same address.
pub fn address(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(address) = crate::Address::parse(text) {
        let shown = address.to_string();
        match crate::Address::parse(&shown) {
            Ok(again) => assert_eq!(again, address, "{text:?} displays as {shown:?}"),
            Err(e) => panic!("{text:?} displays as {shown:?}, which does not parse: {e}"),
        }
    }
}

/// A stream that hands out its bytes at most `chunk` at a time, so that prefixes and bodies
/// arrive split anywhere.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let n = this
            .chunk
            .min(this.data.len() - this.at)
            .min(buf.remaining());
        buf.put_slice(&this.data[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl ByteRead for Trickle {}

/// The length-prefix decoder (`length-prefix=2` or `4`): the first byte chooses the width,
/// the read size and the relay buffer's size, the rest is the stream. Every message given
/// back fits the buffer and the stream's bytes are accounted for exactly: each message is
/// its prefix and its bytes, and the decoder stops at EOF or at the first error.
pub fn length_prefix(data: &[u8]) {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let width = if control & 1 == 0 {
        PrefixWidth::Two
    } else {
        PrefixWidth::Four
    };
    let chunk = usize::from((control >> 1) & 0x7) + 1;
    let buffer = [16, 255, 4096, 65536][usize::from(control >> 4) & 3];
    let mut reader = LengthPrefix(width).reader(Box::new(Trickle {
        data: stream.to_vec(),
        at: 0,
        chunk,
    }));
    let mut buf = vec![0; buffer];
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut consumed = 0;
    loop {
        match reader.poll_recv(&mut cx, &mut buf) {
            Poll::Ready(Ok(Some(n))) => {
                assert!(n <= buffer);
                consumed += width.bytes() + n;
                assert!(consumed <= stream.len());
            }
            Poll::Ready(Ok(None)) => {
                assert_eq!(consumed, stream.len(), "EOF before the end of the stream");
                break;
            }
            Poll::Ready(Err(_)) => break,
            Poll::Pending => panic!("a stream that is always ready left the decoder pending"),
        }
    }
}

/// The walk over the control messages `recvmsg` returns (descriptors and credentials).
/// Whatever the bytes, the walk ends, and every descriptor it reports came from inside the
/// buffer.
pub fn control_messages(data: &[u8]) {
    let parsed = crate::sys::socket::parse_control(data);
    assert!(parsed.fds.len() * 4 <= data.len());
}

/// The shared-memory hello an SHM-CONNECT reads from the listener (the first byte chooses
/// which channel kind the connector expects).
pub fn shm_hello(data: &[u8]) {
    if let Some(hello) = crate::endpoint::shm::parse_any_hello(data) {
        assert!(hello.layout.capacity() > 0);
    }
}

/// [`control_messages`]' parse, as plain values for tests: the descriptors, the credentials
/// (pid, uid, gid) and whether the bytes were malformed.
pub fn parse_control_for_test(data: &[u8]) -> (Vec<i32>, Option<(i32, u32, u32)>, bool) {
    let parsed = crate::sys::socket::parse_control(data);
    (
        parsed.fds,
        parsed.credentials.map(|c| (c.pid, c.uid, c.gid)),
        parsed.malformed,
    )
}

/// Whether [`shm_hello`] accepts `data`.
pub fn accepts_shm_hello(data: &[u8]) -> bool {
    crate::endpoint::shm::parse_any_hello(data).is_some()
}

/// A writer that takes everything and counts it: the transfer target's sink.
#[derive(Default)]
struct Counting(usize);

impl tokio::io::AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.0 += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl crate::channel::ByteWrite for Counting {}

/// The transfer receiver (`socketry recv`): the first byte chooses how the stream is split,
/// the rest is what a sender sent. Whatever it is, the receiver ends, writes no more than the
/// stream carried, and accepts only what adds up: a summary's length is what it wrote.
pub fn transfer(data: &[u8]) {
    accepts_transfer(data);
}

/// Whether [`transfer`] accepts `data` as an intact transfer.
pub fn accepts_transfer(data: &[u8]) -> bool {
    let Some((&control, stream)) = data.split_first() else {
        return false;
    };
    let reader = Trickle {
        data: stream.to_vec(),
        at: 0,
        chunk: usize::from(control) + 1,
    };
    let mut connection = crate::Connection::new(
        Some(crate::channel::Reader::Bytes(Box::new(reader))),
        Some(crate::channel::Writer::Bytes(Box::new(Counting::default()))),
        "fuzz".to_owned(),
    );
    let mut sink = Counting::default();
    let mut written = 0;
    let result = {
        let receiving = crate::transfer::receive(
            &mut connection,
            &mut sink,
            |_| {},
            |n| {
                written = n;
            },
        );
        let mut receiving = std::pin::pin!(receiving);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match receiving.as_mut().poll(&mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("a stream that is always ready left the receiver pending"),
        }
    };
    assert!(sink.0 <= stream.len());
    assert_eq!(sink.0 as u64, written);
    match result {
        Ok(summary) => {
            assert_eq!(summary.bytes, sink.0 as u64);
            true
        }
        Err(_) => false,
    }
}

/// Checks one of the proxy server's request parsers on `data`: whatever it takes is inside
/// the input, what it accepts it accepts again from exactly the bytes it took, and no shorter
/// start of those bytes is taken as a whole request.
fn proxy_parser<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    parse: fn(&[u8]) -> crate::server::proxy::request::Parse<T>,
) {
    if let Ok(Some((value, used))) = parse(data) {
        assert!(used <= data.len(), "took {used} of {} bytes", data.len());
        match parse(&data[..used]) {
            Ok(Some((again, used_again))) => {
                assert_eq!(again, value);
                assert_eq!(used_again, used);
            }
            other => panic!("{:?} parses whole, but not alone: {other:?}", &data[..used]),
        }
        for end in 0..used {
            assert!(
                matches!(parse(&data[..end]), Ok(None)),
                "{:?} is a request before its end",
                &data[..end]
            );
        }
    }
}

/// The proxy server's request parsers (`socketry proxy`): the first byte chooses SOCKS4/4a,
/// SOCKS5's greeting, RFC 1929's credentials, SOCKS5's request, a UDP ASSOCIATE datagram or
/// an HTTP request head; the rest is what a client sent.
pub fn proxy_request(data: &[u8]) {
    use crate::server::proxy::{http, socks};
    let Some((&control, request)) = data.split_first() else {
        return;
    };
    match control % 6 {
        0 => proxy_parser(request, socks::socks4_request),
        1 => proxy_parser(request, socks::socks5_greeting),
        2 => proxy_parser(request, socks::username_password),
        3 => proxy_parser(request, socks::socks5_request),
        4 => {
            if let Ok((_, start)) = socks::udp_datagram(request) {
                // The shortest header: 3 bytes, a one-byte name with its length, a port.
                assert!((8..=request.len()).contains(&start));
            }
        }
        _ => {
            proxy_parser(request, http::head);
            if let Ok(Some((head, _))) = http::head(request) {
                let _ = head.connect_destination();
                let _ = head.basic_credentials();
                // A forwarded head is one head, whose end is its own: nothing the client
                // sent can end it early and smuggle a second request in.
                if let Ok(forward) = head.forward() {
                    let sent = &forward.head;
                    let end = sent.windows(4).position(|w| w == b"\r\n\r\n");
                    assert_eq!(end, Some(sent.len() - 4), "{sent:?}");
                    assert!(sent.starts_with(format!("{} /", head.method).as_bytes()));
                    assert!(sent.ends_with(b"\r\nConnection: close\r\n\r\n"));
                    let lower = String::from_utf8_lossy(sent).to_ascii_lowercase();
                    assert!(!lower.contains("\r\nproxy-authorization:"), "{lower}");
                }
            }
        }
    }
}

/// The PROXY protocol header reader (`proxy-protocol` on a listener), fed exactly the bytes
/// it asks for, as a connection would: it ends, never asks for more than a header can be,
/// takes exactly what it asked for, and what it reads is what its builder writes back.
pub fn proxy_protocol(data: &[u8]) {
    use crate::layer::proxy_protocol::{build, parse, Addresses, Parsed, V1_MAX};
    let mut at = 0;
    loop {
        match parse(&data[..at]) {
            Ok(Parsed::Incomplete(more)) => {
                assert!(more > 0);
                at += more;
                assert!(at <= 16 + usize::from(u16::MAX), "asked for {at} bytes");
                if at > data.len() {
                    return;
                }
            }
            Ok(Parsed::Complete(header, used)) => {
                assert_eq!(used, at, "took other than what it asked for");
                if data.starts_with(b"PROXY") {
                    assert!(used <= V1_MAX);
                }
                if let Addresses::Inet {
                    source,
                    destination,
                } = header.addresses
                {
                    let built = build(header.version, Some((source, destination)));
                    match parse(&built) {
                        Ok(Parsed::Complete(again, n)) => {
                            assert_eq!(n, built.len());
                            assert_eq!(again.addresses, header.addresses);
                        }
                        other => panic!("{built:?} does not parse back: {other:?}"),
                    }
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Polls a future that works over a [`Trickle`] to its end: the stream is always ready, so
/// one poll must finish it.
fn finish<F: std::future::Future>(future: F, what: &str) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a stream that is always ready left the {what} pending"),
    }
}

/// A proxy's reply stream, from the first byte's low bits (how many bytes a read gives).
fn proxy_stream(control: u8, reply: &[u8]) -> Trickle {
    Trickle {
        data: reply.to_vec(),
        at: 0,
        chunk: usize::from(control & 0x0f) + 1,
    }
}

/// The SOCKS4 reply reader: it takes exactly eight bytes or fails, and accepts only a grant.
pub fn socks4_reply(data: &[u8]) {
    let Some((&control, reply)) = data.split_first() else {
        return;
    };
    let mut stream = proxy_stream(control, reply);
    let result = finish(
        crate::layer::socks4::read_reply(&mut stream),
        "SOCKS4 reply",
    );
    assert!(stream.at <= crate::layer::socks4::REPLY_LEN);
    if result.is_ok() {
        assert_eq!(stream.at, crate::layer::socks4::REPLY_LEN);
        assert_eq!(reply[1], 90);
    }
}

/// The SOCKS5 reply readers, in the order a client meets them: the method selection, the
/// RFC 1929 status when the proxy chose it, the request's reply, and (when the first byte's
/// high bit says BIND) the second reply. Nothing is read past what the replies' own bytes
/// bound.
pub fn socks5_reply(data: &[u8]) {
    use crate::layer::socks5;
    let Some((&control, reply)) = data.split_first() else {
        return;
    };
    let mut stream = proxy_stream(control, reply);
    let bind = control & 0x80 != 0;
    let result = finish(
        async {
            let method = socks5::read_method(&mut stream).await?;
            if method == 2 {
                socks5::read_authentication(&mut stream).await?;
            }
            socks5::read_reply(&mut stream).await?;
            if bind {
                socks5::read_reply(&mut stream).await?;
            }
            Ok::<(), crate::layer::reply::ReadError>(())
        },
        "SOCKS5 replies",
    );
    // A method selection, a status and two replies of at most 4 + 1 + 255 + 2 bytes each.
    assert!(stream.at <= 2 + 2 + 2 * 262);
    if result.is_ok() {
        assert_eq!(reply[0], 5);
    }
}

/// The HTTP CONNECT answer reader: it stops at the blank line, within its bound, and
/// accepts only a 2xx status.
pub fn http_connect_reply(data: &[u8]) {
    use crate::layer::http_connect::{self, LineEnds};
    let Some((&control, reply)) = data.split_first() else {
        return;
    };
    let mut stream = proxy_stream(control, reply);
    let line_ends = if control & 0x80 != 0 {
        LineEnds::IgnoreCr
    } else {
        LineEnds::Strict
    };
    let result = finish(
        http_connect::read_response(&mut stream, line_ends),
        "HTTP CONNECT answer",
    );
    assert!(stream.at <= http_connect::MAX_RESPONSE);
    if let Ok(status) = result {
        assert!((200..300).contains(&status.code));
        assert!(reply[..stream.at].ends_with(b"\n"));
    }
}

/// The origin's answer to a forwarded HTTP request (`socketry proxy`): its head is read
/// within its bound, and the rewritten head is a head that ends where it should and says
/// `Connection: close` unless it is an interim one.
pub fn http_response(data: &[u8]) {
    use crate::server::proxy::http;
    let Ok(Some((head, used))) = http::response_head(data) else {
        return;
    };
    assert!(used <= data.len() && used <= http::MAX_RESPONSE_HEAD);
    assert!(data[..used].ends_with(b"\r\n\r\n"));
    assert!(head.rewritten.ends_with(b"\r\n\r\n"));
    let text = String::from_utf8_lossy(&head.rewritten);
    assert_eq!(
        text.ends_with("\r\nConnection: close\r\n\r\n"),
        !head.is_interim(),
        "{text:?}"
    );
}
