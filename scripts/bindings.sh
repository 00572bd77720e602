#!/usr/bin/env bash
# Builds the uniffi library and generates the Kotlin, Swift and Python bindings from it.
#
#   scripts/bindings.sh [--release] [OUT_DIR]     (OUT_DIR defaults to $CARGO_TARGET_DIR/bindings)
#
# Library mode: the bindings are generated from the *unstripped* cdylib (uniffi reads its
# metadata from the library's symbols), with the workspace's pinned uniffi-bindgen, each
# language into its own folder:
#   OUT_DIR/lib/libgridwalk_ffi.so     the library the tests load
#   OUT_DIR/kotlin/org/gridwalk/core/gridwalk_ffi.kt
#   OUT_DIR/swift/{GridwalkCore.swift, GridwalkCoreFFI.h, GridwalkCoreFFI.modulemap}
#   OUT_DIR/python/{gridwalk_ffi.py, libgridwalk_ffi.so}
# `--release` builds the shipping profile (release-ffi, stripped) too and prints its size; the
# bindings still come from an unstripped build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

release=0
if [ "${1:-}" = "--release" ]; then release=1; shift; fi
out="${1:-$CARGO_TARGET_DIR/bindings}"

# One cargo invocation for both crates, so uniffi is built once with one feature set.
cargo build --quiet -p gridwalk-bindings -p uniffi-bindgen --features gridwalk-bindings/sqlcipher
lib="$CARGO_TARGET_DIR/debug/libgridwalk_ffi.so"
bindgen="$CARGO_TARGET_DIR/debug/uniffi-bindgen"

rm -rf "$out/kotlin" "$out/swift" "$out/python" "$out/lib"
mkdir -p "$out/kotlin" "$out/swift" "$out/python" "$out/lib"
for lang in kotlin swift python; do
    "$bindgen" generate --library "$lib" --language "$lang" --no-format --out-dir "$out/$lang" >/dev/null
done
# Hard links where possible: the unstripped debug library is large.
ln -f "$lib" "$out/lib/" 2>/dev/null || cp "$lib" "$out/lib/"
ln -f "$lib" "$out/python/" 2>/dev/null || cp "$lib" "$out/python/"
echo "bindings: generated Kotlin, Swift and Python from $lib into $out"

if [ "$release" = 1 ]; then
    cargo build --quiet -p gridwalk-bindings --profile release-ffi --features sqlcipher
    shipped="$CARGO_TARGET_DIR/release-ffi/libgridwalk_ffi.so"
    size=$(stat -c %s "$shipped")
    echo "bindings: release-ffi library $shipped: $size bytes ($(numfmt --to=iec-i --suffix=B "$size"), stripped x86_64)"
fi
