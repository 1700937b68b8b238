//! Fuzzes the shared-memory hello an SHM-CONNECT reads.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::shm_hello(data));
