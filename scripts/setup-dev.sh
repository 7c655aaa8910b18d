#!/usr/bin/env bash
# Set up a development machine (Debian/Raspberry Pi OS bookworm or newer):
# the Debian packages the project builds and tests with, and a virtual
# environment in .venv with the package installed editable.
# Idempotent: run it again after pulling.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  gcc python3-dev python3-venv pkg-config
  libasound2-dev alsa-utils      # pyalsaaudio, and the ALSA file-plugin microphone
  libsystemd-dev                 # systemd-python
  espeak-ng sox                  # spoken test audio and the demo recording
)

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
echo "Ready: .venv/bin/appliance --help"
