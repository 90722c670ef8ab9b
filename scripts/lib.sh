# Shared by the scripts in this folder: paths and small helpers. Sourced, not run.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
# Build outputs live outside the clone so that a fresh clone builds incrementally.
IDP_CACHE="${IDP_CACHE:-$HOME/.cache/idp}"
export IDP_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$IDP_CACHE/target}"
# The wasm build may use another rustc (Debian's), so it gets its own target directory.
export IDP_WASM_TARGET_DIR="${IDP_WASM_TARGET_DIR:-$IDP_CACHE/target-wasm}"
# Incremental caches grow by gigabytes per change and the disk is shared with CI: the
# scripts build without them (set CARGO_INCREMENTAL=1 to override).
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$IDP_CACHE"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root (directly, or through sudo when there is one).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

APT_UPDATED=""
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The exact version of a package in Cargo.lock.
locked_version() {
  awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' \
    "$REPO_ROOT/Cargo.lock"
}

# How the wasm front end is compiled here: "rustup" (the rustup toolchain has the
# wasm32 target) or "debian" (Debian's wasm-capable rustc, std built from source).
wasm_toolchain() {
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    echo rustup
  else
    echo debian
  fi
}
