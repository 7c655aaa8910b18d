"""End of turn: `end_of_turn` ends it; the formatted text wins within a bounded wait."""

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.core.events import PartialText, SentenceFinished
from appliance.speech.protocol import Turn
from appliance.speech.turns import FORMAT_WAIT_SECONDS, TurnAssembler


def sentences(events):
    return [e.text for e in events if isinstance(e, SentenceFinished)]


def test_a_single_formatted_end_of_turn_counts_at_once():
    turns = TurnAssembler(sends_formatted_copy=True)
    assert turns.on_turn(Turn(0, "Mondays are", False, True), 0.0) == [PartialText("Mondays are")]
    events = turns.on_turn(Turn(0, "Mondays are the worst.", True, True, 1500), 0.1)
    assert sentences(events) == ["Mondays are the worst."]
    assert turns.confirmed_end_ms == 1500


def test_the_formatted_copy_replaces_the_plain_end_of_turn_within_the_wait():
    turns = TurnAssembler(sends_formatted_copy=True)
    assert sentences(turns.on_turn(Turn(0, "mondays are the worst", True, False), 0.0)) == []
    assert turns.due(FORMAT_WAIT_SECONDS / 2) == []
    events = turns.on_turn(Turn(0, "Mondays are the worst.", True, True), 0.4)
    assert sentences(events) == ["Mondays are the worst."]
    assert turns.due(10.0) == [] and turns.finish() == []


def test_without_its_copy_the_plain_sentence_goes_out_after_the_wait_and_only_once():
    turns = TurnAssembler(sends_formatted_copy=True)
    turns.on_turn(Turn(0, "mondays are the worst", True, False), 0.0)
    assert sentences(turns.due(FORMAT_WAIT_SECONDS)) == ["mondays are the worst"]
    # The copy, too late: that sentence went out already.
    assert turns.on_turn(Turn(0, "Mondays are the worst.", True, True), 5.0) == []


def test_a_model_that_never_formats_delivers_every_sentence_at_once():
    turns = TurnAssembler(sends_formatted_copy=False)
    events = turns.on_turn(Turn(0, "hola que tal", True, False), 0.0)
    events += turns.on_turn(Turn(1, "buenos dias", True, False), 1.0)
    assert sentences(events) == ["hola que tal", "buenos dias"]


def test_the_next_turn_or_the_session_end_releases_a_waiting_sentence():
    turns = TurnAssembler(sends_formatted_copy=True)
    turns.on_turn(Turn(0, "first", True, False), 0.0)
    assert sentences(turns.on_turn(Turn(1, "sec", False, False), 0.2)) == ["first"]
    turns.on_turn(Turn(1, "second", True, False), 0.5)
    assert sentences(turns.finish()) == ["second"]


messages = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4),
        st.booleans(),
        st.booleans(),
        st.floats(min_value=0, max_value=3),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(stream=messages, sends_copy=st.booleans())
def test_every_ended_turn_becomes_exactly_one_sentence_in_order(stream, sends_copy):
    turns = TurnAssembler(sends_formatted_copy=sends_copy)
    now, delivered, ended = 0.0, [], set()
    last_order = -1
    for order, end_of_turn, formatted, gap in stream:
        order = max(order, last_order)  # the service never goes back to an older turn
        last_order = order
        now += gap
        delivered += turns.due(now)
        text = f"turn {order}"
        delivered += turns.on_turn(Turn(order, text, end_of_turn, formatted), now)
        if end_of_turn:
            ended.add(order)
    delivered += turns.finish()
    orders = [e.turn_order for e in delivered if isinstance(e, SentenceFinished)]
    assert orders == sorted(ended)  # each ended turn once, none lost, in order
