#!/bin/sh
# Installs what Workstream needs from Debian 12 packages (nothing is vendored).
# With arguments, installs those packages instead (scripts/install-test-deps.sh).
# Safe to run again: apt-get only installs what is missing. Needs root (or sudo).
set -eu

PACKAGES="build-essential cmake pkg-config lua5.4 liblua5.4-dev libuv1-dev \
libjansson-dev libsqlite3-dev libcmocka-dev lua-busted libcurl4-openssl-dev"
[ $# -eq 0 ] || PACKAGES="$*"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -q
# env, not a plain assignment: sudo would drop the variable.
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
