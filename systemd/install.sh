#!/bin/bash
# Install or update langso on a Raspberry Pi (Raspberry Pi OS Bookworm), as root:
#     sudo systemd/install.sh
# Idempotent: run it again after `git pull` to update. It never overwrites
# /etc/langso/langso.toml or the data in /var/lib/langso.
#
# Environment (defaults in brackets; the tests use them to install into a temp root):
#   DESTDIR          install under this root instead of / (no apt, no service start) [""]
#   PREFIX           program dir, the venv is PREFIX/venv                 [/opt/langso]
#   LANGSO_EXTRAS    pip extras of the package                            [pi]
#   LANGSO_APT       0 = do not apt-get install anything                  [1, 0 with DESTDIR]
#   LANGSO_HTTPS     1 = also make a self-signed HTTPS certificate for the phone page
#                    (`langso web cert`; phones record announcements only over HTTPS) [0]
#   PYTHON           the interpreter the venv is made from (Debian's, so that apt's
#                    picamera2 and numpy are visible)                     [/usr/bin/python3]
set -euo pipefail

step() { echo "install: $*"; }
die() { echo "install FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root: sudo $0"

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/langso}
LANGSO_EXTRAS=${LANGSO_EXTRAS-pi}
PYTHON=${PYTHON:-/usr/bin/python3}
if [ -n "$DESTDIR" ]; then LANGSO_APT=${LANGSO_APT:-0}; else LANGSO_APT=${LANGSO_APT:-1}; fi
LANGSO_HTTPS=${LANGSO_HTTPS:-0}
SERVICE_USER=langso
CONF=/etc/langso
STATE=/var/lib/langso
UNIT=/etc/systemd/system/langso.service
VENV=$PREFIX/venv

# Debian packages: the venv, offline TTS, the sound card (PyAudio is built against
# portaudio), Debian's numpy (the one apt's picamera2 is built against).
# openssl: the optional HTTPS certificate (LANGSO_HTTPS=1).
APT_NEEDED="python3-venv python3-dev gcc python3-numpy espeak-ng portaudio19-dev alsa-utils openssl"
# From the Raspberry Pi archive when the machine has it; ffmpeg for technicians' checks.
APT_OPTIONAL="python3-lgpio python3-picamera2 ffmpeg"

[ -f "$SRC/pyproject.toml" ] || die "run from a langso checkout ($SRC has no pyproject.toml)"

# 1. Debian packages ------------------------------------------------------------
if [ "$LANGSO_APT" = 1 ]; then
    step "apt packages: $APT_NEEDED"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed; check the network and /etc/apt/sources.list"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $APT_NEEDED || die "apt-get install failed"
    for pkg in $APT_OPTIONAL; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then
            apt-get install -y -q --no-install-recommends "$pkg" || die "apt-get install $pkg failed"
        else
            step "apt package $pkg not available here, skipped"
        fi
    done
else
    step "apt skipped (LANGSO_APT=0)"
fi

# 2. The service user, in the hardware groups that exist --------------------------
has_user() { grep -q "^$1:" "$DESTDIR/etc/passwd"; }
has_group() { grep -q "^$1:" "$DESTDIR/etc/group"; }
prefix_opt=()
[ -n "$DESTDIR" ] && prefix_opt=(--prefix "$DESTDIR")
if has_user "$SERVICE_USER"; then
    step "user $SERVICE_USER exists"
else
    step "creating system user $SERVICE_USER"
    useradd "${prefix_opt[@]}" --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "langso village house controller" "$SERVICE_USER"
fi
groups=()
for group in gpio audio video; do
    has_group "$group" && groups+=("$group")
done
if [ ${#groups[@]} -gt 0 ]; then
    joined=$(IFS=,; echo "${groups[*]}")
    step "user $SERVICE_USER in groups $joined"
    usermod "${prefix_opt[@]}" --append --groups "$joined" "$SERVICE_USER"
fi
uid=$(grep "^$SERVICE_USER:" "$DESTDIR/etc/passwd" | cut -d: -f3)
gid=$(grep "^$SERVICE_USER:" "$DESTDIR/etc/passwd" | cut -d: -f4)

# 3. Directories, example config, credential ----------------------------------------
install -d -m 0755 -o 0 -g 0 "$DESTDIR$PREFIX"
install -d -m 0750 -o 0 -g "$gid" "$DESTDIR$CONF"
install -d -m 0750 -o "$uid" -g "$gid" "$DESTDIR$STATE"
if [ -e "$DESTDIR$CONF/langso.toml" ]; then
    step "keeping $CONF/langso.toml"
else
    step "new $CONF/langso.toml from the example: edit site.id and the relays"
    install -m 0640 -o 0 -g "$gid" "$SRC/systemd/langso.example.toml" "$DESTDIR$CONF/langso.toml"
fi
if [ ! -e "$DESTDIR$CONF/mqtt.pass" ]; then
    # the unit loads it as a credential (LoadCredential=); empty until the IOC gives one
    install -m 0600 -o 0 -g 0 /dev/null "$DESTDIR$CONF/mqtt.pass"
fi
install -m 0644 -o 0 -g 0 "$SRC/README.md" "$DESTDIR$PREFIX/README.md"

# 4. The venv, sharing apt's packages (picamera2, numpy, lgpio) ----------------------------
if [ ! -x "$DESTDIR$VENV/bin/python" ]; then
    step "creating venv $VENV (--system-site-packages)"
    "$PYTHON" -m venv --system-site-packages "$DESTDIR$VENV" || die "cannot create the venv; apt-get install python3-venv"
fi
spec="$SRC"
[ -n "$LANGSO_EXTRAS" ] && spec="${SRC}[${LANGSO_EXTRAS}]"
step "pip install $spec"
"$DESTDIR$VENV/bin/python" -m pip install -q --disable-pip-version-check "$spec" \
    || die "pip install failed (see above); check the network to PyPI and run install.sh again"
step "checking numpy/OpenCV/picamera2 in the venv"
"$DESTDIR$VENV/bin/python" "$SRC/systemd/check_venv.py" || die "the venv's numpy does not suit apt's picamera2 (see above)"
install -d -m 0755 "$DESTDIR/usr/local/bin"
ln -sfn "$VENV/bin/langso" "$DESTDIR/usr/local/bin/langso"

# 5. Optional: the phone page's HTTPS certificate ------------------------------------
if [ "$LANGSO_HTTPS" = 1 ]; then
    if [ -s "$DESTDIR$CONF/web.crt" ] && [ -s "$DESTDIR$CONF/web.key" ]; then
        step "keeping the HTTPS certificate $CONF/web.crt"
    else
        step "making a self-signed HTTPS certificate in $CONF (langso web cert)"
        "$DESTDIR$VENV/bin/langso" web cert --dir "$DESTDIR$CONF" >/dev/null \
            || die "langso web cert failed (see above: is openssl installed? half a pair left in $CONF?)"
    fi
    # the service user reads the key, nobody else
    chown 0:"$gid" "$DESTDIR$CONF/web.key" "$DESTDIR$CONF/web.crt"
    chmod 0640 "$DESTDIR$CONF/web.key"
    chmod 0644 "$DESTDIR$CONF/web.crt"
    if ! "$DESTDIR$VENV/bin/python" -c 'import sys, tomllib; sys.exit(not tomllib.load(open(sys.argv[1], "rb")).get("web", {}).get("tls_cert"))' \
            "$DESTDIR$CONF/langso.toml"; then
        https_hint="  HTTPS: add to [web] in $CONF/langso.toml:  tls_cert = \"$CONF/web.crt\"  and  tls_key = \"$CONF/web.key\""
    fi
fi

# 6. Check the config before (re)starting -----------------------------------------------
"$DESTDIR$VENV/bin/langso" config check "$DESTDIR$CONF/langso.toml" \
    || die "fix $CONF/langso.toml (every problem is listed above), then run install.sh again"

# 7. The systemd unit -----------------------------------------------------------------
install -d -m 0755 "$DESTDIR$(dirname "$UNIT")"
sed "s#/opt/langso/#$PREFIX/#g" "$SRC/systemd/langso.service" > "$DESTDIR$UNIT.tmp"
chmod 0644 "$DESTDIR$UNIT.tmp"
mv "$DESTDIR$UNIT.tmp" "$DESTDIR$UNIT"
if [ -n "$DESTDIR" ]; then
    systemctl --root="$DESTDIR" enable langso.service
    step "installed under $DESTDIR: service enabled there, not started"
elif [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable langso.service
    systemctl restart langso.service
    step "langso.service restarted"
else
    systemctl --root=/ enable langso.service
    step "systemd is not running here: langso.service enabled, starts at the next boot"
fi

cat <<EOF

langso is installed. Next steps:
  1. sudo nano $CONF/langso.toml            # site.id, relay pins, sound card, cameras, IOC broker
     sudo langso config check $CONF/langso.toml && sudo systemctl restart langso
  2. sudo langso user add truongthon --role head   # the village head's login (trưởng thôn)
  3. sudo langso selftest                   # clicks each relay, plays a tone, grabs a frame, pings the broker
  4. sudo langso status; journalctl -u langso -f
  IOC password: put it in $CONF/mqtt.pass (root only, 0600), then sudo systemctl restart langso
EOF
if [ -n "${https_hint:-}" ]; then
    echo "$https_hint"
    echo "         then sudo systemctl restart langso; phones open https://$(hostname).local:8080"
elif [ "$LANGSO_HTTPS" != 1 ]; then
    echo "  HTTPS for the phone page (recording needs it): sudo LANGSO_HTTPS=1 $SRC/systemd/install.sh"
fi
