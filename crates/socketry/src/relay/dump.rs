//! Traffic dumps (`-v` text, `-x` hex) in socat's layout: a header line per transfer,
//! `> 2026/11/21 16:30:00.123456  length=6 from=0 to=5`, then the data.

use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use super::outcome::Direction;
use crate::clock;

/// How transferred data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// The bytes as text; CR shown as `\r`, other control bytes as `\xNN`.
    Text,
    /// Hex bytes with their printable characters beside them.
    Hex,
}

/// Where dumps go and in which format.
pub struct Dump {
    format: DumpFormat,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for Dump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dump")
            .field("format", &self.format)
            .finish()
    }
}

impl Dump {
    /// Dumps in `format` to `out`.
    pub fn new(format: DumpFormat, out: Box<dyn Write + Send>) -> Dump {
        Dump {
            format,
            out: Mutex::new(out),
        }
    }

    /// Records one transfer of `data` starting at byte `offset` of the direction.
    pub fn record(&self, direction: Direction, offset: u64, data: &[u8]) {
        let text = render(self.format, direction, SystemTime::now(), offset, data);
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
}

fn render(
    format: DumpFormat,
    direction: Direction,
    at: SystemTime,
    offset: u64,
    data: &[u8],
) -> String {
    let end = (offset + data.len() as u64).saturating_sub(1);
    let mut text = format!(
        "{} {}  length={} from={offset} to={end}\n",
        direction.arrow(),
        clock::timestamp(at, true),
        data.len()
    );
    match format {
        DumpFormat::Text => {
            for &b in data {
                match b {
                    b'\n' => text.push('\n'),
                    b'\r' => text.push_str("\\r"),
                    b'\t' => text.push('\t'),
                    0x20..=0x7e => text.push(char::from(b)),
                    _ => text.push_str(&format!("\\x{b:02x}")),
                }
            }
            if !data.ends_with(b"\n") {
                text.push('\n');
            }
        }
        DumpFormat::Hex => {
            for line in data.chunks(16) {
                let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
                let shown: String = line
                    .iter()
                    .map(|&b| {
                        if (0x20..0x7f).contains(&b) {
                            char::from(b)
                        } else {
                            '.'
                        }
                    })
                    .collect();
                text.push_str(&format!(" {:<48}  {shown}\n", hex.join(" ")));
            }
            text.push_str("--\n");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn renders_text_and_hex() {
        let at = UNIX_EPOCH + Duration::from_secs(0);
        assert_eq!(
            render(DumpFormat::Text, Direction::LeftToRight, at, 0, b"hi\r\n"),
            "> 1970/01/01 00:00:00.000000  length=4 from=0 to=3\nhi\\r\n"
        );
        assert_eq!(
            render(DumpFormat::Hex, Direction::RightToLeft, at, 4, b"AB\x00"),
            "< 1970/01/01 00:00:00.000000  length=3 from=4 to=6\n 41 42 00                                          AB.\n--\n"
        );
    }
}
