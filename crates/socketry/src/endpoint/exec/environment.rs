//! The command a program endpoint runs, with everything but its channel: arguments, the
//! environment it learns its peer from (`SOCAT_PEERADDR`, `SOCKETRY_PEERUID`, ...), `setenv`,
//! `chdir`, and the user `su` names, whose name, home and shell go into the environment as
//! a login would put them.

use super::address_types::Program;
use super::spec::ProgramSpec;
use crate::endpoint::connection::OpenContext;
use crate::sys::process::Credentials;

/// The command `spec` runs, its description for logs (`EXEC od -c`), and who it runs as.
pub(super) fn command(
    spec: &ProgramSpec,
    context: &OpenContext,
) -> (tokio::process::Command, String, Option<Credentials>) {
    let (program, args, description) = match &spec.program {
        Program::Exec(argv) => {
            let (program, args) = match argv.split_first() {
                Some((program, args)) => (program.clone(), args.to_vec()),
                // The parser refuses an empty command line; an empty program fails to start.
                None => (String::new(), Vec::new()),
            };
            (
                program,
                args,
                format!("EXEC {}", crate::address::join_command_line(argv)),
            )
        }
        Program::System(line) => (
            "/bin/sh".to_owned(),
            vec!["-c".to_owned(), line.clone()],
            format!("SYSTEM {line}"),
        ),
        Program::Shell(line) => (
            std::env::var("SHELL")
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "/bin/sh".to_owned()),
            vec!["-c".to_owned(), line.clone()],
            format!("SHELL {line}"),
        ),
    };

    let mut command = tokio::process::Command::new(&program);
    command.args(&args);
    // As execvp in socat: a program named by a path sees only its file name as argv[0].
    if let Some((_, name)) = program.rsplit_once('/') {
        command.arg0(name);
    }
    if let Some(addresses) = context.first_addresses {
        let ports = [
            ("PEERPORT", addresses.peer.port()),
            ("SOCKPORT", addresses.local.port()),
        ];
        let ips = [
            ("PEERADDR", addresses.peer.ip()),
            ("SOCKADDR", addresses.local.ip()),
        ];
        for (name, port) in ports {
            command.env(format!("SOCAT_{name}"), port.to_string());
            command.env(format!("SOCKETRY_{name}"), port.to_string());
        }
        for (name, ip) in ips {
            command.env(format!("SOCAT_{name}"), socat_ip_text(ip));
            command.env(format!("SOCKETRY_{name}"), ip.to_string());
        }
    }
    if let Some(peer) = context.first_credentials {
        command
            .env("SOCKETRY_PEERUID", peer.uid.to_string())
            .env("SOCKETRY_PEERGID", peer.gid.to_string())
            .env("SOCKETRY_PEERPID", peer.pid.to_string());
    }
    for (name, value) in &context.first_environment {
        command.env(name, value);
    }
    for (name, value) in &spec.environment {
        command.env(name, value);
    }
    if let Some(dir) = &spec.chdir {
        command.current_dir(dir);
    }
    // As socat's `su`: the user's groups, and its name, home and shell in the environment.
    let credentials = spec.user.as_ref().map(|user| {
        command
            .env("USER", &user.name)
            .env("LOGNAME", &user.name)
            .env("HOME", &user.home)
            .env("SHELL", &user.shell);
        Credentials {
            uid: user.uid,
            gid: user.gid,
            groups: user.groups.clone(),
        }
    });
    (command, description, credentials)
}

/// An address as socat writes it into a program's environment: IPv6 in brackets with every
/// group written out (`[0000:...:0001]`), so that scripts written for socat keep working.
fn socat_ip_text(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => {
            let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:04x}")).collect();
            format!("[{}]", groups.join(":"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socat_writes_ipv6_in_full_within_brackets() {
        let v6: std::net::IpAddr = std::net::Ipv6Addr::LOCALHOST.into();
        assert_eq!(
            socat_ip_text(v6),
            "[0000:0000:0000:0000:0000:0000:0000:0001]"
        );
        let v4: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
        assert_eq!(socat_ip_text(v4), "127.0.0.1");
    }
}
