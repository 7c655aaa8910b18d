"""Local voice-activity detection on 50 ms chunks (WebRTC's GMM detector, a few µs a frame)."""

from __future__ import annotations

from collections import deque

import webrtcvad
from webrtcvad import _webrtcvad  # the C module: the Python wrapper adds a call per frame

from appliance.core.audio import SAMPLE_RATE_HZ

FRAME_BYTES = 320  # 10 ms of 16 kHz s16le: the smallest frame webrtcvad takes
# A 50 ms chunk is speech when most of its 10 ms frames are (kept when catching up).
SPEECH_FRAMES_PER_CHUNK = 3
# For starting a session, stricter: 4 of 5 frames, in 3 of the last 5 chunks. A key
# click is voiced for two chunks (webrtcvad's hangover); in a simulated hour of
# typing (bench/speech_cost.py) this opened no session, looser rules opened dozens.
ONSET_FRAMES_PER_CHUNK = 4
ONSET_CHUNKS = 3
ONSET_WINDOW_CHUNKS = 5


class SpeechDetector:
    """Feeds chunks to webrtcvad; says whether each is speech and whether speech is going on."""

    def __init__(self, aggressiveness: int = 3) -> None:
        # 3 of 0..3, the strictest: clicks and noise must not be billed; the 1 s of
        # pre-roll covers the soft start of a sentence the detector is late for.
        self._vad = webrtcvad.Vad(aggressiveness)._vad
        self._recent: deque[bool] = deque(maxlen=ONSET_WINDOW_CHUNKS)

    def is_speech(self, chunk: bytes) -> bool:
        """True if most 10 ms frames of this chunk hold speech; updates `is_speaking`."""
        frames = [
            chunk[i : i + FRAME_BYTES] for i in range(0, len(chunk) - FRAME_BYTES + 1, FRAME_BYTES)
        ]
        vad, process = self._vad, _webrtcvad.process
        voiced = sum(process(vad, SAMPLE_RATE_HZ, frame, FRAME_BYTES // 2) for frame in frames)
        self._recent.append(voiced >= min(ONSET_FRAMES_PER_CHUNK, max(1, len(frames))))
        return voiced >= min(SPEECH_FRAMES_PER_CHUNK, max(1, len(frames)))

    @property
    def is_speaking(self) -> bool:
        """Speech going on (smoothed over the last chunks), not a single voiced chunk."""
        return sum(self._recent) >= ONSET_CHUNKS
