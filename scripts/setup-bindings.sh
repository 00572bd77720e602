#!/usr/bin/env bash
# Installs what the binding tests need, idempotently; a re-run with everything in place takes a
# second. Everything is cached under $GRIDWALK_CACHE (default /var/cache/gridwalk), outside the
# checkout, so a fresh clone on the same machine reuses it.
#
#   kotlinc     npm package `kotlin-compiler` (the full distribution: kotlinc, stdlib,
#               kotlin-test-junit5, coroutines) — Maven Central is not reachable here
#   JNA, JUnit  Debian packages libjna-java + libjna-jni (native part) and junit5
#   Swift       Debian trixie's `swiftlang` in a minbase trixie chroot (the host glibc is too
#               old for it), built in a temporary directory and renamed only when complete
#   pytest      from PyPI, in a virtualenv
#
# Prints the paths it set up as `key=value` lines when run with --print-env.
set -euo pipefail

CACHE="${GRIDWALK_CACHE:-/var/cache/gridwalk}"
KOTLIN_VERSION="2.4.20"
PYTEST_VERSION="9.2.0"
SWIFT_ROOT="$CACHE/swift-trixie"
KOTLIN_HOME="$CACHE/kotlin-$KOTLIN_VERSION/node_modules/kotlin-compiler"
VENV="$CACHE/pytest-$PYTEST_VERSION"

if [ "${1:-}" = "--print-env" ]; then
    echo "KOTLIN_HOME=$KOTLIN_HOME"
    echo "SWIFT_ROOT=$SWIFT_ROOT"
    echo "PYTEST_VENV=$VENV"
    exit 0
fi

log() { echo "setup-bindings: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

as_root mkdir -p "$CACHE"

# ---- Debian packages (JNA with its native part, JUnit 5, debootstrap for the Swift chroot)
need_apt=()
[ -f /usr/share/java/jna.jar ] || need_apt+=(libjna-java)
dpkg -s libjna-jni >/dev/null 2>&1 || need_apt+=(libjna-jni)
[ -f /usr/share/java/junit-platform-console-standalone.jar ] || need_apt+=(junit5)
command -v java >/dev/null 2>&1 || need_apt+=(default-jdk-headless)
[ -x /usr/sbin/debootstrap ] || need_apt+=(debootstrap)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if ! "$VENV/bin/pytest" --version >/dev/null 2>&1; then
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    log "apt-get install ${need_apt[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}" >/dev/null
fi

# ---- kotlinc from npm
if [ ! -x "$KOTLIN_HOME/bin/kotlinc" ]; then
    log "installing kotlin-compiler $KOTLIN_VERSION from npm"
    tmp="$(mktemp -d "$CACHE/.kotlin.XXXXXX")"
    npm install --silent --no-audit --no-fund --prefix "$tmp" "kotlin-compiler@$KOTLIN_VERSION"
    chmod +x "$tmp/node_modules/kotlin-compiler/bin/"*
    rm -rf "$CACHE/kotlin-$KOTLIN_VERSION"
    mv "$tmp" "$CACHE/kotlin-$KOTLIN_VERSION"
fi

# ---- pytest in a virtualenv (made again when it no longer runs: a venv moved with its cache
# keeps the old path in its scripts)
if ! "$VENV/bin/pytest" --version >/dev/null 2>&1; then
    log "installing pytest $PYTEST_VERSION from PyPI"
    # A venv records its own path, so it is made in place; `bin/pytest` appears only when the
    # install finished, and its absence makes the next run start over.
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "pytest==$PYTEST_VERSION"
fi

# ---- Swift: trixie chroot with swiftlang
if [ ! -f "$SWIFT_ROOT/.gridwalk-complete" ]; then
    log "building the Swift chroot (debootstrap trixie + swiftlang; a few minutes)"
    tmp="$(mktemp -d "$CACHE/.swift-trixie.XXXXXX")"
    # Any mount lives in a private namespace: a killed setup leaves nothing mounted on the host.
    as_root unshare -m --propagation private bash -euo pipefail -c '
        root="$1"
        debootstrap --variant=minbase trixie "$root" http://deb.debian.org/debian >/dev/null
        mount -t proc proc "$root/proc"
        chroot "$root" /usr/bin/env DEBIAN_FRONTEND=noninteractive HOME=/root \
            apt-get install -y -qq --no-install-recommends swiftlang libc6-dev >/dev/null
        chroot "$root" apt-get clean
        umount "$root/proc"
    ' _ "$tmp"
    as_root touch "$tmp/.gridwalk-complete"
    as_root rm -rf "$SWIFT_ROOT"
    as_root mv "$tmp" "$SWIFT_ROOT"
fi
# Stale temporary builds from killed runs.
find "$CACHE" -maxdepth 1 -name '.*.??????' -mmin +120 -exec rm -rf {} + 2>/dev/null || true

log "ready: kotlinc $KOTLIN_VERSION, JNA, JUnit 5, swiftlang (trixie chroot), pytest $PYTEST_VERSION"
