//! Fuzzes the transfer receiver (socketry recv) with whatever a peer might send.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::transfer(data));
