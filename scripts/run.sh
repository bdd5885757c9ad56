#!/usr/bin/env bash
# Runs natter: builds it (optimised), installs what is missing, and starts the bot —
# every platform whose token is configured, else a chat in this terminal.
# Arguments go to natter, e.g. `scripts/run.sh check` or `scripts/run.sh --config my.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet --bin natter
exec "$CARGO_TARGET_DIR/release/natter" "$@"
