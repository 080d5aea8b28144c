#!/bin/sh
# Install the given Debian packages if any is missing.
# As root: apt-get install. Otherwise: print the exact command and fail.
# The missing packages are collected in "$@" (POSIX sh has no arrays): each name stays one word.
for pkg do
    shift
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && continue
    set -- "$@" "$pkg"
done
[ $# -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || exit 1
    apt-get install -y -q --no-install-recommends "$@" || exit 1
else
    echo "These Debian packages are needed: $*" >&2
    echo "Run:  sudo apt-get install -y $*" >&2
    echo "then run make again." >&2
    exit 1
fi
