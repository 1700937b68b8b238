//! `socketry bench`, run briefly (`--quick`): its table names every mechanism and size, its
//! JSON parses with positive figures, and `--plot` writes an SVG. The figures themselves are
//! the machine's, so only their presence and sign are checked, never their size.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

const MECHANISMS: [&str; 10] = [
    "pipe",
    "fifo",
    "unix-stream",
    "unix-dgram",
    "unix-seqpacket",
    "tcp",
    "udp",
    "posix-mq",
    "shm-spin",
    "shm-eventfd",
];
const SIZES: [(usize, &str); 3] = [(64, "64 B"), (4096, "4 KiB"), (65536, "64 KiB")];

fn bench(args: &[&str]) -> Output {
    Command::new(common::bin())
        .arg("bench")
        .args(args)
        .output()
        .expect("running socketry bench")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn the_table_has_every_mechanism_and_size_with_units() {
    let table = stdout(&bench(&["--quick"]));
    assert!(
        table.starts_with(
            "socketry bench: two threads of one process, not pinned; 0.02 s per figure"
        ),
        "{table}"
    );
    let header = table
        .lines()
        .find(|l| l.starts_with("mechanism"))
        .expect("a header line");
    for column in [
        "size",
        "latency p50",
        "latency p99",
        "throughput",
        "messages/s",
        "lost",
    ] {
        assert!(header.contains(column), "{header}");
    }
    for mechanism in MECHANISMS {
        for (_, size) in SIZES {
            let row = table
                .lines()
                .find(|l| {
                    l.split_once("  ").is_some_and(|(name, rest)| {
                        name.trim_end() == mechanism && rest.trim_start().starts_with(size)
                    })
                })
                .unwrap_or_else(|| panic!("no row for {mechanism} {size} in\n{table}"));
            let measured = row.matches(" µs").count() + row.matches(" ms").count() == 2
                && row.contains("iB/s")
                && row.ends_with('%');
            let refused = row.contains(&format!("cannot carry {size}: "));
            assert!(measured || refused, "{row}");
        }
    }
    let udp = table
        .lines()
        .find(|l| l.starts_with("udp ") && l.contains("64 KiB"))
        .unwrap();
    assert!(
        udp.ends_with("cannot carry 64 KiB: a UDP datagram over IPv4 carries at most 65507 bytes"),
        "{udp}"
    );
    assert!(!table.contains("failed"), "{table}");
}

#[test]
fn json_and_plot_have_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("figures.svg");
    let text = stdout(&bench(&[
        "--quick",
        "--json",
        "--plot",
        svg.to_str().unwrap(),
    ]));
    let report: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    let parameters = &report["parameters"];
    assert_eq!(parameters["seconds_per_figure"].as_f64(), Some(0.02));
    assert_eq!(parameters["peers"], "two threads of one process");
    assert!(parameters["pinned"].is_null());
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), MECHANISMS.len() * SIZES.len());
    for mechanism in MECHANISMS {
        for (size, _) in SIZES {
            let result = results
                .iter()
                .find(|r| r["mechanism"] == mechanism && r["size"].as_u64() == Some(size as u64))
                .unwrap_or_else(|| panic!("no result for {mechanism} {size}"));
            match result["status"].as_str().unwrap() {
                "measured" => {
                    let number = |key: &str| {
                        result[key]
                            .as_f64()
                            .unwrap_or_else(|| panic!("{key} in {result}"))
                    };
                    assert!(number("latency_p50_us") > 0.0, "{result}");
                    assert!(
                        number("latency_p99_us") >= number("latency_p50_us"),
                        "{result}"
                    );
                    assert!(number("round_trips") >= 1.0, "{result}");
                    assert!(number("throughput_bytes_per_second") > 0.0, "{result}");
                    assert!(
                        number("messages_received") <= number("messages_sent"),
                        "{result}"
                    );
                    assert!((0.0..=1.0).contains(&number("loss")), "{result}");
                }
                "unsupported" => assert!(!result["reason"].as_str().unwrap().is_empty()),
                other => panic!("{mechanism} {size}: {other}: {result}"),
            }
        }
    }
    let udp = results
        .iter()
        .find(|r| r["mechanism"] == "udp" && r["size"] == 65536)
        .unwrap();
    assert_eq!(udp["status"], "unsupported");
    // Streams never lose a message.
    for r in results.iter().filter(|r| r["mechanism"] == "tcp") {
        assert_eq!(r["messages_sent"], r["messages_received"], "{r}");
    }

    let svg = std::fs::read_to_string(&svg).expect("the plot was written");
    assert!(svg.starts_with("<svg "), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for title in [
        "round-trip latency, p50",
        "round-trip latency, p99",
        "one-way throughput",
    ] {
        assert!(svg.contains(title), "no chart titled {title}");
    }
    assert!(svg.contains("shm-eventfd") && svg.contains("64 KiB"));
}

#[test]
fn help_and_bad_flags() {
    let help = stdout(&bench(&["--help"]));
    assert!(help.contains(
        "usage: socketry bench [--seconds S | --quick] [--pin] [--json] [--plot FILE.svg]"
    ));
    let bad = bench(&["--seconds", "0"]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.trim_end().ends_with(
            " E invalid value \"0\" for --seconds (expected a number of seconds above 0 and at most 60)"
        ),
        "{stderr}"
    );
    assert!(bad.stdout.is_empty());
    // A plot that cannot be written is refused before anything is measured.
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("absent").join("x.svg");
    let started = std::time::Instant::now();
    let unwritable = bench(&["--seconds", "60", "--plot", nowhere.to_str().unwrap()]);
    assert_eq!(unwritable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unwritable.stderr);
    assert!(
        stderr.trim_end().ends_with(&format!(
            " E cannot write the plot to {}: No such file or directory",
            nowhere.display()
        )),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let unknown = bench(&["--fast"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown option \"--fast\" for bench")
    );
}
