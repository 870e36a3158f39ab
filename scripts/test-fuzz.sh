#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ on the stable toolchain (no sanitizer: `-s none`;
# libFuzzer's coverage instrumentation works on stable) and runs each for a bounded time on a
# temporary copy of its committed seed corpus, so that CI never writes corpus files into the
# repository. A crash fails the script; libFuzzer prints the input and cargo-fuzz writes it
# under fuzz/artifacts/<target>/ (turn it into a named regression test, see
# docs/ROBUSTNESS.md).
#
#   scripts/test-fuzz.sh            # every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 scripts/test-fuzz.sh event_sequence
#
# Idempotent: installs cargo-fuzz (pinned) into target/tools.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
TARGETS=(event_sequence wire_decode snapshot_restore c_json_door parse_inputs webhook)
[ "$#" -gt 0 ] && TARGETS=("$@")

step() { printf '\n--> %s\n' "$*"; }

export PATH="$PWD/target/tools/bin:$PATH"
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  step "installing cargo-fuzz $CARGO_FUZZ_VERSION into target/tools"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root target/tools
fi

cd fuzz
step "cargo fuzz build -s none (every target)"
cargo fuzz build -s none

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
for target in "${TARGETS[@]}"; do
  step "fuzzing $target for ${SECONDS_PER_TARGET}s"
  mkdir -p "$work/$target"
  cp corpus/"$target"/* "$work/$target/"
  log="$work/$target.log"
  if ! cargo fuzz run -s none "$target" "$work/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    # The panic's message sits above the backtrace, out of the tail's reach.
    grep -m 1 -A 1 "panicked at" "$log" >&2 || true
    echo "fuzz target $target failed: see the input above and fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  echo "$target: $runs runs, $coverage, no crash"
  passed=$((passed + 1))
done
printf '\nfuzz: %d passed, 0 failed\n' "$passed"
