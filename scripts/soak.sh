#!/usr/bin/env bash
# Soak: the real natter binary answers Telegram messages at 50/s for MINUTES
# (default 10) against loopback fakes of the Bot API and of an OpenAI-compatible
# model; writes natter's memory curve to CSV (default
# $CARGO_TARGET_DIR/soak.csv) and exits non-zero unless, after a 4-minute
# warm-up (the conversation cache filling), resident memory stayed within ±10 % of its mean, nothing failed and
# every message was answered. Further flags go to the bench (benches/soak.rs):
#   scripts/soak.sh 10 docs/benchmarks/soak.csv --rate 50 --chats 100
set -euo pipefail
cd "$(dirname "$0")/.."
# The build needs what scripts/setup.sh installs (cmake, libclang, a C++
# compiler), not the model: that script's target directory, without its model fetch.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/natter/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
minutes="${1:-10}"
csv="${2:-$CARGO_TARGET_DIR/soak.csv}"
shift $(( $# > 2 ? 2 : $# ))
case "$csv" in /*) ;; *) csv="$PWD/$csv" ;; esac
# The dev profile: dependencies are optimised in it too, and it shares the
# tests' build instead of rebuilding llama.cpp for release.
exec cargo bench -p natter --bench soak --profile dev -- --minutes "$minutes" --csv "$csv" "$@"
