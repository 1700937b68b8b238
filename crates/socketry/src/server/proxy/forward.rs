//! The origin's side of a forwarded HTTP request (`GET http://host/path`): a reader of the
//! origin's response that rewrites its heads ([`http::response_head`]) on their way to the
//! client and passes the body through as it comes, up to its end (`Content-Length`, or none
//! for an answer to HEAD, a 204 or a 304), where the client's answer ends even if the origin
//! keeps its connection open; a chunked body or one without a length ends when the origin
//! closes, as `Connection: close` asks it to. The relay moves it like any stream, so the
//! request's body flows to the origin at the same time, and the idle timeout, the byte counts
//! and the ending are the tunnel's.
//!
//! An origin that answers with something that is not an HTTP response, or closes before
//! its head is complete, gets the client a `502 Bad Gateway` instead, and a log line.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::http;
use crate::channel::{ByteRead, ByteReader};

/// Where the reader is in the response.
enum State {
    /// Reading a head; what has been read so far.
    Head(Vec<u8>),
    /// Handing `bytes[at..]` to the client, then going on as `next` says.
    Giving {
        bytes: Vec<u8>,
        at: usize,
        next: Next,
    },
    /// The body, passed through: this many bytes more, or until the origin closes.
    Body(Option<u64>),
    /// Nothing more: EOF.
    Done,
}

/// What comes after bytes handed out.
enum Next {
    /// Another head (after a 1xx), these bytes already read of it.
    Head(Vec<u8>),
    /// The body: this many bytes, or until the origin closes.
    Body(Option<u64>),
    /// EOF (after a 502).
    Done,
}

/// The origin's response as the client gets it.
pub(crate) struct ResponseReader {
    origin: ByteReader,
    state: State,
    /// Who and where, for the log line of a bad response.
    request: String,
    /// The request was HEAD: the answer has no body, whatever its fields say.
    head_request: bool,
}

impl ResponseReader {
    /// Reads `origin`'s response for `request` (`client -> GET http://...`, for the log),
    /// an answer to HEAD when `head_request` says.
    pub(crate) fn new(origin: ByteReader, request: String, head_request: bool) -> ResponseReader {
        ResponseReader {
            origin,
            state: State::Head(Vec::new()),
            request,
            head_request,
        }
    }

    /// The client's `502 Bad Gateway`, after logging why.
    fn bad_gateway(&self, why: &str) -> State {
        tracing::warn!(
            event = "bad_response",
            request = self.request.as_str(),
            reason = why,
            "answering {} with 502: the origin's response: {why}",
            self.request
        );
        State::Giving {
            bytes: http::response(http::Status::BadGateway),
            at: 0,
            next: Next::Done,
        }
    }
}

impl AsyncRead for ResponseReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Body(None) => return Pin::new(&mut this.origin).poll_read(cx, buf),
                State::Body(Some(0)) => this.state = State::Done,
                State::Body(Some(left)) => {
                    // Never past the body's end: what the origin sends after it is not read.
                    let mut chunk = [0; 8192];
                    let room = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(buf.remaining())
                        .min(chunk.len());
                    let mut part = ReadBuf::new(&mut chunk[..room]);
                    ready!(Pin::new(&mut this.origin).poll_read(cx, &mut part))?;
                    let got = part.filled();
                    if got.is_empty() {
                        // The origin closed before the body's end: the client sees it short.
                        this.state = State::Done;
                    } else {
                        buf.put_slice(got);
                        *left -= got.len() as u64;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Done => return Poll::Ready(Ok(())),
                State::Giving { bytes, at, next } => {
                    if *at < bytes.len() {
                        let n = (bytes.len() - *at).min(buf.remaining());
                        buf.put_slice(&bytes[*at..*at + n]);
                        *at += n;
                        return Poll::Ready(Ok(()));
                    }
                    this.state = match std::mem::replace(next, Next::Done) {
                        Next::Head(read) => State::Head(read),
                        Next::Body(length) => State::Body(length),
                        Next::Done => State::Done,
                    };
                }
                State::Head(read) => match http::response_head(read) {
                    Ok(Some((head, used))) => {
                        let rest = read.split_off(used);
                        this.state = if head.is_interim() {
                            State::Giving {
                                bytes: head.rewritten,
                                at: 0,
                                next: Next::Head(rest),
                            }
                        } else {
                            let length = match head.body {
                                _ if this.head_request => Some(0),
                                http::Body::Empty => Some(0),
                                http::Body::Length(n) => Some(n),
                                http::Body::UntilClose => None,
                            };
                            // What came with the head is the body's start, up to its end.
                            let start = match length {
                                Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(rest.len()),
                                None => rest.len(),
                            };
                            let mut bytes = head.rewritten;
                            bytes.extend_from_slice(&rest[..start]);
                            State::Giving {
                                bytes,
                                at: 0,
                                next: Next::Body(length.map(|n| n - start as u64)),
                            }
                        };
                    }
                    Ok(None) => {
                        let mut chunk = [0; 8192];
                        let mut chunk_buf = ReadBuf::new(&mut chunk);
                        ready!(Pin::new(&mut this.origin).poll_read(cx, &mut chunk_buf))?;
                        let got = chunk_buf.filled();
                        if got.is_empty() {
                            let why = if read.is_empty() {
                                "it closed the connection without answering".to_owned()
                            } else {
                                format!(
                                    "it closed the connection inside the head ({} bytes)",
                                    read.len()
                                )
                            };
                            this.state = this.bad_gateway(&why);
                        } else {
                            read.extend_from_slice(got);
                        }
                    }
                    Err(why) => this.state = this.bad_gateway(&why),
                },
            }
        }
    }
}

/// The response's bytes are rewritten, so this direction is copied, never spliced.
impl ByteRead for ResponseReader {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn through(origin_sends: &[&[u8]]) -> Vec<u8> {
        let (mut origin, ours) = tokio::net::UnixStream::pair().unwrap();
        let mut reader =
            ResponseReader::new(Box::new(ours.into_split().0), "test".to_owned(), false);
        let chunks: Vec<Vec<u8>> = origin_sends.iter().map(|c| c.to_vec()).collect();
        let sending = tokio::spawn(async move {
            for chunk in chunks {
                origin.write_all(&chunk).await.unwrap();
            }
        });
        let mut got = Vec::new();
        reader.read_to_end(&mut got).await.unwrap();
        sending.await.unwrap();
        got
    }

    #[tokio::test]
    async fn heads_are_rewritten_and_bodies_pass_through() {
        let got = through(&[
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nContent-Length: 5\r\n\r\nhel",
            b"lo",
        ])
        .await;
        assert_eq!(
            String::from_utf8(got).unwrap(),
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
        );
        // A head that arrives a byte at a time is the same head.
        let head = b"HTTP/1.0 404 Not Found\r\nServer: x\r\n\r\n";
        let bytes: Vec<&[u8]> = head.chunks(1).collect();
        assert_eq!(
            String::from_utf8(through(&bytes).await).unwrap(),
            "HTTP/1.0 404 Not Found\r\nServer: x\r\nConnection: close\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn the_answer_ends_at_its_length_though_the_origin_stays_open() {
        for (head_request, sent, expected) in [
            (
                false,
                &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more"[..],
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
            ),
            (
                true,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
            ),
            (
                false,
                b"HTTP/1.1 204 No Content\r\n\r\n",
                "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            ),
        ] {
            let (mut origin, ours) = tokio::net::UnixStream::pair().unwrap();
            let mut reader = ResponseReader::new(
                Box::new(ours.into_split().0),
                "test".to_owned(),
                head_request,
            );
            origin.write_all(sent).await.unwrap();
            // The origin keeps its end open: the answer still ends.
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), expected);
            drop(origin);
        }
        // Split across reads, the length still counts every byte.
        let got = through(&[
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01",
            b"2345",
            b"6789tail",
        ])
        .await;
        assert!(String::from_utf8(got)
            .unwrap()
            .ends_with("\r\n\r\n0123456789"));
    }

    #[tokio::test]
    async fn what_is_not_a_response_becomes_a_502() {
        let bad_gateway = String::from_utf8(http::response(http::Status::BadGateway)).unwrap();
        for sent in [
            &b""[..],
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        ] {
            assert_eq!(
                String::from_utf8(through(&[sent]).await).unwrap(),
                bad_gateway,
                "{sent:?}"
            );
        }
    }
}
