//! Fuzzes the length-prefix decoder (length-prefix=2/4 on a stream).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::length_prefix(data));
