#!/usr/bin/env bash
# Builds a release wheel into target/, installs it into a venv under target/ and runs
# bench_batch.py with the given arguments. Run by hand (not in CI): the release build of
# the PyO3 extension takes minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
MATURIN_VERSION=1.16.0
PYTHON=${PYTHON:-python3}
venv="$root/target/bench-venv"
wheels="$root/target/bench-wheels"
[ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "maturin==$MATURIN_VERSION"
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet --release -m python/Cargo.toml -o "$wheels"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheels"/*.whl
"$venv/bin/python" python/bench/bench_batch.py "$@"
