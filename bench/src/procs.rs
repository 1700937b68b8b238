//! The processes a benchmark runs. Each peer runs in its own process group, so that socat's
//! forked children are counted with it (CPU time, memory) and end with it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// A process and everything it forks.
#[derive(Debug)]
pub struct Group {
    child: Child,
    name: String,
}

/// One process's line of `/proc/PID/stat`, the fields a benchmark reads.
struct Stat {
    group: i32,
    /// Its own CPU time and that of the children it has reaped, in clock ticks.
    ticks: u64,
}

fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |field: usize| fields.get(field - 3)?.parse::<u64>().ok();
    Some(Stat {
        group: i32::try_from(number(5)?).ok()?,
        ticks: number(14)? + number(15)? + number(16)? + number(17)?,
    })
}

fn clock_ticks_per_second() -> f64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(ticks)) if ticks > 0 => ticks as f64,
        _ => 100.0,
    }
}

impl Group {
    /// Starts `program` with `args` in a new process group, its output discarded.
    pub fn spawn(
        name: &str,
        program: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Group> {
        use std::os::unix::process::CommandExt;
        let child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name} ({program})"))?;
        Ok(Group {
            child,
            name: name.to_owned(),
        })
    }

    /// Starts `program` and waits for it to print a line containing `ready` on stdout.
    pub fn spawn_until(
        name: &str,
        program: &str,
        args: &[String],
        ready: &str,
    ) -> anyhow::Result<Group> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(program)
            .args(args)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {name} ({program})"))?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut group = Group {
            child,
            name: name.to_owned(),
        };
        for line in BufReader::new(stdout).lines() {
            if line?.contains(ready) {
                return Ok(group);
            }
        }
        let status = group.child.wait()?;
        bail!("{name} exited ({status}) before it was ready")
    }

    pub fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap_or(i32::MAX)
    }

    /// The processes in the group.
    pub fn members(&self) -> Vec<i32> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|&pid| stat(pid).is_some_and(|s| s.group == self.pid()))
            .collect()
    }

    /// CPU seconds the group has used, counting children it has reaped.
    pub fn cpu_seconds(&self) -> f64 {
        let ticks: u64 = self
            .members()
            .into_iter()
            .filter_map(stat)
            .map(|s| s.ticks)
            .sum();
        ticks as f64 / clock_ticks_per_second()
    }

    /// The group's proportional set size (its share of every page it maps), in KiB.
    pub fn pss_kib(&self) -> u64 {
        self.members()
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
            .filter_map(|text| {
                let line = text.lines().find(|l| l.starts_with("Pss:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .sum()
    }

    /// Waits (up to `limit`) until the group is down to its first process: socat's children
    /// have exited and been reaped, so their CPU time is in the parent's.
    pub fn settle(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.members().len() > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until a TCP socket listens on `port` (from /proc/net/tcp{,6}: connecting to find out
/// would give iperf3 a connection it does not expect).
pub fn wait_for_listener(port: u16) -> anyhow::Result<()> {
    let wanted = format!(":{port:04X}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/tcp")?
            + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
        let listening = table.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&wanted) && fields[3] == "0A"
        });
        if listening {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("nothing listens on port {port} after 10 s")
}

/// Waits until a Unix socket exists at `path`.
pub fn wait_for_path(path: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if path.exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("no socket at {} after 10 s", path.display())
}

/// Runs a command to completion and returns its standard output.
pub fn output(program: &str, args: &[String]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {}: {}; {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A port that neither a TCP nor a UDP socket on 127.0.0.1 holds now: the UDP relay's
/// iperf3 needs both, its control connection over TCP and its datagrams over UDP.
pub fn free_tcp_and_udp_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no port free for both TCP and UDP after 100 tries")
}

/// Waits until a UDP socket is bound to `port` (from /proc/net/udp).
pub fn wait_for_udp(port: u16) -> anyhow::Result<()> {
    let wanted = format!(":{port:04X}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let table = std::fs::read_to_string("/proc/net/udp")?;
        let bound = table.lines().skip(1).any(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|local| local.ends_with(&wanted))
        });
        if bound {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("no UDP socket on port {port} after 10 s")
}
