//! libFuzzer entry point of the `push_decode` target; the body (and its doc) is
//! `gridwalk_fuzz_targets::push_decode`, which `cargo test` also replays over the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridwalk_fuzz_targets::push_decode(data));
