//! A short run of every fuzz target's entry point under `cargo test`: each seed in
//! `fuzz/corpus/<target>/`, mutations of each seed, and random inputs, from a fixed seed so
//! that a failure repeats. The long runs are cargo-fuzz's (see the README); this makes sure
//! no change breaks a target or brings back a crash its corpus once found.

use std::path::PathBuf;

/// Inputs per target besides the seeds: mutations and random bytes, half each.
const INPUTS: usize = 20_000;

/// xorshift64*: deterministic, and enough to scatter bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| match alphabet {
                [] => self.next() as u8,
                letters => letters[self.below(letters.len())],
            })
            .collect()
    }
}

/// One of a fuzzer's usual edits: flip a byte, insert, delete, duplicate a span, or splice in
/// bytes from the alphabet.
fn mutate(rng: &mut Rng, seed: &[u8], alphabet: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if at < data.len() => data[at] ^= 1 << rng.below(8),
            1 => {
                let len = 1 + rng.below(4);
                let inserted = rng.bytes(len, alphabet);
                data.splice(at..at, inserted);
            }
            2 if at < data.len() => {
                let end = (at + 1 + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            3 if at < data.len() => {
                let end = (at + 1 + rng.below(16)).min(data.len());
                let span = data[at..end].to_vec();
                data.splice(at..at, span);
            }
            _ => {
                if let Some(byte) = data.get_mut(at) {
                    *byte = rng.bytes(1, &[0, 0xff, 0x7f, 0x80])[0];
                }
            }
        }
    }
    data
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).unwrap_or_else(|e| panic!("reading {}: {e}", f.display())))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// Runs `entry` over the seeds of `target`, then [`INPUTS`] mutated and random inputs drawn
/// from `alphabet` (any byte when empty). Returns how many inputs ran.
fn smoke(target: &str, alphabet: &[u8], entry: fn(&[u8])) -> usize {
    let seeds = seeds(target);
    let mut rng = Rng(0x5EED_0000 ^ target.len() as u64);
    for seed in &seeds {
        entry(seed);
    }
    for i in 0..INPUTS {
        let input = if i % 2 == 0 {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed, alphabet)
        } else {
            let len = rng.below(96);
            rng.bytes(len, alphabet)
        };
        entry(&input);
    }
    seeds.len() + INPUTS
}

/// Bytes the address language gives meaning to, and a few it does not.
const ADDRESS_ALPHABET: &[u8] =
    b"TCPUDXNILSEROMFY-:,=!|'\"\\[]()/.0123456789abcdefkmnprtuvx \t\xc3\xa9\x00";

#[test]
fn address_target_survives_its_corpus_and_mutations() {
    assert_eq!(
        smoke("address", ADDRESS_ALPHABET, socketry::fuzzing::address),
        INPUTS + seeds("address").len()
    );
}

#[test]
fn length_prefix_target_survives_its_corpus_and_mutations() {
    smoke("length_prefix", &[], socketry::fuzzing::length_prefix);
}

#[test]
fn control_messages_target_survives_its_corpus_and_mutations() {
    smoke("control_messages", &[], socketry::fuzzing::control_messages);
}

#[test]
fn shm_hello_target_survives_its_corpus_and_mutations() {
    smoke("shm_hello", &[], socketry::fuzzing::shm_hello);
}

#[test]
fn transfer_target_survives_its_corpus_and_mutations() {
    smoke("transfer", &[], socketry::fuzzing::transfer);
    for (seed, intact) in [
        ("intact", true),
        ("unknown-length", true),
        ("truncated", false),
        ("corrupt", false),
    ] {
        assert_eq!(
            socketry::fuzzing::accepts_transfer(
                &std::fs::read(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("../../fuzz/corpus/transfer")
                        .join(seed)
                )
                .expect("reading a seed")
            ),
            intact,
            "{seed}"
        );
    }
}

/// The seeds are real inputs: each one that should be accepted is.
#[test]
fn the_seeds_say_what_they_are_named_for() {
    for seed in seeds("address") {
        let text = String::from_utf8(seed).expect("address seeds are text");
        socketry::Address::parse(&text).unwrap_or_else(|e| panic!("seed {text:?}: {e}"));
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let read = |target: &str, name: &str| {
        std::fs::read(dir.join(target).join(name)).expect("reading a seed")
    };
    let both = socketry::fuzzing::parse_control_for_test(&read("control_messages", "both"));
    assert_eq!(both, (vec![5, 6], Some((1, 0, 0)), false));
    let short =
        socketry::fuzzing::parse_control_for_test(&read("control_messages", "short-length"));
    assert_eq!(short, (vec![], None, true));
    assert!(socketry::fuzzing::accepts_shm_hello(&read(
        "shm_hello",
        "messages"
    )));
    assert!(socketry::fuzzing::accepts_shm_hello(&read(
        "shm_hello",
        "bytes"
    )));
    for refused in ["kind-mismatch", "bad-version", "odd-capacity"] {
        assert!(
            !socketry::fuzzing::accepts_shm_hello(&read("shm_hello", refused)),
            "{refused}"
        );
    }
}

#[test]
fn proxy_request_target_survives_its_corpus_and_mutations() {
    smoke("proxy_request", &[], socketry::fuzzing::proxy_request);
}

#[test]
fn proxy_protocol_target_survives_its_corpus_and_mutations() {
    smoke(
        "proxy_protocol",
        b"PROXY TCP46UNKOW:.0123456789 \r\n\x00QUIT\x21\x11\x20",
        socketry::fuzzing::proxy_protocol,
    );
}

#[test]
fn socks4_reply_target_survives_its_corpus_and_mutations() {
    smoke("socks4_reply", &[], socketry::fuzzing::socks4_reply);
}

#[test]
fn socks5_reply_target_survives_its_corpus_and_mutations() {
    smoke(
        "socks5_reply",
        &[0, 1, 2, 3, 4, 5, 0xff],
        socketry::fuzzing::socks5_reply,
    );
}

/// Bytes an HTTP answer gives meaning to, and a few it does not.
const HTTP_ALPHABET: &[u8] = b"HTTP/1.0 200 OK\r\n:x\x00\xff";

#[test]
fn http_connect_reply_target_survives_its_corpus_and_mutations() {
    smoke(
        "http_connect_reply",
        HTTP_ALPHABET,
        socketry::fuzzing::http_connect_reply,
    );
}

#[test]
fn http_response_target_survives_its_corpus_and_mutations() {
    smoke(
        "http_response",
        HTTP_ALPHABET,
        socketry::fuzzing::http_response,
    );
}
