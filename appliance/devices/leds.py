"""What each LED pattern looks like, as pure data and functions of elapsed time (no GPIO)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from appliance.core.pattern import Pattern


class Layout(enum.StrEnum):
    """How the status LEDs are wired: [gpio] layout's values."""

    SEPARATE = "separate"  # a green, an amber and a red LED
    RGB = "rgb"  # one RGB LED


SEPARATE_CHANNELS = ("green", "amber", "red")
RGB_CHANNELS = ("red", "green", "blue")
CHANNELS = {Layout.SEPARATE: SEPARATE_CHANNELS, Layout.RGB: RGB_CHANNELS}

# A lone LED's brightness is hard to judge, so "dim" and "bright" are only used where
# the two alternate in front of the user (listening / hearing); elsewhere patterns
# differ by colour and rhythm.
DIM = 0.2
BRIGHT = 1.0
# Pulses are drawn at 25 frames a second (gpiozero's own rate): smooth to the eye,
# cheap enough on a Pi Zero.
PULSE_FRAME_SECONDS = 0.04


@dataclass(frozen=True)
class Look:
    """How one LED (or one colour) behaves; times in seconds from when the pattern began."""

    kind: str = "off"  # "off" | "on" | "blink" | "pulse"
    brightness: float = BRIGHT  # 0..1, the level when lit (the peak of a pulse)
    on_seconds: float = 0.0  # blink: lit this long...
    off_seconds: float = 0.0  # ...then dark this long
    period_seconds: float = 0.0  # pulse: dark -> peak -> dark takes this long
    count: int | None = None  # blink: flashes in a group; None blinks on and on
    rest_seconds: float | None = None  # blink: dark between groups; None: one group only
    delay_seconds: float = 0.0  # dark this long first: lets two LEDs take turns


@dataclass(frozen=True)
class Colour:
    """A colour of the RGB LED, each channel 0..1."""

    name: str
    red: float
    green: float
    blue: float


OFF = Look()


def _on(brightness: float = BRIGHT) -> Look:
    return Look("on", brightness)


def _blink(
    on_seconds: float,
    off_seconds: float,
    *,
    count: int | None = None,
    rest_seconds: float | None = None,
) -> Look:
    return Look("blink", BRIGHT, on_seconds, off_seconds, count=count, rest_seconds=rest_seconds)


def _pulse(period_seconds: float) -> Look:
    return Look("pulse", period_seconds=period_seconds)


# The rhythms, shared by both layouts so a rhythm means the same thing everywhere:
# steady = settled, slow pulse = waiting for you, 1 Hz blink = connecting,
# fast blink = act now / broken, a group of quick flashes = a result. The result groups
# repeat so the LED is never dark while the core still shows them.
_WAITING = _pulse(2.0)
_HURRY = _pulse(0.5)  # the same breath, four times as fast: the window is closing
_CONNECTING = _blink(0.5, 0.5)
_FAST = _blink(0.1, 0.1)
_COUNTDOWN = _blink(0.2, 0.2)  # the grace period; it speeds up to _FAST in its last second
_SLOW = _blink(1.0, 1.0)
_TURNS = _blink(0.25, 0.25)
_POSTED_FLASHES = _blink(0.15, 0.15, count=3, rest_seconds=0.6)
_REFUSED_FLASHES = _blink(0.12, 0.12, count=2, rest_seconds=0.6)


def _later(look: Look) -> Look:
    """The same blink half a cycle later, so two LEDs take turns."""
    return replace(look, delay_seconds=look.on_seconds)


_SEPARATE: dict[Pattern, dict[str, Look]] = {
    # A lamp test: all three lit shows every LED works.
    Pattern.STARTING: {"green": _on(DIM), "amber": _on(DIM), "red": _on(DIM)},
    Pattern.CONNECTING: {"amber": _CONNECTING},
    Pattern.LISTENING: {"green": _on(DIM)},
    Pattern.HEARING: {"green": _on(BRIGHT)},
    Pattern.CANDIDATE: {"amber": _WAITING},
    Pattern.CANDIDATE_ENDING: {"amber": _HURRY},
    Pattern.GRACE: {"amber": _COUNTDOWN},
    Pattern.GRACE_ENDING: {"amber": _FAST},
    Pattern.POSTING: {"green": _TURNS, "amber": _later(_TURNS)},
    Pattern.POSTED: {"green": _POSTED_FLASHES},
    Pattern.REFUSED: {"red": _REFUSED_FLASHES},
    # Privacy: muted is visibly on, never dark.
    Pattern.MUTED: {"red": _on(DIM)},
    Pattern.NO_MICROPHONE: {"red": _SLOW},
    Pattern.RECONNECTING: {"red": _CONNECTING, "amber": _later(_CONNECTING)},
    # Two solid lights, unlike anything else: stuck until the keys are fixed. (Red alone
    # would look like MUTED at a glance.)
    Pattern.NOT_AUTHORISED: {"red": _on(BRIGHT), "amber": _on(BRIGHT)},
    Pattern.RATE_LIMITED: {"red": _on(DIM), "amber": _WAITING},
    # Waiting for the user to pay, not for X: amber steady, red blinking slowly.
    Pattern.OUT_OF_CREDITS: {"amber": _on(BRIGHT), "red": _SLOW},
    # The mirror of OUT_OF_CREDITS (the other service wants paying): red steady, amber slow.
    Pattern.SPEECH_NO_BALANCE: {"red": _on(BRIGHT), "amber": _SLOW},
    Pattern.SPEECH_SESSION_LIMIT: {"amber": _SLOW},
    Pattern.ERROR: {"red": _FAST},
    # Red for trouble, amber hurrying you: posts are held in memory until there is room.
    Pattern.STORAGE_FULL: {"red": _on(BRIGHT), "amber": _FAST},
}

WHITE = Colour("white", 1.0, 1.0, 1.0)
GREEN = Colour("green", 0.0, 1.0, 0.0)
# Green dies are much brighter than red ones, so amber needs little green.
AMBER = Colour("amber", 1.0, 0.35, 0.0)
BLUE = Colour("blue", 0.0, 0.0, 1.0)
RED = Colour("red", 1.0, 0.0, 0.0)
MAGENTA = Colour("magenta", 1.0, 0.0, 1.0)

# Colour says what it is about (green listening, amber you, blue the network, white
# posting, magenta X, red trouble); the rhythm is as above.
_RGB: dict[Pattern, tuple[Colour, Look]] = {
    Pattern.STARTING: (WHITE, _on(DIM)),
    # One LED cannot take turns, so connecting breathes and reconnecting blinks.
    Pattern.CONNECTING: (BLUE, _WAITING),
    Pattern.LISTENING: (GREEN, _on(DIM)),
    Pattern.HEARING: (GREEN, _on(BRIGHT)),
    Pattern.CANDIDATE: (AMBER, _WAITING),
    Pattern.CANDIDATE_ENDING: (AMBER, _HURRY),
    Pattern.GRACE: (AMBER, _COUNTDOWN),
    Pattern.GRACE_ENDING: (AMBER, _FAST),
    Pattern.POSTING: (WHITE, _TURNS),
    Pattern.POSTED: (GREEN, _POSTED_FLASHES),
    Pattern.REFUSED: (RED, _REFUSED_FLASHES),
    Pattern.MUTED: (RED, _on(DIM)),
    Pattern.NO_MICROPHONE: (RED, _SLOW),
    Pattern.RECONNECTING: (BLUE, _CONNECTING),
    Pattern.NOT_AUTHORISED: (MAGENTA, _on(BRIGHT)),
    Pattern.RATE_LIMITED: (MAGENTA, _WAITING),
    Pattern.OUT_OF_CREDITS: (MAGENTA, _SLOW),
    Pattern.SPEECH_NO_BALANCE: (BLUE, _on(BRIGHT)),
    Pattern.SPEECH_SESSION_LIMIT: (BLUE, _SLOW),
    Pattern.ERROR: (RED, _FAST),
    Pattern.STORAGE_FULL: (RED, _CONNECTING),
}

_MEANING: dict[Pattern, str] = {
    Pattern.STARTING: "Starting up; every LED lights to show it works.",
    Pattern.CONNECTING: "Connecting to the speech service.",
    Pattern.LISTENING: "Listening; nothing heard yet.",
    Pattern.HEARING: "Hearing you speak.",
    Pattern.CANDIDATE: "A sentence is waiting: press the button (or say so) to post it.",
    Pattern.CANDIDATE_ENDING: "The waiting sentence expires within seconds; press now to post it.",
    Pattern.GRACE: "About to post: press again to cancel (it blinks faster as it counts down).",
    Pattern.GRACE_ENDING: "Posting in under a second: press now to cancel.",
    Pattern.POSTING: "Posting (to X, Bluesky or Mastodon, whichever are enabled).",
    Pattern.POSTED: "Posted.",
    Pattern.REFUSED: "Refused (nothing waiting, muted, or too long); nothing was posted.",
    Pattern.MUTED: "Muted: no audio leaves the device; confirming is off.",
    Pattern.NO_MICROPHONE: "No microphone found; plug one in.",
    Pattern.RECONNECTING: "The speech service dropped; reconnecting.",
    Pattern.NOT_AUTHORISED: "A service refused its key (`appliance status` says which); fix it.",
    Pattern.RATE_LIMITED: "A destination says wait; posts are kept and sent later.",
    Pattern.OUT_OF_CREDITS: (
        "X account out of credits: add credits; kept posts then go out by themselves."
    ),
    Pattern.SPEECH_NO_BALANCE: "The AssemblyAI account has no balance; add funds, it retries.",
    Pattern.SPEECH_SESSION_LIMIT: "AssemblyAI's limit on new sessions; it retries in a minute.",
    Pattern.ERROR: "Something failed; the journal says what.",
    Pattern.STORAGE_FULL: "Disk full or read-only: confirmed posts wait in memory; free space.",
}


def rgb_look(pattern: Pattern) -> tuple[Colour, Look]:
    """The colour and rhythm of `pattern` on an RGB LED."""
    return _RGB[pattern]


def looks_for(pattern: Pattern, layout: Layout) -> dict[str, Look]:
    """The look of every LED channel (all present, dark ones `OFF`) for `pattern`."""
    if layout is Layout.SEPARATE:
        chosen = _SEPARATE[pattern]
        return {name: chosen.get(name, OFF) for name in SEPARATE_CHANNELS}
    if layout is Layout.RGB:
        colour, look = _RGB[pattern]
        # One Look per channel with the same timing, so the channels stay in step.
        levels = {"red": colour.red, "green": colour.green, "blue": colour.blue}
        return {
            name: replace(look, brightness=look.brightness * level) if level > 0 else OFF
            for name, level in levels.items()
        }
    raise _unknown(layout)


def _unknown(layout: object) -> ValueError:
    return ValueError(f"unknown LED layout {layout!r}; expected one of {', '.join(Layout)}")


def level_at(look: Look, elapsed_seconds: float) -> float:
    """How bright (0..1) an LED with `look` is `elapsed_seconds` into its pattern."""
    if look.kind == "off":
        return 0.0
    if look.kind == "on":
        return look.brightness
    t = elapsed_seconds - look.delay_seconds
    if t < 0:
        return 0.0
    if look.kind == "blink":
        cycle = look.on_seconds + look.off_seconds
        into_group = _into_group(look, t)
        if into_group is None:
            return 0.0
        return look.brightness if into_group % cycle < look.on_seconds else 0.0
    if look.kind == "pulse":
        # A raised cosine: starts dark, peaks mid-period, eases in and out.
        phase = (t % look.period_seconds) / look.period_seconds
        return look.brightness * (1.0 - math.cos(2.0 * math.pi * phase)) / 2.0
    raise ValueError(f"unknown look kind {look.kind!r}")


def _into_group(look: Look, t: float) -> float | None:
    """Seconds into the current group of flashes; None while resting (or after the last)."""
    if look.count is None:
        return t
    flashing_seconds = look.count * (look.on_seconds + look.off_seconds)
    if look.rest_seconds is not None:
        t %= flashing_seconds + look.rest_seconds
    return t if t < flashing_seconds else None


def seconds_until_change(look: Look, elapsed_seconds: float) -> float | None:
    """How long until `level_at` may change; None when it never will."""
    if look.kind in ("off", "on"):
        return None
    t = elapsed_seconds - look.delay_seconds
    if t < 0:
        return -t
    if look.kind == "pulse":
        return PULSE_FRAME_SECONDS
    cycle = look.on_seconds + look.off_seconds
    into_group = _into_group(look, t)
    if into_group is None:
        if look.count is None or look.rest_seconds is None:
            return None  # a single group is over: dark for good
        group_seconds = look.count * cycle + look.rest_seconds
        return group_seconds - t % group_seconds
    within = into_group % cycle
    return look.on_seconds - within if within < look.on_seconds else cycle - within


def describe(pattern: Pattern) -> str:
    """One short sentence saying what `pattern` means to the user."""
    return _MEANING[pattern]


def _look_words(look: Look) -> str:
    if look.kind == "on":
        return "steady, dim" if look.brightness < 0.5 else "steady"
    if look.kind == "pulse":
        return f"pulses every {look.period_seconds:g} s"
    cycle = look.on_seconds + look.off_seconds
    if look.count is not None:
        again = ", then dark" if look.rest_seconds is None else ", repeated"
        return f"{look.count} quick flashes{again}"
    if look.on_seconds != look.off_seconds:
        return f"blinks {look.on_seconds:g} s on, {look.off_seconds:g} s off"
    if cycle == 1:
        return "blinks once a second"
    if cycle > 1:
        return f"blinks once every {cycle:g} s"
    return f"blinks {1 / cycle:g}× a second"


def _separate_words(pattern: Pattern) -> str:
    chosen = _SEPARATE[pattern]
    names = [name for name in SEPARATE_CHANNELS if name in chosen]
    looks = [chosen[name] for name in names]
    if len(looks) == 2 and looks[0].delay_seconds != looks[1].delay_seconds:
        first, second = (0, 1) if looks[0].delay_seconds < looks[1].delay_seconds else (1, 0)
        if looks[second] == _later(looks[first]):
            each = looks[first].on_seconds
            return f"{names[first]} and {names[second]} take turns ({each:g} s each)"
    if all(look == looks[0] for look in looks):
        return f"{' + '.join(names)}: {_look_words(looks[0])}"
    return "; ".join(f"{name} {_look_words(look)}" for name, look in chosen.items())


def expectation(pattern: Pattern, layout: Layout) -> str:
    """What the user should see for `pattern` on `layout`, in words (for the self-test)."""
    if layout is Layout.RGB:
        colour, look = _RGB[pattern]
        return f"{colour.name}, {_look_words(look)}"
    if layout is Layout.SEPARATE:
        return _separate_words(pattern)
    raise _unknown(layout)


def pattern_table_markdown() -> str:
    """The LED table of docs/leds.md, generated from the patterns above so the two cannot differ."""
    rows = [
        "| Pattern | Separate LEDs | RGB LED | Meaning |",
        "|---|---|---|---|",
    ]
    for pattern in Pattern:
        colour, look = _RGB[pattern]
        rows.append(
            f"| `{pattern.name}` | {_separate_words(pattern)} | "
            f"{colour.name}, {_look_words(look)} | {describe(pattern)} |"
        )
    return "\n".join(rows) + "\n"
