#!/usr/bin/env bash
# Installs what natter's build and tests need and a fresh machine may lack.
# Idempotent: does nothing that is already done. Sourced by run.sh and test.sh.
set -euo pipefail

natter_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# A fixed target directory outside the checkout keeps rebuilds incremental
# across fresh clones (CI clones anew each run).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/natter/target}"
mkdir -p "$CARGO_TARGET_DIR"
# One-shot builds gain nothing from incremental compilation, whose caches
# grow to many gigabytes.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: natter needs Rust 1.95 or newer: install it with rustup (https://rustup.rs), then run this again." >&2
  exit 1
fi

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || need_apt+=(g++)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if ! command -v pip3 >/dev/null 2>&1 && ! command -v pip >/dev/null 2>&1 \
  && ! python3 -m pip --version >/dev/null 2>&1; then
  need_apt+=(python3-pip)
fi
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
# The web side's end-to-end test drives a real headless browser.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} (to build llama.cpp, fetch and unpack the model, and test the web side)" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

if [ -x "$natter_root/scripts/fetch-model.sh" ]; then
  "$natter_root/scripts/fetch-model.sh"
fi
