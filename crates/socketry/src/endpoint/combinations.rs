//! The refusals an address's text alone decides, made when it is parsed rather than when it
//! opens, so that `TCP-LISTEN:80,fork EXEC:cat,pty,pipes` is refused before anything listens
//! instead of failing every peer. Each family's check is a pure function of its typed spec
//! and options (`FamilySpec::check`), which the registry calls once per endpoint; this module
//! holds what the checks share: the error naming both options, and the same refusal at open
//! time for a `Spec` built without the parser.

use crate::address::{OptionId, ParseErrorKind};
use crate::endpoint::error::OpenError;

/// The refusal of two options (or an option and a part of the address, such as `path`) that
/// cannot work together; `message` names both.
pub(crate) fn conflict(first: OptionId, second: &'static str, message: String) -> ParseErrorKind {
    ParseErrorKind::CannotCombine {
        options: [first.def().name, second],
        message,
    }
}

/// A check's refusal as an open refuses it, for an address that was built without the
/// parser (a `Spec` made by hand), which the check did not see.
pub(crate) fn refused(why: ParseErrorKind) -> OpenError {
    match why {
        ParseErrorKind::CannotCombine { message, .. } => OpenError::Refused(message),
        ParseErrorKind::InvalidParameter { what, expected, .. } => {
            OpenError::Refused(format!("{what}: expected {expected}"))
        }
        // The checks give only the two above; anything else is still a refusal, not a panic.
        _ => OpenError::Refused("the address's options cannot work together".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::address::ParseErrorKind;
    use crate::registry::Address;

    /// Each family's refusal, as the parser gives it: the options it names, and the line.
    #[test]
    fn every_family_refuses_what_cannot_work_when_parsed() {
        let cases: &[(&str, [&str; 2], &str)] = &[
            (
                "POSIXMQ-SEND:/q,creat=0,excl",
                ["excl", "creat"],
                "excl applies only when creating message queue /q (it was given with creat=0)",
            ),
            (
                "PIPE,mode=600",
                ["mode", "path"],
                "mode: applies to a named pipe (PIPE:path), not to an anonymous one",
            ),
            (
                "UNIX-RECVFROM:/s,bind=/b",
                ["bind", "UNIX-RECVFROM"],
                "bind does not apply to a Unix server socket: /s is its own address (expected no bind option)",
            ),
            (
                "ABSTRACT-LISTEN:a,socktype=2",
                ["socktype", "UNIX-LISTEN"],
                "UNIX-LISTEN on @a: socktype=2 (datagram) cannot listen (expected socktype=1 or 5; use UNIX-RECVFROM for datagrams)",
            ),
            (
                "UNIX-SENDFD:/s,socktype=2",
                ["socktype", "UNIX-SENDFD"],
                "UNIX-SENDFD:/s: socktype=2 cannot hand over connections (expected socktype=1 or 5)",
            ),
        ];
        for (address, options, message) in cases {
            let error = Address::parse(address).unwrap_err();
            assert_eq!(
                error.kind,
                ParseErrorKind::CannotCombine {
                    options: *options,
                    message: (*message).to_owned(),
                },
                "{address}"
            );
        }
        let error = Address::parse("EXEC:cat,nofork!!STDOUT").unwrap_err();
        assert_eq!(
            error.to_string(),
            "EXEC:cat,nofork!!STDOUT: nofork: the program takes the first address's own descriptors, so it cannot be half of A!!B"
        );
        for fine in [
            "STDIN!!EXEC:cat",
            "SYSTEM:cat,nofork",
            "POSIXMQ-SEND:/q,creat=0",
            "POSIXMQ-SEND:/q,excl",
            "PIPE:/p,mode=600",
            "UNIX-CONNECT:/s,bind=/b",
            "UNIX-CONNECT:/s,socktype=2",
            "UNIX-SENDTO:/s,bind=/b",
        ] {
            assert!(Address::parse(fine).is_ok(), "{fine}");
        }
    }
}
