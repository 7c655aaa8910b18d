"""The decision core: confirmation rules, expiry, LED patterns and status, as pure functions."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.core import (
    CoreSettings,
    Pattern,
    State,
    led_pattern,
    next_tick_at,
    status_line,
    step,
)
from appliance.core.events import (
    ButtonPressed,
    DiscardRequested,
    LinkCause,
    LinkDown,
    LinkUp,
    MicrophoneState,
    PartialText,
    PostResult,
    QueuePost,
    SentenceFinished,
    Tick,
)

SETTINGS = CoreSettings(candidate_window_seconds=60.0)


def run(events, start=None):
    """Feed (time, event) pairs; return final state and all effects."""
    state, effects = start or State(), []
    for now, event in events:
        state, new = step(state, event, now, SETTINGS)
        effects.extend(new)
    return state, effects


def posts(effects):
    return [e.text for e in effects if isinstance(e, QueuePost)]


def test_a_sentence_alone_is_never_posted():
    _, effects = run([(0, SentenceFinished("Mondays are the worst.")), (100, Tick())])
    assert posts(effects) == []


def test_button_posts_the_candidate_once():
    state, effects = run(
        [
            (0, SentenceFinished("Mondays are the worst.")),
            (5, ButtonPressed()),
            (6, ButtonPressed()),
        ]
    )
    assert posts(effects) == ["Mondays are the worst."]
    assert state.candidate is None
    assert state.flash is Pattern.REFUSED  # the second press had nothing to confirm


def test_voice_confirm_posts_the_previous_sentence_not_the_command():
    _, effects = run([(0, SentenceFinished("Coffee first.")), (2, SentenceFinished("Tweet that."))])
    assert posts(effects) == ["Coffee first."]


def test_tweet_that_text_posts_text_and_keeps_nothing_else():
    state, effects = run([(0, SentenceFinished("Tweet that my cat runs this house."))])
    assert posts(effects) == ["My cat runs this house."]
    assert state.candidate is None


def test_a_command_never_becomes_the_candidate():
    state, _ = run([(0, SentenceFinished("Tweet that.")), (1, ButtonPressed())])
    assert state.candidate is None


def test_candidate_expires_after_the_window():
    state, effects = run([(0, SentenceFinished("Old news.")), (61, Tick()), (62, ButtonPressed())])
    assert posts(effects) == []
    assert any(getattr(e, "event", "") == "expired" for e in effects)


def test_expired_candidate_is_refused_even_without_a_tick():
    _, effects = run([(0, SentenceFinished("Old news.")), (60.5, ButtonPressed())])
    assert posts(effects) == []


def test_discard_by_voice_and_by_hold():
    _, effects = run(
        [(0, SentenceFinished("Oops.")), (1, SentenceFinished("Never mind.")), (2, ButtonPressed())]
    )
    assert posts(effects) == []
    _, effects = run(
        [(0, SentenceFinished("Oops.")), (1, DiscardRequested()), (2, ButtonPressed())]
    )
    assert posts(effects) == []


def test_led_patterns_follow_the_state():
    state = State()
    assert led_pattern(state, 0) is Pattern.CONNECTING
    state, _ = step(state, LinkUp("s1"), 0)
    assert led_pattern(state, 0) is Pattern.LISTENING
    state, _ = step(state, PartialText("mondays are"), 1)
    assert led_pattern(state, 1) is Pattern.HEARING
    state, _ = step(state, SentenceFinished("Mondays are the worst."), 2)
    assert led_pattern(state, 2) is Pattern.CANDIDATE
    state, _ = step(state, ButtonPressed(), 3)
    assert led_pattern(state, 3) is Pattern.POSTING
    state, _ = step(state, PostResult(1, "posted", "123"), 4)
    assert led_pattern(state, 4) is Pattern.POSTED
    assert led_pattern(state, 4 + SETTINGS.posted_flash_seconds + 0.1) is Pattern.LISTENING
    state, _ = step(state, LinkDown("connection lost", 2.0), 10)
    assert led_pattern(state, 10) is Pattern.RECONNECTING
    assert status_line(state, 10) == "Reconnecting in 2 s: connection lost"
    state, _ = step(state, MicrophoneState(False, "plughw:CARD=Mic,DEV=0: No such device"), 11)
    assert led_pattern(state, 11) is Pattern.NO_MICROPHONE
    assert status_line(state, 11).startswith("No microphone: plughw:CARD=Mic")


def test_unauthorised_speech_and_x_show_not_authorised():
    state, _ = step(
        State(), LinkDown("AssemblyAI refused the key", 300, 1008, LinkCause.KEY_REFUSED), 0
    )
    assert led_pattern(state, 0) is Pattern.NOT_AUTHORISED
    state, _ = run([(0, SentenceFinished("Hi.")), (1, ButtonPressed())], State(link="up"))
    state, _ = step(state, PostResult(1, "failed", "", "regenerate the token", needs_user=True), 2)
    assert led_pattern(state, 2) is Pattern.NOT_AUTHORISED
    assert "regenerate the token" in status_line(state, 2)


def test_rate_limited_post_shows_rate_limited():
    state, _ = run([(0, SentenceFinished("Hi.")), (1, ButtonPressed())], State(link="up"))
    state, _ = step(
        state, PostResult(1, "retrying", "", "X is limiting posts", is_rate_limited=True), 2
    )
    assert led_pattern(state, 2) is Pattern.RATE_LIMITED


# ---- property: nothing posted without a confirmation, nothing confirmed twice ----

sentences = st.sampled_from(
    [
        "Mondays are the worst.",
        "Coffee first.",
        "Tweet that.",
        "Tweet.",
        "Never mind.",
        "Tweet that my cat is the boss.",
        "I said tweet that.",
        "",
    ]
)
events = st.one_of(
    sentences.map(SentenceFinished),
    st.just(ButtonPressed()),
    st.just(DiscardRequested()),
    st.just(Tick()),
    st.just(PartialText("tweet")),
    st.just(LinkUp("s")),
    st.just(LinkDown("lost", 1.0)),
    st.builds(PostResult, st.integers(0, 5), st.sampled_from(["posted", "retrying", "failed"])),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.floats(0, 40), events), max_size=40))
def test_every_post_has_exactly_one_confirmation(steps):
    now, state = 0.0, State()
    for gap, event in steps:
        now += gap
        before = state.candidate
        state, effects = step(state, event, now, SETTINGS)
        queued = posts(effects)
        assert len(queued) <= 1
        if not queued:
            continue
        if isinstance(event, ButtonPressed):
            # Only the live candidate, heard within the window, is posted by a press.
            assert before is not None and queued == [before.text]
            assert now - before.heard_at <= SETTINGS.candidate_window_seconds
            assert state.candidate is None
        else:
            assert isinstance(event, SentenceFinished)
            assert event.text.lower().startswith("tweet")
            if event.text in ("Tweet that.", "Tweet."):
                assert before is not None and queued == [before.text]
                assert state.candidate is None
            else:
                assert queued == ["My cat is the boss."]


def test_every_name_the_core_offers_loads_on_first_use():
    """The core's names load lazily (issue 13): each listed one must resolve."""
    import appliance.core as core_package

    for name in core_package.__all__:
        assert getattr(core_package, name) is not None, name
    with pytest.raises(AttributeError):
        _ = core_package.no_such_name


TICK_SECONDS = 0.25


def looks(state, now):
    return state, led_pattern(state, now, SETTINGS), status_line(state, now, SETTINGS)


@settings(max_examples=300)
@given(st.lists(st.tuples(st.floats(0, 40), events), max_size=30), st.floats(0, 200))
def test_a_tick_changes_nothing_before_the_core_says_one_is_due(steps, later):
    # The daemon sleeps until next_tick_at: a Tick any earlier must change nothing that
    # shows, and "None" must mean that time alone never changes anything.
    now, state = 0.0, State()
    for gap, event in steps:
        now += gap
        state, _ = step(state, event, now, SETTINGS)
    due = next_tick_at(state, now, TICK_SECONDS, SETTINGS)
    then = now + later
    ticked, effects = step(state, Tick(), then, SETTINGS)
    if looks(ticked, then) != looks(state, now) or effects:
        assert due is not None and due <= max(then, now + TICK_SECONDS)


def test_nothing_is_due_while_nothing_counts_down():
    state, _ = run([(0.0, LinkUp("s"))])
    assert next_tick_at(state, 1.0, TICK_SECONDS, SETTINGS) is None
    state, _ = run([(0.0, SentenceFinished("Hello there."))], start=state)
    assert next_tick_at(state, 1.0, TICK_SECONDS, SETTINGS) == 1.0 + TICK_SECONDS


def test_a_flash_is_due_when_it_ends():
    state, _ = run([(0.0, LinkUp("s")), (5.0, ButtonPressed())])  # nothing to confirm
    assert state.flash is Pattern.REFUSED
    assert next_tick_at(state, 5.0, TICK_SECONDS, SETTINGS) == state.flash_until
