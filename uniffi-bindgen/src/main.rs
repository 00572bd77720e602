//! uniffi's `uniffi-bindgen` command, built from the workspace so it is always the exact uniffi
//! version the library was compiled with (a mismatch produces bindings that fail at load time).
//!
//! `scripts/bindings.sh` runs it in library mode:
//! `uniffi-bindgen generate --library <libgridwalk_ffi.so> --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
