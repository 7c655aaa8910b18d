"""The modules the daemon defers stay unrun through a post to X, and work when used."""

import sys

import pytest

from tests.conftest import probe_report

# A fresh interpreter, set up as `appliance run` sets itself up, that posts once to
# the X stand-in through the real client (tweepy), then uses the deferred modules.
PROBE = r"""
import dataclasses, importlib.util, json, sys
from appliance.service.deferred_imports import UNUSED_BY_THE_DAEMON, defer_unused_modules
defer_unused_modules()
from appliance.posting.x_client import XCredentials, XPoster, make_client
from appliance.tryout.standins.x_server import XStandin

credentials = XCredentials("ConsumerKey0123456789ABCD", "consumer-secret-0123456789",
                           "1-AccessToken0123456789", "access-token-secret-0123456789")
with XStandin(**dataclasses.asdict(credentials)) as standin:
    outcome = XPoster(make_client(standin.url, credentials, 5.0)).post("The kettle is on.")
    posts = [post.text for post in standin.posts]
unrun = [n for n in UNUSED_BY_THE_DAEMON if isinstance(sys.modules[n], importlib.util._LazyModule)]
import pickle
print(json.dumps({"outcome": outcome.kind.name, "posts": posts, "unrun": unrun,
                  "works": pickle.loads(pickle.dumps({"a": [1]})) == {"a": [1]}}))
"""


@pytest.mark.timeout(60)
def test_a_post_to_x_leaves_them_unrun_and_they_work_when_used():
    report = probe_report(PROBE, timeout_seconds=50)
    assert report["outcome"] == "POSTED" and report["posts"] == ["The kettle is on."]
    assert report["unrun"] == ["pickle"]
    assert report["works"]


def test_a_module_already_imported_is_left_as_it_is(monkeypatch):
    import pickle

    from appliance.service.deferred_imports import defer_unused_modules

    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    finders = list(sys.meta_path)
    defer_unused_modules(["pickle"])
    assert sys.modules["pickle"] is pickle
    assert sys.meta_path == finders
