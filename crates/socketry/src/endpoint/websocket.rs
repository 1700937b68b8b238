//! WebSocket endpoints: `WS-CONNECT:<url>` (a WebSocket client over TCP, or over TLS for
//! `wss://`), `WS-LISTEN:<port>` (a WebSocket server over each accepted TCP connection) and
//! `WSS-LISTEN:<port>` (the same over TLS), with every TCP option and, over TLS, the TLS
//! options. The protocol itself is the [`websocket`](crate::layer::websocket) layer; this
//! module reads the URL and the address's options into it and stacks it over the transport.
//! A server's opening handshake runs in the task that serves the peer, as TLS's does, so
//! that a slow client or one that does not speak WebSocket never holds up accepting.

use std::fmt;
use std::sync::Arc;

use super::connection::{Connection, OpenContext};
use super::error::OpenError;
use super::listener::Listener;
use super::opened::Opened;
use crate::address::{
    AddressType, BindDomain, Definition, Family, FamilySpec, FamilyTypes, Groups, Host, Local,
    OptionId, Options, ParseErrorKind, Remote, Value,
};
use crate::layer::websocket::{
    Frames, Settings, WebSocketClient, WebSocketServer, DEFAULT_MAX_MESSAGE,
};
use crate::layer::{Layer, Stack, TlsClient};
use crate::tls::TlsClientConfig;

/// A `ws://` or `wss://` URL, parsed: where to connect, and what to ask for there.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebSocketUrl {
    /// `wss://`: TLS below the WebSocket.
    pub secure: bool,
    /// The server's host.
    pub host: Host,
    /// The port, if the URL gives one (else 80, or 443 for `wss://`).
    pub port: Option<u16>,
    /// The request's target: the path, starting with `/`, and the query if any.
    pub target: String,
}

/// What a WebSocket URL must look like, for errors.
const EXPECTED_URL: &str =
    "ws://host[:port]/path or wss://host[:port]/path, without user info or #fragment";

impl WebSocketUrl {
    /// Parses `ws://host[:port][/path][?query]` (or `wss://`); `None` if it is not one.
    pub fn parse(text: &str) -> Option<WebSocketUrl> {
        let (scheme, rest) = text.split_once("://")?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return None,
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return None;
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (inner, after) = bracketed.split_once(']')?;
                (format!("[{inner}]"), after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host.to_owned(), Some(port)),
                None => (authority.to_owned(), None),
            },
        };
        let host = Host::parse(&host)?;
        let port = match port {
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Some(digits.parse::<u16>().ok().filter(|p| *p != 0)?)
            }
            Some(_) => return None,
            None if authority.strip_prefix('[').is_some() && !authority.ends_with(']') => {
                return None
            }
            None => None,
        };
        // What a request line can carry: visible ASCII (anything else percent-encoded), and
        // no fragment, which RFC 6455 forbids in a WebSocket URL.
        if !target.bytes().all(|b| b.is_ascii_graphic()) || target.contains('#') {
            return None;
        }
        let target = match target {
            "" => "/".to_owned(),
            query if query.starts_with('?') => format!("/{query}"),
            path => path.to_owned(),
        };
        Some(WebSocketUrl {
            secure,
            host,
            port,
            target,
        })
    }

    /// The port connected to: the URL's, else the scheme's.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.secure { 443 } else { 80 })
    }

    /// Where the transport connects.
    pub fn remote(&self) -> Remote {
        Remote {
            host: self.host.clone(),
            port: self.port(),
            family: Family::Any,
        }
    }
}

impl fmt::Display for WebSocketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.secure { "wss" } else { "ws" };
        write!(f, "{scheme}://{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.target)
    }
}

/// What a WebSocket address does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WebSocketSpec {
    /// Connect to the URL's host and port (TLS for `wss://`), then run the client's
    /// opening handshake.
    Connect(WebSocketUrl),
    /// Listen on a TCP port; each accepted connection runs the server's opening handshake.
    Listen(Local),
    /// Listen on a TCP port; each accepted connection runs a TLS server's handshake, then
    /// the WebSocket server's.
    ListenTls(Local),
}

/// The WebSocket settings an address's options give.
pub(crate) fn settings(options: &Options) -> Settings {
    let texts = |wanted: OptionId| -> Vec<String> {
        options
            .iter()
            .filter(|(id, _)| *id == wanted)
            .filter_map(|(_, value)| match value {
                Value::Text(text) => Some(text.clone()),
                _ => None,
            })
            .collect()
    };
    Settings {
        max_message: options
            .count(OptionId::WsMaxMessage)
            .map_or(DEFAULT_MAX_MESSAGE, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            }),
        frames: if options.flag(OptionId::WsText, false) {
            Frames::Text
        } else {
            Frames::Binary
        },
        // The parser made every value `Name:Value`.
        headers: texts(OptionId::WsHeader)
            .iter()
            .filter_map(|header| header.split_once(':'))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        protocols: texts(OptionId::WsProtocol),
    }
}

/// `WS-CONNECT`: TCP (and TLS for `wss://`), then the WebSocket client over it.
async fn connect(
    url: &WebSocketUrl,
    options: &Options,
    context: &OpenContext,
) -> Result<Connection, OpenError> {
    let remote = url.remote();
    // A PROXY protocol header goes first: before TLS (which sends it itself) or the
    // opening handshake.
    let transport = if url.secure {
        super::tls::connect(&remote, options, context).await?
    } else {
        let connection = super::tcp::connect(&remote, options, context).await?;
        super::proxy_header::send(connection, options, context).await?
    };
    let client = WebSocketClient {
        uri: url.to_string(),
        settings: settings(options),
    };
    transport.stack(&Stack::new(vec![Arc::new(client)])).await
}

/// What a server's WebSocket runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Below {
    Tcp,
    Tls,
}

/// `WS-LISTEN` and `WSS-LISTEN`: a TCP (or TLS) listener whose connections get the
/// WebSocket server's handshake, in the task that serves each.
fn listen(
    local: &Local,
    below: Below,
    options: &Options,
    context: &OpenContext,
) -> Result<Listener, OpenError> {
    let listener = match below {
        Below::Tls => super::tls::listen(local, options, context)?,
        Below::Tcp => super::tcp::listen(local, options, context)?,
    };
    let server = WebSocketServer {
        path: options.text(OptionId::WsPath).map(str::to_owned),
        settings: settings(options),
    };
    Ok(listener.with_layers(Stack::new(vec![Arc::new(server)])))
}

// ---- The family's address types: WS-CONNECT, WS-LISTEN, WSS-LISTEN ----

const BIND: BindDomain = super::tcp::BIND;
/// TCP's options but `length-prefix` (the WebSocket carries messages already), TLS's for
/// `wss://`, and the WebSocket's own.
const CONNECT: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::CONNECT)
    .union(Groups::TLS)
    .union(Groups::TLS_CLIENT)
    .union(Groups::WEBSOCKET);
/// TCP-LISTEN's options but `length-prefix`, and the WebSocket server's.
const LISTEN: Groups = Groups::ALL
    .union(Groups::SOCKET)
    .union(Groups::IP)
    .union(Groups::TCP)
    .union(Groups::LISTEN)
    .union(Groups::CHILD)
    .union(Groups::RANGE)
    .union(Groups::WEBSOCKET)
    .union(Groups::WEBSOCKET_LISTEN);

static WS_CONNECT: Definition<WebSocketSpec> = Definition {
    ty: AddressType::new(
        "WS-CONNECT",
        &[],
        &["url"],
        CONNECT,
        "WebSocket client of a ws:// or wss:// URL: each message is one message (TLS options for wss://)",
    )
    .bind(BIND)
    .last_takes_rest(),
    parse: |p| {
        let text = p.text(0)?;
        WebSocketUrl::parse(text)
            .map(WebSocketSpec::Connect)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "WebSocket URL",
                text: text.to_owned(),
                expected: EXPECTED_URL,
            })
    },
};

static WS_LISTEN: Definition<WebSocketSpec> = Definition {
    ty: AddressType::new(
        "WS-LISTEN",
        &[],
        &["port"],
        LISTEN,
        "accept WebSocket clients over TCP (path= to serve one path; with fork: every client)",
    )
    .bind(BIND),
    parse: |p| Ok(WebSocketSpec::Listen(p.local(Family::Any)?)),
};
static WSS_LISTEN: Definition<WebSocketSpec> = Definition {
    ty: AddressType::new(
        "WSS-LISTEN",
        &[],
        &["port"],
        LISTEN.union(Groups::TLS),
        "accept WebSocket clients over TLS (cert=, or an ephemeral certificate whose fingerprint is logged)",
    )
    .bind(BIND),
    parse: |p| Ok(WebSocketSpec::ListenTls(p.local(Family::Any)?)),
};

/// The WebSocket family: its address types and features.
pub static FAMILY: FamilyTypes<WebSocketSpec> = FamilyTypes {
    features: &["WEBSOCKET"],
    types: &[&WS_CONNECT, &WS_LISTEN, &WSS_LISTEN],
};

/// Writes `text` so that it reads back as one parameter that takes the rest of the head:
/// `:` needs no escape there, everything else the lexer treats specially does.
fn escape_rest(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            ',' | '\'' | '"' | '\\' | '[' | ']' | '(' | ')' | '{' | '}' | '!' | '='
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FamilySpec for WebSocketSpec {
    fn address_type(&self) -> &'static AddressType {
        match self {
            WebSocketSpec::Connect(_) => &WS_CONNECT.ty,
            WebSocketSpec::Listen(_) => &WS_LISTEN.ty,
            WebSocketSpec::ListenTls(_) => &WSS_LISTEN.ty,
        }
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketSpec::Connect(url) => write!(f, ":{}", escape_rest(&url.to_string())),
            WebSocketSpec::Listen(local) | WebSocketSpec::ListenTls(local) => local.fmt_params(f),
        }
    }

    /// TLS options ask for TLS, which only a `wss://` URL has.
    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        match self {
            WebSocketSpec::Connect(url) => {
                super::proxy_header::check_sending(options)?;
                check_tls_options(url, options)
            }
            WebSocketSpec::Listen(_) | WebSocketSpec::ListenTls(_) => Ok(()),
        }
    }
}

/// Refuses TLS options for a `ws://` URL, which has no TLS to apply them to.
fn check_tls_options(url: &WebSocketUrl, options: &Options) -> Result<(), ParseErrorKind> {
    if url.secure {
        return Ok(());
    }
    match options.iter().find(|(id, _)| {
        let group = id.def().group;
        group.intersects(Groups::TLS.union(Groups::TLS_CLIENT))
    }) {
        Some((id, _)) => Err(super::combinations::conflict(
            id,
            "ws://",
            format!(
                "{} is a TLS option, and {url} has no TLS (a wss:// URL has)",
                id.def().name
            ),
        )),
        None => Ok(()),
    }
}

impl WebSocketSpec {
    /// Connects and runs the client's opening handshake, or starts listening.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        Ok(match self {
            WebSocketSpec::Connect(url) => {
                Opened::Connection(connect(url, options, context).await?)
            }
            WebSocketSpec::Listen(local) => {
                Opened::Listener(listen(local, Below::Tcp, options, context)?)
            }
            WebSocketSpec::ListenTls(local) => {
                Opened::Listener(listen(local, Below::Tls, options, context)?)
            }
        })
    }
}

// ---- WS-CONNECT as a layer of a chain: `WS-CONNECT:ws://host/path|TCP:proxy:8080` ----

/// `WS-CONNECT:<url>` as a layer: the WebSocket client over what is on the right, which
/// decides where the bytes go; the URL gives the request's `Host` and target, and for
/// `wss://` a TLS client below the WebSocket that checks the server's certificate for the
/// URL's host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WebSocketLayer(pub WebSocketUrl);

static WS_CONNECT_LAYER: Definition<WebSocketLayer> = Definition {
    ty: AddressType::new(
        "WS-CONNECT",
        &[],
        &["url"],
        Groups::WEBSOCKET
            .union(Groups::TLS)
            .union(Groups::TLS_CLIENT),
        "WebSocket client of the URL over what is on the right (wss://: TLS for the URL's host below it): each message is one message",
    )
    .last_takes_rest(),
    parse: |p| {
        let text = p.text(0)?;
        WebSocketUrl::parse(text)
            .map(WebSocketLayer)
            .ok_or_else(|| ParseErrorKind::InvalidParameter {
                what: "WebSocket URL",
                text: text.to_owned(),
                expected: EXPECTED_URL,
            })
    },
};

/// WebSocket's layer, for the registry of layers.
pub static LAYERS: FamilyTypes<WebSocketLayer> = FamilyTypes {
    features: &[],
    types: &[&WS_CONNECT_LAYER],
};

impl FamilySpec for WebSocketLayer {
    fn address_type(&self) -> &'static AddressType {
        &WS_CONNECT_LAYER.ty
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", escape_rest(&self.0.to_string()))
    }

    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        check_tls_options(&self.0, options)
    }
}

impl WebSocketLayer {
    /// The layers, outermost first: the WebSocket client, and for `wss://` the TLS client
    /// below it, its settings read now.
    pub fn layers(&self, options: &Options) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        let url = &self.0;
        let client: Arc<dyn Layer> = Arc::new(WebSocketClient {
            uri: url.to_string(),
            settings: settings(options),
        });
        if !url.secure {
            return Ok(vec![client]);
        }
        let config = TlsClientConfig::new(
            &super::tls::settings(options)?,
            &super::tls::host_name(&url.host),
        )
        .map_err(|e| OpenError::Refused(e.to_string()))?;
        Ok(vec![client, Arc::new(TlsClient(Arc::new(config)))])
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_give_host_port_and_target() {
        let v4 = |text: &str| Host::parse(text).unwrap();
        let cases = [
            (
                "ws://example.org/chat",
                false,
                "example.org",
                None,
                80,
                "/chat",
            ),
            ("wss://example.org", true, "example.org", None, 443, "/"),
            (
                "WS://127.0.0.1:8080/a/b?x=1&y=2",
                false,
                "127.0.0.1",
                Some(8080),
                8080,
                "/a/b?x=1&y=2",
            ),
            ("ws://[::1]:9/", false, "[::1]", Some(9), 9, "/"),
            ("wss://[::1]?q", true, "[::1]", None, 443, "/?q"),
        ];
        for (text, secure, host, port, effective, target) in cases {
            let url = WebSocketUrl::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(url.secure, secure, "{text}");
            assert_eq!(url.host, v4(host), "{text}");
            assert_eq!(url.port, port, "{text}");
            assert_eq!(url.port(), effective, "{text}");
            assert_eq!(url.target, target, "{text}");
            assert_eq!(WebSocketUrl::parse(&url.to_string()), Some(url), "{text}");
        }
        for bad in [
            "http://example.org/",
            "ws:/example.org/",
            "ws://",
            "ws://user@example.org/",
            "ws://example.org:0/",
            "ws://example.org:70000/",
            "ws://example.org:/",
            "ws://example.org:8x/",
            "ws://[::1/",
            "ws://[::1]x/",
            "ws://exa mple.org/",
            "ws://example.org/a b",
            "ws://example.org/#top",
            "ws://example.org/caf\u{e9}",
        ] {
            assert_eq!(WebSocketUrl::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn options_become_settings() {
        let crate::Address::Single(spec) = crate::Address::parse(
            "WS-CONNECT:ws://h:1/p,ws-text,ws-header=Origin: http://x,ws-header=X-A:b:c,ws-protocol=chat,ws-protocol=v2.x,ws-max-message=1024",
        )
        .unwrap() else {
            panic!("one address");
        };
        let settings = settings(&spec.options);
        assert_eq!(
            settings,
            Settings {
                max_message: 1024,
                frames: Frames::Text,
                headers: vec![
                    ("Origin".to_owned(), "http://x".to_owned()),
                    ("X-A".to_owned(), "b:c".to_owned())
                ],
                protocols: vec!["chat".to_owned(), "v2.x".to_owned()],
            }
        );
    }
}
