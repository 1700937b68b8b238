//! socketry's own subcommands beside socat's two-address form: `server`, `proxy`, `nc`, `scan`,
//! `send` and `recv`. Each defines its flags once, with clap, and `--help` comes from that
//! definition. The global flags before the subcommand (`-d`, `-lf`, ...) still apply.

use std::process::ExitCode;

use clap::Parser;

use crate::flags::Plan;

/// The subcommands this module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subcommand {
    Server,
    Proxy,
    Scan,
    Nc,
    Send,
    Recv,
    Completions,
    Manpage,
    /// `listen` when it keeps accepting (`-k`, or `fork` in the address).
    ListenKeep,
}

impl Subcommand {
    /// The subcommand `verb` and its arguments name, if it is one of these. `listen` is one
    /// only when it keeps accepting; a single peer is the relay's.
    pub fn from_verb(verb: &str, args: &[String]) -> Option<Subcommand> {
        let keeps_accepting = args.iter().any(|a| a == "-k")
            || args.iter().any(|a| {
                a.to_ascii_lowercase()
                    .split(',')
                    .skip(1)
                    .any(|o| o == "fork")
            });
        match verb {
            "listen" if keeps_accepting => Some(Subcommand::ListenKeep),
            "server" => Some(Subcommand::Server),
            "proxy" => Some(Subcommand::Proxy),
            "scan" => Some(Subcommand::Scan),
            "nc" | "netcat" => Some(Subcommand::Nc),
            "send" => Some(Subcommand::Send),
            "recv" => Some(Subcommand::Recv),
            "completions" => Some(Subcommand::Completions),
            "manpage" => Some(Subcommand::Manpage),
            _ => None,
        }
    }

    /// The log verbosity it runs at.
    pub fn verbosity(self, asked: usize) -> usize {
        match self {
            // The server reports each connection, a transfer what it moved and its digest.
            Subcommand::Server | Subcommand::Proxy | Subcommand::Send | Subcommand::Recv => {
                asked.max(1)
            }
            Subcommand::Scan
            | Subcommand::Nc
            | Subcommand::ListenKeep
            | Subcommand::Completions
            | Subcommand::Manpage => asked,
        }
    }
}

/// What parsing a subcommand's arguments gave: something to run, or help already printed.
pub enum Parsed<T> {
    Run(T),
    Exit(ExitCode),
}

/// Parses `args` with clap as `socketry NAME ...`. `--help` prints to stdout; a bad
/// argument is one line naming it (clap's own message, without the usage that follows).
pub fn parse<T: Parser>(name: &str, args: &[String]) -> anyhow::Result<Parsed<T>> {
    let argv = std::iter::once(format!("socketry {name}")).chain(args.iter().cloned());
    match T::try_parse_from(argv) {
        Ok(parsed) => Ok(Parsed::Run(parsed)),
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                Ok(Parsed::Exit(crate::print(&e.render().to_string())))
            }
            _ => {
                // clap's first paragraph says what is wrong (and names what is missing on
                // the lines after it); the usage and tips that follow are left out.
                let text = e.render().to_string();
                let what: Vec<&str> = text
                    .lines()
                    .take_while(|line| !line.trim().is_empty())
                    .map(str::trim)
                    .collect();
                let what = what.join(" ");
                let what = what.strip_prefix("error: ").unwrap_or(&what);
                anyhow::bail!("{name}: {what} (see socketry {name} --help)")
            }
        },
    }
}

/// Runs `subcommand` with its arguments.
pub async fn run(subcommand: Subcommand, args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    match subcommand {
        Subcommand::Server => crate::server::run(args, plan).await,
        Subcommand::Proxy => crate::proxy::run(args, plan).await,
        Subcommand::Scan => crate::scan::run(args, plan).await,
        Subcommand::Nc => crate::nc::run(args, plan).await,
        Subcommand::Send => crate::transfer::send(args, plan).await,
        Subcommand::Recv => crate::transfer::recv(args, plan).await,
        Subcommand::Completions => crate::generate::completions(args),
        Subcommand::Manpage => crate::generate::manual(args),
        Subcommand::ListenKeep => crate::nc::listen_command(args, plan).await,
    }
}
