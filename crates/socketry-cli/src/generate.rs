//! `socketry completions bash|zsh|fish` and `socketry manpage`, generated from the same
//! definitions as the help: the global flag table ([`FLAGS`]), the clap definitions of the
//! subcommands, and the library's tables of address types and options. socat's flags are
//! single-dash words (`-lf`, `-ly`), which clap's generators cannot express, so the scripts and
//! the page are written here from those tables.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::CommandFactory;
use socketry::address::options::{ValueKind, OPTIONS};

use crate::flags::{FlagDef, FLAGS};
use crate::subcommand::Parsed;

/// `socketry completions`: a completion script for a shell.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry completions",
    about = "Print a completion script for SHELL on stdout: socketry completions bash > /etc/bash_completion.d/socketry; zsh: put it in a directory of $fpath as _socketry; fish: ~/.config/fish/completions/socketry.fish."
)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// `socketry manpage`: the manual page.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry manpage",
    about = "Print the socketry(1) manual page (roff) on stdout: socketry manpage > socketry.1; man ./socketry.1"
)]
pub struct ManpageArgs {}

/// A subcommand as the generators see it.
struct Verb {
    name: &'static str,
    usage: &'static str,
    about: &'static str,
    /// Its flags, when it has its own (from its clap definition).
    command: Option<clap::Command>,
}

fn verbs() -> Vec<Verb> {
    vec![
        Verb {
            name: "server",
            usage: "server [flags] [PORT|ADDRESS]",
            about: "ready-made servers: echo, discard, chat, a program per connection, print",
            command: Some(crate::server::ServerArgs::command()),
        },
        Verb {
            name: "proxy",
            usage: "proxy [flags] [PORT|ADDRESS]",
            about: "a SOCKS4/4a/5 and HTTP proxy server",
            command: Some(crate::proxy::ProxyArgs::command()),
        },
        Verb {
            name: "nc",
            usage: "nc [flags] [HOST] PORT",
            about: "netcat, with the flags OpenBSD nc and ncat share",
            command: Some(crate::nc::NcArgs::command()),
        },
        Verb {
            name: "scan",
            usage: "scan [flags] HOST PORTS",
            about: "which TCP ports of HOST accept connections",
            command: Some(crate::scan::ScanArgs::command()),
        },
        Verb {
            name: "send",
            usage: "send FILE ADDRESS",
            about: "send a file, verified by length and SHA-256",
            command: Some(crate::transfer::SendArgs::command()),
        },
        Verb {
            name: "recv",
            usage: "recv ADDRESS FILE",
            about: "receive a file; it appears only when it arrived intact",
            command: Some(crate::transfer::RecvArgs::command()),
        },
        Verb {
            name: "client",
            usage: "client HOST PORT | ADDRESS",
            about: "stdin/stdout to a server until it closes",
            command: None,
        },
        Verb {
            name: "connect",
            usage: "connect ADDRESS | HOST PORT",
            about: "stdin/stdout to an endpoint, netcat style",
            command: None,
        },
        Verb {
            name: "listen",
            usage: "listen [-k] PORT | ADDRESS",
            about: "stdin/stdout to the peers of a listening address",
            command: Some(crate::nc::ListenArgs::command()),
        },
        Verb {
            name: "bench",
            usage: "bench [--quick] [--json] [--plot FILE.svg]",
            about: "measure this machine's local mechanisms: latency and throughput",
            command: None,
        },
        Verb {
            name: "completions",
            usage: "completions bash|zsh|fish",
            about: "print a shell completion script",
            command: Some(CompletionsArgs::command()),
        },
        Verb {
            name: "manpage",
            usage: "manpage",
            about: "print the manual page",
            command: Some(ManpageArgs::command()),
        },
    ]
}

/// A subcommand's flag: how it is typed, and its help.
struct Flag {
    names: Vec<String>,
    value: Option<String>,
    help: String,
}

fn flags_of(command: &clap::Command) -> Vec<Flag> {
    let mut flags: Vec<Flag> = command
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .map(|arg| {
            let mut names = Vec::new();
            if let Some(short) = arg.get_short() {
                names.push(format!("-{short}"));
            }
            if let Some(long) = arg.get_long() {
                names.push(format!("--{long}"));
            }
            for alias in arg.get_visible_aliases().into_iter().flatten() {
                names.push(format!("--{alias}"));
            }
            let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values())
                || matches!(
                    arg.get_action(),
                    clap::ArgAction::Set | clap::ArgAction::Append
                );
            let value = takes_value.then(|| {
                arg.get_value_names()
                    .and_then(|v| v.first())
                    .map_or_else(|| "VALUE".to_owned(), |v| v.to_string())
            });
            Flag {
                names,
                value,
                help: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
            }
        })
        .collect();
    flags.push(Flag {
        names: vec!["-h".into(), "--help".into()],
        value: None,
        help: "print this subcommand's help".into(),
    });
    flags
}

fn positionals_of(command: &clap::Command) -> Vec<(String, String)> {
    command
        .get_arguments()
        .filter(|arg| arg.is_positional())
        .map(|arg| {
            let name = arg.get_value_names().and_then(|v| v.first()).map_or_else(
                || arg.get_id().to_string().to_uppercase(),
                |v| v.to_string(),
            );
            (
                name,
                arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
            )
        })
        .collect()
}

fn bash() -> String {
    let globals: Vec<&str> = FLAGS.iter().map(|flag: &FlagDef| flag.name).collect();
    let verbs = verbs();
    let names: Vec<&str> = verbs.iter().map(|v| v.name).collect();
    let mut text =
        String::from("# bash completion for socketry, generated by `socketry completions bash`\n");
    text.push_str("_socketry() {\n    local cur verb i\n    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n    verb=\"\"\n");
    text.push_str("    for ((i = 1; i < COMP_CWORD; i++)); do\n        case \"${COMP_WORDS[i]}\" in\n            -*) ;;\n            *) verb=\"${COMP_WORDS[i]}\"; break ;;\n        esac\n    done\n");
    text.push_str("    case \"$verb\" in\n");
    for verb in &verbs {
        if let Some(command) = &verb.command {
            let words: Vec<String> = flags_of(command)
                .into_iter()
                .flat_map(|f| f.names)
                .collect();
            let extra = if verb.name == "completions" {
                " bash zsh fish"
            } else {
                ""
            };
            let _ = writeln!(
                text,
                "        {}) COMPREPLY=($(compgen -W \"{}{extra}\" -- \"$cur\")); return ;;",
                verb.name,
                words.join(" ")
            );
        }
    }
    let _ = writeln!(
        text,
        "        \"\") COMPREPLY=($(compgen -W \"{} {}\" -- \"$cur\")); return ;;",
        globals.join(" "),
        names.join(" ")
    );
    text.push_str(
        "    esac\n    COMPREPLY=($(compgen -f -- \"$cur\"))\n}\ncomplete -F _socketry socketry\n",
    );
    text
}

fn zsh_quote(text: &str) -> String {
    text.replace('\'', "'\\''")
        .replace(':', "\\:")
        .replace('[', "(")
        .replace(']', ")")
}

fn zsh() -> String {
    let verbs = verbs();
    let mut text = String::from("#compdef socketry\n# zsh completion for socketry, generated by `socketry completions zsh`\n\n_socketry() {\n    local verb i\n    for ((i = 2; i < CURRENT; i++)); do\n        if [[ ${words[i]} != -* ]]; then verb=${words[i]}; break; fi\n    done\n    case $verb in\n");
    for verb in &verbs {
        if let Some(command) = &verb.command {
            let _ = writeln!(
                text,
                "        {})\n            local -a flags\n            flags=(",
                verb.name
            );
            for flag in flags_of(command) {
                for name in &flag.names {
                    let _ = writeln!(
                        text,
                        "                '{}:{}'",
                        name.replace(':', "\\:"),
                        zsh_quote(&flag.help)
                    );
                }
            }
            if verb.name == "completions" {
                text.push_str("                'bash:bash' 'zsh:zsh' 'fish:fish'\n");
            }
            text.push_str("            )\n            _describe -t flags 'flag' flags && return\n            _files\n            ;;\n");
        }
    }
    text.push_str("        '')\n            local -a choices\n            choices=(\n");
    for flag in FLAGS {
        let _ = writeln!(
            text,
            "                '{}:{}'",
            flag.name,
            zsh_quote(flag.help)
        );
    }
    for verb in &verbs {
        let _ = writeln!(
            text,
            "                '{}:{}'",
            verb.name,
            zsh_quote(verb.about)
        );
    }
    text.push_str("            )\n            _describe -t commands 'socketry' choices\n            ;;\n        *) _files ;;\n    esac\n}\n\n_socketry \"$@\"\n");
    text
}

fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn fish() -> String {
    let verbs = verbs();
    let mut text =
        String::from("# fish completion for socketry, generated by `socketry completions fish`\n");
    for flag in FLAGS {
        let requires = if flag.value.is_some() { " -r" } else { "" };
        let _ = writeln!(
            text,
            "complete -c socketry -n '__fish_use_subcommand' -o {}{requires} -d {}",
            flag.name.trim_start_matches('-'),
            fish_quote(flag.help)
        );
    }
    for verb in &verbs {
        let _ = writeln!(
            text,
            "complete -c socketry -n '__fish_use_subcommand' -f -a {} -d {}",
            verb.name,
            fish_quote(verb.about)
        );
    }
    for verb in &verbs {
        let Some(command) = &verb.command else {
            continue;
        };
        for flag in flags_of(command) {
            let mut spec = String::new();
            for name in &flag.names {
                match name.strip_prefix("--") {
                    Some(long) => {
                        let _ = write!(spec, " -l {long}");
                    }
                    None => {
                        let _ = write!(spec, " -s {}", name.trim_start_matches('-'));
                    }
                }
            }
            let requires = if flag.value.is_some() { " -r" } else { "" };
            let _ = writeln!(
                text,
                "complete -c socketry -n '__fish_seen_subcommand_from {}'{spec}{requires} -d {}",
                verb.name,
                fish_quote(&flag.help)
            );
        }
    }
    let _ = writeln!(
        text,
        "complete -c socketry -n '__fish_seen_subcommand_from completions' -f -a 'bash zsh fish'"
    );
    text
}

/// Text for roff: backslashes and hyphens escaped, a leading dot or quote kept literal.
fn roff(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with('.') || escaped.starts_with('\'') {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn manpage() -> String {
    let mut page = format!(
        ".TH SOCKETRY 1 \"\" \"socketry {}\" \"User Commands\"\n.SH NAME\nsocketry \\- client/server communication over sockets, in socat's address language\n.SH SYNOPSIS\n.B socketry\n[\\fIoptions\\fR] \\fIADDRESS\\fR \\fIADDRESS\\fR\n",
        env!("CARGO_PKG_VERSION")
    );
    for verb in verbs() {
        let _ = writeln!(page, ".br\n.B socketry\n{}", roff(verb.usage));
    }
    page.push_str(".SH DESCRIPTION\nsocketry connects, listens and relays data between two endpoints named in socat's address language, both ways; its subcommands add ready-made servers, netcat's flags, port scans and verified file transfers.\n");
    page.push_str(".SH OPTIONS\nThese come before the subcommand or the addresses.\n");
    for flag in FLAGS {
        let name = match flag.value {
            Some(value) => format!("\\fB{}\\fR \\fI{}\\fR", roff(flag.name), value),
            None => format!("\\fB{}\\fR", roff(flag.name)),
        };
        let _ = writeln!(page, ".TP\n{name}\n{}", roff(flag.help));
    }
    page.push_str(".SH SUBCOMMANDS\n");
    for verb in verbs() {
        let _ = writeln!(
            page,
            ".SS socketry {}\n{}",
            roff(verb.usage),
            roff(verb.about)
        );
        let Some(command) = &verb.command else {
            continue;
        };
        if let Some(about) = command.get_about() {
            let _ = writeln!(page, ".PP\n{}", roff(&about.to_string()));
        }
        for (name, help) in positionals_of(command) {
            let _ = writeln!(page, ".TP\n\\fI{}\\fR\n{}", roff(&name), roff(&help));
        }
        for flag in flags_of(command) {
            let names: Vec<String> = flag
                .names
                .iter()
                .map(|n| format!("\\fB{}\\fR", roff(n)))
                .collect();
            let value = flag
                .value
                .as_ref()
                .map_or_else(String::new, |v| format!(" \\fI{}\\fR", roff(v)));
            let _ = writeln!(
                page,
                ".TP\n{}{value}\n{}",
                names.join(", "),
                roff(&flag.help)
            );
        }
        if let Some(after) = command.get_after_help() {
            let _ = writeln!(page, ".PP\n{}", roff(&after.to_string()));
        }
    }
    page.push_str(".SH ADDRESS TYPES\nAn address is \\fITYPE\\fR:\\fIparam\\fR:...,\\fIoption\\fR=\\fIvalue\\fR,...; \\- is STDIO, a number N is FD:N, READ!!WRITE reads from one address and writes to another.\n");
    for row in socketry::registry::address_types() {
        let aliases = if row.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", row.aliases.join(", "))
        };
        let _ = writeln!(
            page,
            ".TP\n\\fB{}\\fR\n{}{}",
            roff(&row.usage()),
            roff(row.help),
            roff(&aliases)
        );
    }
    page.push_str(".SH LAYERS\nA chain \\fILAYER\\fR|...|\\fIADDRESS\\fR opens the rightmost address; each layer runs over what is on its right, with its own options only; left of a listener, over each connection it accepts.\n");
    for row in socketry::registry::layers::layer_types() {
        let aliases = if row.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also {})", row.aliases.join(", "))
        };
        let _ = writeln!(
            page,
            ".TP\n\\fB{}\\fR\n{}{}",
            roff(&row.usage()),
            roff(row.help),
            roff(&aliases)
        );
    }
    page.push_str(".SH ADDRESS OPTIONS\n");
    for option in OPTIONS {
        let value = if option.kind == ValueKind::Bool {
            String::new()
        } else {
            format!("=\\fI{}\\fR", roff(option.kind.expected()))
        };
        let _ = writeln!(
            page,
            ".TP\n\\fB{}\\fR{value}\n{}",
            roff(option.name),
            roff(option.help)
        );
    }
    page.push_str(".SH EXIT STATUS\n0 on a clean end, 1 on an error, 128+N when ended by signal N; a program's failure (EXEC) is socketry's; scan and nc \\-z exit 1 when no port is open.\n");
    page
}

pub fn completions(args: &[String]) -> anyhow::Result<ExitCode> {
    let args: CompletionsArgs = match crate::subcommand::parse("completions", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let script = match args.shell {
        Shell::Bash => bash(),
        Shell::Zsh => zsh(),
        Shell::Fish => fish(),
    };
    Ok(crate::print(&script))
}

pub fn manual(args: &[String]) -> anyhow::Result<ExitCode> {
    match crate::subcommand::parse::<ManpageArgs>("manpage", args)? {
        Parsed::Run(_) => Ok(crate::print(&manpage())),
        Parsed::Exit(code) => Ok(code),
    }
}
