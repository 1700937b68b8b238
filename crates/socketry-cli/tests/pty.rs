#![allow(clippy::unwrap_used)]
//! Pseudo-terminals and terminal settings: EXEC's `pty`, the PTY address (`link`,
//! `wait-slave`), termios options (`raw`, `rawer`, `echo=0`, ...) on programs, PTYs and
//! inherited terminals, and how an address is opened when the relay only reads or only writes
//! it (named pipes under `-u`, the halves of a dual address).

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, tempdir, Proc, WAIT};
use nix::sys::termios::{tcgetattr, LocalFlags};

/// Waits until the file at `path` holds `want`.
fn wait_for_content(path: &Path, want: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path:?} holds {got:?}, not {want:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Opens the terminal at `path` for writing without making it our controlling terminal.
fn open_terminal(path: &Path) -> std::fs::File {
    OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(path)
        .unwrap()
}

#[test]
fn pty_gives_the_program_a_controlling_terminal() {
    let script = "SYSTEM:'tty | cut -c1-9; (exec 3</dev/tty) 2>/dev/null && echo has-ctty'";
    let out = run(&["-", &format!("{script},pty,echo=0")], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "/dev/pts/\r\nhas-ctty\r\n");

    // ptmx allocates it the POSIX way, and implies pty; ctty=0 leaves it a plain terminal.
    let out = run(&["-", &format!("{script},ptmx,echo=0")], b"");
    assert_eq!(out.stdout_text(), "/dev/pts/\r\nhas-ctty\r\n");
    let out = run(&["-", &format!("{script},pty,ctty=0,echo=0")], b"");
    assert_eq!(out.stdout_text(), "/dev/pts/\r\n");

    // Without pty the program has a socket, and no terminal at all.
    let out = run(&["-", script], b"");
    assert_eq!(out.stdout_text(), "not a tty\n");
}

#[test]
fn a_program_on_a_pty_reads_eof_after_a_partial_line() {
    // "abc" has no newline: one EOF character ends the line, a second is the EOF.
    // -t 5: under load od may take more than the default half second to answer the EOF.
    let out = run(&["-t", "5", "-", "EXEC:od -c,pty,echo=0"], b"abc");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0000000   a   b   c\r\n0000003\r\n");
}

#[test]
fn terminal_options_reach_the_programs_terminal() {
    let flags = |options: &str| {
        let out = run(&["-", &format!("SYSTEM:'stty -a',pty{options}")], b"");
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
        let text = out.stdout_text();
        ["echo", "icanon", "isig", "icrnl", "opost"]
            .iter()
            .map(|flag| {
                let on = text.split_whitespace().any(|w| w == *flag);
                let off = text.split_whitespace().any(|w| w == format!("-{flag}"));
                assert!(on != off, "{flag} in {text}");
                on
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(flags(""), [true, true, true, true, true]);
    // raw leaves echo alone; echo=0 turns it off.
    assert_eq!(flags(",raw"), [true, false, false, false, false]);
    assert_eq!(flags(",raw,echo=0"), [false; 5]);
    assert_eq!(flags(",rawer"), [false; 5]);
    assert_eq!(flags(",cfmakeraw"), [false; 5]);
    // Options apply in order: sane after rawer restores the usual settings.
    assert_eq!(flags(",rawer,sane"), [true; 5]);
    assert_eq!(flags(",icanon=0,isig=0"), [true, false, false, true, true]);
}

#[test]
fn terminal_options_need_a_terminal() {
    let out = run(&["-", "SYSTEM:true,raw"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["SYSTEM:true,raw: raw: terminal options apply to a program only with pty"]
    );

    let out = run(&["-,echo=0", "PIPE"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["STDIO,echo=0: echo: STDIO (file descriptor 0) is not a terminal (terminal options need a tty or pty)"]
    );

    let out = run(&["-", "EXEC:cat,pty,pipes"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("pty and pipes cannot be combined"),
        "{}",
        out.stderr
    );
}

#[test]
fn pty_link_serves_one_writer_after_another() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    let out = dir.path().join("out");
    let mut relay = Proc::spawn(&[
        "-d",
        &format!("PTY,link={},rawer", link.display()),
        &format!("SYSTEM:'cat > {}'", out.display()),
    ]);
    let line = relay.wait_log("PTY is /dev/pts/");
    let pts = line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(&pts));

    // socketry holds the slave side itself, so one writer leaving ends nothing.
    open_terminal(&link).write_all(b"first\n").unwrap();
    wait_for_content(&out, "first\n");
    open_terminal(&link).write_all(b"second\n").unwrap();
    wait_for_content(&out, "first\nsecond\n");

    relay.terminate();
    assert!(
        std::fs::symlink_metadata(&link).is_err(),
        "the link outlived socketry"
    );
}

#[test]
fn wait_slave_waits_for_a_program_and_reads_eof_when_it_leaves() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        &format!(
            "PTY,link={},wait-slave,pty-interval=0.05,rawer",
            link.display()
        ),
        "STDOUT",
    ]);
    relay.wait_log("PTY is /dev/pts/");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        relay.is_running(),
        "socketry ended before any program opened the pty"
    );
    open_terminal(&link).write_all(b"hello\n").unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "hello\n");
}

#[test]
fn terminal_options_on_standard_input_are_undone_at_exit() {
    let pair = nix::pty::openpty(None, None).unwrap();
    let echo_on = |fd: std::os::fd::BorrowedFd<'_>| {
        tcgetattr(fd)
            .unwrap()
            .local_flags
            .contains(LocalFlags::ECHO)
    };
    assert!(echo_on(pair.slave.as_fd()));
    let mut relay = Command::new(common::bin())
        .args(["-d", "-u", "STDIN,rawer", "STDOUT"])
        .stdin(Stdio::from(pair.slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while echo_on(pair.slave.as_fd()) {
        assert!(
            Instant::now() < deadline,
            "rawer never reached the terminal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(relay.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = relay.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(echo_on(pair.slave.as_fd()), "the terminal was left raw");
}

#[test]
fn a_named_pipe_read_under_u_ends_when_its_writer_leaves() {
    let dir = tempdir();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let relay = Proc::spawn(&["-u", &format!("PIPE:{}", fifo.display()), "STDOUT"]);
    std::fs::write(&fifo, b"through the fifo\n").unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "through the fifo\n");
}

#[test]
fn dual_programs_keep_the_standard_streams_they_do_not_use() {
    // The reading half's program reads socketry's stdin itself and writes to descriptor 6;
    // the writing half's program reads descriptor 7 and writes socketry's stdout itself.
    let out = run(
        &[
            "SYSTEM:'od -c >&6',fdout=6!!SYSTEM:'cat <&7',fdin=7",
            "PIPE",
        ],
        b"data\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0000000   d   a   t   a  \\n\n0000005\n");
}

#[test]
fn a_program_read_from_on_a_pty_keeps_socketrys_standard_input() {
    // The program's output is the pty; its input is socketry's own stdin, which socketry
    // leaves alone (blocking, unread) because it only writes to standard output.
    let out = run(&["-t", "5", "EXEC:cat,pty,raw!!-", "PIPE"], b"inherited\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "inherited\n");
}

#[test]
fn a_channel_the_relay_never_uses_cannot_be_placed() {
    let out = run(&["-u", "-", "EXEC:cat,fdout=1"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["EXEC:cat,fdout=1: fdout: the relay only writes to this program, so that channel is never opened"]
    );
}

#[test]
fn a_named_pipe_socketry_made_is_removed_when_it_ends() {
    let dir = tempdir();
    let made = dir.path().join("made");
    let relay = Proc::spawn(&["-d", "-u", &format!("PIPE:{}", made.display()), "STDOUT"]);
    let mut relay = relay;
    relay.wait_log("created named pipe");
    assert!(made.exists());
    relay.terminate();
    assert!(!made.exists(), "the named pipe outlived socketry");

    // One that was there before stays, unless unlink-close=1 says otherwise.
    let kept = dir.path().join("kept");
    nix::unistd::mkfifo(&kept, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (option, stays) in [("", true), (",unlink-close=1", false)] {
        let mut relay = Proc::spawn(&[
            "-d",
            "-u",
            &format!("PIPE:{}{option}", kept.display()),
            "STDOUT",
        ]);
        relay.wait_log("starting data transfer loop");
        relay.terminate();
        assert_eq!(kept.exists(), stays, "{option}");
    }

    let out = run(&["-", "PIPE,mode=600"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("mode: applies to a named pipe"),
        "{}",
        out.stderr
    );
}
