"""The benchmarks' reference: a tutorial loop in the seed's architecture (ALSA, v3, tweepy).

One script, no outbox, no reconnects, no LEDs: read the ALSA PCM in a loop, send each
period as a binary websocket frame to AssemblyAI's /v3/ws, read Turn messages on a
thread, and post the sentence before "tweet that" with tweepy.Client.create_tweet.
It is what a tutorial would write, so bench/lightness.py can say what the daemon's
extra care costs. Not part of the appliance; it runs against the local stand-ins:

  python bench/reference_client.py --device simmic:/tmp/mic.fifo \
      --speech-url ws://127.0.0.1:PORT/v3/ws --x-url http://127.0.0.1:PORT \
      --credentials DIR   (files named as the keys, like the daemon's)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

import alsaaudio
import requests
import tweepy
import websocket

# AssemblyAI recommends 50 ms messages: 800 frames of 16 kHz mono S16_LE, 1600 bytes
# (docs: universal-streaming "Audio requirements"; shared/reference v3 notes).
SAMPLE_RATE_HZ = 16000
PERIOD_FRAMES = 800
QUERY = f"?sample_rate={SAMPLE_RATE_HZ}&encoding=pcm_s16le&speech_model=universal-streaming-english"
X_HOSTS = ("https://api.twitter.com", "https://api.x.com")  # what tweepy's Client calls


class ToStandin(requests.Session):
    """Sends tweepy's requests to the X stand-in instead of X (the only non-tutorial part)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        for host in X_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
        return super().request(method, url, *args, **kwargs)


def receive_turns(ws: websocket.WebSocket, client: tweepy.Client) -> None:
    """Read server messages until the socket closes; post on "tweet that"."""
    last_sentence = ""
    while True:
        try:
            message = ws.recv()
        except (websocket.WebSocketException, OSError):
            return
        if not message:
            return
        turn = json.loads(message)
        if turn.get("type") != "Turn" or not turn.get("end_of_turn"):
            continue
        text = turn.get("transcript", "").strip()
        spoken = text.lower().rstrip(".!? ")
        if spoken.endswith("tweet that"):
            before = text[: spoken.rfind("tweet that")].strip(" ,.") or last_sentence
            if before:
                response = client.create_tweet(text=before)
                print(f"posted {response.data['id']}: {before}", flush=True)
            last_sentence = ""
        elif text:
            last_sentence = text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True)
    parser.add_argument("--speech-url", required=True)
    parser.add_argument("--x-url", required=True)
    parser.add_argument("--credentials", required=True, type=Path)
    args = parser.parse_args(argv)
    key = {p.name: p.read_text().strip() for p in args.credentials.iterdir()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    client = tweepy.Client(
        consumer_key=key["x_consumer_key"],
        consumer_secret=key["x_consumer_secret"],
        access_token=key["x_access_token"],
        access_token_secret=key["x_access_token_secret"],
    )
    client.session = ToStandin(args.x_url)
    ws = websocket.create_connection(
        args.speech_url + QUERY, header=[f"Authorization: {key['assemblyai_api_key']}"]
    )
    threading.Thread(target=receive_turns, args=(ws, client), daemon=True).start()
    microphone = alsaaudio.PCM(
        alsaaudio.PCM_CAPTURE,
        device=args.device,
        channels=1,
        rate=SAMPLE_RATE_HZ,
        format=alsaaudio.PCM_FORMAT_S16_LE,
        periodsize=PERIOD_FRAMES,
    )
    try:
        while True:
            length, data = microphone.read()
            if length > 0:
                ws.send_binary(data)
    finally:
        ws.send(json.dumps({"type": "Terminate"}))
        ws.close()


if __name__ == "__main__":
    sys.exit(main())
