//! Fuzzes the PROXY protocol header reader (proxy-protocol).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::proxy_protocol(data));
