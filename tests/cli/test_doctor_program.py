"""`appliance doctor` runs the service's real command (`run --check`) and fails if it cannot start.

On a Python 3.13 install the program died at import (`No module named 'pkg_resources'`) while
`appliance doctor --offline` reported nothing wrong.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from appliance.cli.checks import Status
from appliance.cli.doctor import run_doctor
from appliance.cli.doctor_program import check_program, exec_start
from appliance.tryout.sandbox import write_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "appliance.toml", gpio={"pin_factory": "mock"})


def unit(tmp_path: Path, command: str) -> Path:
    path = tmp_path / "appliance.service"
    path.write_text(f"[Unit]\nDescription=test\n\n[Service]\nType=notify\nExecStart={command}\n")
    return path


@pytest.fixture
def venv_without_dependencies(tmp_path):
    """A venv that has the appliance package but none of its dependencies, as an install
    whose pip step failed half-way leaves it."""
    venv = tmp_path / "broken-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "appliance-source.pth").write_text(f"{REPO}\n")
    return python


def test_the_installed_units_command_is_read(tmp_path):
    text = (REPO / "systemd" / "appliance.service").read_text()
    assert exec_start(text) == [
        "/opt/appliance/venv/bin/appliance", "run", "--config", "/etc/appliance/appliance.toml",
    ]  # fmt: skip
    # A drop-in resets ExecStart= and sets its own; prefixes are not part of the command.
    drop_in = text + "\n# /etc/systemd/system/appliance.service.d/x.conf\n[Service]\n"
    drop_in += "ExecStart=\nExecStart=-/usr/bin/env \\\n  appliance run\n"
    assert exec_start(drop_in) == ["/usr/bin/env", "appliance", "run"]


@pytest.mark.timeout(120)
def test_a_service_whose_python_lacks_a_dependency_fails_with_the_exception(
    tmp_path, config, venv_without_dependencies
):
    path = unit(tmp_path, f"{venv_without_dependencies} -m appliance run --config {config}")
    check = check_program(None, os.environ, path)
    assert check.status is Status.FAIL, check.line()
    assert "ModuleNotFoundError: No module named" in check.detail
    assert str(path) in check.detail and "sudo scripts/install.sh" in check.fix


@pytest.mark.timeout(120)
def test_a_service_that_imports_passes(tmp_path, config):
    path = unit(tmp_path, f"{sys.executable} -m appliance run --config {config}")
    check = check_program(None, os.environ, path)
    assert check.status is Status.OK, check.line()
    assert "imports" in check.detail and str(config) in check.detail


@pytest.mark.timeout(60)
def test_a_hanging_program_is_given_up_on(tmp_path):
    script = tmp_path / "hangs"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    check = check_program(None, os.environ, unit(tmp_path, f"{script} run"), timeout_seconds=0.5)
    assert check.status is Status.FAIL and "did not finish in 0.5 s" in check.detail


def test_a_missing_program_fails(tmp_path):
    check = check_program(None, os.environ, unit(tmp_path, f"{tmp_path}/gone/appliance run"))
    assert check.status is Status.FAIL and "cannot be run" in check.detail
    assert "install.sh" in check.fix


@pytest.mark.timeout(120)
def test_without_a_service_the_running_python_is_checked(tmp_path, config):
    check = check_program(str(config), os.environ, tmp_path / "not-installed.service")
    assert check.status is Status.OK, check.line()
    assert "no service installed" in check.detail
    assert sysconfig.get_python_version() in check.detail


@pytest.mark.timeout(120)
def test_offline_doctor_fails_when_the_service_cannot_start(
    tmp_path, config, venv_without_dependencies
):
    path = unit(tmp_path, f"{venv_without_dependencies} -m appliance run --config {config}")
    lines: list[str] = []
    status = run_doctor(str(config), os.environ, is_offline=True, out=lines.append, unit_path=path)
    assert status == 1
    [line] = [line for line in lines if "program:" in line]
    assert line.startswith("[FAIL] program:") and "No module named" in line


@pytest.mark.timeout(120)
def test_run_check_validates_the_configuration(tmp_path, config):
    command = [sys.executable, "-m", "appliance", "run", "--check", "--config"]
    good = subprocess.run([*command, str(config)], capture_output=True, text=True, timeout=100)
    assert good.returncode == 0 and "is valid" in good.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text("[audio]\ndevise = 'x'\n")
    bad = subprocess.run([*command, str(broken)], capture_output=True, text=True, timeout=100)
    assert bad.returncode == 78 and "audio.devise" in bad.stderr
