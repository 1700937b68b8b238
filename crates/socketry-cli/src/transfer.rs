//! `socketry send FILE ADDRESS` and `socketry recv ADDRESS FILE`: a verified transfer
//! (see [`socketry::transfer`]) where either side may listen. The receiver writes to a
//! temporary name beside FILE and renames it into place only when the length and digest
//! match; a progress bar shows on stderr when it is a terminal.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use socketry::Address;
use socketry::Connection;
use tokio::signal::unix::{signal, SignalKind};

use crate::flags::Plan;
use crate::subcommand::Parsed;

/// `socketry send`: send a file, verified.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry send",
    about = "Send FILE (- for stdin) to a socketry recv at ADDRESS, with its length and SHA-256 digest, and wait for the receiver to confirm it arrived intact.",
    after_help = "ADDRESS connects (TCP:host:port, UNIX-CONNECT:/path) or listens for the receiver (a bare PORT, TCP-LISTEN:port, UNIX-LISTEN:/path)."
)]
pub struct SendArgs {
    /// The file to send; - for standard input
    file: String,
    /// Where the receiver is, or where to wait for it
    #[arg(value_name = "ADDRESS")]
    address: String,
}

/// `socketry recv`: receive a file, verified.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry recv",
    about = "Receive a file from a socketry send at ADDRESS into FILE (- for stdout). FILE appears only once its length and SHA-256 digest match what the sender sent; a short or corrupt transfer exits 1 and leaves nothing at FILE.",
    after_help = "ADDRESS connects to a listening sender (TCP:host:port) or listens for it (a bare PORT, TCP-LISTEN:port, UNIX-LISTEN:/path). With - the data goes to stdout as it arrives, and only the exit status says whether it was intact."
)]
pub struct RecvArgs {
    /// Where the sender is, or where to wait for it
    #[arg(value_name = "ADDRESS")]
    address: String,
    /// Where to put the file; - for standard output
    file: String,
}

async fn open(text: &str, plan: &Plan) -> anyhow::Result<Connection> {
    let text = crate::server::listening_address(Some(text), text);
    let address = Address::parse(&text)?;
    let connection = socketry::registry::connect(&address, &crate::open_context(plan))
        .await
        .with_context(|| text.clone())?;
    if connection.reader.as_ref().is_some_and(|r| r.is_messages()) {
        anyhow::bail!(
            "\"{text}\" carries messages; a transfer needs a byte stream (TCP, Unix stream)"
        );
    }
    Ok(connection)
}

/// A progress bar on a terminal; nothing otherwise.
fn progress_bar(length: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(length, indicatif::ProgressDrawTarget::stderr());
    set_style(&bar, length);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn set_style(bar: &ProgressBar, length: Option<u64>) {
    let template = match length {
        Some(_) => "{bar:30} {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        None => "{spinner} {bytes} {bytes_per_sec} {elapsed}",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
}

pub async fn send(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: SendArgs = match crate::subcommand::parse("send", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let (source, length): (Box<dyn tokio::io::AsyncRead + Unpin + Send>, Option<u64>) =
        if args.file == "-" {
            let stdin = socketry::endpoint::stdio::FdStream::open(0).context("opening stdin")?;
            (Box::new(stdin), None)
        } else {
            let file = tokio::fs::File::open(&args.file)
                .await
                .with_context(|| format!("opening \"{}\"", args.file))?;
            let metadata = file
                .metadata()
                .await
                .with_context(|| format!("reading \"{}\"", args.file))?;
            let length = metadata.is_file().then_some(metadata.len());
            (Box::new(file), length)
        };
    let mut connection = open(&args.address, plan).await?;
    let bar = progress_bar(length);
    let result = socketry::transfer::send(&mut connection, source, length, |sent| {
        bar.set_position(sent)
    })
    .await;
    match result {
        Ok(summary) => {
            bar.finish();
            tracing::info!(
                "sent {} bytes, sha256 {}, confirmed by the receiver",
                summary.bytes,
                summary.sha256_hex()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            bar.abandon();
            Err(anyhow::anyhow!("send \"{}\": {e}", args.file))
        }
    }
}

/// The temporary file a transfer is written to, removed unless it was renamed into place.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn partial_path(destination: &Path) -> PathBuf {
    let name = destination
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    destination.with_file_name(format!(".{name}.socketry-{}.part", std::process::id()))
}

pub async fn recv(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: RecvArgs = match crate::subcommand::parse("recv", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let mut interrupt = signal(SignalKind::interrupt()).context("installing a SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing a SIGTERM handler")?;
    // Created before waiting for the sender, so that a destination that cannot be written
    // fails at once.
    let (sink, partial): (
        Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
        Option<Partial>,
    ) = if args.file == "-" {
        let stdout = socketry::endpoint::stdio::FdStream::open(1).context("opening stdout")?;
        (Box::new(stdout), None)
    } else {
        let path = partial_path(Path::new(&args.file));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .with_context(|| format!("creating \"{}\"", path.display()))?;
        (Box::new(file), Some(Partial { path, kept: false }))
    };
    let receiving = async {
        let mut connection = open(&args.address, plan).await?;
        let bar = progress_bar(None);
        let result = socketry::transfer::receive(
            &mut connection,
            sink,
            |length| {
                if let Some(length) = length {
                    bar.set_length(length);
                    set_style(&bar, Some(length));
                }
            },
            |received| bar.set_position(received),
        )
        .await;
        match &result {
            Ok(_) => bar.finish(),
            Err(_) => bar.abandon(),
        }
        result.map_err(|e| anyhow::anyhow!("recv \"{}\": {e}", args.file))
    };
    let summary = tokio::select! {
        result = receiving => result?,
        _ = interrupt.recv() => return Ok(ExitCode::from(130)),
        _ = terminate.recv() => return Ok(ExitCode::from(143)),
    };
    if let Some(mut partial) = partial {
        let file = std::fs::File::open(&partial.path)
            .with_context(|| format!("opening \"{}\"", partial.path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing \"{}\"", partial.path.display()))?;
        std::fs::rename(&partial.path, &args.file).with_context(|| {
            format!(
                "renaming \"{}\" to \"{}\"",
                partial.path.display(),
                args.file
            )
        })?;
        partial.kept = true;
    }
    tracing::info!(
        "received {} bytes, sha256 {}, into {}",
        summary.bytes,
        summary.sha256_hex(),
        args.file
    );
    Ok(ExitCode::SUCCESS)
}
