//! The `socketry` command: parse the command line, call the library, map errors to exit
//! statuses (0 on a clean end, 1 on any error, 128+N when ended by signal N).

mod flags;
mod help;
mod logging;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::bail;
use socketry::address::{Address, OptionId, Value};
use socketry::relay::serve::{self, Peer, RunConfig};
use socketry::relay::{Dump, Linger, RelayConfig, Transfer};
use tokio::signal::unix::{signal, SignalKind};

use flags::{Command, Plan};
use logging::Logger;

fn main() -> ExitCode {
    let argv: Result<Vec<String>, _> = std::env::args_os()
        .skip(1)
        .map(|a| a.into_string())
        .collect();
    let plan = match argv {
        Ok(argv) => flags::parse(argv)
            .and_then(Plan::from_args)
            .map_err(anyhow::Error::from),
        Err(arg) => Err(anyhow::anyhow!(
            "argument \"{}\" is not valid UTF-8",
            arg.to_string_lossy()
        )),
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "{} socketry[{}] E {e}",
                socketry::timestamp(std::time::SystemTime::now(), false),
                std::process::id()
            );
            return ExitCode::from(1);
        }
    };
    match &plan.command {
        Command::Version => return print(&help::version()),
        Command::Help { level } => return print(&help::help(*level)),
        _ => {}
    }
    let logger = match Logger::new(&plan) {
        Ok(logger) => Arc::new(logger),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "socketry: {e:#}");
            return ExitCode::from(1);
        }
    };
    let verbosity = match plan.command {
        // The tutorial server reports each connection and its byte counts.
        Command::Server { .. } => plan.verbosity.max(1),
        _ if plan.log_endpoints => plan.verbosity.max(1),
        _ => plan.verbosity,
    };
    logging::install(logger.clone(), verbosity);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            logger.log(
                &tracing::Level::ERROR,
                &format!("starting the runtime: {e}"),
            );
            return ExitCode::from(1);
        }
    };
    let status = runtime.block_on(run_until_signal(&plan, &logger));
    // A blocking read of standard input must not keep the process alive.
    runtime.shutdown_background();
    status
}

/// Prints help or version text; a closed stdout (`| head`) is not an error.
fn print(text: &str) -> ExitCode {
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

async fn run_until_signal(plan: &Plan, logger: &Logger) -> ExitCode {
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        logger.log(&tracing::Level::ERROR, "installing signal handlers failed");
        return ExitCode::from(1);
    };
    let signalled = |number: u8| {
        tracing::info!("exiting on signal {number}");
        ExitCode::from(128 + number)
    };
    tokio::select! {
        result = run(plan, logger) => match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                logger.log(&tracing::Level::ERROR, &format!("{e}"));
                // A program's failure (EXEC) is socketry's exit status, as with a shell.
                let code = e
                    .downcast_ref::<serve::RunError>()
                    .and_then(serve::RunError::child_exit_code);
                ExitCode::from(code.unwrap_or(1))
            }
        },
        _ = interrupt.recv() => signalled(2),
        _ = terminate.recv() => signalled(15),
        _ = hangup.recv() => signalled(1),
    }
}

/// How addresses open: `-4`/`-6`, and the default listening family from the environment
/// (socat's `SOCAT_DEFAULT_LISTEN_IP`, or `SOCKETRY_DEFAULT_LISTEN_IP`: 4 or 6).
fn open_context(plan: &Plan) -> socketry::endpoint::OpenContext {
    use socketry::address::Family;
    let from_env = ["SOCKETRY_DEFAULT_LISTEN_IP", "SOCAT_DEFAULT_LISTEN_IP"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .and_then(|v| match v.trim() {
            "6" => Some(Family::V6),
            "4" => Some(Family::V4),
            _ => None,
        });
    let listen_family = match (plan.family, from_env) {
        (Family::Any, Some(family)) => family,
        (Family::Any, None) => Family::V4,
        (family, _) => family,
    };
    socketry::endpoint::OpenContext {
        family: plan.family,
        listen_family,
        ..Default::default()
    }
}

/// `SOCKETRY_COPY=1` makes the relay copy every byte through user space instead of splicing
/// between descriptors: for comparing the two paths, or to step around a kernel whose splice
/// misbehaves.
fn transfer_from_env() -> Transfer {
    match std::env::var_os("SOCKETRY_COPY") {
        Some(value) if !value.is_empty() && value != "0" => Transfer::Copy,
        _ => Transfer::Splice,
    }
}

fn parse_address(text: &str) -> anyhow::Result<Address> {
    Ok(Address::parse(text)?)
}

async fn run(plan: &Plan, logger: &Logger) -> anyhow::Result<()> {
    let dump = plan
        .dump
        .map(|format| Arc::new(Dump::new(format, Box::new(std::io::stderr()))));
    let mut relay = RelayConfig {
        buffer_size: plan
            .buffer_size
            .unwrap_or(socketry::relay::DEFAULT_BUFFER_SIZE),
        linger: plan.linger.map_or(Linger::default(), Linger::For),
        inactivity: plan.inactivity,
        directions: plan.directions,
        dump,
        log_endpoints: plan.log_endpoints,
        transfer: transfer_from_env(),
    };
    let stdio = Address::parse("STDIO")?;
    let (first, peer) = match &plan.command {
        Command::Relay { first, second } => {
            (parse_address(first)?, Peer::Address(parse_address(second)?))
        }
        Command::Server { address } => {
            let mut address = parse_address(address)?;
            let Address::Single(spec) = &mut address else {
                bail!("server needs one listening address, not the dual address \"{address}\"");
            };
            if !socketry::address::type_has_group(spec, socketry::address::options::Groups::CHILD) {
                bail!("server needs a listening address such as TCP-LISTEN:8080 or UNIX-LISTEN:/path, not \"{spec}\"");
            }
            if !spec.options.has(OptionId::Fork) {
                spec.options.push(OptionId::Fork, Value::Bool(true));
            }
            (address, Peer::Echo)
        }
        Command::Client { address }
        | Command::Connect { address }
        | Command::Listen { address } => {
            // Like netcat: after our EOF, wait for the peer to finish; when it closes, stop.
            if plan.linger.is_none() {
                relay.linger = Linger::UntilSecondCloses;
            }
            (stdio, Peer::Address(parse_address(address)?))
        }
        Command::Version | Command::Help { .. } => return Ok(()),
    };
    let config = RunConfig {
        relay,
        open: open_context(plan),
        sloppy: plan.sloppy,
    };
    let result = serve::run(&first, &peer, &config).await;
    if plan.statistics {
        if let Ok(summary) = &result {
            logger.log(
                &tracing::Level::INFO,
                &format!(
                    "statistics: {} bytes from the first address to the second, {} bytes back, {} connection(s)",
                    summary.stats.left_to_right, summary.stats.right_to_left, summary.connections
                ),
            );
        }
    }
    result.map(|_| ()).map_err(anyhow::Error::from)
}
