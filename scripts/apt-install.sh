#!/usr/bin/env bash
# Usage: scripts/apt-install.sh COMMAND PACKAGE
# Installs Debian's PACKAGE with apt-get unless COMMAND is already on the PATH (idempotent),
# through sudo when not run as root. The test scripts call it for the tools their tests
# need and a fresh machine may lack (valgrind, pkg-config, strace).
set -euo pipefail
command -v "$1" >/dev/null 2>&1 && exit 0
printf '\n--> installing %s (apt-get)\n' "$2"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
