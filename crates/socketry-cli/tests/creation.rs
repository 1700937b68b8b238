#![allow(clippy::unwrap_used)]
//! How files come to be: `umask` on the files, socket files and named pipes an address
//! creates and on the programs it runs, `chdir` on a file's relative path, and `unlink-close`
//! on files; in a per-test directory.

mod common;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Instant;

use common::{run, tempdir, Proc, WAIT};

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Waits, within [`WAIT`], for `path` to exist: a named pipe's open blocks with no sign of
/// its own, so its file appearing is the signal.
fn wait_for_file(path: &Path) {
    let deadline = Instant::now() + WAIT;
    while std::fs::symlink_metadata(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn umask_sets_the_mode_of_a_created_file_and_unlink_close_removes_it() {
    let dir = tempdir();
    let file = dir.path().join("kept");
    let out = run(
        &["-u", "-", &format!("CREATE:{},umask=177", file.display())],
        b"data",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(mode_of(&file), 0o600);
    assert_eq!(std::fs::read(&file).unwrap(), b"data");

    let gone = dir.path().join("gone");
    let out = run(
        &[
            "-u",
            "-",
            &format!("OPEN:{},creat,umask=027,unlink-close", gone.display()),
        ],
        b"data",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(!gone.exists(), "unlink-close removes the file at the end");
}

#[test]
fn mode_wins_over_umask() {
    let dir = tempdir();
    let file = dir.path().join("f");
    let out = run(
        &[
            "-u",
            "-",
            &format!("CREATE:{},umask=077,mode=644", file.display()),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(mode_of(&file), 0o644);
}

#[test]
fn umask_sets_the_mode_of_a_unix_socket_file() {
    let dir = tempdir();
    let socket = dir.path().join("s");
    let mut server = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},umask=027", socket.display()),
        "-",
    ]);
    server.wait_log("listening on");
    assert!(std::fs::metadata(&socket).unwrap().file_type().is_socket());
    assert_eq!(mode_of(&socket), 0o750);
    server.terminate();
}

#[test]
fn umask_sets_the_mode_of_a_named_pipe() {
    let dir = tempdir();
    let fifo = dir.path().join("p");
    let reader = Proc::spawn(&["-u", &format!("PIPE:{},umask=137", fifo.display()), "-"]);
    wait_for_file(&fifo);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(mode_of(&fifo), 0o640);
    std::fs::write(&fifo, b"through").unwrap();
    let out = reader.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"through");
}

#[test]
fn a_program_runs_under_its_umask() {
    let dir = tempdir();
    let file = dir.path().join("created");
    let out = run(
        &[
            "-u",
            &format!("SYSTEM:umask; umask >{},umask=0026", file.display()),
            "-",
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0026\n");
    assert_eq!(mode_of(&file), 0o640);
}

#[test]
fn chdir_takes_a_files_relative_path_from_the_directory() {
    let dir = tempdir();
    let out = run(
        &[
            "-U",
            &format!("CREATE:made,chdir={}", dir.path().display()),
            "SYSTEM:pwd",
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let here = std::env::current_dir().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("made")).unwrap(),
        format!("{}\n", here.display()),
        "the program runs where socketry was started"
    );
}

#[test]
fn umask_is_refused_where_nothing_is_created() {
    let out = run(&["PIPE,umask=022", "-"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(out.errors().len(), 1, "{}", out.stderr);
    assert!(
        out.errors()[0]
            .contains("umask: applies to a named pipe (PIPE:path), not to an anonymous one"),
        "{}",
        out.stderr
    );
    let out = run(&["TCP-LISTEN:0,umask=022", "-"], b"");
    assert_eq!(
        out.errors(),
        ["option \"umask\" does not apply to TCP-LISTEN in \"TCP-LISTEN:0,umask=022\""]
    );
    let out = run(&["CREATE:/x,umask=0999", "-"], b"");
    assert_eq!(
        out.errors(),
        ["invalid value \"0999\" for option umask in \"CREATE:/x,umask=0999\" (expected an octal mode such as 0600)"]
    );
}

#[test]
fn user_and_group_own_socket_files_and_named_pipes() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempdir();
    let socket = dir.path().join("s");
    let mut server = Proc::spawn(&[
        "-d",
        &format!("UNIX-LISTEN:{},user=65534,group=65534", socket.display()),
        "-",
    ]);
    server.wait_log("listening on");
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (65534, 65534));
    server.terminate();

    let fifo = dir.path().join("p");
    let reader = Proc::spawn(&["-u", &format!("PIPE:{},user=65534", fifo.display()), "-"]);
    let deadline = Instant::now() + WAIT;
    // The owner changes just after the pipe appears: wait for it, within the deadline.
    while std::fs::metadata(&fifo).map_or(true, |m| m.uid() != 65534) {
        assert!(
            Instant::now() < deadline,
            "the named pipe never got its owner"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::write(&fifo, b"x").unwrap();
    assert_eq!(reader.finish().stdout, b"x");
}
