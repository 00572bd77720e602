#!/usr/bin/env bash
# Generates only the Kotlin bindings, for the Android Gradle build (android/), from the host
# build of the library: plain JVM flavour, or with --android the app's flavour
# (android/app/uniffi-android.toml: android = true).
#
#   scripts/kotlin-bindings.sh [--android] OUT_DIR      → OUT_DIR/org/gridwalk/core/gridwalk_ffi.kt
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
config=()
if [ "${1:-}" = "--android" ]; then
    config=(--config "$PWD/android/app/uniffi-android.toml")
    shift
fi
out="${1:?usage: scripts/kotlin-bindings.sh [--android] OUT_DIR}"
# The phone library: SQLCipher, as scripts/bindings.sh builds it.
cargo build --quiet -p gridwalk-bindings -p uniffi-bindgen --features gridwalk-bindings/sqlcipher
rm -rf "$out" && mkdir -p "$out"
"$CARGO_TARGET_DIR/debug/uniffi-bindgen" generate --library "$CARGO_TARGET_DIR/debug/libgridwalk_ffi.so" \
    --language kotlin --no-format "${config[@]}" --out-dir "$out" >/dev/null
echo "kotlin-bindings: $out/org/gridwalk/core/gridwalk_ffi.kt${config:+ (Android flavour)}"
