"""Bluesky's record key for an outbox entry: the same on every retry, so a retry after a
lost answer finds the record it may have made instead of making a second one."""

from __future__ import annotations

import hashlib

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable (atproto.com/specs/tid)
# A derived record key's timestamp falls in 2023-2024 (microseconds): a TID's time says
# nothing to Bluesky (posts sort by createdAt), but a far-future one would look odd.
_TID_FIRST_MICROSECONDS = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_SPAN_MICROSECONDS = 731 * 24 * 3600 * 1_000_000


def record_key(key: str) -> str:
    """The record key of the post for outbox entry `key`: the same on every retry.

    app.bsky.feed.post's lexicon gives its records "key": "tid", so the key is a TID
    (atproto.com/specs/tid: 13 base32-sortable characters, the first 2-j), made from a
    hash of `key` rather than from the clock.
    """
    digest = hashlib.sha256(b"appliance-bluesky-rkey\0" + key.encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    microseconds = _TID_FIRST_MICROSECONDS + (number >> 10) % _TID_SPAN_MICROSECONDS
    value = microseconds << 10 | number & 1023  # 10 bits of "clock id" below the time
    chars = []
    for _ in range(13):  # 65 bits, the top one 0: the first character is 2-j
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))
