#!/usr/bin/env bash
# Install the appliance as a systemd service on Raspberry Pi OS or Debian, bookworm
# (12) or trixie (13), on arm64, armhf or x86_64. Idempotent: run it again after
# `git pull` to upgrade; your configuration and keys stay.
#
#   sudo scripts/install.sh                       # asks where to post, and the keys (no echo)
#   sudo scripts/install.sh --non-interactive     # keys from $APPLIANCE_<NAME> or --keys-from
#        [--keys-from DIR] [--no-start]
# Non-interactive destinations: APPLIANCE_DESTINATIONS="x,bluesky,mastodon" (else X, plus
# each one whose variables are set), APPLIANCE_BLUESKY_HANDLE, APPLIANCE_BLUESKY_APP_PASSWORD,
# APPLIANCE_MASTODON_API_BASE_URL, APPLIANCE_MASTODON_ACCESS_TOKEN.
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/appliance
VENV=$PREFIX/venv
CONFIG_DIR=/etc/appliance
CREDENTIALS_DIR=$CONFIG_DIR/credentials
UNIT_PATH=/etc/systemd/system/appliance.service
BASE_PACKAGES=(python3 python3-venv alsa-utils ca-certificates)
# C extensions the OS may offer prebuilt: "OS-package pip-name module". Their minimum
# versions are read from pyproject.toml, so the two never disagree.
OS_PREBUILT=("python3-alsaaudio pyalsaaudio alsaaudio" "python3-systemd systemd-python systemd")
BUILD_PACKAGES=(gcc python3-dev pkg-config)
# The headers each source build needs, by pip name.
declare -A BUILD_HEADERS=([pyalsaaudio]=libasound2-dev [systemd-python]=libsystemd-dev)
LISTS_MAX_AGE_MINUTES=1440

interactive=yes
keys_from=""
start=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --non-interactive) interactive=no ;;
    --keys-from) keys_from=$2; shift ;;
    --no-start) start=no ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

current_step="checks"
step() { current_step=$1; printf '==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
# A required step that fails ends the run here, saying where; running the script
# again after the fix continues, since every step is idempotent.
trap 'echo "install.sh: step \"$current_step\" failed (see above); fix that and run install.sh again" >&2' ERR

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run it as root: sudo $0 $*" >&2
  exit 77
fi
if [ "$interactive" = yes ] && [ ! -t 0 ]; then
  echo "install.sh: no terminal to ask for the keys; use --non-interactive" >&2
  exit 64
fi

arch=$(dpkg --print-architecture)
os=$(. /etc/os-release && echo "${PRETTY_NAME:-unknown}")
model=$(tr -d '\0' 2>/dev/null </proc/device-tree/model || true)
say "system: $os, $arch${model:+, $model}"
declare -A chosen=()  # what was picked for each optional part, printed at the end
declare -A not_from_os=()  # why a module comes from the package index instead

minimum_version() {  # minimum_version PIP-NAME: the ">=" bound in pyproject.toml
  sed -n "s/^ *\"$1>=\([0-9.]*\)\".*/\1/p" "$SOURCE_DIR/pyproject.toml" | head -1
}
candidate() {  # candidate PACKAGE: the version apt would install, or nothing
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -vx '(none)' || true
}
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
lists_are_stale() {
  [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -"$LISTS_MAX_AGE_MINUTES" 2>/dev/null)" ]
}
apt_install() {  # apt_install PACKAGE...: those missing; refreshes the lists once if that fails
  local missing=() package
  for package in "$@"; do is_installed "$package" || missing+=("$package"); done
  if [ ${#missing[@]} -eq 0 ]; then say "all present: $*"; return 0; fi
  say "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

step "1. Debian packages"
if lists_are_stale; then
  say "refreshing the package lists (older than a day)"
  apt-get update -qq || say "apt-get update failed; going on with the lists there are"
fi
packages=("${BASE_PACKAGES[@]}")
for pair in "${OS_PREBUILT[@]}"; do
  read -r os_package pip_name _ <<<"$pair"
  minimum=$(minimum_version "$pip_name")
  version=$(candidate "$os_package")
  if [ -n "$version" ] && dpkg --compare-versions "$version" ge "${minimum:-0}"; then
    packages+=("$os_package")
  else
    reason="no $os_package here"
    if [ -n "$version" ]; then reason="$os_package $version is older than $minimum"; fi
    not_from_os[$pip_name]=$reason
  fi
done
# gpiozero's default pin factory on a Pi. Debian's own archive has no python3-lgpio;
# Raspberry Pi OS's archive has it: ask apt, not the board.
lgpio_version=$(candidate python3-lgpio)
if [ -n "$lgpio_version" ]; then packages+=(python3-lgpio); fi
apt_install "${packages[@]}"

step "2. groups audio and gpio (the service joins both; plain Debian has no gpio group)"
for group in audio gpio; do
  getent group "$group" >/dev/null || { groupadd --system "$group"; say "created $group"; }
done

step "3. virtual environment $VENV with the package"
install -d -m 0755 "$PREFIX"
# --system-site-packages: the venv uses the OS's prebuilt modules picked in step 1.
# Made anew when missing, made without them, or left behind by an OS upgrade's Python.
if ! grep -qs "include-system-site-packages = true" "$VENV/pyvenv.cfg" \
  || [ "$("$VENV/bin/python" -c 'import sys; print(sys.version_info[:2])' 2>/dev/null)" \
    != "$(python3 -c 'import sys; print(sys.version_info[:2])')" ]; then
  python3 -m venv --clear --system-site-packages "$VENV"
  say "made the virtual environment (Python $(python3 -c 'import platform; print(platform.python_version())'))"
fi
pip=("$VENV/bin/python" -m pip --disable-pip-version-check)
# What pip would have to compile (no wheel for this Python and architecture, no OS
# package): only then are a compiler and headers installed.
to_build=$("${pip[@]}" install --dry-run --quiet --report - "$SOURCE_DIR" 2>/dev/null \
  | "$VENV/bin/python" -c 'import json, sys
for item in json.load(sys.stdin)["install"]:
    url = item["download_info"]["url"]
    if not url.endswith(".whl") and "dir_info" not in item["download_info"]:
        print(item["metadata"]["name"])' 2>/dev/null) || to_build="?"
if [ -n "$to_build" ]; then
  build=("${BUILD_PACKAGES[@]}")
  if [ "$to_build" = "?" ]; then
    say "pip could not tell what it has to compile: installing a compiler and every header"
    build+=("${BUILD_HEADERS[@]}")
  else
    say "to compile (no wheel, no OS package for this Python and architecture):" $to_build
    for name in $to_build; do
      if [ -n "${BUILD_HEADERS[$name]:-}" ]; then build+=("${BUILD_HEADERS[$name]}"); fi
    done
  fi
  apt_install "${build[@]}"
else
  say "nothing to compile: wheels and OS packages cover every dependency"
fi
# A local directory is always rebuilt and reinstalled, so an upgrade takes effect.
"${pip[@]}" install -q "$SOURCE_DIR"
# Where each one really comes from now: pip must not have replaced an OS package.
for triple in "${OS_PREBUILT[@]}"; do
  read -r os_package pip_name module <<<"$triple"
  file=$("$VENV/bin/python" -c "import $module; print($module.__file__)" 2>/dev/null || true)
  version=$("$VENV/bin/python" -c "from importlib.metadata import version; print(version('$pip_name'))" 2>/dev/null || true)
  case "$file" in
    "$VENV"/*) chosen[$pip_name]="$version from the package index (${not_from_os[$pip_name]:-pip replaced $os_package})" ;;
    /usr/*) chosen[$pip_name]="$version from the OS package $os_package (prebuilt)" ;;
    *) chosen[$pip_name]="NOT importable: $module" ;;
  esac
done
install -m 0644 "$SOURCE_DIR/README.md" "$PREFIX/README.md"
# The README links the reference pages in docs/: keep them beside it on the device.
install -d -m 0755 "$PREFIX/docs"
install -m 0644 "$SOURCE_DIR"/docs/*.md "$SOURCE_DIR"/docs/*.svg "$PREFIX/docs/"
ln -sfn "$VENV/bin/appliance" /usr/local/bin/appliance

step "4. GPIO backend (gpiozero's lgpio pin factory)"
wheel_error=""
if [ -n "$lgpio_version" ] && "$VENV/bin/python" -c 'import lgpio' 2>/dev/null; then
  chosen[GPIO]="the OS package python3-lgpio $lgpio_version"
elif wheel_error=$("${pip[@]}" install -q --only-binary :all: 'lgpio>=0.2' 2>&1); then
  # ">=0.2": a 0.0.0.2 placeholder of the same name is empty.
  chosen[GPIO]="lgpio $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("lgpio"))') from the package index (a wheel for this Python and architecture)"
else
  python_version=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  chosen[GPIO]="NONE: no python3-lgpio in this system's archive and no lgpio wheel for Python $python_version on $arch"
  say "no GPIO backend: this system's archive has no python3-lgpio (only Raspberry Pi OS's has it)"
  say "and the package index has no lgpio wheel for Python $python_version on $arch ($(echo "$wheel_error" | tail -1))."
  say "Everything else is installed. With [gpio] pin_factory = \"\" the service tries gpiozero's"
  say "other pin factories at start; when none drives the LEDs it stops with a [gpio]"
  say "configuration error (exit 78, no restart loop). To run without button and LEDs"
  say "(confirm by saying \"tweet that\" or with: sudo appliance confirm), set"
  say "[gpio] pin_factory = \"mock\" in $CONFIG_DIR/appliance.toml. On a Raspberry Pi, add"
  say "Raspberry Pi OS's archive (or use Raspberry Pi OS) and run install.sh again."
fi

step "5. configuration $CONFIG_DIR/appliance.toml and keys directory $CREDENTIALS_DIR"
install -d -m 0755 "$CONFIG_DIR"
if [ -e "$CONFIG_DIR/appliance.toml" ]; then
  say "keeping the existing $CONFIG_DIR/appliance.toml"
else
  install -m 0644 "$SOURCE_DIR/config/appliance.toml" "$CONFIG_DIR/appliance.toml"
  say "installed the example; edit [audio] device (see: appliance devices)"
fi
install -d -m 0700 -o root -g root "$CREDENTIALS_DIR"
chmod 0700 "$CREDENTIALS_DIR"
chown -R root:root "$CREDENTIALS_DIR"
find "$CREDENTIALS_DIR" -type f -exec chmod 0600 {} +

step "6. systemd unit $UNIT_PATH"
install -m 0644 "$SOURCE_DIR/systemd/appliance.service" "$UNIT_PATH"
has_systemd=no
[ -d /run/systemd/system ] && has_systemd=yes
if [ "$has_systemd" = yes ]; then systemctl daemon-reload; fi

step "7. keys"
keys_ok=yes
if [ "$interactive" = yes ]; then
  "$VENV/bin/appliance" setup --config "$CONFIG_DIR/appliance.toml" || keys_ok=no
else
  setup_args=(--non-interactive)
  [ -n "$keys_from" ] && setup_args+=(--from-dir "$keys_from")
  "$VENV/bin/appliance" setup --config "$CONFIG_DIR/appliance.toml" "${setup_args[@]}" \
    || keys_ok=no
fi

step "8. what the enabled destinations need (pyproject extras: bluesky, mastodon)"
# The SDKs of Bluesky (atproto) and Mastodon (Mastodon.py) are optional extras, installed
# only for an enabled destination, and only from wheels: atproto needs cryptography>=41,
# zstandard, cffi, libipld and pydantic-core, which have no armv7 (armhf) wheels in the
# package index, and bookworm's python3-cryptography (38) is older than 41, so on 32-bit
# Raspberry Pi OS Bluesky would need a Rust build. X and Mastodon need no such thing.
extras_ok=yes
enabled=$("$VENV/bin/python" -c 'import sys
from appliance.service.config import load_settings
print(" ".join(load_settings(sys.argv[1]).destinations))' "$CONFIG_DIR/appliance.toml" 2>/dev/null) \
  || enabled="x"
say "posting to: $enabled"
extra_requirements() {  # extra_requirements EXTRA: its requirements in pyproject.toml
  "$VENV/bin/python" -c 'import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(" ".join(project.get("optional-dependencies", {}).get(sys.argv[2], [])))' \
    "$SOURCE_DIR/pyproject.toml" "$1"
}
for extra in bluesky mastodon; do
  case " $enabled " in *" $extra "*) ;; *) chosen[$extra]="not enabled"; continue ;; esac
  read -r -a requirements <<<"$(extra_requirements "$extra")"
  if [ ${#requirements[@]} -eq 0 ]; then
    chosen[$extra]="NOT installed: this version has no $extra extra"
    say "$extra is enabled, but this version of the appliance cannot post there yet"
    extras_ok=no
  elif wheel_error=$("${pip[@]}" install -q --dry-run --only-binary :all: "${requirements[@]}" 2>&1); then
    "${pip[@]}" install -q "$SOURCE_DIR[$extra]"
    chosen[$extra]="${requirements[*]} (wheels)"
  else
    extras_ok=no
    chosen[$extra]="NOT installed: no wheels for $arch"
    say "$extra is enabled, but its SDK (${requirements[*]}) has no wheels for Python"
    say "$(python3 -c 'import platform; print(platform.python_version())') on $arch in the package index ($(echo "$wheel_error" | tail -1))."
    if [ "$extra" = bluesky ]; then
      say "Bluesky's atproto needs cryptography>=41, zstandard and cffi, which have no armv7"
      say "wheels there; bookworm's python3-cryptography is 38, too old. On 32-bit Raspberry"
      say "Pi OS use a 64-bit OS (arm64), or add the Raspberry Pi wheel index (piwheels) to"
      say "pip's configuration, or build them with Rust; then run install.sh again."
    fi
    say "Everything else is installed, X and Mastodon included. Until then set"
    say "[$extra] enabled = false in $CONFIG_DIR/appliance.toml (sudo appliance setup asks)."
  fi
done

summary() {
  echo "What was chosen:"
  local name
  for name in pyalsaaudio systemd-python GPIO bluesky mastodon; do
    printf '    %-15s %s\n' "$name:" "${chosen[$name]:-}"
  done
}

step "9. enable and start"
if [ "$has_systemd" = no ]; then
  say "systemd is not running here: enable it later with: systemctl enable --now appliance"
  summary
  exit 0
fi
systemctl enable appliance.service
if [ "$start" = no ]; then
  say "not started (--no-start): systemctl start appliance"
elif [ "$keys_ok" = no ]; then
  say "not started: keys are missing. Run: sudo appliance setup && sudo systemctl start appliance"
elif [ "$extras_ok" = no ]; then
  say "not started: an enabled destination cannot be installed here (see step 8)"
else
  systemctl reset-failed appliance.service 2>/dev/null || true
  # restart: an upgrade replaces a running daemon.
  if systemctl restart appliance.service; then
    say "$(systemctl show -p StatusText --value appliance.service)"
  else
    summary
    echo "    the service did not start; see: sudo appliance doctor; journalctl -u appliance" >&2
    trap - ERR
    exit 1
  fi
fi
summary
echo "Done. Check it with: sudo appliance doctor"
