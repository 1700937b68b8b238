//! Splitting an address into its pieces, as socat does: `:` separates the type and its
//! parameters, the first `,` starts the options (after which only `,` separates), `!!` separates
//! the two halves of a dual address. Single quotes protect everything up to the closing quote,
//! double quotes protect everything but backslash escapes, a backslash outside quotes protects
//! the next character, and separators inside `[]`, `()` or `{}` do not split.

use super::error::{ParseError, ParseErrorKind};

/// One piece of an address, with its quoting removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The text with quotes and escapes removed.
    pub text: String,
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

/// Splits `input` at top-level occurrences of `!!`, returning each part with its offset.
pub(crate) fn split_dual(input: &str) -> Result<Vec<(usize, &str)>, ParseError> {
    let mut parts = Vec::new();
    let mut scanner = Scanner::new(input);
    let mut part_start = 0;
    while let Some((i, c)) = scanner.next_top_level()? {
        if c == '!' && input[i + 1..].starts_with('!') {
            parts.push((part_start, &input[part_start..i]));
            part_start = i + 2;
            scanner.skip_to(part_start);
        }
    }
    parts.push((part_start, &input[part_start..]));
    Ok(parts)
}

/// Splits one (non-dual) address, at `base` offset within `whole`, into head and options.
pub(crate) fn split(whole: &str, base: usize, input: &str) -> Result<Pieces, ParseError> {
    let mut head = Vec::new();
    let mut options = Vec::new();
    let mut in_options = false;
    let mut current = Piece {
        text: String::new(),
        start: base,
        quoted: false,
    };
    let mut chars = input.char_indices().peekable();
    let mut depth: Vec<(char, usize)> = Vec::new();
    let error = |position: usize, kind| ParseError {
        input: whole.to_owned(),
        position,
        kind,
    };

    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => {
                current.quoted = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, q)) => current.text.push(q),
                        None => {
                            return Err(error(
                                base + i,
                                ParseErrorKind::UnterminatedQuote { quote: '\'' },
                            ))
                        }
                    }
                }
            }
            '"' => {
                current.quoted = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => current.text.push(e),
                            None => {
                                return Err(error(
                                    base + i,
                                    ParseErrorKind::UnterminatedQuote { quote: '"' },
                                ))
                            }
                        },
                        Some((_, q)) => current.text.push(q),
                        None => {
                            return Err(error(
                                base + i,
                                ParseErrorKind::UnterminatedQuote { quote: '"' },
                            ))
                        }
                    }
                }
            }
            '\\' => {
                current.quoted = true;
                if let Some((_, e)) = chars.next() {
                    current.text.push(e);
                }
            }
            '[' | '(' | '{' => {
                depth.push((c, base + i));
                current.text.push(c);
            }
            ']' | ')' | '}' => {
                let open = match c {
                    ']' => '[',
                    ')' => '(',
                    _ => '{',
                };
                match depth.pop() {
                    Some((o, _)) if o == open => current.text.push(c),
                    _ => {
                        return Err(error(
                            base + i,
                            ParseErrorKind::UnbalancedBracket { bracket: c },
                        ))
                    }
                }
            }
            ':' if depth.is_empty() && !in_options => {
                let next = Piece {
                    text: String::new(),
                    start: base + i + 1,
                    quoted: false,
                };
                head.push(std::mem::replace(&mut current, next));
            }
            ',' if depth.is_empty() => {
                let next = Piece {
                    text: String::new(),
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
            position,
            ParseErrorKind::UnbalancedBracket { bracket },
        ));
    }
    if in_options {
        options.push(current);
    } else {
        head.push(current);
    }
    Ok(Pieces { head, options })
}

/// Walks an address character by character, skipping quoted text and bracketed groups, so
/// that callers see only the characters at the top level.
struct Scanner<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(input: &'a str) -> Self {
        Scanner { input, pos: 0 }
    }

    fn skip_to(&mut self, pos: usize) {
        self.pos = pos;
    }

    fn next_top_level(&mut self) -> Result<Option<(usize, char)>, ParseError> {
        let mut depth = 0usize;
        while let Some(c) = self.input[self.pos..].chars().next() {
            let i = self.pos;
            self.pos += c.len_utf8();
            match c {
                '\\' => {
                    if let Some(e) = self.input[self.pos..].chars().next() {
                        self.pos += e.len_utf8();
                    }
                }
                '\'' | '"' => {
                    let rest = &self.input[self.pos..];
                    let close = if c == '"' {
                        find_closing_double(rest)
                    } else {
                        rest.find('\'')
                    };
                    match close {
                        Some(n) => self.pos += n + 1,
                        None => {
                            return Err(ParseError {
                                input: self.input.to_owned(),
                                position: i,
                                kind: ParseErrorKind::UnterminatedQuote { quote: c },
                            })
                        }
                    }
                }
                '[' | '(' | '{' => depth += 1,
                ']' | ')' | '}' => depth = depth.saturating_sub(1),
                _ if depth == 0 => return Ok(Some((i, c))),
                _ => {}
            }
        }
        Ok(None)
    }
}

fn find_closing_double(rest: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// Writes `text` so that [`split`] reads it back as one piece with the same text.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            ':' | ',' | '\'' | '"' | '\\' | '[' | ']' | '(' | ')' | '{' | '}' | '!' | '='
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
        pieces.iter().map(|p| p.text.as_str()).collect()
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
        ];
        for (input, head, options) in cases {
            let pieces = split(input, 0, input).unwrap();
            assert_eq!(texts(&pieces.head), *head, "{input}");
            assert_eq!(texts(&pieces.options), *options, "{input}");
        }
    }

    #[test]
    fn reports_unterminated_quotes_and_brackets() {
        let err = split("UNIX:'abc", 0, "UNIX:'abc").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnterminatedQuote { quote: '\'' });
        assert_eq!(err.position, 5);
        let err = split("TCP:[::1:80", 0, "TCP:[::1:80").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnbalancedBracket { bracket: '[' });
        let err = split("TCP:::1]:80", 0, "TCP:::1]:80").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::UnbalancedBracket { bracket: ']' });
    }

    #[test]
    fn splits_dual_addresses_at_top_level_only() {
        let parts = split_dual("STDIN!!STDOUT").unwrap();
        assert_eq!(parts, vec![(0, "STDIN"), (7, "STDOUT")]);
        let parts = split_dual("UNIX-CONNECT:'/a!!b'").unwrap();
        assert_eq!(parts.len(), 1);
    }

    #[test]
    fn escape_round_trips() {
        for text in ["/tmp/a:b,c", "it's", "a\\b", "[x]", "a!!b", "k=v"] {
            let address = format!("X:{}", escape(text));
            let pieces = split(&address, 0, &address).unwrap();
            assert_eq!(pieces.head[1].text, text);
        }
    }
}
