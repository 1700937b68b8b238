//! The registry of layers: the names a chain (`LAYER|...|TRANSPORT`) may use left of its
//! transport, one line each, generated the way the registry of address types is. Each layer
//! is an [`AddressType`] row (name, aliases, parameters, the option groups that apply, help)
//! and the typed spec its parameters parse into, which builds the [`Layer`] when the chain
//! opens. A layer takes only its own parameters and options; everything about the
//! connection is the transport's.

use std::fmt;
use std::sync::Arc;

use crate::address::{
    AddressType, Catalog, Definition, FamilySpec, FamilyTypes, Groups, Options, Params,
    ParseErrorKind,
};
use crate::endpoint::{proxy, proxy_header, tls, websocket, OpenContext, OpenError};
use crate::layer::proxy_protocol::Version;
use crate::layer::{Layer, LengthPrefix, PrefixWidth};

/// Generates [`LayerKind`], its rows, and the dispatch of every operation to its module.
macro_rules! layer_registry {
    ($($(#[$doc:meta])* $variant:ident($spec:ty) = $types:expr;)*) => {
        /// Every kind of layer a chain can name, holding its typed parameters.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum LayerKind {
            $($(#[$doc])* $variant($spec),)*
        }

        /// One layer's row, as the parser finds it.
        #[derive(Debug, Clone, Copy)]
        pub enum LayerRow {
            $($(#[$doc])* $variant(&'static Definition<$spec>),)*
        }

        impl LayerRow {
            /// The row's description.
            pub fn address_type(self) -> &'static AddressType {
                match self {
                    $(LayerRow::$variant(definition) => &definition.ty,)*
                }
            }

            fn build(self, params: &Params<'_>) -> Result<LayerKind, ParseErrorKind> {
                match self {
                    $(LayerRow::$variant(definition) => (definition.parse)(params).map(LayerKind::$variant),)*
                }
            }
        }

        /// Every layer, in the order help lists them.
        pub fn layer_rows() -> impl Iterator<Item = LayerRow> {
            std::iter::empty()
                $(.chain($types.types.iter().map(|definition| LayerRow::$variant(definition))))*
        }

        impl LayerKind {
            /// The row this layer was parsed from (and is displayed as).
            pub fn address_type(&self) -> &'static AddressType {
                match self {
                    $(LayerKind::$variant(spec) => spec.address_type(),)*
                }
            }

            fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
                match self {
                    $(LayerKind::$variant(spec) => spec.check(options),)*
                }
            }

            fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(LayerKind::$variant(spec) => spec.fmt_params(f),)*
                }
            }

            async fn layers(
                &self,
                options: &Options,
                context: &OpenContext,
            ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
                match self {
                    $(LayerKind::$variant(spec) => BuildLayer::layers(spec, options, context).await,)*
                }
            }
        }
    };
}

layer_registry! {
    /// Proxy clients (`SOCKS4`, `SOCKS4A`, `SOCKS5-CONNECT`, `PROXY`).
    Proxy(proxy::ProxyLayer) = proxy::LAYERS;
    /// TLS (`OPENSSL`, `OPENSSL-SERVER`).
    Tls(tls::TlsLayer) = tls::LAYERS;
    /// Messages over a stream (`LENGTH-PREFIX`).
    LengthPrefix(PrefixWidth) = LENGTH_PREFIX_LAYERS;
    /// A WebSocket client (`WS-CONNECT`).
    WebSocket(websocket::WebSocketLayer) = websocket::LAYERS;
    /// A PROXY protocol header sent first (`PROXY-PROTOCOL`).
    ProxyProtocol(Version) = proxy_header::LAYERS;
}

/// How a layer's typed spec becomes its layers (one, or a few stacked: `wss://` is a
/// WebSocket over TLS), outermost first, its options read: each module's layers implement
/// it beside their definitions' spec. `context` says who the first address's peer is, for
/// a layer that tells the next hop about it.
trait BuildLayer {
    async fn layers(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError>;
}

impl BuildLayer for proxy::ProxyLayer {
    async fn layers(
        &self,
        options: &Options,
        _context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        Ok(vec![proxy::ProxyLayer::layer(self, options).await?])
    }
}

impl BuildLayer for tls::TlsLayer {
    async fn layers(
        &self,
        options: &Options,
        _context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        Ok(vec![tls::TlsLayer::layer(self, options)?])
    }
}

impl BuildLayer for PrefixWidth {
    async fn layers(
        &self,
        _options: &Options,
        _context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        Ok(vec![Arc::new(LengthPrefix(*self))])
    }
}

impl BuildLayer for websocket::WebSocketLayer {
    async fn layers(
        &self,
        options: &Options,
        _context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        websocket::WebSocketLayer::layers(self, options)
    }
}

impl BuildLayer for Version {
    async fn layers(
        &self,
        _options: &Options,
        context: &OpenContext,
    ) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        Ok(vec![proxy_header::writer(*self, context)])
    }
}

static LENGTH_PREFIX: Definition<PrefixWidth> = Definition {
    ty: AddressType::new(
        "LENGTH-PREFIX",
        &[],
        &["width"],
        Groups::NONE,
        "messages over the stream on the right, each after its big-endian length in 2 or 4 bytes (the length-prefix option, as a layer)",
    ),
    parse: |p| match p.text(0)? {
        "2" => Ok(PrefixWidth::Two),
        "4" => Ok(PrefixWidth::Four),
        other => Err(ParseErrorKind::InvalidParameter {
            what: "prefix width",
            text: other.to_owned(),
            expected: "2 or 4",
        }),
    },
};

static LENGTH_PREFIX_LAYERS: FamilyTypes<PrefixWidth> = FamilyTypes {
    features: &[],
    types: &[&LENGTH_PREFIX],
};

impl FamilySpec for PrefixWidth {
    fn address_type(&self) -> &'static AddressType {
        &LENGTH_PREFIX.ty
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{}", self.bytes())
    }
}

/// Every layer's description, in the order help lists them.
pub fn layer_types() -> impl Iterator<Item = &'static AddressType> {
    layer_rows().map(LayerRow::address_type)
}

/// Looks a layer up by name or alias, case-insensitively.
pub fn lookup_layer(name: &str) -> Option<&'static AddressType> {
    layer_types().find(|ty| ty.is_named(name))
}

/// One layer of a chain: what it is, and its own options.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// The layer and its typed parameters.
    pub kind: LayerKind,
    /// Its options, checked against its row's groups.
    pub options: Options,
}

impl LayerSpec {
    /// Builds the layer, reading what its options name (certificates, credential files):
    /// one or a few stacked, outermost first. `context` is the open's, which tells who the
    /// first address's peer is.
    pub async fn layers(&self, context: &OpenContext) -> Result<Vec<Arc<dyn Layer>>, OpenError> {
        self.kind.layers(&self.options, context).await
    }
}

impl fmt::Display for LayerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.address_type().name)?;
        self.kind.fmt_params(f)?;
        crate::address::fmt_options(&self.options, f)
    }
}

/// The layers as the parser's catalog.
pub(super) struct Layers;

impl Catalog for Layers {
    type Row = LayerRow;
    type Kind = LayerKind;

    fn lookup(name: &str) -> Option<LayerRow> {
        layer_rows().find(|row| row.address_type().is_named(name))
    }

    fn shorthand(_form: crate::address::Shorthand) -> Option<LayerRow> {
        None
    }

    fn address_type(row: LayerRow) -> &'static AddressType {
        row.address_type()
    }

    fn build(row: LayerRow, params: &Params<'_>) -> Result<LayerKind, ParseErrorKind> {
        row.build(params)
    }

    fn names() -> Vec<&'static str> {
        layer_types().flat_map(AddressType::names).collect()
    }

    fn is_later(_name: &str) -> bool {
        false
    }
}

/// Parses one layer of a chain, the part of `whole` at `base` that is `text`.
pub(super) fn parse_layer(
    whole: &[u8],
    base: usize,
    text: &[u8],
) -> Result<LayerSpec, crate::address::ParseError> {
    let (_, kind, options) = crate::address::parse_endpoint::<Layers>(whole, base, text)?;
    kind.check(&options)
        .map_err(|why| crate::address::ParseError {
            input: crate::address::display_bytes(whole),
            position: base,
            kind: why,
        })?;
    Ok(LayerSpec { kind, options })
}
