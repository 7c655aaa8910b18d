"""The data X's count depends on: top-level domains and emoji sequences, loaded once."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Tlds:
    ascii: frozenset[str]
    other_by_first: dict[str, tuple[str, ...]]  # longest first


@functools.cache
def load_tlds() -> Tlds:
    """Every top-level domain: the last labels of the Public Suffix List's ICANN rules."""
    # Differs: twitter-text ships a 2020 copy of IANA's list; the PSL (kept current by the
    # publicsuffixlist package) also has the TLDs delegated since and lacks retired ones.
    source = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat")
    ascii_tlds: set[str] = set()
    other: dict[str, list[str]] = {}
    in_icann = False
    for raw in source.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if "===BEGIN ICANN DOMAINS===" in line:
            in_icann = True
        elif "===END ICANN DOMAINS===" in line:
            break
        elif in_icann and line and not line.startswith("//"):
            # Every rule ends in its TLD; some TLDs (za, ck, ...) appear only under others.
            tld = line.rsplit(".", 1)[-1].lower()
            if tld in ascii_tlds or tld in other.get(tld[0], ()):
                continue
            if tld.isascii():
                ascii_tlds.add(tld)
            else:
                other.setdefault(tld[0], []).append(tld)
    return Tlds(
        frozenset(ascii_tlds),
        {first: tuple(sorted(tlds, key=len, reverse=True)) for first, tlds in other.items()},
    )


@dataclass(frozen=True)
class Emoji:
    sequences: frozenset[str]  # every emoji sequence of two or more code points
    firsts: re.Pattern[str]  # the code points such a sequence begins with
    longest: int  # code points in the longest sequence


@functools.cache
def load_emoji() -> Emoji:
    # Differs: twitter-text's regex knows Unicode 13's sequences; the emoji package knows
    # the current ones, so a newer one (e.g. a handshake with skin tones) counts 2 here
    # and 4 there.
    from emoji import EMOJI_DATA, STATUS

    # Fully qualified sequences, as twitter-text's regex has them (a ZWJ sequence missing
    # a U+FE0F is counted in parts there), and keycaps with or without U+FE0F
    # (validate.yml: "Emoji with a leading character in the latin range is counted as 2").
    qualified = {
        key
        for key, data in EMOJI_DATA.items()
        if len(key) > 1 and (data["status"] == STATUS["fully_qualified"] or key[-1] == "\u20e3")
    }
    # It also takes a U+FE0F between a text-style base and its skin tone ("⛹️🏽").
    qualified |= {
        key[0] + "\ufe0f" + key[1]
        for key in qualified
        if len(key) == 2
        and "\U0001f3fb" <= key[1] <= "\U0001f3ff"
        and key[0] + "\ufe0f" in EMOJI_DATA
    }
    sequences = frozenset(qualified)
    firsts = {key[0] for key in sequences}
    # The re module tests a long list of astral characters one by one (slow on every
    # character of a long text), so those are one range here; a false start costs a
    # set lookup.
    bmp = {key[0] for key in sequences if ord(key[0]) <= 0xFFFF}
    # A BMP character (a digit, ©, ☺) starts a sequence only if the right one follows
    # (U+FE0F, U+20E3, a skin tone, ...): asking that keeps "1" * 100,000 from costing a
    # lookup per digit.
    seconds = {key[1] for key in sequences if key[0] in bmp}
    bmp_class = "".join(sorted(map(re.escape, bmp)))
    second_class = "".join(sorted(map(re.escape, seconds)))
    astral = [ord(char) for char in firsts if ord(char) > 0xFFFF]
    pattern = f"[{bmp_class}](?=[{second_class}])|[{chr(min(astral))}-{chr(max(astral))}]"
    return Emoji(sequences, re.compile(pattern), max(map(len, sequences)))
