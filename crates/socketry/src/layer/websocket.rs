//! WebSocket (RFC 6455), client and server, over any byte stream, on tokio-tungstenite.
//!
//! After the opening handshake (an HTTP/1.1 `Upgrade` request and its `101` answer) the
//! connection carries messages: each WebSocket message is one message of a message channel
//! ([`MessageRecv`]/[`MessageSend`]), so a message relayed to a byte stream has its bytes
//! written in order, and each stream read relayed to the WebSocket becomes one message
//! (binary, or text with [`Frames::Text`]). What the protocol asks of an endpoint beside
//! data is done here: a ping is answered with a pong; the peer's close frame is the
//! reading side's EOF (its code logged) and is answered; shutting the writing side sends a
//! close frame with code 1000. A message longer than [`Settings::max_message`] is refused
//! before it is read whole, with an error naming its size, and the peer is told so with
//! close code 1009.
//!
//! TLS for `wss://` is not tungstenite's: it is a layer (or the TLS endpoint) below this one.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use futures_util::{Sink, Stream};
use tokio::io::Join;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Response};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use super::base::{Data, Handshake, Layer, LayerError};
use crate::channel::{ByteReader, ByteWriter, MessageRecv, MessageSend, Reader, Writer};

/// The largest message taken when nothing else is said: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;

/// Which frames the stream reads relayed to a WebSocket are sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Frames {
    /// Binary frames: any bytes (the default).
    #[default]
    Binary,
    /// Text frames (`ws-text`): the bytes must be UTF-8. A character cut in two by a read is
    /// held back until the rest of it is read, so no message splits one.
    Text,
}

/// What both ends of a WebSocket agree on after the handshake, and what the handshake adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The longest message taken (`ws-max-message`); a longer one is an error. Stream reads
    /// relayed to the WebSocket are made no longer.
    pub max_message: usize,
    /// The frames data is sent in.
    pub frames: Frames,
    /// Header fields added to the request (client) or to the `101` answer (server):
    /// `ws-header=Name:Value`, in order.
    pub headers: Vec<(String, String)>,
    /// The subprotocols (`ws-protocol`): a client offers them in this order and the server
    /// must choose one of them; a server chooses the first the client offers that is among
    /// them, and refuses a client that offers none of them.
    pub protocols: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_message: DEFAULT_MAX_MESSAGE,
            frames: Frames::Binary,
            headers: Vec::new(),
            protocols: Vec::new(),
        }
    }
}

impl Settings {
    fn config(&self) -> WebSocketConfig {
        // A frame longer than a message cannot be part of one: refusing it by its header
        // means a hostile length is never allocated.
        WebSocketConfig::default()
            .max_message_size(Some(self.max_message))
            .max_frame_size(Some(self.max_message))
    }
}

/// The WebSocket client layer: sends the opening request for `uri` over what is below, and
/// checks the server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketClient {
    /// The `ws://` or `wss://` URL: its host (and port) make the `Host` field, its path and
    /// query the request's target. The scheme changes nothing here: TLS is below.
    pub uri: String,
    /// The rest.
    pub settings: Settings,
}

/// The WebSocket server layer: answers one client's opening request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketServer {
    /// The only path served (`path=`, compared without the query); a request for another
    /// gets `404 Not Found`. `None` serves every path.
    pub path: Option<String>,
    /// The rest.
    pub settings: Settings,
}

/// The byte stream below, joined for tungstenite.
type Below = Join<ByteReader, ByteWriter>;
type Socket = WebSocketStream<Below>;

fn byte_stream(below: Data, description: &str) -> Result<Below, LayerError> {
    match (below.reader, below.writer) {
        (Some(Reader::Bytes(reader)), Some(Writer::Bytes(writer))) => {
            Ok(tokio::io::join(reader, writer))
        }
        _ => Err(LayerError::Refused(format!(
            "WebSocket runs over a byte stream both ways, and {description} is not one"
        ))),
    }
}

fn handshake_failed(description: &str, source: io::Error) -> LayerError {
    LayerError::Handshake {
        layer: "WebSocket".to_owned(),
        below: description.to_owned(),
        source,
    }
}

/// A tungstenite error as one sentence, without its Debug noise.
fn io_error(error: tungstenite::Error) -> io::Error {
    use tungstenite::error::{CapacityError, ProtocolError};
    use tungstenite::Error as E;
    match error {
        E::Io(e) => e,
        E::Capacity(CapacityError::MessageTooLong { size, max_size }) => io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a WebSocket message of {size} bytes is longer than the {max_size}-byte maximum (ws-max-message)"
            ),
        ),
        E::Protocol(ProtocolError::ResetWithoutClosingHandshake) => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the WebSocket peer closed the connection without a close frame",
        ),
        E::Protocol(ProtocolError::HandshakeIncomplete) => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection ended during the WebSocket handshake",
        ),
        E::ConnectionClosed | E::AlreadyClosed | E::Protocol(ProtocolError::SendAfterClosing) => {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the WebSocket is closed: a close frame was sent or received",
            )
        }
        E::Http(response) => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("the server answered {}", status_line(response.status())),
        ),
        E::Utf8(_) => io::Error::new(
            io::ErrorKind::InvalidData,
            "a WebSocket text message is not UTF-8",
        ),
        other => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {other}")),
    }
}

fn status_line(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

/// Header fields for `ws-header`: the parser checked them; a value the HTTP library still
/// refuses is refused here, by name.
fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), io::Error> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("ws-header {name}:{value} is not a valid HTTP header field"),
        )
    };
    Ok((
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?,
        HeaderValue::from_str(value).map_err(|_| invalid())?,
    ))
}

impl WebSocketClient {
    fn request(&self) -> io::Result<Request> {
        use tungstenite::client::IntoClientRequest;
        let mut request = self.uri.as_str().into_client_request().map_err(io_error)?;
        let headers = request.headers_mut();
        for (name, value) in &self.settings.headers {
            let (name, value) = header(name, value)?;
            headers.append(name, value);
        }
        if !self.settings.protocols.is_empty() {
            let offered = self.settings.protocols.join(", ");
            let (name, value) = header("Sec-WebSocket-Protocol", &offered)?;
            headers.insert(name, value);
        }
        Ok(request)
    }

    async fn connect(&self, below: Below) -> io::Result<(Socket, Option<String>)> {
        let request = self.request()?;
        let config = Some(self.settings.config());
        let (socket, response) =
            tokio_tungstenite::client_async_with_config(request, below, config)
                .await
                .map_err(|e| match e {
                    tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(why),
                    ) => {
                        use tungstenite::error::SubProtocolError as Why;
                        let what = match why {
                            Why::NoSubProtocol => {
                                "the server chose none of the subprotocols offered (ws-protocol)"
                            }
                            Why::ServerSentSubProtocolNoneRequested => {
                                "the server chose a subprotocol, and none was offered (ws-protocol)"
                            }
                            Why::InvalidSubProtocol => {
                                "the server chose a subprotocol that was not offered (ws-protocol)"
                            }
                        };
                        io::Error::new(io::ErrorKind::InvalidData, what)
                    }
                    other => io_error(other),
                })?;
        let protocol = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((socket, protocol))
    }
}

impl Layer for WebSocketClient {
    fn name(&self) -> &str {
        "WebSocket"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let stream = byte_stream(below, description)?;
            let (socket, protocol) = self
                .connect(stream)
                .await
                .map_err(|e| handshake_failed(description, e))?;
            tracing::info!(
                "{description}: WebSocket established with {}{}",
                self.uri,
                protocol.map_or(String::new(), |p| format!(", subprotocol {p}"))
            );
            Ok(halves(socket, &self.settings, description))
        })
    }
}

impl WebSocketServer {
    /// Decides on a client's request: its path, its subprotocols; adds `ws-header`s.
    fn answer(
        &self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, (StatusCode, String)> {
        if let Some(path) = &self.path {
            let asked = request.uri().path();
            if asked != path {
                return Err((
                    StatusCode::NOT_FOUND,
                    format!("refused a request for {asked}: path= is {path}"),
                ));
            }
        }
        if !self.settings.protocols.is_empty() {
            let offered: Vec<&str> = request
                .headers()
                .get_all("Sec-WebSocket-Protocol")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            let Some(chosen) = offered
                .iter()
                .find(|p| self.settings.protocols.iter().any(|ours| ours == *p))
            else {
                let offered = if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                };
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "refused a client offering subprotocols {offered}: ws-protocol is {}",
                        self.settings.protocols.join(", ")
                    ),
                ));
            };
            let value = HeaderValue::from_str(chosen).map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    format!("refused a client offering subprotocol {chosen:?}"),
                )
            })?;
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", value);
        }
        for (name, value) in &self.settings.headers {
            let (name, value) = header(name, value)
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            response.headers_mut().append(name, value);
        }
        Ok(response)
    }

    async fn accept(&self, below: Below) -> io::Result<(Socket, String)> {
        let refusal: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let target = Arc::new(Mutex::new(String::new()));
        // tungstenite's callback type is what it is: its error is the whole HTTP answer.
        #[allow(clippy::result_large_err)]
        let callback = {
            let refusal = refusal.clone();
            let target = target.clone();
            move |request: &Request, response: Response| {
                *lock(&target) = request.uri().to_string();
                self.answer(request, response).map_err(|(status, why)| {
                    *lock(&refusal) = Some(why);
                    let mut answer = ErrorResponse::new(Some(format!("{}\n", status_line(status))));
                    *answer.status_mut() = status;
                    answer
                })
            }
        };
        let config = Some(self.settings.config());
        let socket = tokio_tungstenite::accept_hdr_async_with_config(below, callback, config)
            .await
            .map_err(|e| {
                match lock(&refusal).take() {
                    Some(why) => io::Error::new(io::ErrorKind::ConnectionRefused, why),
                    None => match e {
                        // What a client that does not speak HTTP, or not WebSocket, gets.
                        tungstenite::Error::Protocol(why) => io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("not a WebSocket opening request: {why}"),
                        ),
                        tungstenite::Error::HttpFormat(why) => io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("not a WebSocket opening request: {why}"),
                        ),
                        other => io_error(other),
                    },
                }
            })?;
        let target = lock(&target).clone();
        Ok((socket, target))
    }
}

impl Layer for WebSocketServer {
    fn name(&self) -> &str {
        "WebSocket"
    }

    fn apply<'a>(&'a self, below: Data, description: &'a str) -> Handshake<'a> {
        Box::pin(async move {
            let stream = byte_stream(below, description)?;
            let (socket, target) = self
                .accept(stream)
                .await
                .map_err(|e| handshake_failed(description, e))?;
            tracing::info!("{description}: WebSocket established for {target}");
            Ok(halves(socket, &self.settings, description))
        })
    }
}

/// Locks a mutex whose holder cannot leave it inconsistent: every lock is held for one
/// synchronous poll, so a poisoned one is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The WebSocket both halves use: each locks it for one poll at a time, never across one.
struct Shared {
    socket: Mutex<Socket>,
    description: String,
}

impl Shared {
    fn socket(&self) -> MutexGuard<'_, Socket> {
        lock(&self.socket)
    }
}

fn halves(socket: Socket, settings: &Settings, description: &str) -> Data {
    let shared = Arc::new(Shared {
        socket: Mutex::new(socket),
        description: description.to_owned(),
    });
    let mut data = Data::new(
        Some(Reader::Messages(Box::new(WebSocketRecv {
            shared: shared.clone(),
            message: Bytes::new(),
            given: 0,
            state: RecvState::Open,
        }))),
        Some(Writer::Messages(Box::new(WebSocketSend {
            shared,
            frames: settings.frames,
            max_message: settings.max_message,
            held: Vec::new(),
            state: SendState::Idle,
        }))),
    );
    data.learned.over.push("WebSocket".to_owned());
    data
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RecvState {
    Open,
    /// The peer's close frame came: the answer is being sent.
    Answering,
    /// EOF.
    Ended,
}

/// The reading half: one message per receive. A message longer than the buffer it is
/// received into is given in order, a buffer at a time.
struct WebSocketRecv {
    shared: Arc<Shared>,
    /// The message being given, and how much of it has been.
    message: Bytes,
    given: usize,
    state: RecvState,
}

/// How a close code reads in the log: its number and its meaning.
fn describe_close(frame: Option<&CloseFrame>) -> String {
    match frame {
        None => "no code (1005)".to_owned(),
        Some(frame) => {
            let code = u16::from(frame.code);
            let meaning = match frame.code {
                CloseCode::Normal => " (normal closure)",
                CloseCode::Away => " (going away)",
                CloseCode::Protocol => " (protocol error)",
                CloseCode::Unsupported => " (unsupported data)",
                CloseCode::Invalid => " (invalid data)",
                CloseCode::Policy => " (policy violation)",
                CloseCode::Size => " (message too big)",
                CloseCode::Extension => " (extension required)",
                CloseCode::Error => " (internal error)",
                _ => "",
            };
            let reason = if frame.reason.is_empty() {
                String::new()
            } else {
                format!(": {:?}", frame.reason.as_str())
            };
            format!("code {code}{meaning}{reason}")
        }
    }
}

impl WebSocketRecv {
    fn give(&mut self, buf: &mut [u8]) -> usize {
        let rest = &self.message[self.given..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.given += n;
        n
    }
}

impl MessageRecv for WebSocketRecv {
    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<Option<usize>>> {
        if self.given < self.message.len() {
            return Poll::Ready(Ok(Some(self.give(buf))));
        }
        loop {
            match self.state {
                RecvState::Ended => return Poll::Ready(Ok(None)),
                RecvState::Answering => {
                    // The answer to the peer's close frame is queued: it goes out now, not
                    // only when something else is next written or read.
                    let flushed = ready!(Pin::new(&mut *self.shared.socket()).poll_flush(cx));
                    self.state = RecvState::Ended;
                    if let Err(e) = flushed {
                        tracing::debug!(
                            "{}: answering the close frame: {e}",
                            self.shared.description
                        );
                    }
                }
                RecvState::Open => {
                    let next = ready!(Pin::new(&mut *self.shared.socket()).poll_next(cx));
                    let message = match next {
                        None => {
                            self.state = RecvState::Ended;
                            continue;
                        }
                        Some(Ok(message)) => message,
                        Some(Err(e)) => {
                            self.state = RecvState::Ended;
                            if let tungstenite::Error::Capacity(_) = e {
                                self.refuse_too_big(cx);
                            }
                            return Poll::Ready(Err(io_error(e)));
                        }
                    };
                    match message {
                        Message::Binary(data) => self.message = data,
                        Message::Text(text) => self.message = Bytes::from(text),
                        // tungstenite queues the pong itself; it goes out with the next read.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                        Message::Close(frame) => {
                            tracing::info!(
                                "{}: the WebSocket peer closed with {}",
                                self.shared.description,
                                describe_close(frame.as_ref())
                            );
                            self.state = RecvState::Answering;
                            continue;
                        }
                    }
                    self.given = 0;
                    return Poll::Ready(Ok(Some(self.give(buf))));
                }
            }
        }
    }
}

impl WebSocketRecv {
    /// Tells the peer its message was too big (close code 1009), as far as the connection
    /// takes it now: the error that follows ends the connection anyway.
    fn refuse_too_big(&self, cx: &mut Context<'_>) {
        let mut socket = self.shared.socket();
        let frame = CloseFrame {
            code: CloseCode::Size,
            reason: "message too big".into(),
        };
        if Pin::new(&mut *socket)
            .start_send(Message::Close(Some(frame)))
            .is_ok()
        {
            let _ = Pin::new(&mut *socket).poll_flush(cx);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SendState {
    Idle,
    /// A message was handed to tungstenite; it is being flushed.
    Flushing,
    /// The close frame was handed over; it is being flushed.
    Closing,
    Closed,
}

/// The writing half: each unit becomes one message.
struct WebSocketSend {
    shared: Arc<Shared>,
    frames: Frames,
    max_message: usize,
    /// With text frames: the start of a UTF-8 character whose rest is still to come.
    held: Vec<u8>,
    state: SendState,
}

impl WebSocketSend {
    /// The message `data` makes: binary as it is; text with a character cut short at its
    /// end held back for the next unit.
    fn message(&mut self, data: &[u8]) -> io::Result<Option<Message>> {
        match self.frames {
            Frames::Binary => Ok(Some(Message::Binary(Bytes::copy_from_slice(data)))),
            Frames::Text => {
                let mut bytes = std::mem::take(&mut self.held);
                bytes.extend_from_slice(data);
                let complete = match std::str::from_utf8(&bytes) {
                    Ok(_) => bytes.len(),
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    Err(e) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                            "ws-text sends text frames, and the data is not UTF-8 (byte 0x{:02x})",
                            bytes[e.valid_up_to()]
                        ),
                        ))
                    }
                };
                self.held = bytes.split_off(complete);
                if bytes.is_empty() {
                    return Ok(None);
                }
                let text = String::from_utf8(bytes).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "ws-text: the data is not UTF-8")
                })?;
                Ok(Some(Message::text(text)))
            }
        }
    }
}

impl MessageSend for WebSocketSend {
    fn poll_send(&mut self, cx: &mut Context<'_>, msg: &[u8]) -> Poll<io::Result<()>> {
        loop {
            match self.state {
                SendState::Idle => {
                    let mut socket = self.shared.socket();
                    ready!(Pin::new(&mut *socket).poll_ready(cx)).map_err(io_error)?;
                    drop(socket);
                    let Some(message) = self.message(msg)? else {
                        return Poll::Ready(Ok(()));
                    };
                    Pin::new(&mut *self.shared.socket())
                        .start_send(message)
                        .map_err(io_error)?;
                    self.state = SendState::Flushing;
                }
                SendState::Flushing => {
                    let flushed = ready!(Pin::new(&mut *self.shared.socket()).poll_flush(cx));
                    self.state = SendState::Idle;
                    return Poll::Ready(flushed.map_err(io_error));
                }
                SendState::Closing | SendState::Closed => {
                    return Poll::Ready(Err(io_error(tungstenite::Error::AlreadyClosed)))
                }
            }
        }
    }

    /// Sends the close frame, code 1000; the peer's answer is the reading side's EOF.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.state {
                SendState::Flushing => {
                    ready!(Pin::new(&mut *self.shared.socket()).poll_flush(cx))
                        .map_err(io_error)?;
                    self.state = SendState::Idle;
                }
                SendState::Idle => {
                    let mut socket = self.shared.socket();
                    ready!(Pin::new(&mut *socket).poll_ready(cx)).map_err(io_error)?;
                    let frame = CloseFrame {
                        code: CloseCode::Normal,
                        reason: "".into(),
                    };
                    match Pin::new(&mut *socket).start_send(Message::Close(Some(frame))) {
                        Ok(()) => {}
                        // The peer closed first, and its close frame was answered.
                        Err(
                            tungstenite::Error::ConnectionClosed
                            | tungstenite::Error::AlreadyClosed
                            | tungstenite::Error::Protocol(
                                tungstenite::error::ProtocolError::SendAfterClosing,
                            ),
                        ) => {
                            self.state = SendState::Closed;
                            continue;
                        }
                        Err(e) => return Poll::Ready(Err(io_error(e))),
                    }
                    tracing::debug!(
                        "{}: sending the WebSocket close frame, code 1000",
                        self.shared.description
                    );
                    self.state = SendState::Closing;
                }
                SendState::Closing => {
                    let flushed = ready!(Pin::new(&mut *self.shared.socket()).poll_flush(cx));
                    self.state = SendState::Closed;
                    flushed.map_err(io_error)?;
                }
                SendState::Closed => {
                    if !self.held.is_empty() {
                        let cut = self.held.len();
                        self.held.clear();
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("ws-text: the data ended {cut} bytes into a UTF-8 character"),
                        )));
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }

    fn max_message(&self) -> Option<usize> {
        Some(self.max_message)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::channel::{ByteReader, ByteWriter};
    use crate::layer::{LengthPrefix, PrefixWidth, Stack};

    /// Both ends of a connected Unix stream socket pair, each as a connection's data.
    fn socket_pair() -> (Data, Data) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let data = |stream: tokio::net::UnixStream| {
            let (read, write) = stream.into_split();
            Data::new(
                Some(Reader::Bytes(Box::new(read) as ByteReader)),
                Some(Writer::Bytes(Box::new(write) as ByteWriter)),
            )
        };
        (data(a), data(b))
    }

    fn client(uri: &str, settings: Settings) -> WebSocketClient {
        WebSocketClient {
            uri: uri.to_owned(),
            settings,
        }
    }

    fn server(path: Option<&str>, settings: Settings) -> WebSocketServer {
        WebSocketServer {
            path: path.map(str::to_owned),
            settings,
        }
    }

    /// The client's and the server's data after both handshakes.
    async fn connected(client: WebSocketClient, server: WebSocketServer) -> (Data, Data) {
        let (a, b) = socket_pair();
        let (a, b) = tokio::join!(client.apply(a, "socket a"), server.apply(b, "socket b"));
        (a.unwrap(), b.unwrap())
    }

    /// Every unit `reader` gives until EOF, read into a buffer of `size` bytes.
    async fn read_all(reader: &mut Reader, size: usize) -> Vec<Vec<u8>> {
        let mut buf = vec![0; size];
        let mut units = Vec::new();
        while let Some(n) = reader.read_unit(&mut buf).await.unwrap() {
            units.push(buf[..n].to_vec());
        }
        units
    }

    #[tokio::test]
    async fn messages_keep_their_boundaries_and_a_close_is_eof_each_way() {
        let (mut a, mut b) = connected(
            client("ws://localhost/chat", Settings::default()),
            server(Some("/chat"), Settings::default()),
        )
        .await;
        assert!(a.reader.as_ref().unwrap().is_messages());
        assert_eq!(a.learned.over, ["WebSocket"]);
        assert_eq!(
            a.writer.as_ref().unwrap().max_message(),
            Some(DEFAULT_MAX_MESSAGE)
        );
        let mut writer = a.writer.take().unwrap();
        let sent: Vec<Vec<u8>> = vec![b"one".to_vec(), Vec::new(), vec![7; 100_000]];
        let messages = sent.clone();
        let sending = tokio::spawn(async move {
            for message in &messages {
                writer.write_unit(message).await.unwrap();
            }
            // The close frame: the server's reader sees EOF after the messages.
            writer.shutdown().await.unwrap();
            writer
        });
        let got = read_all(b.reader.as_mut().unwrap(), 200_000).await;
        assert_eq!(got, sent);
        // The server's reply to the close is the client's EOF; the server's own shutdown
        // after it sends nothing more, and is no error.
        b.writer.as_mut().unwrap().shutdown().await.unwrap();
        assert_eq!(
            read_all(a.reader.as_mut().unwrap(), 1000).await,
            Vec::<Vec<u8>>::new()
        );
        let mut writer = sending.await.unwrap();
        let late = writer.write_unit(b"late").await.unwrap_err();
        assert_eq!(
            late.to_string(),
            "the WebSocket is closed: a close frame was sent or received"
        );
    }

    #[tokio::test]
    async fn a_message_longer_than_the_buffer_comes_in_order_a_buffer_at_a_time() {
        let (mut a, mut b) = connected(
            client("ws://localhost/", Settings::default()),
            server(None, Settings::default()),
        )
        .await;
        let message: Vec<u8> = (0..10_000u32).map(|i| (i % 256) as u8).collect();
        a.writer
            .as_mut()
            .unwrap()
            .write_unit(&message)
            .await
            .unwrap();
        a.writer.as_mut().unwrap().shutdown().await.unwrap();
        let pieces = read_all(b.reader.as_mut().unwrap(), 4096).await;
        assert_eq!(
            pieces.iter().map(Vec::len).collect::<Vec<_>>(),
            [4096, 4096, 1808]
        );
        assert_eq!(pieces.concat(), message);
    }

    #[tokio::test]
    async fn text_frames_hold_back_a_character_cut_by_a_read() {
        let text = Settings {
            frames: Frames::Text,
            ..Settings::default()
        };
        let (mut a, mut b) = connected(
            client("ws://localhost/", text),
            server(None, Settings::default()),
        )
        .await;
        let writer = a.writer.as_mut().unwrap();
        let word = "grüße".as_bytes();
        writer.write_unit(&word[..3]).await.unwrap();
        writer.write_unit(&word[3..]).await.unwrap();
        writer.shutdown().await.unwrap();
        assert_eq!(
            read_all(b.reader.as_mut().unwrap(), 100).await,
            [b"gr".to_vec(), "üße".as_bytes().to_vec()]
        );

        let (mut a, _b) = connected(
            client(
                "ws://localhost/",
                Settings {
                    frames: Frames::Text,
                    ..Settings::default()
                },
            ),
            server(None, Settings::default()),
        )
        .await;
        let refused = a
            .writer
            .as_mut()
            .unwrap()
            .write_unit(b"\xff")
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "ws-text sends text frames, and the data is not UTF-8 (byte 0xff)"
        );
    }

    #[tokio::test]
    async fn a_message_over_the_maximum_is_refused_naming_its_size() {
        let small = Settings {
            max_message: 100,
            ..Settings::default()
        };
        let (mut a, mut b) = connected(
            client("ws://localhost/", Settings::default()),
            server(None, small),
        )
        .await;
        a.writer
            .as_mut()
            .unwrap()
            .write_unit(&[1; 101])
            .await
            .unwrap();
        let mut buf = vec![0; 1000];
        let error = b
            .reader
            .as_mut()
            .unwrap()
            .read_unit(&mut buf)
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a WebSocket message of 101 bytes is longer than the 100-byte maximum (ws-max-message)"
        );
        // The client was told: close code 1009, its EOF.
        assert_eq!(
            read_all(a.reader.as_mut().unwrap(), 1000).await,
            Vec::<Vec<u8>>::new()
        );
    }

    #[tokio::test]
    async fn a_request_for_another_path_is_refused_with_404_both_ends_saying_why() {
        let (a, b) = socket_pair();
        let client = client("ws://localhost/b", Settings::default());
        let server = server(Some("/a"), Settings::default());
        let (a, b) = tokio::join!(client.apply(a, "socket a"), server.apply(b, "socket b"));
        assert_eq!(
            a.unwrap_err().to_string(),
            "WebSocket handshake over socket a: the server answered 404 Not Found"
        );
        assert_eq!(
            b.unwrap_err().to_string(),
            "WebSocket handshake over socket b: refused a request for /b: path= is /a"
        );
    }

    #[tokio::test]
    async fn over_messages_the_layer_is_refused_naming_what_is_below() {
        let layers = Stack::new(vec![
            Arc::new(client("ws://localhost/", Settings::default())),
            Arc::new(LengthPrefix(PrefixWidth::Two)),
        ]);
        let (a, _b) = socket_pair();
        assert_eq!(
            layers.apply(a, "socket a").await.unwrap_err().to_string(),
            "WebSocket runs over a byte stream both ways, and length-prefix over socket a is not one"
        );
    }
}
