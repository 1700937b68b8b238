//! Splitting an address into its pieces, as socat does: `:` separates the type and its
//! parameters, the first `,` starts the options (after which only `,` separates), `!!` separates
//! the two halves of a dual address. Single quotes protect everything up to the closing quote,
//! double quotes protect everything but backslash escapes, a backslash outside quotes protects
//! the next character, and separators inside `[]`, `()` or `{}` do not split.

use super::error::{ParseError, ParseErrorKind};

/// One piece of an address, with its quoting removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The bytes with quotes and escapes removed. An address is bytes, as a command line is:
    /// a path need not be UTF-8; everything else is checked to be when it is read.
    pub text: Vec<u8>,
    /// Byte offset of the piece in the whole address.
    pub start: usize,
    /// Whether any part of the piece was quoted or escaped (so `-` or `123` are literal).
    pub quoted: bool,
}

/// An address split into its head (type and parameters) and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pieces {
    pub head: Vec<Piece>,
    pub options: Vec<Piece>,
}

fn error(whole: &[u8], position: usize, kind: ParseErrorKind) -> ParseError {
    ParseError {
        input: super::error::display_bytes(whole),
        position,
        kind,
    }
}

/// Splits `input` at top-level occurrences of `!!`, returning each part with its offset.
pub(crate) fn split_dual(input: &[u8]) -> Result<Vec<(usize, &[u8])>, ParseError> {
    let mut parts = Vec::new();
    let mut scanner = Scanner::new(input);
    let mut part_start = 0;
    while let Some((i, c)) = scanner.next_top_level()? {
        if c == b'!' && input.get(i + 1) == Some(&b'!') {
            parts.push((part_start, &input[part_start..i]));
            part_start = i + 2;
            scanner.skip_to(part_start);
        }
    }
    parts.push((part_start, &input[part_start..]));
    Ok(parts)
}

/// Splits one half of an address at top-level occurrences of `|`, the separator of a chain
/// (`LAYER|...|TRANSPORT`), returning each part with its offset in the whole address. A `|`
/// quoted, escaped or inside brackets does not split.
pub(crate) fn split_chain(
    whole: &[u8],
    base: usize,
    input: &[u8],
) -> Result<Vec<(usize, usize)>, ParseError> {
    let mut parts = Vec::new();
    let mut scanner = Scanner::new(input);
    let mut part_start = 0;
    while let Some((i, c)) = scanner.next_top_level().map_err(|mut e| {
        e.input = super::error::display_bytes(whole);
        e.position += base;
        e
    })? {
        if c == b'|' {
            parts.push((base + part_start, i - part_start));
            part_start = i + 1;
        }
    }
    parts.push((base + part_start, input.len() - part_start));
    Ok(parts)
}

/// Splits one (non-dual) address, at `base` offset within `whole`, into head and options.
pub(crate) fn split(whole: &[u8], base: usize, input: &[u8]) -> Result<Pieces, ParseError> {
    let mut head = Vec::new();
    let mut options = Vec::new();
    let mut in_options = false;
    let mut current = Piece {
        text: Vec::new(),
        start: base,
        quoted: false,
    };
    let mut bytes = input.iter().copied().enumerate();
    let mut depth: Vec<(u8, usize)> = Vec::new();

    while let Some((i, c)) = bytes.next() {
        match c {
            b'\'' => {
                current.quoted = true;
                loop {
                    match bytes.next() {
                        Some((_, b'\'')) => break,
                        Some((_, q)) => current.text.push(q),
                        None => {
                            return Err(error(
                                whole,
                                base + i,
                                ParseErrorKind::UnterminatedQuote { quote: '\'' },
                            ))
                        }
                    }
                }
            }
            b'"' => {
                current.quoted = true;
                loop {
                    match bytes.next() {
                        Some((_, b'"')) => break,
                        Some((_, b'\\')) => match bytes.next() {
                            Some((_, e)) => current.text.push(e),
                            None => {
                                return Err(error(
                                    whole,
                                    base + i,
                                    ParseErrorKind::UnterminatedQuote { quote: '"' },
                                ))
                            }
                        },
                        Some((_, q)) => current.text.push(q),
                        None => {
                            return Err(error(
                                whole,
                                base + i,
                                ParseErrorKind::UnterminatedQuote { quote: '"' },
                            ))
                        }
                    }
                }
            }
            b'\\' => {
                current.quoted = true;
                match bytes.next() {
                    Some((_, e)) => current.text.push(e),
                    // Nothing left to protect: the address was cut short.
                    None => return Err(error(whole, base + i, ParseErrorKind::TrailingBackslash)),
                }
            }
            b'[' | b'(' | b'{' => {
                depth.push((c, base + i));
                current.text.push(c);
            }
            b']' | b')' | b'}' => {
                match depth.last() {
                    Some(&(open, _)) if closer(open) == c => {
                        depth.pop();
                        current.text.push(c);
                    }
                    // Inside a bracket only its own closer ends it (socat's nesting): the `)`
                    // of `([),])` is text.
                    Some(_) => current.text.push(c),
                    None => {
                        return Err(error(
                            whole,
                            base + i,
                            ParseErrorKind::UnbalancedBracket {
                                bracket: char::from(c),
                            },
                        ))
                    }
                }
            }
            b':' if depth.is_empty() && !in_options => {
                let next = Piece {
                    text: Vec::new(),
                    start: base + i + 1,
                    quoted: false,
                };
                head.push(std::mem::replace(&mut current, next));
            }
            b',' if depth.is_empty() => {
                let next = Piece {
                    text: Vec::new(),
                    start: base + i + 1,
                    quoted: false,
                };
                let done = std::mem::replace(&mut current, next);
                if in_options {
                    options.push(done);
                } else {
                    head.push(done);
                    in_options = true;
                }
            }
            _ => current.text.push(c),
        }
    }
    if let Some((bracket, position)) = depth.pop() {
        return Err(error(
            whole,
            position,
            ParseErrorKind::UnbalancedBracket {
                bracket: char::from(bracket),
            },
        ));
    }
    if in_options {
        options.push(current);
    } else {
        head.push(current);
    }
    Ok(Pieces { head, options })
}

/// Walks an address byte by byte, skipping quoted text and bracketed groups, so that callers
/// see only the bytes at the top level. Every byte that means something is ASCII, so this is
/// the same walk over UTF-8 text and over other bytes.
struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(input: &'a [u8]) -> Self {
        Scanner { input, pos: 0 }
    }

    fn skip_to(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn next_top_level(&mut self) -> Result<Option<(usize, u8)>, ParseError> {
        let mut open: Vec<u8> = Vec::new();
        while let Some(&c) = self.input.get(self.pos) {
            let i = self.pos;
            self.pos += 1;
            match c {
                // The byte after a backslash is never special (a backslash at the very end is
                // refused when the piece is split).
                b'\\' => self.pos = (self.pos + 1).min(self.input.len()),
                b'\'' | b'"' => {
                    let rest = &self.input[self.pos..];
                    let close = if c == b'"' {
                        find_closing_double(rest)
                    } else {
                        rest.iter().position(|&b| b == b'\'')
                    };
                    match close {
                        Some(n) => self.pos += n + 1,
                        None => {
                            return Err(error(
                                self.input,
                                i,
                                ParseErrorKind::UnterminatedQuote {
                                    quote: char::from(c),
                                },
                            ))
                        }
                    }
                }
                b'[' | b'(' | b'{' => open.push(c),
                b']' | b')' | b'}' if open.last().is_some_and(|&o| closer(o) == c) => {
                    open.pop();
                }
                // Another bracket's closer inside a bracket is text.
                b']' | b')' | b'}' => {}
                _ if open.is_empty() => return Ok(Some((i, c))),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// The bracket that closes `open`.
fn closer(open: u8) -> u8 {
    match open {
        b'[' => b']',
        b'(' => b')',
        _ => b'}',
    }
}

fn find_closing_double(rest: &[u8]) -> Option<usize> {
    let mut escaped = false;
    for (i, &c) in rest.iter().enumerate() {
        match c {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Writes a path's bytes as [`escape`] writes text; a byte that is not UTF-8 has no way to be
/// written in an address's text, and shows as `\xNN` (which does not read back as that byte).
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Writes `text` so that the lexer reads it back as one piece with the same text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            ':' | ',' | '\'' | '"' | '\\' | '[' | ']' | '(' | ')' | '{' | '}' | '!' | '=' | '|'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pieces: &[Piece]) -> Vec<&str> {
        pieces
            .iter()
            .map(|p| std::str::from_utf8(&p.text).unwrap())
            .collect()
    }

    #[test]
    fn splits_head_and_options() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("TCP:localhost:80", &["TCP", "localhost", "80"], &[]),
            (
                "TCP-LISTEN:80,fork,reuseaddr",
                &["TCP-LISTEN", "80"],
                &["fork", "reuseaddr"],
            ),
            ("TCP:[::1]:80", &["TCP", "[::1]", "80"], &[]),
            (
                "TCP:h:1,bind=1.2.3.4:5",
                &["TCP", "h", "1"],
                &["bind=1.2.3.4:5"],
            ),
            (
                "UNIX-CONNECT:'/tmp/a:b'",
                &["UNIX-CONNECT", "/tmp/a:b"],
                &[],
            ),
            (
                "UNIX-CONNECT:\"/tmp/a\\\"b\"",
                &["UNIX-CONNECT", "/tmp/a\"b"],
                &[],
            ),
            (
                "UNIX-CONNECT:/tmp/a\\,b",
                &["UNIX-CONNECT", "/tmp/a,b"],
                &[],
            ),
            ("STDIO", &["STDIO"], &[]),
            ("-", &["-"], &[]),
            ("STDIO,crnl", &["STDIO"], &["crnl"]),
            // Inside brackets, commas and other brackets' closers are text; quotes still go.
            (
                "exec:echo (,)[,]{,}\",\"([),])hugo",
                &["exec", "echo (,)[,]{,},([),])hugo"],
                &[],
            ),
        ];
        for (input, head, options) in cases {
            let pieces = split(input.as_bytes(), 0, input.as_bytes()).unwrap();
            assert_eq!(texts(&pieces.head), *head, "{input}");
            assert_eq!(texts(&pieces.options), *options, "{input}");
        }
    }

    #[test]
    fn reports_unterminated_quotes_and_brackets() {
        let split = |text: &str| split(text.as_bytes(), 0, text.as_bytes());
        let err = split("UNIX:'abc").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnterminatedQuote { quote: '\'' });
        assert_eq!(err.position, 5);
        let err = split("TCP:[::1:80").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnbalancedBracket { bracket: '[' });
        let err = split("TCP:::1]:80").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnbalancedBracket { bracket: ']' });
    }

    #[test]
    fn a_trailing_backslash_is_an_error_and_other_bytes_pass_through() {
        for text in ["OPEN:/tmp/a\\", "\\", "TCP:h:1,fork\\"] {
            let err = split(text.as_bytes(), 0, text.as_bytes()).unwrap_err();
            assert_eq!(err.kind, ParseErrorKind::TrailingBackslash, "{text}");
            assert_eq!(err.position, text.len() - 1, "{text}");
        }
        let input = b"OPEN:/tmp/\xff\\:x,mode=600";
        let pieces = split(input, 0, input).unwrap();
        assert_eq!(pieces.head[1].text, b"/tmp/\xff:x");
        assert_eq!(texts(&pieces.options), ["mode=600"]);
    }

    #[test]
    fn splits_dual_addresses_at_top_level_only() {
        let parts = split_dual(b"STDIN!!STDOUT").unwrap();
        assert_eq!(parts, vec![(0, &b"STDIN"[..]), (7, &b"STDOUT"[..])]);
        let parts = split_dual(b"UNIX-CONNECT:'/a!!b'").unwrap();
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn escape_round_trips() {
        for text in ["/tmp/a:b,c", "it's", "a\\b", "[x]", "a!!b", "k=v"] {
            let address = format!("X:{}", escape(text));
            let pieces = split(address.as_bytes(), 0, address.as_bytes()).unwrap();
            assert_eq!(pieces.head[1].text, text.as_bytes());
        }
    }
}
