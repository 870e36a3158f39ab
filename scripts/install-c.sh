#!/usr/bin/env bash
# Installs the C library under a prefix, laid out as a distribution package lays it out:
#   PREFIX/include/convstate.h
#   PREFIX/lib/libconvstate.so.X.Y.Z, with the links libconvstate.so.ABI (the SONAME that
#     programs record) and libconvstate.so (for the linker's -lconvstate)
#   PREFIX/lib/libconvstate.a
#   PREFIX/lib/pkgconfig/convstate.pc
# Usage: scripts/install-c.sh [--prefix DIR] [--debug]
#   --prefix  where to install (default /usr/local)
#   --debug   install the debug build instead of the release build (faster to build; tests)
# Idempotent: installing again replaces the files and links.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --debug) profile=debug; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install-c.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$profile" = release ]; then
  cargo build --release -p convstate-ffi --locked
else
  cargo build -p convstate-ffi --locked
fi
metadata=$(cargo metadata --no-deps --format-version 1 --locked)
version=$(python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="convstate-ffi"))' <<<"$metadata")
target_dir=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' <<<"$metadata")
built="$target_dir/$profile"
# The SONAME the build gave the library (ffi/build.rs), read back rather than computed twice.
soname=$(readelf -d "$built/libconvstate.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] || { echo "install-c.sh: $built/libconvstate.so has no SONAME" >&2; exit 1; }

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
prefix=$(cd "$prefix" && pwd)
install -m 644 include/convstate.h "$prefix/include/convstate.h"
install -m 755 "$built/libconvstate.so" "$prefix/lib/libconvstate.so.$version"
ln -sfn "libconvstate.so.$version" "$prefix/lib/$soname"
ln -sfn "$soname" "$prefix/lib/libconvstate.so"
install -m 644 "$built/libconvstate.a" "$prefix/lib/libconvstate.a"
# The prefix goes into sed's replacement text, where `\`, `&` and the `|` delimiter would be
# read as sed's own (a prefix such as /opt/r&d named the pattern, or broke the command).
escaped=$(printf '%s' "$prefix" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|@PREFIX@|$escaped|" -e "s|@INCLUDEDIR@|$escaped/include|" -e "s|@LIBDIR@|$escaped/lib|" \
  -e "s|@VERSION@|$version|" ffi/convstate.pc.in >"$prefix/lib/pkgconfig/convstate.pc"
echo "installed convstate $version ($soname, $profile build) under $prefix"
