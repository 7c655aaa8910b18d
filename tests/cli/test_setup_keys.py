"""`appliance setup`: keys asked without echo, written 0600, never printed."""

from __future__ import annotations

import stat

from appliance.cli.setup import all_key_names, env_name, run_setup, setup_keys
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS
from appliance.tryout.sandbox import write_config

NAMES = all_key_names(dry_run=False)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_interactive_setup_writes_each_key_root_only_and_never_prints_one(tmp_path):
    directory = tmp_path / "credentials"
    values = {name: f"secret-value-of-{name}" for name in NAMES}
    prompts, said = [], []
    answers = iter(values.values())

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return next(answers)

    result = setup_keys(directory, NAMES, interactive=True, ask=ask, say=said.append)
    assert result.written == NAMES and not result.missing
    assert mode(directory) == 0o700
    for name, value in values.items():
        assert (directory / name).read_text() == value + "\n"
        assert mode(directory / name) == 0o600
    assert prompts[0].startswith("AssemblyAI API key")
    output = "\n".join(prompts + said)
    assert all(value not in output for value in values.values())
    assert not list(directory.glob(".*partial"))


def test_enter_keeps_the_key_already_there(tmp_path):
    directory = tmp_path / "credentials"
    setup_keys(directory, NAMES, interactive=True, ask=lambda _: "first", say=lambda _: None)
    result = setup_keys(directory, NAMES, interactive=True, ask=lambda _: "", say=lambda _: None)
    assert result.kept == NAMES and not result.written
    assert (directory / ASSEMBLYAI_KEY).read_text() == "first\n"


def test_non_interactive_reads_the_environment_then_a_directory(tmp_path):
    directory, source = tmp_path / "credentials", tmp_path / "from"
    source.mkdir()
    (source / "x_consumer_key").write_text("from-file\n")
    environ = {env_name(ASSEMBLYAI_KEY): "from-env"}
    result = setup_keys(
        directory, NAMES, interactive=False, environ=environ, from_dir=source, say=lambda _: None
    )
    assert result.written == (ASSEMBLYAI_KEY, "x_consumer_key")
    assert set(result.missing) == set(X_KEYS) - {"x_consumer_key"}
    assert (directory / "x_consumer_key").read_text() == "from-file\n"
    assert env_name(ASSEMBLYAI_KEY) == "APPLIANCE_ASSEMBLYAI_API_KEY"


def test_setup_command_uses_the_configured_directory_and_dry_run(tmp_path, capsys):
    directory = tmp_path / "keys"
    config = write_config(
        tmp_path / "appliance.toml", credentials={"dir": str(directory)}, x={"dry_run": True}
    )
    environ = {env_name(ASSEMBLYAI_KEY): "only-this-one"}
    assert run_setup(str(config), environ, True, None) == 0  # X keys: not needed in dry run
    assert [p.name for p in directory.iterdir()] == [ASSEMBLYAI_KEY]
    assert "only-this-one" not in capsys.readouterr().out
    broken = tmp_path / "broken.toml"
    broken.write_text("[nope]\n")
    assert run_setup(str(broken), {}, True, None) == 78


# ---- destinations (issue 15) ------------------------------------------------------


def test_setup_asks_where_posts_go_and_edits_only_those_lines(tmp_path):
    from pathlib import Path

    from appliance.cli.setup_destinations import choose_destinations
    from appliance.core.destinations import Destination
    from appliance.service.config import load_settings

    example = Path(__file__).parents[2] / "config" / "appliance.toml"
    config = tmp_path / "appliance.toml"
    config.write_text(example.read_text())
    answers = iter(["x bluesky mastodon", "me.bsky.social", "https://mastodon.example"])
    said: list[str] = []
    settings = choose_destinations(
        load_settings(config),
        config,
        interactive=True,
        ask=lambda _: next(answers),
        say=said.append,
    )
    assert settings.destinations == (Destination.X, Destination.BLUESKY, Destination.MASTODON)
    assert settings.bluesky.handle == "me.bsky.social"
    assert settings.mastodon.api_base_url == "https://mastodon.example"
    before, after = example.read_text().splitlines(), config.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert sorted(b for _, b in changed) == [
        'api_base_url = "https://mastodon.example"',
        "enabled = true",
        "enabled = true",
        'handle = "me.bsky.social"',
    ]


def test_non_interactive_setup_enables_a_destination_by_its_variables(tmp_path):
    directory = tmp_path / "credentials"
    config = write_config(
        tmp_path / "appliance.toml",
        credentials={"dir": str(directory)},
        x={"enabled": True},
    )
    environ = {
        env_name(ASSEMBLYAI_KEY): "speech-key",
        "APPLIANCE_DESTINATIONS": "bluesky,mastodon",
        "APPLIANCE_BLUESKY_HANDLE": "me.bsky.social",
        "APPLIANCE_BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop",
        "APPLIANCE_MASTODON_API_BASE_URL": "https://mastodon.example",
        "APPLIANCE_MASTODON_ACCESS_TOKEN": "token-0123456789",
    }
    assert run_setup(str(config), environ, True, None) == 0  # X's keys are not needed now
    assert (directory / "bluesky_app_password").read_text() == "abcd-efgh-ijkl-mnop\n"
    assert (directory / "mastodon_access_token").read_text() == "token-0123456789\n"
    assert not (directory / X_KEYS[0]).exists()
    text = config.read_text()
    assert "[x]\nenabled = false" in text and 'handle = "me.bsky.social"' in text


def test_a_wrong_choice_leaves_the_configuration_as_it_was(tmp_path):
    config = write_config(tmp_path / "appliance.toml", credentials={"dir": str(tmp_path / "c")})
    before = config.read_text()
    environ = {"APPLIANCE_DESTINATIONS": "bluesky"}  # without a handle: a config error
    assert run_setup(str(config), environ, True, None) == 78
    assert config.read_text() == before
