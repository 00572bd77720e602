#!/usr/bin/env bash
# Installs what the console's browser tests need, idempotently: Debian's chromium (driven by
# playwright-core; no browser is ever downloaded), a CJK font so Chinese renders in the
# screenshots, and the npm packages of console-tests/ from its lockfile (npm cache under
# /root/.cache/npm). Safe to run every time; a second run installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
# (grep without -q: under pipefail an early exit of grep would fail fc-list.)
fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null || need_apt+=(fonts-noto-cjk)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup-console: installing ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

export npm_config_cache="${npm_config_cache:-/root/.cache/npm}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# node_modules is rebuilt only when the lockfile changed since the last install.
lock_sum="$(sha256sum console-tests/package-lock.json | cut -d' ' -f1)"
stamp=console-tests/node_modules/.gridwalk-lock.sha256
if [ ! -d console-tests/node_modules/playwright-core ] || [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
    echo "setup-console: npm ci (console-tests)"
    (cd console-tests && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" >"$stamp"
fi
