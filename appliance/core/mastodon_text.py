"""How long Mastodon counts a post: graphemes, every link 23, a remote mention by its user."""

# Mastodon's rule (app/validators/status_length_validator.rb on mastodon/mastodon main,
# StatusLengthValidator#countable_text and #countable_length):
#   - a blank text counts 0 (`return '' if str.blank?`);
#   - every URL that Extractor.extract_urls_with_indices finds with
#     `extract_url_without_protocol: false` (so only links WITH a scheme) becomes
#     URL_PLACEHOLDER, 'x' * 23;
#   - every mention it finds (Account::MENTION_RE) becomes "@" + the part before the
#     second "@": "@anna@example.social" counts as "@anna";
#   - overlapping entities are dropped (Extractor.remove_overlapping_entities);
#   - the rest counts by extended grapheme clusters (`str.each_grapheme_cluster.size`;
#     older versions `mb_chars.grapheme_length`, the same count).
# The URL pattern is twitter-text's, as Mastodon's config/initializers/twitter_regex.rb
# redefines it: more schemes (dat, dweb, ipfs, ipns, ssb, gopher, gemini), a path of any
# non-space characters but <>()?, and a path or query may not end in punctuation.
# The instance's own limit is in GET /api/v2/instance configuration.statuses.max_characters
# (docs.joinmastodon.org/entities/Instance/); 500 is Mastodon's default.
#
# Deliberate differences (each marked "Differs:" where it is made):
#   - the domain check is appliance/x_length's (twitter-text's valid_domain, with the
#     Public Suffix List's current TLDs rather than the twitter-text gem's copy);
#   - twitter-text's is_valid_domain (a URL of at most 4096 characters once punycoded)
#     is not applied: a post is 500 characters;
#   - a link without a scheme whose path runs into a link with one ("a.com/https://b.org")
#     hides that link from Mastodon's scanner; here the inner link counts 23;
#   - graphemes are counted by graphemeu (Unicode's current rules); without it, by code
#     points, which never counts fewer, so a post that fits here fits there.

from __future__ import annotations

import functools
import re

from appliance.x_length._links import _Domains  # twitter-text's valid_domain, as X uses

DEFAULT_MAX_CHARACTERS = 500  # Mastodon's default MAX_CHARS; an instance may set its own
URL_LENGTH = 23  # StatusLengthValidator::URL_PLACEHOLDER_CHARS
MAX_MENTION_DOMAIN_CHARS = 253  # Extractor::MAX_DOMAIN_LENGTH: longer is no mention

# twitter-text's valid_url_preceding_chars: a URL may not follow these (case-insensitive).
_BAD_BEFORE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@＠$#＃")
_BAD_BEFORE |= frozenset("\ufffe\ufeff\uffff")
_SCHEME = re.compile(r"(?:https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini)://", re.IGNORECASE)
_PORT = re.compile(r":[0-9]+")
# Mastodon's valid_general_url_path_chars, and the characters a path may not end in.
_PATH_CHAR = re.compile(r"[^\s<>()?]")
_NOT_PATH_END = frozenset("()?!*\"'「」<>;:=,.$%[]~&|@")
_BALANCED = re.compile(r"\((?:[^\s<>()?]+|[^\s<>()?]*\([^\s<>()?]+\)[^\s<>()?]*)\)")
_UCHARS = (
    "\xa0-\ud7ff\uf900-\ufdcf\ufdf0-\uffef\U00010000-\U0001fffd\U00020000-\U0002fffd"
    "\U00030000-\U0003fffd\U00040000-\U0004fffd\U00050000-\U0005fffd\U00060000-\U0006fffd"
    "\U00070000-\U0007fffd\U00080000-\U0008fffd\U00090000-\U0009fffd\U000a0000-\U000afffd"
    "\U000b0000-\U000bfffd\U000c0000-\U000cfffd\U000d0000-\U000dfffd\U000e1000-\U000efffd"
    "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
)


@functools.cache
def _query_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The query's characters and the ones it may end in. Compiled at first use: the
    case-insensitive astral ranges take about 11 ms to compile here (more on a Pi), which
    a daemon that never counts a Mastodon text should not pay at start."""
    chars = re.compile(f"[a-z0-9!?*'();:&=+$/%#\\[\\]\\-_.,~|@^{_UCHARS}]*", re.IGNORECASE)
    end = re.compile(f"[a-z0-9_&=#/\\-{_UCHARS}]", re.IGNORECASE)
    return chars, end


# Account::MENTION_RE (USERNAME_RE is case-insensitive), only mentions with a domain:
# the others count as they are written.
_MENTION = re.compile(r"(?<![=/\w])@([a-zA-Z0-9_]+(?:[.-]+[a-zA-Z0-9_]+)*)@(\w+(?:[.-]+\w+)*)")
_LATIN_ACCENTS = (  # twitter-text's latin_accents: a mention followed by one is none
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b"
    "\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_END_MENTION = re.compile(f"[@＠{_LATIN_ACCENTS}]|://")


def mastodon_length(text: str) -> int:
    """The length Mastodon compares with the instance's max_characters."""
    if not text.strip():
        return 0
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in _entities(text):
        pieces += [text[cursor:start], replacement]
        cursor = end
    pieces.append(text[cursor:])
    return _graphemes("".join(pieces))


def url_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of every link Mastodon counts as URL_LENGTH, left to right."""
    found: list[tuple[int, int]] = []
    domains: _Domains | None = None
    searched_to = 0
    for scheme in _SCHEME.finditer(text):
        start = scheme.start()
        if start < searched_to or (start > 0 and text[start - 1] in _BAD_BEFORE):
            continue
        if domains is None:
            domains = _Domains(text, strict=True)
        end = domains.end(scheme.end())
        if end < 0:
            continue
        port = _PORT.match(text, end)
        end = port.end() if port else end
        if text.startswith("/", end):
            end = _path_end(text, end + 1)
        if text.startswith("?", end):
            end = _query_end(text, end + 1)
        found.append((start, end))
        searched_to = end
    return found


def _path_end(text: str, start: int) -> int:
    """Where the path from `start` (just after its "/") ends: at its last allowed end."""
    position = last_end = start
    while position < len(text):
        if text[position] == "(":
            group = _BALANCED.match(text, position)
            if group is None:
                break
            position = last_end = group.end()
            continue
        if not _PATH_CHAR.match(text, position):
            break
        position += 1
        if text[position - 1] not in _NOT_PATH_END:
            last_end = position
    return last_end


def _query_end(text: str, start: int) -> int:
    """Where the query from `start` (just after its "?") ends; start - 1 if it is none."""
    query_chars, query_end = _query_patterns()
    run_end = query_chars.match(text, start).end()  # type: ignore[union-attr]
    for end in range(run_end, start, -1):
        if query_end.match(text, end - 1):
            return end
    return start - 1  # "?" with nothing allowed after it: not part of the link


def _entities(text: str) -> list[tuple[int, int, str]]:
    """Links and remote mentions as (start, end, what Mastodon counts instead), no overlaps."""
    found = [(start, end, "x" * URL_LENGTH) for start, end in url_spans(text)]
    for mention in _MENTION.finditer(text):
        if _END_MENTION.match(text, mention.end()):
            continue
        if len(mention.group(2)) > MAX_MENTION_DOMAIN_CHARS:
            continue
        found.append((mention.start(), mention.end(), "@" + mention.group(1)))
    kept: list[tuple[int, int, str]] = []
    for entity in sorted(found):
        if not kept or entity[0] >= kept[-1][1]:
            kept.append(entity)
    return kept


def _graphemes(text: str) -> int:
    try:
        import grapheme  # graphemeu, with Mastodon.py's "grapheme" extra
    except ImportError:
        # Differs: code points never undercount graphemes, so a post that fits here fits.
        return len(text)
    return int(grapheme.length(text))
