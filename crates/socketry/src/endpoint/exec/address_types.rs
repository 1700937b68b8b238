//! The program family's address types: `EXEC` (a program and its arguments, no shell),
//! `SYSTEM` (`/bin/sh -c`) and `SHELL` (`$SHELL -c`).

use crate::address::{
    split_command_line, AddressType, Definition, FamilyTypes, Groups, Params, ParseErrorKind,
};

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

pub(super) static EXEC: Definition<Program> = Definition {
    ty: AddressType::new(
        "EXEC",
        &[],
        &["command-line"],
        GROUPS,
        "run a program (no shell; the line is split into words, honouring quotes)",
    ),
    parse: argv,
};
pub(super) static SYSTEM: Definition<Program> = Definition {
    ty: AddressType::new(
        "SYSTEM",
        &[],
        &["shell-command"],
        GROUPS,
        "run a command through /bin/sh -c",
    ),
    parse: |p| shell_command(p).map(Program::System),
};
pub(super) static SHELL: Definition<Program> = Definition {
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
