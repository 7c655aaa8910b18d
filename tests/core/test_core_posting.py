"""The core's posting rules: grace period, cancel, "delete that", duplicates, length."""

import pytest

from appliance.core import CoreSettings, Pattern, State, led_pattern, status_line, step
from appliance.core.destinations import OverLength
from appliance.core.events import (
    ButtonPressed,
    DeletePost,
    DeleteResult,
    DiscardRequested,
    Log,
    PostResult,
    QueuePost,
    SentenceFinished,
    Tick,
)
from appliance.service.control_replies import outcome_reply

GRACE = CoreSettings(grace_seconds=3.0, delete_window_seconds=300.0)
NO_GRACE = CoreSettings(grace_seconds=0.0)
UP = State(link="up")


def run(events, settings=GRACE, start=UP):
    state, effects = start, []
    for now, event in events:
        state, new = step(state, event, now, settings)
        effects.extend(new)
    return state, effects


def posts(effects):
    return [e.text for e in effects if isinstance(e, QueuePost)]


def logged(effects, event):
    return [e.message for e in effects if isinstance(e, Log) and e.event == event]


def test_a_confirmed_post_waits_out_the_grace_period():
    state, effects = run([(0, SentenceFinished("Coffee first.")), (1, ButtonPressed())])
    assert posts(effects) == []
    assert led_pattern(state, 1.5) is Pattern.GRACE
    assert led_pattern(state, 3.5) is Pattern.GRACE_ENDING  # the last second: faster
    assert "in 3 s" in status_line(state, 1.0) and "cancel" in status_line(state, 1.0)
    state, effects = step(state, Tick(), 3.9, GRACE)
    assert posts(effects) == []
    state, effects = step(state, Tick(), 4.0, GRACE)
    assert posts(effects) == ["Coffee first."]
    assert state.pending is None and led_pattern(state, 4.0) is Pattern.POSTING


def test_any_event_after_the_deadline_releases_the_post():
    _, effects = run(
        [(0, SentenceFinished("Coffee first.")), (1, ButtonPressed()), (9, ButtonPressed())]
    )
    # Released first; the late press then finds nothing to confirm.
    assert posts(effects) == ["Coffee first."]
    assert logged(effects, "refused")


def test_a_second_press_within_the_grace_period_cancels():
    state, effects = run(
        [
            (0, SentenceFinished("Coffee first.")),
            (1, ButtonPressed()),
            (2, ButtonPressed()),
            (10, Tick()),
        ]
    )
    assert posts(effects) == [] and state.pending is None
    assert logged(effects, "cancelled")


def test_saying_cancel_or_holding_the_button_within_the_grace_period_cancels():
    for stop in (
        SentenceFinished("Cancel."),
        SentenceFinished("Scratch that."),
        DiscardRequested(),
    ):
        _, effects = run(
            [(0, SentenceFinished("Coffee first.")), (1, ButtonPressed()), (2, stop), (9, Tick())]
        )
        assert posts(effects) == [], stop


def test_voice_confirmation_has_a_grace_period_too():
    _, effects = run(
        [(0, SentenceFinished("Tweet that cats rule.")), (1, SentenceFinished("Cancel."))]
    )
    assert posts(effects) == []


def test_no_grace_queues_at_once():
    _, effects = run([(0, SentenceFinished("Coffee first.")), (1, ButtonPressed())], NO_GRACE)
    assert posts(effects) == ["Coffee first."]


def test_a_new_confirmation_ends_the_previous_grace_period():
    _, effects = run(
        [
            (0, SentenceFinished("One.")),
            (1, ButtonPressed()),
            (2, SentenceFinished("Tweet that two.")),
            (9, Tick()),
        ]
    )
    assert posts(effects) == ["One.", "Two."]


def test_the_same_text_confirmed_twice_in_a_row_posts_once():
    _, effects = run(
        [
            (0, SentenceFinished("Tweet that cats rule.")),
            (1, SentenceFinished("Tweet that cats rule.")),  # during the grace period
            (5, Tick()),
            (6, SentenceFinished("Tweet that cats rule.")),  # after it was queued
            (7, SentenceFinished("Tweet that.")),  # no candidate: nothing more
            (20, Tick()),
        ]
    )
    assert posts(effects) == ["Cats rule."]
    assert len(logged(effects, "duplicate")) == 2


def test_the_same_text_can_be_confirmed_again_after_it_failed():
    state, effects = run([(0, SentenceFinished("Tweet that cats rule."))], NO_GRACE)
    state, _ = step(state, PostResult(1, "failed", "", "keys"), 1, NO_GRACE)
    _, effects = step(state, SentenceFinished("Tweet that cats rule."), 2, NO_GRACE)
    assert posts(effects) == ["Cats rule."]


def test_delete_that_deletes_the_last_post_within_the_window():
    state, _ = run([(0, SentenceFinished("Tweet that oops.")), (5, Tick())])
    state, _ = step(state, PostResult(1, "posted", "1234"), 6, GRACE)
    state, effects = step(state, SentenceFinished("Delete that."), 100, GRACE)
    assert [e for e in effects if isinstance(e, DeletePost)] == [DeletePost(1)]
    # Only once: a second "delete that" has nothing left to delete.
    state, effects = step(state, SentenceFinished("Delete that."), 101, GRACE)
    assert not [e for e in effects if isinstance(e, DeletePost)]
    assert led_pattern(state, 101) is Pattern.REFUSED
    state, effects = step(state, DeleteResult("1234", True, "Deleted"), 102, GRACE)
    assert logged(effects, "deleted")


def test_delete_that_after_the_window_deletes_nothing():
    state, _ = run([(0, SentenceFinished("Tweet that oops.")), (5, Tick())])
    state, _ = step(state, PostResult(1, "posted", "1234"), 6, GRACE)
    state, effects = step(state, SentenceFinished("Delete that."), 307, GRACE)
    assert not [e for e in effects if isinstance(e, DeletePost)]
    assert "300 s" in logged(effects, "refused")[0]


def test_delete_that_within_the_grace_period_just_cancels():
    _, effects = run(
        [
            (0, SentenceFinished("Tweet that oops.")),
            (1, SentenceFinished("Delete that.")),
            (9, Tick()),
        ]
    )
    assert posts(effects) == [] and not [e for e in effects if isinstance(e, DeletePost)]


def test_a_failed_delete_flashes_refused_and_says_why():
    state, effects = step(UP, DeleteResult("1234", False, "X has no post 1234"), 0, GRACE)
    assert led_pattern(state, 0) is Pattern.REFUSED
    assert "X has no post 1234" in logged(effects, "delete_failed")[0]


def test_an_over_long_text_is_shortened_before_it_is_queued():
    long_text = " ".join(["word"] * 100)  # 499 characters
    _, effects = run([(0, SentenceFinished(long_text)), (1, ButtonPressed())], NO_GRACE)
    [queued] = posts(effects)
    assert queued.endswith("…") and len(queued) <= 280
    assert logged(effects, "shortened")


def test_the_core_holds_the_over_length_enum_and_refuses_other_spellings():
    assert CoreSettings(over_length="refuse").over_length is OverLength.REFUSE
    with pytest.raises(ValueError):
        CoreSettings(over_length="truncate")


def test_an_over_long_text_is_refused_when_configured():
    settings = CoreSettings(over_length=OverLength.REFUSE)
    state, effects = run([(0, SentenceFinished("日本" * 100)), (1, ButtonPressed())], settings)
    assert posts(effects) == []
    assert led_pattern(state, 1) is Pattern.REFUSED
    assert "280" in logged(effects, "refused_length")[0]


@pytest.mark.parametrize("invisible", ["\u200b\u200b", "\u200d", "\ufe0f\u200d\u200b \u2060"])
def test_a_sentence_of_zero_width_characters_is_refused_as_empty(invisible):
    # It used to get ok: true and a "say it shorter" reply.
    state, effects = run([(0, SentenceFinished(invisible)), (1, ButtonPressed())], NO_GRACE)
    assert posts(effects) == []
    assert led_pattern(state, 1) is Pattern.REFUSED
    [message] = logged(effects, "refused")
    assert "nothing visible" in message and "shorter" not in message
    reply = outcome_reply(effects, state, 1, NO_GRACE)
    assert reply["ok"] is False and "nothing visible" in reply["message"]


def test_text_is_cleaned_before_it_is_queued():
    _, effects = run(
        [(0, SentenceFinished("Cafe\u0301\u200b  time.")), (1, ButtonPressed())], NO_GRACE
    )
    assert posts(effects) == ["Café time."]


def test_a_402_shows_out_of_credits_until_the_post_goes_out():
    state, _ = run([(0, SentenceFinished("Worth it.")), (1, ButtonPressed())], NO_GRACE)
    detail = "X account out of credits (402: CreditsDepleted); retrying in 60 s"
    state, _ = step(state, PostResult(1, "retrying", "", detail, is_out_of_credits=True), 2)
    assert led_pattern(state, 2) is Pattern.OUT_OF_CREDITS
    assert status_line(state, 2).startswith("X account out of credits")
    state, _ = step(state, PostResult(1, "posted", "1234"), 3)
    assert led_pattern(state, 10) is Pattern.LISTENING
    assert "credits" not in status_line(state, 10)


def test_out_of_credits_shows_for_posts_kept_from_before_a_restart():
    # After a restart no post is "in flight" for the core, yet the outbox still holds one.
    event = PostResult(7, "retrying", "", "X account out of credits", is_out_of_credits=True)
    state, _ = step(UP, event, 1)
    assert led_pattern(state, 1) is Pattern.OUT_OF_CREDITS


def test_a_post_with_a_link_says_what_it_costs():
    state, effects = run([(0, SentenceFinished("Read example.com today.")), (1, ButtonPressed())])
    [note] = logged(effects, "link_cost")
    assert "$0.20" in note and "$0.015" in note and "13×" in note
    assert "$0.20 on X" in status_line(state, 1.5)
    state, effects = run(
        [
            (0, SentenceFinished("Read https://example.com/a/very/long/path now.")),
            (1, ButtonPressed()),
        ]
    )
    assert logged(effects, "link_cost")


def test_a_post_without_a_link_says_nothing_of_cost():
    for text in ("Coffee first.", "Version 3.5 is out, e.g. today.", "a." * 40):
        state, effects = run([(0, SentenceFinished(text)), (1, ButtonPressed())])
        assert logged(effects, "link_cost") == [], text
        assert "$" not in status_line(state, 1.5)
