//! The error a malformed address produces: it keeps the text that was wrong and where it
//! stands in the address, so that the one-line message can quote it.

use std::fmt;

/// An address that could not be parsed.
///
/// Its `Display` is one line: the whole address, the part that was wrong, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// The address as the user wrote it (a byte that is not UTF-8 as `\xNN`).
    pub input: String,
    /// Byte offset in `input` of the offending text.
    pub position: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong with an address.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The address is empty.
    Empty,
    /// A quote was opened and never closed.
    UnterminatedQuote {
        /// The quote character that opened it (`"` or `'`).
        quote: char,
    },
    /// A bracket was opened and never closed, or closed without being opened.
    UnbalancedBracket {
        /// The bracket found without its partner.
        bracket: char,
    },
    /// The address ends in a backslash, which has nothing left to protect.
    TrailingBackslash,
    /// Bytes that are not UTF-8 where text is needed (anywhere but a path).
    NotUtf8 {
        /// What the text was to be, in words (a parameter such as `host`).
        what: &'static str,
        /// The text, with the bytes that are not UTF-8 as `\xNN`.
        text: String,
    },
    /// The address type is not one socketry knows; `suggestion` is a known type it is a
    /// near miss of.
    UnknownType {
        /// The type as written.
        name: String,
        /// The known type it is closest to, if any is close.
        suggestion: Option<&'static str>,
    },
    /// A part of a chain left of its transport names no layer socketry knows.
    UnknownLayer {
        /// The layer as written.
        name: String,
        /// The known layer it is closest to, if any is close.
        suggestion: Option<&'static str>,
    },
    /// A chain's transport is written where a layer goes (`TCP:h:1|TCP:h:2`).
    NotALayer {
        /// The address type as written.
        name: String,
    },
    /// A chain ends with a layer, which has nothing to run over (`...|OPENSSL-SERVER`).
    NotATransport {
        /// The layer as written.
        name: String,
    },
    /// One of socat's address types that socketry does not build yet.
    NotSupportedYet {
        /// socat's name for the type.
        name: String,
    },
    /// Fewer parameters than the type needs.
    MissingParameter {
        /// The address type's canonical name.
        type_name: &'static str,
        /// How the type is written, parameters and all (`TCP:<host>:<port>`).
        usage: String,
    },
    /// More parameters than the type takes.
    ExtraParameter {
        /// The address type's canonical name.
        type_name: &'static str,
        /// How the type is written, parameters and all.
        usage: String,
        /// The first parameter beyond what the type takes.
        extra: String,
    },
    /// An option name socketry does not know; `suggestion` is a known option it is a near
    /// miss of.
    UnknownOption {
        /// The option as written.
        name: String,
        /// The known option it is closest to, if any is close.
        suggestion: Option<&'static str>,
    },
    /// An option that exists but does not apply to this address type.
    OptionNotApplicable {
        /// The option as written.
        name: String,
        /// The address type it was given to.
        type_name: &'static str,
    },
    /// One of socat's options that socketry refuses rather than ignore, with the reason.
    OptionRefused {
        /// The option as written.
        name: String,
        /// Why socketry does not offer it.
        reason: &'static str,
    },
    /// An option value that does not parse.
    InvalidOptionValue {
        /// The option's canonical name.
        name: String,
        /// The value as written.
        value: String,
        /// What the option takes, in words (`a number of seconds`).
        expected: &'static str,
    },
    /// A numeric option's value that is not a number: it has no digits where the number
    /// starts, or something after them. `flaw` says which, in the words scripts written for
    /// socat look for ("missing numerical value", "trailing garbage").
    InvalidNumber {
        /// The option's canonical name.
        name: String,
        /// The value as written.
        value: String,
        /// What the option takes, in words.
        expected: &'static str,
        /// What is wrong with the value.
        flaw: &'static str,
    },
    /// An option that needs a value was given none.
    MissingOptionValue {
        /// The option's canonical name.
        name: String,
        /// What the option takes, in words.
        expected: &'static str,
    },
    /// A port that is neither a number in 0-65535 nor, where `protocol` is given, a service
    /// name of that protocol in /etc/services.
    InvalidPort {
        /// The port as written.
        text: String,
        /// The protocol whose service names apply (`tcp`, `udp`), if names are allowed.
        protocol: Option<&'static str>,
    },
    /// A host that is neither an IP address nor a valid host name.
    InvalidHost {
        /// The host as written.
        text: String,
    },
    /// A Unix socket path longer than `sun_path` holds.
    PathTooLong {
        /// The path as written.
        path: String,
        /// Its length in bytes.
        len: usize,
        /// The most bytes a socket address's path holds.
        max: usize,
    },
    /// A parameter that is empty or otherwise malformed.
    InvalidParameter {
        /// Which parameter it is (`file descriptor`, `command line`).
        what: &'static str,
        /// The parameter as written.
        text: String,
        /// What the parameter must be, in words.
        expected: &'static str,
    },
    /// An option naming a user or group that the system does not know, or could not be
    /// asked about; `expected`, when given, says what the option takes.
    UnknownName {
        /// The option, as the table names it.
        option: &'static str,
        /// What the lookup said, quoting the name.
        error: crate::users::LookupError,
        /// What the option takes, for options whose message has always said so.
        expected: Option<&'static str>,
    },
    /// Options of one address that cannot work together (or one that needs another, or one
    /// that cannot go with the address's type or a missing parameter): `options` names the
    /// two, and `message`, which names both, says why.
    CannotCombine {
        /// The two options as the table names them (or the option, then the address type or
        /// parameter it cannot go with).
        options: [&'static str; 2],
        /// The one-line explanation.
        message: String,
    },
    /// A parameter in socat's data form (a generic socket's address) that does not read.
    InvalidData {
        /// Which parameter it is (`remote-address`).
        what: &'static str,
        /// The parameter as written.
        text: String,
        /// What is wrong with it, and where.
        reason: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParseErrorKind::*;
        let q = |text: &str| Quoted(text).to_string();
        let input = q(&self.input);
        match &self.kind {
            Empty => write!(f, "empty address (expected TYPE:params,options; see socketry -h)"),
            UnterminatedQuote { quote } => write!(
                f,
                "syntax error: unterminated {quote} quote in address {input} at offset {} (expected a closing {quote})",
                self.position
            ),
            UnbalancedBracket { bracket } => write!(
                f,
                "unbalanced '{bracket}' in address {input} at offset {}",
                self.position
            ),
            TrailingBackslash => write!(
                f,
                "syntax error: a backslash ends address {input} (expected a character after it to protect; write \\\\ for a backslash)"
            ),
            NotUtf8 { what, text } => write!(
                f,
                "invalid {what} {} in {input}: it is not UTF-8 (only paths may hold other bytes)",
                q(text)
            ),
            UnknownType { name, suggestion: Some(known) } => write!(
                f,
                "unknown device/address {} in {input}: did you mean {known}? (see socketry -h)",
                q(name)
            ),
            UnknownType { name, suggestion: None } => write!(
                f,
                "unknown device/address {} in {input} (expected an address type such as TCP, TCP-LISTEN, UDP, UNIX-CONNECT, STDIO; see socketry -h)",
                q(name)
            ),
            UnknownLayer { name, suggestion } => write!(
                f,
                "unknown layer {} in {input}{} (a chain is LAYER|...|ADDRESS; see socketry -h for the layers)",
                q(name),
                suggestion.map(|known| format!(": did you mean {known}?")).unwrap_or_default()
            ),
            NotALayer { name } => write!(
                f,
                "{} in {input} opens a connection of its own, so it cannot be a layer: only the rightmost address of a chain (LAYER|...|ADDRESS) opens one",
                q(name)
            ),
            NotATransport { name } => write!(
                f,
                "{} in {input} is a layer, which runs over a connection: a chain ends with an address that opens one (LAYER|...|ADDRESS)",
                q(name)
            ),
            // socat's test suite skips a test whose address socat's build lacks by the
            // words "unknown device/address" and "not supported yet": both stay.
            NotSupportedYet { name } => write!(
                f,
                "socat's {name} is not built into socketry yet (unknown device/address {} in {input}: not supported yet)",
                q(name)
            ),
            MissingParameter { type_name, usage } => write!(
                f,
                "missing parameter in {input}: {type_name} expects {usage}"
            ),
            ExtraParameter { type_name, usage, extra } => write!(
                f,
                "extra parameter {} in {input}: {type_name} expects {usage}",
                q(extra)
            ),
            UnknownOption { name, suggestion: Some(known) } => write!(
                f,
                "unknown option {} in {input}: did you mean {known}? (see socketry -hh for the options)",
                q(name)
            ),
            UnknownOption { name, suggestion: None } => write!(
                f,
                "unknown option {} in {input} (see socketry -hh for the options)",
                q(name)
            ),
            OptionNotApplicable { name, type_name } => write!(
                f,
                "option {} does not apply to {type_name} in {input}",
                q(name)
            ),
            OptionRefused { name, reason } => write!(
                f,
                "option {name} in {input} is not supported: {reason}"
            ),
            InvalidOptionValue { name, value, expected } => write!(
                f,
                "invalid value {} for option {name} in {input} (expected {expected})",
                q(value)
            ),
            InvalidNumber { name, value, expected, flaw } => write!(
                f,
                "invalid value {} for option {name} in {input} ({flaw}; expected {expected})",
                q(value)
            ),
            MissingOptionValue { name, expected } => write!(
                f,
                "option {name} in {input} needs a value (expected {name}=<{expected}>)"
            ),
            InvalidPort { text, protocol: None } => write!(
                f,
                "invalid port {} in {input} (expected a number from 0 to 65535)",
                q(text)
            ),
            InvalidPort { text, protocol: Some(protocol) } => write!(
                f,
                "invalid port {} in {input} (expected a number from 0 to 65535): no {protocol} service of that name in /etc/services",
                q(text)
            ),
            InvalidHost { text } => write!(
                f,
                "invalid host {} in {input} (expected an IPv4 address, [IPv6] address or host name)",
                q(text)
            ),
            PathTooLong { path, len, max } => write!(
                f,
                "Unix socket path {} in {input} is {len} bytes long (expected at most {max})",
                q(path)
            ),
            InvalidParameter { what, text, expected } => write!(
                f,
                "invalid {what} {} in {input} (expected {expected})",
                q(text)
            ),
            // These read as the refusal of an address being opened would, `ADDRESS: why`:
            // the same words, only found out sooner.
            UnknownName { option, error, expected } => {
                write!(f, "{}: {option}: ", escape_controls(&self.input))?;
                match error {
                    crate::users::LookupError::NotFound { database, name } => {
                        write!(f, "no such {} {}", database.entry(), q(name))?;
                    }
                    crate::users::LookupError::Failed { database, name, reason } => write!(
                        f,
                        "looking up {} {} failed: {}",
                        database.entry(),
                        q(name),
                        escape_controls(reason)
                    )?,
                }
                match expected {
                    Some(expected) => write!(f, " (expected {expected})"),
                    None => Ok(()),
                }
            }
            CannotCombine { message, .. } => {
                write!(f, "{}: {message}", escape_controls(&self.input))
            }
            InvalidData { what, text, reason } => write!(
                f,
                "invalid {what} {} in {input}: {} (expected {})",
                q(text),
                escape_controls(reason),
                DATA_FORM
            ),
        }
    }
}

/// What socat's data form holds, as errors about it say (`address::data`).
pub(crate) const DATA_FORM: &str = "socat's data form: x and hex digits (x7f000001), \"text\", 'c', or i, I, l, L, s, S, b, B and a number";

/// The most characters of one argument an error line quotes; a longer one is cut, with its
/// length, so that a pasted megabyte does not become a megabyte of log.
pub const QUOTE_MAX: usize = 200;

/// Text as an error line quotes it: in double quotes, with control characters escaped (`\n`,
/// `\t`, `\x1b`) so that a line stays one line and a terminal never runs what it holds, and
/// cut after [`QUOTE_MAX`] characters (the total length follows the quote).
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(QUOTE_MAX) {
            write_escaped(f, c)?;
        }
        if chars.next().is_some() {
            write!(f, "...\" ({} characters)", self.0.chars().count())
        } else {
            f.write_str("\"")
        }
    }
}

fn write_escaped(out: &mut impl fmt::Write, c: char) -> fmt::Result {
    match c {
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        c if c.is_control() && u32::from(c) < 0x100 => write!(out, "\\x{:02x}", u32::from(c)),
        c if c.is_control() => write!(out, "\\u{{{:04x}}}", u32::from(c)),
        c => out.write_char(c),
    }
}

/// `text` with its control characters escaped as [`Quoted`] does, for whole log lines.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        let _ = write_escaped(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

/// Bytes as text: UTF-8 as it is, each byte that is not UTF-8 as `\xNN`.
pub fn display_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = fmt::Write::write_fmt(&mut out, format_args!("\\x{b:02x}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_escape_controls_and_cut_long_text() {
        let long = "a".repeat(QUOTE_MAX + 50);
        let cut = format!("\"{}...\" (250 characters)", "a".repeat(QUOTE_MAX));
        let exact = "b".repeat(QUOTE_MAX);
        let cases: &[(&str, String)] = &[
            ("plain", "\"plain\"".into()),
            ("a\nb\tc\r", "\"a\\nb\\tc\\r\"".into()),
            ("\x1b[31mred", "\"\\x1b[31mred\"".into()),
            ("\u{9b}", "\"\\x9b\"".into()),
            ("é ok", "\"é ok\"".into()),
            (&long, cut),
            (&exact, format!("\"{exact}\"")),
        ];
        for (text, want) in cases {
            assert_eq!(Quoted(text).to_string(), *want);
        }
        assert_eq!(escape_controls("a\u{7}b"), "a\\x07b");
        assert_eq!(display_bytes(b"/tmp/\xffname\xc3"), "/tmp/\\xffname\\xc3");
    }
}
