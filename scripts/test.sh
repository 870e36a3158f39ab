#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, docs, the Rust test suites (unit,
# conformance scenarios, property tests) and each binding's own test script.
# Idempotent; installs what the tests need through the project's own scripts.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "cargo test (unit, conformance scenarios, property tests, doc tests)"
cargo test --workspace --locked

# Each binding brings its own script (C library, Python wheel, CLI, benches, fuzz).
for component in scripts/test-*.sh; do
  [ -e "$component" ] || continue
  step "$component"
  bash "$component"
done

printf '\nall tests passed\n'
