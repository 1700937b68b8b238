//! `socketry nc [flags] [host] port`: the flags OpenBSD nc and ncat share, with their
//! meanings, so that `alias nc='socketry nc'` keeps scripts working. Connecting and listening
//! move data between standard I/O and the peer the netcat way (see [`Session`]); `-e`/`-c`,
//! `--broker` and `-k` with a program use the servers of [`socketry::server`]; `-z` scans.
//! `socketry listen -k ADDRESS` (or an address with `fork`) runs the listening loop here too.

use std::cell::Cell;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use socketry::address::options::MAX_SECONDS;
use socketry::address::{Family, IpRange, OptionId, Quoted};
use socketry::channel::{Reader, Writer};
use socketry::scan::{PortState, Ports, ScanConfig};
use socketry::server::{self, AccessList, Mode};
use socketry::Connection;
use socketry::{Address, Spec};
use tokio::time::Instant;

use crate::flags::Plan;
use crate::server::{check_access, listen, listening_spec, program_spec, seconds};
use crate::subcommand::Parsed;

/// `socketry nc`: netcat's flags.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry nc",
    about = "netcat: connect to HOST PORT (or listen with -l) and move data between it and stdin/stdout, with the flags OpenBSD nc and ncat share.",
    after_help = "Connecting: nc [-u] [-s ADDR] [-p PORT] HOST PORT, or nc -U PATH. Listening: nc -l [-k] [HOST] PORT (or -p PORT), nc -l -U PATH. Scanning: nc -z HOST PORTS.\n\
                  After stdin's EOF the connection stays open for what the peer sends, until the peer closes; -N shuts the sending side down at stdin's EOF, -q SECONDS quits that long after it. nc exits when the peer closes."
)]
pub struct NcArgs {
    /// Listen for a connection instead of connecting
    #[arg(short = 'l')]
    listen: bool,
    /// With -l: keep listening for another connection after one ends
    #[arg(short = 'k')]
    keep: bool,
    /// UDP instead of TCP
    #[arg(short = 'u')]
    udp: bool,
    /// A Unix socket: the argument is its path
    #[arg(short = 'U')]
    unix: bool,
    /// Scan: report which of PORTS (22, 20-25,80) accept connections, sending nothing
    #[arg(short = 'z')]
    scan: bool,
    /// Say what happens on stderr (connections made and received)
    #[arg(short = 'v', action = clap::ArgAction::Count)]
    verbose: u8,
    /// Give up connecting, and end a connection idle, after SECONDS
    #[arg(short = 'w', value_name = "SECONDS", value_parser = seconds)]
    wait: Option<Duration>,
    /// Shut the connection's sending side down at stdin's EOF
    #[arg(short = 'N')]
    shutdown: bool,
    /// Quit SECONDS after stdin's EOF (a negative number waits for ever, the default)
    #[arg(short = 'q', value_name = "SECONDS", allow_negative_numbers = true, value_parser = quit_seconds)]
    quit: Option<f64>,
    /// Run PROGRAM (words split, no shell) with its stdin and stdout on the connection
    #[arg(short = 'e', long = "exec", value_name = "PROGRAM", group = "program")]
    exec: Option<String>,
    /// Run COMMAND with /bin/sh with its stdin and stdout on the connection
    #[arg(
        short = 'c',
        long = "sh-exec",
        value_name = "COMMAND",
        group = "program"
    )]
    sh_exec: Option<String>,
    /// Connect from this local address; with -l, listen on it
    #[arg(short = 's', value_name = "ADDR")]
    source: Option<String>,
    /// Connect from this local port; with -l, the port to listen on
    #[arg(short = 'p', value_name = "PORT", value_parser = port)]
    port: Option<u16>,
    /// IPv4 only
    #[arg(short = '4', conflicts_with = "v6")]
    v4: bool,
    /// IPv6 only
    #[arg(short = '6')]
    v6: bool,
    /// With -l: pass what each client sends to all the others (implies -k)
    #[arg(long, visible_alias = "chat")]
    broker: bool,
    /// With -l: admit only peers in this range (repeatable)
    #[arg(long, value_name = "CIDR")]
    allow: Vec<IpRange>,
    /// With -l: refuse peers in this range (repeatable)
    #[arg(long, value_name = "CIDR")]
    deny: Vec<IpRange>,
    /// With -l and --broker, or -k with -e/-c: at most N connections at once
    #[arg(long, value_name = "N", value_parser = crate::server::count)]
    max_conns: Option<usize>,
    /// Only send stdin; ignore what the peer sends, and quit at stdin's EOF
    #[arg(long, conflicts_with = "recv_only")]
    send_only: bool,
    /// Only receive; do not read stdin
    #[arg(long)]
    recv_only: bool,
    /// [HOST] PORT, or PATH with -U
    #[arg(value_name = "HOST PORT")]
    operands: Vec<String>,
}

/// How one connection moves data with standard I/O.
#[derive(Debug, Clone, Copy, Default)]
struct Session {
    /// `-N`: shut the sending side down at stdin's EOF.
    shutdown: bool,
    /// `-q`: quit this long after stdin's EOF.
    quit: Option<Duration>,
    /// `-w`: end after this long with no data either way.
    idle: Option<Duration>,
    send_only: bool,
    recv_only: bool,
}

/// Standard input and output, kept across the connections of `-k`: once stdin reached EOF,
/// later connections only receive.
struct Stdio {
    input: Option<Reader>,
    output: Option<Writer>,
}

impl Stdio {
    async fn open(plan: &Plan) -> anyhow::Result<Stdio> {
        let mut connection =
            socketry::registry::connect(&Address::parse("STDIO")?, &crate::open_context(plan))
                .await?;
        Ok(Stdio {
            input: connection.reader.take(),
            output: connection.writer.take(),
        })
    }
}

/// `-q`'s seconds: a negative number waits for ever, else at most a century.
fn quit_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(q) if q < 0.0 => Ok(q),
        _ => seconds(text).map(|d| d.as_secs_f64()).map_err(|_| {
            format!(
                "expected seconds from 0 to {MAX_SECONDS} (a century), or a negative number to wait for ever, not {}",
                Quoted(text)
            )
        }),
    }
}

/// `-p`'s port number.
fn port(text: &str) -> Result<u16, String> {
    crate::server::whole_number(text, 0, u16::MAX.into()).map(|n| n as u16)
}

/// Quotes `text` for the address language, only when it holds a character the language reads
/// (so that an error quoting the address shows the operand as it was typed).
fn quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/@+".contains(&b));
    if plain {
        return text.to_owned();
    }
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn host_part(host: &str) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.contains(':') {
        format!("[{bare}]")
    } else {
        quote(bare)
    }
}

/// Prints a netcat-style message on stderr under `-v`.
fn say(verbose: u8, text: &str) {
    if verbose > 0 {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "{text}");
    }
}

impl NcArgs {
    fn family_suffix(&self) -> &'static str {
        match (self.v4, self.v6) {
            (true, _) => "4",
            (_, true) => "6",
            _ => "",
        }
    }

    fn protocol(&self) -> &'static str {
        if self.udp {
            "udp"
        } else {
            "tcp"
        }
    }

    fn session(&self) -> anyhow::Result<Session> {
        let quit = match self.quit {
            Some(q) if q < 0.0 => None,
            Some(q) => Some(
                Duration::try_from_secs_f64(q)
                    .with_context(|| format!("invalid value '{q}' for '-q <SECONDS>'"))?,
            ),
            None => None,
        };
        Ok(Session {
            shutdown: self.shutdown,
            quit,
            idle: self.wait,
            send_only: self.send_only,
            recv_only: self.recv_only,
        })
    }

    fn program(&self) -> anyhow::Result<Option<Spec>> {
        match (&self.exec, &self.sh_exec) {
            (Some(program), _) => Ok(Some(program_spec(program, false)?)),
            (_, Some(command)) => Ok(Some(program_spec(command, true)?)),
            _ => Ok(None),
        }
    }

    /// The address to connect to.
    fn connect_address(&self) -> anyhow::Result<String> {
        let mut address = if self.unix {
            let [path] = self.operands.as_slice() else {
                bail!("nc -U expects one PATH, got {}", self.operands.len());
            };
            format!("UNIX-CONNECT:{}", quote(path))
        } else {
            let [host, port] = self.operands.as_slice() else {
                bail!(
                    "nc expects HOST PORT to connect to, got \"{}\" (or -l to listen)",
                    self.operands.join(" ")
                );
            };
            let kind = if self.udp { "UDP" } else { "TCP" };
            format!(
                "{kind}{}:{}:{}",
                self.family_suffix(),
                host_part(host),
                quote(port)
            )
        };
        if let Some(source) = &self.source {
            address.push_str(&format!(",bind={}", host_part(source)));
        }
        if let Some(port) = self.port {
            address.push_str(&format!(",sourceport={port}"));
        }
        if let Some(wait) = self.wait {
            address.push_str(&format!(",connect-timeout={}", wait.as_secs_f64()));
        }
        Ok(address)
    }

    /// The address to listen on: `-l PORT`, `-l HOST PORT`, `-l -p PORT`, `-l -s ADDR PORT`.
    fn listen_address(&self) -> anyhow::Result<String> {
        if self.unix {
            let [path] = self.operands.as_slice() else {
                bail!("nc -l -U expects one PATH, got {}", self.operands.len());
            };
            return Ok(format!("UNIX-LISTEN:{}", quote(path)));
        }
        let (host, port) = match (self.operands.as_slice(), self.port) {
            ([port], None) => (self.source.clone(), port.clone()),
            ([host, port], None) => (Some(host.clone()), port.clone()),
            ([], Some(port)) => (self.source.clone(), port.to_string()),
            ([host], Some(port)) => (Some(host.clone()), port.to_string()),
            _ => bail!(
                "nc -l expects [HOST] PORT (or -p PORT), got \"{}\"",
                self.operands.join(" ")
            ),
        };
        let kind = if self.udp { "UDP" } else { "TCP" };
        let mut address = format!("{kind}{}-LISTEN:{}", self.family_suffix(), quote(&port));
        if let Some(host) = host {
            address.push_str(&format!(",bind={}", host_part(&host)));
        }
        Ok(address)
    }
}

pub async fn run(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: NcArgs = match crate::subcommand::parse("nc", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let listen_only = |flag: &str, given: bool| -> anyhow::Result<()> {
        if given && !args.listen {
            bail!("nc: {flag} applies with -l");
        }
        Ok(())
    };
    listen_only("-k", args.keep)?;
    listen_only("--broker", args.broker)?;
    listen_only(
        "--allow/--deny",
        !args.allow.is_empty() || !args.deny.is_empty(),
    )?;
    listen_only("--max-conns", args.max_conns.is_some())?;
    if args.scan {
        return scan(&args, plan).await;
    }
    if args.unix && args.udp {
        bail!("nc: -u with -U (Unix datagram sockets) is not supported; use socketry UNIX-SENDTO/UNIX-RECVFROM addresses");
    }
    let program = args.program()?;
    if args.broker && program.is_some() {
        bail!("nc: --broker passes data between clients; it cannot also run a program (-e/-c)");
    }
    if args.listen {
        listen_mode(&args, program, plan).await
    } else {
        connect_mode(&args, program, plan).await
    }
}

async fn scan(args: &NcArgs, plan: &Plan) -> anyhow::Result<ExitCode> {
    if args.udp || args.unix || args.listen {
        bail!("nc -z scans TCP ports; it does not combine with -u, -U or -l");
    }
    let [host, ports] = args.operands.as_slice() else {
        bail!("nc -z expects HOST PORTS (e.g. 20-25,80)");
    };
    let ports: Ports = ports.parse()?;
    let family = match (args.v4, args.v6) {
        (true, _) => Family::V4,
        (_, true) => Family::V6,
        _ => plan.family,
    };
    let ip = crate::scan::resolve(host, family).await?;
    let config = ScanConfig {
        timeout: args.wait.unwrap_or(ScanConfig::default().timeout),
        ..ScanConfig::default()
    };
    let probes = socketry::scan::scan(ip, &ports, config, |probe| match probe.state {
        PortState::Open => say(
            args.verbose,
            &format!(
                "Connection to {host} {} port [tcp/*] succeeded!",
                probe.address.port()
            ),
        ),
        PortState::Closed if args.verbose > 1 => say(
            args.verbose,
            &format!(
                "nc: connect to {host} port {} (tcp) failed",
                probe.address.port()
            ),
        ),
        PortState::Closed => {}
    })
    .await;
    Ok(if probes.iter().any(|p| p.state == PortState::Open) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn connect_mode(
    args: &NcArgs,
    program: Option<Spec>,
    plan: &Plan,
) -> anyhow::Result<ExitCode> {
    let text = args.connect_address()?;
    let address = Address::parse(&text)?;
    let connection = socketry::registry::connect(&address, &crate::open_context(plan))
        .await
        .map_err(|e| anyhow::anyhow!("nc: {e}"))?;
    match args.operands.as_slice() {
        [host, port] => say(
            args.verbose,
            &format!(
                "Connection to {host} {port} port [{}/*] succeeded!",
                args.protocol()
            ),
        ),
        _ => say(
            args.verbose,
            &format!("Connected to {}", connection.description),
        ),
    }
    if let Some(program) = program {
        return run_program(connection, program, args, plan).await;
    }
    let mut stdio = Stdio::open(plan).await?;
    exchange(&mut stdio, connection, args.session()?).await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_program(
    connection: Connection,
    program: Spec,
    args: &NcArgs,
    plan: &Plan,
) -> anyhow::Result<ExitCode> {
    let config = server::Config {
        mode: Mode::Exec(program),
        idle_timeout: args.wait,
        open: crate::open_context(plan),
        ..server::Config::default()
    };
    let (_, result) = server::serve_connection(connection, &config).await;
    result.map_err(|e| anyhow::anyhow!("nc: {e}"))?;
    Ok(ExitCode::SUCCESS)
}

async fn listen_mode(
    args: &NcArgs,
    program: Option<Spec>,
    plan: &Plan,
) -> anyhow::Result<ExitCode> {
    let text = args.listen_address()?;
    let spec = listening_spec(&text, "nc -l")?;
    let access = AccessList {
        allow: args.allow.clone(),
        deny: args.deny.clone(),
    };
    check_access(&spec, &access)?;
    // Many connections at once: the chat broker, or a program per connection with -k.
    let mode = match program {
        _ if args.broker => Some(Mode::Chat {
            queue_bytes: server::chat::DEFAULT_QUEUE_BYTES,
        }),
        Some(program) if args.keep => Some(Mode::Exec(program)),
        Some(program) => {
            if args.max_conns.is_some() {
                bail!("nc: --max-conns applies with --broker, or -k with -e/-c");
            }
            let mut listener = listen(&spec, plan).await?;
            announce(args, &listener);
            let connection = accept_admitted(&mut listener, &access, args).await?;
            drop(listener);
            return run_program(connection, program, args, plan).await;
        }
        None => None,
    };
    if let Some(mode) = mode {
        let config = server::Config {
            mode,
            max_conns: args.max_conns,
            idle_timeout: args.wait,
            access,
            open: crate::open_context(plan),
            ..server::Config::default()
        };
        let report = crate::server::serve_with_statistics(&spec, config, plan, |listener| {
            announce(args, listener)
        })
        .await?;
        return Ok(if report.drained_cleanly() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if args.max_conns.is_some() {
        bail!("nc: --max-conns applies with --broker, or -k with -e/-c");
    }
    let mut listener = listen(&spec, plan).await?;
    announce(args, &listener);
    let mut stdio = Stdio::open(plan).await?;
    let session = args.session()?;
    loop {
        let connection = accept_admitted(&mut listener, &access, args).await?;
        exchange(&mut stdio, connection, session).await?;
        if !args.keep {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

fn announce(args: &NcArgs, listener: &socketry::Listener) {
    match listener.local_addr() {
        Some(local) => say(
            args.verbose,
            &format!("Listening on {} {}", local.ip(), local.port()),
        ),
        None => say(
            args.verbose,
            &format!("Listening on {}", listener.description()),
        ),
    }
}

/// The next connection the access lists admit; refused ones are closed and logged.
async fn accept_admitted(
    listener: &mut socketry::Listener,
    access: &AccessList,
    args: &NcArgs,
) -> anyhow::Result<Connection> {
    loop {
        let connection = listener.accept().await?;
        let peer = connection.addresses.map(|a| a.peer);
        if let Some(why) = access.refusal(peer.map(|p| p.ip())) {
            tracing::warn!("refusing connection {}: {why}", connection.description);
            continue;
        }
        match peer {
            Some(peer) => say(
                args.verbose,
                &format!("Connection received on {} {}", peer.ip(), peer.port()),
            ),
            None => say(
                args.verbose,
                &format!("Connection received on {}", connection.description),
            ),
        }
        return Ok(connection);
    }
}

/// `socketry listen [-k] PORT|ADDRESS` when it keeps accepting (`-k`, or `fork` in the
/// address): one peer after another, each to standard I/O.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry listen",
    about = "Connect stdin/stdout to the peers of a listening address, one after another (-k or fork: keep accepting after a peer leaves)."
)]
pub struct ListenArgs {
    /// Keep accepting after a peer leaves
    #[arg(short = 'k')]
    keep: bool,
    /// A port (TCP) or a listening address; fork in its options means -k
    #[arg(value_name = "PORT|ADDRESS")]
    address: String,
}

pub async fn listen_command(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: ListenArgs = match crate::subcommand::parse("listen", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let text = crate::server::listening_address(Some(&args.address), "");
    let spec = listening_spec(&text, "listen")?;
    let keep = args.keep || spec.options.flag(OptionId::Fork, false);
    let mut listener = listen(&spec, plan).await?;
    let mut stdio = Stdio::open(plan).await?;
    let session = Session {
        shutdown: true,
        ..Session::default()
    };
    loop {
        let connection = listener.accept().await?;
        exchange(&mut stdio, connection, session).await?;
        if !keep {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// Moves data between standard I/O and one connection until the peer closes (or, with
/// `--send-only`, stdin ends), `-q` after stdin's EOF, or `-w` idle.
async fn exchange(
    stdio: &mut Stdio,
    connection: Connection,
    session: Session,
) -> anyhow::Result<()> {
    let description = connection.description.clone();
    let Connection {
        reader: net_reader,
        writer: net_writer,
        ..
    } = connection;
    let last_activity = Cell::new(Instant::now());
    let touch = || last_activity.set(Instant::now());
    // Bytes to the peer and from it, for the log line when the connection ends.
    let (sent, received) = (Cell::new(0u64), Cell::new(0u64));
    let sending = !session.recv_only && stdio.input.is_some();
    let receiving = !session.send_only;
    // Holds the connection's writer once stdin has ended: dropping it would shut the
    // connection down, which netcat only does with -N.
    let mut kept_writer = None;
    let stdin_ended = {
        let input = stdio.input.as_mut();
        let output = stdio.output.as_mut();
        let upload = async {
            let (Some(input), Some(mut net)) = (input, net_writer) else {
                return Ok::<_, anyhow::Error>(None);
            };
            let mut buf = vec![0; socketry::channel::MIN_MESSAGE_BUFFER];
            while let Some(n) = input.read_unit(&mut buf).await.context("reading stdin")? {
                net.write_unit(&buf[..n])
                    .await
                    .with_context(|| format!("writing to {description}"))?;
                sent.set(sent.get() + n as u64);
                touch();
            }
            if session.shutdown || session.send_only {
                net.shutdown()
                    .await
                    .with_context(|| format!("shutting down {description}"))?;
            }
            Ok(Some(net))
        };
        let download = async {
            let (Some(mut net), Some(output)) = (net_reader, output) else {
                return Ok::<(), anyhow::Error>(());
            };
            let mut buf = vec![0; socketry::channel::MIN_MESSAGE_BUFFER];
            while let Some(n) = net
                .read_unit(&mut buf)
                .await
                .with_context(|| format!("reading from {description}"))?
            {
                output
                    .write_unit(&buf[..n])
                    .await
                    .context("writing stdout")?;
                received.set(received.get() + n as u64);
                touch();
            }
            Ok(())
        };
        tokio::pin!(upload, download);
        let mut uploading = sending;
        let mut stdin_ended = false;
        let mut quit_at: Option<Instant> = None;
        loop {
            let idle_at = session.idle.map(|limit| last_activity.get() + limit);
            tokio::select! {
                done = &mut upload, if uploading => {
                    uploading = false;
                    kept_writer = done?;
                    stdin_ended = kept_writer.is_some();
                    if session.send_only || !receiving {
                        break;
                    }
                    if let Some(after) = session.quit {
                        quit_at = Some(Instant::now() + after);
                    }
                }
                done = &mut download, if receiving => {
                    done?;
                    break;
                }
                () = sleep_until(quit_at), if quit_at.is_some() => break,
                () = sleep_until(idle_at), if idle_at.is_some() => {
                    if idle_at.is_some_and(|at| Instant::now() >= at) {
                        tracing::info!(
                            "{description}: idle for {}s (-w); closing",
                            session.idle.unwrap_or_default().as_secs_f64()
                        );
                        break;
                    }
                }
            }
        }
        stdin_ended
    };
    drop(kept_writer);
    tracing::info!(
        "connection {description} done: {} bytes in, {} bytes out",
        received.get(),
        sent.get()
    );
    if stdin_ended {
        // Later connections (-k) only receive.
        stdio.input = None;
    }
    Ok(())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
