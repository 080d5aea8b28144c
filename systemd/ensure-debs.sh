#!/bin/sh
# Install the given Debian packages if any is missing.
# As root: apt-get install. Otherwise: print the exact command and fail.
missing=""
for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || exit 1
    apt-get install -y -q --no-install-recommends $missing || exit 1
else
    echo "These Debian packages are needed:$missing" >&2
    echo "Run:  sudo apt-get install -y$missing" >&2
    echo "then run make again." >&2
    exit 1
fi
