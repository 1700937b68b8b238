//! Entry points for the fuzz targets in `fuzz/` and for the smoke test that runs them under
//! `cargo test`: every parser of input socketry does not control, each taking arbitrary
//! bytes. None of them may panic, loop without end, or allocate by what the input claims;
//! each also asserts what must hold of what it accepts. Not a stable API.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use crate::channel::{ByteRead, LengthPrefixed, PrefixWidth};

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
    let mut reader = LengthPrefixed::reader(
        Box::new(Trickle {
            data: stream.to_vec(),
            at: 0,
            chunk,
        }),
        width,
    );
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
