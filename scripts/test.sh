#!/usr/bin/env bash
# Runs every natter test: installs what is missing, then `cargo test --workspace`.
# Postgres tests use NATTER_TEST_POSTGRES_URL (default: the local server, which
# is started if it is installed but stopped). Without a server or the model
# file their tests say SKIPPED; under CI=true they fail instead, so a green CI
# run means every suite ran. The last line says which optional suites ran.
set -euo pipefail
cd "$(dirname "$0")/.."

model="models/SmolLM2-135M-Instruct.Q4_1.gguf"
postgres_note=""
tested=false

# One line naming which optional suites ran, printed last, also on failure.
suites() {
  local postgres local_model browser
  if [ "$tested" != true ]; then
    echo "suites: none ran (stopped before cargo test)"
    return
  fi
  if [ -n "${NATTER_TEST_POSTGRES_URL:-}" ]; then
    # The URL without its password, if it has one.
    postgres="ran ($(printf '%s' "$NATTER_TEST_POSTGRES_URL" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'))"
  else
    postgres="SKIPPED (${postgres_note:-NATTER_TEST_POSTGRES_URL not set})"
  fi
  if [ -f "$model" ]; then
    local_model="ran ($model)"
  else
    local_model="SKIPPED ($model missing; scripts/fetch-model.sh)"
  fi
  if command -v chromium >/dev/null 2>&1; then
    browser="ran (chromium)"
  else
    browser="SKIPPED (chromium missing; scripts/setup.sh installs it)"
  fi
  echo "suites: postgres=$postgres local-model=$local_model browser=$browser"
}
trap suites EXIT

source scripts/setup.sh

ci=false
case "${CI:-}" in true | TRUE | True | 1) ci=true ;; esac

if [ -z "${NATTER_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "test: starting the local PostgreSQL server" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export NATTER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
  else
    postgres_note="no server answers on 127.0.0.1:5432"
  fi
fi

if [ "$ci" = true ] && [ -z "${NATTER_TEST_POSTGRES_URL:-}" ]; then
  echo "test: CI=true needs PostgreSQL for the Postgres suites, but $postgres_note." >&2
  echo "test: install and start it (a server on 127.0.0.1:5432 with a 'test' database the" >&2
  echo "test: 'postgres' user may use), or set NATTER_TEST_POSTGRES_URL to one." >&2
  exit 1
fi

tested=true
cargo test --workspace "$@"
