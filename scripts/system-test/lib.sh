# shellcheck shell=bash
# Shared by scripts/system-test.sh (systemd-nspawn) and scripts/arm64-test.sh (qemu-user):
# a root file system with the project, fresh keys, a configuration pointing at the
# stand-ins and a FIFO microphone; the stand-ins and the microphone feeder on the host.
# The caller sets CELL, REPO, HOST_PYTHON, WORK, ROOTFS, KEY_NAMES, SCRIPT_LINES and pids=().

log() { printf '[%s %s] %s\n' "$CELL" "$(date -u +%H:%M:%S)" "$*"; }
failures=0
pass() { log "PASS $*"; }
fail() { log "FAIL $*"; failures=$((failures + 1)); }
skip() { echo "SKIP: $CELL: $*"; exit 0; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "timed out after ${seconds}s: $what"; return 1; fi
    sleep 1
  done
}

stamp() { while IFS= read -r line; do printf '%(%H:%M:%S)T %s\n' -1 "$line"; done; }  # time each line

free_port() { "$HOST_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

prepare_root() {  # sets SPEECH_PORT, X_PORT, KEYS; keys for install.sh in ROOTFS/root/keys
  mkdir -p "$ROOTFS/root/appliance-src"
  tar -C "$REPO" --exclude=.venv --exclude=.cache --exclude=.git --exclude=__pycache__ \
    --exclude=.mypy_cache --exclude=.ruff_cache --exclude=.pytest_cache -cf - . \
    | tar -C "$ROOTFS/root/appliance-src" -xf -
  SPEECH_PORT=$(free_port)
  X_PORT=$(free_port)
  KEYS=$WORK/keys
  install -d -m 0700 "$KEYS" "$ROOTFS/root/keys"
  local name
  for name in "${KEY_NAMES[@]}"; do
    "$HOST_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$KEYS/$name"
  done
  cp "$KEYS"/* "$ROOTFS/root/keys/"
  # An existing configuration is kept by install.sh: this one points at the stand-ins.
  install -d -m 0755 "$ROOTFS/etc/appliance"
  cat >"$ROOTFS/etc/appliance/appliance.toml" <<TOML
[audio]
device = "testmic"
[assemblyai]
url = "ws://127.0.0.1:$SPEECH_PORT/v3/ws"
[x]
api_url = "http://127.0.0.1:$X_PORT"
[gpio]
pin_factory = "mock"
TOML
  cat >"$ROOTFS/etc/asound.conf" <<'ALSA'
# The system test's microphone: the ALSA file plugin reading a FIFO the host feeds.
pcm.testmic {
    type file
    slave.pcm "null"
    file "/dev/null"
    infile "/srv/mic/mic.fifo"
    format "raw"
}
ALSA
  install -d -m 0755 "$ROOTFS/srv/mic"
  mkfifo -m 0644 "$ROOTFS/srv/mic/mic.fifo"
  # pip inside reaches the package index as the host's pip does: the host's pip
  # configuration and its CA bundle (a TLS-inspecting proxy has its own CA).
  if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$ROOTFS/etc/pip.conf"; fi
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  fi
}

pip_local_dirs() {  # the local wheel directories the host's pip configuration names
  local dir
  for dir in $("$HOST_PYTHON" -m pip config list 2>/dev/null | grep -oE "(file://)?/[^' ]+" \
    | sed -e 's|^file://||' -e 's|/simple$||' | sort -u); do
    if [ -d "$dir" ] && [ "$dir" != / ]; then echo "$dir"; fi
  done
}

start_standins() {  # the stand-ins of AssemblyAI and X, and the microphone feeder
  printf '%s\n' "${SCRIPT_LINES[@]}" >"$WORK/script.txt"
  "$HOST_PYTHON" -m appliance standin speech --port "$SPEECH_PORT" \
    --api-key "$(cat "$KEYS/assemblyai_api_key")" --script "$WORK/script.txt" >"$WORK/speech.log" 2>&1 &
  pids+=($!)
  "$HOST_PYTHON" -m appliance standin x --port "$X_PORT" --credentials-dir "$KEYS" \
    >"$WORK/x.log" 2>&1 &
  pids+=($!)
  mkdir -p "$WORK/spool"
  "$HOST_PYTHON" "$REPO/scripts/system-test/mic_feeder.py" "$ROOTFS/srv/mic/mic.fifo" "$WORK/spool" \
    >"$WORK/feeder.log" 2>&1 &
  pids+=($!)
}

speak() {  # speak FILE-STEM TEXT: espeak-ng → 16 kHz raw → the feeder's spool
  espeak-ng -w "$WORK/$1.wav" "$2"
  # A pause after it, as a speaker makes: the next sentence is a separate utterance.
  sox "$WORK/$1.wav" -r 16000 -c 1 -b 16 -e signed-integer -L -t raw "$WORK/$1.part" pad 0 1.5
  mv "$WORK/$1.part" "$WORK/spool/$1.raw"
}

posted_on_x() { grep -qF "$1" "$WORK/x.log"; }

new_root() {  # new_root RELEASE ARCH NAME: sets BASE (the cached base root), CELL_CACHE, WORK, ROOTFS
  BASE=$("$REPO/scripts/system-test/base-root.sh" "$1" "$2")
  CELL_CACHE=$(dirname "$BASE")
  mkdir -p "$CELL_CACHE/pip" "$CELL_CACHE/apt-archives/partial"
  WORK=$(mktemp -d "/var/tmp/appliance-$3.XXXXXX")
  ROOTFS=$WORK/rootfs
}
