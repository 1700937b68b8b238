//! Raw bytes written as text, in socat's data notation: what a generic socket address
//! (`SOCKET-CONNECT:2:6:x1f907f000001x0000000000000000`), its `bind=` and `range=`, and the
//! value of `setsockopt=` are made of.
//!
//! The text is a sequence of items, each starting with a letter that says what follows:
//!
//! | item | bytes |
//! | --- | --- |
//! | `x` and hex digits, two per byte | those bytes (`x7f000001` is 127.0.0.1; `x` alone, none) |
//! | `"text"` | the text's bytes, with `\n \r \t \f \b \a \e \0` and `\` before any other character; no NUL is added |
//! | `'c'` | one character, with the same escapes |
//! | `i`, `I` and a decimal number | a C `int` (`unsigned int`), 4 bytes in host byte order |
//! | `l`, `L` | a C `long` (`unsigned long`), 8 bytes |
//! | `s`, `S` | a `short` (`unsigned short`), 2 bytes |
//! | `b`, `B` | a signed (unsigned) byte |
//!
//! Blanks between items are skipped. An item without its letter (`1 2`, `x01 02`) is of the
//! kind of the item before it, and the first one of [`Kind::Int`] (so `setsockopt=6:2:512`
//! passes an `int`). Numbers are checked against their type's range.

use std::fmt;

/// The kind of one item: how the text after its letter becomes bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `x`: hex digits, two per byte.
    Hex,
    /// `"`: a string up to the closing quote.
    Text,
    /// `'`: one character and the closing quote.
    Char,
    /// A decimal number stored in host byte order in `width` bytes, signed or not.
    Int { width: usize, signed: bool },
}

impl Kind {
    /// The first item's kind when it has no letter: a C `int`.
    const INT: Kind = Kind::Int {
        width: 4,
        signed: true,
    };

    fn from_letter(letter: u8) -> Option<Kind> {
        let int = |width, signed| Some(Kind::Int { width, signed });
        match letter {
            b'x' => Some(Kind::Hex),
            b'"' => Some(Kind::Text),
            b'\'' => Some(Kind::Char),
            b'i' => int(4, true),
            b'I' => int(4, false),
            b'l' => int(8, true),
            b'L' => int(8, false),
            b's' => int(2, true),
            b'S' => int(2, false),
            b'b' => int(1, true),
            b'B' => int(1, false),
            _ => None,
        }
    }
}

/// Why a data text was refused, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataError {
    /// Byte offset in the text of the item that is wrong.
    pub position: usize,
    /// What is wrong with it, in words.
    pub reason: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.position)
    }
}

impl std::error::Error for DataError {}

/// What a data text may hold, for error messages.
pub const EXPECTED: &str = super::error::DATA_FORM;

/// Reads `text` in socat's data notation into the bytes it describes. An empty text is no
/// bytes.
pub fn parse(text: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    let mut kind = Kind::INT;
    let mut at = 0;
    while at < text.len() {
        let c = text[at];
        if c.is_ascii_whitespace() {
            at += 1;
            continue;
        }
        let start = at;
        let body = match Kind::from_letter(c) {
            Some(given) => {
                kind = given;
                at + 1
            }
            None if continues(kind, c) => at,
            None => {
                let shown = super::error::display_bytes(&text[at..=at]);
                return Err(DataError {
                    position: at,
                    reason: format!(
                        "\"{shown}\" starts no item (an item starts with x, \", ', i, I, l, L, s, S, b or B)"
                    ),
                });
            }
        };
        at = item(kind, text, start, body, &mut out)?;
    }
    Ok(out)
}

/// Whether `c` can start an item of `kind` written without its letter.
fn continues(kind: Kind, c: u8) -> bool {
    match kind {
        Kind::Hex => c.is_ascii_hexdigit(),
        Kind::Int { .. } => c.is_ascii_digit() || c == b'-' || c == b'+',
        Kind::Text | Kind::Char => false,
    }
}

/// Reads one item of `kind` whose body starts at `body`, appending its bytes; gives the
/// offset after it.
fn item(
    kind: Kind,
    text: &[u8],
    start: usize,
    body: usize,
    out: &mut Vec<u8>,
) -> Result<usize, DataError> {
    let refuse = |position: usize, reason: String| Err(DataError { position, reason });
    match kind {
        Kind::Hex => {
            let digits = text[body..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            if digits % 2 == 1 {
                return refuse(
                    start,
                    format!("odd number of hex digits ({digits}): each byte takes two"),
                );
            }
            for pair in text[body..body + digits].chunks(2) {
                out.push(hex_value(pair[0]) << 4 | hex_value(pair[1]));
            }
            Ok(body + digits)
        }
        Kind::Text => {
            let mut at = body;
            loop {
                match text.get(at) {
                    None => {
                        return refuse(
                            start,
                            "unterminated string (expected a closing \")".to_owned(),
                        )
                    }
                    Some(b'"') => return Ok(at + 1),
                    Some(b'\\') => {
                        let Some(&escaped) = text.get(at + 1) else {
                            return refuse(at, "a backslash ends the string".to_owned());
                        };
                        out.push(unescape(escaped));
                        at += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        at += 1;
                    }
                }
            }
        }
        Kind::Char => {
            let (byte, after) = match text.get(body) {
                None => return refuse(start, "unterminated character (expected 'c')".to_owned()),
                Some(b'\'') => return refuse(start, "empty character ''".to_owned()),
                Some(b'\\') => match text.get(body + 1) {
                    Some(&escaped) => (unescape(escaped), body + 2),
                    None => return refuse(start, "a backslash ends the character".to_owned()),
                },
                Some(&b) => (b, body + 1),
            };
            if text.get(after) != Some(&b'\'') {
                return refuse(
                    start,
                    "a character takes one byte and a closing '".to_owned(),
                );
            }
            out.push(byte);
            Ok(after + 1)
        }
        Kind::Int { width, signed } => {
            let len = text[body..]
                .iter()
                .enumerate()
                .take_while(|(i, b)| b.is_ascii_digit() || (*i == 0 && matches!(b, b'-' | b'+')))
                .count();
            let number = std::str::from_utf8(&text[body..body + len]).unwrap_or_default();
            let value = number
                .parse::<i128>()
                .ok()
                .filter(|n| fits(*n, width, signed));
            let Some(value) = value else {
                let shown = super::error::display_bytes(
                    &text[start..body + len.max(1).min(text.len() - body)],
                );
                return refuse(
                    start,
                    format!(
                        "\"{shown}\" is not {} (expected a decimal number from {} to {})",
                        int_name(width, signed),
                        min(width, signed),
                        max(width, signed)
                    ),
                );
            };
            // Two's complement, host byte order, cut to the type's width.
            let bytes = value.to_ne_bytes();
            let bytes = if cfg!(target_endian = "little") {
                &bytes[..width]
            } else {
                &bytes[bytes.len() - width..]
            };
            out.extend_from_slice(bytes);
            Ok(body + len)
        }
    }
}

/// The value of a hex digit (the caller checked that it is one).
fn hex_value(digit: u8) -> u8 {
    char::from(digit)
        .to_digit(16)
        .and_then(|v| u8::try_from(v).ok())
        .unwrap_or(0)
}

/// The byte an escape `\c` stands for: the C escapes, or `c` itself.
fn unescape(c: u8) -> u8 {
    match c {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'f' => 0x0c,
        b'b' => 0x08,
        b'a' => 0x07,
        b'e' => 0x1b,
        b'0' => 0,
        other => other,
    }
}

fn min(width: usize, signed: bool) -> i128 {
    if signed {
        -(1i128 << (width * 8 - 1))
    } else {
        0
    }
}

fn max(width: usize, signed: bool) -> i128 {
    if signed {
        (1i128 << (width * 8 - 1)) - 1
    } else {
        (1i128 << (width * 8)) - 1
    }
}

fn fits(n: i128, width: usize, signed: bool) -> bool {
    (min(width, signed)..=max(width, signed)).contains(&n)
}

fn int_name(width: usize, signed: bool) -> &'static str {
    match (width, signed) {
        (1, true) => "a signed byte (b)",
        (1, false) => "a byte (B)",
        (2, true) => "a short (s)",
        (2, false) => "an unsigned short (S)",
        (4, true) => "an int (i)",
        (4, false) => "an unsigned int (I)",
        (_, true) => "a long (l)",
        (_, false) => "an unsigned long (L)",
    }
}

/// Bytes in the data notation, as [`parse`] reads them back: `x` and two hex digits a byte
/// (`x` alone for none).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(1 + bytes.len() * 2);
    out.push('x');
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// How the value of a socket option given by number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SockOptForm {
    /// In the data form (`setsockopt`, `setsockopt-bin`): any bytes; a bare number is an
    /// `int`.
    Data,
    /// An integer, passed as a C `int` (`setsockopt-int`).
    Int,
    /// Text, passed with a NUL after it (`setsockopt-string`).
    Text,
}

impl SockOptForm {
    /// What an option of this form takes, for help and errors.
    pub fn expected(self) -> &'static str {
        match self {
            SockOptForm::Data => {
                "LEVEL:NAME:VALUE, two numbers and the value in socat's data form, e.g. 6:2:512 (an int) or 1:25:\\\"lo\\\\0\\\""
            }
            SockOptForm::Int => "LEVEL:NAME:VALUE, three integers, e.g. 1:2:1",
            SockOptForm::Text => "LEVEL:NAME:TEXT, two numbers and the text, e.g. 1:25:lo",
        }
    }
}

/// A socket option given by number: `setsockopt(fd, level, name, value)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockOpt {
    /// The protocol level (`SOL_SOCKET` is 1, `IPPROTO_TCP` 6).
    pub level: i32,
    /// The option's number at that level.
    pub name: i32,
    /// The bytes passed, their length the option's length.
    pub value: Vec<u8>,
    /// How the value was written, so that it is written back the same way.
    pub form: SockOptForm,
}

/// A C `int` as socat's numbers are read: decimal, or hex after `0x`; a minus sign allowed
/// where `negative` says.
fn parse_int(text: &str, negative: bool) -> Option<i32> {
    let (minus, digits) = match text.strip_prefix('-') {
        Some(rest) if negative => (true, rest),
        Some(_) => return None,
        None => (false, text),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            i64::from_str_radix(hex, 16).ok()?
        }
        Some(_) => return None,
        None if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            digits.parse::<i64>().ok()?
        }
        None => return None,
    };
    i32::try_from(if minus { -magnitude } else { magnitude }).ok()
}

impl SockOpt {
    /// Reads `LEVEL:NAME:VALUE` in `form`; level and name are numbers from 0.
    pub fn parse(text: &str, form: SockOptForm) -> Option<SockOpt> {
        let mut parts = text.splitn(3, ':');
        let level = parse_int(parts.next()?.trim(), false)?;
        let name = parse_int(parts.next()?.trim(), false)?;
        let value = parts.next()?;
        let value = match form {
            SockOptForm::Data => parse(value.as_bytes()).ok()?,
            SockOptForm::Int => parse_int(value.trim(), true)?.to_ne_bytes().to_vec(),
            SockOptForm::Text if value.contains('\0') => return None,
            SockOptForm::Text => {
                let mut bytes = value.as_bytes().to_vec();
                bytes.push(0);
                bytes
            }
        };
        Some(SockOpt {
            level,
            name,
            value,
            form,
        })
    }
}

impl fmt::Display for SockOpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:", self.level, self.name)?;
        // Four bytes are written as the int they read as; other data as hex.
        match self.form {
            SockOptForm::Int | SockOptForm::Data if self.value.len() == 4 => {
                let mut int = [0u8; 4];
                int.copy_from_slice(&self.value);
                write!(f, "{}", i32::from_ne_bytes(int))
            }
            SockOptForm::Text => {
                let text = self.value.strip_suffix(&[0]).unwrap_or(&self.value);
                f.write_str(&super::lexer::escape(&String::from_utf8_lossy(text)))
            }
            _ => f.write_str(&to_hex(&self.value)),
        }
    }
}

/// A range of generic socket addresses (`range=ADDR:MASK` of a SOCKET-* address): a peer is
/// in it when its address's bytes after the family, masked, equal `addr`'s masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRange {
    /// The address bytes to match (after the family).
    pub addr: Vec<u8>,
    /// Which bits of them count: as long as `addr`.
    pub mask: Vec<u8>,
}

impl DataRange {
    /// Reads `ADDR:MASK`, both in the data form and of one length.
    pub fn parse(text: &str) -> Option<DataRange> {
        let (addr, mask) = text.split_once(':')?;
        let addr = parse(addr.as_bytes()).ok()?;
        let mask = parse(mask.as_bytes()).ok()?;
        (addr.len() == mask.len() && !addr.is_empty()).then_some(DataRange { addr, mask })
    }

    /// Whether a peer whose address bytes after the family are `peer` is in the range. Bytes
    /// the peer's address does not have count as zeros.
    pub fn contains(&self, peer: &[u8]) -> bool {
        self.addr
            .iter()
            .zip(&self.mask)
            .enumerate()
            .all(|(i, (a, m))| peer.get(i).copied().unwrap_or(0) & m == a & m)
    }
}

impl fmt::Display for DataRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", to_hex(&self.addr), to_hex(&self.mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<u8> {
        parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn err(text: &str) -> DataError {
        parse(text.as_bytes()).expect_err(text)
    }

    #[test]
    fn reads_socat_items() {
        let int = |n: i32| n.to_ne_bytes().to_vec();
        let cases: &[(&str, Vec<u8>)] = &[
            ("", vec![]),
            ("x7f000001", vec![127, 0, 0, 1]),
            ("x1f90x7F000001x0000", vec![0x1f, 0x90, 127, 0, 0, 1, 0, 0]),
            ("x01 02", vec![1, 2]),
            ("x", vec![]),
            ("x00x", vec![0]),
            ("\"/tmp/s\\0\"", b"/tmp/s\0".to_vec()),
            ("\"a\\n\\\"b\"", b"a\n\"b".to_vec()),
            ("'A''\\t'", vec![b'A', b'\t']),
            ("512", int(512)),
            ("i-1", int(-1)),
            ("1 2", [int(1), int(2)].concat()),
            ("s258", 258u16.to_ne_bytes().to_vec()),
            ("B255b-1", vec![255, 255]),
            ("L1", 1u64.to_ne_bytes().to_vec()),
            ("x00\"ab\"i7", [vec![0, b'a', b'b'], int(7)].concat()),
        ];
        for (text, want) in cases {
            assert_eq!(&ok(text), want, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_data_with_where_and_why() {
        let cases: &[(&str, usize, &str)] = &[
            ("x123", 0, "odd number of hex digits (3)"),
            ("x0g", 0, "odd number of hex digits (1)"),
            ("\"open", 0, "unterminated string"),
            ("'ab'", 0, "a character takes one byte"),
            ("''", 0, "empty character"),
            ("B256", 0, "\"B256\" is not a byte (B)"),
            ("b-129", 0, "is not a signed byte"),
            ("I-1", 0, "is not an unsigned int"),
            ("zz", 0, "\"z\" starts no item"),
            ("x00 q", 4, "\"q\" starts no item"),
            ("i", 0, "\"i\" is not an int (i)"),
        ];
        for (text, position, reason) in cases {
            let e = err(text);
            assert_eq!(e.position, *position, "{text}: {e}");
            assert!(e.reason.contains(reason), "{text}: {e}");
        }
    }

    #[test]
    fn reads_socket_options_in_each_form() {
        let int = |n: i32| n.to_ne_bytes().to_vec();
        type Case = (&'static str, SockOptForm, Option<(i32, i32, Vec<u8>)>);
        let cases: &[Case] = &[
            ("6:2:512", SockOptForm::Data, Some((6, 2, int(512)))),
            (
                "1:0x19:\"lo\\0\"",
                SockOptForm::Data,
                Some((1, 25, b"lo\0".to_vec())),
            ),
            ("1:2:x0100", SockOptForm::Data, Some((1, 2, vec![1, 0]))),
            ("1:2:-1", SockOptForm::Int, Some((1, 2, int(-1)))),
            ("1:2:0x10", SockOptForm::Int, Some((1, 2, int(16)))),
            (
                "1:25:lo:0",
                SockOptForm::Text,
                Some((1, 25, b"lo:0\0".to_vec())),
            ),
            ("1:2", SockOptForm::Data, None),
            ("-1:2:1", SockOptForm::Int, None),
            ("1:x:1", SockOptForm::Int, None),
            ("1:2:x1", SockOptForm::Data, None),
            ("1:2:one", SockOptForm::Int, None),
            ("1:2:4294967296", SockOptForm::Int, None),
        ];
        for (text, form, want) in cases {
            let got = SockOpt::parse(text, *form).map(|o| (o.level, o.name, o.value));
            assert_eq!(&got, want, "{text}");
        }
        for (text, form) in [
            ("6:2:x000200", SockOptForm::Data),
            ("6:2:512", SockOptForm::Data),
            ("1:2:-7", SockOptForm::Int),
            ("1:25:eth0", SockOptForm::Text),
        ] {
            let option = SockOpt::parse(text, form).unwrap();
            assert_eq!(option.to_string(), text);
        }
    }

    #[test]
    fn ranges_mask_the_address_bytes() {
        let range = DataRange::parse("x0000x7f000000:x0000xff000000").unwrap();
        assert!(range.contains(&[0x1f, 0x90, 127, 1, 2, 3, 0, 0]));
        assert!(!range.contains(&[0x1f, 0x90, 10, 0, 0, 1]));
        assert!(!range.contains(&[0x1f]));
        assert_eq!(range.to_string(), "x00007f000000:x0000ff000000");
        assert_eq!(DataRange::parse("x00:x0000"), None);
        assert_eq!(DataRange::parse("x00"), None);
    }

    #[test]
    fn hex_reads_back() {
        for bytes in [vec![], vec![0u8], vec![0xde, 0xad, 0xbe, 0xef]] {
            assert_eq!(ok(&to_hex(&bytes)), bytes);
        }
        assert_eq!(to_hex(&[0x1f, 0x90]), "x1f90");
    }
}
