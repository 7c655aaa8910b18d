"""The links twitter-text finds in a text (each weighs 23), found by a linear scanner."""

# twitter-text finds URLs with one large backtracking regex (js/src/regexp/extractUrl.js
# and extractUrlsWithIndices.js); the Python port of it took minutes on "a." * 5000.
# This scanner gives the same answers touching each character a bounded number of
# times: runs of label characters are found by regexes without nested quantifiers, and
# "which domain starts here" is worked out once per label and remembered.

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass

from appliance.x_length._data import load_tlds

# Character classes of twitter-text's JS extractor (js/src/regexp/*.js), written out.
_SPACES = "\t-\r \x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVALID = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066-\u2069"
# Its "punct" leaves out '"' and '`', so they may sit in a domain; kept as it is.
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_NOT_DOMAIN = _PUNCT + _SPACES + _INVALID + _DIRECTIONAL
_DOMAIN_CHAR = re.compile(f"[^{_NOT_DOMAIN}]")
# A label's characters: domain characters, and '-' or '_' inside it.
_NOT_LABEL = _NOT_DOMAIN.replace("_", "").replace("\\-", "")
_LABEL_RUN = re.compile(f"[^{_NOT_LABEL}]+")
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    "\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_ASCII_LABEL_RUN = re.compile(f"[-a-zA-Z0-9{_LATIN_ACCENTS}]+")
# Where a URL may begin: after none of these (so not inside a word, a @mention, $cashtag
# or #hashtag).
_BAD_BEFORE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@＠$#＃")
_BAD_BEFORE |= frozenset(_INVALID)
_PROTOCOL = re.compile(r"https?://", re.IGNORECASE)
_PORT = re.compile(r":[0-9]+")
_CYRILLIC = "\u0400-\u04ff"
_PATH_CHARS = re.compile(
    f"[a-zA-Z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{_LATIN_ACCENTS}]*"
)
_PATH_END_CHAR = re.compile(f"[+\\-a-zA-Z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]")
_QUERY_CHARS = re.compile(r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*")

_QUERY_END_CHAR = re.compile(r"[a-zA-Z0-9\-_&=#/]")
_TCO = re.compile(r"https?://t\.co/([a-zA-Z0-9]+)", re.IGNORECASE)
_TLD_ALNUM = re.compile(r"[0-9a-zA-Z]+")
_PUNYCODE_TLD = re.compile(r"xn--[\-0-9a-z]+", re.IGNORECASE)
_PLAIN_ASCII_DOMAIN = re.compile(r"[-a-zA-Z0-9.]+")
_AFTER_DOT = re.compile(r"\.([0-9a-zA-Z]+|[^\x00-\x7f])")
_AFTER_TLD_BAD = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@+-")
_MAX_URL_UTF16 = 4096
_MAX_LABEL = 63
_MAX_TCO_SLUG = 40


def _tld_end(text: str, start: int) -> int:
    """Where a top-level domain starting at `start` ends, or -1 if none starts there."""
    tlds = load_tlds()
    run = _TLD_ALNUM.match(text, start)
    if run:
        end = run.end()
        if run.group().lower() in tlds.ascii and (end == len(text) or text[end] not in "@+-"):
            return end
        puny = _PUNYCODE_TLD.match(text, start)
        return puny.end() if puny else -1
    if start < len(text):
        for tld in tlds.other_by_first.get(text[start].lower(), ()):
            end = start + len(tld)
            if text[start:end].lower() == tld and (
                end == len(text) or text[end] not in _AFTER_TLD_BAD
            ):
                return end
    return -1


class _Domains:
    """Answers "which domain starts at this label?" for one text, each label worked out once.

    A domain is label '.' (label '.')* TLD, taking as many labels as still leave a TLD
    after them (the regex's greedy choice). `strict` labels (the URL's domain) begin and
    end with a domain character and allow '_' in all but the last label; the others (the
    ASCII part of a URL without a scheme) are any run of [-a-z0-9] and Latin letters.
    """

    def __init__(self, text: str, strict: bool) -> None:
        self.text = text
        self.strict = strict
        runs = list((_LABEL_RUN if strict else _ASCII_LABEL_RUN).finditer(text))
        self.run_starts = [run.start() for run in runs]
        self.run_ends = [run.end() for run in runs]
        self.run_at = {start: index for index, start in enumerate(self.run_starts)}
        # The last '_' of each run: a label from `start` has none if it lies before start.
        self.last_underscore = [text.rfind("_", run.start(), run.end()) for run in runs]
        self.memo: dict[int, int] = {}

    def label_end(self, start: int) -> tuple[int, bool]:
        """(index of the '.' that ends the label at `start`, whether it may be the last label);
        (-1, False) when no valid label starts there."""
        index = self.run_at.get(start)
        if index is None:  # inside a run: find it
            index = bisect.bisect_right(self.run_starts, start) - 1
        if index < 0 or start >= self.run_ends[index]:
            return -1, False
        dot = self.run_ends[index]
        text = self.text
        if dot >= len(text) or text[dot] != ".":
            return -1, False
        if self.strict:
            if not (_DOMAIN_CHAR.match(text, start) and _DOMAIN_CHAR.match(text, dot - 1)):
                return -1, False
            return dot, self.last_underscore[index] < start
        return dot, True

    def end(self, start: int) -> int:
        """Where the domain beginning at `start` ends, or -1 if none does."""
        chain: list[tuple[int, int, bool]] = []
        position = start
        while position not in self.memo:
            dot, may_be_last = self.label_end(position)
            if dot < 0:
                self.memo[position] = -1
                break
            chain.append((position, dot, may_be_last))
            position = dot + 1
        # Resolve from the far end back: more labels win if they still end in a TLD.
        for position, dot, may_be_last in reversed(chain):
            longer = self.memo[dot + 1]
            if longer >= 0:
                self.memo[position] = longer
            else:
                self.memo[position] = _tld_end(self.text, dot + 1) if may_be_last else -1
        return self.memo[start]


def _punycode_length(label: str) -> int:
    """The length of `label` in ASCII (punycode) form; over the limit if it cannot be had."""
    if label.isascii():
        return len(label)
    if len(label) > _MAX_LABEL:  # every character costs at least one output character
        return _MAX_LABEL + 1
    try:
        return len("xn--") + len(label.encode("punycode"))
    except UnicodeError:
        return _MAX_LABEL + 1


def _utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as JavaScript counts."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _valid_domain(url: str, domain: str, protocol: str) -> bool:
    """twitter-text's isValidUrl: every label fits DNS, and the URL fits 4096 characters."""
    if len(domain) > _MAX_URL_UTF16:
        return False
    if domain.startswith("xn--") and not _ascii_domain_spans(domain):
        return False  # a punycode name cannot hold other characters
    lengths = [_punycode_length(label) for label in domain.split(".")]
    if any(length < 1 or length > _MAX_LABEL for length in lengths):
        return False
    ascii_domain = sum(lengths) + len(lengths) - 1
    url_length = _utf16_length(url) - _utf16_length(domain) + ascii_domain
    return len(protocol) + url_length <= _MAX_URL_UTF16


def _stretch_end(chars: re.Pattern[str], text: str, start: int) -> int:
    """The end of the run of `chars` (a pattern ending in '*') at `start`."""
    match = chars.match(text, start)
    return match.end() if match else start


def _path_end(text: str, start: int) -> int:
    """The end of the URL path that begins with the '/' at `start`."""
    # The path is the longest stretch of path characters and balanced (one level nested)
    # parentheses that ends in a path-ending character or a closing parenthesis; if none,
    # just the "/".
    end = start + 1
    position = start + 1
    while True:
        stretch_end = _stretch_end(_PATH_CHARS, text, position)
        for index in range(stretch_end - 1, position - 1, -1):
            if _PATH_END_CHAR.match(text, index):
                end = index + 1
                break
        parens = _balanced_parens_end(text, stretch_end)
        if parens < 0:
            return end
        end = position = parens


def _balanced_parens_end(text: str, start: int) -> int:
    """The end of "(x)" or "(x(y)z)" at `start` (x, y, z path characters), or -1."""
    if not text.startswith("(", start):
        return -1
    inner = _stretch_end(_PATH_CHARS, text, start + 1)
    if text.startswith(")", inner):
        return inner + 1 if inner > start + 1 else -1
    if not text.startswith("(", inner):
        return -1
    nested = _stretch_end(_PATH_CHARS, text, inner + 1)
    if nested == inner + 1 or not text.startswith(")", nested):
        return -1
    outer = _stretch_end(_PATH_CHARS, text, nested + 1)
    return outer + 1 if text.startswith(")", outer) else -1


def _query_end(text: str, start: int) -> int:
    """The end of the query that begins with the '?' at `start`; `start` if there is none."""
    stretch_end = _stretch_end(_QUERY_CHARS, text, start + 1)
    for index in range(stretch_end - 1, start, -1):
        if _QUERY_END_CHAR.match(text, index):
            return index + 1
    return start


def _url_candidates(text: str) -> Iterator[int]:
    """Where a URL may begin, in the order twitter-text's regex tries them."""
    # At index 0 the regex first tries "preceding character, then URL at 1", then the
    # start of the text; everywhere else the URL follows its preceding character.
    for run in _LABEL_RUN.finditer(text):
        start, end = run.span()
        if not text.startswith((".", "://"), end):
            continue  # a URL's first label ends in "." (or it is the scheme)
        if start == 0:
            if end > 1 and text[0] not in _BAD_BEFORE:
                yield 1
            yield 0
            start = 1
        for position in range(max(start, 1), end):
            if text[position - 1] not in _BAD_BEFORE:
                yield position


def url_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every URL twitter-text would find in `text` (already NFC)."""
    return [(link.start, link.end) for link in links(text)]


def _may_hold_a_tld(text: str) -> bool:
    """Whether some "." in `text` is followed by what could begin a top-level domain."""
    # One quick pass that spares texts like "a." * 50,000 the domain search entirely.
    tlds = load_tlds()
    for match in _AFTER_DOT.finditer(text):
        word = match.group(1).lower()
        if word in tlds.ascii or word in tlds.other_by_first or word == "xn":
            return True
    return False


def links(text: str) -> list[Link]:
    """Every link twitter-text would find in `text` (already NFC), left to right."""
    if "." not in text or not _may_hold_a_tld(text):
        return []
    domains = _Domains(text, strict=True)
    found: list[Link] = []
    searched_to = 0  # the regex's lastIndex: a match (with its preceding char) starts here
    for start in _url_candidates(text):
        if start < searched_to + (1 if searched_to else 0):
            continue
        if domains.memo.get(start, 0) < 0 and text[start] not in "hH":
            continue  # known already: no domain starts here
        protocol = _PROTOCOL.match(text, start)
        domain_start = protocol.end() if protocol else start
        domain_end = domains.end(domain_start)
        if domain_end < 0:
            continue
        end = domain_end
        port = _PORT.match(text, end)
        if port:
            end = port.end()
        has_path = text.startswith("/", end)
        if has_path:
            end = _path_end(text, end)
        if text.startswith("?", end):
            end = _query_end(text, end)
        searched_to = end
        url = text[start:end]
        domain = text[domain_start:domain_end]
        if not _valid_domain(url, domain, protocol.group() if protocol else "https://"):
            continue
        if protocol:
            tco = _TCO.match(url)
            if tco:  # a t.co link keeps only its slug and query
                if len(tco.group(1)) > _MAX_TCO_SLUG:
                    continue
                end = start + _tco_end(url, tco.end())
            found.append(Link(start, end, end - start))
            continue
        if start > 0 and text[start - 1] in "-_./":
            continue  # "foo.bar/baz.com" or "-x.com": not a link without a scheme
        found.extend(_links_without_scheme(text, domain_start, domain_end, end, has_path))
    return found


def _tco_end(url: str, slug_end: int) -> int:
    """Where a t.co link's slug, and its query if it has one, end in `url`."""
    return _query_end(url, slug_end) if url.startswith("?", slug_end) else slug_end


def _ascii_domain_spans(domain: str) -> list[tuple[int, int]]:
    """The ASCII (and Latin) domains inside `domain`, left to right, as (start, end)."""
    inner = _Domains(domain, strict=False)
    found: list[tuple[int, int]] = []
    position = 0
    for start, run_end in zip(inner.run_starts, inner.run_ends, strict=True):
        start = max(start, position)
        if start >= run_end:
            continue
        end = inner.end(start)
        if end >= 0:
            found.append((start, end))
            position = end
    return found


@dataclass(frozen=True)
class Link:
    """One link: its place in the text, and how much of the text its count covers."""

    start: int
    end: int  # where the match ends (twitter-text's indices)
    counted: int  # how many code points the count skips: the length of its URL text


def _links_without_scheme(
    text: str, domain_start: int, domain_end: int, url_end: int, has_path: bool
) -> list[Link]:
    """A URL without a scheme counts only its ASCII (and Latin) domains; the last one
    keeps the port, path and query if there is a path."""
    domain = text[domain_start:domain_end]
    # Most domains are ASCII already: then the whole domain is the one ASCII domain.
    is_ascii = _PLAIN_ASCII_DOMAIN.fullmatch(domain)
    spans = [(0, len(domain))] if is_ascii else _ascii_domain_spans(domain)
    found = [Link(domain_start + s, domain_start + e, e - s) for s, e in spans]
    if found and has_path:
        last = found[-1]
        # Its text is that domain and what follows the whole domain, while its indices run
        # to the match's end; twitter-text skips by the text (they differ only when
        # non-Latin labels follow the domain, e.g. "example.com日本.jp/path").
        found[-1] = Link(last.start, url_end, last.counted + url_end - domain_end)
    return found
