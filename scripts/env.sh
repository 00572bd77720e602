# Sourced by the scripts: one build cache outside the checkout, so a fresh clone (CI) reuses
# what earlier runs on this machine compiled.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/gridwalk/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
