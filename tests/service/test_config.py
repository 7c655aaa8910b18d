"""Configuration: the example is valid and complete; bad input names file, key, expectation."""

import dataclasses
import math
import tomllib
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.core.destinations import OverLength
from appliance.devices.leds import Layout
from appliance.errors import ConfigError
from appliance.service.config import Settings, config_path, load_settings, settings_from_dict
from appliance.service.credentials import load_credentials, needed_credentials
from appliance.speech.gate import Session

EXAMPLE = Path(__file__).parents[2] / "config" / "appliance.toml"


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


ENUM_CHOICES = [
    ("assemblyai.session", Session),
    ("x.over_length", OverLength),
    ("gpio.layout", Layout),
]


@pytest.mark.parametrize(("dotted", "kind"), ENUM_CHOICES)
def test_a_choice_is_read_as_its_enum_and_a_wrong_one_lists_every_member(dotted, kind):
    section, key = dotted.split(".")
    for member in kind:
        settings = settings_from_dict({section: {key: member.value}})
        assert getattr(getattr(settings, section), key) is member
    with pytest.raises(ConfigError, match=dotted) as caught:
        settings_from_dict({section: {key: "disco"}})
    assert all(repr(member.value) in str(caught.value) for member in kind)


@pytest.mark.parametrize(("dotted", "kind"), ENUM_CHOICES)
def test_the_example_explains_every_member_of_a_choice(dotted, kind):
    section, key = dotted.split(".")
    lines = EXAMPLE.read_text().splitlines()
    table = lines.index(f"[{section}]")
    at = next(n for n in range(table, len(lines)) if lines[n].startswith(f"{key} = "))
    comment = []
    for line in reversed(lines[:at]):
        if not line.startswith("#"):
            break
        comment.append(line)
    assert all(f'"{member.value}"' in " ".join(comment) for member in kind), dotted


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
        ({"confirm": {"grace_seconds": -1}}, "confirm.grace_seconds", ">= 0"),
        # Values that once passed and then broke the device (issue 12, item 5).
        ({"confirm": {"grace_seconds": math.nan}}, "confirm.grace_seconds", "number"),
        ({"assemblyai": {"idle_close_seconds": math.nan}}, "assemblyai.idle_close_seconds", "> 0"),
        ({"assemblyai": {"backlog_seconds": math.inf}}, "assemblyai.backlog_seconds", "at most"),
        ({"assemblyai": {"pre_roll_seconds": -math.inf}}, "assemblyai.pre_roll_seconds", ">= 0"),
        ({"x": {"request_timeout_seconds": 0}}, "x.request_timeout_seconds", "> 0"),
        ({"control": {"request_timeout_seconds": 0.0}}, "control.request_timeout_seconds", "> 0"),
        ({"assemblyai": {"opens_per_minute": 0}}, "assemblyai.opens_per_minute", "> 0"),
        ({"x": {"retry_max_seconds": 1e300}}, "x.retry_max_seconds", "at most"),
        ({"gpio": {"button_pin": 10**30}}, "gpio.button_pin", "at most"),
        ({"assemblyai": {"url": "ws://"}}, "assemblyai.url", "naming a host"),
        ({"assemblyai": {"url": "ws://host:99999/v3"}}, "assemblyai.url", "naming a host"),
        ({"x": {"api_url": "http://[::1"}}, "x.api_url", "naming a host"),
        ({"audio": {"device": "hw:0\x00,0"}}, "audio.device", "control characters"),
        ({"control": {"socket": "/run/a\x00b.sock"}}, "control.socket", "control characters"),
        ({"state": {"dir": "/var/lib/\nappliance"}}, "state.dir", "control characters"),
        ({"control": {"socket": "/run/" + "s" * 200}}, "control.socket", "107 bytes"),
        ({"log": {"level": "\ud800"}}, "log.level", "control characters"),
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


def test_config_path_that_is_a_directory_or_not_utf8_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert caught.value.path == str(tmp_path) and "directory" in caught.value.expected
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b'[audio]\ndevice = "Mikrofon f\xfcr Sprache"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(latin1)
    assert caught.value.path == str(latin1) and "UTF-8" in caught.value.expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"sk-\xff\xfe-key\n", "UTF-8"), (b"sk-one\nsk-two\n", "one line"), (b"sk\x00k", "one line")],
)
def test_credential_file_that_is_not_one_line_of_utf8_names_the_file(tmp_path, content, expected):
    settings = settings_from_dict({"credentials": {"dir": str(tmp_path)}})
    (tmp_path / "assemblyai_api_key").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_credentials(settings, {}, ("assemblyai_api_key",))
    assert caught.value.path == str(tmp_path / "assemblyai_api_key")
    assert expected in caught.value.expected


# Any value TOML can hold (nan and inf included), a table's worth of nesting deep.
_TOML_SCALARS = (
    st.text()
    | st.integers()
    | st.floats()
    | st.booleans()
    | st.datetimes()
    | st.dates()
    | st.times()
)
_TOML_VALUES = st.recursive(
    _TOML_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_KEYS = [
    (
        section.name,
        key.name,
        typing.get_type_hints(typing.get_type_hints(Settings)[section.name])[key.name],
    )
    for section in dataclasses.fields(Settings)
    if section.name != "path"
    for key in dataclasses.fields(typing.get_type_hints(Settings)[section.name])
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_KEYS), _TOML_VALUES)
def test_fuzz_any_value_for_any_key_is_accepted_or_a_config_error(key, value):
    section, name, _kind = key
    try:
        loaded = settings_from_dict({section: {name: value}}, "fuzz.toml")
    except ConfigError as error:
        # Enabling a destination (or disabling X, the only one) is fine on its own; the
        # error then names what it still needs, in that section (its handle, its URL).
        needs = {
            "bluesky.enabled": ("bluesky.handle",),
            "mastodon.enabled": ("mastodon.api_base_url",),
            "x.enabled": ("x.enabled",),
        }
        dotted = f"{section}.{name}"
        assert error.path == "fuzz.toml" and error.key in (dotted, *needs.get(dotted, ()))
        return
    accepted = getattr(getattr(loaded, section), name)
    if isinstance(accepted, float):
        assert math.isfinite(accepted)
    if isinstance(accepted, str):
        assert accepted.isprintable()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_fuzz_any_file_content_is_settings_or_a_config_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("fuzz") / "appliance.toml"
    path.write_bytes(content)
    try:
        load_settings(path)
    except ConfigError as error:
        assert error.path == str(path)
