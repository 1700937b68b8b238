#![allow(clippy::unwrap_used)]
//! The options socat applies to any open descriptor and its scripts use: `o-noatime`,
//! `o-direct`, `fs-noatime`, `cool-write`, `f-setpipe-sz`, `setsid` and `setlk` on standard
//! streams, `user`/`group`/`perm` on a PTY's slave side, `socktype` for a program's socket
//! pair, and a program on a pseudo-terminal finishing before it is hung up.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use common::{bin, output, run, tempdir, Output, Proc};

/// Sets `path`'s access time to 2001-09-09, well before its modification time, so that any
/// read updates it (even under relatime).
fn age_access_time(path: &std::path::Path) {
    let old = TimeSpec::new(1_000_000_000, 0);
    let keep = TimeSpec::UTIME_OMIT;
    utimensat(None, path, &old, &keep, UtimensatFlags::FollowSymlink).unwrap();
}

fn access_time(path: &std::path::Path) -> i64 {
    std::fs::metadata(path).unwrap().atime()
}

#[test]
fn o_noatime_reads_a_file_without_touching_its_access_time() {
    let dir = tempdir();
    let file = dir.path().join("in");
    std::fs::write(&file, "data\n").unwrap();
    let open = format!("OPEN:{},o-noatime", file.display());
    age_access_time(&file);
    let out = run(&["-u", &open, "STDOUT"], b"");
    assert_eq!(
        (out.code(), out.stdout.as_slice()),
        (Some(0), &b"data\n"[..]),
        "{}",
        out.stderr
    );
    assert_eq!(access_time(&file), 1_000_000_000);
    // Without it the same read does update it: the check above can fail.
    let out = run(&["-u", &format!("OPEN:{}", file.display()), "STDOUT"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_ne!(access_time(&file), 1_000_000_000);
}

#[test]
fn o_noatime_on_standard_input_sets_it_on_the_inherited_file() {
    let dir = tempdir();
    let file = dir.path().join("in");
    std::fs::write(&file, "through stdin\n").unwrap();
    age_access_time(&file);
    let out = output(
        Command::new(bin())
            .args(["-u", "-,o-noatime", "STDOUT"])
            .stdin(std::fs::File::open(&file).unwrap()),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"through stdin\n");
    assert_eq!(access_time(&file), 1_000_000_000);
}

#[test]
fn fs_noatime_sets_the_files_attribute_for_every_later_reader() {
    let dir = tempdir();
    let file = dir.path().join("made");
    let out = run(
        &[
            "-u",
            "/dev/null",
            &format!("CREATE:{},fs-noatime", file.display()),
        ],
        b"",
    );
    if out.stderr.contains("Inappropriate ioctl") || out.stderr.contains("not supported") {
        // A file system without the attribute (tmpfs before Linux 6.0): the error says so.
        assert_eq!(out.code(), Some(1));
        return;
    }
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    std::fs::write(&file, "x").unwrap();
    age_access_time(&file);
    std::fs::read(&file).unwrap();
    assert_eq!(access_time(&file), 1_000_000_000);
}

#[test]
fn o_direct_echoes_through_a_file_whatever_its_length() {
    let dir = tempdir();
    let file = dir.path().join("direct");
    // Not a whole number of blocks: the last read is short, and reading on starts again at
    // its block.
    let data: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let dual = format!("{0},o-direct,ignoreeof!!{0}", file.display());
    let out = run(&["-t", "0.5", "-", &dual], &data);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, data);
    let out = run(
        &["-u", &format!("OPEN:{},o-direct", file.display()), "STDOUT"],
        b"",
    );
    assert_eq!(
        (out.code(), out.stdout.len()),
        (Some(0), 5000),
        "{}",
        out.stderr
    );
}

#[test]
fn o_direct_applies_to_files_opened_by_path_only() {
    let out = run(&["-,o-direct", "/dev/null"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("option \"o-direct\" does not apply to STDIO in \"-,o-direct\""),
        "{}",
        out.stderr
    );
}

/// Runs `-u - <destination>` with its standard output a pipe whose reader is gone.
fn write_to_a_closed_pipe(destination: &str) -> Output {
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    let mut child = Command::new(bin())
        .args(["-u", "-", destination])
        .stdin(Stdio::piped())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"nobody reads this\n")
        .unwrap();
    child.wait_with_output().unwrap().into()
}

#[test]
fn cool_write_ends_quietly_when_the_reader_is_gone() {
    let out = write_to_a_closed_pipe("STDOUT,cool-write");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stderr, "");
    let out = write_to_a_closed_pipe("STDOUT");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("E writing (first address to second): Broken pipe"),
        "{}",
        out.stderr
    );
}

/// Writes `source` to a Python script in `dir`, giving its path.
fn python(dir: &tempfile::TempDir, source: &str) -> String {
    let path = dir.path().join("program.py");
    std::fs::write(&path, source).unwrap();
    path.display().to_string()
}

fn pipe_size(fd: &OwnedFd) -> i32 {
    fcntl(fd.as_raw_fd(), FcntlArg::F_GETPIPE_SZ).unwrap()
}

#[test]
fn f_setpipe_sz_resizes_an_inherited_pipe() {
    let (read, write) = nix::unistd::pipe().unwrap();
    assert_ne!(pipe_size(&write), 262_144);
    let mut writer = std::fs::File::from(write.try_clone().unwrap());
    let child = Command::new(bin())
        .args(["-u", "STDIN,f-setpipe-sz=262144,readbytes=3", "STDOUT"])
        .stdin(Stdio::from(read))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writer.write_all(b"abc").unwrap();
    let out = Output::from(child.wait_with_output().unwrap());
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"abc");
    assert_eq!(pipe_size(&write), 262_144);
}

#[test]
fn f_setpipe_sz_on_what_is_not_a_pipe_is_refused() {
    let dir = tempdir();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let out = output(
        Command::new(bin())
            .args(["-u", "STDIN,f-setpipe-sz=65536", "/dev/null"])
            .stdin(std::fs::File::open(&file).unwrap()),
    );
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("f-setpipe-sz: STDIN is not a pipe"),
        "{}",
        out.stderr
    );
}

#[test]
fn f_setpipe_sz_resizes_a_programs_pipes() {
    let dir = tempdir();
    // F_GETPIPE_SZ is 1032.
    let script = python(
        &dir,
        "import fcntl\nprint(fcntl.fcntl(0, 1032), fcntl.fcntl(1, 1032))\n",
    );
    let program = format!("EXEC:python3 {script},pipes,f-setpipe-sz=131072");
    let out = run(&["-", &program], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "131072 131072\n");
    let out = run(&["-", "EXEC:true,f-setpipe-sz=131072"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("f-setpipe-sz: the program talks over a socket pair; its pipes' size applies with pipes"),
        "{}",
        out.stderr
    );
}

#[test]
fn f_setpipe_sz_resizes_pipe() {
    // PIPE's one pipe: what is written comes back, through a pipe of the size asked for.
    let out = run(&["-", "PIPE,f-setpipe-sz=1048576"], b"echo\n");
    assert_eq!(
        (out.code(), out.stdout_text().as_str()),
        (Some(0), "echo\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn setsid_on_standard_streams_makes_socketry_a_session_leader() {
    // The program's parent is socketry: it leads its own session and process group.
    let dir = tempdir();
    let script = python(
        &dir,
        "import os\np = os.getppid()\nprint(os.getsid(p) == p, os.getpgid(p) == p)\n",
    );
    let program = format!("EXEC:python3 {script}");
    let out = run(&["-U", "-,setsid", &program], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "True True\n");
    let out = run(&["-U", "-", &program], b"");
    assert_eq!(out.stdout_text(), "False False\n", "{}", out.stderr);
}

#[test]
fn setsid_is_refused_to_a_process_group_leader() {
    let out = output(
        Command::new(bin())
            .args(["-U", "-,setsid", "EXEC:true"])
            .process_group(0)
            .stdin(Stdio::null()),
    );
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains(
            "setsid: socketry leads its process group already (a shell's job), and a group leader cannot start a new session"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn setlk_locks_only_the_descriptor_the_relay_uses() {
    // socat's BUG-UNISTDIO: with -u only standard output is written, so only it is locked
    // for writing; a write lock on the read-only standard input would fail.
    let dir = tempdir();
    let input = dir.path().join("in");
    let written = dir.path().join("out");
    std::fs::write(&input, "").unwrap();
    let with_files = |args: &[&str]| {
        output(
            Command::new(bin())
                .args(args)
                .stdin(std::fs::File::open(&input).unwrap())
                .stdout(std::fs::File::create(&written).unwrap()),
        )
    };
    let out = with_files(&["-u", "/dev/null", "-,setlk"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    // Both used: the read-only standard input cannot take a write lock, and says so.
    let out = with_files(&["/dev/null", "-,setlk"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("setlk: locking STDIO (file descriptor 0)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_pty_slave_gets_the_mode_and_owner_asked_for() {
    let dir = tempdir();
    let link = dir.path().join("tty");
    let address = format!(
        "PTY,link={},perm=0640,user=nobody,group=nogroup",
        link.display()
    );
    let mut proc = Proc::spawn(&["-d", &address, "/dev/null,ignoreeof"]);
    proc.wait_log("PTY is");
    let slave = std::fs::metadata(&link).unwrap();
    assert_eq!(slave.permissions().mode() & 0o7777, 0o640);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    assert_eq!(
        (slave.uid(), slave.gid()),
        (nobody.uid.as_raw(), nogroup.gid.as_raw())
    );
    proc.terminate();
}

#[test]
fn a_programs_datagram_socket_pair_keeps_each_write_a_message() {
    let dir = tempdir();
    let path = dir.path().join("receiver");
    let receiver = UnixDatagram::bind(&path).unwrap();
    receiver
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let script = python(&dir, "import os\nos.write(1, b'ab')\nos.write(1, b'cde')\n");
    let program = format!("EXEC:python3 {script},socktype=2");
    let sendto = format!("UNIX-SENDTO:{}", path.display());
    let proc = Proc::spawn(&["-u", "-t", "0.2", &program, &sendto]);
    let mut buf = [0u8; 64];
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ab");
    let n = receiver.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"cde");
    proc.terminate();
    let out = run(&["-", "EXEC:cat,pipes,socktype=2"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr
            .contains("socktype: the program talks over two pipes, not a socket pair"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_program_on_a_pty_finishes_before_it_is_hung_up() {
    // socat's RESTORE_TTY: the inner socketry makes its terminal raw and puts it back when
    // it ends, after the outer relay is over; the shell then reads the settings again.
    let dir = tempdir();
    let (before, after) = (dir.path().join("before"), dir.path().join("after"));
    let command = format!(
        "SYSTEM:'stty -g >{}; {} -,rawer /dev/null; stty -g >{}',pty,setsid,ctty,stderr",
        before.display(),
        bin(),
        after.display()
    );
    let out = output(
        Command::new(bin())
            .args(["-t", "0.2", "-", &command])
            .stdin(Stdio::null()),
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let before = std::fs::read_to_string(&before).unwrap();
    assert!(!before.is_empty());
    assert_eq!(std::fs::read_to_string(&after).unwrap(), before);
}

#[test]
fn nofork_takes_pipes_ends_and_a_signal_gives_128_plus_its_number() {
    // socat's EXITCODESIGTERM: `pty` with nofork is accepted, and logged as having no
    // terminal to give; the program has PIPE's ends.
    let mut proc = Proc::spawn(&["ECHO", "SYSTEM:exec sleep 3,pty,setsid,nofork"]);
    proc.wait_log("pty: SYSTEM exec sleep 3 runs on the first address's descriptors with nofork, not on a pseudo-terminal");
    let out = proc.terminate();
    assert_eq!(out.code(), Some(143), "{}", out.stderr);
    // What the program writes to PIPE it reads back.
    let out = run(
        &[
            "ECHO",
            "SYSTEM:echo hi; read line; echo got $line >&2,nofork",
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stderr.ends_with("got hi"), "{}", out.stderr);
}

#[test]
fn readline_relays_lines_and_keeps_their_history() {
    let dir = tempdir();
    let history = dir.path().join("history");
    let address = format!("READLINE,history={}", history.display());
    let out = run(&[&address, "PIPE"], b"first line\nsecond\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "first line\nsecond\n");
    let mut kept = String::new();
    std::fs::File::open(&history)
        .unwrap()
        .read_to_string(&mut kept)
        .unwrap();
    let lines: Vec<&str> = kept.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, ["first line", "second"]);
}

#[test]
fn readline_on_a_terminal_shows_the_prompt_asked_for() {
    // The inner socketry's standard streams are a pseudo-terminal: the editor draws the
    // prompt (seen in the outer relay's -v dump before anything is typed: the editor takes
    // over the terminal only then), and the line typed comes back from PIPE.
    let inner = format!(
        "SYSTEM:'{} \"READLINE,prompt=ask> \" PIPE',pty,setsid,ctty",
        bin()
    );
    let mut proc = Proc::spawn(&["-v", "-t", "1", "-", &inner]);
    proc.wait_log("ask>");
    let mut input = proc.stdin();
    input.write_all(b"hello\r").unwrap();
    proc.wait_log("hello");
    drop(input);
    let out = proc.finish();
    let seen = out.stdout_text();
    assert!(seen.contains("ask>"), "{seen:?} {}", out.stderr);
    assert_eq!(
        seen.matches("hello").count(),
        2,
        "typed, then echoed by PIPE: {seen:?}"
    );
}
