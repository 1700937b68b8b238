//! The command line, in two steps as ripgrep does it: [`parse`] mirrors what was typed
//! (flags in socat's single-dash style, then positionals), and [`Plan::from_args`] turns that
//! into what the program will run. Each flag is defined once, in [`FLAGS`], with its help.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::Duration;

use socketry::address::{display_bytes, Quoted};

/// One command-line flag.
#[derive(Debug)]
pub struct FlagDef {
    /// As typed, with its dash: `-b`.
    pub name: &'static str,
    /// The value's name, for flags that take one (`-b 65536` or `-b65536`).
    pub value: Option<&'static str>,
    /// Whether the value may also be glued to the flag or left out (`-ly`, `-lydaemon`).
    pub glued_optional: bool,
    pub help: &'static str,
}

macro_rules! flag {
    ($name:literal, $help:literal) => {
        FlagDef {
            name: $name,
            value: None,
            glued_optional: false,
            help: $help,
        }
    };
    ($name:literal, $value:literal, $help:literal) => {
        FlagDef {
            name: $name,
            value: Some($value),
            glued_optional: false,
            help: $help,
        }
    };
}

pub static FLAGS: &[FlagDef] = &[
    flag!(
        "-V",
        "print the version and the features built in, then exit"
    ),
    flag!(
        "-h",
        "print help with the address types (-hh adds options, -hhh every alias); then exit"
    ),
    flag!(
        "-d",
        "more log messages: -d notices, -dd info, -ddd debug (repeatable; socat 1.8's -d2..-d4 work too)"
    ),
    flag!("-D", "log both endpoints before the transfer starts"),
    flag!(
        "-r",
        "FILE",
        "copy the raw bytes from the first address to the second to FILE, one file per relay ($$, $PROGNAME, $TIMESTAMP, $MICROS, $<PROGNAME>_PEERADDR and environment variables expanded)"
    ),
    flag!(
        "-R",
        "FILE",
        "copy the raw bytes from the second address to the first to FILE, as -r"
    ),
    flag!("-v", "dump transferred data to stderr as text"),
    flag!("-x", "dump transferred data to stderr as hex"),
    flag!(
        "-b",
        "SIZE",
        "bytes per direction's buffer (default 65536, at most 1073741824: 1 GiB)"
    ),
    flag!(
        "-t",
        "SECONDS",
        "after one direction's EOF, end the relay once the other has moved nothing this long (default 0.5)"
    ),
    flag!(
        "-T",
        "SECONDS",
        "end the relay after this long without data either way"
    ),
    flag!("-u", "relay from the first address to the second only"),
    flag!(
        "-s",
        "sloppy: a forking server logs an accept error and keeps accepting instead of ending"
    ),
    flag!("-U", "relay from the second address to the first only"),
    flag!("-4", "use IPv4 where an address does not say"),
    flag!("-6", "use IPv6 where an address does not say"),
    flag!(
        "-0",
        "prefer no IP version: listeners that name none serve both (on the IPv6 wildcard, unless net.ipv6.bindv6only is set)"
    ),
    flag!(
        "-lf",
        "FILE",
        "write log messages to FILE instead of stderr"
    ),
    FlagDef {
        name: "-ly",
        value: Some("FACILITY"),
        glued_optional: true,
        help: "write log messages to syslog (facility glued on, default daemon)",
    },
    flag!("-ls", "write log messages to stderr (the default)"),
    flag!("-lp", "NAME", "program name in log messages"),
    flag!("-lu", "microseconds in log timestamps"),
    flag!(
        "-S",
        "MASK",
        "the signals to catch, a bitmap with bit N for signal N (default 0x89de: HUP INT QUIT ILL ABRT BUS FPE SEGV TERM); HUP, INT and TERM stop gracefully, the others log \"exiting on signal N\" and exit 128+N; ILL, FPE and SEGV always keep their default action"
    ),
    flag!("-lh", "host name in log messages"),
    flag!(
        "--statistics",
        "log writes and bytes moved in each direction and connections at exit, and on SIGUSR1"
    ),
    flag!(
        "--stats",
        "as --statistics; servers add one line per open connection with its counters"
    ),
    flag!(
        "--log-format",
        "FORMAT",
        "text (socat's lines, the default) or json (one object per line, with typed fields)"
    ),
    flag!(
        "-L",
        "FILE",
        "lock file: if FILE exists, exit with an error; else create it holding socketry's pid, and remove it at exit"
    ),
    flag!(
        "-W",
        "FILE",
        "lock file: wait while FILE exists, then create it as -L does"
    ),
    flag!(
        "--experimental",
        "accepted for socat's command lines, where it unlocks netns and other new options; socketry's need no switch"
    ),
];

/// The command line as typed.
#[derive(Debug, Default, PartialEq)]
pub struct Args {
    /// Each flag and its value. Values and positionals are bytes, as the system gives them: a
    /// path need not be UTF-8.
    pub flags: Vec<(&'static str, Option<OsString>)>,
    pub positionals: Vec<OsString>,
}

/// A command line that does not parse.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FlagError {
    #[error("unknown option {} (see socketry -h)", Quoted(.0))]
    Unknown(String),
    #[error("unknown option {}: did you mean {known}? (see socketry -h)", Quoted(.given))]
    NearMiss { given: String, known: &'static str },
    #[error("option {flag} needs a value (expected {flag} <{value}>)")]
    MissingValue {
        flag: &'static str,
        value: &'static str,
    },
    #[error("invalid value {} for {flag} (expected {expected})", Quoted(.text))]
    InvalidValue {
        flag: &'static str,
        text: String,
        expected: &'static str,
    },
    #[error("{0}")]
    Usage(String),
}

/// An unknown flag, with the flag it is a near miss of. Flags of two or three characters are
/// all one edit from each other, so only longer ones get a suggestion.
fn unknown_flag(given: String) -> FlagError {
    let long_flags = FLAGS
        .iter()
        .map(|f| f.name)
        .chain(["--help", "--version"])
        .filter(|name| name.len() > 3);
    match socketry::address::suggest::nearest(&given, long_flags) {
        Some(known) if given.len() > 3 => FlagError::NearMiss { given, known },
        _ => FlagError::Unknown(given),
    }
}

/// The most detailed help, `-hhh`.
const MAX_HELP_LEVEL: usize = 3;

/// Splits the command line into flags and positionals. Flags come first; `--` ends them. A
/// lone `-` is an address (standard I/O), not a flag.
pub fn parse(argv: impl IntoIterator<Item = impl Into<OsString>>) -> Result<Args, FlagError> {
    let mut args = Args::default();
    let mut argv = argv.into_iter().map(Into::into).peekable();
    while let Some(arg) = argv.next() {
        let bytes = arg.as_bytes();
        if bytes == b"--" {
            args.positionals.extend(argv);
            break;
        }
        // "-", "-,raw,echo=0" and "-!!-" are addresses (standard I/O), not flags.
        if !bytes.starts_with(b"-")
            || bytes == b"-"
            || bytes.starts_with(b"-,")
            || bytes.starts_with(b"-!!")
            || !args.positionals.is_empty()
        {
            args.positionals.push(arg);
            continue;
        }
        // -dd, -ddd: repeated -d; -hh, -hhh likewise. Counts saturate at the highest level.
        if bytes.len() > 2 && bytes[1..].iter().all(|&b| b == b'd') {
            let count = (bytes.len() - 1).min(MAX_VERBOSITY);
            args.flags.extend(std::iter::repeat_n(("-d", None), count));
            continue;
        }
        // -d0 .. -d4: socat 1.8's numeric levels (-d2 notices, -d3 info, -d4 debug); a higher
        // number is the highest level, however many digits it has.
        if let Some(digits) = bytes
            .strip_prefix(b"-d")
            .filter(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
        {
            let level = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let count = level.saturating_sub(1).min(MAX_VERBOSITY);
            args.flags.extend(std::iter::repeat_n(("-d", None), count));
            continue;
        }
        if bytes.len() > 2 && bytes[1..].iter().all(|&b| b == b'h') {
            let count = (bytes.len() - 1).min(MAX_HELP_LEVEL);
            args.flags.extend(std::iter::repeat_n(("-h", None), count));
            continue;
        }
        match bytes {
            b"-?" | b"--help" => {
                args.flags.push(("-h", None));
                continue;
            }
            b"--version" => {
                args.flags.push(("-V", None));
                continue;
            }
            _ => {}
        }
        if let Some(def) = FLAGS.iter().find(|f| f.name.as_bytes() == bytes) {
            let value = match def.value {
                Some(_) if def.glued_optional => None,
                Some(value) => Some(argv.next().ok_or(FlagError::MissingValue {
                    flag: def.name,
                    value,
                })?),
                None => None,
            };
            args.flags.push((def.name, value));
            continue;
        }
        // A value glued to its flag: -b65536, -lydaemon, -t0.1.
        let glued = FLAGS
            .iter()
            .filter(|d| d.value.is_some())
            .find(|d| bytes.starts_with(d.name.as_bytes()) && bytes.len() > d.name.len());
        match glued {
            Some(def) => {
                let value = OsString::from_vec(bytes[def.name.len()..].to_vec());
                args.flags.push((def.name, Some(value)));
            }
            None => return Err(unknown_flag(display_bytes(bytes))),
        }
    }
    Ok(args)
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Version,
    Help {
        level: usize,
    },
    /// `socketry ADDRESS ADDRESS`.
    Relay {
        first: OsString,
        second: OsString,
    },
    /// `socketry server`, `nc`, ...: socketry's own subcommands, with their own flags.
    Subcommand {
        subcommand: crate::subcommand::Subcommand,
        args: Vec<String>,
    },
    /// `socketry client HOST PORT` or `client ADDRESS`: stdio to a server, until it closes.
    Client {
        address: OsString,
    },
    /// `socketry connect ADDRESS`: stdio to an endpoint, netcat style.
    Connect {
        address: OsString,
    },
    /// `socketry listen ADDRESS`: stdio to the first peer of a listening address.
    Listen {
        address: OsString,
    },
}

/// Where log messages go.
#[derive(Debug, Clone, PartialEq)]
pub enum LogTarget {
    Stderr,
    File(PathBuf),
    Syslog { facility: String },
}

/// How log messages are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// socat's lines: `2026/11/21 16:30:00 socketry[1234] N message`.
    Text,
    /// One JSON object per line, with the event's fields typed.
    Json,
}

/// Everything the program will do.
#[derive(Debug, PartialEq)]
pub struct Plan {
    pub command: Command,
    /// 0: errors and warnings; 1: notices; 2: info; 3: debug.
    pub verbosity: usize,
    pub log_endpoints: bool,
    pub dump: Option<socketry::relay::DumpFormat>,
    /// `-r`: the file name template of the left-to-right raw dump.
    pub raw_left_to_right: Option<OsString>,
    /// `-R`: the right-to-left one.
    pub raw_right_to_left: Option<OsString>,
    pub buffer_size: Option<usize>,
    pub linger: Option<Duration>,
    pub inactivity: Option<Duration>,
    pub directions: socketry::relay::Directions,
    pub family: socketry::address::Family,
    /// `-0`: listeners that name no family serve IPv4 and IPv6.
    pub both_versions: bool,
    pub log_target: LogTarget,
    pub program_name: Option<String>,
    pub log_micros: bool,
    pub log_hostname: bool,
    pub statistics: bool,
    pub sloppy: bool,
    pub log_format: LogFormat,
    /// `-S`: bit N set catches signal N.
    pub signal_mask: u64,
    /// `-L` or `-W`: the lock file, and whether to wait while another holds it.
    pub lock: Option<(PathBuf, LockWait)>,
}

/// What `-L` and `-W` do when the lock file exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockWait {
    /// `-L`: exit with an error.
    Fail,
    /// `-W`: wait until it is gone.
    Wait,
}

/// The signals caught unless `-S` says otherwise: HUP, INT, QUIT, ILL, ABRT, BUS, FPE, SEGV
/// and TERM, as socat catches them.
pub const DEFAULT_SIGNAL_MASK: u64 = 0x89de;

fn signal_mask(text: &str) -> Result<u64, FlagError> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed
        .ok()
        .filter(|mask| *mask < 1 << 32)
        .ok_or_else(|| FlagError::InvalidValue {
            flag: "-S",
            text: text.to_owned(),
            expected: "a bitmap of signals below 32, e.g. 0x89de or 35294",
        })
}

fn seconds(flag: &'static str, text: &str) -> Result<Duration, FlagError> {
    socketry::address::options::parse_seconds(text).ok_or_else(|| FlagError::InvalidValue {
        flag,
        text: text.to_owned(),
        expected: "seconds from 0 to 3155760000 (a century), e.g. 0.5",
    })
}

/// The largest `-b`: each direction allocates a buffer of this size up front (and a forking
/// server one pair per connection), so a typo must not ask for terabytes.
pub const MAX_BUFFER_SIZE: usize = 1 << 30;

fn buffer_size(text: &str) -> Result<usize, FlagError> {
    let invalid = |expected| FlagError::InvalidValue {
        flag: "-b",
        text: text.to_owned(),
        expected,
    };
    // Digits only: a number too large for any integer is still "too large", not "not a number".
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("a positive byte count"));
    }
    match text.parse::<usize>() {
        Ok(0) => Err(invalid("a positive byte count")),
        Ok(size) if size <= MAX_BUFFER_SIZE => Ok(size),
        _ => Err(invalid(
            "at most 1073741824 bytes, 1 GiB: each direction allocates a buffer this size; buffer size option (-b) to big, in the words scripts written for socat look for",
        )),
    }
}

/// The most `-d` counts: debug, the most detailed level, is the fourth.
const MAX_VERBOSITY: usize = 4;

impl Plan {
    pub fn from_args(args: Args) -> Result<Plan, FlagError> {
        use socketry::address::Family;
        use socketry::relay::{Directions, DumpFormat};
        let mut plan = Plan {
            command: Command::Version,
            verbosity: 0,
            log_endpoints: false,
            dump: None,
            raw_left_to_right: None,
            raw_right_to_left: None,
            buffer_size: None,
            linger: None,
            inactivity: None,
            directions: Directions::Both,
            family: Family::Any,
            both_versions: false,
            log_target: LogTarget::Stderr,
            program_name: None,
            log_micros: false,
            log_hostname: false,
            statistics: false,
            sloppy: false,
            log_format: LogFormat::Text,
            signal_mask: DEFAULT_SIGNAL_MASK,
            lock: None,
        };
        let mut help = 0;
        let mut version = false;
        for (flag, value) in args.flags {
            let value = value.unwrap_or_default();
            // Every value but a file name is text.
            let text = || {
                value
                    .to_str()
                    .map(str::to_owned)
                    .ok_or_else(|| FlagError::InvalidValue {
                        flag,
                        text: display_bytes(value.as_bytes()),
                        expected: "UTF-8 text",
                    })
            };
            match flag {
                "-V" => version = true,
                "-h" => help = (help + 1).min(MAX_HELP_LEVEL),
                "-d" => plan.verbosity = (plan.verbosity + 1).min(MAX_VERBOSITY),
                "-D" => plan.log_endpoints = true,
                "-v" => plan.dump = Some(DumpFormat::Text),
                "-x" => plan.dump = Some(DumpFormat::Hex),
                "-r" => plan.raw_left_to_right = Some(value),
                "-R" => plan.raw_right_to_left = Some(value),
                "-b" => plan.buffer_size = Some(buffer_size(&text()?)?),
                "-t" => plan.linger = Some(seconds("-t", &text()?)?),
                "-T" => plan.inactivity = Some(seconds("-T", &text()?)?),
                "-u" => plan.directions = Directions::LeftToRight,
                "-s" => plan.sloppy = true,
                "-U" => plan.directions = Directions::RightToLeft,
                "-4" => (plan.family, plan.both_versions) = (Family::V4, false),
                "-6" => (plan.family, plan.both_versions) = (Family::V6, false),
                "-0" => (plan.family, plan.both_versions) = (Family::Any, true),
                "-lf" => plan.log_target = LogTarget::File(PathBuf::from(value)),
                "-ly" => {
                    let facility = match text()? {
                        given if given.is_empty() => "daemon".to_owned(),
                        given => given,
                    };
                    plan.log_target = LogTarget::Syslog { facility };
                }
                "-ls" => plan.log_target = LogTarget::Stderr,
                "-lp" => plan.program_name = Some(text()?),
                "-lu" => plan.log_micros = true,
                "-lh" => plan.log_hostname = true,
                "-S" => plan.signal_mask = signal_mask(&text()?)?,
                "--statistics" | "--stats" => plan.statistics = true,
                "-L" => plan.lock = Some((PathBuf::from(value), LockWait::Fail)),
                "-W" => plan.lock = Some((PathBuf::from(value), LockWait::Wait)),
                // socat gates its newer options behind it; socketry offers them all.
                "--experimental" => {}
                "--log-format" => {
                    let given = text()?;
                    plan.log_format = match given.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => {
                            return Err(FlagError::InvalidValue {
                                flag: "--log-format",
                                text: given,
                                expected: "text or json",
                            })
                        }
                    }
                }
                _ => return Err(FlagError::Unknown(flag.to_owned())),
            }
        }
        plan.command = if version {
            Command::Version
        } else if help > 0 {
            Command::Help { level: help }
        } else {
            command(args.positionals)?
        };
        Ok(plan)
    }
}

const USAGE: &str = "usage: socketry [options] ADDRESS ADDRESS | server [PORT|ADDRESS] | client HOST PORT | connect ADDRESS | listen ADDRESS";

/// `HOST PORT` as a TCP address, or a single argument as an address in socat's syntax. A
/// lone host (`connect 127.0.0.1`, `client localhost`) is a missing port, not an address.
fn host_port_or_address(verb: &str, rest: &[OsString]) -> Result<OsString, FlagError> {
    match rest {
        [host] if host.to_str().is_some_and(is_bare_host) => {
            let host = host.to_string_lossy();
            Err(FlagError::Usage(format!(
                "{verb} {}: the port is missing (expected {verb} HOST PORT, or {verb} ADDRESS such as TCP:{}:PORT)",
                escape_controls(&host),
                escape_controls(&bracketed(&host))
            )))
        }
        [address] => Ok(address.clone()),
        [host, port] => {
            fn text<'a>(verb: &str, arg: &'a OsStr, what: &str) -> Result<&'a str, FlagError> {
                arg.to_str().ok_or_else(|| {
                    FlagError::Usage(format!(
                        "{verb}: the {what} {} is not UTF-8",
                        Quoted(&display_bytes(arg.as_bytes()))
                    ))
                })
            }
            let host = bracketed(text(verb, host, "host")?);
            Ok(format!("TCP:{host}:{}", text(verb, port, "port")?).into())
        }
        _ => Err(FlagError::Usage(format!(
            "{verb} expects HOST PORT or one ADDRESS ({USAGE})"
        ))),
    }
}

/// An IPv6 address in brackets, as an address's host parameter writes it.
fn bracketed(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    socketry::address::escape_controls(text)
}

/// Whether `text` is a host name or IP address alone: not an address type, not socat syntax.
fn is_bare_host(text: &str) -> bool {
    let unbracketed = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if unbracketed.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !text.contains([':', ',', '/', '!', '\\', '\'', '"'])
        && socketry::registry::lookup(text).is_none()
        // A near miss of a type (TCP-LISTN) is a typo for which the parser has a suggestion.
        && socketry::address::suggest::nearest(text, socketry::registry::names()).is_none()
        && !text.bytes().all(|b| b.is_ascii_digit())
        && matches!(
            socketry::address::Host::parse(text),
            Some(socketry::address::Host::Name(_))
        )
}

fn port_or_address(
    verb: &str,
    rest: &[OsString],
    default: Option<&str>,
) -> Result<OsString, FlagError> {
    match rest {
        [] => default
            .map(OsString::from)
            .ok_or_else(|| FlagError::Usage(format!("{verb} expects a PORT or an ADDRESS"))),
        [arg] if !arg.is_empty() && arg.as_bytes().iter().all(u8::is_ascii_digit) => {
            let mut address = OsString::from("TCP-LISTEN:");
            address.push(arg);
            Ok(address)
        }
        [arg] => Ok(arg.clone()),
        _ => Err(FlagError::Usage(format!(
            "{verb} expects one PORT or ADDRESS ({USAGE})"
        ))),
    }
}

fn command(positionals: Vec<OsString>) -> Result<Command, FlagError> {
    let (verb, rest) = match positionals.split_first() {
        Some((verb, rest)) => (verb.to_str().unwrap_or_default(), rest),
        None => {
            return Err(FlagError::Usage(format!(
                "two addresses expected ({USAGE})"
            )))
        }
    };
    // socketry's own subcommands parse their arguments (and answer --help) themselves.
    let text: Option<Vec<String>> = rest.iter().map(|a| a.to_str().map(str::to_owned)).collect();
    if let Some(subcommand) =
        crate::subcommand::Subcommand::from_verb(verb, text.as_deref().unwrap_or_default())
    {
        let args = text
            .ok_or_else(|| FlagError::Usage(format!("{verb}: an argument is not valid UTF-8")))?;
        return Ok(Command::Subcommand { subcommand, args });
    }
    // `socketry help`, and `--help` or `-h` after a subcommand: the same help as `-h`.
    let asks_for_help = |args: &[OsString]| {
        args.iter()
            .any(|a| matches!(a.as_bytes(), b"--help" | b"-h" | b"-?"))
    };
    if verb == "help" && rest.is_empty()
        || matches!(verb, "client" | "connect" | "listen") && asks_for_help(rest)
    {
        return Ok(Command::Help { level: 1 });
    }
    Ok(match verb {
        "listen" => Command::Listen {
            address: port_or_address("listen", rest, None)?,
        },
        "client" => Command::Client {
            address: host_port_or_address("client", rest)?,
        },
        "connect" => Command::Connect {
            address: host_port_or_address("connect", rest)?,
        },
        _ => match positionals.as_slice() {
            [first, second] => Command::Relay {
                first: first.clone(),
                second: second.clone(),
            },
            [_] => {
                return Err(FlagError::Usage(format!(
                    "two addresses expected, got one ({USAGE})"
                )))
            }
            _ => {
                let all: Vec<String> = positionals
                    .iter()
                    .map(|p| display_bytes(p.as_bytes()))
                    .collect();
                return Err(FlagError::Usage(format!(
                    "two addresses expected, got {}: {} ({USAGE})",
                    positionals.len(),
                    Quoted(&all.join(" "))
                )));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(line: &str) -> Result<Plan, FlagError> {
        parse(line.split_whitespace().map(str::to_owned)).and_then(Plan::from_args)
    }

    #[test]
    fn parses_socat_style_flags() {
        let p = plan("-dd -v -b 4096 -t 1.5 -T3 -u -6 -lu -lh -ly STDIO TCP:h:1").unwrap();
        assert_eq!(p.verbosity, 2);
        assert_eq!(p.dump, Some(socketry::relay::DumpFormat::Text));
        assert_eq!(p.buffer_size, Some(4096));
        assert_eq!(p.linger, Some(Duration::from_millis(1500)));
        assert_eq!(p.inactivity, Some(Duration::from_secs(3)));
        assert_eq!(p.directions, socketry::relay::Directions::LeftToRight);
        assert_eq!(p.family, socketry::address::Family::V6);
        assert_eq!(
            p.log_target,
            LogTarget::Syslog {
                facility: "daemon".into()
            }
        );
        assert!(p.log_micros && p.log_hostname);
        assert_eq!(
            p.command,
            Command::Relay {
                first: "STDIO".into(),
                second: "TCP:h:1".into()
            }
        );
        assert_eq!(plan("-b65536 - -").unwrap().buffer_size, Some(65536));
        assert_eq!(
            plan("-t 1 -!!- PIPE").unwrap().command,
            Command::Relay {
                first: "-!!-".into(),
                second: "PIPE".into()
            }
        );
        assert_eq!(
            plan("-,raw,echo=0 TCP:h:1").unwrap().command,
            Command::Relay {
                first: "-,raw,echo=0".into(),
                second: "TCP:h:1".into()
            }
        );
        assert_eq!(plan("-d -d -d -d - -").unwrap().verbosity, 4);
        assert_eq!(plan("-d2 - -").unwrap().verbosity, 1);
        assert!(plan("-s - -").unwrap().sloppy);
        assert!(!plan("- -").unwrap().sloppy);
        assert_eq!(plan("-d4 - -").unwrap().verbosity, 3);
        assert_eq!(plan("-hhh").unwrap().command, Command::Help { level: 3 });
        assert_eq!(
            plan("-lf /tmp/log - -").unwrap().log_target,
            LogTarget::File("/tmp/log".into())
        );
    }

    #[test]
    fn parses_the_tutorial_commands() {
        assert_eq!(
            plan("server --chat 8080").unwrap().command,
            Command::Subcommand {
                subcommand: crate::subcommand::Subcommand::Server,
                args: vec!["--chat".into(), "8080".into()]
            }
        );
        assert_eq!(
            plan("client 127.0.0.1 8080").unwrap().command,
            Command::Client {
                address: "TCP:127.0.0.1:8080".into()
            }
        );
        assert_eq!(
            plan("client ::1 8080").unwrap().command,
            Command::Client {
                address: "TCP:[::1]:8080".into()
            }
        );
        assert_eq!(
            plan("connect UNIX:/s").unwrap().command,
            Command::Connect {
                address: "UNIX:/s".into()
            }
        );
        assert_eq!(
            plan("listen 9000").unwrap().command,
            Command::Listen {
                address: "TCP-LISTEN:9000".into()
            }
        );
    }

    #[test]
    fn help_is_asked_for_in_every_usual_way() {
        for line in [
            "help",
            "--help",
            "-h",
            "-?",
            "client -h",
            "client h 1 --help",
            "connect --help",
            "listen -h",
            "-d listen --help",
        ] {
            assert_eq!(
                plan(line).unwrap().command,
                Command::Help { level: 1 },
                "{line}"
            );
        }
        // socketry's own subcommands answer --help from their own flag definitions.
        assert_eq!(
            plan("server --help").unwrap().command,
            Command::Subcommand {
                subcommand: crate::subcommand::Subcommand::Server,
                args: vec!["--help".into()]
            }
        );
        assert_eq!(
            plan("-hhhhhhhh").unwrap().command,
            Command::Help { level: 3 }
        );
        // An address of that name is still an address.
        assert!(matches!(
            plan("help STDIO").map(|p| p.command),
            Ok(Command::Relay { .. })
        ));
    }

    #[test]
    fn limits_flags_and_saturates_counts() {
        assert_eq!(plan("-d100000000 - -").unwrap().verbosity, 4);
        assert_eq!(plan("-d18446744073709551615 - -").unwrap().verbosity, 4);
        assert_eq!(plan("-d99999999999999999999999 - -").unwrap().verbosity, 4);
        assert_eq!(plan("-dddddddddd - -").unwrap().verbosity, 4);
        assert_eq!(
            plan("-b 1073741824 - -").unwrap().buffer_size,
            Some(1 << 30)
        );
        let cases = [
            (
                "-b 1073741825 - -",
                "invalid value \"1073741825\" for -b (expected at most 1073741824 bytes",
            ),
            (
                "-b 18446744073709551616 - -",
                "(expected at most 1073741824 bytes",
            ),
            ("-b -1 - -", "(expected a positive byte count)"),
            (
                "-T 1e19 - -",
                "(expected seconds from 0 to 3155760000 (a century), e.g. 0.5)",
            ),
            ("-t NaN - -", "invalid value \"NaN\" for -t"),
            ("-t inf - -", "invalid value \"inf\" for -t"),
            ("-T -0.5 - -", "invalid value \"-0.5\" for -T"),
        ];
        for (line, want) in cases {
            let err = plan(line).expect_err(line).to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }

    #[test]
    fn rejects_bad_command_lines() {
        let cases = [
            ("-q - -", "unknown option \"-q\""),
            ("-b", "option -b needs a value"),
            ("-b x - -", "invalid value \"x\" for -b"),
            ("-t soon - -", "invalid value \"soon\" for -t"),
            ("STDIO", "two addresses expected, got one"),
            ("", "two addresses expected"),
            ("a b c", "got 3: \"a b c\""),
            ("client", "client expects HOST PORT"),
            (
                "connect 127.0.0.1",
                "connect 127.0.0.1: the port is missing",
            ),
            ("client [::1]", "client [::1]: the port is missing"),
            ("--statistic - -", "did you mean --statistics?"),
        ];
        for (line, want) in cases {
            let err = plan(line).expect_err(line).to_string();
            assert!(err.contains(want), "{line}: {err}");
        }
    }
}
