#!/usr/bin/env bash
# Runs natter: builds it (optimised), installs what is missing, and starts the bot —
# every platform whose token is configured, else a chat in this terminal.
# Arguments go to natter, e.g. `scripts/run.sh check` or `scripts/run.sh --config my.toml`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
if [ -x "$CARGO_TARGET_DIR/release/natter" ]; then
  cargo build --release --quiet --bin natter
else
  echo "run: building natter (optimised) for the first time — about 15 minutes on 2 cores, most of it llama.cpp; later runs start in a second" >&2
  cargo build --release --bin natter
fi
exec "$CARGO_TARGET_DIR/release/natter" "$@"
