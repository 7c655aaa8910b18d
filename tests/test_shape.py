"""The package's shape: tests/ mirrors appliance/, and every module reads in one sitting."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 400
# Modules known to be over the limit, each with the work that brings it under (none now).
OVER_THE_LIMIT: dict[str, str] = {}


def unmirrored(package: Path, tests: Path) -> list[str]:
    """Every package folder under `package` without a tests folder that holds a test."""
    missing = []
    for init in sorted(package.rglob("__init__.py")):
        folder = init.parent.relative_to(package)
        if folder == Path("."):
            continue
        mirror = tests / folder
        if not (mirror / "__init__.py").exists() or not any(mirror.glob("test_*.py")):
            missing.append(f"appliance/{folder.as_posix()}/ has no tests/{folder.as_posix()}/")
    return missing


def too_long(package: Path, allowed: dict[str, str]) -> list[str]:
    """Every module over MAX_MODULE_LINES lines that is not in `allowed`."""
    found = []
    for path in sorted(package.rglob("*.py")):
        name = path.relative_to(package).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and name not in allowed:
            found.append(f"appliance/{name} has {lines} lines (at most {MAX_MODULE_LINES})")
    return found


def test_every_package_folder_has_its_tests_folder():
    problems = unmirrored(REPO / "appliance", REPO / "tests")
    assert not problems, "\n".join(problems)


def test_every_module_is_short_enough_to_read_in_one_sitting():
    problems = too_long(REPO / "appliance", OVER_THE_LIMIT)
    assert not problems, "\n".join(problems)


def test_a_package_without_tests_and_a_long_module_are_found(tmp_path):
    package, tests = tmp_path / "appliance", tmp_path / "tests"
    for folder in ("core", "speech", "speech/parts"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").touch()
    (tests / "core").mkdir(parents=True)
    (tests / "core" / "__init__.py").touch()
    (tests / "core" / "test_step.py").touch()
    (tests / "speech").mkdir()
    (tests / "speech" / "__init__.py").touch()  # a folder without a test is no mirror
    (package / "core" / "step.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    assert unmirrored(package, tests) == [
        "appliance/speech/ has no tests/speech/",
        "appliance/speech/parts/ has no tests/speech/parts/",
    ]
    assert too_long(package, {}) == [
        f"appliance/core/step.py has {MAX_MODULE_LINES + 1} lines (at most {MAX_MODULE_LINES})"
    ]
    assert too_long(package, {"core/step.py": "being split"}) == []
