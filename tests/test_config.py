"""Configuration: the example is valid and complete; bad input names file, key, expectation."""

import dataclasses
import tomllib
from pathlib import Path

import pytest

from appliance.config import (
    Settings,
    config_path,
    load_credentials,
    load_settings,
    needed_credentials,
    settings_from_dict,
)
from appliance.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config" / "appliance.toml"


def test_example_config_loads_and_matches_every_setting():
    settings = load_settings(EXAMPLE)
    document = tomllib.loads(EXAMPLE.read_text())
    for section in dataclasses.fields(Settings):
        if section.name == "path":
            continue
        keys = {f.name for f in dataclasses.fields(getattr(settings, section.name))}
        assert set(document[section.name]) == keys, f"[{section.name}] in the example"
        # The example documents the defaults: it equals a config with nothing set.
        assert getattr(settings, section.name) == getattr(Settings(), section.name)


def test_every_key_in_the_example_is_commented():
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[number - 1].lstrip().startswith("#"), f"line {number + 1} has no comment"


@pytest.mark.parametrize(
    ("document", "key", "expected"),
    [
        ({"audio": {"devise": "x"}}, "audio.devise", "known key"),
        ({"x": {"dry_run": "yes"}}, "x.dry_run", "true or false"),
        ({"gpio": {"button_pin": "17"}}, "gpio.button_pin", "whole number"),
        ({"gpio": {"layout": "disco"}}, "gpio.layout", "'separate', 'rgb'"),
        ({"assemblyai": {"url": "https://x"}}, "assemblyai.url", "ws://"),
        ({"confirm": {"candidate_window_seconds": -1}}, "confirm.candidate_window_seconds", ">= 0"),
        ({"speech": {}}, "speech", "one of the tables"),
    ],
)
def test_bad_values_name_the_key_and_expectation(document, key, expected):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(document, "/etc/appliance/appliance.toml")
    assert caught.value.key == key
    assert expected in caught.value.expected
    assert str(caught.value).startswith("/etc/appliance/appliance.toml: " + key)


def test_missing_file_and_bad_syntax(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[audio]\ndevice = \n")
    with pytest.raises(ConfigError, match=r"bad.toml: \(syntax\): valid TOML.*line 2"):
        load_settings(bad)


def test_config_path_order(tmp_path):
    assert str(config_path("a.toml", {"APPLIANCE_CONFIG": "b.toml"})) == "a.toml"
    assert str(config_path(None, {"APPLIANCE_CONFIG": "b.toml"})) == "b.toml"
    assert str(config_path(None, {})) == "/etc/appliance/appliance.toml"


def test_credentials_from_systemd_directory_first(tmp_path):
    systemd_dir, config_dir = tmp_path / "creds", tmp_path / "etc"
    systemd_dir.mkdir()
    config_dir.mkdir()
    (systemd_dir / "assemblyai_api_key").write_text("sk-from-systemd\n")
    (config_dir / "assemblyai_api_key").write_text("sk-from-config\n")
    settings = settings_from_dict({"credentials": {"dir": str(config_dir)}, "x": {"dry_run": True}})
    names = needed_credentials(settings)
    assert names == ("assemblyai_api_key",)
    got = load_credentials(settings, {"CREDENTIALS_DIRECTORY": str(systemd_dir)}, names)
    assert got["assemblyai_api_key"] == "sk-from-systemd"
    assert "sk-from" not in repr(got)
    assert load_credentials(settings, {}, names)["assemblyai_api_key"] == "sk-from-config"


def test_missing_or_empty_credential_names_the_file(tmp_path):
    settings = settings_from_dict({"credentials": {"dir": str(tmp_path)}})
    with pytest.raises(ConfigError) as caught:
        load_credentials(settings, {}, needed_credentials(settings))
    assert caught.value.key == "assemblyai_api_key"
    assert caught.value.path == str(tmp_path / "assemblyai_api_key")
    (tmp_path / "assemblyai_api_key").write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        load_credentials(settings, {}, ("assemblyai_api_key",))
