#![allow(clippy::unwrap_used)]
//! `socketry completions` and `socketry manpage` come from the same tables as the help, and
//! every subcommand of socketry's own answers `--help`.

mod common;

use std::process::Command;

use common::run;

const SUBCOMMANDS: &[&str] = &[
    "server",
    "nc",
    "scan",
    "send",
    "recv",
    "completions",
    "manpage",
];

#[test]
fn every_subcommand_answers_help() {
    for name in SUBCOMMANDS {
        let out = run(&[name, "--help"], b"");
        assert_eq!(out.code(), Some(0), "{name}: {}", out.stderr);
        let text = out.stdout_text();
        assert!(
            text.contains(&format!("Usage: socketry {name}")),
            "{name}: {text}"
        );
        assert_eq!(out.stderr, "", "{name}");
    }
    let listen = run(&["listen", "-k", "--help"], b"");
    assert!(listen
        .stdout_text()
        .contains("Usage: socketry listen [OPTIONS] <PORT|ADDRESS>"));
}

#[test]
fn bash_completion_offers_subcommands_global_flags_and_each_subcommand_s_flags() {
    let dir = common::tempdir();
    let script = dir.path().join("socketry.bash");
    let out = run(&["completions", "bash"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &str| {
        let line = format!(
            "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _socketry; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash").args(["-c", &line]).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(complete("socketry server --ch"), "--chat\n--chat-queue\n");
    assert_eq!(complete("socketry nc --se"), "--send-only\n");
    assert_eq!(complete("socketry -l"), "-lf\n-ly\n-ls\n-lp\n-lu\n-lh\n");
    assert_eq!(complete("socketry -d sc"), "scan\n");
    assert_eq!(
        complete("socketry completions ''"),
        "-h\n--help\nbash\nzsh\nfish\n"
    );
    assert_eq!(complete("socketry --log"), "--log-format\n");
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand_and_flag() {
    let zsh = run(&["completions", "zsh"], b"").stdout_text();
    let fish = run(&["completions", "fish"], b"").stdout_text();
    assert!(zsh.starts_with("#compdef socketry\n"));
    for name in SUBCOMMANDS {
        assert!(
            zsh.contains(&format!("        {name})\n")),
            "zsh lacks {name}"
        );
        assert!(
            fish.contains(&format!(
                "complete -c socketry -n '__fish_use_subcommand' -f -a {name} -d "
            )),
            "fish lacks {name}"
        );
    }
    assert!(zsh.contains("'--max-conns:At most N connections at once"));
    assert!(fish.contains("complete -c socketry -n '__fish_seen_subcommand_from nc' -s q -r -d "));
    assert!(fish.contains("complete -c socketry -n '__fish_use_subcommand' -o lf -r -d 'write log messages to FILE instead of stderr'"));
    let bad = run(&["completions", "tcsh"], b"");
    assert_eq!(bad.code(), Some(1));
    assert!(
        bad.errors()[0].starts_with("completions: invalid value 'tcsh' for '<SHELL>'"),
        "{:?}",
        bad.errors()
    );
}

#[test]
fn the_manual_page_lists_every_subcommand_flag_and_address_type() {
    let out = run(&["manpage"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let page = out.stdout_text();
    assert!(page.starts_with(".TH SOCKETRY 1 "), "{page}");
    for name in SUBCOMMANDS {
        assert!(page.contains(&format!(".SS socketry {name}")), "no {name}");
    }
    // Global flags, as the help lists them (roff escapes each hyphen).
    let help = run(&["-h"], b"").stdout_text();
    for flag in ["-lf", "-ly", "--statistics", "--log-format", "-b"] {
        assert!(help.contains(flag), "{flag} not in -h");
        assert!(
            page.contains(&format!("\\fB{}\\fR", flag.replace('-', "\\-"))),
            "{flag}"
        );
    }
    for flag in [
        "\\-\\-chat",
        "\\-\\-max\\-conns",
        "\\-\\-send\\-only",
        "\\-\\-grace",
    ] {
        assert!(page.contains(flag), "{flag}");
    }
    for address in [
        "TCP\\-LISTEN:<port>",
        "UNIX\\-CONNECT:<path>",
        "SHM\\-LISTEN",
        "EXEC:<command\\-line>",
    ] {
        assert!(page.contains(address), "{address}");
    }
    assert!(page.contains(".SH ADDRESS OPTIONS"));
    assert!(page.contains("\\fBfork\\fR"));
}
