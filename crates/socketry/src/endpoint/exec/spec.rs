//! What EXEC, SYSTEM and SHELL run and how, read from the address once, when it is parsed:
//! the [`ProgramSpec`]. How the program's input and output are connected is one [`ProgramIo`],
//! so a program cannot be given both a pseudo-terminal and pipes; every combination of
//! options that cannot work is refused here, naming both options, before anything listens.
//! `socktype` chooses the socket pair's type, and `f-setpipe-sz` the pipes' capacity.

use std::os::fd::RawFd;

use super::address_types::Program;
use crate::address::{OptionId, Options, ParseErrorKind};
use crate::endpoint::pty::Allocation;
use crate::endpoint::terminal;
use crate::users::Account;

/// How the program's standard input and output are connected: exactly one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgramIo {
    /// One Unix stream socket pair, both ways (the default).
    SocketPair,
    /// Two pipes, one each way (`pipes`).
    Pipes,
    /// A pseudo-terminal (`pty`, `openpty` or `ptmx`).
    Pty(ProgramPty),
    /// `nofork`: the first address's own descriptors, with no channel of socketry's between
    /// the program and its peer.
    FirstAddress,
}

/// A program's pseudo-terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramPty {
    /// How the pseudo-terminal is allocated.
    pub allocation: Allocation,
    /// Whether it becomes the program's controlling terminal (`ctty`, on by default).
    pub controlling_terminal: bool,
    /// The terminal settings (`raw`, `echo=0`, ...), in the order given.
    pub settings: Options,
}

/// Everything about a program endpoint but the connection it serves.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSpec {
    /// What runs.
    pub program: Program,
    /// How its input and output are connected.
    pub io: ProgramIo,
    /// The descriptor `fdin` says the program reads from (0 without it).
    pub fdin: Option<RawFd>,
    /// The descriptor `fdout` says the program writes to (1 without it).
    pub fdout: Option<RawFd>,
    /// Whether its standard error goes to the peer too (`stderr`).
    pub stderr: bool,
    /// Whether it runs in a new session (`setsid`).
    pub setsid: bool,
    /// Whether it runs in a new process group (`setpgid`).
    pub setpgid: bool,
    /// Who it runs as (`su`), resolved when the address was read.
    pub user: Option<Account>,
    /// The directory it runs in (`chdir`).
    pub chdir: Option<String>,
    /// Its file creation mask (`umask`), instead of socketry's.
    pub umask: Option<u32>,
    /// Variables added to its environment (`setenv`), in order.
    pub environment: Vec<(String, String)>,
    /// The type of its socket pair (`socktype`): a stream unless it says otherwise.
    pub socket_type: SocketType,
    /// The capacity of its pipes (`f-setpipe-sz`, with `pipes`).
    pub pipe_size: Option<u64>,
    /// The signals socketry passes to it instead of stopping on them (`sighup`, `sigint`,
    /// `sigquit`), by number.
    pub forwarded_signals: Vec<i32>,
}

/// The type of a program's socket pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketType {
    /// A byte stream (SOCK_STREAM, `socktype=1`), the default.
    Stream,
    /// Datagrams (SOCK_DGRAM, `socktype=2`): each write of the program's is one message.
    Datagram,
    /// Sequenced packets (SOCK_SEQPACKET, `socktype=5`): messages, with an end.
    SeqPacket,
}

/// The options that choose a pseudo-terminal for the program.
const PTY_OPTIONS: [OptionId; 3] = [OptionId::Pty, OptionId::Openpty, OptionId::Ptmx];

impl ProgramSpec {
    /// Reads the program spec of `program` (EXEC, SYSTEM or SHELL) and its options, refusing
    /// every combination that cannot work with an error that names both options. A pure
    /// function of the address: users were resolved when its options were read.
    pub fn parse(program: &Program, options: &Options) -> Result<ProgramSpec, ParseErrorKind> {
        if matches!(program, Program::Exec(argv) if argv.is_empty()) {
            return Err(ParseErrorKind::InvalidParameter {
                what: "command line",
                text: String::new(),
                expected: "a program and its arguments",
            });
        }
        let io = program_io(options)?;
        let descriptor = |id| options.count(id).and_then(|n| RawFd::try_from(n).ok());
        let (given_in, given_out) = (descriptor(OptionId::FdIn), descriptor(OptionId::FdOut));
        let fdin = given_in.unwrap_or(0);
        let fdout = given_out.unwrap_or(1);
        let stderr = options.flag(OptionId::Stderr, false);
        // With nofork the program has whichever of the first address's descriptors the
        // relay would have used; only a channel of socketry's needs both numbers free.
        if io != ProgramIo::FirstAddress {
            if fdin == fdout {
                return Err(combination(
                    [OptionId::FdIn, OptionId::FdOut],
                    format!(
                        "fdin and fdout are both {fdin}: the program's input and output need two descriptors"
                    ),
                ));
            }
            if stderr && (fdin == 2 || fdout == 2) {
                let placed = if fdin == 2 {
                    OptionId::FdIn
                } else {
                    OptionId::FdOut
                };
                return Err(combination(
                    [OptionId::Stderr, placed],
                    "stderr cannot be combined with fdin=2 or fdout=2".to_owned(),
                ));
            }
        }
        let socket_type = match options.socktype() {
            Some(2) => SocketType::Datagram,
            Some(5) => SocketType::SeqPacket,
            _ => SocketType::Stream,
        };
        if options.has(OptionId::SockType) && io != ProgramIo::SocketPair {
            let other = channel_option(options, &io);
            return Err(combination(
                [OptionId::SockType, other],
                format!(
                    "socktype: the program talks over {}, not a socket pair",
                    channel_words(&io)
                ),
            ));
        }
        let pipe_size = options.count(OptionId::PipeSize);
        if pipe_size.is_some() && io != ProgramIo::Pipes {
            return Err(combination(
                [OptionId::PipeSize, OptionId::Pipes],
                format!(
                    "f-setpipe-sz: the program talks over {}; its pipes' size applies with pipes",
                    channel_words(&io)
                ),
            ));
        }
        Ok(ProgramSpec {
            program: program.clone(),
            io,
            fdin: given_in,
            fdout: given_out,
            stderr,
            setsid: options.flag(OptionId::Setsid, false),
            setpgid: options.flag(OptionId::Setpgid, false),
            user: options.account(OptionId::Su).cloned(),
            chdir: options.text(OptionId::Chdir).map(str::to_owned),
            umask: options.umask(),
            environment: options
                .assignments()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
            socket_type,
            pipe_size,
            forwarded_signals: [
                (OptionId::SigHup, nix::libc::SIGHUP),
                (OptionId::SigInt, nix::libc::SIGINT),
                (OptionId::SigQuit, nix::libc::SIGQUIT),
            ]
            .into_iter()
            .filter(|(id, _)| options.flag(*id, false))
            .map(|(_, number)| number)
            .collect(),
        })
    }
}

impl ProgramSpec {
    /// The descriptor the program reads from.
    pub fn input_fd(&self) -> RawFd {
        self.fdin.unwrap_or(0)
    }

    /// The descriptor the program writes to.
    pub fn output_fd(&self) -> RawFd {
        self.fdout.unwrap_or(1)
    }
}

/// The one way the program's input and output are connected.
fn program_io(options: &Options) -> Result<ProgramIo, ParseErrorKind> {
    let pty = PTY_OPTIONS.into_iter().find(|id| options.flag(*id, false));
    let pipes = options.flag(OptionId::Pipes, false);
    let ctty = options.has(OptionId::Ctty).then_some(OptionId::Ctty);
    let settings = terminal::first(options);
    if options.flag(OptionId::Nofork, false) {
        // Any option that shapes a channel of socketry's, given at all (pipes=0 too). A
        // pseudo-terminal is the exception socat makes: scripts write `pty,setsid,nofork`,
        // and the program then runs on the first address's descriptors, no terminal
        // between (logged when it starts).
        let channel = [OptionId::Ctty, OptionId::Pipes]
            .into_iter()
            .find(|id| options.has(*id))
            .or(settings);
        return match channel {
            Some(id) => Err(combination(
                [id, OptionId::Nofork],
                format!(
                    "{}: with nofork the program has the first address's descriptors, not a channel of socketry's",
                    id.def().name
                ),
            )),
            None => Ok(ProgramIo::FirstAddress),
        };
    }
    match pty {
        Some(pty) if pipes => Err(combination(
            [pty, OptionId::Pipes],
            format!(
                "{} and pipes cannot be combined: the program gets one or the other (both say how its input and output are connected; give one)",
                pty.def().name
            ),
        )),
        Some(_) => Ok(ProgramIo::Pty(ProgramPty {
            allocation: Allocation::from_options(options),
            controlling_terminal: options.flag(OptionId::Ctty, true),
            settings: terminal_settings(options),
        })),
        None => {
            if let Some(ctty) = ctty {
                return Err(combination(
                    [ctty, OptionId::Pty],
                    "ctty: the program gets a controlling terminal only with pty".to_owned(),
                ));
            }
            if let Some(named) = settings {
                return Err(combination(
                    [named, OptionId::Pty],
                    format!(
                        "{}: terminal options apply to a program only with pty",
                        named.def().name
                    ),
                ));
            }
            Ok(if pipes {
                ProgramIo::Pipes
            } else {
                ProgramIo::SocketPair
            })
        }
    }
}

/// How `io` connects the program, in words for errors.
fn channel_words(io: &ProgramIo) -> &'static str {
    match io {
        ProgramIo::SocketPair => "a socket pair",
        ProgramIo::Pipes => "two pipes",
        ProgramIo::Pty(_) => "a pseudo-terminal",
        ProgramIo::FirstAddress => "the first address's descriptors (nofork)",
    }
}

/// The option that chose `io`, to name beside another in errors.
fn channel_option(options: &Options, io: &ProgramIo) -> OptionId {
    match io {
        ProgramIo::Pipes => OptionId::Pipes,
        ProgramIo::FirstAddress => OptionId::Nofork,
        ProgramIo::Pty(_) | ProgramIo::SocketPair => PTY_OPTIONS
            .into_iter()
            .find(|id| options.flag(*id, false))
            .unwrap_or(OptionId::Pty),
    }
}

/// The terminal settings among `options`, in their order.
fn terminal_settings(options: &Options) -> Options {
    let mut settings = Options::default();
    for (id, value) in options.iter() {
        if terminal::is_terminal_option(id) {
            settings.push(id, value.clone());
        }
    }
    settings
}

fn combination(options: [OptionId; 2], message: String) -> ParseErrorKind {
    ParseErrorKind::CannotCombine {
        options: options.map(|id| id.def().name),
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::address::ParseError;
    use crate::registry::{Address, Kind};

    fn parsed(address: &str) -> Result<ProgramSpec, ParseError> {
        let address = Address::parse(address)?;
        let spec = address.specs().next().unwrap();
        let Kind::Exec(program) = &spec.kind else {
            panic!("{spec} is not a program");
        };
        Ok(ProgramSpec::parse(program, &spec.options).unwrap())
    }

    #[test]
    fn the_program_is_connected_one_way() {
        let io = |address: &str| parsed(address).unwrap().io;
        assert_eq!(io("EXEC:cat"), ProgramIo::SocketPair);
        assert_eq!(io("EXEC:cat,pipes"), ProgramIo::Pipes);
        assert_eq!(io("SYSTEM:cat,nofork"), ProgramIo::FirstAddress);
        assert_eq!(io("SYSTEM:cat,pty,setsid,nofork"), ProgramIo::FirstAddress);
        assert_eq!(io("EXEC:cat,pty=0,pipes=0"), ProgramIo::SocketPair);
        let ProgramIo::Pty(pty) = io("EXEC:cat,ptmx,ctty=0,raw,echo=0,setsid") else {
            panic!("ptmx implies pty");
        };
        assert_eq!(pty.allocation, Allocation::Ptmx);
        let spec = parsed("SYSTEM:cat,socktype=2").unwrap();
        assert_eq!(
            (spec.io, spec.socket_type),
            (ProgramIo::SocketPair, SocketType::Datagram)
        );
        let spec = parsed("EXEC:cat,pipes,f-setpipe-sz=131072").unwrap();
        assert_eq!(spec.pipe_size, Some(131_072));
        assert!(!pty.controlling_terminal);
        let names: Vec<_> = pty.settings.iter().map(|(id, _)| id.def().name).collect();
        assert_eq!(names, ["raw", "echo"]);
    }

    #[test]
    fn combinations_that_cannot_work_are_refused_naming_both() {
        let cases: &[(&str, [&str; 2], &str)] = &[
            (
                "EXEC:cat,pty,pipes",
                ["pty", "pipes"],
                "pty and pipes cannot be combined: the program gets one or the other (both say how its input and output are connected; give one)",
            ),
            (
                "EXEC:cat,pipes,ptmx",
                ["ptmx", "pipes"],
                "ptmx and pipes cannot be combined: the program gets one or the other (both say how its input and output are connected; give one)",
            ),
            (
                "SYSTEM:cat,nofork,pty,ctty",
                ["ctty", "nofork"],
                "ctty: with nofork the program has the first address's descriptors, not a channel of socketry's",
            ),
            (
                "SYSTEM:cat,pipes=0,nofork",
                ["pipes", "nofork"],
                "pipes: with nofork the program has the first address's descriptors, not a channel of socketry's",
            ),
            (
                "SYSTEM:cat,nofork,echo=0",
                ["echo", "nofork"],
                "echo: with nofork the program has the first address's descriptors, not a channel of socketry's",
            ),
            (
                "EXEC:cat,ctty",
                ["ctty", "pty"],
                "ctty: the program gets a controlling terminal only with pty",
            ),
            (
                "SYSTEM:true,raw",
                ["raw", "pty"],
                "raw: terminal options apply to a program only with pty",
            ),
            (
                "EXEC:cat,fdin=1",
                ["fdin", "fdout"],
                "fdin and fdout are both 1: the program's input and output need two descriptors",
            ),
            (
                "EXEC:cat,pipes,socktype=2",
                ["socktype", "pipes"],
                "socktype: the program talks over two pipes, not a socket pair",
            ),
            (
                "SYSTEM:cat,pty,so-type=5",
                ["socktype", "pty"],
                "socktype: the program talks over a pseudo-terminal, not a socket pair",
            ),
            (
                "EXEC:cat,f-setpipe-sz=65536",
                ["f-setpipe-sz", "pipes"],
                "f-setpipe-sz: the program talks over a socket pair; its pipes' size applies with pipes",
            ),
            (
                "EXEC:cat,stderr,fdout=2",
                ["stderr", "fdout"],
                "stderr cannot be combined with fdin=2 or fdout=2",
            ),
        ];
        for (address, names, message) in cases {
            let error = parsed(address).unwrap_err();
            assert_eq!(
                error.kind,
                ParseErrorKind::CannotCombine {
                    options: *names,
                    message: (*message).to_owned()
                },
                "{address}"
            );
            assert_eq!(error.to_string(), format!("{address}: {message}"));
        }
    }

    #[test]
    fn su_is_resolved_when_the_address_is_read() {
        let spec = parsed("SYSTEM:id,su=root").unwrap();
        let user = spec.user.unwrap();
        assert_eq!((user.name.as_str(), user.uid, user.gid), ("root", 0, 0));
        let error = Address::parse("EXEC:true,su=no-such-user-here").unwrap_err();
        assert_eq!(
            error.to_string(),
            "EXEC:true,su=no-such-user-here: su: no such user \"no-such-user-here\""
        );
    }
}
