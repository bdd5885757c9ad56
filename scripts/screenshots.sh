#!/usr/bin/env bash
# Regenerates the web side's screenshots in docs/ (web-chat.png,
# web-dashboard.png, web-conversation.png): runs the end-to-end browser test,
# which drives the real natter binary in headless chromium against the fake
# OpenAI server and saves what the pages show.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
NATTER_SCREENSHOTS_DIR="$PWD/docs" CI=true cargo test -p natter --test web_e2e
ls -l docs/web-*.png
