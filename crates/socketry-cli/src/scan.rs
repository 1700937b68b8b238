//! `socketry scan HOST PORTS`: which TCP ports accept connections, one line per open port on
//! stdout; exit status 0 when any is open, 1 when none is.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use socketry::address::Family;
use socketry::scan::{self, PortState, Ports, ScanConfig};

use crate::flags::Plan;
use crate::subcommand::Parsed;

/// `socketry scan`: report the TCP ports of HOST that accept connections.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry scan",
    about = "Report which TCP ports of HOST accept connections, one line per open port (\"ADDRESS:PORT open\"). Exit status 0 when any is open, 1 when none is."
)]
pub struct ScanArgs {
    /// A host name or address
    host: String,
    /// Ports and ranges: 22, 1-1024, 1-1024,8080
    ports: Ports,
    /// At most N connection attempts at once
    #[arg(long, short = 'c', value_name = "N", default_value_t = 100, value_parser = |text: &str| crate::server::whole_number(text, 1, 10_000))]
    concurrency: usize,
    /// Seconds one attempt may take before the port counts as closed
    #[arg(long, short = 't', value_name = "SECONDS", default_value = "1", value_parser = crate::server::seconds)]
    timeout: Duration,
    /// Also print closed ports
    #[arg(long, short = 'a')]
    all: bool,
}

/// The first address of `host` in `family` (any, unless -4 or -6 says).
pub async fn resolve(host: &str, family: Family) -> anyhow::Result<IpAddr> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(ip);
    }
    let found = tokio::net::lookup_host((bare, 0))
        .await
        .with_context(|| format!("resolving \"{host}\""))?;
    found
        .map(|a| a.ip())
        .find(|ip| match family {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
            _ => true,
        })
        .with_context(|| format!("resolving \"{host}\": no address of the family asked for"))
}

pub async fn run(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: ScanArgs = match crate::subcommand::parse("scan", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let ip = resolve(&args.host, plan.family).await?;
    let config = ScanConfig {
        concurrency: args.concurrency,
        timeout: args.timeout,
    };
    let mut out = String::new();
    let mut stdout_closed = false;
    let probes = scan::scan(ip, &args.ports, config, |probe| {
        if (probe.state == PortState::Open || args.all) && !stdout_closed {
            out.clear();
            out.push_str(&probe.to_string());
            out.push('\n');
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush())
                .is_err()
            {
                stdout_closed = true;
            }
        }
    })
    .await;
    let open = probes.iter().filter(|p| p.state == PortState::Open).count();
    tracing::info!("{} of {} port(s) of {ip} open", open, args.ports.len());
    Ok(if open > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
