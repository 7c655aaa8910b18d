"""The core with several destinations: each one's length, its own problems, delete on all."""

from appliance.core import CoreSettings, Pattern, State, led_pattern, status_line, step
from appliance.core.destinations import Destination
from appliance.core.events import (
    ButtonPressed,
    DeletePost,
    DeleteResult,
    Log,
    PostResult,
    PostsSettled,
    QueuePost,
    SentenceFinished,
)
from appliance.core.lengths import RULES

X, BLUESKY, MASTODON = Destination.X, Destination.BLUESKY, Destination.MASTODON
ALL = CoreSettings(grace_seconds=0.0, destinations=(X, BLUESKY, MASTODON))
UP = State(link="up")


def confirm(text, settings=ALL, state=UP):
    state, first = step(state, SentenceFinished(text), 0, settings)
    state, second = step(state, ButtonPressed(), 1, settings)
    return state, first + second


def queued(effects):
    return [e for e in effects if isinstance(e, QueuePost)]


def logged(effects, event):
    return [e.message for e in effects if isinstance(e, Log) and e.event == event]


def test_a_confirmation_queues_one_text_per_enabled_destination():
    state, effects = confirm("Hello everywhere.")
    [post] = queued(effects)
    assert post.destination_texts() == {d: "Hello everywhere." for d in (X, BLUESKY, MASTODON)}
    assert state.posts_in_flight == 3


def test_shorten_fits_the_text_to_each_destination_on_its_own():
    text = "word " * 70  # 349: over X's 280 and Bluesky's 300, under Mastodon's 500
    state, effects = confirm(text)
    texts = queued(effects)[0].destination_texts()
    assert RULES[X].measure(texts[X]) <= 280 and texts[X].endswith("…")
    assert RULES[BLUESKY].measure(texts[BLUESKY]) <= 300 and texts[BLUESKY].endswith("…")
    assert len(texts[BLUESKY]) > len(texts[X])
    assert texts[MASTODON] == text.strip()
    notes = logged(effects, "shortened")
    assert len(notes) == 2 and "X's count" in notes[0] and "Bluesky" in notes[1]


def test_refuse_names_the_destination_it_is_too_long_for():
    refuse = CoreSettings(grace_seconds=0.0, over_length="refuse", destinations=(X, BLUESKY))
    state, effects = confirm("word " * 58, refuse)  # 289: too long for X only
    assert queued(effects) == []
    [message] = logged(effects, "refused_length")
    assert "for X it is 289" in message and "Bluesky" not in message
    assert led_pattern(state, 1.5, refuse) is Pattern.REFUSED


def test_mastodons_instance_limit_comes_from_the_settings():
    small = CoreSettings(grace_seconds=0.0, destinations=(MASTODON,), max_lengths=((MASTODON, 20),))
    _, effects = confirm("A sentence of more than twenty characters.", small)
    [text] = queued(effects)[0].destination_texts().values()
    assert len(text) <= 20 and text.endswith("…")


def test_a_problem_on_one_destination_does_not_hide_another():
    state, _ = confirm("Two problems.")
    limited = PostResult(
        2, "retrying", "", "Bluesky is limiting posts", is_rate_limited=True, destination=BLUESKY
    )
    state, _ = step(state, limited, 2, ALL)
    refused = PostResult(
        3, "failed", "", "the token was refused", needs_user=True, destination=MASTODON
    )
    state, _ = step(state, refused, 3, ALL)
    line = status_line(state, 3, ALL)
    assert "Cannot post to Mastodon: the token was refused" in line
    assert "Posting to Bluesky held up: Bluesky is limiting posts" in line
    assert led_pattern(state, 3, ALL) is Pattern.NOT_AUTHORISED
    state, _ = step(state, PostResult(1, "posted", "111", destination=X, confirmation=1), 4, ALL)
    assert "Bluesky" in status_line(state, 10, ALL) and "Mastodon" in status_line(state, 10, ALL)


def test_with_x_alone_the_status_reads_as_it_always_did():
    x_only = CoreSettings(grace_seconds=0.0)
    state, _ = confirm("Held up.", x_only)
    state, _ = step(state, PostResult(1, "retrying", "", "X is having trouble (503)."), 2, x_only)
    assert status_line(state, 2, x_only) == "Posting held up: X is having trouble (503)."


def test_dropping_the_waiting_post_ends_the_out_of_credits_light():
    # The stale light: out of credits cleared only on the next post result, so a dropped
    # waiting post (`appliance outbox drop`) left it on for good.
    state, _ = confirm("Worth it.")
    event = PostResult(1, "retrying", "", "X account out of credits", is_out_of_credits=True)
    state, _ = step(state, event, 2, ALL)
    assert led_pattern(state, 2, ALL) is Pattern.OUT_OF_CREDITS
    state, _ = step(state, PostsSettled(X), 3, ALL)
    assert led_pattern(state, 10, ALL) is not Pattern.OUT_OF_CREDITS
    assert "credits" not in status_line(state, 10, ALL)
    assert state.status_of(X).in_flight == 0 and state.status_of(BLUESKY).in_flight == 1


def test_delete_that_names_the_confirmation_and_every_destination_it_reached():
    state, _ = confirm("Oops.")
    state, _ = step(state, PostResult(1, "posted", "111", destination=X, confirmation=1), 2, ALL)
    state, _ = step(
        state, PostResult(2, "posted", "at://b", destination=BLUESKY, confirmation=1), 3, ALL
    )
    state, effects = step(state, SentenceFinished("Delete that."), 10, ALL)
    assert [e for e in effects if isinstance(e, DeletePost)] == [DeletePost(1)]
    [message] = logged(effects, "delete_requested")
    assert "post 111 from X" in message and "post at://b from Bluesky" in message
    assert "not sending it to Mastodon" in message
    state, effects = step(state, DeleteResult("at://b", False, "gone?", BLUESKY, 1), 11, ALL)
    assert "from Bluesky" in logged(effects, "delete_failed")[0]
    state, effects = step(state, DeleteResult("111", True, "", X, 1), 12, ALL)
    assert logged(effects, "deleted") == ["Deleted post 111 from X."]


def test_the_length_rules_use_the_destinations_own_counts():
    from appliance.core.lengths import RULES

    flag = "\U0001f1e9\U0001f1ea"  # two code points, one grapheme
    assert RULES[BLUESKY].measure(flag) == 1 and RULES[BLUESKY].default_max == 300
    link = "see https://example.com/" + "a" * 60
    assert RULES[MASTODON].measure(link) == len("see ") + 23
    assert RULES[MASTODON].default_max == 500


def test_appliance_status_lists_each_destinations_problem():
    from appliance.service.control import format_status
    from appliance.service.control_replies import status_reply

    state, _ = confirm("Status.")
    event = PostResult(2, "retrying", "", "Bluesky is limiting posts", destination=BLUESKY)
    state, _ = step(state, event, 2, ALL)
    reply = status_reply(state, 2, ALL, {"queued": 2})
    assert reply["destinations"][1]["destination"] == "bluesky"
    assert "Bluesky:    Bluesky is limiting posts" in format_status(reply)


def test_delete_that_says_so_when_the_posts_id_is_unknown():
    x_only = CoreSettings(grace_seconds=0.0)
    state, _ = confirm("Lost answer.", x_only)
    state, _ = step(state, PostResult(1, "posted", "", confirmation=1), 2, x_only)
    state, effects = step(state, SentenceFinished("Delete that."), 3, x_only)
    assert not [e for e in effects if isinstance(e, DeletePost)]
    assert "id is unknown: delete it on X" in logged(effects, "refused")[0]


def test_a_fault_on_one_destination_shows_as_an_error_naming_it_until_it_posts():
    state, _ = confirm("Broken somewhere.")
    for number, destination in enumerate((X, MASTODON), start=1):
        state, _ = step(state, PostResult(number, "posted", "1", destination=destination), 2, ALL)
    detail = "X's client could not be set up (ImportError: no tweepy); retrying in 4 s"
    fault = PostResult(3, "retrying", "", detail, is_fault=True, destination=BLUESKY)
    state, _ = step(state, fault, 3, ALL)
    assert led_pattern(state, 10, ALL) is Pattern.ERROR
    assert status_line(state, 10, ALL) == f"Posting to Bluesky held up: {detail}"
    # A fault before a restart (nothing counted in flight) is shown all the same.
    restarted, _ = step(UP, fault, 3, ALL)
    assert led_pattern(restarted, 10, ALL) is Pattern.ERROR
    assert "held up" in status_line(restarted, 10, ALL)
    # A network retry replaces it: the slow network is no fault.
    slow = PostResult(3, "retrying", "", "Could not reach Bluesky", destination=BLUESKY)
    assert led_pattern(step(state, slow, 4, ALL)[0], 10, ALL) is Pattern.POSTING
    state, _ = step(state, PostResult(3, "posted", "at://b", destination=BLUESKY), 5, ALL)
    assert led_pattern(state, 10, ALL) is not Pattern.ERROR
    assert "held up" not in status_line(state, 10, ALL)


def test_keys_the_user_must_fix_outrank_a_fault_elsewhere():
    state, _ = confirm("Two problems.")
    fault = PostResult(1, "retrying", "", "Unexpected KeyError", is_fault=True, destination=X)
    refused = PostResult(2, "failed", "", "401", needs_user=True, destination=MASTODON)
    state, _ = step(step(state, fault, 2, ALL)[0], refused, 3, ALL)
    assert led_pattern(state, 10, ALL) is Pattern.NOT_AUTHORISED
    line = status_line(state, 10, ALL)
    assert "Cannot post to Mastodon: 401" in line and "Posting to X held up" in line
