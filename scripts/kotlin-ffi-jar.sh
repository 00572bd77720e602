# Sourced by the Kotlin test scripts: compiles the generated Kotlin bindings
# (OUT/kotlin/org/gridwalk/core/gridwalk_ffi.kt, from scripts/bindings.sh) into a jar, once per
# version of their source and of kotlinc (kotlinc takes ~25 s for them), cached in
# $CARGO_TARGET_DIR/bindings-cache. Sets `ffi_jar` to its path.
#
#   . scripts/kotlin-ffi-jar.sh
#   build_ffi_jar OUT LOG_FILE || exit 1        # needs KOTLIN_HOME (scripts/setup-bindings.sh)

build_ffi_jar() {
    local out="$1" log="$2" k="$KOTLIN_HOME"
    local gen="$out/kotlin/org/gridwalk/core/gridwalk_ffi.kt"
    local cache="$CARGO_TARGET_DIR/bindings-cache"
    local jars="/usr/share/java/jna.jar"
    mkdir -p "$cache"
    ffi_jar="$cache/gridwalk_ffi-$(cat "$gen" "$k/build.txt" 2>/dev/null | sha256sum | cut -c1-16).jar"
    [ -f "$ffi_jar" ] && return 0
    echo "== kotlin: compiling the generated bindings (kotlinc -Werror)"
    local tmp
    tmp="$(mktemp -d "$cache/.ffi.XXXXXX")"
    "$k/bin/kotlinc" -Werror -jvm-target 17 -cp "$jars" "$gen" -d "$tmp/ffi.jar" \
        2>&1 | tee -a "$log" | grep -v '^$' | tail -20
    if [ "${PIPESTATUS[0]}" != 0 ] || [ ! -f "$tmp/ffi.jar" ]; then
        rm -rf "$tmp"
        return 1
    fi
    find "$cache" -maxdepth 1 -name 'gridwalk_ffi-*.jar' -delete
    mv "$tmp/ffi.jar" "$ffi_jar"
    rm -rf "$tmp"
}
