#!/usr/bin/env bash
# Compiles the criterion benches in release mode and runs each once (`--test`), so they
# never rot; asserts no timings. Sizes stay at 10 thousand conversations unless
# CONVSTATE_BENCH_FULL=1 (then 1 million too: minutes, not for CI). Also runs the memory
# tool on a small population as a smoke test. Needs only the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench --locked -p convstate-benches --bench engine -- --test
cargo run --locked --release -q -p convstate-benches --bin memory -- 10000
