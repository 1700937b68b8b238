//! `socketry bench`: its flags, and the report of [`socketry::measure`] as an aligned table,
//! one JSON document, or an SVG file with a bar chart per figure. What is measured, and how,
//! lives in the library.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use socketry::measure::{self, Cell, Outcome, Parameters, Report};

pub const HELP: &str = "\
socketry bench: measure, on this machine, every local mechanism socketry speaks: anonymous
pipes, FIFOs, Unix stream/datagram/seqpacket socket pairs, TCP and UDP over 127.0.0.1, POSIX
message queues, and shared memory (spinning, and eventfd wake-up).

For 64 B, 4 KiB and 64 KiB messages, each gives the round-trip latency (p50 and p99 of a
ping-pong) and the one-way throughput (messages back to back), between two threads of one
process, each figure on a fresh pair after a warm-up. A size a mechanism cannot carry is
shown with the reason.

usage: socketry bench [--seconds S | --quick] [--pin] [--json] [--plot FILE.svg]

options:
   --seconds <s>      time per figure, in seconds (default 0.25: about 20 s in all)
   --quick            0.02 s per figure: a second or two in all, for a first look or a test
   --pin              pin the two threads to the first two CPUs this process may use
   --json             print one JSON document (machine, parameters, results) instead of the table
   --plot <file.svg>  also draw a bar chart per figure (p50, p99, throughput) into FILE.svg
   -h, --help         print this help
";

/// What `socketry bench` was asked to do.
#[derive(Debug, PartialEq)]
enum Request {
    Help,
    Run {
        parameters: Parameters,
        json: bool,
        plot: Option<PathBuf>,
    },
}

/// `--seconds` at most this: a figure longer than a minute is a typo, not a measurement.
const MOST_SECONDS: f64 = 60.0;

fn parse(args: &[String]) -> anyhow::Result<Request> {
    let mut seconds: Option<Duration> = None;
    let mut quick = false;
    let mut pin = false;
    let mut json = false;
    let mut plot = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, glued) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |expected: &str| -> anyhow::Result<String> {
            match glued.clone() {
                Some(value) => Ok(value),
                None => args.next().cloned().with_context(|| {
                    format!("option {name} needs a value (expected {name} <{expected}>)")
                }),
            }
        };
        match name {
            "-h" | "--help" => return Ok(Request::Help),
            "--seconds" => {
                let text = value("seconds")?;
                let parsed = text.parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0 && *s <= MOST_SECONDS);
                let Some(parsed) = parsed else {
                    anyhow::bail!("invalid value \"{text}\" for --seconds (expected a number of seconds above 0 and at most {MOST_SECONDS})");
                };
                seconds = Some(Duration::from_secs_f64(parsed));
            }
            "--plot" => plot = Some(PathBuf::from(value("file.svg")?)),
            "--quick" | "--pin" | "--json" if glued.is_some() => {
                anyhow::bail!("option {name} takes no value (in \"{arg}\")")
            }
            "--quick" => quick = true,
            "--pin" => pin = true,
            "--json" => json = true,
            _ => anyhow::bail!(
                "unknown option \"{arg}\" for bench (expected --seconds, --quick, --pin, --json, --plot or --help)"
            ),
        }
    }
    let seconds = match (seconds, quick) {
        (Some(_), true) => {
            anyhow::bail!("--quick sets the time per figure: give either it or --seconds")
        }
        (Some(seconds), false) => seconds,
        (None, true) => Parameters::QUICK_SECONDS,
        (None, false) => Parameters::DEFAULT_SECONDS,
    };
    let mut parameters = Parameters::new(seconds);
    parameters.pin = pin;
    Ok(Request::Run {
        parameters,
        json,
        plot,
    })
}

/// Runs `socketry bench ARGS`.
pub fn main(args: &[std::ffi::OsString]) -> ExitCode {
    let args: anyhow::Result<Vec<String>> = args
        .iter()
        .map(|arg| {
            arg.to_str().map(str::to_owned).with_context(|| {
                format!(
                    "argument \"{}\" is not valid UTF-8 (bench's flags and file names must be)",
                    arg.to_string_lossy()
                )
            })
        })
        .collect();
    match args.and_then(|args| parse(&args)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::logging::early_error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

fn run(request: Request) -> anyhow::Result<()> {
    let (parameters, json, plot) = match request {
        Request::Help => return print(HELP),
        Request::Run {
            parameters,
            json,
            plot,
        } => (parameters, json, plot),
    };
    if let Some(path) = &plot {
        // A plot that cannot be written is refused now, not after the minute of measuring.
        std::fs::File::create(path)
            .with_context(|| format!("cannot write the plot to {}", path.display()))?;
    }
    let progress = std::io::stderr().is_terminal();
    let total = parameters.mechanisms.len() * parameters.sizes.len();
    let mut done = 0;
    let report = measure::run(&parameters, |cell| {
        done += 1;
        if progress {
            eprint!(
                "\rsocketry bench: {done}/{total} {} {}        ",
                cell.mechanism.name(),
                size_text(cell.size)
            );
        }
    })?;
    if progress {
        eprint!("\r{:60}\r", "");
    }
    if let Some(path) = &plot {
        draw(&report, path).with_context(|| format!("drawing {}", path.display()))?;
    }
    print(&if json {
        to_json(&report)
    } else {
        table(&report)
    })
}

/// Writes to stdout; a closed stdout (`| head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    match std::io::stdout().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn size_text(size: usize) -> String {
    if size >= 1024 && size % 1024 == 0 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn duration_text(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1000.0)
    } else if micros >= 100.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{micros:.1} µs")
    }
}

fn rate_text(bytes_per_second: f64) -> String {
    let mib = bytes_per_second / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.2} GiB/s", mib / 1024.0)
    } else if mib >= 100.0 {
        format!("{mib:.0} MiB/s")
    } else {
        format!("{mib:.1} MiB/s")
    }
}

fn count_text(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}

fn how(report: &Report) -> String {
    let pinned = match report.pinned {
        Some((a, b)) => format!("pinned to CPUs {a} and {b}"),
        None => "not pinned".to_owned(),
    };
    format!(
        "{}, {pinned}; {} s per figure after a {} s warm-up",
        measure::PEERS,
        report.parameters.seconds.as_secs_f64(),
        report.parameters.warmup.as_secs_f64()
    )
}

/// The report as an aligned table with units.
fn table(report: &Report) -> String {
    let m = &report.machine;
    let mut out = String::new();
    let _ = writeln!(out, "socketry bench: {}", how(report));
    let _ = writeln!(
        out,
        "machine: {}, {} cores, Linux {}, load average {}",
        m.cpu, m.cores, m.kernel, m.load_average
    );
    let _ = writeln!(
        out,
        "latency: round trip of one message (ping-pong); throughput: one way, messages back to back\n"
    );
    let header = [
        "mechanism",
        "size",
        "latency p50",
        "latency p99",
        "throughput",
        "messages/s",
        "lost",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for cell in &report.cells {
        let mut row = vec![cell.mechanism.name().to_owned(), size_text(cell.size)];
        match &cell.outcome {
            Outcome::Measured {
                latency,
                throughput,
            } => {
                row.extend([
                    duration_text(latency.p50),
                    duration_text(latency.p99),
                    rate_text(throughput.bytes_per_second),
                    count_text(throughput.messages_per_second),
                    format!("{:.1}%", throughput.loss() * 100.0),
                ]);
            }
            Outcome::Unsupported(why) => {
                row.push(format!("cannot carry {}: {why}", size_text(cell.size)));
            }
            Outcome::Failed(error) => {
                row.push(format!("failed: {error}"));
                notes.push(format!(
                    "{} {}: {error}",
                    cell.mechanism.name(),
                    size_text(cell.size)
                ));
            }
        }
        rows.push(row);
    }
    // Widths from the rows that have every column; a reason spans the rest of its line.
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows.iter().filter(|r| r.len() == header.len()) {
        for (width, text) in widths.iter_mut().zip(row) {
            *width = (*width).max(text.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let width = widths.get(i).copied().unwrap_or(0);
            let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
            // Names (and a reason that spans the row) left-aligned, figures right-aligned.
            if i < 2 || cells.len() != header.len() {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        text.trim_end().to_owned()
    };
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let _ = writeln!(out, "{}", line(&header));
    for row in &rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out.push_str("\nmechanisms:\n");
    for mechanism in &report.parameters.mechanisms {
        let _ = writeln!(
            out,
            "  {:<15} {}",
            mechanism.name(),
            mechanism.description()
        );
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

fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        "null".to_owned()
    }
}

fn micros(d: Duration) -> String {
    json_number(d.as_secs_f64() * 1e6)
}

/// The report as one JSON document.
fn to_json(report: &Report) -> String {
    let m = &report.machine;
    let p = &report.parameters;
    let pinned = match report.pinned {
        Some((a, b)) => format!("[{a}, {b}]"),
        None => "null".to_owned(),
    };
    let sizes: Vec<String> = p.sizes.iter().map(usize::to_string).collect();
    let mechanisms: Vec<String> = p
        .mechanisms
        .iter()
        .map(|m| {
            format!(
                "{{\"name\": {}, \"description\": {}, \"messages\": {}}}",
                json_string(m.name()),
                json_string(m.description()),
                m.carries_messages()
            )
        })
        .collect();
    let results: Vec<String> = report.cells.iter().map(cell_json).collect();
    format!(
        "{{\n  \"tool\": \"socketry bench\",\n  \"version\": {},\n  \"machine\": {{\"cpu\": {}, \"cores\": {}, \"kernel\": {}, \"load_average\": {}}},\n  \"parameters\": {{\"peers\": {}, \"pinned\": {pinned}, \"seconds_per_figure\": {}, \"warmup_seconds\": {}, \"latency\": \"round trip, ping-pong\", \"throughput\": \"one way, bytes received per second after the warm-up\", \"sizes\": [{}], \"mechanisms\": [\n    {}\n  ]}},\n  \"results\": [\n    {}\n  ]\n}}\n",
        json_string(env!("CARGO_PKG_VERSION")),
        json_string(&m.cpu),
        m.cores,
        json_string(&m.kernel),
        json_string(&m.load_average),
        json_string(measure::PEERS),
        json_number(p.seconds.as_secs_f64()),
        json_number(p.warmup.as_secs_f64()),
        sizes.join(", "),
        mechanisms.join(",\n    "),
        results.join(",\n    ")
    )
}

fn cell_json(cell: &Cell) -> String {
    let head = format!(
        "\"mechanism\": {}, \"size\": {}",
        json_string(cell.mechanism.name()),
        cell.size
    );
    match &cell.outcome {
        Outcome::Measured {
            latency,
            throughput,
        } => format!(
            "{{{head}, \"status\": \"measured\", \"latency_p50_us\": {}, \"latency_p99_us\": {}, \"round_trips\": {}, \"throughput_bytes_per_second\": {}, \"messages_per_second\": {}, \"messages_sent\": {}, \"messages_received\": {}, \"loss\": {}}}",
            micros(latency.p50),
            micros(latency.p99),
            latency.round_trips,
            json_number(throughput.bytes_per_second),
            json_number(throughput.messages_per_second),
            throughput.sent,
            throughput.received,
            json_number(throughput.loss())
        ),
        Outcome::Unsupported(why) => {
            format!("{{{head}, \"status\": \"unsupported\", \"reason\": {}}}", json_string(why))
        }
        Outcome::Failed(error) => {
            format!("{{{head}, \"status\": \"failed\", \"error\": {}}}", json_string(error))
        }
    }
}

/// One chart of the plot: its title, unit, and the figure it shows of a measured cell.
struct Figure {
    title: &'static str,
    unit: &'static str,
    value: fn(&Outcome) -> Option<f64>,
}

const FIGURES: [Figure; 3] = [
    Figure {
        title: "round-trip latency, p50",
        unit: "µs (log scale)",
        value: |outcome| match outcome {
            Outcome::Measured { latency, .. } => Some(latency.p50.as_secs_f64() * 1e6),
            _ => None,
        },
    },
    Figure {
        title: "round-trip latency, p99",
        unit: "µs (log scale)",
        value: |outcome| match outcome {
            Outcome::Measured { latency, .. } => Some(latency.p99.as_secs_f64() * 1e6),
            _ => None,
        },
    },
    Figure {
        title: "one-way throughput",
        unit: "MiB/s (log scale)",
        value: |outcome| match outcome {
            Outcome::Measured { throughput, .. } => {
                Some(throughput.bytes_per_second / (1024.0 * 1024.0))
            }
            _ => None,
        },
    },
];

/// A bar per size, in this order of colours.
const BAR_COLOURS: [(u8, u8, u8); 4] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (148, 103, 189),
];

/// Draws a bar chart per figure into an SVG file: mechanisms along, a bar per message size.
fn draw(report: &Report, path: &Path) -> anyhow::Result<()> {
    use plotters::prelude::*;

    let root = SVGBackend::new(path, (1200, 1500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, charts) = root.split_vertically(40);
    title.titled(
        &format!("socketry bench: {}", how(report)),
        ("sans-serif", 18),
    )?;
    let mechanisms = &report.parameters.mechanisms;
    let sizes = &report.parameters.sizes;
    for (area, figure) in charts.split_evenly((FIGURES.len(), 1)).iter().zip(&FIGURES) {
        let bars: Vec<(usize, usize, f64)> = report
            .cells
            .iter()
            .filter_map(|cell| {
                let m = mechanisms.iter().position(|&m| m == cell.mechanism)?;
                let s = sizes.iter().position(|&s| s == cell.size)?;
                let v = (figure.value)(&cell.outcome).filter(|v| *v > 0.0)?;
                Some((m, s, v))
            })
            .collect();
        let low = bars.iter().map(|b| b.2).fold(f64::INFINITY, f64::min);
        let high = bars.iter().map(|b| b.2).fold(0.0, f64::max);
        let (low, high) = if bars.is_empty() {
            (1.0, 10.0)
        } else {
            (low / 2.0, high * 2.0)
        };
        let last = i32::try_from(mechanisms.len().max(1) - 1).unwrap_or(0);
        let groups = sizes.len().max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(figure.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (0..last).nested_coord(|_| 0.0..groups),
                (low..high).log_scale(),
            )?;
        let name = |value: &NestedValue<i32, f64>| match value {
            NestedValue::Category(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| mechanisms.get(i))
                .map_or_else(String::new, |m| m.name().to_owned()),
            NestedValue::Value(..) => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(mechanisms.len())
            .x_label_formatter(&name)
            .y_desc(figure.unit)
            .y_label_formatter(&|v| {
                if *v >= 1.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.2}")
                }
            })
            .draw()?;
        for (s, &size) in sizes.iter().enumerate() {
            let (r, g, b) = BAR_COLOURS[s % BAR_COLOURS.len()];
            let colour = RGBColor(r, g, b);
            let offset = s as f64;
            chart
                .draw_series(bars.iter().filter(|bar| bar.1 == s).map(|&(m, _, v)| {
                    let m = i32::try_from(m).unwrap_or(0);
                    Rectangle::new(
                        [
                            (NestedValue::Value(m, offset + 0.1), low),
                            (NestedValue::Value(m, offset + 0.9), v),
                        ],
                        colour.filled(),
                    )
                }))?
                .label(size_text(size))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 12, y + 6)], colour.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn error(text: &str) -> String {
        parse(&args(text)).unwrap_err().to_string()
    }

    #[test]
    fn flags() {
        let Request::Run {
            parameters,
            json,
            plot,
        } = parse(&args("--seconds 0.5 --pin --json --plot /tmp/x.svg")).unwrap()
        else {
            panic!("not a run");
        };
        assert_eq!(parameters.seconds, Duration::from_millis(500));
        assert!(parameters.pin && json);
        assert_eq!(plot, Some(PathBuf::from("/tmp/x.svg")));
        let Request::Run { parameters, .. } = parse(&args("--quick")).unwrap() else {
            panic!("not a run");
        };
        assert_eq!(parameters.seconds, Parameters::QUICK_SECONDS);
        let Request::Run { parameters, .. } = parse(&args("--seconds=2")).unwrap() else {
            panic!("not a run");
        };
        assert_eq!(parameters.seconds, Duration::from_secs(2));
        assert_eq!(parse(&args("--json --help")).unwrap(), Request::Help);
    }

    #[test]
    fn bad_flags_say_what_was_expected() {
        assert_eq!(
            error("--seconds 0"),
            "invalid value \"0\" for --seconds (expected a number of seconds above 0 and at most 60)"
        );
        assert_eq!(
            error("--seconds"),
            "option --seconds needs a value (expected --seconds <seconds>)"
        );
        assert_eq!(
            error("--fast"),
            "unknown option \"--fast\" for bench (expected --seconds, --quick, --pin, --json, --plot or --help)"
        );
        assert_eq!(
            error("--quick --seconds 1"),
            "--quick sets the time per figure: give either it or --seconds"
        );
        assert_eq!(
            error("--json=1"),
            "option --json takes no value (in \"--json=1\")"
        );
    }

    #[test]
    fn units() {
        assert_eq!(size_text(64), "64 B");
        assert_eq!(size_text(65536), "64 KiB");
        assert_eq!(duration_text(Duration::from_nanos(12_345)), "12.3 µs");
        assert_eq!(duration_text(Duration::from_micros(250)), "250 µs");
        assert_eq!(duration_text(Duration::from_millis(12)), "12.0 ms");
        assert_eq!(rate_text(3.5 * 1024.0 * 1024.0 * 1024.0), "3.50 GiB/s");
        assert_eq!(rate_text(52.0 * 1024.0 * 1024.0), "52.0 MiB/s");
        assert_eq!(count_text(1_250_000.0), "1.25 M");
        assert_eq!(json_string("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(json_number(f64::NAN), "null");
    }
}
