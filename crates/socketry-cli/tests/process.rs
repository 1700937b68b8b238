#![allow(clippy::unwrap_used)]
//! EXEC, SYSTEM and SHELL against real programs (od, tr, sh, yes, head, ls): half-close, exit
//! statuses, descriptors the child gets, its environment and credentials, SIGPIPE, reaping,
//! and the grace periods before SIGTERM and SIGKILL.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, tempdir, Proc, WAIT};

#[test]
fn od_gets_eof_and_all_its_output_is_relayed() {
    let out = run(&["-", "EXEC:od -c"], b"abc");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0000000   a   b   c\n0000003\n");
}

#[test]
fn tr_transforms_a_stream_both_ways() {
    let out = run(&["-", "EXEC:'tr a-z A-Z'"], b"hello\nworld\n");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"HELLO\nWORLD\n");
}

#[test]
fn exec_splits_words_without_a_shell() {
    let out = run(&["-", r#"EXEC:"printf '<%s>' 'a  b' $HOME x\\ y""#], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "<a  b><$HOME><x y>");
}

#[test]
fn system_runs_the_command_through_sh() {
    let out = run(&["-", "SYSTEM:'echo $((1 + 2)) $0'"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "3 sh\n");
}

#[test]
fn shell_runs_the_command_through_the_users_shell() {
    let mut command = Command::new(common::bin());
    command
        .args(["-", "SHELL:'echo $0'"])
        .env("SHELL", "/bin/bash");
    let out = Proc::spawn_with(&mut command).finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "bash\n");
}

#[test]
fn a_failing_program_is_socketrys_exit_status() {
    let out = run(&["-", "SYSTEM:'exit 3'"], b"");
    assert_eq!(out.code(), Some(3), "{}", out.stderr);
    assert_eq!(out.errors(), ["SYSTEM exit 3 exited with status 3"]);

    // Input the program never read: the write error is reported, the status is the program's.
    let out = run(&["-", "SYSTEM:'exit 4'"], &[b'x'; 1 << 20]);
    assert_eq!(out.code(), Some(4), "{}", out.stderr);
    assert_eq!(
        out.errors().last(),
        Some(&"SYSTEM exit 4 exited with status 4")
    );

    let out = run(&["-", "SYSTEM:'kill -USR1 $$'"], b"");
    assert_eq!(out.code(), Some(128 + 10), "{}", out.stderr);
    assert_eq!(out.errors(), ["SYSTEM kill -USR1 $$ ended by signal 10"]);
}

#[test]
fn a_missing_program_is_an_error() {
    let out = run(&["-", "EXEC:/nonexistent/program"], b"");
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        ["EXEC:/nonexistent/program: starting EXEC /nonexistent/program: No such file or directory"]
    );
}

#[test]
fn the_child_gets_only_its_standard_descriptors() {
    // `ls /proc/$$/fd` lists the shell's descriptors, not those ls opens itself.
    let out = run(&["-", "SYSTEM:'ls /proc/$$/fd'"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "0\n1\n2\n");

    let out = run(&["-", "SYSTEM:'ls /proc/$$/fd',pipes,stderr"], b"");
    assert_eq!(out.stdout_text(), "0\n1\n2\n");
}

#[test]
fn fdin_and_fdout_put_the_channel_on_other_descriptors() {
    let out = run(
        &[
            "-",
            "SYSTEM:'exec <&3 >&4; tr a-z A-Z; ls /proc/$$/fd',fdin=3,fdout=4",
        ],
        b"abc\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "ABC\n0\n1\n2\n3\n4\n");
}

#[test]
fn the_channel_is_a_socket_pair_or_with_pipes_two_pipes() {
    let script = "SYSTEM:'stat -L -c %F /proc/$$/fd/0 /proc/$$/fd/1'";
    let out = run(&["-", script], b"");
    assert_eq!(out.stdout_text(), "socket\nsocket\n", "{}", out.stderr);
    let out = run(&["-", &format!("{script},pipes")], b"");
    assert_eq!(out.stdout_text(), "fifo\nfifo\n", "{}", out.stderr);
    let out = run(&["-", "EXEC:'tr a-z A-Z',pipes"], b"piped");
    assert_eq!(out.stdout, b"PIPED", "{}", out.stderr);
}

#[test]
fn stderr_goes_to_the_peer_only_when_asked() {
    let script = "SYSTEM:'echo out; echo err >&2'";
    let out = run(&["-", script], b"");
    assert_eq!(out.stdout_text(), "out\n");
    assert!(out.stderr.contains("err"), "{}", out.stderr);
    let out = run(&["-", &format!("{script},stderr")], b"");
    assert_eq!(out.stdout_text(), "out\nerr\n");
    assert!(!out.stderr.contains("err"), "{}", out.stderr);
}

#[test]
fn setsid_and_setpgid_make_the_child_a_leader() {
    // /proc/PID/stat: pid (comm) state ppid pgrp session ...
    let script = "SYSTEM:'set -- $(cat /proc/$$/stat); echo $([ $1 = $5 ] && echo pgrp) $([ $1 = $6 ] && echo session)'";
    let out = run(&["-", script], b"");
    assert_eq!(out.stdout_text(), "\n", "{}", out.stderr);
    let out = run(&["-", &format!("{script},setpgid")], b"");
    assert_eq!(out.stdout_text(), "pgrp\n", "{}", out.stderr);
    let out = run(&["-", &format!("{script},setsid")], b"");
    assert_eq!(out.stdout_text(), "pgrp session\n", "{}", out.stderr);
}

#[test]
fn setenv_and_chdir_shape_the_childs_world() {
    let dir = tempdir();
    let dir = dir.path().canonicalize().unwrap();
    let address = format!(
        "SYSTEM:'echo \"$GREETING\"; pwd',setenv=GREETING=hi there,setenv=OTHER=1,chdir={}",
        dir.display()
    );
    let out = run(&["-", &address], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), format!("hi there\n{}\n", dir.display()));
}

#[test]
fn su_runs_the_child_as_another_user() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: su needs root");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let out = run(&["-", "SYSTEM:'id -u; id -g; echo $USER',su=nobody"], b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout_text(),
        format!("{}\n{}\nnobody\n", nobody.uid, nobody.gid)
    );
    let out = run(&["-", "EXEC:true,su=no-such-user-here"], b"");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        ["EXEC:true,su=no-such-user-here: su: no such user \"no-such-user-here\""]
    );
}

#[test]
fn nofork_gives_the_program_the_first_addresses_own_descriptors() {
    // Standard streams: cat reads socketry's stdin and writes its stdout itself.
    let out = run(
        &[
            "-",
            "SYSTEM:'readlink /proc/$$/fd/0 | cut -c1-5; cat',nofork",
        ],
        b"direct\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "pipe:\ndirect\n");

    // -u: the program only gets the first address (here a file) as its input, and keeps
    // socketry's standard output.
    let out = run(
        &["-u", "/dev/null", "SYSTEM:'echo kept stdout; cat',nofork"],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout_text(), "kept stdout\n");

    // inetd style: each accepted connection's socket is the program's stdin and stdout.
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork",
        "SYSTEM:'readlink /proc/$$/fd/1 | cut -c1-7; tr a-z A-Z',nofork",
    ]);
    let port = relay.listening_port();
    for word in ["first", "second"] {
        let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
        peer.write_all(word.as_bytes()).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        peer.read_to_string(&mut got).unwrap();
        assert_eq!(got, format!("socket:\n{}", word.to_uppercase()));
    }
    relay.terminate();
}

#[test]
fn nofork_is_refused_where_there_is_nothing_to_take_over() {
    let cases = [
        (
            vec!["EXEC:cat,nofork", "-"],
            "nofork: the program takes the first address's own descriptors",
        ),
        (
            vec!["-", "EXEC:cat,nofork,pty,ctty"],
            "ctty: with nofork the program has the first address's descriptors",
        ),
        (
            vec!["SOCKETPAIR", "EXEC:cat,nofork"],
            "nofork: SOCKETPAIR has no descriptors of its own",
        ),
    ];
    for (args, want) in cases {
        let out = run(&args, b"");
        assert_eq!(out.code(), Some(1), "{args:?}");
        let errors = out.errors();
        assert_eq!(errors.len(), 1, "{}", out.stderr);
        assert!(errors[0].contains(want), "{args:?}: {}", errors[0]);
    }
}

#[test]
fn the_child_learns_the_first_connections_addresses_from_its_environment() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1",
        "SYSTEM:'echo $SOCAT_PEERADDR $SOCAT_PEERPORT $SOCAT_SOCKADDR $SOCAT_SOCKPORT $SOCKETRY_PEERADDR $SOCKETRY_PEERPORT $SOCKETRY_SOCKADDR $SOCKETRY_SOCKPORT'",
    ]);
    let port = relay.listening_port();
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mine = peer.local_addr().unwrap().port();
    peer.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap();
    let one = format!("127.0.0.1 {mine} 127.0.0.1 {port}");
    assert_eq!(got, format!("{one} {one}\n"));
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn ipv6_addresses_reach_the_child_in_socats_form_and_in_the_usual_form() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP6-LISTEN:0,bind=[::1]",
        "SYSTEM:'echo $SOCAT_PEERADDR $SOCKETRY_PEERADDR'",
    ]);
    let port = relay.listening_port();
    let mut peer = TcpStream::connect(("::1", port)).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let mut got = String::new();
    peer.read_to_string(&mut got).unwrap();
    assert_eq!(got, "[0000:0000:0000:0000:0000:0000:0000:0001] ::1\n");
    assert_eq!(relay.finish().code(), Some(0));
}

#[test]
fn a_reader_that_stops_ends_the_relay_promptly() {
    let mut head = Command::new("head")
        .arg("-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut relay = Command::new(common::bin())
        .args(["-u", "EXEC:yes", "STDOUT"])
        .stdin(Stdio::null())
        .stdout(Stdio::from(head.stdin.take().unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    head.stdout
        .take()
        .unwrap()
        .read_to_string(&mut first)
        .unwrap();
    assert_eq!(first, "y\n");
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = relay.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "socketry kept running after head exited"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    relay
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("E writing (first address to second): Broken pipe"),
        "{stderr}"
    );
    let _ = head.wait();
}

/// socketry's children, from /proc: (pid, state).
fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after its ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            let child = head.split_whitespace().next().unwrap().parse().unwrap();
            found.push((child, fields[0].chars().next().unwrap()));
        }
    }
    found
}

#[test]
fn a_fork_server_reaps_every_child() {
    let mut relay = Proc::spawn(&["-d", "TCP-LISTEN:0,bind=127.0.0.1,fork", "SYSTEM:'echo $$'"]);
    let port = relay.listening_port();
    let mut pids = std::collections::HashSet::new();
    for _ in 0..200 {
        let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        let mut got = String::new();
        peer.read_to_string(&mut got).unwrap();
        pids.insert(got);
    }
    assert_eq!(pids.len(), 200, "every connection has its own child");
    let deadline = Instant::now() + WAIT;
    loop {
        let children = children_of(relay.pid());
        if children.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "children left (pid, state): {children:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn max_children_limits_the_programs_running_at_once() {
    let mut relay = Proc::spawn(&[
        "-d",
        "TCP-LISTEN:0,bind=127.0.0.1,fork,max-children=1",
        "SYSTEM:'echo $$; cat'",
    ]);
    let port = relay.listening_port();
    let first = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut first_lines = BufReader::new(first.try_clone().unwrap());
    let mut first_pid = String::new();
    first_lines.read_line(&mut first_pid).unwrap();

    let second = TcpStream::connect(("127.0.0.1", port)).unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    let waiting = (&second).read(&mut byte).unwrap_err();
    assert_eq!(waiting.kind(), std::io::ErrorKind::WouldBlock);

    first.shutdown(Shutdown::Write).unwrap();
    let mut rest = String::new();
    first_lines.read_to_string(&mut rest).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    let mut second_pid = String::new();
    BufReader::new(&second).read_line(&mut second_pid).unwrap();
    assert_ne!(first_pid, second_pid);
    assert!(!second_pid.is_empty());
}

#[test]
fn a_child_that_outlives_its_channel_gets_sigterm() {
    let mut relay = Proc::spawn(&["-d", "-", "SYSTEM:'exec sleep 30 >/dev/null'"]);
    relay.send_and_close(b"");
    relay.wait_log("still running 1s after its channel closed: sending SIGTERM");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ended by signal 15 after its grace period"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_child_that_ignores_sigterm_gets_sigkill() {
    let mut relay = Proc::spawn(&[
        "-d",
        "-",
        "SYSTEM:'trap \"\" TERM; exec sleep 30 >/dev/null'",
    ]);
    let mut stdin = relay.stdin();
    stdin.write_all(b"").unwrap();
    drop(stdin);
    relay.wait_log("ignored SIGTERM: sending SIGKILL");
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ended by signal 9 after its grace period"),
        "{}",
        out.stderr
    );
}
