//! libFuzzer entry point of the `ledger_xlsx` target; the body (and its doc) is
//! `gridwalk_fuzz_targets::ledger_xlsx`, which `cargo test` also replays over the corpus.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridwalk_fuzz_targets::ledger_xlsx(data));
