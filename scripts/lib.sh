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
# Where `cargo install` puts the build tools (Trunk, wasm-bindgen).
export PATH="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin:$PATH"
mkdir -p "$IDP_CACHE"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command and says how long it took: `timed "building the server" cargo build ...`.
timed() {
  local what="$1" started=$SECONDS status=0
  shift
  say "$what"
  "$@" || status=$?
  if [ "$status" = 0 ]; then say "$what: done in $(duration $((SECONDS - started)))"
  else say "$what: failed after $(duration $((SECONDS - started)))"; fi
  return "$status"
}
duration() { if [ "$1" -ge 60 ]; then echo "$(($1 / 60)) min $(($1 % 60)) s"; else echo "$1 s"; fi; }

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

# Whether the rustup toolchain has the standard library's sources, with which the wasm build
# compiles std itself, optimised for size like the rest of the module (scripts/build-wasm).
rust_src_installed() {
  [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]
}

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts a throwaway PostgreSQL cluster (Debian's, fsync off) on a free port, exports
# IDP_TEST_POSTGRES_URL for the integration tests, and removes it when the script exits.
# `start_throwaway_postgres durable` keeps fsync on (for the benchmark's figures).
start_throwaway_postgres() {
  local bin port fsync=off
  [ "${1:-}" = durable ] && fsync=on
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  PG_THROWAWAY_BIN="$bin"
  PG_THROWAWAY_DIR="$(mktemp -d)"
  port="$(free_port)"
  [ "$(id -u)" = 0 ] && chown postgres "$PG_THROWAWAY_DIR"
  trap stop_throwaway_postgres EXIT
  as_postgres "$bin/initdb" -D "$PG_THROWAWAY_DIR/data" -A trust -U postgres >/dev/null
  as_postgres "$bin/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -l "$PG_THROWAWAY_DIR/log" -w \
    -o "-p $port -k $PG_THROWAWAY_DIR -c listen_addresses=127.0.0.1 -c fsync=$fsync" start >/dev/null
  export IDP_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
}
stop_throwaway_postgres() {
  [ -n "${PG_THROWAWAY_DIR:-}" ] || return 0
  as_postgres "$PG_THROWAWAY_BIN/pg_ctl" -D "$PG_THROWAWAY_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_THROWAWAY_DIR"
  PG_THROWAWAY_DIR=""
}
# PostgreSQL refuses to run as root: as root, its programs run as the postgres user.
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# Integration tests that only SQLite has (PRAGMAs, reading the SQLite file): skipped on
# PostgreSQL.
SQLITE_ONLY_TESTS=(--skip sqlite_runs_with_wal --skip a_database_written_by_a_newer_version)

# Runs the Playwright suite (arguments passed on) against the debug server and demo
# application and the front end in site/, which the caller has built.
playwright_suite() {
  env -C "$REPO_ROOT/end2end" \
    IDP_SERVER_BIN="$CARGO_TARGET_DIR/debug/server" IDP_DEMO_BIN="$CARGO_TARGET_DIR/debug/demo-app" \
    IDP_SITE_DIR="$REPO_ROOT/site" npx playwright test "$@"
}
