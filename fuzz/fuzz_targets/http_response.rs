//! Fuzzes the reader of an origin's answer to a request `socketry proxy` forwards.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::http_response(data));
