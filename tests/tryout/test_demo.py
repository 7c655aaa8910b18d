"""`appliance demo` runs the real daemon on the shipped recording and the posts land."""

import importlib.util
import re
import subprocess
import sys

from appliance.core.destinations import Destination
from appliance.tryout.demo import recording
from appliance.tryout.sandbox import available_destinations


def test_shipped_recording_matches_its_script():
    pieces = recording()
    assert [line for line, _ in pieces][:3] == [
        "Mondays are the worst.",
        "My cat thinks the keyboard is a bed.",
        "Tweet that.",
    ]
    for line, audio in pieces:
        assert len(audio) > 16000, line  # at least half a second of speech each


def test_demo_command_shows_posts_landing():
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "you press" in out and "Confirmed by button" in out
    assert "Confirmed by voice: “My cat thinks the keyboard is a bed.”" in out
    assert "Discarded" in out and "This one stays private." in out
    sentences = [
        "Mondays are the worst.",
        "My cat thinks the keyboard is a bed.",
        "Coffee is a personality.",
    ]
    # One sentence lands once on every destination (the test extra has both SDKs).
    for standin in ("X", "Bluesky", "Mastodon"):
        landed = re.findall(rf" {standin} stand-in  received post (\S+): “(.+)”", out)
        assert [text for _, text in landed] == sentences, standin
        assert f"3 post(s) landed on the {standin} stand-in" in out
    assert "transcript  … Mondays are" in out  # partials come formatted, as the service's today
    assert re.search(r"LEDs .*candidate", out)
    assert "3 post(s) landed on the X stand-in" in out


def test_the_demo_leaves_out_a_destination_whose_sdk_is_missing(monkeypatch):
    # atproto has no 32-bit ARM wheels: there the demo posts to X and Mastodon.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "atproto" else find_spec(name)
    )
    assert available_destinations() == (Destination.X, Destination.MASTODON)
