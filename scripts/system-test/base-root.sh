#!/usr/bin/env bash
# Make (once) and print the path of a cached Debian root file system for the system tests:
#   scripts/system-test/base-root.sh RELEASE ARCH      e.g. trixie amd64, bookworm arm64
# Cached in $APPLIANCE_SYSTEM_TEST_CACHE/RELEASE-ARCH/base (default
# /var/cache/appliance-system-test), rebuilt only when the package list below changes.
# A foreign ARCH needs qemu-user-static with binfmt_misc enabled (scripts/arm64-test.sh does it).
set -euo pipefail

RELEASE=$1
ARCH=$2
CACHE=${APPLIANCE_SYSTEM_TEST_CACHE:-/var/cache/appliance-system-test}
# What a fresh Raspberry Pi OS Lite or Debian server already has that matters here:
# systemd to boot under systemd-nspawn. Everything else (python3 included) is
# scripts/install.sh's job, so the test proves it installs it.
BASE_PACKAGES=systemd,systemd-sysv,dbus,ca-certificates
DIR=$CACHE/$RELEASE-$ARCH
marker="$RELEASE $ARCH $BASE_PACKAGES"

if [ "$(cat "$DIR/base.packages" 2>/dev/null)" != "$marker" ] || [ ! -x "$DIR/base/usr/bin/apt-get" ]; then
  mkdir -p "$DIR"
  rm -rf "$DIR/base" "$DIR/base.tmp"
  # The mirror this machine's apt already uses (none named here); debootstrap's own
  # default when the host has no Debian source configured.
  mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
  echo "debootstrap $RELEASE $ARCH into $DIR/base (minutes; cached afterwards)" >&2
  started=$SECONDS
  if ! debootstrap --arch="$ARCH" --variant=minbase --include="$BASE_PACKAGES" \
    "$RELEASE" "$DIR/base.tmp" ${mirror:+"$mirror"} >"$DIR/debootstrap.log" 2>&1; then
    tail -20 "$DIR/debootstrap.log" >&2
    # A failed second stage can leave bind mounts behind in the half-made root.
    grep -o " $DIR/base.tmp/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    grep -q " $DIR/base.tmp" /proc/mounts || rm -rf "$DIR/base.tmp"
    exit 1
  fi
  rm -f "$DIR/base.tmp/var/cache/apt/archives/"*.deb
  mv "$DIR/base.tmp" "$DIR/base"
  echo "$marker" >"$DIR/base.packages"
  echo "debootstrap $RELEASE $ARCH took $((SECONDS - started)) s" >&2
fi
echo "$DIR/base"
