#![allow(clippy::unwrap_used)]
//! POSIX message queues against the system's own `mq_*` calls: message boundaries and
//! priorities both ways, the message size limit, one-shot and forking receivers, forking
//! senders, the echo of a bidirectional queue, and the open, flush and unlink options.

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::net::UdpSocket;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::time::{Duration, Instant};

use nix::mqueue::{mq_getattr, mq_open, mq_receive, mq_send, mq_unlink, MQ_OFlag, MqAttr, MqdT};
use nix::sys::stat::Mode;

use common::{run, tempdir, Proc, WAIT};

/// Exit status of socketry ended by SIGTERM (128 + 15).
const TERMINATED: i32 = 143;

/// A queue name unique to this test process, removed when dropped.
struct TestQueue(String);

impl TestQueue {
    fn new(tag: &str) -> TestQueue {
        let name = format!("/socketry-test-{}-{tag}", std::process::id());
        let _ = mq_unlink(name.as_str());
        TestQueue(name)
    }

    fn name(&self) -> &str {
        &self.0
    }

    /// Creates the queue with these limits and opens it for both directions, non-blocking.
    fn create(&self, max_messages: i64, message_size: i64) -> MqdT {
        let attr = MqAttr::new(0, max_messages, message_size, 0);
        mq_open(
            self.name(),
            MQ_OFlag::O_CREAT | MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK,
            Mode::from_bits_truncate(0o600),
            Some(&attr),
        )
        .unwrap()
    }

    /// Opens the existing queue, non-blocking; `None` if it does not exist.
    fn open(&self) -> Option<MqdT> {
        match mq_open(
            self.name(),
            MQ_OFlag::O_RDWR | MQ_OFlag::O_NONBLOCK,
            Mode::empty(),
            None,
        ) {
            Ok(mqd) => Some(mqd),
            Err(nix::errno::Errno::ENOENT) => None,
            Err(e) => panic!("opening {}: {e}", self.name()),
        }
    }
}

impl Drop for TestQueue {
    fn drop(&mut self) {
        let _ = mq_unlink(self.0.as_str());
    }
}

/// Takes every message waiting in the queue: its bytes and priority.
fn drain(mqd: &MqdT) -> Vec<(Vec<u8>, u32)> {
    let size = usize::try_from(mq_getattr(mqd).unwrap().msgsize()).unwrap();
    let mut buf = vec![0; size];
    let mut messages = Vec::new();
    loop {
        let mut priority = 0;
        match mq_receive(mqd, &mut buf, &mut priority) {
            Ok(n) => messages.push((buf[..n].to_vec(), priority)),
            Err(nix::errno::Errno::EAGAIN) => return messages,
            Err(e) => panic!("mq_receive: {e}"),
        }
    }
}

/// Waits (bounded by [`WAIT`]) until the queue holds `count` messages.
fn wait_for_messages(mqd: &MqdT, count: i64) {
    let deadline = Instant::now() + WAIT;
    while mq_getattr(mqd).unwrap().curmsgs() < count {
        assert!(
            Instant::now() < deadline,
            "the queue did not reach {count} messages within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn messages_come_out_by_priority_with_their_boundaries_kept() {
    let queue = TestQueue::new("prio");
    let sent: [(&[u8], u32); 4] = [
        (b"low one\n", 0),
        (b"high\n", 9),
        (b"middle\n", 4),
        (b"low two\n", 0),
    ];
    for (message, priority) in sent {
        let address = format!("POSIXMQ-SEND:{},mq-prio={priority}", queue.name());
        let out = run(&["-u", "-", &address], message);
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }

    // Each message leaves the queue as one datagram, highest priority first.
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let target = format!("UDP-SENDTO:{}", peer.local_addr().unwrap());
    let reader = Proc::spawn(&["-u", &format!("POSIXMQ-READ:{}", queue.name()), &target]);
    let mut buf = [0; 64];
    let mut got = Vec::new();
    for _ in 0..4 {
        let n = peer.recv(&mut buf).unwrap();
        got.push(buf[..n].to_vec());
    }
    assert_eq!(
        got,
        [&b"high\n"[..], b"middle\n", b"low one\n", b"low two\n"]
    );
    // A queue has no EOF: the reader waits for more until it is stopped.
    let out = reader.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn datagrams_become_messages_and_a_message_too_large_is_an_error() {
    let queue = TestQueue::new("size");
    let mqd = queue.create(10, 16);
    let dir = tempdir();
    let path = dir.path().join("in.sock");
    let address = format!("POSIXMQ-SEND:{},mq-prio=3", queue.name());
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        &format!("UNIX-RECV:{}", path.display()),
        &address,
    ]);
    relay.wait_log("starting data transfer loop");
    let sender = UnixDatagram::unbound().unwrap();
    sender.send_to(b"one", &path).unwrap();
    sender.send_to(b"", &path).unwrap();
    sender.send_to(b"exactly 16 bytes", &path).unwrap();
    wait_for_messages(&mqd, 3);
    sender.send_to(b"seventeen bytes!!", &path).unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    assert_eq!(
        out.errors(),
        [format!(
            "writing (first address to second): a message of 17 bytes is larger than message queue {}'s message size of 16 bytes",
            queue.name()
        )]
    );
    assert_eq!(
        drain(&mqd),
        [
            (b"one".to_vec(), 3),
            (Vec::new(), 3),
            (b"exactly 16 bytes".to_vec(), 3)
        ]
    );
}

#[test]
fn a_stream_is_cut_into_messages_no_larger_than_the_queue_takes() {
    let queue = TestQueue::new("stream");
    let mqd = queue.create(10, 16);
    let input: Vec<u8> = (0..40u8).collect();
    let out = run(
        &["-u", "-", &format!("POSIXMQ-SEND:{}", queue.name())],
        &input,
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let messages = drain(&mqd);
    assert!(messages.iter().all(|(m, _)| !m.is_empty() && m.len() <= 16));
    assert_eq!(messages.concat_bytes(), input);
}

trait ConcatBytes {
    fn concat_bytes(&self) -> Vec<u8>;
}

impl ConcatBytes for Vec<(Vec<u8>, u32)> {
    fn concat_bytes(&self) -> Vec<u8> {
        self.iter().flat_map(|(m, _)| m.iter().copied()).collect()
    }
}

#[test]
fn receive_takes_one_message_then_ends() {
    let queue = TestQueue::new("receive");
    let mqd = queue.create(10, 64);
    mq_send(&mqd, b"second", 0).unwrap();
    mq_send(&mqd, b"first", 1).unwrap();
    let out = run(
        &["-u", &format!("POSIXMQ-RECEIVE:{}", queue.name()), "STDOUT"],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"first");
    assert_eq!(drain(&mqd), [(b"second".to_vec(), 0)]);
}

#[test]
fn receive_with_fork_is_a_session_per_message() {
    let queue = TestQueue::new("fork");
    let mqd = queue.create(10, 64);
    let dir = tempdir();
    let path = dir.path().join("worker.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let relay = Proc::spawn(&[
        "-u",
        &format!("POSIXMQ-RECV:{},fork", queue.name()),
        &format!("UNIX-CONNECT:{}", path.display()),
    ]);
    let sent = ["alpha", "beta", "gamma"];
    for message in sent {
        mq_send(&mqd, message.as_bytes(), 0).unwrap();
    }
    // Each message arrives on a connection of its own, followed by EOF.
    let mut got = BTreeSet::new();
    for _ in sent {
        let (mut connection, _) = listener.accept().unwrap();
        connection.set_read_timeout(Some(WAIT)).unwrap();
        let mut message = String::new();
        connection.read_to_string(&mut message).unwrap();
        got.insert(message);
    }
    assert_eq!(got, sent.iter().map(|s| s.to_string()).collect());
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
}

#[test]
fn send_with_fork_starts_sessions_while_the_queue_has_room() {
    let queue = TestQueue::new("sendfork");
    let mqd = queue.create(3, 64);
    let relay = Proc::spawn(&[
        "-U",
        &format!("POSIXMQ-SEND:{},fork,interval=0.05", queue.name()),
        "SYSTEM:echo $$",
    ]);
    wait_for_messages(&mqd, 3);
    let first = drain(&mqd);
    // A full queue holds the next session back until there is room again.
    wait_for_messages(&mqd, 1);
    let out = relay.terminate();
    assert_eq!(out.code(), Some(TERMINATED), "{}", out.stderr);
    let pids: BTreeSet<String> = first
        .iter()
        .map(|(m, _)| String::from_utf8(m.clone()).unwrap())
        .collect();
    assert!(first.len() >= 3, "{first:?}");
    assert_eq!(pids.len(), first.len(), "one program per session: {pids:?}");
    assert!(pids
        .iter()
        .all(|p| p.ends_with('\n') && p.trim_end().parse::<u32>().is_ok()));
}

#[test]
fn a_bidirectional_queue_echoes() {
    let queue = TestQueue::new("echo");
    let out = run(
        &["-", &format!("POSIXMQ:{},unlink-close", queue.name())],
        b"echo me\n",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"echo me\n");
    assert!(queue.open().is_none(), "unlink-close removes the queue");
}

#[test]
fn flush_drops_what_was_waiting() {
    let queue = TestQueue::new("flush");
    let mqd = queue.create(10, 64);
    mq_send(&mqd, b"stale", 5).unwrap();
    let mut relay = Proc::spawn(&[
        "-d",
        "-u",
        &format!("POSIXMQ-RECEIVE:{},mq-flush", queue.name()),
        "STDOUT",
    ]);
    relay.wait_log("waiting for messages");
    mq_send(&mqd, b"fresh", 0).unwrap();
    let out = relay.finish();
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"fresh");
}

#[test]
fn open_options_create_remove_and_require_the_queue() {
    let queue = TestQueue::new("opts");
    let send = |options: &str, data: &[u8]| {
        run(
            &[
                "-u",
                "-",
                &format!("POSIXMQ-SEND:{}{options}", queue.name()),
            ],
            data,
        )
    };
    let out = send(",creat=0", b"x");
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        out.errors(),
        [format!(
            "POSIXMQ-SEND:{},creat=0: opening message queue {}: No such file or directory",
            queue.name(),
            queue.name()
        )]
    );

    let out = send(",mq-maxmsg=4,mq-msgsize=32", b"old");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mqd = queue.open().unwrap();
    let attr = mq_getattr(&mqd).unwrap();
    assert_eq!((attr.maxmsg(), attr.msgsize(), attr.curmsgs()), (4, 32, 1));

    // The queue exists: its limits stay, and socketry says so.
    let out = run(
        &[
            "-d",
            "-u",
            "-",
            &format!("POSIXMQ-SEND:{},mq-msgsize=64", queue.name()),
        ],
        b"",
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("has msgsize 32, not 64: posixmq-msgsize applies only when creating a queue"),
        "{}",
        out.stderr
    );

    let out = send(",excl", b"x");
    assert_eq!(out.code(), Some(1));
    assert!(out.errors()[0].ends_with("File exists"), "{}", out.stderr);

    // unlink-early starts from a new, empty queue; unlink-close removes it at the end.
    let out = send(",unlink-early", b"new");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let mqd = queue.open().unwrap();
    assert_eq!(drain(&mqd), [(b"new".to_vec(), 0)]);
    let out = send(",unlink-close", b"");
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(queue.open().is_none());
}
