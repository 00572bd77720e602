# Shared by scripts/test-bindings.sh and scripts/test-ios.sh (sourced, not run): the Swift
# packages laid out with their generated bindings, `swift test` in the trixie chroot, and
# XCTest's counts. (The demo sync server is scripts/demo-server.sh.)

# Lays the Swift packages of ios/ out in DEST with the generated bindings (scripts/bindings.sh
# output OUT/swift) where GridwalkCore's manifest expects them: they are not kept in git. Only
# files whose content changed are written (and stale ones removed), so SwiftPM, which goes by
# modification times, rebuilds only what changed since the last run.
#   stage_swift_packages OUT DEST
stage_swift_packages() {
    local out="$1" dest="$2"
    local want
    want="$(mktemp)"
    mkdir -p "$dest"
    local p f
    for p in GridwalkCore GridwalkKit; do
        while IFS= read -r f; do
            echo "$p/$f" >>"$want"
            _stage_file "ios/$p/$f" "$dest/$p/$f"
        done < <(cd "ios/$p" && find . -path ./.build -prune -o -type f -print | sed 's|^\./||')
    done
    local gen="$dest/GridwalkCore/Sources"
    _stage_file "$out/swift/GridwalkCore.swift" "$gen/GridwalkCore/GridwalkCore.swift"
    _stage_file "$out/swift/GridwalkCoreFFI.h" "$gen/GridwalkCoreFFI/GridwalkCoreFFI.h"
    _stage_file "$out/swift/GridwalkCoreFFI.modulemap" "$gen/GridwalkCoreFFI/module.modulemap"
    printf '%s\n' GridwalkCore/Sources/GridwalkCore/GridwalkCore.swift \
        GridwalkCore/Sources/GridwalkCoreFFI/GridwalkCoreFFI.h \
        GridwalkCore/Sources/GridwalkCoreFFI/module.modulemap >>"$want"
    # Files deleted or renamed in ios/ since the last run.
    (cd "$dest" && find . -type f | sed 's|^\./||') | sort | comm -23 - <(sort -u "$want") |
        while IFS= read -r f; do rm -f "$dest/$f"; done
    rm -f "$want"
}

_stage_file() {
    cmp -s "$1" "$2" && return 0
    mkdir -p "$(dirname "$2")"
    cp "$1" "$2"
}

# Runs `swift test` for one staged package in the trixie chroot ($SWIFT_ROOT), inside a private
# mount namespace (the mounts vanish with the process, even if it is killed). The build folder
# lives inside the chroot (root-owned, chroot-only), cached between runs under SCRATCH.
#   swift_test_in_chroot STAGED_DIR PACKAGE LIB_DIR SCRATCH LOG [swift test args...]
swift_test_in_chroot() {
    local staged="$1" package="$2" lib="$3" scratch="$4" log="$5"
    shift 5
    unshare -m --propagation private bash -euo pipefail -c '
        root="$1" staged="$2" package="$3" lib="$4" scratch="$5" server="$6"
        shift 6
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mkdir -p "$root/gridwalk/ios" "$root/gridwalk/lib"
        mount --bind "$staged" "$root/gridwalk/ios"
        mount --bind "$lib" "$root/gridwalk/lib"
        exec chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
            LANG=C.UTF-8 GRIDWALK_LIB_DIR=/gridwalk/lib GRIDWALK_SERVER_URL="$server" \
            swift test --package-path "/gridwalk/ios/$package" --scratch-path "$scratch" \
            --disable-swift-testing "$@"
    ' _ "$SWIFT_ROOT" "$staged" "$package" "$lib" "$scratch" "${GRIDWALK_SERVER_URL:-}" "$@" >"$log" 2>&1
}

# XCTest's total: "Executed 6 tests, with 0 failures (0 unexpected) in ..." (the last such line).
# Prints "PASSED FAILED", or nothing when no summary was printed.
#   xctest_counts LOG
xctest_counts() {
    local summary total fails
    summary=$(grep -E 'Executed [0-9]+ tests?, with [0-9]+ failures?' "$1" | tail -1)
    [ -n "$summary" ] || return 0
    total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
    fails=$(sed -E 's/.*with ([0-9]+) failures?.*/\1/' <<<"$summary")
    echo "$((total - fails)) $fails"
}

# The swift build log without the per-file progress lines.
#   swift_log_tail LOG [LINES]
swift_log_tail() {
    grep -v '^\[[0-9]*/[0-9]*\] \(Compiling\|Write\|Emitting\|Linking\|Applying\)' "$1" | tail -"${2:-40}"
}
