"""The program imports without setuptools: nothing it loads may reach for pkg_resources.

Python 3.12+ venvs carry no setuptools, and setuptools 81+ has no pkg_resources, so a
dependency that needs either one makes the installed service die at start
(twitter-text-parser did, and only an old setuptools in bookworm's venv hid it).
"""

import pytest

from tests.conftest import probe_report

# A fresh interpreter in which importing setuptools or pkg_resources fails and is
# recorded, like a venv without them; then every module of the package is imported.
PROBE = r"""
import importlib, json, pkgutil, sys

FORBIDDEN = ("pkg_resources", "setuptools")
asked = []

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            asked.append(name)
            raise ImportError(f"{name} is not available (as in a Python 3.12+ venv)")
        return None

sys.meta_path.insert(0, Refuse())
for name in [m for m in sys.modules if m.split(".")[0] in FORBIDDEN]:
    del sys.modules[name]

import appliance
failed = {}
modules = ["appliance"] + [
    info.name
    for info in pkgutil.walk_packages(appliance.__path__, "appliance.")
    if not info.name.endswith("__main__")  # that one runs the program
]
for name in modules:
    try:
        importlib.import_module(name)
    except Exception as error:  # report every module, not just the first
        failed[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"modules": modules, "asked": sorted(set(asked)), "failed": failed}))
"""


@pytest.mark.timeout(120)
def test_no_module_needs_setuptools_or_pkg_resources():
    report = probe_report(PROBE)
    assert "appliance.service.daemon" in report["modules"]
    assert "appliance.cli.main" in report["modules"]
    assert report["failed"] == {}
    assert report["asked"] == []
