#!/usr/bin/env bash
# Xcode pre-build step (Mac only): builds the static library for the platform being built and
# generates the Swift bindings from a host build of the same source, so they always match.
set -euo pipefail
cd "$SRCROOT/../.."
case "${PLATFORM_NAME:-iphoneos}" in
    iphoneos) target=aarch64-apple-ios ;;
    iphonesimulator) target=aarch64-apple-ios-sim ;;
    *) echo "unsupported platform $PLATFORM_NAME" >&2; exit 1 ;;
esac
cargo build -p gridwalk-bindings --features sqlcipher --profile release-ffi --target "$target"
out="$SRCROOT/build/rust/$PLATFORM_NAME"
mkdir -p "$out"
cp "target/$target/release-ffi/libgridwalk_ffi.a" "$out/"
# Bindings come from an unstripped host library (uniffi reads its metadata).
scripts/bindings.sh "$SRCROOT/build/bindings" >/dev/null
core="$SRCROOT/../GridwalkCore/Sources"
mkdir -p "$core/GridwalkCore" "$core/GridwalkCoreFFI"
cp "$SRCROOT/build/bindings/swift/GridwalkCore.swift" "$core/GridwalkCore/"
cp "$SRCROOT/build/bindings/swift/GridwalkCoreFFI.h" "$core/GridwalkCoreFFI/"
cp "$SRCROOT/build/bindings/swift/GridwalkCoreFFI.modulemap" "$core/GridwalkCoreFFI/module.modulemap"
