//! The benchmark's results: medians over rounds, ratios to socat and to no relay, the targets
//! they are held to, and their rendering as a Markdown table and as JSON.

use std::collections::BTreeMap;
use std::fmt::Write;

/// Who a figure belongs to.
pub const SOCKETRY: &str = "socketry";
pub const SOCAT: &str = "socat";
pub const SOCAT_BIG: &str = "socat -b131072";
/// The C relay that splices each direction in a thread of its own: the ceiling.
pub const REFERENCE: &str = "reference relay";
pub const DIRECT: &str = "no relay";
/// stunnel4, for the TLS measures.
pub const STUNNEL: &str = "stunnel4";
const SUBJECTS: [&str; 6] = [SOCKETRY, SOCAT, SOCAT_BIG, STUNNEL, REFERENCE, DIRECT];

/// What a figure is held to.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// socketry at least these many times socat's default, the reference relay's and no
    /// relay's figures (each where given).
    AtLeast {
        socat: Option<f64>,
        reference: Option<f64>,
        direct: Option<f64>,
    },
    /// socketry at most this many times socat.
    AtMost {
        socat: f64,
    },
    None,
}

/// One measure: samples per subject, one per round.
#[derive(Debug)]
pub struct Measure {
    pub name: String,
    pub unit: String,
    pub samples: BTreeMap<&'static str, Vec<f64>>,
    pub target: Target,
    pub note: Option<String>,
}

fn median(samples: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    })
}

impl Measure {
    pub fn new(name: &str, unit: &str, target: Target) -> Measure {
        Measure {
            name: name.to_owned(),
            unit: unit.to_owned(),
            samples: BTreeMap::new(),
            target,
            note: None,
        }
    }

    pub fn add(&mut self, subject: &'static str, value: f64) {
        self.samples.entry(subject).or_default().push(value);
    }

    pub fn value(&self, subject: &str) -> Option<f64> {
        median(self.samples.get(subject)?)
    }

    /// socketry's figure over `to`'s, where `to`'s is positive. socketry's may be negative
    /// (added latency, when the round trips through it measured shorter than the direct
    /// ones), and so then is the ratio.
    pub fn ratio(&self, to: &str) -> Option<f64> {
        let base = self.value(to)?;
        let value = self.value(SOCKETRY)?;
        (base > 0.0).then_some(value / base)
    }

    /// Whether socketry meets the target, if there is one and the figures exist.
    pub fn met(&self) -> Option<bool> {
        match self.target {
            Target::AtLeast {
                socat,
                reference,
                direct,
            } => {
                let mut met = true;
                for (subject, share) in [(SOCAT, socat), (REFERENCE, reference), (DIRECT, direct)] {
                    if let Some(share) = share {
                        met &= self.ratio(subject)? >= share;
                    }
                }
                Some(met)
            }
            // Where socat's figure is not positive (an added latency whose direct round
            // trips measured the longer tail), no ratio says anything: socketry meets the
            // target when its figure is no larger than socat's.
            Target::AtMost { socat } => match self.ratio(SOCAT) {
                Some(ratio) => Some(ratio <= socat),
                None => Some(self.value(SOCKETRY)? <= self.value(SOCAT)?),
            },
            Target::None => None,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::AtLeast {
                socat,
                reference,
                direct,
            } => [
                (socat, "socat"),
                (reference, "reference"),
                (direct, "no relay"),
            ]
            .iter()
            .filter_map(|(share, name)| share.map(|share| format!(">= {share}x {name}")))
            .collect::<Vec<_>>()
            .join(", "),
            Target::AtMost { socat } => format!("<= {socat}x socat"),
            Target::None => String::new(),
        }
    }
}

fn shown(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn shown_ratio(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) => format!("{v:.2}x"),
    }
}

/// The results as a Markdown table.
pub fn table(measures: &[Measure]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| measure | {} | socketry / socat | socketry / reference | socketry / no relay | target | met |",
        SUBJECTS.join(" | ")
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for m in measures {
        let values: Vec<String> = SUBJECTS.iter().map(|s| shown(m.value(s))).collect();
        let met = match m.met() {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} | {} | {} | {} |",
            m.name,
            m.unit,
            values.join(" | "),
            shown_ratio(m.ratio(SOCAT)),
            shown_ratio(m.ratio(REFERENCE)),
            shown_ratio(m.ratio(DIRECT)),
            m.target_text(),
            met
        );
    }
    let notes: Vec<&Measure> = measures.iter().filter(|m| m.note.is_some()).collect();
    if !notes.is_empty() {
        out.push('\n');
        for m in notes {
            let _ = writeln!(
                out,
                "- {}: {}",
                m.name,
                m.note.as_deref().unwrap_or_default()
            );
        }
    }
    out
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => "null".to_owned(),
    }
}

/// The results and the machine they come from as JSON.
pub fn json(
    machine: &[(String, String)],
    settings: &[(&str, String)],
    measures: &[Measure],
) -> String {
    let object = |pairs: Vec<(String, String)>| {
        let fields: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}: {v}", json_string(&k)))
            .collect();
        format!("{{{}}}", fields.join(", "))
    };
    let machine = object(
        machine
            .iter()
            .map(|(k, v)| (k.clone(), json_string(v)))
            .collect(),
    );
    let settings = object(
        settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json_string(v)))
            .collect(),
    );
    let measures: Vec<String> = measures
        .iter()
        .map(|m| {
            let values = object(
                SUBJECTS
                    .iter()
                    .map(|s| ((*s).to_owned(), json_number(m.value(s))))
                    .collect(),
            );
            let samples = object(
                m.samples
                    .iter()
                    .map(|(s, v)| {
                        let list: Vec<String> = v.iter().map(|x| json_number(Some(*x))).collect();
                        ((*s).to_owned(), format!("[{}]", list.join(", ")))
                    })
                    .collect(),
            );
            let met = match m.met() {
                Some(met) => met.to_string(),
                None => "null".to_owned(),
            };
            object(vec![
                ("name".to_owned(), json_string(&m.name)),
                ("unit".to_owned(), json_string(&m.unit)),
                ("median".to_owned(), values),
                ("samples".to_owned(), samples),
                ("ratio_to_socat".to_owned(), json_number(m.ratio(SOCAT))),
                (
                    "ratio_to_reference".to_owned(),
                    json_number(m.ratio(REFERENCE)),
                ),
                ("ratio_to_no_relay".to_owned(), json_number(m.ratio(DIRECT))),
                ("target".to_owned(), json_string(&m.target_text())),
                ("met".to_owned(), met),
                (
                    "note".to_owned(),
                    m.note.as_deref().map_or("null".to_owned(), json_string),
                ),
            ])
        })
        .collect();
    format!(
        "{{\n  \"machine\": {machine},\n  \"settings\": {settings},\n  \"measures\": [\n    {}\n  ]\n}}\n",
        measures.join(",\n    ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_ratios_and_targets() {
        let mut m = Measure::new(
            "throughput",
            "Gbit/s",
            Target::AtLeast {
                socat: Some(2.0),
                reference: Some(0.95),
                direct: Some(0.65),
            },
        );
        m.add(REFERENCE, 8.2);
        for v in [3.0, 9.0, 6.0] {
            m.add(SOCKETRY, v);
        }
        m.add(SOCAT, 2.0);
        m.add(DIRECT, 10.0);
        assert_eq!(m.value(SOCKETRY), Some(6.0));
        assert_eq!(m.ratio(SOCAT), Some(3.0));
        assert_eq!(m.met(), Some(false));
        m.add(SOCKETRY, 8.0);
        m.add(SOCKETRY, 8.0);
        assert_eq!(m.value(SOCKETRY), Some(8.0));
        assert_eq!(m.met(), Some(true));
        let table = table(&[m]);
        assert!(
            table.contains(
                "| throughput (Gbit/s) | 8.00 | 2.00 | - | - | 8.20 | 10.0 | 4.00x | 0.98x | 0.80x | >= 2x socat, >= 0.95x reference, >= 0.65x no relay | yes |"
            ),
            "{table}"
        );
        let mut slow = Measure::new(
            "rate",
            "conn/s",
            Target::AtLeast {
                socat: None,
                reference: Some(0.95),
                direct: None,
            },
        );
        slow.add(SOCKETRY, 9.0);
        slow.add(REFERENCE, 10.0);
        assert_eq!(slow.met(), Some(false));
        assert_eq!(slow.target_text(), ">= 0.95x reference");
    }

    #[test]
    fn a_negative_figure_meets_an_at_most_target_by_ratio_or_directly() {
        let mut m = Measure::new("added", "us", Target::AtMost { socat: 0.85 });
        m.add(SOCKETRY, -4.0);
        m.add(SOCAT, 25.0);
        assert_eq!(m.ratio(SOCAT), Some(-0.16));
        assert_eq!(m.met(), Some(true));
        m.samples.insert(SOCAT, vec![-1.0]);
        assert_eq!(m.ratio(SOCAT), None);
        assert_eq!(m.met(), Some(true));
        m.samples.insert(SOCAT, vec![-5.0]);
        assert_eq!(m.met(), Some(false));
        m.samples.remove(SOCAT);
        assert_eq!(m.met(), None);
    }

    #[test]
    fn json_escapes_text() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(json_number(None), "null");
    }
}
