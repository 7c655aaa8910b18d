"""Test audio as raw 16 kHz mono S16_LE: real speech (espeak-ng + sox), silence, tones."""

from __future__ import annotations

import hashlib
import math
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

SAMPLE_RATE_HZ = 16000
SAMPLE_BYTES = 2


def speech_pcm(text: str, cache_dir: Path) -> bytes:
    """`text` spoken by espeak-ng, converted by sox; cached by a hash of the text."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"espeak-ng|16000|s16le|{text}".encode()).hexdigest()[:16]
    raw = cache_dir / f"speech-{key}.raw"
    if raw.exists():
        return raw.read_bytes()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is needed for speech test audio (apt install {tool})")
    # Names of this process's own: parallel test workers may make the same sentence at once.
    # The finished file is renamed into place, so a crash or a race leaves no bad cache.
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix="making-") as work:
        wav = Path(work) / "speech.wav"
        partial = Path(work) / "speech.raw"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True, timeout=60)
        subprocess.run(
            ["sox", str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer"]
            + ["-L", "-t", "raw", str(partial)],
            check=True,
            timeout=60,
        )
        partial.replace(raw)
    return raw.read_bytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE_HZ) * SAMPLE_BYTES)


def tone(seconds: float, hz: float = 300, amplitude: float = 0.3) -> bytes:
    """A sine at `hz`, `amplitude` of full scale: loud, but not speech."""
    peak = int(amplitude * 32767)
    count = int(seconds * SAMPLE_RATE_HZ)
    samples = (int(peak * math.sin(2 * math.pi * hz * i / SAMPLE_RATE_HZ)) for i in range(count))
    return struct.pack(f"<{count}h", *samples)
