"""Voice commands survive the service's formatting; ordinary sentences are not commands."""

import pytest

from appliance.core.commands import Command, VoiceCommand, parse_command


@pytest.mark.parametrize(
    "sentence",
    [
        "Tweet that.",
        "Tweet. That!",
        "tweet, that",
        "Tweet.",
        "TWEET THAT!",
        "Tweet this.",
        "Tweet it.",
    ],
)
def test_confirm_phrases(sentence):
    assert parse_command(sentence) == VoiceCommand(Command.CONFIRM)


@pytest.mark.parametrize(
    ("sentence", "text"),
    [
        ("Tweet that Mondays are the worst.", "Mondays are the worst."),
        ("Tweet that, my cat runs this house.", "My cat runs this house."),
        ("tweet this: coffee first.", "Coffee first."),
    ],
)
def test_tweet_that_text_posts_the_text(sentence, text):
    assert parse_command(sentence) == VoiceCommand(Command.CONFIRM, text)


@pytest.mark.parametrize("sentence", ["Never mind.", "Cancel.", "Scratch that!", "never, mind"])
def test_discard_phrases(sentence):
    assert parse_command(sentence) == VoiceCommand(Command.DISCARD)


@pytest.mark.parametrize(
    "sentence",
    ["I said tweet that.", "Tweeting is fun.", "Don't tweet that.", "That tweet was great.", ""],
)
def test_ordinary_sentences_are_not_commands(sentence):
    assert parse_command(sentence) is None


@pytest.mark.parametrize(
    "sentence", ["Delete that.", "Delete it!", "delete the last tweet", "Undo that."]
)
def test_delete_phrases(sentence):
    assert parse_command(sentence) == VoiceCommand(Command.DELETE)


@pytest.mark.parametrize("sentence", ["Delete that file tomorrow.", "Please delete it later."])
def test_delete_only_as_a_whole_sentence(sentence):
    assert parse_command(sentence) is None


def test_tweet_that_takes_text_in_any_script():
    # The multilingual models transcribe other scripts; "[a-z]" words missed them, so
    # "tweet that" + Japanese was a bare "tweet that" with nothing after it.
    assert parse_command("Tweet that 猫はキーボードが好き。") == VoiceCommand(
        Command.CONFIRM, "猫はキーボードが好き。"
    )
    assert parse_command("Tweet that: ¡Qué día!") == VoiceCommand(Command.CONFIRM, "¡Qué día!")
    assert parse_command("Tweet that, café au lait.") == VoiceCommand(
        Command.CONFIRM, "Café au lait."
    )
    assert parse_command("猫 tweet that") is None  # still whole sentences only
