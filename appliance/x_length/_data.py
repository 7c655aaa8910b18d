"""The data X's count depends on: top-level domains and emoji sequences, loaded once."""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Generated from the emoji package by scripts/generate-emoji-sequences.py; a test checks
# that it still matches the installed package. The package's own tables (every emoji's
# names in a dozen languages) cost the daemon about 8 MiB; this set, a few hundred KiB.
EMOJI_SEQUENCES_FILE = Path(__file__).with_name("emoji_sequences.txt")


@dataclass(frozen=True)
class Tlds:
    ascii: frozenset[str]
    other_by_first: dict[str, tuple[str, ...]]  # longest first


def _public_suffix_list() -> Path:
    """The publicsuffixlist package's copy of the list, found without importing the package."""
    spec = importlib.util.find_spec("publicsuffixlist")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("publicsuffixlist is not installed", name="publicsuffixlist")
    return Path(spec.origin).with_name("public_suffix_list.dat")


@functools.cache
def load_tlds() -> Tlds:
    """Every top-level domain: the last labels of the Public Suffix List's ICANN rules."""
    # Differs: twitter-text ships a 2020 copy of IANA's list; the PSL (kept current by the
    # publicsuffixlist package) also has the TLDs delegated since and lacks retired ones.
    ascii_tlds: set[str] = set()
    other: dict[str, list[str]] = {}
    in_icann = False
    # Line by line: the whole 300 KB list as one list of lines raised the daemon's peak.
    with _public_suffix_list().open(encoding="utf-8") as source:
        for raw in source:
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


# Joins the sequences' tails, which hold no line break (format_sequences writes one a line).
TAIL_SEPARATOR = "\n"


@dataclass(frozen=True)
class Emoji:
    # Every emoji sequence of two or more code points, by its first two: the rest of
    # each, between separators ("\n\n\u200d👩\n..." has an empty one). One string per
    # pair rather than one per sequence: half the memory of a set of 2,800 strings
    # (issue 13); a pair's few tails are a short string to search.
    tails_by_start: dict[str, str]
    firsts: re.Pattern[str]  # the code points such a sequence begins with
    longest: int  # code points in the longest sequence

    def end(self, text: str, start: int) -> int:
        """The end of the longest sequence at text[start], or -1."""
        tails = self.tails_by_start.get(text[start : start + 2])
        if tails is None:
            return -1
        stop = min(len(text), start + self.longest)
        # No sequence holds a separator; a tail with one could join two of the table's.
        separator = text.find(TAIL_SEPARATOR, start + 2, stop)
        for end in range(stop if separator == -1 else separator, start + 1, -1):
            if f"{TAIL_SEPARATOR}{text[start + 2 : end]}{TAIL_SEPARATOR}" in tails:
                return end
        return -1

    def has(self, candidate: str) -> bool:
        """Whether `candidate` is one of the sequences."""
        return self.end(candidate, 0) == len(candidate)


def sequences_from_emoji_package() -> frozenset[str]:
    """The emoji sequences X counts as one, from the emoji package (a development tool)."""
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
    return frozenset(qualified)


def format_sequences(sequences: Iterable[str], header: str) -> str:
    """The data file's text: `header` as comments, then one sequence a line, code points in hex."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += (" ".join(f"{ord(char):X}" for char in sequence) for sequence in sorted(sequences))
    return "\n".join(lines) + "\n"


def read_sequences(path: Path = EMOJI_SEQUENCES_FILE) -> frozenset[str]:
    """The sequences of a file format_sequences wrote."""
    with path.open(encoding="ascii") as lines:
        return frozenset(
            "".join(chr(int(code, 16)) for code in line.split())
            for line in lines
            if line.strip() and not line.startswith("#")
        )


@functools.cache
def load_emoji() -> Emoji:
    sequences = read_sequences()
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
    tails: dict[str, list[str]] = {}
    for sequence in sorted(sequences):
        tails.setdefault(sequence[:2], []).append(sequence[2:])
    separator = TAIL_SEPARATOR
    return Emoji(
        {start: f"{separator}{separator.join(rest)}{separator}" for start, rest in tails.items()},
        re.compile(pattern),
        max(map(len, sequences)),
    )
