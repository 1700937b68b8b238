//! Fuzzes the walk over recvmsg's control messages (SCM_RIGHTS, SCM_CREDENTIALS).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| socketry::fuzzing::control_messages(data));
