//! The error a malformed address produces: it keeps the text that was wrong and where it
//! stands in the address, so that the one-line message can quote it.

use std::fmt;

/// An address that could not be parsed.
///
/// Its `Display` is one line: the whole address, the part that was wrong, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// The address as the user wrote it.
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
    UnterminatedQuote { quote: char },
    /// A bracket was opened and never closed, or closed without being opened.
    UnbalancedBracket { bracket: char },
    /// The address type is not one socketry knows; `suggestion` is a known type it is a
    /// near miss of.
    UnknownType {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// One of socat's address types that socketry does not build yet.
    NotSupportedYet { name: String },
    /// Fewer parameters than the type needs.
    MissingParameter {
        type_name: &'static str,
        usage: String,
    },
    /// More parameters than the type takes.
    ExtraParameter {
        type_name: &'static str,
        usage: String,
        extra: String,
    },
    /// An option name socketry does not know; `suggestion` is a known option it is a near
    /// miss of.
    UnknownOption {
        name: String,
        suggestion: Option<&'static str>,
    },
    /// An option that exists but does not apply to this address type.
    OptionNotApplicable {
        name: String,
        type_name: &'static str,
    },
    /// An option value that does not parse.
    InvalidOptionValue {
        name: String,
        value: String,
        expected: &'static str,
    },
    /// An option that needs a value was given none.
    MissingOptionValue {
        name: String,
        expected: &'static str,
    },
    /// A port that is not a number in 0-65535.
    InvalidPort { text: String },
    /// A host that is neither an IP address nor a valid host name.
    InvalidHost { text: String },
    /// A Unix socket path longer than `sun_path` holds.
    PathTooLong {
        path: String,
        len: usize,
        max: usize,
    },
    /// A parameter that is empty or otherwise malformed.
    InvalidParameter {
        what: &'static str,
        text: String,
        expected: &'static str,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ParseErrorKind::*;
        let input = &self.input;
        match &self.kind {
            Empty => write!(f, "empty address (expected TYPE:params,options; see socketry -h)"),
            UnterminatedQuote { quote } => write!(
                f,
                "syntax error: unterminated {quote} quote in address \"{input}\" at offset {} (expected a closing {quote})",
                self.position
            ),
            UnbalancedBracket { bracket } => write!(
                f,
                "unbalanced '{bracket}' in address \"{input}\" at offset {}",
                self.position
            ),
            UnknownType { name, suggestion: Some(known) } => write!(
                f,
                "unknown device/address \"{name}\" in \"{input}\": did you mean {known}? (see socketry -h)"
            ),
            UnknownType { name, suggestion: None } => write!(
                f,
                "unknown device/address \"{name}\" in \"{input}\" (expected an address type such as TCP, TCP-LISTEN, UDP, UNIX-CONNECT, STDIO; see socketry -h)"
            ),
            // socat's test suite skips a test whose address socat's build lacks by the
            // words "unknown device/address" and "not supported yet": both stay.
            NotSupportedYet { name } => write!(
                f,
                "socat's {name} is not built into socketry yet (unknown device/address \"{name}\" in \"{input}\": not supported yet)"
            ),
            MissingParameter { type_name, usage } => write!(
                f,
                "missing parameter in \"{input}\": {type_name} expects {usage}"
            ),
            ExtraParameter { type_name, usage, extra } => write!(
                f,
                "extra parameter \"{extra}\" in \"{input}\": {type_name} expects {usage}"
            ),
            UnknownOption { name, suggestion: Some(known) } => write!(
                f,
                "unknown option \"{name}\" in \"{input}\": did you mean {known}? (see socketry -hh for the options)"
            ),
            UnknownOption { name, suggestion: None } => write!(
                f,
                "unknown option \"{name}\" in \"{input}\" (see socketry -hh for the options)"
            ),
            OptionNotApplicable { name, type_name } => write!(
                f,
                "option \"{name}\" does not apply to {type_name} in \"{input}\""
            ),
            InvalidOptionValue { name, value, expected } => write!(
                f,
                "invalid value \"{value}\" for option {name} in \"{input}\" (expected {expected})"
            ),
            MissingOptionValue { name, expected } => write!(
                f,
                "option {name} in \"{input}\" needs a value (expected {name}=<{expected}>)"
            ),
            InvalidPort { text } => write!(
                f,
                "invalid port \"{text}\" in \"{input}\" (expected a number from 0 to 65535)"
            ),
            InvalidHost { text } => write!(
                f,
                "invalid host \"{text}\" in \"{input}\" (expected an IPv4 address, [IPv6] address or host name)"
            ),
            PathTooLong { path, len, max } => write!(
                f,
                "Unix socket path \"{path}\" in \"{input}\" is {len} bytes long (expected at most {max})"
            ),
            InvalidParameter { what, text, expected } => write!(
                f,
                "invalid {what} \"{text}\" in \"{input}\" (expected {expected})"
            ),
        }
    }
}
