//! `socketry bench`'s measurements: every local mechanism socketry speaks, measured on this
//! machine the same way, after the method of ipc-bench and the Linux IPC literature.
//!
//! Each [`Mechanism`] is opened as a connected pair whose ends two threads of this process
//! drive with blocking calls. For each message size it gives two figures, each measured on a
//! fresh pair after a warm-up, for a bounded time ([`Parameters::seconds`]):
//!
//! - **latency**: one thread sends a message, the other sends it back; every round trip is
//!   timed, and the median and 99th percentile reported;
//! - **throughput**: one thread sends messages back to back, the other receives them; the
//!   bytes received per second after the warm-up, and for UDP how many messages were lost.
//!
//! Threads are left where the scheduler puts them unless [`Parameters::pin`] puts them on two
//! CPUs. A mechanism that cannot carry a size (a UDP datagram of 64 KiB, a message queue message
//! above the system's limit) says why, in [`Outcome::Unsupported`].

mod mechanism;
mod shm;
mod transport;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use mechanism::Mechanism;
use transport::{Endpoint, Opened, Received};

/// The message sizes measured by default: a small request, a page, a large buffer.
pub const SIZES: [usize; 3] = [64, 4096, 65536];

/// Who the two peers are, for reports.
pub const PEERS: &str = "two threads of one process";

/// The fewest round trips a latency figure rests on: the time bound is stretched (up to four
/// times) to reach it.
pub const MIN_ROUND_TRIPS: usize = 200;
const STRETCH: u32 = 4;

/// How a run is made; the same for every mechanism.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// How long each figure (one mechanism, one size, latency or throughput) is measured.
    pub seconds: Duration,
    /// How long each figure runs unmeasured first.
    pub warmup: Duration,
    /// Pin the two threads to two CPUs (the first two this process may use).
    pub pin: bool,
    /// The mechanisms to measure, in report order.
    pub mechanisms: Vec<Mechanism>,
    /// Message sizes in bytes, each at least [`Parameters::SMALLEST`].
    pub sizes: Vec<usize>,
}

impl Parameters {
    /// The smallest message: a one-byte message is the end marker.
    pub const SMALLEST: usize = 2;
    /// The default time per figure: the whole run takes about 20 seconds.
    pub const DEFAULT_SECONDS: Duration = Duration::from_millis(250);
    /// `--quick`'s time per figure: a second or two for the whole run.
    pub const QUICK_SECONDS: Duration = Duration::from_millis(20);

    /// Every mechanism and size, `seconds` per figure, with a warm-up of a fifth of that.
    pub fn new(seconds: Duration) -> Parameters {
        Parameters {
            seconds,
            warmup: seconds / 5,
            pin: false,
            mechanisms: Mechanism::ALL.to_vec(),
            sizes: SIZES.to_vec(),
        }
    }
}

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters::new(Parameters::DEFAULT_SECONDS)
    }
}

/// Round-trip times of one mechanism and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// The median round trip.
    pub p50: Duration,
    /// The round trip that 99% of them did not exceed.
    pub p99: Duration,
    /// How many round trips were timed (at least [`MIN_ROUND_TRIPS`] unless time ran out).
    pub round_trips: usize,
}

/// One-way throughput of one mechanism and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Bytes received per second, after the warm-up.
    pub bytes_per_second: f64,
    /// Messages received per second, after the warm-up.
    pub messages_per_second: f64,
    /// Messages sent and received, warm-up included: they differ only where messages can be
    /// lost (UDP).
    pub sent: u64,
    /// Messages received, warm-up included (see `sent`).
    pub received: u64,
}

impl Throughput {
    /// The share of the messages sent that never arrived.
    pub fn loss(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        self.sent.saturating_sub(self.received) as f64 / self.sent as f64
    }
}

/// What one mechanism and size gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Both figures were measured.
    Measured {
        /// Round trips, each on a fresh pair.
        latency: Latency,
        /// One-way streaming.
        throughput: Throughput,
    },
    /// The mechanism cannot carry messages of this size, and why.
    Unsupported(String),
    /// Something failed on the way (the error, as text).
    Failed(String),
}

/// One mechanism and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// What was measured.
    pub mechanism: Mechanism,
    /// The message size, in bytes.
    pub size: usize,
    /// The figures, or why there are none.
    pub outcome: Outcome,
}

/// The machine the figures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// The CPU's model name, from `/proc/cpuinfo`.
    pub cpu: String,
    /// How many CPUs this process may run on (0 if unknown).
    pub cores: usize,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// `/proc/loadavg`'s three averages when the run started.
    pub load_average: String,
}

impl Machine {
    /// Reads the description from `/proc`; what cannot be read is "unknown".
    pub fn describe() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "unknown".to_owned(), |model| model.trim().to_owned());
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: if kernel.is_empty() {
                "unknown".to_owned()
            } else {
                kernel
            },
            load_average: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Where the run was made.
    pub machine: Machine,
    /// How it was made.
    pub parameters: Parameters,
    /// The CPUs the two threads were pinned to, with [`Parameters::pin`].
    pub pinned: Option<(usize, usize)>,
    /// Every mechanism and size, in the order measured.
    pub cells: Vec<Cell>,
}

/// Parameters that cannot be run.
#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ParameterError {
    /// A size below [`Parameters::SMALLEST`].
    #[error("a message size of {0} bytes is too small (expected at least {min})", min = Parameters::SMALLEST)]
    SizeTooSmall(usize),
    /// A zero time per figure: nothing could be measured.
    #[error("the time per figure must be more than zero")]
    NoTime,
    /// Pinning was asked for and the CPUs this process may use could not be read, or there
    /// are none (why is the text).
    #[error("pinning to CPUs: {0}")]
    Pin(String),
}

/// Measures every mechanism and size in `parameters`, in order, calling `progress` after
/// each.
pub fn run(
    parameters: &Parameters,
    mut progress: impl FnMut(&Cell),
) -> Result<Report, ParameterError> {
    if let Some(&size) = parameters.sizes.iter().find(|&&s| s < Parameters::SMALLEST) {
        return Err(ParameterError::SizeTooSmall(size));
    }
    if parameters.seconds.is_zero() {
        return Err(ParameterError::NoTime);
    }
    let pinned = if parameters.pin {
        Some(two_cpus().map_err(|e| ParameterError::Pin(e.to_string()))?)
    } else {
        None
    };
    let machine = Machine::describe();
    let mut cells = Vec::new();
    for &mechanism in &parameters.mechanisms {
        for &size in &parameters.sizes {
            let outcome = measure(mechanism, size, parameters, pinned);
            let cell = Cell {
                mechanism,
                size,
                outcome,
            };
            progress(&cell);
            cells.push(cell);
        }
    }
    Ok(Report {
        machine,
        parameters: parameters.clone(),
        pinned,
        cells,
    })
}

/// Why a figure could not be had.
enum Refusal {
    Unsupported(String),
    Io(io::Error),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        // EMSGSIZE: the system will not carry a message this large on this mechanism.
        if e.raw_os_error() == Some(nix::libc::EMSGSIZE) {
            Refusal::Unsupported(format!("the system refuses messages this large ({e})"))
        } else {
            Refusal::Io(e)
        }
    }
}

fn measure(
    mechanism: Mechanism,
    size: usize,
    parameters: &Parameters,
    pinned: Option<(usize, usize)>,
) -> Outcome {
    let figures = latency(mechanism, size, parameters, pinned)
        .and_then(|latency| Ok((latency, throughput(mechanism, size, parameters, pinned)?)));
    match figures {
        Ok((latency, throughput)) => Outcome::Measured {
            latency,
            throughput,
        },
        Err(Refusal::Unsupported(why)) => Outcome::Unsupported(why),
        Err(Refusal::Io(e)) => Outcome::Failed(e.to_string()),
    }
}

fn open(mechanism: Mechanism, size: usize) -> Result<(Endpoint, Endpoint), Refusal> {
    match transport::open(mechanism, size)? {
        Opened::Pair(a, b) => Ok((a, b)),
        Opened::Unsupported(why) => Err(Refusal::Unsupported(why)),
    }
}

/// The first two CPUs this process may run on (the same one twice if it has only one).
fn two_cpus() -> io::Result<(usize, usize)> {
    use nix::sched::{sched_getaffinity, CpuSet};
    let set = sched_getaffinity(nix::unistd::Pid::from_raw(0))?;
    let allowed: Vec<usize> = (0..CpuSet::count())
        .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
        .take(2)
        .collect();
    match allowed[..] {
        [first, second] => Ok((first, second)),
        [only] => Ok((only, only)),
        _ => Err(io::Error::other("this process may run on no CPU")),
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: Option<usize>) -> io::Result<()> {
    use nix::sched::{sched_setaffinity, CpuSet};
    let Some(cpu) = cpu else {
        return Ok(());
    };
    let mut set = CpuSet::new();
    set.set(cpu)?;
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)?;
    Ok(())
}

/// Runs `near` and `far` on two threads, each with its own end, and returns `near`'s
/// result; when both fail, `far`'s error is the cause (`near` saw its peer stop).
fn on_two_threads<T: Send>(
    (a, b): (Endpoint, Endpoint),
    pinned: Option<(usize, usize)>,
    near: impl FnOnce(Endpoint) -> io::Result<T> + Send,
    far: impl FnOnce(Endpoint) -> io::Result<()> + Send,
) -> Result<T, Refusal> {
    let (near_result, far_result) = std::thread::scope(|scope| {
        let near = scope.spawn(move || {
            pin(pinned.map(|p| p.0))?;
            near(a)
        });
        let far = scope.spawn(move || {
            pin(pinned.map(|p| p.1))?;
            far(b)
        });
        let panicked = || io::Error::other("a measuring thread panicked");
        (
            near.join().unwrap_or_else(|_| Err(panicked())),
            far.join().unwrap_or_else(|_| Err(panicked())),
        )
    });
    match (near_result, far_result) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(_), Err(e)) | (Ok(_), Err(e)) | (Err(e), Ok(())) => Err(Refusal::from(e)),
    }
}

fn peer_stopped() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the peer thread ended the exchange early",
    )
}

/// Ping-pong: the round trip of one message, timed every time after the warm-up.
fn latency(
    mechanism: Mechanism,
    size: usize,
    parameters: &Parameters,
    pinned: Option<(usize, usize)>,
) -> Result<Latency, Refusal> {
    let pair = open(mechanism, size)?;
    let (warmup, seconds) = (parameters.warmup, parameters.seconds);
    let samples = on_two_threads(
        pair,
        pinned,
        move |mut near| {
            let message = vec![0x5a; size];
            let mut reply = vec![0; size];
            let mut round_trip = |near: &mut Endpoint| -> io::Result<Duration> {
                let started = Instant::now();
                near.send(&message)?;
                match near.recv(&mut reply)? {
                    Received::Message => Ok(started.elapsed()),
                    Received::End => Err(peer_stopped()),
                }
            };
            let warm_until = Instant::now() + warmup;
            while Instant::now() < warm_until {
                round_trip(&mut near)?;
            }
            let started = Instant::now();
            let mut samples = Vec::new();
            loop {
                samples.push(round_trip(&mut near)?);
                let elapsed = started.elapsed();
                if (elapsed >= seconds && samples.len() >= MIN_ROUND_TRIPS)
                    || elapsed >= seconds * STRETCH
                {
                    break;
                }
            }
            near.finish()?;
            Ok(samples)
        },
        move |mut far| {
            let mut buf = vec![0; size];
            while far.recv(&mut buf)? == Received::Message {
                far.send(&buf)?;
            }
            Ok(())
        },
    )?;
    Ok(percentiles(samples))
}

/// The median and 99th percentile (nearest rank) of the samples.
fn percentiles(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    let rank = |p: f64| -> Duration {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index]
    };
    Latency {
        p50: rank(0.50),
        p99: rank(0.99),
        round_trips: samples.len(),
    }
}

/// How often (in messages) a side reads the clock while moving messages of `size` bytes: often
/// enough to end on time, rarely enough not to slow the smallest messages.
fn clock_every(size: usize) -> u64 {
    (65536 / size).max(1) as u64
}

/// How long a sender of a lossy mechanism keeps repeating its end marker.
const END_REPEATS_FOR: Duration = Duration::from_secs(1);

/// One-way: messages back to back. The receiver counts what arrives for
/// [`Parameters::seconds`] after its warm-up, then tells the sender to stop: its window is the
/// same however late either thread got a CPU.
fn throughput(
    mechanism: Mechanism,
    size: usize,
    parameters: &Parameters,
    pinned: Option<(usize, usize)>,
) -> Result<Throughput, Refusal> {
    let pair = open(mechanism, size)?;
    let (warmup, seconds) = (parameters.warmup, parameters.seconds);
    let enough = AtomicBool::new(false);
    let received_all = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let (enough, received_all, sent_count) = (&enough, &received_all, &sent);
    let every = clock_every(size);
    let (received, messages_per_second) = on_two_threads(
        pair,
        pinned,
        move |mut receiver| {
            let mut buf = vec![0; size];
            let mut received = 0u64;
            let mut first: Option<Instant> = None;
            // The counting window: from the first look at the clock after the warm-up, to
            // the first look after `seconds` more; each end's time and count.
            let mut from: Option<(Instant, u64)> = None;
            let mut until: Option<(Instant, u64)> = None;
            while receiver.recv(&mut buf)? == Received::Message {
                received += 1;
                if received == 1 {
                    first = Some(Instant::now());
                }
                if until.is_some() || received % every != 0 {
                    continue;
                }
                let now = Instant::now();
                match from {
                    None if first.is_some_and(|first| now.duration_since(first) >= warmup) => {
                        from = Some((now, received));
                    }
                    Some((start, _)) if now.duration_since(start) >= seconds => {
                        until = Some((now, received));
                        enough.store(true, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
            let ended = (Instant::now(), received);
            received_all.store(true, Ordering::Release);
            // A sender that gave up early (see STRETCH) leaves a shorter window.
            let ((start, before), (end, after)) = match (from, first) {
                (Some(from), _) => (from, until.unwrap_or(ended)),
                (None, Some(first)) => ((first, 1), ended),
                (None, None) => return Err(peer_stopped()),
            };
            let elapsed = end.duration_since(start).as_secs_f64();
            let per_second = if elapsed > 0.0 && after > before {
                (after - before) as f64 / elapsed
            } else {
                0.0
            };
            Ok((received, per_second))
        },
        move |mut sender| {
            let message = vec![0x5a; size];
            // However slow the receiver, the sender stops in the end.
            let give_up = Instant::now() + (warmup + seconds) * STRETCH;
            let mut sent = 0u64;
            loop {
                sender.send(&message)?;
                sent += 1;
                if sent % every == 0
                    && (enough.load(Ordering::Relaxed) || Instant::now() >= give_up)
                {
                    break;
                }
            }
            sent_count.store(sent, Ordering::Release);
            sender.finish()?;
            if sender.lossy() {
                // The end marker may be lost like any datagram: repeat it until it arrives.
                let started = Instant::now();
                while !received_all.load(Ordering::Acquire) && started.elapsed() < END_REPEATS_FOR {
                    std::thread::sleep(Duration::from_millis(1));
                    sender.finish()?;
                }
            }
            Ok(())
        },
    )?;
    Ok(Throughput {
        bytes_per_second: messages_per_second * size as f64,
        messages_per_second,
        sent: sent.load(Ordering::Acquire),
        received,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let latency = percentiles(samples);
        assert_eq!(latency.p50, Duration::from_micros(50));
        assert_eq!(latency.p99, Duration::from_micros(99));
        assert_eq!(latency.round_trips, 100);
        let one = percentiles(vec![Duration::from_micros(7)]);
        assert_eq!(
            (one.p50, one.p99),
            (Duration::from_micros(7), Duration::from_micros(7))
        );
    }

    #[test]
    fn loss_is_the_share_never_received() {
        let t = Throughput {
            bytes_per_second: 1.0,
            messages_per_second: 1.0,
            sent: 200,
            received: 150,
        };
        assert_eq!(t.loss(), 0.25);
    }

    /// Every mechanism carries a message each way, whole, and then the end.
    #[test]
    fn every_mechanism_carries_messages_both_ways_and_ends() {
        for mechanism in Mechanism::ALL {
            let Opened::Pair(mut a, mut b) = transport::open(mechanism, 4096).unwrap() else {
                panic!("{} cannot carry 4 KiB", mechanism.name());
            };
            let message: Vec<u8> = (0..4096).map(|i| (i % 251) as u8).collect();
            let mut buf = vec![0; 4096];
            a.send(&message).unwrap();
            assert_eq!(b.recv(&mut buf).unwrap(), Received::Message);
            assert_eq!(buf, message, "{}", mechanism.name());
            buf.fill(0);
            b.send(&message).unwrap();
            assert_eq!(a.recv(&mut buf).unwrap(), Received::Message);
            assert_eq!(buf, message, "{}", mechanism.name());
            a.finish().unwrap();
            assert_eq!(
                b.recv(&mut buf).unwrap(),
                Received::End,
                "{}",
                mechanism.name()
            );
        }
    }

    #[test]
    fn a_udp_datagram_of_64_kib_is_unsupported_and_says_why() {
        let Opened::Unsupported(why) = transport::open(Mechanism::Udp, 65536).unwrap() else {
            panic!("UDP claimed to carry 64 KiB");
        };
        assert_eq!(why, "a UDP datagram over IPv4 carries at most 65507 bytes");
    }

    #[test]
    fn a_short_run_measures_positive_figures() {
        let mut parameters = Parameters::new(Duration::from_millis(10));
        parameters.mechanisms = vec![Mechanism::UnixStream, Mechanism::SharedMemoryEvent];
        parameters.sizes = vec![64, 65536];
        let mut seen = 0;
        let report = run(&parameters, |_| seen += 1).unwrap();
        assert_eq!(seen, 4);
        assert_eq!(report.cells.len(), 4);
        for cell in &report.cells {
            let Outcome::Measured {
                latency,
                throughput,
            } = &cell.outcome
            else {
                panic!(
                    "{} {}: {:?}",
                    cell.mechanism.name(),
                    cell.size,
                    cell.outcome
                );
            };
            assert!(latency.round_trips > 0);
            assert!(latency.p50 > Duration::ZERO && latency.p99 >= latency.p50);
            assert!(throughput.bytes_per_second > 0.0);
            assert_eq!(throughput.sent, throughput.received);
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut parameters = Parameters::new(Duration::from_millis(10));
        parameters.sizes = vec![64, 1];
        assert_eq!(
            run(&parameters, |_| {}).unwrap_err().to_string(),
            "a message size of 1 bytes is too small (expected at least 2)"
        );
        let parameters = Parameters::new(Duration::ZERO);
        assert_eq!(run(&parameters, |_| {}), Err(ParameterError::NoTime));
    }
}
