#!/usr/bin/env bash
# Runs Gridwalk's libFuzzer targets (fuzz/, see fuzz/README.md) one after the other and prints,
# per target, how many inputs ran and how many crashes were found. Exits non-zero on any crash
# (or a target that did not run).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     e.g. scripts/fuzz.sh 600
#                                                              scripts/fuzz.sh 60 hlc cursor
#
# Each crash is copied into fuzz/regressions/<target>/ (commit it with its fix: the regression
# test in `cargo test` replays it from then on). New inputs the fuzzer finds go to a work folder
# outside the repository, so the committed seed corpus stays small.
#
# Environment:
#   FUZZ_TARGET_DIR  build folder (default ~/.cache/gridwalk/fuzz-target)
#   FUZZ_WORK_DIR    growing corpora, artifacts and logs (default ~/.cache/gridwalk/fuzz-work)
#   FUZZ_SANITIZER   address | none (default: address; none when it cannot be built here)
#   FUZZ_TIMEOUT     seconds one input may take before it counts as a crash (default 10)
#   FUZZ_RSS_MB      memory limit in MiB, a larger allocation counts as a crash (default 2048)
#   FUZZ_MAX_LEN     largest input in bytes (default: libFuzzer's choice from the corpus)
#   FUZZ_ARGS        more libFuzzer flags
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

secs=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ $secs =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2
    exit 2
fi

all_targets=()
for f in fuzz/fuzz_targets/*.rs; do
    all_targets+=("$(basename "$f" .rs)")
done
if [ $# -gt 0 ]; then
    targets=("$@")
    for t in "${targets[@]}"; do
        if [ ! -f "fuzz/fuzz_targets/$t.rs" ]; then
            echo "unknown target '$t'; targets: ${all_targets[*]}" >&2
            exit 2
        fi
    done
else
    targets=("${all_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi

# libFuzzer and AddressSanitizer want a nightly compiler. Without one, the stable compiler in
# bootstrap mode (RUSTC_BOOTSTRAP=1) builds the same; if the sanitizer cannot be built, the
# targets are built without one (crashes are still found; silent memory errors in C code not).
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
sanitizer=${FUZZ_SANITIZER:-address}

# The SQLite amalgamation (built with the sanitizer too) has two file-static arrays of one name,
# which AddressSanitizer's one-definition-rule check mistakes for a violation at startup.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

target_dir=${FUZZ_TARGET_DIR:-$HOME/.cache/gridwalk/fuzz-target}
work=${FUZZ_WORK_DIR:-$HOME/.cache/gridwalk/fuzz-work}
triple=$(rustc "${toolchain[@]}" -vV | sed -n 's/^host: //p')

# -O: optimised; debug assertions and overflow checks come from fuzz/Cargo.toml's profile (on for
# our code, off for the third-party parsers listed there), not from cargo-fuzz's `-a`.
build_all() {
    echo "== building ${#targets[@]} target(s) (sanitizer: $sanitizer, toolchain: ${toolchain[*]:-stable, RUSTC_BOOTSTRAP=1})"
    local build=(cargo "${toolchain[@]}" fuzz build -O -s "$sanitizer" --target-dir "$target_dir")
    if [ ${#targets[@]} -eq ${#all_targets[@]} ]; then
        "${build[@]}" || return 1
    else
        for t in "${targets[@]}"; do
            "${build[@]}" "$t" || return 1
        done
    fi
}
if ! build_all; then
    if [ -n "${FUZZ_SANITIZER:-}" ] || [ "$sanitizer" = none ]; then
        exit 2
    fi
    echo "== AddressSanitizer build failed; building without a sanitizer" >&2
    sanitizer=none
    build_all || exit 2
fi

dict_for() {
    case $1 in
        push_decode | pull_decode | server_push | server_http) echo "$root/fuzz/dict/json.dict" ;;
        gpx | ledger_xlsx) echo "$root/fuzz/dict/xml.dict" ;;
        *) echo "" ;;
    esac
}

results=()
failed=0
for t in "${targets[@]}"; do
    bin="$target_dir/$triple/release/$t"
    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    log="$work/logs/$t.log"
    mkdir -p "$corpus" "$artifacts" "$work/logs" "fuzz/corpus/$t" "fuzz/regressions/$t"
    before=$(ls "$artifacts")

    flags=(-max_total_time="$secs" -print_final_stats=1 -workers=1
        -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}"
        -artifact_prefix="$artifacts/")
    [ -n "${FUZZ_MAX_LEN:-}" ] && flags+=(-max_len="$FUZZ_MAX_LEN")
    dict=$(dict_for "$t")
    [ -n "$dict" ] && flags+=(-dict="$dict")
    # shellcheck disable=SC2206
    [ -n "${FUZZ_ARGS:-}" ] && flags+=($FUZZ_ARGS)

    echo "== $t: ${secs}s (log: $log)"
    "$bin" "${flags[@]}" "$corpus" "fuzz/corpus/$t" "fuzz/regressions/$t" >"$log" 2>&1
    rc=$?

    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    crashes=0
    for a in $(ls "$artifacts"); do
        if grep -qxF "$a" <<<"$before"; then
            continue
        fi
        crashes=$((crashes + 1))
        # Keep it as a regression unless the same bytes are there already.
        sum=$(sha1sum "$artifacts/$a" | cut -c1-40)
        known=0
        for r in "fuzz/regressions/$t"/*; do
            [ -f "$r" ] && [ "$(sha1sum "$r" | cut -c1-40)" = "$sum" ] && known=1
        done
        [ $known -eq 0 ] && cp "$artifacts/$a" "fuzz/regressions/$t/$a"
        echo "   crash: fuzz/regressions/$t/$a"
        grep -m1 -E "panicked at|ERROR: (AddressSanitizer|libFuzzer)|out-of-memory|timeout" "$log" | sed 's/^/     /'
    done
    status=ok
    if [ -z "$execs" ]; then
        status="did not run (exit $rc)"
        execs=0
        failed=1
    elif [ $crashes -gt 0 ] || [ $rc -ne 0 ]; then
        status="CRASH (exit $rc)"
        failed=1
    fi
    results+=("$(printf '%-14s %12s %8s  %s' "$t" "$execs" "$crashes" "$status")")
done

echo
printf '%-14s %12s %8s  %s\n' target executions crashes status
printf '%s\n' "${results[@]}"
exit $failed
