//! `socketry proxy [PORT|ADDRESS]`: the SOCKS4/4a/5 and HTTP (CONNECT and forwarding) proxy of
//! [`socketry::server::proxy`] on a listening address, served with `socketry server`'s
//! machinery: connection cap, access lists, idle timeout, draining on signals, statistics.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use socketry::address::options::Groups;
use socketry::address::IpRange;
use socketry::server::proxy::{self, DestinationRule, Users};
use socketry::server::{AccessList, Mode};

use crate::flags::Plan;
use crate::server::{
    check_access, listening_address, listening_spec, seconds, serve_until_drained,
};
use crate::subcommand::Parsed;

/// `socketry proxy`: a SOCKS and HTTP proxy.
#[derive(Debug, clap::Parser)]
#[command(
    name = "socketry proxy",
    about = "A proxy server: SOCKS4, SOCKS4a, SOCKS5 (CONNECT, UDP ASSOCIATE), HTTP CONNECT and plain HTTP (absolute http:// URIs, forwarded) on one port, told apart by the first byte.",
    after_help = "ADDRESS is a stream listening address: TCP-LISTEN:1080,bind=127.0.0.1, UNIX-LISTEN:/run/proxy.sock ...\n\
                  With --user or --users, SOCKS5 clients must log in (RFC 1929) and HTTP clients send Proxy-Authorization: Basic; SOCKS4 and SOCKS4a, which carry no password, are then refused.\n\
                  A plain HTTP request (GET http://host/path) is forwarded in origin form, its hop-by-hop fields and credentials taken out, one request per connection (Connection: close).\n\
                  Without --to, every destination is allowed. Names are resolved by the proxy, and --to is checked against the addresses they resolve to.\n\
                  Each tunnel is logged when it ends, with client, destination, bytes each way and duration; each refusal with its reason.\n\
                  The first SIGINT or SIGTERM stops accepting and lets open tunnels finish for up to --grace seconds; a second one closes them at once."
)]
pub struct ProxyArgs {
    /// A port (TCP on every address) or a listening address [default: TCP-LISTEN:1080]
    #[arg(value_name = "PORT|ADDRESS")]
    address: Option<String>,
    /// Require credentials: accept this name and password (repeatable)
    #[arg(long, value_name = "NAME:PASS")]
    user: Vec<String>,
    /// Require credentials: accept every NAME:PASS line of FILE (# starts a comment)
    #[arg(long, value_name = "FILE")]
    users: Vec<std::path::PathBuf>,
    /// Admit only clients in this range (ADDR, ADDR/BITS; IPv4 or IPv6; repeatable)
    #[arg(long, value_name = "CIDR")]
    allow: Vec<IpRange>,
    /// Refuse clients in this range, even if allowed (repeatable)
    #[arg(long, value_name = "CIDR")]
    deny: Vec<IpRange>,
    /// Allow only destinations in this range, on this port or ports (10.0.0.0/8:443,
    /// [::1]:8000-8099; repeatable) [default: every destination]
    #[arg(long, value_name = "CIDR[:PORT]")]
    to: Vec<DestinationRule>,
    /// At most N connections at once; one more is closed as soon as it arrives
    #[arg(long, value_name = "N", value_parser = crate::server::count)]
    max_conns: Option<usize>,
    /// Seconds a client has to send its whole request
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    handshake_timeout: Duration,
    /// Seconds connecting to a destination may take, resolving its name included
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    connect_timeout: Duration,
    /// Close a tunnel after SECONDS with no data either way
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    idle_timeout: Option<Duration>,
    /// Seconds open tunnels get to finish after the first SIGINT or SIGTERM
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
    grace: Duration,
}

fn users(args: &ProxyArgs) -> anyhow::Result<Users> {
    let mut users = Users::default();
    for entry in &args.user {
        users.add(entry).context("--user")?;
    }
    for file in &args.users {
        let before = users.len();
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--users {}: reading it", file.display()))?;
        users
            .add_file(&text)
            .with_context(|| format!("--users {}", file.display()))?;
        if users.len() == before {
            anyhow::bail!("--users {}: no NAME:PASS line in it", file.display());
        }
    }
    Ok(users)
}

pub async fn run(args: &[String], plan: &Plan) -> anyhow::Result<ExitCode> {
    let args: ProxyArgs = match crate::subcommand::parse("proxy", args)? {
        Parsed::Run(args) => args,
        Parsed::Exit(code) => return Ok(code),
    };
    let default = format!("TCP-LISTEN:{}", proxy::DEFAULT_PORT);
    let text = listening_address(args.address.as_deref(), &default);
    let spec = listening_spec(&text, "proxy")?;
    if !spec.has_group(Groups::STREAM) {
        anyhow::bail!("proxy needs a stream listening address such as TCP-LISTEN:1080 or UNIX-LISTEN:/path, not \"{spec}\"");
    }
    let access = AccessList {
        allow: args.allow.clone(),
        deny: args.deny.clone(),
    };
    check_access(&spec, &access)?;
    let settings = proxy::Settings {
        users: users(&args)?,
        destinations: args.to.clone(),
        handshake_timeout: args.handshake_timeout,
        connect_timeout: args.connect_timeout,
    };
    serve_until_drained(
        &spec,
        Mode::Proxy(Arc::new(settings)),
        access,
        args.max_conns,
        args.idle_timeout,
        args.grace,
        plan,
    )
    .await
}
