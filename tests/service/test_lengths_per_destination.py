"""Each destination's own length, end to end with the real clients: X's weighted 280,
Bluesky's 300 graphemes, Mastodon's instance limit (learnt from its instance API)."""

from __future__ import annotations

import logging

from appliance.core.bluesky_text import grapheme_length
from appliance.core.destinations import Destination
from appliance.core.mastodon_text import mastodon_length
from appliance.core.post_text import ELLIPSIS
from appliance.posting.outbox import POSTED
from appliance.x_length import weighted_length
from tests.conftest import wait_until
from tests.service.test_destinations_daemon import ThreeBox

X, BLUESKY, MASTODON = Destination.X, Destination.BLUESKY, Destination.MASTODON
# 40 words of 5 CJK characters: 239 graphemes (Bluesky takes 300, Mastodon 500), but X
# weighs CJK double: 439 > 280.
CJK = " ".join("日本語の文"[i % 5 :] + "日本語の文"[: i % 5] for i in range(40))
# 150 characters of Latin text: within X's and Bluesky's limits, over a 100 instance limit.
LATIN = " ".join(["Lengths differ from one place to another"] * 4)[:150].strip()


def confirm(box: ThreeBox, text: str) -> None:
    """Hear `text`, then press the button (a sentence in CJK alone has no words that
    "tweet that" could follow)."""
    box.hear(text)
    assert wait_until(lambda: box.daemon.state.candidate is not None, 5)
    box.press_button()


def refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("Not posting")]


def confirmed(text: str, over_length: str, caplog, mastodon_limit: int = 0) -> dict | str:
    """Confirm `text` with every destination enabled: each one's posted text, or (when
    nothing was posted anywhere) the refusal logged."""
    box = ThreeBox(x={"over_length": over_length})
    if mastodon_limit:
        box.on[MASTODON].max_characters = mastodon_limit  # what /api/v2/instance says
    box.start()
    try:
        if mastodon_limit:
            learnt = lambda: dict(box.daemon.core_settings.max_lengths).get(MASTODON)  # noqa: E731
            assert wait_until(lambda: learnt() == mastodon_limit, 10)
        with caplog.at_level(logging.INFO):
            confirm(box, text)
            if over_length == "refuse":
                assert wait_until(lambda: refusals(caplog), 10)
                assert box.entries() == [] and all(s.posts == [] for s in box.on.values())
                [message] = refusals(caplog)
                return message
        all_posted = lambda: [e.state for e in box.entries()] == [POSTED] * 3  # noqa: E731
        assert wait_until(all_posted, 15), box.entries()
        return {d: [post.text for post in box.on[d].posts] for d in Destination}
    finally:
        box.stop()


def test_a_text_over_x_s_count_is_shortened_for_x_only(caplog):
    assert weighted_length(CJK) > 280 and grapheme_length(CJK) < 300
    texts = confirmed(CJK, "shorten", caplog)
    [x], [bluesky], [mastodon] = texts[X], texts[BLUESKY], texts[MASTODON]
    assert bluesky == mastodon and CJK in bluesky
    assert x.endswith(ELLIPSIS) and weighted_length(x) <= 280
    assert bluesky.startswith(x.removesuffix(ELLIPSIS))


def test_a_text_over_x_s_count_is_refused_everywhere_naming_x(caplog):
    message = confirmed(CJK, "refuse", caplog)
    assert "for X it is" in message and "X takes 280" in message
    assert "Bluesky" not in message and "Mastodon" not in message


def test_a_text_over_the_mastodon_instance_limit_is_shortened_for_mastodon_only(caplog):
    texts = confirmed(LATIN, "shorten", caplog, mastodon_limit=100)
    [x], [bluesky], [mastodon] = texts[X], texts[BLUESKY], texts[MASTODON]
    assert x == bluesky and LATIN in x
    assert mastodon.endswith(ELLIPSIS) and mastodon_length(mastodon) <= 100
    assert x.startswith(mastodon.removesuffix(ELLIPSIS))


def test_a_text_over_the_mastodon_instance_limit_is_refused_naming_mastodon(caplog):
    message = confirmed(LATIN, "refuse", caplog, mastodon_limit=100)
    assert "for Mastodon it is 150" in message and "Mastodon takes 100" in message
    assert "for X" not in message and "for Bluesky" not in message
