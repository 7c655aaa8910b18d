"""System test helper: feeds a FIFO like a microphone; plays each *.raw dropped into a spool dir."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

from appliance.tryout.simulated_mic import RealtimeFeeder

POLL_SECONDS = 0.2


def main(fifo: Path, spool: Path) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with RealtimeFeeder(fifo) as feeder:
        print(f"feeding {fifo}; drop 16 kHz mono S16_LE *.raw files into {spool}", flush=True)
        while not stop.wait(POLL_SECONDS):
            for raw in sorted(spool.glob("*.raw")):
                feeder.play(raw.read_bytes())
                raw.rename(raw.with_suffix(".queued"))
                print(f"queued {raw.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
