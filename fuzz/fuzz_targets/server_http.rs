//! libFuzzer entry point of the `server_http` target; the body (and its doc) is
//! `gridwalk_fuzz_targets::server_http`, which `cargo test` also replays over the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridwalk_fuzz_targets::server_http(data));
