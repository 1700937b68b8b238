//! Fuzzes the address language (Address::parse, and Display parsing back).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::address(data));
