//! The program family's address types: `EXEC` (a program and its arguments, no shell),
//! `SYSTEM` (`/bin/sh -c`) and `SHELL` (`$SHELL -c`).

use crate::address::{
    escape, join_command_line, split_command_line, AddressType, Definition, FamilySpec,
    FamilyTypes, Groups, Options, Params, ParseErrorKind,
};
use crate::endpoint::connection::{OpenContext, Opened};
use crate::endpoint::error::OpenError;

/// The program an address runs, as its type and parameter give it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Program {
    /// A program run without a shell: its argument vector, program first (never empty).
    Exec(Vec<String>),
    /// A command line run by `/bin/sh -c`.
    System(String),
    /// A command line run by the user's shell (`$SHELL -c`, else `/bin/sh -c`).
    Shell(String),
}

const GROUPS: Groups = Groups::ALL
    .union(Groups::STREAM)
    .union(Groups::EXEC)
    .union(Groups::TERMINAL);

fn argv(params: &Params<'_>) -> Result<Program, ParseErrorKind> {
    let line = params.text(0)?;
    match split_command_line(line) {
        Some(argv) if !argv.is_empty() => Ok(Program::Exec(argv)),
        Some(_) => Err(ParseErrorKind::InvalidParameter {
            what: "command line",
            text: line.to_owned(),
            expected: "a program and its arguments",
        }),
        None => Err(ParseErrorKind::InvalidParameter {
            what: "command line",
            text: line.to_owned(),
            expected: "every quote closed",
        }),
    }
}

fn shell_command(params: &Params<'_>) -> Result<String, ParseErrorKind> {
    let command = params.text(0)?;
    if command.trim().is_empty() {
        return Err(ParseErrorKind::InvalidParameter {
            what: "shell command",
            text: command.to_owned(),
            expected: "a command",
        });
    }
    Ok(command.to_owned())
}

static EXEC: Definition<Program> = Definition {
    ty: AddressType::new(
        "EXEC",
        &[],
        &["command-line"],
        GROUPS,
        "run a program (no shell; the line is split into words, honouring quotes)",
    ),
    parse: argv,
};
static SYSTEM: Definition<Program> = Definition {
    ty: AddressType::new(
        "SYSTEM",
        &[],
        &["shell-command"],
        GROUPS,
        "run a command through /bin/sh -c",
    ),
    parse: |p| shell_command(p).map(Program::System),
};
static SHELL: Definition<Program> = Definition {
    ty: AddressType::new(
        "SHELL",
        &[],
        &["shell-command"],
        GROUPS,
        "run a command through $SHELL -c (/bin/sh if SHELL is unset)",
    ),
    parse: |p| shell_command(p).map(Program::Shell),
};

/// The program family: its address types and features.
pub static FAMILY: FamilyTypes<Program> = FamilyTypes {
    features: &["EXEC", "SYSTEM", "SHELL"],
    types: &[&EXEC, &SYSTEM, &SHELL],
};

impl FamilySpec for Program {
    fn address_type(&self) -> &'static AddressType {
        match self {
            Program::Exec(_) => &EXEC.ty,
            Program::System(_) => &SYSTEM.ty,
            Program::Shell(_) => &SHELL.ty,
        }
    }

    fn fmt_params(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Program::Exec(argv) => write!(f, ":{}", escape(&join_command_line(argv))),
            Program::System(command) | Program::Shell(command) => {
                write!(f, ":{}", escape(command))
            }
        }
    }

    /// A program's options are read into its [`ProgramSpec`](super::ProgramSpec) now, so
    /// that what cannot run is refused before anything listens.
    fn check(&self, options: &Options) -> Result<(), ParseErrorKind> {
        super::ProgramSpec::parse(self, options).map(drop)
    }
}

impl Program {
    /// Starts the program, its channel connected as the options say.
    pub async fn open(
        &self,
        options: &Options,
        context: &OpenContext,
    ) -> Result<Opened, OpenError> {
        super::open(self, options, context).map(Opened::Connection)
    }
}
