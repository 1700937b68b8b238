//! "Did you mean ...?": the known name nearest to a misspelt one, by edit distance, for the
//! errors of unknown address types, options and flags.

/// The candidate nearest to `word` (case and `_`/`-` ignored), if it is near enough to be a
/// slip of the keyboard rather than a different word: one edit for short names, two for
/// names of five characters or more. Ties go to the first candidate.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = normalize(word);
    let allowed = if word.len() >= 5 { 2 } else { 1 };
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&word, &normalize(candidate));
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

fn normalize(name: &str) -> Vec<char> {
    name.chars()
        .map(|c| {
            if c == '_' {
                '-'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbours each count one.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    // Names are short; a word far longer than any name cannot be near one.
    if a.len().abs_diff(b.len()) > 2 {
        return usize::MAX;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_near_misses() {
        let names = ["TCP-LISTEN", "TCP", "UDP-LISTEN", "fork", "FD", "STDIO"];
        let cases: &[(&str, Option<&str>)] = &[
            ("TCP-LISTN", Some("TCP-LISTEN")),
            ("tcp_listen", Some("TCP-LISTEN")),
            ("TCPLISTEN", Some("TCP-LISTEN")),
            ("TCP-LSITEN", Some("TCP-LISTEN")),
            ("UDP-LISTNE", Some("UDP-LISTEN")),
            ("forkk", Some("fork")),
            ("frok", Some("fork")),
            ("TPC", Some("TCP")),
            ("STDOI", Some("STDIO")),
            ("FOO", None),
            ("frobnicate", None),
            ("", None),
            ("X", None),
        ];
        for (word, want) in cases {
            assert_eq!(nearest(word, names), *want, "{word}");
        }
    }
}
