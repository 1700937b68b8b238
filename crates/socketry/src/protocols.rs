//! IP protocol names, as getprotobyname(3) finds them: `icmp` is 1, `gre` 47. The database is
//! /etc/protocols (Debian's netbase); each line gives a name, its number and aliases.

use std::sync::OnceLock;

/// Where the protocols database lives.
pub const PROTOCOLS_FILE: &str = "/etc/protocols";

/// An IP protocol number, given as a number from 0 to 255 or a name (or alias) of
/// /etc/protocols; `None` when it is neither.
pub fn parse(text: &str) -> Option<u8> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    static DATABASE: OnceLock<String> = OnceLock::new();
    let database =
        DATABASE.get_or_init(|| std::fs::read_to_string(PROTOCOLS_FILE).unwrap_or_default());
    lookup(database, text)
}

/// Finds `name` (case-sensitively, as getprotobyname does) in the text of a protocols database.
fn lookup(database: &str, name: &str) -> Option<u8> {
    database.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let protocol = words.next()?;
        let number = words.next()?;
        let named = protocol == name || words.any(|alias| alias == name);
        named.then(|| number.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATABASE: &str = "\
# comment line
ip\t0\tIP\t\t# internet protocol, pseudo protocol number
icmp\t1\tICMP\t\t# internet control message protocol
gre\t47\tGRE\t\t# General Routing Encapsulation
broken\tx\tBROKEN
";

    #[test]
    fn finds_names_and_aliases() {
        let cases: &[(&str, Option<u8>)] = &[
            ("icmp", Some(1)),
            ("ICMP", Some(1)),
            ("gre", Some(47)),
            ("ip", Some(0)),
            ("Gre", None),
            ("broken", None),
            ("comment", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(lookup(DATABASE, name), *want, "{name}");
        }
    }

    #[test]
    fn numbers_are_taken_as_they_are() {
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("253"), Some(253));
        assert_eq!(parse("255"), Some(255));
        assert_eq!(parse("256"), None);
        assert_eq!(parse("-1"), None);
    }
}
