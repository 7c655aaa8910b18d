"""`appliance demo` runs the real daemon on the shipped recording and the posts land."""

import re
import subprocess
import sys

from appliance.tryout.demo import recording


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
    # One sentence lands once on every destination this build has a stand-in for.
    for standin in ("X", "Bluesky", "Mastodon"):
        landed = re.findall(rf" {standin} stand-in  received post (\S+): “(.+)”", out)
        assert [text for _, text in landed] == sentences, standin
        assert f"3 post(s) landed on the {standin} stand-in" in out
    assert "transcript  … Mondays are" in out  # partials come formatted, as the service's today
    assert re.search(r"LEDs .*candidate", out)
    assert "3 post(s) landed on the X stand-in" in out
