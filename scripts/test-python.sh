#!/usr/bin/env bash
# Builds the Python wheel, installs it into a fresh virtual environment the way a user would
# (pip install of the built wheel, not `maturin develop`), checks the stubs against the
# installed module with mypy.stubtest, and runs the pytest suite against the installed
# package. Needs Python >= 3.11 with venv/pip (and PyPI, for the pinned test tools, numpy and
# pandas among them) and the Rust toolchain. The package itself supports 3.10; the pinned
# numpy 2.4 and pandas 3.1 that its tests run against need 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

MATURIN_VERSION=1.16.0
PYTEST_VERSION=9.2.0
HYPOTHESIS_VERSION=6.170.15
MYPY_VERSION=2.4.1
# Real numpy and pandas for python/tests/test_pandas.py (run_batch's DataFrame columns): the
# package imports neither (it knows their values by duck typing), so only the tests need them.
NUMPY_VERSION=2.4.6
PANDAS_VERSION=3.1.1
PYTHON=${PYTHON:-python3}

# The Python guide quotes only what python/tests/test_guide.py holds (pytest runs it below):
# checked first, as it needs no build.
"$PYTHON" scripts/check-quoted-code.py docs/python-guide.md

venv="$root/target/python-venv"
wheels="$root/target/wheels"

# A fresh venv each run (cheap) so nothing left from an earlier run can hide a missing
# dependency or a stale install.
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "maturin==$MATURIN_VERSION" "pytest==$PYTEST_VERSION" \
  "hypothesis==$HYPOTHESIS_VERSION" "mypy==$MYPY_VERSION" \
  "numpy==$NUMPY_VERSION" "pandas==$PANDAS_VERSION"

# A debug build: the tests check behaviour, not speed, and a release build of PyO3 costs
# minutes on the shared 2-core machine. It reuses the workspace's target/ cache.
rm -rf "$wheels"
"$venv/bin/maturin" build --quiet -m python/Cargo.toml -o "$wheels" \
  --interpreter "$venv/bin/python"
wheel=$(ls "$wheels"/convstate-*.whl)
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall "$wheel"

# Run everything from an empty directory so that the source tree's python/convstate cannot
# be imported by accident: only the installed wheel is on sys.path.
workdir="$root/target/python-run"
rm -rf "$workdir"
mkdir -p "$workdir"
cd "$workdir"

echo "stubtest (stubs against the installed module)"
"$venv/bin/python" -m mypy.stubtest convstate \
  --allowlist "$root/python/stubtest-allowlist.txt"

# Code a user writes against the stubs, type-checked strictly: what the runtime accepts (a
# numpy array as a run_batch column, say) must type-check too.
echo "mypy --strict python/typecheck (the stubs as users call them)"
"$venv/bin/python" -m mypy --strict --no-incremental "$root/python/typecheck"

# --import-mode=importlib keeps pytest from putting python/ on sys.path; the tests assert
# that convstate was imported from the venv. Exit code 5 (no tests collected) is a failure.
set +e
"$venv/bin/python" -m pytest -c "$root/python/pyproject.toml" --rootdir "$root/python" \
  -q "$root/python/tests"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$status"
