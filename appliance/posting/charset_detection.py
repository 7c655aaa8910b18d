"""Keeps requests from loading a character-set detector that the posting clients never use."""

from __future__ import annotations

import sys
import warnings

# requests loads chardet or charset_normalizer at its own import, for one property,
# Response.apparent_encoding, which only Response.text reads, and only for an answer
# whose Content-Type names no charset. The clients read JSON with Response.json(),
# which finds a UTF encoding by itself (requests.utils.guess_json_utf). Since 2.32,
# requests runs without either detector and takes such a text as UTF-8
# (requests/compat.py _resolve_char_detection, models.py apparent_encoding).
# charset_normalizer was 2.5 MiB of the daemon's peak memory (issue 13).
DETECTORS = ("chardet", "charset_normalizer")
_NO_DETECTOR_WARNING = "Unable to find acceptable character detection dependency"


def leave_out_charset_detection() -> None:
    """Make requests, when it is first imported, run without a detector.

    A None in sys.modules makes `import name` raise ImportError (the import system's
    module cache), which requests reads as "not installed". Too late once requests is
    loaded, so the daemon calls this before it imports anything that posts.
    """
    if "requests" in sys.modules:
        return
    for name in DETECTORS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    # requests warns once at import that it found none: that is the intent here.
    warnings.filterwarnings("ignore", message=_NO_DETECTOR_WARNING)
