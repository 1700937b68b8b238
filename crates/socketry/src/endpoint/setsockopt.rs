//! Socket options given by number (`setsockopt=` and its kin), each set at the moment its
//! option names, as socat sets them: `setsockopt-socket` as soon as the socket exists,
//! `setsockopt-listen` before it binds (on a listener, the listening socket), and
//! `setsockopt`, `-int`, `-bin`, `-string` and `-connected` once it is connected: after
//! `connect`, on each accepted connection of a listener, and for a datagram socket that
//! connects to nobody, once it is bound.

use std::io;
use std::os::fd::AsFd;

use crate::address::data::SockOpt;
use crate::address::{OptionId, Options};
use crate::sys;

/// When a numbered socket option is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// As soon as the socket exists.
    Created,
    /// Before it binds.
    BeforeBind,
    /// Once it is connected (or accepted, or a datagram socket bound).
    Connected,
}

/// The phase option `id` sets its socket option at; `None` for options of other kinds.
pub fn phase_of(id: OptionId) -> Option<Phase> {
    match id {
        OptionId::SetSockOptSocket => Some(Phase::Created),
        OptionId::SetSockOptListen => Some(Phase::BeforeBind),
        OptionId::SetSockOpt
        | OptionId::SetSockOptInt
        | OptionId::SetSockOptBin
        | OptionId::SetSockOptString
        | OptionId::SetSockOptConnected => Some(Phase::Connected),
        _ => None,
    }
}

/// Sets on `socket`, in the order given, the numbered options of `options` that belong to
/// `phase`. An error names the option as it was written: "setsockopt=6:2:1: Invalid argument".
pub fn apply(socket: &impl AsFd, options: &Options, phase: Phase) -> io::Result<()> {
    for (id, option) in options.sockopts() {
        if phase_of(id) == Some(phase) {
            set(socket, id.def().name, option)?;
        }
    }
    Ok(())
}

fn set(socket: &impl AsFd, name: &str, option: &SockOpt) -> io::Result<()> {
    sys::generic::setsockopt(socket, option.level, option.name, &option.value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("setting {name}={option}: {}", sys::error_text(&e)),
        )
    })
}

/// The options of the connected phase, which a listener keeps to set on every connection it
/// accepts.
#[derive(Debug, Clone, Default)]
pub struct WhenConnected(Vec<(&'static str, SockOpt)>);

impl WhenConnected {
    /// The connected-phase options of `options`.
    pub fn from_options(options: &Options) -> WhenConnected {
        WhenConnected(
            options
                .sockopts()
                .filter(|(id, _)| phase_of(*id) == Some(Phase::Connected))
                .map(|(id, option)| (id.def().name, option.clone()))
                .collect(),
        )
    }

    /// Sets them on `socket`.
    pub fn apply(&self, socket: &impl AsFd) -> io::Result<()> {
        for (name, option) in &self.0 {
            set(socket, name, option)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::data::SockOptForm;
    use crate::address::Value;

    fn option(text: &str) -> Value {
        Value::SockOpt(SockOpt::parse(text, SockOptForm::Data).unwrap())
    }

    #[test]
    fn each_option_sets_at_its_phase_only() {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let mut options = Options::default();
        // SO_KEEPALIVE before binding, SO_SNDBUF (level 1, 7) once connected.
        options.push(OptionId::SetSockOptListen, option("1:9:1"));
        options.push(OptionId::SetSockOpt, option("1:7:65536"));
        apply(&socket, &options, Phase::Created).unwrap();
        assert!(!socket.keepalive().unwrap());
        apply(&socket, &options, Phase::BeforeBind).unwrap();
        assert!(socket.keepalive().unwrap());
        let before = socket.send_buffer_size().unwrap();
        WhenConnected::from_options(&options)
            .apply(&socket)
            .unwrap();
        assert_ne!(socket.send_buffer_size().unwrap(), before);
    }

    #[test]
    fn a_refused_option_names_itself() {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let mut options = Options::default();
        options.push(OptionId::SetSockOptSocket, option("1:9:x01"));
        let error = apply(&socket, &options, Phase::Created).unwrap_err();
        assert_eq!(
            error.to_string(),
            "setting setsockopt-socket=1:9:x01: Invalid argument"
        );
    }
}
