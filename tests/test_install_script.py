"""install.sh reads the minimum versions of the OS's prebuilt modules from pyproject.toml."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
INSTALL_SH = REPO / "scripts" / "install.sh"


def os_prebuilt_pip_names() -> list[str]:
    """The pip names in install.sh's OS_PREBUILT table ("OS-package pip-name module")."""
    table = re.search(r"^OS_PREBUILT=\((.*)\)$", INSTALL_SH.read_text(), re.MULTILINE)
    assert table, "install.sh has no OS_PREBUILT=(...) line"
    return [entry.split()[1] for entry in re.findall(r'"([^"]+)"', table.group(1))]


def pyproject_minimum(pip_name: str) -> str:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for requirement in dependencies:
        found = re.fullmatch(rf"{re.escape(pip_name)}>=([0-9.]+)", requirement)
        if found:
            return found.group(1)
    raise AssertionError(f"pyproject.toml has no {pip_name}>=VERSION dependency")


def install_sh_minimum(pip_name: str) -> str:
    """What install.sh's own minimum_version function answers, run on its own."""
    program = (
        f"SOURCE_DIR={REPO}\n"
        + re.search(r"^minimum_version\(\) \{.*?^\}$", INSTALL_SH.read_text(), re.S | re.M)[0]
        + f"\nminimum_version {pip_name}\n"
    )
    result = subprocess.run(
        ["bash", "-c", program], capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.strip()


def test_the_table_names_the_c_extensions_debian_packages() -> None:
    assert os_prebuilt_pip_names() == ["pyalsaaudio", "systemd-python"]


@pytest.mark.parametrize("pip_name", os_prebuilt_pip_names())
def test_install_sh_reads_the_same_minimum_as_pyproject(pip_name: str) -> None:
    assert install_sh_minimum(pip_name) == pyproject_minimum(pip_name)


@pytest.mark.parametrize(
    "script", sorted((REPO / "scripts").glob("*.sh")) + [REPO / "scripts/system-test/lib.sh"]
)
def test_shell_scripts_parse(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=10)
