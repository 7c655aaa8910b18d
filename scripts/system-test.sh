#!/usr/bin/env bash
# System test: install the appliance with scripts/install.sh into a Debian root file
# system (bookworm or trixie: Raspberry Pi OS's two bases), boot it under
# systemd-nspawn (a real systemd, as on the Pi), and check the service end to end
# against the project's stand-ins on 127.0.0.1, with spoken audio through an ALSA
# file-plugin microphone and the mock pin factory.
#
#   sudo scripts/system-test.sh [bookworm|trixie]        (default bookworm)
#
# Exit 0 = passed, or SKIP (a line starting "SKIP:" says why: not root, no nspawn);
# anything else = failed. KEEP=1 keeps the work directory for a post-mortem.
# The base root (debootstrap, about a minute), apt's downloads and pip's cache are kept
# per release in $APPLIANCE_SYSTEM_TEST_CACHE/RELEASE-amd64 (default
# /var/cache/appliance-system-test).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
RELEASE=${1:-bookworm}
HOST_PYTHON=${HOST_PYTHON:-$REPO/.venv/bin/python}
WATCHDOG_SECONDS=6
KEY_NAMES=(assemblyai_api_key x_consumer_key x_consumer_secret x_access_token x_access_token_secret)
VOICE_SENTENCE="The kettle is singing again."
CONFIRM_SENTENCE="My plant needs water today."
SCRIPT_LINES=("$VOICE_SENTENCE" "Tweet that." "$CONFIRM_SENTENCE" "Checking the microphone level now.")

CELL="system-test $RELEASE"
# shellcheck source=system-test/lib.sh
. "$REPO/scripts/system-test/lib.sh"

case "$RELEASE" in
  bookworm|trixie) ;;
  *) echo "system-test.sh: release must be bookworm or trixie, not $RELEASE" >&2; exit 64 ;;
esac
# ---- can this machine run it? ------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
[ "$(dpkg --print-architecture)" = amd64 ] || skip "the cached roots are amd64; this host is not"
for tool in systemd-nspawn debootstrap nsenter espeak-ng sox; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
[ -x "$HOST_PYTHON" ] || skip "no $HOST_PYTHON (run scripts/setup-dev.sh)"
unshare --mount --pid --fork true 2>/dev/null || skip "cannot create namespaces here"

# ---- the cached base root, a copy to work in ---------------------------------------
new_root "$RELEASE" amd64 system-test
NSPAWN=""
pids=()
cleanup() {
  set +e
  [ -n "$NSPAWN" ] && kill "$NSPAWN" 2>/dev/null && wait "$NSPAWN" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
log "copying the base into $ROOTFS"
cp -a --reflink=auto "$BASE" "$ROOTFS"

# ---- the project, keys, configuration, microphone ----------------------------------
prepare_root
install -d -m 0755 "$ROOTFS/etc/systemd/system/appliance.service.d"
cat >"$ROOTFS/etc/systemd/system/appliance.service.d/system-test.conf" <<EOF
# A short watchdog, so the frozen-daemon check takes seconds.
[Service]
WatchdogSec=$WATCHDOG_SECONDS
EOF

# ---- Bluesky and Mastodon too: install.sh's extras, the unit's credentials ----------
# (amd64 only: on armhf atproto cannot be installed, see docs/install.md step 8.)
BLUESKY_PORT=$(free_port)
MASTODON_PORT=$(free_port)
for name in bluesky_app_password mastodon_access_token; do
  "$HOST_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$KEYS/$name"
  cp "$KEYS/$name" "$ROOTFS/root/keys/"
  KEY_NAMES+=("$name")
done
cat >>"$ROOTFS/etc/appliance/appliance.toml" <<TOML
[bluesky]
enabled = true
service_url = "http://127.0.0.1:$BLUESKY_PORT"
handle = "standin.bsky.social"
[mastodon]
enabled = true
api_base_url = "http://127.0.0.1:$MASTODON_PORT"
TOML

# ---- stand-ins and the microphone feeder, on the host ------------------------------
start_standins
"$HOST_PYTHON" -m appliance standin bluesky --port "$BLUESKY_PORT" --credentials-dir "$KEYS" \
  >"$WORK/bluesky.log" 2>&1 &
pids+=($!)
"$HOST_PYTHON" -m appliance standin mastodon --port "$MASTODON_PORT" --credentials-dir "$KEYS" \
  >"$WORK/mastodon.log" 2>&1 &
pids+=($!)
posted_on() { grep -qF "$2" "$WORK/$1.log"; }  # posted_on bluesky|mastodon TEXT

# ---- boot ------------------------------------------------------------------------
# On a host whose PID 1 is not systemd, nspawn expects what systemd creates at boot.
mkdir -p /run/systemd/nspawn
mountpoint -q /run/systemd/nspawn || mount -t tmpfs tmpfs /run/systemd/nspawn
mkdir -p /run/systemd/inaccessible
(
  cd /run/systemd/inaccessible
  [ -e reg ] || touch reg; [ -e dir ] || mkdir dir; [ -e chr ] || mknod chr c 0 0
  [ -e blk ] || mknod blk b 0 0; [ -e fifo ] || mkfifo fifo
  chmod 0000 reg dir chr blk fifo
)
# Caches kept between runs, and the local wheel directories the host's pip names.
binds=(--bind="$CELL_CACHE/pip:/root/.cache/pip"
  --bind="$CELL_CACHE/apt-archives:/var/cache/apt/archives")
for dir in $(pip_local_dirs); do binds+=(--bind-ro="$dir"); done
log "booting the container"
systemd-nspawn -D "$ROOTFS" --register=no --keep-unit --boot --console=read-only \
  "${binds[@]}" >"$WORK/console.log" 2>&1 &
NSPAWN=$!
container_init() {  # nspawn's child, once it has become the container's systemd
  local pid
  for pid in $(pgrep -P "$NSPAWN"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = systemd ] && { echo "$pid"; return 0; }
  done
  return 1
}
wait_for 30 "the container's init" container_init || { tail -20 "$WORK/console.log"; exit 1; }
INIT=$(container_init)
cexec() { nsenter -t "$INIT" -a env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
show() { cexec systemctl show -p "$1" --value appliance.service; }
booted() { cexec systemctl is-system-running | grep -xE "running|degraded" >/dev/null; }
if ! wait_for 90 "the container to boot" booted; then
  tail -20 "$WORK/console.log"; fail "the container did not boot"; exit 1
fi
# Never run the installer anywhere but inside the container.
cexec test -d /root/appliance-src || { fail "nsenter did not reach the container"; exit 1; }
log "container: $(cexec systemctl is-system-running || true)"

# ---- install ---------------------------------------------------------------------
log "scripts/install.sh --non-interactive (pip takes a few minutes the first time)"
if ! cexec bash /root/appliance-src/scripts/install.sh --non-interactive --keys-from /root/keys \
  >"$WORK/install.log" 2>&1; then
  cat "$WORK/install.log"
  fail "install.sh"
  exit 1
fi
cat "$WORK/install.log"
rm -rf "$ROOTFS/root/keys"
pass "install.sh --non-interactive"
chose() { grep -E "^ +$1: +.*$2" "$WORK/install.log" >/dev/null; }
if chose systemd-python "from the OS package python3-systemd"; then
  pass "systemd-python is the OS's prebuilt python3-systemd"
else
  fail "systemd-python does not come from python3-systemd"
fi
if [ "$RELEASE" = bookworm ]; then
  # Debian 12's python3-alsaaudio (0.8.4) is older than pyproject's minimum.
  chose pyalsaaudio "from the package index \\(python3-alsaaudio .* is older than" \
    && pass "bookworm: pyalsaaudio compiled by pip, as its OS package is too old" \
    || fail "bookworm: pyalsaaudio's origin is not what install.sh should pick"
elif chose pyalsaaudio "from the OS package python3-alsaaudio" && ! cexec dpkg -s gcc >/dev/null 2>&1; then
  pass "$RELEASE: every C extension prebuilt (OS packages, wheels): no compiler installed"
else
  fail "$RELEASE: a compiler was needed or pyalsaaudio is not the OS's"
fi
chose GPIO . && pass "install.sh said which GPIO backend it chose: $(sed -n 's/^ *GPIO: *//p' "$WORK/install.log")" \
  || fail "install.sh did not say which GPIO backend it chose"
if [ "$(stat -c '%a %U' "$ROOTFS/etc/appliance/credentials")" = "700 root" ] \
  && [ "$(stat -c '%a %U' "$ROOTFS/etc/appliance/credentials/x_access_token")" = "600 root" ]; then
  pass "credentials directory 0700 root, key files 0600 root"
else
  fail "credential permissions: $(ls -la "$ROOTFS/etc/appliance/credentials")"
fi

# ---- 1. active, with its STATUS= ---------------------------------------------------
is_active() { [ "$(show ActiveState)" = active ]; }
if wait_for 60 "appliance active" is_active && [ -n "$(show StatusText)" ]; then
  pass "the unit is active: STATUS=$(show StatusText)"
else
  fail "the unit is not active ($(show ActiveState)/$(show Result))"
  cexec journalctl -u appliance --no-pager -n 50 || true
fi
# Readers of a pipe use grep without -q: -q stops reading at the first match, and with
# pipefail the writer's broken pipe (journalctl, python) would fail the check.
journal_has() { cexec journalctl -u appliance.service --no-pager -o cat "$@" | grep . >/dev/null; }
journal_field() {  # journal_field EVENT FIELD: FIELD of each entry with APPLIANCE_EVENT=EVENT
  cexec journalctl -u appliance.service --no-pager -o json "APPLIANCE_EVENT=$1" \
    | "$HOST_PYTHON" -c 'import json, sys
for line in sys.stdin:
    print(json.loads(line).get(sys.argv[1], ""))' "$2"
}

# ---- 2. voice confirmation and `appliance confirm` reach the X stand-in ---------------
speak 1-voice "$VOICE_SENTENCE"
speak 2-tweet-that "Tweet that."
if wait_for 60 "the voice-confirmed post" posted_on_x "$VOICE_SENTENCE"; then
  pass "a sentence confirmed by voice was posted to the X stand-in"
else
  fail "the voice-confirmed sentence never reached X"
fi
# The unit's -OO bytecode lands in its CacheDirectory (the venv is read-only to it).
if [ -n "$(find "$ROOTFS/var/cache/private/appliance/pycache" -path "*/tweepy/*.opt-2.pyc" \
  -print -quit 2>/dev/null)" ]; then
  pass "the daemon wrote its -OO bytecode, tweepy's included, to /var/cache/appliance"
else
  fail "no -OO bytecode in /var/cache/appliance"
fi
for destination in bluesky mastodon; do
  if wait_for 30 "the post on $destination" posted_on "$destination" "$VOICE_SENTENCE" \
    && [ "$(grep -cF "$VOICE_SENTENCE" "$WORK/$destination.log")" = 1 ]; then
    pass "the same sentence was posted once to the $destination stand-in too"
  else
    fail "the voice-confirmed sentence never reached $destination"; tail -5 "$WORK/$destination.log"
  fi
done
has_confirm_command() { cexec appliance confirm --help; }
confirm_step=pending
if has_confirm_command >/dev/null 2>&1; then
  speak 3-confirm "$CONFIRM_SENTENCE"
  heard() { cexec journalctl -u appliance.service --no-pager -o cat | grep -F "$CONFIRM_SENTENCE" >/dev/null; }
  wait_for 60 "the sentence to confirm" heard || true
  if cexec appliance confirm && wait_for 30 "the post" posted_on_x "$CONFIRM_SENTENCE"; then
    confirm_step=passed
    pass "a sentence confirmed with \`appliance confirm\` was posted"
  else
    confirm_step=failed
    fail "\`appliance confirm\` did not post"
  fi
else
  log "PENDING \`appliance confirm\` is not in this tree yet: that step was not run"
fi

# ---- 3. the journal fields ---------------------------------------------------------
x_post_id=$(sed -n "s/.*post \([0-9]*\): 'The kettle.*/\1/p" "$WORK/x.log" | head -1)
if [ -n "$x_post_id" ] && journal_field posted POST_ID | grep -x "$x_post_id" >/dev/null; then
  pass "journalctl -u appliance APPLIANCE_EVENT=posted shows POST_ID=$x_post_id"
else
  fail "no APPLIANCE_EVENT=posted entry with POST_ID=$x_post_id"
  journal_field posted POST_ID
fi
for destination in x bluesky mastodon; do
  if journal_field posted DESTINATION | grep -x "$destination" >/dev/null; then
    pass "APPLIANCE_EVENT=posted entries carry DESTINATION=$destination"
  else
    fail "no APPLIANCE_EVENT=posted entry with DESTINATION=$destination"
  fi
done
if journal_field session_opened SPEECH_SESSION_ID | grep . >/dev/null; then
  pass "session_opened entries carry SPEECH_SESSION_ID"
else
  fail "no SPEECH_SESSION_ID on session_opened"
fi
journal_has APPLIANCE_EVENT=confirmed && pass "APPLIANCE_EVENT=confirmed is logged" \
  || fail "no APPLIANCE_EVENT=confirmed"

# ---- 4. doctor, against the stand-ins ----------------------------------------------
# The doctor listens for a second, sharing the FIFO with the daemon: give it speech.
speak 4-doctor "Checking the microphone level now."
sleep 1
if cexec appliance doctor >"$WORK/doctor.log" 2>&1; then
  pass "appliance doctor: all checks passed"
else
  fail "appliance doctor reported a problem"
fi
cat "$WORK/doctor.log"

# ---- 5. a frozen daemon is restarted by the watchdog -------------------------------
restarts_before=$(show NRestarts)
frozen_pid=$(show MainPID)
cexec /bin/sh -c "kill -STOP $frozen_pid"  # minbase has no /usr/bin/kill
log "froze the daemon (pid $frozen_pid in the container); WatchdogSec=$WATCHDOG_SECONDS"
restarted() { [ "$(show NRestarts)" -gt "$restarts_before" ] && is_active; }
if wait_for 60 "the watchdog restart" restarted \
  && cexec journalctl -u appliance.service --no-pager | grep "Failed with result 'watchdog'" >/dev/null; then
  pass "the frozen daemon was killed (Result=watchdog) and restarted (NRestarts=$(show NRestarts))"
else
  fail "no watchdog restart (NRestarts=$(show NRestarts), $(show ActiveState))"
fi

# ---- 6. a broken configuration: failed, no restart loop ----------------------------
cp "$ROOTFS/etc/appliance/appliance.toml" "$WORK/appliance.toml.good"
printf '[nonsense]\nkey = 1\n' >>"$ROOTFS/etc/appliance/appliance.toml"
cexec systemctl restart appliance.service >/dev/null 2>&1 || true
sleep 12  # more than twice RestartSec=: a restart loop would show by now
# A manual restart resets NRestarts: any automatic restart after it would count.
if [ "$(show ActiveState)" = failed ] && [ "$(show NRestarts)" = 0 ] \
  && [ "$(show ExecMainStatus)" = 78 ]; then
  pass "a broken configuration leaves the unit failed (exit 78), not restarting"
else
  fail "broken configuration: $(show ActiveState), NRestarts $(show NRestarts), status $(show ExecMainStatus)"
fi
cp "$WORK/appliance.toml.good" "$ROOTFS/etc/appliance/appliance.toml"
cexec systemctl restart appliance.service && wait_for 30 "active again" is_active \
  && pass "fixed configuration: active again" || fail "did not come back after the fix"

# ---- 7. no key anywhere in the journal ---------------------------------------------
cexec journalctl --no-pager -o export >"$WORK/journal.export" 2>/dev/null || true
leaked=0
for name in "${KEY_NAMES[@]}"; do
  if grep -qF "$(cat "$KEYS/$name")" "$WORK/journal.export" "$WORK/console.log"; then
    fail "the value of $name appears in the journal"
    leaked=1
  fi
done
[ "$leaked" = 0 ] && pass "no key value in the journal ($(wc -l <"$WORK/journal.export") lines searched)"

# ---- 8. install again (idempotent), then uninstall ---------------------------------
if cexec bash /root/appliance-src/scripts/install.sh --non-interactive >"$WORK/install2.log" 2>&1 \
  && is_active && grep -q "keeping the existing" "$WORK/install2.log" \
  && ! grep -qE "installing:|made the virtual environment" "$WORK/install2.log" \
  && grep -q "kept /etc/appliance/credentials/x_access_token" "$WORK/install2.log"; then
  pass "install.sh again: nothing reinstalled, configuration and keys kept, service active"
else
  fail "second install.sh run"; cat "$WORK/install2.log"
fi
cexec bash /root/appliance-src/scripts/uninstall.sh >"$WORK/uninstall.log" 2>&1 || true
if [ ! -e "$ROOTFS/opt/appliance" ] && [ ! -e "$ROOTFS/etc/systemd/system/appliance.service" ] \
  && [ ! -e "$ROOTFS/var/cache/private/appliance" ] \
  && [ -f "$ROOTFS/etc/appliance/credentials/x_access_token" ] \
  && [ "$(show LoadState)" = not-found ]; then
  pass "uninstall.sh removed the service, program and cache, kept /etc/appliance"
else
  fail "uninstall.sh"; cat "$WORK/uninstall.log"
fi
cexec bash /root/appliance-src/scripts/uninstall.sh --purge >>"$WORK/uninstall.log" 2>&1 || true
if [ ! -e "$ROOTFS/etc/appliance" ] && [ ! -e "$ROOTFS/var/lib/private/appliance" ]; then
  pass "uninstall.sh --purge removed the configuration, keys and state"
else
  fail "uninstall.sh --purge left files behind"
fi

log "appliance confirm step: $confirm_step"
if [ "$failures" -gt 0 ]; then
  log "FAILED: $failures check(s); KEEP=1 keeps $WORK for a look"
  exit 1
fi
log "PASSED"
