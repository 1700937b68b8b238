//! Fuzzes the proxy server's request parsers (socketry proxy).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::proxy_request(data));
