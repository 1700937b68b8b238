//! `socketry server [PORT|ADDRESS]`: the ready-made servers of [`socketry::server`] on any
//! listening address, with the signal handling of a service: the first SIGINT or SIGTERM
//! drains, a second one closes everything.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use socketry::address::options::{Groups, MAX_SECONDS};
use socketry::address::{IpRange, OptionId, Options, Quoted, Value};
use socketry::endpoint::exec::Program;
use socketry::server::{self, AccessList, Mode, Phase, Snapshot};
use socketry::{Address, Kind, Spec};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::flags::Plan;
use crate::subcommand::Parsed;

/// `socketry server`: serve every peer of a listening address.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry server",
    about = "Serve every peer of a listening address: echo (the default), discard, chat, a program per connection, or log and acknowledge each message.",
    after_help = "ADDRESS is any listening address: TCP-LISTEN:8080, UDP-LISTEN:7, UNIX-LISTEN:/run/s.sock, ABSTRACT-LISTEN:name, UNIX-RECVFROM:/tmp/d ...\n\
                  The first SIGINT or SIGTERM stops accepting and lets open connections finish for up to --grace seconds; a second one closes them at once. The exit status is 0 after a clean drain, 1 if connections had to be closed."
)]
pub struct ServerArgs {
    /// A port (TCP on every address) or a listening address [default: TCP-LISTEN:8080]
    #[arg(value_name = "PORT|ADDRESS")]
    address: Option<String>,
    /// Read and throw away what peers send (RFC 863)
    #[arg(long, group = "mode")]
    discard: bool,
    /// Pass what each client sends to every other client, never back to the sender
    #[arg(long, visible_alias = "broker", group = "mode")]
    chat: bool,
    /// Run CMD for each connection, its stdin and stdout connected to the peer (inetd
    /// style; words split as EXEC does, no shell); the peer is in SOCAT_PEERADDR,
    /// SOCAT_PEERPORT (and SOCKETRY_PEERUID/GID/PID for Unix peers)
    #[arg(long, value_name = "CMD", group = "mode")]
    exec: Option<String>,
    /// Log each message (a line, or a datagram) with its peer and answer "ack N bytes"
    #[arg(long, group = "mode")]
    print: bool,
    /// With --chat: bytes that may wait for one client; a client past it has stopped
    /// reading and is dropped
    #[arg(long, value_name = "BYTES", default_value_t = server::chat::DEFAULT_QUEUE_BYTES, value_parser = count)]
    chat_queue: usize,
    /// At most N connections at once; one more is closed as soon as it arrives
    #[arg(long, value_name = "N", value_parser = count)]
    max_conns: Option<usize>,
    /// Close a connection after SECONDS with no data either way
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    idle_timeout: Option<Duration>,
    /// Admit only peers in this range (ADDR, ADDR/BITS; IPv4 or IPv6; repeatable)
    #[arg(long, value_name = "CIDR")]
    allow: Vec<IpRange>,
    /// Refuse peers in this range, even if allowed (repeatable)
    #[arg(long, value_name = "CIDR")]
    deny: Vec<IpRange>,
    /// Unix servers: admit only peers running as this user (name or uid; repeatable)
    #[arg(long, value_name = "USER")]
    peer_uid: Vec<String>,
    /// Unix servers: admit only peers in this group (name or gid; repeatable)
    #[arg(long, value_name = "GROUP")]
    peer_gid: Vec<String>,
    /// Seconds open connections get to finish after the first SIGINT or SIGTERM
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    grace: Duration,
}

/// Seconds, possibly fractional: `10`, `0.5`; at most a century, as the address options take.
pub fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| *s <= MAX_SECONDS as f64)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            format!(
                "expected seconds from 0 to {MAX_SECONDS} (a century), e.g. 0.5 or 10, not {}",
                Quoted(text)
            )
        })
}

/// A whole number from 1 up, for counts and sizes: `--max-conns 50`.
pub fn count(text: &str) -> Result<usize, String> {
    whole_number(text, 1, usize::MAX)
}

/// A whole number from `low` to `high`, or an error saying which numbers are meant.
pub fn whole_number(text: &str, low: usize, high: usize) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (low..=high).contains(n))
        .ok_or_else(|| {
            format!(
                "expected a whole number from {low} to {high}, not {}",
                Quoted(text)
            )
        })
}

/// A bare port number means TCP on every address; anything else is an address.
pub fn listening_address(text: Option<&str>, default: &str) -> String {
    match text {
        Some(port) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            format!("TCP-LISTEN:{port}")
        }
        Some(address) => address.to_owned(),
        None => default.to_owned(),
    }
}

/// Parses `text` as one listening address.
pub fn listening_spec(text: &str, verb: &str) -> anyhow::Result<Spec> {
    let address = Address::parse(text)?;
    let Address::Single(spec) = address else {
        bail!("{verb} needs one listening address, not the dual address \"{text}\"");
    };
    if !spec.has_group(Groups::CHILD) {
        bail!("{verb} needs a listening address such as TCP-LISTEN:8080 or UNIX-LISTEN:/path, not \"{spec}\"");
    }
    Ok(spec)
}

/// A program per connection: EXEC's words, or a shell command line.
pub fn program_spec(command: &str, shell: bool) -> anyhow::Result<Spec> {
    let kind = if shell {
        Program::System(command.to_owned())
    } else {
        let argv = socketry::address::split_command_line(command)
            .filter(|argv| !argv.is_empty())
            .with_context(|| {
                format!("\"{command}\" is not a command line (expected a program and its arguments, quotes closed)")
            })?;
        Program::Exec(argv)
    };
    Ok(Spec {
        kind: Kind::Exec(kind),
        options: Options::default(),
        layers: Vec::new(),
    })
}

/// Adds `--peer-uid`/`--peer-gid` to a Unix listener's options; refuses them elsewhere.
pub fn add_credential_filters(
    spec: &mut Spec,
    uids: &[String],
    gids: &[String],
) -> anyhow::Result<()> {
    if (!uids.is_empty() || !gids.is_empty()) && !spec.has_group(Groups::PEERCRED) {
        bail!("--peer-uid and --peer-gid apply to Unix servers (UNIX-LISTEN, ABSTRACT-LISTEN, ...), not \"{spec}\"");
    }
    for uid in uids {
        let user = socketry::users::user(uid).with_context(|| format!("--peer-uid {uid}"))?;
        spec.options.push(OptionId::PeerUid, Value::User(user));
    }
    for gid in gids {
        let group = socketry::users::group(gid).with_context(|| format!("--peer-gid {gid}"))?;
        spec.options.push(OptionId::PeerGid, Value::Group(group));
    }
    Ok(())
}

/// Refuses allow/deny lists on an address whose peers have no internet address.
pub fn check_access(spec: &Spec, access: &AccessList) -> anyhow::Result<()> {
    if !access.is_open() && !spec.has_group(Groups::RANGE) {
        bail!("--allow and --deny apply to internet servers (TCP-LISTEN, UDP-LISTEN, ...), not \"{spec}\"");
    }
    Ok(())
}

/// Opens `spec` as a listener.
pub async fn listen(spec: &Spec, plan: &Plan) -> anyhow::Result<socketry::Listener> {
    let context = crate::open_context(plan);
    match socketry::registry::open_spec(spec, &context)
        .await
        .with_context(|| spec.to_string())?
    {
        socketry::endpoint::Opened::Listener(listener) => Ok(listener),
        socketry::endpoint::Opened::Connection(_) => {
            bail!("\"{spec}\" does not accept peers")
        }
    }
}

/// Moves `phase` forward on SIGINT and SIGTERM: the first drains, the second closes.
pub fn watch_signals() -> anyhow::Result<watch::Receiver<Phase>> {
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    let (phase, watching) = watch::channel(Phase::Serving);
    tokio::spawn(async move {
        for next in [Phase::Draining, Phase::Closing] {
            let number = tokio::select! {
                _ = interrupt.recv() => 2,
                _ = terminate.recv() => 15,
            };
            match next {
                Phase::Draining => tracing::info!(
                    "signal {number}: no longer accepting; open connections may finish"
                ),
                _ => tracing::warn!("signal {number} again: closing every connection now"),
            }
            phase.send_replace(next);
        }
        // Hold the sender so that the server never sees the watch close.
        std::future::pending::<()>().await;
    });
    Ok(watching)
}

/// Logs what the server did so far (`--stats`): one line per open connection, then the
/// totals; in JSON each with its counters as fields.
pub fn log_statistics(snapshot: &Snapshot) {
    for open in &snapshot.open {
        let seconds = open.duration.as_secs_f64();
        tracing::info!(
            event = "connection_statistics",
            connection = open.connection.as_str(),
            peer = open.peer.as_str(),
            bytes_in = open.traffic.bytes_in,
            bytes_out = open.traffic.bytes_out,
            duration_s = seconds,
            "statistics: connection {} open for {seconds:.3}s: {} bytes in, {} bytes out",
            open.connection,
            open.traffic.bytes_in,
            open.traffic.bytes_out
        );
    }
    let report = &snapshot.report;
    tracing::info!(
        event = "statistics",
        served = report.served,
        open = snapshot.open.len() as u64,
        refused = report.refused,
        cut = report.cut,
        bytes_in = report.traffic.bytes_in,
        bytes_out = report.traffic.bytes_out,
        "statistics: {} connection(s) served, {} open, {} refused, {} closed at shutdown; {} bytes in, {} bytes out",
        report.served,
        snapshot.open.len(),
        report.refused,
        report.cut,
        report.traffic.bytes_in,
        report.traffic.bytes_out
    );
}

/// Opens `spec` and serves it until a signal drains it; with `--stats`, logs the counters on
/// SIGUSR1 and at the end.
pub async fn serve_with_statistics(
    spec: &Spec,
    config: server::Config,
    plan: &Plan,
    listening: impl FnOnce(&socketry::Listener),
) -> anyhow::Result<server::Report> {
    let phase = watch_signals()?;
    let registry = config.registry.clone();
    let reporter = if plan.statistics {
        let mut user1 =
            signal(SignalKind::user_defined1()).context("installing a SIGUSR1 handler")?;
        let registry = registry.clone();
        Some(tokio::spawn(async move {
            while user1.recv().await.is_some() {
                log_statistics(&registry.snapshot());
            }
        }))
    } else {
        None
    };
    let listener = listen(spec, plan).await?;
    listening(&listener);
    let served = server::serve(listener, config, phase).await;
    if let Some(reporter) = reporter {
        reporter.abort();
        log_statistics(&registry.snapshot());
    }
    Ok(served?)
}

pub async fn run(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: ServerArgs = match crate::subcommand::parse("server", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let text = listening_address(args.address.as_deref(), "TCP-LISTEN:8080");
    let mut spec = listening_spec(&text, "server")?;
    add_credential_filters(&mut spec, &args.peer_uid, &args.peer_gid)?;
    let access = AccessList {
        allow: args.allow,
        deny: args.deny,
    };
    check_access(&spec, &access)?;
    let mode = if args.discard {
        Mode::Discard
    } else if args.chat {
        Mode::Chat {
            queue_bytes: args.chat_queue,
        }
    } else if let Some(command) = &args.exec {
        Mode::Exec(program_spec(command, false)?)
    } else if args.print {
        Mode::Print
    } else {
        Mode::Echo
    };
    serve_until_drained(
        &spec,
        mode,
        access,
        args.max_conns,
        args.idle_timeout,
        args.grace,
        plan,
    )
    .await
}

/// Serves `spec` in `mode` with the limits every server subcommand takes from its flags:
/// exit status 0 after a clean drain, 1 if connections had to be closed.
pub async fn serve_until_drained(
    spec: &Spec,
    mode: Mode,
    access: AccessList,
    max_conns: Option<usize>,
    idle_timeout: Option<Duration>,
    grace: Duration,
    plan: &Plan,
) -> anyhow::Result<ExitCode> {
    let config = server::Config {
        mode,
        max_conns,
        idle_timeout,
        access,
        grace,
        open: crate::open_context(plan),
        buffer_size: plan
            .buffer_size
            .unwrap_or(socketry::relay::DEFAULT_BUFFER_SIZE),
        registry: Arc::default(),
    };
    let report = serve_with_statistics(spec, config, plan, |_| {}).await?;
    Ok(if report.drained_cleanly() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
