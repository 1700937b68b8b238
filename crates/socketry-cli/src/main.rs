//! The `socketry` command: parse the command line, call the library, map errors to exit
//! statuses (0 on a clean end, 1 on any error, 128+N when ended by signal N).

mod bench;
mod flags;
mod generate;
mod help;
mod lock;
mod logging;
mod nc;
mod proxy;
mod scan;
mod server;
mod subcommand;
mod transfer;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use socketry::relay::{
    Directions, Dump, Linger, PathTemplate, RawDumps, RelayConfig, Stop, Stopper, Totals, Transfer,
    DEFAULT_DRAIN_GRACE,
};
use socketry::serve::{self, Peer, RunConfig};
use socketry::Address;
use tokio::signal::unix::{signal, SignalKind};

use flags::{Command, Plan};
use logging::Logger;

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    // `socketry bench` has flags of its own: everything about it is in bench.rs.
    if argv.first().is_some_and(|verb| verb == "bench") {
        return bench::main(&argv[1..]);
    }
    // Arguments are bytes, as the system passes them: a path in an address need not be UTF-8.
    let plan = match flags::parse(argv).and_then(Plan::from_args) {
        Ok(plan) => plan,
        Err(e) => {
            logging::early_error(&e.to_string());
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
            logging::early_error(&format!("{e:#}"));
            return ExitCode::from(1);
        }
    };
    let verbosity = match plan.command {
        // The tutorial server reports each connection and its byte counts.
        Command::Subcommand { subcommand, .. } => subcommand.verbosity(plan.verbosity),
        _ if plan.log_endpoints => plan.verbosity.max(1),
        _ => plan.verbosity,
    };
    logging::install(logger.clone(), verbosity);

    // Held until main returns, on every path but an abort: the file goes with it.
    let _lock = match &plan.lock {
        Some((path, wait)) => match lock::LockFile::take(path, *wait) {
            Ok(lock) => Some(lock),
            Err(e) => {
                logger.log(&tracing::Level::ERROR, &e);
                return ExitCode::from(1);
            }
        },
        None => None,
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Command::Relay { first, .. } = &plan.command {
        // Parsed here only for this choice; an error is reported where the run parses it.
        if socketry::Address::parse_os(first).is_ok_and(|a| a.serves_best_on_one_thread()) {
            builder.worker_threads(1);
        }
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            logger.log(
                &tracing::Level::ERROR,
                &format!("starting the runtime: {e}"),
            );
            return ExitCode::from(1);
        }
    };
    let status = match &plan.command {
        // These handle their own signals.
        Command::Subcommand { subcommand, args } => {
            match runtime.block_on(subcommand::run(*subcommand, args, &plan)) {
                Ok(status) => status,
                Err(e) => {
                    logger.log_error(&e, &one_line(&e));
                    ExitCode::from(1)
                }
            }
        }
        _ => runtime.block_on(run_until_signal(&plan, &logger)),
    };
    // A blocking read of standard input must not keep the process alive.
    runtime.shutdown_background();
    status
}

/// Prints help or version text; a closed stdout (`| head`) is not an error.
pub(crate) fn print(text: &str) -> ExitCode {
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// Runs the plan until it ends, or a terminating signal stops it. The first SIGINT,
/// SIGTERM or SIGHUP stops reading and accepting; what was already read is written out within
/// the drain grace (`-t`, or 1 s), children are reaped, and socketry exits with 128+N. A
/// second terminating signal exits at once. SIGUSR1 logs the statistics and runs on.
async fn run_until_signal(plan: &Plan, logger: &Logger) -> ExitCode {
    let caught = |number: i32| plan.signal_mask & (1 << number) != 0;
    // A stop signal left out of -S keeps its default action: it ends socketry at once.
    let stop_signal = |number: i32| {
        caught(number)
            .then(|| signal(SignalKind::from_raw(number)))
            .transpose()
    };
    let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup), Ok(mut user1)) = (
        stop_signal(2),
        stop_signal(15),
        stop_signal(1),
        signal(SignalKind::user_defined1()),
    ) else {
        logger.log(&tracing::Level::ERROR, "installing signal handlers failed");
        return ExitCode::from(1);
    };
    let mut fatal = fatal_signals(plan.signal_mask);
    let (stopper, stop) = Stopper::new();
    let totals = Arc::new(Totals::default());
    let drain_grace = plan.linger.unwrap_or(DEFAULT_DRAIN_GRACE);
    let run = run(plan, stop, totals.clone());
    tokio::pin!(run);
    let mut signalled: Option<u8> = None;
    let mut give_up: Option<tokio::time::Instant> = None;
    let outcome = loop {
        let number = tokio::select! {
            result = &mut run => break Some(result),
            _ = recv_some(&mut interrupt) => 2,
            _ = recv_some(&mut terminate) => 15,
            _ = recv_some(&mut hangup) => 1,
            Some(number) = fatal.recv() => {
                // `sigquit` on a program's address: the signal is the program's.
                if socketry::endpoint::process::forward_signal(i32::from(number)) {
                    continue;
                }
                // As socat: a caught signal that is not a stop is logged and ends the run.
                logger.log(&tracing::Level::ERROR, &format!("exiting on signal {number}"));
                if plan.statistics {
                    log_statistics(logger, &totals, plan.directions);
                }
                return ExitCode::from(128 + number);
            }
            _ = user1.recv() => {
                log_statistics(logger, &totals, plan.directions);
                continue;
            }
            () = sleep_until_or_forever(give_up) => {
                tracing::warn!("still finishing {}s after the signal: exiting now", GIVE_UP_AFTER.as_secs_f64() + drain_grace.as_secs_f64());
                break None;
            }
        };
        // `sighup`, `sigint` on a program's address: the signal is the program's, and the
        // relay ends when the program does.
        if number != 15 && socketry::endpoint::process::forward_signal(i32::from(number)) {
            continue;
        }
        if signalled.is_some() {
            tracing::info!("second signal ({number}): exiting now");
            break None;
        }
        tracing::info!(
            "signal {number}: stopping; writing out what was already read (up to {}s)",
            drain_grace.as_secs_f64()
        );
        signalled = Some(number);
        stopper.stop();
        give_up = tokio::time::Instant::now().checked_add(drain_grace + GIVE_UP_AFTER);
    };
    if plan.statistics {
        log_statistics(logger, &totals, plan.directions);
    }
    let failed = match outcome {
        Some(Err(e)) => {
            logger.log_error(&e, &format!("{e}"));
            // A program's failure (EXEC) is socketry's exit status, as with a shell.
            let code = e
                .downcast_ref::<serve::RunError>()
                .and_then(serve::RunError::child_exit_code);
            Some(code.unwrap_or(1))
        }
        _ => None,
    };
    match (signalled, failed) {
        (Some(number), _) => {
            tracing::info!("exiting on signal {number}");
            ExitCode::from(128 + number)
        }
        (None, Some(code)) => ExitCode::from(code),
        (None, None) => ExitCode::SUCCESS,
    }
}

/// Waits for a signal that is caught; one that is not never comes.
async fn recv_some(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match signal {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

/// The signals of `mask` that end socketry with a log line: all but the stop signals (HUP,
/// INT, TERM), USR1 (statistics), those with a meaning of their own to the runtime (PIPE,
/// CHLD) and those no handler may catch (KILL, STOP, and the faults ILL, FPE, SEGV, which
/// keep their default action). Each one caught sends its number.
fn fatal_signals(mask: u64) -> tokio::sync::mpsc::UnboundedReceiver<u8> {
    const NOT_FATAL: [u8; 10] = [1, 2, 4, 8, 9, 10, 11, 13, 15, 17];
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    for number in 1u8..32 {
        if mask & (1 << number) == 0 || NOT_FATAL.contains(&number) {
            continue;
        }
        let Ok(mut caught) = signal(SignalKind::from_raw(i32::from(number))) else {
            tracing::debug!("signal {number} cannot be caught: it keeps its default action");
            continue;
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            while caught.recv().await.is_some() {
                if tx.send(number).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// After the drain grace, how long reaping children may take before socketry exits anyway:
/// a child's close grace and its SIGTERM grace, and a little more.
const GIVE_UP_AFTER: Duration = Duration::from_millis(2500);

async fn sleep_until_or_forever(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// `--statistics`: the writes and bytes each way, in the two lines socat's scripts read,
/// then the connections relayed, so far.
fn log_statistics(logger: &Logger, totals: &Totals, directions: Directions) {
    let stats = totals.stats();
    let writes = totals.writes();
    let width = |a: u64, b: u64| a.max(b).to_string().len();
    let (writes_width, bytes_width) = match directions {
        Directions::Both => (
            width(writes.left_to_right, writes.right_to_left),
            width(stats.left_to_right, stats.right_to_left),
        ),
        _ => (1, 1),
    };
    for (direction, label, writes, bytes) in [
        (
            Directions::LeftToRight,
            "left to right",
            writes.left_to_right,
            stats.left_to_right,
        ),
        (
            Directions::RightToLeft,
            "right to left",
            writes.right_to_left,
            stats.right_to_left,
        ),
    ] {
        if directions == Directions::Both || directions == direction {
            logger.log(
                &tracing::Level::INFO,
                &format!(
                    "STATISTICS: {label}: {writes:>writes_width$} packets(s), {bytes:>bytes_width$} byte(s)"
                ),
            );
        }
    }
    logger.log(
        &tracing::Level::INFO,
        &format!(
            "statistics: {} bytes from the first address to the second, {} bytes back, {} connection(s){}",
            stats.left_to_right,
            stats.right_to_left,
            totals.connections(),
            match totals.dropped_datagrams() {
                0 => String::new(),
                n => format!(", {n} datagram(s) dropped"),
            }
        ),
    );
}

/// How addresses open: `-4`/`-6`, and the default listening family from the environment
/// (socat's `SOCAT_DEFAULT_LISTEN_IP`, or `SOCKETRY_DEFAULT_LISTEN_IP`: 4 or 6).
pub(crate) fn open_context(plan: &Plan) -> socketry::endpoint::OpenContext {
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
        // IPv6's wildcard takes IPv4 peers too, as v4-mapped addresses.
        (Family::Any, _) if plan.both_versions => Family::V6,
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

fn parse_address(text: &std::ffi::OsStr) -> anyhow::Result<Address> {
    Ok(Address::parse_os(text)?)
}

async fn run(plan: &Plan, stop: Stop, totals: Arc<Totals>) -> anyhow::Result<()> {
    let dump = plan
        .dump
        .map(|format| Arc::new(Dump::new(format, Box::new(std::io::stderr()))));
    let mut relay = RelayConfig {
        buffer_size: plan
            .buffer_size
            .unwrap_or(socketry::relay::DEFAULT_BUFFER_SIZE),
        splice_size: plan
            .buffer_size
            .unwrap_or(socketry::relay::DEFAULT_SPLICE_SIZE),
        linger: plan.linger.map_or(Linger::default(), Linger::For),
        inactivity: plan.inactivity,
        directions: plan.directions,
        dump,
        raw_dumps: RawDumps {
            left_to_right: plan.raw_left_to_right.clone().map(PathTemplate::new),
            right_to_left: plan.raw_right_to_left.clone().map(PathTemplate::new),
            program_name: plan
                .program_name
                .clone()
                .unwrap_or_else(|| "socketry".to_owned()),
        },
        log_endpoints: plan.log_endpoints,
        transfer: transfer_from_env(),
        stop,
        drain_grace: plan.linger.unwrap_or(DEFAULT_DRAIN_GRACE),
        totals,
    };
    let stdio = Address::parse("STDIO")?;
    let (first, peer) = match &plan.command {
        Command::Relay { first, second } => {
            (parse_address(first)?, Peer::Address(parse_address(second)?))
        }
        Command::Client { address }
        | Command::Connect { address }
        | Command::Listen { address } => {
            // Like netcat: each direction runs to its own EOF, with no time limit after the
            // first: stdin keeps flowing after the peer half-closes, and after stdin's EOF the
            // relay waits for the peer to close.
            if plan.linger.is_none() {
                relay.linger = Linger::UntilBothEnd;
            }
            (stdio, Peer::Address(parse_address(address)?))
        }
        Command::Version | Command::Help { .. } | Command::Subcommand { .. } => return Ok(()),
    };
    let config = RunConfig {
        relay,
        open: open_context(plan),
        sloppy: plan.sloppy,
    };
    serve::run(&first, &peer, &config)
        .await
        .map(|_| ())
        .map_err(anyhow::Error::from)
}

/// `error` and its causes on one line, `outer: inner`, leaving out a cause whose text the line
/// already ends with (a library error that names its OS error is not followed by it again,
/// nor by its "(os error N)" form).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.ends_with(text.split(" (os error ").next().unwrap_or(&text)) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}
