//! Users and groups named on the command line (`su`, `user`, `group`, `peer-uid`,
//! `peer-gid`), looked up once, when the address is read, so that a name the system does not
//! know is an error before anything listens, binds or connects, not when the first peer comes.
//!
//! This is the one place socketry asks the system's user database: every address option that
//! takes a user or a group gets its value from here, already resolved.

use std::fmt;
use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid, User};

/// A user given by name or number; a number is taken as it is, even if no user has it (a
/// file may be given to a uid the system has no name for, and a peer may run as one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserId {
    /// The text it was given as, which `Display` writes back.
    pub given: String,
    /// The user's id.
    pub uid: u32,
}

/// A group given by name or number; a number is taken as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupId {
    /// The text it was given as, which `Display` writes back.
    pub given: String,
    /// The group's id.
    pub gid: u32,
}

/// A user a program is to run as (`su`): one the system knows, with what a login gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The text it was given as (a name or a uid), which `Display` writes back.
    pub given: String,
    /// The user's name (`USER` and `LOGNAME` in the program's environment).
    pub name: String,
    /// The user's id.
    pub uid: u32,
    /// The user's primary group.
    pub gid: u32,
    /// Every group the user is in, the primary one included.
    pub groups: Vec<u32>,
    /// The user's home directory (`HOME`).
    pub home: PathBuf,
    /// The user's login shell (`SHELL`).
    pub shell: PathBuf,
}

/// Which of the two databases a name was looked up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// The user database (`getpwnam`).
    Users,
    /// The group database (`getgrnam`).
    Groups,
}

impl Database {
    /// What one entry is called: `user` or `group`.
    pub fn entry(self) -> &'static str {
        match self {
            Database::Users => "user",
            Database::Groups => "group",
        }
    }
}

/// Why a user or group could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// The system has no such user or group.
    #[error("no such {} \"{name}\"", .database.entry())]
    NotFound {
        /// Where it was looked for.
        database: Database,
        /// The name (or number) as given.
        name: String,
    },
    /// The system could not be asked (an unreachable directory service, a damaged file).
    #[error("looking up {} \"{name}\" failed: {reason}", .database.entry())]
    Failed {
        /// Where it was looked for.
        database: Database,
        /// The name (or number) as given.
        name: String,
        /// What the system said.
        reason: String,
    },
}

impl LookupError {
    fn failed(database: Database, name: &str, errno: nix::errno::Errno) -> LookupError {
        LookupError::Failed {
            database,
            name: name.to_owned(),
            reason: std::io::Error::from(errno).to_string(),
        }
    }

    fn not_found(database: Database, name: &str) -> LookupError {
        LookupError::NotFound {
            database,
            name: name.to_owned(),
        }
    }
}

/// Resolves a user name or uid (a number is taken as it is).
pub fn user(given: &str) -> Result<UserId, LookupError> {
    let uid = match given.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => find_user(given)?.uid.as_raw(),
    };
    Ok(UserId {
        given: given.to_owned(),
        uid,
    })
}

/// Resolves a group name or gid (a number is taken as it is).
pub fn group(given: &str) -> Result<GroupId, LookupError> {
    let gid = match given.parse::<u32>() {
        Ok(gid) => gid,
        Err(_) => match Group::from_name(given) {
            Ok(Some(found)) => found.gid.as_raw(),
            Ok(None) => return Err(LookupError::not_found(Database::Groups, given)),
            Err(e) => return Err(LookupError::failed(Database::Groups, given, e)),
        },
    };
    Ok(GroupId {
        given: given.to_owned(),
        gid,
    })
}

/// Resolves the user a program is to run as, by name or uid: it must exist, and its groups,
/// home and shell come with it, as a login would give them.
pub fn account(given: &str) -> Result<Account, LookupError> {
    let found = match given.parse::<u32>() {
        Ok(uid) => match User::from_uid(Uid::from_raw(uid)) {
            Ok(Some(found)) => found,
            Ok(None) => return Err(LookupError::not_found(Database::Users, given)),
            Err(e) => return Err(LookupError::failed(Database::Users, given, e)),
        },
        Err(_) => find_user(given)?,
    };
    let groups = match std::ffi::CString::new(found.name.clone()) {
        Ok(name) => nix::unistd::getgrouplist(&name, found.gid)
            .map_err(|e| LookupError::failed(Database::Groups, &found.name, e))?
            .into_iter()
            .map(Gid::as_raw)
            .collect(),
        // A name the database returned with a NUL in it cannot be asked about again.
        Err(_) => vec![found.gid.as_raw()],
    };
    Ok(Account {
        given: given.to_owned(),
        name: found.name,
        uid: found.uid.as_raw(),
        gid: found.gid.as_raw(),
        groups,
        home: found.dir,
        shell: found.shell,
    })
}

fn find_user(name: &str) -> Result<User, LookupError> {
    match User::from_name(name) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(LookupError::not_found(Database::Users, name)),
        Err(e) => Err(LookupError::failed(Database::Users, name, e)),
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.given)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Every system has a user and a group named root with id 0.
    #[test]
    fn names_and_numbers_resolve() {
        assert_eq!(user("root").unwrap().uid, 0);
        assert_eq!(group("root").unwrap().gid, 0);
        assert_eq!(user("4000000").unwrap().uid, 4_000_000);
        assert_eq!(group("4000000").unwrap().gid, 4_000_000);
        let root = account("0").unwrap();
        assert_eq!((root.name.as_str(), root.uid, root.gid), ("root", 0, 0));
        assert!(root.groups.contains(&0));
        assert_eq!(account("root").unwrap().given, "root");
    }

    #[test]
    fn unknown_names_are_errors_that_quote_them() {
        let cases: &[(Result<(), LookupError>, &str)] = &[
            (
                user("no-such-user-socketry").map(drop),
                "no such user \"no-such-user-socketry\"",
            ),
            (
                group("no-such-group-socketry").map(drop),
                "no such group \"no-such-group-socketry\"",
            ),
            // A program cannot run as a uid nobody has: there is no account to give it.
            (account("4000000").map(drop), "no such user \"4000000\""),
            (user("nul\0name").map(drop), "no such user \"nul\0name\""),
        ];
        for (got, want) in cases {
            assert_eq!(got.as_ref().unwrap_err().to_string(), *want);
        }
    }
}
