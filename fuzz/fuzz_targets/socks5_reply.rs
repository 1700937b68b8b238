//! Fuzzes the socks5_reply reader (a proxy client layer's reply parser).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::socks5_reply(data));
