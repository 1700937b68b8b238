//! README's two commands, run the way a newcomer runs them: the main command exactly as
//! written (`cargo run --release -- server 8080`) and the client example beside it, inside a
//! network namespace this test creates, so the fixed port and the wildcard listener touch
//! nothing outside it; and the test command is the one CI runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("the crate sits two levels below the workspace root")
}

fn readme() -> String {
    std::fs::read_to_string(workspace_root().join("README.md")).expect("reading README.md")
}

/// The lines of the first ```sh block after the "## The two commands" heading, comments cut.
fn two_commands() -> (String, String) {
    let text = readme();
    let section = text
        .split_once("## The two commands")
        .expect("README has a \"The two commands\" section")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the section has a sh block")
        .0;
    let commands: Vec<String> = block
        .lines()
        .map(|l| {
            l.split_once('#')
                .map_or(l, |(code, _)| code)
                .trim()
                .to_owned()
        })
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "two commands in {block:?}");
    (commands[0].clone(), commands[1].clone())
}

/// The client example: the `$ echo ... | cargo run ...` line and the output line after it.
fn client_example() -> (String, String) {
    let text = readme();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("$ echo "));
    let command = lines.next().expect("README shows a client example");
    let output = lines.next().expect("the client example shows its output");
    (
        command.trim_start_matches("$ ").to_owned(),
        output.to_owned(),
    )
}

#[test]
fn the_test_command_is_what_ci_runs() {
    let (_, test) = two_commands();
    let ci = std::fs::read_to_string(workspace_root().join(".ci/run")).expect("reading .ci/run");
    let last = ci
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .expect(".ci/run has commands");
    assert_eq!(last.trim(), test);
}

#[test]
fn the_main_command_runs_as_written() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: a network namespace needs root");
        return;
    }
    let (main, _) = two_commands();
    let (client, expected) = client_example();
    assert!(main.starts_with("cargo run "), "{main}");
    // The server in the background, its log in a file; the client once the log says it
    // listens; then the client's output alone on stdout.
    let script = format!(
        r#"set -eu
ip link set lo up
log=$(mktemp)
{main} 2>"$log" &
server=$!
i=0
until grep -q "listening on" "$log"; do
  i=$((i+1)); [ $i -lt 3000 ] || {{ cat "$log" >&2; exit 3; }}
  kill -0 $server 2>/dev/null || {{ cat "$log" >&2; exit 4; }}
  sleep 0.1
done
{client} 2>/dev/null
kill $server
wait $server || true
rm -f "$log"
"#
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .current_dir(workspace_root())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("running unshare");
    assert!(
        out.status.success(),
        "status {:?}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{expected}\n")
    );
}
