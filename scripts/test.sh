#!/usr/bin/env bash
# Runs every natter test: installs what is missing, then `cargo test --workspace`.
# Postgres tests use NATTER_TEST_POSTGRES_URL (default: the local server, which
# is started if it is installed but stopped); without a server they say they skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if [ -z "${NATTER_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "test: starting the local PostgreSQL server" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    export NATTER_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
  fi
fi

exec cargo test --workspace "$@"
