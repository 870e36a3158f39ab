#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, docs, the Rust test suites (unit,
# conformance scenarios, property tests) and each binding's own test script.
# Idempotent; installs what the tests need through the project's own scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step names the disk space left: a full disk shows up as a linker killed by SIGBUS
# (lld writes its output through mmap), which says nothing about the cause on its own.
step() { printf '\n==> %s  [%s free]\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"; }

# A clean run builds the workspace several ways (debug, release, fuzz, sanitizers) and once
# failed on a CI machine whose disk filled up. Nothing here uses incremental caches (a fresh
# clone compiles everything once) or full debug info (panics, backtraces and valgrind reports
# need only line tables): without them a clean clone's run takes 3.1 GB of disk, not 6.4.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only

# Even so, every build kept side by side (debug, release, fuzz, sanitizers, Python) takes
# 4.2 GB, and a later CI machine had less than 3 GB free: the C step died with 401 MB left.
# On a disk with less than FRUGAL_BELOW_MB free at the start (or with CONVSTATE_FRUGAL_DISK=1;
# =0 keeps everything), each step's build outputs are removed after it and the next step
# builds what it needs again, and debug builds carry no line tables (a failed assertion still
# names its file and line; only backtraces and valgrind's Rust frames lose theirs) and pip
# keeps no download cache: a clean clone's run then peaks at 0.93 GB (df every 5 s; 4.2 GB
# keeping every build) and takes about as long. The installed tools in target/tools
# stay.
FRUGAL_BELOW_MB=8192
frugal=${CONVSTATE_FRUGAL_DISK:-}
if [ -z "$frugal" ]; then
  free_mb=$(df --output=avail -BM . | tail -1 | tr -dc '0-9')
  frugal=$([ "$free_mb" -lt "$FRUGAL_BELOW_MB" ] && echo 1 || echo 0)
  [ "$frugal" = 0 ] || printf '%s MB free: ' "$free_mb"
fi
case "$frugal" in
  1)
    echo "each step's build outputs are removed after it"
    export CARGO_PROFILE_DEV_DEBUG=0 PIP_NO_CACHE_DIR=1
    ;;
  0) ;;
  *)
    echo "CONVSTATE_FRUGAL_DISK is '$frugal': 1 removes each step's builds after it, 0 keeps them" >&2
    exit 2
    ;;
esac
# (rustdoc reuses clippy's checked dependencies, so the first clean-up comes after rustdoc.)
after_step() {
  [ "$frugal" = 1 ] || return 0
  rm -rf target/debug target/release target/doc target/ffi-c target/wheels target/python-run \
    target/criterion target/maturin \
    target/python-venv fuzz/target
}

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
after_step

# The CLI's durability test reads the order of a save's renames and syncs from strace; where
# strace is missing it can check nothing, so this run installs it and the test then requires it.
step "tools the Rust tests need (strace)"
scripts/apt-install.sh strace strace
export CONVSTATE_REQUIRE_STRACE=1

step "cargo test (unit, conformance scenarios, property tests, doc tests)"
cargo test --workspace --locked
after_step

# Each binding brings its own script (C library, Python wheel, CLI, benches, fuzz).
for component in scripts/test-*.sh; do
  [ -e "$component" ] || continue
  step "$component"
  bash "$component"
  after_step
done

printf '\nall tests passed\n'
