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

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# The CLI's durability test reads the order of a save's renames and syncs from strace; where
# strace is missing it can check nothing, so this run installs it and the test then requires it.
step "tools the Rust tests need (strace)"
scripts/apt-install.sh strace strace
export CONVSTATE_REQUIRE_STRACE=1

step "cargo test (unit, conformance scenarios, property tests, doc tests)"
cargo test --workspace --locked

# Each binding brings its own script (C library, Python wheel, CLI, benches, fuzz).
for component in scripts/test-*.sh; do
  [ -e "$component" ] || continue
  step "$component"
  bash "$component"
done

printf '\nall tests passed\n'
