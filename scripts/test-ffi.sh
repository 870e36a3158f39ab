#!/usr/bin/env bash
# Tests the C library (ffi/, include/convstate.h) the way a C host uses it:
#   1. builds libconvstate.{a,so} (debug);
#   2. drift check: regenerates the header with the pinned cbindgen and fails on any difference
#      (`--bless` writes the regenerated header instead);
#   3. compiles every tests/c/*.c with strict C11 flags against the header and the static
#      library, and runs each under valgrind (typed API, bad-input catalogue, conformance);
#      the conformance runner must agree with the Rust runner on the scenario and check
#      counts; then runs them again built with AddressSanitizer and UBSan;
#   4. checks that the header compiles as C++, and that the code docs/c-guide.md quotes is
#      the text of tests/c/guide_helpdesk.c (scripts/check-quoted-code.py), which step 3 runs;
#   5. installs the library into a scratch prefix with scripts/install-c.sh (checks the SONAME,
#      the links and convstate.pc), and builds and runs the README's "Link it from C" example
#      through pkg-config, against the installed shared library and the archive, under valgrind.
# Idempotent: installs cbindgen into target/tools, and valgrind / pkg-config with apt-get only
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic)
VALGRIND=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible)
OUT=target/ffi-c
bless=false
[ "${1:-}" = "--bless" ] && bless=true

step() { printf '\n--> %s\n' "$*"; }

step "tools"
cbindgen=target/tools/bin/cbindgen
if [ "$("$cbindgen" --version 2>/dev/null)" != "cbindgen $CBINDGEN_VERSION" ]; then
  step "installing cbindgen $CBINDGEN_VERSION into target/tools"
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root target/tools
fi
scripts/apt-install.sh valgrind valgrind
scripts/apt-install.sh pkg-config pkg-config
cc --version | sed -n 1p

step "cargo build -p convstate-ffi"
cargo build -p convstate-ffi --locked
lib_dir=target/debug
# The system libraries a static link needs (rustc's `--print native-static-libs`), kept in one
# place: the pkg-config file's Libs.private.
static_libs=$(sed -n 's/^Libs.private: //p' ffi/convstate.pc.in)

step "header drift check (cbindgen $CBINDGEN_VERSION)"
mkdir -p "$OUT"
"$cbindgen" --quiet --config ffi/cbindgen.toml --crate convstate-ffi --output "$OUT/convstate.h" ffi
if $bless; then
  cp "$OUT/convstate.h" include/convstate.h
  echo "include/convstate.h regenerated"
elif ! diff -u include/convstate.h "$OUT/convstate.h"; then
  echo "include/convstate.h is out of date: run scripts/test-ffi.sh --bless and commit it" >&2
  exit 1
else
  echo "include/convstate.h is up to date"
fi

step "header compiles as C++"
c++ -fsyntax-only -Wall -Wextra -Werror -pedantic -x c++ include/convstate.h
echo ok

step "docs/c-guide.md quotes tests/c/guide_helpdesk.c as it is"
python3 scripts/check-quoted-code.py docs/c-guide.md

step "C programs in tests/c (static library, valgrind)"
# shellcheck disable=SC2086 # the system libraries are separate words
for source in tests/c/*.c; do
  name=$(basename "$source" .c)
  cc "${CFLAGS[@]}" -Iinclude "$source" "$lib_dir/libconvstate.a" $static_libs -o "$OUT/$name"
done
# Every program but the conformance runner takes no arguments; a new tests/c/*.c runs here
# without touching this script.
for source in tests/c/*.c; do
  name=$(basename "$source" .c)
  [ "$name" = conformance ] && continue
  echo "$name"
  "${VALGRIND[@]}" "$OUT/$name"
done
c_summary=$("${VALGRIND[@]}" "$OUT/conformance" tests/scenarios/*.jsonl)
echo "C runner:    $c_summary"
# Cargo's own output is shown when the runner does not finish (a build error, a full disk):
# a bare "disagree" once hid which.
rust_log="$OUT/rust_conformance.log"
if ! cargo test -q -p convstate --test conformance --locked -- --nocapture conformance_scenarios >"$rust_log" 2>&1; then
  tail -n 40 "$rust_log" >&2
  echo "the Rust conformance runner failed (above)" >&2
  exit 1
fi
rust_summary=$(grep -E '^[0-9]+ scenarios, [0-9]+ checks passed$' "$rust_log" || true)
echo "Rust runner: $rust_summary"
if [ -z "$rust_summary" ] || [ "$c_summary" != "$rust_summary" ]; then
  echo "the C and Rust conformance runners disagree" >&2
  exit 1
fi

step "C programs in tests/c under AddressSanitizer and UBSan (the C side is instrumented)"
# The Rust archive is not instrumented, but ASan still checks every C access to memory the
# library hands out (effect lines, snapshots, strings) and LeakSanitizer every handle.
# shellcheck disable=SC2086 # the system libraries are separate words
for source in tests/c/*.c; do
  name=$(basename "$source" .c)
  cc "${CFLAGS[@]}" -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all \
    -Iinclude "$source" "$lib_dir/libconvstate.a" $static_libs -o "$OUT/asan_$name"
done
for source in tests/c/*.c; do
  name=$(basename "$source" .c)
  [ "$name" = conformance ] && continue
  echo "asan_$name"
  "$OUT/asan_$name"
done
"$OUT/asan_conformance" tests/scenarios/*.jsonl

step "scripts/install-c.sh into a scratch prefix: files, SONAME, pkg-config"
version=$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="convstate-ffi"))')
root=$(pwd)
prefix="$root/$OUT/prefix"
rm -rf "$prefix"
scripts/install-c.sh --debug --prefix "$prefix"
scripts/install-c.sh --debug --prefix "$prefix" >/dev/null # idempotent: again over itself
soname=$(readelf -d "$prefix/lib/libconvstate.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
# The ABI version ffi/build.rs gives: 0.MINOR under 1.0 (each minor may break it), else MAJOR.
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
if [ "$major" = 0 ]; then abi="0.$minor"; else abi=$major; fi
[ "$soname" = "libconvstate.so.$abi" ] || { echo "SONAME is '$soname', not libconvstate.so.$abi" >&2; exit 1; }
[ "$(readlink "$prefix/lib/$soname")" = "libconvstate.so.$version" ] &&
  [ "$(readlink "$prefix/lib/libconvstate.so")" = "$soname" ] ||
  { echo "the library links under $prefix/lib are wrong" >&2; exit 1; }
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
pkg-config --validate convstate
[ "$(pkg-config --modversion convstate)" = "$version" ] || { echo "convstate.pc version is not $version" >&2; exit 1; }
grep -q "#define CONVSTATE_VERSION \"$version\"" include/convstate.h ||
  { echo "include/convstate.h CONVSTATE_VERSION is not $version" >&2; exit 1; }
echo "convstate $(pkg-config --modversion convstate): $(pkg-config --cflags --libs convstate)"
# A prefix holding sed's special characters is written into convstate.pc as it is.
odd_prefix="$root/$OUT/prefix r&d|x\\y"
rm -rf "$odd_prefix"
scripts/install-c.sh --debug --prefix "$odd_prefix" >/dev/null
[ "$(sed -n 1p "$odd_prefix/lib/pkgconfig/convstate.pc")" = "prefix=$odd_prefix" ] ||
  { echo "convstate.pc under '$odd_prefix' names another prefix" >&2; exit 1; }
rm -rf "$odd_prefix"

step "README example (\"Link it from C\"), through pkg-config and the installed shared library"
awk '/<!-- c-example:begin -->/{inside=1; next} /<!-- c-example:end -->/{inside=0} inside' README.md |
  sed -e '/^```/d' >"$OUT/readme_example.c"
[ -s "$OUT/readme_example.c" ] || { echo "README.md has no c-example block" >&2; exit 1; }
# shellcheck disable=SC2046 # pkg-config output is separate words
cc "${CFLAGS[@]}" "$OUT/readme_example.c" $(pkg-config --cflags --libs convstate) -o "$OUT/readme_example"
# The program records the SONAME, and the loader finds it through the link the script made.
# (`grep -q` would stop reading at the first match, and under pipefail the writer's SIGPIPE
# then failed the check now and then: grep reads everything here.)
readelf -d "$OUT/readme_example" | grep "Shared library: \[$soname\]" >/dev/null ||
  { echo "readme_example does not record $soname" >&2; exit 1; }
LD_LIBRARY_PATH="$prefix/lib" ldd "$OUT/readme_example" | grep "$soname => $prefix/lib/$soname" >/dev/null ||
  { echo "the loader does not find $soname in $prefix/lib" >&2; exit 1; }
LD_LIBRARY_PATH="$prefix/lib" "${VALGRIND[@]}" "$OUT/readme_example"

step "README static link (the archive through pkg-config)"
# shellcheck disable=SC2046 # pkg-config output is separate words
cc "${CFLAGS[@]}" "$OUT/readme_example.c" $(pkg-config --cflags convstate) \
  $(pkg-config --static --libs convstate | sed 's/-lconvstate /-l:libconvstate.a /') -o "$OUT/readme_example_static"
! ldd "$OUT/readme_example_static" | grep libconvstate >/dev/null ||
  { echo "the static link still needs libconvstate.so" >&2; exit 1; }
"${VALGRIND[@]}" "$OUT/readme_example_static"

printf '\nffi: all C library checks passed\n'
