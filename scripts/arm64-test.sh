#!/usr/bin/env bash
# The Pi's architecture on this x86_64 machine: install the appliance with
# scripts/install.sh into a debootstrapped arm64 (or armhf) Debian root under
# qemu-user-static (chroot), then run the daemon in that root, directly, against the
# project's stand-ins on the host, until it sends READY=1 to a NOTIFY_SOCKET listened
# on here and a sentence confirmed by voice ("tweet that") lands at the X stand-in.
# systemd cannot boot under qemu-user (see scripts/system-test.sh for the unit under a
# real systemd, on the host's architecture).
#
#   sudo scripts/arm64-test.sh [trixie|bookworm] [arm64|armhf]   (default trixie arm64)
#
# Exit 0 = passed, or SKIP (a line starting "SKIP:" says why: not root, no namespaces,
# no binfmt_misc); anything else = failed. KEEP=1 keeps the work directory.
# It enables qemu's binfmt_misc handler itself (needs qemu-user-static, binfmt-support,
# debootstrap installed). Cached per release and architecture in
# $APPLIANCE_SYSTEM_TEST_CACHE/RELEASE-ARCH (default /var/cache/appliance-system-test).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RELEASE=${1:-trixie}
ARCH=${2:-arm64}
CELL="arm64-test $RELEASE-$ARCH"
HOST_PYTHON=${HOST_PYTHON:-$REPO/.venv/bin/python}
# Emulation is 10-50 times slower than the host: generous, but bounded, waits.
READY_TIMEOUT_SECONDS=600
POST_TIMEOUT_SECONDS=300
KEY_NAMES=(assemblyai_api_key x_consumer_key x_consumer_secret x_access_token x_access_token_secret)
VOICE_SENTENCE="The kettle is singing again."
SCRIPT_LINES=("$VOICE_SENTENCE" "Tweet that.")
# shellcheck source=system-test/lib.sh
. "$REPO/scripts/system-test/lib.sh"

case "$ARCH" in
  arm64) qemu=qemu-aarch64 ;;
  armhf) qemu=qemu-arm ;;
  *) echo "arm64-test.sh: architecture must be arm64 or armhf, not $ARCH" >&2; exit 64 ;;
esac
case "$RELEASE" in
  bookworm|trixie) ;;
  *) echo "arm64-test.sh: release must be bookworm or trixie, not $RELEASE" >&2; exit 64 ;;
esac

# ---- can this machine run it? ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, binfmt_misc)"
unshare --mount --pid --fork true 2>/dev/null || skip "cannot create namespaces here"
for tool in debootstrap update-binfmts "$qemu-static" espeak-ng sox; do
  command -v "$tool" >/dev/null \
    || { log "$tool is missing: apt-get install qemu-user-static binfmt-support debootstrap espeak-ng sox"; exit 1; }
done
[ -x "$HOST_PYTHON" ] || { log "no $HOST_PYTHON (run scripts/setup-dev.sh)"; exit 1; }
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null \
    || skip "cannot mount binfmt_misc (a container without that privilege)"
fi
update-binfmts --enable "$qemu" >/dev/null 2>&1 || true
grep -qx enabled "/proc/sys/fs/binfmt_misc/$qemu" 2>/dev/null \
  || { log "binfmt_misc has no enabled $qemu handler (update-binfmts --enable $qemu)"; exit 1; }

# ---- the cached base root, a copy to work in ---------------------------------------
new_root "$RELEASE" "$ARCH" arm64-test
DAEMON=""
pids=()
mounted=()
bind() {  # bind SOURCE TARGET-IN-ROOTFS [OPTIONS]: remembered, so cleanup unmounts it
  mkdir -p "$ROOTFS$2"
  mount --bind "$1" "$ROOTFS$2"
  mounted+=("$ROOTFS$2")
  if [ -n "${3:-}" ]; then mount -o "remount,bind,$3" "$ROOTFS$2"; fi
}
cleanup() {
  set +e
  [ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  # Anything still running from the root (a stray child of the daemon) holds its mounts.
  for pid in $(ls /proc | grep -E '^[0-9]+$'); do
    [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$ROOTFS" ] && kill -9 "$pid" 2>/dev/null
  done
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}"
  done
  if grep -q " $ROOTFS" /proc/mounts; then
    log "still mounted under $ROOTFS; not deleting it"
  elif [ "${KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
log "copying the base into $ROOTFS"
cp -a --reflink=auto "$BASE" "$ROOTFS"
prepare_root
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
# Where systemd's RuntimeDirectory= and StateDirectory= would be.
install -d -m 0755 "$ROOTFS/run/appliance" "$ROOTFS/var/lib/appliance"
bind /proc /proc
bind /sys /sys ro
bind /dev /dev
bind /dev/pts /dev/pts
bind "$CELL_CACHE/pip" /root/.cache/pip
bind "$CELL_CACHE/apt-archives" /var/cache/apt/archives
for dir in $(pip_local_dirs); do bind "$dir" "$dir" ro; done
in_root() { chroot "$ROOTFS" env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
[ "$(in_root dpkg --print-architecture)" = "$ARCH" ] || { fail "the root is not $ARCH"; exit 1; }
log "inside: $(in_root uname -m), $(. "$ROOTFS/etc/os-release" && echo "$PRETTY_NAME")"

# ---- install -------------------------------------------------------------------------
log "scripts/install.sh --non-interactive --no-start (emulated: minutes)"
started=$SECONDS
if ! in_root bash /root/appliance-src/scripts/install.sh --non-interactive --keys-from /root/keys \
  --no-start 2>&1 | stamp >"$WORK/install.log"; then
  cat "$WORK/install.log"
  fail "install.sh"
  exit 1
fi
cat "$WORK/install.log"
rm -rf "$ROOTFS/root/keys"
pass "install.sh on $ARCH $RELEASE ($((SECONDS - started)) s emulated)"
if in_root dpkg -s gcc >/dev/null 2>&1; then
  log "NOTE a compiler was installed: $(grep -m1 'to compile' "$WORK/install.log" || echo '?')"
else
  pass "no compiler was needed"
fi

# ---- run the daemon until READY=1 and a confirmed post ---------------------------
"$HOST_PYTHON" "$REPO/scripts/system-test/notify_listener.py" "$ROOTFS/run/notify.sock" \
  >"$WORK/notify.log" 2>&1 &
pids+=($!)
wait_for 10 "the notify listener" test -S "$ROOTFS/run/notify.sock"
start_standins
in_root env NOTIFY_SOCKET=/run/notify.sock /opt/appliance/venv/bin/appliance run \
  --config /etc/appliance/appliance.toml >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
daemon_ready() { grep -qx "READY=1" "$WORK/notify.log"; }
ready_or_gone() { daemon_ready || ! kill -0 "$DAEMON" 2>/dev/null; }
wait_for "$READY_TIMEOUT_SECONDS" "READY=1" ready_or_gone || true
if daemon_ready; then
  pass "the daemon sent READY=1 ($(grep -m1 '^STATUS=' "$WORK/notify.log" || echo 'no STATUS='))"
else
  fail "no READY=1 from the daemon ($(kill -0 "$DAEMON" 2>/dev/null && echo running || echo exited))"
  tail -30 "$WORK/daemon.log"
  exit 1
fi
speak 1-voice "$VOICE_SENTENCE"
speak 2-tweet-that "Tweet that."
if wait_for "$POST_TIMEOUT_SECONDS" "the voice-confirmed post" posted_on_x "$VOICE_SENTENCE"; then
  pass "a sentence confirmed by voice was posted to the X stand-in: $(grep -m1 -F "$VOICE_SENTENCE" "$WORK/x.log")"
else
  fail "the voice-confirmed sentence never reached X"
  tail -30 "$WORK/daemon.log"
fi

if [ "$failures" -gt 0 ]; then
  log "FAILED: $failures check(s); KEEP=1 keeps $WORK for a look"
  exit 1
fi
log "PASSED"
