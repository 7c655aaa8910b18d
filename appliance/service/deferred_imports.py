"""Modules the daemon's libraries import but its code never uses: run only if used."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

# tweepy/__init__ imports tweepy.cache, which imports pickle for its FileCache; the
# X client caches nothing (tweepy.Client has no cache), so pickle stays unused. It was
# 0.4 MiB of the daemon's peak memory after a post (issue 13). Only a module that one
# importer binds with `import name` qualifies: `from name import x` uses it at once, and
# a second `import name` statement runs it too (the import system checks its __spec__).
UNUSED_BY_THE_DAEMON = ("pickle",)


class _Deferring:
    """A meta path finder that gives the modules named a lazy loader, and no others."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in self.names:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None  # the other finders decide
        spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def defer_unused_modules(names: Iterable[str] = UNUSED_BY_THE_DAEMON) -> None:
    """Make the first `import name` give a module whose code runs at its first use.

    importlib.util.LazyLoader, as in the importlib docs' "Implementing lazy imports":
    whoever does use such a module gets all of it, only later. Too late for a module
    already imported, which is left alone; so the daemon calls this before it imports
    its posting clients. (Before Python 3.12.3 the first use is not thread-safe, which
    needs two threads using a module that nothing here uses.)
    """
    pending = [name for name in names if name not in sys.modules]
    if pending and not any(isinstance(finder, _Deferring) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Deferring(pending))
