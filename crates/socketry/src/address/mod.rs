//! socat's address language: `TYPE:param:param,option=value,...`, `-` for standard I/O, a bare
//! number for an inherited descriptor, and `READ!!WRITE` for a dual address. Nothing here does
//! I/O, and nothing here knows a concrete family: the families describe their address types
//! with [`AddressType`] and [`Definition`], and the registry (the `registry` module) hands them to
//! [`parse_endpoint`] as a [`Catalog`].
//!
//! The option table in [`options`] and each family's definitions drive parsing, help and error
//! messages, so an address type or option is described in exactly one place.

pub mod data;
pub mod definition;
mod error;
mod lexer;
pub mod multicast;
pub mod options;
pub mod params;
pub mod suggest;
pub mod table;
mod types;

pub use definition::{Definition, FamilySpec, FamilyTypes};
pub use error::{display_bytes, escape_controls, ParseError, ParseErrorKind, Quoted, QUOTE_MAX};
pub use lexer::{escape, escape_bytes};
pub use multicast::{GroupInterface, Membership, MembershipForm};
pub use options::{BindAddr, BindDomain, Groups, IpRange, IpRangeError, OptionId, Options, Value};
pub use params::{Namespace, Params};
pub use table::{AddressType, Shorthand};
pub use types::{
    fmt_path, join_command_line, split_command_line, ActivatedSocket, Family, Host, InterfaceAddr,
    Local, MqRole, QueueName, Remote, UnixName, UnixRole, MQ_NAME_MAX, UNIX_PATH_MAX,
};

/// The address types a parser knows, and how to build the typed value of each (the registry
/// implements it over every family).
pub trait Catalog {
    /// A found address type: enough to describe it and to parse its parameters.
    type Row: Copy;
    /// What the parameters parse into.
    type Kind;
    /// The type named `name` (or an alias of it), case-insensitively.
    fn lookup(name: &str) -> Option<Self::Row>;
    /// The type a short form names (`-`, a bare number, a bare path).
    fn shorthand(form: Shorthand) -> Option<Self::Row>;
    /// The row's description.
    fn address_type(row: Self::Row) -> &'static AddressType;
    /// Parses the row's parameters into the typed value.
    fn build(row: Self::Row, params: &Params<'_>) -> Result<Self::Kind, ParseErrorKind>;
    /// Every name and alias, for "did you mean" suggestions.
    fn names() -> Vec<&'static str>;
    /// Whether `name` is a type socat has that is not built yet (an error says so).
    fn is_later(name: &str) -> bool;
}

/// Splits an address into its read and write halves at `!!`: one or two (offset, text) parts.
pub fn split_dual(input: &[u8]) -> Result<Vec<(usize, &[u8])>, ParseError> {
    lexer::split_dual(input)
}

/// Splits one half of an address into the parts of its chain (`LAYER|...|TRANSPORT`): each
/// part's offset in `whole` and its length. A half with no `|` is one part.
pub fn split_chain(
    whole: &[u8],
    base: usize,
    text: &[u8],
) -> Result<Vec<(usize, usize)>, ParseError> {
    lexer::split_chain(whole, base, text)
}

/// The name a part of an address starts with: the bytes before its first `:` or `,`,
/// unquoted. `None` when the part is quoted there or empty.
pub fn leading_name(text: &[u8]) -> Option<&str> {
    let end = text
        .iter()
        .position(|&b| matches!(b, b':' | b','))
        .unwrap_or(text.len());
    let name = &text[..end];
    if name.is_empty()
        || name
            .iter()
            .any(|b| !(b.is_ascii_alphanumeric() || *b == b'-'))
    {
        return None;
    }
    std::str::from_utf8(name).ok()
}

/// The error for more than one `!!` in an address.
pub fn too_many_halves(input: &[u8], parts: &[(usize, &[u8])]) -> ParseError {
    ParseError {
        input: display_bytes(input),
        position: parts.get(2).map_or(0, |p| p.0),
        kind: ParseErrorKind::InvalidParameter {
            what: "dual address",
            text: display_bytes(input),
            expected: "at most one !! separating a read address from a write address",
        },
    }
}

/// Parses one endpoint, the part of `whole` that starts at `base` and is `text`: its type,
/// its parameters (through the catalog's parse function) and its options (checked against the
/// type's groups).
pub fn parse_endpoint<C: Catalog>(
    whole: &[u8],
    base: usize,
    text: &[u8],
) -> Result<(C::Row, C::Kind, Options), ParseError> {
    let error = |position: usize, kind| ParseError {
        input: display_bytes(whole),
        position,
        kind,
    };
    let pieces = lexer::split(whole, base, text)?;
    let first = &pieces.head[0];
    if first.text.is_empty() && pieces.head.len() == 1 && pieces.options.is_empty() {
        return Err(error(base, ParseErrorKind::Empty));
    }
    // A type name is ASCII; bytes that are not UTF-8 can only be a bare path.
    let first_text = std::str::from_utf8(&first.text).ok();
    let alone = pieces.head.len() == 1;
    let shorthand = if !first.quoted && first.text == b"-" && alone {
        Some((Shorthand::Dash, &[][..]))
    } else if !first.text.is_empty() && first.text.iter().all(|b| b.is_ascii_digit()) && alone {
        Some((Shorthand::Number, &pieces.head[..]))
    } else {
        None
    };

    let found = match shorthand {
        Some((form, params)) => C::shorthand(form).map(|row| (row, params)),
        None => first_text
            .and_then(C::lookup)
            .map(|row| (row, &pieces.head[1..])),
    };
    let found = found.or_else(|| {
        // A bare path is GOPEN, as in socat.
        (alone && first.text.contains(&b'/'))
            .then(|| C::shorthand(Shorthand::Path))
            .flatten()
            .map(|row| (row, &pieces.head[..]))
    });
    let (row, params) = match found {
        Some(found) => found,
        None => {
            let kind = match first_text.filter(|name| C::is_later(name)) {
                Some(name) => ParseErrorKind::NotSupportedYet {
                    name: name.to_ascii_uppercase(),
                },
                None => ParseErrorKind::UnknownType {
                    name: display_bytes(&first.text),
                    suggestion: first_text.and_then(|name| suggest::nearest(name, C::names())),
                },
            };
            return Err(error(first.start, kind));
        }
    };
    let ty = C::address_type(row);
    // The `:`s the lexer split the last parameter at are put back (only unquoted ones split).
    let joined: Vec<lexer::Piece>;
    let params = match ty.params.len().checked_sub(1) {
        Some(last) if ty.last_takes_rest && params.len() > last + 1 => {
            let mut rest = params[last].clone();
            for piece in &params[last + 1..] {
                rest.text.push(b':');
                rest.text.extend_from_slice(&piece.text);
                rest.quoted |= piece.quoted;
            }
            joined = params[..last].iter().cloned().chain([rest]).collect();
            &joined[..]
        }
        _ => params,
    };

    if params.len() < ty.required {
        let position = base + text.iter().position(|&b| b == b',').unwrap_or(text.len());
        return Err(error(
            position,
            ParseErrorKind::MissingParameter {
                type_name: ty.name,
                usage: ty.usage(),
            },
        ));
    }
    if let Some(extra) = params.get(ty.params.len()) {
        return Err(error(
            extra.start,
            ParseErrorKind::ExtraParameter {
                type_name: ty.name,
                usage: ty.usage(),
                extra: display_bytes(&extra.text),
            },
        ));
    }
    let kind = C::build(row, &Params::new(ty, params))
        .map_err(|kind| error(params.first().map_or(base, |p| p.start), kind))?;

    let mut options = Options::default();
    for piece in pieces.options.iter().filter(|p| !p.text.is_empty()) {
        let (name, value) = match piece.text.iter().position(|&b| b == b'=') {
            Some(i) => (&piece.text[..i], Some(&piece.text[i + 1..])),
            None => (&piece.text[..], None),
        };
        let name = std::str::from_utf8(name).map_err(|_| {
            error(
                piece.start,
                ParseErrorKind::UnknownOption {
                    name: display_bytes(name),
                    suggestion: None,
                },
            )
        })?;
        let def = options::lookup(name).ok_or_else(|| {
            // A near miss of an option this type takes first, then of any option.
            let applicable = options::OPTIONS
                .iter()
                .filter(|d| ty.groups.intersects(d.group));
            let suggestion = suggest::nearest(name, options::names(applicable))
                .or_else(|| suggest::nearest(name, options::names(options::OPTIONS.iter())));
            error(
                piece.start,
                ParseErrorKind::UnknownOption {
                    name: name.to_owned(),
                    suggestion,
                },
            )
        })?;
        if !ty.groups.intersects(def.group) {
            return Err(error(
                piece.start,
                ParseErrorKind::OptionNotApplicable {
                    name: def.name.to_owned(),
                    type_name: ty.name,
                },
            ));
        }
        if let options::ValueKind::Refused(reason) = def.kind {
            return Err(error(
                piece.start,
                ParseErrorKind::OptionRefused {
                    name: def.name.to_owned(),
                    reason,
                },
            ));
        }
        let value = options::parse_value_bytes(def.kind, value, ty.bind).map_err(|e| {
            let kind = match (e, value) {
                (options::ValueError::Lookup(error), _) => ParseErrorKind::UnknownName {
                    option: def.name,
                    error,
                    expected: options::name_hint(def.id),
                },
                (options::ValueError::Malformed, None) => ParseErrorKind::MissingOptionValue {
                    name: def.name.to_owned(),
                    expected: def.kind.expected_in(ty.bind),
                },
                (options::ValueError::Malformed, Some(v))
                    if options::numeric_flaw(def.kind, v).is_some() =>
                {
                    ParseErrorKind::InvalidNumber {
                        name: def.name.to_owned(),
                        value: display_bytes(v),
                        expected: def.kind.expected(),
                        flaw: options::numeric_flaw(def.kind, v).unwrap_or_default(),
                    }
                }
                (options::ValueError::Malformed, Some(v)) => ParseErrorKind::InvalidOptionValue {
                    name: def.name.to_owned(),
                    value: display_bytes(v),
                    expected: def.kind.expected_in(ty.bind),
                },
            };
            error(piece.start, kind)
        })?;
        options.0.push((def.id, value));
    }
    Ok((row, kind, options))
}

/// Writes the options as an address carries them: `,name` or `,name=value` each.
pub fn fmt_options(options: &Options, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    for (id, value) in options.iter() {
        match value {
            Value::Bool(true) | Value::NamePattern(None) => write!(f, ",{}", id.def().name)?,
            value => write!(f, ",{}={value}", id.def().name)?,
        }
    }
    Ok(())
}
