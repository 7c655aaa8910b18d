"""Voice commands: recognise "tweet that", "cancel" and friends in a finished sentence."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Command(enum.Enum):
    CONFIRM = "confirm"  # post the candidate, or the text that follows
    DISCARD = "discard"  # drop the candidate (or stop a post still in its grace period)
    DELETE = "delete"  # delete the last post from every destination it went to


@dataclass(frozen=True)
class VoiceCommand:
    command: Command
    text: str = ""  # "tweet that <text>": the text to post instead of the candidate


# Whole sentences only: "I said tweet that" is a sentence to post, not a command.
_CONFIRM_PHRASES = {("tweet",), ("tweet", "that"), ("tweet", "this"), ("tweet", "it")}
_DISCARD_PHRASES = {
    ("cancel",),
    ("cancel", "that"),
    ("never", "mind"),
    ("nevermind",),
    ("scratch", "that"),
    ("forget", "it"),
    ("forget", "that"),
}
_DELETE_PHRASES = {
    ("delete", "that"),
    ("delete", "it"),
    ("delete", "this"),
    ("delete", "that", "tweet"),
    ("delete", "that", "post"),
    ("delete", "the", "last", "one"),
    ("delete", "the", "last", "tweet"),
    ("delete", "the", "last", "post"),
    ("undo", "that"),
}
# The service formats turns ("Tweet that.", "Tweet. That!", "tweet, that"): words are
# compared without case or punctuation.
_WORD = re.compile(r"[\w']+")  # any script's letters and digits: "tweet that" + Japanese too
_TWEET_THAT_TEXT = re.compile(
    r"^[\s\"'“”‘’]*tweet[\s,.:;!?\-–—]+(?:that|this)\b[\s,.:;!?\-–—]*(?P<text>.+?)\s*$",
    re.IGNORECASE | re.DOTALL,
)


def words_of(sentence: str) -> tuple[str, ...]:
    """The sentence's words, lower case, without punctuation."""
    return tuple(w.strip("'") for w in _WORD.findall(sentence.lower()) if w.strip("'"))


def parse_command(sentence: str) -> VoiceCommand | None:
    """The command a finished sentence gives, or None when it is an ordinary sentence."""
    words = words_of(sentence)
    if words in _CONFIRM_PHRASES:
        return VoiceCommand(Command.CONFIRM)
    if words in _DISCARD_PHRASES:
        return VoiceCommand(Command.DISCARD)
    if words in _DELETE_PHRASES:
        return VoiceCommand(Command.DELETE)
    if len(words) > 2 and words[0] == "tweet" and words[1] in ("that", "this"):
        match = _TWEET_THAT_TEXT.match(sentence)
        if match and words_of(match["text"]):
            text = match["text"]
            return VoiceCommand(Command.CONFIRM, text[0].upper() + text[1:])
    return None
