//! Terminal settings: the termios options (`raw`, `rawer`, `sane`, `echo=0`, `icanon`, ...)
//! that PTY, EXEC's `pty`, and terminals opened as standard streams, `FD:n` or files accept,
//! applied in the order given. Settings changed on a terminal socketry did not create are put
//! back when the connection is dropped.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::sys::termios::{
    self, BaudRate, InputFlags, LocalFlags, OutputFlags, SetArg, SpecialCharacterIndices, Termios,
};

use crate::address::{OptionId, Options, Value};
use crate::endpoint::error::OpenError;

/// One termios flag an option sets or clears.
#[derive(Debug, Clone, Copy)]
enum Flag {
    Input(InputFlags),
    Output(OutputFlags),
    Local(LocalFlags),
}

/// The options that set a single flag, and that flag.
const FLAGS: &[(OptionId, Flag)] = &[
    (OptionId::Echo, Flag::Local(LocalFlags::ECHO)),
    (OptionId::EchoE, Flag::Local(LocalFlags::ECHOE)),
    (OptionId::EchoK, Flag::Local(LocalFlags::ECHOK)),
    (OptionId::EchoCtl, Flag::Local(LocalFlags::ECHOCTL)),
    (OptionId::Icanon, Flag::Local(LocalFlags::ICANON)),
    (OptionId::Isig, Flag::Local(LocalFlags::ISIG)),
    (OptionId::Iexten, Flag::Local(LocalFlags::IEXTEN)),
    (OptionId::Icrnl, Flag::Input(InputFlags::ICRNL)),
    (OptionId::Inlcr, Flag::Input(InputFlags::INLCR)),
    (OptionId::Igncr, Flag::Input(InputFlags::IGNCR)),
    (OptionId::Istrip, Flag::Input(InputFlags::ISTRIP)),
    (OptionId::Ixon, Flag::Input(InputFlags::IXON)),
    (OptionId::Ixoff, Flag::Input(InputFlags::IXOFF)),
    (OptionId::Ixany, Flag::Input(InputFlags::IXANY)),
    (OptionId::Opost, Flag::Output(OutputFlags::OPOST)),
    (OptionId::Onlcr, Flag::Output(OutputFlags::ONLCR)),
    (OptionId::Ocrnl, Flag::Output(OutputFlags::OCRNL)),
    (OptionId::Onlret, Flag::Output(OutputFlags::ONLRET)),
];

/// Whether `options` change any terminal setting.
pub fn any(options: &Options) -> bool {
    first(options).is_some()
}

/// The first terminal option among `options`, to name in errors.
pub fn first(options: &Options) -> Option<OptionId> {
    options
        .iter()
        .map(|(id, _)| id)
        .find(|id| is_terminal_option(*id))
}

/// Whether `id` is a terminal setting (`raw`, `echo`, ...).
pub fn is_terminal_option(id: OptionId) -> bool {
    matches!(
        id,
        OptionId::Raw | OptionId::Rawer | OptionId::Sane | OptionId::Ispeed | OptionId::Ospeed
    ) || FLAGS.iter().any(|(flag_id, _)| *flag_id == id)
}

/// `settings` changed by `options`, in the order they were given.
fn change(settings: &mut Termios, options: &Options) {
    for (id, value) in options.iter() {
        let on = matches!(value, Value::Bool(true));
        match id {
            OptionId::Raw if on => make_raw(settings),
            OptionId::Rawer if on => termios::cfmakeraw(settings),
            OptionId::Sane if on => make_sane(settings),
            // The rates were checked against the table when the address was read.
            OptionId::Ispeed => {
                if let Some(rate) = baud_rate(value) {
                    let _ = termios::cfsetispeed(settings, rate);
                }
            }
            OptionId::Ospeed => {
                if let Some(rate) = baud_rate(value) {
                    let _ = termios::cfsetospeed(settings, rate);
                }
            }
            _ => {
                if let Some((_, flag)) = FLAGS.iter().find(|(flag_id, _)| *flag_id == id) {
                    match *flag {
                        Flag::Input(f) => settings.input_flags.set(f, on),
                        Flag::Output(f) => settings.output_flags.set(f, on),
                        Flag::Local(f) => settings.local_flags.set(f, on),
                    }
                }
            }
        }
    }
}

/// The termios speed of a line speed in bits per second (one of `BAUD_RATES`).
fn baud_rate(value: &Value) -> Option<BaudRate> {
    let Value::Count(rate) = value else {
        return None;
    };
    Some(match rate {
        0 => BaudRate::B0,
        50 => BaudRate::B50,
        75 => BaudRate::B75,
        110 => BaudRate::B110,
        134 => BaudRate::B134,
        150 => BaudRate::B150,
        200 => BaudRate::B200,
        300 => BaudRate::B300,
        600 => BaudRate::B600,
        1200 => BaudRate::B1200,
        1800 => BaudRate::B1800,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115_200 => BaudRate::B115200,
        230_400 => BaudRate::B230400,
        460_800 => BaudRate::B460800,
        500_000 => BaudRate::B500000,
        576_000 => BaudRate::B576000,
        921_600 => BaudRate::B921600,
        1_000_000 => BaudRate::B1000000,
        1_152_000 => BaudRate::B1152000,
        1_500_000 => BaudRate::B1500000,
        2_000_000 => BaudRate::B2000000,
        2_500_000 => BaudRate::B2500000,
        3_000_000 => BaudRate::B3000000,
        3_500_000 => BaudRate::B3500000,
        4_000_000 => BaudRate::B4000000,
        _ => return None,
    })
}

/// socat's `raw`: no line editing, signals or translation, but echo left as it was (hence
/// the usual `raw,echo=0`).
fn make_raw(settings: &mut Termios) {
    settings.input_flags.remove(
        InputFlags::IGNBRK
            | InputFlags::BRKINT
            | InputFlags::PARMRK
            | InputFlags::ISTRIP
            | InputFlags::INLCR
            | InputFlags::IGNCR
            | InputFlags::ICRNL
            | InputFlags::IXON
            | InputFlags::IXOFF
            | InputFlags::IXANY
            | InputFlags::IMAXBEL,
    );
    settings.output_flags.remove(OutputFlags::OPOST);
    settings
        .local_flags
        .remove(LocalFlags::ISIG | LocalFlags::ICANON);
    settings.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    settings.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
}

/// `stty sane`'s flags: line editing, signals, echo, NL to CR NL on output.
fn make_sane(settings: &mut Termios) {
    settings
        .input_flags
        .insert(InputFlags::BRKINT | InputFlags::ICRNL | InputFlags::IMAXBEL | InputFlags::IXON);
    settings.input_flags.remove(
        InputFlags::IGNBRK
            | InputFlags::INLCR
            | InputFlags::IGNCR
            | InputFlags::IXOFF
            | InputFlags::IXANY,
    );
    settings
        .output_flags
        .insert(OutputFlags::OPOST | OutputFlags::ONLCR);
    settings
        .output_flags
        .remove(OutputFlags::OCRNL | OutputFlags::ONOCR | OutputFlags::ONLRET);
    settings.local_flags.insert(
        LocalFlags::ISIG
            | LocalFlags::ICANON
            | LocalFlags::IEXTEN
            | LocalFlags::ECHO
            | LocalFlags::ECHOE
            | LocalFlags::ECHOK
            | LocalFlags::ECHOCTL
            | LocalFlags::ECHOKE,
    );
    settings
        .local_flags
        .remove(LocalFlags::ECHONL | LocalFlags::NOFLSH | LocalFlags::TOSTOP);
}

/// Applies `options`' terminal settings to `terminal` (`what` names it in errors), returning
/// the settings it had before.
pub fn apply(
    terminal: BorrowedFd<'_>,
    options: &Options,
    what: &str,
) -> Result<Termios, OpenError> {
    let before = termios::tcgetattr(terminal).map_err(|e| not_a_terminal(e, options, what))?;
    if !any(options) {
        return Ok(before);
    }
    let mut settings = before.clone();
    change(&mut settings, options);
    termios::tcsetattr(terminal, SetArg::TCSANOW, &settings).map_err(|e| OpenError::Io {
        action: format!("setting the terminal options of {what}"),
        source: e.into(),
    })?;
    Ok(before)
}

fn not_a_terminal(e: nix::errno::Errno, options: &Options, what: &str) -> OpenError {
    let named = first(options).map_or("a terminal option", |id| id.def().name);
    if e == nix::errno::Errno::ENOTTY {
        OpenError::Refused(format!(
            "{named}: {what} is not a terminal (terminal options need a tty or pty)"
        ))
    } else {
        OpenError::Io {
            action: format!("reading the terminal settings of {what}"),
            source: e.into(),
        }
    }
}

/// A terminal's settings as socketry found them, put back when this is dropped.
#[derive(Debug)]
pub struct Restore {
    terminal: OwnedFd,
    settings: Termios,
}

impl Restore {
    /// Applies `options` to `terminal` (a descriptor of a terminal socketry did not create,
    /// such as its standard input) and remembers how to undo it.
    pub fn apply(terminal: OwnedFd, options: &Options, what: &str) -> Result<Restore, OpenError> {
        let settings = apply(terminal.as_fd(), options, what)?;
        Ok(Restore { terminal, settings })
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(self.terminal.as_fd(), SetArg::TCSADRAIN, &self.settings);
    }
}

/// The end-of-file character a terminal in canonical mode turns into EOF for its reader, or
/// `None` when the terminal is raw (there is no way to say EOF then but to hang up).
pub fn eof_character(terminal: BorrowedFd<'_>) -> Option<u8> {
    let settings = termios::tcgetattr(terminal).ok()?;
    settings
        .local_flags
        .contains(LocalFlags::ICANON)
        .then(|| settings.control_chars[SpecialCharacterIndices::VEOF as usize])
        .filter(|c| *c != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_speed_the_parser_takes_has_its_termios_rate() {
        for rate in crate::address::options::BAUD_RATES {
            assert!(
                baud_rate(&Value::Count(u64::from(*rate))).is_some(),
                "{rate}"
            );
        }
        assert!(baud_rate(&Value::Count(19201)).is_none());
    }
}
