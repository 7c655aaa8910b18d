"""`appliance doctor` against real parts: ALSA file plugin, MockFactory, the two stand-ins."""

from __future__ import annotations

import math
import secrets
from pathlib import Path

import pytest

from appliance.cli.checks import Status
from appliance.cli.doctor import (
    check_clock,
    check_credentials,
    check_microphone,
    check_pin_factory,
    level_dbfs,
    meter,
    run_doctor,
)
from appliance.cli.doctor_network import check_x_keys, token_url
from appliance.cli.setup import write_key
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS, settings_from_dict
from appliance.service.credentials import Credentials
from appliance.tryout.sandbox import write_config
from appliance.tryout.simulated_mic import alsa_env, write_alsa_config
from appliance.tryout.standins.speech_server import SpeechStandin
from appliance.tryout.standins.x_server import XStandin
from tests.speech_audio import silence

NOW = 1_790_000_000.0  # 2026


@pytest.fixture
def keys(tmp_path):
    directory = tmp_path / "credentials"
    values = {name: secrets.token_urlsafe(24) for name in (ASSEMBLYAI_KEY, *X_KEYS)}
    for name, value in values.items():
        write_key(directory, name, value)
    return directory, values


def microphone_device(tmp_path: Path, monkeypatch, pcm: bytes) -> str:
    infile = tmp_path / "mic.raw"
    infile.write_bytes(pcm)
    config = write_alsa_config(tmp_path, "doctormic", infile)
    for name, value in alsa_env(config).items():
        monkeypatch.setenv(name, value)
    return "doctormic"


def settings_for(credentials_dir: Path, **tables):
    return settings_from_dict({"credentials": {"dir": str(credentials_dir)}, **tables})


def test_credentials_with_safe_permissions_pass(keys):
    directory, _ = keys
    check, credentials = check_credentials(settings_for(directory), {})
    assert check.status is Status.OK, check.line()
    assert credentials is not None and credentials[ASSEMBLYAI_KEY]


def test_a_key_readable_by_others_fails_and_says_how_to_fix_it(keys):
    directory, values = keys
    (directory / "x_access_token").chmod(0o644)
    check, credentials = check_credentials(settings_for(directory), {})
    assert check.status is Status.FAIL and credentials is None
    assert "x_access_token is readable by others" in check.detail
    assert "chmod 600" in check.fix
    assert all(value not in check.line() for value in values.values())


def test_a_missing_key_fails_but_dry_run_needs_only_assemblyai(keys):
    directory, _ = keys
    (directory / "x_consumer_secret").unlink()
    check, _ = check_credentials(settings_for(directory), {})
    assert check.status is Status.FAIL and "x_consumer_secret is missing" in check.detail
    assert "appliance setup" in check.fix
    dry_run = settings_for(directory, x={"dry_run": True})
    assert check_credentials(dry_run, {})[0].status is Status.OK


def test_microphone_hears_speech_and_shows_the_level(tmp_path, monkeypatch, speak):
    device = microphone_device(tmp_path, monkeypatch, speak("Testing the microphone."))
    check = check_microphone(device)
    assert check.status is Status.OK, check.line()
    assert "dBFS" in check.detail and "#" in check.detail


def test_microphone_that_hears_only_digital_silence_fails(tmp_path, monkeypatch):
    device = microphone_device(tmp_path, monkeypatch, silence(2.0))
    check = check_microphone(device)
    assert check.status is Status.FAIL and "silence" in check.detail
    assert "alsamixer" in check.fix


def test_absent_microphone_fails_with_its_reason():
    check = check_microphone("plughw:CARD=Nope,DEV=0")
    assert check.status is Status.FAIL
    assert "appliance devices" in check.fix


def test_levels_and_meter():
    assert level_dbfs(silence(0.1)) == (-math.inf, -math.inf)
    full_scale = b"\xff\x7f" * 100  # 32767
    rms, peak = level_dbfs(full_scale)
    assert rms == pytest.approx(0, abs=0.01) and peak == pytest.approx(0, abs=0.01)
    assert meter(-math.inf) == "[" + "-" * 20 + "]"
    assert meter(0.0) == "[" + "#" * 20 + "]"


def test_pin_factory_mock_loads_and_an_unknown_one_fails():
    assert check_pin_factory("mock").status is Status.OK
    failed = check_pin_factory("pigpio")  # needs a pigpio daemon; there is none here
    assert failed.status is Status.FAIL and "pin_factory" in failed.fix


def test_clock_is_compared_with_the_servers_date():
    assert check_clock(NOW, {"api.x.com": NOW - 3}, False).status is Status.OK
    wrong = check_clock(NOW, {"api.x.com": NOW - 3600}, False)
    assert wrong.status is Status.FAIL and "+3600 s off" in wrong.detail
    assert "timedatectl" in wrong.fix


def test_clock_without_a_server_checks_the_year():
    assert check_clock(NOW, {}, True).status is Status.OK
    assert check_clock(86400.0, {}, True).status is Status.FAIL  # 1970: no NTP yet


def test_token_url_is_on_the_configured_host():
    assert (
        token_url("wss://streaming.eu.assemblyai.com/v3/ws")
        == "https://streaming.eu.assemblyai.com/v3/token?expires_in_seconds=60"
    )
    assert token_url("ws://127.0.0.1:8765/v3/ws").startswith("http://127.0.0.1:8765/v3/token")


@pytest.fixture
def installed(tmp_path, monkeypatch, keys, speak):
    """A configuration pointing at running stand-ins, as the system test has it."""
    directory, values = keys
    speech = SpeechStandin(api_key=values[ASSEMBLYAI_KEY])
    x = XStandin(*(values[name] for name in X_KEYS))
    speech.start()
    x.start()
    device = microphone_device(tmp_path, monkeypatch, speak("Hello doctor."))
    config = write_config(
        tmp_path / "appliance.toml",
        audio={"device": device},
        assemblyai={"url": speech.url},
        x={"api_url": x.url},
        gpio={"pin_factory": "mock"},
        credentials={"dir": str(directory)},
    )
    yield config, directory, values
    speech.stop()
    x.stop()


def test_doctor_passes_against_the_standins(installed):
    config, _, values = installed
    lines: list[str] = []
    status = run_doctor(str(config), {}, out=lines.append)
    text = "\n".join(lines)
    assert status == 0, text
    for name in ("configuration", "credentials", "microphone", "pin factory", "clock"):
        assert f"[ ok ] {name}:" in text
    assert "[ ok ] reach X:" in text and "[ ok ] X keys: accepted: posting as @standin" in text
    assert "[ ok ] AssemblyAI key: accepted" in text  # the stand-in's GET /v3/token
    # The X stand-in sends a Date header, so the clock is compared with it.
    assert "of 127.0.0.1's clock" in text
    assert all(value not in text for value in values.values())


def test_doctor_fails_on_keys_x_refuses(installed):
    config, directory, values = installed
    write_key(directory, "x_access_token_secret", "not-the-right-secret")
    lines: list[str] = []
    assert run_doctor(str(config), {}, out=lines.append) == 1
    x_line = next(line for line in lines if "X keys" in line)
    assert x_line.startswith("[FAIL]") and "401" in x_line and "appliance setup" in x_line


def test_doctor_fails_on_an_assemblyai_key_the_service_refuses(installed):
    config, directory, _ = installed
    write_key(directory, ASSEMBLYAI_KEY, "an-old-revoked-key")
    lines: list[str] = []
    assert run_doctor(str(config), {}, out=lines.append) == 1
    line = next(line for line in lines if "AssemblyAI key" in line)
    assert line.startswith("[FAIL]") and "401" in line and "appliance setup" in line


def test_doctor_stops_at_a_broken_configuration(tmp_path):
    config = tmp_path / "appliance.toml"
    config.write_text("[audio]\ndevise = 'x'\n")
    lines: list[str] = []
    assert run_doctor(str(config), {}, out=lines.append) == 1
    assert lines[0].startswith("[FAIL] configuration:") and "audio.devise" in lines[0]


def test_offline_doctor_makes_no_network_checks(installed):
    config, _, _ = installed
    lines: list[str] = []
    assert run_doctor(str(config), {}, is_offline=True, out=lines.append) == 0
    assert not any(
        name in line for line in lines for name in ("reach ", "X keys", "AssemblyAI key")
    )


def test_doctor_says_the_x_account_is_out_of_credits_not_that_the_keys_are_wrong(keys):
    directory, values = keys
    with XStandin(*(values[name] for name in X_KEYS)) as x:
        x.spend_credits()
        settings = settings_for(directory, x={"api_url": x.url})
        check = check_x_keys(settings, Credentials(values, str(directory)))
    assert check.status is Status.FAIL and "X account out of credits" in check.detail
    assert "credits" in check.fix and "appliance setup" not in check.fix


# ---- destinations beside X (issue 15) --------------------------------------------


def test_doctor_checks_each_enabled_destinations_account(installed, monkeypatch):
    from appliance.core.destinations import Destination
    from appliance.posting.outcome import AccountCheck
    from appliance.service import destinations
    from tests.posting.doubles import ScriptedClient

    config, directory, _ = installed
    write_key(directory, "bluesky_app_password", "abcd-efgh-ijkl-mnop")
    write_key(directory, "mastodon_access_token", "token-0123456789abcdef")
    text = config.read_text()
    # Both point at loopback (the X stand-in answers the reach check's HEAD /).
    x_url = text.split('api_url = "')[1].split('"')[0]
    config.write_text(
        text
        + f'\n[bluesky]\nenabled = true\nhandle = "me.bsky.social"\nservice_url = "{x_url}"\n'
        + f'\n[mastodon]\nenabled = true\napi_base_url = "{x_url}"\n'
    )
    answers = {
        Destination.BLUESKY: AccountCheck(True, "signed in as @me.bsky.social"),
        Destination.MASTODON: AccountCheck(False, "the instance refused the token (401)", True),
    }

    def client_for(destination, settings, credentials, clock):
        client = ScriptedClient(destination=destination)
        client.check_account = lambda: answers[destination]  # type: ignore[method-assign]
        return client

    monkeypatch.setattr(destinations, "make_client_for", client_for)
    lines: list[str] = []
    assert run_doctor(str(config), {}, out=lines.append) == 1
    text = "\n".join(lines)
    assert "[ ok ] reach Bluesky:" in text and "[ ok ] reach Mastodon:" in text
    assert "[ ok ] X keys: accepted: posting as @standin" in text  # X's own wording
    assert "[ ok ] Bluesky credentials: signed in as @me.bsky.social" in text
    mastodon = next(line for line in lines if "Mastodon credentials" in line)
    assert mastodon.startswith("[FAIL]") and "401" in mastodon and "appliance setup" in mastodon


def test_doctor_says_a_destination_without_its_sdk_cannot_post(keys, monkeypatch):
    from appliance.cli.doctor_network import check_account
    from appliance.core.destinations import Destination
    from appliance.service import destinations

    monkeypatch.setitem(destinations.CLIENT_SDKS, Destination.BLUESKY, ("no_such_sdk", "bluesky"))
    directory, values = keys
    settings = settings_for(
        directory, x={"dry_run": True}, bluesky={"enabled": True, "handle": "a.b"}
    )
    credentials = Credentials({**values, "bluesky_app_password": "p"}, str(directory))
    bluesky = check_account(settings, credentials, Destination.BLUESKY)  # no network call
    assert (
        bluesky.name == "Bluesky credentials"
        and bluesky.status is Status.FAIL
        and "no_such_sdk is missing" in bluesky.detail
    )
