"""What the speech link costs: billed session time on_speech vs always, words lost, opens/min.

Two parts. (1) A scripted hour of desk life on a simulated clock: 5 minutes of real
(espeak-ng) speech in bursts, the rest quiet room noise with keyboard clicks, run
through the link's own pieces (webrtcvad detector, session gate, opens-per-minute
limiter, backlog with pre-roll) with a 0.3 s connect time. (2) Real time through the
ALSA file plugin and the real daemon against the stand-in: speech start to first
partial, opening the session on demand vs one already open.
Run: .venv/bin/python bench/speech_cost.py
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.core.audio import SAMPLE_RATE_HZ  # noqa: E402
from appliance.speech.backlog import Backlog  # noqa: E402
from appliance.speech.gate import (  # noqa: E402
    Decision,
    GateSettings,
    GateState,
    Session,
    decide,
    next_open_at,
    on_voice,
)
from appliance.speech.link import BURST_SECONDS, CHUNK_SECONDS  # noqa: E402
from appliance.speech.vad import SpeechDetector  # noqa: E402
from bench.table import print_table  # noqa: E402
from tests.speech_audio import speech_pcm  # noqa: E402

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "test-audio"
HOUR_SECONDS = 3600.0
SPEECH_SECONDS = 300.0
CONNECT_SECONDS = 0.3  # handshake + Begin over Wi-Fi to the service, assumed
PRICE_PER_HOUR = 0.15  # USD, Universal-Streaming
CHUNK_BYTES = 1600
SENTENCES = [
    "Mondays are the worst.",
    "My cat thinks the keyboard is a bed.",
    "Tweet that.",
    "Coffee is a personality.",
    "I have been in three meetings about the meeting.",
    "The printer knows when you are in a hurry.",
]


def _room_noise(rng: random.Random, count: int) -> bytes:
    """Quiet room (about -60 dBFS) with an occasional keyboard click."""
    samples = array("h", (int(rng.gauss(0, 30)) for _ in range(count)))
    if rng.random() < 0.02:
        for i in range(min(160, count)):  # a 10 ms click
            samples[i] = int(rng.uniform(-6000, 6000))
    return samples.tobytes()


def _desk_hour(seed: int = 1) -> tuple[list[bytes], list[bool], list[int]]:
    """Chunks of an hour, which are truly speech, and where each utterance starts."""
    rng = random.Random(seed)
    spoken = [speech_pcm(text, CACHE) for text in SENTENCES]
    room = [_room_noise(rng, CHUNK_BYTES // 2) for _ in range(500)]
    total = int(HOUR_SECONDS / CHUNK_SECONDS)
    chunks: list[bytes] = []
    truth: list[bool] = []
    starts: list[int] = []
    speech_chunks_left = int(SPEECH_SECONDS / CHUNK_SECONDS)
    bursts = 25
    burst_starts = sorted(rng.sample(range(0, total - 2000, 600), bursts))
    for burst_index, burst_start in enumerate(burst_starts):
        while len(chunks) < burst_start:
            chunks.append(rng.choice(room))
            truth.append(False)
        budget = speech_chunks_left // (bursts - burst_index)
        used = 0
        while used < budget:
            pcm = rng.choice(spoken)
            pcm += bytes(-len(pcm) % CHUNK_BYTES)
            starts.append(len(chunks))
            for offset in range(0, len(pcm), CHUNK_BYTES):
                chunks.append(pcm[offset : offset + CHUNK_BYTES])
                truth.append(True)  # the sentence's own pauses count: they are its audio
                used += 1
            for _ in range(20):  # a second between sentences
                chunks.append(rng.choice(room))
                truth.append(False)
        speech_chunks_left -= used
    while len(chunks) < total:
        chunks.append(rng.choice(room))
        truth.append(False)
    return chunks, truth, starts


def simulate(mode: Session, chunks: list[bytes], truth: list[bool], starts: list[int]) -> dict:
    """Run the link's decisions over the hour on a simulated clock."""
    settings = GateSettings(mode=mode)
    detector, gate = SpeechDetector(), GateState()
    backlog = Backlog(round(30 / CHUNK_SECONDS))
    pre_roll = round(1.0 / CHUNK_SECONDS)
    sent: set[int] = set()
    index_of: dict[int, int] = {}
    opens: list[float] = []
    billed = 0.0
    ready_at: float | None = None  # connecting: the session is usable from then
    opened_at: float | None = None
    sent_seconds = 0.0
    for index, chunk in enumerate(chunks):
        now = index * CHUNK_SECONDS
        is_speech = detector.is_speech(chunk)
        gate = on_voice(gate, detector.is_speaking, now)
        index_of[id(chunk)] = index
        backlog.push(chunk, is_speech)
        if opened_at is None and ready_at is None:
            wanted = decide(gate, None, now, settings) is Decision.OPEN or backlog.owes_speech()
            backlog.retain(backlog.max_chunks if wanted else pre_roll)
            if wanted and next_open_at(opens, now, 4) <= now:
                opens.append(now)
                ready_at = now + CONNECT_SECONDS
        if ready_at is not None and now >= ready_at:
            # Billing runs from the upgrade; audio flows from Begin.
            opened_at, ready_at, sent_seconds = ready_at - CONNECT_SECONDS, None, 0.0
            backlog.new_stream()
        if opened_at is None:
            continue
        age = now - opened_at
        if decide(gate, age, now, settings) in (Decision.CLOSE, Decision.ROTATE):
            if not backlog.owes_speech():
                billed += age
                opened_at = None
                continue
        while sent_seconds + CHUNK_SECONDS <= age + BURST_SECONDS:
            item = backlog.take(0.0)
            if item is None:
                break
            sent.add(index_of[id(item[0])])
            sent_seconds += CHUNK_SECONDS
    if opened_at is not None:
        billed += HOUR_SECONDS - opened_at
    speech = [i for i, is_true in enumerate(truth) if is_true]
    lost = [i for i in speech if i not in sent]
    cut = [s for s in starts if s not in sent]
    per_minute = max((sum(1 for u in opens if t <= u < t + 60) for t in opens), default=0)
    return {
        "billed_seconds": billed,
        "sessions": len(opens),
        "max_opens_per_minute": per_minute,
        "speech_lost_seconds": len(lost) * CHUNK_SECONDS,
        "utterances": len(starts),
        "utterances_cut": len(cut),
        "catch_up_skipped_seconds": backlog.chunks_skipped * CHUNK_SECONDS,
    }


def first_partial_latency(mode: Session, trials: int = 3) -> float:
    """Median seconds from speech start (first loud sample fed) to the first partial."""
    from appliance.tryout.sandbox import Sandbox

    pcm = speech_pcm("Mondays are the worst.", CACHE)
    samples = array("h", pcm)
    lead_seconds = next(i for i, s in enumerate(samples) if abs(s) > 500) / SAMPLE_RATE_HZ
    overrides = {"assemblyai": {"session": mode, "idle_close_seconds": 1.5}}
    latencies = []
    with Sandbox([], settings_overrides=overrides) as box:
        assert box.daemon is not None
        daemon = box.daemon
        _wait(lambda: daemon.state.link in ("up", "idle"), 10)
        for _ in range(trials):
            _wait(lambda: daemon.state.link == ("idle" if mode is Session.ON_SPEECH else "up"), 15)
            assert box.feeder is not None
            box.feeder.wait_until_played(5)
            started = time.monotonic()
            box.say(pcm + bytes(32000 * 3))
            _wait(lambda: bool(daemon.state.partial), 10)
            latencies.append(time.monotonic() - started - lead_seconds)
            _wait(lambda: not daemon.state.partial, 10)
            time.sleep(2.5)
    return statistics.median(latencies)


def _wait(predicate, timeout_seconds: float) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not get there in time")
        time.sleep(0.005)


def rows(real_time: bool = True) -> list[tuple[str, str, str]]:
    chunks, truth, starts = _desk_hour()
    out: list[tuple[str, str, str]] = []
    results = {mode: simulate(mode, chunks, truth, starts) for mode in Session}
    for mode, r in results.items():
        cost_day = r["billed_seconds"] / 3600 * PRICE_PER_HOUR * 24
        out += [
            (
                f"desk hour, {mode}: billed session time",
                f"{r['billed_seconds'] / 60:.1f} min (${cost_day:.2f}/day at this rate)",
                "on_speech << always",
            ),
            (f"desk hour, {mode}: sessions opened", str(r["sessions"]), ""),
            (
                f"desk hour, {mode}: most opens in any minute",
                str(r["max_opens_per_minute"]),
                "<= 4",
            ),
            (
                f"desk hour, {mode}: speech not delivered",
                f"{r['speech_lost_seconds']:.2f} s; "
                f"{r['utterances_cut']} of {r['utterances']} sentences cut at the start",
                "0",
            ),
        ]
    if real_time:
        on_demand, already_open = (
            first_partial_latency(Session.ON_SPEECH),
            first_partial_latency(Session.ALWAYS),
        )
        out += [
            ("speech start -> first partial, session open", f"{already_open * 1000:.0f} ms", ""),
            ("speech start -> first partial, opened on demand", f"{on_demand * 1000:.0f} ms", ""),
            (
                "extra latency of opening on demand (loopback)",
                f"{(on_demand - already_open) * 1000:.0f} ms",
                "< 500 ms",
            ),
        ]
    return out


def main() -> int:
    print_table(rows(real_time="--no-real-time" not in sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
