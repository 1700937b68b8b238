//! The origin's side of a forwarded HTTP request (`GET http://host/path`): a reader of the
//! origin's response that rewrites its heads ([`http::response_head`]) on their way to the
//! client and passes the body through as it comes. The relay moves it like any stream, so
//! the request's body flows to the origin at the same time, and the idle timeout, the byte
//! counts and the ending are the tunnel's.
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
    /// The body, passed through.
    Body,
    /// Nothing more: EOF.
    Done,
}

/// What comes after bytes handed out.
enum Next {
    /// Another head (after a 1xx), these bytes already read of it.
    Head(Vec<u8>),
    /// The body.
    Body,
    /// EOF (after a 502).
    Done,
}

/// The origin's response as the client gets it.
pub(crate) struct ResponseReader {
    origin: ByteReader,
    state: State,
    /// Who and where, for the log line of a bad response.
    request: String,
}

impl ResponseReader {
    /// Reads `origin`'s response for `request` (`client -> GET http://...`, for the log).
    pub(crate) fn new(origin: ByteReader, request: String) -> ResponseReader {
        ResponseReader {
            origin,
            state: State::Head(Vec::new()),
            request,
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
                State::Body => return Pin::new(&mut this.origin).poll_read(cx, buf),
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
                        Next::Body => State::Body,
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
                            let mut bytes = head.rewritten;
                            bytes.extend_from_slice(&rest);
                            State::Giving {
                                bytes,
                                at: 0,
                                next: Next::Body,
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
        let mut reader = ResponseReader::new(Box::new(ours.into_split().0), "test".to_owned());
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
