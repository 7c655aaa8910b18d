"""The systemd unit agrees with the code (paths, keys, exit codes) and stays hardened."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from appliance.cli import main as cli
from appliance.cli.setup import all_key_names
from appliance.posting.x_keys import DESTINATION_KEYS
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS, ControlSettings, StateSettings
from appliance.service.credentials import CREDENTIAL_NOT_SET

UNIT = Path(__file__).parents[2] / "systemd" / "appliance.service"
MAX_EXPOSURE = 2.0


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections -> key -> every value in order (systemd allows repeated keys)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[section][key].append(value)
    return sections


@pytest.fixture(scope="module")
def unit():
    return parse_unit(UNIT.read_text())


def one(unit, section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{key}= is set {len(values)} times"
    return values[0]


def test_is_a_notify_service_with_a_watchdog_that_restarts_on_failure(unit):
    assert one(unit, "Service", "Type") == "notify"
    assert int(one(unit, "Service", "WatchdogSec")) > 0
    assert one(unit, "Service", "Restart") == "on-failure"
    assert "network-online.target" in one(unit, "Unit", "Wants")
    assert "network-online.target" in one(unit, "Unit", "After")


def test_restarts_never_reach_the_start_limit(unit):
    restart_seconds = float(one(unit, "Service", "RestartSec"))
    interval_seconds = float(one(unit, "Unit", "StartLimitIntervalSec"))
    burst = int(one(unit, "Unit", "StartLimitBurst"))
    # Automatic restarts alone start the unit at most this often within one interval.
    assert interval_seconds // restart_seconds + 1 <= burst


def test_runs_without_docstrings_from_a_bytecode_cache_it_can_write(unit):
    # -OO's .pyc files are neither pip's nor Debian's, and the venv is read-only to the
    # service: without a cache of its own every start would compile every module.
    environment = dict(value.split("=", 1) for value in unit["Service"]["Environment"])
    assert environment["PYTHONOPTIMIZE"] == "2"
    cache_directory = one(unit, "Service", "CacheDirectory")
    assert environment["PYTHONPYCACHEPREFIX"].startswith(f"%C/{cache_directory}/")


def test_a_configuration_error_is_not_restarted(unit):
    assert str(cli.EX_CONFIG) in one(unit, "Service", "RestartPreventExitStatus").split()
    assert cli.EX_CONFIG == 78


def test_one_load_credential_per_key_the_daemon_reads(unit):
    loaded = dict(value.split(":", 1) for value in unit["Service"]["LoadCredential"])
    destination_keys = {name for names in DESTINATION_KEYS.values() for name in names}
    assert set(loaded) == {ASSEMBLYAI_KEY, *destination_keys}
    assert set(all_key_names(dry_run=False)) == {ASSEMBLYAI_KEY, *X_KEYS}
    for name, path in loaded.items():
        assert path == f"/etc/appliance/credentials/{name}"


def test_a_destinations_key_file_may_be_missing_but_the_speech_key_may_not(unit):
    # A missing LoadCredential= file fails the unit unless SetCredential= gives a default.
    defaults = dict(value.split(":", 1) for value in unit["Service"]["SetCredential"])
    destination_keys = {name for names in DESTINATION_KEYS.values() for name in names}
    assert set(defaults) == destination_keys and ASSEMBLYAI_KEY not in defaults
    assert set(defaults.values()) == {CREDENTIAL_NOT_SET}


def test_systemds_default_for_a_missing_key_reads_as_a_missing_file(tmp_path):
    from appliance.errors import ConfigError
    from appliance.service.config import settings_from_dict
    from appliance.service.credentials import load_credentials

    (tmp_path / "bluesky_app_password").write_text(CREDENTIAL_NOT_SET)
    settings = settings_from_dict({})
    with pytest.raises(ConfigError, match="does not exist"):
        load_credentials(
            settings, {"CREDENTIALS_DIRECTORY": str(tmp_path)}, ("bluesky_app_password",)
        )


def test_paths_match_the_configuration_defaults(unit):
    assert one(unit, "Service", "DynamicUser") == "yes"
    assert set(one(unit, "Service", "SupplementaryGroups").split()) == {"audio", "gpio"}
    state = one(unit, "Service", "StateDirectory")
    assert f"/var/lib/{state}" == StateSettings().dir
    runtime = one(unit, "Service", "RuntimeDirectory")
    # lgpio needs a writable working directory; the control socket lives there too.
    assert one(unit, "Service", "WorkingDirectory") == f"/run/{runtime}"
    assert Path(ControlSettings().socket).parent == Path(f"/run/{runtime}")
    assert one(unit, "Service", "ConfigurationDirectory") == "appliance"
    exec_start = one(unit, "Service", "ExecStart").split()
    assert exec_start[:2] == ["/opt/appliance/venv/bin/appliance", "run"]


def test_keeps_what_gpio_and_alsa_need(unit):
    # gpiozero reads /proc/cpuinfo and /proc/device-tree; ProcSubset=pid hides them.
    assert unit["Service"].get("ProcSubset", []) in ([], ["all"])
    devices = " ".join(unit["Service"]["DeviceAllow"])
    assert "char-alsa" in devices and "gpiochip" in devices
    families = one(unit, "Service", "RestrictAddressFamilies").split()
    assert {"AF_UNIX", "AF_INET", "AF_INET6"} <= set(families)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_security_exposure_is_at_most_two():
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    if match is None:
        pytest.skip(f"this systemd-analyze has no --offline: {result.stderr.strip()[:200]}")
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
