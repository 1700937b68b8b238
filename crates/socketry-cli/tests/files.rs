#![allow(clippy::unwrap_used)]
//! OPEN, CREATE, GOPEN and bare paths: files in a per-test directory, a Unix socket at a path,
//! a named pipe, and every file option.

mod common;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;

use common::{run, tempdir, Proc};

fn path_arg(kind: &str, path: &std::path::Path, options: &str) -> String {
    format!("{kind}:{}{options}", path.display())
}

#[test]
fn create_writes_a_new_file_with_its_mode() {
    let dir = tempdir();
    let file = dir.path().join("out");
    let out = run(
        &["-u", "-", &path_arg("CREATE", &file, ",mode=0640")],
        b"hello\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"hello\n");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o640);
}

#[test]
fn create_truncates_and_with_append_appends() {
    let dir = tempdir();
    let file = dir.path().join("out");
    std::fs::write(&file, "old content\n").unwrap();
    let out = run(&["-u", "-", &path_arg("CREAT", &file, "")], b"new\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"new\n");
    let out = run(
        &["-u", "-", &path_arg("CREATE", &file, ",append")],
        b"more\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"new\nmore\n");
}

#[test]
fn open_reads_a_file_from_an_offset() {
    let dir = tempdir();
    let file = dir.path().join("in");
    std::fs::write(&file, "0123456789").unwrap();
    let out = run(&["-u", &path_arg("OPEN", &file, ",rdonly"), "STDOUT"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"0123456789");
    let out = run(
        &["-u", &path_arg("OPEN", &file, ",rdonly,seek=7"), "STDOUT"],
        b"",
    );
    assert_eq!(out.stdout, b"789", "{}", out.stderr);
}

#[test]
fn open_writes_in_place_truncates_or_appends() {
    let dir = tempdir();
    let file = dir.path().join("f");
    std::fs::write(&file, "abcdef").unwrap();
    let out = run(&["-u", "-", &path_arg("OPEN", &file, ",wronly")], b"XY");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"XYcdef");
    let out = run(
        &["-u", "-", &path_arg("OPEN", &file, ",wronly,append")],
        b"!",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"XYcdef!");
    let out = run(
        &["-u", "-", &path_arg("OPEN", &file, ",wronly,trunc")],
        b"new",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"new");
}

#[test]
fn open_needs_an_existing_file_unless_creat_and_excl_refuses_one() {
    let dir = tempdir();
    let file = dir.path().join("f");
    let address = path_arg("OPEN", &file, "");
    let out = run(&["-u", "-", &address], b"x");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: opening {}: No such file or directory",
            file.display()
        )]
    );
    let out = run(&["-u", "-", &path_arg("OPEN", &file, ",creat,excl")], b"x");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"x");
    let address = path_arg("OPEN", &file, ",creat,excl");
    let out = run(&["-u", "-", &address], b"y");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "{address}: opening {}: File exists",
            file.display()
        )]
    );
}

#[test]
fn a_bare_path_is_gopen_which_creates_and_appends() {
    let dir = tempdir();
    let file = dir.path().join("log");
    let bare = file.display().to_string();
    let out = run(&["-u", "-", &bare], b"one\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let out = run(&["-u", "-", &path_arg("GOPEN", &file, "")], b"two\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"one\ntwo\n");
}

#[test]
fn gopen_connects_to_a_unix_socket_at_the_path() {
    let dir = tempdir();
    let path = dir.path().join("sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let mut got = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().unwrap();
            let mut one = Vec::new();
            stream.read_to_end(&mut one).unwrap();
            stream.write_all(b"reply").unwrap();
            got.push(one);
        }
        got
    });
    let out = run(&["-", &path_arg("GOPEN", &path, "")], b"ping");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"reply");
    let out = run(&["-", &path.display().to_string()], b"bare");
    assert_eq!(out.stdout, b"reply", "{}", out.stderr);
    assert_eq!(server.join().unwrap(), [b"ping".to_vec(), b"bare".to_vec()]);
}

#[test]
fn user_and_group_give_the_file_away() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: chown needs root");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let dir = tempdir();
    let file = dir.path().join("owned");
    let options = format!(",user=nobody,group={}", nobody.gid);
    let out = run(&["-u", "-", &path_arg("CREATE", &file, &options)], b"x");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (nobody.uid.as_raw(), nobody.gid.as_raw())
    );

    let out = run(
        &[
            "-u",
            "-",
            &path_arg("CREATE", &file, ",user=no-such-user-here"),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(1));
    assert!(
        out.errors()[0].ends_with("user: no such user \"no-such-user-here\""),
        "{}",
        out.stderr
    );
}

#[test]
fn lock_waits_for_the_holder_to_let_go() {
    let dir = tempdir();
    let file = dir.path().join("locked");
    std::fs::write(&file, "first\n").unwrap();
    let holder = std::fs::File::open(&file).unwrap();
    #[allow(deprecated)]
    nix::fcntl::flock(holder.as_raw_fd(), nix::fcntl::FlockArg::LockExclusive).unwrap();

    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        "-",
        &path_arg("OPEN", &file, ",wronly,append,lock"),
    ]);
    relay.wait_log("is locked by another process: waiting");
    let mut stdin = relay.stdin();
    stdin.write_all(b"second\n").unwrap();
    drop(stdin);
    assert_eq!(std::fs::read(&file).unwrap(), b"first\n");
    drop(holder);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"first\nsecond\n");
}

#[test]
fn setlk_fails_on_a_record_lock_and_setlkw_waits_for_it() {
    let dir = tempdir();
    let file = dir.path().join("records");
    std::fs::write(&file, "").unwrap();
    // fcntl locks belong to a process: hold one in a child that waits on its stdin.
    let mut child = std::process::Command::new(common::bin())
        .args(["-u", "STDIN", &path_arg("OPEN", &file, ",wronly,setlkw")])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the child holds the lock: setlk from here then fails.
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let out = run(
            &["-u", "-", &path_arg("OPEN", &file, ",wronly,setlk")],
            b"x",
        );
        if out.code() == Some(1) {
            assert_eq!(
                out.errors(),
                [format!(
                    "OPEN:{},wronly,setlk: setlk: OPEN {} is locked by another process",
                    file.display(),
                    file.display()
                )]
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", out.stderr);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut waiting = Proc::spawn(&[
        "-d",
        "-u",
        "-",
        &path_arg("OPEN", &file, ",wronly,append,setlkw"),
    ]);
    waiting.wait_log("is locked by another process: waiting (setlkw)");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    waiting.send_and_close(b"after the holder\n");
    let out = waiting.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .ends_with("after the holder\n"));
}

#[test]
fn ftruncate_and_readbytes_cut_a_file_and_a_read() {
    let dir = tempdir();
    let file = dir.path().join("f");
    std::fs::write(&file, "0123456789").unwrap();
    let out = run(
        &[
            "-u",
            &path_arg("OPEN", &file, ",rdonly,readbytes=4"),
            "STDOUT",
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"0123");
    let out = run(
        &[
            "-u",
            "-",
            &path_arg("OPEN", &file, ",wronly,ftruncate=6,append"),
        ],
        b"ab",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"012345ab");
    // append with an explicit trunc: emptied first, then appended to.
    let out = run(
        &["-u", "-", &path_arg("OPEN", &file, ",append,o-trunc")],
        b"new",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), b"new");
    let out = run(&["-u", "UDP-RECV:0,readbytes=4", "STDOUT"], b"");
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stderr.contains("readbytes applies to byte streams"),
        "{}",
        out.stderr
    );
}

#[test]
fn nonblock_opens_a_named_pipe_before_it_has_a_writer() {
    let dir = tempdir();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        &path_arg("OPEN", &fifo, ",rdonly,nonblock"),
        "STDOUT",
    ]);
    // Without nonblock, opening would wait for a writer and the relay would not start.
    relay.wait_log("starting data transfer loop");
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(b"through the fifo").unwrap();
    drop(writer);
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"through the fifo");
}

#[test]
fn file_options_apply_only_where_they_mean_something() {
    let out = run(&["-u", "-", "CREATE:/tmp/x,rdonly"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["option \"rdonly\" does not apply to CREATE in \"CREATE:/tmp/x,rdonly\""]
    );
}
