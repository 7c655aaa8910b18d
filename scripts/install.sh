#!/usr/bin/env bash
# Install the appliance as a systemd service on Raspberry Pi OS (or Debian) bookworm.
# Idempotent: run it again after `git pull` to upgrade; your configuration and keys stay.
#
#   sudo scripts/install.sh                       # asks for the keys (no echo)
#   sudo scripts/install.sh --non-interactive     # keys from $APPLIANCE_<NAME> or --keys-from
#        [--keys-from DIR] [--no-start]
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/appliance
VENV=$PREFIX/venv
CONFIG_DIR=/etc/appliance
CREDENTIALS_DIR=$CONFIG_DIR/credentials
UNIT_PATH=/etc/systemd/system/appliance.service
DEBIAN_PACKAGES=(
  python3 python3-venv python3-dev gcc pkg-config  # the virtual environment; C extensions
  libasound2-dev alsa-utils                         # pyalsaaudio; arecord and alsamixer
  libsystemd-dev                                    # systemd-python (notify, journal)
  ca-certificates                                   # TLS to AssemblyAI and X
)
# On a Raspberry Pi, gpiozero's default pin factory is lgpio, which Raspberry Pi OS
# ships as a Debian package: the virtual environment then sees the system's packages.
is_pi=no
grep -qs "Raspberry Pi" /proc/device-tree/model && is_pi=yes
if [ "$is_pi" = yes ]; then DEBIAN_PACKAGES+=(python3-lgpio); fi

interactive=yes
keys_from=""
start=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --non-interactive) interactive=no ;;
    --keys-from) keys_from=$2; shift ;;
    --no-start) start=no ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

step() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root: sudo $0 $*" >&2
  exit 77
fi
if [ "$interactive" = yes ] && [ ! -t 0 ]; then
  echo "install.sh: no terminal to ask for the keys; use --non-interactive" >&2
  exit 64
fi

step "1. Debian packages"
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "    installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "    all present"
fi

step "2. groups audio and gpio (the service joins both; plain Debian has no gpio group)"
for group in audio gpio; do
  getent group "$group" >/dev/null || { groupadd --system "$group"; echo "    created $group"; }
done

step "3. virtual environment $VENV with the package"
install -d -m 0755 "$PREFIX"
if [ "$is_pi" = yes ]; then
  grep -qs "include-system-site-packages = true" "$VENV/pyvenv.cfg" \
    || python3 -m venv --system-site-packages "$VENV"
else
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
fi
# A local directory is always rebuilt and reinstalled, so an upgrade takes effect.
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$SOURCE_DIR"
install -m 0644 "$SOURCE_DIR/README.md" "$PREFIX/README.md"
ln -sfn "$VENV/bin/appliance" /usr/local/bin/appliance

step "4. configuration $CONFIG_DIR/appliance.toml and keys directory $CREDENTIALS_DIR"
install -d -m 0755 "$CONFIG_DIR"
if [ -e "$CONFIG_DIR/appliance.toml" ]; then
  echo "    keeping the existing $CONFIG_DIR/appliance.toml"
else
  install -m 0644 "$SOURCE_DIR/config/appliance.toml" "$CONFIG_DIR/appliance.toml"
  echo "    installed the example; edit [audio] device (see: appliance devices)"
fi
install -d -m 0700 -o root -g root "$CREDENTIALS_DIR"
chmod 0700 "$CREDENTIALS_DIR"
chown -R root:root "$CREDENTIALS_DIR"
find "$CREDENTIALS_DIR" -type f -exec chmod 0600 {} +

step "5. systemd unit $UNIT_PATH"
install -m 0644 "$SOURCE_DIR/systemd/appliance.service" "$UNIT_PATH"
has_systemd=no
[ -d /run/systemd/system ] && has_systemd=yes
if [ "$has_systemd" = yes ]; then systemctl daemon-reload; fi

step "6. keys"
keys_ok=yes
if [ "$interactive" = yes ]; then
  "$VENV/bin/appliance" setup --config "$CONFIG_DIR/appliance.toml" || keys_ok=no
else
  setup_args=(--non-interactive)
  [ -n "$keys_from" ] && setup_args+=(--from-dir "$keys_from")
  "$VENV/bin/appliance" setup --config "$CONFIG_DIR/appliance.toml" "${setup_args[@]}" \
    || keys_ok=no
fi

step "7. enable and start"
if [ "$has_systemd" = no ]; then
  echo "    systemd is not running here: enable it later with: systemctl enable --now appliance"
  exit 0
fi
systemctl enable appliance.service
if [ "$start" = no ]; then
  echo "    not started (--no-start): systemctl start appliance"
elif [ "$keys_ok" = no ]; then
  echo "    not started: keys are missing. Run: sudo appliance setup && sudo systemctl start appliance"
else
  systemctl reset-failed appliance.service 2>/dev/null || true
  # restart: an upgrade replaces a running daemon.
  if systemctl restart appliance.service; then
    echo "    $(systemctl show -p StatusText --value appliance.service)"
  else
    echo "    the service did not start; see: sudo appliance doctor; journalctl -u appliance" >&2
    exit 1
  fi
fi
echo "Done. Check it with: sudo appliance doctor"
